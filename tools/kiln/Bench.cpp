//===- Bench.cpp - kiln bench ---===//
#include "Cli.h"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <set>

namespace fs = std::filesystem;

namespace kiln::cli {
namespace {

// The median of `values` (the upper one of an even count).
double medianOf(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}


// Per-call median times of `runs` profiled runs, summed per kernel (one
// row per distinct compiled kernel: its label, e.g. a fused kernel's ops,
// and output shape), longest first, with the rate each reached: GFLOP/s
// (the counted flops, see KernelSpec::flops) and GB/s (the bytes of the
// calls' inputs and outputs, a lower bound of their memory traffic).
nlohmann::json profileCalls(kiln::runtime::Session &session, int runs) {
  std::vector<std::vector<double>> perCall;
  std::vector<kiln::runtime::CallTime> last;
  for (int i = 0; i < runs; ++i) {
    last = session.profile();
    perCall.resize(last.size());
    for (size_t c = 0; c < last.size(); ++c) {
      perCall[c].push_back(last[c].seconds * 1e3);
    }
  }
  struct Group {
    std::string label, shape;
    int calls = 0;
    double ms = 0;
    double flops = 0, bytes = 0;
  };
  std::map<std::string, Group> byKernel;
  for (size_t c = 0; c < last.size(); ++c) {
    Group &group = byKernel[last[c].kernel];
    group.label = last[c].label;
    std::vector<int64_t> shape = last[c].shape;
    if (last[c].layout == "nchw16c") { // the logical [N, C, H, W]
      shape = {shape[0], shape[1] * shape[4], shape[2], shape[3]};
    }
    group.shape = fmt::format("{}", fmt::join(shape, "x"));
    if (!last[c].layout.empty()) {
      group.shape += " " + last[c].layout;
    }
    ++group.calls;
    group.ms += medianOf(perCall[c]);
    group.flops += static_cast<double>(last[c].flops);
    group.bytes += static_cast<double>(last[c].bytes);
  }
  std::vector<Group> rows;
  for (auto &entry : byKernel) {
    rows.push_back(std::move(entry.second));
  }
  std::sort(rows.begin(), rows.end(),
            [](const Group &a, const Group &b) { return a.ms > b.ms; });
  nlohmann::json out = nlohmann::json::array();
  for (const Group &group : rows) {
    double seconds = group.ms * 1e-3;
    auto rate = [&](double count) {
      return seconds > 0 ? count / seconds * 1e-9 : 0.0;
    };
    out.push_back({{"label", group.label},
                   {"shape", group.shape},
                   {"calls", group.calls},
                   {"median_ms", group.ms},
                   {"flops", group.flops},
                   {"gflop_per_s", rate(group.flops)},
                   {"gbyte_per_s", rate(group.bytes)}});
  }
  return out;
}

// One compiled plan being timed.
struct BenchCase {
  CompileOptions options;
  kiln::compiler::CompiledModel compiled;
  std::optional<kiln::runtime::Session> session;
  std::vector<double> ms;

