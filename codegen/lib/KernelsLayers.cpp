// Layer kernels: dense, pools, batch_norm, layer_norm, lrn, resize (conv2d:
// KernelsConv.cpp).
#include "Kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

using namespace Halide;

namespace kiln::codegen::detail {

//===----------------------------------------------------------------------===//
// Window geometry shared by conv2d and the pools
//===----------------------------------------------------------------------===//

int64_t windowOutput(int64_t in, int64_t padBegin, int64_t padEnd,
                     int64_t dilation, int64_t k, int64_t stride) {
  return (in + padBegin + padEnd - dilation * (k - 1) - 1) / stride + 1;
}

Window readWindow(const KernelSpec &s, int64_t kh, int64_t kw,
                  bool hasDilations) {
  std::vector<int64_t> st = attrInts(s, "strides", 2);
  std::vector<int64_t> pads = attrInts(s, "pads", 4);
  std::vector<int64_t> dil =
      hasDilations ? attrInts(s, "dilations", 2) : std::vector<int64_t>{1, 1};
  Window w{kh, kw, st[0], st[1], pads[0], pads[1], pads[2], pads[3],
           dil[0], dil[1]};
  if (w.kh < 1 || w.kw < 1) {
    fail(s, "kernel extents must be positive");
  }
  if (w.sh < 1 || w.sw < 1 || w.dh < 1 || w.dw < 1) {
    fail(s, "strides and dilations must be positive");
  }
  for (int64_t p : pads) {
    if (p < 0) {
      fail(s, "pads must be non-negative");
    }
  }
  return w;
}

// The rows form. Target: x86-64 AVX-512, 2 cores. Memory bound (every
// weight is read from memory once): parallel over blocks of 8 outputs,
// whose 8 x batch partial-sum vectors stay in registers while one x vector
// feeds them all; from batch 3 one row at a time, the block's weights (8
// rows of K) read again from L1 or L2 for each. The classifiers at batch 8
// (2 threads, `kiln bench --profile`): MobileNetV2's 1280 -> 1000 0.317-0.351
// -> 0.158-0.162 ms, ResNet-18's 512 -> 1000 0.204 -> 0.114 (the transposed
// form below transposed the whole weight every call); in tiles of 2-4 rows
// 0.198-0.211.
void scheduleDenseRows(DenseFuncs &f, int outFeatures, int batch) {
  Var oo("oo"), oi("oi"), no("no"), ni("ni");
  f.out.split(f.o, oo, oi, std::min(outFeatures, 8), TailStrategy::ShiftInwards);
  Var at = oo;
  if (batch > 2) {
    f.out.split(f.n, no, ni, 1).reorder(oi, ni, no, oo);
    at = no;
  } else {
    f.out.reorder(oi, f.n, oo);
  }
  f.out.parallel(oo);
  f.acc.compute_at(f.out, at);
  f.part.compute_at(f.out, at).vectorize(f.lane);
  f.part.update()
      .reorder(f.lane, f.o, f.n, f.k)
      .vectorize(f.lane)
      .unroll(f.o)
      .unroll(f.n);
}

// Target: x86-64 AVX-512 (16 lanes), 2 cores. Register tile of 2 vectors of
// output features x 8 batch rows (16 zmm accumulators: 2 loads and 8
// broadcasts per 16 FMAs), K innermost-but-one; the transposed weight slice
// of a column block is built once per parallel task and stays in L2.
// [64,784]x[128,784]: see docs/codegen.md for numbers. With 4 rows (8
// accumulators, 6 loads per 8 FMAs), alternating `kiln bench`: the MLP's
// training step at batch 64 0.332-0.335 -> 0.317-0.319 ms, the LeNet-style
// CNN's 3136 -> 128 dense and its two gradient products 0.213 + 0.183 +
// 0.146 -> 0.196-0.202 + 0.168 + 0.136-0.137 ms.
// GPU: blocks of 64 features x 32 rows, 16 x 8 threads, each summing a
// register tile of 4 features x 4 rows over K (16 sums: 8 loads per 16
// FMAs, where one output per thread made 2 per FMA; consecutive threads
// take consecutive groups of 4 features). K runs in chunks of 16: the
// block's operands of a chunk (16 x 32 of the left, 64 x 16 of the right)
// are staged in shared memory by all 128 threads, consecutive threads
// loading consecutive floats of each, then every thread's 16 x 8 loads of
// the chunk come from there (the block reads each operand value from
// memory once, where the threads read it 16 or 8 times). The block's sums
// stay in registers across the chunks. Edge tiles sum past the output
// (the staged reads clamped to its last row and feature, zero past K:
// defineGpuProduct) and store only inside it. A batch of products
// (attention's matmuls): the same, the batch in the block index. K within
// three chunks: the same register tiles, not staged, K not rounded up. The
// block's sums stay in registers only through LLVM's promotion in the loop
// over chunks; with 1-3 chunks the PTX kept them in local memory (8 KiB a
// thread: every product with K 17-32 such as 64 x 17 x 64, and 70 x 33 x
// 75), while 4 or more chunks were clean in every shape tried once the
// partial blocks shift inwards (scheduleDenseGpu).
// At most 8 rows (a classifier at batch 1-8, its input gradient): memory
// bound, each weight read once. Register tiles of 4 rows wasted most of
// their work and left the sums in local memory (64 bytes a thread for
// dense 784 -> 256 at batch 1; 8 KiB for matmul 1 x 1568 x 128, staged).
// So one thread per output feature keeps the rows' sums in registers: a
// warp per feature with its 32 lanes along K where K is the weight's unit
// stride (dense: each warp's loads one 128-byte line; the lanes' sums
// added from shared memory), else consecutive threads on consecutive
// features (coalesced along the weight's rows), K serial.
constexpr int kGpuTileFeatures = 4, kGpuTileRows = 4, kGpuChunk = 16;
constexpr int kGpuMaxUnstagedChunks = 3;
constexpr int kGpuFewRows = 8, kGpuLanes = 32, kGpuLaneFeatures = 8,
              kGpuFeatureThreads = 64;
constexpr int kGpuThreadsX = 16, kGpuThreadsY = 8;
constexpr int kGpuBlockFeatures = kGpuThreadsX * kGpuTileFeatures;
constexpr int kGpuBlockRows = kGpuThreadsY * kGpuTileRows;

Expr defineGpuProduct(DenseFuncs &f, const std::vector<int64_t> &shape,
                      int k, const DenseOperand &lhsAt,
                      const DenseOperand &weightAt) {
  Var kv("kv");
  std::vector<Expr> b(f.batch.begin(), f.batch.end());
  std::vector<Var> lhsArgs = {kv, f.n}, weightArgs = {f.o, kv};
  lhsArgs.insert(lhsArgs.end(), f.batch.begin(), f.batch.end());
  weightArgs.insert(weightArgs.end(), f.batch.begin(), f.batch.end());
  Expr inK = kv < k, kc = min(kv, k - 1);
  Expr n = min(f.n, static_cast<int>(shape[0]) - 1);
  Expr o = min(f.o, static_cast<int>(shape[1]) - 1);
  f.lhs(lhsArgs) = select(inK, lhsAt(kc, n, b), 0.0f);
  f.weightT(weightArgs) = select(inK, weightAt(o, kc, b), 0.0f);
  // A batch is in the block index (no serial loop over it around the
  // chunks, which left the sums in local memory), so it stages too.
  using Form = DenseFuncs::GpuForm;
  int round = 1;
  if (shape[0] <= kGpuFewRows) {
    bool lanes = f.weightKFast && k >= kGpuLanes;
    f.gpuForm = lanes ? Form::KLanes : Form::FeatureThreads;
    round = lanes ? kGpuLanes : 1;
  } else {
    bool staged = k > kGpuMaxUnstagedChunks * kGpuChunk;
    f.gpuForm = staged ? Form::StagedTiles : Form::Tiles;
    round = staged ? kGpuChunk : 1;
  }
  f.k = RDom(0, (k + round - 1) / round * round, "k");
  std::vector<Expr> lhsAt2 = {f.k, f.n}, weightAt2 = {f.o, f.k};
  lhsAt2.insert(lhsAt2.end(), b.begin(), b.end());
  weightAt2.insert(weightAt2.end(), b.begin(), b.end());
  return f.lhs(lhsAt2) * f.weightT(weightAt2);
}

namespace {

// A staged operand's loops over its region in the block's threads:
// kGpuThreadsX along `fast`, its unit stride in memory (each load
// instruction of a warp reads runs of consecutive floats), by kGpuThreadsY
// along `slow`; each thread's several values unrolled inside (one barrier
// after the stage, where unrolled thread loops would need one each).
void stageInBlock(Func f, Var fast, Var slow) {
  Var fo(fast.name() + "_o"), fi(fast.name() + "_i");
  Var so(slow.name() + "_o"), si(slow.name() + "_i");
  f.split(fast, fo, fi, kGpuThreadsX)
      .split(slow, so, si, kGpuThreadsY)
      .reorder(fo, so, fi, si)
      .gpu_threads(fi, si)
      .unroll(fo)
      .unroll(so);
}

} // namespace

// At most 8 rows (kGpuFewRows): blocks of output features, one thread per
// feature, its rows unrolled in registers; KLanes: 8 features a block, a
// warp's lanes along K per feature, the lanes' sums of each feature's rows
// in shared memory, then one thread per feature adds them.
void scheduleFewRowsGpu(DenseFuncs &f) {
  bool lanes = f.gpuForm == DenseFuncs::GpuForm::KLanes;
  Var ob("ob"), oi("oi");
  f.out.split(f.o, ob, oi, lanes ? kGpuLaneFeatures : kGpuFeatureThreads,
              TailStrategy::GuardWithIf)
      .reorder(f.n, oi, ob);
  for (const Var &v : f.batch) {
    f.out.fuse(ob, v, ob);
  }
  f.out.gpu_blocks(ob).gpu_threads(oi).unroll(f.n);
  f.acc.compute_at(f.out, oi).store_in(MemoryType::Register).unroll(f.n);
  if (!lanes) {
    f.acc.update().reorder(f.n, f.k).unroll(f.n);
    return;
  }
  RVar ko("ko"), ki("ki");
  Var lane("lane");
  Func part = f.acc.update().split(f.k, ko, ki, kGpuLanes).rfactor(ki, lane);
  f.acc.update().unroll(f.n);
  // The lanes' sums: each thread's rows in registers over K, then stored
  // to the block's shared memory, for the block's batch (one: inside the
  // threads, as n) and its whole block of features (clamped reads past the
  // output: defineGpuProduct), so that the allocation's size is constant.
  Func shared = part.in(f.acc);
  std::vector<VarOrRVar> order = {f.n};
  order.insert(order.end(), f.batch.begin(), f.batch.end());
  order.insert(order.end(), {lane, f.o});
  shared.compute_at(f.out, ob)
      .store_in(MemoryType::GPUShared)
      .reorder(order)
      .bound_extent(f.o, kGpuLaneFeatures)
      .gpu_threads(lane, f.o)
      .unroll(f.n);
  for (const Var &v : f.batch) {
    shared.bound_extent(v, 1).unroll(v);
  }
  part.compute_at(shared, lane).store_in(MemoryType::Register).unroll(f.n);
  part.update().reorder(f.n, ko).unroll(f.n);
}

void scheduleDenseGpu(DenseFuncs &f, const std::vector<int64_t> &shape) {
  using Form = DenseFuncs::GpuForm;
  if (f.gpuForm == Form::FeatureThreads || f.gpuForm == Form::KLanes) {
    scheduleFewRowsGpu(f);
    return;
  }
  // Staged: the last block along each dim a whole block fits in shifted
  // inwards (recomputing some outputs). Guarded partial blocks made Halide
  // partition the block loop into interior and edge copies of the kernel,
  // and in some of those LLVM left the block's sums in local memory (8 KiB
  // a thread for 70 x 49 x 75, 200 x 65 x 75, 20 x 100 x 75).
  auto tail = [&](int64_t extent, int block) {
    return f.gpuForm == Form::StagedTiles && extent >= block
               ? TailStrategy::ShiftInwards
               : TailStrategy::GuardWithIf;
  };
  Var oi("oi"), ni("ni");
  Var ot("ot"), nt("nt"), block("block");
  f.out
      .split(f.o, f.o, ot, kGpuBlockFeatures,
             tail(shape.back(), kGpuBlockFeatures))
      .split(f.n, f.n, nt, kGpuBlockRows,
             tail(shape[shape.size() - 2], kGpuBlockRows))
      .reorder(ot, nt, f.o, f.n)
      .tile(ot, nt, oi, ni, kGpuTileFeatures, kGpuTileRows,
            TailStrategy::GuardWithIf)
      .reorder(oi, ni, ot, nt, f.o, f.n)
      .fuse(f.o, f.n, block);
  for (const Var &v : f.batch) {
    f.out.fuse(block, v, block);
  }
  f.out.gpu_blocks(block).gpu_threads(ot, nt).unroll(oi).unroll(ni);
  if (f.gpuForm == Form::Tiles) {
    // K within three chunks: each thread's tile summed in its registers
    // over the whole of K, the operands read from memory. Staged, with no
    // loop over chunks or a short one, the block's sums were left in local
    // memory in the PTX (8 KiB a thread: a classifier's input gradient,
    // matmul 64 x 10 x 128; 64 x 17 x 64).
    f.acc.compute_at(f.out, ot)
        .bound_extent(f.o, kGpuTileFeatures)
        .bound_extent(f.n, kGpuTileRows)
        .unroll(f.o)
        .unroll(f.n);
    f.acc.update().reorder(f.o, f.n, f.k).unroll(f.o).unroll(f.n);
    return;
  }
  // The block's sums in registers: each thread keeps its own tile. Halide
  // 14 declares the block's whole tile in every thread; LLVM keeps the 16
  // sums a thread touches in registers (no local memory in the PTX of
  // dense and of every transposition of matmul).
  f.acc.compute_at(f.out, block)
      .store_in(MemoryType::Register)
      .bound_extent(f.o, kGpuBlockFeatures)
      .bound_extent(f.n, kGpuBlockRows);
  RVar ko("ko"), ki("ki");
  f.acc.update().split(f.k, ko, ki, kGpuChunk);
  for (Stage stage : {Stage(f.acc), f.acc.update()}) {
    stage.split(f.o, ot, oi, kGpuTileFeatures)
        .split(f.n, nt, ni, kGpuTileRows)
        .gpu_threads(ot, nt)
        .unroll(oi)
        .unroll(ni);
  }
  f.acc.reorder(oi, ni, ot, nt);
  f.acc.update().reorder(oi, ni, ki, ot, nt, ko);
  Var kv = f.lhs.args()[0];
  f.lhs.compute_at(f.acc, ko).store_in(MemoryType::GPUShared);
  stageInBlock(f.lhs, f.lhsKFast ? kv : f.n, f.lhsKFast ? f.n : kv);
  f.weightT.compute_at(f.acc, ko).store_in(MemoryType::GPUShared);
  stageInBlock(f.weightT, f.weightKFast ? kv : f.o,
               f.weightKFast ? f.o : kv);
}

// Column blocks of 4 vectors that a product needs for scheduleDense's
// wide register tiles.
constexpr int kWideTileBlocks = 8;

void scheduleDense(DenseFuncs &f, const std::vector<int64_t> &shape,
                   const Target &target) {
  if (target.has_gpu_feature()) {
    scheduleDenseGpu(f, shape);
    return;
  }
  int outFeatures = static_cast<int>(shape[1]);
  if (f.rows) {
    scheduleDenseRows(f, outFeatures, static_cast<int>(shape[0]));
    return;
  }
  int vec = target.natural_vector_size<float>();
  int batch = static_cast<int>(shape[0]);
  int ov = vectorWidthFor(outFeatures, vec);
  // Wide products on 16-lane targets whose weight has the output feature
  // as its unit stride (matmul without transpose_b): register tiles of 4
  // vectors x 6 rows (24 zmm; 4 loads and 6 broadcasts per 24 FMAs), where
  // there are 8 or more such column blocks to share out. ViT-B/16's
  // products at batch 1 (197 rows), `kiln bench --profile` alone,
  // alternating, Zen 4: 768 -> 3072 4.49-4.65 -> 4.32-4.46 ms, 3072 -> 768
  // 4.49-4.54 -> 4.32-4.42, 768 -> 2304 3.26-3.37 -> 3.16-3.31. Where
  // weightT transposes the weight (dense, transpose_b) the copy reads 64
  // rows at once instead of 32, and 768 -> 768 lost: 1.07-1.11 -> 1.20-1.26.
  // Rows that tiles of 6 round up by more than 1% over tiles of 8 lose that
  // work: LeNet's gradient products at batch 64 (64 and 128 rows, 3136
  // features) 0.33 -> 0.34 and 0.29-0.30 -> 0.31-0.32 ms.
  auto roundedUp = [&](int tile) { return (batch + tile - 1) / tile * tile; };
  bool wide = vec == 16 && !f.weightKFast &&
              outFeatures >= kWideTileBlocks * 4 * vec && batch >= 6 &&
              100 * (roundedUp(6) - roundedUp(8)) <= batch;
  int oTile = wide ? 4 * vec : outFeatures >= 2 * vec ? 2 * vec : ov;
  int nTile = std::min(batch, wide ? 6 : 8);
  Var oo("oo"), oi("oi"), no("no"), ni("ni");
  f.out.tile(f.o, f.n, oo, no, oi, ni, oTile, nTile, TailStrategy::ShiftInwards)
      .reorder(oi, ni, no, oo);
  if (ov > 1) {
    f.out.vectorize(oi, ov);
  }
  f.out.parallel(oo);
  f.weightT.compute_at(f.out, oo);
  if (ov > 1) {
    f.weightT.vectorize(f.o, ov, TailStrategy::GuardWithIf);
  }
  f.acc.compute_at(f.out, no);
  Var ot("ot"), ol("ol");
  if (ov > 1) {
    f.acc.vectorize(f.o, ov);
  }
  f.acc.update()
      .split(f.o, ot, ol, std::max(ov, 1))
      .reorder(ol, ot, f.n, f.k)
      .unroll(ot)
      .unroll(f.n);
  if (ov > 1) {
    f.acc.update().vectorize(ol);
  }
}

bool hasPadding(const Window &w) {
  return w.padTop || w.padLeft || w.padBottom || w.padRight;
}

std::vector<ImageParam> layerInputs(const KernelSpec &s,
                                    std::vector<const char *> names) {
  std::vector<ImageParam> in;
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    in.push_back(makeInput(s.inputs[i], names[i]));
  }
  return in;
}

