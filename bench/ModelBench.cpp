// Inference latency of the example models through the full kiln path
// (compiled plan + runtime Session), batch 1 and 64, and the training step
// (forward + backward + Adam) at batch 64. BM_Fusion: the example CNN and the
// ResNet basic block (64 channels, 56x56) fused and with --no-fusion,
// inference at batch 1 and 8 and the training step at batch 32
// (docs/fusion.md):
//
//   build/bin/kiln-bench [--benchmark_filter=cnn] [--benchmark_repetitions=5]
//   build/bin/kiln-bench --benchmark_filter=Fusion
//
// Kernels are compiled (or fetched from $KILN_CACHE_DIR) before timing; only
// Session::run() is timed. Results are recorded in docs/results.md.
#include "kiln/compiler/Compiler.h"
#include "kiln/runtime/Runtime.h"

#include <benchmark/benchmark.h>

#include <functional>
#include <string>

namespace {

// Compiles `model` at the benchmark's batch size, lets `bind` set inputs,
// then times Session::run().
void timeModel(
    benchmark::State &state, const std::string &model,
    kiln::compiler::CompileOptions options,
    const std::function<void(kiln::runtime::Session &)> &bind = {}) {
  options.batch = state.range(0);
  auto compiled = kiln::compiler::compileModel(
      model.find('/') == std::string::npos
          ? std::string(KILN_EXAMPLES_DIR) + "/" + model
          : model,
      options);
  auto session = kiln::runtime::Session::load(*compiled.plan);
  session.prepare();
  if (bind) {
    bind(session);
  }
  session.fillMissingInputs(0);
  session.run(); // warm-up: first touch of the buffers, thread pool start
  for (auto _ : state) {
    session.run();
  }
  state.counters["kernels"] = compiled.calls;
  state.counters["images/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * state.range(0)),
      benchmark::Counter::kIsRate);
}

void runModel(benchmark::State &state, const std::string &model) {
  timeModel(state, model, {});
}

// One compiled training step (forward, backward, Adam update) at the
// benchmark's batch size, on random data.
void trainStep(benchmark::State &state, const std::string &model,
               const std::string &loss = "sparse-cce", bool fusion = true) {
  kiln::compiler::CompileOptions options;
  options.mode = kiln::compiler::Mode::Train;
  options.training.loss = loss;
  options.training.optimizer = "adam";
  options.fusion = fusion;
  timeModel(state, model, options, [](kiln::runtime::Session &session) {
    kiln::runtime::Tensor scalar({}, kiln::runtime::DType::F32);
    scalar.f32()[0] = 1e-3f;
    session.setInput("lr", scalar);
    scalar.f32()[0] = 1.0f;
    session.setInput("step", scalar);
  });
}

void BM_MLP(benchmark::State &state) { runModel(state, "mlp.mlir"); }
void BM_MLP_TrainStep(benchmark::State &state) { trainStep(state, "mlp.mlir"); }
void BM_CNN_TrainStep(benchmark::State &state) { trainStep(state, "cnn.mlir"); }
void BM_CNN(benchmark::State &state) { runModel(state, "cnn.mlir"); }
void BM_ResNetBlock(benchmark::State &state) {
  runModel(state, "resnet_block.mlir");
}

// Fused against --no-fusion (docs/fusion.md).
const std::string kBlock64 =
    std::string(KILN_SOURCE_DIR) + "/bench/models/resnet_basic_block64.mlir";
void BM_Fusion(benchmark::State &state, const std::string &model, bool train,
               bool fusion) {
  if (train) {
    trainStep(state, model, "mse", fusion);
    return;
  }
  kiln::compiler::CompileOptions options;
  options.fusion = fusion;
  timeModel(state, model, options);
}
BENCHMARK_CAPTURE(BM_Fusion, cnn_fused, "cnn.mlir", false, true)
    ->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fusion, cnn_unfused, "cnn.mlir", false, false)
    ->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fusion, block64_fused, kBlock64, false, true)
    ->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fusion, block64_unfused, kBlock64, false, false)
    ->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
const std::string kMobileNetBlock =
    std::string(KILN_SOURCE_DIR) + "/bench/models/mobilenet_v2_block.mlir";
BENCHMARK_CAPTURE(BM_Fusion, mobilenet_block_fused, kMobileNetBlock, false, true)
    ->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fusion, mobilenet_block_unfused, kMobileNetBlock, false,
                  false)
    ->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fusion, cnn_train_fused, "cnn.mlir", true, true)
    ->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fusion, cnn_train_unfused, "cnn.mlir", true, false)
    ->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fusion, block64_train_fused, kBlock64, true, true)
    ->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fusion, block64_train_unfused, kBlock64, true, false)
    ->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK(BM_MLP)->Arg(1)->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_CNN)->Arg(1)->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_MLP_TrainStep)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CNN_TrainStep)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ResNetBlock)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
