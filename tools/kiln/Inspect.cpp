//===- Inspect.cpp - kiln inspect ---===//
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
#include <set>

namespace fs = std::filesystem;

namespace kiln::cli {
namespace {

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

// inspect itself compiles no kernel; --dump-kernels asks for them.
void dumpKernelsIfAsked(const CommonFlags &flags, const CompileOptions &options) {
  if (!flags.dumpKernels.empty()) {
    compileReported(flags.model, options, flags.verbose);
    fmt::print(stderr, "kernels' .stmt and assembly in {}\n", flags.dumpKernels);
  }
}

// The options of the inference graph, or with --train of the training step
// (sparse-cce, Adam) that `kiln train` would build.
CompileOptions inspectOptions(const CommonFlags &flags, bool trainStep,
                              int64_t budget) {
  CompileOptions options = flags.options();
  if (trainStep) {
    options.mode = kiln::compiler::Mode::Train;
    options.training.loss = "sparse-cce";
    options.training.optimizer = "adam";
    options.training.memoryBudget = budget;
  }
  return options;
}

} // namespace

// `kiln inspect --memory`: the arena plan of the inference graph or the
// training step, as numbers (or JSON), and with --memory-svg an SVG picture
// of the plan.
int memoryCommand(const CommonFlags &flags, bool trainStep, int64_t budget,
                  bool json, std::string svgPath) {
  CompileOptions options = inspectOptions(flags, trainStep, budget);
  dumpKernelsIfAsked(flags, options);
  kiln::compiler::MemoryReport report =
      kiln::compiler::planMemoryReport(flags.model, options);
  // The picture only where asked for: inspect writes no file unasked.
  if (!svgPath.empty()) {
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
  if (!svgPath.empty()) {
    fmt::print("  plan picture     {}\n", svgPath);
  }
  return 0;
}

int inspectCommand(const CommonFlags &flags, bool trainStep, bool dot,
                   bool json) {
  CompileOptions options = inspectOptions(flags, trainStep, 0);
  dumpKernelsIfAsked(flags, options);
  kiln::compiler::ModelSummary summary =
      kiln::compiler::summarizeModel(flags.model, options);
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

} // namespace kiln::cli
