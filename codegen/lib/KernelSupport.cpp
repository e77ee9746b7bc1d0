// Op registry, spec checks and the helpers shared by the kernel families.
#include "Kernels.h"

#include <algorithm>
#include <limits>

using namespace Halide;

namespace kiln::codegen {
namespace detail {

// KernelsOnnx.cpp (declared here so that Kernels.h, which every kernel file
// includes, stays untouched by the ONNX op family).
void registerOnnxOps(OpRegistry &registry);

const OpInfo &lookupOp(const std::string &op) {
  static const OpRegistry registry = [] {
    OpRegistry r;
    registerElementwiseOps(r);
    registerLayerOps(r);
    registerConvOps(r);
    registerWinogradOps(r);
    registerLossOps(r);
    registerTensorOps(r);
    registerConvGradOps(r);
    registerLayerGradOps(r);
    registerTrainingOps(r);
    registerFusedOps(r);
    registerOnnxOps(r);
    return r;
  }();
  auto it = registry.find(op);
  if (it == registry.end()) {
    throw Error("unknown op '" + op + "': codegen has no kernel for it");
  }
  return it->second;
}

//===----------------------------------------------------------------------===//
// Spec checking
//===----------------------------------------------------------------------===//

void fail(const KernelSpec &spec, const std::string &problem) {
  throw Error("op '" + spec.op + "': " + problem);
}

static std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += (i ? "," : "") + std::to_string(shape[i]);
  }
  return s + "]";
}

void expectCounts(const KernelSpec &spec, size_t minInputs, size_t maxInputs,
                  size_t outputs) {
  size_t n = spec.inputs.size();
  if (n < minInputs || n > maxInputs) {
    std::string want = minInputs == maxInputs
                           ? std::to_string(minInputs)
                           : std::to_string(minInputs) + ".." +
                                 std::to_string(maxInputs);
    fail(spec, "expected " + want + " inputs, got " + std::to_string(n));
  }
  if (spec.outputs.size() != outputs) {
    fail(spec, "expected " + std::to_string(outputs) + " output(s), got " +
                   std::to_string(spec.outputs.size()));
  }
}

void expectRank(const KernelSpec &spec, const TensorSpec &t, const char *what,
                size_t rank) {
  if (t.shape.size() != rank) {
    fail(spec, std::string(what) + " must have rank " + std::to_string(rank) +
                   ", got " + shapeText(t.shape));
  }
}

void expectMinRank(const KernelSpec &spec, const TensorSpec &t,
                   const char *what, size_t rank) {
  if (t.shape.size() < rank) {
    fail(spec, std::string(what) + " must have rank >= " +
                   std::to_string(rank) + ", got " + shapeText(t.shape));
  }
}

void expectShape(const KernelSpec &spec, const TensorSpec &t, const char *what,
                 const std::vector<int64_t> &shape) {
  if (t.shape != shape) {
    fail(spec, std::string(what) + " must have shape " + shapeText(shape) +
                   ", got " + shapeText(t.shape));
  }
}

void expectF32Except(const KernelSpec &spec, std::vector<size_t> i32Inputs,
                     bool i32Outputs) {
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    bool wantI32 = std::find(i32Inputs.begin(), i32Inputs.end(), i) !=
                   i32Inputs.end();
    DType want = wantI32 ? DType::I32 : DType::F32;
    if (spec.inputs[i].dtype != want) {
      fail(spec, "input " + std::to_string(i) + " must be " +
                     dtypeName(want) + ", got " +
                     dtypeName(spec.inputs[i].dtype));
    }
  }
  DType out = i32Outputs ? DType::I32 : DType::F32;
  for (size_t i = 0; i < spec.outputs.size(); ++i) {
    if (spec.outputs[i].dtype != out) {
      fail(spec, "output " + std::to_string(i) + " must be " + dtypeName(out));
    }
  }
}

void expectValidShapes(const KernelSpec &spec) {
  auto check = [&](const TensorSpec &t) {
    if (t.shape.size() > 8) {
      fail(spec, "rank above 8 in " + shapeText(t.shape));
    }
    for (int64_t d : t.shape) {
      if (d < 1) {
        fail(spec, "non-positive extent in " + shapeText(t.shape));
      }
    }
    if (t.numElements() > std::numeric_limits<int32_t>::max()) {
      fail(spec, "tensor " + shapeText(t.shape) +
                     " exceeds 2^31 elements (Halide 32-bit indexing)");
    }
  };
  for (const TensorSpec &t : spec.inputs) {
    check(t);
  }
  for (const TensorSpec &t : spec.outputs) {
    check(t);
  }
}

static const nlohmann::json &attr(const KernelSpec &spec, const char *name) {
  if (!spec.attrs.is_object() || !spec.attrs.contains(name)) {
    fail(spec, std::string("missing attribute '") + name + "'");
  }
  return spec.attrs.at(name);
}

int64_t attrInt(const KernelSpec &spec, const char *name) {
  const nlohmann::json &v = attr(spec, name);
  if (!v.is_number_integer()) {
    fail(spec, std::string("attribute '") + name + "' must be an integer");
  }
  return v.get<int64_t>();
}

int64_t axisAttr(const KernelSpec &spec, size_t rank) {
  int64_t axis = attrInt(spec, "axis");
  if (axis < 0 || axis >= static_cast<int64_t>(rank)) {
    fail(spec, "axis " + std::to_string(axis) + " out of range");
  }
  return axis;
}

