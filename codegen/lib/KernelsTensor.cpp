// Generic tensor kernels of training graphs (docs/training-ops.md): matmul,
// reductions (sum, max, min, prod) and their gradient, slice, gather and
// gather_grad, gather_elements, gather_elements_grad, scale, regularizer,
// regularizer_grad.
#include "Kernels.h"

#include <algorithm>
#include <limits>

using namespace Halide;

namespace kiln::codegen::detail {
namespace {

Expr f32(double v) { return cast<float>(Expr(v)); }

//===----------------------------------------------------------------------===//
// matmul: c = op(a) . op(b), op = transpose when the attr is set
//===----------------------------------------------------------------------===//

void validateMatmul(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s);
  size_t rank = s.inputs[0].shape.size();
  if (rank != 2 && rank != 3) {
    fail(s, "a must be a matrix or a [B, ., .] batch of them");
  }
  expectRank(s, s.inputs[1], "b", static_cast<int>(rank));
  bool ta = attrBool(s, "transpose_a"), tb = attrBool(s, "transpose_b");
  const auto &a = s.inputs[0].shape, &b = s.inputs[1].shape;
  size_t r0 = rank - 2, r1 = rank - 1;
  int64_t m = ta ? a[r1] : a[r0], ka = ta ? a[r0] : a[r1];
  int64_t kb = tb ? b[r1] : b[r0], n = tb ? b[r0] : b[r1];
  if (ka != kb) {
    fail(s, "contraction extents differ: op(a) has K = " + std::to_string(ka) +
                ", op(b) has K = " + std::to_string(kb));
  }
  if (rank == 3) {
    if (a[0] != b[0]) {
      fail(s, "batch extents differ: " + std::to_string(a[0]) + " vs " +
                  std::to_string(b[0]));
    }
    expectShape(s, s.outputs[0], "output", {a[0], m, n});
  } else {
    expectShape(s, s.outputs[0], "output", {m, n});
  }
}

// A batch of products c[i] = op(a[i]) . op(b[i]) (attention's [B*H, T, D]
// matrices): acc(col, row, i) += op(a)(k, row) * op(b)(col, k). Target:
// x86-64 AVX-512, 2 cores: parallel over batch elements (and blocks of 8
// rows), register tiles of one vector of columns x 8 rows with the K loop
// outside the tile (one vector load of op(b) and 8 broadcasts of op(a) per 8
// FMAs).
Kernel buildBatchedMatmul(const KernelSpec &s, const Target &target) {
  ImageParam a = makeInput(s.inputs[0], "a");
  ImageParam b = makeInput(s.inputs[1], "b");
  bool ta = attrBool(s, "transpose_a"), tb = attrBool(s, "transpose_b");
  const auto &os = s.outputs[0].shape; // [B, M, N]
  int k = static_cast<int>(ta ? s.inputs[0].shape[1] : s.inputs[0].shape[2]);
  int rows = static_cast<int>(os[1]), cols = static_cast<int>(os[2]);
  Var col("col"), row("row"), i("i");
  RDom r(0, k, "k");
  Func acc("acc"), out("out");
  Expr lhs = ta ? a(row, r, i) : a(r, row, i);
  Expr rhs = tb ? b(r, col, i) : b(col, r, i);
  acc(col, row, i) = 0.0f;
  acc(col, row, i) += lhs * rhs;
  out(col, row, i) = acc(col, row, i);
  constrainOutput(out, s.outputs[0]);

  int vec = target.natural_vector_size<float>();
  int cw = vectorWidthFor(cols, vec);
  int rowTile = std::min(rows, 8);
  Var co("co"), ci("ci"), ro("ro"), ri("ri"), task("task");
  out.split(col, co, ci, std::max(cw, 1), TailStrategy::ShiftInwards)
      .split(row, ro, ri, rowTile, TailStrategy::ShiftInwards)
      .reorder(ci, ri, co, ro, i)
      .fuse(ro, i, task)
      .parallel(task);
  if (cw > 1) {
    out.vectorize(ci);
  }
  acc.compute_at(out, co);
  if (cw > 1) {
    acc.vectorize(col);
  }
  acc.update().reorder(col, row, r).unroll(row);
  if (cw > 1) {
    acc.update().vectorize(col);
  }
  return {{a, b}, out};
}

// GPU (plain and batched): the dense GPU product (defineGpuProduct) of
// op(a) and op(b), each staged along its unit stride; f.batch holds the
// batch var of rank-3 operands (their last Halide dim).
Expr gpuMatmulProduct(DenseFuncs &f, const KernelSpec &s, ImageParam a,
                      ImageParam b) {
  bool ta = attrBool(s, "transpose_a"), tb = attrBool(s, "transpose_b");
  const auto &as = s.inputs[0].shape;
  size_t rank = as.size();
  int k = static_cast<int>(ta ? as[rank - 2] : as[rank - 1]);
  const auto &os = s.outputs[0].shape;
  std::vector<int64_t> shape(os.end() - 2, os.end());
  auto at = [](ImageParam p, Expr x, Expr y, const std::vector<Expr> &batch) {
    std::vector<Expr> args = {x, y};
    args.insert(args.end(), batch.begin(), batch.end());
    return Expr(p(args));
  };
  f.lhsKFast = !ta;
  f.weightKFast = tb;
  return defineGpuProduct(
      f, shape, k,
      [&](Expr kv, Expr n, const std::vector<Expr> &batch) {
        return ta ? at(a, n, kv, batch) : at(a, kv, n, batch);
      },
      [&](Expr o, Expr kv, const std::vector<Expr> &batch) {
        return tb ? at(b, kv, o, batch) : at(b, o, kv, batch);
      });
}

// The dense algorithm with x = op(a) ([M,K]) and weightT(col, k) = op(b)[k,
// col], so that the output column is the unit stride of the vector loads.
// GPU: also a batch of products (rank 3), the batch var last.
// `epilogue` maps each product to the output (a fused kernel's chain).
DenseFuncs defineMatmul(const KernelSpec &s, ImageParam a, ImageParam b,
                        const Epilogue &epilogue, const Target &target) {
  DenseFuncs f;
  f.inputs = {a, b};
  if (s.inputs[0].shape.size() == 3) {
    f.batch = {Var("i")};
  }
  std::vector<Var> args = {f.o, f.n};
  args.insert(args.end(), f.batch.begin(), f.batch.end());
  f.acc(args) = 0.0f;
  if (target.has_gpu_feature()) {
    f.acc(args) += gpuMatmulProduct(f, s, a, b);
  } else {
    bool ta = attrBool(s, "transpose_a"), tb = attrBool(s, "transpose_b");
    int k = static_cast<int>(ta ? s.inputs[0].shape[0] : s.inputs[0].shape[1]);
    f.weightKFast = tb;
    f.k = RDom(0, k, "k");
    Var kv("kv");
    f.weightT(f.o, kv) = tb ? b(kv, f.o) : b(f.o, kv);
    Expr lhs = ta ? a(f.n, f.k) : a(f.k, f.n);
    f.acc(args) += lhs * f.weightT(f.o, f.k);
  }
  f.out(args) = epilogue ? epilogue(f.acc(args), args) : Expr(f.acc(args));
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// Target: x86-64 AVX-512, 2 cores: the dense schedule (scheduleDense); the
// op(b) column block is copied per parallel task either way (a transposing
// copy when transpose_b), 1/M of the FLOPs in memory traffic. GPU: the
// dense GPU schedule for batches of products too.
Kernel buildMatmul(const KernelSpec &s, const Target &target) {
  if (s.inputs[0].shape.size() == 3 && !target.has_gpu_feature()) {
    return buildBatchedMatmul(s, target);
  }
  DenseFuncs f = defineMatmul(s, makeInput(s.inputs[0], "a"),
                              makeInput(s.inputs[1], "b"), Epilogue(), target);
  scheduleDense(f, s.outputs[0].shape, target);
  return {std::vector<Argument>(f.inputs.begin(), f.inputs.end()), f.out};
}

} // namespace

Func buildMatmulWithEpilogue(const KernelSpec &s,
                             const std::vector<ImageParam> &in,
                             const Epilogue &epilogue, const Target &target) {
  DenseFuncs f = defineMatmul(s, in.at(0), in.at(1), epilogue, target);
  scheduleDense(f, s.outputs[0].shape, target);
  return f.out;
}

namespace {

//===----------------------------------------------------------------------===//
// reduce_sum, reduce_max, reduce_min, reduce_prod over sorted axes, keepdims
// or not; reduce_grad (their gradient but sum's)
//===----------------------------------------------------------------------===//

std::vector<int64_t> readAxes(const KernelSpec &s) {
  const nlohmann::json &v = s.attrs.contains("axes") ? s.attrs.at("axes")
                                                     : nlohmann::json();
  if (!v.is_array() || v.empty()) {
    fail(s, "attribute 'axes' must be a non-empty list of integers");
  }
  std::vector<int64_t> axes;
  for (const nlohmann::json &a : v) {
    if (!a.is_number_integer()) {
      fail(s, "attribute 'axes' must be a non-empty list of integers");
    }
    axes.push_back(a.get<int64_t>());
  }
  return axes;
}

// The result shape of reducing x over `axes` (checked: sorted, unique, in
// range).
std::vector<int64_t> reducedShape(const KernelSpec &s,
                                  const std::vector<int64_t> &x) {
  std::vector<int64_t> axes = readAxes(s);
  bool keepdims = attrBool(s, "keepdims");
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < 0 || axes[i] >= static_cast<int64_t>(x.size())) {
      fail(s, "axis " + std::to_string(axes[i]) + " out of range");
    }
    if (i && axes[i] <= axes[i - 1]) {
      fail(s, "attribute 'axes' must be sorted and unique");
    }
  }
  std::vector<int64_t> shape;
  for (size_t d = 0; d < x.size(); ++d) {
    bool reduced =
        std::find(axes.begin(), axes.end(), int64_t(d)) != axes.end();
    if (!reduced) {
      shape.push_back(x[d]);
    } else if (keepdims) {
      shape.push_back(1);
    }
  }
  return shape;
}

