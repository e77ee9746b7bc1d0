//===- KilnOps.td - kiln dialect operations -----------------*- tablegen -*-===//
//
// Semantics follow PyTorch/ONNX; docs/ops.md is the reference for every op,
// its attributes and defaults.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_OPS_TD
#define KILN_OPS_TD

include "kiln/ir/KilnDialect.td"
include "kiln/ir/KilnInterfaces.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

def Kiln_F32Tensor : RankedTensorOf<[F32]>;
def Kiln_LabelTensor : RankedTensorOf<[I32]>;
def Kiln_Scalar : 0DTensorOf<[F32]>;

class Kiln_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kiln_Dialect, mnemonic, !listconcat(traits, [Pure])>;

// ODS builders without result types for every op with shape inference:
// `b.create<ReluOp>(loc, x)`, `b.create<MatmulOp>(loc, a, b, ta, tb)` or
// `b.create<Conv2DOp>(loc, ValueRange{x, w}, attrs)`. InferTypeOpInterface's
// inferReturnTypes asks the op's own ShapeInferenceOpInterface
// (kiln::ir::inferResultTypesOf). Its verification is kiln's
// (verifyInferredTypes, with its messages), so refineReturnTypes accepts the
// declared types. A builder whose operands cannot be typed is a fatal error
// (MLIR's rule); code that builds from user input asks inferResultTypesOf
// first and reports the problem (GraphBuilder, the ONNX importer).
def Kiln_InferredResultTypesTrait : NativeOpTrait<"InferredResultTypes", [], [{}], [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *context, std::optional<::mlir::Location> location,
        ::mlir::ValueRange operands, ::mlir::DictionaryAttr attributes,
        ::mlir::OpaqueProperties properties, ::mlir::RegionRange regions,
        ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      return ::kiln::ir::inferResultTypesOf(
          ::mlir::OperationName(getOperationName(), context), location,
          operands, attributes, properties, types);
    }
    ::llvm::LogicalResult $cppClass::refineReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location>,
        ::mlir::ValueRange, ::mlir::DictionaryAttr, ::mlir::OpaqueProperties,
        ::mlir::RegionRange, ::llvm::SmallVectorImpl<::mlir::Type> &) {
      return ::mlir::success();
    }
  }]> {
  let cppNamespace = "::kiln::ir";
}
def Kiln_InferredResultTypes : TraitList<[
    DeclareOpInterfaceMethods<InferTypeOpInterface, ["refineReturnTypes"]>,
    Kiln_InferredResultTypesTrait]>;

// An op with inferred result shapes that becomes one kernel.
class Kiln_KernelOp<string mnemonic, list<Trait> traits = []>
    : Kiln_Op<mnemonic, !listconcat(traits, [
        DeclareOpInterfaceMethods<Kiln_ShapeInferenceOpInterface>,
        Kiln_InferredResultTypes,
        Kiln_KernelOpInterface])> {
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

// Elementwise map of one tensor: the result has the operand's type.
class Kiln_UnaryOp<string mnemonic, string formula, list<Trait> traits = []>
    : Kiln_KernelOp<mnemonic, !listconcat(traits,
        [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>])> {
  let summary = "elementwise " # formula;
  let arguments = (ins Kiln_F32Tensor:$input);
  let results = (outs Kiln_F32Tensor:$result);
  let description = "Computes `" # formula # "` elementwise.\n\n" #
    "```mlir\n%y = kiln." # mnemonic #
    " %x : (tensor<2x3xf32>) -> tensor<2x3xf32>\n```";
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::inferResultTypes(
        ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      types.push_back(getInput().getType());
      return ::mlir::success();
    }
    ::mlir::LogicalResult $cppClass::buildGradients(::mlir::OpBuilder &builder,
        ::llvm::ArrayRef<::mlir::Value> resultGrads,
        ::llvm::SmallVectorImpl<::mlir::Value> &operandGrads) {
      return ::kiln::ir::buildActivationGradient(getOperation(), builder,
                                                  resultGrads, operandGrads);
    }
  }];
}

// An elementwise activation (ElementwiseOpInterface: may run in place).
class Kiln_ElementwiseUnaryOp<string mnemonic, string formula>
    : Kiln_UnaryOp<mnemonic, formula, [Kiln_ElementwiseOpInterface,
                                       Kiln_RecomputeOpInterface]>;

// Numpy-broadcasting binary elementwise op.
class Kiln_BinaryOp<string mnemonic, string formula>
    : Kiln_KernelOp<mnemonic, [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>,
                               Kiln_ElementwiseOpInterface,
                               Kiln_RecomputeOpInterface]> {
  let summary = "elementwise " # formula # " with numpy broadcasting";
  let description = "Computes `" # formula # "` elementwise; shapes broadcast " #
    "as in numpy (trailing dims aligned, size-1 dims stretched).\n\n" #
    "```mlir\n%c = kiln." # mnemonic #
    " %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>\n```";
  let arguments = (ins Kiln_F32Tensor:$lhs, Kiln_F32Tensor:$rhs);
  let results = (outs Kiln_F32Tensor:$result);
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::inferResultTypes(
        ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      return ::kiln::ir::inferBroadcast(getOperation(), types);
    }
    ::mlir::LogicalResult $cppClass::buildGradients(::mlir::OpBuilder &builder,
        ::llvm::ArrayRef<::mlir::Value> resultGrads,
        ::llvm::SmallVectorImpl<::mlir::Value> &operandGrads) {
      return ::kiln::ir::buildBinaryGradient(getOperation(), builder,
                                              resultGrads, operandGrads);
    }
  }];
}

// Loss: two same-shaped tensors reduced to a scalar (mean reduction).
class Kiln_PairLossOp<string mnemonic, string formula>
    : Kiln_KernelOp<mnemonic, [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = formula # " loss, mean reduction";
  let description = "Loss `" # formula # "` averaged over all elements; " #
    "`pred` and `target` have the same shape.\n\n" #
    "```mlir\n%l = kiln." # mnemonic #
    " %p, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>\n```";
  let arguments = (ins Kiln_F32Tensor:$pred, Kiln_F32Tensor:$target);
  let results = (outs Kiln_Scalar:$loss);
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::inferResultTypes(
        ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      return ::kiln::ir::inferPairLoss(getOperation(), types);
    }
    ::mlir::LogicalResult $cppClass::buildGradients(::mlir::OpBuilder &builder,
        ::llvm::ArrayRef<::mlir::Value> resultGrads,
        ::llvm::SmallVectorImpl<::mlir::Value> &operandGrads) {
      return ::kiln::ir::buildLossGradient(getOperation(), builder,
                                            resultGrads, operandGrads);
    }
  }];
}

//===----------------------------------------------------------------------===//
// Parameters and constants
//===----------------------------------------------------------------------===//

