// Numerical tests of every op kernel: each case builds a KernelSpec exactly
// as docs/ops.md describes it (canonical attrs), runs the generated kernel
// through the runtime (KernelHarness) on seeded random inputs, and compares
// every output element with the double-precision reference (reference/).
//
// Pass criterion, per element: |got - want| <= tolerance * max(1, |want|),
// i.e. a relative error for values above 1 and an absolute one below (float
// kernels cannot do better than absolute error near 0).
//
// Tolerance: kTolerance = 1e-5 for every op, transcendental ones included.
// Float32 rounding (2^-24 ~ 6e-8 per operation) accumulated over the
// reductions here (at most 768 terms; longer dense sums: addDense) stays
// below it. Halide evaluates exp/log/tanh/erf/sin with its own
// approximations, so a looser bound was
// planned for those ops, but measured it was not needed. Largest scaled
// errors seen (KILN_TEST_PRINT_ERRORS=1 prints them): 3.8e-6 layer_norm and
// 2.2e-6 batch_norm of values with mean ~11 and spread 2 (cancellation in
// x - mean; a one-pass E[x^2] - E[x]^2 variance would miss by ~1e-4),
// 4.3e-6 conv2d and 2.9e-6 dense accumulating 216 / 256 float products,
// 1.7e-6 log_softmax of logits spread over +-50 (values up to ~100); every
// other case below 7e-7, most elementwise ops below 1.5e-7.
//
// The one exception: conv2d_winograd with 4x4 output tiles (F(4x4, 3x3),
// kiln-winograd's choice where it repays; --winograd 2 turns it off)
// trades accuracy for speed: its transforms scale values by up to 8 before
// the sums, so it gets kWinograd4Tolerance.
// Measured: 9.4e-5 on 64 channels of values and weights in [-1, 1] (the
// direct convolution's sums stay below 3.4e-6), 1.3e-5 on 17-20 channels.
//
// Every case of this file is registered with sharedKernelBatch() when the case
// table is built (before any test runs), so the first test compiles all
// kernels of the file in one parallel compileKernels call.
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
#include <limits>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

namespace kiln::test {
namespace {

namespace ref = kiln::reference;
using codegen::KernelSpec;
using nlohmann::json;

constexpr double kTolerance = 1e-5;
constexpr double kWinograd4Tolerance = 2e-4;

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

struct KernelCase {
  std::string name; // unique within its op
  KernelSpec spec;
  std::vector<Operand> inputs;
  std::vector<ref::Tensor> expected;
  bool expectRunError = false; // run() must throw kiln::runtime::Error
  double tolerance = kTolerance;
};

// gtest prints the parameter of a failing test with this.
void PrintTo(const KernelCase *c, std::ostream *os) {
  *os << c->spec.op << "/" << c->name;
}

class CaseTable {
public:
  void add(std::string name, std::string op, json attrs,
           std::vector<Operand> inputs, std::vector<ref::Tensor> expected,
           bool expectRunError = false, double tolerance = kTolerance,
           codegen::DType outputType = codegen::DType::F32) {
    KernelCase c;
    c.tolerance = tolerance;
    c.name = std::move(name);
    c.spec.op = std::move(op);
    c.spec.attrs = std::move(attrs);
    for (const Operand &input : inputs) {
      c.spec.inputs.push_back({input.values.shape, input.dtype});
    }
    for (const ref::Tensor &output : expected) {
      c.spec.outputs.push_back({output.shape, outputType});
    }
    // nextBlocked: the listed tensors in nchw16c (docs/layout.md).
    for (size_t i : blockedInputs_) {
      c.spec.inputs.at(i).layout = codegen::kBlockedLayout;
    }
    if (blockedOutput_) {
      c.spec.outputs.at(0).layout = codegen::kBlockedLayout;
    }
    blockedInputs_.clear();
    blockedOutput_ = false;
    c.spec.schedule = std::move(schedule_);
    schedule_.clear();
    c.inputs = std::move(inputs);
    c.expected = std::move(expected);
    c.expectRunError = expectRunError;
    sharedKernelBatch().add(c.spec);
    byOp_[c.spec.op].push_back(std::move(c));
  }
  std::vector<const KernelCase *> casesOf(const std::string &op) const {
    std::vector<const KernelCase *> cases;
    auto it = byOp_.find(op);
    if (it != byOp_.end()) {
      for (const KernelCase &c : it->second) {
        cases.push_back(&c);
      }
    }
    return cases;
  }

  // The next add()'s inputs `inputs` (and its output, if `output`) are
  // blocked: the test feeds and reads them in nchw16c.
  void nextBlocked(std::vector<size_t> inputs, bool output) {
    blockedInputs_ = std::move(inputs);
    blockedOutput_ = output;
  }

  // The next add()'s kernel is scheduled by `schedule` ("auto:NAME").
  void nextSchedule(std::string schedule) { schedule_ = std::move(schedule); }

private:
  std::map<std::string, std::vector<KernelCase>> byOp_;
  std::vector<size_t> blockedInputs_;
  bool blockedOutput_ = false;
  std::string schedule_;
};

// [N, C, H, W] <-> [N, C/16, H, W, 16] (docs/layout.md), by plain loops.
runtime::Tensor blockTensor(const runtime::Tensor &t, bool toBlocked) {
  const auto &sh = t.shape;
  int64_t n = sh[0], c = toBlocked ? sh[1] : sh[1] * sh[4], h = sh[2],
          w = sh[3], b = codegen::kLayoutBlock;
  runtime::Tensor out(toBlocked ? std::vector<int64_t>{n, c / b, h, w, b}
                                : std::vector<int64_t>{n, c, h, w},
                      runtime::DType::F32);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t x = 0; x < w; ++x) {
          int64_t plain = ((i * c + ch) * h + y) * w + x;
          int64_t blocked = (((i * (c / b) + ch / b) * h + y) * w + x) * b +
                            ch % b;
          if (toBlocked) {
            out.f32()[blocked] = t.f32()[plain];
          } else {
            out.f32()[plain] = t.f32()[blocked];
          }
        }
      }
    }
  }
  return out;
}

// ----- layers --------------------------------------------------------------

void addDense(CaseTable &table, const std::string &name, int64_t n, int64_t k,
              int64_t o, bool withBias) {
  Rng rng("dense/" + name);
  ref::Tensor x = rng.tensor({n, k}, -1, 1);
  ref::Tensor w = rng.tensor({o, k}, -1, 1);
  ref::Tensor b = rng.tensor({o}, -1, 1);
  ref::Tensor y = ref::dense(x, w, withBias ? &b : nullptr);
  std::vector<ref::Tensor> inputs = {x, w};
  if (withBias) {
    inputs.push_back(b);
  }
  // Past 256 terms the float sum's rounding grows with K: kTolerance x K /
  // 256 (K = 1280 on an AVX2 host, whose 8 lanes sum in another order than
  // AVX-512's 16: 1.07e-5).
  table.add(name, "dense", json::object(), f32(inputs), {y}, false,
            kTolerance * std::max(1.0, static_cast<double>(k) / 256));
}

// ONNX same_upper padding of one dim: {begin, end}.
std::array<int64_t, 2> samePads(int64_t in, int64_t kernel, int64_t stride,
                                int64_t dilation) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>(
      (out - 1) * stride + dilation * (kernel - 1) + 1 - in, 0);
  return {total / 2, total - total / 2};
}

std::array<int64_t, 4> samePads2d(const std::vector<int64_t> &xShape,
                                  std::array<int64_t, 2> kernel,
                                  std::array<int64_t, 2> strides,
                                  std::array<int64_t, 2> dilations) {
  const auto h = samePads(xShape[2], kernel[0], strides[0], dilations[0]);
  const auto w = samePads(xShape[3], kernel[1], strides[1], dilations[1]);
  return {h[0], w[0], h[1], w[1]};
}

// packBlock > 0: the weight packed by blocks of that many output channels
// ([O/B, C, KH, KW, B], as kiln-pack-weights makes it), against the
// reference convolution of the unpacked weight.
void addConv(CaseTable &table, const std::string &name,
             std::vector<int64_t> xShape, int64_t outChannels,
             std::array<int64_t, 2> kernel, const ref::Conv2dParams &params,
             bool withBias, int64_t packBlock = 0) {
  Rng rng("conv2d/" + name);
  ref::Tensor x = rng.tensor(xShape, -1, 1);
  ref::Tensor w = rng.tensor(
      {outChannels, xShape[1] / params.groups, kernel[0], kernel[1]}, -1, 1);
  ref::Tensor b = rng.tensor({outChannels}, -1, 1);
  ref::Tensor y = ref::conv2d(x, w, withBias ? &b : nullptr, params);
  std::vector<ref::Tensor> inputs = {
      x, packBlock > 0 ? ref::packConvWeight(w, packBlock) : w};
  if (withBias) {
    inputs.push_back(b);
  }
  const json attrs = {{"strides", params.strides},
                      {"pads", params.pads},
                      {"dilations", params.dilations},
                      {"groups", params.groups}};
  table.add(name, "conv2d", attrs, f32(inputs), {y});
}

// An epilogue kernel in nchw16c: relu(conv2d(x, packed w, b) + r), x, r
// and the output blocked, against the reference convolution (a square
// window of `kernel`, padded to keep the plane).
void addBlockedResidual(CaseTable &table, const std::string &name,
                        std::vector<int64_t> xShape, int64_t outChannels,
                        int64_t kernel = 3) {
  Rng rng("fused/blocked/" + name);
  ref::Tensor x = rng.tensor(xShape, -1, 1);
  ref::Tensor w = rng.tensor({outChannels, xShape[1], kernel, kernel}, -1, 1);
  ref::Tensor b = rng.tensor({outChannels}, -1, 1);
  ref::Conv2dParams params;
  const int64_t pad = kernel / 2;
  params.pads = {pad, pad, pad, pad};
  ref::Tensor y = ref::conv2d(x, w, &b, params);
  ref::Tensor r = rng.tensor(y.shape, -1, 1);
  for (size_t i = 0; i < y.data.size(); ++i) {
    y.data[i] = std::max(y.data[i] + r.data[i], 0.0);
  }
  json attrs = {
      {"kind", "epilogue"},
      {"anchor", "conv2d"},
      {"anchor_attrs",
       {{"strides", {1, 1}}, {"pads", params.pads}, {"dilations", {1, 1}},
        {"groups", 1}}},
      {"anchor_inputs", {0, 1, 2}},
      {"nodes",
       {{{"op", "add"}, {"attrs", json::object()}, {"operands", {-1, 3}}},
        {{"op", "relu"}, {"attrs", json::object()}, {"operands", {-1}}}}}};
  table.nextBlocked({0, 3}, true);
  table.add(name, "fused", attrs,
            f32({x, ref::packConvWeight(w, 16), b, r}), {y});
}

// An epilogue kernel on a matmul of matrices (kiln-fuse's matmul anchor):
// gelu(op(a) op(b) + bias), then + r where `residual`, against the
// reference product and the erf GELU in double.
void addMatmulEpilogue(CaseTable &table, const std::string &name, int64_t m,
                       int64_t k, int64_t n, bool transposeB, bool residual) {
  Rng rng("fused/matmul_epilogue/" + name);
  ref::Tensor a = rng.tensor({m, k}, -1, 1);
  ref::Tensor b = rng.tensor(transposeB ? std::vector<int64_t>{n, k}
                                        : std::vector<int64_t>{k, n},
                             -1, 1);
  ref::Tensor bias = rng.tensor({n}, -1, 1);
  ref::Tensor y = ref::matmul(a, b, false, transposeB);
  for (int64_t i = 0; i < m * n; ++i) {
    double x = y.data[i] + bias.data[i % n];
    y.data[i] = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  }
  std::vector<ref::Tensor> inputs = {a, b, bias};
  json nodes = {
      {{"op", "add"}, {"attrs", json::object()}, {"operands", {2, -1}}},
      {{"op", "gelu"},
       {"attrs", {{"approximate", "none"}}},
       {"operands", {-1}}}};
  if (residual) {
    ref::Tensor r = rng.tensor({m, n}, -1, 1);
    for (int64_t i = 0; i < m * n; ++i) {
      y.data[i] += r.data[i];
    }
    inputs.push_back(r);
    nodes.push_back(
        {{"op", "add"}, {"attrs", json::object()}, {"operands", {-1, 3}}});
  }
  json attrs = {
      {"kind", "epilogue"},
      {"anchor", "matmul"},
      {"anchor_attrs", {{"transpose_a", false}, {"transpose_b", transposeB}}},
      {"anchor_inputs", {0, 1}},
      {"nodes", nodes}};
  table.add(name, "fused", attrs, f32(inputs), {y});
}

// The producer form without expansion: the projection 1x1 conv2d (with a
// bias, plus a residual input where `residual`) of relu6(depthwise conv2d of
// x + bias), against the reference convolutions.
void addDepthwiseProjection(CaseTable &table, const std::string &name,
                            std::vector<int64_t> xShape,
                            const ref::Conv2dParams &depthwise,
                            int64_t projected, bool residual) {
  Rng rng("fused/depthwise_projection/" + name);
  const int64_t c = xShape[1];
  ref::Tensor x = rng.tensor(xShape, -1, 1);
  ref::Tensor wd = rng.tensor({c, 1, 3, 3}, -1, 1);
  ref::Tensor bd = rng.tensor({c}, -1, 1);
  ref::Tensor wp = rng.tensor({projected, c, 1, 1}, -1, 1);
  ref::Tensor bp = rng.tensor({projected}, -1, 1);
  ref::Tensor y = ref::conv2d(x, wd, &bd, depthwise);
  for (double &v : y.data) {
    v = std::min(std::max(v, 0.0), 6.0);
  }
  ref::Tensor z = ref::conv2d(y, wp, &bp, {});
  std::vector<ref::Tensor> inputs = {x, wd, bd, wp, bp};
  json nodes = json::array();
  if (residual) {
    ref::Tensor r = rng.tensor(z.shape, -1, 1);
    for (size_t i = 0; i < z.data.size(); ++i) {
      z.data[i] += r.data[i];
    }
    inputs.push_back(r);
    nodes.push_back(
        {{"op", "add"}, {"attrs", json::object()}, {"operands", {-1, 5}}});
  }
  auto convAttrs = [](const ref::Conv2dParams &p) {
    return json{{"strides", p.strides}, {"pads", p.pads},
                {"dilations", p.dilations}, {"groups", p.groups}};
  };
  json attrs = {
      {"kind", "producer"},
      {"producer",
       {{"anchor", "conv2d"},
        {"anchor_attrs", convAttrs(depthwise)},
        {"anchor_inputs", {0, 1, 2}},
        {"nodes",
         {{{"op", "relu6"}, {"attrs", json::object()}, {"operands", {-1}}}}}}},
      {"anchor", "conv2d"},
      {"anchor_attrs", convAttrs({})},
      {"anchor_inputs", {-1, 3, 4}},
      {"nodes", nodes}};
  table.add(name, "fused", attrs, f32(inputs), {z});
}

// kiln-fuse's producer form (a "fused" kernel): relu(depthwise conv2d of
// relu6(1x1 conv2d of x)), against the reference convolutions with the
// activations applied in between.
// With `projected` output channels, the projection form: a 1x1 conv2d
// (with a bias) of that value, plus a residual input where `residual`.
void addProducer(CaseTable &table, const std::string &name,
                 std::vector<int64_t> xShape, int64_t expanded, int64_t k,
                 const ref::Conv2dParams &depthwise, bool withBias,
                 int64_t projected = 0, bool residual = false) {
  Rng rng("fused/producer/" + name);
  ref::Tensor x = rng.tensor(xShape, -1, 1);
  ref::Tensor we = rng.tensor({expanded, xShape[1], 1, 1}, -1, 1);
  ref::Tensor be = rng.tensor({expanded}, -1, 1);
  ref::Tensor wd = rng.tensor({expanded, 1, k, k}, -1, 1);
  ref::Tensor bd = rng.tensor({expanded}, -1, 1);
  ref::Tensor e = ref::conv2d(x, we, withBias ? &be : nullptr, {});
  for (double &v : e.data) {
    v = std::min(std::max(v, 0.0), 6.0);
  }
  ref::Tensor y = ref::conv2d(e, wd, withBias ? &bd : nullptr, depthwise);
  for (double &v : y.data) {
    v = std::max(v, 0.0);
  }
  auto convAttrs = [](const ref::Conv2dParams &p) {
    return json{{"strides", p.strides}, {"pads", p.pads},
                {"dilations", p.dilations}, {"groups", p.groups}};
  };
  auto node = [](const char *op) {
    return json{{"op", op}, {"attrs", json::object()}, {"operands", {-1}}};
  };
  json attrs = {
      {"kind", "producer"},
      {"producer",
       {{"anchor", "conv2d"},
        {"anchor_attrs", convAttrs({})},
        {"anchor_inputs", withBias ? json{0, 1, 2} : json{0, 1}},
        {"nodes", {node("relu6")}}}},
      {"anchor", "conv2d"},
      {"anchor_attrs", convAttrs(depthwise)},
      {"anchor_inputs", withBias ? json{-1, 3, 4} : json{-1, 2}},
      {"nodes", {node("relu")}}};
  std::vector<ref::Tensor> inputs = {x, we};
  if (withBias) {
    inputs.push_back(be);
  }
  inputs.push_back(wd);
  if (withBias) {
    inputs.push_back(bd);
  }
  if (projected > 0) {
    // The depthwise segment (with its own producer) moves under
    // "producer", its value's shape given.
    ref::Tensor wp = rng.tensor({projected, expanded, 1, 1}, -1, 1);
    ref::Tensor bp = rng.tensor({projected}, -1, 1);
    ref::Tensor z = ref::conv2d(y, wp, &bp, {});
    int64_t base = static_cast<int64_t>(inputs.size());
    json nodes = json::array();
    inputs.push_back(wp);
    inputs.push_back(bp);
    if (residual) {
      ref::Tensor r = rng.tensor(z.shape, -1, 1);
      for (size_t i = 0; i < z.data.size(); ++i) {
        z.data[i] += r.data[i];
      }
      inputs.push_back(r);
      nodes.push_back({{"op", "add"},
                       {"attrs", json::object()},
                       {"operands", {-1, base + 2}}});
    }
    json middle = {{"anchor", attrs["anchor"]},
                   {"anchor_attrs", attrs["anchor_attrs"]},
                   {"anchor_inputs", attrs["anchor_inputs"]},
                   {"nodes", attrs["nodes"]},
                   {"value_shape", y.shape},
                   {"producer", attrs["producer"]}};
    attrs = {{"kind", "producer"},
             {"producer", middle},
             {"anchor", "conv2d"},
             {"anchor_attrs", convAttrs({})},
             {"anchor_inputs", {-1, base, base + 1}},
             {"nodes", nodes}};
    y = z;
  }
  table.add(name, "fused", attrs, f32(inputs), {y});
}