double attrFloat(const KernelSpec &spec, const char *name) {
  const nlohmann::json &v = attr(spec, name);
  if (!v.is_number()) {
    fail(spec, std::string("attribute '") + name + "' must be a number");
  }
  return v.get<double>();
}

bool attrBool(const KernelSpec &spec, const char *name) {
  const nlohmann::json &v = attr(spec, name);
  if (!v.is_boolean()) {
    fail(spec, std::string("attribute '") + name + "' must be a boolean");
  }
  return v.get<bool>();
}

std::string attrString(const KernelSpec &spec, const char *name) {
  const nlohmann::json &v = attr(spec, name);
  if (!v.is_string()) {
    fail(spec, std::string("attribute '") + name + "' must be a string");
  }
  return v.get<std::string>();
}

std::vector<int64_t> attrInts(const KernelSpec &spec, const char *name,
                              size_t count) {
  const nlohmann::json &v = attr(spec, name);
  bool ok = v.is_array() && v.size() == count;
  for (size_t i = 0; ok && i < count; ++i) {
    ok = v[i].is_number_integer();
  }
  if (!ok) {
    fail(spec, std::string("attribute '") + name + "' must be a list of " +
                   std::to_string(count) + " integers");
  }
  return v.get<std::vector<int64_t>>();
}

//===----------------------------------------------------------------------===//
// Algorithm helpers
//===----------------------------------------------------------------------===//

std::vector<int> halideShape(const TensorSpec &t) {
  std::vector<int64_t> dims = t.physicalShape();
  return std::vector<int>(dims.rbegin(), dims.rend());
}

static Type halideType(DType dtype) {
  return dtype == DType::I32 ? Int(32) : Float(32);
}

ImageParam makeInput(const TensorSpec &t, const std::string &name) {
  std::vector<int> extents = halideShape(t);
  ImageParam p(halideType(t.dtype), static_cast<int>(extents.size()), name);
  int stride = 1;
  for (size_t i = 0; i < extents.size(); ++i) {
    p.dim(i).set_bounds(0, extents[i]).set_stride(stride);
    stride *= extents[i];
  }
  return p;
}

void constrainOutput(Func output, const TensorSpec &t) {
  std::vector<int> extents = halideShape(t);
  std::vector<OutputImageParam> buffers = output.output_buffers();
  for (size_t b = 0; b < buffers.size(); ++b) {
    int stride = 1;
    for (size_t i = 0; i < extents.size(); ++i) {
      // Halide ties the bounds of a Tuple's later buffers to the first.
      if (b == 0) {
        buffers[b].dim(i).set_bounds(0, extents[i]);
      }
      buffers[b].dim(i).set_stride(stride);
      stride *= extents[i];
    }
  }
}

Func definePoolTail(const KernelSpec &tail, Func y, const std::vector<Var> &v) {
  std::vector<int64_t> k = attrInts(tail, "kernel", 2);
  int kh = static_cast<int>(k[0]), kw = static_cast<int>(k[1]);
  Expr best;
  for (int ty = 0; ty < kh; ++ty) {
    for (int tx = 0; tx < kw; ++tx) {
      Expr tap = y(v[0] * kw + tx, v[1] * kh + ty, v[2], v[3]);
      best = best.defined() ? max(best, tap) : tap;
    }
  }
  Func out("pooled");
  out(v) = best;
  constrainOutput(out, tail.outputs[0]);
  return out;
}

std::vector<Var> makeVars(size_t rank) {
  std::vector<Var> vars;
  for (size_t i = 0; i < rank; ++i) {
    vars.emplace_back("d" + std::to_string(i));
  }
  return vars;
}

std::vector<Expr> asExprs(const std::vector<Var> &vars) {
  return std::vector<Expr>(vars.begin(), vars.end());
}

//===----------------------------------------------------------------------===//
// Reduction helpers (algorithm and schedule together: small, shared stages)
//===----------------------------------------------------------------------===//

namespace {

// f(c) = zeros, or f(c) += terms, for one value or a Tuple of several.
Tuple zeros(size_t n) { return Tuple(std::vector<Expr>(n, Expr(0.0f))); }
void accumulate(Func f, const std::vector<Expr> &at,
                const std::vector<Expr> &terms) {
  if (terms.size() == 1) {
    f(at) += terms[0];
    return;
  }
  std::vector<Expr> sums;
  for (size_t i = 0; i < terms.size(); ++i) {
    sums.push_back(f(at)[i] + terms[i]);
  }
  f(at) = Tuple(sums);
}
void initialize(Func f, const std::vector<Var> &at, size_t n) {
  if (n == 1) {
    f(at) = 0.0f;
  } else {
    f(at) = zeros(n);
  }
}
std::vector<Expr> elements(FuncRef ref, size_t n) {
  if (n == 1) {
    return {Expr(ref)};
  }
  std::vector<Expr> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(ref[i]);
  }
  return out;
}

} // namespace

