#include "TestUtil.h"

#include <cmath>

namespace kiln::runtime {
namespace {

TEST(Random, FirstValuesOfSeedZero) {
  // splitmix64 by hand, seed 0:
  //   state = 0x9e3779b97f4a7c15
  //   z ^= z >> 30 -> 0x9e3779bb07979af0; z *= 0xbf58476d1ce4e5b9
  //                -> 0x6f68261b57e7a770
  //   z ^= z >> 27 -> 0x6f682616bae3641a; z *= 0x94d049bb133111eb
  //                -> 0xe220a838bf5c9dde
  //   z ^= z >> 31 -> 0xe220a8397b1dcdaf
  Random random(0);
  EXPECT_EQ(random.next(), 0xe220a8397b1dcdafull);
  EXPECT_EQ(random.next(), 0x6e789e6aa1b965f4ull);
}

TEST(Random, SameSeedSameNumbers) {
  Random a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    differs |= x != c.next();
  }
  EXPECT_TRUE(differs);
  Random n1(7), n2(7);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(n1.normal(0, 1), n2.normal(0, 1));
    EXPECT_EQ(n1.uniform(-2, 3), n2.uniform(-2, 3));
  }
}

TEST(Random, UniformFirstValue) {
  // The top 24 bits of 0xe220a8397b1dcdaf are 0xe220a8 = 14819496.
  Random random(0);
  EXPECT_FLOAT_EQ(random.uniform(0, 1), 14819496.0f / 16777216.0f);
}

TEST(Random, UniformRange) {
  Random random(1);
  float low = 1e9f, high = -1e9f;
  for (int i = 0; i < 100000; ++i) {
    float v = random.uniform(-0.5f, 0.25f);
    ASSERT_GE(v, -0.5f);
    ASSERT_LT(v, 0.25f);
    low = std::min(low, v);
    high = std::max(high, v);
  }
  EXPECT_LT(low, -0.49f);
  EXPECT_GT(high, 0.24f);
}

TEST(Random, NormalStatistics) {
  Random random(3);
  const int n = 100000;
  double sum = 0, sumSquares = 0;
  for (int i = 0; i < n; ++i) {
    double v = random.normal(2.0f, 0.5f);
    sum += v;
    sumSquares += v * v;
  }
  double mean = sum / n;
  double stddev = std::sqrt(sumSquares / n - mean * mean);
  EXPECT_NEAR(mean, 2.0, 0.01);
  EXPECT_NEAR(stddev, 0.5, 0.01);
}

TEST(HashName, Fnv1a64) {
  EXPECT_EQ(hashName(""), 0xcbf29ce484222325ull); // the offset basis
  // ('a' ^ 0xcbf29ce484222325) * 0x100000001b3 mod 2^64
  EXPECT_EQ(hashName("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_NE(hashName("conv1.weight"), hashName("conv1.bias"));
}

} // namespace
} // namespace kiln::runtime