// kiln-fuse's attention form (a "fused" kernel): softmax(op(q) op(k) *
// scale + mask) op(v) along the last axis, against plain loops in double.
// q, k, v are [B, ., .] (or matrices without `batch`), transposed where the
// flags say; the scale a scalar input, the mask [M, N] (broadcast over the
// batch) with -inf where `masked` (a padding mask: key columns j % 5 == 4).
struct AttentionShape {
  int64_t batch, rows, cols, depth, width; // B (0: none), M, N, K, Dv
  bool transposeQ, transposeK, transposeV, masked;
};

void addAttention(CaseTable &table, const std::string &name,
                  const AttentionShape &a) {
  Rng rng("fused/attention/" + name);
  auto shape = [&](int64_t x, int64_t y) {
    return a.batch ? std::vector<int64_t>{a.batch, x, y}
                   : std::vector<int64_t>{x, y};
  };
  ref::Tensor q = rng.tensor(a.transposeQ ? shape(a.depth, a.rows)
                                          : shape(a.rows, a.depth), -2, 2);
  ref::Tensor k = rng.tensor(a.transposeK ? shape(a.cols, a.depth)
                                          : shape(a.depth, a.cols), -2, 2);
  ref::Tensor v = rng.tensor(a.transposeV ? shape(a.width, a.cols)
                                          : shape(a.cols, a.width), -1, 1);
  ref::Tensor scale({}, {0.35});
  ref::Tensor mask = rng.tensor({a.rows, a.cols}, -1, 1);
  for (int64_t i = 0; i < a.rows && a.masked; ++i) {
    for (int64_t j = 4; j < a.cols; j += 5) {
      mask.data[i * a.cols + j] = -std::numeric_limits<double>::infinity();
    }
  }
  // Element (x, y) of matrix b of a [B, X, Y] (or [X, Y]) tensor.
  auto get = [](const ref::Tensor &t, int64_t b, int64_t x, int64_t y) {
    size_t r = t.shape.size();
    int64_t X = t.shape[r - 2], Y = t.shape[r - 1];
    return t.data[(b * X + x) * Y + y];
  };
  ref::Tensor o(shape(a.rows, a.width));
  for (int64_t b = 0; b < std::max<int64_t>(a.batch, 1); ++b) {
    for (int64_t i = 0; i < a.rows; ++i) {
      std::vector<double> t(a.cols);
      double top = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < a.cols; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < a.depth; ++c) {
          dot += (a.transposeQ ? get(q, b, c, i) : get(q, b, i, c)) *
                 (a.transposeK ? get(k, b, j, c) : get(k, b, c, j));
        }
        t[j] = dot * scale.data[0] + mask.data[i * a.cols + j];
        top = std::max(top, t[j]);
      }
      double total = 0;
      for (double &x : t) {
        x = std::exp(x - top);
        total += x;
      }
      for (int64_t d = 0; d < a.width; ++d) {
        double sum = 0;
        for (int64_t j = 0; j < a.cols; ++j) {
          sum += t[j] / total *
                 (a.transposeV ? get(v, b, d, j) : get(v, b, j, d));
        }
        o.data[(b * a.rows + i) * a.width + d] = sum;
      }
    }
  }
  auto node = [](const char *op, json attrs, json operands) {
    return json{{"op", op}, {"attrs", attrs}, {"operands", operands}};
  };
  json attrs = {
      {"kind", "attention"},
      {"anchor", ""},
      {"anchor_attrs", json::object()},
      {"anchor_inputs", json::array()},
      {"nodes",
       {node("matmul",
             {{"transpose_a", a.transposeQ}, {"transpose_b", a.transposeK}},
             {0, 1}),
        node("mul", json::object(), {-1, 3}),
        node("add", json::object(), {-1, 4}),
        node("softmax", {{"axis", a.batch ? 2 : 1}}, {-1}),
        node("matmul", {{"transpose_a", false}, {"transpose_b", a.transposeV}},
             {-1, 2})}}};
  table.add(name, "fused", attrs, f32({q, k, v, scale, mask}), {o});
}

// conv2d_winograd over winograd_filter(w) (both from the reference), against
// the direct convolution; and winograd_filter itself.
void addWinograd(CaseTable &table, const std::string &name,
                 std::vector<int64_t> xShape, int64_t outChannels,
                 std::array<int64_t, 4> pads, bool withBias, int tile = 2,
                 int64_t block = 8, double weightRange = 1) {
  Rng rng("conv2d_winograd/" + name);
  ref::Tensor x = rng.tensor(xShape, -1, 1);
  ref::Tensor w =
      rng.tensor({outChannels, xShape[1], 3, 3}, -weightRange, weightRange);
  ref::Tensor b = rng.tensor({outChannels}, -1, 1);
  ref::Conv2dParams params;
  params.pads = pads;
  ref::Tensor y = ref::conv2d(x, w, withBias ? &b : nullptr, params);
  ref::Tensor u =
      ref::packWinogradFilter(ref::winogradFilter(w, false, tile), block);
  std::vector<ref::Tensor> inputs = {x, u};
  if (withBias) {
    inputs.push_back(b);
  }
  table.add(name, "conv2d_winograd", {{"pads", pads}, {"tile", tile}},
            f32(inputs), {y}, false,
            tile == 4 ? kWinograd4Tolerance : kTolerance);
  table.add(name, "winograd_filter",
            {{"input_gradient", false}, {"tile", tile}, {"block", block}},
            f32({w}), {u});
}

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

// Pools are described in PyTorch's terms (user pads + ceil_mode); this turns
// them into the canonical kernel attrs of docs/ops.md: ceil_mode's extra
// bottom/right padding folded into `pads`, the user's padding kept in
// `divisor_pads` for avg_pool2d.
json poolAttrs(const std::vector<int64_t> &xShape,
               const std::vector<int64_t> &yShape,
               const ref::Pool2dParams &params, bool isMax) {
  std::array<int64_t, 4> pads = params.pads;
  for (int d = 0; d < 2; ++d) {
    const int64_t in = xShape[2 + d], out = yShape[2 + d];
    const int64_t reach = (out - 1) * params.strides[d] +
                          params.dilations[d] * (params.kernel[d] - 1) + 1;
    pads[2 + d] += std::max<int64_t>(0, reach - (in + pads[d] + pads[2 + d]));
  }
  json attrs = {
      {"kernel", params.kernel}, {"strides", params.strides}, {"pads", pads}};
  if (isMax) {
    attrs["dilations"] = params.dilations;
  } else {
    attrs["count_include_pad"] = params.countIncludePad;
    attrs["divisor_pads"] = params.pads;
  }
  return attrs;
}

void addPool(CaseTable &table, const std::string &op, const std::string &name,
             std::vector<int64_t> xShape, const ref::Pool2dParams &params,
             double low = -3, double high = 3) {
  const bool isMax = op == "max_pool2d";
  Rng rng(op + "/" + name);
  ref::Tensor x = rng.tensor(xShape, low, high);
  ref::Tensor y = isMax ? ref::maxPool2d(x, params) : ref::avgPool2d(x, params);
  table.add(name, op, poolAttrs(xShape, y.shape, params, isMax), f32({x}),
            {y});
}

// A conv2d chain ending in a pooling tail (kiln-fuse's `pool`, inference:
// conv + bias + ReLU + max pool whose windows tile the plane): the pooled
// relu(conv2d(x, w, b)), against the reference convolution and pool.
void addConvPoolTail(CaseTable &table, const std::string &name,
                     std::vector<int64_t> xShape, int64_t outChannels,
                     int64_t kernel, const ref::Conv2dParams &params,
                     int64_t window, bool relu = true) {
  Rng rng("fused/conv_pool_tail/" + name);
  ref::Tensor x = rng.tensor(xShape, -1, 1);
  ref::Tensor w =
      rng.tensor({outChannels, xShape[1], kernel, kernel}, -1, 1);
  ref::Tensor b = rng.tensor({outChannels}, -1, 1);
  ref::Tensor y = ref::conv2d(x, w, &b, params);
  for (double &v : y.data) {
    v = relu ? std::max(v, 0.0) : v;
  }
  const ref::Pool2dParams pool =
      poolParams({window, window}, {window, window}, {0, 0, 0, 0});
  ref::Tensor pooled = ref::maxPool2d(y, pool);
  json attrs = {
      {"kind", "epilogue"},
      {"anchor", "conv2d"},
      {"anchor_attrs",
       {{"strides", params.strides},
        {"pads", params.pads},
        {"dilations", params.dilations},
        {"groups", 1}}},
      {"anchor_inputs", {0, 1, 2}},
      {"nodes",
       relu ? json{{{"op", "relu"}, {"attrs", json::object()}, {"operands", {-1}}}}
            : json::array()},
      {"tail",
       {{"op", "max_pool2d"},
        {"attrs", poolAttrs(y.shape, pooled.shape, pool, true)},
        {"shape", y.shape}}}};
  table.add(name, "fused", attrs, f32({x, w, b}), {pooled});
}

// A conv2d_winograd + ReLU chain ending in a 2x2 max pool of stride 2
// (kiln-fuse's `pool` over an even plane, each window inside one output
// tile): the pooled relu(conv2d(x, w, b)), against the reference direct
// convolution and pool.
void addWinogradPoolTail(CaseTable &table, const std::string &name,
                         std::vector<int64_t> xShape, int64_t outChannels,
                         int tile, int64_t block = 8) {
  Rng rng("fused/winograd_pool_tail/" + name);
  ref::Tensor x = rng.tensor(xShape, -1, 1);
  ref::Tensor w = rng.tensor({outChannels, xShape[1], 3, 3}, -1, 1);
  ref::Tensor b = rng.tensor({outChannels}, -1, 1);
  const std::array<int64_t, 4> pads = {1, 1, 1, 1};
  ref::Conv2dParams params;
  params.pads = pads;
  ref::Tensor y = ref::conv2d(x, w, &b, params);
  for (double &v : y.data) {
    v = std::max(v, 0.0);
  }
  const ref::Pool2dParams pool = poolParams({2, 2}, {2, 2}, {0, 0, 0, 0});
  ref::Tensor pooled = ref::maxPool2d(y, pool);
  ref::Tensor u =
      ref::packWinogradFilter(ref::winogradFilter(w, false, tile), block);
  json attrs = {
      {"kind", "epilogue"},
      {"anchor", "conv2d_winograd"},
      {"anchor_attrs", {{"pads", pads}, {"tile", tile}}},
      {"anchor_inputs", {0, 1, 2}},
      {"nodes",
       json{{{"op", "relu"}, {"attrs", json::object()}, {"operands", {-1}}}}},
      {"tail",
       {{"op", "max_pool2d"},
        {"attrs", poolAttrs(y.shape, pooled.shape, pool, true)},
        {"shape", y.shape}}}};
  table.add(name, "fused", attrs, f32({x, u, b}), {pooled}, false,
            tile == 4 ? kWinograd4Tolerance : kTolerance);
}

// max_pool2d_indices on values from {-2, ..., 2}, so that windows hold
// equal maxima (the first in row-major window order wins).
void addPoolIndices(CaseTable &table, const std::string &name,
                    std::vector<int64_t> xShape,
                    const ref::Pool2dParams &params, bool columnMajor) {
  Rng rng("max_pool2d_indices/" + name);
  ref::Tensor x(xShape);
  for (double &v : x.data) {
    v = rng.integer(-2, 3);
  }
  ref::Tensor y = ref::maxPool2dIndices(x, params, columnMajor);
  json attrs = poolAttrs(xShape, y.shape, params, true);
  attrs["storage_order"] = columnMajor ? 1 : 0;
  table.add(name, "max_pool2d_indices", attrs, f32({x}), {y}, false, 0.0,
            codegen::DType::I32);
}

void addGlobalAvgPool(CaseTable &table, const std::string &name,
                      std::vector<int64_t> xShape) {
  Rng rng("global_avg_pool/" + name);
  ref::Tensor x = rng.tensor(xShape, -3, 3);
  table.add(name, "global_avg_pool", json::object(), f32({x}),
            {ref::globalAvgPool(x)});
}

void addBatchNorm(CaseTable &table, const std::string &name,
                  std::vector<int64_t> xShape, bool training, double epsilon,
                  double low = -2, double high = 3) {
  Rng rng("batch_norm/" + name);
  const int64_t c = xShape[1];
  ref::Tensor x = rng.tensor(xShape, low, high);
  ref::Tensor weight = rng.tensor({c}, 0.5, 1.5);
  ref::Tensor bias = rng.tensor({c}, -1, 1);
  ref::Tensor mean = rng.tensor({c}, -1, 1);
  ref::Tensor var = rng.tensor({c}, 0.5, 2);
  ref::Tensor y = ref::batchNorm(x, weight, bias, mean, var, epsilon, training);
  const json attrs = {
      {"epsilon", epsilon}, {"momentum", 0.1}, {"training", training}};
  table.add(name, "batch_norm", attrs, f32({x, weight, bias, mean, var}), {y});
}

// fold_batch_norm against the formula in plain double precision:
// scale = gamma / sqrt(var + eps), weight[o, ...] * scale[o],
// (bias - mean) * scale + beta.
void addFoldBatchNorm(CaseTable &table, const std::string &name,
                      std::vector<int64_t> weightShape, bool withBias,
                      double epsilon) {
  Rng rng("fold_batch_norm/" + name);
  const int64_t c = weightShape[0];
  ref::Tensor weight = rng.tensor(weightShape, -1, 1);
  ref::Tensor bias = rng.tensor({c}, -1, 1);
  ref::Tensor gamma = rng.tensor({c}, 0.5, 1.5);
  ref::Tensor beta = rng.tensor({c}, -1, 1);
  ref::Tensor mean = rng.tensor({c}, -1, 1);
  ref::Tensor var = rng.tensor({c}, 0.01, 2);
  ref::Tensor foldedWeight(weightShape), foldedBias({c});
  const int64_t perChannel = weight.numElements() / c;
  for (int64_t o = 0; o < c; ++o) {
    double scale = gamma.data[o] / std::sqrt(var.data[o] + epsilon);
    for (int64_t i = 0; i < perChannel; ++i) {
      foldedWeight.data[o * perChannel + i] =
          weight.data[o * perChannel + i] * scale;
    }
    foldedBias.data[o] =
        ((withBias ? bias.data[o] : 0.0) - mean.data[o]) * scale +
        beta.data[o];
  }
  std::vector<ref::Tensor> inputs = {weight};
  if (withBias) {
    inputs.push_back(bias);
  }
  inputs.insert(inputs.end(), {gamma, beta, mean, var});
  table.add(name, "fold_batch_norm", {{"epsilon", epsilon}}, f32(inputs),
            {foldedWeight, foldedBias});
}

void addLayerNorm(CaseTable &table, const std::string &name,
                  std::vector<int64_t> xShape, int64_t axis, bool affine,
                  double epsilon, double low = -2, double high = 3) {
  Rng rng("layer_norm/" + name);
  ref::Tensor x = rng.tensor(xShape, low, high);
  const std::vector<int64_t> normShape(xShape.begin() + axis, xShape.end());
  ref::Tensor weight = rng.tensor(normShape, 0.5, 1.5);
  ref::Tensor bias = rng.tensor(normShape, -1, 1);
  ref::Tensor y = ref::layerNorm(x, affine ? &weight : nullptr,
                                 affine ? &bias : nullptr, axis, epsilon);
  std::vector<ref::Tensor> inputs = {x};
  if (affine) {
    inputs.push_back(weight);
    inputs.push_back(bias);
  }
  const json attrs = {{"axis", axis}, {"epsilon", epsilon}};
  table.add(name, "layer_norm", attrs, f32(inputs), {y});
}