Func channelSums(
    const std::string &name, const std::vector<int> &extents, size_t count,
    const std::function<std::vector<Expr>(const std::vector<Expr> &)> &terms,
    const Target &target, bool perChannel) {
  size_t rank = extents.size();
  int vec = target.natural_vector_size<float>();
  int64_t total = 1;
  for (int e : extents) {
    total *= e;
  }
  Var c("c"), w("w");
  Func sum(name);
  initialize(sum, {c}, count);
  if (target.has_gpu_feature()) {
    // Per (channel, image) kGpuSumLanes partial sums over the flattened
    // plane, lane k summing positions k, k + 32, k + 64, ...: one GPU
    // thread each, consecutive threads on consecutive floats (coalesced
    // loads; one thread per (channel, image) read a plane apart from its
    // neighbours and left a 64-channel layer at batch 64 4096 threads).
    // Then per (channel, image) the sum over the lanes, and per channel
    // over the batch ([N, C]: over N directly): one thread per channel
    // summing the lanes and the batch (2048 terms at batch 64) took 0.37 ms
    // a call on an H200, 15 ms of ResNet-18's training step.
    if (rank == 2) {
      RDom rn(0, extents[1], name + "_rn");
      accumulate(sum, {c}, terms({c, rn}));
      rootStages(sum, target);
      return sum;
    }
    Var n("n"), k("k");
    std::vector<int> plane(extents.begin(), extents.end() - 2);
    int64_t positions = 1;
    for (int e : plane) {
      positions *= e;
    }
    int lanes = static_cast<int>(std::min<int64_t>(kGpuSumLanes, positions));
    RDom rj(0, static_cast<int>((positions + lanes - 1) / lanes),
            name + "_rj");
    Expr p = rj * lanes + k;
    rj.where(p < static_cast<int>(positions));
    // Clamped for bounds inference, which does not see the where clause.
    std::vector<Expr> at =
        unflatten(min(p, static_cast<int>(positions) - 1), plane);
    at.push_back(c);
    at.push_back(n);
    Func partial(name + "_partial");
    initialize(partial, {k, c, n}, count);
    accumulate(partial, {k, c, n}, terms(at));
    rootStages(partial, target);
    RDom rk(0, lanes, name + "_rk"), rn(0, extents[rank - 1], name + "_rn");
    Func image(name + "_image");
    initialize(image, {c, n}, count);
    accumulate(image, {c, n}, elements(partial(rk, c, n), count));
    rootStages(image, target);
    accumulate(sum, {c}, elements(image(c, rn), count));
    rootStages(sum, target);
    return sum;
  }
  if (!perChannel) {
    sum.compute_root();
  }
  if (rank == 2) { // [N,C]: reduce over N, vectorized over C
    RDom rn(0, extents[1], name + "_rn");
    accumulate(sum, {c}, terms({c, rn}));
    int width = vectorWidthFor(extents[0], vec);
    if (width > 1) {
      sum.vectorize(c, width, TailStrategy::GuardWithIf);
      sum.update().reorder(c, rn).vectorize(c, width,
                                            TailStrategy::GuardWithIf);
    }
    return sum;
  }
  // Partial sums partial(w, c) along the innermost dim, vectorized over w
  // (scalar sums are bound by the add latency), then a short sum over w.
  // Planes of up to kFlatPlane positions are summed flattened: w runs over
  // the whole plane (unflatten), so 14- and 28-wide rows fill whole vectors
  // and only the batch is looped over. Measured on the LeNet-style CNN's
  // training step at batch 64 (kiln bench --profile): batch_norm_train +
  // relu on 64 channels of 14x14 0.55 -> 0.21 ms, on 32 of 28x28 0.73 ->
  // 0.41 ms.
  constexpr int64_t kFlatPlane = 4096;
  int64_t plane = 1;
  for (size_t i = 0; i + 2 < rank; ++i) {
    plane *= extents[i];
  }
  bool flat = rank > 3 && plane <= kFlatPlane;
  int lanesExtent = flat ? static_cast<int>(plane) : extents[0];
  Region ranges;
  for (size_t i = flat ? rank - 2 : 1; i < rank; ++i) {
    if (i != rank - 2) {
      ranges.push_back({0, extents[i]});
    }
  }
  RDom rest(ranges, name + "_r");
  std::vector<Expr> at =
      flat ? unflatten(w, std::vector<int>(extents.begin(),
                                           extents.begin() + (rank - 2)))
           : std::vector<Expr>{w};
  for (size_t i = at.size(), j = 0; i < rank; ++i) {
    at.push_back(i == rank - 2 ? Expr(c) : Expr(rest[j++]));
  }
  Func partial(name + "_partial");
  initialize(partial, {w, c}, count);
  accumulate(partial, {w, c}, terms(at));
  RDom rw(0, lanesExtent, name + "_rw");
  accumulate(sum, {c}, elements(partial(rw, c), count));
  if (total >= kParallelGrain && !perChannel) {
    sum.update().parallel(c);
  }
  partial.compute_at(sum, c);
  std::vector<VarOrRVar> order = {w};
  for (int i = 0; i < rest.dimensions(); ++i) {
    order.push_back(rest[i]);
  }
  partial.update().reorder(order);
  int width = vectorWidthFor(lanesExtent, vec);
  if (width > 1) {
    partial.vectorize(w, width, TailStrategy::GuardWithIf);
    partial.update().vectorize(w, width, TailStrategy::GuardWithIf);
  }
  return sum;
}

