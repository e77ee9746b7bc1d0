// Whole-graph gradients: kiln-autodiff on small models with awkward shapes,
// compiled and run, against central finite differences of the same models
// written with the double-precision reference ops (tests/unit/reference).
#include "ModelTestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>

namespace ref = kiln::reference;
namespace rt = kiln::runtime;

namespace {

using Params = std::map<std::string, ref::Tensor>;

using kiln::testing::toRef;

rt::Session compileGradients(const std::string &model, const std::string &loss) {
  kiln::compiler::CompileOptions options;
  options.mode = kiln::compiler::Mode::Gradients;
  options.training.loss = loss;
  return kiln::testing::compileSession(
      std::string(KILN_TEST_INPUTS_DIR) + "/" + model, options, 7);
}

rt::Tensor randomInput(std::vector<int64_t> shape, std::mt19937 &rng) {
  rt::Tensor t(std::move(shape), rt::DType::F32);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t i = 0; i < t.numElements(); ++i) {
    t.f32()[i] = dist(rng);
  }
  return t;
}

// One run of the gradient step on x with sparse labels (the dropout seed,
// unused here, filled in).
void runWithLabels(rt::Session &session, const rt::Tensor &x,
                   const std::vector<int32_t> &labelValues) {
  rt::Tensor labels({static_cast<int64_t>(labelValues.size())},
                    rt::DType::I32);
  std::copy(labelValues.begin(), labelValues.end(), labels.i32());
  session.setInput("x", x);
  session.setInput("target", labels);
  session.fillMissingInputs(1);
  session.run();
}

