//===- KilnTrainingOps.cpp - shape inference of the training ops ----------===//
//
// Result types of the ops that autodiff, training mode and the optimizer
// create (docs/training-ops.md), their verifiers and kernel attributes, and
// the training-mode rewrites of batch_norm and dropout.
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

RankedTensorType f32Tensor(Operation *op, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, Float32Type::get(op->getContext()));
}

LogicalResult expectRank(Operation *op, Value value, int64_t rank,
                         StringRef what) {
  auto type = rankedType(value);
  if (type.getRank() != rank) {
    return op->emitOpError() << "expects " << what << " of rank " << rank
                             << ", got " << type;
  }
  return success();
}

LogicalResult expectSameShape(Operation *op, Value a, Value b, StringRef what) {
  if (rankedType(a).getShape() != rankedType(b).getShape()) {
    return op->emitOpError() << what << ": " << a.getType() << " and "
                             << b.getType() << " must have the same shape";
  }
  return success();
}

} // namespace

LogicalResult MatmulOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto a = rankedType(getA()), b = rankedType(getB());
  int64_t rank = a.getRank();
  if ((rank != 2 && rank != 3) || b.getRank() != rank) {
    return emitOpError() << "expects two matrices or two [B, ., .] batches, "
                            "got "
                         << a << " and " << b;
  }
  if (rank == 3 && a.getDimSize(0) != b.getDimSize(0)) {
    return emitOpError() << "batch dims differ: " << a << " and " << b;
  }
  // The last two dims are the matrices.
  auto dim = [&](RankedTensorType t, int64_t i) {
    return t.getDimSize(rank - 2 + i);
  };
  int64_t m = getTransposeA() ? dim(a, 1) : dim(a, 0);
  int64_t ka = getTransposeA() ? dim(a, 0) : dim(a, 1);
  int64_t kb = getTransposeB() ? dim(b, 1) : dim(b, 0);
  int64_t n = getTransposeB() ? dim(b, 0) : dim(b, 1);
  if (ka != kb) {
    return emitOpError() << "inner dims differ: " << a << " and " << b
                         << " give " << ka << " vs " << kb;
  }
  if (rank == 3) {
    types.push_back(f32Tensor(*this, {a.getDimSize(0), m, n}));
  } else {
    types.push_back(f32Tensor(*this, {m, n}));
  }
  return success();
}

namespace {

// The result of a reduction of `input` over `axes` (negative from the end).
LogicalResult inferReduced(Operation *op, Value inputValue,
                           ArrayRef<int64_t> axes, bool keepdims,
                           SmallVectorImpl<Type> &types) {
  auto input = rankedType(inputValue);
  llvm::SmallVector<bool> reduced(input.getRank(), false);
  for (int64_t axis : axes) {
    int64_t a = axis < 0 ? axis + input.getRank() : axis;
    if (a < 0 || a >= input.getRank()) {
      return op->emitOpError() << "axis " << axis
                               << " is out of range for rank "
                               << input.getRank();
    }
    reduced[a] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < input.getRank(); ++d) {
    if (!reduced[d]) {
      shape.push_back(input.getDimSize(d));
    } else if (keepdims) {
      shape.push_back(1);
    }
  }
  types.push_back(f32Tensor(op, shape));
  return success();
}

// The kernel's axes: non-negative, sorted, unique, non-empty.
LogicalResult canonicalAxes(Operation *op, Value input, ArrayRef<int64_t> given,
                            nlohmann::json &attrs) {
  int64_t rank = rankedType(input).getRank();
  std::vector<int64_t> axes;
  for (int64_t axis : given) {
    axes.push_back(axis < 0 ? axis + rank : axis);
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  if (axes.empty()) {
    return op->emitOpError() << "needs at least one axis";
  }
  attrs["axes"] = axes;
  return success();
}

} // namespace

#define KILN_REDUCE_OP(Op)                                                     \
  LogicalResult Op::inferResultTypes(SmallVectorImpl<Type> &types) {          \
    return inferReduced(*this, getInput(), getAxes(), getKeepdims(), types);  \
  }                                                                            \
  LogicalResult Op::canonicalizeKernelAttrs(nlohmann::json &attrs) {          \
    return canonicalAxes(*this, getInput(), getAxes(), attrs);                \
  }
KILN_REDUCE_OP(ReduceSumOp)
KILN_REDUCE_OP(ReduceMaxOp)
KILN_REDUCE_OP(ReduceMinOp)
KILN_REDUCE_OP(ReduceProdOp)
#undef KILN_REDUCE_OP

LogicalResult ReduceGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  StringRef kind = getKind();
  if (kind != "max" && kind != "min" && kind != "prod") {
    return emitOpError() << "kind must be max, min or prod, got '" << kind
                         << "'";
  }
  SmallVector<Type> reduced;
  if (failed(inferReduced(*this, getInput(), getAxes(), getKeepdims(),
                          reduced))) {
    return failure();
  }
  if (getResult().getType() != reduced[0] || getDy().getType() != reduced[0]) {
    return emitOpError() << "result and dy must be " << reduced[0] << ", got "
                         << getResult().getType() << " and "
                         << getDy().getType();
  }
  types.push_back(getInput().getType());
  return success();
}