Func channelSum(const std::string &name, const std::vector<int> &extents,
                const std::function<Expr(const std::vector<Expr> &)> &term,
                const Target &target, bool perChannel) {
  return channelSums(
      name, extents, 1,
      [&](const std::vector<Expr> &at) { return std::vector<Expr>{term(at)}; },
      target, perChannel);
}

void parallelPlanes(Stage stage, const Var &plane, int64_t planeElements) {
  int64_t planes = std::max<int64_t>(
      1, kParallelGrain / 4 / std::max<int64_t>(1, planeElements));
  if (planes == 1) {
    stage.parallel(plane);
    return;
  }
  Var task(plane.name() + "_task");
  stage.split(plane, task, plane, static_cast<int>(planes),
              TailStrategy::GuardWithIf)
      .parallel(task);
}

bool channelMajor(const std::vector<int> &extents) {
  size_t rank = extents.size();
  if (rank < 3 || extents[rank - 2] < 4) {
    return false;
  }
  // Planes under 16x16 (ResNet's 14x14 and 7x7) keep the flat schedule:
  // their short rows fill vectors poorly one channel at a time.
  int64_t plane = 1;
  for (size_t i = 0; i + 2 < rank; ++i) {
    plane *= extents[i];
  }
  return plane >= 256;
}

void scheduleChannelMajor(Func f, const std::vector<Var> &vars,
                          const std::vector<int> &extents,
                          const Target &target, bool parallel) {
  size_t rank = vars.size();
  int vec = target.natural_vector_size<float>();
  Var c = vars[rank - 2], n = vars[rank - 1];
  // The dims inside the channel: the spatial ones (dense: they fuse into
  // one linear index), then the batch.
  Var inner = vars[0];
  int innerExtent = extents[0];
  for (size_t i = 1; i + 2 < rank; ++i) {
    Var fused(inner.name() + "_" + vars[i].name());
    f.fuse(inner, vars[i], fused);
    inner = fused;
    innerExtent *= extents[i];
  }
  f.reorder(inner, n, c);
  int width = vectorWidthFor(innerExtent, vec);
  if (width > 1) {
    f.vectorize(inner, width, TailStrategy::GuardWithIf);
  }
  int64_t total = 1;
  for (int e : extents) {
    total *= e;
  }
  if (parallel && total >= kParallelGrain) {
    f.parallel(c);
  }
}

Func sumAll(const std::string &name, const std::vector<int> &extents,
            const std::function<Expr(const std::vector<Expr> &)> &term,
            const Target &target) {
  Func sum(name);
  sum() = 0.0f;
  sum.compute_root();
  if (extents.empty()) {
    sum() += term({});
    rootStages(sum, target);
    return sum;
  }
  if (target.has_gpu_feature()) {
    // A block reduction over the flattened domain: thread t of T = 256 x B
    // sums elements t, t + T, t + 2T, ... (a warp's loads coalesced), each
    // block's 256 partial sums in shared memory, which one thread of the
    // block adds; then one thread adds the B block sums. B: about 32
    // elements per thread, at most 1024 blocks. Before, one thread per
    // slice of the outermost dim read a slice apart from its neighbours
    // (a 512 x 512 x 3 x 3 weight's penalty: 512 threads of 4608 terms).
    int64_t total = 1;
    for (int e : extents) {
      total *= e;
    }
    int64_t blocks = std::clamp<int64_t>(
        (total + kGpuThreads * 32 - 1) / (kGpuThreads * 32), 1, 1024);
    int threads = static_cast<int>(blocks) * kGpuThreads;
    RDom rj(0, static_cast<int>((total + threads - 1) / threads),
            name + "_rj");
    Var t(name + "_t"), b(name + "_b");
    Expr p = rj * threads + t;
    rj.where(p < static_cast<int>(total));
    Func partial(name + "_partial"), block(name + "_block");
    partial(t) = 0.0f;
    // Clamped for bounds inference, which does not see the where clause.
    partial(t) += term(unflatten(min(p, static_cast<int>(total) - 1), extents));
    RDom ru(0, kGpuThreads, name + "_ru"),
        rb(0, static_cast<int>(blocks), name + "_rb");
    block(b) = 0.0f;
    block(b) += partial(b * kGpuThreads + ru);
    sum() += block(rb);
    block.compute_root().gpu_blocks(b);
    block.update().gpu_blocks(b);
    partial.compute_at(block, b).gpu_threads(t);
    partial.update().gpu_threads(t);
    sum.gpu_single_thread();
    sum.update().gpu_single_thread();
    return sum;
  }
  Region ranges;
  for (int e : extents) {
    ranges.push_back({0, e});
  }
  RDom r(ranges, name + "_r");
  std::vector<Expr> at;
  for (int i = 0; i < r.dimensions(); ++i) {
    at.push_back(r[i]);
  }
  sum() += term(at);
  int vec = target.natural_vector_size<float>();
  if (extents[0] >= vec) {
    // One partial sum per lane of the innermost dim, then a horizontal sum.
    RVar ro(name + "_ro"), ri(name + "_ri");
    Var lane(name + "_lane");
    Func lanes = sum.update().split(r[0], ro, ri, vec).rfactor(ri, lane);
    lanes.compute_root().vectorize(lane);
    lanes.update().vectorize(lane);
  }
  return sum;
}

//===----------------------------------------------------------------------===//
// Schedule helpers
//===----------------------------------------------------------------------===//