void expectWindowOutput(const KernelSpec &s, const Window &w, int64_t n,
                        int64_t c) {
  const auto &x = s.inputs[0].shape;
  int64_t oh = windowOutput(x[2], w.padTop, w.padBottom, w.dh, w.kh, w.sh);
  int64_t ow = windowOutput(x[3], w.padLeft, w.padRight, w.dw, w.kw, w.sw);
  if (oh < 1 || ow < 1) {
    fail(s, "window larger than the padded input");
  }
  expectShape(s, s.outputs[0], "output", {n, c, oh, ow});
}

// The input as a Func over all integers: `exterior` outside the image.
Func paddedInput(ImageParam x, const Window &w, Expr exterior) {
  Func padded("padded");
  Var px("px"), py("py"), pc("pc"), pn("pn");
  if (hasPadding(w)) {
    padded(px, py, pc, pn) =
        BoundaryConditions::constant_exterior(x, exterior)(px, py, pc, pn);
  } else {
    padded(px, py, pc, pn) = x(px, py, pc, pn);
  }
  return padded;
}

namespace {

Expr f32(double v) { return cast<float>(Expr(v)); }

//===----------------------------------------------------------------------===//
// dense: out[n,o] = sum_k x[n,k] * weight[o,k] + bias[o]
//===----------------------------------------------------------------------===//

void validateDense(const KernelSpec &s) {
  expectCounts(s, 2, 3, 1);
  expectF32Except(s);
  expectRank(s, s.inputs[0], "x", 2);
  expectRank(s, s.inputs[1], "weight", 2);
  int64_t n = s.inputs[0].shape[0], k = s.inputs[0].shape[1];
  int64_t o = s.inputs[1].shape[0];
  expectShape(s, s.inputs[1], "weight", {o, k});
  if (s.inputs.size() == 3) {
    expectShape(s, s.inputs[2], "bias", {o});
  }
  expectShape(s, s.outputs[0], "output", {n, o});
}

DenseFuncs defineDense(const KernelSpec &s, const std::vector<ImageParam> &in,
                       const Epilogue &epilogue, const Target &target) {
  DenseFuncs f;
  ImageParam x = in[0];
  ImageParam w = in[1];
  f.inputs = {x, w};
  int k = static_cast<int>(s.inputs[0].shape[1]);
  int vec = target.natural_vector_size<float>();
  Expr bias = 0.0f;
  if (in.size() == 3) {
    f.inputs.push_back(in[2]);
    bias = in[2](f.o);
  }
  constexpr int64_t kDenseRowsBatch = 8;
  // At batch 1-8 the weights are read from memory once: each output is a
  // dot product along a weight row (contiguous), with no per-call
  // transposition.
  // GPU: defineGpuProduct's few-rows forms instead.
  f.rows = !target.has_gpu_feature() &&
           s.inputs[0].shape[0] <= kDenseRowsBatch && k % vec == 0;
  if (f.rows) {
    f.k = RDom(0, k / vec, "k");
    f.lanes = RDom(0, vec, "lanes");
    Expr at = f.k * vec + f.lane;
    f.part(f.lane, f.o, f.n) = 0.0f;
    f.part(f.lane, f.o, f.n) += x(at, f.n) * w(at, f.o);
    f.acc(f.o, f.n) = bias;
    f.acc(f.o, f.n) += f.part(f.lanes, f.o, f.n);
  } else {
    if (target.has_gpu_feature()) {
      // Whole register tiles, staged in shared memory (scheduleDenseGpu).
      const auto &shape = s.outputs[0].shape;
      if (in.size() == 3) {
        bias = in[2](min(f.o, static_cast<int>(shape[1]) - 1));
      }
      f.acc(f.o, f.n) = bias;
      f.acc(f.o, f.n) += defineGpuProduct(
          f, shape, k,
          [&](Expr kv, Expr n, const std::vector<Expr> &) { return x(kv, n); },
          [&](Expr o, Expr kv, const std::vector<Expr> &) {
            return w(kv, o);
          });
    } else {
      f.k = RDom(0, k, "k");
      // weight [O,K] transposed so that the output feature is the unit
      // stride.
      Var kv("kv");
      f.weightT(f.o, kv) = w(kv, f.o);
      f.acc(f.o, f.n) = bias;
      f.acc(f.o, f.n) += x(f.k, f.n) * f.weightT(f.o, f.k);
    }
  }
  f.out(f.o, f.n) = epilogue ? epilogue(f.acc(f.o, f.n), {f.o, f.n})
                             : Expr(f.acc(f.o, f.n));
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

Kernel buildDense(const KernelSpec &s, const Target &target) {
  DenseFuncs f = defineDense(s, layerInputs(s, {"x", "weight", "bias"}),
                             Epilogue(), target);
  scheduleDense(f, s.outputs[0].shape, target);
  return {std::vector<Argument>(f.inputs.begin(), f.inputs.end()), f.out};
}

//===----------------------------------------------------------------------===//
// max_pool2d, avg_pool2d
//===----------------------------------------------------------------------===//

void validatePool(const KernelSpec &s, bool isMax) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  expectRank(s, s.inputs[0], "x", 4);
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
  const auto &x = s.inputs[0].shape;
  expectWindowOutput(s, w, x[0], x[1]);
}

// max_pool2d_indices: x -> i32 [N, C, OH, OW] (ONNX MaxPool's Indices).
void validatePoolIndices(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s, {}, /*i32Outputs=*/true);
  expectRank(s, s.inputs[0], "x", 4);
  std::vector<int64_t> k = attrInts(s, "kernel", 2);
  Window w = readWindow(s, k[0], k[1], true);
  const auto &x = s.inputs[0].shape;
  expectWindowOutput(s, w, x[0], x[1]);
  if (s.inputs[0].numElements() > std::numeric_limits<int32_t>::max()) {
    fail(s, "the input has more elements than an i32 index reaches");
  }
  int64_t order = attrInt(s, "storage_order");
  if (order != 0 && order != 1) {
    fail(s, "storage_order must be 0 (row major) or 1 (column major)");
  }
}