def Kiln_ParamOp : Kiln_Op<"param"> {
  let summary = "named persistent tensor (weights, biases, statistics)";
  let description = [{
    A named tensor owned by the runtime: loaded from or saved to safetensors
    under `name`, initialized with `init` otherwise (see docs/ops.md for the
    initializers and the fan-in/fan-out convention).

    ```mlir
    %w = kiln.param "conv1.weight" {init = "he_uniform"} : tensor<8x1x3x3xf32>
    %b = kiln.param "conv1.bias" {init = "torch_default", fan_in = 9} : tensor<8xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name,
                       DefaultValuedStrAttr<StrAttr, "zeros">:$init,
                       OptionalAttr<I64Attr>:$fan_in,
                       OptionalAttr<I64Attr>:$fan_out);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Kiln_ConstantOp : Kiln_Op<"constant", [ConstantLike,
    TypesMatchWith<"result type matches the value's type", "value", "result",
                   "$_self">]> {
  let summary = "constant tensor";
  let description = [{
    ```mlir
    %c = kiln.constant dense<[1.0, 2.0]> : tensor<2xf32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$value attr-dict";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Views
//===----------------------------------------------------------------------===//

class Kiln_ViewOp<string mnemonic, list<Trait> traits = []> : Kiln_Op<mnemonic, !listconcat(traits, [
    DeclareOpInterfaceMethods<Kiln_ShapeInferenceOpInterface>,
    Kiln_InferredResultTypes,
    DeclareOpInterfaceMethods<Kiln_GradientOpInterface>,
    Kiln_ViewOpInterface])> {
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def Kiln_FlattenOp : Kiln_ViewOp<"flatten"> {
  let summary = "collapse dims before and after `axis` into a matrix";
  let description = [{
    Result shape `[prod(shape[:axis]), prod(shape[axis:])]` (ONNX Flatten).

    ```mlir
    %f = kiln.flatten %x : (tensor<2x8x7x7xf32>) -> tensor<2x392xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, DefaultValuedAttr<I64Attr, "1">:$axis);
}

def Kiln_ReshapeOp : Kiln_ViewOp<"reshape"> {
  let summary = "reinterpret a tensor with another shape";
  let description = [{
    `shape` entries: `0` copies the input's dim at that index, `-1` (at most
    one) is inferred from the element count (ONNX Reshape).

    ```mlir
    %r = kiln.reshape %x {shape = array<i64: 0, -1>} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$shape);
  // A chain of reshapes folds into one; a reshape that only adds unit dims
  // moves below the elementwise ops reading it (so that they fuse with its
  // input's producer).
  let hasCanonicalizer = 1;
}

def Kiln_DropoutOp : Kiln_ViewOp<"dropout", [DeclareOpInterfaceMethods<Kiln_TrainingModeOpInterface>]> {
  let summary = "dropout (identity at inference)";
  let description = [{
    Zeroes elements with probability `rate` and scales the rest by
    `1/(1-rate)` when training; the identity at inference.

    ```mlir
    %d = kiln.dropout %x {rate = 0.25 : f32} : (tensor<2x8xf32>) -> tensor<2x8xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input,
                       DefaultValuedAttr<F32Attr, "0.5">:$rate);
  let hasVerifier = 1;
}

def Kiln_IdentityOp : Kiln_ViewOp<"identity"> {
  let summary = "identity activation";
  let description = [{
    ```mlir
    %y = kiln.identity %x : (tensor<4xf32>) -> tensor<4xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input);
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

def Kiln_DenseOp : Kiln_KernelOp<"dense", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>,
                                           Kiln_ChannelAffineFoldOpInterface]> {
  let summary = "fully connected layer: x·weightᵀ + bias";
  let description = [{
    `input [N,K]`, `weight [O,K]` (PyTorch Linear layout), optional
    `bias [O]`; result `[N,O]`.

    ```mlir
    %y = kiln.dense %x, %w, %b : (tensor<2x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$weight,
                       Optional<Kiln_F32Tensor>:$bias);
  let results = (outs Kiln_F32Tensor:$result);
}


def Kiln_Conv2DOp : Kiln_KernelOp<"conv2d", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>,
    DeclareOpInterfaceMethods<Kiln_ChannelAffineFoldOpInterface, ["canFoldChannelAffine"]>]> {
  let summary = "2-D convolution (NCHW), stride, padding, dilation, groups";
  let description = [{
    `input [N,C,H,W]`, `weight [O,C/groups,KH,KW]`, optional `bias [O]`.
    `pads` are `[top, left, bottom, right]`; `auto_pad` is `notset` (use
    `pads`), `valid`, `same_upper` or `same_lower` as in ONNX.

    The weight may also come packed by blocks of `B` output channels,
    `[O/B, C, KH, KW, B]` with channel `b*B + i` at `[b, c, ky, kx, i]`
    (groups 1): `kiln-pack-weights` packs the weights of inference graphs
    so that the kernel reads vectors of output channels, once at load time
    instead of on every call. A packed convolution has no gradient.

    ```mlir
    %y = kiln.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>}
        : (tensor<1x1x28x28xf32>, tensor<8x1x3x3xf32>, tensor<8xf32>) -> tensor<1x8x28x28xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$weight,
      Optional<Kiln_F32Tensor>:$bias,
      DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$strides,
      DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0, 0, 0}">:$pads,
      DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilations,
      DefaultValuedAttr<I64Attr, "1">:$groups,
      DefaultValuedStrAttr<StrAttr, "notset">:$auto_pad);
  let results = (outs Kiln_F32Tensor:$result);
  let extraClassDeclaration = [{
    ::mlir::LogicalResult canonicalizeKernelAttrs(::nlohmann::json &attrs);
    /// The weight is [O/B, C, KH, KW, B] (kiln-pack-weights).
    bool hasPackedWeight() {
      return ::llvm::cast<::mlir::RankedTensorType>(getWeight().getType())
                 .getRank() == 5;
    }
    /// One output channel per input channel: a static weight [C, 1, KH,
    /// KW] over C input channels, in C groups.
    bool isDepthwise();
  }];
}

class Kiln_Pool2DOp<string mnemonic, string what> : Kiln_KernelOp<mnemonic, [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "2-D " # what # " pooling (NCHW)";
  let description = "Pools windows of `kernel` with `strides` (default: the " #
    "kernel), `pads [top, left, bottom, right]`, `ceil_mode` and `auto_pad` " #
    "as in PyTorch/ONNX.\n\n" #
    "```mlir\n%p = kiln." # mnemonic # " %x {kernel = array<i64: 2, 2>} " #
    ": (tensor<1x8x28x28xf32>) -> tensor<1x8x14x14xf32>\n```";
  let results = (outs Kiln_F32Tensor:$result);
  let extraClassDeclaration = [{
    ::mlir::LogicalResult canonicalizeKernelAttrs(::nlohmann::json &attrs);
  }];
}

def Kiln_MaxPool2DOp : Kiln_Pool2DOp<"max_pool2d", "max"> {
  let arguments = (ins Kiln_F32Tensor:$input, DenseI64ArrayAttr:$kernel,
      OptionalAttr<DenseI64ArrayAttr>:$strides,
      DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0, 0, 0}">:$pads,
      DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilations,
      DefaultValuedAttr<BoolAttr, "false">:$ceil_mode,
      DefaultValuedStrAttr<StrAttr, "notset">:$auto_pad);
}

def Kiln_MaxPool2DIndicesOp : Kiln_KernelOp<"max_pool2d_indices"> {
  let summary = "positions of max_pool2d's maxima";
  let description = [{
    ONNX MaxPool's Indices output (as i32): for each window of
    `kiln.max_pool2d` with the same attributes, the position of its first
    maximum in row-major window order (padding never wins), flattened over
    the whole input `[N, C, H, W]`: `((n·C + c)·H + h)·W + w` (ONNX's
    storage_order 0, MaxUnpool's input), or with `storage_order` 1
    `((n·C + c)·W + w)·H + h`. A padded position reads -inf. No gradient:
    the result is an integer.

    ```mlir
    %i = kiln.max_pool2d_indices %x {kernel = array<i64: 2, 2>}
        : (tensor<1x8x28x28xf32>) -> tensor<1x8x14x14xi32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, DenseI64ArrayAttr:$kernel,
      OptionalAttr<DenseI64ArrayAttr>:$strides,
      DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0, 0, 0}">:$pads,
      DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilations,
      DefaultValuedAttr<BoolAttr, "false">:$ceil_mode,
      DefaultValuedStrAttr<StrAttr, "notset">:$auto_pad,
      DefaultValuedAttr<I64Attr, "0">:$storage_order);
  let results = (outs Kiln_LabelTensor:$result);
  let extraClassDeclaration = [{
    ::mlir::LogicalResult canonicalizeKernelAttrs(::nlohmann::json &attrs);
  }];
}

def Kiln_AvgPool2DOp : Kiln_Pool2DOp<"avg_pool2d", "average"> {
  let arguments = (ins Kiln_F32Tensor:$input, DenseI64ArrayAttr:$kernel,
      OptionalAttr<DenseI64ArrayAttr>:$strides,
      DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0, 0, 0}">:$pads,
      DefaultValuedAttr<BoolAttr, "false">:$ceil_mode,
      DefaultValuedAttr<BoolAttr, "true">:$count_include_pad,
      DefaultValuedStrAttr<StrAttr, "notset">:$auto_pad);
}

def Kiln_GlobalAvgPoolOp : Kiln_KernelOp<"global_avg_pool", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "mean over the spatial dims: [N,C,H,W] -> [N,C,1,1]";
  let description = [{
    ```mlir
    %g = kiln.global_avg_pool %x : (tensor<2x16x7x7xf32>) -> tensor<2x16x1x1xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_BatchNormOp : Kiln_KernelOp<"batch_norm", [DeclareOpInterfaceMethods<Kiln_TrainingModeOpInterface>, DeclareOpInterfaceMethods<Kiln_ElementwiseOpInterface, ["isFusible"]>, Kiln_RecomputeOpInterface]> {
  let summary = "batch normalization over axis 1";
  let description = [{
    `(x - mean) / sqrt(var + epsilon) * weight + bias` per channel (axis 1).
    With `training = false` mean/var are the running statistics; with
    `training = true` the batch's (biased variance), as in PyTorch.

    ```mlir
    %y = kiln.batch_norm %x, %g, %b, %m, %v {epsilon = 1.0e-05 : f32}
        : (tensor<2x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8x4x4xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$weight,
      Kiln_F32Tensor:$bias, Kiln_F32Tensor:$running_mean,
      Kiln_F32Tensor:$running_var,
      DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon,
      DefaultValuedAttr<F32Attr, "0.1">:$momentum,
      DefaultValuedAttr<BoolAttr, "false">:$training);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_LRNOp : Kiln_KernelOp<"lrn", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "local response normalization across channels";
  let description = [{
    ONNX LRN (AlexNet, GoogLeNet): over the channel axis 1 of an
    `[N,C,...]` input, `y[c] = x[c] / (bias + alpha/size · Σ x[j]²)^beta`
    with `j` from `c − ⌊(size−1)/2⌋` to `c + ⌈(size−1)/2⌉`, clipped to
    `[0, C)`.

    ```mlir
    %y = kiln.lrn %x {size = 5 : i64, alpha = 1.0e-04 : f32, beta = 0.75 : f32, bias = 1.0 : f32}
        : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, I64Attr:$size,
      DefaultValuedAttr<F32Attr, "1.0e-4">:$alpha,
      DefaultValuedAttr<F32Attr, "0.75">:$beta,
      DefaultValuedAttr<F32Attr, "1.0">:$bias);
  let results = (outs Kiln_F32Tensor:$result);
  let hasVerifier = 1;
}

def Kiln_ResizeOp : Kiln_KernelOp<"resize", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "resampling of the last two dims: nearest, linear or cubic";
  let description = [{
    ONNX Resize and Upsample over the last two dims (H, W) of an input of
    rank 2 or more, to `sizes` = [OH, OW]. Along each axis an output
    coordinate `x` maps to the input coordinate `x'` by
    `coordinate_transformation_mode` with the axis' `scales` entry `s`:
    `half_pixel` `(x + 0.5) / s - 0.5`; `pytorch_half_pixel` the same, or
    `-0.5` when `L = s · in` (the unfloored resized length, as ONNX's
    reference) is 1; `align_corners` `x (in - 1) / (L - 1)` (0 when L is
    1); `asymmetric` `x / s`;
    `tf_half_pixel_for_nn` `(x + 0.5) / s`. Then with `f = floor(x')`,
    `r = x' - f` and indices clamped to the input (its edge repeated):
    `nearest` takes `f` or `f + 1` by `nearest_mode`
    (`round_prefer_floor`, `round_prefer_ceil`, `floor`, `ceil`; an
    integral `x'` takes itself); `linear` `(1 - r) in[f] + r in[f + 1]`;
    `cubic` the 4 taps `f - 1 .. f + 2` with Keys' weights for
    `cubic_coeff_a`, those outside the input dropped and the rest
    renormalized when `exclude_outside`. Separable: the 2-D result is the
    product of the two axes' weights. Its gradient is `kiln.resize_grad`.

    ```mlir
    %y = kiln.resize %x {sizes = array<i64: 8, 8>, scales = [2.0, 2.0], mode = "linear"}
        : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, DenseI64ArrayAttr:$sizes,
      F64ArrayAttr:$scales, StrAttr:$mode,
      DefaultValuedAttr<StrAttr, "\"half_pixel\"">:$coordinate_transformation_mode,
      DefaultValuedAttr<StrAttr, "\"round_prefer_floor\"">:$nearest_mode,
      DefaultValuedAttr<F32Attr, "-0.75">:$cubic_coeff_a,
      DefaultValuedAttr<BoolAttr, "false">:$exclude_outside);
  let results = (outs Kiln_F32Tensor:$result);
  let hasVerifier = 1;
}

def Kiln_GridSampleOp : Kiln_KernelOp<"grid_sample", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "sampling of an image at the positions of a grid";
  let description = [{
    ONNX GridSample (PyTorch's `grid_sample`): `input` [N, C, H, W] read at
    `grid` [N, OH, OW, 2], whose last dim holds (x, y) normalized to
    [-1, 1] (-1: the first pixel's left edge, or its centre with
    `align_corners`), into [N, C, OH, OW]. `mode` `bilinear`, `nearest`
    (ties to even) or `bicubic` (Keys' weights, a = -0.75, on the 4x4
    pixels around); `padding_mode` for positions outside the image:
    `zeros` (pixels outside read as 0), `border` (clamped to the edge
    pixels) or `reflection` (reflected at the borders, then clamped). In
    bicubic mode the padding applies to each of the 16 taps. Its
    gradients (input and grid) are `kiln.grid_sample_grad`.

    ```mlir
    %y = kiln.grid_sample %x, %grid {mode = "bilinear", padding_mode = "zeros"}
        : (tensor<1x3x8x8xf32>, tensor<1x4x5x2xf32>) -> tensor<1x3x4x5xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$grid,
      DefaultValuedAttr<StrAttr, "\"bilinear\"">:$mode,
      DefaultValuedAttr<StrAttr, "\"zeros\"">:$padding_mode,
      DefaultValuedAttr<BoolAttr, "false">:$align_corners);
  let results = (outs Kiln_F32Tensor:$result);
  let hasVerifier = 1;
}

def Kiln_LayerNormOp : Kiln_KernelOp<"layer_norm", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "layer normalization over the dims from `axis` on";
  let description = [{
    Normalizes over `shape[axis:]` (ONNX LayerNormalization); `weight` and
    the optional `bias` have that shape.

    ```mlir
    %y = kiln.layer_norm %x, %g, %b {axis = -1 : i64}
        : (tensor<2x5xf32>, tensor<5xf32>, tensor<5xf32>) -> tensor<2x5xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$weight,
      Optional<Kiln_F32Tensor>:$bias,
      DefaultValuedAttr<I64Attr, "-1">:$axis,
      DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Kiln_F32Tensor:$result);
  let extraClassDeclaration = [{
    ::mlir::LogicalResult canonicalizeKernelAttrs(::nlohmann::json &attrs);
  }];
}

def Kiln_AddOp : Kiln_BinaryOp<"add", "lhs + rhs">;
def Kiln_SubOp : Kiln_BinaryOp<"sub", "lhs - rhs">;
def Kiln_MulOp : Kiln_BinaryOp<"mul", "lhs * rhs"> {
  // x * (erf(x / sqrt(2)) + 1) * 0.5 -> gelu(x) (exporters' erf form).
  let hasCanonicalizer = 1;
}
def Kiln_DivOp : Kiln_BinaryOp<"div", "lhs / rhs">;
// Gradient: dy to the larger (smaller) operand, dy / 2 to each at ties
// (PyTorch's), through sign(lhs - rhs).
def Kiln_MaximumOp : Kiln_BinaryOp<"maximum", "max(lhs, rhs)">;
def Kiln_MinimumOp : Kiln_BinaryOp<"minimum", "min(lhs, rhs)">;
// ONNX Mod: `mod` for integers (fmod = 0, the sign of rhs, as Python's %),
// `fmod` as C's fmod (fmod = 1, the sign of lhs). The gradient: dy to lhs,
// -dy * q to rhs for the quotient q = (lhs - result) / rhs, as PyTorch.
def Kiln_ModOp : Kiln_BinaryOp<"mod", "lhs - rhs * floor(lhs / rhs)">;
def Kiln_FmodOp : Kiln_BinaryOp<"fmod", "lhs - rhs * trunc(lhs / rhs)">;

// A comparison: 1 where it holds, else 0 (booleans at run time are f32 0/1,
// docs/onnx.md), compared as such: no subtraction, so that values closer
// than the smallest normal float still compare right under flush-to-zero.
// Piecewise constant: no gradient reaches either operand.
class Kiln_CompareOp<string mnemonic, string formula>
    : Kiln_KernelOp<mnemonic, [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>,
                               Kiln_ElementwiseOpInterface,
                               Kiln_RecomputeOpInterface]> {
  let summary = "elementwise " # formula # " as 1 or 0, with numpy broadcasting";
  let description = "1 where `" # formula # "` holds, else 0; shapes " #
    "broadcast as in numpy. ONNX's comparisons at run time; no gradient " #
    "reaches the operands.\n\n" #
    "```mlir\n%c = kiln." # mnemonic #
    " %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>\n```";
  let arguments = (ins Kiln_F32Tensor:$lhs, Kiln_F32Tensor:$rhs);
  let results = (outs Kiln_F32Tensor:$result);
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::inferResultTypes(
        ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      return ::kiln::ir::inferBroadcast(getOperation(), types);
    }
    ::mlir::LogicalResult $cppClass::buildGradients(::mlir::OpBuilder &,
        ::llvm::ArrayRef<::mlir::Value>,
        ::llvm::SmallVectorImpl<::mlir::Value> &operandGrads) {
      operandGrads.append(2, ::mlir::Value());
      return ::mlir::success();
    }
  }];
}

def Kiln_LessOp : Kiln_CompareOp<"less", "lhs < rhs">;
def Kiln_LessEqualOp : Kiln_CompareOp<"less_equal", "lhs <= rhs">;
def Kiln_GreaterOp : Kiln_CompareOp<"greater", "lhs > rhs">;
def Kiln_GreaterEqualOp : Kiln_CompareOp<"greater_equal", "lhs >= rhs">;
def Kiln_EqualOp : Kiln_CompareOp<"equal", "lhs == rhs">;

def Kiln_WhereOp : Kiln_KernelOp<"where", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "elementwise cond ≠ 0 ? lhs : rhs, with numpy broadcasting";
  let description = [{
    ONNX Where at a condition known only at run time (an attention
    padding mask): `result = cond != 0 ? lhs : rhs`, the three shapes
    broadcast as in numpy. kiln holds booleans as f32 0/1; a NaN condition
    counts as true (as ONNX's Cast to bool). A select, never arithmetic,
    so an infinite branch (a mask's -inf) stays out of the other elements.
    The gradient goes to `lhs` where the condition holds and to `rhs`
    elsewhere, summed back over broadcast dims; `cond` gets none.

    ```mlir
    %s = kiln.where %mask, %ninf, %scores
        : (tensor<2x1x1x9xf32>, tensor<f32>, tensor<2x4x9x9xf32>) -> tensor<2x4x9x9xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$cond, Kiln_F32Tensor:$lhs,
      Kiln_F32Tensor:$rhs);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_TopKOp : Kiln_KernelOp<"top_k"> {
  let summary = "indices of the k largest or smallest elements along one axis";
  let description = [{
    ONNX TopK's indices (as i32): along `axis`, the positions of the `k`
    largest elements (`largest`, the default) or smallest, in that order;
    among equal elements the lower index comes first, and a NaN ranks
    above every number (first among the largest, last among the smallest:
    NumPy's sort, as ONNX's reference). The values are
    `gather_elements` of the input at these indices, which carries the
    gradient. No gradient of its own: the result is an integer.

    ```mlir
    %i = kiln.top_k %scores {k = 5 : i64, axis = 1 : i64}
        : (tensor<4x100xf32>) -> tensor<4x5xi32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, I64Attr:$k, I64Attr:$axis,
      DefaultValuedAttr<BoolAttr, "true">:$largest);
  let results = (outs Kiln_LabelTensor:$result);
}

def Kiln_ArgReduceOp : Kiln_KernelOp<"arg_reduce"> {
  let summary = "index of the largest or smallest element along one axis";
  let description = [{
    ONNX ArgMax (`kind = "max"`) and ArgMin (`kind = "min"`): the index
    along `axis`, as i32 (ONNX's int64 holds the same values), the axis
    kept with extent 1 when `keepdims`. Among equal elements the first
    index wins, or the last with `select_last_index`; a NaN counts as the
    extreme (as NumPy's argmax, ONNX's reference). No gradient: the result
    is an integer.

    ```mlir
    %i = kiln.arg_reduce %logits {kind = "max", axis = 1 : i64, keepdims = false}
        : (tensor<4x10xf32>) -> tensor<4xi32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, StrAttr:$kind, I64Attr:$axis,
      DefaultValuedAttr<BoolAttr, "true">:$keepdims,
      DefaultValuedAttr<BoolAttr, "false">:$select_last_index);
  let results = (outs Kiln_LabelTensor:$result);
}

def Kiln_CastOp : Kiln_KernelOp<"cast"> {
  let summary = "run-time integers (or booleans) to f32";
  let description = [{
    ONNX Cast to float of an integer or boolean graph input, which kiln
    holds as i32 (token ids, a padding mask): `result = float(input)`,
    exact up to 2^24 in magnitude. Booleans become 0 and 1, the form
    `kiln.where` and the arithmetic ops take.

    ```mlir
    %m = kiln.cast %mask : (tensor<2x9xi32>) -> tensor<2x9xf32>
    ```
  }];
  let arguments = (ins Kiln_LabelTensor:$input);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_ConcatOp : Kiln_KernelOp<"concat", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "concatenate tensors along `axis`";
  let description = [{
    ```mlir
    %c = kiln.concat %a, %b {axis = 1 : i64}
        : (tensor<1x3x4x4xf32>, tensor<1x5x4x4xf32>) -> tensor<1x8x4x4xf32>
    ```
  }];
  let arguments = (ins Variadic<Kiln_F32Tensor>:$inputs, I64Attr:$axis);
  let results = (outs Kiln_F32Tensor:$result);
  let extraClassDeclaration = [{
    ::mlir::LogicalResult canonicalizeKernelAttrs(::nlohmann::json &attrs);
  }];
}

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

def Kiln_StepOp : Kiln_ElementwiseUnaryOp<"step", "x > 0 ? 1 : 0">;
def Kiln_SigmoidOp : Kiln_ElementwiseUnaryOp<"sigmoid", "1 / (1 + exp(-x))">;
def Kiln_TanhOp : Kiln_ElementwiseUnaryOp<"tanh", "tanh(x)">;
def Kiln_ReluOp : Kiln_ElementwiseUnaryOp<"relu", "max(x, 0)">;
def Kiln_Relu6Op : Kiln_ElementwiseUnaryOp<"relu6", "min(max(x, 0), 6)">;
def Kiln_SeluOp : Kiln_ElementwiseUnaryOp<"selu",
    "1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (exp(x) - 1))">;
def Kiln_SiluOp : Kiln_ElementwiseUnaryOp<"silu", "x * sigmoid(x)">;
def Kiln_MishOp : Kiln_ElementwiseUnaryOp<"mish", "x * tanh(softplus(x))">;
def Kiln_SinOp : Kiln_ElementwiseUnaryOp<"sin", "sin(x)">;
def Kiln_TanOp : Kiln_ElementwiseUnaryOp<"tan", "tan(x)">;
def Kiln_SinhOp : Kiln_ElementwiseUnaryOp<"sinh", "sinh(x)">;
def Kiln_CoshOp : Kiln_ElementwiseUnaryOp<"cosh", "cosh(x)">;
def Kiln_AsinOp : Kiln_ElementwiseUnaryOp<"asin", "asin(x)">;
def Kiln_AcosOp : Kiln_ElementwiseUnaryOp<"acos", "acos(x)">;
def Kiln_AtanOp : Kiln_ElementwiseUnaryOp<"atan", "atan(x)">;
def Kiln_AsinhOp : Kiln_ElementwiseUnaryOp<"asinh", "asinh(x)">;
def Kiln_AcoshOp : Kiln_ElementwiseUnaryOp<"acosh", "acosh(x)">;
def Kiln_AtanhOp : Kiln_ElementwiseUnaryOp<"atanh", "atanh(x)">;
def Kiln_SoftsignOp : Kiln_ElementwiseUnaryOp<"softsign", "x / (1 + |x|)">;
// Piecewise constant: their gradient is 0 everywhere (PyTorch's).
def Kiln_CeilOp : Kiln_ElementwiseUnaryOp<"ceil", "ceil(x)">;
def Kiln_FloorOp : Kiln_ElementwiseUnaryOp<"floor", "floor(x)">;
def Kiln_RoundOp : Kiln_ElementwiseUnaryOp<"round",
    "round(x), halves to the even neighbour">;
def Kiln_SignOp : Kiln_ElementwiseUnaryOp<"sign", "x > 0 ? 1 : (x < 0 ? -1 : 0)">;
// Tests of the value (ONNX IsNaN, IsInf): 1 or 0, gradient 0.
def Kiln_IsNanOp : Kiln_ElementwiseUnaryOp<"is_nan", "x is NaN ? 1 : 0">;
def Kiln_IsInfOp : Kiln_ElementwiseUnaryOp<"is_inf",
    "(x == +inf and detect_positive) or (x == -inf and detect_negative) ? 1 : 0"> {
  let arguments = (ins Kiln_F32Tensor:$input,
                       DefaultValuedAttr<BoolAttr, "true">:$detect_positive,
                       DefaultValuedAttr<BoolAttr, "true">:$detect_negative);
}

def Kiln_LeakyReluOp : Kiln_ElementwiseUnaryOp<"leaky_relu", "x >= 0 ? x : alpha * x"> {
  let arguments = (ins Kiln_F32Tensor:$input,
                       DefaultValuedAttr<F32Attr, "0.01">:$alpha);
}

def Kiln_ThresholdedReluOp : Kiln_ElementwiseUnaryOp<"thresholded_relu",
    "x > alpha ? x : 0"> {
  let arguments = (ins Kiln_F32Tensor:$input,
                       DefaultValuedAttr<F32Attr, "1.0">:$alpha);
}

def Kiln_ShrinkOp : Kiln_ElementwiseUnaryOp<"shrink",
    "x < -lambd ? x + bias : (x > lambd ? x - bias : 0)"> {
  let arguments = (ins Kiln_F32Tensor:$input,
                       DefaultValuedAttr<F32Attr, "0.0">:$bias,
                       DefaultValuedAttr<F32Attr, "0.5">:$lambd);
}

def Kiln_EluOp : Kiln_ElementwiseUnaryOp<"elu", "x > 0 ? x : alpha * (exp(x) - 1)"> {
  let arguments = (ins Kiln_F32Tensor:$input,
                       DefaultValuedAttr<F32Attr, "1.0">:$alpha);
}

def Kiln_GeluOp : Kiln_ElementwiseUnaryOp<"gelu",
    "x * Phi(x) (approximate = \"none\") or its tanh approximation (\"tanh\")"> {
  let arguments = (ins Kiln_F32Tensor:$input,
                       DefaultValuedStrAttr<StrAttr, "none">:$approximate);
  let hasVerifier = 1;
}

def Kiln_SoftplusOp : Kiln_ElementwiseUnaryOp<"softplus",
    "log(1 + exp(beta * x)) / beta, x where beta * x > threshold"> {
  let arguments = (ins Kiln_F32Tensor:$input,
                       DefaultValuedAttr<F32Attr, "1.0">:$beta,
                       DefaultValuedAttr<F32Attr, "20.0">:$threshold);
}

class Kiln_AxisUnaryOp<string mnemonic, string formula>
    : Kiln_UnaryOp<mnemonic, formula> {
  let arguments = (ins Kiln_F32Tensor:$input,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::inferResultTypes(
        ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      types.push_back(getInput().getType());
      return ::mlir::success();
    }
    ::mlir::LogicalResult $cppClass::buildGradients(::mlir::OpBuilder &builder,
        ::llvm::ArrayRef<::mlir::Value> resultGrads,
        ::llvm::SmallVectorImpl<::mlir::Value> &operandGrads) {
      return ::kiln::ir::buildSoftmaxGradient(getOperation(), builder,
                                               resultGrads, operandGrads);
    }
  }];
  let extraClassDeclaration = [{
    ::mlir::LogicalResult canonicalizeKernelAttrs(::nlohmann::json &attrs);
  }];
  let hasVerifier = 1;
}

def Kiln_SoftmaxOp : Kiln_AxisUnaryOp<"softmax",
    "exp(x) / sum(exp(x)) along axis">;
def Kiln_LogSoftmaxOp : Kiln_AxisUnaryOp<"log_softmax",
    "x - log(sum(exp(x))) along axis">;

def Kiln_PReluOp : Kiln_KernelOp<"prelu", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>, Kiln_ElementwiseOpInterface, Kiln_RecomputeOpInterface]> {
  let summary = "parametric ReLU with a learned slope per channel";
  let description = [{
    `x >= 0 ? x : slope * x`; `slope` is `[C]` (channel axis 1) or `[1]`.

    ```mlir
    %y = kiln.prelu %x, %a : (tensor<2x3x4x4xf32>, tensor<3xf32>) -> tensor<2x3x4x4xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$slope);
  let results = (outs Kiln_F32Tensor:$result);
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

def Kiln_MSEOp : Kiln_PairLossOp<"mse", "mean((pred - target)^2)">;
def Kiln_MAEOp : Kiln_PairLossOp<"mae", "mean(|pred - target|)">;
def Kiln_BCEOp : Kiln_PairLossOp<"bce",
    "-mean(t log p + (1 - t) log(1 - p)) on probabilities">;
def Kiln_BCELogitsOp : Kiln_PairLossOp<"bce_logits",
    "binary cross-entropy on logits (numerically stable)">;
def Kiln_HingeOp : Kiln_PairLossOp<"hinge", "mean(max(0, 1 - pred * target))">;
def Kiln_CCEOp : Kiln_PairLossOp<"cce",
    "categorical cross-entropy of logits [N,C] against one-hot targets [N,C]"> {
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::inferResultTypes(
        ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      auto pred = ::llvm::cast<::mlir::RankedTensorType>(getPred().getType());
      if (pred.getRank() != 2) {
        return emitOpError() << "expects logits and targets [N,C], got "
                             << pred;
      }
      return ::kiln::ir::inferPairLoss(getOperation(), types);
    }
    ::mlir::LogicalResult $cppClass::buildGradients(::mlir::OpBuilder &builder,
        ::llvm::ArrayRef<::mlir::Value> resultGrads,
        ::llvm::SmallVectorImpl<::mlir::Value> &operandGrads) {
      return ::kiln::ir::buildLossGradient(getOperation(), builder,
                                            resultGrads, operandGrads);
    }
  }];
}

def Kiln_HuberOp : Kiln_PairLossOp<"huber",
    "Huber loss with threshold delta"> {
  let arguments = (ins Kiln_F32Tensor:$pred, Kiln_F32Tensor:$target,
                       DefaultValuedAttr<F32Attr, "1.0">:$delta);
}

def Kiln_SparseCCEOp : Kiln_KernelOp<"sparse_cce", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "categorical cross-entropy of logits against integer labels";
  let description = [{
    `logits [N,C]`, `labels [N]` (`i32`, each in `[0, C)`); mean over N of
    `-log_softmax(logits)[n, label[n]]`.

    ```mlir
    %l = kiln.sparse_cce %z, %y : (tensor<4x10xf32>, tensor<4xi32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$logits, Kiln_LabelTensor:$labels);
  let results = (outs Kiln_Scalar:$loss);
}


def Kiln_NllLossOp : Kiln_KernelOp<"nll_loss", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "negative log-likelihood of log-probabilities at integer labels";
  let description = [{
    ONNX's NegativeLogLikelihoodLoss and PyTorch's `nll_loss`: `input
    [N,C]` or `[N,C,d1,...]` (log-probabilities), `target [N]` or
    `[N,d1,...]` (`i32`, each in `[0, C)` or `ignore_index`), optional
    class `weight [C]`. Per element `l = -weight[t] · input[n, t, ...]`,
    0 where `t == ignore_index`. `reduction`: `mean` (Σ l / Σ weight[t]
    over the elements not ignored: a rank-0 result), `sum` (rank 0) or
    `none` (shaped like `target`). Gradient: `nll_loss_grad`.

    ```mlir
    %l = kiln.nll_loss %p, %y {reduction = "sum", ignore_index = 0 : i64} : (tensor<4x10xf32>, tensor<4xi32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_LabelTensor:$target,
      Optional<Kiln_F32Tensor>:$weight,
      DefaultValuedAttr<StrAttr, "\"mean\"">:$reduction,
      OptionalAttr<I64Attr>:$ignore_index);
  let results = (outs Kiln_F32Tensor:$loss);
}

def Kiln_NllLossGradOp : Kiln_KernelOp<"nll_loss_grad"> {
  let summary = "gradient of nll_loss with respect to its input";
  let description = [{
    `dx` shaped like `input`: `-weight[t] · g` at class `t` of each element
    not ignored, 0 elsewhere, with `g` = `dy` (`none`: dy shaped like
    `target`), `dy()` (`sum`) or `dy() / Σ weight[t]` (`mean`). Operands as
    `nll_loss`'s with `dy` before the optional weight.
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_LabelTensor:$target,
      Kiln_F32Tensor:$dy, Optional<Kiln_F32Tensor>:$weight,
      DefaultValuedAttr<StrAttr, "\"mean\"">:$reduction,
      OptionalAttr<I64Attr>:$ignore_index);
  let results = (outs Kiln_F32Tensor:$dx);
}

//===----------------------------------------------------------------------===//
// Training: generic tensor ops, gradients, optimizer (docs/training-ops.md)
//===----------------------------------------------------------------------===//

// A training op: shapes inferred in C++, one kernel, no gradient of its own.
class Kiln_TrainOp<string mnemonic, string summaryText, list<Trait> traits = []>
    : Kiln_KernelOp<mnemonic, traits> {
  let summary = summaryText;
}

def Kiln_MatmulOp : Kiln_TrainOp<"matmul", "matrix product with optional transposes",
    [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let description = [{
    `c = op(a) · op(b)` with `op` the transpose where `transpose_a` /
    `transpose_b` is set. `a` and `b` are matrices, or both `[B, ·, ·]`
    with the same batch `B`: one product per batch element (`op`
    transposes the last two dims), `c` is `[B, M, N]`.

    ```mlir
    %c = kiln.matmul %a, %b {transpose_a = true} : (tensor<4x2xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$a, Kiln_F32Tensor:$b,
      DefaultValuedAttr<BoolAttr, "false">:$transpose_a,
      DefaultValuedAttr<BoolAttr, "false">:$transpose_b);
  let results = (outs Kiln_F32Tensor:$result);
}

// A reduction over `axes`: one kernel family (KernelsTensor.cpp), the
// combiner named by the mnemonic.
class Kiln_ReduceOp<string mnemonic, string what, string extra = "">
    : Kiln_TrainOp<mnemonic, what # " over axes",
        [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let description = "The " # what # " over `axes` (in the kernel: sorted, " #
    "non-negative, non-empty; negative axes count from the end). The " #
    "reduced dims are dropped, or kept with size 1 when `keepdims`." # extra;
  let arguments = (ins Kiln_F32Tensor:$input, DenseI64ArrayAttr:$axes,
      DefaultValuedAttr<BoolAttr, "false">:$keepdims);
  let results = (outs Kiln_F32Tensor:$result);
  let extraClassDeclaration = [{
    ::mlir::LogicalResult canonicalizeKernelAttrs(::nlohmann::json &attrs);
  }];
}

def Kiln_ReduceSumOp : Kiln_ReduceOp<"reduce_sum", "sum">;
def Kiln_ReduceMaxOp : Kiln_ReduceOp<"reduce_max", "maximum",
    " Gradient: `reduce_grad` (kind max), shared equally by tied maxima.">;
def Kiln_ReduceMinOp : Kiln_ReduceOp<"reduce_min", "minimum",
    " Gradient: `reduce_grad` (kind min), shared equally by tied minima.">;
def Kiln_ReduceProdOp : Kiln_ReduceOp<"reduce_prod", "product",
    " Gradient: `reduce_grad` (kind prod), the product of the other " #
    "elements (exact with zeros).">;

def Kiln_ReduceGradOp : Kiln_TrainOp<"reduce_grad",
    "gradient of reduce_max, reduce_min or reduce_prod"> {
  let description = [{
    `dx` for `y = reduce_<kind>(x, axes, keepdims)` given `dy` (both shaped
    like `y`). `max` / `min`: `dy / n` at each of the `n` elements equal to
    the slice's extreme, 0 elsewhere (PyTorch's `amax`/`amin`). `prod`: `dy`
    times the product of the slice's other elements: with no zero in the
    slice `y / x`; with one zero, the product of the rest at the zero and 0
    elsewhere; with more, 0.
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$result,
      Kiln_F32Tensor:$dy, StrAttr:$kind, DenseI64ArrayAttr:$axes,
      DefaultValuedAttr<BoolAttr, "false">:$keepdims);
  let results = (outs Kiln_F32Tensor:$dx);
  let extraClassDeclaration = [{
    ::mlir::LogicalResult canonicalizeKernelAttrs(::nlohmann::json &attrs);
  }];
}

def Kiln_GatherOp : Kiln_TrainOp<"gather",
    "gather along one axis at run-time indices (embeddings)",
    [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let description = [{
    ONNX Gather with indices known only at run time (token ids of an
    embedding): `result[p..., i..., q...] = input[p..., indices[i...],
    q...]` with `p` the dims before `axis` and `q` those after, so the
    result's shape is `input[:axis] + indices + input[axis+1:]`. An index
    may be negative (counted from the end, as in ONNX); one outside
    `[-input[axis], input[axis])` stops the run with an error naming it.

    ```mlir
    %e = kiln.gather %table, %ids {axis = 0 : i64}
        : (tensor<100x16xf32>, tensor<4x7xi32>) -> tensor<4x7x16xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_LabelTensor:$indices,
      DefaultValuedAttr<I64Attr, "0">:$axis);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_GatherGradOp : Kiln_TrainOp<"gather_grad",
    "gradient of gather: dy added into the gathered rows"> {
  let description = [{
    `dx[p..., a, q...] = Σ_{i : indices[i] ≡ a} dy[p..., i..., q...]`: the
    rows that gather read receive dy, added up where an index repeats
    (a token that occurs twice). `size` is the input's extent along `axis`.
  }];
  let arguments = (ins Kiln_LabelTensor:$indices, Kiln_F32Tensor:$dy,
      I64Attr:$axis, I64Attr:$size);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_GatherElementsOp : Kiln_TrainOp<"gather_elements",
    "element-wise gather along one axis at run-time indices",
    [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let description = [{
    ONNX GatherElements: `result[i] = input[i with i[axis] replaced by
    indices[i]]` for every position `i` of `indices`, which has the
    input's rank and, off the axis, no larger extents; the result has the
    indices' shape. An index may be negative (counted from the end); one
    outside `[-input[axis], input[axis])` stops the run with an error
    naming it.

    ```mlir
    %g = kiln.gather_elements %x, %idx {axis = 1 : i64}
        : (tensor<2x5xf32>, tensor<2x3xi32>) -> tensor<2x3xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_LabelTensor:$indices,
      DefaultValuedAttr<I64Attr, "0">:$axis);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_GatherElementsGradOp : Kiln_TrainOp<"gather_elements_grad",
    "gradient of gather_elements: dy added where each index points",
    [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let description = [{
    `dx[j] = Σ_{i : i off the axis = j off the axis, indices[i] ≡ j[axis]}
    dy[i]`: each element of dy goes to the input element its index named,
    added up where indices repeat; zero elsewhere. `shape` is the input's.
    Also ONNX ScatterElements' scatter. Its own gradient (to `dy`) is
    `gather_elements` at the same indices.
  }];
  let arguments = (ins Kiln_LabelTensor:$indices, Kiln_F32Tensor:$dy,
      I64Attr:$axis, DenseI64ArrayAttr:$shape);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_SliceOp : Kiln_TrainOp<"slice", "contiguous slice along one axis"> {
  let description = [{
    `result = input[..., start:start+size, ...]` along `axis`: a contiguous
    slice of one axis.
  }];
  let arguments = (ins Kiln_F32Tensor:$input, I64Attr:$axis, I64Attr:$start,
      I64Attr:$size);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_ScaleOp : Kiln_TrainOp<"scale", "multiply by a constant",
    [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>,
     Kiln_ElementwiseOpInterface, Kiln_RecomputeOpInterface]> {
  let description = [{
    `result = factor · input`, elementwise (`factor` an f64 attribute).
  }];
  let arguments = (ins Kiln_F32Tensor:$input, F64Attr:$factor);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_RegularizerOp : Kiln_TrainOp<"regularizer",
    "elastic-net penalty l1·Σ|w| + l2·Σw²",
    [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let description = [{
    The elastic-net penalty of one weight, `l1·Σ|w| + l2·Σw²` (the Keras
    convention), as a scalar added to the loss.
  }];
  let arguments = (ins Kiln_F32Tensor:$weight,
      DefaultValuedAttr<F64Attr, "0.0">:$l1, DefaultValuedAttr<F64Attr, "0.0">:$l2);
  let results = (outs Kiln_Scalar:$penalty);
}

def Kiln_ClipFactorOp : Kiln_TrainOp<"clip_factor",
    "global-norm gradient clipping coefficient"> {
  let description = [{
    `min(1, max_norm / (sqrt(total) + 1e-6))` for `total` the summed
    squares of every gradient (PyTorch's `clip_grad_norm_`).
  }];
  let arguments = (ins Kiln_Scalar:$total, F64Attr:$max_norm);
  let results = (outs Kiln_Scalar:$factor);
}

def Kiln_RegularizerGradOp : Kiln_TrainOp<"regularizer_grad",
    "gradient of the elastic-net penalty",
    [DeclareOpInterfaceMethods<Kiln_ElementwiseOpInterface, ["isFusible"]>,
     Kiln_RecomputeOpInterface]> {
  let description = [{
    `result = dloss · (l1·sign(w) + 2·l2·w)` with sign(0) = 0: the
    gradient of `regularizer` scaled by the loss gradient `dloss` (a
    scalar).
  }];
  let arguments = (ins Kiln_F32Tensor:$weight, Kiln_Scalar:$dloss,
      DefaultValuedAttr<F64Attr, "0.0">:$l1, DefaultValuedAttr<F64Attr, "0.0">:$l2);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_Conv2DGradInputOp : Kiln_TrainOp<"conv2d_grad_input",
    "gradient of conv2d with respect to its input",
    [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let description = [{
    The vector-Jacobian product of conv2d with respect to its input: for
    `dy [N,O,OH,OW]` and `weight [O,C/g,KH,KW]`, `dx [N,C,H,W]` (`H,W` =
    `input_size`) is the gradient of `Σ conv2d(x, weight) ⊙ dy`, a
    transposed convolution. `strides`, `pads`, `dilations` and `groups` are
    the forward convolution's. ONNX's ConvTranspose imports as this op
    (its input as `dy`, its `[C_in, C_out/g, KH, KW]` weight as `weight`),
    so it has gradients of its own: conv2d of the result's gradient with
    `weight` for `dy`, conv2d_grad_weight for `weight`.
  }];
  let arguments = (ins Kiln_F32Tensor:$dy, Kiln_F32Tensor:$weight,
      DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
      DenseI64ArrayAttr:$dilations, I64Attr:$groups,
      DenseI64ArrayAttr:$input_size);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_Conv2DGradWeightOp : Kiln_TrainOp<"conv2d_grad_weight",
    "gradient of conv2d with respect to its weight"> {
  let description = [{
    The vector-Jacobian product of conv2d with respect to its weight: for
    the forward input `x [N,C,H,W]` and `dy [N,O,OH,OW]`, `dw [O,C/g,KH,KW]`
    (`KH,KW` = `kernel`) is the gradient of `Σ conv2d(x, w) ⊙ dy`.
    `strides`, `pads`, `dilations` and `groups` are the forward
    convolution's. `tile` = m = 2 or 4 (set by kiln-winograd; 3x3 kernels
    at stride and dilation 1, groups 1) computes it by Winograd
    F(m x m, 3x3): per tile of the batch dY = A dy Aᵀ and V = Bᵀ d B,
    dU = Σ over tiles of dY ⊙ V (one C x O product per transform point),
    then `dw = Gᵀ dU G`; 0 (the default) directly.
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$dy,
      DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
      DenseI64ArrayAttr:$dilations, I64Attr:$groups,
      DenseI64ArrayAttr:$kernel, DefaultValuedAttr<I64Attr, "0">:$tile);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_MaxPool2DGradOp : Kiln_TrainOp<"max_pool2d_grad",
    "gradient of max_pool2d (to the first maximum of each window)"> {
  let description = [{
    Each window's `dy` goes to the window's maximum element of the forward
    input `x`; ties go to the first element in row-major window order, and
    padding never wins (as PyTorch). Overlapping windows sum. The result has
    `x`'s shape.
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$dy,
      DenseI64ArrayAttr:$kernel, DenseI64ArrayAttr:$strides,
      DenseI64ArrayAttr:$pads, DenseI64ArrayAttr:$dilations);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_AvgPool2DGradOp : Kiln_TrainOp<"avg_pool2d_grad",
    "gradient of avg_pool2d"> {
  let description = [{
    Each window's `dy / divisor` is added to every input element of the
    window, with the divisor exactly as the forward avg_pool2d computes it
    (`divisor_pads`, `count_include_pad`). The result is
    `[N,C,input_size[0],input_size[1]]`.
  }];
  let arguments = (ins Kiln_F32Tensor:$dy, DenseI64ArrayAttr:$kernel,
      DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
      DenseI64ArrayAttr:$divisor_pads, BoolAttr:$count_include_pad,
      DenseI64ArrayAttr:$input_size);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_GlobalAvgPoolGradOp : Kiln_TrainOp<"global_avg_pool_grad",
    "gradient of global_avg_pool"> {
  let description = [{
    `dx = dy / (H·W)` broadcast over the plane: `dy [N,C,1,1]` to
    `dx [N,C,H,W]` with `H,W` = `input_size`.
  }];
  let arguments = (ins Kiln_F32Tensor:$dy, DenseI64ArrayAttr:$input_size);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_BatchNormTrainOp : Kiln_TrainOp<"batch_norm_train",
    "batch normalization with batch statistics (training)",
    [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>,
     DeclareOpInterfaceMethods<Kiln_RecomputeOpInterface,
                               ["recomputeFlopsPerElement"]>]> {
  let description = [{
    Batch normalization with batch statistics: `mean` and the biased `var`
    over every dim but 1 (the channel), then
    `result = (x − mean) / √(var + ε) · weight + bias`. The statistics are
    results too: the gradient and the running-statistics update use them.
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$weight,
      Kiln_F32Tensor:$bias, DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Kiln_F32Tensor:$result, Kiln_F32Tensor:$mean,
                      Kiln_F32Tensor:$var);
}

def Kiln_BatchNormGradOp : Kiln_TrainOp<"batch_norm_grad",
    "gradients of batch_norm_train"> {
  let description = [{
    The gradients of batch_norm_train's result (the batch statistics
    depending on `x`): with `x̂ = (x − mean)/√(var + ε)` and M elements per
    channel, `dbias = Σ dy`, `dweight = Σ dy·x̂`,
    `dx = weight/√(var + ε) · (dy − dbias/M − x̂·dweight/M)`.
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$dy,
      Kiln_F32Tensor:$weight, Kiln_F32Tensor:$mean, Kiln_F32Tensor:$var,
      DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Kiln_F32Tensor:$dx, Kiln_F32Tensor:$dweight,
                      Kiln_F32Tensor:$dbias);
}

def Kiln_RunningStatsUpdateOp : Kiln_TrainOp<"running_stats_update",
    "BatchNorm running statistics update (PyTorch's momentum rule)",
    [DeclareOpInterfaceMethods<Kiln_UpdateOpInterface>]> {
  let description = [{
    PyTorch's momentum rule for BatchNorm's running statistics:
    `new = (1 − momentum)·old + momentum·batch`, with the unbiased batch
    variance `var·count/(count − 1)`; `count` is the element count per
    channel (N·H·W).
  }];
  let arguments = (ins Kiln_F32Tensor:$running_mean, Kiln_F32Tensor:$running_var,
      Kiln_F32Tensor:$mean, Kiln_F32Tensor:$var,
      DefaultValuedAttr<F32Attr, "0.1">:$momentum, I64Attr:$count);
  let results = (outs Kiln_F32Tensor:$new_mean, Kiln_F32Tensor:$new_var);
}

def Kiln_FoldBatchNormOp : Kiln_KernelOp<"fold_batch_norm"> {
  let summary = "fold an inference batch norm into the preceding layer's weights";
  let description = [{
    For `batch_norm(layer(x, weight, bias))` with running statistics, the
    weight and bias that make `layer(x, folded_weight, folded_bias)` equal:
    `scale = gamma / sqrt(var + epsilon)`,
    `folded_weight[o, ...] = weight[o, ...] * scale[o]`,
    `folded_bias = (bias - mean) * scale + beta` (`bias` 0 when absent).
    `weight` has the output channel first (conv2d `[O,C/g,KH,KW]`, dense
    `[O,K]`). Made by `kiln-fold-batch-norm`; over parameters it runs once
    per parameter change (`kiln-hoist-load-time`).

    ```mlir
    %w2, %b2 = kiln.fold_batch_norm %w, %g, %beta, %m, %v {epsilon = 1.0e-05 : f32}
        : (tensor<8x1x3x3xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<8x1x3x3xf32>, tensor<8xf32>)
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$weight, Optional<Kiln_F32Tensor>:$bias,
      Kiln_F32Tensor:$gamma, Kiln_F32Tensor:$beta, Kiln_F32Tensor:$mean,
      Kiln_F32Tensor:$var, DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Kiln_F32Tensor:$folded_weight,
                      Kiln_F32Tensor:$folded_bias);
}

def Kiln_WinogradFilterOp : Kiln_KernelOp<"winograd_filter"> {
  let summary = "transform 3x3 conv2d weights for Winograd's F(m x m, 3x3)";
  let description = [{
    For output tiles of `tile` = m = 2 or 4 (α = m + 2), `weight [O,C,3,3]`
    becomes `filter [α²,O/B,C,B]`, the transformed kernels in blocks of
    `block` = B = 8 or 16 output channels (O a multiple of B), with
    `filter[α·b + a, o / B, c, o % B] = (G · weight[o, c] · Gᵀ)[b][a]`:
    each block's reduction over c reads one contiguous run (Lavin and
    Gray, "Fast Algorithms for Convolutional Neural Networks", 2016; `G`
    by Toom-Cook interpolation). For m = 2 (points 0, ±1, ∞) the rows of
    `G` are `[1, 0, 0]`, `[½, ½, ½]`, `[½, −½, ½]`, `[0, 0, 1]`; for m = 4
    (points 0, 1, −1, 2, −½, ∞) `[1, 0, 0]`, `[−⅓, −⅓, −⅓]`, `[⅓, −⅓, ⅓]`,
    `[1/15, 2/15, 4/15]`, `[−16/15, 8/15, −4/15]`, `[0, 0, 1]`. Made by `kiln-winograd` for
    `kiln.conv2d_winograd`; over parameters it runs once per parameter
    change (`kiln-hoist-load-time`).

    With `input_gradient`, the filter of the convolution's input gradient
    (`conv2d_grad_input` at stride 1: a convolution of `dy` with the kernel
    turned 180° and the channels swapped): `filter [α²,C/B,O,B]` (C a
    multiple of B),
    `filter[α·b + a, c / B, o, c % B] = (G · rot180(weight[o, c]) · Gᵀ)[b][a]`.

    ```mlir
    %u = kiln.winograd_filter %w : (tensor<32x16x3x3xf32>) -> tensor<16x4x16x8xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$weight,
      DefaultValuedAttr<BoolAttr, "false">:$input_gradient,
      DefaultValuedAttr<I64Attr, "2">:$tile,
      DefaultValuedAttr<I64Attr, "8">:$block);
  let results = (outs Kiln_F32Tensor:$filter);
}

def Kiln_Conv2DWinogradOp : Kiln_KernelOp<"conv2d_winograd"> {
  let summary = "3x3 stride-1 conv2d by Winograd's F(m x m, 3x3)";
  let description = [{
    `conv2d(input, weight, bias)` with a 3x3 kernel, strides and dilations
    1, groups 1 and `pads [top, left, bottom, right]`, computed from
    `filter = winograd_filter(weight)` of the same `tile` m = 2 or 4
    (`[α²,O/B,C,B]`, α = m + 2, B = 8 or 16): for each m x m output tile,
    `Aᵀ [U ⊙ (Bᵀ d B)] A` over its α x α input tile `d`, α² multiplies per
    tile and channel pair instead of 9m² (2.25x fewer at m = 2, 4x at
    m = 4). For m = 2 the rows of `Bᵀ` are `[1, 0, −1, 0]`, `[0, 1, 1, 0]`,
    `[0, −1, 1, 0]`, `[0, 1, 0, −1]` and of `Aᵀ` `[1, 1, 1, 0]`,
    `[0, 1, −1, −1]`; m = 4 uses the points 0, 1, −1, 2, −½, ∞
    (docs/codegen.md).
    Where the output height or width (`H + top + bottom − 2`,
    `W + left + right − 2`) is not a multiple of m, the last row or column
    of tiles is partial (the input past the image reads as zeros; only the
    plane is written). Measured against the direct convolution: about 1e-6
    relative at m = 2, a few 1e-6 (up to 1e-4 on wide sums of large
    values) at m = 4 (docs/codegen.md). Made by `kiln-winograd`.

    ```mlir
    %y = kiln.conv2d_winograd %x, %u, %b {pads = array<i64: 1, 1, 1, 1>}
        : (tensor<1x16x8x8xf32>, tensor<16x4x16x8xf32>, tensor<32xf32>) -> tensor<1x32x8x8xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$filter,
      Optional<Kiln_F32Tensor>:$bias,
      DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0, 0, 0}">:$pads,
      DefaultValuedAttr<I64Attr, "2">:$tile);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_LRNGradOp : Kiln_TrainOp<"lrn_grad", "gradient of lrn"> {
  let description = [{
    With `s[c] = bias + alpha/size · Σ_{j ∈ W(c)} x[j]²` (the window of
    lrn): `dx[i] = dy[i]·s[i]^−β − (2αβ/size)·x[i]·Σ_{c : i ∈ W(c)}
    dy[c]·x[c]·s[c]^(−β−1)`. The attributes are lrn's.
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$dy,
      I64Attr:$size, F32Attr:$alpha, F32Attr:$beta, F32Attr:$bias);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_ResizeGradOp : Kiln_TrainOp<"resize_grad", "gradient of resize"> {
  let description = [{
    The transpose of `kiln.resize` (a linear map): every input element of
    `[..., input_sizes[0], input_sizes[1]]` gathers `dy` from the outputs
    whose taps read it, times the taps' weights. The other attributes are
    resize's.

    ```mlir
    %dx = kiln.resize_grad %dy {input_sizes = array<i64: 4, 4>, sizes = array<i64: 8, 8>, scales = [2.0, 2.0], mode = "linear"}
        : (tensor<1x3x8x8xf32>) -> tensor<1x3x4x4xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$dy, DenseI64ArrayAttr:$input_sizes,
      DenseI64ArrayAttr:$sizes, F64ArrayAttr:$scales, StrAttr:$mode,
      DefaultValuedAttr<StrAttr, "\"half_pixel\"">:$coordinate_transformation_mode,
      DefaultValuedAttr<StrAttr, "\"round_prefer_floor\"">:$nearest_mode,
      DefaultValuedAttr<F32Attr, "-0.75">:$cubic_coeff_a,
      DefaultValuedAttr<BoolAttr, "false">:$exclude_outside);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_LayerNormGradOp : Kiln_TrainOp<"layer_norm_grad",
    "gradients of layer_norm"> {
  let description = [{
    The gradients of layer_norm over the dims from `axis` on: `dx`, and
    when `weight` is given also `dweight` and `dbias` (`Σ dy` over the outer
    dims).
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$dy,
      Optional<Kiln_F32Tensor>:$weight, I64Attr:$axis,
      DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Variadic<Kiln_F32Tensor>:$grads);
}

def Kiln_ActivationGradOp : Kiln_TrainOp<"activation_grad",
    "gradient of an elementwise activation",
    [DeclareOpInterfaceMethods<Kiln_ElementwiseOpInterface, ["isFusible"]>,
     Kiln_RecomputeOpInterface]> {
  let description = [{
    `dx = dy · f'(x)` for the forward activation named by `activation`
    (step, sigmoid, tanh, relu, relu6, leaky_relu, elu, selu, silu, gelu,
    softplus, mish, sin), with that op's attributes and PyTorch's values at
    kinks (relu: 0 at x ≤ 0; relu6: 1 for 0 < x < 6, else 0; leaky_relu:
    alpha at x ≤ 0; softplus: sigmoid(beta·x) below threshold, else 1). The
    autodiff rule of relu and relu6 passes the forward output as `input`:
    f'(y) = f'(x) for both.
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$dy,
      StrAttr:$activation, OptionalAttr<F32Attr>:$alpha,
      OptionalAttr<StrAttr>:$approximate, OptionalAttr<F32Attr>:$beta,
      OptionalAttr<F32Attr>:$threshold);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_GridSampleGradOp : Kiln_TrainOp<"grid_sample_grad",
    "gradients of grid_sample"> {
  let description = [{
    The gradients of `kiln.grid_sample` (same attributes) for `dy` [N, C,
    OH, OW]: `dx` [N, C, H, W], each output's `dy` added into the pixels
    its taps read, times their weights; `dgrid` [N, OH, OW, 2], the sum
    over the channels of `dy` times the derivative of the sampled value in
    x and y, times the padding's derivative (0 where `border` or
    `reflection` clamps, -1 where a reflection flips) and the
    unnormalization's scale (PyTorch's grid_sampler_2d_backward: nearest
    gives zeros; bicubic's padding of each tap passes no gradient).
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$grid,
      Kiln_F32Tensor:$dy,
      DefaultValuedAttr<StrAttr, "\"bilinear\"">:$mode,
      DefaultValuedAttr<StrAttr, "\"zeros\"">:$padding_mode,
      DefaultValuedAttr<BoolAttr, "false">:$align_corners);
  let results = (outs Kiln_F32Tensor:$dx, Kiln_F32Tensor:$dgrid);
}

def Kiln_PReluGradOp : Kiln_TrainOp<"prelu_grad", "gradients of prelu"> {
  let description = [{
    `dx = dy · (x > 0 ? 1 : slope)`; `dslope = Σ dy·x` over the elements
    with x ≤ 0, per channel (axis 1), or over all elements for a `[1]`
    slope.
  }];
  let arguments = (ins Kiln_F32Tensor:$input, Kiln_F32Tensor:$slope,
      Kiln_F32Tensor:$dy);
  let results = (outs Kiln_F32Tensor:$dx, Kiln_F32Tensor:$dslope);
}

def Kiln_SoftmaxGradOp : Kiln_TrainOp<"softmax_grad",
    "gradient of softmax / log_softmax from the forward output"> {
  let description = [{
    From the forward output `y`: softmax `dx = y·(dy − Σ_axis dy·y)`;
    log_softmax (`log`) `dx = dy − exp(y)·Σ_axis dy`.
  }];
  let arguments = (ins Kiln_F32Tensor:$output, Kiln_F32Tensor:$dy,
      I64Attr:$axis, DefaultValuedAttr<BoolAttr, "false">:$log);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_DropoutTrainOp : Kiln_TrainOp<"dropout_train",
    "dropout with a hashed mask (training)",
    [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>,
     DeclareOpInterfaceMethods<Kiln_ElementwiseOpInterface, ["isFusible"]>,
     Kiln_RecomputeOpInterface]> {
  let description = [{
    `result = keep ? x/(1 − rate) : 0`, with `keep` a hash of the element's
    row-major index, the `seed` input and the `salt` attribute (bit-exact
    definition in docs/training-ops.md). Its own gradient is
    `dropout_train(dy, seed)` with the same salt.
  }];
  let arguments = (ins Kiln_F32Tensor:$input, 0DTensorOf<[I32]>:$seed,
      F32Attr:$rate, I64Attr:$salt);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_AugmentOp : Kiln_TrainOp<"augment",
    "random flips, shifts, rotation, zoom and noise of a training batch",
    [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let description = [{
    Data augmentation of an image batch `[N,C,H,W]` (made by
    `kiln-augment` at the model input of the training step). Each image `n`
    draws its own transform from `u_k = hash(seed, n, k)` (uniform in
    [0, 1), the uint32 hash of docs/training-ops.md): a horizontal flip
    when `flip_h` and `u_0 < 1/2`, a vertical one when `flip_v` and
    `u_1 < 1/2`, a shift of `(2u_2 − 1)·shift` and `(2u_3 − 1)·shift`
    pixels, a rotation by `(2u_4 − 1)·rotate` degrees and a zoom by
    `1 + (2u_5 − 1)·zoom` about the image centre. An output pixel samples
    the input bilinearly where the inverse transform takes it (zero outside
    the image, as Keras's `fill_mode="constant"`), then adds
    `noise·N(0, 1)` (Box-Muller on two hashes of the pixel). The same seed
    gives the same batch. Its gradient rule gives none: it transforms
    data, which has no gradient in training.
  }];
  let arguments = (ins Kiln_F32Tensor:$input, 0DTensorOf<[I32]>:$seed,
      DefaultValuedAttr<BoolAttr, "false">:$flip_h,
      DefaultValuedAttr<BoolAttr, "false">:$flip_v,
      DefaultValuedAttr<F64Attr, "0.0">:$shift,
      DefaultValuedAttr<F64Attr, "0.0">:$rotate,
      DefaultValuedAttr<F64Attr, "0.0">:$zoom,
      DefaultValuedAttr<F64Attr, "0.0">:$noise);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_LossGradOp : Kiln_TrainOp<"loss_grad",
    "gradient of a mean loss with respect to the prediction"> {
  let description = [{
    `dloss · ∂(mean loss)/∂pred` for `loss` one of mse, mae, huber (with
    `delta`), bce, bce_logits, cce, sparse_cce (an `i32 [N]` target) and
    hinge, with PyTorch's values at kinks (mae: sign(0) = 0; bce: the
    denominator clamped at 1e-12). The mean divides by the element count
    (N for cce and sparse_cce).
  }];
  let arguments = (ins Kiln_F32Tensor:$pred, AnyRankedTensor:$target,
      Kiln_Scalar:$dloss, StrAttr:$loss, OptionalAttr<F32Attr>:$delta);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_OptimizerUpdateOp : Kiln_TrainOp<"optimizer_update",
    "one optimizer step for one parameter and its slots",
    [DeclareOpInterfaceMethods<Kiln_UpdateOpInterface>]> {
  let description = [{
    One optimizer step for one parameter: operands `param`, `grad`, `lr`,
    `step` (1 on the first update), then the slots of `kind`; results the
    new parameter, then the new slots. `hyper` holds every hyperparameter of
    the kind with PyTorch's defaults, plus `weight_decay` (`g += wd·param`)
    and `clip_value` (`g = clamp(g, −c, c)` first, 0 = off). Kinds: sgd;
    momentum and nesterov (slot buf); adagrad (sum); adadelta (square_avg,
    acc_delta); rmsprop (square_avg); adam (exp_avg, exp_avg_sq; PyTorch's
    `p −= lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε)`). The update formulas:
    docs/training-ops.md. Writes in place when nothing reads the parameter
    after it (UpdateOpInterface).
  }];
  let arguments = (ins Kiln_F32Tensor:$param, Kiln_F32Tensor:$grad,
      Kiln_Scalar:$lr, Kiln_Scalar:$step, Variadic<Kiln_F32Tensor>:$slots,
      StrAttr:$kind, DictionaryAttr:$hyper);
  let results = (outs Variadic<Kiln_F32Tensor>:$updated);
  let extraClassDeclaration = [{
    ::mlir::LogicalResult canonicalizeKernelAttrs(::nlohmann::json &attrs);
  }];
}

// Not Pure: it writes a parameter, so DCE must keep it.
def Kiln_AssignOp : Op<Kiln_Dialect, "assign", [AllTypesMatch<["param", "value"]>]> {
  let summary = "write a new value into a parameter after the step";
  let description = [{
    At the end of the function, `param` (a `kiln.param` result) takes
    `value`. Reads of `param` anywhere in the function see the old value.

    ```mlir
    kiln.assign %w, %w_new : tensor<4x3xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$param, AnyRankedTensor:$value);
  let assemblyFormat = "$param `,` $value attr-dict `:` type($param)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// ONNX data-path ops (docs/ops.md "ONNX data-path ops"; frontend/onnx)
//===----------------------------------------------------------------------===//

// Elementwise math whose gradient is written in terms of other kiln ops
// (ir/lib/KilnOnnxOps.cpp), so it needs no gradient kernel of its own.
class Kiln_MathUnaryOp<string mnemonic, string formula>
    : Kiln_KernelOp<mnemonic, [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>,
                               Kiln_ElementwiseOpInterface,
                               Kiln_RecomputeOpInterface]> {
  let summary = "elementwise " # formula;
  let arguments = (ins Kiln_F32Tensor:$input);
  let results = (outs Kiln_F32Tensor:$result);
  let description = "Computes `" # formula # "` elementwise (ONNX " #
    "semantics).\n\n```mlir\n%y = kiln." # mnemonic #
    " %x : (tensor<2x3xf32>) -> tensor<2x3xf32>\n```";
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::inferResultTypes(
        ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      types.push_back(getInput().getType());
      return ::mlir::success();
    }
  }];
}

def Kiln_ExpOp : Kiln_MathUnaryOp<"exp", "exp(x)">;
def Kiln_LogOp : Kiln_MathUnaryOp<"log", "log(x)">;
def Kiln_SqrtOp : Kiln_MathUnaryOp<"sqrt", "sqrt(x)">;
def Kiln_ErfOp : Kiln_MathUnaryOp<"erf", "erf(x)">;
def Kiln_AbsOp : Kiln_MathUnaryOp<"abs", "|x|">;

def Kiln_ClipOp : Kiln_MathUnaryOp<"clip", "min(max(x, min), max)"> {
  let description = [{
    Clamps every element to `[min, max]` (ONNX Clip; `relu6` is the
    special case 0, 6). The gradient passes where `min < x < max`.

    ```mlir
    %y = kiln.clip %x {min = -1.0 : f32, max = 1.0 : f32} : (tensor<4xf32>) -> tensor<4xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, F32Attr:$min, F32Attr:$max);
  let hasVerifier = 1;
}

def Kiln_PowOp : Kiln_KernelOp<"pow", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>,
                                       Kiln_ElementwiseOpInterface,
                                       Kiln_RecomputeOpInterface]> {
  let summary = "elementwise lhs ^ rhs with numpy broadcasting";
  let description = [{
    `pow(lhs, rhs)` as C's `powf` (ONNX Pow on floats); shapes broadcast as
    in numpy.

    ```mlir
    %y = kiln.pow %x, %e : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$lhs, Kiln_F32Tensor:$rhs);
  let results = (outs Kiln_F32Tensor:$result);
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::inferResultTypes(
        ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      return ::kiln::ir::inferBroadcast(getOperation(), types);
    }
  }];
}

def Kiln_TransposeOp : Kiln_KernelOp<"transpose", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "permute the dims of a tensor";
  let description = [{
    Result dim `i` is input dim `perm[i]` (ONNX Transpose); `perm` is a
    permutation of `0..rank-1`. A transpose that moves only dims of size 1
    (the others keep their order) canonicalizes to `kiln.reshape`: the
    same elements in the same order, a view with no kernel.

    ```mlir
    %t = kiln.transpose %x {perm = array<i64: 0, 2, 1>} : (tensor<2x3x4xf32>) -> tensor<2x4x3xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Kiln_F32Tensor:$result);
  let hasCanonicalizer = 1;
}

def Kiln_CumSumOp : Kiln_KernelOp<"cumsum", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "cumulative sum along one axis";
  let description = [{
    ONNX CumSum: element `i` along `axis` is the sum of the elements up to
    it (`exclusive`: before it), from the end with `reverse`. The gradient
    is the cumulative sum of `dy` in the other direction, with the same
    `exclusive`.

    ```mlir
    %c = kiln.cumsum %x {axis = 1 : i64, exclusive = false, reverse = false}
        : (tensor<2x5xf32>) -> tensor<2x5xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, I64Attr:$axis,
      DefaultValuedAttr<BoolAttr, "false">:$exclusive,
      DefaultValuedAttr<BoolAttr, "false">:$reverse);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_PadOp : Kiln_KernelOp<"pad", [DeclareOpInterfaceMethods<Kiln_GradientOpInterface>]> {
  let summary = "pad (or, with negative pads, crop) every dim";
  let description = [{
    `pads` is `[begin_0 .. begin_(r-1), end_0 .. end_(r-1)]` (ONNX
    Pad order); a negative entry removes elements. `mode` is `constant`
    (fill with `value`), `reflect` (mirror without the edge) or `edge`
    (repeat the edge). A constant pad's gradient is the pad with the
    opposite pads (a crop), which is also how the importer slices; an edge
    or reflect pad's is `kiln.pad_grad`. With `kiln.conv2d` after it, this
    is PyTorch's `Conv2d(padding_mode="replicate" | "reflect")`.

    ```mlir
    %p = kiln.pad %x {pads = array<i64: 0, 0, 1, 1, 0, 0, 1, 1>}
        : (tensor<1x2x3x3xf32>) -> tensor<1x2x5x5xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, DenseI64ArrayAttr:$pads,
      DefaultValuedAttr<F32Attr, "0.0">:$value,
      DefaultValuedStrAttr<StrAttr, "constant">:$mode);
  let results = (outs Kiln_F32Tensor:$result);
}

def Kiln_PadGradOp : Kiln_TrainOp<"pad_grad", "gradient of an edge or reflect pad"> {
  let description = [{
    The vector-Jacobian product of `kiln.pad` in mode `edge` or `reflect`
    (pads not negative) for `dy` of the padded shape: each element of the
    result (`input_shape`) sums `dy` over the padded positions that read it,
    its own and those of the padding that repeat or mirror it.

    ```mlir
    %dx = kiln.pad_grad %dy {pads = array<i64: 0, 0, 1, 2, 0, 0, 1, 2>, mode = "edge", input_shape = array<i64: 1, 2, 3, 3>}
        : (tensor<1x2x5x7xf32>) -> tensor<1x2x3x3xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$dy, DenseI64ArrayAttr:$pads,
      StrAttr:$mode, DenseI64ArrayAttr:$input_shape);
  let results = (outs Kiln_F32Tensor:$result);
}

#endif // KILN_OPS_TD
