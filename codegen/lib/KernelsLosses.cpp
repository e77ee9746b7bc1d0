// Loss kernels: mean-reduced, rank-0 f32 output.
#include "Kernels.h"

using namespace Halide;

namespace kiln::codegen::detail {
namespace {

Expr f32(double v) { return cast<float>(Expr(v)); }

using PairFn = std::function<Expr(Expr p, Expr t, const KernelSpec &spec)>;

void validatePairLoss(const KernelSpec &s,
                      const std::vector<const char *> &floatAttrs) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s);
  expectShape(s, s.inputs[1], "target", s.inputs[0].shape);
  expectShape(s, s.outputs[0], "output", {});
  for (const char *name : floatAttrs) {
    attrFloat(s, name);
  }
}

struct PairLossFuncs {
  ImageParam pred, target;
  Var outer{"outer"};
  Func partial{"partial"}, total{"total"}, out{"out"};
};

// mean(fn(p, t)): one partial sum per outermost index, then their sum.
PairLossFuncs definePairLoss(const KernelSpec &s, const PairFn &fn) {
  PairLossFuncs f;
  f.pred = makeInput(s.inputs[0], "pred");
  f.target = makeInput(s.inputs[1], "target");
  std::vector<int> extents = halideShape(s.inputs[0]);
  size_t rank = extents.size();
  float count = static_cast<float>(s.inputs[0].numElements());
  if (rank == 0) {
    f.out() = fn(f.pred(), f.target(), s);
    constrainOutput(f.out, s.outputs[0]);
    return f;
  }
  Region ranges;
  for (size_t i = 0; i + 1 < rank; ++i) {
    ranges.push_back({0, extents[i]});
  }
  std::vector<Expr> at;
  if (ranges.empty()) {
    at = {f.outer};
    f.partial(f.outer) = fn(f.pred(at), f.target(at), s);
  } else {
    RDom r(ranges, "r");
    for (size_t i = 0; i + 1 < rank; ++i) {
      at.push_back(r[i]);
    }
    at.push_back(f.outer);
    f.partial(f.outer) = 0.0f;
    f.partial(f.outer) += fn(f.pred(at), f.target(at), s);
  }
  RDom ro(0, extents[rank - 1], "ro");
  f.total() = 0.0f;
  f.total() += f.partial(ro);
  f.out() = f.total() / count;
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// Target: x86-64 AVX-512, 2 cores. Losses see a few thousand elements per
// step: partial sums per outermost index (vectorized for rank 1, parallel
// when large), then one short serial sum.
void schedulePairLoss(PairLossFuncs &f, const KernelSpec &s,
                      const Target &target) {
  if (target.has_gpu_feature()) {
    // The partial sums one thread per outermost index, then one thread.
    if (!s.inputs[0].shape.empty()) {
      rootStages(f.partial, target);
      rootStages(f.total, target);
    }
    f.out.gpu_single_thread();
    return;
  }
  if (s.inputs[0].shape.empty()) {
    return;
  }
  int vec = target.natural_vector_size<float>();
  f.partial.compute_root();
  f.total.compute_root();
  int outerExtent = static_cast<int>(s.inputs[0].shape[0]);
  if (s.inputs[0].shape.size() == 1) {
    if (int width = guardedWidth(outerExtent, vec);
        outerExtent >= vec && width > 1) {
      f.partial.vectorize(f.outer, width, TailStrategy::GuardWithIf);
    }
  } else if (s.inputs[0].numElements() >= kParallelGrain) {
    f.partial.parallel(f.outer);
    f.partial.update().parallel(f.outer);
  }
}

void registerPairLoss(OpRegistry &r, const std::string &name,
                      std::vector<const char *> floatAttrs, PairFn fn) {
  r[name] = {[floatAttrs](const KernelSpec &s) {
               validatePairLoss(s, floatAttrs);
             },
             [fn](const KernelSpec &s, const Target &t) {
               PairLossFuncs f = definePairLoss(s, fn);
               schedulePairLoss(f, s, t);
               return Kernel{{f.pred, f.target}, f.out};
             }};
}

//===----------------------------------------------------------------------===//
// cce / sparse_cce: logits [N,C] against probabilities [N,C] or labels [N]
//===----------------------------------------------------------------------===//

void validateCce(const KernelSpec &s, bool sparse) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s, sparse ? std::vector<size_t>{1} : std::vector<size_t>{});
  expectRank(s, s.inputs[0], "logits", 2);
  int64_t n = s.inputs[0].shape[0];
  if (sparse) {
    expectShape(s, s.inputs[1], "labels", {n});
  } else {
    expectShape(s, s.inputs[1], "target", s.inputs[0].shape);
  }
  expectShape(s, s.outputs[0], "output", {});
}