std::vector<Expr> unflatten(Expr index, const std::vector<int> &extents) {
  std::vector<Expr> at;
  Expr stride = 1;
  for (size_t i = 0; i < extents.size(); ++i) {
    Expr coord = index / stride;
    at.push_back(i + 1 < extents.size() ? coord % extents[i] : coord);
    stride = stride * extents[i];
  }
  return at;
}

// Halves to even (PyTorch, NumPy), written out: Halide 14's OpenCL back
// end emits OpenCL's round(), which takes halves away from zero. Floats of
// magnitude 2^23 and up are integers already.
Expr roundHalfEven(Expr x) {
  Expr r = floor(x + 0.5f);
  Expr tie = r - x == 0.5f && r - 2.0f * floor(r * 0.5f) != 0.0f;
  return select(abs(x) >= 8388608.0f, x, select(tie, r - 1.0f, r));
}

int vectorWidthFor(int extent, int vec) {
  for (int w = vec; w >= std::max(vec / 4, 2); w /= 2) {
    if (extent >= w) {
      return guardedWidth(extent, w);
    }
  }
  return 1;
}

bool fitsRegisters(int a, int b, const Target &target, bool streamed) {
  int registers = target.has_feature(Target::AVX512) ? 32 : 16;
  return streamed ? a * b + a + 1 <= registers : a * b + a + b <= registers + 1;
}

double registerTileCost(int a, int b) {
  double sums = a * b;
  return std::max({1.0, (a + b) / sums, 10.0 / sums});
}

std::pair<int, int> registerSubTile(int a, int b, const Target &target,
                                    bool streamed) {
  if (fitsRegisters(a, b, target, streamed)) {
    return {a, b};
  }
  std::pair<int, int> best = {1, 1};
  double bestCost = registerTileCost(1, 1);
  for (int i = a; i >= 1; --i) {
    for (int j = b; j >= 1; --j) {
      if (a % i == 0 && b % j == 0 && fitsRegisters(i, j, target, streamed) &&
          registerTileCost(i, j) < bestCost - 1e-9) {
        bestCost = registerTileCost(i, j);
        best = {i, j};
      }
    }
  }
  return best;
}

std::vector<VarOrRVar> splitSubTiles(Stage stage, const Var *tv, Var c,
                                     int vectors, int channels,
                                     const Target &target, bool streamed) {
  // Guarded: a consumer's last block of channels may be partial (a
  // projection's expanded channels), and the sub-tiles must not read past.
  auto [subVectors, subChannels] =
      registerSubTile(vectors, channels, target, streamed);
  std::vector<VarOrRVar> outer;
  if (tv && subVectors != vectors) {
    Var ta(tv->name() + "_tiles");
    stage.split(*tv, ta, *tv, subVectors, TailStrategy::GuardWithIf);
    outer.push_back(ta);
  }
  if (subChannels != channels) {
    Var ca(c.name() + "_tiles");
    stage.split(c, ca, c, subChannels, TailStrategy::GuardWithIf);
    outer.push_back(ca);
  }
  return outer;
}

int registerTileWidth(int a, int maxB, const Target &target, bool streamed) {
  int best = 0;
  for (int b = 1; b <= maxB; ++b) {
    if (fitsRegisters(a, b, target, streamed) &&
        (best == 0 ||
         registerTileCost(a, b) <= registerTileCost(a, best) + 1e-9)) {
      best = b;
    }
  }
  return best;
}

void vectorizeRowCopy(Stage stage, RVar x, const Target &target) {
  int vec = target.natural_vector_size<float>();
  const int64_t *extent = as_const_int(x.extent());
  stage.allow_race_conditions();
  if (extent && *extent % vec != 0 && *extent <= 4 * vec) {
    stage.vectorize(x);
  } else {
    stage.vectorize(x, vec, TailStrategy::GuardWithIf);
  }
}

int guardedWidth(int extent, int width) {
  if (extent != width + 1) {
    return width;
  }
  return width / 2 > 1 ? width / 2 : 1;
}

// Target: x86-64 AVX-512 (16 f32 lanes), 2 cores. Elementwise kernels are
// memory bound: relu over 64x16x28x28 runs at ~memory bandwidth.
namespace {

// One stage as one GPU thread per element of its pure dims: every dim
// fused into one (dense buffers: the index stays linear), in blocks of
// kGpuThreads threads; consecutive threads touch consecutive floats
// (coalesced). The tail is guarded, never shifted, so an elementwise kernel
// may run in place. Rank 0: one GPU thread.
void gpuTileStage(Stage stage, const std::vector<Var> &vars) {
  if (vars.empty()) {
    stage.gpu_single_thread();
    return;
  }
  Var all = vars[0];
  for (size_t i = 1; i < vars.size(); ++i) {
    Var fused(all.name() + "_" + vars[i].name());
    stage.fuse(all, vars[i], fused);
    all = fused;
  }
  Var block(all.name() + "_block"), thread(all.name() + "_thread");
  stage.gpu_tile(all, block, thread, kGpuThreads, TailStrategy::GuardWithIf);
}

} // namespace