LogicalResult ReduceGradOp::canonicalizeKernelAttrs(nlohmann::json &attrs) {
  return canonicalAxes(*this, getInput(), getAxes(), attrs);
}

LogicalResult GatherOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  auto indices = rankedType(getIndices());
  int64_t axis = getAxis();
  if (axis < 0 || axis >= input.getRank()) {
    return emitOpError() << "axis " << axis << " is outside " << input;
  }
  SmallVector<int64_t> shape(input.getShape().take_front(axis));
  llvm::append_range(shape, indices.getShape());
  llvm::append_range(shape, input.getShape().drop_front(axis + 1));
  types.push_back(f32Tensor(*this, shape));
  return success();
}

// dy is input[:axis] + indices + input[axis+1:]: the input's shape is dy's
// with the index dims replaced by size.
LogicalResult GatherGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto indices = rankedType(getIndices());
  auto dy = rankedType(getDy());
  int64_t axis = getAxis(), rank = indices.getRank();
  if (axis < 0 || axis + rank > dy.getRank() || getSize() < 1 ||
      dy.getShape().slice(axis, rank) != indices.getShape()) {
    return emitOpError() << "dy " << dy << " does not hold indices "
                         << indices << " at axis " << axis
                         << " (size " << getSize() << ")";
  }
  SmallVector<int64_t> shape(dy.getShape().take_front(axis));
  shape.push_back(getSize());
  llvm::append_range(shape, dy.getShape().drop_front(axis + rank));
  types.push_back(f32Tensor(*this, shape));
  return success();
}

// indices [d0, ..., dr-1] with the input's rank, no larger than the input
// off the axis; the result has the indices' shape.
static LogicalResult checkGatherElements(Operation *op, ArrayRef<int64_t> input,
                                         ArrayRef<int64_t> indices,
                                         int64_t axis) {
  int64_t rank = static_cast<int64_t>(input.size());
  if (axis < 0 || axis >= rank ||
      static_cast<int64_t>(indices.size()) != rank) {
    return op->emitOpError()
           << "indices of rank " << indices.size() << " at axis " << axis
           << " do not fit an input of rank " << rank;
  }
  for (int64_t d = 0; d < rank; ++d) {
    if (indices[d] < 1 || (d != axis && indices[d] > input[d])) {
      auto dims = [](ArrayRef<int64_t> shape) {
        std::string text;
        for (int64_t e : shape) {
          text += (text.empty() ? "" : "x") + std::to_string(e);
        }
        return text;
      };
      return op->emitOpError()
             << "indices " << dims(indices) << " do not fit the input "
             << dims(input) << " off axis " << axis;
    }
  }
  return success();
}

LogicalResult GatherElementsOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto indices = rankedType(getIndices());
  if (failed(checkGatherElements(*this, rankedType(getInput()).getShape(),
                                 indices.getShape(), getAxis()))) {
    return failure();
  }
  types.push_back(f32Tensor(*this, indices.getShape()));
  return success();
}

LogicalResult
GatherElementsGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto indices = rankedType(getIndices());
  if (rankedType(getDy()).getShape() != indices.getShape()) {
    return emitOpError() << "dy " << getDy().getType()
                         << " does not have the indices' shape "
                         << getIndices().getType();
  }
  if (failed(checkGatherElements(*this, getShape(), indices.getShape(),
                                 getAxis()))) {
    return failure();
  }
  types.push_back(f32Tensor(*this, getShape()));
  return success();
}

