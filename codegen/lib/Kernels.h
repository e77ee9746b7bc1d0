// Kernel builders: KernelSpec -> scheduled Halide pipeline.
//
// Every op family has a validator, an algorithm function (Funcs over
// ImageParams) and a schedule function, kept apart as in Halide's apps. Halide
// dimension 0 is the innermost, i.e. the last logical dimension of a
// TensorSpec: a [N,C,H,W] tensor is indexed (w, h, c, n).
//
// Internal to codegen: the only file set including Halide.h.
#ifndef KILN_CODEGEN_LIB_KERNELS_H
#define KILN_CODEGEN_LIB_KERNELS_H

#include "kiln/codegen/Codegen.h"
#include "kiln/codegen/KernelSpec.h"

#include <Halide.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kiln::codegen::detail {

// A scheduled kernel: the pipeline's input arguments in ABI order and its
// output Funcs (appended after the inputs by Halide, in order; a Tuple-valued
// Func contributes one buffer per element). Outputs may differ in shape.
struct Kernel {
  std::vector<Halide::Argument> inputs;
  std::vector<Halide::Func> outputs;

  Kernel(std::vector<Halide::Argument> in, Halide::Func out)
      : inputs(std::move(in)), outputs{out} {}
  Kernel(std::vector<Halide::Argument> in, std::vector<Halide::Func> outs)
      : inputs(std::move(in)), outputs(std::move(outs)) {}
};

struct OpInfo {
  // Throws Error if the spec's counts, ranks, dtypes or attrs are wrong.
  std::function<void(const KernelSpec &spec)> validate;
  // Builds and schedules the kernel of an already validated spec.
  std::function<Kernel(const KernelSpec &spec, const Halide::Target &target)>
      build;
};

using OpRegistry = std::map<std::string, OpInfo>;

// The kernel of spec.schedule "auto:NAME": `scheduled` (the builder's
// pipeline) rebuilt from its definitions alone and scheduled by Halide's
// autoscheduler NAME (AutoSchedule.cpp). Throws Error naming the op.
Kernel autoSchedule(const Kernel &scheduled, const KernelSpec &spec,
                    const Halide::Target &target);
// Throws Error for a spec.schedule other than "" and "auto:NAME" of a known
// autoscheduler.
void validateSchedule(const KernelSpec &spec);

// Throws Error("unknown op ...") for ops without a kernel.
const OpInfo &lookupOp(const std::string &op);

// Throws Error naming the op and the problem if the spec cannot be built
// (the worker's half of codegen::checkSpecs).
void validateKernelSpec(const KernelSpec &spec);

void registerElementwiseOps(OpRegistry &registry);
void registerLayerOps(OpRegistry &registry);
void registerConvOps(OpRegistry &registry);
void registerWinogradOps(OpRegistry &registry);
void registerLossOps(OpRegistry &registry);
void registerTensorOps(OpRegistry &registry);
void registerConvGradOps(OpRegistry &registry);
void registerLayerGradOps(OpRegistry &registry);
void registerTrainingOps(OpRegistry &registry);

//===----------------------------------------------------------------------===//
// Spec checking
//===----------------------------------------------------------------------===//

[[noreturn]] void fail(const KernelSpec &spec, const std::string &problem);
void expectCounts(const KernelSpec &spec, size_t minInputs, size_t maxInputs,
                  size_t outputs);
void expectRank(const KernelSpec &spec, const TensorSpec &t, const char *what,
                size_t rank);
void expectMinRank(const KernelSpec &spec, const TensorSpec &t,
                   const char *what, size_t rank);
void expectShape(const KernelSpec &spec, const TensorSpec &t, const char *what,
                 const std::vector<int64_t> &shape);
// Every tensor f32, except the listed input indices, which must be i32.
void expectF32Except(const KernelSpec &spec, std::vector<size_t> i32Inputs = {},
                     bool i32Outputs = false);
// Positive extents that fit Halide's 32-bit indexing.
void expectValidShapes(const KernelSpec &spec);

int64_t attrInt(const KernelSpec &spec, const char *name);
// The "axis" attribute, which must name a dim of a rank-`rank` tensor.
int64_t axisAttr(const KernelSpec &spec, size_t rank);
double attrFloat(const KernelSpec &spec, const char *name);
bool attrBool(const KernelSpec &spec, const char *name);
std::string attrString(const KernelSpec &spec, const char *name);
std::vector<int64_t> attrInts(const KernelSpec &spec, const char *name,
                              size_t count);

// Registers a lowering pass that makes Halide 14's `prefetch` schedules
// touch every cache line of the prefetched box (see KernelSupport.cpp).
void fixPrefetchSteps(Halide::Pipeline &pipeline);

//===----------------------------------------------------------------------===//
// Algorithm helpers
//===----------------------------------------------------------------------===//

// Tensor extents in Halide order (innermost first).
std::vector<int> halideShape(const TensorSpec &t);

// An input with the kernel's static shape: dense, min 0, constant extents and
// strides, so that Halide folds all index arithmetic.
Halide::ImageParam makeInput(const TensorSpec &t, const std::string &name);
// The same constraints on the output buffer (on every buffer of a
// Tuple-valued Func: all share the shape).
void constrainOutput(Halide::Func output, const TensorSpec &t);

std::vector<Halide::Var> makeVars(size_t rank);
std::vector<Halide::Expr> asExprs(const std::vector<Halide::Var> &vars);

