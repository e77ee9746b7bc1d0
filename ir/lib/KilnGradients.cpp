//===- KilnGradients.cpp - reverse-mode rules of the kiln ops -------------===//
//
// Each differentiable op builds the vector-Jacobian products of its
// operands from the gradients of its results (docs/training-ops.md). Rules
// reference the forward values they need; those stay alive for the
// backward pass. Non-differentiable operands get a null gradient.
//
//===----------------------------------------------------------------------===//
#include "GradientSupport.h"
#include "kiln/ir/KilnDialect.h"
#include "Window.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace kiln::ir;
using kiln::ir::detail::scalar;
using kiln::ir::detail::scale;
using kiln::ir::detail::unbroadcast;

namespace {

RankedTensorType rankedType(Value value) {
  return llvm::cast<RankedTensorType>(value.getType());
}

Value reshapeTo(OpBuilder &builder, Location loc, Value value,
                RankedTensorType type) {
  if (value.getType() == type) {
    return value;
  }
  return builder.create<ReshapeOp>(loc, type, value,
                                   builder.getDenseI64ArrayAttr(type.getShape()));
}

} // namespace

Value kiln::ir::detail::unbroadcast(OpBuilder &builder, Location loc, Value grad,
                  RankedTensorType target) {
  auto type = rankedType(grad);
  if (type == target) {
    return grad;
  }
  int64_t offset = type.getRank() - target.getRank();
  SmallVector<int64_t> axes;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    if (d < offset || (target.getDimSize(d - offset) == 1 &&
                       type.getDimSize(d) != 1)) {
      axes.push_back(d);
    }
  }
  Value summed = grad;
  if (!axes.empty()) {
    summed = builder.create<ReduceSumOp>(loc, grad,
                                        builder.getDenseI64ArrayAttr(axes),
                                        builder.getBoolAttr(false))
                 .getResult();
  }
  return reshapeTo(builder, loc, summed, target);
}

Value kiln::ir::detail::scale(OpBuilder &builder, Location loc, Value value,
                              double factor) {
  return builder.create<ScaleOp>(loc, value, builder.getF64FloatAttr(factor));
}

Value kiln::ir::detail::scalar(OpBuilder &builder, Location loc, float value) {
  auto type = RankedTensorType::get({}, builder.getF32Type());
  return builder.create<ConstantOp>(loc, type,
                                    DenseElementsAttr::get(type, value));
}

//===----------------------------------------------------------------------===//
// Family rules
//===----------------------------------------------------------------------===//

LogicalResult kiln::ir::buildActivationGradient(
    Operation *op, OpBuilder &builder, ArrayRef<Value> resultGrads,
    SmallVectorImpl<Value> &operandGrads) {
  // activation_grad carries the forward op's name and attributes (alpha,
  // approximate, beta, threshold), defaults included.
  NamedAttrList attrs(op->getAttrs());
  op->getName().populateDefaultAttrs(attrs);
  attrs.set("activation",
            builder.getStringAttr(op->getName().stripDialect()));
  // relu and relu6 have the same derivative at y = f(x) as at x (y > 0 iff
  // x > 0; 0 < y < 6 iff 0 < x < 6, kinks included), so their rule reads
  // the output: the pre-activation then has one use and its producer (a
  // batch norm, an add) fuses with the activation (docs/fusion.md).
  Value at = llvm::isa<ReluOp, Relu6Op>(op) ? op->getResult(0)
                                            : op->getOperand(0);
  auto grad = builder.create<ActivationGradOp>(
      op->getLoc(), op->getOperand(0).getType(),
      ValueRange{at, resultGrads[0]}, attrs.getAttrs());
  operandGrads.push_back(grad);
  return success();
}

LogicalResult kiln::ir::buildSoftmaxGradient(
    Operation *op, OpBuilder &builder, ArrayRef<Value> resultGrads,
    SmallVectorImpl<Value> &operandGrads) {
  auto input = rankedType(op->getOperand(0));
  int64_t axis = llvm::cast<IntegerAttr>(op->getAttr("axis")).getInt();
  if (axis < 0) {
    axis += input.getRank();
  }
  bool log = llvm::isa<LogSoftmaxOp>(op);
  operandGrads.push_back(builder.create<SoftmaxGradOp>(
      op->getLoc(), input, op->getResult(0), resultGrads[0],
      builder.getI64IntegerAttr(axis), builder.getBoolAttr(log)));
  return success();
}