void validateReduce(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  expectShape(s, s.outputs[0], "output", reducedShape(s, s.inputs[0].shape));
}

// The reduction's combiner and identity: "sum", "max", "min" or "prod".
struct Combiner {
  std::string kind;
  Expr identity() const {
    float inf = std::numeric_limits<float>::infinity();
    return kind == "sum" ? f32(0) : kind == "prod" ? f32(1)
                                  : kind == "max"  ? Expr(-inf)
                                                   : Expr(inf);
  }
  Expr operator()(Expr a, Expr b) const {
    return kind == "sum" ? a + b : kind == "prod" ? a * b
                                 : kind == "max"  ? max(a, b)
                                                  : min(a, b);
  }
};

// Which of x's dims (Halide order) a reduction removes, and the index
// maps between x, the kept dims and the output (y, dy).
struct ReduceAxes {
  std::vector<bool> reduced; // per Halide dim of x
  std::vector<int> keptX;    // Halide dims of x that are kept, innermost first
  std::vector<int> extents;  // x's Halide extents
  bool keepdims = false;

  ReduceAxes(const KernelSpec &s) : extents(halideShape(s.inputs[0])) {
    size_t rank = s.inputs[0].shape.size();
    reduced.assign(rank, false);
    for (int64_t a : readAxes(s)) {
      reduced[rank - 1 - a] = true;
    }
    for (size_t i = 0; i < rank; ++i) {
      if (!reduced[i]) {
        keptX.push_back(static_cast<int>(i));
      }
    }
    keepdims = attrBool(s, "keepdims");
  }

