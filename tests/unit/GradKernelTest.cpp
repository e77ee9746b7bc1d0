// Numerical tests of the training-op kernels (docs/training-ops.md). Each
// case builds a KernelSpec as that page describes it (canonical attrs,
// operands and results in the documented order), runs the generated kernel
// through the runtime (KernelHarness) on seeded random inputs, and compares
// every output element with a double-precision expectation:
//
// - gradient ops (conv2d_grad_input/_weight, max/avg/global pool grads,
//   batch_norm_grad, layer_norm_grad, activation_grad, prelu_grad,
//   grid_sample_grad (its grid at a step of 1e-4: below),
//   softmax_grad, loss_grad, nll_loss_grad, regularizer_grad, reduce_grad,
//   and matmul as dense's gradient): central finite differences of the reference *forward*
//   (reference/Reference.h), f(x) = Σ forward(x) ⊙ dy, step
//   s = 1e-3·max(1, |x_i|). Inputs keep clear of kinks by more than s (|x|
//   >= 0.05 around relu's 0, distinct values in max-pool windows, ...);
//   the values AT the kinks are tested separately against the table of
//   docs/training-ops.md (the *Kinks tests below);
// - forward-like ops (matmul, reduce_sum/max/min/prod, slice, scale,
//   regularizer, batch_norm_train, running_stats_update, dropout_train,
//   and the optimizer updates): the references of reference/ReferenceGrad.h.
//
// Pass criteria, per element:
// - forward-like ops: |got - want| <= 1e-5 · max(1, |want|), as in
//   KernelTest.cpp;
// - optimizer updates: |got - want| <= 1e-5 · max(|want|, 1e-2 · max_j
//   |want_j|): relative, as slots such as Adam's exp_avg_sq are ~1e-4 (an
//   absolute 1e-5 would not see them), with a floor at 1% of the largest
//   element for values that cancel (momentum's 0.8·buf + 0.7·g ~ 4e-4 from
//   terms ~0.5 carries float rounding of ~3e-8);
// - gradients against finite differences: |got - want| <= 1e-3 ·
//   max(|want|, 1e-2 · max_j |want_j|), a relative error with a floor at 1%
//   of the tensor's largest element (elements that cancel to ~0 cannot be
//   compared relatively with a float kernel). Why 1e-3 and not 1e-5: two
//   errors add up that a forward test does not have. (1) The expectation is
//   approximate: the central difference's truncation error is s²/6·|f'''|,
//   measured up to 2.4e-5 (bce near p = 0.1; s = 1e-3). (2) Float kernels of
//   derivatives cancel where PyTorch's float formulas cancel too: sigmoid's
//   y·(1 - y) at |x| ~ 8 and gelu(tanh)'s 0.5·(1 + tanh) in its left tail
//   (absolute ~2e-7 on elements ~1e-5), batch_norm_grad's x - mean with a
//   mean of 11. Rerun with h = 1e-4, (1) vanished (bce 1.3e-6) and (2)
//   stayed (4.5e-5), so 1e-3 keeps a 20x margin over both and is still far
//   below what a wrong formula gives (a missing term, a wrong divisor or
//   branch is off by > 1e-2). Linear ops (conv, pools, matmul) have exact
//   central differences and meet the same bound easily.
//
// Max scaled errors measured (KILN_TEST_PRINT_ERRORS=1 prints them per case
// and a per-op table at the end; codegen at c1f19a5):
//   activation_grad      4.5e-5 (gelu tanh; sigmoid 2.4e-5, sin 1.7e-5)
//   loss_grad            2.4e-5 (bce, FD truncation; cce 8.4e-6)
//   batch_norm_grad      1.4e-5 (mean 11; otherwise 1.1e-5)
//   softmax_grad         8.1e-6     conv2d_grad_weight   6.3e-6
//   layer_norm_grad      5.8e-6     conv2d_grad_input    4.1e-6
//   batch_norm_train     3.6e-6     optimizer_update     2.8e-6
//   matmul               2.0e-6     avg_pool2d_grad      1.9e-6
//   max_pool2d_grad      1.3e-6     prelu_grad           9.4e-7
//   reduce_sum           5.1e-7     regularizer_grad     1.2e-7
//   global_avg_pool_grad 6.7e-8     running_stats_update 5.2e-8
//   dropout_train        5.1e-8     regularizer          5.0e-8
//   scale                3.2e-8     slice                0
//   values at kinks      1.7e-7 (relative; every 0 exactly 0)
//   grid_sample_grad     3.9e-5 (bicubic dx; its dgrid 2.1e-5 at a step
//                        of 1e-4, 7.4e-4 at 1e-3; measured at 2026-12-03)
//
// Every case is registered with sharedKernelBatch() when the case tables
// are built (before any test runs), so the first test compiles every kernel
// of both test files in one compileKernels call: 106 kernels here, ~30 s
// on a cold cache (2 cores) for both files together.
#include "KernelHarness.h"
#include "TestSupport.h"
#include "reference/Reference.h"
#include "reference/ReferenceGrad.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace kiln::test {
namespace {

namespace ref = kiln::reference;
using codegen::KernelSpec;
using nlohmann::json;

constexpr double kTolerance = 1e-5;   // forward-like ops
constexpr double kFdTolerance = 1e-3; // gradients against finite differences
constexpr double kFdStep = 1e-3;      // h of numericGrad (scaled by |x|)
constexpr double kKinkGap = 5e-2;     // FD inputs keep this far from kinks

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

enum class Check {
  Forward,  // 1e-5 · max(1, |want|)
  Gradient, // 1e-3 · max(|want|, 1e-2 · max|want|)
};

struct GradCase {
  std::string name; // unique within its op
  KernelSpec spec;
  std::vector<Operand> inputs;
  // The expected outputs, in spec order. Computed when the test runs
  // (finite differences are not free; listing tests should stay fast).
  std::function<std::vector<ref::Tensor>()> expected;
  Check check = Check::Gradient;
  // A GPU target's tolerance where it differs from the CPU's (0: the same;
  // each one listed with its reason in docs/gpu.md, Tests).
  double gpuTolerance = 0;
};

void PrintTo(const GradCase *c, std::ostream *os) {
  *os << c->spec.op << "/" << c->name;
}

// Every spec key this file registers (to pick this file's codegen failures
// out of the shared batch).
std::set<std::string> &registeredKeys() {
  static std::set<std::string> keys;
  return keys;
}

void registerSpec(const KernelSpec &spec) {
  registeredKeys().insert(spec.key());
  sharedKernelBatch().add(spec);
}

KernelSpec makeSpec(const std::string &op, json attrs,
                    const std::vector<Operand> &inputs,
                    const std::vector<std::vector<int64_t>> &outputShapes) {
  KernelSpec spec;
  spec.op = op;
  spec.attrs = std::move(attrs);
  for (const Operand &input : inputs) {
    spec.inputs.push_back({input.values.shape, input.dtype});
  }
  for (const std::vector<int64_t> &shape : outputShapes) {
    spec.outputs.push_back({shape, codegen::DType::F32});
  }
  return spec;
}

class GradCaseTable {
public:
  void add(std::string name, std::string op, json attrs,
           std::vector<Operand> inputs,
           std::vector<std::vector<int64_t>> outputShapes,
           std::function<std::vector<ref::Tensor>()> expected,
           Check check = Check::Gradient, double gpuTolerance = 0) {
    GradCase c;
    c.name = std::move(name);
    c.spec = makeSpec(op, std::move(attrs), inputs, outputShapes);
    c.inputs = std::move(inputs);
    c.expected = std::move(expected);
    c.check = check;
    c.gpuTolerance = gpuTolerance;
    registerSpec(c.spec);
    byOp_[c.spec.op].push_back(std::move(c));
  }
  std::vector<const GradCase *> casesOf(const std::string &op) const {
    std::vector<const GradCase *> cases;
    auto it = byOp_.find(op);
    if (it != byOp_.end()) {
      for (const GradCase &c : it->second) {
        cases.push_back(&c);
      }
    }
    return cases;
  }
  // The case the kink tests reuse the kernel of (same spec, other inputs).
  const GradCase &find(const std::string &op, const std::string &name) const {
    for (const GradCase *c : casesOf(op)) {
      if (c->name == name) {
        return *c;
      }
    }
    throw std::logic_error("no case " + op + "/" + name);
  }

private:
  std::map<std::string, std::vector<GradCase>> byOp_;
};

ref::Tensor toFloat(ref::Tensor t) { // what the kernel sees of a result
  for (double &v : t.data) {
    v = static_cast<float>(v);
  }
  return t;
}

// The vector-Jacobian product of `forward` at `at` by central differences.
using Forward = std::function<ref::Tensor(const ref::Tensor &)>;
ref::Tensor vjp(const Forward &forward, const ref::Tensor &at,
                const ref::Tensor &dy, double h = kFdStep) {
  return ref::numericGrad(
      [&](const ref::Tensor &t) { return ref::dot(forward(t), dy); }, at, h);
}

// Moves every value within `gap` of a kink to kink ± gap (float-rounded).
void keepAwayFrom(ref::Tensor &t, std::vector<double> kinks,
                  double gap = kKinkGap) {
  for (double &v : t.data) {
    for (double k : kinks) {
      if (std::abs(v - k) < gap) {
        v = static_cast<float>(v >= k ? k + gap : k - gap);
      }
    }
  }
}

// All values distinct, `spacing` apart, in random order, centred on 0: no
// two elements of a max-pool window within a finite-difference step.
ref::Tensor distinctValues(Rng &rng, std::vector<int64_t> shape,
                           double spacing) {
  ref::Tensor t(std::move(shape));
  const size_t n = t.data.size();
  for (size_t i = 0; i < n; ++i) {
    t.data[i] =
        static_cast<float>((static_cast<double>(i) - n / 2.0) * spacing);
  }
  for (size_t i = n; i-- > 1;) { // Fisher-Yates
    std::swap(t.data[i], t.data[rng.next() % (i + 1)]);
  }
  return t;
}

// ----- layers --------------------------------------------------------------

ref::Conv2dParams convParams(std::array<int64_t, 2> strides,
                             std::array<int64_t, 4> pads,
                             std::array<int64_t, 2> dilations = {1, 1},
                             int64_t groups = 1) {
  ref::Conv2dParams p;
  p.strides = strides;
  p.pads = pads;
  p.dilations = dilations;
  p.groups = groups;
  return p;
}

// pad_grad against finite differences of the reference pad.
void addPadGrad(GradCaseTable &table, const std::string &name,
                std::vector<int64_t> xShape, std::vector<int64_t> pads,
                const std::string &mode) {
  Rng rng("pad_grad/" + name);
  const ref::Tensor x = rng.tensor(xShape, -1, 1);
  const ref::Tensor dy = rng.tensor(ref::pad(x, pads, mode).shape, -1, 1);
  table.add(name, "pad_grad",
            {{"pads", pads}, {"mode", mode}, {"input_shape", xShape}},
            f32({dy}), {xShape}, [=] {
              return std::vector<ref::Tensor>{vjp(
                  [&](const ref::Tensor &v) {
                    return ref::pad(v, pads, mode);
                  },
                  x, dy)};
            });
}

// Both conv gradients of one convolution.
void addConvGrads(GradCaseTable &table, const std::string &name,
                  std::vector<int64_t> xShape, int64_t outChannels,
                  std::array<int64_t, 2> kernel, const ref::Conv2dParams &p) {
  Rng rng("conv2d_grad/" + name);
  const ref::Tensor x = rng.tensor(xShape, -1, 1);
  const ref::Tensor w = rng.tensor(
      {outChannels, xShape[1] / p.groups, kernel[0], kernel[1]}, -1, 1);
  const ref::Tensor dy = rng.tensor(ref::conv2d(x, w, nullptr, p).shape, -1, 1);
  const json attrs = {{"strides", p.strides},
                      {"pads", p.pads},
                      {"dilations", p.dilations},
                      {"groups", p.groups}};
  json inputAttrs = attrs;
  inputAttrs["input_size"] = {xShape[2], xShape[3]};
  table.add(
      name, "conv2d_grad_input", inputAttrs, f32({dy, w}), {x.shape}, [=] {
        return std::vector<ref::Tensor>{vjp(
            [&](const ref::Tensor &v) { return ref::conv2d(v, w, nullptr, p); },
            x, dy)};
      });
  json weightAttrs = attrs;
  weightAttrs["kernel"] = kernel;
  table.add(
      name, "conv2d_grad_weight", weightAttrs, f32({x, dy}), {w.shape}, [=] {
        return std::vector<ref::Tensor>{vjp(
            [&](const ref::Tensor &v) { return ref::conv2d(x, v, nullptr, p); },
            w, dy)};
      });
}

// kiln-winograd's form of a stride-1 3x3 conv2d_grad_input: conv2d_winograd
// of dy with the input-gradient filter (from the reference transform) and
// pads 2 - pad, against finite differences of the forward; and the filter
// kernel itself.
void addWinogradGradInput(GradCaseTable &table, const std::string &name,
                          std::vector<int64_t> xShape, int64_t outChannels,
                          std::array<int64_t, 4> pads, int tile = 2,
                          int64_t block = 8) {
  Rng rng("conv2d_winograd_grad/" + name);
  const ref::Conv2dParams p = convParams({1, 1}, pads);
  const ref::Tensor x = rng.tensor(xShape, -1, 1);
  const ref::Tensor w = rng.tensor({outChannels, xShape[1], 3, 3}, -1, 1);
  const ref::Tensor dy = rng.tensor(ref::conv2d(x, w, nullptr, p).shape, -1, 1);
  const ref::Tensor u =
      ref::packWinogradFilter(ref::winogradFilter(w, true, tile), block);
  std::array<int64_t, 4> turned;
  for (int i = 0; i < 4; ++i) {
    turned[i] = 2 - pads[i];
  }
  table.add(name, "conv2d_winograd", {{"pads", turned}, {"tile", tile}},
            f32({dy, u}),
            {x.shape}, [=] {
              return std::vector<ref::Tensor>{vjp(
                  [&](const ref::Tensor &v) {
                    return ref::conv2d(v, w, nullptr, p);
                  },
                  x, dy)};
            });
  table.add(
      name, "winograd_filter",
      {{"input_gradient", true}, {"tile", tile}, {"block", block}}, f32({w}),
      {u.shape}, [=] { return std::vector<ref::Tensor>{u}; }, Check::Forward);
}

// The weight gradient of a 3x3 stride-1 convolution as its defining sum:
// dw[o][c][ky][kx] = sum over n, oy, ox of dy[n][o][oy][ox] *
// x[n][c][oy + ky - top][ox + kx - left] (zero outside the image). Exact,
// for planes too large for finite differences.
ref::Tensor gradWeightBySum(const ref::Tensor &x, const ref::Tensor &dy,
                            std::array<int64_t, 4> pads) {
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2],
                wd = x.shape[3], o = dy.shape[1], oh = dy.shape[2],
                ow = dy.shape[3];
  ref::Tensor dw({o, c, 3, 3});
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t oc = 0; oc < o; ++oc) {
      for (int64_t ic = 0; ic < c; ++ic) {
        for (int64_t ky = 0; ky < 3; ++ky) {
          for (int64_t kx = 0; kx < 3; ++kx) {
            double sum = 0;
            for (int64_t oy = 0; oy < oh; ++oy) {
              int64_t iy = oy + ky - pads[0];
              for (int64_t ox = 0; iy >= 0 && iy < h && ox < ow; ++ox) {
                int64_t ix = ox + kx - pads[1];
                if (ix >= 0 && ix < wd) {
                  sum += dy.data[((b * o + oc) * oh + oy) * ow + ox] *
                         x.data[((b * c + ic) * h + iy) * wd + ix];
                }
              }
            }
            dw.data[((oc * c + ic) * 3 + ky) * 3 + kx] += sum;
          }
        }
      }
    }
  }
  return dw;
}

// conv2d_grad_weight with kiln-winograd's tile (F(m x m, 3x3) over the
// batch's tiles), against finite differences of the forward, or with
// `bySum` against gradWeightBySum.
void addWinogradGradWeight(GradCaseTable &table, const std::string &name,
                           std::vector<int64_t> xShape, int64_t outChannels,
                           std::array<int64_t, 4> pads, int tile,
                           bool bySum = false) {
  Rng rng("conv2d_grad_weight_winograd/" + name);
  const ref::Conv2dParams p = convParams({1, 1}, pads);
  const ref::Tensor x = rng.tensor(xShape, -1, 1);
  const ref::Tensor w = rng.tensor({outChannels, xShape[1], 3, 3}, -1, 1);
  const ref::Tensor dy = rng.tensor(ref::conv2d(x, w, nullptr, p).shape, -1, 1);
  const json attrs = {{"strides", p.strides}, {"pads", p.pads},
                      {"dilations", p.dilations}, {"groups", 1},
                      {"kernel", {3, 3}}, {"tile", tile}};
  table.add(name, "conv2d_grad_weight", attrs, f32({x, dy}), {w.shape}, [=] {
    if (bySum) {
      return std::vector<ref::Tensor>{gradWeightBySum(x, dy, pads)};
    }
    return std::vector<ref::Tensor>{vjp(
        [&](const ref::Tensor &v) { return ref::conv2d(x, v, nullptr, p); },
        w, dy)};
  });
}

// The canonical pads of docs/ops.md: ceil_mode's extra bottom/right padding
// folded into the user's pads.
std::array<int64_t, 4> canonicalPads(const std::vector<int64_t> &xShape,
                                     const std::vector<int64_t> &yShape,
                                     const ref::Pool2dParams &p) {
  std::array<int64_t, 4> pads = p.pads;
  for (int d = 0; d < 2; ++d) {
    const int64_t reach = (yShape[2 + d] - 1) * p.strides[d] +
                          p.dilations[d] * (p.kernel[d] - 1) + 1;
    pads[2 + d] +=
        std::max<int64_t>(0, reach - (xShape[2 + d] + pads[d] + pads[2 + d]));
  }
  return pads;
}