LogicalResult kiln::ir::buildBinaryGradient(
    Operation *op, OpBuilder &builder, ArrayRef<Value> resultGrads,
    SmallVectorImpl<Value> &operandGrads) {
  Location loc = op->getLoc();
  Value a = op->getOperand(0), b = op->getOperand(1), dy = resultGrads[0];
  Value da, db;
  if (llvm::isa<AddOp>(op)) {
    da = dy;
    db = dy;
  } else if (llvm::isa<SubOp>(op)) {
    da = dy;
    db = scale(builder, loc, dy, -1.0);
  } else if (llvm::isa<MulOp>(op)) {
    da = builder.create<MulOp>(loc, dy, b);
    db = builder.create<MulOp>(loc, dy, a);
  } else if (llvm::isa<MaximumOp, MinimumOp>(op)) {
    // t = dy * sign(a - b): max gives a (dy + t) / 2 and b (dy - t) / 2, so
    // dy to the larger and dy / 2 to each at a tie; min the other way.
    Value d = builder.create<SubOp>(loc, a, b);
    Value sign = builder.create<SignOp>(loc, d.getType(), d);
    Value t = builder.create<MulOp>(loc, dy, sign);
    Value plus = scale(builder, loc, builder.create<AddOp>(loc, dy, t), 0.5);
    Value minus = scale(builder, loc, builder.create<SubOp>(loc, dy, t), 0.5);
    bool isMax = llvm::isa<MaximumOp>(op);
    da = isMax ? plus : minus;
    db = isMax ? minus : plus;
  } else if (llvm::isa<ModOp, FmodOp>(op)) {
    // r = a - b q with q piecewise constant: dr/da = 1, dr/db = -q, and
    // -q = (r - a) / b.
    da = dy;
    Value negQ = builder.create<DivOp>(
        loc, builder.create<SubOp>(loc, op->getResult(0), a), b);
    db = builder.create<MulOp>(loc, dy, negQ);
  } else {
    // d(a/b)/da = 1/b; d(a/b)/db = -(a/b)/b.
    da = builder.create<DivOp>(loc, dy, b);
    Value t = builder.create<MulOp>(loc, dy, op->getResult(0));
    db = scale(builder, loc, builder.create<DivOp>(loc, t, b), -1.0);
  }
  operandGrads.push_back(unbroadcast(builder, loc, da, rankedType(a)));
  operandGrads.push_back(unbroadcast(builder, loc, db, rankedType(b)));
  return success();
}

LogicalResult kiln::ir::buildLossGradient(
    Operation *op, OpBuilder &builder, ArrayRef<Value> resultGrads,
    SmallVectorImpl<Value> &operandGrads) {
  Value pred = op->getOperand(0), target = op->getOperand(1);
  FloatAttr delta = op->getAttrOfType<FloatAttr>("delta");
  if (!delta && llvm::isa<HuberOp>(op)) {
    delta = builder.getF32FloatAttr(1.0f);
  }
  operandGrads.push_back(builder.create<LossGradOp>(
      op->getLoc(), pred.getType(), pred, target, resultGrads[0],
      builder.getStringAttr(op->getName().stripDialect()), delta));
  operandGrads.push_back(Value()); // targets are data, not parameters
  return success();
}

//===----------------------------------------------------------------------===//
// Views
//===----------------------------------------------------------------------===//

namespace {
LogicalResult viewGradient(Operation *op, OpBuilder &builder,
                           ArrayRef<Value> resultGrads,
                           SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(reshapeTo(builder, op->getLoc(), resultGrads[0],
                                   rankedType(op->getOperand(0))));
  return success();
}
} // namespace

LogicalResult FlattenOp::buildGradients(OpBuilder &builder,
                                        ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  return viewGradient(*this, builder, resultGrads, operandGrads);
}
LogicalResult ReshapeOp::buildGradients(OpBuilder &builder,
                                        ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  return viewGradient(*this, builder, resultGrads, operandGrads);
}
LogicalResult IdentityOp::buildGradients(OpBuilder &builder,
                                         ArrayRef<Value> resultGrads,
                                         SmallVectorImpl<Value> &operandGrads) {
  return viewGradient(*this, builder, resultGrads, operandGrads);
}
LogicalResult DropoutOp::buildGradients(OpBuilder &builder,
                                        ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  // Inference dropout is the identity.
  return viewGradient(*this, builder, resultGrads, operandGrads);
}

