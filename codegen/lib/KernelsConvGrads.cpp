// conv2d gradients (docs/training-ops.md): conv2d_grad_input and
// conv2d_grad_weight, the hot kernels of training.
//
// Both use a "flattened plane" layout for stride-1 convolutions: an image
// zero-padded to a row pitch Wp that includes the window's overhang is
// indexed by one linear position p = row * Wp + col, so a window tap is a
// constant offset of p and a whole plane (14x14 -> 14x16 = 224 lanes) is one
// vectorizable axis without per-row tails. The columns beyond the real width
// compute discarded values (grad_input) or meet zero-padded dy (grad_weight).
// Strided convolutions fall back to direct forms.
#include "Kernels.h"

#include <algorithm>
#include <climits>
#include <numeric>
#include <optional>
#include <tuple>

using namespace Halide;

namespace kiln::codegen::detail {
namespace {

int roundUp(int v, int m) { return (v + m - 1) / m * m; }

struct ConvGradGeometry {
  Window w;
  int64_t groups;
  int64_t n, c, h, wd;     // x / dx: [N,C,H,W]
  int64_t o, oh, ow;       // dy: [N,O,OH,OW]
  int64_t cg, og;          // channels per group
};

void expectGroups(const KernelSpec &s, int64_t groups, int64_t c, int64_t o) {
  if (groups < 1 || c % groups || o % groups) {
    fail(s, "groups must divide the input and output channels");
  }
}

// Checks dy's spatial extents against the forward output formula.
void expectDyShape(const KernelSpec &s, const ConvGradGeometry &g,
                   const TensorSpec &dy) {
  int64_t oh = windowOutput(g.h, g.w.padTop, g.w.padBottom, g.w.dh, g.w.kh,
                            g.w.sh);
  int64_t ow = windowOutput(g.wd, g.w.padLeft, g.w.padRight, g.w.dw, g.w.kw,
                            g.w.sw);
  if (oh < 1 || ow < 1) {
    fail(s, "window larger than the padded input");
  }
  expectShape(s, dy, "dy", {g.n, g.o, oh, ow});
}

//===----------------------------------------------------------------------===//
// conv2d_grad_input: dy [N,O,OH,OW], weight [O,C/g,KH,KW] -> dx [N,C,H,W]
//===----------------------------------------------------------------------===//

ConvGradGeometry gradInputGeometry(const KernelSpec &s) {
  const auto &dy = s.inputs[0].shape, &wt = s.inputs[1].shape;
  std::vector<int64_t> size = attrInts(s, "input_size", 2);
  ConvGradGeometry g;
  g.groups = attrInt(s, "groups");
  g.w = readWindow(s, wt[2], wt[3], true);
  g.n = dy[0];
  g.o = dy[1];
  g.oh = dy[2];
  g.ow = dy[3];
  g.cg = wt[1];
  g.c = wt[1] * g.groups;
  g.h = size[0];
  g.wd = size[1];
  g.og = g.groups > 0 ? g.o / g.groups : 0;
  return g;
}

void validateConvGradInput(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s);
  expectRank(s, s.inputs[0], "dy", 4);
  expectRank(s, s.inputs[1], "weight", 4);
  std::vector<int64_t> size = attrInts(s, "input_size", 2);
  if (size[0] < 1 || size[1] < 1) {
    fail(s, "input_size must be positive");
  }
  ConvGradGeometry g = gradInputGeometry(s);
  expectGroups(s, g.groups, g.c, g.o);
  if (s.inputs[1].shape[0] != g.o) {
    fail(s, "weight.shape[0] must equal dy.shape[1]");
  }
  expectDyShape(s, g, s.inputs[0]);
  expectShape(s, s.outputs[0], "output", {g.n, g.c, g.h, g.wd});
}

// The taps of one stride phase along one dim: k = first + t * step for t in
// [0, count), those whose offset k * dilation is congruent to the phase
// modulo the stride.
struct PhaseTaps {
  int first = 0, step = 1, count = 0;
};

PhaseTaps phaseTaps(int phase, int kernel, int dilation, int stride) {
  PhaseTaps taps;
  taps.step = stride / std::gcd(stride, dilation);
  taps.first = -1;
  for (int k = 0; k < std::min(kernel, taps.step); ++k) {
    if (k * dilation % stride == phase) {
      taps.first = k;
      break;
    }
  }
  if (taps.first >= 0) {
    taps.count = (kernel - 1 - taps.first) / taps.step + 1;
  }
  return taps;
}


// The stride phases (a, b) of dx that some tap reaches and that hold
// positions inside the image: their taps along y and x, and their rows i0
// .. i0 + rows - 1 and columns j0 .. j0 + cols - 1 (GradInputPhase).
struct PhaseExtent {
  int a = 0, b = 0;
  PhaseTaps ty, tx;
  int i0 = 0, rows = 0, j0 = 0, cols = 0;
};

std::vector<PhaseExtent> gradInputPhases(const ConvGradGeometry &g) {
  const Window &w = g.w;
  int sh = static_cast<int>(w.sh), sw = static_cast<int>(w.sw);
  std::vector<PhaseExtent> phases;
  for (int a = 0; a < sh; ++a) {
    for (int b = 0; b < sw; ++b) {
      PhaseExtent e;
      e.a = a;
      e.b = b;
      e.ty = phaseTaps(a, static_cast<int>(w.kh), static_cast<int>(w.dh), sh);
      e.tx = phaseTaps(b, static_cast<int>(w.kw), static_cast<int>(w.dw), sw);
      std::tie(e.i0, e.rows) = phaseInside(a, sh, static_cast<int>(w.padTop),
                                           static_cast<int>(g.h));
      std::tie(e.j0, e.cols) = phaseInside(b, sw, static_cast<int>(w.padLeft),
                                           static_cast<int>(g.wd));
      if (e.ty.count >= 1 && e.tx.count >= 1 && e.rows >= 1 && e.cols >= 1) {
        phases.push_back(e);
      }
    }
  }
  return phases;
}

// One stride phase (a, b) of dx: the positions iy = sh*(i + i0) + a - padTop,
// ix = sw*(j + j0) + b - padLeft inside the image, as a flattened plane
// q = i * pitch + j, and the stride-1 correlation of dy with the taps whose
// offsets fall in this phase.
struct GradInputPhase {
  int a = 0, b = 0;
  int i0 = 0, rows = 0, j0 = 0, cols = 0;
  RDom r; // (tap t along x, tap t along y, output channel within the group)
  Func acc, accOut;
  // Channel form: the sums over 16-channel vectors, accC(ci, p, cb, n) for
  // dx channel cb*16 + ci; accOut then reads accOutC.
  Func accC, accOutC;
};

struct ConvGradInputFuncs {
  std::vector<ImageParam> inputs;
  Var x{"x"}, y{"y"}, c{"c"}, n{"n"}, p{"p"};
  Func dyFlat{"dy_flat"}, weightT{"weight_t"}, out{"dx"};
  RDom dyInterior;
  std::vector<GradInputPhase> phases;
  int pitch = 0; // row pitch of dyFlat and of the phase planes
  bool unitStride = false;
  int channelVectors = 0; // channel form: 16-channel vectors per task; 0: off
};

// The channel form of conv2d_grad_input: dx channels in vectors (weights
// repacked per call so that a vector's consecutive input channels of one
// tap and output channel are contiguous), dy values broadcast. A register
// tile is 6 positions x K channel vectors (AVX-512, K <= 4: 24 zmm) or 5
// positions x 2 vectors of 8 (AVX2: 10 sums, 5 broadcasts and 2 weight
// vectors in 16 ymm; 4 positions ran 1.1x slower, 6 and 7 spilled, 1.4-1.6x
// slower); each weight vector feeds the positions' FMAs and each dy value
// K. It takes groups == 1 with C a multiple of 16, where the position
// form's 8-channel tiles reload their broadcast weights for every 2
// vectors of positions (deep layers: 512 channels x 9 taps per tile, from
// L2). Measured on ResNet-18's stride-1 3x3 layers at batch 4 and 16: 1.05x
// (64 channels, 56x56) to 1.5x (512, 7x7) over the position form (Intel
// Xeon). On AVX2 (AMD EPYC Zen 2, 2 threads, `kiln bench` alternating at
// batch 16): ResNet-18's strided 3x3 input gradients 23.2 -> 15.9 ms (256
// dx channels on 14x14), 17.3 -> 13.4 (128 on 28x28), 16.6 -> 13.8 (64 on
// 56x56), its 1x1 stride-2 one 2.3 -> 2.1; stride 1 (direct, --winograd 0)
// 25.7 -> 20.4 ms (64 on 56x56), 34.7 -> 26.4 (512 on 7x7), 0.89 -> 0.75
// (the example CNN's 32 -> 16 on 14x14 at batch 64).
int gradInputChannelVectors(const KernelSpec &s, const Target &target) {
  return channelVectorsFor(s, static_cast<int>(s.outputs[0].shape[1]), target);
}

// dx(ix, iy) = sum over taps and o of w(kx, ky) * dy(ox, oy) where
// ox * sw = ix + padLeft - kx * dw (likewise y): a transposed convolution.
// Split by the stride phases of dx, each phase is a stride-1 correlation of
// zero-padded dy with the taps in that phase (ResNet's stride-2 3x3: phases
// of 4, 2, 2 and 1 taps), so no lane computes a product that the stride
// makes zero. dy is laid out once as a flattened plane of row pitch Wp + SX
// (SX = the largest tap shift), so every tap is a constant offset of the
// phase position q and a whole phase plane is one vectorizable axis. Stride
// 1 is the one-phase case, copied out directly; strided phases are written
// into their interleaved positions of a zeroed dx (phases without taps stay
// 0).
ConvGradInputFuncs defineConvGradInput(const KernelSpec &s,
                                       const Target &target) {
  ConvGradInputFuncs f;
  ConvGradGeometry g = gradInputGeometry(s);
  const Window &w = g.w;
  ImageParam dy = makeInput(s.inputs[0], "dy");
  ImageParam weight = makeInput(s.inputs[1], "weight");
  f.inputs = {dy, weight};
  int cg = static_cast<int>(g.cg), og = static_cast<int>(g.og);
  int kw = static_cast<int>(w.kw), kh = static_cast<int>(w.kh);
  int dw = static_cast<int>(w.dw), dh = static_cast<int>(w.dh);
  int sw = static_cast<int>(w.sw), sh = static_cast<int>(w.sh);
  int padL = static_cast<int>(w.padLeft), padT = static_cast<int>(w.padTop);
  int oh = static_cast<int>(g.oh), ow = static_cast<int>(g.ow);
  f.unitStride = sh == 1 && sw == 1;

  for (const PhaseExtent &e : gradInputPhases(g)) {
    GradInputPhase phase;
    phase.a = e.a;
    phase.b = e.b;
    phase.i0 = e.i0;
    phase.rows = e.rows;
    phase.j0 = e.j0;
    phase.cols = e.cols;
    std::string suffix = "_" + std::to_string(e.a) + "_" + std::to_string(e.b);
    phase.acc = Func("acc" + suffix);
    phase.accOut = Func("acc_out" + suffix);
    phase.r = RDom(0, e.tx.count, 0, e.ty.count, 0, og, "r" + suffix);
    f.phases.push_back(phase);
  }
  // The dy rows and columns the phases read: position (i, j) of a phase
  // reads dy(j + j0 - kx*dw/sw, i + i0 - ky*dh/sh) for each of its taps.
  int colBase = INT32_MAX, colMax = INT32_MIN;
  int rowBase = INT32_MAX, rowMax = INT32_MIN;
  for (const GradInputPhase &phase : f.phases) {
    PhaseTaps ty = phaseTaps(phase.a, kh, dh, sh);
    PhaseTaps tx = phaseTaps(phase.b, kw, dw, sw);
    int sxMin = tx.first * dw / sw;
    int sxMax = (tx.first + (tx.count - 1) * tx.step) * dw / sw;
    int syMin = ty.first * dh / sh;
    int syMax = (ty.first + (ty.count - 1) * ty.step) * dh / sh;
    colBase = std::min(colBase, phase.j0 - sxMax);
    colMax = std::max(colMax, phase.j0 + phase.cols - 1 - sxMin);
    rowBase = std::min(rowBase, phase.i0 - syMax);
    rowMax = std::max(rowMax, phase.i0 + phase.rows - 1 - syMin);
  }
  if (f.phases.empty()) {
    colBase = colMax = rowBase = rowMax = 0;
  }
  f.pitch = colMax - colBase + 1;

  // dyFlat(q) = dy(q % pitch + colBase, q / pitch + rowBase), zero outside
  // dy: zeros, then the part of dy inside that window copied in.
  Var q("q"), fo("fo"), fn("fn");
  f.dyFlat(q, fo, fn) = 0.0f;
  int x0 = std::max(0, colBase), x1 = std::min(ow, colMax + 1);
  int y0 = std::max(0, rowBase), y1 = std::min(oh, rowMax + 1);
  if (x1 > x0 && y1 > y0) {
    f.dyInterior = RDom(x0, x1 - x0, y0, y1 - y0, "dy_interior");
    f.dyFlat((f.dyInterior.y - rowBase) * f.pitch + f.dyInterior.x - colBase,
             fo, fn) = dy(f.dyInterior.x, f.dyInterior.y, fo, fn);
  }

  f.channelVectors = gradInputChannelVectors(s, target);
  int lanes = target.natural_vector_size<float>();
  Var wc("wc"), wx("wx"), wy("wy"), wo("wo"), wb("wb");
  if (f.channelVectors > 0) {
    f.weightT(wc, wx, wy, wo, wb) = weight(wx, wy, wb * lanes + wc, wo);
  }
  Var ci("ci"), cb("cb");
  for (GradInputPhase &phase : f.phases) {
    PhaseTaps ty = phaseTaps(phase.a, kh, dh, sh);
    PhaseTaps tx = phaseTaps(phase.b, kw, dw, sw);
    Expr kx = tx.first + phase.r.x * tx.step;
    Expr ky = ty.first + phase.r.y * ty.step;
    // dy at (j + j0 - kx*dw/sw, i + i0 - ky*dh/sh).
    Expr offset = (phase.i0 - ky * dh / sh - rowBase) * f.pitch +
                  (phase.j0 - kx * dw / sw - colBase);
    if (f.channelVectors > 0) {
      std::string suffix = phase.acc.name().substr(3);
      phase.accC = Func("acc_c" + suffix);
      phase.accOutC = Func("acc_out_c" + suffix);
      phase.accC(ci, f.p, cb, f.n) = 0.0f;
      phase.accC(ci, f.p, cb, f.n) +=
          f.weightT(ci, kx, ky, phase.r.z, cb) *
          f.dyFlat(f.p + offset, phase.r.z, f.n);
      phase.accOutC(ci, f.p, cb, f.n) = phase.accC(ci, f.p, cb, f.n);
      phase.accOut(f.p, f.c, f.n) =
          phase.accOutC(f.c % lanes, f.p, f.c / lanes, f.n);
      continue;
    }
    Expr o = g.groups == 1 ? Expr(phase.r.z) : (f.c / cg) * og + phase.r.z;
    Expr wt = weight(kx, ky, g.groups == 1 ? Expr(f.c) : f.c % cg, o);
    phase.acc(f.p, f.c, f.n) = 0.0f;
    phase.acc(f.p, f.c, f.n) += wt * f.dyFlat(f.p + offset, o, f.n);
    phase.accOut(f.p, f.c, f.n) = phase.acc(f.p, f.c, f.n);
  }

  if (f.unitStride) {
    // One phase with i0 = padT, j0 = padL: q = y * pitch + x.
    f.out(f.x, f.y, f.c, f.n) =
        f.phases.empty() ? Expr(0.0f)
                         : Expr(f.phases[0].accOut(f.y * f.pitch + f.x, f.c,
                                                   f.n));
  } else {
    // Each position reads its own phase's plane (phases without taps: 0).
    // The schedule unrolls the phases of x and y, so that the selects fold
    // and the phase loads are dense.
    Expr value = 0.0f;
    for (GradInputPhase &phase : f.phases) {
      Expr i = (f.y + padT - phase.a) / sh - phase.i0;
      Expr j = (f.x + padL - phase.b) / sw - phase.j0;
      Expr mine =
          (f.y + padT) % sh == phase.a && (f.x + padL) % sw == phase.b;
      value = select(mine, phase.accOut(i * f.pitch + j, f.c, f.n), value);
    }
    f.out(f.x, f.y, f.c, f.n) = value;
  }
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// One phase's sums, computed per parallel task (a block of dx channels of
// one image) in the position or the channel form.
void scheduleGradInputTask(ConvGradInputFuncs &f, GradInputPhase &phase,
                           Var task, int channels, const Target &target) {
  if (f.channelVectors > 0) {
    // Runs of 8 reduction channels over a task-sized plane of sums
    // (scheduleChannelRuns, conv2d's channel form) measured 1.4x slower
    // here: 64 channels on 56x56 at batch 16, 10.6 -> 15.0 ms.
    phase.accOutC.compute_at(f.out, task);
    scheduleChannelTiles(phase.accOutC, phase.accC, phase.r,
                         phase.rows * f.pitch, f.channelVectors,
                         target.natural_vector_size<float>() == 8 ? 5 : 6);
    return;
  }
  phase.accOut.compute_at(f.out, task);
  schedulePositionTiles(phase.accOut, phase.acc,
                        {phase.r.x, phase.r.y, phase.r.z}, phase.rows * f.pitch,
                        2, channels, true, target);
}

// Target: x86-64 AVX-512 (16 lanes), 2 cores. Per parallel (8-channel block,
// n) task, each phase plane of those channels is computed in register tiles
// (schedulePositionTiles), then copied out without the pitch columns (stride
// 1) or written to its interleaved positions (strided). dyFlat is built once
// (root, parallel over planes), or per task for grouped convolutions.
// Measured: see docs/codegen.md.
void scheduleConvGradInput(ConvGradInputFuncs &f, const KernelSpec &s,
                           const Target &target) {
  int vec = target.natural_vector_size<float>();
  const auto &dx = s.outputs[0].shape;
  int channels = static_cast<int>(dx[1]);
  int width = static_cast<int>(dx[3]);
  int cb =
      f.channelVectors > 0 ? vec * f.channelVectors : std::min(channels, 8);
  bool parallel = s.outputs[0].numElements() >= kParallelGrain / 4;
  Var co("co"), ci("ci"), task("task");
  int xw = vectorWidthFor(width, vec);
  if (f.unitStride) {
    f.out.split(f.c, co, ci, cb, TailStrategy::ShiftInwards)
        .reorder(f.x, f.y, ci, co, f.n)
        .fuse(co, f.n, task);
    if (parallel) {
      f.out.parallel(task);
    }
    if (xw > 1) {
      f.out.vectorize(f.x, xw, TailStrategy::ShiftInwards);
    }
    for (GradInputPhase &phase : f.phases) {
      scheduleGradInputTask(f, phase, task, cb, target);
    }
  } else {
    // Per task, the phase planes, then dx with the stride phases of x and y
    // unrolled inside vectors along the phase column (the stores of the x
    // phases interleave into dense ones). Against writing each phase into
    // its strided positions of a zeroed dx (scalar stores): depthwise 3x3
    // stride 2, 96 channels on 112x112 at batch 16, see docs/codegen.md.
    ConvGradGeometry g = gradInputGeometry(s);
    int sw = static_cast<int>(g.w.sw), sh = static_cast<int>(g.w.sh);
    Var xo("xo"), xb("xb"), yo("yo"), yb("yb");
    int phaseWidth = (width + sw - 1) / sw;
    int pw = vectorWidthFor(phaseWidth, vec);
    f.out.split(f.c, co, ci, cb, TailStrategy::ShiftInwards)
        .split(f.x, xo, xb, sw, TailStrategy::GuardWithIf)
        .split(f.y, yo, yb, sh, TailStrategy::GuardWithIf)
        .reorder(xb, xo, yb, yo, ci, co, f.n)
        .unroll(xb)
        .unroll(yb)
        .fuse(co, f.n, task);
    if (parallel) {
      f.out.parallel(task);
    }
    if (pw > 1) {
      f.out.vectorize(xo, pw, TailStrategy::GuardWithIf);
    }
    for (GradInputPhase &phase : f.phases) {
      scheduleGradInputTask(f, phase, task, cb, target);
    }
  }
  if (f.channelVectors > 0) {
    std::vector<Var> w = f.weightT.args();
    f.weightT.compute_root().parallel(w[4]).vectorize(w[0]);
  }
  bool hasInterior = f.dyFlat.num_update_definitions() > 0;
  if (attrInt(s, "groups") > 1) {
    // Grouped (depthwise): a task's dx channels read only their groups' dy
    // channels, flattened per task, in cache, never the whole batch's
    // through memory. MobileNetV2's 96-channel stride-2 layer on 112x112
    // at batch 16 (alternating `kiln bench`, AVX2): 7.4-7.7 -> 5.6-5.8 ms.
    f.dyFlat.compute_at(f.out, task)
        .vectorize(f.dyFlat.args()[0], vec, TailStrategy::GuardWithIf);
    if (hasInterior) {
      vectorizeRowCopy(f.dyFlat.update(), f.dyInterior.x, target);
    }
    return;
  }
  scheduleZeroedPlanes(
      f.dyFlat,
      hasInterior ? std::vector<RDom>{f.dyInterior} : std::vector<RDom>{},
      parallel, s.inputs[0].shape[2] * s.inputs[0].shape[3], target);
}

// GPU: one output element per thread in tiles of up to 16 x 16 of its
// first two dims, its sum in a register (gpuPlaneTiles: the other two dims
// in the block index).
void scheduleGpuPlanes(Func out, Func acc, const std::vector<Var> &v,
                       const std::vector<int> &extents) {
  Var xi("xi"), yi("yi");
  gpuPlaneTiles(out, v[0], v[1], xi, yi, std::min(16, extents[0]),
                std::min(16, extents[1]), {v[2], v[3]});
  acc.compute_at(out, xi);
}

// GPU: dx by the stride phases of the CPU's form (defineConvGradInput), each
// phase (a, b) with taps a stride-1 correlation of dy (zero outside) with
// the taps whose offsets fall in it, in the forward's register tiles
// (convTilesGpu): phase(j, i, c, n) = sum over its taps (kx, ky) and the
// group's output channels o of w(kx, ky, c % cg, o) * dy(j + j0 - kx * dw /
// sw, i + i0 - ky * dh / sh, o, n). Stride 1 is one phase, dx itself;
// strided dx reads each position's phase (phases without taps: 0). One
// thread per dx element summing every tap through a select (the form
// before) ran ResNet-18's six strided input gradients at batch 64 in 50 ms
// of a 232 ms training step on an H200, 3/4 of its 3x3 products and 3/4 of
// its 1x1 ones multiplying zeros. Reads of the edge tiles' channels past
// the last are clamped.
Kernel buildConvGradInputGpu(const KernelSpec &s, const Target &target) {
  ConvGradGeometry g = gradInputGeometry(s);
  const Window &w = g.w;
  ImageParam dy = makeInput(s.inputs[0], "dy");
  ImageParam weight = makeInput(s.inputs[1], "weight");
  // dy zero outside: staged phases select the zeros as each block stages
  // its region, and grouped (depthwise) ones in their memory-bound sums;
  // the unstaged ones of one group read dy zero-padded at the root (no
  // selects in their compute-bound sums).
  Func zero = BoundaryConditions::constant_exterior(dy, 0.0f);
  Func padded;
  Func byChannel = g.groups == 1 ? gpuWeightsByChannel(weight, 2) : Func();
  int cg = static_cast<int>(g.cg), og = static_cast<int>(g.og);
  int dw = static_cast<int>(w.dw), dh = static_cast<int>(w.dh);
  int sw = static_cast<int>(w.sw), sh = static_cast<int>(w.sh);
  int padL = static_cast<int>(w.padLeft), padT = static_cast<int>(w.padTop);
  bool unitStride = sw == 1 && sh == 1;
  Var x("x"), y("y"), c("c"), n("n");
  Func out("dx");
  Expr cc = min(c, static_cast<int>(g.c) - 1);
  Expr value = 0.0f;
  for (const PhaseExtent &e : gradInputPhases(g)) {
    const PhaseTaps &tx = e.tx, &ty = e.ty;
    std::string suffix = "_" + std::to_string(e.a) + "_" + std::to_string(e.b);
    RDom r(0, tx.count, 0, ty.count, 0, og, "r" + suffix);
    Expr kx = tx.first + r.x * tx.step, ky = ty.first + r.y * ty.step;
    Expr o = g.groups == 1 ? Expr(r.z) : (cc / cg) * og + r.z;
    Func phase = unitStride ? out : Func("phase" + suffix);
    std::vector<int64_t> shape = {g.n, g.c, e.rows, e.cols};
    WindowSum sum;
    WindowStaging plan;
    if (g.groups == 1) {
      // The phase as a window sum with dy staged in shared memory
      // (stagedWindowSumGpu): tap t reads dy at x + j0 - (first + t * step)
      // * dw / sw, step * dw a multiple of sw (phaseTaps).
      sum.name = "phase" + suffix;
      sum.input = Func("dy_tile" + suffix);
      sum.input(x, y, c, n) = zero(x, y, c, n);
      sum.weight = [byChannel, tx, ty](Expr ch, Expr t, Expr u, Expr k) {
        return byChannel(ch, tx.first + t * tx.step, ty.first + u * ty.step,
                         k);
      };
      sum.x = {1, -tx.step * dw / sw, e.j0 - tx.first * dw / sw, tx.count};
      sum.y = {1, -ty.step * dh / sh, e.i0 - ty.first * dh / sh, ty.count};
      sum.channels = og;
      sum.shape = shape;
      plan = planWindowStaging(sum, target);
    }
    if (plan.chunk) {
      stagedWindowSumGpu(
          sum, plan, phase, [](Expr) { return Expr(0.0f); },
          [&](Expr value, const std::vector<Var> &v) { phase(v) = value; });
    } else {
      if (!padded.defined()) {
        padded = g.groups == 1 ? gpuZeroPadded(dy, "dy_padded") : zero;
      }
      Func acc("acc" + suffix);
      acc(x, y, c, n) = 0.0f;
      Expr wv = g.groups == 1 ? Expr(byChannel(c, kx, ky, o))
                              : Expr(weight(kx, ky, cc % cg, o));
      acc(x, y, c, n) +=
          wv * padded(x + e.j0 - kx * dw / sw, y + e.i0 - ky * dh / sh, o, n);
      phase(x, y, c, n) = acc(x, y, c, n);
      convTilesGpu(phase, acc, x, y, c, n, r, shape, tx.count * ty.count,
                   g.groups == 1);
    }
    if (unitStride) {
      constrainOutput(out, s.outputs[0]);
      return {{dy, weight}, out};
    }
    phase.compute_root();
    Expr mine = (y + padT) % sh == e.a && (x + padL) % sw == e.b;
    value = select(mine,
                   phase((x + padL - e.b) / sw - e.j0,
                         (y + padT - e.a) / sh - e.i0, c, n),
                   value);
  }
  out(x, y, c, n) = value;
  constrainOutput(out, s.outputs[0]);
  scheduleElementwiseGpu(out, {x, y, c, n});
  return {{dy, weight}, out};
}

Kernel buildConvGradInput(const KernelSpec &s, const Target &target) {
  if (target.has_gpu_feature()) {
    return buildConvGradInputGpu(s, target);
  }
  ConvGradInputFuncs f = defineConvGradInput(s, target);
  scheduleConvGradInput(f, s, target);
  return {std::vector<Argument>(f.inputs.begin(), f.inputs.end()), f.out};
}

//===----------------------------------------------------------------------===//
// conv2d_grad_weight: x [N,C,H,W], dy [N,O,OH,OW] -> dw [O,C/g,KH,KW]
//===----------------------------------------------------------------------===//

ConvGradGeometry gradWeightGeometry(const KernelSpec &s) {
  const auto &x = s.inputs[0].shape, &dy = s.inputs[1].shape;
  std::vector<int64_t> k = attrInts(s, "kernel", 2);
  ConvGradGeometry g;
  g.groups = attrInt(s, "groups");
  g.w = readWindow(s, k[0], k[1], true);
  g.n = x[0];
  g.c = x[1];
  g.h = x[2];
  g.wd = x[3];
  g.o = dy[1];
  g.oh = dy[2];
  g.ow = dy[3];
  g.cg = g.groups > 0 ? g.c / g.groups : 0;
  g.og = g.groups > 0 ? g.o / g.groups : 0;
  return g;
}

// The Winograd tile (0: direct); specs written before it default to 0.
int64_t gradWeightTile(const KernelSpec &s) {
  return s.attrs.is_object() && s.attrs.contains("tile") ? attrInt(s, "tile")
                                                         : 0;
}

void validateConvGradWeight(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s);
  expectRank(s, s.inputs[0], "x", 4);
  expectRank(s, s.inputs[1], "dy", 4);
  ConvGradGeometry g = gradWeightGeometry(s);
  expectGroups(s, g.groups, g.c, g.o);
  expectDyShape(s, g, s.inputs[1]);
  expectShape(s, s.outputs[0], "output", {g.o, g.cg, g.w.kh, g.w.kw});
  if (gradWeightTile(s) != 0) {
    validateConv2dGradWeightWinograd(s);
  }
}

struct ConvGradWeightFuncs {
  std::vector<ImageParam> inputs;
  Var kx{"kx"}, ky{"ky"}, ci{"ci"}, o{"o"}, lane{"lane"};
  RDom r;     // (vector of positions, n)
  RDom lanes; // the lanes of `part`
  RDom dyInterior;
  StridePhases xPhases;
  Func dyPadded{"dy_padded"}, part{"part"}, out{"dw"};
  int width = 1; // lanes of part
};

// dw(kx, ky, c, o) = sum over n and output positions of dy * x at the tap.
// dy is flattened with the row pitch P = OW + (KW-1)*dw/sw of the forward
// planes form (zero in the pitch columns and past the last row), x split
// into its stride phases with the same pitch (defineStridePhases): then the
// tap (kx, ky) of output position p is one element of one phase plane at a
// constant offset of p, for every stride, so the sum runs over whole vectors
// of p: part(lane, kx, ky, c, o) += dyPadded(v*16 + lane) * x at the tap,
// then a 16-lane sum.
// `o` names the output-channel loop (a gradient sink's is the batch-norm
// gradient's channel loop).
ConvGradWeightFuncs defineConvGradWeight(const KernelSpec &s, ImageParam x,
                                         Func dy, const Target &target,
                                         Var o = Var("o")) {
  ConvGradWeightFuncs f;
  f.o = o;
  ConvGradGeometry g = gradWeightGeometry(s);
  const Window &w = g.w;
  int vec = target.natural_vector_size<float>();
  int cg = static_cast<int>(g.cg), og = static_cast<int>(g.og);
  int oh = static_cast<int>(g.oh), ow = static_cast<int>(g.ow);
  int pitch = ow + static_cast<int>((w.kw - 1) * w.dw / w.sw);
  int extent = oh * pitch;
  f.width = vectorWidthFor(extent, vec);
  int positions = roundUp(extent, f.width);
  f.r = RDom(0, positions / f.width, 0, static_cast<int>(g.n), "r");

  Var q("q"), pc("pc"), pn("pn");
  f.dyPadded(q, pc, pn) = 0.0f;
  f.dyInterior = RDom(0, ow, 0, oh, "dy_interior");
  f.dyPadded(f.dyInterior.y * pitch + f.dyInterior.x, pc, pn) =
      dy(f.dyInterior.x, f.dyInterior.y, pc, pn);
  f.xPhases = defineStridePhases(x, s.inputs[0], w, pitch);

  Expr c = g.groups == 1 ? Expr(f.ci) : (f.o / og) * cg + f.ci;
  Expr pos = f.r.x * f.width + f.lane;
  Expr lhs = f.dyPadded(pos, f.o, f.r.y);
  Expr rhs = readStridePhases(f.xPhases, w, pitch, pos, f.kx, f.ky, c, f.r.y);
  // One partial sum per lane, then the horizontal sum.
  f.part(f.lane, f.kx, f.ky, f.ci, f.o) = 0.0f;
  f.part(f.lane, f.kx, f.ky, f.ci, f.o) += lhs * rhs;
  f.lanes = RDom(0, f.width, "l");
  f.out(f.kx, f.ky, f.ci, f.o) =
      sum(f.part(f.lanes, f.kx, f.ky, f.ci, f.o), "lane_sum");
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// dy is flattened per task and image: only the task's channels, into a
// block that stays in L2 while the taps read it, never the whole batch
// through memory (the stem's dy is 51 MB at batch 16: 47 -> 27 ms).
void flattenDyPerImage(ConvGradWeightFuncs &f, const Target &target) {
  int vec = target.natural_vector_size<float>();
  Var q = f.dyPadded.args()[0];
  f.dyPadded.compute_at(f.part, f.r.y)
      .vectorize(q, vec, TailStrategy::GuardWithIf);
  vectorizeRowCopy(f.dyPadded.update(), f.dyInterior.x, target);
}

// The lanes form, for the shapes the channel form does not take (fewer than
// 16 input channels, as the RGB stem; groups). Target: x86-64 AVX-512 (16
// lanes), 2 cores. Parallel over blocks of output channels; per block the
// lane partial sums live in a register tile of KW x
// KH taps x oTile channels (18 zmm for 3x3 and 2 channels): every dy vector
// feeds KH*KW FMAs, every (shifted) x vector oTile FMAs. The reduction runs
// n-outer, channel-inner, so one image's padded planes stay in L1/L2 while
// all input channels consume them. x's stride phases are built once (root),
// the flattened dy per task and image.
// Measured for x [64,16,14,14], dy [64,32,14,14], pad 1: see docs/codegen.md.
void scheduleConvGradWeight(ConvGradWeightFuncs &f, const KernelSpec &s,
                            const Target &target) {
  const auto &dw = s.outputs[0].shape;
  int outC = static_cast<int>(dw[0]);
  int kh = static_cast<int>(dw[2]), kw = static_cast<int>(dw[3]);
  bool unrollKy = kh * kw <= 9;
  int taps = unrollKy ? kh * kw : kw;
  // 21 accumulators: 3 channels of a 7-wide row of taps (the RGB stem:
  // 1.1x over 2 channels, while 4 spill), 2 channels of 3x3.
  int oTile = std::max(1, std::min({outC, 21 / std::max(taps, 1), 8}));
  // On AVX2 (16 registers) rows of more than 3 taps in groups of 3
  // columns x 4 channels, 12 sums (Zen 2's FMA needs 10 in flight), the
  // last group guarded. ResNet-18's stem (64 x 3 x 7x7) at batch 16
  // (`kiln bench` on the kernel alone, 20 runs each): 36.6 ms with 7 x 3
  // (spilling), 28.1 with 3 x 4; 4 x 2 31.2, 3 x 3 34.6, 4 x 3 38.8, 2 x 6
  // 36.7, 7 x 2 41.1, 1 x 12 55.9 (columns x channels).
  bool columnGroups =
      !unrollKy && kw > 3 && target.natural_vector_size<float>() == 8;
  if (columnGroups) {
    oTile = std::min(outC, 4);
  }
  bool parallel = s.inputs[0].numElements() >= kParallelGrain;
  Var oo("oo"), oi("oi");
  f.out.split(f.o, oo, oi, oTile, TailStrategy::ShiftInwards);
  if (parallel) {
    f.out.parallel(oo);
  }
  f.part.compute_at(f.out, oo);
  if (f.width > 1) {
    f.part.vectorize(f.lane);
  }
  Stage update = f.part.update();
  if (f.width > 1) {
    update.vectorize(f.lane);
  }
  if (kw <= 8 && !columnGroups) {
    update.unroll(f.kx);
  }
  if (unrollKy) {
    update.unroll(f.ky);
  }
  update.unroll(f.o);
  if (unrollKy) {
    update.reorder(f.lane, f.kx, f.ky, f.o, f.r.x, f.ci, f.r.y);
  } else if (columnGroups) {
    Var kxo("kxo"), kxi("kxi");
    update.split(f.kx, kxo, kxi, 3, TailStrategy::GuardWithIf)
        .unroll(kxi)
        .reorder(f.lane, kxi, f.o, f.r.x, kxo, f.ky, f.ci, f.r.y);
  } else {
    update.reorder(f.lane, f.kx, f.o, f.r.x, f.ky, f.ci, f.r.y);
  }
  if (attrInt(s, "groups") > 1) {
    // Grouped (depthwise): the task's channels of x are its own, so their
    // stride phases are built per task and image, in cache like dy, never
    // the whole batch's through memory (96 channels, 3x3 stride 2 on
    // 112x112 at batch 16: see docs/codegen.md).
    Var pq = f.xPhases.func.args()[0];
    f.xPhases.func.compute_at(f.part, f.r.y)
        .vectorize(pq, target.natural_vector_size<float>(),
                   TailStrategy::GuardWithIf);
    for (size_t i = 0; i < f.xPhases.updates.size(); ++i) {
      f.xPhases.func.update(static_cast<int>(i))
          .allow_race_conditions()
          .vectorize(f.xPhases.updates[i].x,
                     target.natural_vector_size<float>(),
                     TailStrategy::GuardWithIf);
    }
  } else {
    scheduleStridePhases(f.xPhases, parallel, target);
  }
  flattenDyPerImage(f, target);
}

// conv2d_grad_weight as a matrix product vectorized over input channels,
// for groups == 1 and C >= one vector: dw[o][c][tap] = sum over (n, oy, ox)
// of dy[n][o][oy][ox] * xT[n][phase(tap)][oy + sy][ox + sx][c], where xT is
// x zero-padded, split into its stride phases and transposed so that the
// channel is innermost. The register tile is one vector of channels x
// KH*KW taps x oTile output channels (18 zmm for 3x3, 2 channels; AVX2: a
// row of KW taps x 3 channels, 9 ymm): each dy
// value is broadcast into the tile's taps' FMAs and each xT vector feeds oTile;
// the sums stay in registers over the whole batch and plane, so there is no
// per-lane partial sum to reduce horizontally (the lanes form's cost on
// small planes).
struct ChannelGradWeightFuncs {
  std::vector<ImageParam> inputs;
  Var kx{"kx"}, ky{"ky"}, c{"c"}, o{"o"};
  RDom r; // (ox, oy, n)
  Func xT{"x_t"}, tile{"tile"}, out{"dw"};
};

bool channelGradWeightFits(const KernelSpec &s, const Target &target) {
  return target.natural_vector_size<float>() >= 8 &&
         attrInt(s, "groups") == 1 && s.inputs[0].shape[1] >= 16;
}

// `vec`: the target's vector width, the channels of one xT block.
ChannelGradWeightFuncs defineChannelGradWeight(const KernelSpec &s, int vec) {
  ChannelGradWeightFuncs f;
  ConvGradGeometry g = gradWeightGeometry(s);
  const Window &w = g.w;
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  f.inputs = {x, dy};
  int sh = static_cast<int>(w.sh), sw = static_cast<int>(w.sw);
  int dh = static_cast<int>(w.dh), dw = static_cast<int>(w.dw);
  int h = static_cast<int>(g.h), wd = static_cast<int>(g.wd);
  // xT(ci, j, i, phase, n, cb): channel cb*vec + ci, channel-vector blocks
  // outermost so that a task's channels are contiguous (zero past C).
  int channels = static_cast<int>(g.c);
  Var tc("tc"), tj("tj"), ti("ti"), phase("phase"), tn("tn"), tb("tb");
  Expr row = ti * sh + phase / sw - static_cast<int>(w.padTop);
  Expr col = tj * sw + phase % sw - static_cast<int>(w.padLeft);
  Expr channel = tb * vec + tc;
  Expr inside =
      row >= 0 && row < h && col >= 0 && col < wd && channel < channels;
  f.xT(tc, tj, ti, phase, tn, tb) =
      select(inside,
             x(clamp(col, 0, wd - 1), clamp(row, 0, h - 1),
               min(channel, channels - 1), tn),
             0.0f);
  f.r = RDom(0, static_cast<int>(g.ow), 0, static_cast<int>(g.oh), 0,
             static_cast<int>(g.n), "r");
  Expr tx = f.kx * dw, ty = f.ky * dh;
  f.tile(f.c, f.kx, f.ky, f.o) = 0.0f;
  f.tile(f.c, f.kx, f.ky, f.o) +=
      dy(f.r.x, f.r.y, f.o, f.r.z) *
      f.xT(f.c % vec, f.r.x + tx / sw, f.r.y + ty / sh,
           (ty % sh) * sw + tx % sw, f.r.z, f.c / vec);
  f.out(f.kx, f.ky, f.c, f.o) = f.tile(f.c, f.kx, f.ky, f.o);
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// Target: x86-64 AVX-512 (16 lanes), 2 cores. Parallel over (channel
// vector, block of up to 64 output channels), channel vectors outermost so
// that consecutive tasks reuse one channel block of xT from cache; within a
// task, image by image, register tiles of oTile channels; xT is built
// once (root, parallel over images and channel blocks). Measured on
// ResNet-18's training step at batch 4 (docs/codegen.md): 190-290 GFLOP/s
// against 75-170 for the lanes form on the same 3x3 layers.
void scheduleChannelGradWeight(ChannelGradWeightFuncs &f, const KernelSpec &s,
                               const Target &target) {
  int vec = target.natural_vector_size<float>();
  const auto &dwShape = s.outputs[0].shape;
  int outC = static_cast<int>(dwShape[0]);
  int kh = static_cast<int>(dwShape[2]), kw = static_cast<int>(dwShape[3]);
  int taps = kh * kw;
  bool unrollTaps = taps <= 9;
  int oTile = std::max(1, std::min(outC, unrollTaps ? 18 / taps : 8));
  int channelVectors = (static_cast<int>(s.inputs[0].shape[1]) + vec - 1) / vec;
  // 1x1: a matrix product. One channel vector x 18 output channels would
  // load 18 broadcasts per 18 FMAs; a tile of up to 4 channel vectors x 6
  // output channels (24 zmm) loads 4 vectors + 6 broadcasts per 24 FMAs.
  int cTile = 1;
  if (taps == 1) {
    cTile = std::min(4, channelVectors);
    while (cTile > 1 && channelVectors % cTile != 0) {
      --cTile;
    }
    oTile = std::min(outC, 24 / cTile);
    if (vec < 16) {
      // AVX2's 16 registers: 2 channel vectors x 6 output channels (12
      // sums, the 2 xT vectors held, the dy broadcasts one at a time:
      // streamed), where 4 x 2 held 8 sums, fewer than Zen 2's FMA needs in
      // flight. MobileNetV2's at batch 16 (`kiln bench --profile` of each
      // kernel alone, dw O x C): 576 x 96 on 14x14 2.32 -> 1.82 ms, 96 x
      // 576 3.33-3.50 -> 2.21-2.23, 960 x 160 on 7x7 1.50 -> 1.22, 160 x
      // 960 1.87-1.89 -> 1.31-1.32, 192 x 32 on 28x28 1.11-1.12 -> 0.92.
      std::tie(cTile, oTile) = registerSubTile(cTile, oTile, target, true);
    }
  }
  // 3x3 on AVX2: 9 taps x 2 channels (18 sums) does not fit the registers;
  // a row of KW taps x oTile channels does, each row over the whole plane
  // in turn: 3 x 4 (12 sums, the row's 3 xT vectors held and the dy
  // broadcasts one at a time: streamed), where 3 x 3 held 9, fewer than
  // Zen 2's FMA needs in flight. ResNet-18's strided 3x3 weight gradients
  // at batch 16 (`kiln bench --profile` of each alone, alternating): 128 x
  // 64 18.4-18.7 -> 10.7-11.1 ms, 256 x 128 13.0 -> 9.9-10.0, 512 x 256
  // 12.5-12.7 -> 9.7-9.9.
  bool rows = unrollTaps && taps > 1 && !fitsRegisters(taps, oTile, target);
  if (rows) {
    oTile = std::max(
        1, registerTileWidth(kw, std::min(outC, 8), target, /*streamed=*/true));
  }
  // A task covers up to 64 output channels, one register tile of oTile
  // after another, image by image: the image's xT block (its stride phases
  // of 16 channels) is then read from L2 by every tile instead of streaming
  // the whole batch's xT per tile (3.4 MB at 56x56, batch 16). Measured at
  // batch 16 against one tile per task: 64x64 3x3 at 56x56 1.2x, 128x64
  // 3x3 stride 2 1.7x. At least 4 tasks stay for the threads.
  int oTask = std::min(outC, 32 * oTile);
  while (oTask > oTile &&
         (outC + oTask - 1) / oTask * (channelVectors / cTile) < 4) {
    oTask = std::max(oTile, oTask / 2);
  }
  Var co("co"), ci("ci"), oo("oo"), oi("oi"), task("task");
  f.out.split(f.c, co, ci, vec * cTile, TailStrategy::GuardWithIf)
      .split(f.o, oo, oi, oTask, TailStrategy::ShiftInwards)
      .reorder(f.kx, f.ky, ci, oi, oo, co)
      .fuse(oo, co, task)
      .parallel(task);
  // A whole channel vector also for the last, partial block: xT is zero
  // past C, and the guarded output keeps only the real channels.
  f.tile.compute_at(f.out, task).bound_extent(f.c, vec * cTile);
  Stage update = f.tile.update();
  if (cTile > 1) {
    Var cv("cv"), cl("cl"), ot("ot"), ol("ol");
    f.tile.split(f.c, cv, cl, vec).vectorize(cl).unroll(cv);
    update.split(f.c, cv, cl, vec)
        .split(f.o, ot, ol, oTile, TailStrategy::GuardWithIf)
        .vectorize(cl)
        .unroll(cv)
        .unroll(ol)
        .reorder(cl, cv, ol, f.r.x, f.r.y, ot, f.r.z);
  } else {
    f.tile.vectorize(f.c);
    update.vectorize(f.c);
  }
  if (cTile > 1) {
    // scheduled above
  } else if (rows) {
    Var ot("ot"), ol("ol");
    update.split(f.o, ot, ol, oTile, TailStrategy::GuardWithIf)
        .unroll(ol)
        .unroll(f.kx)
        .reorder(f.c, f.kx, ol, f.r.x, f.r.y, f.ky, ot, f.r.z);
  } else if (unrollTaps && oTask > oTile) {
    Var ot("ot"), ol("ol");
    update.split(f.o, ot, ol, oTile, TailStrategy::GuardWithIf)
        .unroll(ol)
        .unroll(f.kx)
        .unroll(f.ky)
        .reorder(f.c, f.kx, f.ky, ol, f.r.x, f.r.y, ot, f.r.z);
  } else if (unrollTaps) {
    update.unroll(f.o);
    update.unroll(f.kx).unroll(f.ky);
    update.reorder(f.c, f.kx, f.ky, f.o, f.r.x, f.r.y, f.r.z);
  } else {
    update.unroll(f.o);
    if (kw <= 8) {
      update.unroll(f.kx);
    }
    update.reorder(f.c, f.kx, f.o, f.r.x, f.r.y, f.ky, f.r.z);
  }
  std::vector<Var> v = f.xT.args();
  Var plane("plane");
  f.xT.compute_root().fuse(v[4], v[5], plane).vectorize(v[0]);
  const auto &xs = s.inputs[0].shape;
  parallelPlanes(f.xT, plane, vec * xs[2] * xs[3]);
}

// One term of the weight gradient on a GPU: dy at output position (ox,
// oy) of channel o times x under tap (kx, ky) of input channel ci (of o's
// group); `padded` is x, zero outside.
Expr gradWeightTermGpu(const ConvGradGeometry &g, Func padded, Func dy,
                       Expr kx, Expr ky, Expr ci, Expr o, Expr ox, Expr oy,
                       Expr image) {
  Expr ix = ox * static_cast<int>(g.w.sw) + kx * static_cast<int>(g.w.dw) -
            static_cast<int>(g.w.padLeft);
  Expr iy = oy * static_cast<int>(g.w.sh) + ky * static_cast<int>(g.w.dh) -
            static_cast<int>(g.w.padTop);
  Expr c = (o / static_cast<int>(g.og)) * static_cast<int>(g.cg) + ci;
  return dy(ox, oy, o, image) * padded(ix, iy, c, image);
}

// GPU: one weight element per thread, summing dy x over the images and
// output positions in a register (zero outside the input). `o` names the
// output-channel loop.
Func convGradWeightGpu(const KernelSpec &s, ImageParam x, Func dy,
                       Var o = Var("o")) {
  ConvGradGeometry g = gradWeightGeometry(s);
  std::vector<Var> v = {Var("kx"), Var("ky"), Var("ci"), o};
  RDom r(0, static_cast<int>(g.ow), 0, static_cast<int>(g.oh), 0,
         static_cast<int>(g.n), "r");
  Func acc("acc"), out("dw");
  acc(v) = 0.0f;
  acc(v) += gradWeightTermGpu(g, BoundaryConditions::constant_exterior(x, 0.0f),
                              dy, v[0], v[1], v[2], v[3], r.x, r.y, r.z);
  out(v) = acc(v);
  constrainOutput(out, s.outputs[0]);
  scheduleGpuPlanes(out, acc, v, halideShape(s.outputs[0]));
  return out;
}

// The GPU weight gradients' last stage: one thread per weight element of
// out(kx, ky, ci, o), its sum of partial sums `total` in a register.
void scheduleWeightSumGpu(Func out, Func total) {
  std::vector<Var> v = out.args();
  Var t1("t1"), t2("t2"), all("all"), block("block"), thread("thread");
  out.fuse(v[0], v[1], t1)
      .fuse(t1, v[2], t2)
      .fuse(t2, v[3], all)
      .gpu_tile(all, block, thread, kGpuThreads, TailStrategy::GuardWithIf);
  total.compute_at(out, thread);
}

// GPU, grouped or under 32 input channels (a stem's; else
// buildConvGradWeightGemmGpu): the weight gradient as a GEMM over the
// output positions p = (image, row, column) of dy, in two stages. First,
// one thread per (register tile, lane, chunk) sums the positions p = (chunk
// * steps + j) * lanes + lane of its chunk for a tile of up to 8 output
// channels x (every tap of a window of up to 9) or (1x1) x 4 input
// channels, in registers:
// each dy value feeds 9 (or 4) FMAs and each x value 8. Lanes are the
// innermost threads, so a warp's loads of dy and x are runs of consecutive
// positions (coalesced). Lanes (32, fewer while the partial sums would
// pass 2^24 elements) and chunks (while the threads stay within 2^18 and
// each weight element within 512 partial sums) set the parallelism. Then
// one thread per weight element sums its lanes and chunks (coalesced).
// Measured on an H200 (docs/gpu.md), ResNet-18's weight gradients at batch
// 64: one thread per (weight element, chunk of images) 90 ms of the 232 ms
// training step; register tiles with consecutive threads on consecutive
// input channels (x loads a plane apart) still 86 ms. Reads past the last
// channel of an edge tile are clamped, positions past the last are 0.
Kernel buildConvGradWeightGpu(const KernelSpec &s) {
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  ConvGradGeometry g = gradWeightGeometry(s);
  int64_t taps = g.w.kw * g.w.kh;
  bool unrollTaps = taps <= 9;
  // Larger windows (the 7x7 stem): a tile holds a row of taps, so that
  // each dy value feeds 7 x 8 FMAs; with one tap per tile, 8 FMAs took 9
  // loads (the stem's weight gradient on an H200, session 38: 3.2 -> 4.4
  // ms when the lanes came).
  bool unrollRow = !unrollTaps && g.w.kw <= 8;
  int oTile = static_cast<int>(std::min<int64_t>(8, g.o));
  int ciTile = static_cast<int>(std::min<int64_t>(taps == 1 ? 4 : 1, g.cg));
  int64_t tiles = (g.o + oTile - 1) / oTile * ((g.cg + ciTile - 1) / ciTile) *
                  (unrollTaps ? 1 : unrollRow ? g.w.kh : taps);
  int64_t weights = s.outputs[0].numElements();
  int64_t positions = g.n * g.oh * g.ow;
  constexpr int64_t kMaxPartials = int64_t(1) << 24;
  constexpr int64_t kMaxThreads = int64_t(1) << 18;
  constexpr int64_t kMaxTerms = 512;
  int64_t lanes = 32;
  while (lanes > 1 && (lanes > positions || weights * lanes > kMaxPartials)) {
    lanes /= 2;
  }
  int64_t chunks = std::max<int64_t>(
      1, std::min({kMaxThreads / (tiles * lanes),
                   kMaxPartials / (weights * lanes), kMaxTerms / lanes,
                   positions / (lanes * 64)}));
  int64_t steps = (positions + lanes * chunks - 1) / (lanes * chunks);
  chunks = (positions + lanes * steps - 1) / (lanes * steps);
  int ow = static_cast<int>(g.ow), oh = static_cast<int>(g.oh);
  int last = static_cast<int>(positions - 1);
  Var kx("kx"), ky("ky"), ci("ci"), o("o"), lane("lane"), chunk("chunk");
  RDom r(0, static_cast<int>(steps), "r");
  Expr p = (chunk * static_cast<int>(steps) + r) * static_cast<int>(lanes) +
           lane;
  Expr at = min(p, last);
  Func padded = gpuZeroPadded(x, "x_padded");
  Expr term = gradWeightTermGpu(
      g, padded, dy, kx, ky, min(ci, static_cast<int>(g.cg) - 1),
      min(o, static_cast<int>(g.o) - 1), at % ow, at / ow % oh, at / (ow * oh));
  Func acc("acc"), partial("partial"), total("total"), out("dw");
  acc(kx, ky, ci, o, lane, chunk) = 0.0f;
  acc(kx, ky, ci, o, lane, chunk) += select(p <= last, term, 0.0f);
  partial(kx, ky, ci, o, lane, chunk) = acc(kx, ky, ci, o, lane, chunk);
  RDom rs(0, static_cast<int>(lanes), 0, static_cast<int>(chunks), "rs");
  total(kx, ky, ci, o) = 0.0f;
  total(kx, ky, ci, o) += partial(kx, ky, ci, o, rs.x, rs.y);
  out(kx, ky, ci, o) = total(kx, ky, ci, o);
  constrainOutput(out, s.outputs[0]);

  Var oo("oo"), oi("oi"), co("co"), cj("cj"), block("block"), thread("thread");
  partial.compute_root()
      .split(o, oo, oi, oTile, TailStrategy::GuardWithIf)
      .split(ci, co, cj, ciTile, TailStrategy::GuardWithIf);
  Var head = lane;
  if (unrollTaps) {
    partial.reorder(kx, ky, cj, oi, lane, co, oo, chunk);
  } else if (unrollRow) {
    partial.reorder(kx, cj, oi, lane, ky, co, oo, chunk);
    Var fused(head.name() + "_" + ky.name());
    partial.fuse(head, ky, fused);
    head = fused;
  } else {
    partial.reorder(cj, oi, lane, kx, ky, co, oo, chunk);
    for (Var v : {kx, ky}) {
      Var fused(head.name() + "_" + v.name());
      partial.fuse(head, v, fused);
      head = fused;
    }
  }
  for (Var v : {co, oo, chunk}) {
    Var fused(head.name() + "_" + v.name());
    partial.fuse(head, v, fused);
    head = fused;
  }
  partial.gpu_tile(head, block, thread, kGpuThreads, TailStrategy::GuardWithIf)
      .unroll(cj)
      .unroll(oi);
  acc.compute_at(partial, thread)
      .bound_extent(o, oTile)
      .bound_extent(ci, ciTile)
      .unroll(o)
      .unroll(ci);
  acc.update().reorder(kx, ky, ci, o, r).unroll(o).unroll(ci);
  if (unrollTaps) {
    partial.unroll(kx).unroll(ky);
    acc.bound_extent(kx, static_cast<int>(g.w.kw))
        .bound_extent(ky, static_cast<int>(g.w.kh))
        .unroll(kx)
        .unroll(ky);
    acc.update().unroll(kx).unroll(ky);
  } else if (unrollRow) {
    partial.unroll(kx);
    acc.bound_extent(kx, static_cast<int>(g.w.kw)).unroll(kx);
    acc.update().unroll(kx);
  }
  scheduleWeightSumGpu(out, total);
  return {{x, dy}, out};
}

// GPU, one group of 32 or more input channels: the weight gradient as a
// GEMM on the dense products' shared-memory tiles (defineGpuProduct,
// scheduleDenseGpu): dw(c, o, tap) = sum over positions q of dyF(q, o) *
// xF(q + offset(tap), c * S + phase(tap)). Two root kernels flatten the
// operands so that a position is one linear index over (column, row,
// image), the images inside the channels: xF is x zero-padded and split
// into its S stride phases (S = sh * sw, 1 for a 1x1 window), each phase
// plane Wph x Hph, so that a window tap reads one phase plane at a constant
// offset of q (the CPU's stride phases, with the images flattened too);
// dyF is dy on the same grid, zero in its extra columns and rows (the cost:
// 7x7 planes become 9x9, 56x56 58x58). The product's rows are the output
// channels, its features the input channels, and its batch (part of the
// positions, tap) is in the block index; one thread per weight element
// then adds the parts. So the staged x index is the position plus a
// constant of the block: where it decomposed the position (session 43) or
// the tap (col % KW, col / KW % KH with (c, tap) as the features), LLVM 14
// kept each thread's sums in local memory around every chunk (8 KiB a
// thread in 8 of ResNet-18's 10 such layers; docs/gpu.md).
Kernel buildConvGradWeightGemmGpu(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  ConvGradGeometry g = gradWeightGeometry(s);
  const Window &w = g.w;
  int sh = static_cast<int>(w.sh), sw = static_cast<int>(w.sw);
  int dh = static_cast<int>(w.dh), dwl = static_cast<int>(w.dw);
  int kw = static_cast<int>(w.kw), kh = static_cast<int>(w.kh);
  int phases = kw == 1 && kh == 1 ? 1 : sh * sw;
  int wph = static_cast<int>(g.ow) + (kw - 1) * dwl / sw;
  int hph = static_cast<int>(g.oh) + (kh - 1) * dh / sh;
  int plane = wph * hph;
  int64_t positions = g.n * plane;
  int64_t weights = g.c * kh * kw * g.o;

  Var q("q"), ch("ch"), o("oc");
  Expr u = q % wph, v = q / wph % hph, image = q / plane;
  Func xF("x_flat"), dyF("dy_flat");
  Expr phase = ch % phases;
  xF(q, ch) = BoundaryConditions::constant_exterior(x, 0.0f)(
      u * sw + phase % sw - static_cast<int>(w.padLeft),
      v * sh + phase / sw - static_cast<int>(w.padTop), ch / phases, image);
  dyF(q, o) = BoundaryConditions::constant_exterior(dy, 0.0f)(u, v, o, image);
  rootStages(xF, target);
  rootStages(dyF, target);

  // Parts: about 1024 blocks of 64 input channels x 32 output channels,
  // each part at least 256 positions, and at most 2^24 partial sums.
  int64_t blocks = (g.c + 63) / 64 * ((g.o + 31) / 32) * kh * kw;
  int64_t parts = std::max<int64_t>(
      1, std::min({(1024 + blocks - 1) / blocks, (int64_t(1) << 24) / weights,
                   positions / 256}));
  int64_t perPart = (positions + parts - 1) / parts;
  perPart = (perPart + 15) / 16 * 16;
  parts = (positions + perPart - 1) / perPart;
  int kp = static_cast<int>(perPart);

  DenseFuncs f;
  f.inputs = {x, dy};
  Var part("part"), tap("tap");
  f.batch = {part, tap};
  std::vector<Var> args = {f.o, f.n, part, tap};
  f.acc(args) = 0.0f;
  f.acc(args) += defineGpuProduct(
      f, {g.o, g.c}, kp,
      [&](Expr k, Expr oc, const std::vector<Expr> &b) {
        return dyF(b[0] * kp + k, oc);
      },
      [&](Expr c, Expr k, const std::vector<Expr> &b) {
        Expr tx = b[1] % kw * dwl, ty = b[1] / kw * dh;
        Expr chan = c * phases;
        if (phases > 1) {
          chan += ty % sh * sw + tx % sw;
        }
        return xF(b[0] * kp + k + ty / sh * wph + tx / sw, chan);
      });
  f.out(args) = f.acc(args);
  f.out.compute_root();
  scheduleDense(f, {g.o, g.c}, target);

  Var kx("kx"), ky("ky"), ci("ci"), oc("o");
  RDom r(0, static_cast<int>(parts), "r");
  Func total("total"), out("dw");
  total(kx, ky, ci, oc) = 0.0f;
  total(kx, ky, ci, oc) += f.out(ci, oc, r, kx + kw * ky);
  out(kx, ky, ci, oc) = total(kx, ky, ci, oc);
  constrainOutput(out, s.outputs[0]);
  scheduleWeightSumGpu(out, total);
  return {{x, dy}, out};
}

// The pointwise form: a 1x1 conv2d_grad_weight at stride 1 without padding
// (MobileNetV2's expansions and projections) is the matrix product dw(c, o)
// = sum over (n, y, x) of dy(x, y, o, n) * x(x, y, c, n), both operands
// contiguous along x. Vectorized over x: part(lane, c, o, t) += dy * x, each
// task t summing its share of the images; then the tasks' and the lanes'
// sums. No transposed copy of x (the channel form's xT: 51 MB of traffic
// at 32 channels on 112x112, batch 16), and each task reads x and dy once
// where the channel form's tasks each reread xT. MobileNetV2's at batch 16
// (AVX2, alternating `kiln bench --profile` of each kernel alone; dw is O x
// C): 16 x 32 on 112x112 7.1-7.2 -> 1.7-1.8 ms, 96 x 16 on 112x112 6.6 ->
// 4.8-4.9, 24 x 144 on 56x56 5.0-5.7 -> 2.6-2.7, 144 x 24 3.6 -> 2.5, 24 x
// 96 3.4-3.6 -> 1.7.
struct PointwiseGradWeight {
  int tasks = 2;            // image chunks summed in parallel
  int cTile = 1, oTile = 1; // register tile: cTile x oTile sums
};

// Where it applies: AVX2; 1x1, stride 1, no padding, groups 1; an even
// batch; rows of whole vectors; planes of 2048 positions or more (on 28x28
// the channel form, an image's xT in L2, was as fast: 192 x 32 at batch 16
// 1.21-1.22 against 1.32-1.36 ms, 32 x 144 1.05-1.08 either way); and each
// task's partial sums (vec x C x O floats) within 256 KB.
std::optional<PointwiseGradWeight>
pointwiseGradWeightForm(const KernelSpec &s, const Target &target) {
  ConvGradGeometry g = gradWeightGeometry(s);
  const Window &w = g.w;
  int vec = target.natural_vector_size<float>();
  if (vec != 8 || g.groups != 1 || w.kh != 1 || w.kw != 1 || w.sh != 1 ||
      w.sw != 1 || hasPadding(w) || g.ow % vec != 0 || g.n % 2 != 0 ||
      g.oh * g.ow < 2048 || g.c * g.o * vec * 4 > (256 << 10)) {
    return std::nullopt;
  }
  PointwiseGradWeight f;
  f.tasks = g.n % 4 == 0 ? 4 : 2;
  // 4 input x 3 output channels (12 sums of a vector of positions each, 7
  // loads per 12 FMAs), the last group of output channels guarded.
  f.cTile = g.c % 4 == 0 ? 4 : g.c % 2 == 0 ? 2 : 1;
  f.oTile = static_cast<int>(std::min<int64_t>(g.o, 3));
  return f;
}

Kernel buildPointwiseGradWeight(const KernelSpec &s,
                                const PointwiseGradWeight &form,
                                const Target &target) {
  ConvGradGeometry g = gradWeightGeometry(s);
  int vec = target.natural_vector_size<float>();
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  int perTask = static_cast<int>(g.n) / form.tasks;
  Var lane("lane"), c("c"), o("o"), t("t"), kx("kx"), ky("ky");
  RDom r(0, static_cast<int>(g.ow) / vec, 0, static_cast<int>(g.oh), 0, perTask,
         "r");
  Expr px = r.x * vec + lane, n = t * perTask + r.z;
  Func part("part"), total("total"), out("dw");
  part(lane, c, o, t) = 0.0f;
  part(lane, c, o, t) += dy(px, r.y, o, n) * x(px, r.y, c, n);
  RDom ts(0, form.tasks, "ts");
  total(lane, c, o) = sum(part(lane, c, o, ts));
  RDom ls(0, vec, "ls");
  out(kx, ky, c, o) = sum(total(ls, c, o), "lane_sum");
  constrainOutput(out, s.outputs[0]);

  // Per task and image, chunks of whole rows (the most rows dividing the
  // plane within 1024 positions: 8 of 112 columns, 14 of 56); per chunk
  // each register tile sums the chunk as one loop (its sums in registers),
  // its rows of x and dy read from cache by the other tiles. Chunks of 512
  // positions: 2.1 and 5.7 ms for 16 x 32 and 96 x 16 on 112x112 at batch
  // 16, against 1.8 and 4.8; row by row (the sums stored per row) 3.0 and
  // 8.0. The 12 sums hold the 3 dy vectors and stream x: 4 held x vectors
  // spill (17 registers).
  part.compute_root().vectorize(lane);
  Var ct("ct"), ci("ci"), ot("ot"), oi("oi");
  RVar yo("yo"), yi("yi"), rxy("rxy");
  int rows = static_cast<int>(std::clamp<int64_t>(1024 / g.ow, 1, g.oh));
  while (g.oh % rows != 0) {
    --rows;
  }
  part.update()
      .split(c, ct, ci, form.cTile, TailStrategy::GuardWithIf)
      .split(o, ot, oi, form.oTile, TailStrategy::GuardWithIf)
      .split(r.y, yo, yi, rows)
      .reorder(lane, oi, ci, r.x, yi, ct, ot, yo, r.z, t)
      .fuse(r.x, yi, rxy)
      .vectorize(lane)
      .unroll(ci)
      .unroll(oi)
      .parallel(t);
  total.compute_root().vectorize(lane);
  out.bound(kx, 0, 1).bound(ky, 0, 1);
  return {{x, dy}, out};
}

Kernel buildConvGradWeight(const KernelSpec &s, const Target &target) {
  if (target.has_gpu_feature()) {
    ConvGradGeometry g = gradWeightGeometry(s);
    return g.groups == 1 && g.c >= 32 ? buildConvGradWeightGemmGpu(s, target)
                                      : buildConvGradWeightGpu(s);
  }
  if (gradWeightTile(s) != 0) {
    return buildConv2dGradWeightWinograd(s, target);
  }
  if (auto form = pointwiseGradWeightForm(s, target)) {
    return buildPointwiseGradWeight(s, *form, target);
  }
  if (channelGradWeightFits(s, target)) {
    ChannelGradWeightFuncs f =
        defineChannelGradWeight(s, target.natural_vector_size<float>());
    scheduleChannelGradWeight(f, s, target);
    return {std::vector<Argument>(f.inputs.begin(), f.inputs.end()), f.out};
  }
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  ConvGradWeightFuncs f = defineConvGradWeight(s, x, dy, target);
  f.inputs = {x, dy};
  scheduleConvGradWeight(f, s, target);
  return {std::vector<Argument>(f.inputs.begin(), f.inputs.end()), f.out};
}

} // namespace

// The lanes form (defineConvGradWeight) for one output channel at a time:
// at each iteration of the caller's channel loop c, the KH*KW*C lane sums
// (at most 27: kiln::ir::isGradientSink) in registers over the channel's
// dy, flattened image by image into L1; x's stride phases built once
// (root). GPU: the direct form over dy computed at the root.
Func convGradWeightOfChannel(const KernelSpec &s, ImageParam x, Func dy,
                             Var c, bool parallel, const Target &target) {
  if (target.has_gpu_feature()) {
    return convGradWeightGpu(s, x, dy, c);
  }
  ConvGradWeightFuncs f = defineConvGradWeight(s, x, dy, target, c);
  if (parallel) {
    f.out.parallel(c);
  }
  f.part.compute_at(f.out, c);
  Stage update = f.part.update();
  if (f.width > 1) {
    f.part.vectorize(f.lane);
    update.vectorize(f.lane);
  }
  update.unroll(f.kx).unroll(f.ky).unroll(f.ci).reorder(
      f.lane, f.kx, f.ky, f.ci, f.r.x, f.r.y);
  flattenDyPerImage(f, target);
  scheduleStridePhases(f.xPhases, parallel, target);
  return f.out;
}

bool fitsSinkLoop(const KernelSpec &s, const Target &target) {
  ConvGradGeometry g = gradWeightGeometry(s);
  return g.groups == 1 && g.c * g.w.kh * g.w.kw <= 9 &&
         g.ow >= target.natural_vector_size<float>();
}

// Target: x86-64 AVX-512, 2 cores. part(lane, j, c) over the output rows
// in vectors of positions (a row of 28: positions 0-15, then 12-27 with
// lanes 0-3 zeroed, as already summed), reading dy and xc where the caller
// computed them for the image (L1) and the taps of x from its zero-padded
// copy (root): per vector 2 + taps loads and 3 + 2·taps FMAs into 16-lane
// accumulators (21 zmm for 3x3 over one channel), j unrolled. Σ x_tap over
// the output positions once per call (root).
SinkLoop defineSinkLoop(const KernelSpec &s, ImageParam x, Func dy, Func xc,
                        Var c, const Target &target) {
  ConvGradGeometry g = gradWeightGeometry(s);
  const Window &w = g.w;
  int vec = target.natural_vector_size<float>();
  int oh = static_cast<int>(g.oh), ow = static_cast<int>(g.ow);
  int kw = static_cast<int>(w.kw), kh = static_cast<int>(w.kh);
  int taps = static_cast<int>(g.c) * kw * kh;
  int vectors = (ow + vec - 1) / vec;
  // x centred on its channel's mean over the batch, x̄: with k = -a·Σdy/M,
  // Σ dz = b·Σxc, so Σ dz·x_tap = Σ dz·(x_tap - x̄) + x̄·b·Σxc, whose terms
  // no longer cancel in x̄'s share of a·Σ dy·x_tap and k·Σ x_tap (inputs
  // with an offset, as images of non-negative pixels: 1.6e-5 relative off
  // on the kernel test's values uncentred).
  std::vector<int> extents = halideShape(s.inputs[0]);
  Func xSum = channelSum(
      "x_sum", extents, [&](const std::vector<Expr> &at) { return x(at); },
      target);
  float elements = static_cast<float>(g.n * g.h * g.wd);
  Func padded("x_padded");
  {
    std::vector<Var> v = makeVars(4);
    padded(v) = BoundaryConditions::constant_exterior(x, 0.0f)(v) -
                xSum(v[2]) / elements;
    Var plane("plane");
    padded.compute_root().fuse(v[2], v[3], plane).vectorize(v[0], vec,
                                                          TailStrategy::GuardWithIf);
    parallelPlanes(padded, plane, g.h * g.wd);
  }
  Var lane("lane"), j("j"), t("t");
  // Output position (ox, oy) of lane `lane` of vector rv in row oy: the
  // last vector of a row shifted inwards, its lanes already summed zeroed.
  auto position = [&](Expr rv) { return min(rv * vec, ow - vec) + lane; };
  auto fresh = [&](Expr rv) { return position(rv) >= rv * vec; };
  // Tap t = (ci, ky, kx), kx fastest.
  auto tapOf = [&](int tap, Expr ox, Expr oy, Expr n) {
    Expr ix = ox * static_cast<int>(w.sw) +
              (tap % kw) * static_cast<int>(w.dw) -
              static_cast<int>(w.padLeft);
    Expr iy = oy * static_cast<int>(w.sh) +
              ((tap / kw) % kh) * static_cast<int>(w.dh) -
              static_cast<int>(w.padTop);
    return padded(ix, iy, tap / (kw * kh), n);
  };

  SinkLoop f;
  RDom r(0, vectors, 0, oh, 0, static_cast<int>(g.n), "r");
  f.image = r.z;
  Expr ox = position(r.x);
  Expr d = select(fresh(r.x), dy(ox, r.y, c, r.z), 0.0f);
  Expr e = select(fresh(r.x), xc(ox, r.y, c, r.z), 0.0f);
  Expr term = select(j == 0, d, j == 1, d * e, e);
  for (int tap = taps - 1; tap >= 0; --tap) {
    Expr xt = tapOf(tap, ox, r.y, r.z);
    term = select(j == 3 + tap, d * xt, j == 3 + taps + tap, e * xt, term);
  }
  int count = 3 + 2 * taps;
  f.part(lane, j, c) = 0.0f;
  f.part(lane, j, c) += term;
  RDom l(0, vec, "l");
  f.total(j, c) = 0.0f;
  f.total(j, c) += f.part(l, j, c);

  // Σ x_tap over the output positions.
  Func tapPart("tap_part"), tapSum("tap_sum");
  RDom rt(0, vectors, 0, oh, 0, static_cast<int>(g.n), "rt");
  Expr tox = position(rt.x);
  Expr tapValue = tapOf(taps - 1, tox, rt.y, rt.z);
  for (int k = taps - 2; k >= 0; --k) {
    tapValue = select(t == k, tapOf(k, tox, rt.y, rt.z), tapValue);
  }
  tapPart(lane, t) = 0.0f;
  tapPart(lane, t) += select(fresh(rt.x), tapValue, 0.0f);
  tapSum(t) = sum(tapPart(l, t), "tap_lanes");

  f.output = [=](Func a, Func b, Func k) {
    Var kx("kx"), ky("ky"), ci("ci");
    Expr tap = (ci * kh + ky) * kw + kx;
    Func dw("dw");
    dw(kx, ky, ci, c) =
        a(c) * f.total(3 + tap, c) + b(c) * f.total(3 + taps + tap, c) +
        k(c) * tapSum(tap) + xSum(ci) / elements * (b(c) * f.total(2, c));
    constrainOutput(dw, s.outputs[0]);
    return dw;
  };

  // Every access to part at a constant index (its zeroing and the lane
  // sums unrolled too), so that LLVM keeps the accumulators in registers
  // over the loop instead of storing them to the stack at every step.
  f.part.bound(j, 0, count).vectorize(lane).unroll(j);
  f.part.update().vectorize(lane).unroll(j).unroll(r.x).reorder(lane, j,
                                                               r.x, r.y, r.z);
  f.total.bound(j, 0, count).unroll(j);
  f.total.update().reorder(l, j).unroll(l).unroll(j);
  tapSum.compute_root().bound(t, 0, taps);
  tapPart.compute_at(tapSum, Var::outermost()).vectorize(lane);
  tapPart.update().vectorize(lane).unroll(t).unroll(rt.x).reorder(
      lane, t, rt.x, rt.y, rt.z);
  return f;
}

void registerConvGradOps(OpRegistry &r) {
  r["conv2d_grad_input"] = {validateConvGradInput, buildConvGradInput};
  r["conv2d_grad_weight"] = {validateConvGradWeight, buildConvGradWeight};
}

} // namespace kiln::codegen::detail
