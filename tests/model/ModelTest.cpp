// The example models end to end (parse, passes, lowering, codegen, runtime)
// against their architectures written out with the independent reference
// ops, with random weights and non-trivial BatchNorm statistics.
#include "ModelTestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace ref = kiln::reference;
namespace rt = kiln::runtime;

namespace {

using kiln::testing::toRef;

rt::Session compile(const std::string &model, int64_t batch) {
  kiln::compiler::CompileOptions options;
  options.batch = batch;
  return kiln::testing::compileSession(
      std::string(KILN_EXAMPLES_DIR) + "/" + model, options, 42);
}

// Random input, kept both as the runtime tensor and the reference tensor.
rt::Tensor randomTensor(std::vector<int64_t> shape, std::mt19937 &rng,
                        float low, float high) {
  rt::Tensor t(std::move(shape), rt::DType::F32);
  std::uniform_real_distribution<float> dist(low, high);
  for (int64_t i = 0; i < t.numElements(); ++i) {
    t.f32()[i] = dist(rng);
  }
  return t;
}

// Gives a BatchNorm layer statistics and affine parameters far from the
// identity, so a wrong channel mapping or epsilon shows.
void randomizeBatchNorm(rt::Session &session, const std::string &name,
                        int64_t channels, std::mt19937 &rng) {
  session.setParameter(name + ".weight", randomTensor({channels}, rng, 0.5f, 1.5f));
  session.setParameter(name + ".bias", randomTensor({channels}, rng, -0.5f, 0.5f));
  session.setParameter(name + ".running_mean",
                       randomTensor({channels}, rng, -0.5f, 0.5f));
  session.setParameter(name + ".running_var",
                       randomTensor({channels}, rng, 0.25f, 2.0f));
}

ref::Tensor param(const rt::Session &session, const std::string &name) {
  return toRef(session.parameter(name));
}

ref::Tensor batchNorm(const rt::Session &s, const ref::Tensor &x,
                      const std::string &name) {
  return ref::batchNorm(x, param(s, name + ".weight"), param(s, name + ".bias"),
                        param(s, name + ".running_mean"),
                        param(s, name + ".running_var"), 1e-5, false);
}

ref::Tensor dense(const rt::Session &s, const ref::Tensor &x,
                  const std::string &name) {
  ref::Tensor bias = param(s, name + ".bias");
  return ref::dense(x, param(s, name + ".weight"), &bias);
}

ref::Tensor relu(const ref::Tensor &x) {
  return ref::elementwise(ref::Activation::Relu, x);
}

ref::Tensor reshape(ref::Tensor x, std::vector<int64_t> shape) {
  x.shape = std::move(shape);
  return x;
}

// |kiln - ref| <= 1e-4 * max(1, |ref|): float32 accumulation over up to 1568
// terms against a double reference.
void expectClose(const rt::Tensor &actual, const ref::Tensor &expected) {
  ASSERT_EQ(actual.shape, expected.shape);
  for (int64_t i = 0; i < actual.numElements(); ++i) {
    double want = expected.data[i];
    ASSERT_NEAR(actual.f32()[i], want, 1e-4 * std::max(1.0, std::fabs(want)))
        << "element " << i;
  }
}

TEST(ModelTest, MlpMatchesReference) {
  rt::Session session = compile("mlp.mlir", 3);
  std::mt19937 rng(1);
  rt::Tensor image = randomTensor({3, 1, 28, 28}, rng, 0.0f, 1.0f);
  session.setInput("image", image);
  session.run();

  ref::Tensor x = reshape(toRef(image), {3, 784});
  x = relu(dense(session, x, "fc1"));
  x = relu(dense(session, x, "fc2"));
  x = dense(session, x, "fc3");
  expectClose(session.output("logits"), x);
}

TEST(ModelTest, CnnMatchesReference) {
  rt::Session session = compile("cnn.mlir", 5);
  std::mt19937 rng(2);
  randomizeBatchNorm(session, "bn1", 16, rng);
  randomizeBatchNorm(session, "bn2", 32, rng);
  rt::Tensor image = randomTensor({5, 1, 28, 28}, rng, 0.0f, 1.0f);
  session.setInput("image", image);
  session.run();

  ref::Conv2dParams same;
  same.pads = {1, 1, 1, 1};
  ref::Pool2dParams pool;
  pool.kernel = {2, 2};
  pool.strides = {2, 2};
  ref::Tensor bias1 = param(session, "conv1.bias");
  ref::Tensor x = ref::conv2d(toRef(image), param(session, "conv1.weight"),
                              &bias1, same);
  x = ref::maxPool2d(relu(batchNorm(session, x, "bn1")), pool);
  ref::Tensor bias2 = param(session, "conv2.bias");
  x = ref::conv2d(x, param(session, "conv2.weight"), &bias2, same);
  x = ref::maxPool2d(relu(batchNorm(session, x, "bn2")), pool);
  x = reshape(x, {5, 32 * 7 * 7});
  x = relu(dense(session, x, "fc1")); // dropout is the identity at inference
  x = dense(session, x, "fc2");
  expectClose(session.output("logits"), x);
}

TEST(ModelTest, ResNetBlockMatchesReference) {
  rt::Session session = compile("resnet_block.mlir", 2);
  std::mt19937 rng(3);
  randomizeBatchNorm(session, "block.bn1", 16, rng);
  randomizeBatchNorm(session, "block.bn2", 16, rng);
  rt::Tensor features = randomTensor({2, 16, 16, 16}, rng, -1.0f, 1.0f);
  session.setInput("features", features);
  session.run();

  ref::Conv2dParams same;
  same.pads = {1, 1, 1, 1};
  ref::Tensor input = toRef(features);
  ref::Tensor x = ref::conv2d(input, param(session, "block.conv1.weight"),
                              nullptr, same);
  x = relu(batchNorm(session, x, "block.bn1"));
  x = ref::conv2d(x, param(session, "block.conv2.weight"), nullptr, same);
  x = batchNorm(session, x, "block.bn2");
  x = relu(ref::binary(ref::BinaryOp::Add, x, input));
  x = reshape(ref::globalAvgPool(x), {2, 16});
  x = dense(session, x, "fc");
  expectClose(session.output("logits"), x);
}

TEST(ModelTest, WrongInputShapeIsAnError) {
  rt::Session session = compile("mlp.mlir", 2);
  rt::Tensor wrong({1, 28, 28}, rt::DType::F32);
  try {
    session.setInput("image", wrong);
    FAIL() << "expected an error";
  } catch (const rt::Error &e) {
    EXPECT_NE(std::string(e.what()).find("2x1x28x28xf32"), std::string::npos)
        << e.what();
  }
}

} // namespace

