// train() end to end against fake_train_kernels.c: a one-weight linear model
// whose train step (SGD with momentum) is written in C.
#include "TestUtil.h"

#include "kiln/runtime/Safetensors.h"
#include "kiln/runtime/Trainer.h"

#include <nlohmann/json.hpp>

#include <dlfcn.h>

#include <fstream>
#include <sstream>

namespace kiln::runtime {
namespace {

using nlohmann::json;
using test::tempDir;

// One plan buffer; parameters start at zero.
json buffer(const std::string &name, json shape, const std::string &dtype,
            const std::string &kind) {
  json b = {{"name", name}, {"shape", std::move(shape)}, {"dtype", dtype},
            {"kind", kind}};
  if (kind == "param") {
    b["init"] = {{"kind", "zeros"}};
  }
  return b;
}

std::string trainPlan(const std::string &dir, int64_t batch,
                      const std::string &name) {
  json plan = {
      {"version", 1},
      {"library", KILN_TEST_KERNELS},
      {"target", "host"},
      {"buffers", json::array({
                      buffer("x", {batch, 1}, "f32", "input"),
                      buffer("target", {batch, 1}, "f32", "input"),
                      buffer("lr", json::array(), "f32", "input"),
                      buffer("step", json::array(), "f32", "input"),
                      buffer("seed", json::array(), "i32", "input"),
                      buffer("w", {1}, "f32", "param"),
                      buffer("w.momentum.velocity", {1}, "f32", "param"),
                      buffer("%loss", json::array(), "f32", "temp"),
                      buffer("%pred", {batch, 1}, "f32", "temp"),
                      buffer("last_step", {1}, "f32", "param"),
                  })},
      {"inputs", {0, 1, 2, 3, 4}},
      {"outputs", json::array({{{"name", "loss"}, {"buffer", 7}},
                               {{"name", "pred"}, {"buffer", 8}}})},
      {"calls", json::array({{{"kernel", "kiln_test_linear_train"},
                              {"op", "train_step"},
                              {"args", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}}})}};
  std::string path = dir + "/" + name;
  test::writeText(path, plan.dump(2));
  return path;
}

std::string evalPlan(const std::string &dir, int64_t batch,
                     const std::string &name) {
  json plan = {{"version", 1},
               {"library", KILN_TEST_KERNELS},
               {"target", "host"},
               {"buffers", json::array({
                               buffer("x", {batch, 1}, "f32", "input"),
                               buffer("target", {batch, 1}, "f32", "input"),
                               buffer("w", {1}, "f32", "param"),
                               buffer("%loss", json::array(), "f32", "temp"),
                               buffer("%pred", {batch, 1}, "f32", "temp"),
                           })},
               {"inputs", {0, 1}},
               {"outputs", json::array({{{"name", "loss"}, {"buffer", 3}},
                                        {{"name", "pred"}, {"buffer", 4}}})},
               {"calls", json::array({{{"kernel", "kiln_test_linear_eval"},
                                       {"op", "eval"},
                                       {"args", {0, 1, 2, 3, 4}}}})}};
  std::string path = dir + "/" + name;
  test::writeText(path, plan.dump(2));
  return path;
}

// y = slope * x on x spread over [-1, 1].
Dataset line(int64_t size, float slope, float offset = 0) {
  Dataset data;
  data.x = Tensor({size, 1}, DType::F32);
  data.y = Tensor({size, 1}, DType::F32);
  for (int64_t i = 0; i < size; ++i) {
    float x = -1.0f + 2.0f * (i + offset) / size;
    data.x.f32()[i] = x;
    data.y.f32()[i] = slope * x;
  }
  return data;
}

// 10 training samples in batches of 4: two full batches and a tail of 2;
// 5 test samples: one eval batch of 4 and an eval tail of 1.
struct Fixture {
  std::string dir = tempDir();
  TrainingPlans plans;
  DataSplits data;
  TrainerOptions options;