// Window geometry shared by conv2d, the pools and their gradients.
struct Window {
  int64_t kh, kw, sh, sw, padTop, padLeft, padBottom, padRight, dh, dw;
};
// Output extent of a window op along one dim (docs/ops.md).
int64_t windowOutput(int64_t in, int64_t padBegin, int64_t padEnd,
                     int64_t dilation, int64_t k, int64_t stride);
// Reads strides, pads and (if hasDilations) dilations; checks their signs.
Window readWindow(const KernelSpec &spec, int64_t kh, int64_t kw,
                  bool hasDilations);
bool hasPadding(const Window &w);
// Checks a window op's output shape: [n, c, OH, OW] from inputs[0]'s H, W.
void expectWindowOutput(const KernelSpec &spec, const Window &w, int64_t n,
                        int64_t c);
// The input as a Func over all integers: `exterior` outside the image.
Halide::Func paddedInput(Halide::ImageParam x, const Window &w,
                         Halide::Expr exterior);
// The zero-padded input x [N,C,H,W] split into its stride phases, each
// phase plane flattened with row pitch `pitch` (KernelsConv.cpp):
// func(q, phase, c, n) holds padded row sh*i + a and column sw*j + b of x at
// q = i*pitch + j, phase = a*sw + b, so that the window tap (kx, ky) of
// output position p = oy*pitch + ox is one element of one phase plane at a
// constant offset of p. Used by conv2d's planes form and conv2d_grad_weight.
// The indices t of one stride phase's positions t * stride + phase - pad
// that lie in [0, extent): {first t, count} (count may be <= 0).
std::pair<int, int> phaseInside(int phase, int stride, int pad, int extent);
struct StridePhases {
  Halide::Func func{"phases"};
  std::vector<Halide::RDom> updates; // the image part of each phase read
  int64_t planeElements = 0;         // about the elements per (c, n)
};
StridePhases defineStridePhases(Halide::ImageParam x, const TensorSpec &xs,
                                const Window &w, int pitch);
// The input at window tap (kx, ky) of output position p (p = oy*pitch + ox).
Halide::Expr readStridePhases(const StridePhases &phases, const Window &w,
                              int pitch, Halide::Expr p, Halide::Expr kx,
                              Halide::Expr ky, Halide::Expr c, Halide::Expr n);
// compute_root, vectorized along the rows, parallel over planes if asked.
void scheduleStridePhases(StridePhases &phases, bool parallel,
                          const Halide::Target &target);
// The same for any zero-initialized flattened Func f(q, ..., c, n) whose
// update i copies data over `updates[i]` (its x dimension vectorized):
// compute_root, each stage parallel over runs of the fused (c, n) planes,
// of at least kParallelGrain / 4 elements when a plane holds about
// `planeElements`.
void scheduleZeroedPlanes(Halide::Func f,
                          const std::vector<Halide::RDom> &updates,
                          bool parallel, int64_t planeElements,
                          const Halide::Target &target);
// The "channel form" of the flattened-plane convolutions (conv2d's planes
// form, conv2d_grad_input): the channels the kernel produces in vectors
// (16 lanes, or 8 on AVX2), from weights repacked per call so that a
// vector's channels of one tap are contiguous, the input broadcast.
// channelVectorsFor: vectors per task (AVX-512: up to 4, dividing
// `channels`, fewer where images x blocks would be under 4 tasks; AVX2:
// 2), 0 where the form does not apply (groups, channels not a multiple of
// 16, neither AVX-512 nor 8 lanes).
int channelVectorsFor(const KernelSpec &spec, int channels,
                      const Halide::Target &target);
// accOut(lane, p, block, n) over `positions` positions, computed per task in
// register tiles of `tilePositions` positions x channelVectors vectors (6 x
// 4: 24 zmm), acc(lane, p, block, n) reducing over r = (kx, ky, channel)
// inside: each weight vector feeds tilePositions FMAs, each broadcast input
// value channelVectors.
void scheduleChannelTiles(Halide::Func accOut, Halide::Func acc, Halide::RDom r,
                          int positions, int channelVectors,
                          int tilePositions = 6);
// The position form of the same convolutions: accOut(p, channel, n) over
// `positions` positions in register tiles of `tileVectors` vectors of
// positions x the task's `channels` channels (2 x 8: 16 zmm, each input
// vector feeding 8 FMAs with broadcast weights), acc(p, channel, n)
// reducing over `reduction` inside (its first dimension unrolled if asked).
// A tile that does not fit the registers runs as registerSubTile's
// sub-tiles (AVX2: 2 x 4; 2 x 6 of 12 channels where the reduction is one
// channel axis, streamed), each over the whole reduction.
void schedulePositionTiles(Halide::Func accOut, Halide::Func acc,
                           const std::vector<Halide::RVar> &reduction,
                           int positions, int tileVectors, int channels,
                           bool unrollFirst, const Halide::Target &target);
// One ImageParam per spec input, named in order.
std::vector<Halide::ImageParam> layerInputs(const KernelSpec &spec,
                                            std::vector<const char *> names);