// Augmentation transforms the data: nothing upstream takes a gradient.
LogicalResult AugmentOp::buildGradients(OpBuilder &builder,
                                        ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  (void)builder;
  (void)resultGrads;
  operandGrads.push_back(Value());
  operandGrads.push_back(Value());
  return success();
}

LogicalResult
DropoutTrainOp::buildGradients(OpBuilder &builder, ArrayRef<Value> resultGrads,
                               SmallVectorImpl<Value> &operandGrads) {
  // The same mask (same seed and salt) scales the gradient.
  operandGrads.push_back(builder.create<DropoutTrainOp>(
      getLoc(), getType(), resultGrads[0], getSeed(), getRateAttr(),
      getSaltAttr()));
  operandGrads.push_back(Value());
  return success();
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

LogicalResult DenseOp::buildGradients(OpBuilder &builder,
                                      ArrayRef<Value> resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  Value dy = resultGrads[0];
  // y = x·Wᵀ + b: dx = dy·W, dW = dyᵀ·x, db = Σ_n dy.
  operandGrads.push_back(builder.create<MatmulOp>(loc, dy, getWeight(), builder.getBoolAttr(false),
      builder.getBoolAttr(false)));
  operandGrads.push_back(builder.create<MatmulOp>(loc, dy, getInput(), builder.getBoolAttr(true),
      builder.getBoolAttr(false)));
  if (getBias()) {
    operandGrads.push_back(builder.create<ReduceSumOp>(loc, dy, builder.getDenseI64ArrayAttr({0}),
        builder.getBoolAttr(false)));
  }
  return success();
}

LogicalResult MatmulOp::buildGradients(OpBuilder &builder,
                                       ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  Value dc = resultGrads[0];
  bool ta = getTransposeA(), tb = getTransposeB();
  auto matmul = [&](Value x, Value y, bool tx, bool ty) -> Value {
    return builder.create<MatmulOp>(loc, x, y,
                                   builder.getBoolAttr(tx),
                                   builder.getBoolAttr(ty));
  };
  // c = op(a)·op(b).
  operandGrads.push_back(ta ? matmul(getB(), dc, tb, true)
                            : matmul(dc, getB(), false, !tb));
  operandGrads.push_back(tb ? matmul(dc, getA(), true, ta)
                            : matmul(getA(), dc, !ta, false));
  return success();
}

LogicalResult Conv2DOp::buildGradients(OpBuilder &builder,
                                       ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  if (hasPackedWeight()) {
    return emitOpError() << "has a packed weight (kiln-pack-weights packs "
                            "inference graphs only): no gradient";
  }
  Value dy = resultGrads[0];
  auto input = rankedType(getInput());
  auto weight = rankedType(getWeight());
  auto window = detail::resolveWindow(
      *this, input.getShape().drop_front(2), weight.getShape().drop_front(2),
      getStrides(), getDilations(), getPads(), getAutoPad(), false);
  if (failed(window)) {
    return failure();
  }
  auto strides = builder.getDenseI64ArrayAttr(window->strides);
  auto pads = builder.getDenseI64ArrayAttr(window->pads);
  auto dilations = builder.getDenseI64ArrayAttr(window->dilations);
  auto ones = [](ArrayRef<int64_t> v) {
    return llvm::all_of(v, [](int64_t e) { return e == 1; });
  };
  if (ones(window->kernel) && ones(window->strides) &&
      llvm::all_of(window->pads, [](int64_t p) { return p == 0; }) &&
      getGroups() == 1) {
    // A pointwise convolution's input gradient is the pointwise convolution
    // of dy with the transposed weight [C, O, 1, 1], which runs on conv2d's
    // matrix-product schedule (MobileNetV2's 144 -> 24 on 56x56 at batch
    // 16: 7.1 -> 2.6 ms; docs/codegen.md).
    Value turned = builder.create<TransposeOp>(loc, getWeight(), builder.getDenseI64ArrayAttr({1, 0, 2, 3}));
    operandGrads.push_back(builder.create<Conv2DOp>(loc, ValueRange{dy, turned}, ArrayRef<NamedAttribute>{}));
  } else {
    operandGrads.push_back(builder.create<Conv2DGradInputOp>(loc, dy, getWeight(), strides, pads, dilations,
        getGroupsAttr(),
        builder.getDenseI64ArrayAttr(input.getShape().drop_front(2))));
  }
  operandGrads.push_back(builder.create<Conv2DGradWeightOp>(loc, getInput(), dy, strides, pads, dilations,
      getGroupsAttr(), builder.getDenseI64ArrayAttr(window->kernel),
      builder.getI64IntegerAttr(0)));
  if (getBias()) {
    operandGrads.push_back(builder.create<ReduceSumOp>(loc, dy, builder.getDenseI64ArrayAttr({0, 2, 3}),
        builder.getBoolAttr(false)));
  }
  return success();
}

// dx = conv2d_grad_input(dy, w) is linear in dy and in w (ONNX's
// ConvTranspose imports as it): the forward convolution of dx's gradient g
// with w gives dy's gradient, and conv2d_grad_weight of (g, dy) w's.
LogicalResult Conv2DGradInputOp::buildGradients(
    OpBuilder &builder, ArrayRef<Value> resultGrads,
    SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  Value g = resultGrads[0];
  auto weight = rankedType(getWeight());
  SmallVector<NamedAttribute> attrs = {
      builder.getNamedAttr("strides", getStridesAttr()),
      builder.getNamedAttr("pads", getPadsAttr()),
      builder.getNamedAttr("dilations", getDilationsAttr()),
      builder.getNamedAttr("groups", getGroupsAttr())};
  operandGrads.push_back(builder.create<Conv2DOp>(loc, ValueRange{g, getWeight()}, attrs));
  operandGrads.push_back(builder.create<Conv2DGradWeightOp>(loc, g, getDy(), getStridesAttr(), getPadsAttr(),
      getDilationsAttr(), getGroupsAttr(),
      builder.getDenseI64ArrayAttr(weight.getShape().drop_front(2)),
      builder.getI64IntegerAttr(0)));
  return success();
}

LogicalResult MaxPool2DOp::buildGradients(OpBuilder &builder,
                                          ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  auto window = detail::poolWindow(*this);
  if (failed(window)) {
    return failure();
  }
  operandGrads.push_back(builder.create<MaxPool2DGradOp>(
      getLoc(), getInput().getType(), getInput(), resultGrads[0],
      builder.getDenseI64ArrayAttr(window->kernel),
      builder.getDenseI64ArrayAttr(window->strides),
      builder.getDenseI64ArrayAttr(window->pads),
      builder.getDenseI64ArrayAttr(window->dilations)));
  return success();
}

LogicalResult AvgPool2DOp::buildGradients(OpBuilder &builder,
                                          ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  auto window = detail::poolWindow(*this);
  if (failed(window)) {
    return failure();
  }
  auto input = rankedType(getInput());
  operandGrads.push_back(builder.create<AvgPool2DGradOp>(
      getLoc(), input, resultGrads[0],
      builder.getDenseI64ArrayAttr(window->kernel),
      builder.getDenseI64ArrayAttr(window->strides),
      builder.getDenseI64ArrayAttr(window->pads),
      builder.getDenseI64ArrayAttr(window->userPads),
      getCountIncludePadAttr(),
      builder.getDenseI64ArrayAttr(input.getShape().drop_front(2))));
  return success();
}

LogicalResult
GlobalAvgPoolOp::buildGradients(OpBuilder &builder, ArrayRef<Value> resultGrads,
                                SmallVectorImpl<Value> &operandGrads) {
  auto input = rankedType(getInput());
  operandGrads.push_back(builder.create<GlobalAvgPoolGradOp>(
      getLoc(), input, resultGrads[0],
      builder.getDenseI64ArrayAttr(input.getShape().drop_front(2))));
  return success();
}

LogicalResult
BatchNormTrainOp::buildGradients(OpBuilder &builder,
                                 ArrayRef<Value> resultGrads,
                                 SmallVectorImpl<Value> &operandGrads) {
  if (resultGrads[1] || resultGrads[2]) {
    return emitOpError() << "gradients through the batch statistics "
                            "themselves are not supported";
  }
  auto grad = builder.create<BatchNormGradOp>(
      getLoc(),
      TypeRange{getInput().getType(), getWeight().getType(),
                getWeight().getType()},
      getInput(), resultGrads[0], getWeight(), getMean(), getVar(),
      getEpsilonAttr());
  operandGrads.append({grad.getDx(), grad.getDweight(), grad.getDbias()});
  return success();
}

LogicalResult LayerNormOp::buildGradients(OpBuilder &builder,
                                          ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  int64_t rank = rankedType(getInput()).getRank();
  int64_t axis = static_cast<int64_t>(getAxis());
  axis = axis < 0 ? axis + rank : axis;
  auto grad = builder.create<LayerNormGradOp>(getLoc(), getInput(), resultGrads[0], getWeight(),
      builder.getI64IntegerAttr(axis), getEpsilonAttr());
  if (!grad) {
    return failure();
  }
  operandGrads.push_back(grad.getGrads()[0]);
  operandGrads.push_back(grad.getGrads()[1]);
  if (getBias()) {
    operandGrads.push_back(grad.getGrads()[2]);
  }
  return success();
}

LogicalResult ConcatOp::buildGradients(OpBuilder &builder,
                                       ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  int64_t rank = rankedType(getResult()).getRank();
  int64_t axis = static_cast<int64_t>(getAxis());
  axis = axis < 0 ? axis + rank : axis;
  int64_t start = 0;
  for (Value input : getInputs()) {
    auto type = rankedType(input);
    int64_t size = type.getDimSize(axis);
    operandGrads.push_back(builder.create<SliceOp>(
        getLoc(), type, resultGrads[0], builder.getI64IntegerAttr(axis),
        builder.getI64IntegerAttr(start), builder.getI64IntegerAttr(size)));
    start += size;
  }
  return success();
}

// lhs gets dy where the condition holds, rhs elsewhere: where itself,
// with a zero in the other branch.
LogicalResult WhereOp::buildGradients(OpBuilder &builder,
                                      ArrayRef<Value> resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  Value dy = resultGrads[0], zero = scalar(builder, loc, 0.0f);
  Value dl = builder.create<WhereOp>(loc, getCond(), dy, zero);
  Value dr = builder.create<WhereOp>(loc, getCond(), zero, dy);
  operandGrads.push_back(Value()); // the condition is data
  operandGrads.push_back(unbroadcast(builder, loc, dl, rankedType(getLhs())));
  operandGrads.push_back(unbroadcast(builder, loc, dr, rankedType(getRhs())));
  return success();
}

LogicalResult GatherOp::buildGradients(OpBuilder &builder,
                                       ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(builder.create<GatherGradOp>(
      getLoc(), getIndices(), resultGrads[0], getAxisAttr(),
      builder.getI64IntegerAttr(rankedType(getInput()).getDimSize(getAxis()))));
  operandGrads.push_back(Value()); // indices are data, not parameters
  return success();
}

LogicalResult GatherElementsOp::buildGradients(
    OpBuilder &builder, ArrayRef<Value> resultGrads,
    SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(builder.create<GatherElementsGradOp>(
      getLoc(), getIndices(), resultGrads[0], getAxisAttr(),
      builder.getDenseI64ArrayAttr(rankedType(getInput()).getShape())));
  operandGrads.push_back(Value()); // indices are data, not parameters
  return success();
}

LogicalResult GatherElementsGradOp::buildGradients(
    OpBuilder &builder, ArrayRef<Value> resultGrads,
    SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(Value()); // indices are data, not parameters
  operandGrads.push_back(builder.create<GatherElementsOp>(
      getLoc(), getDy().getType(), resultGrads[0], getIndices(),
      getAxisAttr()));
  return success();
}

LogicalResult LRNOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(builder.create<LRNGradOp>(
      getLoc(), getInput().getType(), getInput(), resultGrads[0],
      getSizeAttr(), getAlphaAttr(), getBetaAttr(), getBiasAttr()));
  return success();
}

