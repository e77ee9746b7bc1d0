// Checks of the training-op references (ReferenceGrad.h) on small inputs
// worked out by hand, and of numericGrad against closed-form derivatives, so
// that a gradient kernel test failure can be trusted to point at the kernel.
#include "reference/ReferenceGrad.h"

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

// augment by hand: with flips only, each image is itself or its mirror
// exactly (8 images: both outcomes occur); with nothing enabled it is the
// identity; a zero shift range leaves the pixels where they are.
TEST(ReferenceGradTest, AugmentFlipsAndIdentity) {
  Tensor x({8, 1, 3, 4});
  for (size_t i = 0; i < x.data.size(); ++i) {
    x.data[i] = static_cast<double>(i % 13) - 6;
  }
  AugmentParams none;
  EXPECT_EQ(augment(x, 5, none).data, x.data);
  AugmentParams flip;
  flip.flipH = true;
  Tensor y = augment(x, 5, flip);
  int mirrored = 0, kept = 0;
  for (int n = 0; n < 8; ++n) {
    bool same = true, mirror = true;
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 4; ++c) {
        double out = y.data[(n * 3 + r) * 4 + c];
        same = same && out == x.data[(n * 3 + r) * 4 + c];
        mirror = mirror && out == x.data[(n * 3 + r) * 4 + (3 - c)];
      }
    }
    EXPECT_TRUE(same || mirror) << n;
    mirrored += mirror && !same;
    kept += same && !mirror;
  }
  EXPECT_GT(mirrored, 0);
  EXPECT_GT(kept, 0);
}

