//===- kiln.cpp - the kiln command line -----------------------------------===//
//
// kiln run MODEL [--input NAME=FILE.npy ...] [--output DIR] [--batch B]
//                [--target T] [--seed S] [--weights FILE.safetensors]
// kiln train MODEL --data DATA --loss LOSS [--optimizer OPT] [--lr X]
//                  [--epochs E] [--batch B] [--steps N] [--seed S] ...
// kiln inspect MODEL [--dot] [--json] [--batch B]
// kiln compile MODEL -o DIR [--target T] [--name N] [--weights embed|file]
//                    [--exe] [--train] [--batch B] [--seed S] [--load FILE]
//
// Every failure prints one `error:` line on stderr and exits non-zero.
//
//===----------------------------------------------------------------------===//
#include "kiln/aot/Aot.h"
#include "kiln/compiler/Compiler.h"
#include "kiln/runtime/Runtime.h"
#include "kiln/runtime/Trainer.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace fs = std::filesystem;
using kiln::compiler::CompileOptions;

namespace {

struct CommonFlags {
  std::string model;
  int64_t batch = 0;
  std::string target = "host";
  std::string cacheDir;
  bool verbose = false;
  std::string dumpKernels;
  bool noFusion = false, noEpilogueFusion = false, noElementwiseFusion = false,
       noBatchNormFolding = false, noPrologueFusion = false;

  void add(CLI::App *cmd) {
    cmd->add_option("MODEL", model, "Model: kiln dialect .mlir")->required();
    cmd->add_option("--batch", batch, "Batch size (leading dim of inputs)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--target", target, "Halide target string")
        ->capture_default_str();
    cmd->add_option("--cache-dir", cacheDir,
                    "Kernel cache (default $KILN_CACHE_DIR or ~/.cache/kiln)");
    cmd->add_flag("-v,--verbose", verbose, "Report compilation and caching");
    cmd->add_option("--dump-kernels", dumpKernels,
                    "Write each kernel's Halide .stmt and assembly here");
    cmd->add_flag("--no-fusion", noFusion, "One kernel per op");
    cmd->add_flag("--no-epilogue-fusion", noEpilogueFusion,
                  "Do not fuse elementwise ops into conv2d / dense");
    cmd->add_flag("--no-elementwise-fusion", noElementwiseFusion,
                  "Do not fuse chains of elementwise ops");
    cmd->add_flag("--no-prologue-fusion", noPrologueFusion,
                  "Do not fuse activation_grad into batch_norm_grad");
    cmd->add_flag("--no-batch-norm-folding", noBatchNormFolding,
                  "Do not fold inference batch norms into conv2d / dense "
                  "weights (they stay in the conv's epilogue)");
  }

  CompileOptions options() const {
    CompileOptions o;
    o.batch = batch;
    o.target = target;
    o.cacheDir = cacheDir;
    o.verbose = verbose;
    o.dumpDir = dumpKernels;
    o.fusion = !noFusion;
    o.fuseEpilogues = !noEpilogueFusion;
    o.fuseElementwise = !noElementwiseFusion;
    o.foldBatchNorm = !noBatchNormFolding;
    o.fusePrologues = !noPrologueFusion;
    return o;
  }
};

// compileModel, reporting the cache, the pass pipeline (replayable with
// `kiln-opt --pass-pipeline=...`) and the plan with --verbose.
kiln::compiler::CompiledModel
compileReported(const std::string &model,
                const kiln::compiler::CompileOptions &options, bool verbose) {
  kiln::compiler::CompiledModel compiled =
      kiln::compiler::compileModel(model, options);
  if (verbose) {
    if (compiled.cached) {
      fmt::print(stderr,
                 "kiln: cache hit: compiled no kernel ({} kernels, {} calls) "
                 "in {:.3f} s; saved {:.2f} s of compilation\n",
                 compiled.kernels, compiled.calls, compiled.seconds,
                 std::max(0.0, compiled.originalSeconds - compiled.seconds));
    } else {
      fmt::print(stderr,
                 "kiln: compiled {} of {} kernels ({} calls) in {:.2f} s\n",
                 compiled.kernelsCompiled, compiled.kernels, compiled.calls,
                 compiled.seconds);
    }
    fmt::print(stderr, "kiln: pipeline {}\n", compiled.pipeline);
    fmt::print(stderr, "kiln: plan {}\n", compiled.planPath);
  }
  return compiled;
}

kiln::compiler::CompiledModel compile(const CommonFlags &flags) {
  return compileReported(flags.model, flags.options(), flags.verbose);
}

void printSummary(const std::string &name, const kiln::runtime::Tensor &t) {
  int64_t n = t.numElements();
  double lo = 0, hi = 0, sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    double v = t.dtype == kiln::runtime::DType::F32 ? t.f32()[i] : t.i32()[i];
    lo = i == 0 ? v : std::min(lo, v);
    hi = i == 0 ? v : std::max(hi, v);
    sum += v;
  }
  fmt::print("{}: {} min={:.6g} max={:.6g} mean={:.6g}\n", name,
             t.shapeString(), lo, hi, n ? sum / n : 0.0);
}

