// Elementwise training kernels (docs/training-ops.md): activation_grad,
// prelu_grad, softmax_grad, dropout_train, loss_grad, optimizer_update.
#include "Kernels.h"

#include <cmath>

using namespace Halide;

namespace kiln::codegen::detail {
namespace {

Expr f32(double v) { return cast<float>(Expr(v)); }

Expr sigmoid(Expr x) { return 1.0f / (1.0f + exp(-x)); }

// An elementwise kernel over the shape of output 0: one pure (possibly
// Tuple-valued) Func, scheduled by scheduleElementwise.
Kernel elementwiseKernel(const KernelSpec &s, const Target &target,
                         std::vector<Argument> inputs, Func out,
                         const std::vector<Var> &v) {
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {std::move(inputs), out};
}

//===----------------------------------------------------------------------===//
// activation_grad: x, dy -> dx = dy * f'(x), PyTorch's values at kinks
//===----------------------------------------------------------------------===//

// The activation's registered gradient (registerUnary); its attributes
// are checked as the forward op's.
const UnaryMath &activationMath(const KernelSpec &s) {
  std::string act = attrString(s, "activation");
  const UnaryMath *math = findUnary(act);
  if (!math || !math->gradient) {
    fail(s, "unknown activation '" + act + "'");
  }
  return *math;
}

void validateActivationGrad(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s);
  expectShape(s, s.inputs[1], "dy", s.inputs[0].shape);
  expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
  const UnaryMath &math = activationMath(s);
  for (const char *name : math.floatAttrs) {
    attrFloat(s, name);
  }
  if (math.checkAttrs) {
    math.checkAttrs(s);
  }
}

} // namespace

Expr activationGrad(const KernelSpec &s, Expr x, Expr dy) {
  return activationMath(s).gradient(x, dy, s);
}

namespace {

// Target: x86-64 AVX-512, 2 cores: scheduleElementwise (memory bound except
// gelu/erf, a polynomial per element).
Kernel buildActivationGrad(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  std::vector<Var> v = makeVars(s.inputs[0].shape.size());
  Func dx("dx");
  dx(v) = activationGrad(s, x(v), dy(v));
  return elementwiseKernel(s, target, {x, dy}, dx, v);
}

//===----------------------------------------------------------------------===//
// prelu_grad: x, slope, dy -> dx, dslope
//===----------------------------------------------------------------------===//

void validatePreluGrad(const KernelSpec &s) {
  expectCounts(s, 3, 3, 2);
  expectF32Except(s);
  const TensorSpec &x = s.inputs[0], &slope = s.inputs[1];
  expectRank(s, slope, "slope", 1);
  bool perChannel = x.shape.size() >= 2 && slope.shape[0] == x.shape[1];
  if (slope.shape[0] != 1 && !perChannel) {
    fail(s, "slope must have shape [C] (x.shape[1]) or [1]");
  }
  expectShape(s, s.inputs[2], "dy", x.shape);
  expectShape(s, s.outputs[0], "dx", x.shape);
  expectShape(s, s.outputs[1], "dslope", slope.shape);
}

// Target: x86-64 AVX-512, 2 cores. dx elementwise; dslope a per-channel sum
// (channelSum) or one vectorized sum for a shared slope.
Kernel buildPreluGrad(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam slope = makeInput(s.inputs[1], "slope");
  ImageParam dy = makeInput(s.inputs[2], "dy");
  size_t rank = s.inputs[0].shape.size();
  bool shared = s.inputs[1].shape[0] == 1;
  std::vector<Var> v = makeVars(rank);
  Expr a = shared ? slope(0) : slope(v[rank - 2]);
  Func dx("dx"), dslope("dslope");
  dx(v) = select(x(v) > 0.0f, dy(v), dy(v) * a);
  auto term = [&](const std::vector<Expr> &at) {
    return select(x(at) > 0.0f, 0.0f, dy(at) * x(at));
  };
  std::vector<int> extents = halideShape(s.inputs[0]);
  Func total = shared ? sumAll("total", extents, term, target)
                      : channelSum("total", extents, term, target);
  Var c("c");
  dslope(c) = shared ? total() : total(c);
  constrainOutput(dx, s.outputs[0]);
  constrainOutput(dslope, s.outputs[1]);
  scheduleElementwise(dx, v, extents, target);
  if (target.has_gpu_feature()) {
    scheduleElementwiseGpu(dslope, {c});
  }
  return {{x, slope, dy}, std::vector<Func>{dx, dslope}};
}

//===----------------------------------------------------------------------===//
// softmax_grad: y (forward output), dy -> dx along any axis
//===----------------------------------------------------------------------===//

void validateSoftmaxGrad(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s);
  expectMinRank(s, s.inputs[0], "y", 1);
  expectShape(s, s.inputs[1], "dy", s.inputs[0].shape);
  expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
  axisAttr(s, s.inputs[0].shape.size());
  attrBool(s, "log");
}

