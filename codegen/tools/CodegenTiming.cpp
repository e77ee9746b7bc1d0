// kiln-codegen-timing [cacheDir]: compiles a few reference kernels and prints
// their compile time and GFLOP/s. A measurement aid, not a test.
#include "kiln/codegen/Codegen.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <dlfcn.h>
#include <filesystem>
#include <random>

using namespace kiln::codegen;

namespace {

struct Tensor {
  std::vector<float> data;
  std::vector<halide_dimension_t> dims;
  halide_buffer_t buffer{};
  explicit Tensor(const std::vector<int64_t> &shape) {
    int64_t n = 1;
    for (int64_t d : shape) {
      n *= d;
    }
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(-1, 1);
    data.resize(n);
    for (float &v : data) {
      v = dist(rng);
    }
    int32_t stride = 1;
    for (size_t i = shape.size(); i-- > 0;) {
      dims.push_back({0, static_cast<int32_t>(shape[i]), stride, 0});
      stride *= static_cast<int32_t>(shape[i]);
    }
    buffer.host = reinterpret_cast<uint8_t *>(data.data());
    buffer.type = halide_type_of<float>();
    buffer.dimensions = static_cast<int32_t>(dims.size());
    buffer.dim = dims.data();
  }
};

struct Case {
  const char *name;
  KernelSpec spec;
  double work; // FLOPs, or elements for memory-bound kernels
  const char *unit;
};

} // namespace

int main(int argc, char **argv) {
  std::string cacheDir =
      argc > 1 ? argv[1]
               : (std::filesystem::temp_directory_path() / "kiln-codegen-timing")
                     .string();
  auto t = [](std::vector<int64_t> s) { return TensorSpec{s, DType::F32}; };
  std::vector<Case> cases = {
      {"conv2d [64,16,28,28] * [32,16,3,3] pad 1",
       {"conv2d",
        {{"strides", {1, 1}},
         {"pads", {1, 1, 1, 1}},
         {"dilations", {1, 1}},
         {"groups", 1}},
        {t({64, 16, 28, 28}), t({32, 16, 3, 3}), t({32})},
        {t({64, 32, 28, 28})}},
       2.0 * 64 * 32 * 28 * 28 * 16 * 9, "GFLOP/s"},
      {"conv2d_grad_input dy [64,32,14,14] w [32,16,3,3]",
       {"conv2d_grad_input",
        {{"strides", {1, 1}},
         {"pads", {1, 1, 1, 1}},
         {"dilations", {1, 1}},
         {"groups", 1},
         {"input_size", {14, 14}}},
        {t({64, 32, 14, 14}), t({32, 16, 3, 3})},
        {t({64, 16, 14, 14})}},
       2.0 * 64 * 32 * 14 * 14 * 16 * 9, "GFLOP/s"},
      {"conv2d_grad_weight x [64,16,14,14] dy [64,32,14,14]",
       {"conv2d_grad_weight",
        {{"strides", {1, 1}},
         {"pads", {1, 1, 1, 1}},
         {"dilations", {1, 1}},
         {"groups", 1},
         {"kernel", {3, 3}}},
        {t({64, 16, 14, 14}), t({64, 32, 14, 14})},
        {t({32, 16, 3, 3})}},
       2.0 * 64 * 32 * 14 * 14 * 16 * 9, "GFLOP/s"},
      {"matmul [64,128]^T x [64,784] (dense dW)",
       {"matmul", {{"transpose_a", true}, {"transpose_b", false}},
        {t({64, 128}), t({64, 784})},
        {t({128, 784})}},
       2.0 * 64 * 128 * 784, "GFLOP/s"},
      {"dense [64,784] x [128,784]^T",
       {"dense", nlohmann::json::object(),
        {t({64, 784}), t({128, 784}), t({128})},
        {t({64, 128})}},
       2.0 * 64 * 128 * 784, "GFLOP/s"},
      {"relu [64,16,28,28]",
       {"relu", nlohmann::json::object(), {t({64, 16, 28, 28})},
        {t({64, 16, 28, 28})}},
       64.0 * 16 * 28 * 28, "Gelem/s"},
      {"batch_norm training [64,16,28,28]",
       {"batch_norm",
        {{"epsilon", 1e-5}, {"momentum", 0.1}, {"training", true}},
        {t({64, 16, 28, 28}), t({16}), t({16}), t({16}), t({16})},
        {t({64, 16, 28, 28})}},
       64.0 * 16 * 28 * 28, "Gelem/s"},
      {"max_pool2d 2x2/2 [64,32,28,28]",
       {"max_pool2d",
        {{"kernel", {2, 2}},
         {"strides", {2, 2}},
         {"pads", {0, 0, 0, 0}},
         {"dilations", {1, 1}}},
        {t({64, 32, 28, 28})},
        {t({64, 32, 14, 14})}},
       64.0 * 32 * 28 * 28, "Gelem/s"},
  };
  std::vector<KernelSpec> specs;
  for (const Case &c : cases) {
    specs.push_back(c.spec);
  }
  CompileOptions options;
  options.cacheDir = cacheDir;
  options.verbose = true;
  if (const char *dump = std::getenv("KILN_DUMP_DIR")) {
    options.dumpDir = dump;
  }
  CompiledLibrary lib = compileKernels(specs, options);
  void *handle = dlopen(lib.path.c_str(), RTLD_NOW);
  if (!handle) {
    std::fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    auto fn = reinterpret_cast<int (*)(void **)>(
        dlsym(handle, (lib.functionNames[i] + "_argv").c_str()));
    std::vector<Tensor> buffers;
    for (const TensorSpec &ts : cases[i].spec.inputs) {
      buffers.emplace_back(ts.shape);
    }
    buffers.emplace_back(cases[i].spec.outputs[0].shape);
    std::vector<void *> args;
    for (Tensor &b : buffers) {
      args.push_back(&b.buffer);
    }
    std::vector<double> times;
    for (int rep = 0; rep < 30; ++rep) {
      auto start = std::chrono::steady_clock::now();
      if (fn(args.data()) != 0) {
        std::fprintf(stderr, "%s failed\n", cases[i].name);
        return 1;
      }
      times.push_back(std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    }
    std::sort(times.begin(), times.end());
    double best = times.front(), median = times[times.size() / 2];
    std::printf("%-54s best %.3f ms (%.1f %s), median %.3f ms (%.1f %s)\n",
                cases[i].name, best * 1e3, cases[i].work / best * 1e-9,
                cases[i].unit, median * 1e3, cases[i].work / median * 1e-9,
                cases[i].unit);
  }
  return 0;
}
