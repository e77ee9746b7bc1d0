// Smoke test of the whole codegen path: specs -> cached .so -> _argv calls on
// hand-made halide_buffer_t. Numeric coverage of every op lives elsewhere.
#include "kiln/codegen/Codegen.h"

#include <HalideRuntime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>

using namespace kiln::codegen;

namespace {

// A dense f32/i32 tensor viewed as a halide_buffer_t (dims reversed).
template <typename T> struct Tensor {
  std::vector<int64_t> shape;
  std::vector<T> data;
  std::vector<halide_dimension_t> dims;
  halide_buffer_t buffer{};

  explicit Tensor(std::vector<int64_t> s) : shape(std::move(s)) {
    int64_t n = 1;
    for (int64_t d : shape) {
      n *= d;
    }
    data.assign(n, T(0));
    int32_t stride = 1;
    for (size_t i = shape.size(); i-- > 0;) {
      dims.push_back({0, static_cast<int32_t>(shape[i]), stride, 0});
      stride *= static_cast<int32_t>(shape[i]);
    }
    buffer.host = reinterpret_cast<uint8_t *>(data.data());
    buffer.type = halide_type_of<T>();
    buffer.dimensions = static_cast<int32_t>(dims.size());
    buffer.dim = dims.empty() ? nullptr : dims.data();
  }
  halide_buffer_t *get() { return &buffer; }
};

TensorSpec f32(std::vector<int64_t> shape) { return {shape, DType::F32}; }

using ArgvFn = int (*)(void **);

struct Library {
  void *handle;
  explicit Library(const std::string &path)
      : handle(dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {}
  ~Library() {
    if (handle) {
      dlclose(handle);
    }
  }
  ArgvFn get(const std::string &function) {
    return reinterpret_cast<ArgvFn>(dlsym(handle, (function + "_argv").c_str()));
  }
};

std::string freshCacheDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "kiln-codegen-smoke-XXXXXX")
          .string();
  char *dir = mkdtemp(pattern.data());
  return dir ? std::string(dir) : std::string();
}

TEST(CodegenSmoke, ReluConvAndSparseCce) {
  KernelSpec relu{"relu", nlohmann::json::object(), {f32({3, 20})},
                  {f32({3, 20})}};
  KernelSpec conv{"conv2d",
                  {{"strides", {1, 1}},
                   {"pads", {1, 1, 1, 1}},
                   {"dilations", {1, 1}},
                   {"groups", 1}},
                  {f32({1, 2, 5, 5}), f32({3, 2, 3, 3}), f32({3})},
                  {f32({1, 3, 5, 5})}};
  KernelSpec cce{"sparse_cce",
                 nlohmann::json::object(),
                 {f32({2, 3}), {{2}, DType::I32}},
                 {f32({})}};
  CompileOptions options;
  options.cacheDir = freshCacheDir();
  ASSERT_FALSE(options.cacheDir.empty());

  CompiledLibrary first = compileKernels({relu, conv, cce, relu}, options);
  EXPECT_EQ(first.kernelsCompiled, 3);
  EXPECT_FALSE(first.libraryCached);
  ASSERT_EQ(first.functionNames.size(), 4u);
  EXPECT_EQ(first.functionNames[0], first.functionNames[3]);
  EXPECT_EQ(first.functionNames[0], functionName(relu, "host"));

  CompiledLibrary second = compileKernels({relu, conv, cce, relu}, options);
  EXPECT_EQ(second.kernelsCompiled, 0);
  EXPECT_TRUE(second.libraryCached);
  EXPECT_EQ(second.path, first.path);

  Library lib(first.path);
  ASSERT_NE(lib.handle, nullptr) << dlerror();

  // relu
  Tensor<float> x({3, 20}), y({3, 20});
  for (size_t i = 0; i < x.data.size(); ++i) {
    x.data[i] = static_cast<float>(i) - 30.0f;
  }
  void *reluArgs[] = {x.get(), y.get()};
  ArgvFn reluFn = lib.get(first.functionNames[0]);
  ASSERT_NE(reluFn, nullptr);
  ASSERT_EQ(reluFn(reluArgs), 0);
  EXPECT_EQ(y.data[0], 0.0f);
  EXPECT_EQ(y.data[30], 0.0f);
  EXPECT_EQ(y.data[31], 1.0f);
  EXPECT_EQ(y.data[59], 29.0f);

  // conv2d: all-ones input and weights, bias = channel index. An output
  // pixel sums 2 channels x (taps inside the image).
  Tensor<float> in({1, 2, 5, 5}), w({3, 2, 3, 3}), b({3}), out({1, 3, 5, 5});
  std::fill(in.data.begin(), in.data.end(), 1.0f);
  std::fill(w.data.begin(), w.data.end(), 1.0f);
  b.data = {0.0f, 10.0f, 20.0f};
  void *convArgs[] = {in.get(), w.get(), b.get(), out.get()};
  ArgvFn convFn = lib.get(first.functionNames[1]);
  ASSERT_NE(convFn, nullptr);
  ASSERT_EQ(convFn(convArgs), 0);
  auto at = [&](int o, int yy, int xx) { return out.data[(o * 5 + yy) * 5 + xx]; };
  EXPECT_EQ(at(0, 0, 0), 8.0f);   // corner: 2x2 taps x 2 channels
  EXPECT_EQ(at(0, 0, 2), 12.0f);  // edge: 2x3 taps
  EXPECT_EQ(at(0, 2, 2), 18.0f);  // interior: 3x3 taps
  EXPECT_EQ(at(1, 2, 2), 28.0f);
  EXPECT_EQ(at(2, 4, 4), 28.0f);  // corner + bias 20

  // sparse_cce: logits rows [0,0,0] and [0,ln 2... ] -> hand values.
  Tensor<float> logits({2, 3}), loss({});
  Tensor<int32_t> labels({2});
  logits.data = {0.0f, 0.0f, 0.0f, 1.0f, 2.0f, 3.0f};
  labels.data = {1, 2};
  void *cceArgs[] = {logits.get(), labels.get(), loss.get()};
  ArgvFn cceFn = lib.get(first.functionNames[2]);
  ASSERT_NE(cceFn, nullptr);
  ASSERT_EQ(cceFn(cceArgs), 0);
  double row0 = std::log(3.0);
  double row1 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  EXPECT_NEAR(loss.data[0], (row0 + row1) / 2, 1e-5);
  labels.data[1] = 3; // out of range: the kernel must fail
  EXPECT_NE(cceFn(cceArgs), 0);

  std::filesystem::remove_all(options.cacheDir);
}

TEST(CodegenSmoke, BadSpecsNameTheOp) {
  KernelSpec unknown{"frobnicate", nlohmann::json::object(), {f32({1})},
                     {f32({1})}};
  EXPECT_THROW(validateSpec(unknown), Error);
  KernelSpec conv{"conv2d", {{"groups", 1}},
                  {f32({1, 2, 5, 5}), f32({3, 2, 3, 3})},
                  {f32({1, 3, 5, 5})}};
  try {
    validateSpec(conv);
    FAIL() << "missing attrs accepted";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("conv2d"), std::string::npos);
  }
}

} // namespace
