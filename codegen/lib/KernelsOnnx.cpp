// Kernels of the ONNX data-path ops: exp, log, sqrt, erf, abs, clip (unary
// maps), transpose and pad (pure index remaps); pow is a broadcasting binary
// op with add/sub/mul/div in KernelsElementwise.cpp. All are
// memory-bound: each is one pure Func scheduled with scheduleElementwise
// (vectorized innermost, parallel outer dims); nothing else is worth tuning.
#include "Kernels.h"

using namespace Halide;

namespace kiln::codegen::detail {
namespace {

Expr f32(double v) { return cast<float>(Expr(v)); }

//===----------------------------------------------------------------------===//
// Unary maps
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// transpose: out[i_0..] = x[j] with j[perm[d]] = i_d
//===----------------------------------------------------------------------===//

void validateTranspose(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  size_t rank = s.inputs[0].shape.size();
  std::vector<int64_t> perm = attrInts(s, "perm", rank), shape;
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[p]) {
      fail(s, "perm is not a permutation");
    }
    seen[p] = true;
    shape.push_back(s.inputs[0].shape[p]);
  }
  expectShape(s, s.outputs[0], "output", shape);
}

Kernel buildTranspose(const KernelSpec &s, const Target &target) {
  size_t rank = s.inputs[0].shape.size();
  std::vector<int64_t> perm = attrInts(s, "perm", rank);
  ImageParam x = makeInput(s.inputs[0], "x");
  std::vector<Var> v = makeVars(rank);
  // Logical dim d is Halide dim rank-1-d.
  std::vector<Expr> in(rank);
  for (size_t d = 0; d < rank; ++d) {
    in[rank - 1 - perm[d]] = v[rank - 1 - d];
  }
  Func out("out");
  out(v) = x(in);
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {{x}, out};
}

//===----------------------------------------------------------------------===//
// pad: constant / reflect / edge; negative pads crop
//===----------------------------------------------------------------------===//

void validatePad(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  size_t rank = s.inputs[0].shape.size();
  std::vector<int64_t> pads = attrInts(s, "pads", 2 * rank), shape;
  attrFloat(s, "value");
  std::string mode = attrString(s, "mode");
  if (mode != "constant" && mode != "reflect" && mode != "edge") {
    fail(s, "mode must be constant, reflect or edge");
  }
  for (size_t d = 0; d < rank; ++d) {
    shape.push_back(s.inputs[0].shape[d] + pads[d] + pads[d + rank]);
  }
  expectShape(s, s.outputs[0], "output", shape);
}

Kernel buildPad(const KernelSpec &s, const Target &target) {
  size_t rank = s.inputs[0].shape.size();
  std::vector<int64_t> pads = attrInts(s, "pads", 2 * rank);
  std::string mode = attrString(s, "mode");
  ImageParam x = makeInput(s.inputs[0], "x");
  std::vector<int> extents = halideShape(s.inputs[0]);
  Region bounds;
  for (int e : extents) {
    bounds.push_back({0, e});
  }
  Func padded =
      mode == "reflect" ? BoundaryConditions::mirror_interior(x, bounds)
      : mode == "edge"  ? BoundaryConditions::repeat_edge(x, bounds)
                        : BoundaryConditions::constant_exterior(
                              x, f32(attrFloat(s, "value")), bounds);
  std::vector<Var> v = makeVars(rank);
  std::vector<Expr> in;
  for (size_t i = 0; i < rank; ++i) { // Halide dim i is logical rank-1-i
    in.push_back(v[i] - static_cast<int>(pads[rank - 1 - i]));
  }
  Func out("out");
  out(v) = padded(in);
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {{x}, out};
}

//===----------------------------------------------------------------------===//
// pad_grad: the adjoint of an edge / reflect pad
//===----------------------------------------------------------------------===//

void validatePadGrad(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  size_t rank = s.outputs[0].shape.size();
  std::vector<int64_t> pads = attrInts(s, "pads", 2 * rank);
  std::string mode = attrString(s, "mode");
  if (mode != "reflect" && mode != "edge") {
    fail(s, "mode must be reflect or edge");
  }
  std::vector<int64_t> shape = attrInts(s, "input_shape", rank), padded;
  for (size_t d = 0; d < rank; ++d) {
    int64_t begin = pads[d], end = pads[d + rank], in = shape[d];
    if (begin < 0 || end < 0 ||
        (mode == "reflect" && (begin >= in || end >= in))) {
      fail(s, "pads must be non-negative (and, to reflect, below the size)");
    }
    padded.push_back(in + begin + end);
  }
  expectShape(s, s.inputs[0], "dy", padded);
  expectShape(s, s.outputs[0], "dx", shape);
}