void addMaxPoolGrad(GradCaseTable &table, const std::string &name,
                    std::vector<int64_t> xShape, const ref::Pool2dParams &p) {
  Rng rng("max_pool2d_grad/" + name);
  // 0.02 apart: more than twice the largest FD step (|x| <= ~7).
  const ref::Tensor x = distinctValues(rng, xShape, 0.02);
  const ref::Tensor y = ref::maxPool2d(x, p);
  const ref::Tensor dy = rng.tensor(y.shape, -1, 1);
  const json attrs = {{"kernel", p.kernel},
                      {"strides", p.strides},
                      {"pads", canonicalPads(xShape, y.shape, p)},
                      {"dilations", p.dilations}};
  table.add(name, "max_pool2d_grad", attrs, f32({x, dy}), {x.shape}, [=] {
    return std::vector<ref::Tensor>{
        vjp([&](const ref::Tensor &v) { return ref::maxPool2d(v, p); }, x, dy)};
  });
}

// kiln-fuse's prologue with a pool (a "fused" kernel): batch_norm_grad of
// z reading dy = relu'(a) * max_pool2d_grad(a, dpool), checked against the
// composition of the closed-form references. a (the pool's input) is any
// set of distinct values, negative ones too (so that relu' masks), z and
// its statistics another tensor: the kernel composes the three ops whether
// or not a = relu(bn(z)).
// Gradient sinks after the prologue's batch_norm_grad (kiln-fuse's
// `sinks`): the channel sum of dx and/or conv2d_grad_weight of an input
// [N, inChannels, ...] (0: none) and dx, with dx written or not.
struct PrologueSinks {
  bool sum = false;
  int64_t inChannels = 0;
  std::array<int64_t, 2> kernel{3, 3};
  ref::Conv2dParams conv;
  bool writesDx = true;
  // kiln-fuse's `recompute`: the pool's input is not an input but
  // relu(batch_norm(z, w, beta, mean, var)), computed by the kernel's first
  // nodes (input 0 is then beta).
  bool recompute = false;
};

// Every (image, output channel, output position, input channel, tap) of a
// one-group conv2d whose input position is inside x: f(x index, dy index,
// weight index), iy = oy*sh + ky*dh - padTop, likewise ix.
template <typename F>
void forEachConvTap(const std::vector<int64_t> &xShape,
                    const std::vector<int64_t> &dyShape,
                    std::array<int64_t, 2> kernel, const ref::Conv2dParams &p,
                    F f) {
  const int64_t n = xShape[0], c = xShape[1], h = xShape[2], w = xShape[3],
                o = dyShape[1], oh = dyShape[2], ow = dyShape[3];
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t oc = 0; oc < o; ++oc) {
      for (int64_t oy = 0; oy < oh; ++oy) {
        for (int64_t ox = 0; ox < ow; ++ox) {
          int64_t d = ((b * o + oc) * oh + oy) * ow + ox;
          for (int64_t ic = 0; ic < c; ++ic) {
            for (int64_t ky = 0; ky < kernel[0]; ++ky) {
              int64_t iy = oy * p.strides[0] + ky * p.dilations[0] - p.pads[0];
              for (int64_t kx = 0; kx < kernel[1]; ++kx) {
                int64_t ix =
                    ox * p.strides[1] + kx * p.dilations[1] - p.pads[1];
                if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                  f(((b * c + ic) * h + iy) * w + ix, d,
                    ((oc * c + ic) * kernel[0] + ky) * kernel[1] + kx);
                }
              }
            }
          }
        }
      }
    }
  }
}

// conv2d_grad_weight as the plain sum over images and output positions:
// dw[o][c][ky][kx] = sum dy[n][o][oy][ox] * x[n][c][iy][ix].
ref::Tensor convGradWeightLoops(const ref::Tensor &x, const ref::Tensor &dy,
                                std::array<int64_t, 2> kernel,
                                const ref::Conv2dParams &p) {
  ref::Tensor dw({dy.shape[1], x.shape[1], kernel[0], kernel[1]});
  forEachConvTap(x.shape, dy.shape, kernel, p,
                 [&](int64_t xi, int64_t di, int64_t wi) {
                   dw.data[wi] += dy.data[di] * x.data[xi];
                 });
  return dw;
}

// conv2d_grad_input as the plain scatter of every dy element over its
// window: dx[n][c][iy][ix] += w[o][c][ky][kx] * dy[n][o][oy][ox].
ref::Tensor convGradInputLoops(const ref::Tensor &dy, const ref::Tensor &w,
                               std::vector<int64_t> xShape,
                               const ref::Conv2dParams &p) {
  ref::Tensor dx(xShape);
  forEachConvTap(xShape, dy.shape, {w.shape[2], w.shape[3]}, p,
                 [&](int64_t xi, int64_t di, int64_t wi) {
                   dx.data[xi] += dy.data[di] * w.data[wi];
                 });
  return dx;
}

// conv2d_grad_input and conv2d_grad_weight against convGradInputLoops and
// convGradWeightLoops (no vjp: sizes where one conv2d per input or weight
// element would take minutes).
void addConvGradLoops(GradCaseTable &table, const std::string &name,
                      std::vector<int64_t> xShape, int64_t outChannels,
                      std::array<int64_t, 2> kernel,
                      const ref::Conv2dParams &p) {
  Rng rng("conv2d_grad_loops/" + name);
  const ref::Tensor x = rng.tensor(xShape, -1, 1);
  const ref::Tensor w =
      rng.tensor({outChannels, xShape[1], kernel[0], kernel[1]}, -1, 1);
  const ref::Tensor dy = rng.tensor(ref::conv2d(x, w, nullptr, p).shape, -1, 1);
  const json attrs = {{"strides", p.strides}, {"pads", p.pads},
                      {"dilations", p.dilations}, {"groups", 1}};
  json inputAttrs = attrs, weightAttrs = attrs;
  inputAttrs["input_size"] = {xShape[2], xShape[3]};
  weightAttrs["kernel"] = kernel;
  table.add(name, "conv2d_grad_input", inputAttrs, f32({dy, w}), {x.shape},
            [=] {
              return std::vector<ref::Tensor>{
                  convGradInputLoops(dy, w, xShape, p)};
            });
  table.add(name, "conv2d_grad_weight", weightAttrs, f32({x, dy}), {w.shape},
            [=] {
              return std::vector<ref::Tensor>{
                  convGradWeightLoops(x, dy, kernel, p)};
            });
}

// The prologue's reference: batch_norm_grad of z with dy = relu'(a) *
// max_pool2d_grad(a, dpool).
ref::BatchNormGradResult poolPrologueGrad(const ref::Tensor &a,
                                          const ref::Tensor &dpool,
                                          const ref::Pool2dParams &p,
                                          const ref::Tensor &z,
                                          const ref::Tensor &w,
                                          const ref::Tensor &mean,
                                          const ref::Tensor &var,
                                          double epsilon) {
  ref::Tensor dy = ref::maxPool2dGrad(a, dpool, p);
  for (size_t i = 0; i < dy.data.size(); ++i) {
    dy.data[i] *= ref::activationDerivative(ref::Activation::Relu, a.data[i]);
  }
  return ref::batchNormGrad(z, dy, w, mean, var, epsilon);
}

// A conv2d_grad_weight gradient sink reading input `input` and dx.
json convGradWeightSink(const ref::Conv2dParams &cp,
                        std::array<int64_t, 2> kernel, int64_t input) {
  return {{"op", "conv2d_grad_weight"},
          {"attrs",
           {{"strides", cp.strides},
            {"pads", cp.pads},
            {"dilations", cp.dilations},
            {"groups", 1},
            {"kernel", kernel},
            {"tile", 0}}},
          {"operands", {input, -1}}};
}

void addPoolPrologue(GradCaseTable &table, const std::string &name,
                     std::vector<int64_t> xShape, const ref::Pool2dParams &p,
                     const PrologueSinks &sinks = {}) {
  Rng rng("fused_pool_prologue/" + name);
  const int64_t c = xShape[1];
  const double epsilon = 1e-5;
  ref::Tensor a = distinctValues(rng, xShape, 0.02);
  ref::Tensor z = rng.tensor(xShape, -2, 3);
  const ref::Tensor w = rng.tensor({c}, 0.5, 1.5);
  const ref::BatchNormTrainResult stats =
      ref::batchNormTrain(z, w, rng.tensor({c}, -1, 1), epsilon);
  ref::Tensor mean = toFloat(stats.mean), var = toFloat(stats.var);
  const ref::Tensor beta({c}); // zeros
  if (sinks.recompute) {
    // z distinct and away from 0, mean 0 and beta 0: a = relu(z * w /
    // sqrt(var + eps)) keeps z's order and signs in float and double, so
    // the windows' winners and ReLU's mask are the reference's. z spans
    // [-3, 3], as normalized activations do: spread as a (+-48 against var
    // 0.5-2, x̂ up to +-68), float32 sums of the conv sink's products were
    // 1.0e-5 to 2.9e-5 relative off in every summation order tried.
    z = distinctValues(rng, xShape,
                       6.0 / static_cast<double>(a.data.size()));
    mean = ref::Tensor({c});
    var = rng.tensor({c}, 0.5, 2);
    for (size_t i = 0; i < a.data.size(); ++i) {
      const int64_t ch = static_cast<int64_t>(i) /
                         (xShape[2] * xShape[3]) % c;
      a.data[i] = std::max(
          0.0, z.data[i] * w.data[ch] / std::sqrt(var.data[ch] + epsilon));
    }
  }
  const ref::Tensor dpool = rng.tensor(ref::maxPool2d(a, p).shape, -1, 1);
  const json pool = {{"op", "max_pool2d_grad"},
                     {"attrs",
                      {{"kernel", p.kernel},
                       {"strides", p.strides},
                       {"pads", canonicalPads(xShape, dpool.shape, p)},
                       {"dilations", p.dilations}}},
                     {"operands", {sinks.recompute ? -1 : 0, 1}}};
  const json relu = {{"op", "activation_grad"},
                     {"attrs", {{"activation", "relu"}}},
                     {"operands", {sinks.recompute ? -2 : 0, -1}}};
  json nodes = {pool, relu};
  if (sinks.recompute) {
    nodes.insert(nodes.begin(),
                 {{{"op", "batch_norm"},
                   {"attrs",
                    {{"epsilon", epsilon}, {"momentum", 0.1},
                     {"training", false}}},
                   {"operands", {2, 3, 0, 4, 5}}},
                  {{"op", "relu"}, {"attrs", json::object()},
                   {"operands", {-1}}}});
  }
  json attrs = {{"kind", "prologue"},
                {"anchor", ""},
                {"anchor_attrs", json::object()},
                {"anchor_inputs", json::array()},
                {"nodes", nodes},
                {"consumer", "batch_norm_grad"},
                {"consumer_attrs", {{"epsilon", epsilon}}},
                {"consumer_inputs", {2, -1, 3, 4, 5}}};
  std::vector<ref::Tensor> inputs = {sinks.recompute ? beta : a, dpool, z,
                                     w, mean, var};
  std::vector<std::vector<int64_t>> outputs = {{c}, {c}};
  if (sinks.writesDx) {
    outputs.insert(outputs.begin(), xShape);
  }
  // The conv whose output z is: input [N, inChannels, ...] at its stride
  // and pads, giving z's plane.
  ref::Tensor convIn;
  if (sinks.inChannels > 0) {
    const auto &cp = sinks.conv;
    std::vector<int64_t> inShape = {
        xShape[0], sinks.inChannels,
        (xShape[2] - 1) * cp.strides[0] + (sinks.kernel[0] - 1) * cp.dilations[0] +
            1 - cp.pads[0] - cp.pads[2],
        (xShape[3] - 1) * cp.strides[1] + (sinks.kernel[1] - 1) * cp.dilations[1] +
            1 - cp.pads[1] - cp.pads[3]};
    convIn = rng.tensor(inShape, -1, 1);
    inputs.push_back(convIn);
    attrs["sinks"].push_back(convGradWeightSink(cp, sinks.kernel, 6));
    outputs.push_back({c, sinks.inChannels, sinks.kernel[0], sinks.kernel[1]});
  }
  if (sinks.sum) {
    attrs["sinks"].push_back({{"op", "reduce_sum"},
                              {"attrs", {{"axes", {0, 2, 3}}, {"keepdims", false}}},
                              {"operands", {-1}}});
    outputs.push_back({c});
  }
  if (attrs.contains("sinks")) {
    attrs["writes_dx"] = sinks.writesDx;
  }
  table.add(name, "fused", attrs, f32(inputs), outputs,
            [=] {
              ref::BatchNormGradResult grad =
                  poolPrologueGrad(a, dpool, p, z, w, mean, var, epsilon);
              std::vector<ref::Tensor> want = {grad.dweight, grad.dbias};
              if (sinks.writesDx) {
                want.insert(want.begin(), grad.dx);
              }
              if (sinks.inChannels > 0) {
                want.push_back(convGradWeightLoops(convIn, grad.dx,
                                                   sinks.kernel, sinks.conv));
              }
              if (sinks.sum) {
                want.push_back(ref::reduceSum(grad.dx, {0, 2, 3}, false));
              }
              return want;
            },
            Check::Forward);
}

void addAvgPoolGrad(GradCaseTable &table, const std::string &name,
                    std::vector<int64_t> xShape, const ref::Pool2dParams &p) {
  Rng rng("avg_pool2d_grad/" + name);
  const ref::Tensor x = rng.tensor(xShape, -3, 3); // any x: linear
  const ref::Tensor y = ref::avgPool2d(x, p);
  const ref::Tensor dy = rng.tensor(y.shape, -1, 1);
  const json attrs = {{"kernel", p.kernel},
                      {"strides", p.strides},
                      {"pads", canonicalPads(xShape, y.shape, p)},
                      {"divisor_pads", p.pads},
                      {"count_include_pad", p.countIncludePad},
                      {"input_size", {xShape[2], xShape[3]}}};
  table.add(name, "avg_pool2d_grad", attrs, f32({dy}), {x.shape}, [=] {
    return std::vector<ref::Tensor>{
        vjp([&](const ref::Tensor &v) { return ref::avgPool2d(v, p); }, x, dy)};
  });
}

void addGlobalAvgPoolGrad(GradCaseTable &table, const std::string &name,
                          std::vector<int64_t> xShape) {
  Rng rng("global_avg_pool_grad/" + name);
  const ref::Tensor x = rng.tensor(xShape, -3, 3);
  const ref::Tensor dy = rng.tensor({xShape[0], xShape[1], 1, 1}, -1, 1);
  table.add(name, "global_avg_pool_grad",
            {{"input_size", {xShape[2], xShape[3]}}}, f32({dy}), {xShape}, [=] {
              return std::vector<ref::Tensor>{vjp(ref::globalAvgPool, x, dy)};
            });
}

void addBatchNormGrad(GradCaseTable &table, const std::string &name,
                      std::vector<int64_t> xShape, double epsilon,
                      double low = -2, double high = 3, double h = kFdStep) {
  Rng rng("batch_norm_grad/" + name);
  const int64_t c = xShape[1];
  const ref::Tensor x = rng.tensor(xShape, low, high);
  const ref::Tensor dy = rng.tensor(xShape, -1, 1);
  const ref::Tensor w = rng.tensor({c}, 0.5, 1.5);
  const ref::Tensor b = rng.tensor({c}, -1, 1);
  const ref::BatchNormTrainResult stats = ref::batchNormTrain(x, w, b, epsilon);
  const std::vector<ref::Tensor> inputs = {x, dy, w, toFloat(stats.mean),
                                           toFloat(stats.var)};
  table.add(
      name, "batch_norm_grad", {{"epsilon", epsilon}}, f32(inputs),
      {xShape, {c}, {c}}, [=] {
        auto y = [&](const ref::Tensor &xv, const ref::Tensor &wv,
                     const ref::Tensor &bv) {
          return ref::batchNormTrain(xv, wv, bv, epsilon).y;
        };
        return std::vector<ref::Tensor>{
            vjp([&](const ref::Tensor &v) { return y(v, w, b); }, x, dy, h),
            vjp([&](const ref::Tensor &v) { return y(x, v, b); }, w, dy, h),
            vjp([&](const ref::Tensor &v) { return y(x, w, v); }, b, dy, h)};
      });
}

void addLayerNormGrad(GradCaseTable &table, const std::string &name,
                      std::vector<int64_t> xShape, int64_t axis, bool affine,
                      double epsilon) {
  Rng rng("layer_norm_grad/" + name);
  const ref::Tensor x = rng.tensor(xShape, -2, 3);
  const ref::Tensor dy = rng.tensor(xShape, -1, 1);
  const std::vector<int64_t> normShape(xShape.begin() + axis, xShape.end());
  const ref::Tensor w = rng.tensor(normShape, 0.5, 1.5);
  const ref::Tensor b = rng.tensor(normShape, -1, 1);
  const json attrs = {{"axis", axis}, {"epsilon", epsilon}};
  if (!affine) {
    table.add(name, "layer_norm_grad", attrs, f32({x, dy}), {xShape}, [=] {
      return std::vector<ref::Tensor>{vjp(
          [&](const ref::Tensor &v) {
            return ref::layerNorm(v, nullptr, nullptr, axis, epsilon);
          },
          x, dy)};
    });
    return;
  }
  table.add(name, "layer_norm_grad", attrs, f32({x, dy, w}),
            {xShape, normShape, normShape}, [=] {
              auto y = [&](const ref::Tensor &xv, const ref::Tensor &wv,
                           const ref::Tensor &bv) {
                return ref::layerNorm(xv, &wv, &bv, axis, epsilon);
              };
              return std::vector<ref::Tensor>{
                  vjp([&](const ref::Tensor &v) { return y(v, w, b); }, x, dy),
                  vjp([&](const ref::Tensor &v) { return y(x, v, b); }, w, dy),
                  vjp([&](const ref::Tensor &v) { return y(x, w, v); }, b, dy)};
            });
}

