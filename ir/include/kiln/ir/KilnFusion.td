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
    its result may run inside its output loop (conv2d, dense).
  }];
  let cppNamespace = "::kiln::ir";
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
    `kind` names the pattern that made it (`conv_bn_act`, `epilogue`,
    `elementwise`).

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
  let arguments = (ins StrAttr:$kind, Variadic<AnyRankedTensor>:$inputs);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $kind `(` $inputs `)` attr-dict `:` functional-type($inputs, results) $body
  }];
  let hasVerifier = 1;
}

def Kiln_YieldOp : Op<Kiln_Dialect, "yield", [Pure, Terminator,
    HasParent<"FusedOp">]> {
  let summary = "the result of a fused kernel";
  let arguments = (ins AnyRankedTensor:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

#endif // KILN_FUSION_TD