  // The leading (innermost) reduced dims, dense in memory, are one
  // flattened reduction dim: a 14x14 plane is 196 positions that fill
  // vectors, not rows of 14 (kiln bench --profile on the LeNet-style CNN's
  // training step: its 64-channel bias gradient 0.33 -> 0.06 ms).
  int flattened() const {
    int k = 0;
    while (k < static_cast<int>(reduced.size()) && reduced[k]) {
      ++k;
    }
    return k;
  }
  // The flattened dim's extent (0: the innermost dim is kept).
  int flatExtent() const {
    int k = flattened(), plane = 1;
    for (int i = 0; i < k; ++i) {
      plane *= extents[i];
    }
    return k > 0 ? plane : 0;
  }
  RDom domain() const {
    Region ranges;
    int k = flattened();
    if (k > 0) {
      ranges.push_back({0, flatExtent()});
    }
    for (size_t i = k; i < reduced.size(); ++i) {
      if (reduced[i]) {
        ranges.push_back({0, extents[i]});
      }
    }
    return RDom(ranges, "r");
  }
  // x at the kept coordinates `kept` and the reduced ones from `r`.
  std::vector<Expr> xAt(const std::vector<Var> &kept, const RDom &r) const {
    int k = flattened();
    std::vector<Expr> at =
        k > 0 ? unflatten(r[0], std::vector<int>(extents.begin(),
                                                  extents.begin() + k))
              : std::vector<Expr>{};
    for (size_t i = k, ri = k > 0 ? 1 : 0, ki = 0; i < reduced.size(); ++i) {
      at.push_back(reduced[i] ? Expr(r[ri++]) : Expr(kept[ki++]));
    }
    return at;
  }
  // The kept coordinates of output coordinates `out`, or of x's `x`.
  std::vector<Expr> keptOfOutput(const std::vector<Var> &out) const {
    std::vector<Expr> kept;
    for (size_t i = 0, oi = 0; i < reduced.size(); ++i) {
      if (!reduced[i]) {
        kept.push_back(out[oi++]);
      } else if (keepdims) {
        ++oi;
      }
    }
    return kept;
  }
  std::vector<Expr> keptOfX(const std::vector<Var> &x) const {
    std::vector<Expr> kept;
    for (int d : keptX) {
      kept.push_back(x[d]);
    }
    return kept;
  }
  // The output coordinates of kept coordinates `kept`.
  std::vector<Expr> outputOfKept(const std::vector<Expr> &kept) const {
    std::vector<Expr> out;
    for (size_t i = 0, ki = 0; i < reduced.size(); ++i) {
      if (!reduced[i]) {
        out.push_back(kept[ki++]);
      } else if (keepdims) {
        out.push_back(0);
      }
    }
    return out;
  }
};

struct ReduceFuncs {
  ImageParam x;
  std::vector<Var> v; // output vars (Halide order)
  std::vector<int> keptX;
  RDom r;             // the reduced dims of x, innermost first
  int flatExtent = 0; // r[0]'s extent when it is x's innermost dims
  Func sum{"sum"}, out{"out"};
  bool full = false; // every dim reduced, by the shared vectorized sum
};