TEST(ReferenceGradTest, MatmulTransposes) {
  const Tensor a({2, 2}, {1, 2, 3, 4}), b({2, 2}, {5, 6, 7, 8});
  EXPECT_EQ(matmul(a, b, false, false).data,
            (std::vector<double>{19, 22, 43, 50}));
  EXPECT_EQ(matmul(a, b, true, false).data,
            (std::vector<double>{26, 30, 38, 44}));
  EXPECT_EQ(matmul(a, b, false, true).data,
            (std::vector<double>{17, 23, 39, 53}));
  EXPECT_EQ(matmul(a, b, true, true).data,
            (std::vector<double>{23, 31, 34, 46}));
  // [3,2]ᵀ · [3,1] -> [2,1].
  const Tensor c = matmul(iota({3, 2}), iota({3, 1}), true, false);
  ASSERT_EQ(c.shape, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(c.data, (std::vector<double>{1 + 6 + 15, 2 + 8 + 18}));
}

TEST(ReferenceGradTest, ReduceSumSliceScale) {
  const Tensor x = iota({2, 3, 4}); // 1..24
  const Tensor y = reduceSum(x, {0, 2}, false);
  ASSERT_EQ(y.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(y.data, (std::vector<double>{68, 100, 132}));
  EXPECT_EQ(reduceSum(x, {0, 2}, true).shape, (std::vector<int64_t>{1, 3, 1}));
  const Tensor all = reduceSum(x, {0, 1, 2}, false);
  EXPECT_TRUE(all.shape.empty());
  EXPECT_EQ(all.data, (std::vector<double>{300}));
  const Tensor s = slice(iota({2, 3}), 1, 1, 2);
  ASSERT_EQ(s.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(s.data, (std::vector<double>{2, 3, 5, 6}));
  EXPECT_EQ(scale(iota({2}), -0.5).data, (std::vector<double>{-0.5, -1}));
}

TEST(ReferenceGradTest, RegularizerKerasConvention) {
  const Tensor w({3}, {-2, 0, 3});
  EXPECT_DOUBLE_EQ(regularizer(w, 0.1, 0.01), 0.1 * 5 + 0.01 * 13);
  const Tensor dw = regularizerGrad(w, 2, 0.1, 0.01);
  EXPECT_DOUBLE_EQ(dw.data[0], 2 * (-0.1 - 0.04));
  EXPECT_EQ(dw.data[1], 0); // sign(0) = 0
  EXPECT_DOUBLE_EQ(dw.data[2], 2 * (0.1 + 0.06));
}

TEST(ReferenceGradTest, RunningStatsUseUnbiasedVariance) {
  const std::vector<Tensor> r =
      runningStatsUpdate(Tensor({1}, {0}), Tensor({1}, {1}), Tensor({1}, {2}),
                         Tensor({1}, {3}), 0.1, 4);
  EXPECT_DOUBLE_EQ(r[0].data[0], 0.2);
  EXPECT_DOUBLE_EQ(r[1].data[0], 0.9 + 0.1 * 3 * 4 / 3); // 1.3
}

// x = {0, 1, 5} in one channel: mean 2, biased var 14/3.
TEST(ReferenceGradTest, BatchNormTrainAndGradByHand) {
  const Tensor x({3, 1}, {0, 1, 5}), one({1}, {1});
  const BatchNormTrainResult f =
      batchNormTrain(x, Tensor({1}, {2}), Tensor({1}, {0.5}), 0);
  EXPECT_DOUBLE_EQ(f.mean.data[0], 2);
  EXPECT_DOUBLE_EQ(f.var.data[0], 14.0 / 3);
  const double invStd = std::sqrt(3.0 / 14);
  EXPECT_NEAR(f.y.data[0], -2 * invStd * 2 + 0.5, 1e-15);
  // dy = e_0: dx = invStd/3 · (3·dy - 1 + 2·(x - 2)·invStd²).
  const BatchNormGradResult g =
      batchNormGrad(x, Tensor({3, 1}, {1, 0, 0}), one, f.mean, f.var, 0);
  EXPECT_NEAR(g.dx.data[0], invStd * 8 / 21, 1e-15);
  EXPECT_NEAR(g.dx.data[1], -invStd * 10 / 21, 1e-15);
  EXPECT_NEAR(g.dx.data[2], invStd * 2 / 21, 1e-15);
  EXPECT_DOUBLE_EQ(g.dbias.data[0], 1);
  EXPECT_NEAR(g.dweight.data[0], -2 * invStd, 1e-15);
}

// The closed form against finite differences of the forward, on a 4-D
// input with several channels and eps > 0: validates both numericGrad and
// batchNormGrad.
TEST(ReferenceGradTest, BatchNormGradMatchesFiniteDifferences) {
  Tensor x({3, 2, 2, 3}), dy({3, 2, 2, 3});
  for (size_t i = 0; i < x.data.size(); ++i) {
    x.data[i] = std::sin(1.7 * i) * 2 + 0.3;
    dy.data[i] = std::cos(0.9 * i);
  }
  const Tensor w({2}, {0.7, -1.3}), b({2}, {0.1, 0.2});
  const double eps = 1e-3;
  const BatchNormTrainResult f = batchNormTrain(x, w, b, eps);
  const BatchNormGradResult g = batchNormGrad(x, dy, w, f.mean, f.var, eps);
  const Tensor dx = numericGrad(
      [&](const Tensor &t) { return dot(batchNormTrain(t, w, b, eps).y, dy); },
      x, 1e-3);
  const Tensor dw = numericGrad(
      [&](const Tensor &t) { return dot(batchNormTrain(x, t, b, eps).y, dy); },
      w, 1e-3);
  const Tensor db = numericGrad(
      [&](const Tensor &t) { return dot(batchNormTrain(x, w, t, eps).y, dy); },
      b, 1e-3);
  for (size_t i = 0; i < dx.data.size(); ++i) {
    EXPECT_NEAR(dx.data[i], g.dx.data[i], 1e-6) << i;
  }
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(dw.data[i], g.dweight.data[i], 1e-8) << i;
    EXPECT_NEAR(db.data[i], g.dbias.data[i], 1e-8) << i;
  }
}

// Ties go to the first maximum in row-major window order; overlapping
// windows add up. x 3x3, kernel 2, stride 1: windows at (0,0) (0,1) (1,0)
// (1,1).
TEST(ReferenceGradTest, MaxPoolGradTiesAndOverlaps) {
  Pool2dParams p;
  p.kernel = {2, 2};
  const Tensor x({1, 1, 3, 3}, {1, 5, 5, //
                                5, 0, 2, //
                                5, 1, 2});
  const Tensor dy({1, 1, 2, 2}, {1, 10, 100, 1000});
  const Tensor dx = maxPool2dGrad(x, dy, p);
  // Window (0,0) {1,5,5,0}: first 5 is (0,1). Window (0,1) {5,5,0,2}: (0,1).
  // Window (1,0) {5,0,5,1}: (1,0). Window (1,1) {0,2,1,2}: (1,2).
  EXPECT_EQ(dx.data, (std::vector<double>{0, 11, 0, 100, 0, 1000, 0, 0, 0}));
}

// Central differences of x³ are exact up to the step: ((x+s)³ - (x-s)³)/2s
// = 3x² + s², with s = h·max(1, |x|).
TEST(ReferenceGradTest, NumericGradOfCubic) {
  const Tensor x({3}, {0.5, -2, 4});
  const Tensor g = numericGrad(
      [](const Tensor &t) {
        double sum = 0;
        for (double v : t.data) {
          sum += v * v * v;
        }
        return sum;
      },
      x, 1e-3);
  EXPECT_NEAR(g.data[0], 0.75 + 1e-6, 1e-9);
  EXPECT_NEAR(g.data[1], 12 + 4e-6, 1e-9);
  EXPECT_NEAR(g.data[2], 48 + 16e-6, 1e-8);
}

// softmax's vector-Jacobian product y·(dy - Σ dy·y) and log_softmax's
// dy - exp(y)·Σ dy (docs/training-ops.md) against finite differences.
TEST(ReferenceGradTest, SoftmaxVjpMatchesFiniteDifferences) {
  const Tensor x({2, 3}, {0.1, -1.2, 2.0, 0.5, 0.4, -0.3});
  const Tensor dy({2, 3}, {1, -2, 0.5, 0.3, 0.3, 1.5});
  const Tensor y = softmax(x, 1), logY = logSoftmax(x, 1);
  const Tensor fd = numericGrad(
      [&](const Tensor &t) { return dot(softmax(t, 1), dy); }, x, 1e-3);
  const Tensor fdLog = numericGrad(
      [&](const Tensor &t) { return dot(logSoftmax(t, 1), dy); }, x, 1e-3);
  for (int64_t r = 0; r < 2; ++r) {
    double sumDyY = 0, sumDy = 0;
    for (int64_t c = 0; c < 3; ++c) {
      sumDyY += dy.data[r * 3 + c] * y.data[r * 3 + c];
      sumDy += dy.data[r * 3 + c];
    }
    for (int64_t c = 0; c < 3; ++c) {
      const int64_t i = r * 3 + c;
      EXPECT_NEAR(fd.data[i], y.data[i] * (dy.data[i] - sumDyY), 1e-7) << i;
      EXPECT_NEAR(fdLog.data[i], dy.data[i] - std::exp(logY.data[i]) * sumDy,
                  1e-7)
          << i;
    }
  }
}

// Every activation's closed-form derivative against finite differences of
// its forward, away from kinks.
TEST(ReferenceGradTest, ActivationDerivativesMatchFiniteDifferences) {
  using A = Activation;
  const A all[] = {A::Step,      A::Sigmoid,  A::Tanh, A::Relu, A::Relu6,
                   A::LeakyRelu, A::Elu,      A::Selu, A::Silu, A::GeluErf,
                   A::GeluTanh,  A::Softplus, A::Sin,  A::Mish};
  ActivationParams p;
  p.alpha = 0.3;
  p.beta = 2;
  p.threshold = 5;
  const double xs[] = {-7, -2.5, -0.7, -0.05, 0.05, 0.9, 2.2, 4, 6.5};
  for (A op : all) {
    for (double x : xs) {
      const Tensor g = numericGrad(
          [&](const Tensor &t) { return activate(op, t.data[0], p); },
          Tensor({1}, {x}), 1e-4);
      EXPECT_NEAR(g.data[0], activationDerivative(op, x, p), 1e-6)
          << static_cast<int>(op) << " at " << x;
    }
  }
}

// The ONNX math functions' derivatives on their domains (asin, acos,
// atanh: |x| < 1; acosh: x > 1), and the piecewise ones between kinks.
TEST(ReferenceGradTest, MathDerivativesMatchFiniteDifferences) {
  using A = Activation;
  const std::vector<double> wide = {-3.1, -1.2, -0.4, 0.3, 0.8, 2.6},
                            unit = {-0.93, -0.5, -0.1, 0.2, 0.7, 0.95},
                            aboveOne = {1.05, 1.5, 3, 9},
                            tan = {-1.4, -0.6, 0.1, 0.9, 1.3};
  const std::pair<A, const std::vector<double> *> cases[] = {
      {A::Tan, &tan},          {A::Sinh, &wide},     {A::Cosh, &wide},
      {A::Asin, &unit},        {A::Acos, &unit},     {A::Atan, &wide},
      {A::Asinh, &wide},       {A::Acosh, &aboveOne}, {A::Atanh, &unit},
      {A::Softsign, &wide},    {A::Ceil, &wide},     {A::Floor, &wide},
      {A::Round, &wide},       {A::Sign, &wide},     {A::ThresholdedRelu, &wide},
      {A::Shrink, &wide}};
  ActivationParams p;
  p.alpha = 0.5;
  p.bias = 0.25;
  p.lambd = 0.6;
  for (const auto &[op, xs] : cases) {
    for (double x : *xs) {
      const Tensor g = numericGrad(
          [&](const Tensor &t) { return activate(op, t.data[0], p); },
          Tensor({1}, {x}), 1e-5);
      EXPECT_NEAR(g.data[0], activationDerivative(op, x, p),
                  1e-5 * std::max(1.0, std::fabs(g.data[0])))
          << static_cast<int>(op) << " at " << x;
    }
  }
  // Values by hand: ONNX Round takes halves to the even neighbour.
  EXPECT_EQ(activate(A::Round, 2.5), 2);
  EXPECT_EQ(activate(A::Round, -2.5), -2);
  EXPECT_EQ(activate(A::Round, 3.5), 4);
  EXPECT_EQ(activate(A::Round, -0.49), 0);
  EXPECT_EQ(activate(A::Sign, 0), 0);
  EXPECT_EQ(activate(A::Shrink, -0.7, p), -0.7 + 0.25);
  EXPECT_EQ(activate(A::Shrink, 0.6, p), 0);
  EXPECT_EQ(activate(A::ThresholdedRelu, 0.5, p), 0);
}

// The values at kinks, from the table in docs/training-ops.md.
TEST(ReferenceGradTest, ActivationDerivativesAtKinks) {
  using A = Activation;
  ActivationParams p;
  p.alpha = 0.3;
  EXPECT_EQ(activationDerivative(A::Relu, 0), 0);
  EXPECT_EQ(activationDerivative(A::Relu6, 0), 0);
  EXPECT_EQ(activationDerivative(A::Relu6, 6), 0);
  EXPECT_EQ(activationDerivative(A::Step, 0), 0);
  EXPECT_EQ(activationDerivative(A::LeakyRelu, 0, p), 0.3);
  EXPECT_EQ(activationDerivative(A::Elu, 0, p), 0.3);
  EXPECT_DOUBLE_EQ(activationDerivative(A::Selu, 0),
                   1.0507009873554805 * 1.6732632423543772);
  p.beta = 2;
  p.threshold = 5;
  // beta·x == threshold is still the sigmoid branch.
  EXPECT_DOUBLE_EQ(activationDerivative(A::Softplus, 2.5, p),
                   1 / (1 + std::exp(-5.0)));
  EXPECT_EQ(activationDerivative(A::Softplus, 2.51, p), 1);
}

// Values computed independently (Python, explicit & 0xFFFFFFFF) from the
// hash in docs/training-ops.md.
TEST(ReferenceGradTest, DropoutHashBitExact) {
  EXPECT_EQ(dropoutHash(0, 0, 0), 0u);
  EXPECT_EQ(dropoutHash(1, 0, 0), 0x688990c0u);
  EXPECT_EQ(dropoutHash(5, 42, 7), 0x87f19371u);
  EXPECT_EQ(dropoutHash(123, -1, 0x123456789), 0x21307badu); // salt: low 32
  EXPECT_EQ(dropoutHash(7, -12345, 3), 0x123ffa83u);
  // u(1, 0, 0) = 0x688990 / 2^24 = 0.40834903717041016.
  EXPECT_TRUE(dropoutKeep(1, 0, 0, 0.4));
  EXPECT_FALSE(dropoutKeep(1, 0, 0, 0.41));
  EXPECT_TRUE(dropoutKeep(0, 0, 0, 0)); // u = 0 >= 0
  EXPECT_FALSE(dropoutKeep(0, 0, 0, 1e-9));
  const Tensor y = dropoutTrain(Tensor({2}, {3, 3}), 0, 0, 0.25);
  EXPECT_EQ(y.data, (std::vector<double>{0, 4})); // index 0 dropped
}

// One-element tensors, lr 0.1, p = 1, a constant gradient 0.5.
TEST(ReferenceGradTest, OptimizersByHand) {
  const Tensor p({1}, {1}), g({1}, {0.5}), zero({1}, {0});
  auto run3 = [&](OptimizerConfig c, std::vector<Tensor> slots) {
    std::vector<double> params;
    Tensor param = p;
    for (int t = 1; t <= 3; ++t) {
      std::vector<Tensor> out = optimizerUpdate(c, param, g, 0.1, t, slots);
      param = out[0];
      slots.assign(out.begin() + 1, out.end());
      params.push_back(param.data[0]);
    }
    return params;
  };
  OptimizerConfig c;
  c.kind = "sgd";
  std::vector<double> got = run3(c, {});
  EXPECT_NEAR(got[0], 0.95, 1e-15);
  EXPECT_NEAR(got[2], 0.85, 1e-15);
  c.weightDecay = 0.1; // g = 0.5 + 0.1·p: 0.94, 0.8806, 0.821794
  got = run3(c, {});
  EXPECT_NEAR(got[0], 0.94, 1e-15);
  EXPECT_NEAR(got[1], 0.8806, 1e-15);
  EXPECT_NEAR(got[2], 0.821794, 1e-15);
  c.weightDecay = 0;
  c.clipValue = 0.2; // g = 0.2
  EXPECT_NEAR(run3(c, {})[0], 0.98, 1e-15);
  c.clipValue = 0;

  // buf: 0.5, 0.95, 1.355; p: 0.95, 0.855, 0.7195.
  c.kind = "momentum";
  got = run3(c, {zero});
  EXPECT_NEAR(got[0], 0.95, 1e-15);
  EXPECT_NEAR(got[1], 0.855, 1e-15);
  EXPECT_NEAR(got[2], 0.7195, 1e-15);
  // dampening 0.5 is skipped on the first step: buf 0.5, then 0.7.
  c.dampening = 0.5;
  got = run3(c, {zero});
  EXPECT_NEAR(got[0], 0.95, 1e-15);
  EXPECT_NEAR(got[1], 0.88, 1e-15);
  c.dampening = 0;
  // nesterov: p -= 0.1·(0.5 + 0.9·0.5) = 0.095 on the first step.
  c.kind = "nesterov";
  EXPECT_NEAR(run3(c, {zero})[0], 0.905, 1e-15);

  // adam with a constant gradient: m̂ = g and v̂ = g² on every step, so each
  // step moves p by lr·0.5/(0.5 + 1e-8): 0.900000002, 0.8..., 0.7...
  c.kind = "adam";
  c.epsilon = 1e-8;
  got = run3(c, {zero, zero});
  EXPECT_NEAR(got[0], 0.900000002, 1e-15);
  EXPECT_NEAR(got[1], 0.800000004, 1e-15);
  EXPECT_NEAR(got[2], 0.700000006, 1e-14);
  const std::vector<Tensor> first =
      optimizerUpdate(c, p, g, 0.1, 1, {zero, zero});
  EXPECT_NEAR(first[1].data[0], 0.05, 1e-16);    // m
  EXPECT_NEAR(first[2].data[0], 0.00025, 1e-18); // v

  // adagrad: sum = 0.25, p -= 0.1·0.5/(0.5 + 1e-10).
  c.kind = "adagrad";
  c.epsilon = 1e-10;
  EXPECT_NEAR(run3(c, {zero})[0], 0.9, 1e-9);
  // rmsprop: v = 0.01·0.25 = 0.0025, p -= 0.1·0.5/(0.05 + 1e-8) ≈ 1.
  c.kind = "rmsprop";
  c.epsilon = 1e-8;
  EXPECT_NEAR(run3(c, {zero})[0], 1.9999996003772225e-07, 1e-15);
  // adadelta (lr 1): v = 0.025, δ = √1e-6/√(0.025 + 1e-6)·0.5.
  c.kind = "adadelta";
  c.epsilon = 1e-6;
  const std::vector<Tensor> d = optimizerUpdate(c, p, g, 1.0, 1, {zero, zero});
  EXPECT_NEAR(d[0].data[0], 1 - 0.0031622144165124795, 1e-15);
  EXPECT_NEAR(d[1].data[0], 0.025, 1e-17);
  EXPECT_NEAR(d[2].data[0], 9.99960001599936e-07, 1e-20);
}

} // namespace
} // namespace kiln::reference