LogicalResult ResizeOp::buildGradients(OpBuilder &builder,
                                       ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  auto x = llvm::cast<RankedTensorType>(getInput().getType());
  operandGrads.push_back(builder.create<ResizeGradOp>(
      getLoc(), x, resultGrads[0],
      builder.getDenseI64ArrayAttr(x.getShape().take_back(2)), getSizesAttr(),
      getScalesAttr(), getModeAttr(), getCoordinateTransformationModeAttr(),
      getNearestModeAttr(), getCubicCoeffAAttr(), getExcludeOutsideAttr()));
  return success();
}

LogicalResult GridSampleOp::buildGradients(
    OpBuilder &builder, ArrayRef<Value> resultGrads,
    SmallVectorImpl<Value> &operandGrads) {
  auto grad = builder.create<GridSampleGradOp>(
      getLoc(), TypeRange{getInput().getType(), getGrid().getType()},
      getInput(), getGrid(), resultGrads[0], getModeAttr(),
      getPaddingModeAttr(), getAlignCornersAttr());
  operandGrads.append({grad.getDx(), grad.getDgrid()});
  return success();
}

LogicalResult PReluOp::buildGradients(OpBuilder &builder,
                                      ArrayRef<Value> resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  auto grad = builder.create<PReluGradOp>(
      getLoc(), TypeRange{getInput().getType(), getSlope().getType()},
      getInput(), getSlope(), resultGrads[0]);
  operandGrads.append({grad.getDx(), grad.getDslope()});
  return success();
}