Var gpuPlaneTiles(Stage stage, Var x, Var y, Var xi, Var yi, int tw, int th,
                  const std::vector<Var> &outer) {
  Var xo(x.name() + "_o"), yo(y.name() + "_o");
  stage.tile(x, y, xo, yo, xi, yi, tw, th, TailStrategy::GuardWithIf);
  Var block(xo.name() + "_" + yo.name());
  stage.fuse(xo, yo, block);
  for (const Var &v : outer) {
    Var fused(block.name() + "_" + v.name());
    stage.fuse(block, v, fused);
    block = fused;
  }
  stage.gpu_blocks(block).gpu_threads(xi, yi);
  return block;
}

Func gpuWeightsByChannel(ImageParam weight, int channelDim) {
  Func byChannel("weight_by_channel");
  Var ch("ch"), kx("kx"), ky("ky"), other("other");
  if (weight.dimensions() == 5) {
    // Packed [O/B, C, KH, KW, B]: channel ch at (ch % B, ..., ch / B).
    Expr block = weight.dim(0).extent();
    Expr clamped = min(ch, weight.dim(4).extent() * block - 1);
    byChannel(ch, kx, ky, other) =
        weight(clamped % block, kx, ky, other, clamped / block);
  } else {
    Expr last = weight.dim(channelDim).extent() - 1;
    Expr clamped = min(ch, last);
    byChannel(ch, kx, ky, other) =
        channelDim == 3 ? weight(kx, ky, other, clamped)
                        : weight(kx, ky, clamped, other);
  }
  byChannel.compute_root();
  gpuTileStage(byChannel, {ch, kx, ky, other});
  return byChannel;
}

GpuConvTiles chooseConvTilesGpu(const std::vector<int64_t> &shape,
                                int maxBlockRows) {
  GpuConvTiles t;
  int64_t outputs = shape[0] * shape[1] * shape[2] * shape[3];
  t.rows = static_cast<int>(std::min<int64_t>(4, shape[2]));
  t.channels = static_cast<int>(std::min<int64_t>(8, shape[1]));
  while (outputs / (t.rows * t.channels) < 32768 &&
         (t.rows > 1 || t.channels > 1)) {
    (t.rows > 1 ? t.rows : t.channels) /= 2;
  }
  int64_t rowTiles = (shape[2] + t.rows - 1) / t.rows;
  int64_t channelTiles = (shape[1] + t.channels - 1) / t.channels;
  t.tw = static_cast<int>(std::min<int64_t>(16, shape[3]));
  t.th = static_cast<int>(std::min<int64_t>(8, rowTiles));
  if (maxBlockRows > 0) {
    t.th = std::max(1, std::min(t.th, maxBlockRows / t.rows));
  }
  t.tc = 1;
  while (t.tc * 2 * t.tw * t.th <= 256 && t.tc * 2 <= channelTiles) {
    t.tc *= 2;
  }
  return t;
}

void convTilesGpu(Func out, Func acc, Var x, Var y, Var o, Var n, RDom r,
                  const std::vector<int64_t> &shape, int64_t taps,
                  bool vectorChannels, const GpuConvStaging *staging) {
  GpuConvTiles t = staging ? staging->tiles : chooseConvTilesGpu(shape);
  Var yt("yt"), yr("yr"), oo("oo"), oi("oi"), ob("ob"), oc("oc");
  Var xi("xi"), yi("yi");
  out.split(y, yt, yr, t.rows, TailStrategy::GuardWithIf)
      .split(o, oo, oi, t.channels, TailStrategy::GuardWithIf)
      .split(oo, ob, oc, t.tc, TailStrategy::GuardWithIf)
      .reorder(oi, yr, oc, x, yt, ob, n);
  std::vector<Var> outer = {ob, n};
  if (staging) {
    outer.insert(outer.end(), staging->outer.begin(), staging->outer.end());
  }
  Var block = gpuPlaneTiles(out, x, yt, xi, yi, t.tw, t.th, outer);
  out.gpu_threads(oc).reorder(oi, yr, xi, yi, oc).unroll(oi).unroll(yr);
  acc.compute_at(out, xi)
      .bound_extent(o, t.channels)
      .bound_extent(y, t.rows)
      .unroll(o)
      .unroll(y);
  acc.update().reorder(o, y, r.x, r.y, r.z).unroll(y);
  if (vectorChannels && t.channels % 4 == 0) {
    acc.update().vectorize(o, 4).unroll(o);
  } else {
    acc.update().unroll(o);
  }
  if (taps <= 9) {
    acc.update().unroll(r.x).unroll(r.y);
  }
  if (!staging) {
    return;
  }
  // The block's input region in shared memory, loaded by the block's
  // threads before any sums: its columns and rows flattened across the
  // threads of x and y (consecutive threads, consecutive columns), its
  // channels across thread z. The region's size is fixed (the staged Func
  // reads clamped anywhere), so the buffer is one size for every block.
  Func in = staging->input;
  std::vector<Var> v = in.args();
  Var plane("s_plane"), po("s_plane_o"), pi("s_plane_i");
  Var px("s_x"), py("s_y"), co(v[2].name() + "_o"), ct(v[2].name() + "_t");
  in.compute_at(out, block)
      .store_in(MemoryType::GPUShared)
      .bound_extent(v[0], staging->width)
      .bound_extent(v[1], staging->height)
      .bound_extent(v[2], staging->channels)
      .fuse(v[0], v[1], plane)
      .split(plane, po, pi, t.tw * t.th, TailStrategy::GuardWithIf)
      .split(pi, py, px, t.tw)
      .split(v[2], co, ct, t.tc, TailStrategy::GuardWithIf)
      .reorder(po, co, v[3], px, py, ct)
      .gpu_threads(px, py, ct);
}

