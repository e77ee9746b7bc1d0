// Training end to end: compiled train steps driven by the runtime's trainer.
#include "ModelTestSupport.h"
#include "kiln/runtime/Runtime.h"
#include "kiln/runtime/Safetensors.h"
#include "kiln/runtime/Trainer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace rt = kiln::runtime;
namespace fs = std::filesystem;

namespace {

rt::PlanRef compile(kiln::compiler::Mode mode, int64_t batch,
                    const std::string &optimizer = "adam",
                    std::vector<std::string> frozen = {},
                    bool gradNorms = false,
                    const std::string &model = std::string(KILN_TEST_INPUTS_DIR) +
                                               "/small_cnn.mlir") {
  kiln::compiler::CompileOptions options;
  options.mode = mode;
  options.batch = batch;
  options.training.loss = "sparse-cce";
  options.training.optimizer = optimizer;
  options.training.frozen = std::move(frozen);
  options.training.gradNorms = gradNorms;
  options.cacheDir = kiln::testing::cacheDir();
  return kiln::compiler::compileModel(model, options).plan;
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

// Adam-style runs of the tests: batch 16, lr 0.01, quiet, seeded.
rt::TrainerOptions quietOptions(uint64_t seed) {
  rt::TrainerOptions options;
  options.batch = 16;
  options.lr = 0.01;
  options.progress = false;
  options.seed = seed;
  return options;
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
    rt::TrainerOptions options = quietOptions(7);
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

// Transfer learning: a checkpoint of the 4-class CNN loads into a 3-class
// variant (the head is skipped: its shape differs), and with the body frozen
// the body stays bit for bit the checkpoint's; --reinit 'fc.*' on the same
// model draws the head exactly as a fresh run does. A pattern that matches
// nothing is an error.
TEST(TrainingTest, NewHeadLoadsTheBodyAndReinitDrawsTheHeadAgain) {
  fs::path dir = tempDir("transfer");
  std::string text;
  {
    std::ifstream in(std::string(KILN_TEST_INPUTS_DIR) + "/small_cnn.mlir");
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (auto [from, to] : {std::pair<std::string, std::string>{"1x4xf32", "1x3xf32"},
                          {"4x96xf32", "3x96xf32"},
                          {"tensor<4xf32>", "tensor<3xf32>"}}) {
    for (size_t at = text.find(from); at != std::string::npos;
         at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
  }
  std::string threeClasses = (dir / "small_cnn_3.mlir").string();
  std::ofstream(threeClasses) << text;

  rt::DataSplits data = randomData(32, 6);
  auto run = [&](const std::string &model, const std::vector<std::string> &frozen,
                 const std::string &load, const std::vector<std::string> &reinit,
                 const std::string &save, const rt::DataSplits &d) {
    rt::TrainingPlans plans;
    plans.train = compile(kiln::compiler::Mode::Train, 16, "adam", frozen,
                          false, model);
    rt::TrainerOptions options = quietOptions(9);
    options.loadPath = load;
    options.reinit = reinit;
    options.savePath = (dir / save).string();
    rt::train(plans, d, options);
    return rt::readSafetensors(options.savePath);
  };
  std::string cnn = std::string(KILN_TEST_INPUTS_DIR) + "/small_cnn.mlir";
  auto trained = run(cnn, {}, "", {}, "a.safetensors", data);

  rt::DataSplits three = data;
  for (int64_t i = 0; i < three.train.y.numElements(); ++i) {
    three.train.y.i32()[i] %= 3;
  }
  auto headless = run(threeClasses, {"conv.*", "bn.weight", "bn.bias"},
                      (dir / "a.safetensors").string(), {}, "b.safetensors",
                      three);
  for (const char *name : {"conv.weight", "conv.bias", "bn.weight", "bn.bias"}) {
    EXPECT_EQ(headless.at(name).bytes, trained.at(name).bytes) << name;
  }
  EXPECT_EQ(headless.at("fc.weight").shape, (std::vector<int64_t>{3, 96}));

  auto fresh = run(cnn, {"fc.*"}, "", {}, "d.safetensors", data);
  auto redrawn = run(cnn, {"fc.*"}, (dir / "a.safetensors").string(),
                     {"fc.*"}, "c.safetensors", data);
  for (const char *name : {"fc.weight", "fc.bias"}) {
    EXPECT_EQ(redrawn.at(name).bytes, fresh.at(name).bytes) << name;
    EXPECT_NE(redrawn.at(name).bytes, trained.at(name).bytes) << name;
  }
  EXPECT_THROW(run(cnn, {}, (dir / "a.safetensors").string(), {"head.*"},
                   "e.safetensors", data),
               rt::Error);
}

// --log-grad-norms: the sums of squares the train step returns, against
// the host's sums over the gradient plan's grad:<param> tensors and the
// initial weights, and (plain SGD: the update is -lr * g) the update's
// against lr^2 times the gradient's. One step, the same seed and batch.
TEST(TrainingTest, GradNormsMatchTheGradientsAndTheSgdUpdate) {
  rt::DataSplits data = randomData(16, 5);
  const double lr = 0.05;
  auto start = [&](kiln::compiler::Mode mode, bool norms) {
    rt::SessionOptions options;
    options.seed = 11;
    rt::Session session = rt::Session::load(
        *compile(mode, 16, "sgd", {}, norms), options);
    session.prepare();
    session.setInput("image", data.train.x);
    session.setInput("target", data.train.y);
    return session;
  };
  rt::Session gradients = start(kiln::compiler::Mode::Gradients, false);
  gradients.setInput("seed", rt::Tensor({}, rt::DType::I32));
  gradients.run();
  rt::Session step = start(kiln::compiler::Mode::Train, true);
  step.setInput("seed", rt::Tensor({}, rt::DType::I32));
  rt::Tensor lrValue({}, rt::DType::F32), stepValue({}, rt::DType::F32);
  lrValue.f32()[0] = static_cast<float>(lr);
  stepValue.f32()[0] = 1.0f;
  step.setInput("lr", lrValue);
  step.setInput("step", stepValue);
  std::map<std::string, double> weightSquares;
  for (const rt::TensorInfo &info : step.parameters()) {
    rt::Tensor w = step.parameter(info.name);
    double sum = 0;
    for (int64_t i = 0; i < w.numElements(); ++i) {
      sum += double(w.f32()[i]) * w.f32()[i];
    }
    weightSquares[info.name] = sum;
  }
  step.run();
  int checked = 0;
  for (const rt::TensorInfo &info : gradients.outputs()) {
    if (info.name.rfind("grad:", 0) != 0) {
      continue;
    }
    std::string param = info.name.substr(5);
    rt::Tensor g = gradients.output(info.name);
    double sum = 0;
    for (int64_t i = 0; i < g.numElements(); ++i) {
      sum += double(g.f32()[i]) * g.f32()[i];
    }
    double grad = step.output("grad_sq:" + param).f32()[0];
    double weight = step.output("weight_sq:" + param).f32()[0];
    double update = step.output("update_sq:" + param).f32()[0];
    EXPECT_NEAR(grad, sum, 1e-4 * sum + 1e-12) << param;
    EXPECT_NEAR(weight, weightSquares.at(param),
                1e-5 * weightSquares.at(param)) << param;
    // The update is computed in float32 next to weights of norm ~1: a few
    // ulps of each weight's change.
    EXPECT_NEAR(update, lr * lr * sum, 2e-3 * lr * lr * sum + 1e-10) << param;
    ++checked;
  }
  EXPECT_GE(checked, 4); // conv, bn and fc weights and biases
}

} // namespace