// softmax: dx = y * (dy - sum dy*y); log_softmax: dx = dy - exp(y) * sum dy.
// Target: x86-64 AVX-512, 2 cores; as the forward softmax: the row sums per
// outermost slice (or root when the axis is the outermost dim), vectorized
// along the innermost non-axis dim.
Kernel buildSoftmaxGrad(const KernelSpec &s, const Target &target) {
  size_t rank = s.inputs[0].shape.size();
  ImageParam y = makeInput(s.inputs[0], "y");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  bool logOutput = attrBool(s, "log");
  std::vector<Var> v = makeVars(rank);
  size_t h = rank - 1 - attrInt(s, "axis");
  std::vector<Var> rest;
  for (size_t i = 0; i < rank; ++i) {
    if (i != h) {
      rest.push_back(v[i]);
    }
  }
  RDom r(0, static_cast<int>(s.inputs[0].shape[rank - 1 - h]), "r");
  std::vector<Expr> at = asExprs(v);
  at[h] = r;
  Func rowSum("row_sum"), dx("dx");
  rowSum(rest) = 0.0f;
  rowSum(rest) += logOutput ? dy(at) : dy(at) * y(at);
  dx(v) = logOutput ? dy(v) - exp(y(v)) * rowSum(rest)
                    : y(v) * (dy(v) - rowSum(rest));
  constrainOutput(dx, s.outputs[0]);
  if (target.has_gpu_feature()) {
    rootStages(rowSum, target);
    scheduleElementwiseGpu(dx, v);
    return {{y, dy}, dx};
  }
  int vec = target.natural_vector_size<float>();
  std::vector<int> extents = halideShape(s.outputs[0]);
  if (extents[0] >= vec) {
    dx.vectorize(v[0], vec, TailStrategy::ShiftInwards);
  }
  if (h != rank - 1) {
    if (s.outputs[0].numElements() >= kParallelGrain) {
      dx.parallel(v[rank - 1]);
    }
    rowSum.compute_at(dx, v[rank - 1]);
  } else {
    rowSum.compute_root();
  }
  if (int width = guardedWidth(extents[0], vec);
      !rest.empty() && h != 0 && extents[0] >= vec && width > 1) {
    rowSum.vectorize(rest[0], width, TailStrategy::GuardWithIf);
    rowSum.update().vectorize(rest[0], width, TailStrategy::GuardWithIf);
  }
  return {{y, dy}, dx};
}

//===----------------------------------------------------------------------===//
// dropout_train: x, seed (i32 scalar) -> y, the documented uint32 hash
//===----------------------------------------------------------------------===//

Expr u32(uint32_t value) { return Internal::make_const(UInt(32), value); }

// The documented uint32 hash of (index, seed, salt) (docs/training-ops.md):
// dropout_train's mask and augment's draws.
Expr hashU32(Expr index, Expr seed, uint32_t salt) {
  Expr h = cast<uint32_t>(index) ^ (cast<uint32_t>(seed) * u32(0x9E3779B9u)) ^
           u32(salt * 0x85EBCA6Bu);
  h = h ^ (h >> 16);
  h = h * u32(0x7FEB352Du);
  h = h ^ (h >> 15);
  h = h * u32(0x846CA68Bu);
  return h ^ (h >> 16);
}

// Uniform in [0, 1) from a hash: its top 24 bits, exact in float.
Expr uniformOf(Expr h) { return cast<float>(h >> 8) * f32(1.0 / 16777216.0); }

void validateDropoutTrain(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s, {1});
  expectShape(s, s.inputs[1], "seed", {});
  expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
  double rate = attrFloat(s, "rate");
  if (!(rate >= 0 && rate <= 1)) {
    fail(s, "rate must be in [0, 1]");
  }
  attrInt(s, "salt");
}

