// Layer gradients and training-mode layer ops (docs/training-ops.md):
// max_pool2d_grad, avg_pool2d_grad, global_avg_pool_grad, batch_norm_train,
// batch_norm_grad, running_stats_update, layer_norm_grad.
#include "Kernels.h"

#include <optional>

using namespace Halide;

namespace kiln::codegen::detail {
namespace {

Expr f32(double v) { return cast<float>(Expr(v)); }

//===----------------------------------------------------------------------===//
// max_pool2d_grad (x, dy -> dx), avg_pool2d_grad (dy -> dx)
//===----------------------------------------------------------------------===//

// Max windows of up to this many taps find their winner in one unrolled
// expression; larger ones in a reduction over the taps.
constexpr int kUnrolledWindow = 16;

// The input [N,C,H,W] of the forward pool: x itself, or input_size.
std::vector<int64_t> poolInputShape(const KernelSpec &s, bool isMax) {
  if (isMax) {
    return s.inputs[0].shape;
  }
  std::vector<int64_t> size = attrInts(s, "input_size", 2);
  const auto &dy = s.inputs[0].shape;
  return {dy[0], dy[1], size[0], size[1]};
}

void validatePoolGrad(const KernelSpec &s, bool isMax) {
  expectCounts(s, isMax ? 2 : 1, isMax ? 2 : 1, 1);
  expectF32Except(s);
  const TensorSpec &dy = s.inputs[isMax ? 1 : 0];
  if (isMax) {
    expectRank(s, s.inputs[0], "x", 4);
  }
  expectRank(s, dy, "dy", 4);
  std::vector<int64_t> k = attrInts(s, "kernel", 2);
  Window w = readWindow(s, k[0], k[1], isMax);
  if (!isMax) {
    attrBool(s, "count_include_pad");
    for (int64_t p : attrInts(s, "divisor_pads", 4)) {
      if (p < 0) {
        fail(s, "divisor_pads must be non-negative");
      }
    }
  }
  std::vector<int64_t> in = poolInputShape(s, isMax);
  if (in[2] < 1 || in[3] < 1) {
    fail(s, "input_size must be positive");
  }
  int64_t oh = windowOutput(in[2], w.padTop, w.padBottom, w.dh, w.kh, w.sh);
  int64_t ow = windowOutput(in[3], w.padLeft, w.padRight, w.dw, w.kw, w.sw);
  if (oh < 1 || ow < 1) {
    fail(s, "window larger than the padded input");
  }
  expectShape(s, dy, "dy", {in[0], in[1], oh, ow});
  expectShape(s, s.outputs[0], "output", in);
}

} // namespace

// Outside the anonymous namespace: MaxPoolGradGather holds one.
struct PoolGradFuncs {
  std::vector<ImageParam> inputs;
  Var x{"x"}, y{"y"}, c{"c"}, n{"n"};
  RDom r;
  // Per output position: the window's gradient share (dy or dy/divisor)
  // and, for max, the winning tap ky*KW + kx (-1 if none).
  Func share{"share"}, winner{"winner"}, out{"dx"};
  RDom winnerTaps; // max over a large window: its taps (kx, ky)
  bool isMax = false;
  // The winning tap of window (ox, oy, c, n).
  Expr winnerTap(Expr ox, Expr oy, Expr c, Expr n) const {
    if (winnerTaps.defined()) {
      return winner(ox, oy, c, n)[0];
    }
    return winner(ox, oy, c, n);
  }
  bool gather = false; // max without dilation: dx gathers from its windows
};

namespace {

// Number of taps k in [0,K) with lo <= start + k < hi (as the forward).
Expr tapsInside(Expr start, int k, int lo, int hi) {
  return max(min(k, hi - start) - max(0, lo - start), 0);
}

// `given`: the inputs (x, dy for max) as a fused kernel's parameters; by
// default the kernel's own. `xRead`: for max, x read through this Func
// instead (a fused kernel's recomputed value).
PoolGradFuncs definePoolGrad(const KernelSpec &s, bool isMax,
                             const std::vector<ImageParam> &given = {},
                             Func xRead = Func(), bool gpu = false) {
  PoolGradFuncs f;
  f.isMax = isMax;
  std::vector<int64_t> k = attrInts(s, "kernel", 2);
  Window w = readWindow(s, k[0], k[1], isMax);
  std::vector<int64_t> in = poolInputShape(s, isMax);
  int inH = static_cast<int>(in[2]), inW = static_cast<int>(in[3]);
  const TensorSpec &dys = s.inputs[isMax ? 1 : 0];
  int oh = static_cast<int>(dys.shape[2]), ow = static_cast<int>(dys.shape[3]);
  int kh = static_cast<int>(w.kh), kw = static_cast<int>(w.kw);
  int sh = static_cast<int>(w.sh), sw = static_cast<int>(w.sw);
  int dh = static_cast<int>(w.dh), dw = static_cast<int>(w.dw);
  int padT = static_cast<int>(w.padTop), padL = static_cast<int>(w.padLeft);
  ImageParam dy = given.empty() ? makeInput(dys, "dy") : given.back();
  Var ox("ox"), oy("oy");
  Expr sx = ox * sw - padL, sy = oy * sh - padT;
  if (isMax) {
    ImageParam xParam = given.empty() ? makeInput(s.inputs[0], "x") : given[0];
    f.inputs = {xParam, dy};
    Func x = xRead.defined() ? xRead : Func(xParam);
    // First maximum in row-major window order; padding never wins.
    if (kh * kw <= kUnrolledWindow) {
      // Small windows: the taps as one expression, a pure function the
      // schedule vectorizes with the running winner in registers. When
      // every window lies inside the input (no padding reaches a tap), the
      // first tap seeds the winner and no tap needs an inside test.
      bool allInside =
          padT == 0 && padL == 0 && (oh - 1) * sh + (kh - 1) * dh < inH &&
          (ow - 1) * sw + (kw - 1) * dw < inW;
      Expr tap = -1, best = Float(32).min();
      for (int ty = 0; ty < kh; ++ty) {
        for (int tx = 0; tx < kw; ++tx) {
          Expr ix = sx + tx * dw, iy = sy + ty * dh;
          Expr v = allInside
                       ? x(ix, iy, f.c, f.n)
                       : x(clamp(ix, 0, inW - 1), clamp(iy, 0, inH - 1), f.c,
                           f.n);
          if (allInside && ty == 0 && tx == 0) {
            tap = 0;
            best = v;
            continue;
          }
          Expr better = v > best;
          if (!allInside) {
            better = ix >= 0 && ix < inW && iy >= 0 && iy < inH &&
                     (tap < 0 || better);
          }
          tap = select(better, ty * kw + tx, tap);
          best = select(better, v, best);
        }
      }
      f.winner(ox, oy, f.c, f.n) = tap;
    } else {
      RDom t(0, kw, 0, kh, "t");
      f.winnerTaps = t;
      Expr ix = sx + t.x * dw, iy = sy + t.y * dh;
      Expr inside = ix >= 0 && ix < inW && iy >= 0 && iy < inH;
      Expr v = x(clamp(ix, 0, inW - 1), clamp(iy, 0, inH - 1), f.c, f.n);
      f.winner(ox, oy, f.c, f.n) = Tuple(-1, Float(32).min());
      Expr better = inside && (f.winner(ox, oy, f.c, f.n)[0] < 0 ||
                               v > f.winner(ox, oy, f.c, f.n)[1]);
      f.winner(ox, oy, f.c, f.n) =
          Tuple(select(better, t.y * kw + t.x, f.winner(ox, oy, f.c, f.n)[0]),
                select(better, v, f.winner(ox, oy, f.c, f.n)[1]));
    }
    f.share(ox, oy, f.c, f.n) = dy(ox, oy, f.c, f.n);
  } else {
    f.inputs = {dy};
    std::vector<int64_t> dp = attrInts(s, "divisor_pads", 4);
    bool includePad = attrBool(s, "count_include_pad");
    int loY = includePad ? -static_cast<int>(dp[0]) : 0;
    int loX = includePad ? -static_cast<int>(dp[1]) : 0;
    int hiY = inH + (includePad ? static_cast<int>(dp[2]) : 0);
    int hiX = inW + (includePad ? static_cast<int>(dp[3]) : 0);
    Expr count = tapsInside(sy, kh, loY, hiY) * tapsInside(sx, kw, loX, hiX);
    f.share(ox, oy, f.c, f.n) =
        dy(ox, oy, f.c, f.n) / cast<float>(max(count, 1));
  }
  if (isMax && dh == 1 && dw == 1) {
    // Gather: input (x, y) is tap (kx, ky) = (x + padL - ox*sw, y + padT -
    // oy*sh) of the windows ox = (x + padL) / sw - jx, jx < ceil(KW / sw)
    // (likewise oy) with kx < KW inside dy; it takes each such window's dy
    // whose winner it is. Same sums as the scatter below, but a pure
    // function of (x, y): vectorizable (the schedule unrolls the stride
    // phases of x and y, so that the window loads are dense).
    f.gather = true;
    int jw = (kw + sw - 1) / sw, jh = (kh + sh - 1) / sh;
    Expr value = 0.0f;
    for (int jy = 0; jy < jh; ++jy) {
      for (int jx = 0; jx < jw; ++jx) {
        Expr oxw = (f.x + padL) / sw - jx, oyw = (f.y + padT) / sh - jy;
        Expr kx = f.x + padL - oxw * sw, ky = f.y + padT - oyw * sh;
        Expr cx = clamp(oxw, 0, ow - 1), cy = clamp(oyw, 0, oh - 1);
        Expr mine = oxw >= 0 && oxw < ow && oyw >= 0 && oyw < oh &&
                    kx < kw && ky < kh &&
                    f.winnerTap(cx, cy, f.c, f.n) == ky * kw + kx;
        value = value + select(mine, f.share(cx, cy, f.c, f.n), 0.0f);
      }
    }
    f.out(f.x, f.y, f.c, f.n) = value;
    constrainOutput(f.out, s.outputs[0]);
    return f;
  }
  if (isMax && gpu) {
    // Dilated windows on a GPU: the gather over the taps (as avg's below),
    // input (x, y) taking the dy of each window in which it is the winning
    // tap: one thread per dx element, no concurrent adds.
    f.r = RDom(0, kw, 0, kh, "r");
    Expr tx = f.x + padL - f.r.x * dw, ty = f.y + padT - f.r.y * dh;
    Expr cx = clamp(tx / sw, 0, ow - 1), cy = clamp(ty / sh, 0, oh - 1);
    Expr mine = tx >= 0 && ty >= 0 && tx % sw == 0 && ty % sh == 0 &&
                tx / sw < ow && ty / sh < oh &&
                f.winnerTap(cx, cy, f.c, f.n) == f.r.y * kw + f.r.x;
    f.out(f.x, f.y, f.c, f.n) =
        sum(select(mine, f.share(cx, cy, f.c, f.n), 0.0f), "taps");
    constrainOutput(f.out, s.outputs[0]);
    return f;
  }
  if (isMax) {
    // Scatter (dilated windows): each output position adds its dy to its
    // window's winner (a window lying entirely in padding has none and
    // passes nothing).
    f.out(f.x, f.y, f.c, f.n) = 0.0f;
    f.r = RDom(0, ow, 0, oh, "r");
    Expr tap = f.winnerTap(f.r.x, f.r.y, f.c, f.n);
    f.r.where(tap >= 0);
    Expr wx = f.r.x * sw - padL + (tap % kw) * dw;
    Expr wy = f.r.y * sh - padT + (tap / kw) * dh;
    f.out(clamp(wx, 0, inW - 1), clamp(wy, 0, inH - 1), f.c, f.n) +=
        f.share(f.r.x, f.r.y, f.c, f.n);
    constrainOutput(f.out, s.outputs[0]);
    return f;
  }
  // Gather: input (x, y) is tap (kx, ky) of output (ox, oy) when
  // x + padL - kx*dw = ox*sw with 0 <= ox < OW (and likewise for y).
  f.r = RDom(0, kw, 0, kh, "r");
  Expr tx = f.x + padL - f.r.x * dw, ty = f.y + padT - f.r.y * dh;
  Expr valid = tx >= 0 && ty >= 0 && tx % sw == 0 && ty % sh == 0 &&
               tx / sw < ow && ty / sh < oh;
  Expr cx = clamp(tx / sw, 0, ow - 1), cy = clamp(ty / sh, 0, oh - 1);
  f.out(f.x, f.y, f.c, f.n) =
      sum(select(valid, f.share(cx, cy, f.c, f.n), 0.0f), "taps");
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// Target: x86-64 AVX-512, 2 cores. One parallel task per (c, n) plane.
// max: the plane's winners (vectorized along ox, the window's taps
// unrolled inside the vector of outputs: the running winner stays in
// registers, not a load and store per tap), then dx: gathered from them
// (unit dilations), or zeroed (vectorized) and each dy added to its
// winner (a scalar scatter: one add per output position instead of a
// KH*KW-tap gather per input position). avg: the shares, then dx gathers
// from them vectorized along x. Memory bound.
// The winners of the planes `out` (dx, or a fused Func over dx's
// coordinates reading the gather) needs, computed at its loop `at`.
void scheduleWinners(PoolGradFuncs &f, const KernelSpec &s, Func out, Var at,
                     int vec) {
  Var wx = f.winner.args()[0];
  int ww = vectorWidthFor(static_cast<int>(s.inputs[1].shape[3]), vec);
  f.winner.compute_at(out, at);
  if (ww > 1) {
    // Rows of a width that is no multiple of the vector (28x28 -> 14
    // windows: 8 + 6): the last vector shifted inwards, not a scalar tail.
    f.winner.vectorize(wx, ww,
                       f.winnerTaps.defined() ? TailStrategy::GuardWithIf
                                              : TailStrategy::ShiftInwards);
    if (f.winnerTaps.defined()) {
      f.winner.update().vectorize(wx, ww, TailStrategy::GuardWithIf);
    }
  }
}

// The gather form's schedule of `out` (dx, or a fused Func over dx's
// coordinates v = (x, y, c, n) reading the gather inlined): x and y split
// by the strides, their phases unrolled inside vectors along the phase
// column, so that the selects fold and the window loads are dense; the
// winners per plane. Parallel over the planes, or, `perChannel`, computed
// inside a consumer's channel loop, the winners per image.
void scheduleGather(PoolGradFuncs &f, const KernelSpec &s, Func out,
                    const std::vector<Var> &v, bool perChannel,
                    const Target &target) {
  int vec = target.natural_vector_size<float>();
  const auto &xs = s.outputs[0].shape;
  std::vector<int64_t> st = attrInts(s, "strides", 2);
  int sh = static_cast<int>(st[0]), sw = static_cast<int>(st[1]);
  Var xo("xo"), xb("xb"), yo("yo"), yb("yb"), plane("plane");
  out.split(v[0], xo, xb, sw, TailStrategy::GuardWithIf)
      .split(v[1], yo, yb, sh, TailStrategy::GuardWithIf)
      .reorder(xb, xo, yb, yo, v[2], v[3])
      .unroll(xb)
      .unroll(yb);
  Var at = v[3];
  if (!perChannel) {
    out.fuse(v[2], v[3], plane);
    if (s.outputs[0].numElements() >= kParallelGrain) {
      parallelPlanes(out, plane, xs[2] * xs[3]);
    }
    at = plane;
  }
  int pw = vectorWidthFor(static_cast<int>((xs[3] + sw - 1) / sw), vec);
  if (pw > 1) {
    out.vectorize(xo, pw,
                  xs[3] % sw == 0 ? TailStrategy::ShiftInwards
                                  : TailStrategy::GuardWithIf);
  }
  scheduleWinners(f, s, out, at, vec);
}

void schedulePoolGrad(PoolGradFuncs &f, const KernelSpec &s,
                      const Target &target) {
  if (target.has_gpu_feature()) {
    // The gather forms: the windows' winners one thread per window, then
    // one thread per dx element (dilated max windows: over every tap).
    if (f.isMax) {
      rootStages(f.winner, target);
    }
    scheduleElementwiseGpu(f.out, {f.x, f.y, f.c, f.n});
    return;
  }
  if (f.gather) {
    scheduleGather(f, s, f.out, {f.x, f.y, f.c, f.n}, false, target);
    return;
  }
  int vec = target.natural_vector_size<float>();
  int width = static_cast<int>(s.outputs[0].shape[3]);
  int outW = static_cast<int>(s.inputs[f.isMax ? 1 : 0].shape[3]);
  bool parallel = s.outputs[0].numElements() >= kParallelGrain;
  Var plane("plane");
  const auto &xs = s.outputs[0].shape;
  int64_t planeElements = xs[2] * xs[3];
  f.out.fuse(f.c, f.n, plane);
  if (parallel) {
    parallelPlanes(f.out, plane, planeElements);
  }
  int xw = vectorWidthFor(width, vec);
  if (xw > 1) {
    f.out.vectorize(f.x, xw, TailStrategy::ShiftInwards);
  }
  int ow = vectorWidthFor(outW, vec);
  if (f.isMax) {
    // Planes are disjoint: the scatter of one (c, n) stays in its plane.
    Stage scatter = f.out.update();
    scatter.reorder(f.r.x, f.r.y, f.c, f.n).fuse(f.c, f.n, plane);
    if (parallel) {
      parallelPlanes(scatter, plane, planeElements);
    }
    scheduleWinners(f, s, f.out, plane, vec);
    return;
  }
  f.share.compute_at(f.out, plane);
  if (ow > 1) {
    f.share.vectorize(f.share.args()[0], ow, TailStrategy::GuardWithIf);
  }
}

Kernel buildPoolGrad(const KernelSpec &s, const Target &target, bool isMax) {
  PoolGradFuncs f =
      definePoolGrad(s, isMax, {}, Func(), target.has_gpu_feature());
  schedulePoolGrad(f, s, target);
  return {std::vector<Argument>(f.inputs.begin(), f.inputs.end()), f.out};
}

//===----------------------------------------------------------------------===//
// global_avg_pool_grad: dy [N,C,1,1] -> dx [N,C,H,W] = dy / (H*W)
//===----------------------------------------------------------------------===//

void validateGlobalAvgPoolGrad(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  expectRank(s, s.inputs[0], "dy", 4);
  std::vector<int64_t> size = attrInts(s, "input_size", 2);
  const auto &dy = s.inputs[0].shape;
  expectShape(s, s.inputs[0], "dy", {dy[0], dy[1], 1, 1});
  if (size[0] < 1 || size[1] < 1) {
    fail(s, "input_size must be positive");
  }
  expectShape(s, s.outputs[0], "output", {dy[0], dy[1], size[0], size[1]});
}

Kernel buildGlobalAvgPoolGrad(const KernelSpec &s, const Target &target) {
  ImageParam dy = makeInput(s.inputs[0], "dy");
  std::vector<int64_t> size = attrInts(s, "input_size", 2);
  std::vector<Var> v = makeVars(4);
  Func out("dx");
  out(v) = dy(0, 0, v[2], v[3]) / f32(double(size[0]) * double(size[1]));
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {{dy}, out};
}

//===----------------------------------------------------------------------===//
// batch_norm_train: x, weight, bias -> y, batch mean, biased batch var
//===----------------------------------------------------------------------===//

void validateBatchNormTrain(const KernelSpec &s) {
  expectCounts(s, 3, 3, 3);
  expectF32Except(s);
  expectMinRank(s, s.inputs[0], "x", 2);
  int64_t c = s.inputs[0].shape[1];
  expectShape(s, s.inputs[1], "weight", {c});
  expectShape(s, s.inputs[2], "bias", {c});
  expectShape(s, s.outputs[0], "y", s.inputs[0].shape);
  expectShape(s, s.outputs[1], "mean", {c});
  expectShape(s, s.outputs[2], "var", {c});
  attrFloat(s, "epsilon");
}

Expr channelOf(const std::vector<Var> &v) { return v[v.size() - 2]; }

// A recomputed x (a pure Func whose taps read a padded copy of the
// recomputed conv's input: KernelsFused.cpp) computed once into a buffer:
// per channel at `at` in the channel-major schedules (in cache), at the
// root otherwise; rows vectorized (a flattened plane would gather the
// taps).
void stageRecomputedX(Func x, const std::vector<int> &extents,
                      std::optional<LoopLevel> at, const Target &target) {
  std::vector<Var> v = x.args();
  if (target.has_gpu_feature()) {
    x.compute_root();
    scheduleElementwiseGpu(x, v);
    return;
  }
  if (at) {
    x.compute_at(*at);
  } else {
    x.compute_root().parallel(v.back());
  }
  int width = vectorWidthFor(extents[0], target.natural_vector_size<float>());
  if (width > 1) {
    x.vectorize(v[0], width, TailStrategy::GuardWithIf);
  }
  // Rows unrolled by 4: their taps share input rows (a 3x3 kernel: 6
  // loaded rows for 4 output rows, not 12), and the loads, not the FMAs,
  // bound this loop (the LeNet-style CNN's first layer, 1 -> 32 channels
  // on 28x28 at batch 64: 18 loads per row of 2 vectors). Its forward and
  // backward kernels on 1 thread: 0.82 -> 0.66 and 1.93 -> 1.72 ms; the
  // training step on 2 threads 7.84 / 7.99 -> 7.60 / 7.76 ms, alternating
  // `kiln bench` runs.
  if (extents.size() > 1 && extents[1] % 4 == 0) {
    Var yo("yo"), yi("yi");
    x.split(v[1], yo, yi, 4).unroll(yi);
  }
}

} // namespace

MaxPoolGradGather::MaxPoolGradGather(const KernelSpec &spec, Func x,
                                     ImageParam dy)
    : spec_(spec), f_(std::make_shared<PoolGradFuncs>(
                       definePoolGrad(spec, true, {ImageParam(), dy}, x))) {
  if (!f_->gather) {
    fail(spec, "a fused max_pool2d_grad needs unit dilations");
  }
}

Expr MaxPoolGradGather::operator()(const std::vector<Var> &v) const {
  return f_->out(v);
}

void MaxPoolGradGather::schedule(Func value, LoopLevel at, bool root,
                                 const Target &target) {
  std::vector<Var> v = value.args();
  if (target.has_gpu_feature()) {
    value.compute_root();
    rootStages(f_->winner, target);
    scheduleElementwiseGpu(value, v);
    return;
  }
  value.compute_at(at);
  scheduleGather(*f_, spec_, value, v, !root, target);
}

// batch_norm_train's pooling tail: out = the max over each window of y
// (windows tiling the plane: no padding, no overlap). Channel-major: per
// channel task, the statistics (`sums`, then `affine`: scale and shift),
// then image by image y's plane in L1 and its pooled rows, with the mean
// and var outputs (`stats`) in the channel loop; flat (small planes, GPU):
// y at the root.
std::vector<Func> poolBatchNormTrain(const KernelSpec &tail, Func y,
                                     const std::vector<Var> &v,
                                     const std::vector<Func> &sums,
                                     const std::vector<Func> &affine,
                                     const std::vector<Func> &stats,
                                     bool major, const Target &target) {
  Func out = definePoolTail(tail, y, v);
  std::vector<int> extents = halideShape(tail.outputs[0]);
  Var c = v[2], n = v[3];
  if (!major) {
    y.compute_root();
    scheduleElementwise(y, v, halideShape(tail.inputs[0]), target);
    for (Func f : affine) {
      rootStages(f, target);
    }
    scheduleElementwise(out, v, extents, target);
    if (target.has_gpu_feature()) {
      for (Func stat : stats) {
        scheduleElementwiseGpu(stat, {c});
      }
    }
    return {out, stats[0], stats[1]};
  }
  int vec = target.natural_vector_size<float>();
  out.reorder(v[0], v[1], n, c);
  int width = vectorWidthFor(extents[0], vec);
  if (width > 1) {
    // A row of a vector or more shifts its last vector inwards (computed
    // twice where they overlap): guarded, the strided reads of y's taps
    // in a predicated vector were assembled lane by lane (vbroadcastss +
    // vblendps).
    out.vectorize(v[0], width,
                  extents[0] >= width ? TailStrategy::ShiftInwards
                                      : TailStrategy::GuardWithIf);
  }
  bool parallel = tail.inputs[0].numElements() >= kParallelGrain;
  if (parallel) {
    out.parallel(c);
  }
  for (const auto &funcs : {sums, affine}) {
    for (Func f : funcs) {
      f.compute_at(out, c);
    }
  }
  y.compute_at(out, n);
  int yWidth = vectorWidthFor(static_cast<int>(tail.inputs[0].shape[3]), vec);
  if (yWidth > 1) {
    y.vectorize(v[0], yWidth, TailStrategy::GuardWithIf);
  }
  for (Func stat : stats) {
    if (parallel) {
      stat.parallel(c);
    }
    stat.compute_with(out, c);
  }
  return {out, stats[0], stats[1]};
}

// Target: x86-64 AVX-512, 2 cores. Two-pass statistics (channelSum: one
// channel per task, partial sums vectorized along the innermost dim), then
// y as one FMA per element (scheduleElementwise) with the epilogue applied
// in the same loop. Memory bound: x is read three times.
// With a pooling tail, the channel-major schedule computes y per image of
// the channel (a plane, in L1) where the pool reads it; y is never
// written.
std::vector<Func>
buildBatchNormTrainWithEpilogue(const KernelSpec &s,
                                const std::vector<Func> &in,
                                const Epilogue &epilogue, const Target &target,
                                const KernelSpec *tail, bool recomputedX) {
  const TensorSpec &xs = s.inputs[0];
  Func x = in[0], weight = in[1], bias = in[2];
  std::vector<int> extents = halideShape(xs);
  float count = static_cast<float>(xs.numElements() / xs.shape[1]);
  // GPU targets: the flat form (channel-major is a CPU cache schedule).
  bool major = channelMajor(extents) && !target.has_gpu_feature();
  std::vector<Var> v = makeVars(extents.size());
  Var c = v[v.size() - 2]; // y's channel loop, by name, for compute_with
  // batchMean and batchVar feed y; the outputs mean and var copy them, so
  // that in the channel-major schedule they can share y's channel loop
  // (compute_with needs outputs that y does not read).
  Func batchMean("batch_mean"), batchVar("batch_var"), mean("mean"),
      var("var"), scale("scale"), shift("shift"), y("y");
  Func sumX = channelSum(
      "sum_x", extents, [&](const std::vector<Expr> &at) { return x(at); },
      target, major);
  batchMean(c) = sumX(c) / count;
  Func sumSq = channelSum(
      "sum_sq", extents,
      [&](const std::vector<Expr> &at) {
        Expr d = x(at) - batchMean(at[at.size() - 2]);
        return d * d;
      },
      target, major);
  batchVar(c) = sumSq(c) / count;
  mean(c) = batchMean(c);
  var(c) = batchVar(c);
  Expr eps = f32(attrFloat(s, "epsilon"));
  defineBatchNormAffine(scale, shift, c, weight(c), bias(c), batchMean(c),
                        batchVar(c), eps);
  y(v) = epilogue(x(v) * scale(channelOf(v)) + shift(channelOf(v)), v);
  constrainOutput(mean, s.outputs[1]);
  constrainOutput(var, s.outputs[2]);
  if (tail) {
    std::vector<Func> outputs =
        poolBatchNormTrain(*tail, y, v, {sumX, sumSq}, {scale, shift},
                           {mean, var}, major, target);
    if (recomputedX) {
      stageRecomputedX(x, extents,
                       major ? std::optional(LoopLevel(outputs[0], c))
                             : std::nullopt,
                       target);
    }
    return outputs;
  }
  constrainOutput(y, s.outputs[0]);
  if (recomputedX) {
    stageRecomputedX(
        x, extents, major ? std::optional(LoopLevel(y, c)) : std::nullopt,
        target);
  }
  if (major) {
    // One task per channel: both statistics passes and y, in cache; the
    // mean and var outputs are written in the same loop.
    scheduleChannelMajor(y, v, extents, target);
    for (Func f : {sumX, sumSq, scale, shift}) {
      f.compute_at(y, c);
    }
    int64_t total = xs.numElements();
    for (Func stat : {mean, var}) {
      if (total >= kParallelGrain) { // as scheduleChannelMajor's loop
        stat.parallel(c);
      }
      stat.compute_with(y, c);
    }
    return {y, mean, var};
  }
  rootStages(scale, target);
  rootStages(shift, target);
  scheduleElementwise(y, v, extents, target);
  if (target.has_gpu_feature()) {
    scheduleElementwiseGpu(mean, {c});
    scheduleElementwiseGpu(var, {c});
  }
  return {y, mean, var};
}

namespace {

Kernel buildBatchNormTrain(const KernelSpec &s, const Target &target) {
  std::vector<ImageParam> in = {makeInput(s.inputs[0], "x"),
                                makeInput(s.inputs[1], "weight"),
                                makeInput(s.inputs[2], "bias")};
  return {std::vector<Argument>(in.begin(), in.end()),
          buildBatchNormTrainWithEpilogue(
              s, std::vector<Func>(in.begin(), in.end()),
              [](Expr value, const std::vector<Var> &) { return value; },
              target)};
}

//===----------------------------------------------------------------------===//
// batch_norm_grad: x, dy, weight, mean, var -> dx, dweight, dbias
//===----------------------------------------------------------------------===//

void validateBatchNormGrad(const KernelSpec &s) {
  expectCounts(s, 5, 5, 3);
  expectF32Except(s);
  expectMinRank(s, s.inputs[0], "x", 2);
  const auto &x = s.inputs[0].shape;
  int64_t c = x[1];
  expectShape(s, s.inputs[1], "dy", x);
  expectShape(s, s.inputs[2], "weight", {c});
  expectShape(s, s.inputs[3], "mean", {c});
  expectShape(s, s.inputs[4], "var", {c});
  expectShape(s, s.outputs[0], "dx", x);
  expectShape(s, s.outputs[1], "dweight", {c});
  expectShape(s, s.outputs[2], "dbias", {c});
  attrFloat(s, "epsilon");
}

} // namespace

// With xhat = (x - mean) * invstd and M elements per channel:
//   dbias = sum dy, dweight = sum dy * xhat,
//   dx = weight * invstd * (dy - dbias/M - xhat * dweight/M)
//      = a * dy + b * x + k  (per-channel a, b, k).
// Target: x86-64 AVX-512, 2 cores. Both sums in one pass (channelSums),
// dx one elementwise pass: x and dy are read twice. Memory bound. A fused
// producer of dy (activation_grad) is inlined into both passes. Gradient
// sinks: the channel sum of dx from the sums pass (a third sum), the
// weight gradient from dx computed per channel where it reads it (or from
// a per-channel buffer in L2 that the dx output copies too).
std::vector<Func> buildBatchNormGradWithPrologue(
    const KernelSpec &s, Func x, Func dy, ImageParam weight,
    ImageParam mean, ImageParam var, const Target &target,
    const StagePrologue &stage, const std::vector<GradientSink> &sinks,
    bool writesDx, bool recomputedX) {
  const TensorSpec &xs = s.inputs[0];
  std::vector<int> extents = halideShape(xs);
  float count = static_cast<float>(xs.numElements() / xs.shape[1]);
  // GPU targets: the flat form (channel-major is a CPU cache schedule).
  bool major = channelMajor(extents) && !target.has_gpu_feature();
  std::vector<Var> v = makeVars(extents.size());
  Var c = v[v.size() - 2]; // dx's channel loop, by name, for compute_with
  auto sinkOf = [&](const std::string &op) {
    return std::any_of(sinks.begin(), sinks.end(),
                       [&](const GradientSink &g) { return g.spec.op == op; });
  };
  bool sumSink = sinkOf("reduce_sum"), convSink = sinkOf("conv2d_grad_weight");
  // One conv2d_grad_weight sink of a kernel that does not write dx: the
  // sums and the sink in one loop over the images (SinkLoop). On the
  // LeNet-style CNN's first layer (1 -> 32 channels on 28x28 at batch 64,
  // BN, ReLU, 2x2 max pool): see docs/fusion.md, item 5.
  std::optional<SinkLoop> loop;
  if (major && !writesDx && sinks.size() - sumSink == 1 && convSink) {
    const GradientSink &sink = *std::find_if(
        sinks.begin(), sinks.end(), [](const GradientSink &g) {
          return g.spec.op == "conv2d_grad_weight";
        });
    if (fitsSinkLoop(sink.spec, target)) {
      Func xc("xc");
      xc(v) = x(v) - mean(channelOf(v));
      loop = defineSinkLoop(sink.spec, sink.x, dy, xc, c, target);
    }
  }
  // With a channel-sum sink, a third sum: x - mean (see below).
  Func sums =
      loop ? Func("sums")
           : channelSums(
                 "sums", extents, sumSink ? 3 : 2,
                 [&](const std::vector<Expr> &at) {
                   Expr d = dy(at), centred = x(at) - mean(at[at.size() - 2]);
                   std::vector<Expr> terms = {d, d * centred};
                   if (sumSink) {
                     terms.push_back(centred);
                   }
                   return terms;
                 },
                 target, major);
  auto sumOf = [&](int i) -> Expr {
    return loop ? Expr(loop->total(i, c)) : Expr(sums(c)[i]);
  };
  Expr eps = f32(attrFloat(s, "epsilon"));
  // sumDy and sumDyXhat feed dx; the outputs dbias and dweight are computed
  // from sums beside it (compute_with needs outputs that dx does not read).
  Func invStd("inv_std"), dweight("dweight"), dbias("dbias"), a("a"), b("b"),
      k("k"), dx("dx");
  invStd(c) = 1.0f / sqrt(var(c) + eps);
  Expr sumDy = sumOf(0), sumDyXhat = sumOf(1) * invStd(c);
  dbias(c) = sumDy;
  dweight(c) = sumDyXhat;
  // dx = a·dy + b·(x - mean) + k: x centred before the product (as
  // PyTorch's x̂), so that b·x and b·mean, large next to their difference
  // when the activations have an offset, are never subtracted.
  a(c) = weight(c) * invStd(c);
  b(c) = -a(c) * invStd(c) * sumDyXhat / count;
  k(c) = -a(c) * sumDy / count;
  Expr ch = channelOf(v);
  // dx's values: the dx output; or, when a weight-gradient sink reads them
  // too, a buffer of their own (per channel or root) that the output
  // copies; or, dx not written, inlined where the sink reads them.
  bool buffered = writesDx && convSink;
  Func value = writesDx && !convSink ? dx : Func("dx_value");
  value(v) = a(ch) * dy(v) + b(ch) * (x(v) - mean(ch)) + k(ch);
  if (buffered) {
    dx(v) = value(v);
  }
  // Outputs: dx (unless only sinks read it), dweight, dbias, the sinks'.
  if (writesDx) {
    constrainOutput(dx, s.outputs[0]);
  }
  constrainOutput(dweight, s.outputs[1]);
  constrainOutput(dbias, s.outputs[2]);
  std::vector<Func> outputs = {dweight, dbias};
  if (writesDx) {
    outputs.insert(outputs.begin(), dx);
  }
  size_t own = outputs.size();
  bool parallel = xs.numElements() >= kParallelGrain;
  for (const GradientSink &sink : sinks) {
    if (sink.spec.op != "reduce_sum") {
      if (!loop) {
        outputs.push_back(convGradWeightOfChannel(
            sink.spec, sink.x, value, c, parallel && major, target));
        continue;
      }
      Func dw = loop->output(a, b, k);
      if (parallel) { // as the first output's loop
        dw.parallel(c);
      }
      outputs.push_back(dw);
      continue;
    }
    // The channel sum of dx without a pass over it: a·Σdy + b·Σ(x - mean)
    // + k·M, from the sums pass.
    Func out("sink_sum");
    out(c) = a(c) * sumDy + b(c) * sumOf(2) + k(c) * count;
    constrainOutput(out, sink.spec.outputs[0]);
    if (major) {
      if (parallel) {
        out.parallel(c);
      }
    } else if (target.has_gpu_feature()) {
      scheduleElementwiseGpu(out, {c});
    }
    outputs.push_back(out);
  }
  if (major) {
    // One task per channel: the sums pass, then dx from cache, with the
    // other outputs in the same loop: the first output's (dx, or dweight
    // when only the sinks read dx), fused by the name c (compute_with).
    Func first = outputs.front();
    if (writesDx) {
      scheduleChannelMajor(dx, v, extents, target);
    } else if (parallel) {
      first.parallel(c);
    }
    // x and dy per channel, or per image in the sink loop.
    LoopLevel values = loop ? LoopLevel(loop->part, loop->image)
                            : LoopLevel(first, c);
    if (recomputedX) {
      stageRecomputedX(x, extents, values, target);
    }
    for (Func f : loop ? std::vector<Func>{loop->part, loop->total}
                       : std::vector<Func>{sums}) {
      f.compute_at(first, c);
    }
    for (Func f : {invStd, a, b, k}) {
      f.compute_at(first, c);
    }
    if (stage) {
      stage(dy, values, false);
    }
    if (buffered) {
      value.compute_at(first, c);
      scheduleChannelMajor(value, v, extents, target, false);
    }
    for (size_t i = 1; i < outputs.size(); ++i) {
      if (i < own && parallel) { // as the first output's loop
        outputs[i].parallel(c);
      }
      outputs[i].compute_with(first, c);
    }
    return outputs;
  }
  for (Func coeff : {invStd, a, b, k}) {
    rootStages(coeff, target);
  }
  if (recomputedX) {
    stageRecomputedX(x, extents, std::nullopt, target);
  }
  if (stage) {
    stage(dy, LoopLevel::root(), true);
  }
  if (writesDx) {
    scheduleElementwise(dx, v, extents, target);
  }
  if (buffered) {
    value.compute_root();
    scheduleElementwise(value, v, extents, target);
  }
  if (target.has_gpu_feature()) {
    scheduleElementwiseGpu(dweight, {c});
    scheduleElementwiseGpu(dbias, {c});
  }
  return outputs;
}

namespace {

Kernel buildBatchNormGrad(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam dyIn = makeInput(s.inputs[1], "dy");
  ImageParam weight = makeInput(s.inputs[2], "weight");
  ImageParam mean = makeInput(s.inputs[3], "mean");
  ImageParam var = makeInput(s.inputs[4], "var");
  std::vector<Var> v = makeVars(s.inputs[0].shape.size());
  Func dy("dy_in");
  dy(v) = dyIn(v);
  return {{x, dyIn, weight, mean, var},
          buildBatchNormGradWithPrologue(s, x, dy, weight, mean, var, target)};
}

//===----------------------------------------------------------------------===//
// running_stats_update: running_mean, running_var, mean, var -> new_mean,
// new_var (PyTorch: unbiased batch variance)
//===----------------------------------------------------------------------===//

void validateRunningStats(const KernelSpec &s) {
  expectCounts(s, 4, 4, 2);
  expectF32Except(s);
  expectRank(s, s.inputs[0], "running_mean", 1);
  std::vector<int64_t> c = s.inputs[0].shape;
  const char *names[] = {"running_mean", "running_var", "mean", "var"};
  for (int i = 0; i < 4; ++i) {
    expectShape(s, s.inputs[i], names[i], c);
  }
  expectShape(s, s.outputs[0], "new_mean", c);
  expectShape(s, s.outputs[1], "new_var", c);
  attrFloat(s, "momentum");
  if (attrInt(s, "count") < 2) {
    fail(s, "count must be at least 2 (unbiased variance)");
  }
}

// Target: any; a few hundred channels, one vectorized Tuple loop.
Kernel buildRunningStats(const KernelSpec &s, const Target &target) {
  ImageParam runMean = makeInput(s.inputs[0], "running_mean");
  ImageParam runVar = makeInput(s.inputs[1], "running_var");
  ImageParam mean = makeInput(s.inputs[2], "mean");
  ImageParam var = makeInput(s.inputs[3], "var");
  double m = attrFloat(s, "momentum");
  double count = static_cast<double>(attrInt(s, "count"));
  Var c("c");
  Func out("new_stats");
  out(c) = Tuple(f32(1 - m) * runMean(c) + f32(m) * mean(c),
                 f32(1 - m) * runVar(c) + f32(m * count / (count - 1)) * var(c));
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, {c}, halideShape(s.outputs[0]), target);
  return {{runMean, runVar, mean, var}, out};
}

//===----------------------------------------------------------------------===//
// layer_norm_grad: x, dy, weight (optional) -> dx [, dweight, dbias]
//===----------------------------------------------------------------------===//

void validateLayerNormGrad(const KernelSpec &s) {
  expectCounts(s, 2, 3, s.inputs.size() == 3 ? 3 : 1);
  expectF32Except(s);
  const auto &x = s.inputs[0].shape;
  int64_t axis = axisAttr(s, x.size());
  attrFloat(s, "epsilon");
  expectShape(s, s.inputs[1], "dy", x);
  std::vector<int64_t> normalized(x.begin() + axis, x.end());
  expectShape(s, s.outputs[0], "dx", x);
  if (s.inputs.size() == 3) {
    expectShape(s, s.inputs[2], "weight", normalized);
    expectShape(s, s.outputs[1], "dweight", normalized);
    expectShape(s, s.outputs[2], "dbias", normalized);
  }
}

// Per row (outer index): mean, rstd; g = dy * weight; xhat = (x-mean)*rstd;
// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
// dweight = sum over rows of dy * xhat, dbias = sum over rows of dy.
// Target: x86-64 AVX-512, 2 cores. Row statistics are root stages (rows of
// a few hundred elements); dx vectorized along the innermost dim, rows in
// parallel; dweight/dbias vectorized along the innermost normalized dim.
Kernel buildLayerNormGrad(const KernelSpec &s, const Target &target) {
  const TensorSpec &xs = s.inputs[0];
  size_t rank = xs.shape.size();
  size_t nd = rank - attrInt(s, "axis"); // normalized Halide dims 0..nd-1
  bool hasWeight = s.inputs.size() == 3;
  ImageParam x = makeInput(xs, "x");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  std::vector<Argument> inputs = {x, dy};
  ImageParam weight;
  if (hasWeight) {
    weight = makeInput(s.inputs[2], "weight");
    inputs.push_back(weight);
  }
  std::vector<int> extents = halideShape(xs);
  std::vector<Var> v = makeVars(rank);
  std::vector<Var> outer(v.begin() + nd, v.end());
  std::vector<Var> inner(v.begin(), v.begin() + nd);
  Region normRanges, outerRanges;
  float count = 1;
  for (size_t i = 0; i < rank; ++i) {
    (i < nd ? normRanges : outerRanges).push_back({0, extents[i]});
    if (i < nd) {
      count *= extents[i];
    }
  }
  RDom r(normRanges, "r");
  std::vector<Expr> at;
  for (size_t i = 0; i < rank; ++i) {
    at.push_back(i < nd ? Expr(r[i]) : Expr(v[i]));
  }
  auto g = [&](const std::vector<Expr> &p) {
    if (!hasWeight) {
      return dy(p);
    }
    std::vector<Expr> w(p.begin(), p.begin() + nd);
    return dy(p) * weight(w);
  };
  Func sumX("sum_x"), sumSq("sum_sq"), mean("mean"), rstd("rstd"),
      sumG("sum_g"), sumGXhat("sum_g_xhat"), dx("dx");
  sumX(outer) = 0.0f;
  sumX(outer) += x(at);
  mean(outer) = sumX(outer) / count;
  sumSq(outer) = 0.0f;
  sumSq(outer) += pow(x(at) - mean(outer), 2);
  rstd(outer) =
      1.0f / sqrt(sumSq(outer) / count + f32(attrFloat(s, "epsilon")));
  auto xhat = [&](const std::vector<Expr> &p) {
    std::vector<Expr> o(p.begin() + nd, p.end());
    return (x(p) - mean(o)) * rstd(o);
  };
  sumG(outer) = 0.0f;
  sumG(outer) += g(at);
  sumGXhat(outer) = 0.0f;
  sumGXhat(outer) += g(at) * xhat(at);
  std::vector<Expr> vv = asExprs(v);
  dx(v) = rstd(outer) * (g(vv) - sumG(outer) / count -
                         xhat(vv) * sumGXhat(outer) / count);
  constrainOutput(dx, s.outputs[0]);
  bool gpu = target.has_gpu_feature();
  // GPU: each row's statistics one thread per row (its sums serial in the
  // thread), dx one thread per element.
  for (Func stats : {mean, rstd, sumG, sumGXhat}) {
    stats.compute_root();
  }
  if (gpu) {
    for (Func stats : {sumX, mean, sumSq, rstd, sumG, sumGXhat}) {
      rootStages(stats, target);
    }
    scheduleElementwiseGpu(dx, v);
  }
  int vec = target.natural_vector_size<float>();
  if (!gpu && extents[0] >= vec) {
    dx.vectorize(v[0], vec, TailStrategy::ShiftInwards);
  }
  if (!gpu && !outer.empty() && xs.numElements() >= kParallelGrain) {
    dx.parallel(outer.back());
    for (Func stats : {mean, rstd, sumG, sumGXhat}) {
      stats.parallel(outer.back());
    }
  }
  std::vector<Func> outputs = {dx};
  if (hasWeight) {
    Func dweight("dweight"), dbias("dbias");
    std::vector<Expr> atRows = asExprs(inner);
    if (!outerRanges.empty()) {
      RDom rows(outerRanges, "rows");
      for (int i = 0; i < rows.dimensions(); ++i) {
        atRows.push_back(rows[i]);
      }
      dweight(inner) = 0.0f;
      dweight(inner) += dy(atRows) * xhat(atRows);
      dbias(inner) = 0.0f;
      dbias(inner) += dy(atRows);
      int width = gpu ? 1 : vectorWidthFor(extents[0], vec);
      for (Func f : {dweight, dbias}) {
        if (gpu) {
          rootStages(f, target); // one thread per normalized element
        } else if (width > 1) {
          f.vectorize(inner[0], width, TailStrategy::GuardWithIf);
          f.update().vectorize(inner[0], width, TailStrategy::GuardWithIf);
        }
      }
    } else {
      dweight(inner) = dy(atRows) * xhat(atRows);
      dbias(inner) = dy(atRows);
      if (gpu) {
        scheduleElementwiseGpu(dweight, inner);
        scheduleElementwiseGpu(dbias, inner);
      }
    }
    constrainOutput(dweight, s.outputs[1]);
    constrainOutput(dbias, s.outputs[2]);
    outputs.push_back(dweight);
    outputs.push_back(dbias);
  }
  return {inputs, outputs};
}

} // namespace

namespace {

// With s = bias + alpha/size * (window sum of x^2) and t = dy*x*s^(-beta-1):
// dx[i] = dy[i]*s[i]^-beta - (2*alpha*beta/size) * x[i] * (sum of t over
// the channels c whose window holds i: c in [i - hi, i + lo]). s and t are
// computed once (root), then dx elementwise.
Kernel buildLrnGrad(const KernelSpec &s, const Target &target) {
  LrnParams p = validateLrn(s);
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  std::vector<Var> v = makeVars(s.inputs[0].shape.size());
  std::vector<int> extents = halideShape(s.inputs[0]);
  Func base("lrn_base"), t("lrn_t"), dx("dx");
  base(v) = p.bias + (p.alpha / p.size) *
                         lrnWindowSum(p, v, -p.lo,
                                      [&](const std::vector<Expr> &at) {
                                        return x(at) * x(at);
                                      });
  t(v) = dy(v) * x(v) * pow(base(v), -p.beta - 1.0f);
  Expr spread = lrnWindowSum(p, v, -p.hi,
                             [&](const std::vector<Expr> &at) { return t(at); });
  dx(v) = dy(v) * pow(base(v), -p.beta) -
          (2.0f * p.alpha * p.beta / p.size) * x(v) * spread;
  constrainOutput(dx, s.outputs[0]);
  base.compute_root();
  t.compute_root();
  scheduleElementwise(base, v, extents, target);
  scheduleElementwise(t, v, extents, target);
  scheduleElementwise(dx, v, extents, target);
  return {{x, dy}, dx};
}

} // namespace

void registerLayerGradOps(OpRegistry &r) {
  r["lrn_grad"] = {[](const KernelSpec &s) { validateLrn(s); }, buildLrnGrad};
  r["max_pool2d_grad"] = {[](const KernelSpec &s) { validatePoolGrad(s, true); },
                          [](const KernelSpec &s, const Target &t) {
                            return buildPoolGrad(s, t, true);
                          }};
  r["avg_pool2d_grad"] = {
      [](const KernelSpec &s) { validatePoolGrad(s, false); },
      [](const KernelSpec &s, const Target &t) {
        return buildPoolGrad(s, t, false);
      }};
  r["global_avg_pool_grad"] = {validateGlobalAvgPoolGrad,
                               buildGlobalAvgPoolGrad};
  r["batch_norm_train"] = {validateBatchNormTrain, buildBatchNormTrain};
  r["batch_norm_grad"] = {validateBatchNormGrad, buildBatchNormGrad};
  r["running_stats_update"] = {validateRunningStats, buildRunningStats};
  r["layer_norm_grad"] = {validateLayerNormGrad, buildLayerNormGrad};
}

} // namespace kiln::codegen::detail
