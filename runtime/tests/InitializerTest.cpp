#include "TestUtil.h"

#include <cmath>

namespace kiln::runtime {
namespace {

struct Stats {
  double mean, stddev, maxAbs;
};

Stats stats(const Tensor &t) {
  double sum = 0, sumSquares = 0, maxAbs = 0;
  int64_t n = t.numElements();
  for (int64_t i = 0; i < n; ++i) {
    double v = t.f32()[i];
    sum += v;
    sumSquares += v * v;
    maxAbs = std::max(maxAbs, std::abs(v));
  }
  double mean = sum / n;
  return {mean, std::sqrt(sumSquares / n - mean * mean), maxAbs};
}

Tensor init(const std::string &kind, std::vector<int64_t> shape,
            int64_t fanIn = 0, int64_t fanOut = 0) {
  InitSpec spec;
  spec.kind = kind;
  spec.fanIn = fanIn;
  spec.fanOut = fanOut;
  return initializeParameter("w", shape, DType::F32, spec, 1234);
}

TEST(Initializers, Constants) {
  Tensor zeros = init("zeros", {3, 2});
  Tensor ones = init("ones", {3, 2});
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(zeros.f32()[i], 0.0f);
    EXPECT_EQ(ones.f32()[i], 1.0f);
  }
  InitSpec spec;
  spec.kind = "ones";
  Tensor ints = initializeParameter("n", {4}, DType::I32, spec, 0);
  EXPECT_EQ(ints.i32()[3], 1);
}

TEST(Initializers, HeUniformBound) {
  // Dense weight [O=1000, K=100]: fan_in = 100, bound = sqrt(6/100).
  Tensor t = init("he_uniform", {1000, 100});
  double bound = std::sqrt(6.0 / 100);
  Stats s = stats(t);
  EXPECT_LE(s.maxAbs, bound);
  EXPECT_GT(s.maxAbs, 0.99 * bound);
  EXPECT_NEAR(s.mean, 0.0, 0.005);
  EXPECT_NEAR(s.stddev, bound / std::sqrt(3.0), 0.005);
}

TEST(Initializers, ConvFansUseReceptiveField) {
  // Conv weight [O=40, C=10, 5, 50] (100k elements): receptive = 250,
  // fan_in = 2500, fan_out = 10000.
  Stats lecun = stats(init("lecun_uniform", {40, 10, 5, 50}));
  EXPECT_LE(lecun.maxAbs, std::sqrt(3.0 / 2500));
  EXPECT_GT(lecun.maxAbs, 0.99 * std::sqrt(3.0 / 2500));
  Stats glorot = stats(init("glorot_normal", {40, 10, 5, 50}));
  EXPECT_NEAR(glorot.mean, 0.0, 0.001);
  EXPECT_NEAR(glorot.stddev, std::sqrt(2.0 / 12500), 0.01 * std::sqrt(2.0 / 12500));
}

TEST(Initializers, NormalStatistics) {
  Stats he = stats(init("he_normal", {100, 1000})); // fan_in 1000
  EXPECT_NEAR(he.mean, 0.0, 0.001);
  EXPECT_NEAR(he.stddev, std::sqrt(2.0 / 1000), 0.01 * std::sqrt(2.0 / 1000));
  Stats lecun = stats(init("lecun_normal", {100, 1000}));
  EXPECT_NEAR(lecun.stddev, std::sqrt(1.0 / 1000), 0.01 * std::sqrt(1.0 / 1000));
}

TEST(Initializers, FanAttributesOverrideShape) {
  // A bias [100000] with its layer's fans: torch_default bound 1/sqrt(16),
  // glorot_uniform bound sqrt(6/(16+48)).
  Stats bias = stats(init("torch_default", {100000}, 16, 48));
  EXPECT_LE(bias.maxAbs, 0.25);
  EXPECT_GT(bias.maxAbs, 0.249);
  Stats glorot = stats(init("glorot_uniform", {100000}, 16, 48));
  EXPECT_LE(glorot.maxAbs, std::sqrt(6.0 / 64));
  EXPECT_GT(glorot.maxAbs, 0.99 * std::sqrt(6.0 / 64));
}

TEST(Initializers, StreamIsSeedXorNameHash) {
  Tensor t = init("he_uniform", {4, 3}); // fan_in 3, bound sqrt(2)
  Random random(1234 ^ hashName("w"));
  float bound = static_cast<float>(std::sqrt(6.0 / 3));
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(t.f32()[i], random.uniform(-bound, bound));
  }
  InitSpec spec;
  spec.kind = "he_uniform";
  Tensor other = initializeParameter("v", {4, 3}, DType::F32, spec, 1234);
  EXPECT_NE(t.bytes, other.bytes);
}

TEST(Initializers, Errors) {
  InitSpec spec;
  spec.kind = "he_normal";
  EXPECT_THROW(initializeParameter("n", {4, 4}, DType::I32, spec, 0), Error);
  spec.kind = "orthogonal";
  EXPECT_FALSE(isKnownInitializer("orthogonal"));
  EXPECT_TRUE(isKnownInitializer("glorot_normal"));
  EXPECT_THROW(initializeParameter("w", {4, 4}, DType::F32, spec, 0), Error);
}

} // namespace
} // namespace kiln::runtime