// Dim by dim (the padding is separable): along a dim with pads (b, e) and
// input size n, dx[i] = dy[i + b] plus, for edge, the b leading values at
// i = 0 and the e trailing ones at i = n - 1; for reflect, dy[b - i] for
// 1 <= i <= b and dy[b + 2(n - 1) - i] for n - 1 - e <= i <= n - 2.
Kernel buildPadGrad(const KernelSpec &s, const Target &target) {
  size_t rank = s.outputs[0].shape.size();
  std::vector<int64_t> pads = attrInts(s, "pads", 2 * rank);
  bool edge = attrString(s, "mode") == "edge";
  ImageParam dy = makeInput(s.inputs[0], "dy");
  std::vector<Var> v = makeVars(rank);
  Func current = Func(dy);
  std::vector<int> extents = halideShape(s.outputs[0]);
  for (size_t i = 0; i < rank; ++i) { // Halide dim i is logical rank-1-i
    int b = static_cast<int>(pads[rank - 1 - i]);
    int e = static_cast<int>(pads[2 * rank - 1 - i]);
    int n = extents[i];
    if (b == 0 && e == 0) {
      continue;
    }
    auto at = [&](Expr index) {
      std::vector<Expr> coords(v.begin(), v.end());
      coords[i] = index;
      return Expr(current(coords));
    };
    Expr value = at(v[i] + b);
    if (edge) {
      Expr lead = 0.0f, trail = 0.0f;
      for (int j = 0; j < b; ++j) {
        lead += at(j);
      }
      for (int j = 0; j < e; ++j) {
        trail += at(b + n + j);
      }
      value += select(v[i] == 0, lead, 0.0f) + select(v[i] == n - 1, trail, 0.0f);
    } else {
      Expr front = clamp(b - v[i], 0, b + n + e - 1);
      Expr back = clamp(b + 2 * (n - 1) - v[i], 0, b + n + e - 1);
      value += select(v[i] >= 1 && v[i] <= b, at(front), 0.0f) +
               select(v[i] >= n - 1 - e && v[i] <= n - 2, at(back), 0.0f);
    }
    Func next("pad_grad_dim" + std::to_string(i));
    next(v) = value;
    current = next;
  }
  Func out("out");
  out(v) = current(v);
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, extents, target);
  return {{dy}, out};
}

//===----------------------------------------------------------------------===//
// cumsum: a scan along the axis
//===----------------------------------------------------------------------===//

void validateCumSum(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  expectMinRank(s, s.inputs[0], "input", 1);
  int64_t axis = axisAttr(s, s.inputs[0].shape.size());
  attrBool(s, "exclusive");
  attrBool(s, "reverse");
  expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
}

// Position k of the scan reads element idx(k) (n - 1 - k with reverse),
// exclusive: idx(k - 1) (0 at k = 0); scan(k) = scan(k - 1) + term(k);
// out at element i = scan(idx(i)) (idx is its own inverse). Target: x86-64
// AVX-512, 2 cores: the scan in place, root, its serial loop outside the
// innermost other dim (vectorized) and parallel over the outermost; GPU:
// one thread per line of the scan. Memory bound.
Kernel buildCumSum(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  size_t rank = s.inputs[0].shape.size();
  size_t h = rank - 1 - static_cast<size_t>(attrInt(s, "axis"));
  int n = static_cast<int>(s.inputs[0].shape[rank - 1 - h]);
  bool exclusive = attrBool(s, "exclusive"), reverse = attrBool(s, "reverse");
  std::vector<Var> v = makeVars(rank);
  auto at = [&](Expr k) {
    std::vector<Expr> e = asExprs(v);
    e[h] = k;
    return e;
  };
  auto idx = [&](Expr k) { return reverse ? Expr(n - 1) - k : k; };
  Func term("term"), scan("scan"), out("out");
  Expr k = v[h];
  term(v) = exclusive ? select(k > 0, x(at(idx(max(k - 1, 0)))), 0.0f)
                      : Expr(x(at(idx(k))));
  scan(v) = term(v);
  RDom r(1, std::max(n - 1, 0), "r");
  if (n > 1) {
    scan(at(r)) = scan(at(r - 1)) + term(at(r));
  }
  out(v) = scan(at(idx(v[h])));
  constrainOutput(out, s.outputs[0]);
  std::vector<int> extents = halideShape(s.outputs[0]);
  scheduleElementwise(out, v, extents, target);
  if (target.has_gpu_feature()) {
    std::vector<Var> lines;
    for (size_t i = 0; i < rank; ++i) {
      if (i != h) {
        lines.push_back(v[i]);
      }
    }
    scan.compute_root();
    scheduleElementwiseGpu(scan, v);
    if (n > 1) {
      scheduleElementwiseGpu(scan.update(), lines); // rank 1: one thread
    }
    return {{x}, out};
  }
  scan.compute_root();
  int vec = target.natural_vector_size<float>();
  // The innermost dim other than the axis: vectorized in both stages.
  if (rank > 1) {
    size_t inner = h == 0 ? 1 : 0;
    int width = vectorWidthFor(extents[inner], vec);
    if (width > 1) {
      scan.vectorize(v[inner], width, TailStrategy::GuardWithIf);
      if (n > 1) {
        scan.update().vectorize(v[inner], width, TailStrategy::GuardWithIf);
      }
    }
    size_t outer = rank - 1 == h ? rank - 2 : rank - 1;
    if (outer != inner && s.outputs[0].numElements() >= kParallelGrain) {
      scan.parallel(v[outer]);
      if (n > 1) {
        scan.update().parallel(v[outer]);
      }
    }
  }
  return {{x}, out};
}

} // namespace

void registerOnnxOps(OpRegistry &r) {
  registerUnary(r, "exp", {{}, [](Expr x, const KernelSpec &) { return exp(x); }});
  registerUnary(r, "log", {{}, [](Expr x, const KernelSpec &) { return log(x); }});
  registerUnary(r, "sqrt",
                {{}, [](Expr x, const KernelSpec &) { return sqrt(x); }});
  registerUnary(r, "erf",
                {{}, [](Expr x, const KernelSpec &) { return erfF32(x); }});
  registerUnary(r, "abs", {{}, [](Expr x, const KernelSpec &) { return abs(x); }});
  registerUnary(r, "clip", {{"min", "max"}, [](Expr x, const KernelSpec &s) {
                              return min(max(x, f32(attrFloat(s, "min"))),
                                         f32(attrFloat(s, "max")));
                            }});
  r["transpose"] = {validateTranspose, buildTranspose};
  r["pad"] = {validatePad, buildPad};
  r["pad_grad"] = {validatePadGrad, buildPadGrad};
  r["cumsum"] = {validateCumSum, buildCumSum};
}

} // namespace kiln::codegen::detail