// keep = float(h >> 8) * 2^-24 >= rate  <=>  (h >> 8) >= ceil(rate * 2^24),
// exactly (rate * 2^24 is exact in double), so the comparison is integer.
Kernel buildDropoutTrain(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam seed = makeInput(s.inputs[1], "seed");
  double rate = attrFloat(s, "rate");
  uint32_t salt = static_cast<uint32_t>(attrInt(s, "salt"));
  uint32_t threshold =
      static_cast<uint32_t>(std::ceil(rate * 16777216.0)); // <= 2^24
  std::vector<int> extents = halideShape(s.inputs[0]);
  std::vector<Var> v = makeVars(extents.size());
  // Row-major linear index.
  Expr index = u32(0);
  uint32_t stride = 1;
  for (size_t i = 0; i < extents.size(); ++i) {
    index = index + cast<uint32_t>(v[i]) * u32(stride);
    stride *= static_cast<uint32_t>(extents[i]);
  }
  Expr h = hashU32(index, seed(), salt);
  Expr keep = (h >> 8) >= u32(threshold);
  Func out("y");
  out(v) = select(keep, x(v) / f32(1.0 - rate), 0.0f);
  return elementwiseKernel(s, target, {x, seed}, out, v);
}

//===----------------------------------------------------------------------===//
// augment: x [N,C,H,W], seed -> random flips, shift, rotation, zoom, noise
//===----------------------------------------------------------------------===//

// Salts of augment's draws (docs/training-ops.md): per image u_k(n) =
// uniform(hash(8n + k, seed, kAugmentSalt)); per pixel e the noise's two
// uniforms from hash(2e and 2e + 1, seed, kNoiseSalt).
constexpr uint32_t kAugmentSalt = 1000003, kNoiseSalt = 2000003;

void validateAugment(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s, {1});
  expectRank(s, s.inputs[0], "x", 4);
  expectShape(s, s.inputs[1], "seed", {});
  expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
  for (const char *name : {"shift", "rotate", "zoom", "noise"}) {
    double value = attrFloat(s, name);
    if (!std::isfinite(value) || value < 0) {
      fail(s, std::string(name) + " must be finite and >= 0");
    }
  }
  if (attrFloat(s, "zoom") >= 1) {
    fail(s, "zoom must be below 1");
  }
}

// Per image, the inverse transform of an output pixel (X, Y), centred:
// undo the shift, the rotation by a (source = R(-a) p) and the zoom z,
// then the flips; sample the input there bilinearly (zero outside), add
// noise. The image's six numbers are computed once (geometry(j, n), root).
Kernel buildAugment(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam seed = makeInput(s.inputs[1], "seed");
  const auto &shape = s.inputs[0].shape; // [N, C, H, W]
  int width = static_cast<int>(shape[3]), height = static_cast<int>(shape[2]);
  int channels = static_cast<int>(shape[1]);
  bool flipH = attrBool(s, "flip_h"), flipV = attrBool(s, "flip_v");
  double shift = attrFloat(s, "shift"), zoom = attrFloat(s, "zoom");
  double rotate = attrFloat(s, "rotate") * 3.14159265358979323846 / 180.0;
  double noise = attrFloat(s, "noise");

  Var j("j"), n("n");
  auto draw = [&](int k) {
    return uniformOf(hashU32(8 * n + k, seed(), kAugmentSalt));
  };
  auto signedDraw = [&](int k, double range) {
    return (2.0f * draw(k) - 1.0f) * f32(range);
  };
  Expr angle = signedDraw(4, rotate);
  Expr scale = 1.0f + signedDraw(5, zoom);
  Func geometry("geometry");
  geometry(j, n) = select(
      j == 0, cos(angle) / scale, j == 1, sin(angle) / scale, j == 2,
      signedDraw(2, shift), j == 3, signedDraw(3, shift), j == 4,
      select(flipH && draw(0) < 0.5f, -1.0f, 1.0f),
      select(flipV && draw(1) < 0.5f, -1.0f, 1.0f));

  Var px("x"), py("y"), pc("c"), pn("n");
  Expr cx = f32((width - 1) / 2.0), cy = f32((height - 1) / 2.0);
  Expr dx = cast<float>(px) - cx - geometry(2, pn);
  Expr dy = cast<float>(py) - cy - geometry(3, pn);
  Expr u = (geometry(0, pn) * dx + geometry(1, pn) * dy) * geometry(4, pn) + cx;
  Expr v = (geometry(0, pn) * dy - geometry(1, pn) * dx) * geometry(5, pn) + cy;
  Expr fu = floor(u), fv = floor(v);
  Expr x0 = cast<int>(fu), y0 = cast<int>(fv);
  Expr wx = u - fu, wy = v - fv;
  Func padded = BoundaryConditions::constant_exterior(x, 0.0f);
  Expr value = (1.0f - wy) * ((1.0f - wx) * padded(x0, y0, pc, pn) +
                              wx * padded(x0 + 1, y0, pc, pn)) +
               wy * ((1.0f - wx) * padded(x0, y0 + 1, pc, pn) +
                     wx * padded(x0 + 1, y0 + 1, pc, pn));
  if (noise > 0) {
    Expr e = cast<uint32_t>(px) +
             u32(width) * (cast<uint32_t>(py) +
                           u32(height) * (cast<uint32_t>(pc) +
                                          u32(channels) * cast<uint32_t>(pn)));
    Expr u1 = (cast<float>(hashU32(2 * e, seed(), kNoiseSalt) >> 8) + 0.5f) *
              f32(1.0 / 16777216.0);
    Expr u2 = uniformOf(hashU32(2 * e + 1, seed(), kNoiseSalt));
    value += f32(noise) * sqrt(-2.0f * log(u1)) *
             cos(f32(2 * 3.14159265358979323846) * u2);
  }
  Func out("augmented");
  out(px, py, pc, pn) = value;
  geometry.bound(j, 0, 6);
  if (target.has_gpu_feature()) {
    rootStages(geometry, target);
  } else {
    geometry.compute_root().unroll(j);
  }
  return elementwiseKernel(s, target, {x, seed}, out, {px, py, pc, pn});
}

