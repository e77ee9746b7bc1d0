// conv2d forward kernels in four forms, chosen per shape (useChannelForm,
// chooseConvForm):
//
// - channels: output channels in vectors, a register tile of 7 positions x
//   2 vectors, weights packed at load time (kiln-pack-weights) or per
//   call. Strided convolutions, and every packed one.
// - rows: vectors along the output row, a register tile of 1 vector x 2
//   rows x 8 output channels over the zero-padded input. Kept where rows
//   fill vectors and the reduction is short (depthwise, strided 1x1, wide
//   strided planes).
// - planes: (stride 1, small planes, and the 7x7 stems) the input split
//   into its stride phases, each phase plane flattened with a row pitch,
//   so that a whole output plane is one vectorizable axis and every tap a
//   constant offset; with a channel form (output channels in 16-lane
//   vectors) where there are many positions.
// - pointwise: 1x1 at stride 1 as a matrix product over the flattened
//   plane, reading the input in place.
// Also the stride-phase planes and channel tiles that conv2d_grad_input and
// conv2d_grad_weight share (Kernels.h). Measurements: docs/codegen.md.
#include "Kernels.h"

#include <algorithm>
#include <set>
#include <tuple>

using namespace Halide;

namespace kiln::codegen::detail {
namespace {

// out(x, y, o, n) = the epilogue of the convolution's value there.
void defineOutput(Func out, const std::vector<Var> &v, Expr value,
                  const Epilogue &epilogue, const KernelSpec &s) {
  out(v) = epilogue ? epilogue(value, v) : value;
  constrainOutput(out, s.outputs[0]);
}

// Fuses a kernel's channel groups `group` (its parallel tasks) with the
// batch `n` into `task`. With one image and `tileRows` (the extent of the
// output's tile rows `yo`; 0: never) of 8 or more, the rows are first cut
// in two strips, strip-major: with the pool's contiguous shares per thread
// (runtime/lib/ThreadPool.cpp) each of 2 threads then computes one half of
// the image in every kernel and reads the previous kernel's output, all
// its channels, from its own core's cache (a 1x1 convolution needs every
// input channel: after a kernel split by channel groups half of them come
// from the other core, which on this host's vCPUs costs ~450 ns per round
// trip). Batches keep the image outermost (n-major tasks), which does the
// same. MobileNetV2 at batch 1, alternating `kiln bench --profile`: the
// 56x56 expand + depthwise pairs 0.24-0.31 -> 0.18-0.24 ms, the 1x1
// projections with 2 position chunks (schedulePointwiseConv) 0.11-0.20 ->
// 0.08-0.14; the whole network 1.08-1.09x.
void fuseChannelTasks(Func out, Var yo, Var group, Var n, Var task,
                      int64_t batch, int tileRows) {
  if (batch == 1 && tileRows >= 8) {
    Var ys("ys");
    out.split(yo, ys, yo, (tileRows + 1) / 2, TailStrategy::ShiftInwards)
        .reorder(group, ys)
        .fuse(group, ys, task)
        .fuse(task, n, task);
  } else {
    out.fuse(group, n, task);
  }
}

// Whether a convolution's output is worth parallel tasks: many outputs,
// or few with long reductions. By outputs alone (kParallelGrain / 4),
// MobileNetV2's 960 -> 160 projections on 7x7 planes (7,840 outputs, 7.5
// M multiply-adds) ran on one thread: 0.17 ms at batch 1 on either 1 or 2.
constexpr int64_t kParallelMacs = 1 << 20;
bool worthParallelTasks(const KernelSpec &s) {
  const auto &wt = s.inputs[1].shape;
  int64_t outputs = s.outputs[0].numElements();
  return outputs >= kParallelGrain / 4 ||
         outputs * wt[1] * wt[2] * wt[3] >= kParallelMacs;
}

// One output channel per input channel: a task's output channels read only
// their own input planes.
bool isDepthwise(const KernelSpec &s) {
  const auto &wt = s.inputs[1].shape;
  return wt[1] == 1 && attrInt(s, "groups") == wt[0];
}

// A weight of rank 5 is packed by output channel blocks (kiln-pack-weights):
// [O/B, C, KH, KW, B], channel b*B + i at [b, ..., i]; groups 1.
bool hasPackedWeight(const KernelSpec &s) {
  return s.inputs.size() >= 2 && s.inputs[1].shape.size() == 5;
}

// The output channels of the convolution (the weight's [O] or [O/B * B]).
int64_t outChannels(const KernelSpec &s) {
  const auto &wt = s.inputs[1].shape;
  return hasPackedWeight(s) ? wt[0] * wt[4] : wt[0];
}

// GPU, one group: the weight read by (output channel, kx, ky, input
// channel), the output channel fastest so that a register tile's channels
// load as 4-wide vectors (convTilesGpu); edge tiles read past the last
// channel. kiln-pack-weights' GPU layout [1, C, KH, KW, O], O a multiple of
// 8 (no tile reads past it), is read in place: the weight is laid out once,
// at load time. Any other weight is laid out so at the root, on every call
// (gpuWeightsByChannel).
static std::function<Expr(Expr, Expr, Expr, Expr)>
gpuConvWeights(const KernelSpec &s, ImageParam weight) {
  const auto &wt = s.inputs[1].shape;
  if (hasPackedWeight(s) && wt[0] == 1 && wt[4] % 8 == 0) {
    return [weight](Expr o, Expr kx, Expr ky, Expr c) {
      return weight(o, kx, ky, c, 0);
    };
  }
  Func byChannel = gpuWeightsByChannel(weight, 3);
  return [byChannel](Expr o, Expr kx, Expr ky, Expr c) {
    return byChannel(o, kx, ky, c);
  };
}

void validateConv2d(const KernelSpec &s) {
  expectCounts(s, 2, 3, 1);
  expectF32Except(s);
  expectRank(s, s.inputs[0], "x", 4);
  if (!hasPackedWeight(s)) {
    expectRank(s, s.inputs[1], "weight", 4);
  }
  const auto &x = s.inputs[0].shape, &wt = s.inputs[1].shape;
  int64_t groups = attrInt(s, "groups");
  int64_t o = outChannels(s);
  if (groups < 1 || x[1] % groups || o % groups) {
    fail(s, "groups must divide the input and output channels");
  }
  if (hasPackedWeight(s) && (groups != 1 || wt[4] < 1)) {
    fail(s, "a packed weight [O/B, C, KH, KW, B] needs groups 1");
  }
  if (wt[1] != x[1] / groups) {
    fail(s, "weight.shape[1] must be C/groups");
  }
  Window w = readWindow(s, wt[2], wt[3], true);
  if (s.inputs.size() == 3) {
    expectShape(s, s.inputs[2], "bias", {o});
  }
  expectWindowOutput(s, w, x[0], o);
}

//===----------------------------------------------------------------------===//
// rows
//===----------------------------------------------------------------------===//

struct RowConvFuncs {
  std::vector<ImageParam> inputs;
  Var x{"x"}, y{"y"}, o{"o"}, n{"n"};
  RDom r;
  Func padded, acc{"acc"}, out{"out"};
  bool padInput = false;
  // Strided rows: the padded input as its stride phases along x,
  // phased(j, phase, y, c, n) = padded(sw * j + phase, y, c, n).
  Func phased{"phased"};
  bool phases = false;
};

RowConvFuncs defineRowConv(const KernelSpec &s, const std::vector<ImageParam> &inputs,
                       const Epilogue &epilogue, bool gpu) {
  RowConvFuncs f;
  const auto &wt = s.inputs[1].shape;
  Window w = readWindow(s, wt[2], wt[3], true);
  int64_t groups = attrInt(s, "groups");
  ImageParam in = inputs[0];
  ImageParam weight = inputs[1];
  f.inputs = {in, weight};
  int sw = static_cast<int>(w.sw), dw = static_cast<int>(w.dw);
  // With the taps unrolled (windows up to 7 wide), tap kx of a strided row
  // reads phase (kx * dw - padLeft) mod sw densely, where the padded input
  // read at x * sw + kx * dw - padLeft deinterleaves per tap. The phases
  // cover whole rows of every phase, so they read zeros past the input
  // even without padding.
  // GPU: neither (each thread's loads are scalar). One group: the
  // zero-padded input at the root instead (gpuZeroPadded), so that the
  // sums, compute-bound, have no bounds selects. Grouped (depthwise): the
  // zeros selected in the sums, which are memory-bound (each input value
  // feeds one channel's taps), rather than a kernel that writes and the
  // sums then read a padded copy of the input.
  f.phases = !gpu && sw > 1 && wt[3] <= 7;
  f.padInput = hasPadding(w) || f.phases;
  f.padded = gpu && f.padInput && groups == 1
                 ? gpuZeroPadded(in, "padded")
                 : (f.phases ? BoundaryConditions::constant_exterior(in, 0.0f)
                             : paddedInput(in, w, 0.0f));
  int outC = static_cast<int>(outChannels(s));
  int cg = static_cast<int>(wt[1]), og = outC / static_cast<int>(groups);
  f.r = RDom(0, static_cast<int>(w.kw), 0, static_cast<int>(w.kh), 0, cg,
             "r");
  // GPU: register tiles of output channels, the edge tile summed past the
  // last channel and reading it there (convTilesGpu).
  Expr o = gpu ? min(f.o, outC - 1) : Expr(f.o);
  Expr c = groups == 1 ? Expr(f.r.z) : (o / og) * cg + f.r.z;
  if (inputs.size() == 3) {
    ImageParam b = inputs[2];
    f.inputs.push_back(b);
    f.acc(f.x, f.y, f.o, f.n) = b(o);
  } else {
    f.acc(f.x, f.y, f.o, f.n) = 0.0f;
  }
  // GPU: the rows of a thread's register tile past the last output row read
  // the last row's inputs (convTilesGpu).
  Expr y = gpu ? min(f.y, static_cast<int>(s.outputs[0].shape[2]) - 1)
               : Expr(f.y);
  Expr iy = y * static_cast<int>(w.sh) + f.r.y * static_cast<int>(w.dh) -
            static_cast<int>(w.padTop);
  if (f.phases) {
    Var j("j"), phase("phase"), py("py"), pc("pc"), pn("pn");
    int lead = static_cast<int>(w.padLeft);
    // Phases start at column -lead rounded down to a multiple of sw.
    int origin = -((lead + sw - 1) / sw) * sw;
    f.phased(j, phase, py, pc, pn) =
        f.padded(j * sw + phase + origin, py, pc, pn);
    Expr col = f.r.x * dw - lead - origin; // >= 0
    f.acc(f.x, f.y, f.o, f.n) += weight(f.r.x, f.r.y, f.r.z, o) *
                                 f.phased(f.x + col / sw, col % sw, iy, c, f.n);
  } else {
    Expr ix = f.x * sw + f.r.x * dw - static_cast<int>(w.padLeft);
    // GPU, one group: the weights by output channel, so that a register
    // tile's channels load as vectors (convTilesGpu).
    Expr wv = gpu && groups == 1
                  ? gpuConvWeights(s, weight)(f.o, f.r.x, f.r.y, f.r.z)
                  : Expr(weight(f.r.x, f.r.y, f.r.z, o));
    f.acc(f.x, f.y, f.o, f.n) += wv * f.padded(ix, iy, c, f.n);
  }
  Expr value = f.acc(f.x, f.y, f.o, f.n);
  defineOutput(f.out, {f.x, f.y, f.o, f.n}, value, epilogue, s);
  return f;
}

// GPU, one group: the convolution as a window sum whose input each block
// stages in shared memory (stagedWindowSumGpu), read at x * sw + tx * dw -
// padLeft; the input clamped to its padded extent, so that the staged
// region reads in bounds anywhere. The padding's zeros are selected as the
// block stages its region (once per staged value), not written by a kernel
// of their own. Grouped convolutions: none (a block's channel tiles would
// read different inputs).
WindowSum convWindowSum(const KernelSpec &s, const std::vector<ImageParam> &inputs) {
  const auto &wt = s.inputs[1].shape;
  const auto &xs = s.inputs[0].shape;
  Window w = readWindow(s, wt[2], wt[3], true);
  ImageParam in = inputs[0];
  Func padded = paddedInput(in, w, 0.0f);
  int padLeft = static_cast<int>(w.padLeft);
  int padTop = static_cast<int>(w.padTop);
  WindowSum sum;
  sum.name = "conv";
  sum.input = Func("input_tile");
  Var sx("sx"), sy("sy"), sc("sc"), sn("sn");
  sum.input(sx, sy, sc, sn) =
      padded(clamp(sx, -padLeft, static_cast<int>(xs[3] + w.padRight) - 1),
             clamp(sy, -padTop, static_cast<int>(xs[2] + w.padBottom) - 1),
             clamp(sc, 0, static_cast<int>(xs[1]) - 1), sn);
  sum.weight = gpuConvWeights(s, inputs[1]);
  sum.x = {static_cast<int>(w.sw), static_cast<int>(w.dw), -padLeft,
           static_cast<int>(w.kw)};
  sum.y = {static_cast<int>(w.sh), static_cast<int>(w.dh), -padTop,
           static_cast<int>(w.kh)};
  sum.channels = static_cast<int>(wt[1]);
  sum.shape = s.outputs[0].shape;
  return sum;
}

// Target: x86-64 AVX-512 (16 lanes), 2 cores. Register tile: one vector of
// output x times 2 output rows times 8 output channels (16 zmm accumulators);
// each input vector feeds 8 FMAs with broadcast weights. The zero-padded
// input is materialized once (compute_root) so the inner loop has no
// selects. Tails use ShiftInwards (tile sizes never exceed the extents), so
// any width down to 1 works. Measured: see docs/codegen.md.
void scheduleRowConv(RowConvFuncs &f, const KernelSpec &s, const Target &target) {
  int vec = target.natural_vector_size<float>();
  const auto &outShape = s.outputs[0].shape;
  int outC = static_cast<int>(outShape[1]);
  int outH = static_cast<int>(outShape[2]);
  int outW = static_cast<int>(outShape[3]);
  int vw = vectorWidthFor(outW, vec);
  int yb = std::min(outH, 2);
  int ob = std::min(outC, 8);
  Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), oo("oo"), oi("oi"), task("task");
  f.out.split(f.x, xo, xi, vw, TailStrategy::ShiftInwards)
      .split(f.y, yo, yi, yb, TailStrategy::ShiftInwards)
      .split(f.o, oo, oi, ob, TailStrategy::ShiftInwards)
      .reorder(xi, yi, oi, xo, yo, oo, f.n)
      .unroll(yi)
      .unroll(oi);
  // Depthwise: each task pads its own rows (below), so a strip costs only
  // its halo; the 3-channel stem keeps whole planes (0.23 -> 0.245 ms
  // in strips).
  fuseChannelTasks(f.out, yo, oo, f.n, task, outShape[0],
                   isDepthwise(s) ? (outH + yb - 1) / yb : 0);
  f.out.parallel(task);
  if (vw > 1) {
    f.out.vectorize(xi);
  }
  f.acc.compute_at(f.out, xo);
  Var ax("ax"), ay("ay"), ao("ao");
  for (Stage stage : {Stage(f.acc), f.acc.update()}) {
    stage.split(f.x, ax, f.x, vw)
        .split(f.y, ay, f.y, yb)
        .split(f.o, ao, f.o, ob)
        .unroll(f.y)
        .unroll(f.o);
    if (vw > 1) {
      stage.vectorize(f.x);
    }
  }
  f.acc.update().reorder(f.x, f.y, f.o, ax, ay, ao, f.r.x, f.r.y, f.r.z);
  if (s.inputs[1].shape[3] <= 7) {
    f.acc.update().unroll(f.r.x);
  }
  if (f.phases) {
    // The phases where the padded input would be (the padded input, if
    // any, per phase plane): per task for depthwise, else once, parallel
    // over planes.
    std::vector<Var> pv = f.phased.args();
    Var plane("plane");
    const auto &xs = s.inputs[0].shape;
    int sw = static_cast<int>(attrInts(s, "strides", 2)[1]);
    f.phased.reorder(pv[0], pv[1], pv[2], pv[3], pv[4]).unroll(pv[1]);
    if (isDepthwise(s)) {
      f.phased.compute_at(f.out, task);
    } else {
      f.phased.compute_root().fuse(pv[3], pv[4], plane);
      parallelPlanes(f.phased, plane, (xs[2] + 2) * (xs[3] + 2));
    }
    if (xs[3] / sw >= vec) {
      f.phased.vectorize(pv[0], vec, TailStrategy::GuardWithIf);
    }
    // Depthwise: the padding inlined into the task's phases (Halide's
    // loop partitioning leaves the interior of each row without selects).
    // A padded copy per task before them (2 x 412 KB for 8 channels of
    // 112x112, over L2) ran MobileNetV2's 96-channel stride-2 layer at
    // batch 16 in 5.8-6.0 ms; one per channel 5.7-5.8; inlined 5.2
    // (alternating `kiln bench`, AVX2).
    if (f.padInput && !isDepthwise(s)) {
      std::vector<Var> qv = f.padded.args();
      f.padded.compute_at(f.phased, plane);
      if (xs[3] >= vec) {
        f.padded.vectorize(qv[0], vec, TailStrategy::GuardWithIf);
      }
    }
    return;
  }
  if (f.padInput) {
    Var px = f.padded.args()[0], pc = f.padded.args()[2],
        pn = f.padded.args()[3], plane("plane");
    // A task's output channels read only their own input channels when each
    // group has one output channel per input channel (depthwise): the task
    // pads just those planes, in cache, instead of a pass over the whole
    // input before the convolution (MobileNetV2 at batch 1: 1.27x; alone,
    // with a warm cache, stride-2 layers measure up to 1.3x slower, but in
    // the network their input comes from memory either way).
    if (isDepthwise(s)) {
      f.padded.compute_at(f.out, task);
    } else {
      f.padded.compute_root().fuse(pc, pn, plane);
      const auto &xs = s.inputs[0].shape;
      parallelPlanes(f.padded, plane, (xs[2] + 2) * (xs[3] + 2));
    }
    if (s.inputs[0].shape[3] >= vec) {
      f.padded.vectorize(px, vec, TailStrategy::GuardWithIf);
    }
  }
}


//===----------------------------------------------------------------------===//
// planes
//===----------------------------------------------------------------------===//

} // namespace