// ----- activations ---------------------------------------------------------

void addActivationGrad(GradCaseTable &table, const std::string &name,
                       ref::Activation kind, json attrs,
                       std::vector<int64_t> shape, double low, double high,
                       std::vector<double> kinks,
                       const ref::ActivationParams &params = {}) {
  Rng rng("activation_grad/" + name);
  ref::Tensor x = rng.tensor(shape, low, high);
  keepAwayFrom(x, kinks);
  const ref::Tensor dy = rng.tensor(shape, -1, 1);
  table.add(name, "activation_grad", std::move(attrs), f32({x, dy}), {shape},
            [=] {
              return std::vector<ref::Tensor>{vjp(
                  [&](const ref::Tensor &v) {
                    return ref::elementwise(kind, v, params);
                  },
                  x, dy)};
            });
}

void addPreluGrad(GradCaseTable &table, const std::string &name,
                  std::vector<int64_t> shape, int64_t slopes) {
  Rng rng("prelu_grad/" + name);
  ref::Tensor x = rng.tensor(shape, -4, 4);
  keepAwayFrom(x, {0});
  const ref::Tensor slope = rng.tensor({slopes}, -0.5, 0.5);
  const ref::Tensor dy = rng.tensor(shape, -1, 1);
  table.add(
      name, "prelu_grad", json::object(), f32({x, slope, dy}),
      {shape, {slopes}}, [=] {
        return std::vector<ref::Tensor>{
            vjp([&](const ref::Tensor &v) { return ref::prelu(v, slope); }, x,
                dy),
            vjp([&](const ref::Tensor &v) { return ref::prelu(x, v); }, slope,
                dy)};
      });
}

// grid_sample_grad: dx and dgrid against the vector-Jacobian products of
// the reference grid_sample in the input and in the grid. The grid's pixel
// coordinates keep 0.1 pixel or more from the integers and the
// half-integers, where taps switch, the nearest pixel changes and the
// paddings clamp or fold (a finite-difference step moves them < 0.01).
void addGridSampleGrad(GradCaseTable &table, const std::string &name,
                       std::vector<int64_t> shape, int64_t oh, int64_t ow,
                       const std::string &mode, const std::string &padding,
                       bool alignCorners) {
  Rng rng("grid_sample_grad/" + name);
  const ref::Tensor x = rng.tensor(shape, -2, 2);
  ref::Tensor grid({shape[0], oh, ow, 2});
  for (size_t i = 0; i < grid.data.size(); ++i) {
    int64_t size = shape[i % 2 == 0 ? 3 : 2];
    double whole =
        static_cast<double>(rng.integer(-2, static_cast<int32_t>(size) + 2));
    double frac = rng.uniform(0.1, 0.4);
    double at = whole + (rng.integer(0, 2) == 0 ? frac : 1 - frac);
    grid.data[i] =
        static_cast<float>(ref::gridCoordinate(at, size, alignCorners));
  }
  const ref::Tensor dy = rng.tensor({shape[0], shape[1], oh, ow}, -1, 1);
  table.add(name, "grid_sample_grad",
            {{"mode", mode}, {"padding_mode", padding},
             {"align_corners", alignCorners}},
            f32({x, grid, dy}), {shape, grid.shape}, [=] {
              auto sample = [&](const ref::Tensor &a, const ref::Tensor &g) {
                return ref::gridSample(a, g, mode, padding, alignCorners);
              };
              return std::vector<ref::Tensor>{
                  vjp([&](const ref::Tensor &v) { return sample(v, grid); }, x,
                      dy),
                  // A step of 1e-4: bicubic's weights, cubic in the
                  // coordinate, left a truncation error of up to 7.4e-4
                  // at 1e-3 (2e-5 at 1e-4).
                  vjp([&](const ref::Tensor &v) { return sample(x, v); },
                      grid, dy, 1e-4)};
            });
}

// gather_grad and gather_elements_grad against the vector-Jacobian product
// of the reference gather (gather_elements): indices drawn from few rows,
// so that they repeat and their dy add up, and negative ones.
void addGatherGrad(GradCaseTable &table, const std::string &op,
                   const std::string &name, std::vector<int64_t> xShape,
                   std::vector<int64_t> indexShape, int64_t axis) {
  Rng rng(op + "/" + name);
  const ref::Tensor x = rng.tensor(xShape, -2, 2);
  ref::Tensor indices(std::move(indexShape));
  const int32_t rows = static_cast<int32_t>(xShape[axis]);
  for (double &v : indices.data) {
    v = rng.integer(-rows, std::min(rows, 3)); // repeats, negatives
  }
  bool elements = op == "gather_elements_grad";
  auto gather = [=](const ref::Tensor &v) {
    return elements ? ref::gatherElements(v, indices, axis)
                    : ref::gather(v, indices, axis);
  };
  const ref::Tensor dy = rng.tensor(gather(x).shape, -1, 1);
  json attrs = {{"axis", axis}};
  if (elements) {
    attrs["shape"] = xShape;
  } else {
    attrs["size"] = rows;
  }
  table.add(name, op, attrs,
            {{indices, codegen::DType::I32}, {dy, codegen::DType::F32}},
            {xShape}, [=] {
              return std::vector<ref::Tensor>{vjp(gather, x, dy)};
            });
}

// resize_grad: the vector-Jacobian product of the reference's resize
// (linear in its input) at random dy.
void addResizeGrad(GradCaseTable &table, const std::string &name,
                   std::vector<int64_t> xShape, int64_t oh, int64_t ow,
                   const ref::ResizeSpec &spec) {
  Rng rng("resize_grad/" + name);
  const ref::Tensor x = rng.tensor(xShape, -2, 2);
  std::vector<int64_t> yShape = xShape;
  yShape[yShape.size() - 2] = oh;
  yShape[yShape.size() - 1] = ow;
  const ref::Tensor dy = rng.tensor(yShape, -1, 1);
  int64_t h = xShape[xShape.size() - 2], w = xShape[xShape.size() - 1];
  nlohmann::json attrs = resizeAttrs(spec, oh, ow);
  attrs["input_sizes"] = {h, w};
  table.add(name, "resize_grad", attrs, f32({dy}), {xShape}, [=] {
              return std::vector<ref::Tensor>{vjp(
                  [&](const ref::Tensor &v) {
                    return ref::resize(v, oh, ow, spec);
                  },
                  x, dy)};
            });
}

void addLrnGrad(GradCaseTable &table, const std::string &name,
                std::vector<int64_t> shape, int64_t size, double alpha,
                double beta, double bias) {
  Rng rng("lrn_grad/" + name);
  const ref::Tensor x = rng.tensor(shape, -2, 2);
  const ref::Tensor dy = rng.tensor(shape, -1, 1);
  table.add(name, "lrn_grad",
            {{"size", size}, {"alpha", alpha}, {"beta", beta}, {"bias", bias}},
            f32({x, dy}), {shape}, [=] {
              return std::vector<ref::Tensor>{vjp(
                  [&](const ref::Tensor &v) {
                    return ref::lrn(v, size, alpha, beta, bias);
                  },
                  x, dy)};
            });
}

void addSoftmaxGrad(GradCaseTable &table, const std::string &name,
                    std::vector<int64_t> shape, int64_t axis, bool log) {
  Rng rng("softmax_grad/" + name);
  const ref::Tensor x = rng.tensor(shape, -5, 5);
  const ref::Tensor dy = rng.tensor(shape, -1, 1);
  const Forward forward = [axis, log](const ref::Tensor &v) {
    return log ? ref::logSoftmax(v, axis) : ref::softmax(v, axis);
  };
  // The kernel gets the forward *output*.
  table.add(name, "softmax_grad", {{"axis", axis}, {"log", log}},
            f32({forward(x), dy}), {shape},
            [=] { return std::vector<ref::Tensor>{vjp(forward, x, dy)}; });
}

// ----- losses --------------------------------------------------------------

using LossOf = std::function<double(const ref::Tensor &pred)>;

void addLossGrad(GradCaseTable &table, const std::string &name,
                 const std::string &loss, json attrs, const ref::Tensor &pred,
                 const Operand &target, double dloss, const LossOf &lossOf) {
  attrs["loss"] = loss;
  table.add(name, "loss_grad", attrs,
            {{pred, codegen::DType::F32},
             target,
             {scalar(dloss), codegen::DType::F32}},
            {pred.shape}, [=] {
              return std::vector<ref::Tensor>{
                  vjp([&](const ref::Tensor &v) { return scalar(lossOf(v)); },
                      pred, scalar(dloss))};
            });
}

// Pointwise losses on pred/target in [-2, 2), kept off the loss's kinks.
void addPointwiseLossGrad(GradCaseTable &table, const std::string &name,
                          const std::string &loss, json attrs,
                          std::vector<int64_t> shape, double dloss,
                          double (*lossFn)(const ref::Tensor &,
                                           const ref::Tensor &)) {
  Rng rng("loss_grad/" + name);
  const ref::Tensor target = rng.tensor(shape, -1, 1);
  ref::Tensor pred = rng.tensor(shape, -2, 2);
  for (size_t i = 0; i < pred.data.size(); ++i) {
    ref::Tensor d({}, {pred.data[i] - target.data[i]});
    keepAwayFrom(d, {0, -1, 1}); // mae's 0; huber's ±delta (1)
    pred.data[i] = static_cast<float>(target.data[i] + d.data[0]);
  }
  addLossGrad(table, name, loss, std::move(attrs), pred,
              {target, codegen::DType::F32}, dloss,
              [=](const ref::Tensor &p) { return lossFn(p, target); });
}

// ----- generic tensor ops --------------------------------------------------

// A matmul case with operands a, b and the expected product c.
void addMatmulCase(GradCaseTable &table, const std::string &name,
                   const ref::Tensor &a, const ref::Tensor &b,
                   bool transposeA, bool transposeB, const ref::Tensor &c) {
  table.add(
      name, "matmul",
      {{"transpose_a", transposeA}, {"transpose_b", transposeB}}, f32({a, b}),
      {c.shape}, [=] { return std::vector<ref::Tensor>{c}; }, Check::Forward);
}

void addMatmul(GradCaseTable &table, const std::string &name,
               std::vector<int64_t> aShape, std::vector<int64_t> bShape,
               bool transposeA, bool transposeB) {
  Rng rng("matmul/" + name);
  const ref::Tensor a = rng.tensor(aShape, -1, 1);
  const ref::Tensor b = rng.tensor(bShape, -1, 1);
  addMatmulCase(table, name, a, b, transposeA, transposeB,
                ref::matmul(a, b, transposeA, transposeB));
}

// A batch of products: the reference product of each batch element's
// matrices, stacked.
void addBatchedMatmul(GradCaseTable &table, const std::string &name,
                      std::vector<int64_t> aShape, std::vector<int64_t> bShape,
                      bool transposeA, bool transposeB) {
  Rng rng("matmul/" + name);
  const ref::Tensor a = rng.tensor(aShape, -1, 1);
  const ref::Tensor b = rng.tensor(bShape, -1, 1);
  auto element = [](const ref::Tensor &t, int64_t i) {
    ref::Tensor m({t.shape[1], t.shape[2]});
    std::copy_n(t.data.begin() + i * m.data.size(), m.data.size(),
                m.data.begin());
    return m;
  };
  std::vector<ref::Tensor> parts;
  for (int64_t i = 0; i < aShape[0]; ++i) {
    parts.push_back(
        ref::matmul(element(a, i), element(b, i), transposeA, transposeB));
  }
  ref::Tensor c({aShape[0], parts[0].shape[0], parts[0].shape[1]});
  for (size_t i = 0; i < parts.size(); ++i) {
    std::copy(parts[i].data.begin(), parts[i].data.end(),
              c.data.begin() + i * parts[i].data.size());
  }
  addMatmulCase(table, name, a, b, transposeA, transposeB, c);
}

// dense y = x·Wᵀ: dx = dy·W (matmul), dW = dyᵀ·x (matmul, transpose_a),
// checked against finite differences of the dense reference.
void addDenseGradMatmuls(GradCaseTable &table, const std::string &name,
                         int64_t n, int64_t k, int64_t o) {
  Rng rng("matmul/dense_grad_" + name);
  const ref::Tensor x = rng.tensor({n, k}, -1, 1);
  const ref::Tensor w = rng.tensor({o, k}, -1, 1);
  const ref::Tensor dy = rng.tensor({n, o}, -1, 1);
  table.add(
      "dense_grad_input_" + name, "matmul",
      {{"transpose_a", false}, {"transpose_b", false}}, f32({dy, w}), {{n, k}},
      [=] {
        return std::vector<ref::Tensor>{
            vjp([&](const ref::Tensor &v) { return ref::dense(v, w, nullptr); },
                x, dy)};
      });
  table.add(
      "dense_grad_weight_" + name, "matmul",
      {{"transpose_a", true}, {"transpose_b", false}}, f32({dy, x}), {{o, k}},
      [=] {
        return std::vector<ref::Tensor>{
            vjp([&](const ref::Tensor &v) { return ref::dense(x, v, nullptr); },
                w, dy)};
      });
}

void addForward(GradCaseTable &table, const std::string &name,
                const std::string &op, json attrs, std::vector<Operand> inputs,
                std::vector<ref::Tensor> expected) {
  std::vector<std::vector<int64_t>> shapes;
  for (const ref::Tensor &t : expected) {
    shapes.push_back(t.shape);
  }
  table.add(
      name, op, std::move(attrs), std::move(inputs), shapes,
      [expected] { return expected; }, Check::Forward);
}

void addReduceSum(GradCaseTable &table, const std::string &name,
                  std::vector<int64_t> shape, std::vector<int64_t> axes,
                  bool keepdims) {
  Rng rng("reduce_sum/" + name);
  const ref::Tensor x = rng.tensor(shape, -2, 2);
  addForward(table, name, "reduce_sum",
             {{"axes", axes}, {"keepdims", keepdims}}, f32({x}),
             {ref::reduceSum(x, axes, keepdims)});
}

void addReduce(GradCaseTable &table, const std::string &name,
               const std::string &kind, std::vector<int64_t> shape,
               std::vector<int64_t> axes, bool keepdims) {
  Rng rng("reduce_" + kind + "/" + name);
  // Products of up to ~40 factors stay near 1.
  const ref::Tensor x = kind == "prod" ? rng.tensor(shape, 0.9, 1.1)
                                       : rng.tensor(shape, -2, 2);
  addForward(table, name, "reduce_" + kind,
             {{"axes", axes}, {"keepdims", keepdims}}, f32({x}),
             {ref::reduce(x, axes, keepdims, kind)});
}

// x with distinct values (spaced 4/n, far beyond the finite-difference
// step, so no maximum changes place) for max/min; away from zero with
// mixed signs for prod.
ref::Tensor reduceGradInput(Rng &rng, const std::string &kind,
                            std::vector<int64_t> shape) {
  ref::Tensor x = rng.tensor(shape, 0.5, 1.5);
  const int64_t n = x.numElements();
  for (int64_t i = 0; i < n; ++i) {
    x.data[i] = kind == "prod" ? (i % 3 == 1 ? -x.data[i] : x.data[i])
                               : -2 + 4.0 * ((i * 37) % n) / n;
  }
  return x;
}

void addReduceGrad(GradCaseTable &table, const std::string &name,
                   const std::string &kind, std::vector<int64_t> shape,
                   std::vector<int64_t> axes, bool keepdims) {
  Rng rng("reduce_grad/" + name);
  const ref::Tensor x = reduceGradInput(rng, kind, shape);
  const ref::Tensor y = ref::reduce(x, axes, keepdims, kind);
  const ref::Tensor dy = rng.tensor(y.shape, -1, 1);
  table.add(name, "reduce_grad",
            {{"kind", kind}, {"axes", axes}, {"keepdims", keepdims}},
            f32({x, y, dy}), {shape}, [=] {
              return std::vector<ref::Tensor>{vjp(
                  [&](const ref::Tensor &v) {
                    return ref::reduce(v, axes, keepdims, kind);
                  },
                  x, dy)};
            });
}

// reduce_grad where finite differences do not apply, against the rule of
// docs/training-ops.md worked by hand: tied maxima share dy equally; a
// product with one zero passes the product of the rest to the zero, with
// two zeros nothing.
void addReduceGradKinks(GradCaseTable &table) {
  auto tensor = [](std::vector<int64_t> shape, std::vector<double> values) {
    ref::Tensor t(shape);
    t.data = std::move(values);
    return t;
  };
  const ref::Tensor maxX = tensor({2, 4}, {1, 3, 3, 2, -1, -5, -1, -1});
  const ref::Tensor maxY = tensor({2}, {3, -1});
  const ref::Tensor maxDy = tensor({2}, {0.6, -0.9});
  table.add("max_ties", "reduce_grad",
            {{"kind", "max"}, {"axes", {1}}, {"keepdims", false}},
            f32({maxX, maxY, maxDy}), {{2, 4}},
            [=] {
              return std::vector<ref::Tensor>{
                  tensor({2, 4}, {0, 0.3, 0.3, 0, -0.3, 0, -0.3, -0.3})};
            },
            Check::Forward);
  const ref::Tensor prodX = tensor({3, 3}, {2, 0, 3, 0, 4, 0, 2, -1, 0.5});
  const ref::Tensor prodY = tensor({3, 1}, {0, 0, -1});
  const ref::Tensor prodDy = tensor({3, 1}, {0.5, 2, 0.25});
  table.add("prod_zeros", "reduce_grad",
            {{"kind", "prod"}, {"axes", {1}}, {"keepdims", true}},
            f32({prodX, prodY, prodDy}), {{3, 3}},
            [=] {
              return std::vector<ref::Tensor>{tensor(
                  {3, 3}, {0, 3, 0, 0, 0, 0, -0.125, 0.25, -0.5})};
            },
            Check::Forward);
}

