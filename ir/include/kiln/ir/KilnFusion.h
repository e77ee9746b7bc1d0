//===- KilnFusion.h - fused kernels and kernel attributes ----------------===//
#ifndef KILN_IR_KILNFUSION_H
#define KILN_IR_KILNFUSION_H

#include "kiln/ir/KilnDialect.h"

#include "mlir/IR/RegionKindInterface.h"

#include <nlohmann/json.hpp>

#include "kiln/ir/KilnFusionInterfaces.h.inc"

#define GET_OP_CLASSES
#include "kiln/ir/KilnFusion.h.inc"

namespace kiln::ir {

// An op's kernel attributes (docs/ops.md): every attribute converted to
// JSON with defaults filled in (pass annotations `kiln.*` left out), then
// the op's canonicalizeKernelAttrs. Used by the lowering and fused kernels.
// Emits an error on the op and fails for attributes kiln cannot lower.
mlir::FailureOr<nlohmann::json> kernelAttributes(mlir::Operation *op);

// A human-readable name of a kernel op for reports: the op's name without
// the dialect ("conv2d"), or for a fused op its kind and inner ops
// ("fused epilogue: conv2d+batch_norm+relu").
std::string kernelLabel(mlir::Operation *op);

// Whether `op` can start a prologue chain although it is not elementwise:
// max_pool2d_grad with unit dilations, whose gather form is a pure function
// of the input position (each position takes the dy of the windows it
// wins), so that the consumer computes it where it reads it.
bool isPrologueSource(mlir::Operation *op);

// Whether `op` can reduce a prologue consumer's result `dx` [N, C, H, W]
// inside the consumer's kernel (a gradient sink, docs/fusion.md): the
// channel sum (reduce_sum over every axis but 1: a conv bias's gradient,
// computed from the kernel's sums without a pass over dx), or a
// conv2d_grad_weight with dy = dx, groups 1, no Winograd tile and at most
// 27 weights per output channel (a first layer's: C * KH * KW, RGB 3x3)
// where dx has planes of 256 or more positions (the batch-norm gradient's
// channel-major form, codegen's channelMajor), so that it reads each
// channel of dx from cache.
bool isGradientSink(mlir::Operation *op, mlir::Value dx);

// Whether `op` can take an elementwise epilogue as the first op of a fused
// kernel: an op with FusionAnchorOpInterface, a matmul only as a product
// of matrices with static shapes (codegen's dense schedule; a batch of
// products takes none).
bool isEpilogueAnchor(mlir::Operation *op);

// Whether `op` can end the epilogue chain of `anchor` as its pooling tail
// (docs/fusion.md), so that the kernel pools each plane in cache and the
// chain's value is never written: a max_pool2d with windows of at most
// 3x3 that tile the plane without overlap or padding (kernel = strides,
// unit dilations, every window inside), after
// - a batch_norm_train, on planes of 256 or more positions (the batch-norm
//   kernel's channel-major form);
// - a conv2d that codegen computes in its planes form, whole planes per
//   task (groups 1, an unpacked 4-D weight with a window larger than 1x1,
//   unit strides): the example CNN's and LeNet's conv + ReLU + 2x2 pool in
//   inference;
// - a conv2d_winograd, where the pool is 2x2 with stride 2 over an even
//   plane: every window lies in one output tile (m = 2 or 4), pooled as the
//   tile is transformed (VGG's blocks; the example CNN on Zen 4).
bool isPoolTail(mlir::Operation *anchor, mlir::Operation *op);

// Whether a fused kernel may recompute the conv2d `op`'s result where it
// reads it instead of reading it from memory (a recomputed input,
// docs/fusion.md): groups 1, an unpacked weight, static shapes, at most
// 27 multiplies per output (C * KH * KW: a first layer on one or three
// channels, 3x3), planes of 256 or more positions (the batch-norm
// kernels' channel-major forms), and both one channel of the output (all
// images) and the whole input within kRecomputedChannelBytes: the kernels
// compute the conv channel by channel into a buffer, reading all of the
// input for each channel, and both must stay in L2 beside their own.
// (LeNet's first layer at batch 64, 200 KB each: the training step 1.11x
// faster; at batch 256, 800 KB: 1.01x; MobileNetV2's stem and 16 -> 96 /
// 24 -> 144 expansions: the step at batch 16 264.6 -> 307.7 ms, at batch 2
// 39.7 -> 44.6 ms, where the expansions' inputs are 1.6 MB.)
constexpr int64_t kRecomputedChannelBytes = 256 * 1024;
bool isRecomputableConv(mlir::Operation *op);

// Attaches FusionAnchorOpInterface to conv2d, dense, matmul and
// batch_norm_train (called from the dialect's initialize(), after the ops
// are added).
void attachFusionInterfaces(mlir::MLIRContext *context);

} // namespace kiln::ir

#endif // KILN_IR_KILNFUSION_H