std::pair<int, int> phaseInside(int phase, int stride, int pad, int extent) {
  int first = std::max(0, (pad - phase + stride - 1) / stride);
  int last = (extent - 1 + pad - phase) / stride; // may be < first
  return {first, last - first + 1};
}

// Zero everywhere, then one update per phase that some tap reads, over
// exactly the phase plane's rows and columns inside the image: no selects
// or clamps, dense stores along the row (loads of stride sw).
StridePhases defineStridePhases(ImageParam x, const TensorSpec &xs,
                                const Window &w, int pitch) {
  StridePhases phases;
  int sh = static_cast<int>(w.sh), sw = static_cast<int>(w.sw);
  int dh = static_cast<int>(w.dh), dw = static_cast<int>(w.dw);
  int height = static_cast<int>(xs.shape[2]);
  int width = static_cast<int>(xs.shape[3]);
  Var q("q"), phase("phase"), c("c"), n("n");
  phases.func(q, phase, c, n) = 0.0f;
  phases.planeElements = static_cast<int64_t>(height + w.padTop + w.padBottom) *
                         pitch * sw;
  std::set<std::pair<int, int>> used;
  for (int ky = 0; ky < w.kh; ++ky) {
    for (int kx = 0; kx < w.kw; ++kx) {
      used.insert({ky * dh % sh, kx * dw % sw});
    }
  }
  for (auto [a, b] : used) {
    auto [i0, rows] = phaseInside(a, sh, static_cast<int>(w.padTop), height);
    auto [j0, cols] = phaseInside(b, sw, static_cast<int>(w.padLeft), width);
    if (rows < 1 || cols < 1) {
      continue;
    }
    RDom rp(j0, cols, i0, rows, "rp");
    phases.func(rp.y * pitch + rp.x, a * sw + b, c, n) =
        x(rp.x * sw + b - static_cast<int>(w.padLeft),
          rp.y * sh + a - static_cast<int>(w.padTop), c, n);
    phases.updates.push_back(rp);
  }
  return phases;
}

Expr readStridePhases(const StridePhases &phases, const Window &w, int pitch,
                      Expr p, Expr kx, Expr ky, Expr c, Expr n) {
  int sh = static_cast<int>(w.sh), sw = static_cast<int>(w.sw);
  Expr ty = ky * static_cast<int>(w.dh), tx = kx * static_cast<int>(w.dw);
  return phases.func(p + (ty / sh) * pitch + tx / sw, (ty % sh) * sw + tx % sw,
                     c, n);
}

int channelVectorsFor(const KernelSpec &s, int channels,
                      const Target &target) {
  if (attrInt(s, "groups") != 1 || channels % 16 != 0) {
    return 0;
  }
  if (target.natural_vector_size<float>() == 8) {
    // AVX2: 2 vectors of 8 channels, in register tiles of 5 positions (10
    // sums, 5 broadcasts and 2 weight vectors in 16 ymm).
    return 2;
  }
  if (target.natural_vector_size<float>() != 16) {
    return 0;
  }
  // Up to 4 vectors per task, fewer where that would leave under 4 tasks
  // (images x channel blocks) for the threads: 64 channels of one image
  // are 4 tasks of 1 vector, not 1 task of 4.
  int images = static_cast<int>(s.outputs[0].shape[0]);
  int k = std::min(4, channels / 16);
  while (k > 1 && (channels % (16 * k) != 0 ||
                   channels / (16 * k) * images < 4)) {
    --k;
  }
  return k;
}

// conv2d's channel form: acc(lane, p, block, n) over the consumer task's
// whole plane, its reduction r = (kx, ky, input channel) in runs of 8 input
// channels, each run sweeping the plane in register tiles of 6 positions x
// channelVectors vectors (see schedulePlaneConv).
static void scheduleChannelRuns(Func acc, const RDom &r, Func consumer,
                                Var task, int channelVectors,
                                int tilePositions) {
  std::vector<Var> a = acc.args(); // (lane, p, block, n)
  acc.compute_at(consumer, task).bound_extent(a[2], channelVectors);
  acc.vectorize(a[0]);
  RVar rzo("rzo"), rzi("rzi");
  Var po("po"), pi("pi");
  acc.update()
      .split(r.z, rzo, rzi, 8)
      .split(a[1], po, pi, tilePositions, TailStrategy::RoundUp)
      .reorder(a[0], pi, a[2], r.x, r.y, rzi, po, rzo)
      .vectorize(a[0])
      .unroll(pi)
      .unroll(a[2])
      .unroll(r.x);
}

void scheduleChannelTiles(Func accOut, Func acc, RDom r, int positions,
                          int channelVectors, int tilePositions) {
  std::vector<Var> v = accOut.args(); // (lane, p, block, n)
  Var po("po"), pi("pi");
  accOut
      .split(v[1], po, pi, std::min(positions, tilePositions),
             TailStrategy::ShiftInwards)
      .reorder(v[0], pi, v[2], po, v[3])
      .vectorize(v[0]);
  acc.compute_at(accOut, po).bound_extent(acc.args()[2], channelVectors);
  std::vector<Var> a = acc.args();
  for (Stage stage : {Stage(acc), acc.update()}) {
    stage.vectorize(a[0]).unroll(a[1]).unroll(a[2]);
  }
  acc.update().reorder(a[0], a[1], a[2], r.x, r.y, r.z).unroll(r.x);
}

void schedulePositionTiles(Func accOut, Func acc,
                           const std::vector<RVar> &reduction, int positions,
                           int tileVectors, int channels, bool unrollFirst,
                           const Target &target) {
  int vec = target.natural_vector_size<float>();
  int pw = vectorWidthFor(positions, vec);
  int tile = positions >= tileVectors * pw ? tileVectors * pw : pw;
  std::vector<Var> v = accOut.args(); // (p, channel, n), as acc's
  Var p = v[0], ch = v[1], n = v[2];
  Var po("po"), pi("pi"), pv("pv"), pl("pl"), ao("ao");
  accOut.split(p, po, pi, tile, TailStrategy::ShiftInwards)
      .reorder(pi, ch, po, n);
  if (pw > 1) {
    accOut.vectorize(pi, pw);
  }
  acc.compute_at(accOut, po);
  auto tileStage = [&](Stage stage) {
    stage.split(p, ao, p, tile).split(p, pv, pl, std::max(pw, 1));
  };
  tileStage(acc);
  Stage update = acc.update();
  tileStage(update);
  // A reduction over channels alone (1x1) streams its broadcasts.
  std::vector<VarOrRVar> outer =
      splitSubTiles(update, &pv, ch, tile / std::max(pw, 1), channels, target,
                    reduction.size() == 1);
  for (Stage stage : {Stage(acc), update}) {
    stage.unroll(pv).unroll(ch);
    if (pw > 1) {
      stage.vectorize(pl);
    }
  }
  std::vector<VarOrRVar> order = {pl, pv, ch, ao};
  order.insert(order.end(), reduction.begin(), reduction.end());
  order.insert(order.end(), outer.begin(), outer.end());
  acc.update().reorder(order);
  if (unrollFirst) {
    acc.update().unroll(reduction[0]);
  }
}

void scheduleZeroedPlanes(Func f, const std::vector<RDom> &updates,
                          bool parallel, int64_t planeElements,
                          const Target &target) {
  int vec = target.natural_vector_size<float>();
  std::vector<Var> v = f.args();
  Var q = v[0], c = v[v.size() - 2], n = v.back(), plane("plane");
  // Runs of planes per task: one task per plane was 1024 tasks per stage
  // for a 16-channel 14x14 layer at batch 64 (the example CNN's second
  // convolution, 1.14 -> 0.72 ms).
  auto distribute = [&](Stage stage) {
    stage.fuse(c, n, plane);
    if (parallel) {
      parallelPlanes(stage, plane, planeElements);
    }
  };
  f.compute_root();
  distribute(f);
  f.vectorize(q, vec, TailStrategy::GuardWithIf);
  for (size_t i = 0; i < updates.size(); ++i) {
    Stage update = f.update(static_cast<int>(i));
    distribute(update);
    vectorizeRowCopy(update, updates[i].x, target);
  }
}

void scheduleStridePhases(StridePhases &phases, bool parallel,
                          const Target &target) {
  scheduleZeroedPlanes(phases.func, phases.updates, parallel,
                       phases.planeElements, target);
}