void addBinary(CaseTable &table, const std::string &op, ref::BinaryOp kind,
               const std::string &name, std::vector<int64_t> aShape,
               std::vector<int64_t> bShape) {
  Rng rng(op + "/" + name);
  ref::Tensor a = rng.tensor(aShape, -2, 2);
  ref::Tensor b = rng.tensor(bShape, -2, 2);
  if (kind == ref::BinaryOp::Div || kind == ref::BinaryOp::Fmod) {
    for (double &v : b.data) { // keep divisors away from 0: |b| in [0.5, 2)
      v = std::copysign(0.5 + std::abs(v) * 0.75, v);
    }
  }
  if (kind == ref::BinaryOp::Mod) { // integers (ONNX Mod with fmod = 0):
    for (double &v : a.data) {      // a in [-20, 20], b in +-[1, 7]
      v = std::round(v * 10);
    }
    for (double &v : b.data) {
      v = std::copysign(1 + std::floor(std::abs(v) * 3), v);
    }
  }
  table.add(name, op, json::object(), f32({a, b}), {ref::binary(kind, a, b)});
}

// A comparison over values on a grid of 0.5 in [-2, 2] (exact floats:
// many ties), and, `tiny`, pairs of neighbouring floats near the smallest
// normal one, whose difference is subnormal: flushed to zero it would
// compare equal.
void addCompare(CaseTable &table, const std::string &op, ref::BinaryOp kind,
                const std::string &name, std::vector<int64_t> aShape,
                std::vector<int64_t> bShape, bool tiny = false) {
  Rng rng(op + "/" + name);
  ref::Tensor a = rng.tensor(aShape, -2, 2.49);
  ref::Tensor b = rng.tensor(bShape, -2, 2.49);
  for (ref::Tensor *t : {&a, &b}) {
    for (double &v : t->data) {
      v = std::floor(v * 2) / 2;
    }
  }
  if (tiny) {
    float base = 1.5e-38f;
    for (size_t i = 0; i < a.data.size(); ++i) {
      a.data[i] = i % 3 == 0 ? base : std::nextafter(base, 1.0f);
    }
    for (size_t i = 0; i < b.data.size(); ++i) {
      b.data[i] = i % 2 == 0 ? base : std::nextafter(base, 1.0f);
    }
  }
  table.add(name, op, json::object(), f32({a, b}), {ref::binary(kind, a, b)});
}

// cumsum along `axis` against plain loops in double: element i is the sum
// of the elements j <= i (j < i exclusive), counted from the end with
// reverse.
void addCumSum(CaseTable &table, const std::string &name,
               std::vector<int64_t> shape, int64_t axis, bool exclusive,
               bool reverse) {
  Rng rng("cumsum/" + name);
  ref::Tensor x = rng.tensor(shape, -2, 2);
  ref::Tensor y(shape);
  int64_t n = shape[axis], inner = 1, outer = 1;
  for (size_t d = axis + 1; d < shape.size(); ++d) {
    inner *= shape[d];
  }
  for (int64_t d = 0; d < axis; ++d) {
    outer *= shape[d];
  }
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      auto at = [&](int64_t i) { return (o * n + i) * inner + in; };
      for (int64_t i = 0; i < n; ++i) {
        double sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          bool before = reverse ? j > i : j < i;
          if (before || (!exclusive && j == i)) {
            sum += x.data[at(j)];
          }
        }
        y.data[at(i)] = sum;
      }
    }
  }
  table.add(name, "cumsum",
            {{"axis", axis}, {"exclusive", exclusive}, {"reverse", reverse}},
            f32({x}), {y});
}

void addConcat(CaseTable &table, const std::string &name,
               std::vector<std::vector<int64_t>> shapes, int64_t axis) {
  Rng rng("concat/" + name);
  std::vector<ref::Tensor> xs;
  for (const auto &shape : shapes) {
    xs.push_back(rng.tensor(shape, -5, 5));
  }
  ref::Tensor y = ref::concat(xs, axis);
  table.add(name, "concat", {{"axis", axis}}, f32(xs), {y});
}

// ----- activations ---------------------------------------------------------

// Random values in [low, high] with the exact values of interest inside that
// range first: where branches meet (0 for step/relu/elu, 6 for relu6, 20.5
// past softplus' threshold), next to 0, the range's ends, and where float
// exp overflows (88.7).
ref::Tensor activationInput(Rng &rng, std::vector<int64_t> shape, double low,
                            double high) {
  ref::Tensor x = rng.tensor(std::move(shape), low, high);
  const double specials[] = {0.0,  6.0,   -1e-3, 1e-3,  -0.5, low,  high,
                             20.5, -20.5, 88.5,  -88.5, 89.0, -89.0};
  size_t next = 0;
  for (double v : specials) {
    if (v >= low && v <= high && next < x.data.size()) {
      x.data[next++] = static_cast<float>(v);
    }
  }
  return x;
}

void addActivation(CaseTable &table, const std::string &op,
                   const std::string &name, ref::Activation kind,
                   const json &attrs, std::vector<int64_t> shape, double low,
                   double high, const ref::ActivationParams &params = {}) {
  Rng rng(op + "/" + name);
  ref::Tensor x = activationInput(rng, std::move(shape), low, high);
  table.add(name, op, attrs, f32({x}), {ref::elementwise(kind, x, params)});
}

// A test of the value (is_nan, is_inf) over finite values with NaNs and
// infinities of both signs among them.
void addValueTest(CaseTable &table, const std::string &op,
                  const std::string &name, ref::Activation kind,
                  const json &attrs, std::vector<int64_t> shape,
                  const ref::ActivationParams &params = {}) {
  Rng rng(op + "/" + name);
  ref::Tensor x = rng.tensor(std::move(shape), -8, 8);
  const double inf = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < x.data.size(); ++i) {
    if (i % 5 == 1) {
      x.data[i] = std::numeric_limits<double>::quiet_NaN();
    } else if (i % 7 == 2) {
      x.data[i] = inf;
    } else if (i % 11 == 3) {
      x.data[i] = -inf;
    }
  }
  table.add(name, op, attrs, f32({x}), {ref::elementwise(kind, x, params)});
}

void addPrelu(CaseTable &table, const std::string &name,
              std::vector<int64_t> shape, int64_t slopes) {
  Rng rng("prelu/" + name);
  ref::Tensor x = activationInput(rng, std::move(shape), -4, 4);
  ref::Tensor slope = rng.tensor({slopes}, -0.5, 0.5);
  table.add(name, "prelu", json::object(), f32({x, slope}),
            {ref::prelu(x, slope)});
}

void addLrn(CaseTable &table, const std::string &name,
            std::vector<int64_t> shape, int64_t size, double alpha,
            double beta, double bias) {
  Rng rng("lrn/" + name);
  ref::Tensor x = rng.tensor(std::move(shape), -3, 3);
  table.add(name, "lrn",
            {{"size", size}, {"alpha", alpha}, {"beta", beta}, {"bias", bias}},
            f32({x}), {ref::lrn(x, size, alpha, beta, bias)});
}

void addResize(CaseTable &table, const std::string &name,
               std::vector<int64_t> shape, int64_t oh, int64_t ow,
               const ref::ResizeSpec &spec) {
  Rng rng("resize/" + name);
  ref::Tensor x = rng.tensor(std::move(shape), -2, 2);
  table.add(name, "resize", resizeAttrs(spec, oh, ow), f32({x}),
            {ref::resize(x, oh, ow, spec)});
}

// grid_sample at pixel coordinates from 1.5 pixels before the image to
// 1.5 past it (every padding mode's outside), normalized as the kernel
// reads them; nearest keeps 0.1 pixel or more from the ties between two
// pixels, so that float and double round alike.
void addGridSample(CaseTable &table, const std::string &name,
                   std::vector<int64_t> shape, int64_t oh, int64_t ow,
                   const std::string &mode, const std::string &padding,
                   bool alignCorners) {
  Rng rng("grid_sample/" + name);
  ref::Tensor x = rng.tensor(shape, -2, 2);
  ref::Tensor grid({shape[0], oh, ow, 2});
  for (size_t i = 0; i < grid.data.size(); ++i) {
    int64_t size = shape[i % 2 == 0 ? 3 : 2];
    double at = rng.uniform(-1.5, double(size) + 0.5);
    if (mode == "nearest") {
      at = std::round(at) + rng.uniform(-0.4, 0.4);
    }
    grid.data[i] =
        static_cast<float>(ref::gridCoordinate(at, size, alignCorners));
  }
  table.add(name, "grid_sample",
            {{"mode", mode}, {"padding_mode", padding},
             {"align_corners", alignCorners}},
            f32({x, grid}),
            {ref::gridSample(x, grid, mode, padding, alignCorners)});
}

// where: conditions 0, 1, 0.5 and NaN (true), values up to 1e30 (a mask's
// stand-in for -inf, which the tolerance check cannot compare).
void addWhere(CaseTable &table, const std::string &name,
              std::vector<int64_t> condShape, std::vector<int64_t> aShape,
              std::vector<int64_t> bShape) {
  Rng rng("where/" + name);
  ref::Tensor cond(std::move(condShape));
  const double choices[] = {0.0, 1.0, 0.5, std::nan("")};
  for (double &v : cond.data) {
    v = choices[rng.integer(0, 4)];
  }
  ref::Tensor a = rng.tensor(std::move(aShape), -3, 3);
  ref::Tensor b = rng.tensor(std::move(bShape), -3, 3);
  b.data[0] = -1e30;
  table.add(name, "where", json::object(), f32({cond, a, b}),
            {ref::where(cond, a, b)});
}

// arg_reduce (ArgMax, ArgMin) on values from {0, 1, 2}, so that ties are
// common; nan: some elements NaN (the first NaN wins, as NumPy).
void addArgReduce(CaseTable &table, const std::string &name,
                  std::vector<int64_t> shape, int64_t axis,
                  const std::string &kind, bool keepdims, bool last,
                  bool nan = false) {
  Rng rng("arg_reduce/" + name);
  ref::Tensor x(std::move(shape));
  for (double &v : x.data) {
    v = rng.integer(0, 3);
    if (nan && rng.integer(0, 7) == 0) {
      v = std::nan("");
    }
  }
  table.add(name, "arg_reduce",
            {{"kind", kind}, {"axis", axis}, {"keepdims", keepdims},
             {"select_last_index", last}},
            f32({x}), {ref::argReduce(x, axis, kind == "max", keepdims, last)},
            false, 0.0, codegen::DType::I32);
}

// top_k on values from {0, ..., 4} (ties common), some NaN with `nan`.
void addTopK(CaseTable &table, const std::string &name,
             std::vector<int64_t> shape, int64_t axis, int64_t k,
             bool largest, bool nan = false) {
  Rng rng("top_k/" + name);
  ref::Tensor x(std::move(shape));
  for (double &v : x.data) {
    v = rng.integer(0, 5) - 2;
    if (nan && rng.integer(0, 7) == 0) {
      v = std::nan("");
    }
  }
  table.add(name, "top_k", {{"k", k}, {"axis", axis}, {"largest", largest}},
            f32({x}), {ref::topK(x, axis, k, largest)}, false, 0.0,
            codegen::DType::I32);
}

// cast: i32 -> f32, exact (negatives, 2^24).
void addCast(CaseTable &table, const std::string &name,
             std::vector<int64_t> shape) {
  Rng rng("cast/" + name);
  ref::Tensor in(std::move(shape));
  for (double &v : in.data) {
    v = rng.integer(-1000, 1000);
  }
  in.data[0] = 16777216;
  table.add(name, "cast", json::object(), {{in, codegen::DType::I32}}, {in});
}

// gather or gather_elements at run-time i32 indices, negative ones among
// them; a bad index (one past the end) replaces the first and makes run()
// fail instead.
void addGather(CaseTable &table, const std::string &op,
               const std::string &name, std::vector<int64_t> xShape,
               std::vector<int64_t> indexShape, int64_t axis,
               bool badIndex = false) {
  Rng rng(op + "/" + name);
  ref::Tensor x = rng.tensor(xShape, -3, 3);
  ref::Tensor indices(std::move(indexShape));
  const int32_t rows = static_cast<int32_t>(xShape[axis]);
  for (double &v : indices.data) {
    v = rng.integer(-rows, rows);
  }
  // The output's shape (and, for valid indices, its values).
  ref::Tensor expected = op == "gather"
                             ? ref::gather(x, indices, axis)
                             : ref::gatherElements(x, indices, axis);
  if (badIndex) {
    indices.data[0] = rows;
  }
  table.add(name, op, {{"axis", axis}},
            {{x, codegen::DType::F32}, {indices, codegen::DType::I32}},
            {expected}, badIndex);
}

void addSoftmax(CaseTable &table, const std::string &op,
                const std::string &name, std::vector<int64_t> shape,
                int64_t axis, double spread = 5) {
  Rng rng(op + "/" + name);
  ref::Tensor x = rng.tensor(std::move(shape), -spread, spread);
  ref::Tensor y =
      op == "softmax" ? ref::softmax(x, axis) : ref::logSoftmax(x, axis);
  table.add(name, op, {{"axis", axis}}, f32({x}), {y});
}

// ----- losses --------------------------------------------------------------

using LossFn = double (*)(const ref::Tensor &, const ref::Tensor &);

void addLoss(CaseTable &table, const std::string &op, const std::string &name,
             const json &attrs, const ref::Tensor &pred,
             const ref::Tensor &target, double expected) {
  table.add(name, op, attrs, f32({pred, target}), {scalar(expected)});
}

void addPointwiseLoss(CaseTable &table, const std::string &op,
                      const std::string &name, std::vector<int64_t> shape,
                      LossFn loss) {
  Rng rng(op + "/" + name);
  ref::Tensor pred = rng.tensor(shape, -2, 2);
  ref::Tensor target = rng.tensor(shape, -2, 2);
  addLoss(table, op, name, json::object(), pred, target, loss(pred, target));
}

void addHuber(CaseTable &table, const std::string &name,
              std::vector<int64_t> shape, double delta) {
  Rng rng("huber/" + name);
  // |p - t| spans both sides of delta.
  ref::Tensor pred = rng.tensor(shape, -2, 2);
  ref::Tensor target = rng.tensor(shape, -1, 1);
  addLoss(table, "huber", name, {{"delta", delta}}, pred, target,
          ref::huber(pred, target, delta));
}

void addBce(CaseTable &table, const std::string &name,
            std::vector<int64_t> shape, bool withClampedLogs) {
  Rng rng("bce/" + name);
  ref::Tensor prob = rng.tensor(shape, 0.01, 0.99);
  ref::Tensor target = rng.tensor(shape, 0, 1);
  if (withClampedLogs) {
    // p = 0 and p = 1 hit PyTorch's clamp of log at -100.
    const double probs[] = {0, 1, 0, 1, 0, 1};
    const double targets[] = {0, 1, 0.5, 0.25, 1, 0};
    for (size_t i = 0; i < std::size(probs); ++i) {
      prob.data[i] = probs[i];
      target.data[i] = targets[i];
    }
  }
  addLoss(table, "bce", name, json::object(), prob, target,
          ref::bce(prob, target));
}

void addBceLogits(CaseTable &table, const std::string &name,
                  std::vector<int64_t> shape, double spread = 10) {
  Rng rng("bce_logits/" + name);
  ref::Tensor logits = rng.tensor(shape, -spread, spread);
  ref::Tensor target = rng.tensor(shape, 0, 1);
  addLoss(table, "bce_logits", name, json::object(), logits, target,
          ref::bceLogits(logits, target));
}

void addCce(CaseTable &table, const std::string &name, int64_t n, int64_t c,
            bool oneHot, double spread = 5) {
  Rng rng("cce/" + name);
  ref::Tensor logits = rng.tensor({n, c}, -spread, spread);
  ref::Tensor target({n, c});
  for (int64_t i = 0; i < n; ++i) {
    if (oneHot) {
      target.data[i * c + rng.integer(0, static_cast<int32_t>(c))] = 1;
      continue;
    }
    double sum = 0;
    for (int64_t j = 0; j < c; ++j) {
      sum += target.data[i * c + j] = rng.uniform(0.1, 1);
    }
    for (int64_t j = 0; j < c; ++j) { // a probability row, rounded to float
      target.data[i * c + j] = static_cast<float>(target.data[i * c + j] / sum);
    }
  }
  addLoss(table, "cce", name, json::object(), logits, target,
          ref::cce(logits, target));
}

// badLabel: replaces label 0 and makes run() fail instead.
void addSparseCce(CaseTable &table, const std::string &name, int64_t n,
                  int64_t c, const int32_t *badLabel = nullptr,
                  double spread = 5) {
  Rng rng("sparse_cce/" + name);
  ref::Tensor logits = rng.tensor({n, c}, -spread, spread);
  std::vector<int32_t> labels(n);
  ref::Tensor labelValues({n});
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = rng.integer(0, static_cast<int32_t>(c));
  }
  double expected = 0;
  if (badLabel) {
    labels[0] = *badLabel;
  } else {
    expected = ref::sparseCce(logits, labels);
  }
  std::copy(labels.begin(), labels.end(), labelValues.data.begin());
  table.add(name, "sparse_cce", json::object(),
            {{logits, codegen::DType::F32}, {labelValues, codegen::DType::I32}},
            {scalar(expected)}, badLabel != nullptr);
}