namespace {

// CUDA's per-block shared memory without an opt-in is 48 KiB; OpenCL
// promises 32 KiB of local memory.
int64_t gpuSharedBytes(const Target &target) {
  return target.has_feature(Target::CUDA) ? 48 * 1024 : 32 * 1024;
}

constexpr int64_t kMaxWindowChunks = 16;

} // namespace

WindowStaging planWindowStaging(const WindowSum &sum, const Target &target) {
  WindowStaging plan;
  GpuConvTiles t = chooseConvTilesGpu(sum.shape, 8);
  auto extent = [](const WindowAxis &a, int outputs) {
    return static_cast<int64_t>(outputs - 1) * a.scale +
           static_cast<int64_t>(a.taps - 1) * std::abs(a.step) + 1;
  };
  int64_t width = extent(sum.x, t.tw);
  int64_t height = extent(sum.y, t.th * t.rows);
  for (int64_t chunk = sum.channels; chunk >= 1; --chunk) {
    int64_t bytes =
        width * height * chunk * static_cast<int64_t>(sizeof(float));
    if (sum.channels % chunk != 0 || bytes > gpuSharedBytes(target)) {
      continue;
    }
    if (sum.channels / chunk <= kMaxWindowChunks) {
      plan.chunk = static_cast<int>(chunk);
      plan.staging.tiles = t;
      plan.staging.width = static_cast<int>(width);
      plan.staging.height = static_cast<int>(height);
      plan.staging.channels = static_cast<int>(chunk);
    }
    break;
  }
  return plan;
}

void stagedWindowSumGpu(
    const WindowSum &sum, WindowStaging plan, Func out,
    const std::function<Expr(Expr c)> &init,
    const std::function<void(Expr value, const std::vector<Var> &v)> &define) {
  int chunks = sum.channels / plan.chunk;
  Var x("x"), y("y"), c("c"), n("n"), u("u");
  RDom r(0, sum.x.taps, 0, sum.y.taps, 0, plan.chunk, "r_" + sum.name);
  Expr k = chunks == 1 ? Expr(r.z) : u * plan.chunk + r.z;
  Expr ix = x * sum.x.scale + r.x * sum.x.step + sum.x.offset;
  Expr iy = y * sum.y.scale + r.y * sum.y.step + sum.y.offset;
  std::vector<Var> args = {x, y, c, n};
  if (chunks > 1) {
    args.push_back(u);
  }
  plan.staging.input = sum.input;
  Func acc("acc_" + sum.name);
  acc(args) = chunks == 1 ? init(c) : 0.0f;
  acc(args) += sum.weight(c, r.x, r.y, k) * sum.input(ix, iy, k, n);
  int64_t taps = static_cast<int64_t>(sum.x.taps) * sum.y.taps;
  if (chunks == 1) {
    define(acc(x, y, c, n), {x, y, c, n});
    convTilesGpu(out, acc, x, y, c, n, r, sum.shape, taps, true,
                 &plan.staging);
    return;
  }
  Func partial("partial_" + sum.name);
  partial(args) = acc(args);
  partial.compute_root();
  plan.staging.outer = {u};
  convTilesGpu(partial, acc, x, y, c, n, r, sum.shape, taps, true,
               &plan.staging);
  RDom ru(0, chunks, "ru_" + sum.name);
  define(init(c) + Halide::sum(partial(x, y, c, n, ru)), {x, y, c, n});
  scheduleElementwiseGpu(out, {x, y, c, n});
}

Func gpuZeroPadded(ImageParam in, const std::string &name) {
  Func padded(name);
  std::vector<Var> v = {Var("px"), Var("py"), Var("pc"), Var("pn")};
  padded(v) = BoundaryConditions::constant_exterior(in, 0.0f)(v);
  padded.compute_root();
  gpuTileStage(padded, v);
  return padded;
}

void rootStages(Func f, const Target &target) {
  f.compute_root();
  if (!target.has_gpu_feature()) {
    return;
  }
  std::vector<Var> vars = f.args();
  gpuTileStage(f, vars);
  for (int i = 0; i < f.num_update_definitions(); ++i) {
    gpuTileStage(f.update(i), vars);
  }
}

void scheduleElementwiseGpu(Stage stage, const std::vector<Var> &vars) {
  gpuTileStage(stage, vars);
}