// An --input NAME: the input's name, or its safe file name.
std::string inputNamed(const kiln::runtime::Session &session,
                       const std::string &name) {
  std::vector<std::string> names;
  for (const kiln::runtime::TensorInfo &info : session.inputs()) {
    names.push_back(info.name);
  }
  int index = kiln::runtime::findInput(names, name);
  return index < 0 ? name : names[index]; // unknown: setInput says so
}

int runCommand(const CommonFlags &flags,
               const std::vector<std::string> &inputs,
               const std::string &outputDir, uint64_t seed,
               const std::string &weights) {
  kiln::compiler::CompiledModel compiled = compile(flags);
  kiln::runtime::SessionOptions options;
  options.seed = seed;
  auto session = kiln::runtime::Session::load(*compiled.plan, options);
  session.prepare();
  if (!weights.empty()) {
    session.loadParameters(weights);
  }
  for (const std::string &binding : inputs) {
    size_t eq = binding.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == binding.size()) {
      throw kiln::runtime::Error("--input expects NAME=FILE.npy, got '" +
                                 binding + "'");
    }
    session.setInput(inputNamed(session, binding.substr(0, eq)),
                     kiln::runtime::readNpy(binding.substr(eq + 1)));
  }
  session.fillMissingInputs(seed);
  auto start = std::chrono::steady_clock::now();
  session.run();
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  if (!outputDir.empty()) {
    fs::create_directories(outputDir);
  }
  std::vector<std::string> names;
  for (const kiln::runtime::TensorInfo &info : session.outputs()) {
    names.push_back(info.name);
  }
  std::vector<std::string> files = kiln::runtime::outputFileNames(names);
  for (size_t i = 0; i < names.size(); ++i) {
    kiln::runtime::Tensor value = session.output(names[i]);
    printSummary(names[i], value);
    if (!outputDir.empty()) {
      kiln::runtime::writeNpy((fs::path(outputDir) / files[i]).string(), value);
      fmt::print("{} -> {}\n", names[i], files[i]);
    }
  }
  if (flags.verbose) {
    fmt::print(stderr, "kiln: ran in {:.3f} ms\n", ms);
  }
  return 0;
}

struct TrainFlags {
  std::string data;
  kiln::compiler::TrainingOptions training;
  kiln::runtime::TrainerOptions trainer;
  std::optional<double> lr;
  std::string scale = "none";
  std::string schedule = "constant";
  bool noRestoreBest = false;
};

// PyTorch has no default learning rate for SGD; these are the usual ones.
double defaultLearningRate(const std::string &optimizer) {
  if (optimizer == "adam") {
    return 1e-3;
  }
  if (optimizer == "adadelta") {
    return 1.0;
  }
  return 1e-2;
}