// Each window's first maximum in row-major window order (Halide's argmax
// keeps the first of equal values; a padded position reads -inf), as its
// flattened position in x, rows or (storage_order 1) columns innermost.
// Target: any; elementwise over the output.
Kernel buildPoolIndices(const KernelSpec &s, const Target &target) {
  validatePoolIndices(s);
  std::vector<int64_t> k = attrInts(s, "kernel", 2);
  Window w = readWindow(s, k[0], k[1], true);
  ImageParam in = makeInput(s.inputs[0], "x");
  const auto &xs = s.inputs[0].shape;
  int channels = static_cast<int>(xs[1]), height = static_cast<int>(xs[2]),
      width = static_cast<int>(xs[3]);
  Var x("x"), y("y"), c("c"), n("n");
  RDom r(0, static_cast<int>(w.kw), 0, static_cast<int>(w.kh), "r");
  auto at = [&](Expr out, Expr tap, int64_t stride, int64_t pad,
                int64_t dilation) {
    return out * static_cast<int>(stride) - static_cast<int>(pad) +
           tap * static_cast<int>(dilation);
  };
  Expr ix = at(x, r.x, w.sw, w.padLeft, w.dw);
  Expr iy = at(y, r.y, w.sh, w.padTop, w.dh);
  Expr inside = ix >= 0 && ix < width && iy >= 0 && iy < height;
  Expr value = select(inside,
                      in(clamp(ix, 0, width - 1), clamp(iy, 0, height - 1),
                         c, n),
                      -std::numeric_limits<float>::infinity());
  Tuple best = argmax(r, value, "best");
  Expr bx = at(x, best[0], w.sw, w.padLeft, w.dw);
  Expr by = at(y, best[1], w.sh, w.padTop, w.dh);
  Func out("indices");
  Expr plane = n * channels + c;
  out(x, y, c, n) = attrInt(s, "storage_order") == 0
                        ? (plane * height + by) * width + bx
                        : (plane * width + bx) * height + by;
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, {x, y, c, n}, halideShape(s.outputs[0]), target);
  return {{in}, out};
}

struct PoolFuncs {
  ImageParam in;
  Var x{"x"}, y{"y"}, c{"c"}, n{"n"};
  RDom r;
  // Overlapping windows (a stride below the kernel) are separable on the
  // CPU: col reduces each input column over the window's rows, then window
  // reduces col along the row. Others, and every window on a GPU, reduce
  // the input directly.
  bool separable = false;
  Func padded, col{"col"}, window{"window"}, out{"out"};
};

// Number of taps k in [0,K) with lo <= start + k < hi.
Expr tapsInside(Expr start, int k, int lo, int hi) {
  return max(min(k, hi - start) - max(0, lo - start), 0);
}