// nll_loss_grad against finite differences of the reference nll_loss.
void addNllLossGrad(GradCaseTable &table, const std::string &name,
                    std::vector<int64_t> shape, bool weighted,
                    const std::string &reduction, const int64_t *ignore) {
  Rng rng("nll_loss_grad/" + name);
  const ref::Tensor input = rng.tensor(shape, -4, 0);
  const ref::Tensor target = rng.nllTarget(shape, ignore);
  const ref::Tensor weight = rng.tensor({shape[1]}, 0.2, 2);
  const ref::Tensor dy = rng.tensor(
      reduction == "none" ? target.shape : std::vector<int64_t>{}, -1, 1);
  std::vector<Operand> inputs = {{input, codegen::DType::F32},
                                 {target, codegen::DType::I32},
                                 {dy, codegen::DType::F32}};
  if (weighted) {
    inputs.push_back({weight, codegen::DType::F32});
  }
  json attrs = {{"reduction", reduction}};
  std::optional<int64_t> ignored;
  if (ignore) {
    attrs["ignore_index"] = *ignore;
    ignored = *ignore;
  }
  table.add(name, "nll_loss_grad", attrs, inputs, {shape}, [=] {
    return std::vector<ref::Tensor>{vjp(
        [&](const ref::Tensor &v) {
          return ref::nllLoss(v, target, weighted ? &weight : nullptr,
                              reduction, ignored ? &*ignored : nullptr);
        },
        input, dy)};
  });
}

void addSlice(GradCaseTable &table, const std::string &name,
              std::vector<int64_t> shape, int64_t axis, int64_t start,
              int64_t size) {
  Rng rng("slice/" + name);
  const ref::Tensor x = rng.tensor(shape, -2, 2);
  addForward(table, name, "slice",
             {{"axis", axis}, {"start", start}, {"size", size}}, f32({x}),
             {ref::slice(x, axis, start, size)});
}

void addBatchNormTrain(GradCaseTable &table, const std::string &name,
                       std::vector<int64_t> xShape, double epsilon,
                       double low = -2, double high = 3) {
  Rng rng("batch_norm_train/" + name);
  const int64_t c = xShape[1];
  const ref::Tensor x = rng.tensor(xShape, low, high);
  const ref::Tensor w = rng.tensor({c}, 0.5, 1.5);
  const ref::Tensor b = rng.tensor({c}, -1, 1);
  const ref::BatchNormTrainResult r = ref::batchNormTrain(x, w, b, epsilon);
  addForward(table, name, "batch_norm_train", {{"epsilon", epsilon}},
             f32({x, w, b}), {r.y, r.mean, r.var});
}

// kiln-fuse's `pool`: batch_norm_train + ReLU ending in a max_pool2d
// whose windows tile the plane (a "fused" kernel): the pooled ReLU output,
// mean and var, against the references composed.
void addBatchNormTrainPool(GradCaseTable &table, const std::string &name,
                           std::vector<int64_t> xShape,
                           std::array<int64_t, 2> kernel) {
  Rng rng("batch_norm_train_pool/" + name);
  const int64_t c = xShape[1];
  const double epsilon = 1e-5;
  const ref::Tensor x = rng.tensor(xShape, -2, 3);
  const ref::Tensor w = rng.tensor({c}, 0.5, 1.5);
  const ref::Tensor b = rng.tensor({c}, -1, 1);
  ref::BatchNormTrainResult r = ref::batchNormTrain(x, w, b, epsilon);
  for (double &value : r.y.data) {
    value = std::max(value, 0.0);
  }
  const ref::Pool2dParams p =
      poolParams({kernel[0], kernel[1]}, {kernel[0], kernel[1]}, {0, 0, 0, 0});
  const ref::Tensor pooled = ref::maxPool2d(r.y, p);
  const json attrs = {
      {"kind", "epilogue"},
      {"anchor", "batch_norm_train"},
      {"anchor_attrs", {{"epsilon", epsilon}}},
      {"anchor_inputs", {0, 1, 2}},
      {"nodes",
       {{{"op", "relu"}, {"attrs", json::object()}, {"operands", {-1}}}}},
      {"tail",
       {{"op", "max_pool2d"},
        {"attrs",
         {{"kernel", kernel},
          {"strides", kernel},
          {"pads", {0, 0, 0, 0}},
          {"dilations", {1, 1}}}}}}};
  addForward(table, name, "fused", attrs, f32({x, w, b}),
             {pooled, r.mean, r.var});
}

// kiln-fuse's `recompute-conv`: a first layer's conv2d recomputed inside
// the batch_norm_train + ReLU + pool kernel ("recomputed": x is input 5,
// after the image, the conv's weight and bias, gamma and beta), and inside
// the backward prologue (pool gradient + ReLU gradient + batch_norm_grad,
// the ReLU output recomputed from x, with the weight's and bias's gradient
// sinks reading the image), against the references composed on the conv
// computed in double.
struct RecomputedConv {
  std::vector<int64_t> in;     // the image [N, C, H, W]
  int64_t channels = 3;        // the conv's output channels
  std::array<int64_t, 2> kernel{3, 3};
  ref::Conv2dParams conv;
  std::array<int64_t, 2> pool{2, 2};
  double low = -1, high = 1; // the image's values
  double gpuTolerance = 0;   // GradCase::gpuTolerance
};

json convAttrs(const RecomputedConv &r) {
  return {{"strides", r.conv.strides},
          {"pads", r.conv.pads},
          {"dilations", r.conv.dilations},
          {"groups", 1}};
}

// The layer's inputs (kernel inputs 0, 1, 2) and its output z in double.
struct RecomputedLayer {
  ref::Tensor image, weight, bias, z;
  json entry; // the kernel's "recomputed" attribute
};

RecomputedLayer recomputedLayer(Rng &rng, const RecomputedConv &r) {
  RecomputedLayer l;
  l.image = rng.tensor(r.in, r.low, r.high);
  l.weight = rng.tensor({r.channels, r.in[1], r.kernel[0], r.kernel[1]}, -1, 1);
  l.bias = rng.tensor({r.channels}, -1, 1);
  l.z = ref::conv2d(l.image, l.weight, &l.bias, r.conv);
  l.entry = {{{"op", "conv2d"},
              {"attrs", convAttrs(r)},
              {"operands", {0, 1, 2}},
              {"shape", l.z.shape}}};
  return l;
}

json poolWindow(const RecomputedConv &r) {
  return {{"kernel", r.pool},
          {"strides", r.pool},
          {"pads", {0, 0, 0, 0}},
          {"dilations", {1, 1}}};
}

void addRecomputedConvTrain(GradCaseTable &table, const std::string &name,
                            const RecomputedConv &r) {
  Rng rng("recomputed_conv_train/" + name);
  const double epsilon = 1e-5;
  const RecomputedLayer layer = recomputedLayer(rng, r);
  const ref::Tensor &x = layer.z;
  const int64_t c = r.channels;
  const ref::Tensor w = rng.tensor({c}, 0.5, 1.5);
  const ref::Tensor b = rng.tensor({c}, -1, 1);
  ref::BatchNormTrainResult bn = ref::batchNormTrain(x, w, b, epsilon);
  for (double &value : bn.y.data) {
    value = std::max(value, 0.0);
  }
  const ref::Pool2dParams p = poolParams({r.pool[0], r.pool[1]},
                                         {r.pool[0], r.pool[1]}, {0, 0, 0, 0});
  const json attrs = {
      {"kind", "epilogue"},
      {"recomputed", layer.entry},
      {"anchor", "batch_norm_train"},
      {"anchor_attrs", {{"epsilon", epsilon}}},
      {"anchor_inputs", {5, 3, 4}},
      {"nodes",
       {{{"op", "relu"}, {"attrs", json::object()}, {"operands", {-1}}}}},
      {"tail", {{"op", "max_pool2d"}, {"attrs", poolWindow(r)}}}};
  addForward(table, name, "fused", attrs,
             f32({layer.image, layer.weight, layer.bias, w, b}),
             {ref::maxPool2d(bn.y, p), bn.mean, bn.var});
}

void addRecomputedConvPrologue(GradCaseTable &table, const std::string &name,
                               const RecomputedConv &r) {
  Rng rng("recomputed_conv_prologue/" + name);
  const double epsilon = 1e-5;
  const RecomputedLayer layer = recomputedLayer(rng, r);
  const ref::Tensor &image = layer.image, &z = layer.z;
  const int64_t c = r.channels;
  const ref::Tensor w = rng.tensor({c}, 0.5, 1.5);
  const ref::Tensor beta = rng.tensor({c}, -0.5, 0.5);
  const ref::BatchNormTrainResult stats =
      ref::batchNormTrain(z, w, beta, epsilon);
  const ref::Tensor mean = toFloat(stats.mean), var = toFloat(stats.var);
  // a = relu(batch_norm(z)) as the kernel recomputes it (random values:
  // the windows' winners are distinct).
  ref::Tensor a = z;
  for (size_t i = 0; i < a.data.size(); ++i) {
    const int64_t ch = static_cast<int64_t>(i) / (z.shape[2] * z.shape[3]) % c;
    a.data[i] = std::max(0.0, (z.data[i] - mean.data[ch]) * w.data[ch] /
                                      std::sqrt(var.data[ch] + epsilon) +
                                  beta.data[ch]);
  }
  const ref::Pool2dParams p = poolParams({r.pool[0], r.pool[1]},
                                         {r.pool[0], r.pool[1]}, {0, 0, 0, 0});
  const ref::Tensor dpool = rng.tensor(ref::maxPool2d(a, p).shape, -1, 1);
  // Inputs: image 0, weight 1, bias 2, gamma 3, beta 4, mean 5, var 6,
  // dpool 7; z (recomputed) 8.
  const json nodes = {
      {{"op", "batch_norm"},
       {"attrs",
        {{"epsilon", epsilon}, {"momentum", 0.1}, {"training", false}}},
       {"operands", {8, 3, 4, 5, 6}}},
      {{"op", "relu"}, {"attrs", json::object()}, {"operands", {-1}}},
      {{"op", "max_pool2d_grad"}, {"attrs", poolWindow(r)}, {"operands", {-1, 7}}},
      {{"op", "activation_grad"},
       {"attrs", {{"activation", "relu"}}},
       {"operands", {-2, -1}}}};
  json attrs = {{"kind", "prologue"},
                {"recomputed", layer.entry},
                {"anchor", ""},
                {"anchor_attrs", json::object()},
                {"anchor_inputs", json::array()},
                {"nodes", nodes},
                {"consumer", "batch_norm_grad"},
                {"consumer_attrs", {{"epsilon", epsilon}}},
                {"consumer_inputs", {8, -1, 3, 5, 6}},
                {"sinks",
                 {convGradWeightSink(r.conv, r.kernel, 0),
                  {{"op", "reduce_sum"},
                   {"attrs", {{"axes", {0, 2, 3}}, {"keepdims", false}}},
                   {"operands", {-1}}}}},
                {"writes_dx", false}};
  const std::vector<int64_t> dw = {c, r.in[1], r.kernel[0], r.kernel[1]};
  table.add(name, "fused", attrs,
            f32({image, layer.weight, layer.bias, w, beta, mean, var, dpool}),
            {{c}, {c}, dw, {c}},
            [=] {
              ref::BatchNormGradResult grad =
                  poolPrologueGrad(a, dpool, p, z, w, mean, var, epsilon);
              return std::vector<ref::Tensor>{
                  grad.dweight, grad.dbias,
                  convGradWeightLoops(image, grad.dx, r.kernel, r.conv),
                  ref::reduceSum(grad.dx, {0, 2, 3}, false)};
            },
            Check::Forward, r.gpuTolerance);
}

void addDropout(GradCaseTable &table, const std::string &name,
                std::vector<int64_t> shape, double rate, int32_t seed,
                int64_t salt) {
  Rng rng("dropout_train/" + name);
  // |x| >= 0.5: a dropped element that the kernel keeps (or the other way
  // round) is off by >= 0.5, far past the tolerance, so the value check
  // also checks the mask bit for bit.
  ref::Tensor x = rng.tensor(shape, -2, 2);
  keepAwayFrom(x, {0}, 0.5);
  ref::Tensor seedValue = scalar(seed);
  addForward(table, name, "dropout_train", {{"rate", rate}, {"salt", salt}},
             {{x, codegen::DType::F32}, {seedValue, codegen::DType::I32}},
             {ref::dropoutTrain(x, seed, salt, rate)});
}