// nll_loss on log-probabilities (labels: Rng::nllTarget).
void addNllLoss(CaseTable &table, const std::string &name,
                std::vector<int64_t> shape, bool weighted,
                const std::string &reduction, const int64_t *ignore) {
  Rng rng("nll_loss/" + name);
  ref::Tensor input = rng.tensor(shape, -4, 0);
  const ref::Tensor target = rng.nllTarget(shape, ignore);
  ref::Tensor weight = rng.tensor({shape[1]}, 0.2, 2);
  std::vector<Operand> inputs = {{input, codegen::DType::F32},
                                 {target, codegen::DType::I32}};
  if (weighted) {
    inputs.push_back({weight, codegen::DType::F32});
  }
  json attrs = {{"reduction", reduction}};
  if (ignore) {
    attrs["ignore_index"] = *ignore;
  }
  table.add(name, "nll_loss", attrs, inputs,
            {ref::nllLoss(input, target, weighted ? &weight : nullptr,
                          reduction, ignore)});
}

void addHinge(CaseTable &table, const std::string &name,
              std::vector<int64_t> shape) {
  Rng rng("hinge/" + name);
  ref::Tensor pred = rng.tensor(shape, -2, 2);
  ref::Tensor target(shape);
  for (double &t : target.data) {
    t = rng.integer(0, 2) ? 1.0 : -1.0;
  }
  addLoss(table, "hinge", name, json::object(), pred, target,
          ref::hinge(pred, target));
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

CaseTable buildCases() {
  CaseTable t;
  using A = ref::Activation;
  using B = ref::BinaryOp;

  addDense(t, "n1_k5_o3_bias", 1, 5, 3, true);
  addDense(t, "n3_k17_o16", 3, 17, 16, false);
  addDense(t, "n4_k33_o7_bias", 4, 33, 7, true);
  addDense(t, "n2_k1_o1_bias", 2, 1, 1, true);

  addConv(t, "image1x1_k1", {1, 3, 1, 1}, 5, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), true);
  addConv(t, "image1x1_k3_pad1_n3", {3, 5, 1, 1}, 2, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), false);
  addConv(t, "same_k3_c3_o17_n3", {3, 3, 7, 7}, 17, {3, 3},
          convParams({1, 1}, samePads2d({3, 3, 7, 7}, {3, 3}, {1, 1}, {1, 1})),
          true);
  addConv(t, "valid_stride2_c5", {1, 5, 9, 8}, 8, {3, 3},
          convParams({2, 2}, {0, 0, 0, 0}), false);
  addConv(t, "asym_pads_stride2x1", {2, 4, 6, 7}, 5, {3, 3},
          convParams({2, 1}, {0, 1, 2, 1}), true);
  addConv(t, "dilation2_same", {1, 4, 8, 8}, 6, {3, 3},
          convParams({1, 1}, {2, 2, 2, 2}, {2, 2}), true);
  addConv(t, "groups2", {3, 6, 5, 5}, 4, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 2), true);
  addConv(t, "depthwise_c5_stride2_same", {2, 5, 6, 6}, 5, {3, 3},
          convParams({2, 2}, samePads2d({2, 5, 6, 6}, {3, 3}, {2, 2}, {1, 1}),
                     {1, 1}, 5),
          true);
  addConv(t, "depthwise_multiplier2_k5", {1, 3, 7, 6}, 6, {5, 5},
          convParams({1, 1}, {2, 2, 2, 2}, {1, 1}, 3), false);
  addConv(t, "pointwise_c17_o16", {1, 17, 5, 5}, 16, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), true);
  addConv(t, "k5x3_stride2_dilation2x1_asym", {1, 2, 11, 10}, 3, {5, 3},
          convParams({2, 2}, {1, 0, 3, 2}, {2, 1}), true);
  addConv(t, "even_k2_same_upper", {1, 3, 6, 5}, 4, {2, 2},
          convParams({1, 1}, samePads2d({1, 3, 6, 5}, {2, 2}, {1, 1}, {1, 1})),
          true);

  const std::string mp = "max_pool2d";
  addPool(t, mp, "k2_s2_valid", {1, 3, 8, 8},
          poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}));
  addPool(t, mp, "k3_s2_pad1_n3_c5", {3, 5, 9, 9},
          poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}));
  addPool(t, mp, "ceil_k3_s2", {2, 3, 8, 8},
          poolParams({3, 3}, {2, 2}, {0, 0, 0, 0}, true));
  addPool(t, mp, "ceil_k2_s2_c17_odd", {1, 17, 7, 5},
          poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}, true));
  addPool(t, mp, "ceil_k3_s2_pad1", {1, 4, 6, 6},
          poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}, true));
  addPool(t, mp, "ceil_last_window_dropped", {1, 2, 5, 5},
          poolParams({2, 2}, {2, 2}, {1, 1, 1, 1}, true));
  addPool(t, mp, "dilation2_pad2", {1, 2, 9, 9},
          poolParams({3, 3}, {1, 1}, {2, 2, 2, 2}, false, true, {2, 2}));
  addPool(t, mp, "image1x1_k1", {3, 5, 1, 1},
          poolParams({1, 1}, {1, 1}, {0, 0, 0, 0}));
  addPool(t, mp, "asym_pads_stride1x2", {2, 3, 6, 7},
          poolParams({3, 3}, {1, 2}, {1, 0, 0, 1}));

  // max_pool2d_indices (ONNX MaxPool's Indices): ties, padding, ceil_mode,
  // dilations, both storage orders.
  addPoolIndices(t, "k2_s2_n2_c3_7x9", {2, 3, 7, 9},
                 poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}), false);
  addPoolIndices(t, "k3_s2_pad1_ceil_n1_c4_8x7", {1, 4, 8, 7},
                 poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}, true), false);
  addPoolIndices(t, "k3_dilation2_pad2_column_major_n2_c2_9x6", {2, 2, 9, 6},
                 poolParams({3, 3}, {1, 1}, {2, 2, 2, 2}, false, true, {2, 2}),
                 true);
  addPoolIndices(t, "k5_pad2_column_major_n1_c3_5x5", {1, 3, 5, 5},
                 poolParams({5, 5}, {1, 1}, {2, 2, 2, 2}), true);

  const std::string ap = "avg_pool2d";
  addPool(t, ap, "k2_s2_valid", {1, 3, 8, 8},
          poolParams({2, 2}, {2, 2}, {0, 0, 0, 0}));
  addPool(t, ap, "k3_s2_pad1_include_pad", {3, 5, 9, 9},
          poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}, false, true));
  addPool(t, ap, "k3_s2_pad1_exclude_pad", {3, 5, 9, 9},
          poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}, false, false));
  addPool(t, ap, "ceil_k3_s2_pad1_include_pad", {2, 3, 6, 6},
          poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}, true, true));
  addPool(t, ap, "ceil_k3_s2_pad1_exclude_pad", {2, 3, 6, 6},
          poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}, true, false));
  addPool(t, ap, "ceil_k3_s2_c17_include_pad", {1, 17, 8, 8},
          poolParams({3, 3}, {2, 2}, {0, 0, 0, 0}, true, true));
  addPool(t, ap, "asym_pads_include_pad", {1, 3, 7, 8},
          poolParams({3, 4}, {2, 1}, {0, 1, 1, 2}, false, true));
  addPool(t, ap, "asym_pads_exclude_pad", {1, 3, 7, 8},
          poolParams({3, 4}, {2, 1}, {0, 1, 1, 2}, false, false));
  addPool(t, ap, "ceil_last_window_dropped_exclude_pad", {1, 2, 5, 5},
          poolParams({2, 2}, {2, 2}, {1, 1, 1, 1}, true, false));
  addPool(t, ap, "image1x1_k1", {3, 5, 1, 1},
          poolParams({1, 1}, {1, 1}, {0, 0, 0, 0}));

  addGlobalAvgPool(t, "n3_c5_7x6", {3, 5, 7, 6});
  addGlobalAvgPool(t, "n1_c17_1x1", {1, 17, 1, 1});
  addGlobalAvgPool(t, "n2_c3_4x4", {2, 3, 4, 4});

  addBatchNorm(t, "eval_n3_c5_4x4", {3, 5, 4, 4}, false, 1e-5);
  addBatchNorm(t, "eval_2d_c17", {2, 17}, false, 1e-5);
  addBatchNorm(t, "eval_n1_eps1e-3", {1, 3, 5, 5}, false, 1e-3);
  addFoldBatchNorm(t, "conv_5x3x3x3", {5, 3, 3, 3}, false, 1e-5);
  addFoldBatchNorm(t, "conv_bias_17x2x1x3", {17, 2, 1, 3}, true, 1e-3);
  addFoldBatchNorm(t, "depthwise_4x1x3x3", {4, 1, 3, 3}, true, 1e-5);
  addFoldBatchNorm(t, "one_1x1x1x1", {1, 1, 1, 1}, false, 1e-5);
  addFoldBatchNorm(t, "dense_bias_7x33", {7, 33}, true, 1e-5);
  addBatchNorm(t, "train_n3_c5_4x4", {3, 5, 4, 4}, true, 1e-5);
  addBatchNorm(t, "train_2d_n4_c3", {4, 3}, true, 1e-5);
  addBatchNorm(t, "train_n1_c3_5x5", {1, 3, 5, 5}, true, 1e-5);

  addLayerNorm(t, "last_axis_affine", {3, 5, 6}, 2, true, 1e-5);
  addLayerNorm(t, "axis1_rank4_affine", {2, 3, 4, 5}, 1, true, 1e-5);
  addLayerNorm(t, "c17_no_affine", {4, 17}, 1, false, 1e-5);
  addLayerNorm(t, "axis0_no_affine", {2, 3, 4}, 0, false, 1e-5);
  addLayerNorm(t, "eps1e-3_affine", {3, 7}, 1, true, 1e-3);
  // Rows in parallel tasks of about 32768 elements, the last one partial:
  // 203 rows of 300 (tasks of 109 rows), and 420 rows of 160 over three
  // outer dims fused into one loop (tasks of 204).
  addLayerNorm(t, "rows203_300_affine", {1, 203, 300}, 2, true, 1e-5);
  addLayerNorm(t, "rows2x70x3_160_no_affine", {2, 70, 3, 160}, 3, false, 1e-5);

  addBinary(t, "add", B::Add, "same_shape", {3, 5}, {3, 5});
  addBinary(t, "add", B::Add, "bcast_2x3x4_3x1", {2, 3, 4}, {3, 1});
  addBinary(t, "add", B::Add, "bcast_both_4x1x5_1x6x1", {4, 1, 5}, {1, 6, 1});
  addBinary(t, "add", B::Add, "bcast_1_2x3", {1}, {2, 3});
  addBinary(t, "add", B::Add, "bcast_rank0", {2, 3}, {});
  addBinary(t, "sub", B::Sub, "bcast_2x3x4_3x1", {2, 3, 4}, {3, 1});
  addBinary(t, "sub", B::Sub, "bcast_3x1_2x3x4", {3, 1}, {2, 3, 4});
  addBinary(t, "mul", B::Mul, "per_channel", {3, 5, 7, 6}, {5, 1, 1});
  addBinary(t, "mul", B::Mul, "same_shape_17", {17}, {17});
  addBinary(t, "div", B::Div, "bcast_2x3x4_3x1", {2, 3, 4}, {3, 1});
  addBinary(t, "div", B::Div, "bcast_both_5x1_1x4", {5, 1}, {1, 4});
  addBinary(t, "maximum", B::Maximum, "bcast_2x3x4_3x1", {2, 3, 4}, {3, 1});
  addBinary(t, "maximum", B::Maximum, "same_shape_17", {17}, {17});
  addBinary(t, "minimum", B::Minimum, "bcast_both_4x1x5_1x6x1", {4, 1, 5},
            {1, 6, 1});
  addBinary(t, "mod", B::Mod, "integers_bcast_2x3x4_3x1", {2, 3, 4}, {3, 1});
  addBinary(t, "fmod", B::Fmod, "mixed_signs_5x7", {5, 7}, {5, 7});
  addBinary(t, "fmod", B::Fmod, "bcast_4x6_6", {4, 6}, {6});

  addCompare(t, "less", B::Less, "bcast_2x3x4_3x1_ties", {2, 3, 4}, {3, 1});
  addCompare(t, "less", B::Less, "subnormal_difference_37", {37}, {37}, true);
  addCompare(t, "less_equal", B::LessEqual, "bcast_both_4x1x5_1x6x1",
             {4, 1, 5}, {1, 6, 1});
  addCompare(t, "greater", B::Greater, "subnormal_difference_5x7", {5, 7},
             {5, 7}, true);
  addCompare(t, "greater_equal", B::GreaterEqual, "bcast_rank0", {3, 17}, {});
  addCompare(t, "equal", B::Equal, "bcast_3x5x7x6_5x1x1", {3, 5, 7, 6},
             {5, 1, 1});
  addCompare(t, "equal", B::Equal, "subnormal_difference_19", {19}, {19},
             true);

  // cumsum along the innermost, a middle and the outermost axis, every
  // exclusive / reverse combination, a 1-D line and a line of one.
  addCumSum(t, "innermost_3x37", {3, 37}, 1, false, false);
  addCumSum(t, "middle_2x19x5_exclusive", {2, 19, 5}, 1, true, false);
  addCumSum(t, "outermost_23x17_reverse", {23, 17}, 0, false, true);
  addCumSum(t, "innermost_4x3x11_exclusive_reverse", {4, 3, 11}, 2, true,
            true);
  addCumSum(t, "line_29_exclusive", {29}, 0, true, false);
  addCumSum(t, "one_3x1", {3, 1}, 1, true, true);

  addConcat(t, "axis0", {{2, 3, 4, 5}, {1, 3, 4, 5}}, 0);
  addConcat(t, "axis1_three_inputs", {{3, 2, 4, 4}, {3, 5, 4, 4}, {3, 1, 4, 4}},
            1);
  addConcat(t, "axis3", {{2, 3, 4, 1}, {2, 3, 4, 6}}, 3);
  addConcat(t, "axis1_2d_c17", {{4, 3}, {4, 17}}, 1);

  // 17 and 9: one vector and a one-lane tail on AVX-512 and on AVX2
  // (guardedWidth).
  const std::vector<int64_t> image = {3, 5, 7, 6}, vec = {17}, vec9 = {9};
  const json none = json::object();
  struct Simple {
    const char *op;
    A kind;
    double low, high;
    bool alsoLength17; // odd 1-D lengths (17, 9): vector tails
  };
  // The transcendental ones get an odd shape in "extreme_inputs" below.
  const Simple simple[] = {
      {"step", A::Step, -8, 8, true},   {"relu", A::Relu, -8, 8, true},
      {"relu6", A::Relu6, -8, 8, true}, {"sigmoid", A::Sigmoid, -8, 8, false},
      {"tanh", A::Tanh, -8, 8, false},  {"selu", A::Selu, -8, 8, true},
      {"silu", A::Silu, -8, 8, true},   {"sin", A::Sin, -10, 10, false},
      {"mish", A::Mish, -8, 8, true},
      {"tan", A::Tan, -1.5, 1.5, false},  {"sinh", A::Sinh, -8, 8, false},
      {"cosh", A::Cosh, -8, 8, true},     {"asin", A::Asin, -1, 1, false},
      {"acos", A::Acos, -1, 1, true},     {"atan", A::Atan, -8, 8, false},
      {"asinh", A::Asinh, -8, 8, true},   {"acosh", A::Acosh, 1, 9, false},
      {"atanh", A::Atanh, -0.99, 0.99, true},
      {"softsign", A::Softsign, -8, 8, true},
      {"ceil", A::Ceil, -8, 8, true},     {"floor", A::Floor, -8, 8, false},
      {"round", A::Round, -8, 8, true},   {"sign", A::Sign, -8, 8, false},
  };
  for (const Simple &s : simple) {
    addActivation(t, s.op, "n3_c5_7x6", s.kind, none, image, s.low, s.high);
    if (s.alsoLength17) {
      addActivation(t, s.op, "len17", s.kind, none, vec, s.low, s.high);
      addActivation(t, s.op, "len9", s.kind, none, vec9, s.low, s.high);
    }
  }
  addValueTest(t, "is_nan", "specials_n3_c5_7x6", A::IsNan, none, image);
  addValueTest(t, "is_nan", "specials_len17", A::IsNan, none, vec);
  for (auto [positive, negative] :
       {std::pair{true, true}, {true, false}, {false, true}}) {
    ref::ActivationParams q;
    q.detectPositive = positive;
    q.detectNegative = negative;
    addValueTest(t, "is_inf",
                 std::string("specials_pos") + (positive ? "1" : "0") +
                     "_neg" + (negative ? "1" : "0"),
                 A::IsInf,
                 {{"detect_positive", positive}, {"detect_negative", negative}},
                 image, q);
  }
  addValueTest(t, "is_inf", "specials_default_attrs_len17", A::IsInf, none,
               vec);
  ref::ActivationParams p;
  p.alpha = 0.01;
  addActivation(t, "leaky_relu", "alpha0_01", A::LeakyRelu, {{"alpha", 0.01}},
                image, -8, 8, p);
  p.alpha = 0.2;
  addActivation(t, "leaky_relu", "alpha0_2_len17", A::LeakyRelu,
                {{"alpha", 0.2}}, vec, -8, 8, p);
  p.alpha = 1.0;
  addActivation(t, "elu", "alpha1", A::Elu, {{"alpha", 1.0}}, image, -8, 8, p);
  p.alpha = 0.3;
  addActivation(t, "thresholded_relu", "alpha0_3", A::ThresholdedRelu,
                {{"alpha", 0.3}}, image, -2, 2, p);
  p = {};
  p.bias = 0.25;
  p.lambd = 0.6;
  addActivation(t, "shrink", "bias0_25_lambd0_6", A::Shrink,
                {{"bias", 0.25}, {"lambd", 0.6}}, image, -2, 2, p);
  p = {};
  p.alpha = 1.0;
  p.alpha = 0.7;
  addActivation(t, "elu", "alpha0_7_len17", A::Elu, {{"alpha", 0.7}}, vec, -8,
                8, p);
  addActivation(t, "gelu", "none", A::GeluErf, {{"approximate", "none"}}, image,
                -6, 6);
  addActivation(t, "gelu", "tanh", A::GeluTanh, {{"approximate", "tanh"}},
                image, -6, 6);
  p = {};
  addActivation(t, "softplus", "default", A::Softplus,
                {{"beta", 1.0}, {"threshold", 20.0}}, image, -25, 25, p);
  p.beta = 2;
  p.threshold = 5;
  addActivation(t, "softplus", "beta2_threshold5", A::Softplus,
                {{"beta", 2.0}, {"threshold", 5.0}}, image, -6, 6, p);
  addPrelu(t, "per_channel_c5", {3, 5, 4, 4}, 5);
  addPrelu(t, "shared_slope", {3, 5, 4, 4}, 1);
  addPrelu(t, "per_channel_2d_c17", {2, 17}, 17);

  // LRN: odd and even windows, a window wider than the channels, rank 2
  // and 5, AlexNet's parameters.
  // An embedding table read by token ids; a middle axis with a rank-1
  // index list; the innermost axis (no dims after it to vectorize).
  // An attention mask [N,1,1,S] selecting over scores [N,H,S,S] with a
  // scalar; all three broadcast; one shape for all.
  addWhere(t, "mask_2x1x1x9_scalar_scores_2x4x9x9", {2, 1, 1, 9}, {1},
           {2, 4, 9, 9});
  addWhere(t, "all_broadcast_3x1x5_1x4x1_5", {3, 1, 5}, {1, 4, 1}, {5});
  addWhere(t, "same_shape_17x3", {17, 3}, {17, 3}, {17, 3});
  addCast(t, "i32_4x33", {4, 33});
  addTopK(t, "largest_last_axis_5x17_k4", {5, 17}, 1, 4, true);
  addTopK(t, "smallest_axis0_9x3x19_k9", {9, 3, 19}, 0, 9, false);
  addTopK(t, "largest_middle_2x13x18_k13_all", {2, 13, 18}, 1, 13, true);
  addTopK(t, "nan_largest_3x21_k6", {3, 21}, 1, 6, true, true);
  addTopK(t, "nan_smallest_axis0_11x17_k5", {11, 17}, 0, 5, false, true);
  addTopK(t, "single_1x1_k1", {1, 1}, 1, 1, true);
  addArgReduce(t, "max_axis1_5x17", {5, 17}, 1, "max", false, false);
  addArgReduce(t, "max_last_axis0_keep_7x3x20", {7, 3, 20}, 0, "max", true,
               true);
  addArgReduce(t, "min_axis2_3x4x9", {3, 4, 9}, 2, "min", false, false);
  addArgReduce(t, "min_last_axis1_keep_2x6x19", {2, 6, 19}, 1, "min", true,
               true);
  addArgReduce(t, "max_nan_axis0_11x18", {11, 18}, 0, "max", false, false,
               true);
  addGather(t, "gather", "embedding_v50_d24_ids4x7", {50, 24}, {4, 7}, 0);
  addGather(t, "gather", "axis1_3x11x17_idx5", {3, 11, 17}, {5}, 1);
  addGather(t, "gather", "last_axis_4x6x9_idx2x3", {4, 6, 9}, {2, 3}, 2);
  addGather(t, "gather", "index_past_the_end_fails", {7, 5}, {3}, 0, true);
  // gather_elements: along the rows of a matrix, along the last axis with
  // indices narrower than the input off the axis, along a middle axis of a
  // 4-D tensor with indices longer than the axis, a bad index.
  addGather(t, "gather_elements", "elements_axis0_5x7_idx3x7", {5, 7}, {3, 7},
            0);
  addGather(t, "gather_elements", "elements_last_axis_4x6x9_idx3x5x12",
            {4, 6, 9}, {3, 5, 12}, 2);
  addGather(t, "gather_elements", "elements_axis2_2x3x4x19_idx2x2x7x17",
            {2, 3, 4, 19}, {2, 2, 7, 17}, 2);
  addGather(t, "gather_elements", "elements_index_past_the_end_fails", {4, 5},
            {4, 2}, 1, true);
  // grid_sample: every mode with every padding, both corner conventions,
  // odd planes, a grid larger and smaller than the image, one column.
  addGridSample(t, "bilinear_zeros_2x3x5x7_to_4x6", {2, 3, 5, 7}, 4, 6,
                "bilinear", "zeros", false);
  addGridSample(t, "bilinear_border_align_1x2x6x5_to_9x8", {1, 2, 6, 5}, 9, 8,
                "bilinear", "border", true);
  addGridSample(t, "bilinear_reflection_1x3x7x9_to_5x11", {1, 3, 7, 9}, 5, 11,
                "bilinear", "reflection", false);
  addGridSample(t, "bilinear_reflection_align_2x1x4x6_to_3x7", {2, 1, 4, 6},
                3, 7, "bilinear", "reflection", true);
  addGridSample(t, "nearest_zeros_align_1x2x5x6_to_7x3", {1, 2, 5, 6}, 7, 3,
                "nearest", "zeros", true);
  addGridSample(t, "nearest_border_2x2x3x8_to_4x5", {2, 2, 3, 8}, 4, 5,
                "nearest", "border", false);
  addGridSample(t, "nearest_reflection_1x1x6x4_to_6x6", {1, 1, 6, 4}, 6, 6,
                "nearest", "reflection", false);
  addGridSample(t, "bicubic_zeros_1x2x6x7_to_5x9", {1, 2, 6, 7}, 5, 9,
                "bicubic", "zeros", false);
  addGridSample(t, "bicubic_border_align_2x1x5x5_to_4x4", {2, 1, 5, 5}, 4, 4,
                "bicubic", "border", true);
  addGridSample(t, "bicubic_reflection_1x3x4x7_to_6x5", {1, 3, 4, 7}, 6, 5,
                "bicubic", "reflection", false);
  addGridSample(t, "bilinear_reflection_align_one_column_1x2x5x1_to_3x4",
                {1, 2, 5, 1}, 3, 4, "bilinear", "reflection", true);
  // resize: upsampling by 2 (a U-Net or FPN decoder), by non-integral
  // and unequal factors, downsampling, every coordinate transform and
  // nearest mode, cubic with and without the outside taps, rank 3.
  addResize(t, "nearest_up2_asymmetric_floor", {2, 3, 5, 4}, 10, 8,
            resizeSpec("nearest", "asymmetric", 2, 2, "floor"));
  addResize(t, "nearest_up_half_pixel_round", {1, 2, 4, 5}, 7, 12,
            resizeSpec("nearest", "half_pixel", 1.75, 2.4));
  addResize(t, "nearest_down_ceil_align", {1, 3, 9, 7}, 4, 3,
            resizeSpec("nearest", "align_corners", 4.0 / 9, 3.0 / 7, "ceil"));
  addResize(t, "nearest_round_prefer_ceil_tf", {2, 1, 6, 6}, 9, 4,
            resizeSpec("nearest", "tf_half_pixel_for_nn", 1.5, 4.0 / 6,
                       "round_prefer_ceil"));
  addResize(t, "linear_up2_half_pixel", {2, 4, 6, 5}, 12, 10,
            resizeSpec("linear", "half_pixel", 2, 2));
  addResize(t, "linear_align_corners", {1, 2, 5, 7}, 8, 3,
            resizeSpec("linear", "align_corners", 8.0 / 5, 3.0 / 7));
  addResize(t, "linear_pytorch_half_pixel_one_column", {1, 2, 6, 5}, 4, 1,
            resizeSpec("linear", "pytorch_half_pixel", 4.0 / 6, 1.0 / 5));
  addResize(t, "linear_down_asymmetric", {3, 2, 8, 9}, 5, 6,
            resizeSpec("linear", "asymmetric", 0.6, 0.7));
  addResize(t, "cubic_up_half_pixel", {1, 3, 4, 5}, 9, 8,
            resizeSpec("cubic", "half_pixel", 2.25, 1.6));
  addResize(t, "cubic_exclude_outside", {2, 2, 5, 4}, 3, 7,
            resizeSpec("cubic", "half_pixel", 0.6, 1.75, "round_prefer_floor",
                       true));
  addResize(t, "cubic_align_corners_rank3", {3, 4, 6}, 7, 5,
            resizeSpec("cubic", "align_corners", 7.0 / 4, 5.0 / 6));
  addLrn(t, "size5_alexnet", {2, 7, 5, 3}, 5, 1e-4, 0.75, 2.0);
  addLrn(t, "size4_even_window", {3, 6, 4, 5}, 4, 0.5, 0.75, 1.0);
  addLrn(t, "size7_wider_than_c3", {2, 3, 6, 2}, 7, 2.0, 0.5, 1.5);
  addLrn(t, "rank2_size3", {5, 9}, 3, 1.0, 1.0, 1.0);
  addLrn(t, "rank5_size2", {1, 4, 2, 3, 5}, 2, 0.3, 0.25, 0.5);

  for (const std::string op : {"softmax", "log_softmax"}) {
    addSoftmax(t, op, "2d_axis0", {4, 7}, 0);
    addSoftmax(t, op, "2d_axis1", {4, 7}, 1);
    addSoftmax(t, op, "3d_axis0", {3, 5, 6}, 0);
    addSoftmax(t, op, "3d_axis1", {3, 5, 6}, 1);
    addSoftmax(t, op, "3d_axis2", {3, 5, 6}, 2);
  }

  addPointwiseLoss(t, "mse", "3x5", {3, 5}, ref::mse);
  addPointwiseLoss(t, "mse", "2x3x4x5", {2, 3, 4, 5}, ref::mse);
  addPointwiseLoss(t, "mae", "3x5x7", {3, 5, 7}, ref::mae);
  addHuber(t, "delta1", {4, 9}, 1.0);
  addHuber(t, "delta0_5_len17", {17}, 0.5);
  addBce(t, "3x5", {3, 5}, false);
  addBce(t, "clamped_logs", {2, 8}, true);
  addBceLogits(t, "3x5", {3, 5});
  addCce(t, "one_hot_4x10", 4, 10, true);
  addCce(t, "probabilities_3x17", 3, 17, false);
  addSparseCce(t, "5x10", 5, 10);
  addSparseCce(t, "1x3", 1, 3);
  const int32_t tooLarge = 10, negative = -1;
  addSparseCce(t, "label_too_large_fails", 5, 10, &tooLarge);
  addSparseCce(t, "negative_label_fails", 5, 10, &negative);
  addHinge(t, "3x5", {3, 5});
  const int64_t ignoreTwo = 2;
  addNllLoss(t, "mean_5x7", {5, 7}, false, "mean", nullptr);
  addNllLoss(t, "weighted_mean_ignore2_6x4", {6, 4}, true, "mean", &ignoreTwo);
  addNllLoss(t, "sum_2x3x5x4", {2, 3, 5, 4}, false, "sum", nullptr);
  addNllLoss(t, "weighted_none_3x5x17", {3, 5, 17}, true, "none", &ignoreTwo);

  // Inputs far from 0, where a formula that is right on paper overflows,
  // cancels or takes log(0): exp(89) = inf in float, softmax terms below
  // float's range, variance of values with a large mean.
  const std::vector<int64_t> wide = {5, 41};
  const Simple saturating[] = {
      {"sigmoid", A::Sigmoid, -100, 100, false},
      {"tanh", A::Tanh, -100, 100, false},
      {"silu", A::Silu, -100, 100, false},
      {"mish", A::Mish, -100, 100, false},
      {"selu", A::Selu, -100, 100, false},
      {"sin", A::Sin, -100, 100, false},
  };
  for (const Simple &s : saturating) {
    addActivation(t, s.op, "extreme_inputs", s.kind, none, wide, s.low, s.high);
  }
  p = {};
  p.alpha = 1.0;
  addActivation(t, "elu", "extreme_inputs", A::Elu, {{"alpha", 1.0}}, wide,
                -100, 100, p);
  addActivation(t, "gelu", "none_extreme_inputs", A::GeluErf,
                {{"approximate", "none"}}, wide, -100, 100);
  addActivation(t, "gelu", "tanh_extreme_inputs", A::GeluTanh,
                {{"approximate", "tanh"}}, wide, -100, 100);
  p = {};
  addActivation(t, "softplus", "extreme_inputs", A::Softplus,
                {{"beta", 1.0}, {"threshold", 20.0}}, wide, -100, 100, p);
  addSoftmax(t, "softmax", "logits_spread50", {6, 33}, 1, 50);
  addSoftmax(t, "log_softmax", "logits_spread50", {6, 33}, 1, 50);
  addSoftmax(t, "log_softmax", "logits_spread50_axis0", {33, 6}, 0, 50);
  addBceLogits(t, "logits_spread100", {5, 41}, 100);
  addCce(t, "logits_spread50", 6, 33, false, 50);
  addSparseCce(t, "logits_spread50", 6, 33, nullptr, 50);
  addBatchNorm(t, "train_mean_offset10", {3, 5, 4, 4}, true, 1e-5, 10, 12);
  addLayerNorm(t, "mean_offset10", {4, 33}, 1, true, 1e-5, 10, 12);
  addPool(t, mp, "all_negative_pad1", {2, 3, 5, 5},
          poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}, true), -3, -1);

  // Sizes large enough for the kernels' vectorized, tiled and parallel
  // schedules (the cases above mostly exercise their edges).
  addDense(t, "n12_k256_o64_bias", 12, 256, 64, true);
  // Several GPU blocks (64 features x 32 rows), the last ones partial in
  // both dims, and register tiles partial at the edge.
  addDense(t, "n70_k40_o75_bias", 70, 40, 75, true);
  // The rows form (batch 1-8, K a multiple of 16): a classifier head, and
  // outputs that do not fill the last block of 8; from batch 3 row by row
  // (MobileNetV2's head at batch 8).
  addDense(t, "rows_n1_k512_o1000_bias", 1, 512, 1000, true);
  addDense(t, "rows_n2_k48_o13", 2, 48, 13, false);
  addDense(t, "rows_n1_k16_o3_bias", 1, 16, 3, true);
  addDense(t, "rows_n5_k64_o13_bias", 5, 64, 13, true);
  addDense(t, "rows_n8_k1280_o1000_bias", 8, 1280, 1000, true);
  addConv(t, "n2_c16_20x20_o32_same", {2, 16, 20, 20}, 32, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), true);
  // Over 2^20 outputs (32Ki threads of 4 rows x 8 channels): the GPU's
  // register tiles (scheduleRowConvGpu) partial at the last row (93 rows),
  // channel (60) and column; 2-row tiles at stride 2 without padding (49
  // output rows); a 1x1 layer of 33 channel tiles in threads of 2.
  addConv(t, "gpu_tiles_n2_c5_93x95_o60_same", {2, 5, 93, 95}, 60, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), true);
  addConv(t, "gpu_tiles_n2_c6_99x101_o120_stride2", {2, 6, 99, 101}, 120,
          {3, 3}, convParams({2, 2}, {0, 0, 0, 0}), false);
  addConv(t, "gpu_tiles_n2_c16_45x47_o264_1x1", {2, 16, 45, 47}, 264, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), true);
  // GPU input tiles in shared memory: at stride 2 a block's region (33 x
  // 17 inputs for 16 x 8 outputs) of 24 channels is 54 KiB, over CUDA's 48
  // and OpenCL's 32, so split sums over 2 chunks of 12, then a kernel adding
  // the chunks and the bias; edge blocks at the last row and column.
  addConv(t, "gpu_split_sums_n2_c24_19x37_o20_stride2", {2, 24, 19, 37}, 20,
          {3, 3}, convParams({2, 2}, {1, 1, 1, 1}), true);
  // The conv2d forms (KernelsConv.cpp) on real network shapes: flattened
  // phase planes for a 7x7 stage with a channel tail, a strided small plane
  // and 7x7 stride-2 stems (small, and with output rows of 20 and more);
  // rows for a wide strided layer.
  addConv(t, "planes_n2_c64_7x7_o40_same", {2, 64, 7, 7}, 40, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), true);
  addConv(t, "planes_n3_c8_14x14_o24_stride2", {3, 8, 14, 14}, 24, {3, 3},
          convParams({2, 2}, {1, 1, 1, 1}), false);
  addConv(t, "planes_stem_k7_stride2_pad3", {2, 3, 23, 23}, 16, {7, 7},
          convParams({2, 2}, {3, 3, 3, 3}), true);
  addConv(t, "planes_stem_n1_c3_50x45_o24_k7_stride2", {1, 3, 50, 45}, 24,
          {7, 7}, convParams({2, 2}, {3, 3, 3, 3}), false);
  // On 8-lane targets the unpacked stems take the channel form (weights
  // repacked per call, rows summed whole): the 7x7 ones above, and a 3x3
  // stem with rows of 15 (a vector and a shifted tail).
  addConv(t, "channels_stem_n2_c3_33x29_o32_k3_stride2", {2, 3, 33, 29}, 32,
          {3, 3}, convParams({2, 2}, {1, 1, 1, 1}), true);
  // Strided rows read the input's stride phases: stride 3 with a dilated
  // window, asymmetric pads and 2 groups; stride 2 without padding.
  addConv(t, "rows_n1_c6_70x65_o8_stride3_dilated_groups2", {1, 6, 70, 65}, 8,
          {3, 3}, convParams({3, 3}, {2, 1, 0, 3}, {2, 2}, 2), true);
  addConv(t, "rows_n1_c4_45x47_o8_stride2_unpadded", {1, 4, 45, 47}, 8,
          {3, 3}, convParams({2, 2}, {0, 0, 0, 0}), false);
  addConv(t, "rows_n2_c8_40x40_o16_stride2", {2, 8, 40, 40}, 16, {3, 3},
          convParams({2, 2}, {1, 1, 1, 1}), true);
  // Depthwise in the rows form, each task padding its own input planes: a
  // channel count with a shifted last block of 8, at stride 1 and 2.
  addConv(t, "depthwise_n2_c20_30x30_same", {2, 20, 30, 30}, 20, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 20), true);
  addConv(t, "depthwise_n2_c20_31x31_stride2", {2, 20, 31, 31}, 20, {3, 3},
          convParams({2, 2}, {1, 1, 1, 1}, {1, 1}, 20), false);
  // One image: the rows in two strips per channel group (fuseChannelTasks),
  // an odd count of tile rows (18 rows of 2 -> 9 each; 21 rows at stride 2:
  // 11 tile rows, the second strip shifted inwards).
  addConv(t, "depthwise_strips_n1_c20_35x33_same", {1, 20, 35, 33}, 20, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 20), true);
  addConv(t, "depthwise_strips_n1_c12_41x44_stride2", {1, 12, 41, 44}, 12,
          {3, 3}, convParams({2, 2}, {1, 1, 1, 1}, {1, 1}, 12), false);
  // Strided depthwise rows over phases that inline the padding, with
  // asymmetric pads and a batch (tasks of 8 channels, the last shifted).
  addConv(t, "depthwise_rows_n2_c9_45x43_stride2_pads0112", {2, 9, 45, 43}, 9,
          {3, 3}, convParams({2, 2}, {0, 1, 1, 2}, {1, 1}, 9), true);
  // Depthwise on small planes in the planes form, each task building its
  // own phase planes: 7x7 and a strided 13x13 (7x7 output), 20 channels.
  addConv(t, "depthwise_planes_n2_c20_7x7_same", {2, 20, 7, 7}, 20, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 20), true);
  // Many channels: tasks of several 8-channel blocks, the last task
  // guarded (33 blocks in tasks of 2) and the last block shifted inwards.
  addConv(t, "depthwise_planes_n2_c261_7x7_tasks", {2, 261, 7, 7}, 261,
          {3, 3}, convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 261), true);
  addConv(t, "depthwise_planes_n1_c20_13x13_stride2", {1, 20, 13, 13}, 20,
          {3, 3}, convParams({2, 2}, {1, 1, 1, 1}, {1, 1}, 20), false);
  // kiln-fuse's producer form (1x1 conv2d + relu6 computed inside the
  // depthwise conv2d + relu reading it). Rows of 20 and up, in a sliding
  // window: expansions with a shifted last block of 8 channels, an odd
  // width at stride 1, rows of 2 vectors and a shifted third tile (40
  // wide), a non-square plane at stride 2, a dilated 5x5.
  // Narrower planes, flattened: at stride 1 the depthwise layer over the
  // flattened padded plane too (7x7, a dilated window with asymmetric
  // pads, a 2x3 plane smaller than one vector); 13x13 at stride 2 with a
  // 5x5 window in rows.
  // The attention form: a ViT-like head (16 tokens of 8, keys and values
  // transposed); odd sizes (a row tile of 8 guarded, 17 and 33
  // key columns over vectors with a guarded tail, 9 output columns) with a
  // padding mask of -inf; matrices without a batch, the queries transposed.
  addAttention(t, "vit_b6_t16_d8_kt_vt", {6, 16, 16, 8, 8, false, true, true, false});
  addAttention(t, "b3_m13_n17_k5_dv9_masked", {3, 13, 17, 5, 9, false, false, false, true});
  addAttention(t, "matrices_m20_n33_k6_dv20_qt_masked",
               {0, 20, 33, 6, 20, true, false, false, true});
  // Two blocks of 32 query rows (the second shifted inwards by 14), the
  // keys transposed (copied per block), 37 key columns.
  addAttention(t, "b2_m50_n37_k12_dv16_kt_masked",
               {2, 50, 37, 12, 16, false, true, false, true});
  // 77 query rows in two blocks of 40 (attentionRowBlock), the second
  // shifted inwards by 3.
  addAttention(t, "b2_m77_n21_k8_dv16_blocks_of_40",
               {2, 77, 21, 8, 16, false, false, false, false});
  addProducer(t, "rows_n2_c5_23x23_e20", {2, 5, 23, 23}, 20, 3,
              convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 20), true);
  addProducer(t, "rows_n1_c6_9x40_e16_two_vectors", {1, 6, 9, 40}, 16, 3,
              convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 16), true);
  addProducer(t, "rows_n1_c3_30x31_e12_stride2", {1, 3, 30, 31}, 12, 3,
              convParams({2, 2}, {1, 1, 1, 1}, {1, 1}, 12), false);
  // One image in two strips of rows (each sliding its own window from its
  // first row): 37 rows, 19 tile rows, the second strip shifted inwards.
  addProducer(t, "rows_strips_n1_c5_37x29_e20", {1, 5, 37, 29}, 20, 3,
              convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 20), true);
  // Strided output rows of a vector or more read the expanded row as its
  // stride phases: an odd width and a 5x5 window at stride 2, no padding
  // at stride 2, stride 3 with a dilated window.
  addProducer(t, "rows_n2_c4_25x41_e10_k5_stride2", {2, 4, 25, 41}, 10, 5,
              convParams({2, 2}, {2, 2, 2, 2}, {1, 1}, 10), false);
  addProducer(t, "rows_n1_c5_22x34_e8_stride2_unpadded", {1, 5, 22, 34}, 8, 3,
              convParams({2, 2}, {0, 0, 0, 0}, {1, 1}, 8), false);
  addProducer(t, "rows_n1_c3_26x52_e11_stride3_dilated", {1, 3, 26, 52}, 11,
              3, convParams({3, 3}, {1, 2, 2, 1}, {2, 2}, 11), false);
  addProducer(t, "rows_n2_c4_24x21_e9_k5_dilated", {2, 4, 24, 21}, 9, 5,
              convParams({1, 1}, {4, 3, 4, 5}, {2, 2}, 9), true);
  addProducer(t, "flat_n3_c16_7x7_e24", {3, 16, 7, 7}, 24, 3,
              convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 24), true);
  addProducer(t, "flat_n2_c5_11x9_e10_dilated_asymmetric", {2, 5, 11, 9}, 10,
              3, convParams({1, 1}, {2, 1, 1, 2}, {2, 2}, 10), true);
  addProducer(t, "flat_n2_c7_13x13_e9_k5_stride2", {2, 7, 13, 13}, 9, 5,
              convParams({2, 2}, {2, 2, 2, 2}, {1, 1}, 9), false);
  addProducer(t, "flat_n1_c2_2x3_e3", {1, 2, 2, 3}, 3, 3,
              convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 3), true);
  // A plane of 20 columns or more whose strided output rows are narrower
  // than a vector (24x26 -> 12x13) takes the flat form too.
  addProducer(t, "flat_n2_c5_24x26_e12_stride2_narrow_rows", {2, 5, 24, 26},
              12, 3, convParams({2, 2}, {1, 1, 1, 1}, {1, 1}, 12), false);
  // Tasks of 12 channels (36: 3 per image) in tiles of 2 vectors x 12
  // channels over 169 positions; the depthwise over 13 vectors of pitch 15
  // in 2 groups of 7 (the last rounded up past the plane).
  addProducer(t, "flat_n2_c6_13x13_e36", {2, 6, 13, 13}, 36, 3,
              convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 36), true);
  // The projection form (MobileNetV2's inverted residual block in one
  // kernel): 7 output channels (a block of 8 shifted inwards) with a
  // residual; stride 2 to 18-column rows (a tile of one vector plus one
  // shifted inwards) without biases before the projection; one image of
  // 45 rows in 4 strips of row pairs with 24 output channels.
  addProducer(t, "projection_n2_c5_23x23_e20_o7_residual", {2, 5, 23, 23}, 20,
              3, convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 20), true, 7, true);
  addProducer(t, "projection_n1_c3_41x35_e12_stride2_o10", {1, 3, 41, 35}, 12,
              3, convParams({2, 2}, {1, 1, 1, 1}, {1, 1}, 12), false, 10);
  addProducer(t, "projection_strips_n1_c4_45x37_e16_o24_residual",
              {1, 4, 45, 37}, 16, 3,
              convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 16), true, 24, true);
  // Without expansion (MobileNetV2's first block: 32 -> 16 on 112x112):
  // 20 channels on 23-column rows, 7 outputs with a residual; one image of
  // 41 rows (strips) and 24 outputs.
  addDepthwiseProjection(t, "depthwise_projection_n2_c20_23x23_o7_residual",
                         {2, 20, 23, 23},
                         convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 20), 7,
                         true);
  addDepthwiseProjection(t, "depthwise_projection_n1_c12_41x35_o24",
                         {1, 12, 41, 35},
                         convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 12), 24,
                         false);
  // Planes in the channel form (output channels in 16-lane vectors, planes
  // of 28x28 and up): 4 vectors per task over 4 images, and 3 per task (6
  // vectors: 2 tasks per image) on a wider plane. Then a batch of small
  // strided planes in the position form.
  addConv(t, "planes_channels_n4_c8_28x28_o64", {4, 8, 28, 28}, 64, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), true);
  addConv(t, "planes_channels_n2_c5_30x33_o96", {2, 5, 30, 33}, 96, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), false);
  // 20 input channels: the sums run over two whole runs of 8 channels and
  // a partial one.
  addConv(t, "planes_channels_n2_c20_28x29_o64", {2, 20, 28, 29}, 64, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), true);
  addConv(t, "planes_n16_c5_37x37_o48_stride2", {16, 5, 37, 37}, 48, {3, 3},
          convParams({2, 2}, {1, 1, 1, 1}), false);
  // The channel form (strided, 16 or more input channels, whole vectors of
  // output channels): tiles of 8 (8x8 output) over 2 vectors and a partial
  // run of 4 input channels; 3 vectors (one per task) on a 15-wide output
  // (tiles of 5); an unpadded 1x1 read in place (tiles of 7); an unpadded
  // 11-wide output whose last tile of 7 is rounded up over a padded copy;
  // dilation; batch 1 split into row chunks.
  addConv(t, "channels_n2_c18_15x15_o32_stride2", {2, 18, 15, 15}, 32, {3, 3},
          convParams({2, 2}, {1, 1, 1, 1}), true);
  addConv(t, "channels_n3_c16_29x29_o48_stride2", {3, 16, 29, 29}, 48, {3, 3},
          convParams({2, 2}, {1, 1, 1, 1}), false);
  addConv(t, "channels_1x1_n2_c32_14x14_o32_stride2", {2, 32, 14, 14}, 32,
          {1, 1}, convParams({2, 2}, {0, 0, 0, 0}), true);
  addConv(t, "channels_1x1_n2_c16_21x21_o32_stride2", {2, 16, 21, 21}, 32,
          {1, 1}, convParams({2, 2}, {0, 0, 0, 0}), false);
  addConv(t, "channels_dilated_n1_c16_20x20_o32_stride2", {1, 16, 20, 20}, 32,
          {3, 3}, convParams({2, 2}, {2, 1, 2, 1}, {2, 2}), true);
  // Rows of 5 to 7 outputs on 8-lane targets: register tiles of the whole
  // row x 2 rows x one vector (channelRegisterTile's row pairs). 6 wide,
  // 5 rows rounded up to 6 over a padded copy of an unpadded input, 3
  // vectors of output channels; 7x7 at batch 1 in row chunks of 4 (the
  // last shifted inwards), packed in blocks of 8.
  addConv(t, "channels_row_pairs_n2_c16_11x13_o24_stride2", {2, 16, 11, 13}, 24,
          {3, 3}, convParams({2, 2}, {0, 0, 0, 0}), true);
  addConv(t, "packed_row_pairs_n1_c20_13x13_o32_stride2", {1, 20, 13, 13}, 32,
          {3, 3}, convParams({2, 2}, {1, 1, 1, 1}), false, 8);
  // Packed weights [O/B, C, KH, KW, B] (kiln-pack-weights) take the channel
  // form at any stride: a 7x7 stage, a 14-wide plane with asymmetric pads,
  // blocks of 8, a strided 1x1, a 1x1 on a 7x7 plane and a stem.
  addConv(t, "packed_n1_c32_7x7_o64_same", {1, 32, 7, 7}, 64, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), true, 16);
  addConv(t, "packed_n2_c20_14x14_o32_pads", {2, 20, 14, 14}, 32, {3, 3},
          convParams({1, 1}, {0, 1, 2, 1}), false, 16);
  addConv(t, "packed_b8_n2_c16_9x9_o24", {2, 16, 9, 9}, 24, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), true, 8);
  addConv(t, "packed_1x1_n2_c64_14x14_o32_stride2", {2, 64, 14, 14}, 32,
          {1, 1}, convParams({2, 2}, {0, 0, 0, 0}), true, 16);
  addConv(t, "packed_1x1_n3_c40_7x7_o48", {3, 40, 7, 7}, 48, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), false, 16);
  // One image whose pairs of channel vectors would be 5 or 7 tasks (160
  // channels, 224): single vectors per task instead.
  addConv(t, "packed_1x1_n1_c40_7x7_o160_odd_pairs", {1, 40, 7, 7}, 160, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), true, 16);
  addConv(t, "packed_n1_c24_9x9_o224_odd_pairs", {1, 24, 9, 9}, 224, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), false, 16);
  // A 1x1 sums over the plane's positions (flatChannelConv):
  // tasks of 2 rows of 11 (22 positions, the last tile rounded up) and of
  // 2 rows of 3 (6 positions, under a vector), the last task shifted
  // inwards over 13 and 5 rows.
  addConv(t, "packed_1x1_n1_c40_13x11_o32_flat", {1, 40, 13, 11}, 32, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), true, 16);
  addConv(t, "packed_1x1_n1_c40_5x3_o32_flat", {1, 40, 5, 3}, 32, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), false, 8);
  // Planes up to 28x28 (kiln-pack-weights with blocks of 16): 783
  // positions in tasks of rows, the last task shifted inwards; 14x14 at
  // batch 2 with a long reduction.
  addConv(t, "packed_1x1_n1_c48_27x29_o64_flat", {1, 48, 27, 29}, 64, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), true, 16);
  addConv(t, "packed_1x1_n2_c272_14x14_o32_flat", {2, 272, 14, 14}, 32, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), false, 16);
  // Flat at stride 2, padded (each position's input read from its row and
  // column, the padding's zeros from the padded copy).
  addConv(t, "packed_1x1_n2_c40_9x11_o16_stride2_pad1_flat", {2, 40, 9, 11}, 16,
          {1, 1}, convParams({2, 2}, {1, 1, 1, 1}), true, 8);
  addConv(t, "packed_stem_n2_c3_15x13_o32_k3_s2_pad1", {2, 3, 15, 13}, 32,
          {3, 3}, convParams({2, 2}, {1, 1, 1, 1}), true, 16);
  // Output rows of a vector or more, copied out in blocks of 16 columns x
  // 16 channels (20 and 19 wide: the last block shifted inwards), packed
  // and repacked per call.
  addConv(t, "packed_stem_n1_c3_45x40_o32_k3_s2_pad1", {1, 3, 45, 40}, 32,
          {3, 3}, convParams({2, 2}, {1, 1, 1, 1}), true, 16);
  // ResNet's 7x7 stem form: the whole reduction (3 channels x 49 taps) one
  // run, summed one output row at a time (19 wide: tiles of 7 rounded up).
  addConv(t, "packed_stem_n2_c3_45x38_o64_k7_s2_pad3", {2, 3, 45, 38}, 64,
          {7, 7}, convParams({2, 2}, {3, 3, 3, 3}), true, 16);
  // kiln-pack-weights' GPU layout: one block of all O output channels
  // ([1, C, KH, KW, O], O a multiple of 8), read in place by the GPU
  // convolutions. Staged in one chunk (padded, with a bias), in split sums
  // (a 3x3 window at stride 2 over 28 channels: two chunks of 14), a 1x1 at
  // stride 2, and unstaged (23 channels of a 5x5 stride-2 window: only
  // chunks of one channel fit, more than 16); on the CPU the channel form.
  addConv(t, "gpu_packed_n2_c16_12x12_o32_pad1", {2, 16, 12, 12}, 32, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), true, 32);
  addConv(t, "gpu_packed_n1_c28_33x33_o64_s2_pad1", {1, 28, 33, 33}, 64,
          {3, 3}, convParams({2, 2}, {1, 1, 1, 1}), false, 64);
  addConv(t, "gpu_packed_1x1_n2_c24_13x13_o40_stride2", {2, 24, 13, 13}, 40,
          {1, 1}, convParams({2, 2}, {0, 0, 0, 0}), true, 40);
  addConv(t, "gpu_packed_n1_c23_40x40_o16_k5_s2_pad2", {1, 23, 40, 40}, 16,
          {5, 5}, convParams({2, 2}, {2, 2, 2, 2}), true, 16);
  addConv(t, "channels_1x1_n2_c16_40x38_o32_stride2", {2, 16, 40, 38}, 32,
          {1, 1}, convParams({2, 2}, {0, 0, 0, 0}), false);
  // Stride-1 layers that kiln-pack-weights packs for the channel form: a
  // run tail (19 = 4 runs of 4 + 3) on an 11-wide output rounded up to
  // tiles of 7, and a 5x5 window (5 unrolled taps a row).
  addConv(t, "packed_n1_c19_13x11_o64_k3_pad1", {1, 19, 13, 11}, 64, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), true, 16);
  addConv(t, "packed_n2_c20_9x9_o32_k5_pad2", {2, 20, 9, 9}, 32, {5, 5},
          convParams({1, 1}, {2, 2, 2, 2}), false, 16);
  // Pointwise form: 1x1, stride 1, unpadded, over the flattened plane (a
  // 25-position plane: one vector and a shifted tail), grouped too.
  addConv(t, "pointwise_n3_c24_5x5_o17", {3, 24, 5, 5}, 17, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), true);
  addConv(t, "pointwise_groups4_n2_c16_9x7_o12", {2, 16, 9, 7}, 12, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}, {1, 1}, 4), false);
  addConv(t, "pointwise_n2_c32_28x28_o48", {2, 32, 28, 28}, 48, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), true);
  // Register tiles of 12 output channels (36: 3 blocks), on a plane of
  // 143 positions (the last tile of 2 vectors shifted inwards).
  addConv(t, "pointwise_tiles12_n2_c20_11x13_o36", {2, 20, 11, 13}, 36,
          {1, 1}, convParams({1, 1}, {0, 0, 0, 0}), true);
  // Fewer output channels than a block of 8.
  addConv(t, "pointwise_n1_c40_12x12_o6", {1, 40, 12, 12}, 6, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), true);
  // A plane cut into chunks (600 input channels: a 1 MB panel holds 416
  // positions; chunks of about 7 tiles in an even number: 6 of 160, the
  // last shifted),
  // with a shifted last block of channels; and a 7x7 plane whose 13
  // channel blocks are split into groups (the last group shifted).
  addConv(t, "pointwise_chunks_n1_c600_30x30_o20", {1, 600, 30, 30}, 20,
          {1, 1}, convParams({1, 1}, {0, 0, 0, 0}), true);
  addConv(t, "pointwise_groups_n1_c24_7x7_o100", {1, 24, 7, 7}, 100, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), false);
  // One image of 667 positions: cut though the panel fits, into an even
  // number of chunks (4 of 192, the last shifted inwards), every one with
  // all 5 channel blocks.
  addConv(t, "pointwise_strips_n1_c24_23x29_o40", {1, 24, 23, 29}, 40, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), true);
  // A plane with no even chunk count (68x68: 145 tiles; the search for one
  // used to never end): 21 chunks of 224.
  addConv(t, "pointwise_odd_chunks_n1_c16_68x68_o24", {1, 16, 68, 68}, 24,
          {1, 1}, convParams({1, 1}, {0, 0, 0, 0}), true);
  // One image's small plane with an even number of input vectors: the
  // reduction in two halves (usePointwiseHalves), a shifted last tile of
  // positions and a shifted last block of channels; a 5x5 plane under one
  // tile of 2 vectors.
  addConv(t, "pointwise_halves_n1_c96_13x11_o100", {1, 96, 13, 11}, 100,
          {1, 1}, convParams({1, 1}, {0, 0, 0, 0}), true);
  addConv(t, "pointwise_halves_n1_c128_5x5_o340", {1, 128, 5, 5}, 340,
          {1, 1}, convParams({1, 1}, {0, 0, 0, 0}), false);
  // Winograd F(2x2, 3x3): a 7-tile row with 5 tile rows (chunks and a
  // shifted last tile block), asymmetric pads, output channels that are not
  // a multiple of 16 over 9 tiles per image (scalar tiles), and a ResNet
  // stage at batch 2 (2 tile vectors, channel groups per chunk).
  addWinograd(t, "n2_c20_10x14_o24_same", {2, 20, 10, 14}, 24, {1, 1, 1, 1},
              true);
  addWinograd(t, "n1_c16_9x11_o32_pads0110", {1, 16, 9, 11}, 32, {0, 1, 1, 0},
              false);
  addWinograd(t, "n3_c17_6x6_o40_same", {3, 17, 6, 6}, 40, {1, 1, 1, 1}, true);
  addWinograd(t, "n2_c64_28x28_o64_same", {2, 64, 28, 28}, 64, {1, 1, 1, 1},
              true);
  // One vector of tiles at batch 1 (ResNet's 7x7 stages: the plane's 16
  // tiles in one chunk; AVX-512: 4 groups of output channels, register
  // tiles of 16 output channels; AVX2: the batch form's one chunk), 40
  // input channels (winograd_filter: its points in blocks of 32 input
  // channels, the second shifted in to overlap).
  addWinograd(t, "n1_c40_7x7_o64_same", {1, 40, 7, 7}, 64, {1, 1, 1, 1},
              true);
  // F(4x4, 3x3): a ResNet 28x28 stage at batch 2, a 3-tile row with
  // asymmetric pads and 40 output channels, a 12x8 plane of 20 channels.
  addWinograd(t, "tile4_n2_c64_28x28_o64_same", {2, 64, 28, 28}, 64,
              {1, 1, 1, 1}, true, 4);
  // A ResNet 56x56 stage at batch 2: one group in chunks of 2 tile rows
  // (28 tiles), 14 tasks (chooseSplit's second rule).
  addWinograd(t, "tile4_n2_c64_56x56_o64_same", {2, 64, 56, 56}, 64,
              {1, 1, 1, 1}, true, 4);
  // One image whose tasks would be odd (balanceOneImage): 28x28's 7 tile
  // rows and 56x56's 7 chunks of 2 rows, each in 2 groups of output
  // channels numbered group-major (14 tasks); the filter in blocks of 16.
  addWinograd(t, "odd_tile4_n1_c32_28x28_o32_same", {1, 32, 28, 28}, 32,
              {1, 1, 1, 1}, true, 4);
  addWinograd(t, "odd_tile4_n1_c16_56x56_o32_same", {1, 16, 56, 56}, 32,
              {1, 1, 1, 1}, false, 4);
  addWinograd(t, "odd_block16_tile4_n1_c24_28x28_o32_same", {1, 24, 28, 28}, 32,
              {1, 1, 1, 1}, false, 4, 16);
  addWinograd(t, "tile4_n3_c17_13x11_o40_pads0210", {3, 17, 13, 11}, 40,
              {0, 2, 1, 1}, false, 4);
  addWinograd(t, "tile4_n1_c20_12x8_o24_same", {1, 20, 12, 8}, 24,
              {1, 1, 1, 1}, true, 4);
  // The batch form (planes of fewer than 32 tiles, 32 or more over the
  // batch): 7x7 at batch 8 in chunks of 32 tiles (8 tile rows spanning
  // two images), 24 output channels (3 blocks in 2 groups); at batch 5
  // in chunks of 16 (the batch's 20 tile rows do not divide by 8); F(4x4)
  // on 7x7 at batch 16 (2x2 partial tiles per image, chunks of 16 rows)
  // and at batch 8 (32 tiles: one chunk).
  addWinograd(t, "batch_n8_c16_7x7_o24_same", {8, 16, 7, 7}, 24,
              {1, 1, 1, 1}, true);
  addWinograd(t, "batch_n5_c24_7x7_o16_same", {5, 24, 7, 7}, 16,
              {1, 1, 1, 1}, false);
  addWinograd(t, "batch_tile4_n16_c16_7x7_o16_same", {16, 16, 7, 7}, 16,
              {1, 1, 1, 1}, true, 4);
  addWinograd(t, "batch_tile4_n8_c16_7x7_o32_same", {8, 16, 7, 7}, 32,
              {1, 1, 1, 1}, false, 4);
  // One image's 8x8 plane (16 tiles): on AVX2 the batch form's one chunk,
  // 24 output channels (3 blocks in 2 groups).
  addWinograd(t, "batch_n1_c32_8x8_o24_same", {1, 32, 8, 8}, 24, {1, 1, 1, 1},
              true);
  // Partial tiles (planes that are not a multiple of the tile): 9x7 with
  // 2x2 tiles, 14x14 and 12x11 with 4x4 tiles.
  addWinograd(t, "partial_n2_c16_9x7_o24_same", {2, 16, 9, 7}, 24,
              {1, 1, 1, 1}, true);
  addWinograd(t, "partial_tile4_n2_c24_14x14_o32_same", {2, 24, 14, 14}, 32,
              {1, 1, 1, 1}, false, 4);
  addWinograd(t, "partial_tile4_n1_c16_13x10_o16_pads0112", {1, 16, 13, 10},
              16, {0, 1, 1, 2}, true, 4);
  // Unpadded ("valid") with partial tiles: the tiles past the 13x13 output
  // read past the 15x15 input, which must read as zeros (no padding means
  // no boundary condition otherwise).
  addWinograd(t, "partial_valid_n2_c16_15x15_o16", {2, 16, 15, 15}, 16,
              {0, 0, 0, 0}, false);
  addWinograd(t, "partial_valid_tile4_n2_c16_15x15_o16", {2, 16, 15, 15}, 16,
              {0, 0, 0, 0}, false, 4);
  // Chunks of several whole images (planes of 49 tiles, whose blocks of 32
  // tiles would compute 64): 14x14 at batch 16 in chunks of 4 images, and
  // 13x13 (partial tiles) at batch 12 in chunks of 3.
  addWinograd(t, "resnet_tile4_n2_c128_28x28_o128_same", {2, 128, 28, 28}, 128,
              {1, 1, 1, 1}, false, 4);
  addWinograd(t, "images_n16_c8_14x14_o24_same", {16, 8, 14, 14}, 24,
              {1, 1, 1, 1}, true);
  addWinograd(t, "images_partial_n12_c16_13x13_o16_same", {12, 16, 13, 13},
              16, {1, 1, 1, 1}, false);
  // 2 chunks of 4 images (no chunk size leaves 4 tasks at batch 8).
  addWinograd(t, "images_two_tasks_n8_c16_14x14_o32_same", {8, 16, 14, 14}, 32,
              {1, 1, 1, 1}, true);
  // Chunks of 2 images with rows of 9 tiles: the transforms in halves
  // (scheduleTransformHalves) over whole vectors and a shifted last one.
  addWinograd(t, "images_rows9_n8_c16_18x18_o16_same", {8, 16, 18, 18}, 16,
              {1, 1, 1, 1}, true);
  // The filter in blocks of 16 (kiln-winograd's filter-block on 8-lane
  // targets; AVX2: register tiles of 2 vectors x 6, 6 and 4 channels of
  // each block): a task per chunk of tile rows with 3 blocks over 2 groups
  // (48 channels), F(4x4) with partial tiles and 20 input channels (the
  // filter's points in blocks of 32, the second shifted in), the batch form
  // (7x7 at batch 8: chunks of 4 tile vectors) and one image's 7x7 plane,
  // and chunks of several images (14x14 at batch 16).
  addWinograd(t, "block16_n2_c24_12x14_o48_same", {2, 24, 12, 14}, 48,
              {1, 1, 1, 1}, true, 2, 16);
  addWinograd(t, "block16_tile4_n1_c40_13x10_o32_pads0112", {1, 40, 13, 10}, 32,
              {0, 1, 1, 2}, false, 4, 16);
  addWinograd(t, "block16_batch_n8_c24_7x7_o48_same", {8, 24, 7, 7}, 48,
              {1, 1, 1, 1}, true, 2, 16);
  addWinograd(t, "block16_batch_n1_c32_7x7_o32_same", {1, 32, 7, 7}, 32,
              {1, 1, 1, 1}, false, 2, 16);
  addWinograd(t, "block16_images_n16_c16_14x14_o16_same", {16, 16, 14, 14}, 16,
              {1, 1, 1, 1}, true, 2, 16);
  // Over 128 input channels the products run the reduction in runs of 16
  // channels (scheduleWinogradProduct): 136 is 8 runs and a partial one,
  // in the batch form (one image's 7x7 plane, as ResNet-18's 512 layers at
  // batch 1) and in chunks of tile rows. Weights in +-0.1 (about 1 /
  // sqrt(fan-in), as initializers draw them): outputs of magnitude 1, where
  // +-1 gave sums of 12 whose rounding (1e-6 relative) exceeded 1e-5 on
  // the outputs near 0.
  addWinograd(t, "block16_runs_batch_n1_c136_7x7_o32_same", {1, 136, 7, 7}, 32,
              {1, 1, 1, 1}, true, 2, 16, 0.1);
  addWinograd(t, "block16_runs_n1_c136_12x14_o48_same", {1, 136, 12, 14}, 48,
              {1, 1, 1, 1}, false, 2, 16, 0.1);
  // nchw16c (docs/layout.md): the channel form with a blocked input and/or
  // output (padded and strided, 1x1 on 7x7), the blocked depthwise form
  // (stride 1 and 2, 5x5 with a dilation), global_avg_pool of a blocked
  // input, and an epilogue kernel with a blocked residual.
  // Halide's autoschedulers on kiln's algorithms (--schedule auto:NAME,
  // docs/codegen.md): a padded strided conv with bias, the channel form on
  // a packed weight, the blocked depthwise form, dense, a pool, batch norm
  // and softmax (multi-stage reductions), each against the same reference.
  for (const char *name : codegen::kAutoSchedulers) {
    const std::string schedule = codegen::kAutoSchedulePrefix + std::string(name);
    const std::string prefix = "auto_" + std::string(name) + "_";
    t.nextSchedule(schedule);
    addConv(t, prefix + "n2_c5_11x9_o7_k3_s2_pad1", {2, 5, 11, 9}, 7, {3, 3},
            convParams({2, 2}, {1, 1, 1, 1}), true);
    t.nextSchedule(schedule);
    addConv(t, prefix + "packed_n1_c16_9x7_o32_k3_pad1", {1, 16, 9, 7}, 32,
            {3, 3}, convParams({1, 1}, {1, 1, 1, 1}), false, 16);
    t.nextSchedule(schedule);
    t.nextBlocked({0}, true);
    addConv(t, prefix + "blocked_depthwise_n1_c32_7x7_k3_pad1", {1, 32, 7, 7},
            32, {3, 3}, convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 32), true);
    t.nextSchedule(schedule);
    addDense(t, prefix + "n3_k37_o19", 3, 37, 19, true);
    t.nextSchedule(schedule);
    addPool(t, "max_pool2d", prefix + "n2_c3_9x8_k3_s2_pad1", {2, 3, 9, 8},
            poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}));
    t.nextSchedule(schedule);
    addBatchNorm(t, prefix + "train_n3_c5_6x7", {3, 5, 6, 7}, true, 1e-5);
    t.nextSchedule(schedule);
    addSoftmax(t, "softmax", prefix + "rows_5x33", {5, 33}, 1);
  }
  t.nextBlocked({0}, true);
  addConv(t, "blocked_in_out_n2_c32_9x11_o48_k3_s2_pad1", {2, 32, 9, 11}, 48,
          {3, 3}, convParams({2, 2}, {1, 1, 1, 1}), true, 16);
  t.nextBlocked({0}, false);
  addConv(t, "blocked_in_n1_c16_7x7_o32_k1", {1, 16, 7, 7}, 32, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), false, 16);
  t.nextBlocked({}, true);
  addConv(t, "blocked_out_n2_c20_7x7_o32_k3_pad1", {2, 20, 7, 7}, 32, {3, 3},
          convParams({1, 1}, {1, 1, 1, 1}), true, 16);
  t.nextBlocked({0}, true);
  addConv(t, "blocked_depthwise_n2_c32_7x7_k3_pad1", {2, 32, 7, 7}, 32,
          {3, 3}, convParams({1, 1}, {1, 1, 1, 1}, {1, 1}, 32), true);
  t.nextBlocked({0}, true);
  addConv(t, "blocked_depthwise_n1_c48_13x10_k3_s2_pads0112", {1, 48, 13, 10},
          48, {3, 3}, convParams({2, 2}, {0, 1, 1, 2}, {1, 1}, 48), false);
  t.nextBlocked({0}, true);
  addConv(t, "blocked_depthwise_n1_c16_9x9_k5_dil2_pad4", {1, 16, 9, 9}, 16,
          {5, 5}, convParams({1, 1}, {4, 4, 4, 4}, {2, 2}, 16), true);
  {
    Rng rng("global_avg_pool/blocked");
    ref::Tensor x = rng.tensor({2, 32, 7, 5}, -1, 1);
    t.nextBlocked({0}, false);
    t.add("blocked_n2_c32_7x5", "global_avg_pool", json::object(), f32({x}),
          {ref::globalAvgPool(x)});
  }
  addBlockedResidual(t, "blocked_residual_n2_c32_7x7_o32", {2, 32, 7, 7}, 32);
  // 1x1 layers packed on planes up to 28x28 (kiln-pack-weights; ResNet-50's
  // bottlenecks): blocked in and out on 27x26 (rows of 26 in register
  // tiles, the last one rounded up), blocked out only, and the residual
  // epilogue on 14x14.
  t.nextBlocked({0}, true);
  addConv(t, "blocked_in_out_n1_c48_27x26_o64_k1", {1, 48, 27, 26}, 64, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), true, 16);
  t.nextBlocked({}, true);
  addConv(t, "blocked_out_n2_c24_14x14_o32_k1", {2, 24, 14, 14}, 32, {1, 1},
          convParams({1, 1}, {0, 0, 0, 0}), false, 16);
  // A matmul's epilogue (bias, GELU, residual): the wide register tiles
  // (520 features, 19 rows; the last blocks shifted inwards), transpose_b,
  // and 7 rows of 20 features (partial vectors).
  addMatmulEpilogue(t, "matmul_m19_k40_n520_bias_gelu", 19, 40, 520, false,
                    false);
  addMatmulEpilogue(t, "matmul_m19_k40_n520_tb_bias_gelu_residual", 19, 40, 520,
                    true, true);
  addMatmulEpilogue(t, "matmul_m7_k33_n20_bias_gelu_residual", 7, 33, 20, false,
                    true);
  addBlockedResidual(t, "blocked_residual_n1_c32_7x7_o160_k1_odd_pairs",
                     {1, 32, 7, 7}, 160, 1);
  addBlockedResidual(t, "blocked_residual_n1_c64_14x14_o48_k1", {1, 64, 14, 14},
                     48, 1);
  // Pooling tails of the planes form: odd planes whose last row and column
  // no window reads, 5 channels (a partial block of 8); 3x3 windows over a
  // valid conv of one input channel; the channel form's planes (28x28, 16
  // input channels, 2 vectors of output channels); a dilated window.
  addConvPoolTail(t, "conv_pool_tail_n2_c3_13x11_o5_k2", {2, 3, 13, 11}, 5, 3,
                  convParams({1, 1}, {1, 1, 1, 1}), 2);
  addConvPoolTail(t, "conv_pool_tail_n3_c1_20x17_o16_k3", {3, 1, 20, 17}, 16,
                  3, convParams({1, 1}, {0, 0, 0, 0}), 3);
  addConvPoolTail(t, "conv_pool_tail_n2_c16_28x28_o32_k2", {2, 16, 28, 28},
                  32, 3, convParams({1, 1}, {1, 1, 1, 1}), 2);
  addConvPoolTail(t, "conv_pool_tail_n1_c4_15x16_o9_k2_dil2", {1, 4, 15, 16},
                  9, 3, convParams({1, 1}, {2, 2, 2, 2}, {2, 2}), 2);
  // No activation between (Caffe's LeNet: 20 -> 50 channels, 5x5, valid).
  addConvPoolTail(t, "conv_pool_tail_n2_c20_12x12_o50_k2_no_relu",
                  {2, 20, 12, 12}, 50, 5, convParams({1, 1}, {0, 0, 0, 0}), 2,
                  false);
  // Pooling tails of Winograd convolutions: the example CNN's 16 -> 32 on
  // 14x14 (a task per image; chunks of 4 images at batch 16), F(4x4) with
  // partial tiles (14x14: the pooled plane's last tile half outside), the
  // batch form (8x8 planes at batch 8, F(2x2) and F(4x4)) and the filter
  // in blocks of 16.
  addWinogradPoolTail(t, "winograd_pool_tail_n2_c16_14x14_o32", {2, 16, 14, 14},
                      32, 2);
  addWinogradPoolTail(t, "winograd_pool_tail_images_n16_c16_14x14_o32",
                      {16, 16, 14, 14}, 32, 2);
  addWinogradPoolTail(t, "winograd_pool_tail_images_n8_c16_14x14_o32",
                      {8, 16, 14, 14}, 32, 2);
  addWinogradPoolTail(t, "winograd_pool_tail_tile4_n2_c24_14x14_o32",
                      {2, 24, 14, 14}, 32, 4);
  addWinogradPoolTail(t, "winograd_pool_tail_batch_n8_c16_8x8_o24",
                      {8, 16, 8, 8}, 24, 2);
  addWinogradPoolTail(t, "winograd_pool_tail_batch_tile4_n8_c16_8x8_o32",
                      {8, 16, 8, 8}, 32, 4);
  addWinogradPoolTail(t, "winograd_pool_tail_block16_n2_c24_12x14_o48",
                      {2, 24, 12, 14}, 48, 2, 16);
  addPool(t, mp, "n2_c32_32x32_k3_s2_pad1", {2, 32, 32, 32},
          poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}));
  addPool(t, ap, "n2_c32_32x32_k3_s2_pad1_ceil", {2, 32, 32, 32},
          poolParams({3, 3}, {2, 2}, {1, 1, 1, 1}, true, false));
  // The separable pools' column pass in vectors with a tail: 45 input
  // columns (2 vectors and 13), asymmetric pads, a 3x2 window; dilated;
  // an average excluding the pads.
  addPool(t, mp, "n2_c5_37x45_k3x2_s2_asym", {2, 5, 37, 45},
          poolParams({3, 2}, {2, 2}, {1, 0, 1, 1}));
  addPool(t, mp, "n1_c3_33x41_k3_s1_dilation2", {1, 3, 33, 41},
          poolParams({3, 3}, {1, 1}, {2, 2, 2, 2}, false, true, {2, 2}));
  addPool(t, ap, "n2_c5_37x45_k3x2_s2_asym_exclude_pad", {2, 5, 37, 45},
          poolParams({3, 2}, {2, 2}, {1, 0, 1, 1}, false, false));
  addGlobalAvgPool(t, "n2_c64_14x14", {2, 64, 14, 14});
  addBatchNorm(t, "train_n8_c32_16x16", {8, 32, 16, 16}, true, 1e-5);
  addLayerNorm(t, "n8_768_affine", {8, 768}, 1, true, 1e-5);
  addBinary(t, "add", B::Add, "bcast_4x64x32x32_64x1x1", {4, 64, 32, 32},
            {64, 1, 1});
  addActivation(t, "relu", "n4_c64_32x32", A::Relu, none, {4, 64, 32, 32}, -8,
                8);
  addSoftmax(t, "softmax", "n4_1000_classes", {4, 1000}, 1);
  return t;
}

