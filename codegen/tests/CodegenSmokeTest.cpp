// Smoke test of the whole codegen path: specs -> cached .so -> _argv calls on
// hand-made halide_buffer_t. Numeric coverage of every op lives elsewhere.
#include "kiln/codegen/Codegen.h"

#include <HalideRuntime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <thread>

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

// Training ops (docs/training-ops.md) with hand-computed values; the
// finite-difference checks of every op live in tests/unit.
TEST(CodegenSmoke, TrainingOps) {
  using J = nlohmann::json;
  TensorSpec i32Scalar{{}, DType::I32};
  J conv = {{"strides", {1, 1}},
            {"pads", {1, 1, 1, 1}},
            {"dilations", {1, 1}},
            {"groups", 1}};
  J gradInput = conv, gradWeight = conv;
  gradInput["input_size"] = {3, 3};
  gradWeight["kernel"] = {3, 3};
  J adam = {{"kind", "adam"},         {"beta1", 0.9},      {"beta2", 0.999},
            {"epsilon", 1e-8},        {"weight_decay", 0.0},
            {"clip_value", 0.0}};
  std::vector<KernelSpec> specs = {
      {"activation_grad", {{"activation", "relu"}}, {f32({2, 3}), f32({2, 3})},
       {f32({2, 3})}},
      {"dropout_train", {{"rate", 0.5}, {"salt", 0}}, {f32({8}), i32Scalar},
       {f32({8})}},
      {"optimizer_update",
       {{"kind", "sgd"}, {"weight_decay", 0.0}, {"clip_value", 0.0}},
       {f32({2}), f32({2}), f32({}), f32({})},
       {f32({2})}},
      {"optimizer_update", adam,
       {f32({2}), f32({2}), f32({}), f32({}), f32({2}), f32({2})},
       {f32({2}), f32({2}), f32({2})}},
      {"batch_norm_train", {{"epsilon", 1e-5}},
       {f32({2, 2}), f32({2}), f32({2})},
       {f32({2, 2}), f32({2}), f32({2})}},
      {"matmul", {{"transpose_a", true}, {"transpose_b", false}},
       {f32({2, 3}), f32({2, 2})}, {f32({3, 2})}},
      {"conv2d_grad_input", gradInput, {f32({1, 1, 3, 3}), f32({1, 1, 3, 3})},
       {f32({1, 1, 3, 3})}},
      {"conv2d_grad_weight", gradWeight,
       {f32({1, 1, 3, 3}), f32({1, 1, 3, 3})}, {f32({1, 1, 3, 3})}},
      {"loss_grad", {{"loss", "sparse_cce"}},
       {f32({2, 3}), {{2}, DType::I32}, f32({})}, {f32({2, 3})}},
  };
  CompileOptions options;
  options.cacheDir = freshCacheDir();
  ASSERT_FALSE(options.cacheDir.empty());
  CompiledLibrary compiled = compileKernels(specs, options);
  Library lib(compiled.path);
  ASSERT_NE(lib.handle, nullptr) << dlerror();
  auto call = [&](size_t i, std::vector<halide_buffer_t *> buffers) {
    ArgvFn fn = lib.get(compiled.functionNames[i]);
    EXPECT_NE(fn, nullptr);
    std::vector<void *> args(buffers.begin(), buffers.end());
    return fn ? fn(args.data()) : -1;
  };

  // relu grad: dy where x > 0, 0 at the kink.
  Tensor<float> x({2, 3}), dy({2, 3}), dx({2, 3});
  x.data = {-1, 0, 2, -3, 5, 0.5f};
  dy.data = {1, 2, 3, 4, 5, 6};
  ASSERT_EQ(call(0, {x.get(), dy.get(), dx.get()}), 0);
  EXPECT_EQ(dx.data, (std::vector<float>{0, 0, 3, 0, 5, 6}));

  // dropout, seed 1, salt 0: float(h >> 8) * 2^-24 of elements 0..7 is
  // 0.0078, 0.644, 0.0298, 0.622, 0.418, 0.0607, 0.866, 0.653 (the
  // documented hash by hand), so rate 0.5 keeps elements 1, 3, 6, 7.
  Tensor<float> dropIn({8}), dropOut({8});
  Tensor<int32_t> seed({});
  std::fill(dropIn.data.begin(), dropIn.data.end(), 2.0f);
  seed.data[0] = 1;
  ASSERT_EQ(call(1, {dropIn.get(), seed.get(), dropOut.get()}), 0);
  EXPECT_EQ(dropOut.data, (std::vector<float>{0, 4, 0, 4, 0, 0, 4, 4}));

  // sgd: p - lr * g.
  Tensor<float> p({2}), g({2}), lr({}), step({}), newP({2});
  p.data = {1, 2};
  g.data = {0.5f, -2};
  lr.data[0] = 0.1f;
  step.data[0] = 1;
  ASSERT_EQ(call(2, {p.get(), g.get(), lr.get(), step.get(), newP.get()}), 0);
  EXPECT_FLOAT_EQ(newP.data[0], 0.95f);
  EXPECT_FLOAT_EQ(newP.data[1], 2.2f);

  // adam, first step from zero slots: m = 0.1 g, v = 0.001 g^2, and the
  // bias-corrected step is lr * g / (|g| + eps) = +-lr.
  Tensor<float> m({2}), v({2}), newM({2}), newV({2});
  ASSERT_EQ(call(3, {p.get(), g.get(), lr.get(), step.get(), m.get(), v.get(),
                     newP.get(), newM.get(), newV.get()}),
            0);
  EXPECT_NEAR(newP.data[0], 0.9f, 1e-6);
  EXPECT_NEAR(newP.data[1], 2.1f, 1e-6);
  EXPECT_FLOAT_EQ(newM.data[0], 0.05f);
  EXPECT_FLOAT_EQ(newM.data[1], -0.2f);
  EXPECT_FLOAT_EQ(newV.data[0], 0.00025f);
  EXPECT_FLOAT_EQ(newV.data[1], 0.004f);

  // batch_norm_train on [[1,10],[3,30]]: mean [2,20], biased var [1,100];
  // weight [1,2], bias [0,1] -> y [[-1,-1],[1,3]].
  Tensor<float> bx({2, 2}), bw({2}), bb({2}), by({2, 2}), bmean({2}),
      bvar({2});
  bx.data = {1, 10, 3, 30};
  bw.data = {1, 2};
  bb.data = {0, 1};
  ASSERT_EQ(call(4, {bx.get(), bw.get(), bb.get(), by.get(), bmean.get(),
                     bvar.get()}),
            0);
  EXPECT_EQ(bmean.data, (std::vector<float>{2, 20}));
  EXPECT_EQ(bvar.data, (std::vector<float>{1, 100}));
  std::vector<float> wantY = {-1, -1, 1, 3};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(by.data[i], wantY[i], 1e-4) << i;
  }

  // matmul a^T b: a = [[1,2,3],[4,5,6]], b = [[1,0],[0,1]] -> a^T.
  Tensor<float> a({2, 3}), b({2, 2}), c({3, 2});
  a.data = {1, 2, 3, 4, 5, 6};
  b.data = {1, 0, 0, 1};
  ASSERT_EQ(call(5, {a.get(), b.get(), c.get()}), 0);
  EXPECT_EQ(c.data, (std::vector<float>{1, 4, 2, 5, 3, 6}));

  // conv grads of a 3x3 all-ones conv, pad 1, over all-ones tensors: each
  // entry counts the taps inside the image (corner 4, edge 6, centre 9).
  std::vector<float> taps = {4, 6, 4, 6, 9, 6, 4, 6, 4};
  Tensor<float> ones1({1, 1, 3, 3}), ones2({1, 1, 3, 3}), grad({1, 1, 3, 3});
  std::fill(ones1.data.begin(), ones1.data.end(), 1.0f);
  std::fill(ones2.data.begin(), ones2.data.end(), 1.0f);
  ASSERT_EQ(call(6, {ones1.get(), ones2.get(), grad.get()}), 0);
  EXPECT_EQ(grad.data, taps);
  std::fill(grad.data.begin(), grad.data.end(), 0.0f);
  ASSERT_EQ(call(7, {ones1.get(), ones2.get(), grad.get()}), 0);
  EXPECT_EQ(grad.data, taps);

  // sparse_cce grad: (softmax - onehot) * dloss / N; uniform logits.
  Tensor<float> logits({2, 3}), dloss({}), dlogits({2, 3});
  Tensor<int32_t> labels({2});
  labels.data = {0, 2};
  dloss.data[0] = 1;
  ASSERT_EQ(call(8, {logits.get(), labels.get(), dloss.get(), dlogits.get()}),
            0);
  std::vector<float> wantD = {-1.0f / 3, 1.0f / 6, 1.0f / 6,
                              1.0f / 6,  1.0f / 6, -1.0f / 3};
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(dlogits.data[i], wantD[i], 1e-6) << i;
  }
  labels.data[1] = -1; // out of range: the kernel must fail
  EXPECT_NE(call(8, {logits.get(), labels.get(), dloss.get(), dlogits.get()}),
            0);

  std::filesystem::remove_all(options.cacheDir);
}