  Fixture() {
    plans.train = loadPlan(trainPlan(dir, 4, "train.json"));
    plans.trainTail = loadPlan(trainPlan(dir, 2, "train_tail.json"));
    plans.eval = loadPlan(evalPlan(dir, 4, "eval.json"));
    plans.evalTail = loadPlan(evalPlan(dir, 1, "eval_tail.json"));
    data.train = line(10, 2.0f);
    data.test = line(5, 2.0f, 0.5f);
    options.batch = 4;
    options.lr = 0.1;
    options.seed = 11;
    options.progress = false;
  }
};

std::map<std::string, Tensor> readWeights(const std::string &path) {
  return readSafetensors(path);
}

std::vector<std::string> readLines(const std::string &path) {
  std::ifstream stream(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(stream, line)) {
    lines.push_back(line);
  }
  return lines;
}

TEST(Trainer, LossDecreasesAndLogsAreWritten) {
  Fixture f;
  f.options.epochs = 4;
  f.options.logPath = f.dir + "/log.csv";
  f.options.savePath = f.dir + "/model.safetensors";
  TrainResult result = train(f.plans, f.data, f.options);

  ASSERT_EQ(result.epochs.size(), 4u);
  EXPECT_EQ(result.steps, 12); // 2 full batches + the tail, per epoch
  EXPECT_EQ(result.epochs[0].steps, 3);
  EXPECT_LT(result.epochs[3].trainLoss, result.epochs[0].trainLoss);
  EXPECT_LT(result.epochs[3].testLoss, result.epochs[0].testLoss);
  EXPECT_EQ(result.epochs[0].trainAccuracy, -1); // regression
  EXPECT_EQ(result.epochs[0].valLoss, -1);       // no validation split
  ASSERT_TRUE(result.testLoss.has_value());
  EXPECT_EQ(*result.testLoss, result.epochs[3].testLoss);
  EXPECT_FALSE(result.testAccuracy.has_value());
  EXPECT_GT(result.secondsPerStep, 0);

  std::vector<std::string> lines = readLines(f.options.logPath);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "epoch,train_loss,train_accuracy,val_loss,val_accuracy,"
                      "test_loss,test_accuracy,seconds");
  EXPECT_EQ(lines[1].rfind("1,", 0), 0u) << lines[1];
  // Empty cells: train accuracy, val loss and accuracy, test accuracy.
  std::vector<std::string> cells;
  std::stringstream row(lines[4]);
  for (std::string cell; std::getline(row, cell, ',');) {
    cells.push_back(cell);
  }
  ASSERT_EQ(cells.size(), 8u) << lines[4];
  EXPECT_EQ(cells[0], "4");
  EXPECT_FALSE(cells[1].empty());
  EXPECT_TRUE(cells[2].empty() && cells[3].empty() && cells[4].empty());
  EXPECT_FALSE(cells[5].empty());
  EXPECT_TRUE(cells[6].empty());
  EXPECT_FALSE(cells[7].empty());
  std::vector<EpochMetrics> parsed = readTrainingLog(f.options.logPath);
  ASSERT_EQ(parsed.size(), 4u);
  EXPECT_NEAR(parsed[3].testLoss, result.epochs[3].testLoss,
              1e-5 * result.epochs[3].testLoss);

  std::ifstream svgFile(f.dir + "/log.svg");
  std::string svg((std::istreambuf_iterator<char>(svgFile)),
                  std::istreambuf_iterator<char>());
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find(">train</text>"), std::string::npos);
  EXPECT_NE(svg.find(">test</text>"), std::string::npos);
  EXPECT_NE(svg.find(">epoch</text>"), std::string::npos);
  EXPECT_NE(svg.find("not measured"), std::string::npos); // accuracy panel
  EXPECT_NE(svg.find("</svg>"), std::string::npos);