ReduceFuncs defineReduce(const KernelSpec &s, const Combiner &combine,
                         const Target &target) {
  ReduceFuncs f;
  f.x = makeInput(s.inputs[0], "x");
  ReduceAxes axes(s);
  f.keptX = axes.keptX;
  f.v = makeVars(s.outputs[0].shape.size());
  if (axes.keptX.empty() && combine.kind == "sum") {
    f.full = true;
    Func total = sumAll("total", axes.extents,
                        [&](const std::vector<Expr> &at) { return f.x(at); },
                        target);
    f.out(f.v) = total();
    constrainOutput(f.out, s.outputs[0]);
    return f;
  }
  f.r = axes.domain();
  f.flatExtent = axes.flatExtent();
  std::vector<Var> kept = makeVars(axes.keptX.size());
  f.sum(kept) = combine.identity();
  f.sum(kept) = combine(f.sum(kept), f.x(axes.xAt(kept, f.r)));
  f.out(f.v) = f.sum(axes.keptOfOutput(f.v));
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// Target: x86-64 AVX-512, 2 cores. Reductions of training graphs are bias
// gradients (sum over the batch) and squared norms: memory bound. When the
// innermost dim is kept the sums are vectorized along it and the reduction
// loops run outside; otherwise each output is one rfactor'd vector
// reduction (max, min and products too: Halide proves them associative).
void scheduleReduce(ReduceFuncs &f, const KernelSpec &s,
                    const Target &target) {
  if (f.full) {
    scheduleElementwise(f.out, f.v, halideShape(s.outputs[0]), target);
    return;
  }
  if (target.has_gpu_feature()) {
    // One thread per output element, its reduction serial in the thread.
    rootStages(f.sum, target);
    scheduleElementwise(f.out, f.v, halideShape(s.outputs[0]), target);
    return;
  }
  int vec = target.natural_vector_size<float>();
  std::vector<int> extents = halideShape(s.inputs[0]);
  std::vector<Var> kept = f.sum.args();
  f.sum.compute_root();
  bool large = s.inputs[0].numElements() >= kParallelGrain;
  if (!f.keptX.empty() && f.keptX[0] == 0) {
    // Kept innermost dim: vector accumulators, reduction loops outside.
    int width = vectorWidthFor(extents[0], vec);
    std::vector<VarOrRVar> order = {kept[0]};
    for (int i = 0; i < f.r.dimensions(); ++i) {
      order.push_back(f.r[i]);
    }
    for (size_t i = 1; i < kept.size(); ++i) {
      order.push_back(kept[i]);
    }
    f.sum.update().reorder(order);
    if (width > 1) {
      f.sum.vectorize(kept[0], width, TailStrategy::GuardWithIf);
      f.sum.update().vectorize(kept[0], width, TailStrategy::GuardWithIf);
    }
    if (large && kept.size() > 1) {
      f.sum.update().parallel(kept.back());
    }
  } else {
    // Reduced innermost dim: per output, lane partial results along it.
    if (f.flatExtent >= vec) {
      RVar ro("ro"), ri("ri");
      Var lane("lane");
      Func lanes =
          f.sum.update().split(f.r[0], ro, ri, vec).rfactor(ri, lane);
      if (kept.empty()) {
        lanes.compute_root();
      } else {
        lanes.compute_at(f.sum, kept.back());
      }
      lanes.vectorize(lane);
      lanes.update().vectorize(lane);
    }
    if (large && !kept.empty()) {
      f.sum.update().parallel(kept.back());
    }
  }
  scheduleElementwise(f.out, f.v, halideShape(s.outputs[0]), target);
}

Kernel buildReduce(const KernelSpec &s, const Target &target) {
  ReduceFuncs f = defineReduce(s, {s.op.substr(std::string("reduce_").size())},
                               target);
  scheduleReduce(f, s, target);
  return {{f.x}, f.out};
}

void validateReduceGrad(const KernelSpec &s) {
  expectCounts(s, 3, 3, 1);
  expectF32Except(s);
  std::string kind = attrString(s, "kind");
  if (kind != "max" && kind != "min" && kind != "prod") {
    fail(s, "kind must be max, min or prod, got '" + kind + "'");
  }
  std::vector<int64_t> y = reducedShape(s, s.inputs[0].shape);
  expectShape(s, s.inputs[1], "result", y);
  expectShape(s, s.inputs[2], "dy", y);
  expectShape(s, s.outputs[0], "dx", s.inputs[0].shape);
}

// Per slice (kept coordinates) a count and, for prod, the product of the
// non-zero elements, both root; then dx elementwise over x.
Kernel buildReduceGrad(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x"), y = makeInput(s.inputs[1], "y"),
             dy = makeInput(s.inputs[2], "dy");
  std::string kind = attrString(s, "kind");
  ReduceAxes axes(s);
  RDom r = axes.domain();
  std::vector<Var> kept = makeVars(axes.keptX.size());
  Expr xr = x(axes.xAt(kept, r));
  // max/min: the elements equal to the extreme; prod: the zeros.
  Expr marked = kind == "prod" ? xr == 0.0f
                               : xr == y(axes.outputOfKept(
                                     std::vector<Expr>(kept.begin(), kept.end())));
  Func count("count"), nonZero("non_zero");
  count(kept) = 0;
  count(kept) += select(marked, 1, 0);
  rootStages(count, target);
  if (kind == "prod") {
    nonZero(kept) = f32(1);
    nonZero(kept) *= select(xr == 0.0f, f32(1), xr);
    rootStages(nonZero, target);
  }
  std::vector<Var> v = makeVars(s.inputs[0].shape.size());
  std::vector<Expr> k = axes.keptOfX(v);
  Expr g = dy(axes.outputOfKept(k));
  Expr xv = x(v);
  Expr n = count(k);
  Expr value;
  if (kind == "prod") {
    Expr rest = nonZero(k);
    value = select(n == 0, g * rest / xv,
                   n == 1 && xv == 0.0f, g * rest, f32(0));
  } else {
    value = select(xv == y(axes.outputOfKept(k)), g / cast<float>(n),
                   f32(0));
  }
  Func dx("dx");
  dx(v) = value;
  constrainOutput(dx, s.outputs[0]);
  scheduleElementwise(dx, v, halideShape(s.outputs[0]), target);
  return {{x, y, dy}, dx};
}

//===----------------------------------------------------------------------===//
// slice along one axis
//===----------------------------------------------------------------------===//

void validateSlice(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  expectMinRank(s, s.inputs[0], "x", 1);
  const auto &x = s.inputs[0].shape;
  int64_t axis = axisAttr(s, x.size()), start = attrInt(s, "start"),
          size = attrInt(s, "size");
  if (start < 0 || size < 1 || start + size > x[axis]) {
    fail(s, "slice [" + std::to_string(start) + ", " +
                std::to_string(start + size) + ") outside [0, " +
                std::to_string(x[axis]) + ")");
  }
  std::vector<int64_t> shape = x;
  shape[axis] = size;
  expectShape(s, s.outputs[0], "output", shape);
}

Kernel buildSlice(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  size_t rank = s.inputs[0].shape.size();
  size_t h = rank - 1 - attrInt(s, "axis");
  std::vector<Var> v = makeVars(rank);
  std::vector<Expr> at = asExprs(v);
  at[h] = v[h] + static_cast<int>(attrInt(s, "start"));
  Func out("out");
  out(v) = x(at);
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {{x}, out};
}

//===----------------------------------------------------------------------===//
// arg_reduce (ArgMax, ArgMin): x -> i32 indices along one axis
//===----------------------------------------------------------------------===//

void validateArgReduce(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s, {}, /*i32Outputs=*/true);
  const auto &x = s.inputs[0].shape;
  int64_t axis = axisAttr(s, x.size());
  std::string kind = attrString(s, "kind");
  if (kind != "max" && kind != "min") {
    fail(s, "kind must be max or min, got '" + kind + "'");
  }
  attrBool(s, "select_last_index");
  std::vector<int64_t> out = x;
  if (attrBool(s, "keepdims")) {
    out[axis] = 1;
  } else {
    out.erase(out.begin() + axis);
  }
  expectShape(s, s.outputs[0], "output", out);
}