// dense (and matmul): out(o, n) = sum_k x(k, n) * weightT(o, k). The
// algorithm defines weightT, acc and out; scheduleDense tiles them. `shape`
// is the output's [N, O].
struct DenseFuncs {
  std::vector<Halide::ImageParam> inputs;
  Halide::Var o{"o"}, n{"n"}, lane{"lane"};
  Halide::RDom k;
  Halide::Func weightT{"weight_t"}, acc{"acc"}, out{"out"};
  // The rows form (CPU dense at batch 1-8, matrix-vector-like): no weightT;
  // part(lane, o, n) sums x * weight along K in 16-lane vectors of a weight
  // row, then acc adds the lanes (k: the vectors, lanes: the lanes).
  bool rows = false;
  Halide::Func part{"part"};
  Halide::RDom lanes;
  // GPU (defineGpuProduct): the left operand as lhs(k, n, batch...), and
  // acc, out, lhs and weightT with the pure `batch` dims last (a batched
  // matmul's). kFast: K is the unit stride in memory of lhs, of weightT
  // (on CPUs too: weightKFast, then weightT transposes the weight).
  Halide::Func lhs{"lhs"};
  std::vector<Halide::Var> batch;
  bool lhsKFast = true, weightKFast = true;
  // How scheduleDense's GPU branch runs the product (defineGpuProduct
  // picks): register tiles summing the whole of K from memory (K within
  // three chunks), the same with the operands staged in shared memory per
  // chunk of K, or, for products of at most 8 rows (matrix-vector-like:
  // memory bound), one thread per output feature with the rows in its
  // registers (KLanes: a warp per feature, its lanes along K, where the
  // weight's K is its unit stride; lanes holds the 32 lanes' sums).
  enum class GpuForm { Tiles, StagedTiles, FeatureThreads, KLanes };
  GpuForm gpuForm = GpuForm::Tiles;
};
void scheduleDense(DenseFuncs &f, const std::vector<int64_t> &shape,
                   const Halide::Target &target);
// The GPU product term of f.acc: lhs(f.k, f.n, batch) * weightT(f.o, f.k,
// batch), with lhs(kv, n, batch) = lhsAt(kv, n, batch) and weightT(o, kv,
// batch) = weightAt(o, kv, batch) read inside an [N, O] output and K (the
// edge register tiles of scheduleDense sum past the output: their reads
// clamped to its last row and feature), zero past K, which f.k rounds up
// to whole staging chunks (kGpuChunk) where the operands are staged, to
// whole warps where K is in lanes.
using DenseOperand = std::function<Halide::Expr(
    Halide::Expr, Halide::Expr, const std::vector<Halide::Expr> &)>;
Halide::Expr defineGpuProduct(DenseFuncs &f, const std::vector<int64_t> &shape,
                              int k, const DenseOperand &lhsAt,
                              const DenseOperand &weightAt);

// Per-channel sum over every dim but the channel (logical axis 1) of
// term(coordinates in Halide order), for [N,C,...] extents (Halide order).
// Partial sums run vectorized along the innermost dim; the result is a
// compute_root Func sum(c), one channel per parallel task when large.
Halide::Func channelSum(
    const std::string &name, const std::vector<int> &extents,
    const std::function<Halide::Expr(const std::vector<Halide::Expr> &)> &term,
    const Halide::Target &target, bool perChannel = false);

// channelSum of `count` terms in one pass over the data: a Tuple-valued
// Func (a plain one when count is 1). perChannel: neither compute_root nor
// parallel; the caller computes it at a consumer's channel loop
// (scheduleChannelMajor).
Halide::Func channelSums(
    const std::string &name, const std::vector<int> &extents, size_t count,
    const std::function<std::vector<Halide::Expr>(
        const std::vector<Halide::Expr> &)> &terms,
    const Halide::Target &target, bool perChannel = false);

// Channel-major kernels (batch norm): for [N,C,spatial...] extents with
// enough channels, each parallel task handles one channel: its statistics,
// then its elementwise pass, which finds the channel's data (N*H*W floats,
// 800 KB for ResNet's stem at batch 16) still in L2 instead of streaming
// the tensor from memory once per pass.
bool channelMajor(const std::vector<int> &extents);
// Loops of f: the spatial dims fused and vectorized, then the batch, then
// the channel, parallel (unless `parallel` is false: f computed inside
// another channel loop). The caller computes per-channel Funcs at
// (f, vars[rank - 2]).
void scheduleChannelMajor(Halide::Func f, const std::vector<Halide::Var> &vars,
                          const std::vector<int> &extents,
                          const Halide::Target &target, bool parallel = true);

// Sum of term(coordinates) over a whole dense domain: a compute_root scalar
// Func, vectorized along the innermost dim (rfactor) when it fills a vector.
Halide::Func sumAll(
    const std::string &name, const std::vector<int> &extents,
    const std::function<Halide::Expr(const std::vector<Halide::Expr> &)> &term,
    const Halide::Target &target);

// An elementwise op's math, registered once by registerUnary: the forward
// kernel, fused chains (forward) and activation_grad (gradient) all look it
// up by op name. Both read the op's attributes from spec.attrs.
using UnaryFn =
    std::function<Halide::Expr(Halide::Expr x, const KernelSpec &spec)>;
using UnaryGradFn = std::function<Halide::Expr(
    Halide::Expr x, Halide::Expr dy, const KernelSpec &spec)>;
struct UnaryMath {
  std::vector<const char *> floatAttrs; // checked present and numeric
  UnaryFn forward;                      // f(x)
  UnaryGradFn gradient;                 // dy * f'(x); empty: none
  // Further attribute checks (e.g. gelu's `approximate`); may be empty.
  std::function<void(const KernelSpec &)> checkAttrs;
};
// nullptr for names that are not registered unary ops.
const UnaryMath *findUnary(const std::string &name);
// Registers `name`'s math and its elementwise kernel.
void registerUnary(OpRegistry &r, const std::string &name, UnaryMath math);