void addAugment(GradCaseTable &table, const std::string &name,
                std::vector<int64_t> shape, int32_t seed,
                const ref::AugmentParams &p) {
  Rng rng("augment/" + name);
  ref::Tensor x = rng.tensor(shape, -2, 2);
  addForward(table, name, "augment",
             {{"flip_h", p.flipH},
              {"flip_v", p.flipV},
              {"shift", p.shift},
              {"rotate", p.rotate},
              {"zoom", p.zoom},
              {"noise", p.noise}},
             {{x, codegen::DType::F32}, {scalar(seed), codegen::DType::I32}},
             {ref::augment(x, seed, p)});
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

GradCaseTable buildCases() {
  GradCaseTable t;
  using A = ref::Activation;

  // augment: each transform alone on an odd plane (9x11, 3 channels, 6
  // images: both flip outcomes occur), then all of them with noise.
  {
    ref::AugmentParams flips, shift, rotate, zoom, all;
    flips.flipH = flips.flipV = true;
    shift.shift = 2.5;
    rotate.rotate = 30;
    zoom.zoom = 0.3;
    all = flips;
    all.shift = 1.5;
    all.rotate = 15;
    all.zoom = 0.1;
    all.noise = 0.05;
    addAugment(t, "flips_n6_c3_9x11", {6, 3, 9, 11}, 7, flips);
    addAugment(t, "shift_n6_c3_9x11", {6, 3, 9, 11}, 8, shift);
    addAugment(t, "rotate_n6_c3_9x11", {6, 3, 9, 11}, 9, rotate);
    addAugment(t, "zoom_n6_c3_9x11", {6, 3, 9, 11}, 10, zoom);
    addAugment(t, "all_n4_c2_28x28", {4, 2, 28, 28}, -3, all);
  }

  // conv2d_grad_input / conv2d_grad_weight (one case of each per line).
  addConvGrads(t, "stride2_asym_pads_n3", {3, 5, 7, 6}, 4, {3, 3},
               convParams({2, 2}, {0, 1, 2, 1}));
  addConvGrads(t, "dilation2_groups2", {1, 6, 8, 7}, 4, {3, 3},
               convParams({1, 1}, {2, 2, 2, 2}, {2, 2}, 2));
  addConvGrads(t, "depthwise_c5_stride2", {2, 5, 6, 6}, 5, {3, 3},
               convParams({2, 2}, {0, 0, 1, 1}, {1, 1}, 5));
  addConvGrads(t, "image1x1_k3_pad1_c17", {3, 17, 1, 1}, 3, {3, 3},
               convParams({1, 1}, {1, 1, 1, 1}));
  addConvGrads(t, "k5x3_stride2x1_dilation2x1_asym", {1, 3, 11, 9}, 2, {5, 3},
               convParams({2, 1}, {1, 0, 3, 2}, {2, 1}));
  // Stride 3 > kernel 2: rows/cols 2 and 5 are in no window (dx = 0).
  addConvGrads(t, "stride3_gaps", {1, 2, 8, 8}, 3, {2, 2},
               convParams({3, 3}, {0, 0, 0, 0}));
  addConvGrads(t, "pointwise_c17_o16_n2", {2, 17, 3, 4}, 16, {1, 1},
               convParams({1, 1}, {0, 0, 0, 0}));
  // Strided shapes of real networks (conv2d_grad_input by stride phases):
  // ResNet's 3x3 and 1x1 downsampling, the 7x7 stem on an odd image, and
  // stride 2 with dilation 2, where only one phase has taps.
  addConvGrads(t, "resnet_3x3_stride2_n2_c16_14x14_o24", {2, 16, 14, 14}, 24,
               {3, 3}, convParams({2, 2}, {1, 1, 1, 1}));
  addConvGrads(t, "resnet_1x1_stride2_n2_c16_14x14_o32", {2, 16, 14, 14}, 32,
               {1, 1}, convParams({2, 2}, {0, 0, 0, 0}));
  addConvGrads(t, "stem_7x7_stride2_pad3_n2_c3_23x23_o8", {2, 3, 23, 23}, 8,
               {7, 7}, convParams({2, 2}, {3, 3, 3, 3}));
  // A partial tile of output channels (12 = 8 + 4) over rows of 7 taps
  // (the GPU weight gradient's tiles of a window row), asymmetric pads.
  addConvGrads(t, "stem_7x7_stride2_n1_c3_19x21_o12", {1, 3, 19, 21}, 12,
               {7, 7}, convParams({2, 2}, {3, 2, 2, 3}));
  addConvGrads(t, "stride2_dilation2_n1_c4_11x10_o5", {1, 4, 11, 10}, 5,
               {3, 3}, convParams({2, 2}, {2, 2, 2, 2}, {2, 2}));
  // Windows wider than 3 columns on 8-lane targets: the weight gradient's
  // columns in groups of 3 (the last guarded) x 4 channels. A 5x5 window
  // (3 + 2 columns) with 6 channels (the last tile shifted inwards), and a
  // 4-wide window (3 + 1) with 3 channels.
  addConvGrads(t, "k5x5_n2_c1_12x13_o6", {2, 1, 12, 13}, 6, {5, 5},
               convParams({1, 1}, {0, 0, 0, 0}));
  addConvGrads(t, "k4x4_stride2_n1_c2_11x9_o3", {1, 2, 11, 9}, 3, {4, 4},
               convParams({2, 2}, {1, 2, 1, 2}));
  // Channel forms (16-channel vectors: dx channels for grad_input, x
  // channels for grad_weight): 3 vectors per task on a 7x7 plane, and a
  // dilated 4-vector case.
  addConvGrads(t, "channels_n2_c48_7x7_o20", {2, 48, 7, 7}, 20, {3, 3},
               convParams({1, 1}, {1, 1, 1, 1}));
  addConvGrads(t, "channels_n1_c64_9x9_o16_dilation2", {1, 64, 9, 9}, 16,
               {3, 3}, convParams({1, 1}, {2, 2, 2, 2}, {2, 2}));
  // AVX2's rows of 3 taps x 4 output channels in the weight gradient's
  // channel form: 18 outputs (4 tiles and a guarded 2) at stride 2.
  addConvGrads(t, "channels_rows_n2_c16_10x9_o18_stride2", {2, 16, 10, 9}, 18,
               {3, 3}, convParams({2, 2}, {1, 1, 1, 1}));
  // AVX2's channel form of grad_input (2 vectors of 8 dx channels, tiles
  // of 5 positions): a 5x3 window at strides 2x1 with asymmetric pads, its
  // phase planes' positions not a multiple of 5 (the last tile shifted in).
  addConvGrads(t, "channels_n2_c32_11x9_o12_k5x3_stride2x1", {2, 32, 11, 9}, 12,
               {5, 3}, convParams({2, 1}, {2, 1, 1, 0}));
  // 1x1 grad_weight tiles of several channel vectors: 40 channels (3
  // vectors, the last partial) x 20 outputs (a partial output tile) at
  // stride 2, and 64 x 13 at stride 1.
  addConvGrads(t, "pointwise_tiles_n2_c40_9x7_o20_stride2", {2, 40, 9, 7}, 20,
               {1, 1}, convParams({2, 2}, {0, 0, 0, 0}));
  // The GPU's stride-1 input gradient in the forward's register tiles
  // (buildConvGradInputGpuTiles): over 2^20 dx elements, so 4 rows x 8
  // channels, partial at the last row (93), channel (60) and column; and a
  // dilated window with asymmetric pads.
  addConvGradLoops(t, "tiles_n2_c60_93x95_o5", {2, 60, 93, 95}, 5, {3, 3},
                   convParams({1, 1}, {1, 1, 1, 1}));
  addConvGradLoops(t, "tiles_n1_c12_20x17_o7_dilated", {1, 12, 20, 17}, 7,
                   {3, 3}, convParams({1, 1}, {2, 0, 1, 3}, {2, 2}));
  // The GPU's strided input gradient by stride phases in register tiles
  // (buildConvGradInputGpu): phase (0, 0) of dx holds 2 x 48 x 115 x 100 =
  // 1.1M elements, so 4 rows x 8 channels, partial at the last channel
  // (48 = 6 x 8: none) and row tile (115 = 28 x 4 + 3).
  addConvGradLoops(t, "phases_n2_c48_230x200_o5_stride2", {2, 48, 230, 200}, 5,
                   {3, 3}, convParams({2, 2}, {1, 1, 1, 1}));
  // The GPU's weight gradient in register tiles of 8 output channels x 9
  // taps over lanes of consecutive positions (buildConvGradWeightGpu):
  // 72,900 weights over 480 positions, 32 lanes of 15 positions, 90 output
  // channels ending in a partial tile; 589,824 weights, whose partial sums
  // would pass 2^24 with 32 lanes, so 16 (36 positions: the last lanes sum
  // fewer). phases_n2_c48_230x200_o5_stride2 above: 11 chunks of 32 lanes x
  // 66 positions, past the last of 23,000 (zeros).
  addConvGradLoops(t, "chunks_n16_c90_6x5_o90", {16, 90, 6, 5}, 90, {3, 3},
                   convParams({1, 1}, {1, 1, 1, 1}));
  addConvGradLoops(t, "lanes_n1_c256_6x6_o256", {1, 256, 6, 6}, 256, {3, 3},
                   convParams({1, 1}, {1, 1, 1, 1}));
  addConvGrads(t, "pointwise_tiles_n1_c64_5x6_o13", {1, 64, 5, 6}, 13, {1, 1},
               convParams({1, 1}, {0, 0, 0, 0}));
  // The pointwise weight gradient (1x1 at stride 1 on planes of 2048
  // positions or more with rows of whole vectors, AVX2): 2 images in 2
  // tasks, 5 channels (tiles of 1) x 7 outputs (3 + 3 + 1, guarded) over
  // 48x48 in chunks of 16 rows; 4 images in 4 tasks, 12 channels (tiles of
  // 4) x 16 outputs on 40x64 (chunks of 10 rows).
  addConvGradLoops(t, "pointwise_rows_n2_c5_48x48_o7", {2, 5, 48, 48}, 7,
                   {1, 1}, convParams({1, 1}, {0, 0, 0, 0}));
  addConvGradLoops(t, "pointwise_rows_n4_c12_40x64_o16", {4, 12, 40, 64}, 16,
                   {1, 1}, convParams({1, 1}, {0, 0, 0, 0}));
  // The GPU's weight gradient of 32 or more input channels as a GEMM over
  // flattened positions (buildConvGradWeightGemmGpu): a strided 3x3 window
  // with asymmetric pads (4 stride phases; 4 images of 11 x 13 phase
  // positions in 2 parts of 288, the last ending in zeros), 40 channels (a
  // partial tile of 64) x 36 outputs (32 + 4); and a dilated 5x3 window on
  // 33 channels x 40 outputs, one part of 30 chunks of 16 positions (2
  // images of 15 x 16).
  addConvGradLoops(t, "gemm_n4_c40_23x21_o36_stride2", {4, 40, 23, 21}, 36,
                   {3, 3}, convParams({2, 2}, {1, 0, 2, 1}));
  addConvGradLoops(t, "gemm_n2_c33_12x13_o40_k5x3_dilated", {2, 33, 12, 13}, 40,
                   {5, 3}, convParams({1, 1}, {2, 1, 2, 1}, {2, 2}));
  // Winograd's input gradient: same pads on a ResNet-like plane, and
  // asymmetric pads 0..2 (dy pads 2..0) with 17 -> 24 channels.
  addWinogradGradInput(t, "same_n2_c16_12x10_o24", {2, 16, 12, 10}, 24,
                       {1, 1, 1, 1});
  addWinogradGradInput(t, "pads0212_n1_c24_8x6_o17", {1, 24, 8, 6}, 17,
                       {0, 2, 1, 2});
  addWinogradGradInput(t, "tile4_same_n2_c16_12x8_o20", {2, 16, 12, 8}, 20,
                       {1, 1, 1, 1}, 4);
  addWinogradGradInput(t, "partial_same_n2_c16_7x9_o16", {2, 16, 7, 9}, 16,
                       {1, 1, 1, 1});
  // 40 dy channels: the filter's points in blocks of 32 of them, the
  // second block shifted in to overlap the first (winograd_filter).
  addWinogradGradInput(t, "blocks_tile4_n1_c16_6x7_o40", {1, 16, 6, 7}, 40,
                       {1, 1, 1, 1}, 4);
  // The filter in blocks of 16 dx channels (filter-block 16): 32 of them
  // over 24 dy channels, F(2x2) and F(4x4).
  addWinogradGradInput(t, "block16_n2_c32_10x12_o24", {2, 32, 10, 12}, 24,
                       {1, 1, 1, 1}, 2, 16);
  addWinogradGradInput(t, "block16_tile4_n1_c32_8x8_o40", {1, 32, 8, 8}, 40,
                       {1, 1, 1, 1}, 4, 16);
  // Winograd's weight gradient: 60 tiles (not whole vectors of 16) with
  // partial tiles on a 7x9 plane, 4x4 tiles with asymmetric pads and
  // channel counts that are not multiples of the 4 x 4 register tile, and
  // 4x4 tiles over a batch of 7x7 planes (ResNet's deepest layers).
  addWinogradGradWeight(t, "tile2_partial_n2_c16_7x9_o24", {2, 16, 7, 9}, 24,
                        {1, 1, 1, 1}, 2);
  addWinogradGradWeight(t, "tile4_pads0212_n1_c17_8x6_o18", {1, 17, 8, 6}, 18,
                        {0, 2, 1, 2}, 4);
  addWinogradGradWeight(t, "tile4_n5_c16_7x7_o16", {5, 16, 7, 7}, 16,
                        {1, 1, 1, 1}, 4);
  // Many tiles (484): the per-point loop order, 20 -> 20 channels (partial
  // register tiles both ways), asymmetric pads.
  addWinogradGradWeight(t, "tile4_per_point_n1_c20_88x88_o20",
                        {1, 20, 88, 88}, 20, {1, 0, 1, 2}, 4, true);
  // Many tiles and a small dU: the sliced order (2 slices of 2 chunks of 32
  // tiles; 20 outputs in register tiles of 5).
  addWinogradGradWeight(t, "tile4_slices_n2_c64_32x32_o20", {2, 64, 32, 32},
                        20, {1, 1, 1, 1}, 4, true);
  // Replicate / reflect padding (Conv2d's padding_mode): pads of 1 and 2
  // on an image, asymmetric, and pads as wide as reflection allows.
  addPadGrad(t, "edge_n2_c3_5x4_pads1", {2, 3, 5, 4}, {0, 0, 1, 1, 0, 0, 1, 1},
             "edge");
  addPadGrad(t, "edge_n1_c2_4x6_asym", {1, 2, 4, 6}, {0, 0, 2, 0, 0, 0, 1, 3},
             "edge");
  addPadGrad(t, "reflect_n2_c3_5x4_pads1", {2, 3, 5, 4},
             {0, 0, 1, 1, 0, 0, 1, 1}, "reflect");
  addPadGrad(t, "reflect_n1_c2_4x6_widest", {1, 2, 4, 6},
             {0, 0, 3, 2, 0, 0, 1, 5}, "reflect");

  addMaxPoolGrad(t, "k3_s2_pad1_n3_c5", {3, 5, 7, 7},
                 poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}));
  addMaxPoolGrad(t, "ceil_k2_s2_c17_odd", {1, 17, 5, 7},
                 poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}, true));
  addMaxPoolGrad(t, "dilation2_pad2", {1, 2, 7, 7},
                 poolParams({3, 3}, {1, 1}, {2, 2, 2, 2}, false, true, {2, 2}));
  addMaxPoolGrad(t, "asym_pads_stride1x2", {2, 3, 6, 7},
                 poolParams({3, 3}, {1, 2}, {1, 0, 0, 1}));
  addMaxPoolGrad(t, "image1x1_k1", {3, 5, 1, 1},
                 poolParams({1, 1}, {1, 1}, {0, 0, 0, 0}));
  // Windows that tile the input, every tap inside (the LeNet CNN's pools):
  // the winner seeded by the first tap, rows of 14 windows in vectors. One
  // plane: 560 values 0.02 apart keep |x| small enough that the FD step
  // stays under half their spacing.
  addMaxPoolGrad(t, "k2_s2_valid_20x28", {1, 1, 20, 28},
                 poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}));
  // More taps than the unrolled winner takes (20): the reduction form.
  addMaxPoolGrad(t, "k5x4_s3x2_pad2x1_large_window", {2, 3, 11, 9},
                 poolParams({5, 4}, {3, 2}, {2, 1, 2, 1}));

  // The fused prologue: planes of 256 or more positions take the
  // channel-major form (the gather computed per channel inside it), the
  // smaller ones the flat form; odd planes leave a last row and column
  // that no 2x2 window reads; overlapping padded windows sum.
  addPoolPrologue(t, "k2_s2_n3_c5_17x19_channel_major", {3, 5, 17, 19},
                  poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}));
  addPoolPrologue(t, "k2_s2_n4_c3_6x7_flat", {4, 3, 6, 7},
                  poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}));
  addPoolPrologue(t, "k3_s2_pad1_n2_c4_16x18_channel_major", {2, 4, 16, 18},
                  poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}));
  // Gradient sinks: the conv bias's gradient (the channel sum of dx) and a
  // first layer's weight gradient, dx not written (LeNet's first layer) or
  // written; RGB input at stride 2 with asymmetric pads; the flat form.
  PrologueSinks lenet;
  lenet.sum = true;
  lenet.inChannels = 1;
  lenet.conv = convParams({1, 1}, {1, 1, 1, 1});
  lenet.writesDx = false;
  addPoolPrologue(t, "sinks_sum_conv1_n3_c5_17x19_no_dx", {3, 5, 17, 19},
                  poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}), lenet);
  PrologueSinks rgb;
  rgb.inChannels = 3;
  rgb.conv = convParams({2, 2}, {1, 0, 1, 1});
  addPoolPrologue(t, "sinks_conv3_s2_n2_c3_16x18_dx", {2, 3, 16, 18},
                  poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}), rgb);
  PrologueSinks flat = lenet;
  flat.kernel = {3, 2};
  flat.conv = convParams({1, 1}, {1, 0, 1, 1});
  addPoolPrologue(t, "sinks_k3x2_n4_c3_6x7_flat_no_dx", {4, 3, 6, 7},
                  poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}), flat);
  // The pool's input recomputed from z (kiln-fuse's `recompute`), with
  // LeNet's sinks, channel-major; and alone, overlapping padded windows,
  // flat.
  PrologueSinks recompute = lenet;
  recompute.recompute = true;
  addPoolPrologue(t, "recompute_sinks_n3_c5_17x19", {3, 5, 17, 19},
                  poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}), recompute);
  PrologueSinks recomputeOnly;
  recomputeOnly.recompute = true;
  addPoolPrologue(t, "recompute_k3_s2_pad1_n2_c4_6x7_flat", {2, 4, 6, 7},
                  poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}), recomputeOnly);

  addAvgPoolGrad(t, "k3_s2_pad1_include_pad_n3", {3, 5, 7, 7},
                 poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}, false, true));
  addAvgPoolGrad(t, "ceil_k3_s2_pad1_include_pad", {2, 3, 6, 6},
                 poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}, true, true));
  addAvgPoolGrad(t, "ceil_k3_s2_pad1_exclude_pad", {2, 3, 6, 6},
                 poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}, true, false));
  addAvgPoolGrad(t, "asym_pads_k3x4_include_pad", {1, 3, 7, 8},
                 poolParams({3, 4}, {2, 1}, {0, 1, 1, 2}, false, true));
  addAvgPoolGrad(t, "ceil_last_window_dropped_exclude_pad_c17", {1, 17, 5, 5},
                 poolParams({2, 2}, {2, 2}, {1, 1, 1, 1}, true, false));

  addGlobalAvgPoolGrad(t, "n3_c5_7x6", {3, 5, 7, 6});
  addGlobalAvgPoolGrad(t, "n1_c17_1x1", {1, 17, 1, 1});

  addBatchNormGrad(t, "n3_c5_4x4", {3, 5, 4, 4}, 1e-5);
  addBatchNormGrad(t, "2d_n5_c3", {5, 3}, 1e-5);
  addBatchNormGrad(t, "n1_c17_3x2_eps1e-3", {1, 17, 3, 2}, 1e-3);
  // Planes of 256 and more run channel-major (one task per channel): an
  // odd 17x19 plane (vector tail) and a rank-3 [N,C,L] input.
  addBatchNormGrad(t, "n2_c5_17x19_channel_major", {2, 5, 17, 19}, 1e-5);
  addBatchNormGrad(t, "n3_c4_l300_channel_major", {3, 4, 300}, 1e-5);
  // Past channelSums' flattened planes (4096 positions): sums along rows.
  addBatchNormGrad(t, "n2_c2_67x65_rows", {2, 2, 67, 65}, 1e-5);
  // Values ~11: the step scales with |x| (1e-2) while the spread is ~0.6,
  // so a smaller h keeps the truncation error down.
  addBatchNormGrad(t, "mean_offset10", {3, 5, 4, 4}, 1e-5, 10, 12, 1e-4);

  addLayerNormGrad(t, "last_axis_affine", {3, 5, 6}, 2, true, 1e-5);
  addLayerNormGrad(t, "axis1_rank4_affine", {2, 3, 4, 5}, 1, true, 1e-5);
  addLayerNormGrad(t, "c17_no_affine_eps1e-3", {4, 17}, 1, false, 1e-3);

  // activation_grad: every activation on [3,5,7,6] (630 elements, odd
  // vector tail); the case names are the kink tests' keys.
  const std::vector<int64_t> image = {3, 5, 7, 6};
  struct Simple {
    const char *name;
    A kind;
    double low, high;
    std::vector<double> kinks;
  };
  const Simple simple[] = {
      {"step", A::Step, -8, 8, {0}},      {"sigmoid", A::Sigmoid, -8, 8, {}},
      {"tanh", A::Tanh, -8, 8, {}},       {"relu", A::Relu, -8, 8, {0}},
      {"relu6", A::Relu6, -8, 8, {0, 6}}, {"selu", A::Selu, -8, 8, {0}},
      {"silu", A::Silu, -8, 8, {}},       {"sin", A::Sin, -10, 10, {}},
      {"mish", A::Mish, -30, 30, {}},
      {"tan", A::Tan, -1.4, 1.4, {}},     {"sinh", A::Sinh, -5, 5, {}},
      {"cosh", A::Cosh, -5, 5, {}},       {"asin", A::Asin, -0.95, 0.95, {}},
      {"acos", A::Acos, -0.95, 0.95, {}}, {"atan", A::Atan, -8, 8, {}},
      {"asinh", A::Asinh, -8, 8, {}},     {"acosh", A::Acosh, 1.1, 9, {}},
      {"atanh", A::Atanh, -0.95, 0.95, {}},
      {"softsign", A::Softsign, -8, 8, {0}},
      {"ceil", A::Ceil, -3, 3, {-3, -2, -1, 0, 1, 2, 3}},
      {"floor", A::Floor, -3, 3, {-3, -2, -1, 0, 1, 2, 3}},
      {"round", A::Round, -3, 3, {-2.5, -1.5, -0.5, 0.5, 1.5, 2.5}},
      {"sign", A::Sign, -3, 3, {0}},
      {"is_nan", A::IsNan, -3, 3, {}},
      {"is_inf", A::IsInf, -3, 3, {}},
  };
  for (const Simple &s : simple) {
    addActivationGrad(t, s.name, s.kind, {{"activation", s.name}}, image, s.low,
                      s.high, s.kinks);
  }
  ref::ActivationParams p;
  p.alpha = 0.2;
  addActivationGrad(t, "leaky_relu", A::LeakyRelu,
                    {{"activation", "leaky_relu"}, {"alpha", 0.2}}, image, -8,
                    8, {0}, p);
  p.alpha = 0.7;
  addActivationGrad(t, "elu", A::Elu, {{"activation", "elu"}, {"alpha", 0.7}},
                    image, -8, 8, {0}, p);
  p.alpha = 0.3;
  addActivationGrad(t, "thresholded_relu", A::ThresholdedRelu,
                    {{"activation", "thresholded_relu"}, {"alpha", 0.3}},
                    image, -2, 2, {0.3}, p);
  p = {};
  p.bias = 0.25;
  p.lambd = 0.6;
  addActivationGrad(t, "shrink", A::Shrink,
                    {{"activation", "shrink"}, {"bias", 0.25}, {"lambd", 0.6}},
                    image, -2, 2, {-0.6, 0.6}, p);
  p = {};
  addActivationGrad(t, "gelu_none", A::GeluErf,
                    {{"activation", "gelu"}, {"approximate", "none"}}, image,
                    -6, 6, {});
  addActivationGrad(t, "gelu_tanh", A::GeluTanh,
                    {{"activation", "gelu"}, {"approximate", "tanh"}}, image,
                    -6, 6, {});
  p = {};
  addActivationGrad(
      t, "softplus", A::Softplus,
      {{"activation", "softplus"}, {"beta", 1.0}, {"threshold", 20.0}}, image,
      -25, 25, {20}, p);
  p.beta = 2;
  p.threshold = 5;
  addActivationGrad(
      t, "softplus_beta2_threshold5", A::Softplus,
      {{"activation", "softplus"}, {"beta", 2.0}, {"threshold", 5.0}}, image,
      -6, 6, {2.5}, p);

  // grid_sample_grad: every mode with every padding, both corner
  // conventions; the grid reaches 2 pixels past the image.
  addGridSampleGrad(t, "bilinear_zeros_2x3x5x7_to_4x6", {2, 3, 5, 7}, 4, 6,
                    "bilinear", "zeros", false);
  addGridSampleGrad(t, "bilinear_border_align_1x2x6x5_to_5x4", {1, 2, 6, 5},
                    5, 4, "bilinear", "border", true);
  addGridSampleGrad(t, "bilinear_reflection_1x3x7x6_to_3x5", {1, 3, 7, 6}, 3,
                    5, "bilinear", "reflection", false);
  addGridSampleGrad(t, "bilinear_reflection_align_2x1x4x6_to_3x4",
                    {2, 1, 4, 6}, 3, 4, "bilinear", "reflection", true);
  addGridSampleGrad(t, "nearest_border_2x2x3x8_to_4x5", {2, 2, 3, 8}, 4, 5,
                    "nearest", "border", false);
  addGridSampleGrad(t, "bicubic_zeros_1x2x6x7_to_4x5", {1, 2, 6, 7}, 4, 5,
                    "bicubic", "zeros", false);
  addGridSampleGrad(t, "bicubic_reflection_align_1x2x5x4_to_3x4",
                    {1, 2, 5, 4}, 3, 4, "bicubic", "reflection", true);
  addGridSampleGrad(t, "bicubic_border_2x1x4x5_to_3x3", {2, 1, 4, 5}, 3, 3,
                    "bicubic", "border", false);

  addPreluGrad(t, "per_channel_c5", {3, 5, 4, 4}, 5);
  addPreluGrad(t, "shared_slope", {3, 5, 4, 4}, 1);
  addPreluGrad(t, "per_channel_2d_c17", {2, 17}, 17);

  {
    // resize_grad: nearest x2 (4 readers per input), bilinear by a
    // non-integral factor, bicubic down with the outside taps excluded,
    // align_corners up on a rank-3 input.
    addResizeGrad(t, "nearest_up2", {2, 3, 4, 5}, 8, 10,
                  resizeSpec("nearest", "asymmetric", 2, 2, "floor"));
    addResizeGrad(t, "linear_up_half_pixel", {1, 2, 4, 4}, 7, 10,
                  resizeSpec("linear", "half_pixel", 1.75, 2.5));
    addResizeGrad(t, "cubic_down_exclude_outside", {2, 2, 10, 8}, 6, 4,
                  resizeSpec("cubic", "half_pixel", 0.6, 0.5,
                             "round_prefer_floor", true));
    addResizeGrad(t, "linear_align_corners_rank3", {2, 3, 5}, 7, 9,
                  resizeSpec("linear", "align_corners", 7.0 / 3, 9.0 / 5));
  }
  addLrnGrad(t, "size5_n2_c7_4x3", {2, 7, 4, 3}, 5, 0.5, 0.75, 2.0);
  addGatherGrad(t, "gather_grad", "embedding_v9_d40_ids3x5", {9, 40}, {3, 5},
                0);
  addGatherGrad(t, "gather_grad", "axis1_2x6x5_idx7", {2, 6, 5}, {7}, 1);
  addGatherGrad(t, "gather_grad", "last_axis_3x4x5_idx2x2", {3, 4, 5}, {2, 2},
                2);
  addGatherGrad(t, "gather_elements_grad", "elements_axis0_6x5_idx9x4", {6, 5},
                {9, 4}, 0);
  addGatherGrad(t, "gather_elements_grad",
                "elements_last_axis_3x4x21_idx2x4x30", {3, 4, 21}, {2, 4, 30},
                2);
  addGatherGrad(t, "gather_elements_grad",
                "elements_axis1_2x5x3x18_idx2x8x2x18", {2, 5, 3, 18},
                {2, 8, 2, 18}, 1);
  addLrnGrad(t, "size4_even_c6", {1, 6, 3, 5}, 4, 1.0, 0.75, 1.0);
  addLrnGrad(t, "size7_wider_than_c3", {2, 3, 2, 2}, 7, 2.0, 0.5, 1.5);

  addSoftmaxGrad(t, "2d_axis1", {4, 7}, 1, false);
  addSoftmaxGrad(t, "2d_axis1_log", {4, 7}, 1, true);
  addSoftmaxGrad(t, "3d_axis1", {3, 5, 6}, 1, false);
  addSoftmaxGrad(t, "3d_axis1_log", {3, 5, 6}, 1, true);
  addSoftmaxGrad(t, "3d_axis0", {3, 5, 6}, 0, false);

  // loss_grad, all 8 losses; dloss != 1 everywhere.
  addPointwiseLossGrad(t, "mse_3x5", "mse", json::object(), {3, 5}, 1.7,
                       ref::mse);
  addPointwiseLossGrad(t, "mae_3x5x7", "mae", json::object(), {3, 5, 7}, -0.6,
                       ref::mae);
  addPointwiseLossGrad(t, "huber_delta1_4x9", "huber", {{"delta", 1.0}}, {4, 9},
                       1.3, [](const ref::Tensor &a, const ref::Tensor &b) {
                         return ref::huber(a, b, 1.0);
                       });
  {
    Rng rng("loss_grad/bce_3x5");
    const ref::Tensor prob = rng.tensor({3, 5}, 0.1, 0.9);
    const ref::Tensor target = rng.tensor({3, 5}, 0, 1);
    addLossGrad(t, "bce_3x5", "bce", json::object(), prob,
                {target, codegen::DType::F32}, 0.8,
                [=](const ref::Tensor &v) { return ref::bce(v, target); });
  }
  {
    Rng rng("loss_grad/bce_logits_3x5");
    const ref::Tensor logits = rng.tensor({3, 5}, -6, 6);
    const ref::Tensor target = rng.tensor({3, 5}, 0, 1);
    addLossGrad(t, "bce_logits_3x5", "bce_logits", json::object(), logits,
                {target, codegen::DType::F32}, 1.5, [=](const ref::Tensor &v) {
                  return ref::bceLogits(v, target);
                });
  }
  {
    Rng rng("loss_grad/cce_4x10");
    const ref::Tensor logits = rng.tensor({4, 10}, -5, 5);
    ref::Tensor target = rng.tensor({4, 10}, 0.1, 1);
    for (int64_t i = 0; i < 4; ++i) { // probability rows, rounded to float
      double sum = 0;
      for (int64_t j = 0; j < 10; ++j) {
        sum += target.data[i * 10 + j];
      }
      for (int64_t j = 0; j < 10; ++j) {
        target.data[i * 10 + j] =
            static_cast<float>(target.data[i * 10 + j] / sum);
      }
    }
    addLossGrad(t, "cce_probabilities_4x10", "cce", json::object(), logits,
                {target, codegen::DType::F32}, 2.0,
                [=](const ref::Tensor &v) { return ref::cce(v, target); });
  }
  {
    Rng rng("loss_grad/sparse_cce_5x10");
    const ref::Tensor logits = rng.tensor({5, 10}, -5, 5);
    std::vector<int32_t> labels(5);
    ref::Tensor labelValues({5});
    for (int64_t i = 0; i < 5; ++i) {
      labelValues.data[i] = labels[i] = rng.integer(0, 10);
    }
    addLossGrad(
        t, "sparse_cce_5x10", "sparse_cce", json::object(), logits,
        {labelValues, codegen::DType::I32}, 0.9,
        [=](const ref::Tensor &v) { return ref::sparseCce(v, labels); });
  }
  {
    Rng rng("loss_grad/hinge_3x5");
    ref::Tensor pred = rng.tensor({3, 5}, -2, 2);
    ref::Tensor target({3, 5});
    for (double &v : target.data) {
      v = rng.integer(0, 2) ? 1.0 : -1.0;
    }
    keepAwayFrom(pred, {-1, 1}); // the margin 1 - p·t stays off 0
    addLossGrad(t, "hinge_3x5", "hinge", json::object(), pred,
                {target, codegen::DType::F32}, -1.1,
                [=](const ref::Tensor &v) { return ref::hinge(v, target); });
  }

  struct Regularizer {
    const char *name;
    double l1, l2;
    std::vector<int64_t> shape;
  };
  // A 3x3 conv weight of 9657 elements: on GPU targets 2 blocks of 256
  // threads, the second's last threads past the end.
  for (const Regularizer &r :
       {Regularizer{"l1_l2_5x7", 0.01, 0.001, {5, 7}},
        Regularizer{"l2_only_len17", 0, 0.5, {17}},
        Regularizer{"l1_l2_37x29x3x3", 0.01, 0.001, {37, 29, 3, 3}}}) {
    Rng rng(std::string("regularizer/") + r.name);
    ref::Tensor w = rng.tensor(r.shape, -2, 2);
    keepAwayFrom(w, {0});
    const double l1 = r.l1, l2 = r.l2, dloss = 1.9;
    t.add(r.name, "regularizer_grad", {{"l1", l1}, {"l2", l2}},
          f32({w, scalar(dloss)}), {r.shape}, [=] {
            return std::vector<ref::Tensor>{ref::numericGrad(
                [&](const ref::Tensor &v) {
                  return dloss * ref::regularizer(v, l1, l2);
                },
                w, kFdStep)};
          });
    addForward(t, r.name, "regularizer", {{"l1", l1}, {"l2", l2}}, f32({w}),
               {scalar(ref::regularizer(w, l1, l2))});
  }

  // matmul: the dense gradients against finite differences, the other
  // transposes against the reference.
  addDenseGradMatmuls(t, "n3_k17_o5", 3, 17, 5);
  addDenseGradMatmuls(t, "n8_k33_o16", 8, 33, 16);
  addMatmul(t, "transpose_b_dense_forward", {3, 17}, {5, 17}, false, true);
  addMatmul(t, "transpose_both", {17, 3}, {5, 17}, true, true);
  // Partial GPU blocks and register tiles on both sides (70 x 75).
  addMatmul(t, "m70_k33_n75", {70, 33}, {33, 75}, false, false);
  addMatmul(t, "m70_k33_n75_transpose_a", {33, 70}, {33, 75}, true, false);
  addMatmul(t, "m70_k33_n75_transpose_b", {70, 33}, {75, 33}, false, true);
  addMatmul(t, "m70_k33_n75_transpose_both", {33, 70}, {75, 33}, true, true);
  // GPU: K in seven chunks of 16 staged in shared memory, the last partial
  // (zero past K), with each operand's unit stride along K or not; the
  // last blocks of 64 features and of 32 rows shifted inwards.
  addMatmul(t, "m70_k100_n75", {70, 100}, {100, 75}, false, false);
  addMatmul(t, "m70_k100_n75_transpose_b", {70, 100}, {75, 100}, false,
            true);
  addMatmul(t, "m70_k100_n75_transpose_both", {100, 70}, {75, 100}, true,
            true);
  // Staged, rows below a block (guarded) and features shifted.
  addMatmul(t, "m20_k100_n75_transpose_a", {100, 20}, {100, 75}, true, false);
  // AVX-512: register tiles of 4 vectors x 6 rows (8 or more blocks of 64
  // features; 19 rows, which tiles of 6 round up no further than tiles of
  // 8), the last block of features and of rows shifted inwards;
  // transpose_a reads the rows across; transpose_b keeps 2 x 8.
  addMatmul(t, "m19_k40_n520_wide", {19, 40}, {40, 520}, false, false);
  addMatmul(t, "m19_k40_n520_wide_transpose_a", {40, 19}, {40, 520}, true,
            false);
  addMatmul(t, "m19_k40_n520_transpose_b", {19, 40}, {520, 40}, false, true);
  // Batches (attention's [B*H, T, D] products): a partial vector of columns
  // and a partial row tile, and every transpose.
  addBatchedMatmul(t, "batch3_17x5_5x20", {3, 17, 5}, {3, 5, 20}, false,
                   false);
  addBatchedMatmul(t, "batch4_scores_tb", {4, 16, 8}, {4, 16, 8}, false, true);
  addBatchedMatmul(t, "batch2_ta", {2, 7, 9}, {2, 7, 33}, true, false);
  addBatchedMatmul(t, "batch5_both", {5, 6, 11}, {5, 13, 6}, true, true);
  // GPU: products wider than a block of 64 x 32 in both dims, the batch in
  // the block index.
  addBatchedMatmul(t, "batch2_40x19_19x70", {2, 40, 19}, {2, 19, 70}, false,
                   false);
  addBatchedMatmul(t, "batch2_40x65_65x70", {2, 40, 65}, {2, 65, 70}, false,
                   false);
  // GPU: at most 8 rows (a classifier's input gradient, attention at one
  // query): one thread per output feature over K, or, where K is the
  // weight's unit stride, a warp per feature with its lanes along K (70:
  // three warps' widths, the last partial); partial blocks of features,
  // alone and with a batch.
  addMatmul(t, "m1_k128_n70", {1, 128}, {128, 70}, false, false);
  addMatmul(t, "m2_k70_n9_transpose_b", {2, 70}, {9, 70}, false, true);
  addBatchedMatmul(t, "batch2_m3_k20_n70", {2, 3, 20}, {2, 20, 70}, false,
                   false);
  addBatchedMatmul(t, "batch3_m5_k40_n11_tb", {3, 5, 40}, {3, 11, 40}, false,
                   true);

  addReduceSum(t, "axes0_2", {3, 5, 7}, {0, 2}, false);
  addReduceSum(t, "bias_grad_axis0", {4, 17}, {0}, false);
  addReduceSum(t, "axes0_2_3_keepdims", {2, 3, 4, 5}, {0, 2, 3}, true);
  addReduceSum(t, "all_to_scalar", {3, 5}, {0, 1}, false);
  // 18,879 elements: on GPU targets 3 blocks of 256 threads, 25 terms a
  // thread, the last round partial.
  addReduceSum(t, "all_3x7x29x31", {3, 7, 29, 31}, {0, 1, 2, 3}, false);
  // Innermost reduced dims flattened into one (a 14x14 plane: 196 lanes).
  addReduceSum(t, "bias_grad_14x14", {3, 5, 14, 14}, {0, 2, 3}, false);
  addReduceSum(t, "plane_3x7x5", {2, 3, 7, 5}, {1, 2, 3}, true);
  for (const std::string kind : {"max", "min", "prod"}) {
    // Kept innermost dim (vector accumulators), reduced innermost dim
    // (rfactor'd lanes: 37 = 2 vectors + 5), everything, keepdims.
    addReduce(t, "axes0_2", kind, {3, 5, 7}, {0, 2}, false);
    addReduce(t, "axis0_17", kind, {4, 17}, {0}, false);
    addReduce(t, "axis1_37_lanes", kind, {3, 37}, {1}, true);
    addReduce(t, "all_to_scalar", kind, {3, 41}, {0, 1}, false);
    addReduce(t, "plane_6x7", kind, {2, 3, 6, 7}, {0, 2, 3}, false);
    addReduceGrad(t, kind + "_axes0_2", kind, {3, 5, 7}, {0, 2}, false);
    addReduceGrad(t, kind + "_axis1_keepdims", kind, {4, 19}, {1}, true);
    addReduceGrad(t, kind + "_all", kind, {2, 3, 4}, {0, 1, 2}, false);
    addReduceGrad(t, kind + "_plane_6x7", kind, {2, 3, 6, 7}, {2, 3}, true);
  }
  addReduceGradKinks(t);
  const int64_t ignoreOne = 1;
  addNllLossGrad(t, "mean_5x7", {5, 7}, false, "mean", nullptr);
  addNllLossGrad(t, "weighted_mean_ignore1_2x4x3x5", {2, 4, 3, 5}, true,
                 "mean", &ignoreOne);
  addNllLossGrad(t, "sum_4x6", {4, 6}, true, "sum", nullptr);
  addNllLossGrad(t, "none_ignore1_3x5x17", {3, 5, 17}, false, "none",
                 &ignoreOne);

  addSlice(t, "axis1", {3, 7, 5}, 1, 2, 4);
  addSlice(t, "axis0_last_row", {6, 4}, 0, 5, 1);
  addSlice(t, "axis2_c17_to_16", {2, 3, 17}, 2, 0, 16);

  {
    Rng rng("scale/3x5x7");
    const ref::Tensor x = rng.tensor({3, 5, 7}, -2, 2);
    addForward(t, "3x5x7", "scale", {{"factor", -0.37}}, f32({x}),
               {ref::scale(x, -0.37)});
  }

  {
    Rng rng("running_stats_update/c5");
    const ref::Tensor rm = rng.tensor({5}, -1, 1), rv = rng.tensor({5}, 0.5, 2);
    const ref::Tensor m = rng.tensor({5}, -1, 1), v = rng.tensor({5}, 0.5, 2);
    addForward(t, "c5_count48", "running_stats_update",
               {{"momentum", 0.1}, {"count", 48}}, f32({rm, rv, m, v}),
               ref::runningStatsUpdate(rm, rv, m, v, 0.1, 48));
    // count 2: the unbiasing factor is 2.
    const ref::Tensor rm17 = rng.tensor({17}, -1, 1),
                      rv17 = rng.tensor({17}, 0.5, 2);
    const ref::Tensor m17 = rng.tensor({17}, -1, 1),
                      v17 = rng.tensor({17}, 0.5, 2);
    addForward(t, "c17_count2_momentum0_3", "running_stats_update",
               {{"momentum", 0.3}, {"count", 2}}, f32({rm17, rv17, m17, v17}),
               ref::runningStatsUpdate(rm17, rv17, m17, v17, 0.3, 2));
  }

  addBatchNormTrain(t, "n3_c5_4x4", {3, 5, 4, 4}, 1e-5);
  addBatchNormTrain(t, "2d_n4_c3", {4, 3}, 1e-5);
  // One vector of channels and a one-lane tail (AVX2's 4 and 8, AVX-512's
  // 16 lanes): Halide 14 drops such a tail (guardedWidth).
  for (int64_t c : {5, 9, 17}) {
    addBatchNormTrain(t, "2d_n3_c" + std::to_string(c), {3, c}, 1e-5);
  }
  addBatchNormTrain(t, "n1_c17_3x2_eps1e-3", {1, 17, 3, 2}, 1e-3);
  addBatchNormTrain(t, "n2_c5_17x19_channel_major", {2, 5, 17, 19}, 1e-5);
  addBatchNormTrain(t, "n3_c4_l300_channel_major", {3, 4, 300}, 1e-5);
  addBatchNormTrain(t, "n2_c2_67x65_rows", {2, 2, 67, 65}, 1e-5);
  addBatchNormTrain(t, "mean_offset10", {3, 5, 4, 4}, 1e-5, 10, 12);
  // The pooling tail: channel-major (planes of 256+), a last row and
  // column no window reads, 3x3 windows; and the flat form.
  addBatchNormTrainPool(t, "train_pool_tail_n3_c5_17x19_k2", {3, 5, 17, 19},
                        {2, 2});
  addBatchNormTrainPool(t, "train_pool_tail_n2_c3_18x16_k3", {2, 3, 18, 16},
                        {3, 3});
  addBatchNormTrainPool(t, "train_pool_tail_n4_c3_6x7_k2_flat", {4, 3, 6, 7},
                        {2, 2});
  // kiln-fuse's recompute-conv: LeNet's first layer (one channel, 3x3, pad
  // 1) on an odd plane and on 20 rows, RGB with a bias at stride 2 and 3x3 windows, and a
  // flat plane (under 256 positions).
  {
    RecomputedConv lenet{{3, 1, 17, 19}, 5};
    lenet.conv.pads = {1, 1, 1, 1};
    addRecomputedConvTrain(t, "recompute_conv_train_lenet_17x19", lenet);
    addRecomputedConvPrologue(t, "recompute_conv_prologue_lenet_17x19", lenet);
    // Rows a multiple of 4: the recomputed rows unrolled by 4.
    RecomputedConv rows4{{2, 1, 20, 19}, 3};
    rows4.conv.pads = {1, 1, 1, 1};
    addRecomputedConvTrain(t, "recompute_conv_train_lenet_20x19", rows4);
    addRecomputedConvPrologue(t, "recompute_conv_prologue_lenet_20x19", rows4);
    // Pixels in [0, 1] (an offset the one-loop sink centres away) on rows
    // of two whole vectors. GPU targets: the flat form's weight gradient
    // sums the 2880 products of each weight in one thread, in order, 3.3e-5
    // off on PoCL (docs/gpu.md).
    RecomputedConv pixels{{3, 1, 30, 32}, 4};
    pixels.conv.pads = {1, 1, 1, 1};
    pixels.low = 0;
    pixels.gpuTolerance = 1e-4;
    addRecomputedConvPrologue(t, "recompute_conv_prologue_pixels_30x32",
                              pixels);
    RecomputedConv rgb{{2, 3, 37, 36}, 4};
    rgb.conv.strides = {2, 2};
    rgb.conv.pads = {1, 0, 1, 1};
    rgb.pool = {3, 3};
    addRecomputedConvTrain(t, "recompute_conv_train_rgb_stride2", rgb);
    addRecomputedConvPrologue(t, "recompute_conv_prologue_rgb_stride2", rgb);
    RecomputedConv flat{{4, 1, 8, 9}, 3};
    addRecomputedConvTrain(t, "recompute_conv_train_flat_6x7", flat);
  }

  addDropout(t, "rate0_5_seed42", {3, 5, 7, 6}, 0.5, 42, 0);
  // Negative seed and a salt past 32 bits: both cast to uint32.
  addDropout(t, "rate0_3_negative_seed_wide_salt", {17}, 0.3, -7,
             0x123456789ll);
  addDropout(t, "rate0_keeps_all", {4, 33}, 0.0, 3, 11);
  return t;
}