namespace {

struct PlaneConvFuncs {
  std::vector<ImageParam> inputs;
  Var x{"x"}, y{"y"}, o{"o"}, n{"n"}, p{"p"};
  RDom r; // (kx, ky, input channel within the group)
  StridePhases phases;
  Func acc{"acc"}, accOut{"acc_out"}, out{"out"};
  // Channel form: output channels in 16-lane vectors, accC(oi, p, ob, n)
  // for channel ob*16 + oi, from weights repacked per call (weightT).
  Func weightT{"weight_t"}, accC{"acc_c"}, accOutC{"acc_out_c"};
  int channelVectors = 0; // per task; 0: the position form
  int pitch = 0;      // row pitch Wq of the flattened phase planes
  int outWidth = 0;   // out's rows: the conv's, or its pooling tail's
};

// conv2d over flattened phase planes. The zero-padded input is split into
// its sh x sw stride phases, phase (a, b) holding padded rows sh*i + a and
// columns sw*j + b, and each phase plane is flattened with a row pitch Wq
// that covers the window's overhang: phases(q, phase, c, n) with q = i*Wq +
// j. A tap (kx, ky) then reads phase ((ky*dh) % sh, (kx*dw) % sw) at the
// constant offset ((ky*dh) / sh) * Wq + (kx*dw) / sw from the output position
// p = oy*Wq + ox. So every convolution (any stride, dilation, 1x1, 7x7,
// depthwise) becomes one long vectorizable axis p: a 7x7 plane is 63 lanes
// (4 vectors) instead of seven 7-wide rows, a 14x14 plane 224 (14 vectors).
// The Wq - OW columns at the end of each row compute values that are never
// copied out.
PlaneConvFuncs definePlaneConv(const KernelSpec &s,
                               const std::vector<ImageParam> &inputs,
                               const Epilogue &epilogue, const Target &target,
                               const KernelSpec *tail) {
  PlaneConvFuncs f;
  const auto &wt = s.inputs[1].shape;
  const auto &os = s.outputs[0].shape;
  Window w = readWindow(s, wt[2], wt[3], true);
  int64_t groups = attrInt(s, "groups");
  ImageParam in = inputs[0];
  ImageParam weight = inputs[1];
  f.inputs = {in, weight};
  // The channel form repacks the weights on every call, and its tiles need
  // 2 or more channel vectors: measured on ResNet-18's 3x3 layers, it wins
  // on planes of 28x28 and up (1.45x on 128 channels at 28x28, batch 1;
  // 1.1-1.3x at batch 8 on 28x28 and 56x56) and loses on 14x14 and 7x7
  // (0.7-0.9x), where the weights dominate. docs/codegen.md. On AVX2 (2
  // vectors of 8 channels, tiles of 5 positions; AMD EPYC Zen 2, unpacked
  // weights as in training, alternating `kiln bench --winograd 0`): 3x3
  // 64 -> 64 on 56x56 at batch 16 25.1 -> 19.7 ms, 128 -> 128 on 28x28 at
  // batch 8 12.6 -> 9.7, 5x5 32 -> 64 on 28x28 9.06 -> 7.12; 1x1 (memory
  // bound) and strided ones (another form) unchanged. Few input
  // channels give its broadcasts too little work per tap: the LeNet-style
  // CNN's first conv2d (1 -> 32 channels, 28x28, batch 64) 0.80 ms in it,
  // 0.39 in the position form.
  if (os[2] * os[3] >= 28 * 28 && wt[1] >= 16) {
    int k = channelVectorsFor(s, static_cast<int>(wt[0]), target);
    f.channelVectors = k >= 2 ? k : 0;
  }
  int lanes = target.natural_vector_size<float>();
  int outW = static_cast<int>(os[3]);
  f.pitch = outW + static_cast<int>((w.kw - 1) * w.dw / w.sw);

  f.phases = defineStridePhases(in, s.inputs[0], w, f.pitch);

  int cg = static_cast<int>(wt[1]), og = static_cast<int>(wt[0] / groups);
  f.r = RDom(0, static_cast<int>(w.kw), 0, static_cast<int>(w.kh), 0, cg, "r");
  Expr ci = groups == 1 ? Expr(f.r.z) : (f.o / og) * cg + f.r.z;
  if (inputs.size() == 3) {
    f.inputs.push_back(inputs[2]);
  }
  auto biasAt = [&](Expr o) {
    return inputs.size() == 3 ? Expr(inputs[2](o)) : Expr(0.0f);
  };
  if (f.channelVectors > 0) {
    Var wo("wo"), wx("wx"), wy("wy"), wc("wc"), wb("wb"), oi("oi"), ob("ob");
    f.weightT(wo, wx, wy, wc, wb) = weight(wx, wy, wc, wb * lanes + wo);
    f.accC(oi, f.p, ob, f.n) = biasAt(ob * lanes + oi);
    f.accC(oi, f.p, ob, f.n) +=
        f.weightT(oi, f.r.x, f.r.y, f.r.z, ob) *
        readStridePhases(f.phases, w, f.pitch, f.p, f.r.x, f.r.y, f.r.z, f.n);
    f.accOutC(oi, f.p, ob, f.n) = f.accC(oi, f.p, ob, f.n);
    f.accOut(f.p, f.o, f.n) = f.accOutC(f.o % lanes, f.p, f.o / lanes, f.n);
  } else {
    f.acc(f.p, f.o, f.n) = biasAt(f.o);
    f.acc(f.p, f.o, f.n) +=
        weight(f.r.x, f.r.y, f.r.z, f.o) *
        readStridePhases(f.phases, w, f.pitch, f.p, f.r.x, f.r.y, ci, f.n);
    f.accOut(f.p, f.o, f.n) = f.acc(f.p, f.o, f.n);
  }
  Expr value = f.accOut(f.y * f.pitch + f.x, f.o, f.n);
  if (tail) {
    // The chain's value, inlined into the pool's window maxima: each
    // position is read by one window.
    Func conv("conv_value");
    std::vector<Var> v = {f.x, f.y, f.o, f.n};
    conv(v) = epilogue ? epilogue(value, v) : value;
    f.out = definePoolTail(*tail, conv, v);
    f.outWidth = static_cast<int>(tail->outputs[0].shape[3]);
  } else {
    defineOutput(f.out, {f.x, f.y, f.o, f.n}, value, epilogue, s);
    f.outWidth = static_cast<int>(s.outputs[0].shape[3]);
  }
  return f;
}

// Target: x86-64 AVX-512 (16 lanes), 2 cores. Each parallel task is one
// block of 8 output channels of one image: its flattened output plane is
// computed in register tiles of 2 vectors of positions x 8 channels (16 zmm
// accumulators; each input vector feeds 8 FMAs with broadcast weights), the
// (kx, ky, c) reduction inside the tile, then copied out without the pitch
// columns, applying the epilogue. The phase planes are built once (root,
// parallel over planes), or per task for depthwise convolutions. Measured:
// see docs/codegen.md.
void schedulePlaneConv(PlaneConvFuncs &f, const KernelSpec &s, const Target &target) {
  int vec = target.natural_vector_size<float>();
  const auto &os = s.outputs[0].shape;
  int channels = static_cast<int>(os[1]);
  int height = static_cast<int>(os[2]);
  int ob =
      f.channelVectors > 0 ? vec * f.channelVectors : std::min(channels, 8);
  bool parallel = worthParallelTasks(s);
  bool depthwise = isDepthwise(s);
  Var oo("oo"), oi("oi"), ot("ot"), task("task");
  f.out.split(f.o, oo, oi, ob, TailStrategy::ShiftInwards);
  // A depthwise task's block of 8 channels is a few hundred FMAs on a 7x7
  // plane: tasks of several blocks, about 32 over the batch.
  int blocks = (channels + ob - 1) / ob;
  int images = static_cast<int>(os[0]);
  int perTask = 1;
  if (depthwise && f.channelVectors == 0) {
    perTask = std::max(1, std::min(blocks, blocks * images / 32));
  }
  Var block = oo;
  if (perTask > 1) {
    f.out.split(oo, ot, oo, perTask, TailStrategy::GuardWithIf)
        .reorder(f.x, f.y, oi, oo, ot, f.n)
        .fuse(ot, f.n, task);
  } else {
    f.out.reorder(f.x, f.y, oi, oo, f.n).fuse(oo, f.n, task);
    block = task;
  }
  if (parallel) {
    f.out.parallel(task);
  }
  int xw = vectorWidthFor(f.outWidth, vec);
  if (xw > 1) {
    f.out.vectorize(f.x, xw, TailStrategy::ShiftInwards);
  }

  if (f.channelVectors > 0) {
    // The task's whole plane of sums, updated run of 8 input channels by
    // run: within a run, register tiles of 6 positions x the task's
    // channel vectors (24 zmm for 4) sweep the plane while the run's
    // weights (64 x 8 x 9 floats, 18 KB) stay in L1, instead of every tile
    // streaming all of the task's weights from L2. The order of each sum
    // is unchanged (the input channel stays the outermost reduction
    // variable). Measured at batch 8, alternating: 64x64 on 56x56 and
    // 128x128 on 28x28, 1.05x.
    scheduleChannelRuns(f.accC, f.r, f.out, task, f.channelVectors,
                        vec == 8 ? 5 : 6);
    std::vector<Var> w = f.weightT.args();
    f.weightT.compute_root().parallel(w[4]).vectorize(w[0]);
  } else {
    f.accOut.compute_at(f.out, block);
    schedulePositionTiles(f.accOut, f.acc, {f.r.x, f.r.y, f.r.z},
                          height * f.pitch, 2, ob, s.inputs[1].shape[3] <= 7,
                          target);
  }
  if (depthwise) {
    // As rows does: each block builds only its own channels' phase planes,
    // in cache.
    Func ph = f.phases.func;
    Var q = ph.args()[0];
    ph.compute_at(f.out, block).vectorize(q, vec, TailStrategy::GuardWithIf);
    for (size_t i = 0; i < f.phases.updates.size(); ++i) {
      vectorizeRowCopy(ph.update(static_cast<int>(i)), f.phases.updates[i].x,
                       target);
    }
  } else {
    scheduleStridePhases(f.phases, parallel, target);
  }
}

//===----------------------------------------------------------------------===//
// channels
//===----------------------------------------------------------------------===//

struct ChannelConvFuncs {
  std::vector<ImageParam> inputs;
  Var x{"x"}, y{"y"}, o{"o"}, n{"n"}, p{"p"};
  RDom r; // (kx, ky, input channel)
  Func padded, weightT{"weight_t"}, acc{"acc"}, out{"out"};
  bool padInput = false;
  bool flat = false; // acc(lane, p, block, n) over the plane's positions
  bool blockedInput = false, blockedOutput = false; // nchw16c
  Func padded5;           // a blocked input's padded copy, in blocks
  bool repack = false;    // weightT is the unpacked weight repacked per call
  int lanes = 16;         // output channels per vector (the packing block)
  int channelVectors = 1; // per task
  int tile = 1;           // output positions along x per register tile
  int tileRows = 1;       // output rows per register tile
};

// Positions along x per register tile: 7 where it divides the width
// (ResNet's and MobileNet's 112, 56, 28, 14 and 7), else 8, 6 or 5, else
// 7 rounded up over the zero-padded input. Measured at batch 8 on
// ResNet-18's 128 -> 256 3x3 stride-2 layer: tiles of 7 x 2 vectors 3.34
// ms, 4 x 4 3.67, 6 x 4 3.73, 8 x 2 4.05, 7 x 4 5.15 (LLVM hoists all 7
// broadcasts and spills accumulators).
int channelTileFor(int width) {
  for (int t : {7, 8, 6, 5}) {
    if (width % t == 0) {
      return t;
    }
  }
  return std::min(width, 7);
}

struct ChannelTile {
  int positions = 1, vectors = 1, rows = 1;
};

// The channel form's register tile: channelTileFor x `vectors` where it
// fits the registers (AVX-512). Else (AVX2: 7 x 2 sums, their 7
// broadcasts and 2 weight vectors spill) the p x v (v dividing `vectors`)
// of least time per useful FMA, the positions computed over the width
// times registerTileCost, ties to the most sums: 5 x 2 on ResNet's 112,
// 56, 28, 14 and 7 columns. ResNet-18's 64 -> 128 3x3 stride-2 layer at
// batch 8 (AVX2, alternating `kiln bench`): 7 x 2 33.7-37.4 ms, 6 x 2
// 33.3-37.4, 4 x 2 21.7-25.5, 5 x 2 21.9-22.6, 7 x 1 27.2-28.1.
// Rows of 5 to 7 positions, which tiles of 5 round up to 10 (7x7 planes:
// 1.43x the FMAs), may instead take the whole row of 2 rows x 1 vector
// (14 sums, one weight vector, the broadcasts one at a time), charged
// kRowPairCost over its time for its 15 loads per 14 FMAs and the
// broadcasts LLVM keeps in stack slots (a stride-2 window's neighbouring
// taps read the same inputs). ResNet-18's 256 -> 512 3x3 stride-2 layer
// on 7x7 (AVX2, alternating `kiln bench`): batch 1 (packed) 0.99-1.01 ->
// 0.89 ms, batch 16 (unpacked) 15.2-15.4 -> 13.7; on 14x14 planes the row
// pairs lost (128 -> 256 at batch 16: 11.2-11.3 -> 11.6-11.7 ms).
constexpr double kRowPairCost = 1.12;
ChannelTile channelRegisterTile(int width, int height, int vectors,
                                const Target &target) {
  // Time per useful FMA of p positions x v vectors over the width.
  auto time = [&](int p, int v) {
    return static_cast<double>((width + p - 1) / p * p) / width *
           registerTileCost(p, v);
  };
  int tile = channelTileFor(width);
  ChannelTile best = {tile, vectors, 1};
  double bestTime = time(tile, vectors);
  if (!fitsRegisters(tile, vectors, target)) {
    best = {1, 1, 1};
    bestTime = 1e9;
    for (int v = vectors; v >= 1; --v) {
      for (int p = std::min(width, 8); p >= 1; --p) {
        if (vectors % v != 0 || !fitsRegisters(p, v, target)) {
          continue;
        }
        double t = time(p, v);
        if (t < bestTime - 1e-9 ||
            (t < bestTime + 1e-9 && p * v > best.positions * best.vectors)) {
          bestTime = t;
          best = {p, v, 1};
        }
      }
    }
  }
  // Row pairs: measured on AVX2 only (16 registers: 14 sums, a weight
  // vector and a broadcast).
  if (target.natural_vector_size<float>() == 8 && height >= 2 && width >= 5 &&
      width <= 7) {
    double t = static_cast<double>((height + 1) / 2 * 2) / height *
               registerTileCost(2 * width, 1) * kRowPairCost;
    if (t < bestTime - 1e-9) {
      best = {width, 1, 2};
    }
  }
  return best;
}

// Input channels summed per sweep of a task's rows: their weights (B x
// vectors x KH x KW floats each) stay in L1 while the register tiles sweep.
// A sweep loads and stores the tile's accumulators once, so a run covers
// at least kRunTaps (channel, tap) pairs: 14 channels of a 3x3 window, 128
// channels of a 1x1 one (8 KB of weights per vector of 16 output channels,
// 16 KB for a task's two). Runs of 36 pairs (4 channels of a 3x3 window)
// reloaded the accumulators three times as often. Zen 5 (2 threads),
// alternating `kiln bench` medians (sorted, `--runs 40` each): ResNet-50
// at batch 1 24.13 / 24.54 / 24.56 / 25.60 -> 23.55 / 23.73 / 24.03 /
// 24.29 ms (its five 256 -> 256 3x3 layers on 14x14 3.16-3.19 -> 3.03-3.05
// ms, its 512 -> 2048 1x1 layers with the residual add on 7x7 1.12 ->
// 1.03-1.04 in `--profile`), at batch 8 175.6 / 179.4 / 180.8 -> 171.7 /
// 172.7 (and one 204.0); ResNet-18 at batch 1 9.34-9.65 -> 9.22-9.47.
// MobileNetV2 (its 1x1 layers take the producer and projection forms) and
// ResNet-18's training step (355-361 against 357-363 ms) did not move.
constexpr int kChannelRun = 4;
constexpr int kRunTaps = 128;
// A reduction of at most this many pairs is short: summed row by row where
// the rows fill vectors (channelRowSums), fully unrolled (the stems: 3
// channels x 9 taps; scheduleChannelConv).
constexpr int kShortTaps = 36;
int channelRunFor(int64_t channels, int64_t taps) {
  int64_t run = std::max<int64_t>(kChannelRun, kRunTaps / taps);
  return static_cast<int>(std::min(run, channels));
}

// Whether a channel-form task sums one output row at a time (a short
// reduction, which is one run; rows of a vector or more; see
// scheduleChannelConv).
bool channelRowSums(const KernelSpec &s, const Target &target) {
  const auto &wt = s.inputs[1].shape;
  return (wt[1] <= kChannelRun || wt[1] * wt[2] * wt[3] <= kShortTaps) &&
         !s.outputs[0].blocked() &&
         s.outputs[0].shape[3] >= target.natural_vector_size<float>();
}

// Whether the channel form computes this conv2d: always for a packed
// weight; for an unpacked one, strided convolutions without groups, with
// 16 or more input channels and output channels in whole vectors. Measured
// at batch 1 and 8 against the rows and planes forms (ResNet-18's
// downsampling layers): 3x3 stride 2 1.3-1.7x, 1x1 stride 2 1.0-2.6x; the
// stems (3 input channels) 0.5-0.9x, so they stay. On AVX2 the stems too,
// in rows summed whole (channelRowSums, as with packed weights; training
// repacks per call): ResNet-18's 7x7 stem at batch 16 (alternating `kiln
// bench --no-weight-packing`) 27.0 -> 24.4 ms from the planes form,
// MobileNetV2's 3x3 one 4.6-4.7 -> 3.8-3.9 from the rows form.
bool useChannelForm(const KernelSpec &s, const Target &target) {
  if (hasPackedWeight(s)) {
    return true;
  }
  std::vector<int64_t> strides = attrInts(s, "strides", 2);
  const auto &wt = s.inputs[1].shape;
  int vec = target.natural_vector_size<float>();
  bool strided = strides[0] > 1 || strides[1] > 1;
  if (attrInt(s, "groups") != 1 || wt[0] % vec != 0 || !strided) {
    return false;
  }
  return wt[1] >= 16 || (vec == 8 && channelRowSums(s, target));
}

// Whether the channel form sums over the output plane's positions p = y *
// W + x rather than by rows: 1x1 windows in NCHW, unless a task sums one
// row at a time (channelRowSums). A row's register tiles round the row up:
// tiles of 5 on 7x7 planes computed 10 positions per 7; flat, 50 per 49.
// Each input value is a broadcast scalar, read at any stride from the
// position's row and column p / W and p % W. Wider windows lose flat: a
// row's tile of 5 positions reads 7 inputs for 3 taps, a flat one 15 (the
// positions may straddle rows). On AVX2, ResNet-18 at batch 1 (`kiln bench
// --profile`): its 1x1 stride-2 layers 0.305 / 0.224 / 0.196 -> 0.178 /
// 0.146 / 0.120 ms; its 512-channel 3x3 layers on 7x7 3.32 -> 4.57 flat.
bool flatChannelConv(const KernelSpec &s, const Target &target) {
  const auto &wt = s.inputs[1].shape;
  return wt[2] == 1 && wt[3] == 1 && !s.inputs[0].blocked() &&
         !s.outputs[0].blocked() && !channelRowSums(s, target);
}

// conv2d with the output channels in vectors of B lanes, for convolutions
// whose positions fill vectors badly (strided, small planes): acc(lane, x,
// y, block, n) for channel block * B + lane, each (tap, input channel) a
// broadcast input value times a vector of weights, weightT(lane, kx, ky, c,
// block): the packed weight itself, or the weight repacked per call. A
// register tile is `tile` positions of one output row (flatChannelConv:
// of the plane, acc(lane, p, block, n)), so no pitch columns are computed
// and thrown away as in the planes' channel form.
ChannelConvFuncs defineChannelConv(const KernelSpec &s,
                                   const std::vector<ImageParam> &inputs,
                                   const Epilogue &epilogue,
                                   const Target &target) {
  ChannelConvFuncs f;
  const auto &wt = s.inputs[1].shape;
  const auto &os = s.outputs[0].shape;
  Window w = readWindow(s, wt[2], wt[3], true);
  ImageParam in = inputs[0];
  ImageParam weight = inputs[1];
  f.inputs = {in, weight};
  f.repack = !hasPackedWeight(s);
  f.lanes = f.repack ? target.natural_vector_size<float>()
                     : static_cast<int>(wt[4]);
  int blocks = static_cast<int>(outChannels(s) / f.lanes);
  int width = static_cast<int>(os[3]);
  int positions = static_cast<int>(os[2]) * width;
  f.flat = flatChannelConv(s, target);
  // Row pairs need vectors of the packing block (blocks of 16 on AVX2
  // would hold 28 sums).
  bool rowPairs = !f.flat && f.lanes == target.natural_vector_size<float>();
  // Pairs of channel vectors per task, unless one image's 5 or 7 pairs
  // would be as many tasks, split 3 + 2 or 4 + 3 over 2 threads (fewer
  // pairs take 8 / pairs chunks of rows each, an even count): then single
  // vectors. MobileNetV2 at batch 1, alternating `kiln bench --profile`,
  // Zen 4: its 160-channel 1x1 layers on 7x7 (+ add) 0.170-0.171 ->
  // 0.144-0.146 ms for 2 calls, without the add 0.051-0.052 -> 0.046.
  int pairs = blocks % 2 == 0 ? blocks / 2 : 0;
  bool oddPairs = os[0] == 1 && (pairs == 5 || pairs == 7);
  ChannelTile tile = channelRegisterTile(
      f.flat ? positions : width, rowPairs ? static_cast<int>(os[2]) : 1,
      pairs > 0 && !oddPairs ? 2 : 1, target);
  f.tile = tile.positions;
  f.channelVectors = tile.vectors;
  f.tileRows = tile.rows;
  // A rounded-up last tile reads past the input: pad it then (the flat
  // form clamps the position it reads instead).
  f.padInput =
      hasPadding(w) || (!f.flat && (width % f.tile != 0 || f.tileRows > 1));
  Var px("px"), py("py"), pc("pc"), pn("pn");
  f.padded = Func("padded");
  const auto &xs = s.inputs[0].shape;
  if (s.inputs[0].blocked()) {
    // nchw16c: the padded copy keeps the blocks (padded5), read at the
    // input channel's block and lane.
    f.blockedInput = true;
    int b = static_cast<int>(kLayoutBlock);
    Var pl("pl"), pb("pb");
    f.padded5 = Func("padded");
    Expr inside = px >= 0 && px < static_cast<int>(xs[3]) && py >= 0 &&
                  py < static_cast<int>(xs[2]);
    Expr value = in(pl, clamp(px, 0, static_cast<int>(xs[3]) - 1),
                    clamp(py, 0, static_cast<int>(xs[2]) - 1), pb, pn);
    f.padded5(pl, px, py, pb, pn) =
        f.padInput ? select(inside, value, 0.0f) : in(pl, px, py, pb, pn);
    f.padded(px, py, pc, pn) = f.padded5(pc % b, px, py, pc / b, pn);
  } else {
    f.padded(px, py, pc, pn) =
        f.padInput
            ? BoundaryConditions::constant_exterior(in, 0.0f)(px, py, pc, pn)
            : in(px, py, pc, pn);
  }
  f.r = RDom(0, static_cast<int>(w.kw), 0, static_cast<int>(w.kh), 0,
             static_cast<int>(wt[1]), "r");
  Var wo("wo"), wx("wx"), wy("wy"), wc("wc"), wb("wb"), oi("oi"), ob("ob");
  if (f.repack) {
    f.weightT(wo, wx, wy, wc, wb) = weight(wx, wy, wc, wb * f.lanes + wo);
  } else {
    f.weightT(wo, wx, wy, wc, wb) = weight(wo, wx, wy, wc, wb);
  }
  // Flat, the positions' last register tile is rounded up: it reads the
  // last position again, and its extra sums are never copied out.
  Expr p = min(f.p, positions - 1);
  Expr ox = f.flat ? p % width : Expr(f.x), oy = f.flat ? p / width : Expr(f.y);
  Expr ix = ox * static_cast<int>(w.sw) + f.r.x * static_cast<int>(w.dw) -
            static_cast<int>(w.padLeft);
  Expr iy = oy * static_cast<int>(w.sh) + f.r.y * static_cast<int>(w.dh) -
            static_cast<int>(w.padTop);
  Expr bias = inputs.size() == 3 ? inputs[2](ob * f.lanes + oi) : Expr(0.0f);
  Expr term =
      f.weightT(oi, f.r.x, f.r.y, f.r.z, ob) * f.padded(ix, iy, f.r.z, f.n);
  if (f.flat) {
    f.acc(oi, f.p, ob, f.n) = bias;
    f.acc(oi, f.p, ob, f.n) += term;
  } else {
    f.acc(oi, f.x, f.y, ob, f.n) = bias;
    f.acc(oi, f.x, f.y, ob, f.n) += term;
  }
  if (inputs.size() == 3) {
    f.inputs.push_back(inputs[2]);
  }
  Expr value = f.flat
                   ? f.acc(f.o % f.lanes, f.y * width + f.x, f.o / f.lanes, f.n)
                   : f.acc(f.o % f.lanes, f.x, f.y, f.o / f.lanes, f.n);
  if (s.outputs[0].blocked()) {
    // nchw16c: out(lane, x, y, block, n) straight from the accumulators'
    // channel vectors (the packing block is the layout's), the epilogue
    // inlined at the logical coordinates.
    if (f.lanes != static_cast<int>(kLayoutBlock)) {
      fail(s, "a blocked output needs weights packed in blocks of " +
                  std::to_string(kLayoutBlock));
    }
    f.blockedOutput = true;
    Func logical("logical");
    logical(f.x, f.y, f.o, f.n) =
        epilogue ? epilogue(value, {f.x, f.y, f.o, f.n}) : value;
    f.out(oi, f.x, f.y, ob, f.n) = logical(f.x, f.y, ob * f.lanes + oi, f.n);
    constrainOutput(f.out, s.outputs[0]);
    return f;
  }
  defineOutput(f.out, {f.x, f.y, f.o, f.n}, value, epilogue, s);
  return f;
}

// Target: x86-64 AVX-512 (16 lanes), 2 cores. Parallel tasks: (block of
// channelVectors vectors of output channels, chunk of output rows, image),
// 8 or more where the rows allow. A task's sums live over its rows while
// runs of kChannelRun input channels sweep them in register tiles of
// `tile` positions x the task's vectors (14 zmm for 7 x 2). Inside a run
// the window's taps are innermost (kx unrolled, then ky), then the run's
// channels: the packed weight [O/B, C, KH, KW, B] is read in its memory
// order, one sequential stream per channel vector, which the hardware
// prefetcher follows when the weights come from memory (batch 1: each
// weight is used by a few positions only). With the channels innermost the
// run's weights were read at a stride of KH*KW*B floats: on Zen 5, eight
// 512 -> 512 3x3 layers on 7x7 at batch 1 (weights cold) 7.40 -> 5.32 ms,
// one layer alone (weights in cache) 0.66 -> 0.59. (With kx unrolled and
// the channels innermost, Zen 4 kept 8 broadcasts live and spilled
// accumulators; kx unrolled and ky not, nothing spills.) The padded input
// is built once (root,
// parallel over planes); the output is copied out along x with the
// epilogue.
void scheduleChannelConv(ChannelConvFuncs &f, const KernelSpec &s,
                         const Target &target) {
  int vec = target.natural_vector_size<float>();
  const auto &os = s.outputs[0].shape;
  int images = static_cast<int>(os[0]);
  int tasksOverRows =
      static_cast<int>(outChannels(s)) / (f.lanes * f.channelVectors) * images;
  int height = static_cast<int>(os[2]), width = static_cast<int>(os[3]);
  int rowChunks = std::min(height, std::max(1, 8 / tasksOverRows));
  int rows = (height + rowChunks - 1) / rowChunks;
  Var oo("oo"), oi("oi"), yo("yo"), yi("yi"), chunk("chunk"), task("task");
  const auto &wt = s.inputs[1].shape;
  // The whole reduction one run of input channels (the stems: 3 channels
  // of 3x3 or 7x7 taps) on rows of a vector or more, copied out transposed
  // into NCHW: the sums of one output row at a time (14 KB for 32 channels
  // of 112), so that the copy-out reads them from L1, not the task's rows
  // (400 KB for ResNet's stem at batch 1) from L2. ResNet-18's 7x7 stem
  // (3 -> 64 on 112x112), `kiln bench --profile` on the Intel Xeon: 0.90
  // -> 0.79 ms at batch 1 (the task's rows 0.89-0.90).
  bool rowSums = channelRowSums(s, target);
  if (f.blockedOutput) {
    // (lane, x, y, block, n): a task's blocks and rows, stored as whole
    // channel vectors.
    std::vector<Var> v = f.out.args();
    Var bo("bo"), bi("bi");
    f.out.split(v[3], bo, bi, f.channelVectors)
        .split(v[2], yo, yi, rows, TailStrategy::ShiftInwards)
        .reorder(v[0], v[1], yi, bi, bo, yo, v[4])
        .fuse(bo, yo, chunk)
        .fuse(chunk, v[4], task)
        .vectorize(v[0]);
  } else {
    f.out.split(f.o, oo, oi, f.lanes * f.channelVectors)
        .split(f.y, yo, yi, rows, TailStrategy::ShiftInwards)
        .reorder(f.x, yi, oi, oo, yo, f.n)
        .fuse(oo, yo, chunk)
        .fuse(chunk, f.n, task);
  }
  if (worthParallelTasks(s)) {
    f.out.parallel(task);
  }
  if (f.blockedOutput) {
    // Stored as computed.
  } else if (f.flat) {
    // A task's positions (its rows, contiguous in NCHW) in vectors, each
    // a block of a vector of positions by the 16 channels of an
    // accumulator vector as below.
    Var ob("ob"), ol("ol"), p("p"), po("po"), pi("pi");
    int xw = std::min(vec, rows * width);
    f.out.split(oi, ob, ol, f.lanes)
        .fuse(f.x, yi, p)
        .split(p, po, pi, xw, TailStrategy::ShiftInwards)
        .reorder(pi, ol, po, ob, task)
        .vectorize(pi)
        .unroll(ol);
  } else if (width > 1 && width < vec) {
    // Rows narrower than a vector (7x7 and 14x14 planes): the copy-out
    // transposes the accumulators' channel vectors into rows. As one 2-D
    // vector (x fastest, then 16 channels), the acc reads are one dense
    // block shuffled in registers and the stores 16 rows, not 4-lane
    // gathers of stride 16: MobileNetV2's 960-channel 7x7 expansions at
    // batch 1 0.59 -> 0.46 ms, its 1280-channel layer 0.34 -> 0.30.
    Var ob("ob"), ol("ol");
    f.out.split(oi, ob, ol, f.lanes)
        .reorder(f.x, ol, yi, ob, task)
        .vectorize(f.x, width)
        .vectorize(ol);
  } else if (width >= vec) {
    // Rows of a vector or more: blocks of a vector of x by the 16 channels
    // of an accumulator vector, each channel's row vector stored with the
    // channels unrolled, so that LLVM reads the block's 16 accumulator
    // vectors densely and transposes them in registers; a row vector
    // alone read its 16 floats at a stride of 16 (a gather). Alternating
    // `kiln bench --profile` runs: MobileNetV2's stem (3 -> 32 on 112x112)
    // at batch 1 0.24-0.27 -> 0.15 ms alone, 0.26 -> 0.19 in the network;
    // ResNet-18's 1x1 stride-2 128-channel downsample at batch 8 0.69 ->
    // 0.59. Vectorizing the channels as well (one 256-lane vector) kept
    // most of the gathers: 0.21-0.22.
    Var ob("ob"), ol("ol"), xo("xo"), xi("xi");
    f.out.split(oi, ob, ol, f.lanes)
        .split(f.x, xo, xi, vec, TailStrategy::ShiftInwards)
        .reorder(xi, ol, xo, rowSums ? ob : yi, rowSums ? yi : ob, task)
        .vectorize(xi)
        .unroll(ol);
    // The block is copied first into a Func of a vector of x by the 16
    // channels at xo (1 KB, every index constant), so that it stays in
    // registers and LLVM transposes it with permutes: read straight from
    // acc, since the row sums it was 16 gathers again (slow on Zen 4),
    // or 16 scalar inserts per vector (session 55, docs/codegen.md).
    std::vector<Var> av = f.acc.args();
    f.acc.in(f.out).compute_at(f.out, xo).vectorize(av[0]).unroll(av[1]);
  } else if (int xw = vectorWidthFor(width, vec); xw > 1) {
    f.out.vectorize(f.x, xw, TailStrategy::ShiftInwards);
  }

  // (lane, x, y, block, n), or flat (lane, p, block, n).
  std::vector<Var> a = f.acc.args();
  Var block = f.flat ? a[2] : a[3];
  f.acc.compute_at(f.out, rowSums ? yi : task)
      .bound_extent(block, f.channelVectors)
      .vectorize(a[0]);
  RVar rzo("rzo"), rzi("rzi");
  Var xo("xo"), xi("xi");
  int run = channelRunFor(wt[1], wt[2] * wt[3]);
  // Row pairs (f.tileRows): the tile's second row inside its positions,
  // the rows rounded up over the padded input.
  Var ro("ro"), ri("ri");
  std::vector<VarOrRVar> order = {a[0], xi};
  if (f.tileRows > 1) {
    order.push_back(ri);
  }
  order.insert(order.end(), {block, f.r.x, f.r.y, rzi, xo});
  if (f.tileRows > 1) {
    order.push_back(ro);
    f.acc.update()
        .split(a[2], ro, ri, f.tileRows, TailStrategy::RoundUp)
        .unroll(ri);
  } else if (!f.flat) {
    order.push_back(a[2]);
  }
  order.push_back(rzo);
  f.acc.update()
      .split(f.r.z, rzo, rzi, run, TailStrategy::GuardWithIf)
      .split(a[1], xo, xi, f.tile, TailStrategy::RoundUp)
      .reorder(order)
      .vectorize(a[0])
      .unroll(xi)
      .unroll(block)
      .unroll(f.r.x);
  // No software prefetch of the next run's weights. On Zen 5 it won a
  // little (ResNet-18 at batch 1, 512 on 7x7 with the residual add 1.454 ->
  // 1.405 ms); on the Intel Xeon (family 6 model 167) the 72 prefetcht0 a
  // run issues at once (likely holding the line-fill buffers that the
  // run's own loads need) cost 1.9x: eight 512 -> 512 layers on 7x7 with
  // cold weights 5.81 ms without, 10.85 with (13.46 two runs ahead),
  // ResNet-18 11.1 against 14.9 ms.
  if (wt[1] * wt[2] * wt[3] <= kShortTaps) {
    // The whole reduction is one short run (the stems: 3 channels x 9
    // taps): unrolled, with no loop of 3 around 3 x 14 FMAs. MobileNetV2's
    // stem on 112x112 at batch 1: 0.27 -> 0.24 ms (0.24 with the channels
    // innermost).
    f.acc.update().unroll(f.r.y).unroll(rzi);
  }

  if (f.repack) {
    std::vector<Var> wv = f.weightT.args();
    f.weightT.compute_root().parallel(wv[4]).vectorize(wv[0]);
  }
  if (f.blockedInput && f.padInput) {
    // (lane, x, y, block, n): vectors of a block's lanes, planes in
    // parallel.
    std::vector<Var> pv = f.padded5.args();
    Var plane("plane");
    const auto &xs = s.inputs[0].shape;
    f.padded5.compute_root().fuse(pv[3], pv[4], plane).vectorize(pv[0]);
    parallelPlanes(f.padded5, plane,
                   (xs[2] + 2) * (xs[3] + 2) * kLayoutBlock);
  } else if (f.padInput) {
    std::vector<Var> pv = f.padded.args();
    Var plane("plane");
    f.padded.compute_root().fuse(pv[2], pv[3], plane);
    const auto &xs = s.inputs[0].shape;
    parallelPlanes(f.padded, plane, (xs[2] + 2) * (xs[3] + 2));
    if (xs[3] >= vec) {
      f.padded.vectorize(pv[0], vec, TailStrategy::GuardWithIf);
    }
  }
}

//===----------------------------------------------------------------------===//
// pointwise
//===----------------------------------------------------------------------===//

struct PointwiseConvFuncs {
  std::vector<ImageParam> inputs;
  Var x{"x"}, y{"y"}, o{"o"}, n{"n"}, p{"p"};
  RDom r; // input channel within the group
  Func acc{"acc"}, accOut{"acc_out"}, out{"out"};
};

// A 1x1 convolution at stride 1 without padding is a matrix product per
// image: out[o, p] = sum_c weight[o, c] * x[c, p] over the plane's
// positions p = y*W + x, which are contiguous in NCHW. Indexing by p makes
// the whole plane one vectorizable axis, with no copy of the input.
PointwiseConvFuncs definePointwiseConv(const KernelSpec &s,
                                       const std::vector<ImageParam> &inputs,
                                       const Epilogue &epilogue) {
  PointwiseConvFuncs f;
  const auto &wt = s.inputs[1].shape;
  int64_t groups = attrInt(s, "groups");
  int width = static_cast<int>(s.inputs[0].shape[3]);
  ImageParam in = inputs[0];
  ImageParam weight = inputs[1];
  f.inputs = {in, weight};
  int cg = static_cast<int>(wt[1]), og = static_cast<int>(wt[0] / groups);
  f.r = RDom(0, cg, "r");
  Expr c = groups == 1 ? Expr(f.r) : (f.o / og) * cg + f.r;
  if (inputs.size() == 3) {
    ImageParam b = inputs[2];
    f.inputs.push_back(b);
    f.acc(f.p, f.o, f.n) = b(f.o);
  } else {
    f.acc(f.p, f.o, f.n) = 0.0f;
  }
  f.acc(f.p, f.o, f.n) +=
      weight(0, 0, f.r, f.o) * in(f.p % width, f.p / width, c, f.n);
  f.accOut(f.p, f.o, f.n) = f.acc(f.p, f.o, f.n);
  Expr value = f.accOut(f.y * width + f.x, f.o, f.n);
  defineOutput(f.out, {f.x, f.y, f.o, f.n}, value, epilogue, s);
  return f;
}

// Output channels per register tile of 2 vectors of positions: 12 (24
// zmm accumulators; each input vector feeds 12 FMAs, 14 loads per 24) where
// they divide the channels, else 8 (16 zmm). MobileNetV2 at batch 8, its
// 14x14 layers (`kiln bench --profile`): the 576 -> 96 projections 1.198
// -> 1.144 ms (2 calls), 96 alone 0.378 -> 0.349; 24 channels on 56x56
// the same either way, and 32 in tiles of 12 (36 computed) 0.192 -> 0.204.
static int tileChannels(int channels) { return channels % 12 == 0 ? 12 : 8; }

// Target: x86-64 AVX-512 (16 lanes), 2 cores. Blocked like a matrix
// product (out = W x): the plane is cut into chunks of positions whose
// input panel (C x chunk floats) stays in L2, and each parallel (chunk,
// channel group, n) task runs every 8-channel block over its chunk, so the
// input is read from memory once (one task per channel block re-read the
// whole input per block: MobileNetV2's 144->24 projection at 56x56 ran at
// 65 GFLOP/s). Inside a block: register tiles of 2 vectors of positions x
// 8 output channels (16 zmm accumulators, each input vector feeding 8 FMAs
// with broadcast weights; 12 channels where they divide the count:
// tileChannels) with the channel reduction inside, then the block copied
// out with the epilogue.
void schedulePointwiseConv(PointwiseConvFuncs &f, const KernelSpec &s,
                           const Target &target) {
  int vec = target.natural_vector_size<float>();
  const auto &os = s.outputs[0].shape;
  int channels = static_cast<int>(os[1]);
  int plane = static_cast<int>(os[2] * os[3]);
  int batch = static_cast<int>(os[0]);
  int inputs = static_cast<int>(s.inputs[1].shape[1]);
  int pw = vectorWidthFor(plane, vec);
  constexpr int kTileVectors = 2;
  int tile = std::max(pw, 1) * kTileVectors;
  // Chunks: as few as keep the panel within kPanelBytes (half of L2; 128
  // KB split 7x7 and 14x14 planes needlessly: 1.3-2x slower there), of
  // equal size rounded up to whole tiles (the last one shifts inwards).
  constexpr int64_t kPanelBytes = 1024 * 1024;
  int64_t maxChunk = std::max<int64_t>(
      tile, kPanelBytes / (4 * static_cast<int64_t>(inputs)) / tile * tile);
  int chunks = static_cast<int>((plane + maxChunk - 1) / maxChunk);
  // One image: at least two chunks, position-major (below), as
  // fuseChannelTasks's strips; not on planes of fewer than 16 tiles,
  // where rounding to whole tiles would add work (14x14: 196 -> 256
  // positions, 0.8x).
  if (batch == 1 && plane >= 16 * tile) {
    chunks = std::max(chunks, 2);
  }
  auto chunkOf = [&](int count) {
    int c = (plane + count - 1) / count;
    return std::min(plane, (c + tile - 1) / tile * tile);
  };
  int chunk = chunkOf(chunks);
  chunks = (plane + chunk - 1) / chunk;
  // A plane that is cut at all is cut into chunks of about 7 tiles (224
  // positions), every output channel per task, in an even number of chunks
  // per image at batch 1 (one thread's half of the plane then ends where
  // the other's begins: no position computed by both, no imbalance; its
  // half of the plane is where the previous kernel's strips left it).
  // MobileNetV2 on 2 threads, alternating `kiln bench --profile`: at batch
  // 1 the 192 -> 32 projections on 28x28 0.199 -> 0.138 ms (2 calls), 144
  // -> 24 on 56x56 0.110 -> 0.103, 96 -> 16 on 112x112 0.131 -> 0.102; at
  // batch 8 (kernels of 2 images) 56x56 1.247 -> 0.870 ms (4 calls),
  // 112x112 0.870 -> 0.749. Whole 28x28 images at batch 8 (chunks of 224:
  // 0.925 -> 1.017 ms) stay whole.
  // Some planes have no even count at all down to one tile a chunk (68x68:
  // 145 tiles, every count from 21 up gives an odd number of chunks); they
  // keep the first count.
  constexpr int kChunkTiles = 7;
  bool smallChunks = chunks >= 2;
  if (smallChunks) {
    int first = std::max(
        chunks, (plane + kChunkTiles * tile - 1) / (kChunkTiles * tile));
    chunk = chunkOf(first);
    chunks = (plane + chunk - 1) / chunk;
    int tiles = (plane + tile - 1) / tile;
    for (int count = first + 1; batch == 1 && chunks % 2 != 0 &&
                                count <= tiles;
         ++count) {
      int next = chunkOf(count);
      if ((plane + next - 1) / next % 2 == 0) {
        chunk = next;
        chunks = (plane + next - 1) / next;
      }
    }
  }
  // Channel groups where chunks x batch alone would leave fewer than 8
  // tasks on 2 threads (7x7 and 14x14 planes at batch 1), which balance
  // better than 4 when one thread is late.
  int ob = std::min(channels, tileChannels(channels));
  int blocks = (channels + ob - 1) / ob;
  int groups =
      smallChunks
          ? 1
          : std::min(blocks, (8 + chunks * batch - 1) / (chunks * batch));
  int perGroup = (blocks + groups - 1) / groups;
  Var oo("oo"), oi("oi"), og("og"), xo("xo"), xi("xi"), task("task"),
      xy("xy");
  f.out.split(f.o, oo, oi, ob, TailStrategy::ShiftInwards)
      .fuse(f.x, f.y, xy)
      .split(xy, xo, xi, chunk, TailStrategy::ShiftInwards)
      .split(oo, og, oo, perGroup, TailStrategy::ShiftInwards)
      .reorder(xi, oi, oo, og, xo, f.n)
      .fuse(og, xo, task)
      .fuse(task, f.n, task);
  if (worthParallelTasks(s)) {
    f.out.parallel(task);
  }
  if (pw > 1) {
    f.out.vectorize(xi, pw, TailStrategy::ShiftInwards);
  }
  f.accOut.compute_at(f.out, oo);
  schedulePositionTiles(f.accOut, f.acc, {f.r.x}, chunk, kTileVectors, ob,
                        false, target);
}

// A pointwise convolution over one image's small plane (fewer than 16
// register tiles: 14x14, 7x7) whose input a kernel split by channel groups
// wrote (every small-plane form at batch 1): each of 2 threads would read
// every input channel, half of them from the other core's cache. Instead
// the reduction is cut in two halves of the input channels, as the
// contiguous task shares of the kernel before split them (2 threads: each
// reads the half it wrote), each into its own partial sum; the epilogue
// then adds the two (a remote read of half of one partial: 96 x 196
// floats / 2, against 576 x 196 / 2 input floats).
bool usePointwiseHalves(const KernelSpec &s, const Target &target) {
  const auto &os = s.outputs[0].shape;
  const auto &wt = s.inputs[1].shape;
  int vec = target.natural_vector_size<float>();
  int64_t plane = os[2] * os[3];
  return !target.has_gpu_feature() && os[0] == 1 &&
         attrInt(s, "groups") == 1 && wt[1] % (2 * vec) == 0 &&
         plane < 16 * 2 * vec && worthParallelTasks(s);
}

// Target: x86-64 AVX-512, 2 cores. partial(p, o, half) in register tiles
// of 2 vectors of positions x 8 output channels (schedulePositionTiles, as
// schedulePointwiseConv) per task of (half, output channel group), half-major; then the output,
// bias + both partials through the epilogue, per group of output channels.
Func pointwiseHalves(const KernelSpec &s, const std::vector<ImageParam> &in,
                     const Epilogue &epilogue, const Target &target) {
  const auto &os = s.outputs[0].shape;
  int width = static_cast<int>(os[3]);
  int plane = static_cast<int>(os[2] * os[3]);
  int channels = static_cast<int>(os[1]);
  int half = static_cast<int>(s.inputs[1].shape[1] / 2);
  Var x("x"), y("y"), o("o"), n("n"), p("p"), k("k");
  RDom r(0, half, "r");
  Func part("part"), partOut("part_out"), out("out");
  Expr c = k * half + r;
  part(p, o, n, k) = 0.0f;
  part(p, o, n, k) += in[1](0, 0, c, o) * in[0](p % width, p / width, c, n);
  partOut(p, o, n, k) = part(p, o, n, k);
  Expr sum = partOut(y * width + x, o, n, 0) + partOut(y * width + x, o, n, 1);
  if (in.size() == 3) {
    sum = in[2](o) + sum;
  }
  defineOutput(out, {x, y, o, n}, sum, epilogue, s);

  int ob = std::min(channels, 8);
  int blocks = (channels + ob - 1) / ob;
  // 4 tasks per half (8 on 2 threads), as the channel groups of
  // schedulePointwiseConv on small planes.
  int groups = std::min(blocks, 4);
  int perGroup = (blocks + groups - 1) / groups;
  schedulePositionTiles(partOut, part, {r.x}, plane, 2, ob, false, target);
  Var po("po"), pi("pi"), oo("oo"), oi("oi"), og("og"), task("task");
  partOut.compute_root()
      .split(o, oo, oi, ob, TailStrategy::ShiftInwards)
      .split(oo, og, oo, perGroup, TailStrategy::ShiftInwards)
      .reorder(pi, oi, po, oo, og, k, n)
      .fuse(og, k, task)
      .fuse(task, n, task)
      .parallel(task);

  Var xy("xy"), co("co"), ci("ci");
  int cb = std::min(channels, 16);
  out.fuse(x, y, xy)
      .split(o, co, ci, cb, TailStrategy::ShiftInwards)
      .reorder(xy, ci, co, n)
      .fuse(co, n, task)
      .parallel(task);
  int pw = vectorWidthFor(plane, target.natural_vector_size<float>());
  if (pw > 1) {
    out.vectorize(xy, pw, TailStrategy::ShiftInwards);
  }
  return out;
}

enum class ConvForm { Rows, Planes, Pointwise };

// Measured on this machine (2 threads, AVX-512), batch 1 and 8, per-layer
// times in docs/codegen.md: planes win on the spatial (KH*KW > 1)
// convolutions at stride 1 (ResNet's 3x3 layers: 1.2x at 56x56, 1.3x at
// 14x14, 2.7x at 7x7) and on small strided planes, depthwise ones too
// (MobileNetV2's 384 channels on 14x14: 0.055 -> 0.028 ms at batch 1, 0.32
// -> 0.23 at batch 8); rows win on 1x1 convolutions, on depthwise ones of
// 28x28 and up and on wide strided ones, whose rows already fill vectors.
ConvForm chooseConvForm(const KernelSpec &s) {
  const auto &wt = s.inputs[1].shape;
  std::vector<int64_t> strides = attrInts(s, "strides", 2);
  bool spatial = wt[2] * wt[3] > 1;
  bool unitStride = strides[0] == 1 && strides[1] == 1;
  Window w = readWindow(s, wt[2], wt[3], true);
  if (!spatial && unitStride && !hasPadding(w)) {
    return ConvForm::Pointwise;
  }
  bool smallPlane = s.outputs[0].shape[3] < 20;
  if (isDepthwise(s) && spatial && smallPlane) {
    return ConvForm::Planes;
  }
  // Strided, few input channels and a window of 5x5 or more (ResNet's 7x7
  // stem, 3 channels): the stride phases make every tap a dense load, where
  // rows deinterleave per tap. At batch 8, alternating: 12.1-12.9 -> 10.2-10.3
  // ms. MobileNetV2's 3x3 stem (27 taps) ran 1.30 -> 1.57 ms in planes.
  bool stem = wt[1] < 16 && wt[2] * wt[3] >= 25;
  return attrInt(s, "groups") == 1 && spatial &&
                 (unitStride || smallPlane || stem)
             ? ConvForm::Planes
             : ConvForm::Rows;
}

// Depthwise conv2d in nchw16c (input and output blocked, docs/layout.md):
// out(lane, x, y, block, n) = bias + sum over the taps of w(c) * the input
// at the tap, channel c = block * 16 + lane: the channels are the vector,
// so every lane works on any plane (7x7 too) and nothing is transposed.
// Target: x86-64 AVX-512 (16 lanes), 2 cores. Parallel tasks: (block,
// image); per task the zero-padded plane of the block (16 lanes per pixel)
// and its tap weights, then register tiles of one vector x `tile` output
// positions along the row, the taps unrolled inside.
Func blockedDepthwise(const KernelSpec &s, const std::vector<ImageParam> &in,
                      const Epilogue &epilogue, const Target &target) {
  const auto &wt = s.inputs[1].shape, &xs = s.inputs[0].shape;
  const auto &os = s.outputs[0].shape;
  Window w = readWindow(s, wt[2], wt[3], true);
  int b = static_cast<int>(kLayoutBlock);
  ImageParam x = in[0], weight = in[1];
  Var l("lane"), ox("x"), oy("y"), cb("block"), n("n"), kx("kx"), ky("ky");
  int xw = static_cast<int>(xs[3]), xh = static_cast<int>(xs[2]);
  Func padded("padded");
  if (hasPadding(w)) {
    Expr inside = ox >= 0 && ox < xw && oy >= 0 && oy < xh;
    padded(l, ox, oy, cb, n) =
        select(inside,
               x(l, clamp(ox, 0, xw - 1), clamp(oy, 0, xh - 1), cb, n), 0.0f);
  } else {
    padded(l, ox, oy, cb, n) = x(l, ox, oy, cb, n);
  }
  Func taps("weight_v");
  taps(l, kx, ky, cb) = weight(kx, ky, 0, cb * b + l);
  RDom r(0, static_cast<int>(wt[3]), 0, static_cast<int>(wt[2]), "r");
  Func acc("acc");
  acc(l, ox, oy, cb, n) = in.size() == 3 ? in[2](cb * b + l) : Expr(0.0f);
  acc(l, ox, oy, cb, n) +=
      taps(l, r.x, r.y, cb) *
      padded(l, ox * static_cast<int>(w.sw) + r.x * static_cast<int>(w.dw) -
                    static_cast<int>(w.padLeft),
             oy * static_cast<int>(w.sh) + r.y * static_cast<int>(w.dh) -
                 static_cast<int>(w.padTop),
             cb, n);
  Var x4("x4"), y4("y4"), o4("o4"), n4("n4");
  Expr value = acc(o4 % b, x4, y4, o4 / b, n4);
  Func logical("logical"), out("out");
  logical(x4, y4, o4, n4) =
      epilogue ? epilogue(value, {x4, y4, o4, n4}) : value;
  out(l, ox, oy, cb, n) = logical(ox, oy, cb * b + l, n);
  constrainOutput(out, s.outputs[0]);

  int tile = channelTileFor(static_cast<int>(os[3]));
  Var xo("xo"), xi("xi"), task("task");
  out.split(ox, xo, xi, tile, TailStrategy::ShiftInwards)
      .reorder(l, xi, xo, oy, cb, n)
      .fuse(cb, n, task)
      .vectorize(l)
      .unroll(xi);
  if (s.outputs[0].numElements() >= kParallelGrain / 4) {
    out.parallel(task);
  }
  acc.compute_at(out, xo).vectorize(l).unroll(ox);
  acc.update()
      .reorder(l, ox, r.x, r.y, oy, cb, n)
      .vectorize(l)
      .unroll(ox)
      .unroll(r.x)
      .unroll(r.y);
  taps.compute_at(out, task).vectorize(l);
  if (hasPadding(w)) {
    padded.compute_at(out, task).vectorize(l);
  }
  return out;
}

// conv2d's output stage; with `tail` (validatePoolTailAnchor), the chain's
// value pooled.
Func conv2dOutput(const KernelSpec &s, const std::vector<ImageParam> &in,
                  const Epilogue &epilogue, const Target &target,
                  const KernelSpec *tail = nullptr) {
  refuseBlockedOnGpu(s, target);
  if (tail && target.has_gpu_feature()) {
    // The value in the GPU register tiles at the root, then the pool.
    Func value = conv2dOutput(s, in, epilogue, target);
    value.compute_root();
    std::vector<Var> v = value.args();
    Func out = definePoolTail(*tail, value, v);
    scheduleElementwiseGpu(out, v);
    return out;
  }
  if (tail) {
    // The planes form (isPoolTail's conv2d): each task pools its planes.
    validatePoolTailAnchor(s);
    PlaneConvFuncs f = definePlaneConv(s, in, epilogue, target, tail);
    schedulePlaneConv(f, s, target);
    return f.out;
  }
  if (s.inputs[0].blocked() && !hasPackedWeight(s)) {
    return blockedDepthwise(s, in, epilogue, target);
  }
  if (target.has_gpu_feature()) {
    // One group: the input staged in shared memory where a chunk fits.
    if (attrInt(s, "groups") == 1) {
      WindowSum sum = convWindowSum(s, in);
      if (WindowStaging plan = planWindowStaging(sum, target); plan.chunk) {
        Func out("out");
        int lastChannel = static_cast<int>(outChannels(s)) - 1;
        stagedWindowSumGpu(
            sum, plan, out,
            [&](Expr c) {
              return in.size() == 3 ? in[2](min(c, lastChannel)) : Expr(0.0f);
            },
            [&](Expr value, const std::vector<Var> &v) {
              defineOutput(out, v, value, epilogue, s);
            });
        return out;
      }
    }
    // The padding at the root, the epilogue inlined.
    RowConvFuncs f = defineRowConv(s, in, epilogue, /*gpu=*/true);
    const auto &wt = s.inputs[1].shape;
    convTilesGpu(f.out, f.acc, f.x, f.y, f.o, f.n, f.r, s.outputs[0].shape,
                 wt[2] * wt[3], attrInt(s, "groups") == 1);
    return f.out;
  }
  if (useChannelForm(s, target)) {
    ChannelConvFuncs f = defineChannelConv(s, in, epilogue, target);
    scheduleChannelConv(f, s, target);
    return f.out;
  }
  if (chooseConvForm(s) == ConvForm::Planes) {
    PlaneConvFuncs f = definePlaneConv(s, in, epilogue, target, nullptr);
    schedulePlaneConv(f, s, target);
    return f.out;
  }
  if (chooseConvForm(s) == ConvForm::Pointwise) {
    if (usePointwiseHalves(s, target)) {
      return pointwiseHalves(s, in, epilogue, target);
    }
    PointwiseConvFuncs f = definePointwiseConv(s, in, epilogue);
    schedulePointwiseConv(f, s, target);
    return f.out;
  }
  RowConvFuncs f = defineRowConv(s, in, epilogue, /*gpu=*/false);
  scheduleRowConv(f, s, target);
  return f.out;
}

Kernel buildConv2d(const KernelSpec &s, const Target &target) {
  // (conv2dSupportsBlocked: a blocked tensor reaches only the forms below.)
  std::vector<ImageParam> in = layerInputs(s, {"x", "weight", "bias"});
  return {std::vector<Argument>(in.begin(), in.end()),
          conv2dOutput(s, in, Epilogue(), target)};
}

} // namespace

