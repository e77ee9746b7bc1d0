//===- Cli.cpp - the compile step and output summary every subcommand shares ---===//
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
      std::string phases;
      for (const auto &[name, seconds] : compiled.phases) {
        phases += fmt::format("{}{} {:.2f} s", phases.empty() ? "" : ", ",
                              name, seconds);
      }
      fmt::print(stderr, "kiln: phases: {}\n", phases);
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

// " (+N at load time)", or nothing when N is 0.
std::string loadTimeSuffix(int count) {
  return count ? fmt::format(" (+{} at load time)", count) : std::string();
}

namespace {

// The number in `text`, or nullopt when it is not one.
std::optional<double> number(const std::string &text) {
  try {
    size_t used = 0;
    double value = std::stod(text, &used);
    if (used == text.size()) {
      return value;
    }
  } catch (const std::exception &) {
  }
  return std::nullopt;
}

} // namespace

CLI::Validator atLeast(double low) {
  return CLI::Validator(
      [low](std::string &text) -> std::string {
        std::optional<double> value = number(text);
        if (!value) {
          return "must be a number, got '" + text + "'";
        }
        return *value >= low ? std::string()
                             : fmt::format("must be >= {}, got {}", low, text);
      },
      fmt::format(">= {}", low));
}

CLI::Validator between(double low, double high) {
  return CLI::Validator(
      [low, high](std::string &text) -> std::string {
        std::optional<double> value = number(text);
        if (!value) {
          return "must be a number, got '" + text + "'";
        }
        return *value >= low && *value <= high
                   ? std::string()
                   : fmt::format("must be in [{}, {}], got {}", low, high, text);
      },
      fmt::format("in [{}, {}]", low, high));
}

} // namespace kiln::cli