int trainCommand(const CommonFlags &common, TrainFlags flags) {
  using namespace kiln::runtime;
  kiln::runtime::TrainerOptions &options = flags.trainer;
  options.restoreBest = !flags.noRestoreBest;
  options.lr = flags.lr.value_or(defaultLearningRate(flags.training.optimizer));
  static const std::map<std::string, LrSchedule::Kind> schedules = {
      {"constant", LrSchedule::Constant},
      {"step", LrSchedule::Step},
      {"exponential", LrSchedule::Exponential},
      {"cosine", LrSchedule::Cosine}};
  options.schedule.kind = schedules.at(flags.schedule);

  DataSplits data = loadData(flags.data);
  if (flags.scale != "none") {
    std::vector<Dataset *> others;
    if (data.test) {
      others.push_back(&*data.test);
    }
    scaleFeatures(flags.scale == "minmax" ? Scaling::MinMax : Scaling::Standard,
                  data.train, others);
  }
  // Plans are compiled for exact batch sizes: the full batch and the
  // remainders the train / validation / test splits leave.
  int64_t rows = data.train.size();
  int64_t trainRows = static_cast<int64_t>(
      std::floor(rows * (1.0 - options.validationSplit)));
  int64_t batch = options.batch;
  auto compileFor = [&](kiln::compiler::Mode mode, int64_t size) {
    CompileOptions compile = common.options();
    compile.mode = mode;
    compile.training = flags.training;
    compile.batch = size;
    return compileReported(common.model, compile, common.verbose).plan;
  };
  TrainingPlans plans;
  plans.train = compileFor(kiln::compiler::Mode::Train, batch);
  plans.eval = compileFor(kiln::compiler::Mode::Eval, batch);
  if (trainRows % batch != 0) {
    plans.trainTail = compileFor(kiln::compiler::Mode::Train, trainRows % batch);
  }
  std::set<int64_t> evalRemainders;
  if (rows - trainRows > 0) {
    evalRemainders.insert((rows - trainRows) % batch);
  }
  if (data.test) {
    evalRemainders.insert(data.test->size() % batch);
  }
  evalRemainders.erase(0);
  for (int64_t remainder : evalRemainders) {
    kiln::runtime::PlanRef plan =
        compileFor(kiln::compiler::Mode::Eval, remainder);
    if (!plans.evalTail) {
      plans.evalTail = plan;
    } else {
      plans.extraEvalTails.push_back(plan);
    }
  }

  TrainResult result = kiln::runtime::train(plans, data, options);
  if (common.verbose && result.steps > 0) {
    fmt::print(stderr, "kiln: {} steps, {:.3f} ms per step\n", result.steps,
               result.secondsPerStep * 1e3);
  }
  if (result.testLoss) {
    fmt::print("test_loss={:.6f} test_accuracy={}\n", *result.testLoss,
               result.testAccuracy ? fmt::format("{:.4f}", *result.testAccuracy)
                                   : std::string());
  }
  return 0;
}

// The median of `values` (the upper one of an even count).
double medianOf(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// " (+N at load time)", or nothing when N is 0.
std::string loadTimeSuffix(int count) {
  return count ? fmt::format(" (+{} at load time)", count) : std::string();
}

struct BenchFlags {
  bool train = false, json = false, profile = false, compare = false;
  std::string loss = "sparse-cce";
  int runs = 50;
};

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
    group.shape = fmt::format("{}", fmt::join(last[c].shape, "x"));
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
  nlohmann::json json() const {
    return {{"fusion", options.fusion},   {"median_ms", median()},
            {"min_ms", min()},            {"kernels", compiled.calls},
            {"load_time_kernels", compiled.loadTimeCalls}};
  }
};

