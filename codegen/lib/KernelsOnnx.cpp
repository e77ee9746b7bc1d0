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

} // namespace

void registerOnnxOps(OpRegistry &r) {
  registerUnary(r, "exp", {{}, [](Expr x, const KernelSpec &) { return exp(x); }});
  registerUnary(r, "log", {{}, [](Expr x, const KernelSpec &) { return log(x); }});
  registerUnary(r, "sqrt",
                {{}, [](Expr x, const KernelSpec &) { return sqrt(x); }});
  registerUnary(r, "erf", {{}, [](Expr x, const KernelSpec &) { return erf(x); }});
  registerUnary(r, "abs", {{}, [](Expr x, const KernelSpec &) { return abs(x); }});
  registerUnary(r, "clip", {{"min", "max"}, [](Expr x, const KernelSpec &s) {
                              return min(max(x, f32(attrFloat(s, "min"))),
                                         f32(attrFloat(s, "max")));
                            }});
  r["transpose"] = {validateTranspose, buildTranspose};
  r["pad"] = {validatePad, buildPad};
}

} // namespace kiln::codegen::detail