// A broadcasting binary op's math (add, sub, mul, div, pow, maximum,
// minimum), registered once by registerBinary: its kernel and fused chains
// look it up by op name. nullptr for other names.
using BinaryFn = std::function<Halide::Expr(Halide::Expr, Halide::Expr)>;
const BinaryFn *findBinary(const std::string &name);

// Layouts (docs/layout.md). Whether a tensor of the spec is blocked
// (nchw16c), and whether the op has a kernel for the blocked tensors the
// spec names (validateKernelSpec refuses the others by name): conv2d's
// channel form (a packed weight) and depthwise form, an epilogue kernel
// anchored on them, global_avg_pool's input.
bool hasBlockedTensor(const KernelSpec &spec);
bool supportsBlocked(const KernelSpec &spec);
bool conv2dSupportsBlocked(const KernelSpec &spec);
bool fusedSupportsBlocked(const KernelSpec &spec);
// Throws naming the op where a GPU target meets a blocked tensor (the
// layout's kernels are CPU schedules; kiln-layout never runs for GPUs).
void refuseBlockedOnGpu(const KernelSpec &spec, const Halide::Target &target);
// A blocked [N, C, H, W] tensor's element at logical (x, y, c, n), Halide
// order (its buffer is (c % 16, x, y, c / 16, n)).
Halide::Expr blockedAt(Halide::ImageParam in, Halide::Expr x, Halide::Expr y,
                       Halide::Expr c, Halide::Expr n);
// `in` read at the output coordinates `v` with numpy broadcasting (trailing
// dims aligned; size-1 dims read index 0); a blocked input at its logical
// coordinates.
Halide::Expr broadcastAt(Halide::ImageParam in, const TensorSpec &t,
                         const std::vector<Halide::Var> &v);

// A fused kernel's elementwise epilogue: maps the anchor's value at output
// coordinates (Halide order) to the kernel's output value.
using Epilogue = std::function<Halide::Expr(
    Halide::Expr value, const std::vector<Halide::Var> &coords)>;

// conv2d_grad_weight with a `tile` m of 2 or 4: Winograd F(m x m, 3x3) over
// the batch's tiles (KernelsWinograd.cpp; kiln-winograd sets the tile).
void validateConv2dGradWeightWinograd(const KernelSpec &spec);
Kernel buildConv2dGradWeightWinograd(const KernelSpec &spec,
                                     const Halide::Target &target);
// conv2d_winograd with an epilogue (KernelsWinograd.cpp); with `tail`
// (validateWinogradPoolTail), the chain's value pooled tile by tile.
Halide::Func buildConv2dWinogradWithEpilogue(
    const KernelSpec &spec, const std::vector<Halide::ImageParam> &in,
    const Epilogue &epilogue, const Halide::Target &target,
    const KernelSpec *tail);
// Fails unless `tail` is a pooling tail a conv2d_winograd takes
// (kiln::ir::isPoolTail): a 2x2 max_pool2d of stride 2 over an even plane,
// so that every window lies in one output tile.
void validateWinogradPoolTail(const KernelSpec &spec, const KernelSpec &tail);
// conv2d (or conv2d_winograd) / dense with an epilogue in their output
// stage, over the given input parameters (x, weight[, bias]); scheduled as
// the plain kernels. With `tail` (a max_pool2d spec whose windows tile the
// plane: kiln::ir::isPoolTail; a conv2d in the planes form, or a
// conv2d_winograd), the output is the chain's value pooled, each task
// pooling its planes (or tiles) from cache.
Halide::Func buildConv2dWithEpilogue(const KernelSpec &spec,
                                     const std::vector<Halide::ImageParam> &in,
                                     const Epilogue &epilogue,
                                     const Halide::Target &target,
                                     const KernelSpec *tail = nullptr);
// Fails unless conv2d `spec` is in the planes form that takes a pooling
// tail (kiln::ir::isPoolTail): groups 1, an unpacked weight with a window
// larger than 1x1, unit strides, NCHW.
void validatePoolTailAnchor(const KernelSpec &spec);
// A pooling tail (`tail`: a max_pool2d whose windows tile the plane) over
// y(x, y, c, n): the window maxima, constrained as the tail's output.
Halide::Func definePoolTail(const KernelSpec &tail, Halide::Func y,
                            const std::vector<Halide::Var> &v);
// The producer form of kiln-fuse: a 1x1 conv2d `pw` (inputs x, weight[,
// bias]) through `producer`, read by the depthwise conv2d `dw` (inputs
// weight[, bias]) with `epilogue`; the 1x1 convolution's value is computed
// in cache, never written (KernelsConv.cpp).
// With a projection: a 1x1 conv2d `spec` (inputs weight[, bias] in `in`)
// reads the depthwise conv2d's value through `epilogue` and gives the
// kernel's output through `output` (kiln-fuse's `projection`: MobileNetV2's
// whole inverted residual block); the depthwise value is never written
// either. `pw` null: no 1x1 conv2d, the depthwise conv2d reads pin[0] (an
// inverted residual block without expansion, as MobileNetV2's first; only
// with a projection).
struct Projection {
  const KernelSpec &spec;
  std::vector<Halide::ImageParam> in;
  Epilogue output;
};
void validatePointwiseDepthwise(const KernelSpec *pw, const KernelSpec &dw,
                                const KernelSpec *projection = nullptr);