// Every summed element gets the sum's gradient: dy with the reduced axes
// kept as 1, broadcast back to x's shape (numpy rules, through an add of
// zeros, as the ONNX importer's Expand). ReduceMean arrives as reduce_sum
// then a scale (transformers' mean pooling, decomposed LayerNorm).
LogicalResult ReduceSumOp::buildGradients(OpBuilder &builder,
                                          ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  auto input = rankedType(getInput());
  SmallVector<int64_t> kept(input.getShape());
  for (int64_t axis : getAxes()) {
    kept[axis < 0 ? axis + input.getRank() : axis] = 1;
  }
  Value dy = reshapeTo(builder, loc, resultGrads[0],
                       RankedTensorType::get(kept, input.getElementType()));
  if (kept == SmallVector<int64_t>(input.getShape())) {
    operandGrads.push_back(dy);
    return success();
  }
  auto zerosType = RankedTensorType::get(input.getShape(), builder.getF32Type());
  Value zeros = builder.create<ConstantOp>(
      loc, zerosType, DenseElementsAttr::get(zerosType, 0.0f));
  operandGrads.push_back(
      builder.create<AddOp>(loc, dy, zeros).getResult());
  return success();
}

// reduce_max / reduce_min / reduce_prod: one gradient kernel, reduce_grad,
// that reads x, the result and dy (docs/training-ops.md).
#define KILN_REDUCE_GRADIENT(Op, kind)                                         \
  LogicalResult Op::buildGradients(OpBuilder &builder,                         \
                                   ArrayRef<Value> resultGrads,                \
                                   SmallVectorImpl<Value> &operandGrads) {     \
    operandGrads.push_back(builder.create<ReduceGradOp>(                       \
        getLoc(), getInput().getType(), getInput(), getResult(),               \
        resultGrads[0], builder.getStringAttr(kind), getAxesAttr(),            \
        getKeepdimsAttr()));                                                   \
    return success();                                                          \
  }
