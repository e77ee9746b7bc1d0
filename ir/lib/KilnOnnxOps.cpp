//===- KilnOnnxOps.cpp - ops the ONNX importer needs ----------------------===//
//
// Shape inference, verifiers and gradient rules of the ONNX data-path ops
// (exp, log, sqrt, erf, abs, clip, pow, transpose, pad). Their gradients are
// written in terms of other kiln ops, so they need no gradient kernels.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/KilnDialect.h"

#include "mlir/IR/Builders.h"

#include <cmath>

using namespace mlir;
using namespace kiln::ir;

namespace {

RankedTensorType rankedType(Value value) {
  return llvm::cast<RankedTensorType>(value.getType());
}

// Creates `name` with result types from its shape inference.
Value make(OpBuilder &builder, Location loc, StringRef name,
           ValueRange operands, ArrayRef<NamedAttribute> attrs = {}) {
  OperationState state(loc, name);
  state.addOperands(operands);
  state.addAttributes(attrs);
  state.addTypes(builder.getF32Type());
  Operation *op = builder.create(state);
  SmallVector<Type> types;
  if (failed(llvm::cast<ShapeInferenceOpInterface>(op).inferResultTypes(
          types))) {
    op->erase();
    return nullptr;
  }
  op->getResult(0).setType(types.front());
  return op->getResult(0);
}

Value scalar(OpBuilder &builder, Location loc, float v) {
  auto type = RankedTensorType::get({}, builder.getF32Type());
  return builder.create<ConstantOp>(loc, type, DenseElementsAttr::get(type, v));
}

Value scaled(OpBuilder &builder, Location loc, Value x, double factor) {
  return make(builder, loc, "kiln.scale", {x},
              {builder.getNamedAttr("factor", builder.getF64FloatAttr(factor))});
}

// Sums a broadcast gradient back to `target` (numpy rules).
Value unbroadcast(OpBuilder &builder, Location loc, Value grad,
                  RankedTensorType target) {
  auto type = rankedType(grad);
  if (type == target) {
    return grad;
  }
  int64_t offset = type.getRank() - target.getRank();
  SmallVector<int64_t> axes;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    if (d < offset ||
        (target.getDimSize(d - offset) == 1 && type.getDimSize(d) != 1)) {
      axes.push_back(d);
    }
  }
  Value summed = grad;
  if (!axes.empty()) {
    summed = make(builder, loc, "kiln.reduce_sum", {grad},
                  {builder.getNamedAttr("axes",
                                        builder.getDenseI64ArrayAttr(axes)),
                   builder.getNamedAttr("keepdims", builder.getBoolAttr(false))});
  }
  if (rankedType(summed) == target) {
    return summed;
  }
  return builder.create<ReshapeOp>(loc, target, summed,
                                   builder.getDenseI64ArrayAttr(target.getShape()));
}

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise math
//===----------------------------------------------------------------------===//

LogicalResult ExpOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(
      make(builder, getLoc(), "kiln.mul", {resultGrads[0], getResult()}));
  return success();
}

LogicalResult LogOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(
      make(builder, getLoc(), "kiln.div", {resultGrads[0], getInput()}));
  return success();
}

LogicalResult SqrtOp::buildGradients(OpBuilder &builder,
                                     ArrayRef<Value> resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  // d sqrt(x) = dy / (2 sqrt(x)).
  Value half = scaled(builder, getLoc(), resultGrads[0], 0.5);
  operandGrads.push_back(
      make(builder, getLoc(), "kiln.div", {half, getResult()}));
  return success();
}

LogicalResult ErfOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  // d erf(x) = 2/sqrt(pi) * exp(-x^2) * dy.
  Location loc = getLoc();
  Value x = getInput();
  Value negSquare = scaled(builder, loc, make(builder, loc, "kiln.mul", {x, x}),
                           -1.0);
  Value density = scaled(builder, loc, make(builder, loc, "kiln.exp", {negSquare}),
                         2.0 / std::sqrt(M_PI));
  operandGrads.push_back(
      make(builder, loc, "kiln.mul", {resultGrads[0], density}));
  return success();
}

LogicalResult AbsOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  // sign(x) = step(x) - step(-x), 0 at 0 (PyTorch).
  Location loc = getLoc();
  Value x = getInput();
  Value sign = make(builder, loc, "kiln.sub",
                    {make(builder, loc, "kiln.step", {x}),
                     make(builder, loc, "kiln.step", {scaled(builder, loc, x, -1.0)})});
  operandGrads.push_back(make(builder, loc, "kiln.mul", {resultGrads[0], sign}));
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
  Value above = make(builder, loc, "kiln.step",
                     {make(builder, loc, "kiln.sub",
                           {x, scalar(builder, loc, getMin().convertToFloat())})});
  Value below = make(builder, loc, "kiln.step",
                     {make(builder, loc, "kiln.sub",
                           {scalar(builder, loc, getMax().convertToFloat()), x})});
  Value mask = make(builder, loc, "kiln.mul", {above, below});
  operandGrads.push_back(make(builder, loc, "kiln.mul", {resultGrads[0], mask}));
  return success();
}

LogicalResult PowOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  // d(a^b)/da = b * a^(b-1); d(a^b)/db = log(a) * a^b.
  Location loc = getLoc();
  Value a = getLhs(), b = getRhs(), dy = resultGrads[0];
  Value bMinusOne = make(builder, loc, "kiln.sub", {b, scalar(builder, loc, 1)});
  Value da = make(builder, loc, "kiln.mul",
                  {dy, make(builder, loc, "kiln.mul",
                            {b, make(builder, loc, "kiln.pow", {a, bMinusOne})})});
  Value db = make(builder, loc, "kiln.mul",
                  {dy, make(builder, loc, "kiln.mul",
                            {make(builder, loc, "kiln.log", {a}), getResult()})});
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