// The running (value, index) pair over the axis, seeded by its first
// element; a NaN beats any number and the first NaN stays (NumPy).
// Target: any. One output element per vector lane (CPU) or thread (GPU),
// the axis serial.
Kernel buildArgReduce(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  const auto &xs = s.inputs[0].shape;
  size_t rank = xs.size();
  int64_t axis = attrInt(s, "axis");
  size_t h = rank - 1 - static_cast<size_t>(axis); // the axis' Halide dim
  bool keep = attrBool(s, "keepdims");
  bool max = attrString(s, "kind") == "max";
  bool last = attrBool(s, "select_last_index");
  std::vector<Var> v = makeVars(s.outputs[0].shape.size());
  RDom r(0, static_cast<int>(xs[axis]), "r");
  auto at = [&](Expr i) {
    std::vector<Expr> coords;
    for (size_t d = 0; d < rank; ++d) {
      if (d == h) {
        coords.push_back(i);
      } else {
        coords.push_back(v[keep || d < h ? d : d - 1]);
      }
    }
    return coords;
  };
  // NaN apart: the compiler may assume no NaN in float comparisons, so the
  // running (value, index) pair compares NaN-free keys (a NaN as the
  // weakest value) and the first (last) NaN's index, found on its own,
  // takes precedence.
  int length = static_cast<int>(xs[axis]);
  Expr weakest = max ? Float(32).min() : Float(32).max();
  auto key = [&](Expr i) {
    Expr value = x(at(i));
    return select(is_nan(value), weakest, value);
  };
  Func best("best"), nanAt("nan_at");
  best(v) = Tuple(key(0), 0);
  Expr value = key(r), current = best(v)[0];
  Expr wins = max ? (last ? value >= current : value > current)
                  : (last ? value <= current : value < current);
  best(v) = Tuple(select(wins, value, current), select(wins, r, best(v)[1]));
  Expr nan = is_nan(x(at(r)));
  nanAt(v) = last ? -1 : length;
  nanAt(v) = last ? Halide::max(nanAt(v), select(nan, r, -1))
                  : Halide::min(nanAt(v), select(nan, r, length));
  Func out("out");
  out(v) = select(nanAt(v) >= 0 && nanAt(v) < length, nanAt(v), best(v)[1]);
  constrainOutput(out, s.outputs[0]);
  std::vector<int> extents = halideShape(s.outputs[0]);
  scheduleElementwise(out, v, extents, target);
  int vec = target.natural_vector_size<float>();
  for (Func f : {best, nanAt}) {
    rootStages(f, target); // GPU: a thread per output element
    int width = v.empty() ? 1 : guardedWidth(extents[0], vec);
    if (!target.has_gpu_feature() && width > 1 && extents[0] >= vec) {
      f.vectorize(v[0], width, TailStrategy::GuardWithIf);
      f.update().vectorize(v[0], width, TailStrategy::GuardWithIf);
    }
  }
  return {{x}, out};
}

//===----------------------------------------------------------------------===//
// top_k (TopK's indices): x -> i32 indices of the k first elements along one
// axis in the order (largest: greater first; a NaN above every number, so
// first among the largest and last among the smallest; equal elements by
// index)
//===----------------------------------------------------------------------===//

void validateTopK(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s, {}, /*i32Outputs=*/true);
  const auto &x = s.inputs[0].shape;
  int64_t axis = axisAttr(s, x.size());
  int64_t k = attrInt(s, "k");
  if (k < 1 || k > x[axis]) {
    fail(s, "k = " + std::to_string(k) + " must be in [1, " +
                std::to_string(x[axis]) + "]");
  }
  attrBool(s, "largest");
  std::vector<int64_t> out = x;
  out[axis] = k;
  expectShape(s, s.outputs[0], "output", out);
}

// Slot r holds the first element, in the order, of those after slot r - 1's
// (the order is total: value, then index), found by one pass over the axis
// per slot: k passes, none of them a sort. The slots are an update over
// RDom (i inner, r outer), so slot r - 1 is final when slot r starts.
// NaN apart (the compiler may assume no NaN in float comparisons): keys are
// (is NaN, the value with NaN as 0).
// Target: any. One output row (all its slots) per vector lane (CPU, where
// the axis is not innermost) or thread (GPU).
Kernel buildTopK(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  const auto &xs = s.inputs[0].shape;
  size_t rank = xs.size();
  int64_t axis = attrInt(s, "axis");
  size_t h = rank - 1 - static_cast<size_t>(axis); // the axis' Halide dim
  bool largest = attrBool(s, "largest");
  int length = static_cast<int>(xs[axis]);
  int k = static_cast<int>(attrInt(s, "k"));
  std::vector<Var> v = makeVars(rank);
  auto at = [&](Expr i) {
    std::vector<Expr> coords(v.begin(), v.end());
    coords[h] = clamp(i, 0, length - 1);
    return coords;
  };
  // Whether element a comes before element b.
  auto before = [&](Expr a, Expr b) {
    Expr xa = x(at(a)), xb = x(at(b));
    // NaN from the bits: with the axis across vector lanes, LLVM folded
    // is_nan to false in a loop's tail.
    auto nan = [](Expr value) {
      return (reinterpret(UInt(32), value) & cast(UInt(32), 0x7fffffff)) >
             cast(UInt(32), 0x7f800000);
    };
    Expr na = nan(xa), nb = nan(xb);
    Expr va = select(na, 0.0f, xa), vb = select(nb, 0.0f, xb);
    Expr ahead = largest ? va > vb : va < vb;
    // Two NaNs have keys 0 and 0: equal, so by index.
    Expr nanFirst = largest ? na && !nb : nb && !na;
    return nanFirst || (na == nb && (ahead || (va == vb && a < b)));
  };
  Func slot("slot");
  slot(v) = -1;
  RDom r(0, length, 0, k, "r");
  std::vector<Expr> here(v.begin(), v.end()), previous(v.begin(), v.end());
  here[h] = r.y;
  previous[h] = r.y - 1;
  Expr current = slot(here), prior = slot(previous);
  Expr take = (r.y == 0 || before(prior, r.x)) &&
              (current < 0 || before(r.x, current));
  slot(here) = select(take, r.x, current);
  Func out("out");
  out(v) = slot(v);
  constrainOutput(out, s.outputs[0]);
  std::vector<int> extents = halideShape(s.outputs[0]);
  scheduleElementwise(out, v, extents, target);
  slot.compute_root();
  if (target.has_gpu_feature()) {
    // A thread per element (the initial slots), then per row (its slots).
    scheduleElementwiseGpu(slot, v);
    std::vector<Var> rows = v;
    rows.erase(rows.begin() + h);
    scheduleElementwiseGpu(slot.update(), rows);
    return {{x}, out};
  }
  int vec = target.natural_vector_size<float>();
  if (int width = guardedWidth(extents[0], vec);
      h != 0 && extents[0] >= vec && width > 1) {
    slot.vectorize(v[0], width, TailStrategy::GuardWithIf);
    slot.update().vectorize(v[0], width, TailStrategy::GuardWithIf);
  }
  return {{x}, out};
}