// The kernel libraries keep freed scratch blocks of 64 KB and up for the
// next request of their size, and hand a thread one it freed itself before
// one another thread freed (that block's lines sit in the other core's
// cache). Blocks: A frees a1 then a2; B takes one (a1, none of its own) and
// frees it; A's next request gets a2, its own, not a1 (the first fit by
// slot, which it had got before).
TEST(CodegenSmoke, ScratchBlocksStayWithTheirThread) {
  KernelSpec relu{"relu", nlohmann::json::object(), {f32({4})}, {f32({4})}};
  CompileOptions options;
  options.cacheDir = freshCacheDir();
  ASSERT_FALSE(options.cacheDir.empty());
  CompiledLibrary compiled = compileKernels({relu}, options);
  Library lib(compiled.path);
  ASSERT_NE(lib.handle, nullptr) << dlerror();
  using Malloc = void *(*)(void *, size_t);
  using Free = void (*)(void *, void *);
  auto allocate = reinterpret_cast<Malloc>(dlsym(lib.handle, "halide_malloc"));
  auto release = reinterpret_cast<Free>(dlsym(lib.handle, "halide_free"));
  ASSERT_NE(allocate, nullptr);
  ASSERT_NE(release, nullptr);
  constexpr size_t kBytes = size_t(1) << 20;
  // A's steps run on one thread, B's on another, in order (the cache keys
  // on the thread).
  void *a1 = nullptr, *a2 = nullptr, *b = nullptr, *aAgain = nullptr;
  std::thread a([&] {
    a1 = allocate(nullptr, kBytes);
    a2 = allocate(nullptr, kBytes);
    release(nullptr, a1);
    release(nullptr, a2);
    std::thread([&] {
      b = allocate(nullptr, kBytes);
      release(nullptr, b);
    }).join();
    aAgain = allocate(nullptr, kBytes);
  });
  a.join();
  ASSERT_NE(a1, nullptr);
  ASSERT_NE(a2, nullptr);
  EXPECT_EQ(b, a1);
  EXPECT_EQ(aAgain, a2);
  release(nullptr, aAgain);
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
  KernelSpec adam{"optimizer_update",
                  {{"kind", "adam"}, {"weight_decay", 0.0}, {"clip_value", 0.0}},
                  {f32({2}), f32({2}), f32({}), f32({})},
                  {f32({2})}};
  try {
    validateSpec(adam);
    FAIL() << "adam without slots accepted";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("optimizer_update"),
              std::string::npos);
  }
}