const CaseTable &cases() {
  static const CaseTable table = buildCases();
  return table;
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

// Exit codes of exitWithRunOutcome.
constexpr int kThrewRuntimeError = 0, kThrewOther = 1, kReturned = 2;

// Runs the kernel and exits (skipping static destructors, which would remove
// the plan directory the parent process still uses) with a code saying how
// run() ended. The child compiles (or finds in the cache) this one kernel in
// a batch of its own: the shared batch has every case registered, and on
// the GPU suite, whose cache holds one library of all of them, a child
// would otherwise check and look up the whole batch again.
[[noreturn]] void
exitWithRunOutcome(const KernelSpec &spec,
                   const std::vector<runtime::Tensor> &inputs) {
  int outcome = kReturned;
  {
    KernelBatch own(testCompileOptions());
    try {
      own.run(spec, inputs);
      std::cerr << "run() returned without an error" << std::endl;
    } catch (const runtime::Error &e) {
      std::cerr << "kiln::runtime::Error: " << e.what() << std::endl;
      outcome = kThrewRuntimeError;
    } catch (const std::exception &e) {
      std::cerr << "not a kiln::runtime::Error: " << e.what() << std::endl;
      outcome = kThrewOther;
    }
  }
  std::_Exit(outcome);
}

// Compiles every case's kernel (ctest runs this one first, as the fixture
// that fills the kernel cache, so that parallel test processes do not all
// compile the same kernels).
TEST(KernelBatchTest, EveryCaseCompiles) {
  cases();
  const std::vector<std::string> failures =
      sharedKernelBatch().compileRegistered();
  for (const std::string &failure : failures) {
    ADD_FAILURE() << "codegen failed: " << failure;
  }
}

class KernelTest : public ::testing::TestWithParam<const KernelCase *> {};

TEST_P(KernelTest, MatchesReference) {
  const KernelCase &c = *GetParam();
  std::vector<runtime::Tensor> inputs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    inputs.push_back(toRuntime(c.inputs[i]));
    if (c.spec.inputs[i].blocked()) {
      inputs.back() = blockTensor(inputs.back(), true);
    }
  }
  if (c.expectRunError) {
    // A family without a GPU schedule cannot show its run-time errors on
    // the GPU suite's target. (A batch of its own: the death test's child
    // runs this line again, and should not compile every pending case.)
    if (std::string error =
            KernelBatch(testCompileOptions()).compileError(c.spec);
        lacksGpuSchedule(std::runtime_error(error))) {
      GTEST_SKIP() << error;
    }
    // In a child process: if the kernel's failure abort()s (Halide's default
    // error handler does) instead of coming back as kiln::runtime::Error,
    // only this test fails. "threadsafe" re-executes the test binary rather
    // than forking a process that holds Halide's thread pool.
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(exitWithRunOutcome(c.spec, inputs),
                ::testing::ExitedWithCode(kThrewRuntimeError), "");
    return;
  }
  std::vector<runtime::Tensor> outputs;
  try {
    outputs = sharedKernelBatch().run(c.spec, inputs);
  } catch (const std::exception &e) {
    if (lacksGpuSchedule(e)) {
      GTEST_SKIP() << e.what();
    }
    FAIL() << "running " << c.spec.key() << " threw: " << e.what();
  }
  ASSERT_EQ(outputs.size(), c.expected.size());
  for (size_t o = 0; o < outputs.size(); ++o) {
    if (c.spec.outputs[o].blocked()) {
      ASSERT_EQ(outputs[o].shape.size(), 5u) << "output " << o;
      outputs[o] = blockTensor(outputs[o], false);
    }
    const ref::Tensor &want = c.expected[o];
    const runtime::Tensor &got = outputs[o];
    ASSERT_EQ(got.shape, want.shape) << "output " << o;
    const bool ints = c.spec.outputs[o].dtype == codegen::DType::I32;
    ASSERT_EQ(got.dtype, ints ? runtime::DType::I32 : runtime::DType::F32)
        << "output " << o;
    double worst = 0; // max of |got - want| / max(1, |want|)
    int mismatches = 0;
    std::ostringstream details;
    for (size_t i = 0; i < want.data.size(); ++i) {
      const double g = ints ? got.i32()[i] : got.f32()[i], w = want.data[i];
      const double error = std::abs(g - w) / std::max(1.0, std::abs(w));
      const bool ok = error <= c.tolerance; // false for NaN
      worst = std::max(worst, std::isnan(error) ? INFINITY : error);
      if (!ok && ++mismatches <= 5) {
        details << "\n  element " << i << ": expected " << w << ", got " << g;
      }
    }
    if (std::getenv("KILN_TEST_PRINT_ERRORS")) {
      std::cout << "[error] " << c.spec.op << "/" << c.name << " output " << o
                << " max scaled error " << worst << "\n";
    }
    EXPECT_EQ(mismatches, 0)
        << c.spec.op << " " << c.name << " output " << o << " "
        << shapeText(want.shape) << ": " << mismatches << " of "
        << want.data.size() << " elements off by more than " << c.tolerance
        << " (max scaled error " << worst << ")" << details.str();
  }
}