void validatePoolTailAnchor(const KernelSpec &s) {
  const auto &wt = s.inputs[1].shape;
  if (hasPackedWeight(s) || attrInt(s, "groups") != 1 ||
      attrInts(s, "strides", 2) != std::vector<int64_t>{1, 1} ||
      wt[2] * wt[3] <= 1 || s.inputs[0].blocked() || s.outputs[0].blocked()) {
    fail(s, "a conv2d ending in a pooling tail must be in the planes form: "
            "groups 1, an unpacked weight with a window larger than 1x1, "
            "unit strides, NCHW (kiln::ir::isPoolTail)");
  }
}

Func buildConv2dWithEpilogue(const KernelSpec &s,
                             const std::vector<ImageParam> &in,
                             const Epilogue &epilogue, const Target &target,
                             const KernelSpec *tail) {
  return s.op == "conv2d_winograd"
             ? buildConv2dWinogradWithEpilogue(s, in, epilogue, target, tail)
             : conv2dOutput(s, in, epilogue, target, tail);
}

//===----------------------------------------------------------------------===//
// pointwise into depthwise (kiln-fuse's producer form)
//===----------------------------------------------------------------------===//

void validatePointwiseDepthwise(const KernelSpec *pw, const KernelSpec &dw,
                                const KernelSpec *projection) {
  if (pw) {
    validateConv2d(*pw);
  }
  validateConv2d(dw);
  if (projection) {
    // The projection form computes rows of the depthwise value: planes of
    // 20 columns or more (the rows form), output rows of a vector or more.
    const KernelSpec &pr = *projection;
    validateConv2d(pr);
    const auto &pwt = pr.inputs[1].shape;
    if (hasPackedWeight(pr) || pwt[2] != 1 || pwt[3] != 1 ||
        attrInt(pr, "groups") != 1 ||
        attrInts(pr, "strides", 2) != std::vector<int64_t>{1, 1} ||
        hasPadding(readWindow(pr, 1, 1, true)) ||
        pwt[1] != dw.outputs[0].shape[1]) {
      fail(pr, "a projection must be a 1x1 conv2d at stride 1 without "
               "padding, groups or a packed weight, reading every channel of "
               "the depthwise conv2d");
    }
    if (dw.inputs[0].shape[3] < 20 || dw.outputs[0].shape[3] < 16) {
      fail(pr, "a projection needs an expanded plane of 20 columns or more "
               "and depthwise output rows of 16 or more, got " +
                   std::to_string(dw.inputs[0].shape[3]) + " and " +
                   std::to_string(dw.outputs[0].shape[3]));
    }
  } else if (!pw) {
    fail(dw, "a depthwise conv2d without a 1x1 producer needs a projection");
  }
  if (pw) {
    const auto &w = pw->inputs[1].shape;
    std::vector<int64_t> strides = attrInts(*pw, "strides", 2);
    if (hasPackedWeight(*pw) || w[2] != 1 || w[3] != 1 ||
        attrInt(*pw, "groups") != 1 || strides[0] != 1 || strides[1] != 1 ||
        hasPadding(readWindow(*pw, 1, 1, true))) {
      fail(*pw, "a producer must be a 1x1 conv2d at stride 1 without "
                "padding, groups or a packed weight");
    }
  }
  if (hasPackedWeight(dw) || !isDepthwise(dw) ||
      dw.inputs[0].shape[1] != dw.inputs[1].shape[0]) {
    fail(dw, "the consumer of a producer must be a depthwise conv2d "
             "(weight [C, 1, KH, KW], groups C)");
  }
}