  // The checkpoint holds every train parameter (incl. the optimizer slot)
  // and where the loop stands.
  auto weights = readWeights(f.options.savePath);
  EXPECT_EQ(weights.size(), 3u);
  EXPECT_TRUE(weights.count("w.momentum.velocity"));
  EXPECT_EQ(weights["last_step"].f32()[0], 12.0f); // "step" fed 1..12
  EXPECT_NEAR(weights["w"].f32()[0], 2.0f, 0.5f);
  auto metadata = readSafetensorsMetadata(f.options.savePath);
  EXPECT_EQ(metadata["format"], "kiln-checkpoint");
  EXPECT_EQ(metadata["epoch"], "4");
  EXPECT_EQ(metadata["epoch_step"], "0");
  EXPECT_EQ(metadata["step"], "12");
  EXPECT_EQ(metadata["seed"], "11");
  EXPECT_EQ(metadata["best_val_loss"], "inf");
}

TEST(Trainer, ResumeEqualsUninterrupted) {
  Fixture f;
  f.options.epochs = 2;
  f.options.savePath = f.dir + "/full.safetensors";
  f.options.logPath = f.dir + "/full.csv";
  train(f.plans, f.data, f.options);

  f.options.epochs = 1;
  f.options.savePath = f.dir + "/half.safetensors";
  f.options.logPath = f.dir + "/half.csv";
  train(f.plans, f.data, f.options);
  f.options.epochs = 2;
  f.options.loadPath = f.dir + "/half.safetensors";
  f.options.savePath = f.dir + "/resumed.safetensors";
  TrainResult resumed = train(f.plans, f.data, f.options);
  ASSERT_EQ(resumed.epochs.size(), 1u);
  EXPECT_EQ(resumed.epochs[0].epoch, 2);
  EXPECT_EQ(resumed.steps, 3);

  auto full = readWeights(f.dir + "/full.safetensors");
  auto again = readWeights(f.dir + "/resumed.safetensors");
  ASSERT_EQ(full.size(), again.size());
  for (const auto &[name, tensor] : full) {
    EXPECT_EQ(tensor.bytes, again[name].bytes) << name;
  }
  EXPECT_EQ(readSafetensorsMetadata(f.dir + "/resumed.safetensors"),
            readSafetensorsMetadata(f.dir + "/full.safetensors"));
  // The resumed log keeps the first run's row.
  EXPECT_EQ(readTrainingLog(f.dir + "/half.csv").size(), 2u);
}

TEST(Trainer, MaxStepsStopsMidEpochAndResumes) {
  Fixture f;
  f.options.epochs = 3;
  f.options.savePath = f.dir + "/full.safetensors";
  train(f.plans, f.data, f.options);

  f.options.maxSteps = 4; // one epoch (3 steps) and one step into the next
  f.options.savePath = f.dir + "/part.safetensors";
  TrainResult part = train(f.plans, f.data, f.options);
  EXPECT_EQ(part.steps, 4);
  ASSERT_EQ(part.epochs.size(), 2u);
  EXPECT_EQ(part.epochs[1].steps, 1);
  auto metadata = readSafetensorsMetadata(f.options.savePath);
  EXPECT_EQ(metadata["epoch"], "1");
  EXPECT_EQ(metadata["epoch_step"], "1");
  EXPECT_EQ(readWeights(f.options.savePath)["last_step"].f32()[0], 4.0f);

  f.options.maxSteps = 0;
  f.options.loadPath = f.options.savePath;
  f.options.savePath = f.dir + "/rest.safetensors";
  TrainResult rest = train(f.plans, f.data, f.options);
  EXPECT_EQ(rest.steps, 5);
  auto full = readWeights(f.dir + "/full.safetensors");
  auto resumed = readWeights(f.dir + "/rest.safetensors");
  for (const auto &[name, tensor] : full) {
    EXPECT_EQ(tensor.bytes, resumed[name].bytes) << name;
  }
}