PoolFuncs definePool(const KernelSpec &s, bool isMax, bool gpu) {
  PoolFuncs f;
  std::vector<int64_t> k = attrInts(s, "kernel", 2);
  Window w = readWindow(s, k[0], k[1], isMax);
  f.in = makeInput(s.inputs[0], "x");
  Expr lowest = Float(32).min();
  f.padded = paddedInput(f.in, w, isMax ? lowest : Expr(0.0f));
  Expr sx = f.x * static_cast<int>(w.sw) - static_cast<int>(w.padLeft);
  Expr sy = f.y * static_cast<int>(w.sh) - static_cast<int>(w.padTop);
  int dw = static_cast<int>(w.dw), dh = static_cast<int>(w.dh);
  // f(x, y, c, n) = the max or sum of `tap` over its reduction.
  auto reduce = [&](Func g, Expr tap) {
    std::vector<Var> v = {f.x, f.y, f.c, f.n};
    g(v) = isMax ? lowest : Expr(0.0f);
    g(v) = isMax ? max(g(v), tap) : g(v) + tap;
  };
  f.separable = !gpu && (w.kh > w.sh || w.kw > w.sw);
  if (f.separable) {
    RDom ry(0, static_cast<int>(w.kh), "ry");
    f.r = RDom(0, static_cast<int>(w.kw), "rx");
    reduce(f.col, f.padded(f.x, sy + ry * dh, f.c, f.n));
    reduce(f.window, f.col(sx + f.r.x * dw, f.y, f.c, f.n));
    f.col.update().reorder(f.x, ry);
  } else {
    f.r = RDom(0, static_cast<int>(w.kw), 0, static_cast<int>(w.kh), "r");
    reduce(f.window, f.padded(sx + f.r.x * dw, sy + f.r.y * dh, f.c, f.n));
  }
  if (isMax) {
    f.out(f.x, f.y, f.c, f.n) = f.window(f.x, f.y, f.c, f.n);
  } else {
    // The divisor counts the taps inside the input, or inside the input
    // grown by divisor_pads when count_include_pad (docs/ops.md).
    int inH = static_cast<int>(s.inputs[0].shape[2]);
    int inW = static_cast<int>(s.inputs[0].shape[3]);
    std::vector<int64_t> dp = attrInts(s, "divisor_pads", 4);
    bool includePad = attrBool(s, "count_include_pad");
    int loY = includePad ? -static_cast<int>(dp[0]) : 0;
    int loX = includePad ? -static_cast<int>(dp[1]) : 0;
    int hiY = inH + (includePad ? static_cast<int>(dp[2]) : 0);
    int hiX = inW + (includePad ? static_cast<int>(dp[3]) : 0);
    Expr count = tapsInside(sy, static_cast<int>(w.kh), loY, hiY) *
                 tapsInside(sx, static_cast<int>(w.kw), loX, hiX);
    f.out(f.x, f.y, f.c, f.n) =
        f.window(f.x, f.y, f.c, f.n) / cast<float>(max(count, 1));
  }
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// Target: x86-64 AVX-512, 2 cores. Vectorized along output x, parallel
// over runs of (c, n) planes of at least kParallelGrain / 4 outputs (one
// task per 7x7 plane drowned the work in task overhead: the example CNN's
// second pool at batch 64, 2048 planes, 0.50 -> 0.05 ms). Pools are memory
// bound. Overlapping windows are separable: per output row, the window's
// input rows are reduced column by column (dense vector loads), then the
// row of column values along x (KW strided loads per output vector instead
// of KH x KW): ResNet-18's 3x3 stride-2 stem pool alone, 1.95 -> 0.77 ms at
// batch 8, 0.24 -> 0.14 at batch 1. Windows that do not overlap (2x2
// stride 2) read each input once either way: a row pass per output row
// measured 1.6-3x slower on the LeNet-style CNN's 28x28 and 14x14 planes.
void schedulePool(PoolFuncs &f, const KernelSpec &s, const Target &target) {
  if (target.has_gpu_feature()) {
    // One output per thread (x innermost: coalesced), the window in a
    // register. Not separable: a thread's window reads each tap once
    // either way, and the separable form's column of partial results
    // (indexed by the clamped loops at the borders) went to local memory
    // (12 bytes a thread in ResNet-18's stem pool, session 44).
    Var xi("xi"), yi("yi");
    const auto &os = s.outputs[0].shape;
    gpuPlaneTiles(f.out, f.x, f.y, xi, yi,
                  static_cast<int>(std::min<int64_t>(16, os[3])),
                  static_cast<int>(std::min<int64_t>(16, os[2])), {f.c, f.n});
    f.window.compute_at(f.out, xi);
    return;
  }
  int vec = target.natural_vector_size<float>();
  const auto &os = s.outputs[0].shape;
  int outW = static_cast<int>(os[3]);
  int vw = vectorWidthFor(outW, vec);
  Var xo("xo"), xi("xi"), plane("plane");
  f.out.split(f.x, xo, xi, vw, TailStrategy::ShiftInwards)
      .fuse(f.c, f.n, plane);
  if (s.outputs[0].numElements() >= kParallelGrain) {
    parallelPlanes(f.out, plane, os[2] * os[3]);
  }
  if (vw > 1) {
    f.out.vectorize(xi);
  }
  f.window.compute_at(f.out, xo);
  if (vw > 1) {
    f.window.vectorize(f.x, vw);
    std::vector<VarOrRVar> order = {f.x};
    for (int i = 0; i < f.r.dimensions(); ++i) {
      order.push_back(f.r[i]);
    }
    f.window.update().reorder(order).vectorize(f.x, vw);
  }
  if (f.separable) {
    const auto &xs = s.inputs[0].shape;
    int cw = vectorWidthFor(static_cast<int>(xs[3]), vec);
    f.col.compute_at(f.out, f.y);
    if (cw > 1) {
      f.col.vectorize(f.x, cw, TailStrategy::GuardWithIf);
      f.col.update().vectorize(f.x, cw, TailStrategy::GuardWithIf);
    }
  }
  // The window reads the input directly, the padding inline: Halide splits
  // the loops so that the interior has no selects. A padded copy per plane
  // measured 1.03-1.05x slower (ResNet's stem pool at batch 16).
}

Kernel buildPool(const KernelSpec &s, const Target &target, bool isMax) {
  PoolFuncs f = definePool(s, isMax, target.has_gpu_feature());
  schedulePool(f, s, target);
  return {{f.in}, f.out};
}

//===----------------------------------------------------------------------===//
// global_avg_pool
//===----------------------------------------------------------------------===//

void validateGlobalAvgPool(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  expectRank(s, s.inputs[0], "x", 4);
  const auto &x = s.inputs[0].shape;
  expectShape(s, s.outputs[0], "output", {x[0], x[1], 1, 1});
}

Kernel buildGlobalAvgPool(const KernelSpec &s, const Target &target) {
  ImageParam in = makeInput(s.inputs[0], "x");
  int h = static_cast<int>(s.inputs[0].shape[2]);
  int w = static_cast<int>(s.inputs[0].shape[3]);
  Var x("x"), y("y"), c("c"), n("n"), plane("plane");
  RDom r(0, w, 0, h, "r");
  Func sum("sum"), out("out");
  sum(c, n) = 0.0f;
  refuseBlockedOnGpu(s, target);
  if (s.inputs[0].blocked()) {
    // nchw16c: 16 channels' sums in one vector, one plane pass per block.
    sum(c, n) += blockedAt(in, r.x, r.y, c, n);
    out(x, y, c, n) = sum(c, n) / f32(double(h) * w);
    constrainOutput(out, s.outputs[0]);
    Var co("co"), ci("ci");
    int b = static_cast<int>(kLayoutBlock);
    out.split(c, co, ci, b).reorder(ci, x, y, co, n).fuse(co, n, plane);
    if (s.inputs[0].numElements() >= kParallelGrain) {
      out.parallel(plane);
    }
    out.vectorize(ci);
    sum.compute_at(out, plane).vectorize(c, b);
    sum.update().reorder(c, r.x, r.y, n).vectorize(c, b);
    return {{in}, out};
  }
  sum(c, n) += in(r.x, r.y, c, n);
  out(x, y, c, n) = sum(c, n) / f32(double(h) * w);
  constrainOutput(out, s.outputs[0]);
  if (target.has_gpu_feature()) {
    // One thread per plane, its sum in a register.
    Var block("block"), thread("thread");
    out.fuse(c, n, plane).gpu_tile(plane, block, thread, 64,
                                   TailStrategy::GuardWithIf);
    sum.compute_at(out, thread);
    return {{in}, out};
  }
  // Target: x86-64, 2 cores. One scalar sum per plane, planes in parallel;
  // memory bound for the usual 7x7 planes.
  out.fuse(c, n, plane);
  if (s.inputs[0].numElements() >= kParallelGrain) {
    parallelPlanes(out, plane, int64_t(h) * w);
  }
  sum.compute_at(out, plane);
  return {{in}, out};
}

//===----------------------------------------------------------------------===//
// batch_norm (output only; the running statistics are not updated here)
//===----------------------------------------------------------------------===//

void validateBatchNorm(const KernelSpec &s) {
  expectCounts(s, 5, 5, 1);
  expectF32Except(s);
  expectMinRank(s, s.inputs[0], "x", 2);
  int64_t c = s.inputs[0].shape[1];
  const char *names[] = {"weight", "bias", "running_mean", "running_var"};
  for (int i = 0; i < 4; ++i) {
    expectShape(s, s.inputs[i + 1], names[i], {c});
  }
  expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
  attrFloat(s, "epsilon");
  attrFloat(s, "momentum");
  attrBool(s, "training");
}

struct BatchNormFuncs {
  std::vector<ImageParam> inputs;
  std::vector<Var> v;
  // Training: per-channel sums, built from partial sums along the innermost
  // dim (partialX(w, c)) so that the long reductions vectorize over w.
  RDom rest;  // every dim but the innermost and C
  RDom inner; // the innermost dim (rank >= 3 only)
  Func partialX{"partial_x"}, partialSq{"partial_sq"}, sumX{"sum_x"},
      sumSq{"sum_sq"}, scale{"scale"}, shift{"shift"}, out{"out"};
  bool training = false;
};

BatchNormFuncs defineBatchNorm(const KernelSpec &s) {
  BatchNormFuncs f;
  const TensorSpec &xs = s.inputs[0];
  size_t rank = xs.shape.size();
  ImageParam x = makeInput(xs, "x");
  ImageParam weight = makeInput(s.inputs[1], "weight");
  ImageParam bias = makeInput(s.inputs[2], "bias");
  ImageParam runMean = makeInput(s.inputs[3], "running_mean");
  ImageParam runVar = makeInput(s.inputs[4], "running_var");
  f.inputs = {x, weight, bias, runMean, runVar};
  f.v = makeVars(rank);
  Var c = f.v[rank - 2];
  Expr eps = f32(attrFloat(s, "epsilon"));
  f.training = attrBool(s, "training");
  Expr mean, var;
  if (f.training) {
    // Batch statistics over every dim but C; two passes, biased variance.
    std::vector<int> extents = halideShape(xs);
    float count = static_cast<float>(xs.numElements() / xs.shape[1]);
    if (rank == 2) { // [N,C]: reduce over N, vectorized over C
      f.rest = RDom(0, extents[1], "rn");
      f.sumX(c) = 0.0f;
      f.sumX(c) += x(c, f.rest);
      mean = f.sumX(c) / count;
      f.sumSq(c) = 0.0f;
      f.sumSq(c) += pow(x(c, f.rest) - mean, 2);
    } else {
      Var w = f.v[0];
      Region ranges;
      for (size_t i = 1; i < rank; ++i) {
        if (i != rank - 2) {
          ranges.push_back({0, extents[i]});
        }
      }
      f.rest = RDom(ranges, "r");
      std::vector<Expr> at = {w};
      for (size_t i = 1, j = 0; i < rank; ++i) {
        at.push_back(i == rank - 2 ? Expr(c) : Expr(f.rest[j++]));
      }
      f.inner = RDom(0, extents[0], "rw");
      f.partialX(w, c) = 0.0f;
      f.partialX(w, c) += x(at);
      f.sumX(c) = 0.0f;
      f.sumX(c) += f.partialX(f.inner, c);
      mean = f.sumX(c) / count;
      f.partialSq(w, c) = 0.0f;
      f.partialSq(w, c) += pow(x(at) - mean, 2);
      f.sumSq(c) = 0.0f;
      f.sumSq(c) += f.partialSq(f.inner, c);
    }
    var = f.sumSq(c) / count;
  } else {
    mean = runMean(c);
    var = runVar(c);
  }
  defineBatchNormAffine(f.scale, f.shift, c, weight(c), bias(c), mean, var,
                        eps);
  f.out(f.v) = x(f.v) * f.scale(c) + f.shift(c);
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// Target: x86-64 AVX-512, 2 cores. Per-channel scale/shift are tiny root
// stages, the output is one fused multiply-add per element (memory bound).
// Training statistics: one channel per task, partial sums vectorized along
// the innermost dim (scalar sums ran at ~1/4 element per cycle, bound by the
// add latency).
void scheduleBatchNorm(BatchNormFuncs &f, const KernelSpec &s,
                       const Target &target) {
  int vec = target.natural_vector_size<float>();
  size_t rank = f.v.size();
  Var c = f.v[rank - 2];
  if (target.has_gpu_feature()) {
    // Statistics one thread per channel, then one thread per output.
    if (f.training) {
      rootStages(f.sumX, target);
      rootStages(f.sumSq, target);
    }
    rootStages(f.scale, target);
    rootStages(f.shift, target);
    scheduleElementwiseGpu(f.out, f.v);
    return;
  }
  f.scale.compute_root();
  f.shift.compute_root();
  if (f.training) {
    bool parallel = s.inputs[0].numElements() >= kParallelGrain;
    for (Func stats : {f.sumX, f.sumSq}) {
      stats.compute_root();
      if (int width = guardedWidth(static_cast<int>(s.inputs[0].shape[1]), vec);
          rank == 2 && width > 1) {
        stats.vectorize(c, width, TailStrategy::GuardWithIf);
        stats.update().reorder(c, f.rest).vectorize(c, width,
                                                    TailStrategy::GuardWithIf);
      } else if (rank > 2 && parallel) {
        stats.update().parallel(c);
      }
    }
    if (rank > 2) {
      Var w = f.v[0];
      std::vector<VarOrRVar> order = {w};
      for (int i = 0; i < f.rest.dimensions(); ++i) {
        order.push_back(f.rest[i]);
      }
      int width = vectorWidthFor(static_cast<int>(s.inputs[0].shape.back()),
                                 vec);
      for (auto [partial, stats] : {std::pair{f.partialX, f.sumX},
                                    std::pair{f.partialSq, f.sumSq}}) {
        partial.compute_at(stats, c);
        partial.update().reorder(order);
        if (width > 1) {
          partial.vectorize(w, width, TailStrategy::GuardWithIf);
          partial.update().vectorize(w, width, TailStrategy::GuardWithIf);
        }
      }
    }
  }
  scheduleElementwise(f.out, f.v, halideShape(s.outputs[0]), target);
}

Kernel buildBatchNorm(const KernelSpec &s, const Target &target) {
  BatchNormFuncs f = defineBatchNorm(s);
  scheduleBatchNorm(f, s, target);
  return {std::vector<Argument>(f.inputs.begin(), f.inputs.end()), f.out};
}

//===----------------------------------------------------------------------===//
// layer_norm over x.shape[axis:]; weight and bias optional (1-3 inputs:
// x, x+weight, x+weight+bias)
//===----------------------------------------------------------------------===//

void validateLayerNorm(const KernelSpec &s) {
  expectCounts(s, 1, 3, 1);
  expectF32Except(s);
  const auto &x = s.inputs[0].shape;
  int64_t axis = axisAttr(s, x.size());
  attrFloat(s, "epsilon");
  std::vector<int64_t> normalized(x.begin() + axis, x.end());
  for (size_t i = 1; i < s.inputs.size(); ++i) {
    expectShape(s, s.inputs[i], i == 1 ? "weight" : "bias", normalized);
  }
  expectShape(s, s.outputs[0], "output", x);
}

struct LayerNormFuncs {
  std::vector<ImageParam> inputs;
  std::vector<Var> v, outer;
  Func sumX{"sum_x"}, sumSq{"sum_sq"}, out{"out"};
};

LayerNormFuncs defineLayerNorm(const KernelSpec &s) {
  LayerNormFuncs f;
  const TensorSpec &xs = s.inputs[0];
  size_t rank = xs.shape.size();
  size_t nd = rank - attrInt(s, "axis"); // normalized Halide dims 0..nd-1
  ImageParam x = makeInput(xs, "x");
  f.inputs = {x};
  f.v = makeVars(rank);
  f.outer.assign(f.v.begin() + nd, f.v.end());
  std::vector<int> extents = halideShape(xs);
  Region ranges;
  float count = 1;
  for (size_t i = 0; i < nd; ++i) {
    ranges.push_back({0, extents[i]});
    count *= extents[i];
  }
  RDom r(ranges, "r");
  std::vector<Expr> at;
  for (size_t i = 0; i < rank; ++i) {
    at.push_back(i < nd ? Expr(r[i]) : Expr(f.v[i]));
  }
  f.sumX(f.outer) = 0.0f;
  f.sumX(f.outer) += x(at);
  Expr mean = f.sumX(f.outer) / count;
  f.sumSq(f.outer) = 0.0f;
  f.sumSq(f.outer) += pow(x(at) - mean, 2);
  Expr var = f.sumSq(f.outer) / count;
  Expr y = (x(f.v) - mean) / sqrt(var + f32(attrFloat(s, "epsilon")));
  std::vector<Var> inner(f.v.begin(), f.v.begin() + nd);
  if (s.inputs.size() >= 2) {
    ImageParam weight = makeInput(s.inputs[1], "weight");
    f.inputs.push_back(weight);
    y = y * weight(inner);
  }
  if (s.inputs.size() == 3) {
    ImageParam bias = makeInput(s.inputs[2], "bias");
    f.inputs.push_back(bias);
    y = y + bias(inner);
  }
  f.out(f.v) = y;
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// Target: x86-64 AVX-512, 2 cores. Row statistics per outermost slice
// (scalar two-pass reductions), the normalization vectorized along the
// innermost dim, slices in parallel.
void scheduleLayerNorm(LayerNormFuncs &f, const KernelSpec &s,
                       const Target &target) {
  if (target.has_gpu_feature()) {
    // The statistics one thread per normalized slice, then one thread per
    // output.
    rootStages(f.sumX, target);
    rootStages(f.sumSq, target);
    scheduleElementwiseGpu(f.out, f.v);
    return;
  }
  int vec = target.natural_vector_size<float>();
  std::vector<int> extents = halideShape(s.outputs[0]);
  if (extents[0] >= vec) {
    f.out.vectorize(f.v[0], vec, TailStrategy::ShiftInwards);
  }
  if (f.outer.empty()) {
    f.sumX.compute_root();
    f.sumSq.compute_root();
    return;
  }
  // The normalized slices (rows) in one loop, in tasks of about
  // kParallelGrain elements, each row's statistics beside it. ViT's
  // [1, 197, 768] ran as one task over its size-1 outer dim.
  Var row = f.outer[0];
  for (size_t i = 1; i < f.outer.size(); ++i) {
    Var fused(row.name() + "_" + f.outer[i].name());
    f.out.fuse(row, f.outer[i], fused);
    row = fused;
  }
  int64_t rows = 1;
  for (size_t i = f.v.size() - f.outer.size(); i < f.v.size(); ++i) {
    rows *= extents[i];
  }
  int64_t rowElements = s.outputs[0].numElements() / std::max<int64_t>(rows, 1);
  int64_t perTask =
      std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(rowElements, 1));
  if (rows > perTask) {
    Var task("task"), within("within");
    f.out
        .split(row, task, within, static_cast<int>(perTask),
               TailStrategy::GuardWithIf)
        .parallel(task);
    row = within;
  }
  f.sumX.compute_at(f.out, row);
  f.sumSq.compute_at(f.out, row);
}

Kernel buildLayerNorm(const KernelSpec &s, const Target &target) {
  LayerNormFuncs f = defineLayerNorm(s);
  scheduleLayerNorm(f, s, target);
  return {std::vector<Argument>(f.inputs.begin(), f.inputs.end()), f.out};
}

} // namespace

Func buildDenseWithEpilogue(const KernelSpec &s,
                            const std::vector<ImageParam> &in,
                            const Epilogue &epilogue, const Target &target) {
  DenseFuncs f = defineDense(s, in, epilogue, target);
  scheduleDense(f, s.outputs[0].shape, target);
  return f.out;
}

LrnParams validateLrn(const KernelSpec &s) {
  // lrn: x -> y; lrn_grad: x, dy -> dx; every tensor of x's shape.
  size_t inputs = s.op == "lrn_grad" ? 2 : 1;
  expectCounts(s, inputs, inputs, 1);
  expectF32Except(s);
  const TensorSpec &x = s.inputs[0];
  expectMinRank(s, x, "x", 2);
  if (inputs == 2) {
    expectShape(s, s.inputs[1], "dy", x.shape);
  }
  expectShape(s, s.outputs[0], "output", x.shape);
  LrnParams p;
  int64_t size = attrInt(s, "size");
  if (size < 1 || size > 4096) {
    fail(s, "size must be in [1, 4096]");
  }
  p.size = static_cast<int>(size);
  p.lo = (p.size - 1) / 2;
  p.hi = p.size - 1 - p.lo;
  p.channels = static_cast<int>(x.shape[1]);
  p.alpha = static_cast<float>(attrFloat(s, "alpha"));
  p.beta = static_cast<float>(attrFloat(s, "beta"));
  p.bias = static_cast<float>(attrFloat(s, "bias"));
  if (!std::isfinite(p.alpha) || !std::isfinite(p.beta) ||
      !std::isfinite(p.bias) || p.alpha < 0 || p.bias <= 0) {
    fail(s, "alpha >= 0, beta and bias > 0 must be finite");
  }
  return p;
}

Expr lrnWindowSum(const LrnParams &p, const std::vector<Var> &v, int first,
                  const std::function<Expr(const std::vector<Expr> &)> &term) {
  size_t ch = v.size() - 2;
  RDom r(0, p.size); // unnamed: unique per call
  Expr c = v[ch] + first + r;
  std::vector<Expr> at(v.begin(), v.end());
  at[ch] = clamp(c, 0, p.channels - 1);
  return sum(select(c >= 0 && c < p.channels, term(at), 0.0f));
}

namespace {

// Target: any; memory bound (size reads per element, from cache), as an
// elementwise loop.
Kernel buildLrn(const KernelSpec &s, const Target &target) {
  LrnParams p = validateLrn(s);
  ImageParam x = makeInput(s.inputs[0], "x");
  std::vector<Var> v = makeVars(s.inputs[0].shape.size());
  Expr squares = lrnWindowSum(p, v, -p.lo, [&](const std::vector<Expr> &at) {
    return x(at) * x(at);
  });
  Func y("y");
  y(v) = x(v) * pow(p.bias + (p.alpha / p.size) * squares, -p.beta);
  constrainOutput(y, s.outputs[0]);
  scheduleElementwise(y, v, halideShape(s.outputs[0]), target);
  return {{x}, y};
}

//===----------------------------------------------------------------------===//
// resize: input [..., H, W] -> [..., OH, OW] (kiln.resize; ONNX Resize)
//===----------------------------------------------------------------------===//

struct ResizeParams {
  std::string mode, transform, nearest;
  double a = -0.75;
  bool excludeOutside = false;
  int taps = 1; // per axis: nearest 1, linear 2, cubic 4
};

// resize: input -> output; resize_grad: dy (the output's shape) -> dx
// (input_sizes in the last two dims).
ResizeParams validateResize(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  bool grad = s.op == "resize_grad";
  const TensorSpec &x = s.inputs[0];
  expectMinRank(s, x, grad ? "dy" : "input", 2);
  std::vector<int64_t> sizes = attrInts(s, "sizes", 2);
  std::vector<int64_t> shape = x.shape;
  if (grad) {
    std::vector<int64_t> inputSizes = attrInts(s, "input_sizes", 2);
    if (shape[shape.size() - 2] != sizes[0] ||
        shape[shape.size() - 1] != sizes[1]) {
      fail(s, "dy must end in sizes");
    }
    sizes = inputSizes;
  }
  if (sizes[0] < 1 || sizes[1] < 1) {
    fail(s, "sizes must be positive");
  }
  shape[shape.size() - 2] = sizes[0];
  shape[shape.size() - 1] = sizes[1];
  expectShape(s, s.outputs[0], grad ? "dx" : "output", shape);
  const auto &scales = s.attrs.at("scales");
  if (!scales.is_array() || scales.size() != 2) {
    fail(s, "scales must hold 2 numbers (H, W)");
  }
  for (const auto &scale : scales) {
    if (!scale.is_number() || !(scale.get<double>() > 0) ||
        !std::isfinite(scale.get<double>())) {
      fail(s, "scales must be positive and finite");
    }
  }
  ResizeParams p;
  p.mode = attrString(s, "mode");
  p.transform = attrString(s, "coordinate_transformation_mode");
  p.nearest = attrString(s, "nearest_mode");
  p.a = attrFloat(s, "cubic_coeff_a");
  p.excludeOutside = attrBool(s, "exclude_outside");
  p.taps = p.mode == "nearest" ? 1 : p.mode == "linear" ? 2 : 4;
  if (p.mode != "nearest" && p.mode != "linear" && p.mode != "cubic") {
    fail(s, "mode must be nearest, linear or cubic");
  }
  static const std::set<std::string> transforms = {
      "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
      "tf_half_pixel_for_nn"};
  if (!transforms.count(p.transform)) {
    fail(s, "unsupported coordinate_transformation_mode '" + p.transform +
                "'");
  }
  static const std::set<std::string> nearest = {
      "round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  if (!nearest.count(p.nearest)) {
    fail(s, "unsupported nearest_mode '" + p.nearest + "'");
  }
  return p;
}

// One axis' taps at every output coordinate x: (input index, weight)
// pairs, as ONNX's reference computes them (in double): the source
// coordinate, then its floor f and fraction r; indices clamped to the input
// (its edge repeated). Computed at compile time into constant tables, so
// every target takes the same taps (a device's division or rounding cannot
// move a tie of nearest).
using ResizeTaps = std::vector<std::vector<std::pair<int, double>>>;

ResizeTaps resizeTaps(const ResizeParams &p, int in, int out, double scale) {
  ResizeTaps taps(out);
  // The resized length as the reference takes it: in x scale, unfloored
  // (sizes given: scale = out / in).
  double length = scale * double(in);
  for (int x = 0; x < out; ++x) {
    double src;
    if (p.transform == "half_pixel") {
      src = (x + 0.5) / scale - 0.5;
    } else if (p.transform == "pytorch_half_pixel") {
      src = length != 1.0 ? (x + 0.5) / scale - 0.5 : -0.5;
    } else if (p.transform == "align_corners") {
      src = length != 1.0 ? x * (double(in - 1) / (length - 1.0)) : 0.0;
    } else if (p.transform == "asymmetric") {
      src = x / scale;
    } else { // tf_half_pixel_for_nn
      src = (x + 0.5) / scale;
    }
    double f = std::floor(src), r = src - f;
    int fi = static_cast<int>(f);
    std::vector<int> at;
    std::vector<double> w;
    if (p.mode == "nearest") {
      // An integral source takes itself; else f or f + 1 by nearest_mode.
      bool up = p.nearest == "round_prefer_floor"  ? r > 0.5
                : p.nearest == "round_prefer_ceil" ? r >= 0.5
                : p.nearest == "ceil"              ? r > 0.0
                                                   : false;
      at = {up ? fi + 1 : fi};
      w = {1.0};
    } else if (p.mode == "linear") {
      at = {fi, fi + 1};
      w = {1.0 - r, r};
    } else {
      // Keys' cubic convolution at taps f - 1 .. f + 2 (distances 1 + r,
      // r, 1 - r, 2 - r), as the reference's cubic_coeffs.
      double a = p.a, r1 = r + 1.0, q = 1.0 - r, q1 = q + 1.0;
      at = {fi - 1, fi, fi + 1, fi + 2};
      w = {((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a,
           ((a + 2) * r - (a + 3)) * r * r + 1,
           ((a + 2) * q - (a + 3)) * q * q + 1,
           ((a * q1 - 5 * a) * q1 + 8 * a) * q1 - 4 * a};
      if (p.excludeOutside) {
        // Taps outside the input count 0; the rest renormalized.
        double total = 0;
        for (int t = 0; t < 4; ++t) {
          w[t] = at[t] >= 0 && at[t] < in ? w[t] : 0.0;
          total += w[t];
        }
        for (double &wt : w) {
          wt /= total;
        }
      }
    }
    for (size_t t = 0; t < at.size(); ++t) {
      taps[x].push_back({std::clamp(at[t], 0, in - 1), w[t]});
    }
  }
  return taps;
}

// The transpose: for every input index, the (output, weight) pairs of the
// taps that read it.
ResizeTaps transposeTaps(const ResizeTaps &taps, int in) {
  ResizeTaps readers(in);
  for (size_t x = 0; x < taps.size(); ++x) {
    for (const auto &[i, w] : taps[x]) {
      readers[i].push_back({static_cast<int>(x), w});
    }
  }
  return readers;
}

// taps as index(k, x) and weight(k, x) over constant tables, k below the
// most taps of any x (returned; the missing ones weigh 0); indices within
// [0, limit).
int tabulate(const ResizeTaps &taps, Func index, Func weight, int limit) {
  size_t most = 1;
  for (const auto &t : taps) {
    most = std::max(most, t.size());
  }
  int count = static_cast<int>(most), extent = static_cast<int>(taps.size());
  Buffer<int32_t> indices(count, extent, index.name() + "_table");
  Buffer<float> weights(count, extent, weight.name() + "_table");
  indices.fill(0);
  weights.fill(0.0f);
  for (int x = 0; x < extent; ++x) {
    for (size_t k = 0; k < taps[x].size(); ++k) {
      indices(static_cast<int>(k), x) = taps[x][k].first;
      weights(static_cast<int>(k), x) = static_cast<float>(taps[x][k].second);
    }
  }
  Var k("k"), x("x");
  index(k, x) = clamp(indices(k, x), 0, limit - 1); // bounds for Halide
  weight(k, x) = weights(k, x);
  return count;
}

// resize: each output element sums taps x taps products; resize_grad: each
// input element those of the outputs reading it (the transposed tables).
// Target: any. An elementwise loop over the result with the constant tap
// tables (memory bound when upsampling; the taps read from cache).
Kernel buildResizeOrGrad(const KernelSpec &s, const Target &target,
                         bool grad) {
  ResizeParams p = validateResize(s);
  ImageParam in = makeInput(s.inputs[0], grad ? "dy" : "input");
  const auto &from = s.inputs[0].shape;
  const auto &to = s.outputs[0].shape;
  size_t rank = from.size();
  // The forward's input and output extents along H and W.
  const auto &small = grad ? to : from, &large = grad ? from : to;
  const auto &scales = s.attrs.at("scales");
  Func ix("index_x"), wx("weight_x"), iy("index_y"), wy("weight_y");
  int count[2];
  for (int axis = 0; axis < 2; ++axis) {
    size_t d = rank - 1 - axis;
    int inLen = static_cast<int>(small[d]), outLen = static_cast<int>(large[d]);
    ResizeTaps taps =
        resizeTaps(p, inLen, outLen, scales[1 - axis].get<double>());
    if (grad) {
      taps = transposeTaps(taps, inLen);
    }
    count[axis] = tabulate(taps, axis == 0 ? ix : iy, axis == 0 ? wx : wy,
                           static_cast<int>(from[d]));
  }
  std::vector<Var> v = makeVars(rank);
  Expr value = 0.0f;
  int tapsX = count[0], tapsY = count[1];
  for (int j = 0; j < tapsY; ++j) {
    Expr row = 0.0f;
    for (int k = 0; k < tapsX; ++k) {
      std::vector<Expr> at(v.begin(), v.end());
      at[0] = ix(k, v[0]);
      at[1] = iy(j, v[1]);
      row = row + wx(k, v[0]) * in(at);
    }
    value = value + wy(j, v[1]) * row;
  }
  Func y(grad ? "dx" : "y");
  y(v) = value;
  constrainOutput(y, s.outputs[0]);
  scheduleElementwise(y, v, halideShape(s.outputs[0]), target);
  return {{in}, y};
}

//===----------------------------------------------------------------------===//
// grid_sample: input [N, C, H, W], grid [N, OH, OW, 2] -> [N, C, OH, OW]
// (kiln.grid_sample; ONNX GridSample, PyTorch's grid_sample), and
// grid_sample_grad: input, grid, dy -> dx, dgrid
//===----------------------------------------------------------------------===//

struct GridSampleParams {
  std::string mode, padding;
  bool alignCorners = false;
};

GridSampleParams validateGridSample(const KernelSpec &s, bool grad) {
  expectCounts(s, grad ? 3 : 2, grad ? 3 : 2, grad ? 2 : 1);
  expectF32Except(s);
  const TensorSpec &x = s.inputs[0], &grid = s.inputs[1];
  expectRank(s, x, "input", 4);
  expectRank(s, grid, "grid", 4);
  if (grid.shape[3] != 2 || grid.shape[0] != x.shape[0]) {
    fail(s, "grid must be [N, OH, OW, 2] with the input's N");
  }
  std::vector<int64_t> out = {x.shape[0], x.shape[1], grid.shape[1],
                              grid.shape[2]};
  if (grad) {
    expectShape(s, s.inputs[2], "dy", out);
    expectShape(s, s.outputs[0], "dx", x.shape);
    expectShape(s, s.outputs[1], "dgrid", grid.shape);
  } else {
    expectShape(s, s.outputs[0], "output", out);
  }
  GridSampleParams p;
  p.mode = attrString(s, "mode");
  p.padding = attrString(s, "padding_mode");
  p.alignCorners = attrBool(s, "align_corners");
  if (p.mode != "bilinear" && p.mode != "nearest" && p.mode != "bicubic") {
    fail(s, "mode must be bilinear, nearest or bicubic");
  }
  if (p.padding != "zeros" && p.padding != "border" &&
      p.padding != "reflection") {
    fail(s, "padding_mode must be zeros, border or reflection");
  }
  return p;
}

// A coordinate and its derivative with respect to the grid value it came
// from.
struct GridCoordinate {
  Expr value, grad;
};

// A normalized grid coordinate in [-1, 1] as a pixel coordinate along an
// axis of `size` pixels (PyTorch's grid_sampler_unnormalize).
GridCoordinate unnormalizeGrid(Expr coord, int size, bool alignCorners) {
  float scale = alignCorners ? (size - 1) / 2.0f : size / 2.0f;
  return {alignCorners ? (coord + 1.0f) * scale
                       : (coord + 1.0f) * scale - 0.5f,
          Expr(scale)};
}

// `border`: clamped into [0, size - 1]; `reflection`: reflected at the
// borders (the edge pixels' centres with align_corners, else their outer
// edges), then clamped; `zeros`: unchanged (PyTorch's compute_coordinates,
// and its derivative: 0 where clamped, -1 on a flipped reflection).
GridCoordinate padGridCoordinate(GridCoordinate coord, int size,
                                 const GridSampleParams &p) {
  if (p.padding == "zeros") {
    return coord;
  }
  Expr v = coord.value, grad = coord.grad;
  if (p.padding == "reflection") {
    float low = p.alignCorners ? 0.0f : -0.5f;
    float span = static_cast<float>(p.alignCorners ? size - 1 : size);
    if (span <= 0) {
      return {Expr(0.0f), Expr(0.0f)}; // one pixel, align_corners: its centre
    }
    Expr d = abs(v - low), side = select(v < low, -1.0f, 1.0f);
    Expr flips = floor(d / span);
    Expr extra = d - flips * span;
    Expr even = cast<int>(flips) % 2 == 0;
    v = select(even, extra + low, span - extra + low);
    grad = grad * select(even, side, -side);
  }
  Expr inside = v > 0.0f && v < f32(size - 1);
  return {clamp(v, 0.0f, f32(size - 1)), select(inside, grad, 0.0f)};
}

// Keys' cubic convolution weights (a = -0.75) of the taps at distances
// 1 + t, t, 1 - t, 2 - t from the position (PyTorch's
// get_cubic_upsample_coefficients), and their derivatives in t.
std::vector<Expr> cubicWeights(Expr t, bool derivative) {
  const float a = -0.75f;
  auto near = [&](Expr x) {
    return derivative ? (3 * (a + 2) * x - 2 * (a + 3)) * x
                      : ((a + 2) * x - (a + 3)) * x * x + 1.0f;
  };
  auto far = [&](Expr x) {
    return derivative ? (3 * a * x - 10 * a) * x + 8 * a
                      : ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  };
  if (derivative) { // the last two taps' distances fall as t grows
    return {far(t + 1.0f), near(t), -near(1.0f - t), -far(2.0f - t)};
  }
  return {far(t + 1.0f), near(t), near(1.0f - t), far(2.0f - t)};
}

// One tap of a grid position: the pixel it reads (a tap outside the image
// reads 0), its weight and the weight's derivatives in the unnormalized x
// and y.
struct GridTap {
  Expr ix, iy, weight, dx, dy;
};

// The taps of the position (fx, fy): unnormalized, padded except in
// bicubic mode, which pads each tap's pixel instead.
std::vector<GridTap> gridTaps(const GridSampleParams &p, Expr fx, Expr fy,
                              int width, int height) {
  if (p.mode == "nearest") { // ties to even, as PyTorch's nearbyint
    return {{cast<int>(roundHalfEven(fx)), cast<int>(roundHalfEven(fy)),
             Expr(1.0f), Expr(0.0f), Expr(0.0f)}};
  }
  Expr x0 = floor(fx), y0 = floor(fy);
  Expr tx = fx - x0, ty = fy - y0;
  std::vector<GridTap> taps;
  if (p.mode == "bilinear") {
    Expr ix = cast<int>(x0), iy = cast<int>(y0);
    Expr one = 1.0f;
    taps.push_back({ix, iy, (one - tx) * (one - ty), ty - one, tx - one});
    taps.push_back({ix + 1, iy, tx * (one - ty), one - ty, -tx});
    taps.push_back({ix, iy + 1, (one - tx) * ty, -ty, one - tx});
    taps.push_back({ix + 1, iy + 1, tx * ty, ty, tx});
    return taps;
  }
  std::vector<Expr> wx = cubicWeights(tx, false), wy = cubicWeights(ty, false);
  std::vector<Expr> dwx = cubicWeights(tx, true), dwy = cubicWeights(ty, true);
  auto pad = [&](Expr coord, int size) {
    return cast<int>(padGridCoordinate({coord, Expr(0.0f)}, size, p).value);
  };
  for (int j = 0; j < 4; ++j) {
    Expr iy = pad(y0 + f32(j - 1), height);
    for (int i = 0; i < 4; ++i) {
      taps.push_back({pad(x0 + f32(i - 1), width), iy, wx[i] * wy[j],
                      dwx[i] * wy[j], wx[i] * dwy[j]});
    }
  }
  return taps;
}

// A tap's pixel of channel c, image n; 0 outside the image (the clamped
// indices keep the load in bounds).
Expr insideImage(const GridTap &tap, int width, int height) {
  return tap.ix >= 0 && tap.ix < width && tap.iy >= 0 && tap.iy < height;
}
Expr tapPixel(ImageParam in, const GridTap &tap, Expr c, Expr n, int width,
              int height) {
  return select(insideImage(tap, width, height),
                in(clamp(tap.ix, 0, width - 1), clamp(tap.iy, 0, height - 1),
                   c, n),
                0.0f);
}

// The pixel coordinates of every grid position and their derivatives in
// the grid's x and y: one root stage (vectorized), as a Tuple (fx, fy,
// dfx, dfy).
Func gridPositions(const GridSampleParams &p, ImageParam grid, int width,
                   int height, int outWidth, const std::vector<Var> &at,
                   const Target &target) {
  GridCoordinate fx = unnormalizeGrid(grid(0, at[0], at[1], at[2]), width,
                                      p.alignCorners);
  GridCoordinate fy = unnormalizeGrid(grid(1, at[0], at[1], at[2]), height,
                                      p.alignCorners);
  if (p.mode != "bicubic") {
    fx = padGridCoordinate(fx, width, p);
    fy = padGridCoordinate(fy, height, p);
  }
  Func position("position");
  position(at) = Tuple(fx.value, fy.value, fx.grad, fy.grad);
  rootStages(position, target);
  if (!target.has_gpu_feature()) {
    int vec = vectorWidthFor(outWidth, target.natural_vector_size<float>());
    if (vec > 1) {
      position.vectorize(at[0], vec, TailStrategy::GuardWithIf);
    }
  }
  return position;
}

// Target: any. The pixel coordinates of each grid position computed once
// (root), then every channel's taps gathered elementwise.
Kernel buildGridSample(const KernelSpec &s, const Target &target) {
  GridSampleParams p = validateGridSample(s, false);
  ImageParam in = makeInput(s.inputs[0], "input");
  ImageParam grid = makeInput(s.inputs[1], "grid");
  int width = static_cast<int>(s.inputs[0].shape[3]);
  int height = static_cast<int>(s.inputs[0].shape[2]);
  Var ox("ox"), oy("oy"), c("c"), n("n");
  Func position = gridPositions(p, grid, width, height,
                                static_cast<int>(s.inputs[1].shape[2]),
                                {ox, oy, n}, target);
  Expr value = 0.0f;
  for (const GridTap &tap : gridTaps(p, position(ox, oy, n)[0],
                                     position(ox, oy, n)[1], width, height)) {
    value = value + tap.weight * tapPixel(in, tap, c, n, width, height);
  }
  Func out("out");
  out(ox, oy, c, n) = value;
  constrainOutput(out, s.outputs[0]);
  std::vector<int> extents = halideShape(s.outputs[0]);
  scheduleElementwise(out, {ox, oy, c, n}, extents, target);
  return {{in, grid}, out};
}

// dx: per (channel, image) plane, zeros, then every output position's dy
// times each tap's weight added into the pixel the tap reads (an update
// per tap, in output order: taps that land on one pixel add up), planes in
// parallel. dgrid: per grid position, the sum over the channels of dy
// times the taps' pixels times their weights' derivatives, times the
// coordinate's derivative in the grid value. Target: x86-64 (the scatter
// is serial per plane). GPU: the same, each plane's adds of one tap one
// thread (no two threads add into one pixel; one kernel per tap), every
// other stage one thread per element.
Kernel buildGridSampleGrad(const KernelSpec &s, const Target &target) {
  GridSampleParams p = validateGridSample(s, true);
  bool gpu = target.has_gpu_feature();
  ImageParam in = makeInput(s.inputs[0], "input");
  ImageParam grid = makeInput(s.inputs[1], "grid");
  ImageParam dyIn = makeInput(s.inputs[2], "dy");
  const auto &xs = s.inputs[0].shape, &gs = s.inputs[1].shape;
  int width = static_cast<int>(xs[3]), height = static_cast<int>(xs[2]);
  int channels = static_cast<int>(xs[1]);
  Var ox("ox"), oy("oy"), c("c"), n("n"), x("x"), y("y"), k("k");
  Func position = gridPositions(p, grid, width, height,
                                static_cast<int>(s.inputs[1].shape[2]),
                                {ox, oy, n}, target);

  // dx: the taps of the output position r.
  RDom r(0, static_cast<int>(gs[2]), 0, static_cast<int>(gs[1]), "r");
  Func plane("dx_plane"), dx("dx");
  plane(x, y, c, n) = 0.0f;
  std::vector<GridTap> atR = gridTaps(p, position(r.x, r.y, n)[0],
                                      position(r.x, r.y, n)[1], width, height);
  for (const GridTap &tap : atR) {
    plane(clamp(tap.ix, 0, width - 1), clamp(tap.iy, 0, height - 1), c, n) +=
        select(insideImage(tap, width, height),
               tap.weight * dyIn(r.x, r.y, c, n), 0.0f);
  }
  dx(x, y, c, n) = plane(x, y, c, n);
  constrainOutput(dx, s.outputs[0]);
  if (gpu) {
    plane.compute_root();
    scheduleElementwiseGpu(plane, {x, y, c, n});
    for (int i = 0; i < plane.num_update_definitions(); ++i) {
      scheduleElementwiseGpu(plane.update(i), {c, n});
    }
    scheduleElementwiseGpu(dx, {x, y, c, n});
  } else {
    Var plane_("plane");
    dx.fuse(c, n, plane_).parallel(plane_);
    plane.compute_at(dx, plane_);
  }

  // dgrid: the channel sums of dy times the value's derivatives in fx, fy.
  Func dgrid("dgrid");
  if (p.mode == "nearest") {
    dgrid(k, ox, oy, n) = 0.0f;
  } else {
    RDom rc(0, channels, "rc");
    Expr sx = 0.0f, sy = 0.0f;
    for (const GridTap &tap : gridTaps(p, position(ox, oy, n)[0],
                                       position(ox, oy, n)[1], width,
                                       height)) {
      Expr pixel = tapPixel(in, tap, rc, n, width, height);
      sx = sx + tap.dx * pixel;
      sy = sy + tap.dy * pixel;
    }
    Func sums("dgrid_sums");
    sums(ox, oy, n) = Tuple(0.0f, 0.0f);
    Expr d = dyIn(ox, oy, rc, n);
    sums(ox, oy, n) = Tuple(sums(ox, oy, n)[0] + d * sx,
                            sums(ox, oy, n)[1] + d * sy);
    dgrid(k, ox, oy, n) = select(k == 0, sums(ox, oy, n)[0] *
                                             position(ox, oy, n)[2],
                                 sums(ox, oy, n)[1] * position(ox, oy, n)[3]);
    if (gpu) {
      rootStages(sums, target);
    } else {
      sums.compute_root().parallel(n);
      sums.update().parallel(n);
    }
  }
  constrainOutput(dgrid, s.outputs[1]);
  if (gpu) {
    scheduleElementwiseGpu(dgrid, {k, ox, oy, n});
  } else {
    dgrid.parallel(n);
  }
  return {{in, grid, dyIn}, {dx, dgrid}};
}

} // namespace

void registerLayerOps(OpRegistry &r) {
  r["max_pool2d_indices"] = {validatePoolIndices, buildPoolIndices};
  r["grid_sample"] = {
      [](const KernelSpec &s) { validateGridSample(s, false); },
      buildGridSample};
  r["grid_sample_grad"] = {
      [](const KernelSpec &s) { validateGridSample(s, true); },
      buildGridSampleGrad};
  r["lrn"] = {[](const KernelSpec &s) { validateLrn(s); }, buildLrn};
  r["resize"] = {[](const KernelSpec &s) { validateResize(s); },
                 [](const KernelSpec &s, const Target &t) {
                   return buildResizeOrGrad(s, t, false);
                 }};
  r["resize_grad"] = {[](const KernelSpec &s) { validateResize(s); },
                      [](const KernelSpec &s, const Target &t) {
                        return buildResizeOrGrad(s, t, true);
                      }};
  r["dense"] = {validateDense, buildDense};
  r["max_pool2d"] = {[](const KernelSpec &s) { validatePool(s, true); },
                     [](const KernelSpec &s, const Target &t) {
                       return buildPool(s, t, true);
                     }};
  r["avg_pool2d"] = {[](const KernelSpec &s) { validatePool(s, false); },
                     [](const KernelSpec &s, const Target &t) {
                       return buildPool(s, t, false);
                     }};
  r["global_avg_pool"] = {validateGlobalAvgPool, buildGlobalAvgPool};
  r["batch_norm"] = {validateBatchNorm, buildBatchNorm};
  r["layer_norm"] = {validateLayerNorm, buildLayerNorm};
}

void defineBatchNormAffine(Func scale, Func shift, Var c, Expr gamma,
                           Expr beta, Expr mean, Expr var, Expr eps) {
  scale(c) = gamma / sqrt(var + eps);
  shift(c) = beta - mean * scale(c);
}

} // namespace kiln::codegen::detail