// keepGoing: a spec that does not validate and a kernel that does not
// compile for the target (Winograd's filter transform has no GPU schedule)
// each get their own message; the library holds the rest. Without it, the
// same batch fails as a whole, naming the op.
TEST(CodegenSmoke, KeepGoingReportsEachFailedSpec) {
  KernelSpec relu{
      "relu", nlohmann::json::object(), {f32({3, 20})}, {f32({3, 20})}};
  KernelSpec bad{"conv2d",
                 {{"groups", 1}},
                 {f32({1, 2, 5, 5}), f32({3, 2, 3, 3})},
                 {f32({1, 3, 5, 5})}};
  KernelSpec winograd{"winograd_filter",
                      {{"input_gradient", false}, {"tile", 2}, {"block", 8}},
                      {f32({8, 8, 3, 3})},
                      {f32({16, 1, 8, 8})}};
  CompileOptions options;
  options.cacheDir = freshCacheDir();
  ASSERT_FALSE(options.cacheDir.empty());
  options.target = "host-opencl";
  try {
    compileKernels({relu, winograd}, options);
    FAIL() << "winograd_filter compiled for OpenCL";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("op 'winograd_filter'"),
              std::string::npos)
        << e.what();
  }

  options.keepGoing = true;
  for (int pass = 0; pass < 2; ++pass) { // the second from the cache
    CompiledLibrary compiled =
        compileKernels({relu, bad, winograd, relu}, options);
    ASSERT_EQ(compiled.errors.size(), 4u);
    EXPECT_EQ(compiled.errors[0], "");
    EXPECT_EQ(compiled.errors[3], "");
    EXPECT_NE(compiled.errors[1].find("conv2d"), std::string::npos)
        << compiled.errors[1];
    EXPECT_NE(compiled.errors[2].find("'winograd_filter' has no GPU schedule"),
              std::string::npos)
        << compiled.errors[2];
    EXPECT_EQ(compiled.objectPaths.size(), 1u);
    EXPECT_EQ(compiled.libraryCached, pass == 1);
    Library lib(compiled.path);
    ASSERT_NE(lib.handle, nullptr) << dlerror();
    EXPECT_NE(lib.get(compiled.functionNames[0]), nullptr);
    EXPECT_EQ(lib.get(compiled.functionNames[2]), nullptr);
  }
  std::filesystem::remove_all(options.cacheDir);
}

} // namespace

