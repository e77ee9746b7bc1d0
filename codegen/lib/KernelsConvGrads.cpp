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

struct ConvGradInputFuncs {
  std::vector<ImageParam> inputs;
  Var x{"x"}, y{"y"}, c{"c"}, n{"n"}, p{"p"};
  RDom r; // (kx, ky, output channel within the group)
  Func dyFlat{"dy_flat"}, acc{"acc"}, accOut{"acc_out"}, out{"dx"};
  bool flat = false;
  int pitch = 0; // row pitch Wp of the flattened planes
};

ConvGradInputFuncs defineConvGradInput(const KernelSpec &s) {
  ConvGradInputFuncs f;
  ConvGradGeometry g = gradInputGeometry(s);
  const Window &w = g.w;
  ImageParam dy = makeInput(s.inputs[0], "dy");
  ImageParam weight = makeInput(s.inputs[1], "weight");
  f.inputs = {dy, weight};
  int cg = static_cast<int>(g.cg), og = static_cast<int>(g.og);
  int kw = static_cast<int>(w.kw), kh = static_cast<int>(w.kh);
  int dw = static_cast<int>(w.dw), dh = static_cast<int>(w.dh);
  int oh = static_cast<int>(g.oh), ow = static_cast<int>(g.ow);
  f.r = RDom(0, kw, 0, kh, 0, og, "r");
  Expr o = g.groups == 1 ? Expr(f.r.z) : (f.c / cg) * og + f.r.z;
  Expr wt = weight(f.r.x, f.r.y, g.groups == 1 ? Expr(f.c) : f.c % cg, o);
  f.flat = w.sh == 1 && w.sw == 1;
  if (f.flat) {
    // dx(ix, iy) = sum w(kx, ky) * dy(ix + padLeft - kx*dw, iy + padTop -
    // ky*dh): a correlation of zero-padded dy with the flipped weight. dy is
    // laid out with pitch Wp = W + (KW-1)*dw, shifted so every tap offset is
    // non-negative: dyFlat(q) = dy(qx - (KW-1)*dw + padLeft, qy - (KH-1)*dh +
    // padTop).
    f.pitch = static_cast<int>(g.wd) + (kw - 1) * dw;
    Expr qx = f.p % f.pitch, qy = f.p / f.pitch;
    Expr sx = qx - (kw - 1) * dw + static_cast<int>(w.padLeft);
    Expr sy = qy - (kh - 1) * dh + static_cast<int>(w.padTop);
    Expr inside = sx >= 0 && sx < ow && sy >= 0 && sy < oh;
    Var pc("pc"), pn("pn");
    f.dyFlat(f.p, pc, pn) =
        select(inside, dy(clamp(sx, 0, ow - 1), clamp(sy, 0, oh - 1), pc, pn),
               0.0f);
    Expr tap = f.p + ((kh - 1) * dh - f.r.y * dh) * f.pitch +
               ((kw - 1) * dw - f.r.x * dw);
    f.acc(f.p, f.c, f.n) = 0.0f;
    f.acc(f.p, f.c, f.n) += wt * f.dyFlat(tap, o, f.n);
    f.accOut(f.p, f.c, f.n) = f.acc(f.p, f.c, f.n);
    f.out(f.x, f.y, f.c, f.n) = f.accOut(f.y * f.pitch + f.x, f.c, f.n);
  } else {
    // Strided: gather the output positions whose window touches (ix, iy).
    auto source = [](Expr i, int pad, Expr k, int dil, int stride,
                     int extent, Expr &valid) {
      Expr t = i + pad - k * dil;
      valid = valid && t % stride == 0 && t >= 0 && t / stride < extent;
      return clamp(t / stride, 0, extent - 1);
    };
    Expr valid = Internal::const_true();
    Expr ox = source(f.x, static_cast<int>(w.padLeft), f.r.x, dw,
                     static_cast<int>(w.sw), ow, valid);
    Expr oy = source(f.y, static_cast<int>(w.padTop), f.r.y, dh,
                     static_cast<int>(w.sh), oh, valid);
    f.acc(f.x, f.y, f.c, f.n) = 0.0f;
    f.acc(f.x, f.y, f.c, f.n) += wt * select(valid, dy(ox, oy, o, f.n), 0.0f);
    f.out(f.x, f.y, f.c, f.n) = f.acc(f.x, f.y, f.c, f.n);
  }
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// Target: x86-64 AVX-512 (16 lanes), 2 cores. Stride 1: the flattened plane
// of 8 input channels is computed per parallel (channel block, n) task in
// register tiles of 2 vectors x 8 channels (16 zmm accumulators, each dy
// vector feeds 8 FMAs), the (kx, ky, o) reduction inside the tile, then
// copied out without the pitch columns. dyFlat is built once (root).
// Measured for dy [64,32,14,14], w [32,16,3,3], pad 1: see docs/codegen.md.
void scheduleConvGradInput(ConvGradInputFuncs &f, const KernelSpec &s,
                           const Target &target) {
  int vec = target.natural_vector_size<float>();
  const auto &dx = s.outputs[0].shape;
  int channels = static_cast<int>(dx[1]);
  int height = static_cast<int>(dx[2]), width = static_cast<int>(dx[3]);
  int cb = std::min(channels, 8);
  bool parallel = s.outputs[0].numElements() >= kParallelGrain;
  Var co("co"), ci("ci"), task("task");
  f.out.split(f.c, co, ci, cb, TailStrategy::ShiftInwards)
      .reorder(f.x, f.y, ci, co, f.n)
      .fuse(co, f.n, task);
  if (parallel) {
    f.out.parallel(task);
  }
  int xw = vectorWidthFor(width, vec);
  if (xw > 1) {
    f.out.vectorize(f.x, xw, TailStrategy::ShiftInwards);
  }
  if (s.inputs[1].shape[3] <= 7) {
    f.acc.update().unroll(f.r.x);
  }
  if (f.flat) {
    int extent = height * f.pitch;
    int pw = vectorWidthFor(extent, vec);
    int tile = extent >= 2 * pw ? 2 * pw : pw;
    Var po("po"), pi("pi"), pv("pv"), pl("pl"), ao("ao");
    f.accOut.compute_at(f.out, task)
        .split(f.p, po, pi, tile, TailStrategy::ShiftInwards)
        .reorder(pi, f.c, po, f.n);
    if (pw > 1) {
      f.accOut.vectorize(pi, pw);
    }
    f.acc.compute_at(f.accOut, po);
    for (Stage stage : {Stage(f.acc), f.acc.update()}) {
      stage.split(f.p, ao, f.p, tile)
          .split(f.p, pv, pl, pw)
          .unroll(pv)
          .unroll(f.c);
      if (pw > 1) {
        stage.vectorize(pl);
      }
    }
    f.acc.update().reorder(pl, pv, f.c, ao, f.r.x, f.r.y, f.r.z);
    Var q = f.dyFlat.args()[0], pc = f.dyFlat.args()[1],
        pn = f.dyFlat.args()[2], plane("plane");
    f.dyFlat.compute_root().fuse(pc, pn, plane);
    if (parallel) {
      f.dyFlat.parallel(plane);
    }
    f.dyFlat.vectorize(q, vec, TailStrategy::GuardWithIf);
  } else {
    Var ax("ax");
    f.acc.compute_at(f.out, f.y);
    for (Stage stage : {Stage(f.acc), f.acc.update()}) {
      stage.split(f.x, ax, f.x, std::max(xw, 1), TailStrategy::GuardWithIf);
      if (xw > 1) {
        stage.vectorize(f.x);
      }
    }
    f.acc.update().reorder(f.x, f.r.x, f.r.y, f.r.z, ax);
  }
}

Kernel buildConvGradInput(const KernelSpec &s, const Target &target) {
  ConvGradInputFuncs f = defineConvGradInput(s);
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

void validateConvGradWeight(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s);
  expectRank(s, s.inputs[0], "x", 4);
  expectRank(s, s.inputs[1], "dy", 4);
  ConvGradGeometry g = gradWeightGeometry(s);
  expectGroups(s, g.groups, g.c, g.o);
  expectDyShape(s, g, s.inputs[1]);
  expectShape(s, s.outputs[0], "output", {g.o, g.cg, g.w.kh, g.w.kw});
}

struct ConvGradWeightFuncs {
  std::vector<ImageParam> inputs;
  Var kx{"kx"}, ky{"ky"}, ci{"ci"}, o{"o"}, lane{"lane"};
  RDom r;    // (vector of positions, row, n)
  RDom lanes; // the lanes of `part`
  Func dyPadded{"dy_padded"}, xPadded{"x_padded"}, part{"part"}, out{"dw"};
  int width = 1; // lanes of part
};

ConvGradWeightFuncs defineConvGradWeight(const KernelSpec &s,
                                         const Target &target) {
  ConvGradWeightFuncs f;
  ConvGradGeometry g = gradWeightGeometry(s);
  const Window &w = g.w;
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  f.inputs = {x, dy};
  int vec = target.natural_vector_size<float>();
  int cg = static_cast<int>(g.cg), og = static_cast<int>(g.og);
  int kw = static_cast<int>(w.kw);
  int dw = static_cast<int>(w.dw), dh = static_cast<int>(w.dh);
  int oh = static_cast<int>(g.oh), ow = static_cast<int>(g.ow);
  int h = static_cast<int>(g.h), wd = static_cast<int>(g.wd);
  int padL = static_cast<int>(w.padLeft), padT = static_cast<int>(w.padTop);
  Expr c = g.groups == 1 ? Expr(f.ci) : (f.o / og) * cg + f.ci;
  Var q("q"), row("row"), pc("pc"), pn("pn");
  auto xAt = [&](Expr sx, Expr sy, Expr ch, Expr nn) {
    Expr inside = sx >= 0 && sx < wd && sy >= 0 && sy < h;
    return select(inside, x(clamp(sx, 0, wd - 1), clamp(sy, 0, h - 1), ch, nn),
                  0.0f);
  };
  Expr lhs, rhs;
  if (w.sh == 1 && w.sw == 1) {
    // dw(kx, ky) = sum_{n, p} dyPadded(p) * xPadded(p + ky*dh*Wp + kx*dw)
    // over flattened planes of pitch Wp = OW + (KW-1)*dw; dyPadded is zero
    // in the pitch columns and past the last row.
    int pitch = ow + (kw - 1) * dw;
    int extent = oh * pitch;
    f.width = vectorWidthFor(extent, vec);
    int positions = roundUp(extent, f.width);
    f.r = RDom(0, positions / f.width, 0, 1, 0, static_cast<int>(g.n), "r");
    Expr px = q % pitch, py = q / pitch;
    f.dyPadded(q, pc, pn) =
        select(px < ow && py < oh,
               dy(clamp(px, 0, ow - 1), clamp(py, 0, oh - 1), pc, pn), 0.0f);
    f.xPadded(q, pc, pn) = xAt(q % pitch - padL, q / pitch - padT, pc, pn);
    Expr pos = f.r.x * f.width + f.lane;
    lhs = f.dyPadded(pos, f.o, f.r.z);
    rhs = f.xPadded(pos + f.ky * (dh * pitch) + f.kx * dw, c, f.r.z);
  } else {
    // Strided: vectors along ox (dy zero-padded to a whole vector).
    f.width = vectorWidthFor(ow, vec);
    int positions = roundUp(ow, f.width);
    f.r = RDom(0, positions / f.width, 0, oh, 0, static_cast<int>(g.n), "r");
    f.dyPadded(q, row, pc, pn) =
        select(q < ow, dy(clamp(q, 0, ow - 1), row, pc, pn), 0.0f);
    f.xPadded(q, row, pc, pn) = xAt(q - padL, row - padT, pc, pn);
    Expr pos = f.r.x * f.width + f.lane;
    lhs = f.dyPadded(pos, f.r.y, f.o, f.r.z);
    rhs = f.xPadded(pos * static_cast<int>(w.sw) + f.kx * dw,
                    f.r.y * static_cast<int>(w.sh) + f.ky * dh, c, f.r.z);
  }
  // One partial sum per lane, then the horizontal sum.
  f.part(f.lane, f.kx, f.ky, f.ci, f.o) = 0.0f;
  f.part(f.lane, f.kx, f.ky, f.ci, f.o) += lhs * rhs;
  f.lanes = RDom(0, f.width, "l");
  f.out(f.kx, f.ky, f.ci, f.o) =
      sum(f.part(f.lanes, f.kx, f.ky, f.ci, f.o), "lane_sum");
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// Target: x86-64 AVX-512 (16 lanes), 2 cores. Parallel over blocks of output
// channels; per block the lane partial sums live in a register tile of KW x
// KH taps x oTile channels (18 zmm for 3x3 and 2 channels): every dy vector
// feeds KH*KW FMAs, every (shifted) x vector oTile FMAs. The reduction runs
// n-outer, channel-inner, so one image's padded planes stay in L1/L2 while
// all input channels consume them. Padded planes are built once (root).
// Measured for x [64,16,14,14], dy [64,32,14,14], pad 1: see docs/codegen.md.
void scheduleConvGradWeight(ConvGradWeightFuncs &f, const KernelSpec &s,
                            const Target &target) {
  int vec = target.natural_vector_size<float>();
  const auto &dw = s.outputs[0].shape;
  int outC = static_cast<int>(dw[0]);
  int kh = static_cast<int>(dw[2]), kw = static_cast<int>(dw[3]);
  bool unrollKy = kh * kw <= 9;
  int taps = unrollKy ? kh * kw : kw;
  int oTile = std::max(1, std::min({outC, 18 / std::max(taps, 1), 8}));
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
  if (kw <= 8) {
    update.unroll(f.kx);
  }
  if (unrollKy) {
    update.unroll(f.ky);
  }
  update.unroll(f.o);
  if (unrollKy) {
    update.reorder(f.lane, f.kx, f.ky, f.o, f.r.x, f.r.y, f.ci, f.r.z);
  } else {
    update.reorder(f.lane, f.kx, f.o, f.r.x, f.r.y, f.ky, f.ci, f.r.z);
  }
  for (Func padded : {f.dyPadded, f.xPadded}) {
    std::vector<Var> args = padded.args();
    Var plane("plane"), image("image");
    padded.compute_root();
    if (args.size() == 4) {
      padded.fuse(args[1], args[2], plane).fuse(plane, args[3], image);
      plane = image;
    } else {
      padded.fuse(args[1], args[2], plane);
    }
    if (parallel) {
      padded.parallel(plane);
    }
    padded.vectorize(args[0], vec, TailStrategy::GuardWithIf);
  }
}

Kernel buildConvGradWeight(const KernelSpec &s, const Target &target) {
  ConvGradWeightFuncs f = defineConvGradWeight(s, target);
  scheduleConvGradWeight(f, s, target);
  return {std::vector<Argument>(f.inputs.begin(), f.inputs.end()), f.out};
}

} // namespace

void registerConvGradOps(OpRegistry &r) {
  r["conv2d_grad_input"] = {validateConvGradInput, buildConvGradInput};
  r["conv2d_grad_weight"] = {validateConvGradWeight, buildConvGradWeight};
}

} // namespace kiln::codegen::detail