LogicalResult SliceOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  int64_t axis = getAxis();
  if (axis < 0 || axis >= input.getRank() || getStart() < 0 || getSize() < 1 ||
      getStart() + getSize() > input.getDimSize(axis)) {
    return emitOpError() << "slice [" << getStart() << ", "
                         << getStart() + getSize() << ") of axis " << axis
                         << " does not fit " << input;
  }
  SmallVector<int64_t> shape(input.getShape());
  shape[axis] = getSize();
  types.push_back(f32Tensor(*this, shape));
  return success();
}

LogicalResult ScaleOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(getInput().getType());
  return success();
}

LogicalResult RegularizerOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(f32Tensor(*this, {}));
  return success();
}

LogicalResult ClipFactorOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(getTotal().getType());
  return success();
}

LogicalResult
RegularizerGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(getWeight().getType());
  return success();
}

LogicalResult
Conv2DGradInputOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(expectRank(*this, getDy(), 4, "dy")) ||
      failed(expectRank(*this, getWeight(), 4, "weight"))) {
    return failure();
  }
  // The attribute is an i64 read back as uint64_t: a negative value is a
  // huge one here.
  auto groups = static_cast<int64_t>(getGroups());
  if (getInputSize().size() != 2 || groups < 1) {
    return emitOpError() << "input_size must be [H, W] and groups >= 1";
  }
  auto dy = rankedType(getDy()), weight = rankedType(getWeight());
  types.push_back(f32Tensor(*this, {dy.getDimSize(0),
                                    weight.getDimSize(1) * groups,
                                    getInputSize()[0], getInputSize()[1]}));
  return success();
}

LogicalResult
Conv2DGradWeightOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(expectRank(*this, getInput(), 4, "input")) ||
      failed(expectRank(*this, getDy(), 4, "dy"))) {
    return failure();
  }
  auto groups = static_cast<int64_t>(getGroups()); // negative: huge unsigned
  if (getKernel().size() != 2 || groups < 1) {
    return emitOpError() << "kernel must be [KH, KW] and groups >= 1";
  }
  if (getTile() != 0) {
    auto ones = [](ArrayRef<int64_t> v) {
      return llvm::all_of(v, [](int64_t e) { return e == 1; });
    };
    if (getTile() != 2 && getTile() != 4) {
      return emitOpError() << "tile must be 0 (direct), 2 or 4, got "
                           << getTile();
    }
    if (getKernel()[0] != 3 || getKernel()[1] != 3 || getGroups() != 1 ||
        !ones(getStrides()) || !ones(getDilations())) {
      return emitOpError() << "tile " << getTile()
                           << " (Winograd) needs a 3x3 kernel with strides "
                              "and dilations 1 and groups 1";
    }
  }
  auto x = rankedType(getInput()), dy = rankedType(getDy());
  types.push_back(f32Tensor(*this, {dy.getDimSize(1),
                                    x.getDimSize(1) / groups,
                                    getKernel()[0], getKernel()[1]}));
  return success();
}

LogicalResult MaxPool2DGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(getInput().getType());
  return success();
}

namespace {
LogicalResult inferFromInputSize(Operation *op, Value dy,
                                 ArrayRef<int64_t> inputSize,
                                 SmallVectorImpl<Type> &types) {
  if (failed(expectRank(op, dy, 4, "dy"))) {
    return failure();
  }
  if (inputSize.size() != 2) {
    return op->emitOpError() << "input_size must be [H, W]";
  }
  auto t = rankedType(dy);
  types.push_back(f32Tensor(op, {t.getDimSize(0), t.getDimSize(1),
                                 inputSize[0], inputSize[1]}));
  return success();
}
} // namespace

LogicalResult AvgPool2DGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return inferFromInputSize(*this, getDy(), getInputSize(), types);
}

LogicalResult
GlobalAvgPoolGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return inferFromInputSize(*this, getDy(), getInputSize(), types);
}

// Recomputing batch_norm_train also recomputes the batch statistics (mean
// and variance) before normalizing: about 5 FLOPs per element.
int64_t BatchNormTrainOp::recomputeFlopsPerElement() { return 5; }

