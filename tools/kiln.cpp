//===- kiln.cpp - the kiln command line -----------------------------------===//
//
// kiln run MODEL [--input NAME=FILE.npy ...] [--output DIR] [--batch B]
//                [--target T] [--seed S] [--weights FILE.safetensors]
// kiln inspect MODEL [--dot] [--json] [--batch B]
//
// Every failure prints one `error:` line on stderr and exits non-zero.
//
//===----------------------------------------------------------------------===//
#include "kiln/compiler/Compiler.h"
#include "kiln/runtime/Runtime.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
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
  }

  CompileOptions options() const {
    CompileOptions o;
    o.batch = batch;
    o.target = target;
    o.cacheDir = cacheDir;
    o.verbose = verbose;
    o.dumpDir = dumpKernels;
    return o;
  }
};

kiln::compiler::CompiledModel compile(const CommonFlags &flags) {
  kiln::compiler::CompiledModel compiled =
      kiln::compiler::compileModel(flags.model, flags.options());
  if (flags.verbose) {
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
    fmt::print(stderr, "kiln: plan {}\n", compiled.planPath);
  }
  return compiled;
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

int runCommand(const CommonFlags &flags,
               const std::vector<std::string> &inputs,
               const std::string &outputDir, uint64_t seed,
               const std::string &weights) {
  kiln::compiler::CompiledModel compiled = compile(flags);
  kiln::runtime::SessionOptions options;
  options.seed = seed;
  auto session = kiln::runtime::Session::load(compiled.planPath, options);
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
    session.setInput(binding.substr(0, eq),
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
  for (const kiln::runtime::TensorInfo &info : session.outputs()) {
    kiln::runtime::Tensor value = session.output(info.name);
    printSummary(info.name, value);
    if (!outputDir.empty()) {
      kiln::runtime::writeNpy((fs::path(outputDir) / (info.name + ".npy")).string(),
                              value);
    }
  }
  if (flags.verbose) {
    fmt::print(stderr, "kiln: ran in {:.3f} ms\n", ms);
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
  fmt::print("{} kernel ops, {} views, {} parameters ({} elements)\n",
             summary.kernelOps, summary.viewOps, summary.params,
             summary.parameterCount);
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

  CommonFlags inspectFlags;
  bool dot = false, json = false;
  CLI::App *inspect = app.add_subcommand("inspect", "Describe a model");
  inspectFlags.add(inspect);
  inspect->add_flag("--dot", dot, "Print the graph in Graphviz dot");
  inspect->add_flag("--json", json, "Print one JSON object");

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
    return inspectCommand(inspectFlags, dot, json);
  } catch (const std::exception &e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