// Compares every `grad:<param>` output with central differences of `loss`
// over that parameter. Bound: |kiln - fd| <= 2e-3 * max(|fd|_inf, 1e-2)
// per parameter tensor: the kernels run in float32 (the forward's rounding
// error, ~1e-7 relative, is amplified by 1/h in a float difference, which is
// why the differences are taken on the double reference instead).
void checkGradients(const rt::Session &session, const Params &params,
                    const std::function<double(const Params &)> &loss) {
  double h = 1e-5;
  int checked = 0;
  for (const rt::TensorInfo &output : session.outputs()) {
    if (output.name.rfind("grad:", 0) != 0) {
      continue;
    }
    std::string name = output.name.substr(5);
    rt::Tensor grad = session.output(output.name);
    Params shifted = params;
    ref::Tensor &p = shifted.at(name);
    std::vector<double> numeric(p.data.size());
    double scale = 1e-2;
    for (size_t i = 0; i < p.data.size(); ++i) {
      double saved = p.data[i];
      p.data[i] = saved + h;
      double up = loss(shifted);
      p.data[i] = saved - h;
      double down = loss(shifted);
      p.data[i] = saved;
      numeric[i] = (up - down) / (2 * h);
      scale = std::max(scale, std::fabs(numeric[i]));
    }
    double worst = 0;
    for (size_t i = 0; i < numeric.size(); ++i) {
      worst = std::max(worst, std::fabs(grad.f32()[i] - numeric[i]) / scale);
    }
    EXPECT_LE(worst, 2e-3) << "gradient of " << name;
    ::testing::Test::RecordProperty("max_rel_error:" + name,
                                    std::to_string(worst));
    std::printf("  %-16s max relative error %.2e\n", name.c_str(), worst);
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

Params trainable(const rt::Session &session) {
  Params params;
  for (const rt::TensorInfo &info : session.parameters()) {
    params[info.name] = toRef(session.parameter(info.name));
  }
  return params;
}

// The session's loss against `loss` of its parameters, then every gradient
// against central differences of it (checkGradients).
void checkLossAndGradients(const rt::Session &session,
                           const std::function<double(const Params &)> &loss) {
  Params params = trainable(session);
  EXPECT_NEAR(session.output("loss").f32()[0], loss(params), 1e-5);
  checkGradients(session, params, loss);
}

TEST(GradientTest, ConvBatchNormPoolingDense) {
  rt::Session session = compileGradients("grad_cnn.mlir", "sparse-cce");
  std::mt19937 rng(11);
  rt::Tensor x = randomInput({3, 2, 7, 6}, rng);
  std::vector<int32_t> labelValues = {4, 0, 2};
  runWithLabels(session, x, labelValues);

  ref::Tensor input = toRef(x);
  auto loss = [&](const Params &p) {
    ref::Conv2dParams conv;
    conv.strides = {2, 1};
    conv.pads = {1, 0, 1, 2};
    ref::Tensor y = ref::conv2d(input, p.at("conv.weight"), &p.at("conv.bias"), conv);
    y = ref::batchNorm(y, p.at("bn.weight"), p.at("bn.bias"),
                       p.at("bn.running_mean"), p.at("bn.running_var"), 1e-5,
                       /*training=*/true);
    y = ref::elementwise(ref::Activation::Silu, y);
    ref::Pool2dParams avg;
    avg.kernel = {2, 2};
    avg.strides = {1, 1};
    avg.pads = {1, 1, 1, 1};
    avg.countIncludePad = false;
    y = ref::avgPool2d(y, avg);
    ref::Pool2dParams max;
    max.kernel = {2, 3};
    max.strides = {2, 2};
    max.ceilMode = true;
    y = ref::maxPool2d(y, max);
    y.shape = {3, 36};
    y = ref::dense(y, p.at("fc.weight"), &p.at("fc.bias"));
    return ref::sparseCce(y, labelValues);
  };
  checkLossAndGradients(session, loss);
}

// Edge and reflect pads (kiln.pad_grad) between convolutions, and a
// pointwise convolution's input gradient.
TEST(GradientTest, ReplicateAndReflectPadding) {
  rt::Session session = compileGradients("grad_pad.mlir", "sparse-cce");
  std::mt19937 rng(5);
  rt::Tensor x = randomInput({2, 2, 6, 5}, rng);
  std::vector<int32_t> labelValues = {2, 0};
  runWithLabels(session, x, labelValues);

  ref::Tensor input = toRef(x);
  auto loss = [&](const Params &p) {
    ref::Conv2dParams plain;
    ref::Tensor y = ref::conv2d(input, p.at("c1.weight"), &p.at("c1.bias"), plain);
    y = ref::pad(y, {0, 0, 1, 1, 0, 0, 1, 1}, "edge");
    y = ref::conv2d(y, p.at("c2.weight"), nullptr, plain);
    y = ref::elementwise(ref::Activation::Tanh, y);
    y = ref::conv2d(y, p.at("mix.weight"), nullptr, plain);
    y = ref::pad(y, {0, 0, 2, 0, 0, 0, 0, 1}, "reflect");
    ref::Conv2dParams strided;
    strided.strides = {2, 2};
    y = ref::conv2d(y, p.at("c3.weight"), nullptr, strided);
    y.shape = {2, 12};
    y = ref::dense(y, p.at("fc.weight"), nullptr);
    return ref::sparseCce(y, labelValues);
  };
  checkLossAndGradients(session, loss);
}

// Resize in a decoder (kiln.resize_grad: the transposed taps): bilinear
// up, nearest x2, cubic down with the outside taps excluded, against
// differences of the reference's resize.
TEST(GradientTest, ResizeUpAndDown) {
  rt::Session session = compileGradients("grad_resize.mlir", "sparse-cce");
  std::mt19937 rng(7);
  rt::Tensor x = randomInput({2, 2, 5, 4}, rng);
  std::vector<int32_t> labelValues = {2, 1};
  runWithLabels(session, x, labelValues);

  ref::Tensor input = toRef(x);
  auto loss = [&](const Params &p) {
    ref::Conv2dParams same;
    same.pads = {1, 1, 1, 1};
    ref::Tensor y =
        ref::conv2d(input, p.at("c1.weight"), &p.at("c1.bias"), same);
    ref::ResizeSpec linear;
    linear.mode = "linear";
    linear.scaleH = 1.8;
    linear.scaleW = 1.75;
    y = ref::resize(y, 9, 7, linear);
    y = ref::elementwise(ref::Activation::Tanh, y);
    ref::ResizeSpec nearest;
    nearest.transform = "asymmetric";
    nearest.nearest = "floor";
    nearest.scaleH = nearest.scaleW = 2;
    y = ref::resize(y, 18, 14, nearest);
    ref::ResizeSpec cubic;
    cubic.mode = "cubic";
    cubic.excludeOutside = true;
    cubic.scaleH = 0.2222222222222222;
    cubic.scaleW = 0.21428571428571427;
    y = ref::resize(y, 4, 3, cubic);
    y.shape = {2, 36};
    y = ref::dense(y, p.at("fc.weight"), nullptr);
    return ref::sparseCce(y, labelValues);
  };
  checkLossAndGradients(session, loss);
}

// ConvTranspose (kiln.conv2d_grad_input) as a layer: its gradients (conv2d
// for its input, conv2d_grad_weight for its weight) against differences of
// the reference's scattered transposed convolution.
TEST(GradientTest, TransposedConvolutions) {
  rt::Session session = compileGradients("grad_conv_transpose.mlir", "sparse-cce");
  std::mt19937 rng(11);
  rt::Tensor x = randomInput({2, 3, 4, 5}, rng);
  std::vector<int32_t> labelValues = {1, 2};
  runWithLabels(session, x, labelValues);

  ref::Tensor input = toRef(x);
  auto loss = [&](const Params &p) {
    ref::Conv2dParams first;
    first.strides = {2, 2};
    first.pads = {1, 0, 0, 1};
    ref::Tensor y = ref::convTranspose2d(input, p.at("t1.weight"), first, {9, 11});
    y = ref::elementwise(ref::Activation::Tanh, y);
    ref::Conv2dParams second;
    second.dilations = {1, 2};
    second.groups = 2;
    y = ref::convTranspose2d(y, p.at("t2.weight"), second, {10, 13});
    y.shape = {2, 260};
    y = ref::dense(y, p.at("fc.weight"), nullptr);
    return ref::sparseCce(y, labelValues);
  };
  checkLossAndGradients(session, loss);
}

// reduce_sum's gradient: dy broadcast back over the summed axes (mean
// pooling over tokens, a keepdims sum added back).
TEST(GradientTest, ReduceSumBroadcastsBack) {
  rt::Session session = compileGradients("grad_reduce.mlir", "sparse-cce");
  std::mt19937 rng(3);
  rt::Tensor x = randomInput({2, 3, 4}, rng);
  std::vector<int32_t> labelValues = {1, 2};
  runWithLabels(session, x, labelValues);

  ref::Tensor input = toRef(x);
  auto loss = [&](const Params &p) {
    const ref::Tensor &t = p.at("tokens.weight");
    ref::Tensor pooled({2, 4});
    for (int n = 0; n < 2; ++n) {
      for (int k = 0; k < 3; ++k) {
        double rowSum = 0;
        for (int d = 0; d < 4; ++d) {
          int i = (n * 3 + k) * 4 + d;
          rowSum += input.data[i] * t.data[i];
        }
        for (int d = 0; d < 4; ++d) {
          int i = (n * 3 + k) * 4 + d;
          pooled.data[n * 4 + d] +=
              std::tanh(input.data[i] * t.data[i] + rowSum) / 3.0;
        }
      }
    }
    return ref::sparseCce(ref::dense(pooled, p.at("head.weight"), nullptr),
                          labelValues);
  };
  checkLossAndGradients(session, loss);
}

// where's gradient (kiln.where at a run-time condition: a padding mask)
// against central differences of a per-element reference.
TEST(GradientTest, WhereSelectsTheGradient) {
  rt::Session session = compileGradients("grad_where.mlir", "sparse-cce");
  std::mt19937 rng(5);
  rt::Tensor x = randomInput({2, 3, 4}, rng);
  std::vector<int32_t> labelValues = {2, 0};
  runWithLabels(session, x, labelValues);

  ref::Tensor input = toRef(x);
  auto loss = [&](const Params &p) {
    const ref::Tensor &a = p.at("lhs.weight"), &b = p.at("rhs.weight");
    ref::Tensor pooled({2, 4});
    for (int n = 0; n < 2; ++n) {
      for (int k = 0; k < 3; ++k) {
        for (int d = 0; d < 4; ++d) {
          double v = input.data[(n * 3 + k) * 4 + d];
          pooled.data[n * 4 + d] += v > 0 ? v * a.data[k * 4 + d]
                                          : b.data[n * 4 + d];
        }
      }
    }
    return ref::sparseCce(ref::dense(pooled, p.at("head.weight"), nullptr),
                          labelValues);
  };
  checkLossAndGradients(session, loss);
}

// reduce_max / reduce_min / reduce_prod's gradients (reduce_grad) inside a
// model, against central differences of a per-element reference.
TEST(GradientTest, ReduceMaxMinProd) {
  rt::Session session =
      compileGradients("grad_reduce_extremes.mlir", "sparse-cce");
  std::mt19937 rng(5);
  rt::Tensor x = randomInput({2, 3, 4}, rng);
  std::vector<int32_t> labelValues = {2, 0};
  runWithLabels(session, x, labelValues);

  ref::Tensor input = toRef(x);
  auto loss = [&](const Params &p) {
    const ref::Tensor &t = p.at("tokens.weight");
    auto a = [&](int n, int k, int d) {
      int i = (n * 3 + k) * 4 + d;
      return input.data[i] * t.data[i];
    };
    ref::Tensor pooled({2, 4});
    for (int n = 0; n < 2; ++n) {
      for (int d = 0; d < 4; ++d) {
        double low = a(n, 0, d), product = 1;
        for (int k = 0; k < 3; ++k) {
          low = std::min(low, a(n, k, d));
          product *= std::tanh(a(n, k, d));
        }
        pooled.data[n * 4 + d] = low + product;
      }
    }
    ref::Tensor logits = ref::dense(pooled, p.at("head.weight"), nullptr);
    for (int n = 0; n < 2; ++n) {
      for (int k = 0; k < 3; ++k) {
        double high = a(n, k, 0);
        for (int d = 1; d < 4; ++d) {
          high = std::max(high, a(n, k, d));
        }
        logits.data[n * 3 + k] += high;
      }
    }
    return ref::sparseCce(logits, labelValues);
  };
  checkLossAndGradients(session, loss);
}

// A gradient-check model x [2, 3, 4] * tokens.weight, then two broadcasting
// binary ops with parameters (`first` with param `firstParam` [3, 1], then
// `second` with `secondParam` [4]), summed over the last axis into logits:
// loss and gradients against the reference and central differences.
void checkBinaryPair(const char *model, ref::BinaryOp first,
                     const char *firstParam, ref::BinaryOp second,
                     const char *secondParam, unsigned seed,
                     std::vector<int32_t> labelValues) {
  rt::Session session = compileGradients(model, "sparse-cce");
  std::mt19937 rng(seed);
  rt::Tensor x = randomInput({2, 3, 4}, rng);
  runWithLabels(session, x, labelValues);

  ref::Tensor input = toRef(x);
  auto loss = [&](const Params &p) {
    ref::Tensor a =
        ref::binary(ref::BinaryOp::Mul, input, p.at("tokens.weight"));
    ref::Tensor m = ref::binary(first, a, p.at(firstParam));
    ref::Tensor n = ref::binary(second, m, p.at(secondParam));
    ref::Tensor logits({2, 3});
    for (size_t i = 0; i < n.data.size(); ++i) {
      logits.data[i / 4] += n.data[i];
    }
    return ref::sparseCce(logits, labelValues);
  };
  checkLossAndGradients(session, loss);
}

// maximum / minimum with broadcasting, against central differences.
TEST(GradientTest, MaximumMinimumBroadcast) {
  checkBinaryPair("grad_maximum.mlir", ref::BinaryOp::Maximum, "floor.weight",
                  ref::BinaryOp::Minimum, "ceiling.weight", 6, {2, 0});
}

// fmod and mod with broadcasting, against central differences (away from
// their jumps, where the quotient is constant).
TEST(GradientTest, ModFmodBroadcast) {
  checkBinaryPair("grad_mod.mlir", ref::BinaryOp::Fmod, "period.weight",
                  ref::BinaryOp::Mod, "cycle.weight", 7, {1, 2});
}

// A scatter (ONNX ScatterElements' form: data - data * hit + scatter of the
// updates) at constant indices with a repeat and a negative index, against
// plain loops and central differences: the updates' gradient is a gather.
TEST(GradientTest, ScatterElements) {
  rt::Session session = compileGradients("grad_scatter.mlir", "sparse-cce");
  std::mt19937 rng(8);
  rt::Tensor x = randomInput({2, 5}, rng);
  std::vector<int32_t> labelValues = {3, 0};
  runWithLabels(session, x, labelValues);

  ref::Tensor input = toRef(x);
  const int indices[2][3] = {{0, 3, 3}, {4, 1, 0}}; // -5 is 0
  auto loss = [&](const Params &p) {
    const ref::Tensor &b = p.at("base.weight"), &u = p.at("updates.weight");
    ref::Tensor logits({2, 5});
    for (int n = 0; n < 2; ++n) {
      double hit[5] = {0, 0, 0, 0, 0}, sum[5] = {0, 0, 0, 0, 0};
      for (int i = 0; i < 3; ++i) {
        hit[indices[n][i]] += 1;
        sum[indices[n][i]] += u.data[n * 3 + i];
      }
      for (int j = 0; j < 5; ++j) {
        double a = input.data[n * 5 + j] * b.data[n * 5 + j];
        logits.data[n * 5 + j] = a - a * hit[j] + sum[j];
      }
    }
    return ref::sparseCce(logits, labelValues);
  };
  checkLossAndGradients(session, loss);
}

// At a tie each side of maximum takes dy / 2 (PyTorch's rule): with
// tokens.weight and floor.weight 0, every a = x * t ties with u = 0 below
// the ceiling, the logits are 0 and d loss / d logit[n, k] = (1/3 -
// [label_n = k]) / 2, so grad u[k] = 1/2 * 4 * sum_n of it, by hand:
// labels {2, 0} give -1/3, 2/3, -1/3.
TEST(GradientTest, MaximumTiesShareTheGradient) {
  rt::Session session = compileGradients("grad_maximum.mlir", "sparse-cce");
  session.setParameter("tokens.weight", rt::Tensor({2, 3, 4}, rt::DType::F32));
  session.setParameter("floor.weight", rt::Tensor({3, 1}, rt::DType::F32));
  rt::Tensor ceiling({4}, rt::DType::F32);
  std::fill(ceiling.f32(), ceiling.f32() + 4, 1.0f);
  session.setParameter("ceiling.weight", ceiling);
  std::mt19937 rng(6);
  runWithLabels(session, randomInput({2, 3, 4}, rng), {2, 0});
  rt::Tensor grad = session.output("grad:floor.weight");
  const float want[] = {-1.0f / 3, 2.0f / 3, -1.0f / 3};
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(grad.f32()[k], want[k], 1e-6) << "k = " << k;
  }
  rt::Tensor ceilingGrad = session.output("grad:ceiling.weight");
  for (int d = 0; d < 4; ++d) {
    EXPECT_EQ(ceilingGrad.f32()[d], 0.0f) << "d = " << d;
  }
}

// The batched matmul's gradients (both operands, with and without a
// transpose), against a per-element reference.
TEST(GradientTest, BatchedMatmul) {
  rt::Session session = compileGradients("grad_bmm.mlir", "sparse-cce");
  std::mt19937 rng(8);
  rt::Tensor x = randomInput({2, 3, 4}, rng);
  std::vector<int32_t> labelValues = {0, 2};
  runWithLabels(session, x, labelValues);

  ref::Tensor input = toRef(x);
  auto loss = [&](const Params &p) {
    const ref::Tensor &k = p.at("k"), &v = p.at("v");
    ref::Tensor flat({2, 12});
    for (int b = 0; b < 2; ++b) {
      for (int i = 0; i < 3; ++i) {
        double t[5];
        for (int j = 0; j < 5; ++j) {
          double sum = 0;
          for (int d = 0; d < 4; ++d) {
            sum += input.data[(b * 3 + i) * 4 + d] * k.data[(b * 5 + j) * 4 + d];
          }
          t[j] = std::tanh(sum);
        }
        for (int d = 0; d < 4; ++d) {
          double sum = 0;
          for (int j = 0; j < 5; ++j) {
            sum += t[j] * v.data[(b * 5 + j) * 4 + d];
          }
          flat.data[b * 12 + i * 4 + d] = sum;
        }
      }
    }
    return ref::sparseCce(ref::dense(flat, p.at("head.weight"), nullptr),
                          labelValues);
  };
  checkLossAndGradients(session, loss);
}

TEST(GradientTest, NormsBranchesResidualSoftmaxCrossEntropy) {
  rt::Session session = compileGradients("grad_misc.mlir", "cce");
  std::mt19937 rng(12);
  rt::Tensor x = randomInput({2, 6}, rng);
  // Soft targets: each row a probability distribution.
  rt::Tensor target({2, 7}, rt::DType::F32);
  std::uniform_real_distribution<float> uniform(0.1f, 1.0f);
  for (int n = 0; n < 2; ++n) {
    float sum = 0;
    for (int c = 0; c < 7; ++c) {
      sum += target.f32()[n * 7 + c] = uniform(rng);
    }
    for (int c = 0; c < 7; ++c) {
      target.f32()[n * 7 + c] /= sum;
    }
  }
  session.setInput("x", x);
  session.setInput("target", target);
  session.fillMissingInputs(1);
  session.run();

  ref::Tensor input = toRef(x), t = toRef(target);
  auto loss = [&](const Params &p) {
    ref::Tensor n = ref::layerNorm(input, &p.at("ln.weight"), &p.at("ln.bias"), 1, 1e-5);
    ref::Tensor g = ref::elementwise(ref::Activation::GeluErf, n);
    ref::Tensor a = ref::prelu(ref::dense(g, p.at("a.weight"), nullptr), p.at("a.slope"));
    ref::Tensor t2 = ref::elementwise(
        ref::Activation::Tanh, ref::dense(input, p.at("b.weight"), &p.at("b.bias")));
    // t2 plus its reverse exclusive cumsum along the row: each element
    // plus those after it.
    ref::Tensor b = t2;
    for (int64_t row = 0; row < 2; ++row) {
      for (int64_t c = 0; c < 3; ++c) {
        for (int64_t j = c + 1; j < 3; ++j) {
          b.data[row * 3 + c] += t2.data[row * 3 + j];
        }
      }
    }
    ref::Tensor cat = ref::concat({a, b}, 1);
    ref::Tensor r = cat;
    r.shape = {2, 7, 1, 1};
    ref::Tensor pooled = ref::globalAvgPool(r);
    pooled.shape = {2, 7};
    ref::Tensor res = ref::binary(ref::BinaryOp::Add,
                                  ref::binary(ref::BinaryOp::Mul, pooled, p.at("scale")), cat);
    return ref::cce(res, t); // cce reads the logits under the softmax
  };
  checkLossAndGradients(session, loss);
}

} // namespace