Halide::Func buildPointwiseDepthwise(
    const KernelSpec *pw, const std::vector<Halide::ImageParam> &pin,
    const Epilogue &producer, const KernelSpec &dw,
    const std::vector<Halide::ImageParam> &din, const Epilogue &epilogue,
    const Halide::Target &target, const Projection *projection = nullptr);
Halide::Func buildDenseWithEpilogue(const KernelSpec &spec,
                                    const std::vector<Halide::ImageParam> &in,
                                    const Epilogue &epilogue,
                                    const Halide::Target &target);
// matmul of matrices (rank 2; a, b) with an epilogue.
Halide::Func buildMatmulWithEpilogue(const KernelSpec &spec,
                                     const std::vector<Halide::ImageParam> &in,
                                     const Epilogue &epilogue,
                                     const Halide::Target &target);

// Batch norm as a per-channel affine map, y = x * scale(c) + shift(c):
// defines scale(c) = gamma / sqrt(var + eps) and shift(c) = beta - mean *
// scale(c). The one definition behind batch_norm, batch_norm_train, the
// fused chains and the load-time weight fold (passes/lib/FoldBatchNorm.cpp
// folds constants on the host with the same formula).
void defineBatchNormAffine(Halide::Func scale, Halide::Func shift,
                           Halide::Var c, Halide::Expr gamma,
                           Halide::Expr beta, Halide::Expr mean,
                           Halide::Expr var, Halide::Expr eps);

// erf(x) of f32 as a rational function of x (odd polynomial of degree 13
// over one of degree 8 in x, x clamped to [-4, 4]: Eigen's and XLA's
// form), within 4.5e-7 of erf everywhere. One division and 13 FMAs where
// Halide's erf evaluates two branches and a 16th power. ViT-B/16's
// 768 -> 3072 product (197 rows) with its bias and GELU took 0.3 ms more
// than without them with Halide's erf, and 4.94-5.09 against 5.03-5.05 ms
// with this one (`kiln bench --profile`, alternating).
Halide::Expr erfF32(Halide::Expr x);

// dy * f'(x) for activation_grad's `activation` (and its attrs) in
// spec.attrs; validated specs only.
Halide::Expr activationGrad(const KernelSpec &spec, Halide::Expr x,
                            Halide::Expr dy);

// Computes a prologue Func at a loop level of its consumer, or at the root
// (`root`, before it), with its own schedule.
using StagePrologue =
    std::function<void(Halide::Func value, Halide::LoopLevel at, bool root)>;

// A gradient sink of a fused batch_norm_grad (kiln::ir::isGradientSink,
// docs/fusion.md): an op reducing dx inside the batch-norm gradient's
// kernel. `spec` is the op's own (dx in its dx/dy slot); `x` is
// conv2d_grad_weight's input.
struct GradientSink {
  KernelSpec spec; // reduce_sum over axes 0, 2, 3, or conv2d_grad_weight
  Halide::ImageParam x;
};

// batch_norm_grad reading dy through `dy` (a pure Func over the x
// coordinates): outputs {dx, dweight, dbias}, over the input parameters
// (x, weight, mean, var). dy is inlined into both passes, or, with
// `stage`, computed once per channel (inside the channel-major schedule's
// channel loop; before the kernel's passes otherwise). With `sinks`, each
// sink's output follows, computed from dx in the same channel loop, and
// dx is an output only if `writesDx`. `recomputedX`: x is a value the
// kernel computes (a recomputed input), staged once per channel.
std::vector<Halide::Func> buildBatchNormGradWithPrologue(
    const KernelSpec &spec, Halide::Func x, Halide::Func dy,
    Halide::ImageParam weight, Halide::ImageParam mean, Halide::ImageParam var,
    const Halide::Target &target, const StagePrologue &stage = {},
    const std::vector<GradientSink> &sinks = {}, bool writesDx = true,
    bool recomputedX = false);

// A gradient sink's conv2d_grad_weight: dw(kx, ky, ci, c) of the forward
// input x and dy (a Func over [N, O, OH, OW] coordinates, computed by the
// caller per channel), whose output-channel loop `c` the caller fuses
// with its own channel loop (compute_with). KernelsConvGrads.cpp.
Halide::Func convGradWeightOfChannel(const KernelSpec &spec,
                                     Halide::ImageParam x, Halide::Func dy,
                                     Halide::Var c, bool parallel,
                                     const Halide::Target &target);

// A gradient sink's conv2d_grad_weight in the batch-norm gradient's own
// loop over the images, for a kernel that does not write dx (the first
// layer's backward kernel): with dx = a·dy + b·xc + k (xc = x - mean),
//   dw(tap) = a·Σ dy·x_tap + b·Σ xc·x_tap + k·Σ x_tap,
// so that one loop over the batch sums Σdy, Σdy·xc, Σxc and both tap sums,
// and dy and xc are computed image by image in L1, never for the whole
// batch. KernelsConvGrads.cpp.
struct SinkLoop {
  Halide::Func part{"part"};   // part(lane, j, c): the lanes' partial sums
  Halide::Func total{"total"}; // total(j, c): j = 0, 1, 2 Σdy, Σdy·xc, Σxc
  Halide::RVar image;          // part's loop over the images
  std::function<Halide::Func(Halide::Func a, Halide::Func b, Halide::Func k)>
      output; // dw(kx, ky, ci, c) from the per-channel a, b, k
};
// Whether `spec` (a conv2d_grad_weight sink) fits the loop: groups 1, at
// most 9 taps x input channels (21 accumulators), rows of a vector or more.
bool fitsSinkLoop(const KernelSpec &spec, const Halide::Target &target);
// The loop for channel loop `c`: part and total computed per channel by
// the caller, dy and xc (Funcs over the batch-norm's x coordinates) at
// `image`.
SinkLoop defineSinkLoop(const KernelSpec &spec, Halide::ImageParam x,
                        Halide::Func dy, Halide::Func xc, Halide::Var c,
                        const Halide::Target &target);

