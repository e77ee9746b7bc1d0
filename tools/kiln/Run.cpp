//===- Run.cpp - kiln run ---===//
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

} // namespace

int runCommand(const CommonFlags &flags,
               const std::vector<std::string> &inputs,
               const std::string &outputDir, uint64_t seed,
               const std::string &weights) {
  kiln::compiler::CompiledModel compiled = compile(flags);
  kiln::runtime::SessionOptions options;
  options.seed = seed;
  options.checkNumerics = flags.checkNumerics;
  auto session = kiln::runtime::Session::load(*compiled.plan, options);
  session.prepare();
  if (!weights.empty()) {
    std::string absent =
        kiln::runtime::absentParametersNote(weights, session.loadParameters(weights));
    if (!absent.empty()) {
      fmt::print(stderr, "kiln run: note: {}\n", absent);
    }
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

} // namespace kiln::cli