struct CceFuncs {
  ImageParam logits, target;
  Var n{"n"};
  Func rowMax{"row_max"}, rowSum{"row_sum"}, rowLoss{"row_loss"},
      total{"total"}, out{"out"};
};

CceFuncs defineCce(const KernelSpec &s, bool sparse, const Target &target) {
  CceFuncs f;
  int batch = static_cast<int>(s.inputs[0].shape[0]);
  int classes = static_cast<int>(s.inputs[0].shape[1]);
  f.logits = makeInput(s.inputs[0], "logits");
  f.target = makeInput(s.inputs[1], sparse ? "labels" : "target");
  RDom c(0, classes, "c");
  f.rowMax(f.n) = Float(32).min();
  f.rowMax(f.n) = max(f.rowMax(f.n), f.logits(c, f.n));
  f.rowSum(f.n) = 0.0f;
  f.rowSum(f.n) += exp(f.logits(c, f.n) - f.rowMax(f.n));
  Expr logSumExp = f.rowMax(f.n) + log(f.rowSum(f.n));
  if (sparse) {
    // A label outside [0,C) makes the kernel return an error (device code
    // cannot: GPU sessions check labels before they go to the device).
    Expr label = f.target(f.n);
    Expr picked = f.logits(clamp(label, 0, classes - 1), f.n);
    f.rowLoss(f.n) =
        target.has_gpu_feature()
            ? logSumExp - picked
            : require(label >= 0 && label < classes, logSumExp - picked,
                      "sparse_cce: label", label, "of row", f.n,
                      "outside [0,", classes, ")");
  } else {
    // -sum_c t * (z - lse) = lse * sum_c t - sum_c t * z
    f.rowLoss(f.n) = 0.0f;
    f.rowLoss(f.n) +=
        f.target(c, f.n) * (logSumExp - f.logits(c, f.n));
  }
  RDom rn(0, batch, "rn");
  f.total() = 0.0f;
  f.total() += f.rowLoss(rn);
  f.out() = f.total() / static_cast<float>(batch);
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// Target: x86-64, 2 cores. [64,10] logits: a few microseconds; all stages are
// small root loops over the batch.
void scheduleCce(CceFuncs &f, const Target &target) {
  rootStages(f.rowMax, target);
  rootStages(f.rowSum, target);
  rootStages(f.rowLoss, target);
  rootStages(f.total, target);
  if (target.has_gpu_feature()) {
    f.out.gpu_single_thread();
  }
}

void registerCce(OpRegistry &r, const std::string &name, bool sparse) {
  r[name] = {[sparse](const KernelSpec &s) { validateCce(s, sparse); },
             [sparse](const KernelSpec &s, const Target &target) {
               CceFuncs f = defineCce(s, sparse, target);
               scheduleCce(f, target);
               return Kernel{{f.logits, f.target}, f.out};
             }};
}

//===----------------------------------------------------------------------===//
// nll_loss / nll_loss_grad: log-probabilities [N,C,d...] at labels [N,d...]
//===----------------------------------------------------------------------===//

// The shared part of both kernels: operands, attributes and the per-element
// class weight (0 for ignored elements) at target coordinates.
struct NllFuncs {
  ImageParam input, target, dy, weight;
  bool hasWeight = false, hasIgnore = false;
  int64_t ignore = 0;
  int classes = 0;
  std::string reduction;
  std::vector<Var> tv;  // target coordinates (Halide order: d..., n)
  Func weightAt{"weight_at"}, weightSum{"weight_sum"};

  // input's coordinates for class `c` at target coordinates `at`.
  std::vector<Expr> inputAt(const std::vector<Expr> &at, Expr c) const {
    std::vector<Expr> in(at.begin(), at.end() - 1);
    in.push_back(c);
    in.push_back(at.back());
    return in;
  }
  Expr label(const std::vector<Expr> &at) const { return target(at); }
  Expr valid(Expr t) const {
    return hasIgnore ? t != cast<int>(Expr(ignore)) : Halide::Internal::const_true();
  }
};

// grad: inputs (input, target, dy, [weight]); else (input, target, [weight]).
void validateNll(const KernelSpec &s, bool grad) {
  size_t base = grad ? 3 : 2;
  expectCounts(s, base, base + 1, 1);
  expectF32Except(s, {1});
  const auto &x = s.inputs[0].shape;
  expectMinRank(s, s.inputs[0], "input", 2);
  std::vector<int64_t> t = {x[0]};
  t.insert(t.end(), x.begin() + 2, x.end());
  expectShape(s, s.inputs[1], "target", t);
  if (s.inputs.size() == base + 1) {
    expectShape(s, s.inputs[base], "weight", {x[1]});
  }
  std::string reduction = attrString(s, "reduction");
  if (reduction != "mean" && reduction != "sum" && reduction != "none") {
    fail(s, "reduction must be mean, sum or none, got '" + reduction + "'");
  }
  std::vector<int64_t> loss = reduction == "none" ? t : std::vector<int64_t>{};
  if (grad) {
    expectShape(s, s.inputs[2], "dy", loss);
    expectShape(s, s.outputs[0], "dx", x);
  } else {
    expectShape(s, s.outputs[0], "loss", loss);
  }
  if (s.attrs.contains("ignore_index")) {
    attrInt(s, "ignore_index");
  }
}

NllFuncs defineNllCommon(const KernelSpec &s, bool grad,
                         const Target &target) {
  NllFuncs f;
  size_t base = grad ? 3 : 2;
  f.input = makeInput(s.inputs[0], "input");
  f.target = makeInput(s.inputs[1], "target");
  if (grad) {
    f.dy = makeInput(s.inputs[2], "dy");
  }
  f.hasWeight = s.inputs.size() == base + 1;
  if (f.hasWeight) {
    f.weight = makeInput(s.inputs[base], "weight");
  }
  f.hasIgnore = s.attrs.contains("ignore_index");
  f.ignore = f.hasIgnore ? attrInt(s, "ignore_index") : 0;
  f.classes = static_cast<int>(s.inputs[0].shape[1]);
  f.reduction = attrString(s, "reduction");
  f.tv = makeVars(s.inputs[1].shape.size());
  // The element's class weight, 0 where ignored; a label outside [0, C)
  // that is not ignored makes a CPU kernel return an error. Device code
  // cannot fail: GPU sessions check the labels of a model input on the host
  // (PlanBuffer::classes and ignoreIndex), and the kernel reads clamped.
  Expr t = f.target(f.tv);
  Expr tc = clamp(t, 0, f.classes - 1);
  Expr w = f.hasWeight ? Expr(f.weight(tc)) : Expr(1.0f);
  Expr weightAt = select(f.valid(t), w, 0.0f);
  f.weightAt(f.tv) =
      target.has_gpu_feature()
          ? weightAt
          : require(!f.valid(t) || (t >= 0 && t < f.classes), weightAt,
                    "nll_loss: label", t, "outside [0,", f.classes, ")");
  rootStages(f.weightAt, target);
  f.weightSum = sumAll(
      "weight_sum", halideShape(s.inputs[1]),
      [&](const std::vector<Expr> &at) { return f.weightAt(at); }, target);
  return f;
}

Kernel buildNll(const KernelSpec &s, const Target &target) {
  NllFuncs f = defineNllCommon(s, false, target);
  std::vector<Expr> tv(f.tv.begin(), f.tv.end());
  Expr tc = clamp(f.label(tv), 0, f.classes - 1);
  Func loss("loss");
  loss(f.tv) = -f.weightAt(f.tv) * f.input(f.inputAt(tv, tc));
  Func out("out");
  if (f.reduction == "none") {
    out(f.tv) = loss(f.tv);
    constrainOutput(out, s.outputs[0]);
    scheduleElementwise(out, f.tv, halideShape(s.outputs[0]), target);
  } else {
    Func total = sumAll(
        "total", halideShape(s.inputs[1]),
        [&](const std::vector<Expr> &at) { return loss(at); }, target);
    out() = f.reduction == "sum" ? Expr(total()) : total() / f.weightSum();
    constrainOutput(out, s.outputs[0]);
    scheduleElementwise(out, {}, {}, target);
  }
  std::vector<Argument> args = {f.input, f.target};
  if (f.hasWeight) {
    args.push_back(f.weight);
  }
  return {args, out};
}

Kernel buildNllGrad(const KernelSpec &s, const Target &target) {
  NllFuncs f = defineNllCommon(s, true, target);
  std::vector<Var> v = makeVars(s.inputs[0].shape.size());
  size_t rank = v.size();
  // Target coordinates of input coordinates (d..., c, n).
  std::vector<Expr> at(v.begin(), v.end() - 2);
  at.push_back(v[rank - 1]);
  Expr c = v[rank - 2];
  Expr g = f.reduction == "none" ? Expr(f.dy(at))
           : f.reduction == "sum" ? Expr(f.dy())
                                  : f.dy() / f.weightSum();
  Func dx("dx");
  dx(v) = select(c == f.label(at), -f.weightAt(at) * g, 0.0f);
  constrainOutput(dx, s.outputs[0]);
  scheduleElementwise(dx, v, halideShape(s.outputs[0]), target);
  std::vector<Argument> args = {f.input, f.target, f.dy};
  if (f.hasWeight) {
    args.push_back(f.weight);
  }
  return {args, dx};
}

} // namespace