LogicalResult
BatchNormTrainOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  if (input.getRank() < 2) {
    return emitOpError() << "expects input [N,C,...], got " << input;
  }
  auto channels = f32Tensor(*this, {input.getDimSize(1)});
  for (Value v : {getWeight(), getBias()}) {
    if (v.getType() != channels) {
      return emitOpError() << "per-channel operand " << v.getType()
                           << " does not match " << channels;
    }
  }
  types.append({input, channels, channels});
  return success();
}

LogicalResult BatchNormGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(expectSameShape(*this, getInput(), getDy(), "input and dy"))) {
    return failure();
  }
  types.append({getInput().getType(), getWeight().getType(),
                getWeight().getType()});
  return success();
}

// new_mean, new_var are the new running_mean, running_var.
unsigned RunningStatsUpdateOp::updatedOperand(unsigned result) {
  return result;
}

LogicalResult
RunningStatsUpdateOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.append({getRunningMean().getType(), getRunningVar().getType()});
  return success();
}

LogicalResult LayerNormGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(expectSameShape(*this, getInput(), getDy(), "input and dy"))) {
    return failure();
  }
  types.push_back(getInput().getType());
  if (getWeight()) {
    types.append({getWeight().getType(), getWeight().getType()});
  }
  return success();
}

LogicalResult ActivationGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(expectSameShape(*this, getInput(), getDy(), "input and dy"))) {
    return failure();
  }
  types.push_back(getInput().getType());
  return success();
}

LogicalResult ResizeGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto dy = llvm::cast<RankedTensorType>(getDy().getType());
  if (dy.getRank() < 2 || getInputSizes().size() != 2 ||
      getSizes().size() != 2) {
    return emitOpError() << "needs dy of rank >= 2 and 2 input_sizes and "
                            "sizes, got "
                         << dy;
  }
  if (dy.getShape().take_back(2) != getSizes()) {
    return emitOpError() << "dy " << dy << " does not end in sizes ["
                         << getSizes()[0] << ", " << getSizes()[1] << "]";
  }
  SmallVector<int64_t> shape(dy.getShape());
  shape[shape.size() - 2] = getInputSizes()[0];
  shape[shape.size() - 1] = getInputSizes()[1];
  types.push_back(RankedTensorType::get(shape, dy.getElementType()));
  return success();
}

LogicalResult LRNGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(getInput().getType());
  return success();
}

LogicalResult GridSampleGradOp::inferResultTypes(
    SmallVectorImpl<Type> &types) {
  types.append({getInput().getType(), getGrid().getType()});
  return success();
}

LogicalResult PReluGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.append({getInput().getType(), getSlope().getType()});
  return success();
}

LogicalResult SoftmaxGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(getOutput().getType());
  return success();
}

LogicalResult DropoutTrainOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(getInput().getType());
  return success();
}

LogicalResult AugmentOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = llvm::cast<RankedTensorType>(getInput().getType());
  if (input.getRank() != 4) {
    return emitOpError() << "expects an image batch [N,C,H,W], got " << input;
  }
  for (double value : {getShift().convertToDouble(),
                       getRotate().convertToDouble(),
                       getZoom().convertToDouble(),
                       getNoise().convertToDouble()}) {
    if (!std::isfinite(value) || value < 0) {
      return emitOpError()
             << "shift, rotate, zoom and noise must be finite and >= 0";
    }
  }
  if (getZoom().convertToDouble() >= 1) {
    return emitOpError() << "zoom must be below 1 (a factor in (0, 2))";
  }
  types.push_back(input);
  return success();
}

LogicalResult LossGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(getPred().getType());
  return success();
}

// updated = (param, slots...); operands = (param, grad, lr, step, slots...).
unsigned OptimizerUpdateOp::updatedOperand(unsigned result) {
  return result == 0 ? 0 : getSlots().getBeginOperandIndex() + result - 1;
}

LogicalResult
OptimizerUpdateOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(expectSameShape(*this, getParam(), getGrad(), "param and grad"))) {
    return failure();
  }
  types.push_back(getParam().getType());
  for (Value slot : getSlots()) {
    if (slot.getType() != getParam().getType()) {
      return emitOpError() << "slot " << slot.getType()
                           << " does not match the parameter "
                           << getParam().getType();
    }
    types.push_back(slot.getType());
  }
  return success();
}

