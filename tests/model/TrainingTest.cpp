// Training end to end: compiled train steps driven by the runtime's trainer.
#include "ModelTestSupport.h"
#include "kiln/runtime/Runtime.h"
#include "kiln/runtime/Safetensors.h"
#include "kiln/runtime/Trainer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>

namespace rt = kiln::runtime;
namespace fs = std::filesystem;

namespace {

rt::PlanRef compile(kiln::compiler::Mode mode, int64_t batch,
                    const std::string &optimizer = "adam",
                    std::vector<std::string> frozen = {}) {
  kiln::compiler::CompileOptions options;
  options.mode = mode;
  options.batch = batch;
  options.training.loss = "sparse-cce";
  options.training.optimizer = optimizer;
  options.training.frozen = std::move(frozen);
  options.cacheDir = kiln::testing::cacheDir();
  return kiln::compiler::compileModel(
             std::string(KILN_TEST_INPUTS_DIR) + "/small_cnn.mlir", options)
      .plan;
}

// 4-class images whose label is unrelated to the pixels: only memorizing
// them brings the loss down.
rt::DataSplits randomData(int64_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  rt::DataSplits data;
  data.train.x = rt::Tensor({rows, 1, 8, 8}, rt::DType::F32);
  data.train.y = rt::Tensor({rows}, rt::DType::I32);
  for (int64_t i = 0; i < data.train.x.numElements(); ++i) {
    data.train.x.f32()[i] = pixel(rng);
  }
  for (int64_t i = 0; i < rows; ++i) {
    data.train.y.i32()[i] = static_cast<int32_t>(rng() % 4);
  }
  return data;
}

fs::path tempDir(const std::string &name) {
  fs::path dir = fs::temp_directory_path() /
                 ("kiln-training-test-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(TrainingTest, SmallCnnOverfits32Samples) {
  rt::TrainingPlans plans;
  plans.train = compile(kiln::compiler::Mode::Train, 32);
  plans.eval = compile(kiln::compiler::Mode::Eval, 32);
  rt::DataSplits data = randomData(32, 1);
  data.test = data.train; // evaluated in inference mode on the same samples
  rt::TrainerOptions options;
  options.batch = 32;
  options.epochs = 150;
  options.lr = 0.01;
  options.progress = false;
  rt::TrainResult result = rt::train(plans, data, options);
  ASSERT_EQ(result.epochs.size(), 150u);
  EXPECT_GT(result.epochs.front().trainLoss, 1.0);
  EXPECT_LT(result.epochs.back().trainLoss, 0.05);
  ASSERT_TRUE(result.testAccuracy);
  EXPECT_EQ(*result.testAccuracy, 1.0);
}

TEST(TrainingTest, ResumedRunEqualsUninterruptedRun) {
  rt::TrainingPlans plans;
  plans.train = compile(kiln::compiler::Mode::Train, 16, "momentum");
  plans.trainTail = compile(kiln::compiler::Mode::Train, 8, "momentum");
  plans.eval = compile(kiln::compiler::Mode::Eval, 16, "momentum");
  rt::DataSplits data = randomData(40, 2);
  fs::path dir = tempDir("resume");

  rt::TrainerOptions options;
  options.batch = 16;
  options.lr = 0.05;
  options.progress = false;
  options.seed = 3;
  options.epochs = 3;
  options.savePath = (dir / "full.safetensors").string();
  rt::train(plans, data, options);

  options.epochs = 1;
  options.savePath = (dir / "part.safetensors").string();
  rt::train(plans, data, options);
  options.epochs = 3;
  options.loadPath = options.savePath;
  rt::train(plans, data, options);

  auto full = rt::readSafetensors((dir / "full.safetensors").string());
  auto resumed = rt::readSafetensors((dir / "part.safetensors").string());
  ASSERT_EQ(full.size(), resumed.size());
  for (const auto &[name, tensor] : full) {
    ASSERT_TRUE(resumed.count(name)) << name;
    EXPECT_EQ(tensor.bytes, resumed.at(name).bytes) << name;
  }
  // Momentum buffers and BatchNorm statistics are part of the state.
  EXPECT_TRUE(full.count("conv.weight.momentum.momentum_buffer"));
  EXPECT_TRUE(full.count("bn.running_mean"));
}

// --freeze (transfer learning): the frozen convolution keeps its initial
// weights bit for bit and gets no Adam state, while the head trains; without
// freezing the same run changes the convolution (so the check can fail).
TEST(TrainingTest, FrozenParametersStayBitIdentical) {
  rt::DataSplits data = randomData(32, 4);
  fs::path dir = tempDir("frozen");
  auto run = [&](const std::vector<std::string> &frozen, int epochs,
                 const std::string &file) {
    rt::TrainingPlans plans;
    plans.train = compile(kiln::compiler::Mode::Train, 16, "adam", frozen);
    plans.eval = compile(kiln::compiler::Mode::Eval, 16, "adam");
    rt::TrainerOptions options;
    options.batch = 16;
    options.lr = 0.01;
    options.progress = false;
    options.seed = 7;
    options.epochs = epochs;
    options.savePath = (dir / file).string();
    rt::train(plans, data, options);
    return rt::readSafetensors(options.savePath);
  };
  auto one = run({"conv.*"}, 1, "one.safetensors");
  auto three = run({"conv.*"}, 3, "three.safetensors");
  auto all = run({}, 1, "all.safetensors");
  for (const char *name : {"conv.weight", "conv.bias"}) {
    EXPECT_EQ(one.at(name).bytes, three.at(name).bytes) << name;
    EXPECT_NE(one.at(name).bytes, all.at(name).bytes) << name;
  }
  EXPECT_NE(one.at("fc.weight").bytes, three.at("fc.weight").bytes);
  for (const auto &[name, tensor] : three) {
    EXPECT_NE(name.rfind("conv.weight.adam", 0), 0u) << name;
    EXPECT_NE(name.rfind("conv.bias.adam", 0), 0u) << name;
  }
  bool headState = false;
  for (const auto &[name, tensor] : three) {
    headState = headState || name.rfind("fc.weight.adam", 0) == 0;
  }
  EXPECT_TRUE(headState);
}

} // namespace