//===----------------------------------------------------------------------===//
// gather (x, indices -> x[:axis] + indices + x[axis+1:]) and gather_grad
// (indices, dy -> dx): run-time i32 indices, negative ones counted from the
// end. An index outside [-A, A) makes a CPU kernel return an error; device
// code cannot, so GPU sessions check the indices on the host before they go
// to the device (PlanBuffer::classes; negative ones are refused there).
//===----------------------------------------------------------------------===//

struct GatherShape {
  int64_t axis = 0, size = 0; // the gathered axis and its extent A
  size_t post = 0;            // Halide dims after the axis (innermost)
  size_t indexRank = 0;
};

GatherShape gatherShape(const KernelSpec &s, const TensorSpec &indices,
                        int64_t rank, int64_t size) {
  GatherShape g;
  g.axis = axisAttr(s, static_cast<size_t>(rank));
  g.size = size;
  g.post = static_cast<size_t>(rank - 1 - g.axis);
  g.indexRank = indices.shape.size();
  if (g.indexRank == 0) {
    fail(s, "scalar run-time indices are not supported (give them rank 1)");
  }
  return g;
}

// The row of `index`, with the range check on CPU targets.
Expr gatherRow(const KernelSpec &s, const GatherShape &g, Expr index,
               const Target &target) {
  int a = static_cast<int>(g.size);
  Expr row = clamp(select(index < 0, index + a, index), 0, a - 1);
  if (target.has_gpu_feature()) {
    return row;
  }
  return require(index >= -a && index < a, row, s.op + ": index", index,
                 "outside [", -a, ",", a, ")");
}

void validateGather(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s, {1});
  expectValidShapes(s);
  const auto &x = s.inputs[0].shape;
  expectMinRank(s, s.inputs[0], "x", 1);
  GatherShape g = gatherShape(s, s.inputs[1], static_cast<int64_t>(x.size()),
                              0);
  std::vector<int64_t> out(x.begin(), x.begin() + g.axis);
  out.insert(out.end(), s.inputs[1].shape.begin(), s.inputs[1].shape.end());
  out.insert(out.end(), x.begin() + g.axis + 1, x.end());
  expectShape(s, s.outputs[0], "output", out);
}

// Target: any. Elementwise over the output: each element reads its index
// (the innermost dims, those after the axis, vectorize: an embedding row).
Kernel buildGather(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam indices = makeInput(s.inputs[1], "indices");
  const auto &xs = s.inputs[0].shape;
  GatherShape g = gatherShape(s, s.inputs[1], static_cast<int64_t>(xs.size()),
                              xs[attrInt(s, "axis")]);
  std::vector<Var> v = makeVars(s.outputs[0].shape.size());
  std::vector<Expr> indexAt(v.begin() + g.post,
                            v.begin() + g.post + g.indexRank);
  std::vector<Expr> at(v.begin(), v.begin() + g.post);
  at.push_back(gatherRow(s, g, indices(indexAt), target));
  at.insert(at.end(), v.begin() + g.post + g.indexRank, v.end());
  Func out("out");
  out(v) = x(at);
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {{x, indices}, out};
}

void validateGatherGrad(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s, {0});
  expectValidShapes(s);
  const auto &dy = s.inputs[1].shape;
  const auto &idx = s.inputs[0].shape;
  int64_t size = attrInt(s, "size");
  GatherShape g = gatherShape(s, s.inputs[0],
                              static_cast<int64_t>(dy.size() - idx.size() + 1),
                              size);
  if (size < 1 ||
      !std::equal(idx.begin(), idx.end(), dy.begin() + g.axis)) {
    fail(s, "dy does not hold the indices' shape at the axis, or size < 1");
  }
  std::vector<int64_t> dx(dy.begin(), dy.begin() + g.axis);
  dx.push_back(size);
  dx.insert(dx.end(), dy.begin() + g.axis + idx.size(), dy.end());
  expectShape(s, s.outputs[0], "output", dx);
}