LogicalResult
OptimizerUpdateOp::canonicalizeKernelAttrs(nlohmann::json &attrs) {
  // The hyperparameters are flat kernel attributes.
  nlohmann::json hyper = attrs["hyper"];
  attrs.erase("hyper");
  for (auto &[key, value] : hyper.items()) {
    attrs[key] = value;
  }
  return success();
}

LogicalResult AssignOp::verify() {
  if (!getParam().getDefiningOp<ParamOp>()) {
    return emitOpError() << "target must be a kiln.param value";
  }
  if (getParam().getType() != getValue().getType()) {
    return emitOpError() << "value " << getValue().getType()
                         << " does not match the parameter "
                         << getParam().getType();
  }
  return success();
}

// The fused kernel builder inlines activations, arithmetic, prelu, scale
// and inference batch norm; these elementwise ops keep their own kernels.
bool ActivationGradOp::isFusible() { return false; }
bool DropoutTrainOp::isFusible() { return false; }
bool RegularizerGradOp::isFusible() { return false; }
bool BatchNormOp::isFusible() { return !getTraining(); }

//===----------------------------------------------------------------------===//
// Training mode
//===----------------------------------------------------------------------===//

LogicalResult BatchNormOp::convertToTraining(OpBuilder &builder, Value seed,
                                             int64_t salt) {
  (void)seed;
  (void)salt;
  builder.setInsertionPoint(*this);
  auto train = builder.create<BatchNormTrainOp>(
      getLoc(), TypeRange{getType(), getWeight().getType(), getWeight().getType()},
      getInput(), getWeight(), getBias(), getEpsilonAttr());
  // `training = true` on the inference op means "batch statistics, no
  // running update"; otherwise the running statistics follow PyTorch.
  if (!getTraining()) {
    auto input = rankedType(getInput());
    int64_t count = input.getNumElements() / input.getDimSize(1);
    auto update = builder.create<RunningStatsUpdateOp>(
        getLoc(), TypeRange{getRunningMean().getType(), getRunningVar().getType()},
        getRunningMean(), getRunningVar(), train.getMean(), train.getVar(),
        getMomentumAttr(), builder.getI64IntegerAttr(count));
    for (auto [param, value] :
         {std::pair{getRunningMean(), update.getNewMean()},
          std::pair{getRunningVar(), update.getNewVar()}}) {
      if (!param.getDefiningOp<ParamOp>()) {
        return emitOpError() << "running statistics must be kiln.param values "
                                "to be updated when training";
      }
      builder.create<AssignOp>(getLoc(), param, value);
    }
  }
  getResult().replaceAllUsesWith(train.getResult());
  erase();
  return success();
}

LogicalResult DropoutOp::convertToTraining(OpBuilder &builder, Value seed,
                                           int64_t salt) {
  if (getRate().isZero()) {
    return success();
  }
  builder.setInsertionPoint(*this);
  auto train = builder.create<DropoutTrainOp>(
      getLoc(), getType(), getInput(), seed, getRateAttr(),
      builder.getI64IntegerAttr(salt));
  getResult().replaceAllUsesWith(train.getResult());
  erase();
  return success();
}

//===----------------------------------------------------------------------===//
// Write-backs without a copy
//===----------------------------------------------------------------------===//

bool kiln::ir::isUpdatedInPlace(AssignOp assign) {
  auto result = llvm::dyn_cast<OpResult>(assign.getValue());
  if (!result || !result.hasOneUse()) {
    return false;
  }
  Operation *update = result.getOwner();
  auto updateOp = llvm::dyn_cast<UpdateOpInterface>(update);
  if (!updateOp ||
      update->getOperand(updateOp.updatedOperand(result.getResultNumber())) !=
          assign.getParam()) {
    return false;
  }
  auto readsParam = [&](Value operand) {
    while (Operation *def = operand.getDefiningOp()) {
      if (!llvm::isa<ViewOpInterface>(def)) {
        break;
      }
      operand = def->getOperand(0);
    }
    return operand == assign.getParam();
  };
  for (Operation *op = update->getNextNode(); op; op = op->getNextNode()) {
    if (llvm::isa<KernelOpInterface>(op) &&
        llvm::any_of(op->getOperands(), readsParam)) {
      return false;
    }
  }
  return true;
}
