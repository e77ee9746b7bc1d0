// N_train_step of a `kiln compile --train` library equals the runtime
// Session running the same Mode::Train plan: same losses and same
// parameters, bit for bit, after several SGD and Adam steps.
//
// The archive is relinked as a shared object (--whole-archive) so that the
// test can load it; its code is exactly what a C program links.
#include "kiln/aot/Aot.h"
#include "kiln/aot/kiln_aot.h"
#include "kiln/runtime/Runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <filesystem>
#include <map>
#include <memory>
#include <vector>

namespace {

namespace fs = std::filesystem;
using kiln::runtime::DType;
using kiln::runtime::Tensor;

std::string cacheDir() {
  const char *dir = std::getenv("KILN_CACHE_DIR");
  return dir && *dir ? dir : KILN_TEST_DEFAULT_CACHE_DIR;
}

Tensor scalarF32(float value) {
  Tensor t({}, DType::F32);
  t.f32()[0] = value;
  return t;
}

Tensor scalarI32(int32_t value) {
  Tensor t({}, DType::I32);
  t.i32()[0] = value;
  return t;
}

// `name`: an example model (mlp, cnn). With checkRunState, N_run_state on
// the trained state must equal an inference Session holding the same
// parameters: for the CNN this reruns the batch norm folds (load-time calls)
// on every call, as the state changes.
void runParity(const std::string &name, const std::string &optimizer,
               bool checkRunState = false) {
  const std::string model = std::string(KILN_EXAMPLES_DIR) + "/" + name + ".mlir";
  fs::path dir = fs::temp_directory_path() /
                 ("kiln-aot-train-" + name + "-" + optimizer + "-" +
                  std::to_string(getpid()));
  kiln::aot::AotOptions options;
  options.outputDir = dir.string();
  options.train = true;
  options.seed = 11;
  options.training.loss = "sparse-cce";
  options.training.optimizer = optimizer;
  options.cacheDir = cacheDir();
  kiln::aot::Bundle bundle = kiln::aot::compileBundle(model, options);

  std::string shared = (dir / ("lib" + name + ".so")).string();
  std::string link = "c++ -shared -o " + shared + " -Wl,--whole-archive " +
                     bundle.library +
                     " -Wl,--no-whole-archive -lpthread -ldl -lm";
  ASSERT_EQ(std::system(link.c_str()), 0) << link;
  void *library = dlopen(shared.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(library, nullptr) << dlerror();
  using Open = int (*)(void **, const char *);
  using Close = void (*)(void *);
  using StateInit = int (*)(const void *, void *);
  using TrainStep =
      int (*)(const void *, void *, const void *const *, void *const *, void *);
  auto symbol = [&](const std::string &suffix) {
    return dlsym(library, (name + "_" + suffix).c_str());
  };
  auto open = reinterpret_cast<Open>(symbol("open"));
  auto close = reinterpret_cast<Close>(symbol("close"));
  auto stateInit = reinterpret_cast<StateInit>(symbol("state_init"));
  auto trainStep = reinterpret_cast<TrainStep>(symbol("train_step"));
  auto runState = reinterpret_cast<TrainStep>(symbol("run_state"));
  auto stateTensors =
      static_cast<const kiln_aot_tensor *>(symbol("state_tensors"));
  auto trainInputs =
      static_cast<const kiln_aot_tensor *>(symbol("train_inputs"));
  ASSERT_TRUE(open && close && stateInit && trainStep && runState && stateTensors &&
              trainInputs);

  kiln::compiler::CompileOptions compile;
  compile.mode = kiln::compiler::Mode::Train;
  compile.training = options.training;
  compile.cacheDir = options.cacheDir;
  kiln::runtime::SessionOptions sessionOptions;
  sessionOptions.seed = options.seed;
  auto session = kiln::runtime::Session::load(
      *kiln::compiler::compileModel(model, compile).plan, sessionOptions);
  session.prepare();

  void *handle = nullptr;
  ASSERT_EQ(open(&handle, nullptr), 0);
  std::unique_ptr<void, decltype(&std::free)> state(
      std::aligned_alloc(KILN_AOT_ALIGNMENT, bundle.stateBytes), &std::free);
  ASSERT_EQ(stateInit(handle, state.get()), 0);

  Tensor image({1, 1, 28, 28}, DType::F32);
  kiln::runtime::Random random(5);
  for (int64_t i = 0; i < image.numElements(); ++i) {
    image.f32()[i] = random.normal(0.0f, 1.0f);
  }
  Tensor target({1}, DType::I32);
  target.i32()[0] = 7;
  for (int step = 1; step <= 4; ++step) {
    Tensor seed = scalarI32(100 + step), lr = scalarF32(0.01f),
           stepValue = scalarF32(static_cast<float>(step));
    session.setInput("image", image);
    session.setInput("target", target);
    session.setInput("seed", seed);
    session.setInput("lr", lr);
    session.setInput("step", stepValue);
    session.run();
    float expectedLoss = session.output("loss").f32()[0];

    std::map<std::string, const void *> byName = {
        {"image", image.bytes.data()},
        {"target", target.bytes.data()},
        {"seed", seed.bytes.data()},
        {"lr", lr.bytes.data()},
        {"step", stepValue.bytes.data()}};
    std::vector<const void *> inputs;
    for (size_t i = 0; i < session.inputs().size(); ++i) {
      inputs.push_back(byName.at(trainInputs[i].name));
    }
    float loss = 0, logits[10];
    void *outputs[] = {&loss, logits};
    ASSERT_EQ(trainStep(handle, state.get(), inputs.data(), outputs, nullptr),
              0);
    EXPECT_EQ(std::memcmp(&loss, &expectedLoss, 4), 0)
        << "step " << step << ": " << loss << " vs " << expectedLoss;
  }
  int checked = 0;
  for (const auto &info : session.parameters()) {
    const kiln_aot_tensor *tensor = nullptr;
    for (size_t i = 0; i < session.parameters().size(); ++i) {
      if (info.name == stateTensors[i].name) {
        tensor = &stateTensors[i];
      }
    }
    ASSERT_NE(tensor, nullptr) << info.name;
    Tensor expected = session.parameter(info.name);
    ASSERT_EQ(expected.bytes.size(), tensor->bytes);
    EXPECT_EQ(std::memcmp(static_cast<uint8_t *>(state.get()) + tensor->offset,
                          expected.bytes.data(), tensor->bytes),
              0)
        << info.name;
    ++checked;
  }
  EXPECT_GT(checked, 0);
  if (checkRunState) {
    kiln::compiler::CompileOptions inference;
    inference.cacheDir = options.cacheDir;
    auto eval = kiln::runtime::Session::load(
        *kiln::compiler::compileModel(model, inference).plan);
    eval.prepare();
    for (const auto &info : eval.parameters()) {
      eval.setParameter(info.name, session.parameter(info.name));
    }
    eval.setInput("image", image);
    eval.run();
    Tensor expected = eval.output("logits");
    float logits[10];
    const void *inputs[] = {image.bytes.data()};
    void *outputs[] = {logits};
    ASSERT_EQ(runState(handle, state.get(), inputs, outputs, nullptr), 0);
    for (int i = 0; i < 10; ++i) {
      EXPECT_NEAR(logits[i], expected.f32()[i],
                  1e-6 * std::max(1.0f, std::fabs(expected.f32()[i])))
          << "logit " << i;
    }
  }
  close(handle);
  dlclose(library);
  fs::remove_all(dir);
}

TEST(AotTrain, SgdStepsEqualTheRuntime) { runParity("mlp", "sgd"); }
TEST(AotTrain, AdamStepsEqualTheRuntime) { runParity("mlp", "adam"); }
TEST(AotTrain, CnnRunStateFoldsTheTrainedBatchNorm) {
  runParity("cnn", "sgd", /*checkRunState=*/true);
}

} // namespace