struct PoolGradFuncs;

// max_pool2d_grad (spec: x, dy -> dx) with unit dilations, in its gather
// form over a fused kernel's parameters (x a parameter, or a value the
// kernel recomputes), for a prologue: each position sums the dy of the
// windows it wins. KernelsLayerGrads.cpp.
class MaxPoolGradGather {
public:
  MaxPoolGradGather(const KernelSpec &spec, Halide::Func x,
                    Halide::ImageParam dy);
  // dx at v = (x, y, c, n).
  Halide::Expr operator()(const std::vector<Halide::Var> &v) const;
  // Computes `value` (a pure Func over dx's coordinates reading this
  // gather) at `at` with the gather's schedule, and the windows' winners
  // inside it.
  void schedule(Halide::Func value, Halide::LoopLevel at, bool root,
                const Halide::Target &target);

private:
  KernelSpec spec_;
  std::shared_ptr<PoolGradFuncs> f_;
};

// batch_norm_train with an epilogue on y: outputs {y, mean, var}, over
// (x, weight, bias): input parameters, x possibly a value the kernel
// recomputes (a pure Func). With `tail` (a max_pool2d spec whose
// windows tile the plane: kiln::ir::isPoolTail), the first output is y
// pooled and y is never written. `recomputedX`: x is a value the kernel
// computes (a recomputed input), staged once per channel.
std::vector<Halide::Func> buildBatchNormTrainWithEpilogue(
    const KernelSpec &spec, const std::vector<Halide::Func> &in,
    const Epilogue &epilogue, const Halide::Target &target,
    const KernelSpec *tail = nullptr, bool recomputedX = false);

void registerFusedOps(OpRegistry &registry);

//===----------------------------------------------------------------------===//
// Schedule helpers
//===----------------------------------------------------------------------===//

// Elements below which a loop is not worth a parallel task.
constexpr int64_t kParallelGrain = 1 << 15;

// Parallel over `plane` (fused channel and image planes of about
// planeElements elements each) in runs of planes of at least
// kParallelGrain / 4 elements: one task per small plane (7x7, 14x14) costs
// more in task overhead than its work. The inner loop keeps the name
// `plane`, so compute_at(f, plane) still means one plane.
void parallelPlanes(Halide::Stage stage, const Halide::Var &plane,
                    int64_t planeElements);

// lrn and lrn_grad (KernelsLayers.cpp): the attributes checked, and
// s(v) = bias + alpha/size * (sum of term over the channel window of v),
// with v in Halide order (the channel is v[rank - 2]) and zero outside
// [0, C): term(at) reads the operand at coordinates `at`.
struct LrnParams {
  int size = 1, lo = 0, hi = 0, channels = 1;
  float alpha = 0, beta = 0, bias = 1;
};
LrnParams validateLrn(const KernelSpec &spec); // lrn and lrn_grad
// Sum of term(at) over the channels c + first .. c + first + size - 1 of
// position v that lie in [0, C).
Halide::Expr lrnWindowSum(
    const LrnParams &p, const std::vector<Halide::Var> &v, int first,
    const std::function<Halide::Expr(const std::vector<Halide::Expr> &)> &term);

// Largest of vec, vec/2, vec/4 not above extent; 1 if extent < vec/4.
// Passed through guardedWidth: the width is safe with a guarded tail.
int vectorWidthFor(int extent, int vec);
// CPU register tiles of a x b vector sums, fed by a vectors of one operand
// and b broadcasts of the other (LLVM hoists the broadcasts out of the
// unrolled tile). The tiles were sized for AVX-512's 32 registers; on
// AVX2's 16 they spilled sums to the stack in every FMA (a ResNet-18
// Winograd layer 24 -> 15 ms, docs/codegen.md).
// Whether the tile's sums and operands fit the registers (one over is
// measured harmless: 5 x 2 on AVX2). `streamed`: a 1x1 convolution's tile
// of a vectors of positions by b channels, whose b broadcast weights LLVM
// loads one at a time (no unrolled taps to hoist them across): the sums,
// the a vectors and one broadcast. MobileNetV2 at batch 8 on AVX2 (`kiln
// bench --profile`): its 576-channel producer on 14x14 2 x 4 3.08 -> 2 x 6
// 2.62 ms, its 576 -> 96 projection 2.52 -> 2.25. Tiles with unrolled
// taps lost with one broadcast live (a 6 x 2 channel-form tile of
// ResNet-18's 3x3 stride-2 layer 6.1 -> 10.4 ms).
bool fitsRegisters(int a, int b, const Halide::Target &target,
                   bool streamed = false);
// Relative time per FMA of an a x b tile: 1 when FMA-bound; more when
// bound by its loads (a + b per a * b FMAs, 1 a FMA sustained) or by the
// FMA latency (10 sums in flight: Zen 2's 5 cycles at 2 a cycle).
double registerTileCost(int a, int b);
// The sub-tile of an a x b tile to run the whole reduction in: (a, b)
// where it fits the registers, else the i x j (i dividing a, j dividing b)
// that fits with the least registerTileCost, ties to the larger i (AVX2:
// 2 x 8 -> 2 x 4, 2 x 12 -> 2 x 4, 4 x 8 -> 4 x 2; streamed, 2 x 12 ->
// 2 x 6).
std::pair<int, int> registerSubTile(int a, int b, const Halide::Target &target,
                                    bool streamed = false);