// Target: x86-64 AVX-512, 2 cores. dx zeroed, then every dy row added to
// the row its index names, in index order (a repeated index adds up). The
// indices loop is serial; the dims after the axis vectorize inside it and
// split into parallel chunks when long (an embedding's width), the dims
// before it run in parallel (their rows of dx are disjoint). GPU: dx zeroed
// one thread per element, then one thread per element of the dims before
// and after the axis (consecutive threads along an embedding's width) adds
// that column of every dy row in index order: no two threads write one
// element, so repeated indices need no atomics.
Kernel buildGatherGrad(const KernelSpec &s, const Target &target) {
  ImageParam indices = makeInput(s.inputs[0], "indices");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  const auto &idx = s.inputs[0].shape;
  GatherShape g = gatherShape(
      s, s.inputs[0],
      static_cast<int64_t>(s.inputs[1].shape.size() - idx.size() + 1),
      attrInt(s, "size"));
  std::vector<int> dxExtents = halideShape(s.outputs[0]);
  std::vector<Var> v = makeVars(dxExtents.size());
  Func dx("dx");
  dx(v) = 0.0f;
  Region bounds;
  for (int e : halideShape(s.inputs[0])) {
    bounds.push_back(Range(0, e));
  }
  RDom r(bounds, "r");
  std::vector<Expr> indexAt;
  for (size_t i = 0; i < g.indexRank; ++i) {
    indexAt.push_back(r[i]);
  }
  std::vector<Expr> dxAt(v.begin(), v.begin() + g.post), dyAt = dxAt;
  dxAt.push_back(gatherRow(s, g, indices(indexAt), target));
  dyAt.insert(dyAt.end(), indexAt.begin(), indexAt.end());
  dxAt.insert(dxAt.end(), v.begin() + g.post + 1, v.end());
  dyAt.insert(dyAt.end(), v.begin() + g.post + 1, v.end());
  dx(dxAt) += dy(dyAt);
  constrainOutput(dx, s.outputs[0]);
  if (target.has_gpu_feature()) {
    scheduleElementwiseGpu(dx, v);
    std::vector<Var> columns(v.begin(), v.begin() + g.post);
    columns.insert(columns.end(), v.begin() + g.post + 1, v.end());
    scheduleElementwiseGpu(dx.update(), columns);
    return {{indices, dy}, dx};
  }
  scheduleElementwise(dx, v, dxExtents, target);
  Stage update = dx.update();
  // Loops, innermost first: the dims after the axis (the first in chunks
  // when it is long enough to vectorize), the indices, the chunks, then the
  // dims before the axis.
  int vec = target.natural_vector_size<float>();
  bool big = s.inputs[1].numElements() >= kParallelGrain;
  int width =
      dxExtents[0] >= 8 * vec ? 4 * vec : guardedWidth(dxExtents[0], vec);
  bool chunked = g.post > 0 && dxExtents[0] >= vec && width > 1;
  Var chunk("chunk"), inner("inner");
  std::vector<VarOrRVar> order;
  if (chunked) {
    update.split(v[0], chunk, inner, width, TailStrategy::GuardWithIf);
    order.push_back(inner);
  } else if (g.post > 0) {
    order.push_back(v[0]);
  }
  for (size_t i = 1; i < g.post; ++i) {
    order.push_back(v[i]);
  }
  for (int i = 0; i < r.dimensions(); ++i) {
    order.push_back(r[i]);
  }
  if (chunked) {
    order.push_back(chunk);
  }
  order.insert(order.end(), v.begin() + g.post + 1, v.end());
  if (order.size() > 1) {
    update.reorder(order);
  }
  if (chunked) {
    update.vectorize(inner, std::min(vec, width));
    if (big && dxExtents[0] >= 2 * width) {
      update.parallel(chunk);
    }
  } else if (big && g.post + 1 < v.size()) {
    update.parallel(v.back());
  }
  return {{indices, dy}, dx};
}

//===----------------------------------------------------------------------===//
// gather_elements (x, indices -> indices' shape) and gather_elements_grad
// (indices, dy -> dx): run-time i32 indices of x's rank, negative ones
// counted from the end, range-checked as gather's (gatherRow).
//===----------------------------------------------------------------------===//

// Indices of x's rank, no larger than x off the axis.
void expectElementsShapes(const KernelSpec &s, const std::vector<int64_t> &x,
                          const std::vector<int64_t> &indices) {
  int64_t axis = attrInt(s, "axis");
  int64_t rank = static_cast<int64_t>(x.size());
  if (axis < 0 || axis >= rank ||
      static_cast<int64_t>(indices.size()) != rank) {
    fail(s, "indices must have the input's rank, and axis lie within it");
  }
  for (int64_t d = 0; d < rank; ++d) {
    if (d != axis && indices[d] > x[d]) {
      fail(s, "indices exceed the input off the axis at dim " +
                  std::to_string(d));
    }
  }
}

GatherShape elementsShape(const KernelSpec &s, const TensorSpec &indices,
                          int64_t size) {
  return gatherShape(s, indices, static_cast<int64_t>(indices.shape.size()),
                     size);
}

void validateGatherElements(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s, {1});
  expectValidShapes(s);
  expectElementsShapes(s, s.inputs[0].shape, s.inputs[1].shape);
  expectShape(s, s.outputs[0], "output", s.inputs[1].shape);
}

// Target: any. Elementwise over the output, each element reading its
// index (scheduleElementwise).
Kernel buildGatherElements(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam indices = makeInput(s.inputs[1], "indices");
  GatherShape g = elementsShape(s, s.inputs[1],
                                s.inputs[0].shape[attrInt(s, "axis")]);
  std::vector<Var> v = makeVars(s.outputs[0].shape.size());
  std::vector<Expr> at(v.begin(), v.end());
  at[g.post] = gatherRow(s, g, indices(at), target);
  Func out("out");
  out(v) = x(at);
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {{x, indices}, out};
}

void validateGatherElementsGrad(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s, {0});
  expectValidShapes(s);
  expectShape(s, s.inputs[1], "dy", s.inputs[0].shape);
  expectElementsShapes(s, s.outputs[0].shape, s.inputs[0].shape);
}