  double timeOneRun() {
    auto start = std::chrono::steady_clock::now();
    session->run();
    double took = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count();
    ms.push_back(took);
    return took;
  }
  double median() const { return medianOf(ms); }
  double min() const { return *std::min_element(ms.begin(), ms.end()); }
  // The mean, comparable with kiln train --verbose's ms per step (a mean).
  double mean() const {
    return std::accumulate(ms.begin(), ms.end(), 0.0) /
           static_cast<double>(ms.size());
  }
  // The floating-point operations one run counts (KernelSpec::flops of
  // each call that runs every time; 0 where a kernel counts none).
  double flops() const {
    double total = 0;
    for (const kiln::runtime::PlanCall &call : compiled.plan->calls) {
      total += call.once ? 0.0 : static_cast<double>(call.flops);
    }
    return total;
  }
  nlohmann::json json() const {
    return {{"fusion", options.fusion},   {"median_ms", median()},
            {"mean_ms", mean()},          {"min_ms", min()},
            {"kernels", compiled.calls},
            {"load_time_kernels", compiled.loadTimeCalls},
            {"flops", flops()}};
  }
};

// Compiles the model (inference, or the training step with --train) and
// readies a session on seeded random inputs, warmed up.
void prepareBenchCase(const CommonFlags &flags, const BenchFlags &bench,
                      BenchCase &c) {
  if (bench.train) {
    c.options.mode = kiln::compiler::Mode::Train;
    c.options.training.loss = bench.loss;
    c.options.training.optimizer = bench.optimizer;
    c.options.training.frozen = bench.frozen;
  }
  c.compiled = compileReported(flags.model, c.options, flags.verbose);
  kiln::runtime::SessionOptions sessionOptions;
  sessionOptions.checkNumerics = flags.checkNumerics;
  c.session.emplace(
      kiln::runtime::Session::load(*c.compiled.plan, sessionOptions));
  kiln::runtime::Session &session = *c.session;
  session.prepare();
  if (bench.train) {
    kiln::runtime::Tensor scalar({}, kiln::runtime::DType::F32);
    scalar.f32()[0] = 1e-3f;
    session.setInput("lr", scalar);
    scalar.f32()[0] = 1.0f;
    session.setInput("step", scalar);
  }
  session.fillMissingInputs(0);
  for (int i = 0; i < 3; ++i) {
    session.run(); // warm-up
  }
}

std::string kernelCount(const kiln::compiler::CompiledModel &compiled) {
  return fmt::format("{} kernel calls{}", compiled.calls,
                     loadTimeSuffix(compiled.loadTimeCalls));
}

// --compare-no-fusion: the plan as flagged and its --no-fusion twin, runs
// alternating (A B A B ...) so that both see the same machine load; the
// ratio is unfused median / fused median.
int benchCompare(const CommonFlags &flags, const BenchFlags &bench) {
  BenchCase fused, unfused;
  fused.options = flags.options();
  unfused.options = flags.options();
  unfused.options.fusion = false;
  prepareBenchCase(flags, bench, fused);
  prepareBenchCase(flags, bench, unfused);
  // Pairs alternate which plan runs first, so neither always runs on a
  // cache the other warmed.
  std::vector<double> pairRatios;
  for (int i = 0; i < bench.runs; ++i) {
    double a, b;
    if (i % 2 == 0) {
      a = fused.timeOneRun();
      b = unfused.timeOneRun();
    } else {
      b = unfused.timeOneRun();
      a = fused.timeOneRun();
    }
    pairRatios.push_back(b / a);
  }
  double ratio = unfused.median() / fused.median();
  // The per-pair ratios: their median and quartiles show how much of the
  // speedup survives the machine's run-to-run noise.
  std::sort(pairRatios.begin(), pairRatios.end());
  auto quantile = [&](double q) {
    return pairRatios[static_cast<size_t>(q * (pairRatios.size() - 1))];
  };
  if (bench.json) {
    fmt::print("{}\n", nlohmann::json{{"model", flags.model},
                                      {"train", bench.train},
                                      {"runs", bench.runs},
                                      {"fused", fused.json()},
                                      {"unfused", unfused.json()},
                                      {"speedup", ratio},
                                      {"paired_speedup",
                                       {{"median", quantile(0.5)},
                                        {"q1", quantile(0.25)},
                                        {"q3", quantile(0.75)}}}}
                           .dump());
    return 0;
  }
  for (const BenchCase *c : {&fused, &unfused}) {
    fmt::print("{} ({}): median {:.3f} ms, min {:.3f} ms over {} runs, {}\n",
               flags.model, c->options.fusion ? "fused" : "--no-fusion",
               c->median(), c->min(), bench.runs, kernelCount(c->compiled));
  }
  fmt::print("speedup of fusion: {:.3f}x (median --no-fusion / median "
             "fused, runs alternating)\n",
             ratio);
  fmt::print("per-pair speedup: median {:.3f}x, quartiles {:.3f}x-{:.3f}x\n",
             quantile(0.5), quantile(0.25), quantile(0.75));
  return 0;
}

// --trace: one profiled run with the thread pool's loops recorded, written
// as Chrome trace events. Row "kernel calls" holds each call; row "thread
// N" each of that thread's parts of the call's parallel loops (thread 0
// calls the kernels and takes tasks too), named after the call. Returns
// the summary line.
std::string writeTrace(kiln::runtime::Session &session,
                       const std::string &path) {
  kiln::runtime::startLoopTrace(size_t(1) << 16);
  // A run first: the idle workers went to sleep while the trace's buffer
  // was allocated, and the traced run should find them as a run that
  // follows another does. Its loops are left out below.
  session.run();
  std::vector<kiln::runtime::CallTime> calls = session.profile();
  std::vector<kiln::runtime::LoopTrace> loops = kiln::runtime::stopLoopTrace();
  if (calls.empty()) {
    throw kiln::runtime::Error("--trace: the plan has no kernel calls");
  }
  int64_t origin = calls.front().startNs;
  loops.erase(std::remove_if(loops.begin(), loops.end(),
                             [&](const kiln::runtime::LoopTrace &loop) {
                               return loop.submitNs < origin;
                             }),
              loops.end());
  nlohmann::json events = nlohmann::json::array();
  // A complete event ("X") on row `tid`, times in microseconds from the
  // first call's start.
  auto span = [&](const std::string &name, const char *category, int tid,
                  int64_t beginNs, int64_t durationNs, nlohmann::json args) {
    events.push_back({{"name", name},
                      {"cat", category},
                      {"ph", "X"},
                      {"pid", 1},
                      {"tid", tid},
                      {"ts", static_cast<double>(beginNs - origin) / 1e3},
                      {"dur", static_cast<double>(durationNs) / 1e3},
                      {"args", std::move(args)}});
  };
  auto threadName = [&](int tid, const std::string &name) {
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", 1},
                      {"tid", tid},
                      {"args", {{"name", name}}}});
    events.push_back({{"name", "thread_sort_index"},
                      {"ph", "M"},
                      {"pid", 1},
                      {"tid", tid},
                      {"args", {{"sort_index", tid}}}});
  };
  threadName(0, "kernel calls");
  double callNs = 0;
  for (const auto &call : calls) {
    int64_t durationNs = static_cast<int64_t>(call.seconds * 1e9);
    callNs += static_cast<double>(durationNs);
    span(call.label, "kernel", 0, call.startNs, durationNs,
         {{"kernel", call.kernel},
          {"shape", fmt::format("{}", fmt::join(call.shape, "x"))}});
  }
  // Each loop belongs to the last call that started before it.
  int threads = kiln::runtime::poolThreads();
  double busyNs = 0;
  size_t c = 0;
  for (const auto &loop : loops) {
    while (c + 1 < calls.size() && calls[c + 1].startNs <= loop.submitNs) {
      ++c;
    }
    for (const auto &part : loop.parts) {
      busyNs += static_cast<double>(part.endNs - part.beginNs);
      span(calls[c].label, "loop", 1 + part.thread, part.beginNs,
           part.endNs - part.beginNs,
           {{"tasks", part.tasks}, {"of", loop.size}});
    }
  }
  for (int t = 0; t < threads; ++t) {
    threadName(1 + t, fmt::format("thread {}", t));
  }
  std::ofstream out(path);
  out << nlohmann::json{{"traceEvents", events}, {"displayTimeUnit", "ns"}}
             .dump()
      << "\n";
  if (!out) {
    throw kiln::runtime::Error("--trace: cannot write '" + path + "'");
  }
  return fmt::format("trace: {} ({} kernel calls, {} parallel loops; {} "
                     "{} busy in loops {:.1f}% of the calls' time)",
                     path, calls.size(), loops.size(), threads,
                     threads == 1 ? "thread" : "threads",
                     callNs > 0 ? 100 * busyNs / (threads * callNs) : 0.0);
}

} // namespace

