// Inference latency of the example models through the full kiln path
// (compiled plan + runtime Session), batch 1 and 64.
//
//   build/bin/kiln-bench [--benchmark_filter=cnn] [--benchmark_repetitions=5]
//
// Kernels are compiled (or fetched from $KILN_CACHE_DIR) before timing; only
// Session::run() is timed. Results are recorded in docs/results.md.
#include "kiln/compiler/Compiler.h"
#include "kiln/runtime/Runtime.h"

#include <benchmark/benchmark.h>

#include <string>

namespace {

void runModel(benchmark::State &state, const std::string &model) {
  kiln::compiler::CompileOptions options;
  options.batch = state.range(0);
  auto compiled = kiln::compiler::compileModel(
      std::string(KILN_EXAMPLES_DIR) + "/" + model, options);
  auto session = kiln::runtime::Session::load(compiled.planPath);
  session.prepare();
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

void BM_MLP(benchmark::State &state) { runModel(state, "mlp.mlir"); }
void BM_CNN(benchmark::State &state) { runModel(state, "cnn.mlir"); }
void BM_ResNetBlock(benchmark::State &state) {
  runModel(state, "resnet_block.mlir");
}

BENCHMARK(BM_MLP)->Arg(1)->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_CNN)->Arg(1)->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_ResNetBlock)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
