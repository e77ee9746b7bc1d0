//===- Train.cpp - kiln train ---===//
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

void prepareTrainFlags(const CommonFlags &common, TrainFlags &flags) {
  using namespace kiln::runtime;
  kiln::runtime::TrainerOptions &options = flags.trainer;
  options.restoreBest = !flags.noRestoreBest;
  options.checkNumerics = common.checkNumerics;
  options.lr = flags.lr.value_or(
      kiln::runtime::defaultLearningRate(flags.training.optimizer));
  static const std::map<std::string, LrSchedule::Kind> schedules = {
      {"constant", LrSchedule::Constant},
      {"step", LrSchedule::Step},
      {"exponential", LrSchedule::Exponential},
      {"cosine", LrSchedule::Cosine}};
  options.schedule.kind = schedules.at(flags.schedule);
  checkTrainerOptions(options);
  if (options.gradNormsEvery > 0 && options.logPath.empty()) {
    throw Error("--log-grad-norms needs --log (the norms go to "
                "LOG.grads.csv next to it)");
  }
  flags.training.gradNorms = options.gradNormsEvery > 0;
}

kiln::runtime::TrainResult trainOnData(const CommonFlags &common,
                                       const TrainFlags &flags,
                                       const kiln::runtime::DataSplits &data) {
  using namespace kiln::runtime;
  const kiln::runtime::TrainerOptions &options = flags.trainer;
  auto compileFor = [&](bool train, int64_t size) {
    CompileOptions compile = common.options();
    compile.mode =
        train ? kiln::compiler::Mode::Train : kiln::compiler::Mode::Eval;
    compile.training = flags.training;
    compile.batch = size;
    return compileReported(common.model, compile, common.verbose).plan;
  };
  return kiln::runtime::train(
      kiln::runtime::compileTrainingPlans(data, options, compileFor), data,
      options);
}

kiln::runtime::DataSplits loadScaledData(const TrainFlags &flags) {
  using namespace kiln::runtime;
  DataSplits data = loadData(flags.data);
  if (flags.scale != "none") {
    std::vector<Dataset *> others;
    if (data.test) {
      others.push_back(&*data.test);
    }
    scaleFeatures(flags.scale == "minmax" ? Scaling::MinMax : Scaling::Standard,
                  data.train, others);
  }
  return data;
}

int trainCommand(const CommonFlags &common, TrainFlags flags) {
  using namespace kiln::runtime;
  prepareTrainFlags(common, flags); // before the data and the compilation
  DataSplits data = loadScaledData(flags);
  TrainResult result = trainOnData(common, flags, data);
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

} // namespace kiln::cli