// Times Session::run() of the compiled model (inference, or the training
// step with --train) on seeded random inputs; --profile adds the time of
// each kind of kernel call.
int benchCommand(const CommonFlags &flags, const BenchFlags &bench) {
  if (bench.compare) {
    return benchCompare(flags, bench);
  }
  BenchCase c;
  c.options = flags.options();
  prepareBenchCase(flags, bench, c);
  for (int i = 0; i < bench.runs; ++i) {
    c.timeOneRun();
  }
  nlohmann::json profile;
  if (bench.profile) {
    profile = profileCalls(*c.session, bench.runs);
  }
  std::string traced;
  if (!bench.trace.empty()) {
    traced = writeTrace(*c.session, bench.trace);
  }
  if (bench.json) {
    nlohmann::json out = c.json();
    out["model"] = flags.model;
    out["train"] = bench.train;
    out["runs"] = bench.runs;
    if (bench.profile) {
      out["profile"] = profile;
    }
    if (!bench.trace.empty()) {
      out["trace"] = bench.trace;
    }
    fmt::print("{}\n", out.dump());
    return 0;
  }
  fmt::print("{}: median {:.3f} ms, min {:.3f} ms over {} runs, {}\n",
             flags.model, c.median(), c.min(), bench.runs,
             kernelCount(c.compiled));
  if (bench.profile) {
    double total = 0;
    for (const auto &row : profile) {
      total += row["median_ms"].get<double>();
    }
    fmt::print("{:>10} {:>6} {:>6} {:>8} {:>7}  {}\n", "ms", "%", "calls",
               "GFLOP/s", "GB/s", "kernel (output shape)");
    for (const auto &row : profile) {
      double rowMs = row["median_ms"].get<double>();
      double gflops = row["gflop_per_s"].get<double>();
      fmt::print("{:>10.3f} {:>6.1f} {:>6} {:>8} {:>7.1f}  {}\n", rowMs,
                 total > 0 ? 100 * rowMs / total : 0.0,
                 row["calls"].get<int>(),
                 gflops > 0 ? fmt::format("{:.1f}", gflops) : std::string("-"),
                 row["gbyte_per_s"].get<double>(),
                 row["label"].get<std::string>() + " (" +
                     row["shape"].get<std::string>() + ")");
    }
    fmt::print("{:>10.3f} {:>6} {:>6} {:>8} {:>7}  (sum of per-call medians)\n",
               total, "", "", "", "");
  }
  if (!traced.empty()) {
    fmt::print("{}\n", traced);
  }
  return 0;
}

} // namespace kiln::cli