// kiln-fuse's projection: out = output(bias + sum over e of w(e, o) *
// value(x, y, e, n)), a 1x1 convolution over the depthwise value computed
// in cache, `rows` output rows at a time (the loop `yo`). Target: x86-64
// AVX-512, 2 cores. Parallel tasks (`task`): strips of row pairs of one
// image (one per image from 2 images); per row, register tiles of 2
// vectors of positions x 8 output channels (16 zmm; rows of one vector:
// both rows of the pair, below) with the reduction over the depthwise
// channels inside, reading the row of all of them (56 x 144 floats: 32
// KB, in L1).
Func projectDepthwiseRows(const Projection &proj, Func value, int rows,
                          Var task, Var yo, const Target &target) {
  const KernelSpec &s = proj.spec;
  const auto &os = s.outputs[0].shape;
  int channels = static_cast<int>(s.inputs[1].shape[1]);
  int outChannels = static_cast<int>(os[1]);
  Var x("x"), y("y"), o("o"), n("n");
  RDom re(0, channels, "re");
  Func acc("project_acc"), out("project");
  acc(x, y, o, n) = proj.in.size() == 2 ? proj.in[1](o) : Expr(0.0f);
  acc(x, y, o, n) += proj.in[0](0, 0, re, o) * value(x, y, re, n);
  defineOutput(out, {x, y, o, n}, acc(x, y, o, n), proj.output, s);

  int vec = target.natural_vector_size<float>();
  int width = static_cast<int>(os[3]);
  int tile = width >= 2 * vec ? 2 * vec : vec;
  int ob = std::min(outChannels, 8);
  // Rows narrower than 2 vectors (28 columns): tiles of 1 vector x both
  // rows of the pair x 8 channels (16 zmm, 2 loads per 16 FMAs), where 1
  // vector x 8 channels read 9 per 8. MobileNetV2's 32 -> 192 -> 32 block
  // on 28x28 at batch 8 (`kiln bench --profile` of the block) 0.834 ->
  // 0.785 ms; 16 channels of one row 0.819.
  bool rowTiles = tile == vec && rows > 1;
  // Strips: 1 per image from 4 images, else 2 (4 for one image of 16 row
  // pairs or more): an even number of tasks for 2 threads (3 strips of one
  // image took 1.5x) with few halo rows recomputed.
  int pairs = static_cast<int>((os[2] + rows - 1) / rows);
  int strips = os[0] >= 2 || pairs < 4 ? 1 : pairs >= 16 ? 4 : 2;
  Var yi("yi"), ys("ys"), xo("xo"), xi("xi"), oo("oo"), oi("oi");
  out.split(y, yo, yi, rows, TailStrategy::ShiftInwards)
      .split(yo, ys, yo, (pairs + strips - 1) / strips,
             TailStrategy::ShiftInwards)
      .split(x, xo, xi, tile, TailStrategy::ShiftInwards)
      .split(o, oo, oi, ob, TailStrategy::ShiftInwards);
  if (rowTiles) {
    out.reorder(xi, yi, oi, xo, oo, yo, ys, n).unroll(yi);
  } else {
    out.reorder(xi, oi, xo, oo, yi, yo, ys, n);
  }
  out.fuse(ys, n, task)
      .parallel(task)
      .vectorize(xi, vec)
      .unroll(oi);
  acc.compute_at(out, xo);
  Var ax("ax"), al("al");
  Stage update = acc.update();
  update.split(x, ax, al, vec);
  // AVX2: sub-tiles of the 2 vectors (or rows) x 8 channels (splitSubTiles).
  std::vector<VarOrRVar> order = {al, ax, y, o, re};
  for (const VarOrRVar &v :
       splitSubTiles(update, rowTiles ? &y : &ax, o,
                     rowTiles ? rows : tile / vec, ob, target, true)) {
    order.push_back(v);
  }
  acc.split(x, ax, al, vec);
  for (Stage stage : {Stage(acc), update}) {
    stage.vectorize(al).unroll(ax).unroll(o);
    if (rowTiles) {
      stage.unroll(y);
    }
  }
  update.reorder(order);
  return out;
}