void scheduleElementwise(Func f, const std::vector<Var> &vars,
                         const std::vector<int> &extents,
                         const Target &target) {
  size_t rank = vars.size();
  if (target.has_gpu_feature()) {
    scheduleElementwiseGpu(f, vars);
    return;
  }
  if (rank == 0) {
    return;
  }
  int vec = target.natural_vector_size<float>();
  int64_t total = 1;
  for (int e : extents) {
    total *= e;
  }
  // Fuse innermost dims until a vector fills. The buffers are dense with
  // constant strides, so the fused index simplifies back to a linear one.
  Var inner = vars[0];
  int64_t innerExtent = extents[0];
  size_t next = 1;
  while (innerExtent < vec && next < rank) {
    Var fused(inner.name() + "_" + vars[next].name());
    f.fuse(inner, vars[next], fused);
    inner = fused;
    innerExtent *= extents[next];
    ++next;
  }
  bool parallel = total >= kParallelGrain;
  if (next < rank) {
    Var outer = vars[next];
    for (size_t i = next + 1; i < rank; ++i) {
      Var fused(outer.name() + "_" + vars[i].name());
      f.fuse(outer, vars[i], fused);
      outer = fused;
    }
    // Tasks of at least kParallelGrain / 4 elements: one row per task would
    // drown short rows (28 floats) in thread-pool overhead.
    int64_t outerExtent = total / innerExtent;
    int rows = static_cast<int>(
        std::max<int64_t>(1, kParallelGrain / 4 / innerExtent));
    if (parallel && rows > 1 && outerExtent > rows) {
      Var task(outer.name() + "_task");
      f.split(outer, task, outer, rows, TailStrategy::GuardWithIf)
          .parallel(task);
    } else if (parallel) {
      f.parallel(outer);
    }
  } else if (parallel) {
    // One dim holds everything: cut it into a few vector-aligned chunks.
    int64_t chunk = (innerExtent + 7) / 8;
    chunk = (chunk + vec - 1) / vec * vec;
    Var task(inner.name() + "_task"), lanes(inner.name() + "_lanes");
    f.split(inner, task, lanes, static_cast<int>(chunk),
            TailStrategy::GuardWithIf)
        .parallel(task);
    inner = lanes;
    innerExtent = chunk;
  }
  // Never ShiftInwards: a kernel may run in place (memory planning), and a
  // shifted tail would recompute elements from inputs already overwritten.
  if (innerExtent % vec == 0) {
    f.vectorize(inner, vec, TailStrategy::RoundUp);
  } else if (int width = guardedWidth(static_cast<int>(innerExtent), vec);
             innerExtent >= vec && width > 1) {
    f.vectorize(inner, width, TailStrategy::GuardWithIf);
  }
}

bool hasBlockedTensor(const KernelSpec &spec) {
  auto blocked = [](const TensorSpec &t) { return t.blocked(); };
  return std::any_of(spec.inputs.begin(), spec.inputs.end(), blocked) ||
         std::any_of(spec.outputs.begin(), spec.outputs.end(), blocked);
}

bool supportsBlocked(const KernelSpec &spec) {
  if (spec.op == "conv2d") {
    return conv2dSupportsBlocked(spec);
  }
  if (spec.op == "fused") {
    return fusedSupportsBlocked(spec);
  }
  if (spec.op == "global_avg_pool") {
    return !spec.outputs[0].blocked();
  }
  return false;
}

void refuseBlockedOnGpu(const KernelSpec &spec, const Target &target) {
  if (target.has_gpu_feature() && hasBlockedTensor(spec)) {
    fail(spec, std::string("the ") + kBlockedLayout +
                   " layout has no GPU schedule yet (CPU kernels only, "
                   "docs/layout.md)");
  }
}

Expr blockedAt(ImageParam in, Expr x, Expr y, Expr c, Expr n) {
  int b = static_cast<int>(kLayoutBlock);
  return in(c % b, x, y, c / b, n);
}

void validateKernelSpec(const KernelSpec &spec) {
  const OpInfo &info = lookupOp(spec.op);
  expectValidShapes(spec);
  info.validate(spec);
  validateSchedule(spec);
  if (hasBlockedTensor(spec) && !supportsBlocked(spec)) {
    fail(spec, std::string("has no kernel for the ") + kBlockedLayout +
                   " layout in this form (docs/layout.md)");
  }
}

namespace {

// Halide 14's SplitPrefetch (src/Prefetch.cpp) tiles a prefetch into one
// call per cache line, `for (prefetch_split_B.i, 0, E) prefetch(B, base +
// v * step, 1, ...)`, but its step is counted in bytes (64, or a
// dimension's stride in bytes) and added to an offset counted in
// elements: for floats every 4th line of the box is prefetched, and the
// calls run 4 boxes past it. This pass divides the step by the element's
// size, so that each line of the box is prefetched once.
class PrefetchStepFix : public Halide::Internal::IRMutator {
  using IRMutator::visit;

  Halide::Internal::Stmt visit(const Halide::Internal::For *op) override {
    using namespace Halide::Internal;
    Stmt s = IRMutator::visit(op);
    const For *loop = s.as<For>();
    const Evaluate *body = loop ? loop->body.as<Evaluate>() : nullptr;
    const Call *call = body ? body->value.as<Call>() : nullptr;
    if (!call || !call->is_intrinsic(Call::prefetch) ||
        loop->name.rfind("prefetch_split_", 0) != 0 ||
        call->type.bytes() == 1) {
      return s;
    }
    std::vector<Expr> args = call->args;
    Expr first = substitute(loop->name, 0, args[1]);
    args[1] = simplify(first + (args[1] - first) / call->type.bytes());
    Stmt fixed = Evaluate::make(
        Call::make(call->type, Call::prefetch, args, Call::Intrinsic));
    return For::make(loop->name, loop->min, loop->extent, loop->for_type,
                     loop->device_api, fixed);
  }
};

} // namespace

void fixPrefetchSteps(Halide::Pipeline &pipeline) {
  pipeline.add_custom_lowering_pass(new PrefetchStepFix);
}

} // namespace detail
} // namespace kiln::codegen