// The b <= maxB of least registerTileCost(a, b) for which an a x b tile
// fits the registers, ties to the larger b; 0 where none does.
int registerTileWidth(int a, int maxB, const Halide::Target &target,
                      bool streamed = false);
// Cuts an update stage's register tile (`tv`: `vectors` vectors, or null
// for one; `c`: `channels`) into registerSubTile's sub-tiles: returns the
// loops over the sub-tiles (none where the tile fits), for the caller to
// order outside the reduction, so that each sub-tile runs all of it.
std::vector<Halide::VarOrRVar>
splitSubTiles(Halide::Stage stage, const Halide::Var *tv, Halide::Var c,
              int vectors, int channels, const Halide::Target &target,
              bool streamed = false);
// The width at which to vectorize a loop of `extent` by `width` lanes with
// a guarded tail (TailStrategy::GuardWithIf or Predicate): `width`, or
// half of it (1: do not vectorize) where the loop would be one full vector
// and a one-lane tail (extent == width + 1). Halide 14 compiles that loop,
// when its body holds a let (a value used twice, as (x - mean)^2), as the
// first vector twice and no tail: the last element is never written. Every
// guarded vectorization whose extent the schedule knows goes through here.
int guardedWidth(int extent, int width);
// Vectorizes a row copy's column loop `x` (an RVar of constant extent: a
// row of a zero-padded plane's interior, each column its own position):
// rows of a whole number of vectors in vectors; other rows of up to 4
// vectors as one vector of the row's width (LLVM stores it as whole and
// narrower pieces); wider or unknown rows in vectors with a guarded tail.
// A guarded vector is a masked store (vmaskmovps, ~15 cycles on Zen 2):
// copying 7-wide rows in guarded 8-lane vectors made the phase planes 46%
// of a 960-channel depthwise conv2d on 7x7 (Halide's profiler).
void vectorizeRowCopy(Halide::Stage stage, Halide::RVar x,
                      const Halide::Target &target);
// x rounded to the nearest integer, halves to even, on every target.
Halide::Expr roundHalfEven(Halide::Expr x);

// The coordinates of the first extents.size() dims (innermost first) at
// linear position `index` of their dense flattening: index % e0,
// (index / e0) % e1, ..., the last without the modulo. Over a buffer with
// dense strides the simplifier folds the address back to `index`, so the
// flattened dim vectorizes as one run (a 14x14 plane: 196 lanes).
std::vector<Halide::Expr> unflatten(Halide::Expr index,
                                    const std::vector<int> &extents);

// Schedules a pure Func over a dense static domain: the innermost dims are
// fused until they fill a vector, vectorized, and the outer dims are fused
// into one parallel loop. Works for any shape, including rank 0 and 1x1.
// On a GPU target (Target::has_gpu_feature) it is scheduleElementwiseGpu.
void scheduleElementwise(Halide::Func f, const std::vector<Halide::Var> &vars,
                         const std::vector<int> &extents,
                         const Halide::Target &target);

// Threads per block of the GPU schedules.
constexpr int kGpuThreads = 256;
// Partial sums per (channel, image) of channelSums on a GPU: one warp's
// coalesced read of the plane.
constexpr int kGpuSumLanes = 32;

// The GPU form of scheduleElementwise: every dim fused, one element per
// thread, blocks of kGpuThreads; rank 0 runs as one GPU thread. A stage
// (an update) takes its pure dims; its reduction loops stay serial in the
// thread.
void scheduleElementwiseGpu(Halide::Stage stage,
                            const std::vector<Halide::Var> &vars);

// A Func computed at the root: on a CPU target just compute_root(); on a
// GPU target also every stage (the pure definition and each update) as
// one GPU thread per element of its pure dims (scheduleElementwiseGpu's
// tiling), the reduction loops serial in the thread; a rank-0 Func runs
// each stage as one GPU thread.
void rootStages(Halide::Func f, const Halide::Target &target);

// GPU: a [W,H,C,N] input zero outside, computed once at the root (one
// thread per element) over the region its consumers read, so that a
// convolution's inner loop loads with no bounds selects or clamps. An
// inlined BoundaryConditions::constant_exterior costs each tap's load two
// clamps, four comparisons and a select, integer work that on an H200 left
// the register-tiled weight gradient near 3.6 TFLOP/s.
Halide::Func gpuZeroPadded(Halide::ImageParam in, const std::string &name);

// GPU threads over a tw x th tile of (x, y) (xi, yi: thread x and y), the
// tiles' indices and every dim in `outer` (innermost first) fused into one
// block index, CUDA's block x: its y and z stop at 65535 blocks, which
// (channels x images) of a batch-64 ResNet pass (cuLaunchKernel:
// CUDA_ERROR_INVALID_VALUE on an H200). Tails guarded. Returns the block
// index.
Halide::Var gpuPlaneTiles(Halide::Stage stage, Halide::Var x, Halide::Var y,
                          Halide::Var xi, Halide::Var yi, int tw, int th,
                          const std::vector<Halide::Var> &outer);