// Target: x86-64 AVX-512 (16 lanes), 2 cores. The depthwise convolution is
// scheduled as the rows form (register tiles of 1 vector x 2 rows x 8
// channels per parallel task of 8 channels of one image; 6 on AVX2); its
// input, the 1x1 convolution's value through the producer chain, zero
// outside the image, is computed per task row by row in a sliding window (store_at the
// task, compute_at the tile row: each row once, a few rows of 8 channels
// in cache), each row in register tiles of 2 vectors x 8 channels (each
// input vector feeds 8 FMAs); at stride 2 and up, with output rows of a
// vector or more, the rows are held as their stride phases. Planes
// narrower than 20 (and output rows narrower than a vector): tasks of 12 or
// 8 channels (tileChannels), the 1x1 convolution over the task's whole
// flattened plane, and at stride 1 the depthwise one over the padded plane
// flattened with a row pitch (below).
// The expanded tensor is never written.
Func buildPointwiseDepthwise(const KernelSpec *pw,
                             const std::vector<ImageParam> &pin,
                             const Epilogue &producer, const KernelSpec &dw,
                             const std::vector<ImageParam> &din,
                             const Epilogue &epilogue, const Target &target,
                             const Projection *projection) {
  const auto &xs = pw ? pw->inputs[0].shape : dw.inputs[0].shape;
  int cin = static_cast<int>(xs[1]);
  int height = static_cast<int>(xs[2]), width = static_cast<int>(xs[3]);
  Var x("x"), y("y"), c("c"), n("n");

  // The 1x1 convolution: a register tile per call of `tile`, its row per
  // call of `row`, then the producer chain and the zero exterior.
  // Planes narrower than 20 (14x14, 7x7) are computed whole per task,
  // flattened (position p = y * W + x): rows would not fill vectors. So
  // are wider planes whose depthwise output rows are narrower than a vector
  // (at stride 2: 28 -> 14), where the rows form's tiles of half vectors
  // ran slower: MobileNetV2's 192 channels on 28 -> 14 (`kiln bench
  // --profile`) 0.479-0.483 -> 0.411-0.422 ms at batch 8, 0.074-0.075 ->
  // 0.067-0.068 at batch 1.
  // Without a 1x1 convolution (`pw` null: a depthwise conv2d and its
  // projection), the depthwise reads the kernel input pin[0].
  bool flat = width < 20 ||
              (!projection && dw.outputs[0].shape[3] <
                                  target.natural_vector_size<float>());
  if (flat && projection) {
    fail(dw, "a projection needs planes of 20 columns or more");
  }
  Var p("p");
  Func tile("expand_tile"), row("expand_row"), value("expand_value");
  RDom rc(0, cin, "rc");
  Expr bias = pin.size() == 3 ? pin[2](c) : Expr(0.0f);
  if (!pw) {
    if (flat || !projection) {
      fail(dw, "a depthwise conv2d without a 1x1 producer fuses only with "
               "its projection, on planes of 20 columns or more");
    }
    value(x, y, c, n) = pin[0](x, y, c, n);
  } else if (flat) {
    tile(p, c, n) = bias;
    tile(p, c, n) += pin[1](0, 0, rc, c) * pin[0](p % width, p / width, rc, n);
    row(p, c, n) = tile(p, c, n);
    value(x, y, c, n) = row(y * width + x, c, n);
  } else {
    tile(x, y, c, n) = bias;
    tile(x, y, c, n) += pin[1](0, 0, rc, c) * pin[0](x, y, rc, n);
    row(x, y, c, n) = tile(x, y, c, n);
    value(x, y, c, n) = row(x, y, c, n);
  }
  if (pw && producer) {
    Func chained("expand_chain");
    chained(x, y, c, n) = producer(value(x, y, c, n), {x, y, c, n});
    value = chained;
  }
  // Flat (the task's whole plane), zeros and the value's rows copied in:
  // as a select of the clamped flattened value per element it was 15% of
  // MobileNetV2's 576-channel 14 -> 7 producer (Halide's profiler).
  RDom rp(0, width, 0, height, "rp");
  Func padded("expand_plane");
  if (flat) {
    padded(x, y, c, n) = 0.0f;
    padded(rp.x, rp.y, c, n) = value(rp.x, rp.y, c, n);
  } else {
    padded = BoundaryConditions::constant_exterior(value, 0.0f,
                                                   {{0, width}, {0, height}});
  }

  // The depthwise convolution over it.
  const auto &wt = dw.inputs[1].shape;
  Window w = readWindow(dw, wt[2], wt[3], true);
  RDom rk(0, static_cast<int>(w.kw), 0, static_cast<int>(w.kh), "rk");
  Func acc("acc"), out("out");
  int vec = target.natural_vector_size<float>();
  const auto &os = dw.outputs[0].shape;
  int channels = static_cast<int>(os[1]);
  // Rows: tasks of cb channels, register tiles of 2 output rows x cb
  // channels of depthwise sums and of 2 vectors x cb channels of the 1x1
  // convolution's, each FMA a broadcast weight: 8 channels, or where 2 x 8
  // does not fit the registers (AVX2) 6. On AVX2, MobileNetV2 at batch 8
  // (`kiln bench --profile`) 36.9 -> 35.2 ms: its 144-channel 56x56 pairs
  // 2.38 -> 2.02 ms, the 32 -> 192 -> 32 blocks on 28x28 3.38 -> 2.99; one
  // 144-channel pair of 2 images 0.568 ms in 8 channels, 0.490 in 6, 0.541
  // in 4, 0.577 in 12.
  int cb = std::min(channels, flat ? tileChannels(channels)
                                   : registerTileWidth(2, 8, target, true));
  Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), co("co"), ci("ci"), task("task");
  // The flattened 1x1 convolution of a narrow plane: the task's whole plane
  // (12 channels where they divide the count, else 8: tileChannels) in
  // register tiles of 2 vectors of positions x the task's channels (24 or
  // 16 zmm), 1 vector on planes under 2. A 14x14 plane is 13 vectors, 14
  // in pairs; tiles of 1 vector x 16 channels (17 loads per 16 FMAs) had
  // won over 2 x 8 on Zen 5 (session 12); on the Xeon of session 35,
  // MobileNetV2's blocks at batch 8 (`kiln bench --profile` of one block,
  // with the depthwise change below), the producer of 576 channels on 14x14
  // 0.748 ms in 1 x 16 -> 0.706 in 2 x 8 -> 0.668 in 2 x 12; 384 channels
  // 0.369 -> 0.349 -> 0.338 (24 channels a task: 0.687 and 0.343).
  auto scheduleFlatRow = [&] {
    int positions = width * height;
    int pt = std::min(positions, positions >= 2 * vec ? 2 * vec : vec);
    int pv = std::min(pt, vec);
    Var po("po"), pi("pi"), tq("tq");
    row.compute_at(out, task)
        .split(p, po, pi, pt, TailStrategy::ShiftInwards)
        .reorder(pi, c, po, n)
        .unroll(c, cb, TailStrategy::GuardWithIf)
        .vectorize(pi, pv);
    tile.compute_at(row, po);
    tile.split(p, tq, p, pv).vectorize(p).unroll(tq);
    Stage update = tile.update();
    update.split(p, tq, p, pv);
    std::vector<VarOrRVar> order = {p, tq, c, rc};
    for (const VarOrRVar &v :
         splitSubTiles(update, &tq, c, pt / pv, cb, target, true)) {
      order.push_back(v);
    }
    order.push_back(n);
    update.reorder(order).vectorize(p).unroll(tq).unroll(c);
  };
  Expr depthwiseBias = din.size() == 2 ? din[1](c) : Expr(0.0f);
  if (flat && w.sh == 1 && w.sw == 1) {
    // Stride 1 on a narrow plane, as conv2d's planes form: the padded value
    // flattened with row pitch P (the padded width), so that output
    // position q = y * P + x is one vectorizable axis and tap (kx, ky) the
    // constant offset ky * dh * P + kx * dw (rows of 14 would fill half
    // vectors). Per parallel task of 12 or 8 channels of one image: the
    // flattened padded plane (a gather per vector, once), then per channel
    // the taps over groups of vectors of positions (below), copied out
    // without the pitch.
    int pitch = width + static_cast<int>(w.padLeft + w.padRight);
    Var q("q");
    Func flatPadded("expand_padded");
    // Zeros, then the value's rows copied in as dense vectors. Computed as
    // padded(q % pitch, q / pitch), each vector was a gather: 24-30% of
    // MobileNetV2's 384- and 576-channel producers on 14x14 (Halide's
    // profiler, batch 8).
    flatPadded(q, c, n) = 0.0f;
    flatPadded((rp.y + static_cast<int>(w.padTop)) * pitch + rp.x +
                   static_cast<int>(w.padLeft),
               c, n) = value(rp.x, rp.y, c, n);
    acc(q, c, n) = depthwiseBias;
    acc(q, c, n) += din[0](rk.x, rk.y, 0, c) *
                    flatPadded(q + rk.y * static_cast<int>(w.dh) * pitch +
                                   rk.x * static_cast<int>(w.dw),
                               c, n);
    defineOutput(out, {x, y, c, n}, acc(y * pitch + x, c, n), epilogue, dw);
    int vw = vectorWidthFor(static_cast<int>(os[3]), vec);
    out.split(c, co, ci, cb, TailStrategy::ShiftInwards)
        .reorder(x, y, ci, co, n)
        .fuse(co, n, task)
        .parallel(task);
    if (vw > 1) {
      out.vectorize(x, vw, TailStrategy::ShiftInwards);
    }
    Var qo("qo"), qi("qi");
    acc.compute_at(out, task).vectorize(q, vec, TailStrategy::RoundUp);
    // The taps outside a group of up to 8 vectors of positions (8
    // independent accumulators; one accumulator per vector through its 9
    // taps waited on each FMA's latency): 14 vectors (14x14) in 2 groups of
    // 7, 1 tap's broadcast weight per 7 FMAs. The producer of 576 channels
    // on 14x14 at batch 8 0.776 -> 0.737 ms, 384 0.394 -> 0.372 (groups of
    // 2: 0.761, 4: 0.754, 14: 0.755).
    int qvectors = static_cast<int>((os[2] * pitch + vec - 1) / vec);
    int groups = (qvectors + 7) / 8;
    int group = (qvectors + groups - 1) / groups;
    Var qg("qg");
    acc.update()
        .split(q, qo, qi, vec, TailStrategy::RoundUp)
        .split(qo, qg, qo, group, TailStrategy::RoundUp)
        .reorder(qi, qo, rk.x, rk.y, qg, c, n)
        .vectorize(qi)
        .unroll(qo)
        .unroll(rk.x)
        .unroll(rk.y);
    flatPadded.compute_at(out, task).vectorize(q, vec,
                                               TailStrategy::GuardWithIf);
    flatPadded.update().reorder(rp.x, rp.y, c, n);
    vectorizeRowCopy(flatPadded.update(), rp.x, target);
    scheduleFlatRow();
    return out;
  }
  // Strided rows: the padded value's row held as its stride phases,
  // phased(j, phase) = padded(sw * j + phase - padLeft), so that tap kx
  // reads phase (kx * dw) % sw at j = x + (kx * dw) / sw, a dense vector
  // (the unrolled taps fold both to constants). The deinterleave happens
  // once per expanded value instead of once per tap. MobileNetV2's strided
  // pairs at batch 8 (8 calls each, alternating runs): 96 channels on
  // 112 -> 56, 2.94-2.98 -> 2.55-2.57 ms; 144 on 56 -> 28, 1.40-1.42 ->
  // 1.33. Output rows narrower than a vector stay as they were (192 on 28
  // -> 14: 0.57 -> 0.72 ms in phases).
  int sw = static_cast<int>(w.sw), dwx = static_cast<int>(w.dw);
  bool phasedRows = !flat && sw > 1 && os[3] >= vec;
  Expr rowY = y * static_cast<int>(w.sh) + rk.y * static_cast<int>(w.dh) -
              static_cast<int>(w.padTop);
  Var j("j"), phase("phase");
  Func phased("expand_phased");
  acc(x, y, c, n) = depthwiseBias;
  if (phasedRows) {
    phased(j, phase, y, c, n) =
        padded(j * sw + phase - static_cast<int>(w.padLeft), y, c, n);
    acc(x, y, c, n) += din[0](rk.x, rk.y, 0, c) *
                       phased(x + rk.x * dwx / sw, rk.x * dwx % sw, rowY, c, n);
  } else {
    acc(x, y, c, n) +=
        din[0](rk.x, rk.y, 0, c) *
        padded(x * sw + rk.x * dwx - static_cast<int>(w.padLeft), rowY, c, n);
  }
  int vw = vectorWidthFor(static_cast<int>(os[3]), vec);
  int yb = std::min(static_cast<int>(os[2]), 2);
  // The kernel's output: the depthwise value, or its projection, whose
  // loops (task, yo: a pair of output rows) the expanded rows slide along.
  Func kernelOut = out;
  Var dyo("dyo"), rowPairs = projection ? dyo : yo;
  if (projection) {
    out(x, y, c, n) = epilogue(acc(x, y, c, n), {x, y, c, n});
    kernelOut = projectDepthwiseRows(*projection, out, yb, task, yo, target);
    out.compute_at(kernelOut, yo);
  } else {
    defineOutput(out, {x, y, c, n}, acc(x, y, c, n), epilogue, dw);
  }
  out.split(x, xo, xi, vw, TailStrategy::ShiftInwards)
      .split(y, rowPairs, yi, yb, TailStrategy::ShiftInwards)
      .split(c, co, ci, cb, TailStrategy::ShiftInwards)
      .reorder(xi, yi, ci, xo, rowPairs, co, n)
      .unroll(yi)
      .unroll(ci);
  if (!projection) {
    fuseChannelTasks(out, yo, co, n, task, os[0],
                     (static_cast<int>(os[2]) + yb - 1) / yb);
    out.parallel(task);
  }
  if (vw > 1) {
    out.vectorize(xi);
  }
  acc.compute_at(out, xo);
  Var ax("ax"), ay("ay"), ac("ac");
  for (Stage stage : {Stage(acc), acc.update()}) {
    stage.split(x, ax, x, vw).split(y, ay, y, yb).split(c, ac, c, cb)
        .unroll(y)
        .unroll(c);
    if (vw > 1) {
      stage.vectorize(x);
    }
  }
  acc.update().reorder(x, y, c, ax, ay, ac, rk.x, rk.y).unroll(rk.x);

  std::vector<Var> pv = padded.args();
  int pw0 = vectorWidthFor(width, vec);
  if (pw0 > 1) {
    // Shifted inwards, not guarded: a padded row of 58 columns ended in a
    // masked store of 2 (vmaskmovps, slow on Zen 2); the shifted last
    // vector recomputes values of this pure Func.
    Var pxo("pxo");
    padded.split(pv[0], pxo, pv[0], pw0, TailStrategy::ShiftInwards)
        .vectorize(pv[0]);
    // Rows of 2 vectors unrolled: both touch the exterior, and as a loop
    // Halide 14 read each through the clamped columns, a gather per vector
    // (28 + 2 columns on AVX-512); unrolled, each is a dense load and a
    // shuffle. MobileNetV2's 32 -> 192 -> 32 block on 28x28 at batch 8
    // (`kiln bench --profile`, Xeon AVX-512, alternating) 1.45-1.52 ->
    // 1.08 ms.
    if (!flat && width + w.padLeft + w.padRight <= 2 * pw0) {
      padded.unroll(pxo);
    }
  }
  if (flat) {
    // The task's whole padded plane, from its flattened plane in register
    // tiles of 1 vector of positions x 16 channels (16 zmm).
    padded.compute_at(out, task);
    padded.update().reorder(rp.x, rp.y, c, n);
    vectorizeRowCopy(padded.update(), rp.x, target);
    scheduleFlatRow();
    return out;
  }
  // Rows of the padded value (and of its phases, deinterleaved from it):
  // each computed once per task (the window slides down the rows of the
  // output tiles), all its channels per row, the 1x1 convolution's row per
  // padded row. (The phases computed from the 1x1 convolution's row
  // directly clamp and select in every vector of planes of 28 and 56:
  // 0.9x.)
  if (phasedRows) {
    int phw = vectorWidthFor((width + sw - 1) / sw, vec);
    phased.store_at(kernelOut, task)
        .compute_at(kernelOut, yo)
        .reorder(j, phase, c, y, n)
        .unroll(phase);
    if (phw > 1) {
      phased.vectorize(j, phw, TailStrategy::RoundUp);
    }
    padded.compute_at(phased, y).reorder(pv[0], pv[2], pv[1], pv[3]);
  } else {
    padded.store_at(kernelOut, task)
        .compute_at(kernelOut, yo)
        .reorder(pv[0], pv[2], pv[1], pv[3]);
  }
  if (!pw) {
    return kernelOut;
  }
  // Its buffer once per task (per row it was a heap allocation: 360 per
  // call of the 28x28 block, 1.08 -> 1.03 ms; 144 channels on 56x56
  // 1.53 -> 1.46). Not under the phases (96 channels on 112 -> 56 2.1 ->
  // 2.3 ms).
  row.compute_at(padded, pv[1]);
  if (!phasedRows) {
    row.store_at(kernelOut, task);
  }
  // Register tiles of 2 vectors x 8 channels (16 zmm) where the row holds
  // 2 vectors: on the 144-channel 56x56 pair at batch 8, 1.14x over 1 x 8
  // (2.02-2.22 -> 1.74-1.82 ms, alternating); 3 vectors were no faster.
  // Channel blocks outermost: a projection's row holds every channel.
  int xt = width >= 2 * pw0 ? 2 : 1;
  row.split(x, xo, xi, xt * pw0, TailStrategy::ShiftInwards)
      .split(c, co, ci, cb, TailStrategy::GuardWithIf)
      .reorder(xi, ci, xo, co, y, n)
      .unroll(ci);
  if (pw0 > 1) {
    row.vectorize(xi, pw0);
  }
  tile.compute_at(row, xo);
  Var tx("tx");
  for (Stage stage : {Stage(tile), tile.update()}) {
    if (pw0 > 1) {
      stage.split(x, tx, x, pw0).vectorize(x).unroll(tx);
    }
  }
  Stage update = tile.update();
  std::vector<VarOrRVar> order = {x};
  if (pw0 > 1) {
    order.push_back(tx);
  }
  order.insert(order.end(), {c, rc});
  for (const VarOrRVar &v : splitSubTiles(update, pw0 > 1 ? &tx : nullptr, c,
                                          xt, cb, target, true)) {
    order.push_back(v);
  }
  order.insert(order.end(), {y, n});
  update.reorder(order).unroll(c);
  return kernelOut;
}

bool conv2dSupportsBlocked(const KernelSpec &s) {
  if (s.inputs.size() >= 2 && s.inputs[1].blocked()) {
    return false;
  }
  if (s.inputs.size() == 3 && s.inputs[2].blocked()) {
    return false;
  }
  if (hasPackedWeight(s)) {
    return s.inputs[1].shape[4] == kLayoutBlock; // the channel form
  }
  // The blocked depthwise form: both in nchw16c.
  return isDepthwise(s) && s.inputs[0].blocked() && s.outputs[0].blocked();
}

void registerConvOps(OpRegistry &r) {
  r["conv2d"] = {validateConv2d, buildConv2d};
}

} // namespace kiln::codegen::detail