KILN_REDUCE_GRADIENT(ReduceMaxOp, "max")
KILN_REDUCE_GRADIENT(ReduceMinOp, "min")
KILN_REDUCE_GRADIENT(ReduceProdOp, "prod")
#undef KILN_REDUCE_GRADIENT

LogicalResult ScaleOp::buildGradients(OpBuilder &builder,
                                      ArrayRef<Value> resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(
      scale(builder, getLoc(), resultGrads[0], getFactor().convertToDouble()));
  return success();
}

LogicalResult RegularizerOp::buildGradients(OpBuilder &builder,
                                            ArrayRef<Value> resultGrads,
                                            SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(builder.create<RegularizerGradOp>(
      getLoc(), getWeight().getType(), getWeight(), resultGrads[0],
      getL1Attr(), getL2Attr()));
  return success();
}

// The input's gradient; targets and class weights are data.
LogicalResult NllLossOp::buildGradients(OpBuilder &builder,
                                        ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(builder.create<NllLossGradOp>(
      getLoc(), getInput().getType(), getInput(), getTarget(), resultGrads[0],
      getWeight(), getReductionAttr(), getIgnoreIndexAttr()));
  operandGrads.push_back(Value());
  if (getWeight()) {
    operandGrads.push_back(Value());
  }
  return success();
}

LogicalResult SparseCCEOp::buildGradients(OpBuilder &builder,
                                          ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  return buildLossGradient(*this, builder, resultGrads, operandGrads);
}