const GradCaseTable &gradCases() {
  static const GradCaseTable table = buildCases();
  return table;
}

// ---------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------

// The largest scaled error per op, over every case and output run so far.
std::map<std::string, double> &worstByOp() {
  static std::map<std::string, double> worst;
  return worst;
}

// Prints worstByOp() after the last test when KILN_TEST_PRINT_ERRORS is set.
class ErrorTable : public ::testing::Environment {
public:
  void TearDown() override {
    if (!std::getenv("KILN_TEST_PRINT_ERRORS") || worstByOp().empty()) {
      return;
    }
    std::cout << "[error table] max scaled error per training op:\n";
    for (const auto &[op, worst] : worstByOp()) {
      std::cout << "  " << op << ": " << worst << "\n";
    }
  }
};
::testing::Environment *const errorTable =
    ::testing::AddGlobalTestEnvironment(new ErrorTable);

// Compares `got` with `want` element by element: |got - want| <= tolerance ·
// max(|want|, floor). Records the worst scaled error under `label` and its op.
void expectClose(const ref::Tensor &want, const runtime::Tensor &got,
                 double tolerance, double floor, const std::string &op,
                 const std::string &label) {
  ASSERT_EQ(got.shape, want.shape) << label;
  ASSERT_EQ(got.dtype, runtime::DType::F32) << label;
  double worst = 0;
  int mismatches = 0;
  std::ostringstream details;
  for (size_t i = 0; i < want.data.size(); ++i) {
    const double g = got.f32()[i], w = want.data[i];
    const double error = std::abs(g - w) / std::max(std::abs(w), floor);
    const bool ok = error <= tolerance; // false for NaN
    worst = std::max(worst, std::isnan(error) ? INFINITY : error);
    if (!ok && ++mismatches <= 5) {
      details << "\n  element " << i << ": expected " << w << ", got " << g;
    }
  }
  worstByOp()[op] = std::max(worstByOp()[op], worst);
  if (std::getenv("KILN_TEST_PRINT_ERRORS")) {
    std::cout << "[error] " << label << " max scaled error " << worst << "\n";
  }
  EXPECT_EQ(mismatches, 0) << label << " " << shapeText(want.shape) << ": "
                           << mismatches << " of " << want.data.size()
                           << " elements off by more than " << tolerance
                           << " (scale floor " << floor << ", max scaled error "
                           << worst << ")" << details.str();
}

