//===- KilnFusion.td - fused kernels --------------------------*- tablegen -*-===//
//
// A fused kernel is a region holding the ops it computes, visible in text IR
// and lowered to one Halide pipeline (docs/fusion.md).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FUSION_TD
#define KILN_FUSION_TD

include "kiln/ir/KilnDialect.td"
include "kiln/ir/KilnInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Kiln_FusionAnchorOpInterface : OpInterface<"FusionAnchorOpInterface"> {
  let description = [{
    The op's kernel can take an elementwise epilogue: the ops that consume
    its first result may run inside its output loop (conv2d, dense, a
    matmul of matrices with static shapes, and batch_norm_train, whose
    batch mean and variance become extra results of the fused op).
  }];
  let cppNamespace = "::kiln::ir";
}

def Kiln_FusionPrologueOpInterface : OpInterface<"FusionPrologueOpInterface"> {
  let description = [{
    The op's kernel can compute one of its operands itself, from an
    elementwise producer inlined where it reads the operand (batch_norm_grad
    reading dy through activation_grad): the producer's result is never
    written to memory.
  }];
  let cppNamespace = "::kiln::ir";
  let methods = [
    InterfaceMethod<"The operand the producer chain computes.",
      "unsigned", "getPrologueOperand">,
  ];
}

def Kiln_FusedOp : Op<Kiln_Dialect, "fused", [Pure, IsolatedFromAbove,
    DeclareOpInterfaceMethods<Kiln_ShapeInferenceOpInterface>,
    DeclareOpInterfaceMethods<Kiln_KernelOpInterface,
                              ["canonicalizeKernelAttrs"]>]> {
  let summary = "several ops computed by one kernel";
  let description = [{
    The body computes the result from the block arguments (the kernel's
    inputs): optionally an anchor (an op with FusionAnchorOpInterface) and
    then a chain of elementwise ops, each consuming the previous result.
    The first result is the chain's; an anchor with several results
    (batch_norm_train: y, mean, var) yields its other results after it, in
    order, and the fused op returns them too. Prologue form: the chain
    (without an anchor) ends in a consumer (FusionPrologueOpInterface) that
    reads the chain's value as its prologue operand and block arguments
    otherwise; the body yields all the consumer's results. A prologue chain
    may start with a max_pool2d_grad with unit dilations (its gather form
    computes each position's gradient from the windows it wins), or reach
    one after elementwise ops that recompute its input from a forward
    value (relu(batch_norm(z)) with the batch statistics: the ReLU output
    is not read back); the ops after the gather may read that recomputed
    value too. Gradient
    sinks may follow the consumer: ops that reduce its first result (dx)
    inside its channel loop (a channel sum, a first layer's
    conv2d_grad_weight; `kiln::ir::isGradientSink`); the body then yields
    the consumer's results, the first left out when only the sinks read
    it, then the sinks' results. A batch_norm_train chain may end in a
    max_pool2d (`kiln::ir::isPoolTail`: non-overlapping windows inside the
    plane): the fused op then yields the pooled result (then mean and var)
    and the chain's value is never written. Producer form:
    after the first anchor's chain, a second anchor reads the chain's value
    as its first operand, followed by its own chain; the kernel computes
    the first chain's value in cache, where the second anchor reads it
    (a 1x1 conv2d + activation into a depthwise conv2d: the expanded tensor
    is never written). A third anchor may read the second segment's value
    the same way (the projection form: a 1x1 conv2d reading the depthwise
    conv2d's chain, MobileNetV2's whole inverted residual block, whose
    depthwise value is not written either). Recomputed inputs: the first
    `recomputed` ops of the body are conv2d ops reading only block
    arguments (`kiln::ir::isRecomputableConv`: groups 1, at most 27
    multiplies per output, small enough to stay in L2), whose results the
    other ops read as if they
    were kernel inputs; the kernel computes them where they are read
    (a first layer's conv2d inside its batch_norm_train and
    batch_norm_grad kernels: its output is never written). `kind` names the pattern that
    made it (`epilogue`, `elementwise`, `prologue`, `producer`,
    `attention`). Attention form:
    a matmul (the scores), elementwise ops on them (scale, mask), a softmax
    along the last axis and a matmul reading its result as the untransposed
    left operand; the body yields the last matmul's result.

    ```mlir
    %y = kiln.fused "conv_bn_act" (%x, %w, %g, %b, %m, %v) : (...) -> tensor<1x8x4x4xf32> {
    ^bb0(%a0: ..., ...):
      %c = kiln.conv2d %a0, %a1 : ...
      %n = kiln.batch_norm %c, %a2, %a3, %a4, %a5 : ...
      %r = kiln.relu %n : ...
      kiln.yield %r : tensor<1x8x4x4xf32>
    }
    ```
  }];
  let arguments = (ins StrAttr:$kind, Variadic<AnyRankedTensor>:$inputs,
                       DefaultValuedAttr<I64Attr, "0">:$recomputed);
  let results = (outs RankedTensorOf<[F32]>:$result,
                      Variadic<RankedTensorOf<[F32]>>:$anchor_results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $kind `(` $inputs `)` attr-dict `:` functional-type($inputs, results) $body
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    // The body's last op when it is a prologue consumer, else null.
    ::mlir::Operation *prologueConsumer();
    // Whether `value` is a kernel input: a block argument or the result of
    // one of the first `recomputed` ops (a recomputed input).
    bool isKernelInput(::mlir::Value value);
  }];
}

def Kiln_YieldOp : Op<Kiln_Dialect, "yield", [Pure, Terminator,
    HasParent<"FusedOp">]> {
  let summary = "the results of a fused kernel";
  let arguments = (ins Variadic<AnyRankedTensor>:$values);
  let assemblyFormat = "$values attr-dict `:` type($values)";
}

#endif // KILN_FUSION_TD