void registerLossOps(OpRegistry &r) {
  r["nll_loss"] = {[](const KernelSpec &s) { validateNll(s, false); },
                   buildNll};
  r["nll_loss_grad"] = {[](const KernelSpec &s) { validateNll(s, true); },
                        buildNllGrad};
  registerPairLoss(r, "mse", {}, [](Expr p, Expr t, const KernelSpec &) {
    Expr d = p - t;
    return d * d;
  });
  registerPairLoss(r, "mae", {}, [](Expr p, Expr t, const KernelSpec &) {
    return abs(p - t);
  });
  registerPairLoss(r, "huber", {"delta"},
                   [](Expr p, Expr t, const KernelSpec &s) {
                     Expr delta = f32(attrFloat(s, "delta"));
                     Expr d = abs(p - t);
                     return select(d < delta, 0.5f * d * d,
                                   delta * (d - 0.5f * delta));
                   });
  registerPairLoss(r, "bce", {}, [](Expr p, Expr t, const KernelSpec &) {
    // Each log clamped to >= -100, as PyTorch does.
    Expr logP = max(log(p), -100.0f);
    Expr log1mP = max(log(1.0f - p), -100.0f);
    return -(t * logP + (1.0f - t) * log1mP);
  });
  registerPairLoss(r, "bce_logits", {},
                   [](Expr z, Expr t, const KernelSpec &) {
                     return max(z, 0.0f) - z * t + log(1.0f + exp(-abs(z)));
                   });
  registerPairLoss(r, "hinge", {}, [](Expr p, Expr t, const KernelSpec &) {
    return max(0.0f, 1.0f - p * t);
  });
  registerCce(r, "cce", false);
  registerCce(r, "sparse_cce", true);
}

} // namespace kiln::codegen::detail
