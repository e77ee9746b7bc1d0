//===- KilnOnnxOps.cpp - ops the ONNX importer needs ----------------------===//
//
// Shape inference, verifiers and gradient rules of the ONNX data-path ops
// (exp, log, sqrt, erf, abs, clip, pow, transpose, pad). Their gradients are
// written in terms of other kiln ops, so they need no gradient kernels.
//
//===----------------------------------------------------------------------===//
#include "GradientSupport.h"
#include "kiln/ir/KilnDialect.h"

#include "mlir/IR/Builders.h"

#include <cmath>

using namespace mlir;
using namespace kiln::ir;
using kiln::ir::detail::scalar;
using kiln::ir::detail::scale;
using kiln::ir::detail::unbroadcast;

namespace {

RankedTensorType rankedType(Value value) {
  return llvm::cast<RankedTensorType>(value.getType());
}

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise math
//===----------------------------------------------------------------------===//

LogicalResult ExpOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(
      builder.create<MulOp>(getLoc(), resultGrads[0], getResult()));
  return success();
}

LogicalResult LogOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(
      builder.create<DivOp>(getLoc(), resultGrads[0], getInput()));
  return success();
}

LogicalResult SqrtOp::buildGradients(OpBuilder &builder,
                                     ArrayRef<Value> resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  // d sqrt(x) = dy / (2 sqrt(x)).
  Value half = scale(builder, getLoc(), resultGrads[0], 0.5);
  operandGrads.push_back(
      builder.create<DivOp>(getLoc(), half, getResult()));
  return success();
}

LogicalResult ErfOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  // d erf(x) = 2/sqrt(pi) * exp(-x^2) * dy.
  Location loc = getLoc();
  Value x = getInput();
  Value negSquare = scale(builder, loc, builder.create<MulOp>(loc, x, x),
                           -1.0);
  Value density = scale(builder, loc, builder.create<ExpOp>(loc, negSquare),
                         2.0 / std::sqrt(M_PI));
  operandGrads.push_back(
      builder.create<MulOp>(loc, resultGrads[0], density));
  return success();
}

LogicalResult AbsOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  // sign(x) = step(x) - step(-x), 0 at 0 (PyTorch).
  Location loc = getLoc();
  Value x = getInput();
  Value sign = builder.create<SubOp>(loc, builder.create<StepOp>(loc, x), builder.create<StepOp>(loc, scale(builder, loc, x, -1.0)));
  operandGrads.push_back(builder.create<MulOp>(loc, resultGrads[0], sign));
  return success();
}

LogicalResult ClipOp::verify() {
  if (getMin().convertToFloat() > getMax().convertToFloat()) {
    return emitOpError() << "needs min <= max, got min = "
                         << getMin().convertToFloat()
                         << ", max = " << getMax().convertToFloat();
  }
  return success();
}

LogicalResult ClipOp::buildGradients(OpBuilder &builder,
                                     ArrayRef<Value> resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  // The gradient passes where min < x < max: step(x - min) * step(max - x).
  Location loc = getLoc();
  Value x = getInput();
  Value above = builder.create<StepOp>(loc, builder.create<SubOp>(loc, x, scalar(builder, loc, getMin().convertToFloat())));
  Value below = builder.create<StepOp>(loc, builder.create<SubOp>(loc, scalar(builder, loc, getMax().convertToFloat()), x));
  Value mask = builder.create<MulOp>(loc, above, below);
  operandGrads.push_back(builder.create<MulOp>(loc, resultGrads[0], mask));
  return success();
}

LogicalResult PowOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  // d(a^b)/da = b * a^(b-1); d(a^b)/db = log(a) * a^b.
  Location loc = getLoc();
  Value a = getLhs(), b = getRhs(), dy = resultGrads[0];
  Value bMinusOne = builder.create<SubOp>(loc, b, scalar(builder, loc, 1));
  Value da = builder.create<MulOp>(loc, dy, builder.create<MulOp>(loc, b, builder.create<PowOp>(loc, a, bMinusOne)));
  Value db = builder.create<MulOp>(loc, dy, builder.create<MulOp>(loc, builder.create<LogOp>(loc, a), getResult()));
  operandGrads.push_back(unbroadcast(builder, loc, da, rankedType(a)));
  operandGrads.push_back(unbroadcast(builder, loc, db, rankedType(b)));
  return success();
}

//===----------------------------------------------------------------------===//
// transpose
//===----------------------------------------------------------------------===//