double maxAbs(const ref::Tensor &t) {
  double m = 0;
  for (double v : t.data) {
    m = std::max(m, std::abs(v));
  }
  return m;
}

std::vector<runtime::Tensor> runKernel(const KernelSpec &spec,
                                       const std::vector<Operand> &operands) {
  std::vector<runtime::Tensor> inputs;
  for (const Operand &operand : operands) {
    inputs.push_back(toRuntime(operand));
  }
  return sharedKernelBatch().run(spec, inputs);
}

ref::Tensor toReference(const runtime::Tensor &t) {
  ref::Tensor r(t.shape);
  for (size_t i = 0; i < r.data.size(); ++i) {
    r.data[i] = t.f32()[i];
  }
  return r;
}

// ---------------------------------------------------------------------------
// Optimizer cases
// ---------------------------------------------------------------------------

struct OptimizerCase {
  std::string name;
  ref::OptimizerConfig config;
  double lr;
  KernelSpec spec;
  ref::Tensor param;              // before the first update
  std::vector<ref::Tensor> grads; // one per update
};

void PrintTo(const OptimizerCase *c, std::ostream *os) {
  *os << "optimizer_update/" << c->name;
}

// The kernel attrs of docs/training-ops.md: kind, that kind's
// hyperparameters, weight_decay and clip_value.
json optimizerAttrs(const ref::OptimizerConfig &c) {
  json attrs = {{"kind", c.kind},
                {"weight_decay", c.weightDecay},
                {"clip_value", c.clipValue}};
  if (c.kind == "momentum" || c.kind == "nesterov") {
    attrs["momentum"] = c.momentum;
    attrs["dampening"] = c.dampening;
  } else if (c.kind == "adagrad") {
    attrs["lr_decay"] = c.lrDecay;
    attrs["epsilon"] = c.epsilon;
  } else if (c.kind == "adadelta") {
    attrs["rho"] = c.rho;
    attrs["epsilon"] = c.epsilon;
  } else if (c.kind == "rmsprop") {
    attrs["alpha"] = c.alpha;
    attrs["epsilon"] = c.epsilon;
  } else if (c.kind == "adam") {
    attrs["beta1"] = c.beta1;
    attrs["beta2"] = c.beta2;
    attrs["epsilon"] = c.epsilon;
  }
  return attrs;
}

// PyTorch's defaults for a kind (epsilon differs per kind).
ref::OptimizerConfig optimizerDefaults(const std::string &kind) {
  ref::OptimizerConfig c;
  c.kind = kind;
  c.epsilon = kind == "adagrad" ? 1e-10 : kind == "adadelta" ? 1e-6 : 1e-8;
  return c;
}

KernelSpec optimizerSpec(const ref::OptimizerConfig &c,
                         const std::vector<int64_t> &shape) {
  const int slots = ref::optimizerSlots(c.kind);
  std::vector<Operand> inputs =
      f32({ref::Tensor(shape), ref::Tensor(shape), scalar(0), scalar(1)});
  std::vector<std::vector<int64_t>> outputs = {shape};
  for (int s = 0; s < slots; ++s) {
    inputs.push_back({ref::Tensor(shape), codegen::DType::F32});
    outputs.push_back(shape);
  }
  KernelSpec spec =
      makeSpec("optimizer_update", optimizerAttrs(c), inputs, outputs);
  registerSpec(spec);
  return spec;
}

std::vector<OptimizerCase> buildOptimizerCases() {
  std::vector<OptimizerCase> cases;
  auto add = [&](const std::string &name, const ref::OptimizerConfig &c,
                 double lr) {
    Rng rng("optimizer_update/" + name);
    OptimizerCase oc;
    oc.name = name;
    oc.config = c;
    oc.lr = static_cast<float>(lr); // the kernel's lr is an f32 scalar
    oc.param = rng.tensor({5, 7}, -2, 2);
    for (int step = 0; step < 3; ++step) {
      oc.grads.push_back(rng.tensor({5, 7}, -1, 1));
    }
    oc.spec = optimizerSpec(c, {5, 7});
    cases.push_back(std::move(oc));
  };
  for (const char *kind : {"sgd", "momentum", "nesterov", "adagrad", "adadelta",
                           "rmsprop", "adam"}) {
    add(std::string(kind) + "_defaults", optimizerDefaults(kind),
        std::string(kind) == "adadelta" ? 1.0 : 0.01);
  }
  ref::OptimizerConfig c = optimizerDefaults("sgd");
  c.weightDecay = 0.05;
  c.clipValue = 0.3; // clips about 2/3 of the gradients in [-1, 1)
  add("sgd_weight_decay_clip", c, 0.1);
  c = optimizerDefaults("momentum");
  c.momentum = 0.8;
  c.dampening = 0.3; // not applied on the first step
  c.weightDecay = 0.01;
  add("momentum_dampening_weight_decay", c, 0.05);
  c = optimizerDefaults("nesterov");
  c.weightDecay = 0.02;
  c.clipValue = 0.5;
  add("nesterov_weight_decay_clip", c, 0.05);
  c = optimizerDefaults("adagrad");
  c.lrDecay = 0.5; // lr / (1 + (t - 1)·0.5)
  add("adagrad_lr_decay", c, 0.1);
  c = optimizerDefaults("adam");
  c.beta1 = 0.8;
  c.beta2 = 0.95;
  c.weightDecay = 0.1;
  c.clipValue = 0.4;
  add("adam_betas_weight_decay_clip", c, 0.01);
  c = optimizerDefaults("rmsprop");
  c.alpha = 0.9;
  c.weightDecay = 0.01;
  add("rmsprop_alpha0_9_weight_decay", c, 0.01);
  return cases;
}

const std::vector<OptimizerCase> &optimizerCases() {
  static const std::vector<OptimizerCase> cases = buildOptimizerCases();
  return cases;
}

// The 1-element specs of the hand-computed tests.
const KernelSpec &handSpec(const std::string &kind) {
  static const std::map<std::string, KernelSpec> specs = [] {
    std::map<std::string, KernelSpec> m;
    for (const char *k : {"sgd", "momentum", "adam"}) {
      m[k] = optimizerSpec(optimizerDefaults(k), {1});
    }
    return m;
  }();
  return specs.at(kind);
}

// Registered at start-up like every other case.
const bool handSpecsRegistered = (handSpec("sgd"), true);

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

// Compiles every kernel of this file (the ctest fixture test of
// KernelTest.cpp compiles them too: every case registers at start-up).
TEST(GradKernelBatchTest, EveryCaseCompiles) {
  gradCases();
  optimizerCases();
  (void)handSpecsRegistered;
  for (const std::string &failure : sharedKernelBatch().compileRegistered()) {
    for (const std::string &key : registeredKeys()) {
      if (failure.compare(0, key.size() + 2, key + ": ") == 0) {
        ADD_FAILURE() << "codegen failed: " << failure;
      }
    }
  }
}

class GradKernelTest : public ::testing::TestWithParam<const GradCase *> {};

TEST_P(GradKernelTest, MatchesReference) {
  const GradCase &c = *GetParam();
  std::vector<runtime::Tensor> outputs;
  try {
    outputs = runKernel(c.spec, c.inputs);
  } catch (const std::exception &e) {
    if (lacksGpuSchedule(e)) {
      GTEST_SKIP() << e.what();
    }
    FAIL() << "running " << c.spec.key() << " threw: " << e.what();
  }
  const std::vector<ref::Tensor> expected = c.expected();
  ASSERT_EQ(outputs.size(), expected.size());
  for (size_t o = 0; o < outputs.size(); ++o) {
    const std::string label =
        c.spec.op + "/" + c.name + " output " + std::to_string(o);
    if (c.check == Check::Forward) {
      const double tolerance =
          testsGpuTarget() && c.gpuTolerance > 0 ? c.gpuTolerance : kTolerance;
      expectClose(expected[o], outputs[o], tolerance, 1.0, c.spec.op, label);
    } else {
      const double m = maxAbs(expected[o]);
      expectClose(expected[o], outputs[o], kFdTolerance, m > 0 ? 1e-2 * m : 1,
                  c.spec.op, label);
    }
  }
}

std::string caseName(const ::testing::TestParamInfo<const GradCase *> &info) {
  std::string name = info.param->name;
  std::replace_if(
      name.begin(), name.end(), [](char ch) { return !std::isalnum(ch); }, '_');
  return name;
}