// KernelSpec::flops against hand-computed counts (a multiply-add is 2).
TEST(KernelSpecFlops, CountsTheArithmeticKernels) {
  KernelSpec conv;
  conv.op = "conv2d";
  conv.attrs = {{"groups", 1}};
  conv.inputs = {f32({2, 3, 8, 8}), f32({4, 3, 3, 3})};
  conv.outputs = {f32({2, 4, 8, 8})};
  // 2 * (2*4*8*8 outputs) * (3*3*3 products each).
  EXPECT_EQ(conv.flops(), 2 * 512 * 27);

  KernelSpec depthwise = conv;
  depthwise.attrs = {{"groups", 4}};
  depthwise.inputs = {f32({1, 4, 5, 5}), f32({4, 1, 3, 3})};
  depthwise.outputs = {f32({1, 4, 3, 3})};
  EXPECT_EQ(depthwise.flops(), 2 * 36 * 9);

  // Winograd counts as the direct convolution: filter [16, O/8, C, 8].
  KernelSpec winograd;
  winograd.op = "conv2d_winograd";
  winograd.attrs = {{"pads", {1, 1, 1, 1}}, {"tile", 2}};
  winograd.inputs = {f32({2, 24, 8, 8}), f32({16, 2, 24, 8})};
  winograd.outputs = {f32({2, 16, 8, 8})};
  EXPECT_EQ(winograd.flops(), 2 * (2 * 16 * 64) * (24 * 9));

  KernelSpec dense;
  dense.op = "dense";
  dense.inputs = {f32({5, 7}), f32({3, 7}), f32({3})};
  dense.outputs = {f32({5, 3})};
  EXPECT_EQ(dense.flops(), 2 * 15 * 7);

  KernelSpec matmul;
  matmul.op = "matmul";
  matmul.attrs = {{"transpose_a", true}, {"transpose_b", false}};
  matmul.inputs = {f32({6, 4}), f32({6, 9})}; // op(a) = [4, 6]
  matmul.outputs = {f32({4, 9})};
  EXPECT_EQ(matmul.flops(), 2 * 36 * 6);

  KernelSpec gradInput;
  gradInput.op = "conv2d_grad_input";
  gradInput.inputs = {f32({2, 4, 8, 8}), f32({4, 3, 3, 3})};
  gradInput.outputs = {f32({2, 3, 8, 8})};
  EXPECT_EQ(gradInput.flops(), conv.flops());

  KernelSpec gradWeight;
  gradWeight.op = "conv2d_grad_weight";
  gradWeight.inputs = {f32({2, 3, 8, 8}), f32({2, 4, 8, 8})};
  gradWeight.outputs = {f32({4, 3, 3, 3})};
  EXPECT_EQ(gradWeight.flops(), conv.flops());

  KernelSpec fused;
  fused.op = "fused";
  fused.attrs = {{"anchor", "conv2d"},
                 {"anchor_attrs", {{"groups", 1}}},
                 {"anchor_inputs", {2, 0}},
                 {"nodes", nlohmann::json::array()}};
  fused.inputs = {f32({4, 3, 3, 3}), f32({2, 4, 8, 8}), f32({2, 3, 8, 8})};
  fused.outputs = {f32({2, 4, 8, 8})};
  EXPECT_EQ(fused.flops(), conv.flops());

  // A pooling tail: the kernel's output is the pooled value, the FLOPs
  // those of the conv's output.
  KernelSpec pooled = fused;
  pooled.attrs["tail"] = {{"op", "max_pool2d"},
                          {"attrs", nlohmann::json::object()},
                          {"shape", {2, 4, 8, 8}}};
  pooled.outputs = {f32({2, 4, 4, 4})};
  EXPECT_EQ(pooled.flops(), conv.flops());

  // Attention: q [3, 5, 4] . k^T (k [3, 7, 4]) -> S [3, 5, 7], then S . v
  // (v [3, 7, 6]) -> [3, 5, 6]: 2 * 105 * 4 + 2 * 90 * 7.
  KernelSpec attention;
  attention.op = "fused";
  auto node = [](const char *op, nlohmann::json attrs, nlohmann::json operands) {
    return nlohmann::json{{"op", op}, {"attrs", attrs}, {"operands", operands}};
  };
  attention.attrs = {
      {"kind", "attention"},
      {"anchor", ""},
      {"nodes",
       {node("matmul", {{"transpose_b", true}}, {0, 1}),
        node("softmax", {{"axis", 2}}, {-1}),
        node("matmul", nlohmann::json::object(), {-1, 2})}}};
  attention.inputs = {f32({3, 5, 4}), f32({3, 7, 4}), f32({3, 7, 6})};
  attention.outputs = {f32({3, 5, 6})};
  EXPECT_EQ(attention.flops(), 2 * 105 * 4 + 2 * 90 * 7);

  KernelSpec relu;
  relu.op = "relu";
  relu.inputs = {f32({2, 4})};
  relu.outputs = {f32({2, 4})};
  EXPECT_EQ(relu.flops(), 0);
}