TEST(Trainer, EarlyStoppingRestoresTheBestWeights) {
  // The last 20% (the validation split) follow y = -2x, the rest y = 2x:
  // the better the fit to the training data, the worse the validation loss.
  Fixture f;
  f.data.train = line(10, 2.0f);
  for (int i = 8; i < 10; ++i) {
    f.data.train.y.f32()[i] *= -1;
  }
  f.options.validationSplit = 0.2;
  f.options.batch = 4; // 8 training samples: no tail
  f.plans.trainTail.reset();
  f.plans.evalTail.reset();
  f.plans.extraEvalTails = {loadPlan(evalPlan(f.dir, 2, "eval2.json")),
                            loadPlan(evalPlan(f.dir, 1, "eval1.json"))};
  f.options.epochs = 1;
  f.options.savePath = f.dir + "/one.safetensors";
  train(f.plans, f.data, f.options);

  f.options.epochs = 10;
  f.options.patience = 2;
  f.options.savePath = f.dir + "/stopped.safetensors";
  f.options.logPath = f.dir + "/stopped.csv";
  TrainResult result = train(f.plans, f.data, f.options);
  EXPECT_TRUE(result.stoppedEarly);
  EXPECT_EQ(result.bestEpoch, 1);
  ASSERT_EQ(result.epochs.size(), 3u);
  EXPECT_GT(result.epochs[1].valLoss, result.epochs[0].valLoss);
  EXPECT_GT(result.epochs[2].valLoss, result.epochs[0].valLoss);
  EXPECT_NE(result.epochs[0].valLoss, -1);

  auto best = readWeights(f.dir + "/one.safetensors");
  auto restored = readWeights(f.dir + "/stopped.safetensors");
  for (const auto &[name, tensor] : best) {
    EXPECT_EQ(tensor.bytes, restored[name].bytes) << name;
  }
  EXPECT_TRUE(std::filesystem::exists(f.dir + "/stopped.best.safetensors"));
  auto metadata = readSafetensorsMetadata(f.options.savePath);
  EXPECT_EQ(metadata["best_epoch"], "1");
  EXPECT_EQ(metadata["bad_epochs"], "2");
  // The final test loss is that of the restored weights.
  ASSERT_TRUE(result.testLoss.has_value());
  EXPECT_EQ(*result.testLoss, result.epochs[0].testLoss);
}

