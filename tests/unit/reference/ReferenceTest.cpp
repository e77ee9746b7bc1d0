// Checks of the reference implementations themselves on small inputs whose
// results were worked out by hand (and agree with PyTorch's documented
// behaviour), so that a kernel test failure can be trusted to point at the
// kernel.
#include "reference/Reference.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kiln::reference {
namespace {

Tensor iota(std::vector<int64_t> shape, double start = 1) {
  Tensor t(std::move(shape));
  for (size_t i = 0; i < t.data.size(); ++i) {
    t.data[i] = start + i;
  }
  return t;
}

// A kernel of ones: G's row sums are 1, 3/2, 1/2 and 1, so U[4b + a] is
// their product; a single 1 at tap (ky, kx) = (0, 2) gives G[b][0] G[a][2].
TEST(ReferenceTest, WinogradFilterByHand) {
  Tensor ones({1, 1, 3, 3});
  std::fill(ones.data.begin(), ones.data.end(), 1.0);
  const double rows[4] = {1, 1.5, 0.5, 1};
  Tensor u = winogradFilter(ones);
  ASSERT_EQ(u.shape, (std::vector<int64_t>{16, 1, 1}));
  for (int b = 0; b < 4; ++b) {
    for (int a = 0; a < 4; ++a) {
      EXPECT_DOUBLE_EQ(u.data[4 * b + a], rows[b] * rows[a]);
    }
  }
  Tensor corner({1, 1, 3, 3});
  corner.data[2] = 1;
  const double first[4] = {1, 0.5, 0.5, 0}, last[4] = {0, 0.5, 0.5, 1};
  u = winogradFilter(corner);
  for (int b = 0; b < 4; ++b) {
    for (int a = 0; a < 4; ++a) {
      EXPECT_DOUBLE_EQ(u.data[4 * b + a], first[b] * last[a]);
    }
  }
  // Turned 180 degrees for the input gradient, the 1 is at (2, 0); and the
  // channels swap places: w [2,1,3,3] gives [16,2,1].
  u = winogradFilter(corner, true);
  for (int b = 0; b < 4; ++b) {
    for (int a = 0; a < 4; ++a) {
      EXPECT_DOUBLE_EQ(u.data[4 * b + a], last[b] * first[a]);
    }
  }
  // F(4x4, 3x3): G's row sums are 1, -1, 1/3, 7/15, -4/5 and 1.
  const double rows4[6] = {1, -1, 1.0 / 3, 7.0 / 15, -0.8, 1};
  u = winogradFilter(ones, false, 4);
  ASSERT_EQ(u.shape, (std::vector<int64_t>{36, 1, 1}));
  for (int b = 0; b < 6; ++b) {
    for (int a = 0; a < 6; ++a) {
      EXPECT_NEAR(u.data[6 * b + a], rows4[b] * rows4[a], 1e-15);
    }
  }
  Tensor two({2, 1, 3, 3});
  two.data[9 + 4] = 1; // w[1, 0, 1, 1]
  u = winogradFilter(two, true);
  ASSERT_EQ(u.shape, (std::vector<int64_t>{16, 2, 1}));
  EXPECT_DOUBLE_EQ(u.data[0 * 2 + 1], 0.0);   // xi 0 needs tap (0, 0)
  EXPECT_DOUBLE_EQ(u.data[5 * 2 + 1], 0.25);  // G[1][1] * G[1][1]
  EXPECT_DOUBLE_EQ(u.data[5 * 2 + 0], 0.0);   // w[0] is zero
}

// Packing: element [p, i, k] of a [2, 3, 16] filter lands at [p, k / 8, i,
// k % 8] of [2, 2, 3, 8].
TEST(ReferenceTest, WinogradFilterPackingByHand) {
  Tensor u({2, 3, 16});
  for (size_t i = 0; i < u.data.size(); ++i) {
    u.data[i] = static_cast<double>(i);
  }
  Tensor packed = packWinogradFilter(u);
  ASSERT_EQ(packed.shape, (std::vector<int64_t>{2, 2, 3, 8}));
  // [1, 2, 13]: 1*48 + 2*16 + 13 = 93, at ((1*2 + 1)*3 + 2)*8 + 5 = 93.
  EXPECT_DOUBLE_EQ(packed.data[((1 * 2 + 1) * 3 + 2) * 8 + 5], 93.0);
  // [0, 1, 4]: 20, at ((0*2 + 0)*3 + 1)*8 + 4 = 12.
  EXPECT_DOUBLE_EQ(packed.data[12], 20.0);
  // Blocks of 16: [2, 1, 3, 16], [1, 2, 13] at ((1*1 + 0)*3 + 2)*16 + 13 =
  // 93 too (one block, so the same order as the filter), and [0, 1, 4] at
  // (0*3 + 1)*16 + 4 = 20.
  Tensor packed16 = packWinogradFilter(u, 16);
  ASSERT_EQ(packed16.shape, (std::vector<int64_t>{2, 1, 3, 16}));
  EXPECT_DOUBLE_EQ(packed16.data[93], 93.0);
  EXPECT_DOUBLE_EQ(packed16.data[20], 20.0);
}

TEST(ReferenceTest, PackConvWeightBlocksOutputChannels) {
  Tensor w({4, 3, 1, 2});
  for (size_t i = 0; i < w.data.size(); ++i) {
    w.data[i] = static_cast<double>(i);
  }
  Tensor packed = packConvWeight(w, 2);
  ASSERT_EQ(packed.shape, (std::vector<int64_t>{2, 3, 1, 2, 2}));
  // w[1, 1, 0, 0] = 1*6 + 1*2 = 8, at [0, 1, 0, 0, 1]:
  // ((0*3 + 1)*2 + 0)*2 + 1 = 5.
  EXPECT_DOUBLE_EQ(packed.data[5], 8.0);
  // w[2, 0, 0, 1] = 13, at [1, 0, 0, 1, 0]: ((1*3 + 0)*2 + 1)*2 = 14.
  EXPECT_DOUBLE_EQ(packed.data[14], 13.0);
}

TEST(ReferenceTest, PooledSizeFollowsPyTorchCeilMode) {
  EXPECT_EQ(pooledSize(8, 3, 2, 0, 0, 1, false), 3);
  EXPECT_EQ(pooledSize(8, 3, 2, 0, 0, 1, true), 4);
  EXPECT_EQ(pooledSize(4, 3, 2, 1, 1, 1, true), 3);
  // The ceil window would start in the right padding: dropped.
  EXPECT_EQ(pooledSize(5, 2, 2, 1, 1, 1, true), 3);
  EXPECT_EQ(pooledSize(9, 3, 1, 2, 2, 2, false), 9);
}

// x = 1..16 as 4x4, kernel 3, stride 2, pad 1, ceil_mode.
TEST(ReferenceTest, AvgPoolDivisorMatchesPyTorch) {
  Pool2dParams p;
  p.kernel = {3, 3};
  p.strides = {2, 2};
  p.pads = {1, 1, 1, 1};
  p.ceilMode = true;
  p.countIncludePad = true;
  const Tensor withPad = avgPool2d(iota({1, 1, 4, 4}), p);
  ASSERT_EQ(withPad.shape, (std::vector<int64_t>{1, 1, 3, 3}));
  EXPECT_DOUBLE_EQ(withPad.data[0], 14.0 / 9); // 1+2+5+6 over 3x3
  EXPECT_DOUBLE_EQ(withPad.data[1], 30.0 / 9);
  EXPECT_DOUBLE_EQ(withPad.data[2], 12.0 / 6); // cut at the user padding
  EXPECT_DOUBLE_EQ(withPad.data[4], 99.0 / 9);
  EXPECT_DOUBLE_EQ(withPad.data[8], 16.0 / 4);
  p.countIncludePad = false;
  const Tensor withoutPad = avgPool2d(iota({1, 1, 4, 4}), p);
  EXPECT_DOUBLE_EQ(withoutPad.data[0], 14.0 / 4);
  EXPECT_DOUBLE_EQ(withoutPad.data[2], 12.0 / 2);
  EXPECT_DOUBLE_EQ(withoutPad.data[8], 16.0);
}

TEST(ReferenceTest, MaxPoolIgnoresPadding) {
  Pool2dParams p;
  p.kernel = {2, 2};
  p.strides = {2, 2};
  p.pads = {1, 1, 1, 1};
  Tensor x = iota({1, 1, 2, 2}, -10); // all negative: padding must not win
  const Tensor y = maxPool2d(x, p);
  ASSERT_EQ(y.shape, (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_EQ(y.data, (std::vector<double>{-10, -9, -8, -7}));
}

TEST(ReferenceTest, GroupedConvUsesItsOwnChannels) {
  Conv2dParams p;
  p.groups = 2;
  const Tensor x({1, 2, 1, 1}, {1, 2});
  const Tensor w({2, 1, 1, 1}, {3, 4});
  const Tensor b({2}, {0.5, -0.5});
  EXPECT_EQ(conv2d(x, w, &b, p).data, (std::vector<double>{3.5, 7.5}));
}

TEST(ReferenceTest, ConvStridePadDilation) {
  Conv2dParams p;
  p.strides = {2, 1};
  p.pads = {1, 0, 0, 0};
  p.dilations = {1, 2};
  // x 3x3 = 1..9, weight 1x1x2x2 of ones: out rows at -1, 1; cols at 0.
  const Tensor y = conv2d(iota({1, 1, 3, 3}),
                          Tensor({1, 1, 2, 2}, {1, 1, 1, 1}), nullptr, p);
  ASSERT_EQ(y.shape, (std::vector<int64_t>{1, 1, 2, 1}));
  EXPECT_EQ(y.data[0], 1 + 3);         // row -1 is padding
  EXPECT_EQ(y.data[1], 4 + 6 + 7 + 9); // rows 1,2; cols 0,2
}

TEST(ReferenceTest, BroadcastingAlignsTrailingDims) {
  const Tensor a = iota({2, 3, 4}, 0);
  const Tensor b({3, 1}, {100, 200, 300});
  const Tensor y = binary(BinaryOp::Sub, b, a);
  ASSERT_EQ(y.shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(y.data[0], 100);
  EXPECT_EQ(y.data[5], 200 - 5);
  EXPECT_EQ(y.data[23], 300 - 23);
}

TEST(ReferenceTest, ConcatMiddleAxis) {
  const Tensor y =
      concat({Tensor({2, 1}, {1, 2}), Tensor({2, 2}, {3, 4, 5, 6})}, 1);
  EXPECT_EQ(y.data, (std::vector<double>{1, 3, 4, 2, 5, 6}));
}

TEST(ReferenceTest, SoftmaxOnAxis0) {
  const Tensor y = softmax(Tensor({2, 1}, {0, std::log(3.0)}), 0);
  EXPECT_DOUBLE_EQ(y.data[0], 0.25);
  EXPECT_DOUBLE_EQ(y.data[1], 0.75);
  EXPECT_DOUBLE_EQ(logSoftmax(Tensor({2, 1}, {0, std::log(3.0)}), 0).data[0],
                   std::log(0.25));
}

TEST(ReferenceTest, NormsUseBiasedVariance) {
  const Tensor x({1, 2}, {1, 3});
  EXPECT_NEAR(layerNorm(x, nullptr, nullptr, 1, 0).data[0], -1, 1e-15);
  const Tensor one({1}, {1}), zero({1}, {0});
  // Batch statistics of channel 0 over N = 2: mean 2, variance 1.
  const Tensor y =
      batchNorm(Tensor({2, 1}, {1, 3}), one, zero, zero, one, 0, true);
  EXPECT_NEAR(y.data[1], 1, 1e-15);
}

TEST(ReferenceTest, LossesAtKnownPoints) {
  const Tensor p({2}, {0, 1}), half({2}, {0.5, 0.5});
  EXPECT_DOUBLE_EQ(bce(p, half), 50); // both logs clamped at -100
  EXPECT_DOUBLE_EQ(huber(Tensor({2}, {0, 3}), Tensor({2}, {0.5, 0}), 1),
                   (0.125 + 2.5) / 2);
  EXPECT_DOUBLE_EQ(hinge(Tensor({2}, {0.5, 2}), Tensor({2}, {1, -1})),
                   (0.5 + 3) / 2);
  EXPECT_NEAR(sparseCce(Tensor({1, 2}, {0, 0}), {1}), std::log(2.0), 1e-15);
  EXPECT_THROW(sparseCce(Tensor({1, 2}, {0, 0}), {2}), std::out_of_range);
  EXPECT_NEAR(bceLogits(Tensor({1}, {0}), Tensor({1}, {1})), std::log(2.0),
              1e-15);
}

TEST(ReferenceTest, ActivationBranches) {
  ActivationParams p;
  p.beta = 2;
  p.threshold = 5;
  EXPECT_EQ(activate(Activation::Softplus, 3, p), 3); // beta*x > threshold
  EXPECT_DOUBLE_EQ(activate(Activation::Softplus, 0, p), std::log(2.0) / 2);
  EXPECT_EQ(activate(Activation::Step, 0), 0);
  EXPECT_EQ(activate(Activation::Relu6, 7), 6);
  EXPECT_NEAR(activate(Activation::GeluErf, 1), 0.8413447460685429, 1e-15);
  EXPECT_NEAR(activate(Activation::GeluTanh, 1), 0.8411919906082768, 1e-15);
}

} // namespace
} // namespace kiln::reference