// A GPU convolution's tiles (convTilesGpu): each thread sums `rows` output
// rows x `channels` output channels of one column; a block's threads are
// tw columns x th row tiles x tc channel tiles.
struct GpuConvTiles {
  int rows = 1, channels = 1, tw = 1, th = 1, tc = 1;
};
// The tiles for an output of shape [N, O, H, W] (see convTilesGpu);
// maxBlockRows > 0 caps a block's output rows (th x rows), for blocks that
// stage their input rows in shared memory.
GpuConvTiles chooseConvTilesGpu(const std::vector<int64_t> &shape,
                                int maxBlockRows = 0);

// A convolution's input staged in shared memory by each block
// (convTilesGpu): `input`, a [x, y, c, n] Func that acc reads and that reads
// clamped at any coordinates, is computed per block over width x height x
// channels (the region the block reads, of one chunk of channels) before
// any sums. `outer`: block dims past the image (the split sums' chunk).
struct GpuConvStaging {
  GpuConvTiles tiles;
  Halide::Func input;
  int width = 0, height = 0, channels = 0;
  std::vector<Halide::Var> outer;
};

// One axis of a GPU window sum (WindowSum): output coordinate v and tap t
// read input coordinate v * scale + t * step + offset.
struct WindowAxis {
  int scale = 1, step = 1, offset = 0, taps = 1;
};
// A sum over a window and a reduced channel dim, the convolution's and each
// stride phase of its input gradient's:
//   sum(x, y, c, n) = sum over taps (tx, ty) and channels k < channels
//                     of weight(c, tx, ty, k) * input(x', y', k, n)
// (x', y' by WindowAxis). `input` reads anywhere (clamped or zero outside),
// `weight` takes channels c past the last (register tiles).
struct WindowSum {
  std::string name;
  Halide::Func input;
  std::function<Halide::Expr(Halide::Expr c, Halide::Expr tx, Halide::Expr ty,
                             Halide::Expr k)>
      weight;
  WindowAxis x, y;
  int channels = 0;
  std::vector<int64_t> shape; // the sum's [N, C, H, W]
};
// GPU: a window sum's input staged in shared memory by each block, in
// chunks of `chunk` channels (the largest divisor of the channels whose
// region fits: 48 KiB on CUDA, 32 on OpenCL); chunk 0 where that takes more
// than 16 chunks (split sums write chunks x the output).
struct WindowStaging {
  GpuConvStaging staging;
  int chunk = 0;
};
WindowStaging planWindowStaging(const WindowSum &sum,
                                const Halide::Target &target);
// Defines (through `define`, with the value init(c) + sum and the vars
// (x, y, c, n)) and schedules `out`: one kernel of register tiles summing
// from each block's staged input where one chunk holds every channel; else
// split sums, one kernel summing each chunk into partial(x, y, c, n, chunk)
// (a chunk per block) and `out` adding the chunks elementwise. No sum
// crosses a barrier: Halide 14 declares a block-level register tile whole
// in every thread, and LLVM left such sums in local memory across the
// chunks' barriers (docs/gpu.md).
void stagedWindowSumGpu(
    const WindowSum &sum, WindowStaging plan, Halide::Func out,
    const std::function<Halide::Expr(Halide::Expr c)> &init,
    const std::function<void(Halide::Expr value,
                             const std::vector<Halide::Var> &v)> &define);

// GPU: a convolution's sum out(x, y, o, n) = acc(...), acc a pure
// definition and one update over r = (window x, window y, reduced
// channels); `shape` is out's [N, O, H, W], `taps` the window's size. Each
// thread sums a register tile of up to 4 rows x 8 channels of one column
// (each weight feeds 4 FMAs, each input value 8; windows up to 3x3
// unrolled, so neighbouring taps share their loads), the tile shrinking
// (rows first) while the layer would have under 32Ki threads. Threads: up
// to 16 columns x 8 row tiles, times channel tiles up to ~256 a block, so
// 7x7 and 14x14 planes still fill blocks; (pixel tiles, channel tiles,
// image) in the block index (gpuPlaneTiles). Edge tiles sum past the last
// row and channel, so acc must read those clamped (min(y, H - 1),
// min(o, O - 1)); stores stay inside. H200, ResNet-18 at batch 64: the
// forward convolutions 50.0 -> 33.6 ms (from one pixel x 4 channels per
// thread; docs/gpu.md).
// vectorChannels: acc reads its weights from gpuWeightsByChannel, so a
// tile's channels load as 4-wide vectors (ld.global.v4) where one load per
// weight was needed.
// staging: the block's input in shared memory, its tiles from the staging
// (else chooseConvTilesGpu(shape), the input read from global memory).
void convTilesGpu(Halide::Func out, Halide::Func acc, Halide::Var x,
                  Halide::Var y, Halide::Var o, Halide::Var n, Halide::RDom r,
                  const std::vector<int64_t> &shape, int64_t taps,
                  bool vectorChannels = false,
                  const GpuConvStaging *staging = nullptr);
// GPU: a [KW,KH,C,O] weight with the register tile's channel dim first,
// w(ch, kx, ky, other): ch is O (channelDim 3, the forward) or C
// (channelDim 2, the input gradient), clamped to the last so that edge
// tiles read in bounds; computed once at the root. A packed forward weight
// [O/B, C, KH, KW, B] (Halide's [B, KW, KH, C, O/B]) too.
Halide::Func gpuWeightsByChannel(Halide::ImageParam weight, int channelDim);

} // namespace kiln::codegen::detail

#endif // KILN_CODEGEN_LIB_KERNELS_H