// SIGINT from inside a step: the trainer finishes it, checkpoints, returns;
// resuming gives the uninterrupted result.
TEST(Trainer, InterruptCheckpointsAndResumes) {
  Fixture f;
  f.options.epochs = 2;
  f.options.savePath = f.dir + "/full.safetensors";
  train(f.plans, f.data, f.options);

  void *library = ::dlopen(KILN_TEST_KERNELS, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(library, nullptr);
  int *interruptAt =
      static_cast<int *>(::dlsym(library, "kiln_test_interrupt_at_step"));
  ASSERT_NE(interruptAt, nullptr);
  *interruptAt = 2;
  f.options.savePath = f.dir + "/part.safetensors";
  TrainResult part = train(f.plans, f.data, f.options);
  *interruptAt = 0;
  EXPECT_TRUE(part.interrupted);
  EXPECT_EQ(part.steps, 2);
  EXPECT_TRUE(part.epochs.empty());
  EXPECT_EQ(readSafetensorsMetadata(f.options.savePath)["epoch_step"], "2");

  f.options.loadPath = f.options.savePath;
  f.options.savePath = f.dir + "/rest.safetensors";
  TrainResult rest = train(f.plans, f.data, f.options);
  EXPECT_FALSE(rest.interrupted);
  EXPECT_EQ(rest.steps, 4);
  auto full = readWeights(f.dir + "/full.safetensors");
  auto resumed = readWeights(f.dir + "/rest.safetensors");
  for (const auto &[name, tensor] : full) {
    EXPECT_EQ(tensor.bytes, resumed[name].bytes) << name;
  }
  ::dlclose(library);
}

TEST(Trainer, AccuracyAgainstClassLabels) {
  std::string dir = tempDir();
  json plan = json::parse(R"({
    "version": 1, "library": ")" KILN_TEST_KERNELS R"(", "target": "host",
    "buffers": [
      {"name": "x", "shape": [2, 3], "dtype": "f32", "kind": "input"},
      {"name": "target", "shape": [2], "dtype": "i32", "kind": "input"},
      {"name": "%loss", "shape": [], "dtype": "f32", "kind": "temp"},
      {"name": "%logits", "shape": [2, 3], "dtype": "f32", "kind": "temp"}
    ],
    "inputs": [0, 1],
    "outputs": [{"name": "loss", "buffer": 2}, {"name": "logits", "buffer": 3}],
    "calls": [{"kernel": "kiln_test_classify", "op": "x", "args": [0, 1, 2, 3]}]
  })");
  test::writeText(dir + "/plan.json", plan.dump());
  TrainingPlans plans;
  plans.train = plans.eval = loadPlan(dir + "/plan.json");
  // Samples i: x one-hot at i % 3, label i % 3 except for samples 1 and 6.
  DataSplits data;
  data.train.x = Tensor({8, 3}, DType::F32);
  data.train.y = Tensor({8}, DType::I32);
  for (int i = 0; i < 8; ++i) {
    data.train.x.f32()[i * 3 + i % 3] = 1;
    data.train.y.i32()[i] = i == 1 || i == 6 ? (i + 1) % 3 : i % 3;
  }
  data.test = data.train;
  TrainerOptions options;
  options.batch = 2;
  options.progress = false;
  TrainResult result = train(plans, data, options);
  ASSERT_EQ(result.epochs.size(), 1u);
  EXPECT_DOUBLE_EQ(result.epochs[0].trainAccuracy, 0.75);
  EXPECT_DOUBLE_EQ(result.epochs[0].trainLoss, 1.0);
  ASSERT_TRUE(result.testAccuracy.has_value());
  EXPECT_DOUBLE_EQ(*result.testAccuracy, 0.75);
}

TEST(Trainer, WithoutTailPlanTheRemainderIsSkipped) {
  Fixture f;
  f.plans.trainTail.reset();
  f.options.epochs = 2;
  TrainResult result = train(f.plans, f.data, f.options);
  EXPECT_EQ(result.steps, 4);
}

TEST(Trainer, Errors) {
  Fixture f;
  f.options.batch = 8;
  EXPECT_EQ(KILN_ERROR_MESSAGE(train(f.plans, f.data, f.options)),
            f.plans.train->path +
                ": compiled for batch 4, the trainer was asked for batch 8");
  f.options.batch = 4;
  f.plans.trainTail = loadPlan(trainPlan(f.dir, 3, "tail3.json"));
  EXPECT_EQ(KILN_ERROR_MESSAGE(train(f.plans, f.data, f.options)),
            f.plans.trainTail->path + ": tail plan for batch 3, but 10 training "
                                "samples leave 2");
  f.plans.trainTail.reset();
  DataSplits wide = f.data;
  wide.train.x = Tensor({10, 3}, DType::F32);
  EXPECT_EQ(KILN_ERROR_MESSAGE(train(f.plans, wide, f.options)),
            f.plans.train->path + ": input 'x' is 4x1xf32 per batch, but the train "
                            "features are 10x3xf32");
  f.data.train.y = Tensor({10}, DType::I32);
  EXPECT_NE(KILN_ERROR_MESSAGE(train(f.plans, f.data, f.options))
                .find("input 'target' is 4x1xf32 per batch, but the train "
                      "targets are 10xi32"),
            std::string::npos);
}

} // namespace
} // namespace kiln::runtime