#if defined(__SSE__) || defined(__x86_64__)
// Kernels run with denormal floats flushed (kiln/support/Denormals.h): a
// denormal input reads as 0, a normal one is unaffected, and the caller's
// floating-point mode is the same after run() as before.
TEST(ModelTest, DenormalsAreFlushedAndTheCallersModeRestored) {
  rt::Session session = kiln::testing::compileSession(
      std::string(KILN_TEST_INPUTS_DIR) + "/scale-up.mlir", {}, 1);
  rt::Tensor x({4}, rt::DType::F32);
  const float scale = std::ldexp(1.0f, 100);
  x.f32()[0] = std::ldexp(1.0f, -130); // denormal
  x.f32()[1] = -std::ldexp(1.0f, -140); // denormal
  x.f32()[2] = std::ldexp(1.0f, -120); // normal
  x.f32()[3] = 0.5f;
  ASSERT_NE(std::fpclassify(x.f32()[0]), FP_NORMAL);
  session.setInput("x", x);
  unsigned before = _mm_getcsr();
  session.run();
  EXPECT_EQ(_mm_getcsr(), before);
  rt::Tensor y = session.output("y");
  EXPECT_EQ(y.f32()[0], 0.0f);
  EXPECT_EQ(y.f32()[1], 0.0f);
  EXPECT_EQ(y.f32()[2], std::ldexp(1.0f, -20));
  EXPECT_EQ(y.f32()[3], 0.5f * scale);
  // The same with the caller in flush mode already: kept as it was.
  _mm_setcsr(before | 0x8040);
  session.run();
  EXPECT_EQ(_mm_getcsr(), before | 0x8040);
  _mm_setcsr(before);
}
#endif