//===----------------------------------------------------------------------===//
// loss_grad: pred, target, dloss -> dpred = dloss * d(mean loss)/dpred
//===----------------------------------------------------------------------===//

void validateLossGrad(const KernelSpec &s) {
  expectCounts(s, 3, 3, 1);
  std::string loss = attrString(s, "loss");
  bool sparse = loss == "sparse_cce";
  expectF32Except(s, sparse ? std::vector<size_t>{1} : std::vector<size_t>{});
  const auto &pred = s.inputs[0].shape;
  if (loss == "cce" || sparse) {
    expectRank(s, s.inputs[0], "logits", 2);
    if (sparse) {
      expectShape(s, s.inputs[1], "labels", {pred[0]});
    } else {
      expectShape(s, s.inputs[1], "target", pred);
    }
  } else if (loss == "mse" || loss == "mae" || loss == "huber" ||
             loss == "bce" || loss == "bce_logits" || loss == "hinge") {
    expectShape(s, s.inputs[1], "target", pred);
  } else {
    fail(s, "unknown loss '" + loss + "'");
  }
  if (loss == "huber") {
    attrFloat(s, "delta");
  }
  expectShape(s, s.inputs[2], "dloss", {});
  expectShape(s, s.outputs[0], "output", pred);
}

Expr signOf(Expr d) {
  return select(d > 0.0f, 1.0f, select(d < 0.0f, -1.0f, 0.0f));
}

// Target: x86-64 AVX-512, 2 cores. Pair losses: one elementwise pass.
// cce / sparse_cce: per-row max and sum of exp as small root stages, then
// softmax(z) * sum t - t (or - onehot) elementwise; a label outside [0,C)
// fails the kernel (Halide::require) like the forward.
Kernel buildLossGrad(const KernelSpec &s, const Target &target) {
  std::string loss = attrString(s, "loss");
  ImageParam pred = makeInput(s.inputs[0], "pred");
  ImageParam tgt = makeInput(s.inputs[1], "target");
  ImageParam dloss = makeInput(s.inputs[2], "dloss");
  std::vector<Var> v = makeVars(s.inputs[0].shape.size());
  Func dp("dpred");
  if (loss == "cce" || loss == "sparse_cce") {
    int batch = static_cast<int>(s.inputs[0].shape[0]);
    int classes = static_cast<int>(s.inputs[0].shape[1]);
    Var c = v[0], n = v[1];
    RDom rc(0, classes, "rc");
    Func rowMax("row_max"), rowSum("row_sum"), rowScale("row_scale");
    rowMax(n) = Float(32).min();
    rowMax(n) = max(rowMax(n), pred(rc, n));
    rowSum(n) = 0.0f;
    rowSum(n) += exp(pred(rc, n) - rowMax(n));
    Expr softmax = exp(pred(c, n) - rowMax(n)) / rowSum(n);
    Expr scale = dloss() / static_cast<float>(batch);
    Expr g;
    if (loss == "cce") {
      Func targetSum("target_sum");
      targetSum(n) = 0.0f;
      targetSum(n) += tgt(rc, n);
      rootStages(targetSum, target);
      g = softmax * targetSum(n) - tgt(c, n);
    } else {
      Expr label = tgt(n);
      rowScale(n) = target.has_gpu_feature()
                        ? 1.0f / rowSum(n)
                        : require(label >= 0 && label < classes,
                                  1.0f / rowSum(n), "sparse_cce: label",
                                  label, "of row", n, "outside [0,", classes,
                                  ")");
      rootStages(rowScale, target);
      g = exp(pred(c, n) - rowMax(n)) * rowScale(n) -
          select(c == label, 1.0f, 0.0f);
    }
    dp(v) = scale * g;
    rootStages(rowMax, target);
    rootStages(rowSum, target);
    return elementwiseKernel(s, target, {pred, tgt, dloss}, dp, v);
  }
  Expr p = pred(v), t = tgt(v);
  Expr scale = dloss() / static_cast<float>(s.inputs[0].numElements());
  Expr g;
  if (loss == "mse") {
    g = 2.0f * (p - t);
  } else if (loss == "mae") {
    g = signOf(p - t);
  } else if (loss == "huber") {
    Expr delta = f32(attrFloat(s, "delta"));
    Expr d = p - t;
    g = select(abs(d) < delta, d, delta * signOf(d));
  } else if (loss == "bce") {
    g = (p - t) / max(p * (1.0f - p), 1e-12f);
  } else if (loss == "bce_logits") {
    g = sigmoid(p) - t;
  } else { // hinge
    g = select(1.0f - p * t > 0.0f, -t, 0.0f);
  }
  dp(v) = scale * g;
  return elementwiseKernel(s, target, {pred, tgt, dloss}, dp, v);
}