LogicalResult TransposeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  ArrayRef<int64_t> perm = getPerm();
  if (static_cast<int64_t>(perm.size()) != input.getRank()) {
    return emitOpError() << "perm has " << perm.size()
                         << " entries for an input of rank "
                         << input.getRank();
  }
  SmallVector<bool> seen(perm.size(), false);
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= input.getRank() || seen[p]) {
      return emitOpError() << "perm must be a permutation of 0.."
                           << input.getRank() - 1;
    }
    seen[p] = true;
    shape.push_back(input.getDimSize(p));
  }
  types.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult TransposeOp::buildGradients(OpBuilder &builder,
                                          ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  ArrayRef<int64_t> perm = getPerm();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm)) {
    inverse[p] = i;
  }
  operandGrads.push_back(builder.create<TransposeOp>(
      getLoc(), getInput().getType(), resultGrads[0],
      builder.getDenseI64ArrayAttr(inverse)));
  return success();
}

//===----------------------------------------------------------------------===//
// cumsum
//===----------------------------------------------------------------------===//

LogicalResult CumSumOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  if (getAxis() < 0 || getAxis() >= input.getRank()) {
    return emitOpError() << "axis " << getAxis() << " is out of range for rank "
                         << input.getRank();
  }
  types.push_back(input);
  return success();
}

// y_i = sum_{j <= i} x_j (j < i exclusive): dx_j = sum_{i >= j} dy_i (i > j),
// the same sum in the other direction.
LogicalResult CumSumOp::buildGradients(OpBuilder &builder,
                                       ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(builder.create<CumSumOp>(
      getLoc(), getInput().getType(), resultGrads[0], getAxisAttr(),
      getExclusiveAttr(), builder.getBoolAttr(!getReverse())));
  return success();
}

//===----------------------------------------------------------------------===//
// pad
//===----------------------------------------------------------------------===//

LogicalResult PadOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  ArrayRef<int64_t> pads = getPads();
  int64_t rank = input.getRank();
  if (static_cast<int64_t>(pads.size()) != 2 * rank) {
    return emitOpError() << "pads has " << pads.size()
                         << " entries, expected 2 * rank = " << 2 * rank;
  }
  StringRef mode = getMode();
  if (mode != "constant" && mode != "reflect" && mode != "edge") {
    return emitOpError() << "mode must be constant, reflect or edge, got '"
                         << mode << "'";
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t begin = pads[d], end = pads[d + rank], in = input.getDimSize(d);
    int64_t out = in + begin + end;
    if (out <= 0 || -begin >= in || -end >= in) {
      return emitOpError() << "pads " << begin << ", " << end
                           << " leave nothing of dim " << d << " (size " << in
                           << ")";
    }
    if (mode == "reflect" && (begin >= in || end >= in)) {
      return emitOpError() << "reflect padding of dim " << d
                           << " must be smaller than its size " << in;
    }
    shape.push_back(out);
  }
  types.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult PadOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  if (getMode() != "constant") {
    if (llvm::any_of(getPads(), [](int64_t p) { return p < 0; })) {
      return emitOpError() << "has no gradient in mode '" << getMode()
                           << "' with negative pads (crops)";
    }
    operandGrads.push_back(builder.create<PadGradOp>(
        getLoc(), getInput().getType(), resultGrads[0], getPadsAttr(),
        getModeAttr(),
        builder.getDenseI64ArrayAttr(rankedType(getInput()).getShape())));
    return success();
  }
  SmallVector<int64_t> negated;
  for (int64_t p : getPads()) {
    negated.push_back(-p);
  }
  operandGrads.push_back(builder.create<PadOp>(
      getLoc(), getInput().getType(), resultGrads[0],
      builder.getDenseI64ArrayAttr(negated), builder.getF32FloatAttr(0.0f),
      builder.getStringAttr("constant")));
  return success();
}

LogicalResult PadGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto dy = rankedType(getDy());
  ArrayRef<int64_t> shape = getInputShape(), pads = getPads();
  int64_t rank = static_cast<int64_t>(shape.size());
  if (dy.getRank() != rank || static_cast<int64_t>(pads.size()) != 2 * rank) {
    return emitOpError() << "expects dy of rank " << rank << " and "
                         << 2 * rank << " pads, got " << dy << " and "
                         << pads.size();
  }
  StringRef mode = getMode();
  if (mode != "reflect" && mode != "edge") {
    return emitOpError() << "mode must be reflect or edge, got '" << mode
                         << "'";
  }
  for (int64_t d = 0; d < rank; ++d) {
    int64_t begin = pads[d], end = pads[d + rank], in = shape[d];
    if (begin < 0 || end < 0 || in < 1 ||
        dy.getDimSize(d) != in + begin + end ||
        (mode == "reflect" && (begin >= in || end >= in))) {
      return emitOpError() << "dy " << dy << " is not input_shape padded by "
                           << "pads " << begin << ", " << end << " in dim "
                           << d << " (" << mode << ")";
    }
  }
  types.push_back(RankedTensorType::get(shape, dy.getElementType()));
  return success();
}
