//===- Compile.cpp - kiln compile (ahead of time) ---===//
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
int compileCommand(const CommonFlags &common, AotFlags flags) {
  kiln::aot::AotOptions &options = flags.options;
  options.lowering = common.options();
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

} // namespace kiln::cli