//===----------------------------------------------------------------------===//
// optimizer_update: param, grad, lr, step, slots... -> param', slots'...
//===----------------------------------------------------------------------===//

struct OptimizerKind {
  std::vector<const char *> slots;
  std::vector<const char *> attrs;
};

const std::map<std::string, OptimizerKind> &optimizerKinds() {
  static const std::map<std::string, OptimizerKind> kinds = {
      {"sgd", {{}, {}}},
      {"momentum", {{"buf"}, {"momentum", "dampening"}}},
      {"nesterov", {{"buf"}, {"momentum", "dampening"}}},
      {"adagrad", {{"sum"}, {"lr_decay", "epsilon"}}},
      {"adadelta", {{"square_avg", "acc_delta"}, {"rho", "epsilon"}}},
      {"rmsprop", {{"square_avg"}, {"alpha", "epsilon"}}},
      {"adam", {{"exp_avg", "exp_avg_sq"}, {"beta1", "beta2", "epsilon"}}}};
  return kinds;
}

void validateOptimizerUpdate(const KernelSpec &s) {
  std::string kind = attrString(s, "kind");
  auto it = optimizerKinds().find(kind);
  if (it == optimizerKinds().end()) {
    fail(s, "unknown optimizer kind '" + kind + "'");
  }
  size_t slots = it->second.slots.size();
  expectCounts(s, 4 + slots, 4 + slots, 1 + slots);
  expectF32Except(s);
  const auto &param = s.inputs[0].shape;
  expectShape(s, s.inputs[1], "grad", param);
  expectShape(s, s.inputs[2], "lr", {});
  expectShape(s, s.inputs[3], "step", {});
  for (size_t i = 0; i < slots; ++i) {
    expectShape(s, s.inputs[4 + i], it->second.slots[i], param);
    expectShape(s, s.outputs[1 + i], it->second.slots[i], param);
  }
  expectShape(s, s.outputs[0], "new param", param);
  for (const char *name : it->second.attrs) {
    attrFloat(s, name);
  }
  attrFloat(s, "weight_decay");
  if (attrFloat(s, "clip_value") < 0) {
    fail(s, "clip_value must be non-negative (0 = off)");
  }
}