#define KILN_GRAD_CASES(Suite, op)                                             \
  INSTANTIATE_TEST_SUITE_P(Suite, GradKernelTest,                              \
                           ::testing::ValuesIn(gradCases().casesOf(op)),       \
                           caseName)

KILN_GRAD_CASES(Conv2dGradInput, "conv2d_grad_input");
KILN_GRAD_CASES(Conv2dGradWeight, "conv2d_grad_weight");
KILN_GRAD_CASES(Conv2dWinogradGradInput, "conv2d_winograd");
KILN_GRAD_CASES(WinogradFilterGradInput, "winograd_filter");
KILN_GRAD_CASES(MaxPool2dGrad, "max_pool2d_grad");
KILN_GRAD_CASES(FusedPoolPrologue, "fused");
KILN_GRAD_CASES(AvgPool2dGrad, "avg_pool2d_grad");
KILN_GRAD_CASES(GlobalAvgPoolGrad, "global_avg_pool_grad");
KILN_GRAD_CASES(BatchNormGrad, "batch_norm_grad");
KILN_GRAD_CASES(LayerNormGrad, "layer_norm_grad");
KILN_GRAD_CASES(LrnGrad, "lrn_grad");
KILN_GRAD_CASES(ResizeGrad, "resize_grad");
KILN_GRAD_CASES(GatherGrad, "gather_grad");
KILN_GRAD_CASES(GatherElementsGrad, "gather_elements_grad");
KILN_GRAD_CASES(PadGrad, "pad_grad");
KILN_GRAD_CASES(ActivationGrad, "activation_grad");
KILN_GRAD_CASES(PreluGrad, "prelu_grad");
KILN_GRAD_CASES(GridSampleGrad, "grid_sample_grad");
KILN_GRAD_CASES(SoftmaxGrad, "softmax_grad");
KILN_GRAD_CASES(LossGrad, "loss_grad");
KILN_GRAD_CASES(RegularizerGrad, "regularizer_grad");
KILN_GRAD_CASES(Matmul, "matmul");
KILN_GRAD_CASES(ReduceSum, "reduce_sum");
KILN_GRAD_CASES(ReduceMax, "reduce_max");
KILN_GRAD_CASES(ReduceMin, "reduce_min");
KILN_GRAD_CASES(ReduceProd, "reduce_prod");
KILN_GRAD_CASES(ReduceGrad, "reduce_grad");
KILN_GRAD_CASES(NllLossGrad, "nll_loss_grad");
KILN_GRAD_CASES(Slice, "slice");
KILN_GRAD_CASES(Scale, "scale");
KILN_GRAD_CASES(Regularizer, "regularizer");
KILN_GRAD_CASES(RunningStatsUpdate, "running_stats_update");
KILN_GRAD_CASES(BatchNormTrain, "batch_norm_train");
KILN_GRAD_CASES(DropoutTrain, "dropout_train");
KILN_GRAD_CASES(Augment, "augment");

// Three updates, each output fed back as the next input, step = 1, 2, 3;
// every update is compared with the reference applied to the kernel's own
// previous state (so that float rounding does not compound).
class OptimizerUpdateTest
    : public ::testing::TestWithParam<const OptimizerCase *> {};

TEST_P(OptimizerUpdateTest, ThreeUpdatesMatchReference) {
  const OptimizerCase &c = *GetParam();
  ref::Tensor param = c.param;
  std::vector<ref::Tensor> slots(ref::optimizerSlots(c.config.kind),
                                 ref::Tensor(param.shape)); // zeros
  for (int step = 1; step <= 3; ++step) {
    std::vector<ref::Tensor> in = {param, c.grads[step - 1], scalar(c.lr),
                                   scalar(step)};
    in.insert(in.end(), slots.begin(), slots.end());
    std::vector<runtime::Tensor> outputs;
    try {
      outputs = runKernel(c.spec, f32(in));
    } catch (const std::exception &e) {
      if (lacksGpuSchedule(e)) {
        GTEST_SKIP() << e.what();
      }
      FAIL() << "running " << c.spec.key() << " threw: " << e.what();
    }
    const std::vector<ref::Tensor> want = ref::optimizerUpdate(
        c.config, param, c.grads[step - 1], c.lr, step, slots);
    ASSERT_EQ(outputs.size(), want.size());
    for (size_t o = 0; o < want.size(); ++o) {
      const double m = maxAbs(want[o]);
      expectClose(want[o], outputs[o], kTolerance, m > 0 ? 1e-2 * m : 1,
                  "optimizer_update",
                  "optimizer_update/" + c.name + " step " +
                      std::to_string(step) + " output " + std::to_string(o));
    }
    param = toReference(outputs[0]);
    for (size_t s = 0; s < slots.size(); ++s) {
      slots[s] = toReference(outputs[1 + s]);
    }
  }
}

std::string
optimizerCaseName(const ::testing::TestParamInfo<const OptimizerCase *> &info) {
  return info.param->name;
}

std::vector<const OptimizerCase *> optimizerCasePointers() {
  std::vector<const OptimizerCase *> pointers;
  for (const OptimizerCase &c : optimizerCases()) {
    pointers.push_back(&c);
  }
  return pointers;
}

INSTANTIATE_TEST_SUITE_P(OptimizerUpdate, OptimizerUpdateTest,
                         ::testing::ValuesIn(optimizerCasePointers()),
                         optimizerCaseName);

// Hand-computed numbers: p = 1, a constant gradient 0.5, lr = 0.1, PyTorch's
// defaults. Returns {param, slots...} after each of three updates.
std::vector<std::vector<double>> threeHandUpdates(const std::string &kind) {
  const KernelSpec &spec = handSpec(kind);
  std::vector<ref::Tensor> state(spec.outputs.size(), ref::Tensor({1}));
  state[0].data[0] = 1;
  std::vector<std::vector<double>> after;
  for (int step = 1; step <= 3; ++step) {
    std::vector<ref::Tensor> in = {state[0], ref::Tensor({1}, {0.5}),
                                   scalar(0.1), scalar(step)};
    in.insert(in.end(), state.begin() + 1, state.end());
    const std::vector<runtime::Tensor> out = runKernel(spec, f32(in));
    std::vector<double> values;
    for (size_t o = 0; o < out.size(); ++o) {
      state[o] = toReference(out[o]);
      values.push_back(state[o].data[0]);
    }
    after.push_back(values);
  }
  return after;
}

// Float kernels: 1e-6 is ~10 float ulps at 1.
constexpr double kHandTolerance = 1e-6;

TEST(OptimizerUpdateByHand, Sgd) {
  // p -= 0.1·0.5 each step: 0.95, 0.90, 0.85.
  const auto after = threeHandUpdates("sgd");
  EXPECT_NEAR(after[0][0], 0.95, kHandTolerance);
  EXPECT_NEAR(after[1][0], 0.90, kHandTolerance);
  EXPECT_NEAR(after[2][0], 0.85, kHandTolerance);
}

TEST(OptimizerUpdateByHand, Momentum) {
  // buf = g on step 1, then 0.9·buf + g: 0.5, 0.95, 1.355.
  // p -= 0.1·buf: 0.95, 0.855, 0.7195.
  const auto after = threeHandUpdates("momentum");
  EXPECT_NEAR(after[0][1], 0.5, kHandTolerance);
  EXPECT_NEAR(after[1][1], 0.95, kHandTolerance);
  EXPECT_NEAR(after[2][1], 1.355, kHandTolerance);
  EXPECT_NEAR(after[0][0], 0.95, kHandTolerance);
  EXPECT_NEAR(after[1][0], 0.855, kHandTolerance);
  EXPECT_NEAR(after[2][0], 0.7195, kHandTolerance);
}

TEST(OptimizerUpdateByHand, Adam) {
  // m = 0.9m + 0.05: 0.05, 0.095, 0.1355; v = 0.999v + 0.00025: 0.00025,
  // 0.00049975, 0.00074925025. With a constant gradient the bias-corrected
  // m̂ = 0.5 and √v̂ = 0.5 exactly, so every step moves p by
  // 0.1·0.5/(0.5 + 1e-8) ≈ 0.1: 0.9, 0.8, 0.7.
  const auto after = threeHandUpdates("adam");
  EXPECT_NEAR(after[0][1], 0.05, kHandTolerance);
  EXPECT_NEAR(after[1][1], 0.095, kHandTolerance);
  EXPECT_NEAR(after[2][1], 0.1355, kHandTolerance);
  EXPECT_NEAR(after[0][2], 0.00025, 1e-9);
  EXPECT_NEAR(after[1][2], 0.00049975, 1e-9);
  EXPECT_NEAR(after[2][2], 0.00074925025, 1e-9);
  EXPECT_NEAR(after[0][0], 0.9, kHandTolerance);
  EXPECT_NEAR(after[1][0], 0.8, kHandTolerance);
  EXPECT_NEAR(after[2][0], 0.7, kHandTolerance);
}

// ----- values at kinks (docs/training-ops.md, "Derivatives at kinks") -------

// Runs the kernel of case op/name on `inputs` (same shapes as the case).
std::vector<runtime::Tensor> runCaseKernel(const std::string &op,
                                           const std::string &name,
                                           const std::vector<Operand> &inputs) {
  return runKernel(gradCases().find(op, name).spec, inputs);
}

void expectValues(const runtime::Tensor &got, const ref::Tensor &want,
                  const std::string &label) {
  expectClose(want, got, kTolerance, 1e-30, "kinks", label); // relative
}

// An activation_grad case's kernel on x = `kink` everywhere with random dy:
// dx must be dy·`derivative`.
void expectActivationKink(const std::string &name, double kink,
                          double derivative) {
  const GradCase &c = gradCases().find("activation_grad", name);
  const ref::Tensor &dy = c.inputs[1].values;
  ref::Tensor x(dy.shape);
  std::fill(x.data.begin(), x.data.end(), kink);
  const auto out = runCaseKernel("activation_grad", name, f32({x, dy}));
  ref::Tensor want = dy;
  for (double &v : want.data) {
    v *= static_cast<float>(derivative);
  }
  expectValues(out[0], want,
               "activation_grad/" + name + " at x = " + std::to_string(kink));
}

TEST(ActivationGradKinks, PyTorchValues) {
  expectActivationKink("relu", 0, 0);
  expectActivationKink("relu6", 0, 0);
  expectActivationKink("relu6", 6, 0);
  expectActivationKink("step", 0, 0);
  expectActivationKink("step", 1.5, 0);       // 0 everywhere
  expectActivationKink("leaky_relu", 0, 0.2); // alpha at x <= 0
  expectActivationKink("elu", 0, 0.7);        // alpha·e^0
  expectActivationKink("selu", 0, 1.0507009873554805 * 1.6732632423543772);
  // beta·x == threshold: still sigmoid(beta·x) (PyTorch: x·beta > threshold
  // takes the linear branch); 1 just past it.
  expectActivationKink("softplus_beta2_threshold5", 2.5,
                       1 / (1 + std::exp(-5.0)));
  expectActivationKink("softplus_beta2_threshold5", 2.75, 1);
  // Piecewise constant: 0 at the jumps too; thresholded_relu and shrink
  // take the zero branch at their thresholds (PyTorch's threshold and
  // softshrink/hardshrink).
  expectActivationKink("floor", 2, 0);
  expectActivationKink("round", 0.5, 0);
  expectActivationKink("sign", 0, 0);
  expectActivationKink("thresholded_relu", 0.3, 0);
  expectActivationKink("shrink", 0.6, 0);
  expectActivationKink("shrink", -0.6, 0);
  expectActivationKink("shrink", 0.61, 1);
}

TEST(PreluGradKinks, ZeroTakesTheSlope) {
  // x = 0 everywhere: dx = dy·slope, dslope = Σ dy·x = 0.
  const GradCase &c = gradCases().find("prelu_grad", "per_channel_c5");
  const ref::Tensor &slope = c.inputs[1].values, &dy = c.inputs[2].values;
  const ref::Tensor x(dy.shape);
  const auto out =
      runCaseKernel("prelu_grad", "per_channel_c5", f32({x, slope, dy}));
  ref::Tensor want = dy;
  const int64_t inner = 16; // [3,5,4,4]
  for (size_t i = 0; i < want.data.size(); ++i) {
    want.data[i] = static_cast<float>(dy.data[i] * slope.data[(i / inner) % 5]);
  }
  expectValues(out[0], want, "prelu_grad dx at x = 0");
  EXPECT_EQ(maxAbs(toReference(out[1])), 0) << "prelu_grad dslope at x = 0";
}

TEST(LossGradKinks, PyTorchValues) {
  // mae at p == t: sign(0) = 0.
  {
    const GradCase &c = gradCases().find("loss_grad", "mae_3x5x7");
    const ref::Tensor &t = c.inputs[1].values;
    const auto out =
        runCaseKernel("loss_grad", "mae_3x5x7", f32({t, t, scalar(-0.6)}));
    EXPECT_EQ(maxAbs(toReference(out[0])), 0) << "mae at p == t";
  }
  // hinge at margin 1 - p·t == 0: 0; elsewhere -t·dloss/n.
  {
    const GradCase &c = gradCases().find("loss_grad", "hinge_3x5");
    const ref::Tensor &t = c.inputs[1].values;
    ref::Tensor p = t; // p·t = 1 everywhere...
    ref::Tensor want(t.shape);
    for (size_t i = 0; i < 5; ++i) { // ...but the first 5 inside the margin
      p.data[i] = 0.5 * t.data[i];
      want.data[i] = static_cast<float>(-t.data[i] * -1.1 / 15);
    }
    const auto out =
        runCaseKernel("loss_grad", "hinge_3x5", f32({p, t, scalar(-1.1)}));
    expectClose(want, out[0], kTolerance, 1e-3, "kinks", "hinge at margin 0");
  }
  // huber at |d| == delta: delta·sign(d) (= d); dloss 1.3, n = 36.
  {
    const GradCase &c = gradCases().find("loss_grad", "huber_delta1_4x9");
    const ref::Tensor &t = c.inputs[1].values;
    ref::Tensor p = t, want(t.shape);
    for (size_t i = 0; i < p.data.size(); ++i) {
      const double d = i % 2 ? 1.0 : -1.0;
      p.data[i] = static_cast<float>(t.data[i] + d);
      want.data[i] = (p.data[i] - t.data[i]) * 1.3 / 36; // float d, ~±1
    }
    const auto out = runCaseKernel("loss_grad", "huber_delta1_4x9",
                                   f32({p, t, scalar(1.3)}));
    expectClose(want, out[0], 1e-5, 1e-3, "kinks", "huber at |d| == delta");
  }
  // bce at p = 0 and 1: (p - t)/max(p(1 - p), 1e-12)/n · dloss, n = 15,
  // dloss 0.8.
  {
    const GradCase &c = gradCases().find("loss_grad", "bce_3x5");
    ref::Tensor p = c.inputs[0].values, t = c.inputs[1].values;
    const double probs[] = {0, 0, 1, 1, 0};
    const double targets[] = {0, 0.5, 1, 0, 1};
    for (size_t i = 0; i < 5; ++i) {
      p.data[i] = probs[i];
      t.data[i] = targets[i];
    }
    ref::Tensor want(p.shape);
    for (size_t i = 0; i < p.data.size(); ++i) {
      const double pv = p.data[i], tv = t.data[i];
      want.data[i] = (pv - tv) / std::max(pv * (1 - pv), 1e-12) / 15 * 0.8;
    }
    const auto out =
        runCaseKernel("loss_grad", "bce_3x5", f32({p, t, scalar(0.8)}));
    // Relative: the clamped elements are ~5e10.
    expectClose(want, out[0], 1e-5, 1e-30, "kinks", "bce at p = 0, 1");
  }
}

TEST(RegularizerGradKinks, SignOfZeroIsZero) {
  const GradCase &c = gradCases().find("regularizer_grad", "l1_l2_5x7");
  ref::Tensor w = c.inputs[0].values;
  for (size_t i = 0; i < w.data.size(); i += 2) {
    w.data[i] = 0;
  }
  const auto out =
      runCaseKernel("regularizer_grad", "l1_l2_5x7", f32({w, scalar(1.9)}));
  expectClose(ref::regularizerGrad(w, 1.9, 0.01, 0.001), out[0], kTolerance,
              1e-3, "kinks", "regularizer_grad at w = 0");
}

// Ties in max-pool windows: the first maximum in row-major window order
// takes the window's dy (PyTorch); overlapping windows add up. Integer
// values in {0, 1, 2} make ties common; expected from the tie rule.
void expectTiesGoFirst(const std::string &name, const ref::Pool2dParams &p) {
  const GradCase &c = gradCases().find("max_pool2d_grad", name);
  const ref::Tensor &dy = c.inputs[1].values;
  Rng rng("max_pool2d_grad/ties/" + name);
  ref::Tensor x(c.inputs[0].values.shape);
  for (double &v : x.data) {
    v = rng.integer(0, 3);
  }
  const auto out = runCaseKernel("max_pool2d_grad", name, f32({x, dy}));
  expectClose(ref::maxPool2dGrad(x, dy, p), out[0], kTolerance, 1.0, "kinks",
              "max_pool2d_grad " + name + " with ties");
}

TEST(MaxPoolGradKinks, TiesGoToTheFirstMaximum) {
  expectTiesGoFirst("k3_s2_pad1_n3_c5",
                    poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}));
  expectTiesGoFirst("k2_s2_valid_20x28",
                    poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}));
  expectTiesGoFirst("k5x4_s3x2_pad2x1_large_window",
                    poolParams({5, 4}, {3, 2}, {2, 1, 2, 1}));
}

} // namespace
} // namespace kiln::test