std::string caseName(const ::testing::TestParamInfo<const KernelCase *> &info) {
  std::string name = info.param->name;
  std::replace_if(
      name.begin(), name.end(), [](char ch) { return !std::isalnum(ch); }, '_');
  return name;
}

#define KILN_KERNEL_CASES(Suite, op)                                           \
  INSTANTIATE_TEST_SUITE_P(Suite, KernelTest,                                  \
                           ::testing::ValuesIn(cases().casesOf(op)), caseName)

KILN_KERNEL_CASES(Dense, "dense");
KILN_KERNEL_CASES(Conv2d, "conv2d");
KILN_KERNEL_CASES(Conv2dWinograd, "conv2d_winograd");
KILN_KERNEL_CASES(Fused, "fused");
KILN_KERNEL_CASES(WinogradFilter, "winograd_filter");
KILN_KERNEL_CASES(MaxPool2d, "max_pool2d");
KILN_KERNEL_CASES(MaxPool2dIndices, "max_pool2d_indices");
KILN_KERNEL_CASES(AvgPool2d, "avg_pool2d");
KILN_KERNEL_CASES(GlobalAvgPool, "global_avg_pool");
KILN_KERNEL_CASES(BatchNorm, "batch_norm");
KILN_KERNEL_CASES(FoldBatchNorm, "fold_batch_norm");
KILN_KERNEL_CASES(LayerNorm, "layer_norm");
KILN_KERNEL_CASES(Lrn, "lrn");
KILN_KERNEL_CASES(Resize, "resize");
KILN_KERNEL_CASES(GridSample, "grid_sample");
KILN_KERNEL_CASES(Gather, "gather");
KILN_KERNEL_CASES(GatherElements, "gather_elements");
KILN_KERNEL_CASES(Where, "where");
KILN_KERNEL_CASES(Cast, "cast");
KILN_KERNEL_CASES(ArgReduce, "arg_reduce");
KILN_KERNEL_CASES(TopK, "top_k");
KILN_KERNEL_CASES(Add, "add");
KILN_KERNEL_CASES(Sub, "sub");
KILN_KERNEL_CASES(Mul, "mul");
KILN_KERNEL_CASES(Div, "div");
KILN_KERNEL_CASES(Concat, "concat");
KILN_KERNEL_CASES(Step, "step");
KILN_KERNEL_CASES(Sigmoid, "sigmoid");
KILN_KERNEL_CASES(Tanh, "tanh");
KILN_KERNEL_CASES(Relu, "relu");
KILN_KERNEL_CASES(Relu6, "relu6");
KILN_KERNEL_CASES(LeakyRelu, "leaky_relu");
KILN_KERNEL_CASES(Prelu, "prelu");
KILN_KERNEL_CASES(Elu, "elu");
KILN_KERNEL_CASES(Selu, "selu");
KILN_KERNEL_CASES(Silu, "silu");
KILN_KERNEL_CASES(Mish, "mish");
KILN_KERNEL_CASES(NllLoss, "nll_loss");
KILN_KERNEL_CASES(Maximum, "maximum");
KILN_KERNEL_CASES(Minimum, "minimum");
KILN_KERNEL_CASES(Mod, "mod");
KILN_KERNEL_CASES(Fmod, "fmod");
KILN_KERNEL_CASES(CumSum, "cumsum");
KILN_KERNEL_CASES(Less, "less");
KILN_KERNEL_CASES(LessEqual, "less_equal");
KILN_KERNEL_CASES(Greater, "greater");
KILN_KERNEL_CASES(GreaterEqual, "greater_equal");
KILN_KERNEL_CASES(Equal, "equal");
KILN_KERNEL_CASES(Tan, "tan");
KILN_KERNEL_CASES(Sinh, "sinh");
KILN_KERNEL_CASES(Cosh, "cosh");
KILN_KERNEL_CASES(Asin, "asin");
KILN_KERNEL_CASES(Acos, "acos");
KILN_KERNEL_CASES(Atan, "atan");
KILN_KERNEL_CASES(Asinh, "asinh");
KILN_KERNEL_CASES(Acosh, "acosh");
KILN_KERNEL_CASES(Atanh, "atanh");
KILN_KERNEL_CASES(Softsign, "softsign");
KILN_KERNEL_CASES(Ceil, "ceil");
KILN_KERNEL_CASES(Floor, "floor");
KILN_KERNEL_CASES(Round, "round");
KILN_KERNEL_CASES(Sign, "sign");
KILN_KERNEL_CASES(IsNan, "is_nan");
KILN_KERNEL_CASES(IsInf, "is_inf");
KILN_KERNEL_CASES(ThresholdedRelu, "thresholded_relu");
KILN_KERNEL_CASES(Shrink, "shrink");
KILN_KERNEL_CASES(Gelu, "gelu");
KILN_KERNEL_CASES(Softplus, "softplus");
KILN_KERNEL_CASES(Softmax, "softmax");
KILN_KERNEL_CASES(LogSoftmax, "log_softmax");
KILN_KERNEL_CASES(Sin, "sin");
KILN_KERNEL_CASES(Mse, "mse");
KILN_KERNEL_CASES(Mae, "mae");
KILN_KERNEL_CASES(Huber, "huber");
KILN_KERNEL_CASES(Bce, "bce");
KILN_KERNEL_CASES(BceLogits, "bce_logits");
KILN_KERNEL_CASES(Cce, "cce");
KILN_KERNEL_CASES(SparseCce, "sparse_cce");
KILN_KERNEL_CASES(Hinge, "hinge");

} // namespace
} // namespace kiln::test