// Hyperparameter terms such as 1 - beta are computed in double and rounded
// once, as PyTorch passes them (Python floats) to its float kernels.
// All outputs come from one Tuple-valued Func: one pass over param, grad and
// the slots. Scalar terms (bias corrections, the adagrad rate) depend on
// lr/step only and are hoisted out of the loop by Halide.
// Target: x86-64 AVX-512, 2 cores: scheduleElementwise, memory bound.
Kernel buildOptimizerUpdate(const KernelSpec &s, const Target &target) {
  std::string kind = attrString(s, "kind");
  const OptimizerKind &info = optimizerKinds().at(kind);
  ImageParam param = makeInput(s.inputs[0], "param");
  ImageParam grad = makeInput(s.inputs[1], "grad");
  ImageParam lrIn = makeInput(s.inputs[2], "lr");
  ImageParam stepIn = makeInput(s.inputs[3], "step");
  std::vector<Argument> inputs = {param, grad, lrIn, stepIn};
  std::vector<ImageParam> slots;
  for (size_t i = 0; i < info.slots.size(); ++i) {
    slots.push_back(makeInput(s.inputs[4 + i], info.slots[i]));
    inputs.push_back(slots.back());
  }
  std::vector<Var> v = makeVars(s.inputs[0].shape.size());
  auto attr = [&](const char *name) { return attrFloat(s, name); };
  Expr p = param(v), g = grad(v), lr = lrIn(), t = stepIn();
  double clip = attr("clip_value"), wd = attr("weight_decay");
  if (clip > 0) {
    g = clamp(g, f32(-clip), f32(clip));
  }
  if (wd != 0) {
    g = g + f32(wd) * p;
  }
  std::vector<Expr> values;
  if (kind == "sgd") {
    values = {p - lr * g};
  } else if (kind == "momentum" || kind == "nesterov") {
    Expr mu = f32(attr("momentum"));
    Expr buf = select(t == 1.0f, g,
                      mu * slots[0](v) + f32(1 - attr("dampening")) * g);
    Expr dir = kind == "nesterov" ? g + mu * buf : buf;
    values = {p - lr * dir, buf};
  } else if (kind == "adagrad") {
    Expr sum = slots[0](v) + g * g;
    Expr clr = lr / (1.0f + (t - 1.0f) * f32(attr("lr_decay")));
    values = {p - clr * g / (sqrt(sum) + f32(attr("epsilon"))), sum};
  } else if (kind == "adadelta") {
    Expr rho = f32(attr("rho")), eps = f32(attr("epsilon"));
    Expr rest = f32(1 - attr("rho"));
    Expr sq = rho * slots[0](v) + rest * g * g;
    Expr delta = sqrt(slots[1](v) + eps) / sqrt(sq + eps) * g;
    Expr acc = rho * slots[1](v) + rest * delta * delta;
    values = {p - lr * delta, sq, acc};
  } else if (kind == "rmsprop") {
    Expr alpha = f32(attr("alpha"));
    Expr sq = alpha * slots[0](v) + f32(1 - attr("alpha")) * g * g;
    values = {p - lr * g / (sqrt(sq) + f32(attr("epsilon"))), sq};
  } else { // adam
    Expr b1 = f32(attr("beta1")), b2 = f32(attr("beta2"));
    Expr m = b1 * slots[0](v) + f32(1 - attr("beta1")) * g;
    Expr vv = b2 * slots[1](v) + f32(1 - attr("beta2")) * g * g;
    // Bias corrections in double: pow of a scalar, once per call. The
    // update is PyTorch's (torch.optim.Adam, 1.13): step_size = lr / bc1,
    // denom = sqrt(v) / sqrt(bc2) + eps, p - step_size * m / denom; one
    // vector sqrt and two divisions per element.
    Expr tt = cast<double>(t);
    Expr bc1 = Expr(1.0) - pow(Expr(attr("beta1")), tt);
    Expr bc2 = Expr(1.0) - pow(Expr(attr("beta2")), tt);
    Expr stepSize = cast<float>(cast<double>(lr) / bc1);
    Expr bc2Sqrt = cast<float>(sqrt(bc2));
    Expr denom = sqrt(vv) / bc2Sqrt + f32(attr("epsilon"));
    values = {p - stepSize * (m / denom), m, vv};
  }
  Func out("updated");
  if (values.size() == 1) {
    out(v) = values[0];
  } else {
    out(v) = Tuple(values);
  }
  return elementwiseKernel(s, target, inputs, out, v);
}

} // namespace

void registerTrainingOps(OpRegistry &r) {
  r["activation_grad"] = {validateActivationGrad, buildActivationGrad};
  r["prelu_grad"] = {validatePreluGrad, buildPreluGrad};
  r["softmax_grad"] = {validateSoftmaxGrad, buildSoftmaxGrad};
  r["dropout_train"] = {validateDropoutTrain, buildDropoutTrain};
  r["augment"] = {validateAugment, buildAugment};
  r["loss_grad"] = {validateLossGrad, buildLossGrad};
  r["optimizer_update"] = {validateOptimizerUpdate, buildOptimizerUpdate};
}

} // namespace kiln::codegen::detail