// Target: any. A gather, not a scatter: each dx element sums, over the
// indices along the axis at its own position off the axis, the dy whose
// index names it (zero off the indices' extents), so that no two threads
// add into one element and the GPU needs no atomics.
Kernel buildGatherElementsGrad(const KernelSpec &s, const Target &target) {
  ImageParam indices = makeInput(s.inputs[0], "indices");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  const auto &dxShape = s.outputs[0].shape;
  GatherShape g = elementsShape(s, s.inputs[0], dxShape[attrInt(s, "axis")]);
  std::vector<int> idx = halideShape(s.inputs[0]);
  std::vector<int> dxExtents = halideShape(s.outputs[0]);
  std::vector<Var> v = makeVars(dxExtents.size());
  RDom r(0, idx[g.post], "r");
  Expr inside = Internal::const_true();
  std::vector<Expr> at;
  for (size_t d = 0; d < v.size(); ++d) {
    if (d == g.post) {
      at.push_back(r);
    } else if (idx[d] < dxExtents[d]) {
      inside = inside && v[d] < idx[d];
      at.push_back(min(v[d], idx[d] - 1));
    } else {
      at.push_back(v[d]);
    }
  }
  Expr hit = inside && gatherRow(s, g, indices(at), target) == v[g.post];
  Func dx("dx");
  dx(v) = sum(select(hit, dy(at), 0.0f));
  constrainOutput(dx, s.outputs[0]);
  scheduleElementwise(dx, v, dxExtents, target);
  return {{indices, dy}, dx};
}

//===----------------------------------------------------------------------===//
// scale, regularizer_grad (elementwise)
//===----------------------------------------------------------------------===//

void validateScale(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  attrFloat(s, "factor");
  expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
}

Kernel buildScale(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  std::vector<Var> v = makeVars(s.inputs[0].shape.size());
  Func out("out");
  out(v) = f32(attrFloat(s, "factor")) * x(v);
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {{x}, out};
}

void validateClipFactor(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  if (attrFloat(s, "max_norm") <= 0) {
    throw Error("clip_factor: max_norm must be > 0");
  }
  expectShape(s, s.inputs[0], "input", {});
  expectShape(s, s.outputs[0], "output", {});
}

// Global-norm clipping coefficient from the summed squares of all gradients
// (torch.nn.utils.clip_grad_norm_): min(1, max_norm / (norm + 1e-6)).
// Scalar in, scalar out: no schedule.
Kernel buildClipFactor(const KernelSpec &s, const Target &) {
  ImageParam total = makeInput(s.inputs[0], "total");
  Func out("out");
  Expr norm = sqrt(total());
  out() = min(1.0f, f32(attrFloat(s, "max_norm")) / (norm + 1e-6f));
  constrainOutput(out, s.outputs[0]);
  return {{total}, out};
}

void validateRegularizer(const KernelSpec &s, bool grad) {
  expectCounts(s, grad ? 2 : 1, grad ? 2 : 1, 1);
  expectF32Except(s);
  attrFloat(s, "l1");
  attrFloat(s, "l2");
  if (grad) {
    expectShape(s, s.inputs[1], "dloss", {});
    expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
  } else {
    expectShape(s, s.outputs[0], "output", {});
  }
}

// l1 * sum|w| + l2 * sum w^2 as one vectorized sum (Keras convention).
Kernel buildRegularizer(const KernelSpec &s, const Target &target) {
  ImageParam w = makeInput(s.inputs[0], "w");
  Expr l1 = f32(attrFloat(s, "l1")), l2 = f32(attrFloat(s, "l2"));
  Func total = sumAll(
      "total", halideShape(s.inputs[0]),
      [&](const std::vector<Expr> &at) {
        Expr v = w(at);
        return l1 * abs(v) + l2 * v * v;
      },
      target);
  Func out("out");
  out() = total();
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, {}, {}, target); // GPU: one thread
  return {{w}, out};
}

// dloss * (l1 * sign(w) + 2 * l2 * w), sign(0) = 0.
Kernel buildRegularizerGrad(const KernelSpec &s, const Target &target) {
  ImageParam w = makeInput(s.inputs[0], "w");
  ImageParam dloss = makeInput(s.inputs[1], "dloss");
  Expr l1 = f32(attrFloat(s, "l1")), l2 = f32(attrFloat(s, "l2"));
  std::vector<Var> v = makeVars(s.inputs[0].shape.size());
  Expr sign = select(w(v) > 0.0f, 1.0f, select(w(v) < 0.0f, -1.0f, 0.0f));
  Func out("out");
  out(v) = dloss() * (l1 * sign + 2.0f * l2 * w(v));
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {{w, dloss}, out};
}

} // namespace

void registerTensorOps(OpRegistry &r) {
  r["matmul"] = {validateMatmul, buildMatmul};
  for (const char *op : {"reduce_sum", "reduce_max", "reduce_min", "reduce_prod"}) {
    r[op] = {validateReduce, buildReduce};
  }
  r["reduce_grad"] = {validateReduceGrad, buildReduceGrad};
  r["slice"] = {validateSlice, buildSlice};
  r["gather"] = {validateGather, buildGather};
  r["arg_reduce"] = {validateArgReduce, buildArgReduce};
  r["top_k"] = {validateTopK, buildTopK};
  r["gather_grad"] = {validateGatherGrad, buildGatherGrad};
  r["gather_elements"] = {validateGatherElements, buildGatherElements};
  r["gather_elements_grad"] = {validateGatherElementsGrad,
                               buildGatherElementsGrad};
  r["scale"] = {validateScale, buildScale};
  r["clip_factor"] = {validateClipFactor, buildClipFactor};
  r["regularizer"] = {[](const KernelSpec &s) { validateRegularizer(s, false); },
                      buildRegularizer};
  r["regularizer_grad"] = {
      [](const KernelSpec &s) { validateRegularizer(s, true); },
      buildRegularizerGrad};
}

} // namespace kiln::codegen::detail