// Compiles the model (inference, or the training step with --train) and
// readies a session on seeded random inputs, warmed up.
void prepareBenchCase(const CommonFlags &flags, const BenchFlags &bench,
                      BenchCase &c) {
  if (bench.train) {
    c.options.mode = kiln::compiler::Mode::Train;
    c.options.training.loss = bench.loss;
    c.options.training.optimizer = "adam";
  }
  c.compiled = compileReported(flags.model, c.options, flags.verbose);
  c.session.emplace(kiln::runtime::Session::load(*c.compiled.plan));
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
  if (bench.json) {
    nlohmann::json out = c.json();
    out["model"] = flags.model;
    out["train"] = bench.train;
    out["runs"] = bench.runs;
    if (bench.profile) {
      out["profile"] = profile;
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
  return 0;
}

std::string dotEscape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

// `kiln inspect --memory`: the arena plan of the inference graph or the
// training step, as numbers (or JSON) plus an SVG picture of the plan.
int memoryCommand(const CommonFlags &flags, bool trainStep, int64_t budget,
                  bool json, std::string svgPath) {
  CompileOptions options = flags.options();
  if (trainStep) {
    options.mode = kiln::compiler::Mode::Train;
    options.training.loss = "sparse-cce";
    options.training.optimizer = "adam";
    options.training.memoryBudget = budget;
  }
  kiln::compiler::MemoryReport report =
      kiln::compiler::planMemoryReport(flags.model, options);
  if (svgPath.empty()) {
    svgPath = fs::path(flags.model).filename().string() +
              (trainStep ? ".train" : "") + ".memory.svg";
  }
  {
    std::ofstream svg(svgPath);
    svg << kiln::compiler::memoryPlanSvg(report);
    if (!svg) {
      throw kiln::runtime::Error("cannot write '" + svgPath + "'");
    }
  }
  if (json) {
    fmt::print("{}\n", kiln::compiler::memoryReportJson(report));
    return 0;
  }
  fmt::print("{} ({}): {} kernels\n", flags.model,
             trainStep ? "training step" : "inference", report.kernelCount);
  fmt::print("  arena bytes      {:>12}\n", report.arenaBytes);
  fmt::print("  peak live bytes  {:>12}  (lower bound)\n", report.peakLiveBytes);
  fmt::print("  naive bytes      {:>12}  (every buffer separate)\n",
             report.naiveBytes);
  if (report.rematBytesSaved > 0) {
    fmt::print("  rematerialized   {:>12} bytes saved, {} FLOPs added per step\n",
               report.rematBytesSaved, report.rematFlops);
  }
  fmt::print("  plan picture     {}\n", svgPath);
  return 0;
}

int inspectCommand(const CommonFlags &flags, bool dot, bool json) {
  kiln::compiler::ModelSummary summary =
      kiln::compiler::summarizeModel(flags.model, flags.options());
  if (dot) {
    fmt::print("digraph kiln {{\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n");
    for (size_t i = 0; i < summary.nodes.size(); ++i) {
      const auto &node = summary.nodes[i];
      std::string shape = node.name == "kiln.param" ? "note"
                          : node.name == "input" ? "invhouse"
                          : node.name == "func.return" ? "house"
                                                       : "box";
      fmt::print("  n{} [shape={}, label=\"{}\\n{}\"];\n", i, shape,
                 dotEscape(node.label), dotEscape(node.result));
      for (int operand : node.operands) {
        if (operand >= 0) {
          fmt::print("  n{} -> n{};\n", operand, i);
        }
      }
    }
    fmt::print("}}\n");
    return 0;
  }
  if (json) {
    nlohmann::json out = {{"inputs", summary.inputs},
                          {"outputs", summary.outputs},
                          {"kernel_ops", summary.kernelOps},
                          {"load_time_ops", summary.loadTimeOps},
                          {"view_ops", summary.viewOps},
                          {"params", summary.params},
                          {"parameter_elements", summary.parameterCount}};
    nlohmann::json ops = nlohmann::json::array();
    for (const auto &node : summary.nodes) {
      ops.push_back({{"op", node.name}, {"label", node.label},
                     {"type", node.result}});
    }
    out["ops"] = std::move(ops);
    fmt::print("{}\n", out.dump());
    return 0;
  }
  fmt::print("model {}\n", flags.model);
  fmt::print("inputs: {}\noutputs: {}\n", fmt::join(summary.inputs, ", "),
             fmt::join(summary.outputs, ", "));
  for (const auto &node : summary.nodes) {
    fmt::print("  {:<18} {:<24} {}\n", node.name, node.label, node.result);
  }
  fmt::print("{} kernel ops{}, {} views, {} parameters ({} elements)\n",
             summary.kernelOps, loadTimeSuffix(summary.loadTimeOps),
             summary.viewOps, summary.params, summary.parameterCount);
  return 0;
}

struct AotFlags {
  kiln::aot::AotOptions options;
  std::string weights = "embed";
};

int compileCommand(const CommonFlags &common, AotFlags flags) {
  kiln::aot::AotOptions &options = flags.options;
  options.batch = common.batch;
  options.target = common.target;
  options.cacheDir = common.cacheDir;
  options.verbose = common.verbose;
  options.dumpDir = common.dumpKernels;
  options.embedWeights = flags.weights == "embed";
  kiln::aot::Bundle bundle = kiln::aot::compileBundle(common.model, options);
  std::error_code ec;
  auto size = [&](const std::string &path) {
    return path.empty() ? uintmax_t{0} : fs::file_size(path, ec);
  };
  fmt::print("{}: {} kernel calls, arena {} bytes, weights {} bytes ({}), "
             "target {}\n",
             bundle.name, bundle.calls, bundle.arenaBytes, bundle.weightsBytes,
             options.embedWeights ? "embedded" : bundle.weights, bundle.target);
  if (options.train) {
    fmt::print("{}: train_step arena {} bytes, state {} bytes\n", bundle.name,
               bundle.trainArenaBytes, bundle.stateBytes);
  }
  fmt::print("wrote {} ({} bytes), {}, {}\n", bundle.library,
             size(bundle.library), bundle.header, bundle.source);
  if (!bundle.executable.empty()) {
    fmt::print("wrote {} ({} bytes)\n", bundle.executable,
               size(bundle.executable));
  }
  for (const std::string &note : bundle.notes) {
    fmt::print("note: {}\n", note);
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"kiln: compile and run neural-network models"};
  app.require_subcommand(1);

  CommonFlags runFlags;
  std::vector<std::string> inputs;
  std::string outputDir, weights;
  uint64_t seed = 0;
  CLI::App *run = app.add_subcommand("run", "Compile (cached) and run a model");
  runFlags.add(run);
  run->add_option("--input", inputs, "NAME=FILE.npy (repeatable)");
  run->add_option("--output", outputDir, "Write DIR/<output>.npy");
  run->add_option("--seed", seed, "Seed for random inputs and parameters");
  run->add_option("--weights", weights, "Parameters from a .safetensors file");

  CommonFlags trainCommon;
  TrainFlags trainFlags;
  CLI::App *trainApp = app.add_subcommand("train", "Compile and run training");
  trainCommon.add(trainApp);
  {
    auto &t = trainFlags.training;
    auto &o = trainFlags.trainer;
    trainApp->add_option("--data", trainFlags.data,
                         "fashion-mnist, an IDX folder, X.npy,Y.npy or a CSV")
        ->required();
    trainApp->add_option("--loss", t.loss, "Loss")
        ->check(CLI::IsMember({"mse", "mae", "huber", "bce", "bce-logits",
                               "cce", "sparse-cce", "hinge", "model"}))
        ->required();
    trainApp->add_option("--optimizer", t.optimizer, "Optimizer")
        ->check(CLI::IsMember({"sgd", "momentum", "nesterov", "adagrad",
                               "adadelta", "rmsprop", "adam"}))
        ->capture_default_str();
    trainApp->add_option("--lr", trainFlags.lr,
                         "Learning rate (default: 1e-3 adam, 1.0 adadelta, "
                         "else 1e-2)");
    trainApp->add_option("--epochs", o.epochs, "Epochs")
        ->check(CLI::PositiveNumber)->capture_default_str();
    trainApp->add_option("--steps", o.maxSteps, "Stop after N steps");
    trainApp->add_option("--seed", o.seed, "Seed for weights, shuffling, dropout");
    trainApp->add_flag("--shuffle,!--no-shuffle", o.shuffle,
                       "Shuffle every epoch (default on)");
    trainApp->add_option("--load", o.loadPath, "Resume from a checkpoint");
    trainApp->add_option("--save", o.savePath,
                         "Checkpoint (.safetensors) after every epoch");
    trainApp->add_option("--log", o.logPath,
                         "Per-epoch CSV (and a .svg plot next to it)");
    trainApp->add_option("--val-split", o.validationSplit,
                         "Fraction of the training set held out")
        ->check(CLI::Range(0.0, 0.99));
    trainApp->add_option("--patience", o.patience,
                         "Early stopping patience in epochs (0: off)");
    trainApp->add_flag("--no-restore-best", trainFlags.noRestoreBest,
                       "With early stopping, keep the last weights");
    trainApp->add_option("--scale", trainFlags.scale, "Feature scaling")
        ->check(CLI::IsMember({"none", "minmax", "standard"}));
    trainApp->add_option("--schedule", trainFlags.schedule, "LR schedule")
        ->check(CLI::IsMember({"constant", "step", "exponential", "cosine"}));
    trainApp->add_option("--step-size", o.schedule.stepSize,
                         "Step schedule: epochs per decay");
    trainApp->add_option("--gamma", o.schedule.gamma,
                         "Step/exponential schedule factor");
    trainApp->add_option("--eta-min", o.schedule.etaMin, "Cosine: final lr");
    trainApp->add_option("--momentum", t.momentum, "Momentum (0.9)");
    trainApp->add_option("--dampening", t.dampening, "Momentum dampening");
    trainApp->add_option("--beta1", t.beta1, "Adam beta1");
    trainApp->add_option("--beta2", t.beta2, "Adam beta2");
    trainApp->add_option("--eps", t.epsilon, "Optimizer epsilon");
    trainApp->add_option("--rho", t.rho, "Adadelta rho");
    trainApp->add_option("--alpha", t.alpha, "RMSprop alpha");
    trainApp->add_option("--lr-decay", t.lrDecay, "Adagrad lr decay");
    trainApp->add_option("--weight-decay", t.weightDecay, "L2 weight decay");
    trainApp->add_option("--clip-value", t.clipValue,
                         "Clamp gradients to [-c, c]");
    trainApp->add_option("--memory-budget", t.memoryBudget,
                         "Rematerialize forward values until the step's "
                         "arena fits in this many bytes");
    trainApp->add_option("--clip-norm", t.clipNorm,
                         "Clip the global gradient norm to this");
    trainApp->add_option("--l1", t.l1, "L1 regularization of the weights");
    trainApp->add_option("--l2", t.l2, "L2 regularization of the weights");
    trainApp->add_option("--delta", t.delta, "Huber delta");
    trainApp->add_flag("--no-progress{false}", o.progress, "No progress bar");
  }
  trainFlags.trainer.batch = 32; // --batch overrides (Keras's default)

  CommonFlags benchFlags;
  BenchFlags b;
  CLI::App *bench = app.add_subcommand("bench", "Time a compiled model");
  benchFlags.add(bench);
  bench->add_flag("--train", b.train,
                  "Time the training step (Adam; --loss, default sparse-cce)");
  bench->add_option("--loss", b.loss, "Loss of the timed training step");
  bench->add_option("--runs", b.runs, "Timed runs")
      ->check(CLI::PositiveNumber)->capture_default_str();
  bench->add_flag("--json", b.json, "Print one JSON object");
  bench->add_flag("--compare-no-fusion", b.compare,
                  "Time the plan and its --no-fusion twin, runs alternating, "
                  "and print the speedup of fusion");
  bench->add_flag("--profile", b.profile,
                  "Also time each kernel call (per-call medians over --runs "
                  "more runs), summed per op or fused group");

  std::string importModelPath, importOut, importWeights;
  int64_t importBatch = 0;
  CLI::App *importApp =
      app.add_subcommand("import", "Convert an ONNX model to kiln IR");
  importApp->add_option("MODEL", importModelPath, "Model: .onnx")->required();
  importApp->add_option("-o,--output", importOut, "The .mlir to write")
      ->required();
  importApp->add_option("--weights", importWeights,
                        "Also write the initializers to this .safetensors");
  importApp->add_option("--batch", importBatch,
                        "Batch size for a dynamic batch dim (default 1)");

  CommonFlags inspectFlags;
  bool dot = false, json = false;
  CLI::App *inspect = app.add_subcommand("inspect", "Describe a model");
  inspectFlags.add(inspect);
  inspect->add_flag("--dot", dot, "Print the graph in Graphviz dot");
  inspect->add_flag("--json", json, "Print one JSON object");
  bool inspectMemory = false, inspectTrain = false;
  int64_t inspectBudget = 0;
  std::string memorySvg;
  inspect->add_flag("--memory", inspectMemory,
                    "The memory plan: arena, lower bound, naive total");
  inspect->add_flag("--train", inspectTrain,
                    "Inspect the training step (sparse-cce, Adam)");
  inspect->add_option("--memory-budget", inspectBudget,
                      "Training: rematerialize until the arena fits (bytes)");
  inspect->add_option("--memory-svg", memorySvg,
                      "Where to draw the plan (default MODEL.memory.svg)");

  CommonFlags compileCommon;
  AotFlags aotFlags;
  CLI::App *compileApp = app.add_subcommand(
      "compile", "Ahead-of-time: static library + C header (+ executable)");
  compileCommon.add(compileApp);
  {
    kiln::aot::AotOptions &o = aotFlags.options;
    compileApp->add_option("-o,--output", o.outputDir, "Output directory")
        ->required();
    compileApp->add_option("--name", o.name,
                           "C prefix and file names (default: model stem)");
    compileApp->add_option("--weights", aotFlags.weights,
                           "embed: in the library; file: DIR/N.weights")
        ->check(CLI::IsMember({"embed", "file"}))
        ->capture_default_str();
    compileApp->add_flag("--exe", o.executable,
                         "Also link the standalone executable DIR/N");
    compileApp->add_flag("--train", o.train, "Also emit N_train_step");
    compileApp->add_option("--seed", o.seed,
                           "Parameter initialization seed (as kiln run)");
    compileApp->add_option("--load", o.loadPath,
                           "Parameters from a .safetensors file");
    compileApp->add_option("--loss", o.training.loss, "Loss for --train")
        ->check(CLI::IsMember({"mse", "mae", "huber", "bce", "bce-logits",
                               "cce", "sparse-cce", "hinge", "model"}))
        ->capture_default_str();
    compileApp->add_option("--optimizer", o.training.optimizer,
                           "Optimizer for --train")
        ->check(CLI::IsMember({"sgd", "momentum", "nesterov", "adagrad",
                               "adadelta", "rmsprop", "adam"}))
        ->capture_default_str();
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  try {
    if (*run) {
      return runCommand(runFlags, inputs, outputDir, seed, weights);
    }
    if (*importApp) {
      int params = kiln::compiler::importModel(importModelPath, importOut,
                                               importWeights, importBatch);
      fmt::print("imported {} ({} parameters) to {}\n", importModelPath,
                 params, importOut);
      return 0;
    }
    if (*bench) {
      return benchCommand(benchFlags, b);
    }
    if (*trainApp) {
      if (trainCommon.batch > 0) {
        trainFlags.trainer.batch = trainCommon.batch;
      }
      return trainCommand(trainCommon, trainFlags);
    }
    if (*compileApp) {
      return compileCommand(compileCommon, aotFlags);
    }
    if (inspectMemory) {
      return memoryCommand(inspectFlags, inspectTrain, inspectBudget, json,
                           memorySvg);
    }
    return inspectCommand(inspectFlags, dot, json);
  } catch (const std::exception &e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
