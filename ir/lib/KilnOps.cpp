//===- KilnOps.cpp - kiln op verifiers, shape inference, kernel attrs -----===//
#include "kiln/ir/KilnDialect.h"

#include <cmath>
#include "Window.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"

#include <numeric>

using namespace mlir;
using namespace kiln::ir;
using kiln::ir::detail::resolveWindow;
using kiln::ir::detail::Window;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

RankedTensorType rankedType(Value value) {
  return llvm::cast<RankedTensorType>(value.getType());
}

RankedTensorType f32Tensor(Operation *op, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, Float32Type::get(op->getContext()));
}

// Normalizes `axis` into [0, rank); emits an error naming the op if it is out
// of range.
FailureOr<int64_t> normalizeAxis(Operation *op, int64_t axis, int64_t rank,
                                 bool allowRank = false) {
  int64_t limit = allowRank ? rank + 1 : rank;
  int64_t normalized = axis < 0 ? axis + rank : axis;
  if (normalized < 0 || normalized >= limit) {
    return op->emitOpError() << "axis " << axis << " is out of range for rank "
                             << rank;
  }
  return normalized;
}

nlohmann::json toJson(ArrayRef<int64_t> values) {
  return nlohmann::json(std::vector<int64_t>(values.begin(), values.end()));
}

} // namespace

FailureOr<Window> kiln::ir::detail::resolveWindow(Operation *op, ArrayRef<int64_t> inHW,
                                ArrayRef<int64_t> kernel,
                                ArrayRef<int64_t> strides,
                                ArrayRef<int64_t> dilations,
                                ArrayRef<int64_t> pads, StringRef autoPad,
                                bool ceilMode) {
  if (kernel.size() != 2) {
    return op->emitOpError() << "expects a kernel of 2 sizes, got "
                             << kernel.size();
  }
  if (strides.size() != 2 || dilations.size() != 2) {
    return op->emitOpError() << "expects 2 strides and 2 dilations, got "
                             << strides.size() << " and " << dilations.size();
  }
  if (pads.size() != 4) {
    return op->emitOpError()
           << "expects 4 pads [top, left, bottom, right], got " << pads.size();
  }
  Window w;
  for (int i = 0; i < 2; ++i) {
    if (kernel[i] < 1 || strides[i] < 1 || dilations[i] < 1) {
      return op->emitOpError()
             << "kernel, strides and dilations must be >= 1, got kernel "
             << kernel[i] << ", stride " << strides[i] << ", dilation "
             << dilations[i];
    }
    w.kernel[i] = kernel[i];
    w.strides[i] = strides[i];
    w.dilations[i] = dilations[i];
  }
  for (int i = 0; i < 4; ++i) {
    if (pads[i] < 0) {
      return op->emitOpError() << "pads must be >= 0, got " << pads[i];
    }
    w.userPads[i] = pads[i];
  }
  if (autoPad == "valid") {
    std::fill(w.userPads, w.userPads + 4, 0);
  } else if (autoPad == "same_upper" || autoPad == "same_lower") {
    for (int i = 0; i < 2; ++i) {
      int64_t out = (inHW[i] + w.strides[i] - 1) / w.strides[i];
      int64_t extent = (w.kernel[i] - 1) * w.dilations[i] + 1;
      int64_t total =
          std::max<int64_t>(0, (out - 1) * w.strides[i] + extent - inHW[i]);
      int64_t small = total / 2;
      w.userPads[i] = autoPad == "same_upper" ? small : total - small;
      w.userPads[i + 2] = total - w.userPads[i];
    }
  } else if (autoPad != "notset") {
    return op->emitOpError() << "unknown auto_pad '" << autoPad
                             << "' (expected notset, valid, same_upper or "
                                "same_lower)";
  }
  std::copy(w.userPads, w.userPads + 4, w.pads);
  for (int i = 0; i < 2; ++i) {
    int64_t padded = inHW[i] + w.userPads[i] + w.userPads[i + 2];
    int64_t extent = (w.kernel[i] - 1) * w.dilations[i] + 1;
    if (padded < extent) {
      return op->emitOpError()
             << "window of extent " << extent << " does not fit the padded "
             << (i == 0 ? "height " : "width ") << padded;
    }
    w.out[i] = windowOutputSize(inHW[i], w.userPads[i], w.userPads[i + 2],
                                w.kernel[i], w.strides[i], w.dilations[i],
                                ceilMode);
    // Ceil mode: pad the end so the last (partial) window is in bounds.
    int64_t needed = (w.out[i] - 1) * w.strides[i] + extent;
    if (needed > padded) {
      w.pads[i + 2] += needed - padded;
    }
  }
  return w;
}

int64_t kiln::ir::windowOutputSize(int64_t in, int64_t padBegin,
                                   int64_t padEnd, int64_t kernel,
                                   int64_t stride, int64_t dilation,
                                   bool ceilMode) {
  int64_t span = in + padBegin + padEnd - dilation * (kernel - 1) - 1;
  int64_t out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1;
  // PyTorch: the last window must start inside the input or the left pad.
  if (ceilMode && (out - 1) * stride >= in + padBegin) {
    --out;
  }
  return out;
}

LogicalResult kiln::ir::inferResultTypesOf(
    OperationName name, std::optional<Location> location, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties,
    SmallVectorImpl<Type> &types) {
  MLIRContext *context = name.getContext();
  Location loc = location ? *location : UnknownLoc::get(context);
  NamedAttrList attrs;
  if (attributes) {
    attrs.append(attributes.getValue());
  }
  // Generic form (no properties): OperationState moves the inherent
  // attributes into the twin's properties.
  OperationState state(loc, name);
  state.addOperands(operands);
  state.addAttributes(attrs);
  Operation *twin =
      properties ? Operation::create(loc, name, TypeRange(), operands,
                                     std::move(attrs), properties,
                                     BlockRange(), /*numRegions=*/0)
                 : Operation::create(state);
  auto shaped = llvm::dyn_cast<ShapeInferenceOpInterface>(twin);
  LogicalResult result =
      shaped ? shaped.inferResultTypes(types)
             : twin->emitOpError() << "has no shape inference";
  twin->destroy();
  return result;
}

LogicalResult kiln::ir::verifyInferredTypes(Operation *op) {
  SmallVector<Type> inferred;
  if (failed(llvm::cast<ShapeInferenceOpInterface>(op).inferResultTypes(
          inferred))) {
    return failure();
  }
  for (auto [index, pair] :
       llvm::enumerate(llvm::zip(op->getResultTypes(), inferred))) {
    auto [declared, expected] = pair;
    if (declared != expected) {
      return op->emitOpError()
             << "result #" << index << " has type " << declared
             << " but its operands imply " << expected;
    }
  }
  return success();
}

// Every operand's shape broadcast together (numpy: trailing dims aligned,
// size-1 dims stretched).
LogicalResult kiln::ir::inferBroadcast(Operation *op,
                                       SmallVectorImpl<Type> &types) {
  SmallVector<int64_t> shape;
  RankedTensorType first;
  for (Value operand : op->getOperands()) {
    auto type = rankedType(operand);
    if (!first) {
      first = type;
      shape.assign(type.getShape().begin(), type.getShape().end());
      continue;
    }
    int64_t rank = std::max<int64_t>(shape.size(), type.getRank());
    SmallVector<int64_t> next(rank);
    for (int64_t i = 0; i < rank; ++i) {
      int64_t offset = rank - static_cast<int64_t>(shape.size());
      int64_t l = i < offset ? 1 : shape[i - offset];
      int64_t r = i < rank - type.getRank()
                      ? 1
                      : type.getDimSize(i - (rank - type.getRank()));
      if (l != r && l != 1 && r != 1) {
        return op->emitOpError() << "cannot broadcast " << first << " with "
                                 << type << ": dim " << i << " is " << l
                                 << " vs " << r;
      }
      next[i] = l == 1 ? r : l;
    }
    shape = next;
  }
  types.push_back(f32Tensor(op, shape));
  return success();
}

LogicalResult WhereOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return inferBroadcast(getOperation(), types);
}

LogicalResult ArgReduceOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  int64_t axis = getAxis();
  if (getKind() != "max" && getKind() != "min") {
    return emitOpError() << "kind must be \"max\" or \"min\", got \""
                         << getKind() << "\"";
  }
  if (axis < 0 || axis >= input.getRank()) {
    return emitOpError() << "axis " << axis << " is outside " << input;
  }
  SmallVector<int64_t> shape(input.getShape());
  if (getKeepdims()) {
    shape[axis] = 1;
  } else {
    shape.erase(shape.begin() + axis);
  }
  types.push_back(RankedTensorType::get(
      shape, IntegerType::get(getContext(), 32)));
  return success();
}

LogicalResult TopKOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  int64_t axis = getAxis();
  if (axis < 0 || axis >= input.getRank()) {
    return emitOpError() << "axis " << axis << " is outside " << input;
  }
  int64_t k = getK(), length = input.getDimSize(axis);
  if (k < 1 || k > length) {
    return emitOpError() << "k = " << k << " must be in [1, " << length
                         << "] (the extent of axis " << axis << ")";
  }
  SmallVector<int64_t> shape(input.getShape());
  shape[axis] = k;
  types.push_back(RankedTensorType::get(
      shape, IntegerType::get(getContext(), 32)));
  return success();
}

LogicalResult CastOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(f32Tensor(*this, rankedType(getInput()).getShape()));
  return success();
}

LogicalResult kiln::ir::inferPairLoss(Operation *op,
                                      SmallVectorImpl<Type> &types) {
  auto pred = rankedType(op->getOperand(0));
  auto target = rankedType(op->getOperand(1));
  if (pred.getShape() != target.getShape()) {
    return op->emitOpError() << "prediction " << pred << " and target "
                             << target << " must have the same shape";
  }
  types.push_back(f32Tensor(op, {}));
  return success();
}

//===----------------------------------------------------------------------===//
// Parameters and constants
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  static const char *const kInits[] = {
      "zeros",        "ones",          "torch_default", "glorot_uniform",
      "glorot_normal", "he_uniform",   "he_normal",     "lecun_uniform",
      "lecun_normal"};
  if (getName().empty()) {
    return emitOpError() << "needs a non-empty name";
  }
  if (!llvm::is_contained(kInits, getInit())) {
    return emitOpError() << "parameter '" << getName()
                         << "' has unknown initializer '" << getInit() << "'";
  }
  auto type = llvm::cast<RankedTensorType>(getType());
  if (!type.hasStaticShape()) {
    return emitOpError() << "parameter '" << getName()
                         << "' needs a static shape, got " << type;
  }
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// Views
//===----------------------------------------------------------------------===//

LogicalResult FlattenOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  auto axis = normalizeAxis(*this, getAxis(), input.getRank(), true);
  if (failed(axis)) {
    return failure();
  }
  ArrayRef<int64_t> shape = input.getShape();
  int64_t outer = std::accumulate(shape.begin(), shape.begin() + *axis,
                                  int64_t(1), std::multiplies<>());
  int64_t inner = std::accumulate(shape.begin() + *axis, shape.end(),
                                  int64_t(1), std::multiplies<>());
  types.push_back(f32Tensor(*this, {outer, inner}));
  return success();
}

LogicalResult ReshapeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  SmallVector<int64_t> shape;
  int64_t known = 1, inferredAt = -1;
  for (auto [i, entry] : llvm::enumerate(getShape())) {
    int64_t dim = entry;
    if (dim == 0) {
      if (static_cast<int64_t>(i) >= input.getRank()) {
        return emitOpError() << "shape entry " << i
                             << " is 0 (copy) but the input " << input
                             << " has no dim " << i;
      }
      dim = input.getDimSize(i);
    } else if (dim == -1) {
      if (inferredAt >= 0) {
        return emitOpError() << "shape has more than one -1 entry";
      }
      inferredAt = i;
      shape.push_back(1);
      continue;
    } else if (dim < 0) {
      return emitOpError() << "shape entry " << i << " is " << dim
                           << " (allowed: positive, 0 or -1)";
    }
    known *= dim;
    shape.push_back(dim);
  }
  int64_t total = input.getNumElements();
  if (inferredAt >= 0) {
    if (known == 0 || total % known != 0) {
      return emitOpError() << "cannot reshape " << input << " ("
                           << total << " elements) with a -1 entry into "
                           << known << "-element blocks";
    }
    shape[inferredAt] = total / known;
  } else if (known != total) {
    return emitOpError() << "cannot reshape " << input << " (" << total
                         << " elements) into " << known << " elements";
  }
  types.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult DropoutOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(getInput().getType());
  return success();
}

LogicalResult DropoutOp::verify() {
  float rate = getRate().convertToFloat();
  if (!(rate >= 0.0f && rate < 1.0f)) {
    return emitOpError() << "rate must be in [0, 1), got " << rate;
  }
  return success();
}

LogicalResult IdentityOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(getInput().getType());
  return success();
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

LogicalResult DenseOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  auto weight = rankedType(getWeight());
  if (input.getRank() != 2 || weight.getRank() != 2) {
    return emitOpError() << "expects input [N,K] and weight [O,K], got "
                         << input << " and " << weight;
  }
  if (input.getDimSize(1) != weight.getDimSize(1)) {
    return emitOpError() << "input features " << input.getDimSize(1)
                         << " of " << input << " do not match weight "
                         << weight << " (expects [O," << input.getDimSize(1)
                         << "])";
  }
  if (getBias()) {
    auto bias = rankedType(getBias());
    if (bias.getRank() != 1 || bias.getDimSize(0) != weight.getDimSize(0)) {
      return emitOpError() << "bias " << bias << " does not match weight "
                           << weight << " (expects [" << weight.getDimSize(0)
                           << "])";
    }
  }
  types.push_back(f32Tensor(*this, {input.getDimSize(0), weight.getDimSize(0)}));
  return success();
}

LogicalResult Conv2DOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  auto weight = rankedType(getWeight());
  if (input.getRank() != 4 || (weight.getRank() != 4 && weight.getRank() != 5)) {
    return emitOpError() << "expects input [N,C,H,W] and weight "
                            "[O,C/groups,KH,KW] (or packed [O/B,C,KH,KW,B]), "
                            "got "
                         << input << " and " << weight;
  }
  int64_t groups = getGroups();
  int64_t channels = input.getDimSize(1), outChannels = weight.getDimSize(0);
  if (hasPackedWeight()) {
    if (groups != 1) {
      return emitOpError() << "a packed weight " << weight
                           << " needs groups 1, got " << groups;
    }
    outChannels *= weight.getDimSize(4);
  }
  if (groups < 1 || channels % groups != 0 || outChannels % groups != 0) {
    return emitOpError() << "groups " << groups << " must divide the input "
                         << "channels " << channels << " and output channels "
                         << outChannels;
  }
  if (weight.getDimSize(1) * groups != channels) {
    return emitOpError() << "input channels " << channels << " of " << input
                         << " do not match weight " << weight << " with groups "
                         << groups << " (expects [O," << channels / groups
                         << ",KH,KW])";
  }
  if (getBias()) {
    auto bias = rankedType(getBias());
    if (bias.getRank() != 1 || bias.getDimSize(0) != outChannels) {
      return emitOpError() << "bias " << bias << " does not match "
                           << outChannels << " output channels";
    }
  }
  auto window = resolveWindow(
      *this, input.getShape().drop_front(2), weight.getShape().slice(2, 2),
      getStrides(), getDilations(), getPads(), getAutoPad(), false);
  if (failed(window)) {
    return failure();
  }
  types.push_back(f32Tensor(
      *this, {input.getDimSize(0), outChannels, window->out[0], window->out[1]}));
  return success();
}

LogicalResult Conv2DOp::canonicalizeKernelAttrs(nlohmann::json &attrs) {
  auto input = rankedType(getInput());
  auto weight = rankedType(getWeight());
  auto window = resolveWindow(
      *this, input.getShape().drop_front(2), weight.getShape().slice(2, 2),
      getStrides(), getDilations(), getPads(), getAutoPad(), false);
  if (failed(window)) {
    return failure();
  }
  attrs["pads"] = toJson(window->pads);
  attrs.erase("auto_pad");
  return success();
}

template <typename PoolOp>
FailureOr<Window> kiln::ir::detail::poolWindow(PoolOp op) {
  auto input = rankedType(op.getInput());
  if (input.getRank() != 4) {
    op.emitOpError() << "expects input [N,C,H,W], got " << input;
    return failure();
  }
  ArrayRef<int64_t> kernel = op.getKernel();
  SmallVector<int64_t> strides(kernel.begin(), kernel.end());
  if (op.getStrides()) {
    strides.assign(op.getStrides()->begin(), op.getStrides()->end());
  }
  SmallVector<int64_t> dilations = {1, 1};
  if constexpr (std::is_same_v<PoolOp, MaxPool2DOp> ||
                std::is_same_v<PoolOp, MaxPool2DIndicesOp>) {
    dilations.assign(op.getDilations().begin(), op.getDilations().end());
  }
  return resolveWindow(op, input.getShape().drop_front(2), kernel, strides,
                       dilations, op.getPads(), op.getAutoPad(),
                       op.getCeilMode());
}
template FailureOr<Window> kiln::ir::detail::poolWindow(MaxPool2DOp);
template FailureOr<Window> kiln::ir::detail::poolWindow(AvgPool2DOp);
template FailureOr<Window> kiln::ir::detail::poolWindow(MaxPool2DIndicesOp);

namespace {
template <typename PoolOp>
LogicalResult inferPool(PoolOp op, SmallVectorImpl<Type> &types) {
  auto window = kiln::ir::detail::poolWindow(op);
  if (failed(window)) {
    return failure();
  }
  auto input = rankedType(op.getInput());
  types.push_back(f32Tensor(op, {input.getDimSize(0), input.getDimSize(1),
                                 window->out[0], window->out[1]}));
  return success();
}
} // namespace

LogicalResult MaxPool2DOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return inferPool(*this, types);
}

namespace {
// max_pool2d's kernel attrs (and max_pool2d_indices'): the resolved
// strides and pads.
template <typename PoolOp>
LogicalResult canonicalizeMaxPool(PoolOp op, nlohmann::json &attrs) {
  auto window = kiln::ir::detail::poolWindow(op);
  if (failed(window)) {
    return failure();
  }
  attrs["strides"] = toJson(window->strides);
  attrs["pads"] = toJson(window->pads);
  attrs.erase("auto_pad");
  attrs.erase("ceil_mode");
  return success();
}
} // namespace

LogicalResult MaxPool2DOp::canonicalizeKernelAttrs(nlohmann::json &attrs) {
  return canonicalizeMaxPool(*this, attrs);
}

LogicalResult MaxPool2DIndicesOp::inferResultTypes(
    SmallVectorImpl<Type> &types) {
  auto window = kiln::ir::detail::poolWindow(*this);
  if (failed(window)) {
    return failure();
  }
  auto input = rankedType(getInput());
  types.push_back(RankedTensorType::get(
      {input.getDimSize(0), input.getDimSize(1), window->out[0],
       window->out[1]},
      IntegerType::get(getContext(), 32)));
  return success();
}

LogicalResult MaxPool2DIndicesOp::canonicalizeKernelAttrs(
    nlohmann::json &attrs) {
  return canonicalizeMaxPool(*this, attrs);
}

LogicalResult AvgPool2DOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return inferPool(*this, types);
}

LogicalResult AvgPool2DOp::canonicalizeKernelAttrs(nlohmann::json &attrs) {
  auto window = kiln::ir::detail::poolWindow(*this);
  if (failed(window)) {
    return failure();
  }
  attrs["strides"] = toJson(window->strides);
  attrs["pads"] = toJson(window->pads);
  attrs["divisor_pads"] = toJson(window->userPads);
  attrs.erase("auto_pad");
  attrs.erase("ceil_mode");
  return success();
}

LogicalResult GlobalAvgPoolOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  if (input.getRank() != 4) {
    return emitOpError() << "expects input [N,C,H,W], got " << input;
  }
  types.push_back(
      f32Tensor(*this, {input.getDimSize(0), input.getDimSize(1), 1, 1}));
  return success();
}

LogicalResult BatchNormOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  if (input.getRank() < 2) {
    return emitOpError() << "expects input [N,C,...] of rank >= 2, got "
                         << input;
  }
  int64_t channels = input.getDimSize(1);
  for (Value v : {getWeight(), getBias(), getRunningMean(), getRunningVar()}) {
    auto t = rankedType(v);
    if (t.getRank() != 1 || t.getDimSize(0) != channels) {
      return emitOpError() << "per-channel operand " << t << " does not match "
                           << channels << " channels of " << input;
    }
  }
  types.push_back(input);
  return success();
}

LogicalResult LayerNormOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  auto axis = normalizeAxis(*this, getAxis(), input.getRank());
  if (failed(axis)) {
    return failure();
  }
  ArrayRef<int64_t> normalized = input.getShape().drop_front(*axis);
  for (Value v : {getWeight(), getBias()}) {
    if (!v) {
      continue;
    }
    auto t = rankedType(v);
    if (t.getShape() != normalized) {
      return emitOpError() << "scale/bias " << t
                           << " must have the normalized shape of " << input
                           << " from axis " << *axis;
    }
  }
  types.push_back(input);
  return success();
}

LogicalResult LayerNormOp::canonicalizeKernelAttrs(nlohmann::json &attrs) {
  auto axis = normalizeAxis(*this, getAxis(), rankedType(getInput()).getRank());
  if (failed(axis)) {
    return failure();
  }
  attrs["axis"] = *axis;
  return success();
}

LogicalResult ConcatOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (getInputs().empty()) {
    return emitOpError() << "needs at least one input";
  }
  auto first = rankedType(getInputs().front());
  auto axis = normalizeAxis(*this, getAxis(), first.getRank());
  if (failed(axis)) {
    return failure();
  }
  SmallVector<int64_t> shape(first.getShape());
  shape[*axis] = 0;
  for (Value v : getInputs()) {
    auto t = rankedType(v);
    for (int64_t d = 0; d < first.getRank(); ++d) {
      if (t.getRank() != first.getRank() ||
          (d != *axis && t.getDimSize(d) != first.getDimSize(d))) {
        return emitOpError() << "input " << t << " does not match " << first
                             << " outside axis " << *axis;
      }
    }
    shape[*axis] += t.getDimSize(*axis);
  }
  types.push_back(f32Tensor(*this, shape));
  return success();
}

LogicalResult ConcatOp::canonicalizeKernelAttrs(nlohmann::json &attrs) {
  auto axis = normalizeAxis(*this, getAxis(),
                            rankedType(getInputs().front()).getRank());
  if (failed(axis)) {
    return failure();
  }
  attrs["axis"] = *axis;
  return success();
}

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

LogicalResult GeluOp::verify() {
  if (getApproximate() != "none" && getApproximate() != "tanh") {
    return emitOpError() << "approximate must be \"none\" or \"tanh\", got \""
                         << getApproximate() << "\"";
  }
  return success();
}

namespace {
template <typename AxisOp> LogicalResult verifyAxis(AxisOp op) {
  return normalizeAxis(op, op.getAxis(), rankedType(op.getInput()).getRank());
}
template <typename AxisOp>
LogicalResult canonicalizeAxis(AxisOp op, nlohmann::json &attrs) {
  auto axis =
      normalizeAxis(op, op.getAxis(), rankedType(op.getInput()).getRank());
  if (failed(axis)) {
    return failure();
  }
  attrs["axis"] = *axis;
  return success();
}
} // namespace

LogicalResult SoftmaxOp::verify() { return verifyAxis(*this); }
LogicalResult SoftmaxOp::canonicalizeKernelAttrs(nlohmann::json &attrs) {
  return canonicalizeAxis(*this, attrs);
}
LogicalResult LogSoftmaxOp::verify() { return verifyAxis(*this); }
LogicalResult LogSoftmaxOp::canonicalizeKernelAttrs(nlohmann::json &attrs) {
  return canonicalizeAxis(*this, attrs);
}

LogicalResult ResizeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  if (input.getRank() < 2 || getSizes().size() != 2) {
    return emitOpError() << "resizes the last two dims of an input of rank "
                            ">= 2 to sizes [OH, OW], got "
                         << input << " and " << getSizes().size() << " sizes";
  }
  SmallVector<int64_t> shape(input.getShape());
  shape[shape.size() - 2] = getSizes()[0];
  shape[shape.size() - 1] = getSizes()[1];
  types.push_back(f32Tensor(*this, shape));
  return success();
}

LogicalResult ResizeOp::verify() {
  for (int64_t size : getSizes()) {
    if (size < 1) {
      return emitOpError() << "sizes must be positive, got " << size;
    }
  }
  if (getScales().size() != 2) {
    return emitOpError() << "needs 2 scales (H, W), got "
                         << getScales().size();
  }
  for (Attribute scale : getScales()) {
    double s = llvm::cast<FloatAttr>(scale).getValueAsDouble();
    if (!(s > 0) || !std::isfinite(s)) {
      return emitOpError() << "scales must be positive and finite, got " << s;
    }
  }
  StringRef mode = getMode();
  if (mode != "nearest" && mode != "linear" && mode != "cubic") {
    return emitOpError() << "mode must be nearest, linear or cubic, got \""
                         << mode << "\"";
  }
  StringRef transform = getCoordinateTransformationMode();
  if (transform != "half_pixel" && transform != "pytorch_half_pixel" &&
      transform != "align_corners" && transform != "asymmetric" &&
      transform != "tf_half_pixel_for_nn") {
    return emitOpError() << "unsupported coordinate_transformation_mode \""
                         << transform << "\"";
  }
  StringRef nearest = getNearestMode();
  if (nearest != "round_prefer_floor" && nearest != "round_prefer_ceil" &&
      nearest != "floor" && nearest != "ceil") {
    return emitOpError() << "unsupported nearest_mode \"" << nearest << "\"";
  }
  return success();
}

LogicalResult GridSampleOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput()), grid = rankedType(getGrid());
  if (input.getRank() != 4 || grid.getRank() != 4 || grid.getDimSize(3) != 2 ||
      input.getDimSize(0) != grid.getDimSize(0)) {
    return emitOpError() << "samples an input [N, C, H, W] at a grid "
                            "[N, OH, OW, 2], got "
                         << input << " and " << grid;
  }
  types.push_back(f32Tensor(*this, {input.getDimSize(0), input.getDimSize(1),
                                    grid.getDimSize(1), grid.getDimSize(2)}));
  return success();
}

LogicalResult GridSampleOp::verify() {
  StringRef mode = getMode(), padding = getPaddingMode();
  if (mode != "bilinear" && mode != "nearest" && mode != "bicubic") {
    return emitOpError() << "mode must be bilinear, nearest or bicubic, got \""
                         << mode << "\"";
  }
  if (padding != "zeros" && padding != "border" && padding != "reflection") {
    return emitOpError()
           << "padding_mode must be zeros, border or reflection, got \""
           << padding << "\"";
  }
  return success();
}

LogicalResult LRNOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(getInput().getType());
  return success();
}

LogicalResult LRNOp::verify() {
  auto input = llvm::cast<RankedTensorType>(getInput().getType());
  if (input.getRank() < 2) {
    return emitOpError() << "input " << input
                         << " needs a channel axis 1 (rank >= 2)";
  }
  if (getSize() < 1) {
    return emitOpError() << "size must be >= 1, got " << getSize();
  }
  float alpha = getAlpha().convertToFloat(), beta = getBeta().convertToFloat(),
        bias = getBias().convertToFloat();
  if (!std::isfinite(alpha) || !std::isfinite(beta) || !std::isfinite(bias) ||
      bias <= 0 || alpha < 0) {
    return emitOpError() << "alpha >= 0, beta and bias > 0 must be finite "
                            "(got alpha "
                         << alpha << ", beta " << beta << ", bias " << bias
                         << ")";
  }
  return success();
}

LogicalResult PReluOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = rankedType(getInput());
  auto slope = rankedType(getSlope());
  int64_t channels = input.getRank() >= 2 ? input.getDimSize(1) : 1;
  if (slope.getRank() != 1 ||
      (slope.getDimSize(0) != 1 && slope.getDimSize(0) != channels)) {
    return emitOpError() << "slope " << slope << " must be [1] or [" << channels
                         << "] (channels of " << input << ")";
  }
  types.push_back(input);
  return success();
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

LogicalResult SparseCCEOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto logits = rankedType(getLogits());
  auto labels = rankedType(getLabels());
  if (logits.getRank() != 2 || labels.getRank() != 1 ||
      labels.getDimSize(0) != logits.getDimSize(0)) {
    return emitOpError() << "expects logits [N,C] and labels [N], got "
                         << logits << " and " << labels;
  }
  types.push_back(f32Tensor(*this, {}));
  return success();
}

namespace {

// nll_loss's operands: input [N,C,d...], target [N,d...], weight [C]; the
// result shape for `reduction`.
LogicalResult inferNllLoss(Operation *op, Value inputValue, Value targetValue,
                           Value weightValue, StringRef reduction,
                           SmallVectorImpl<int64_t> &result) {
  auto input = rankedType(inputValue);
  auto target = rankedType(targetValue);
  SmallVector<int64_t> expected;
  if (input.getRank() >= 2) {
    expected.push_back(input.getDimSize(0));
    llvm::append_range(expected, input.getShape().drop_front(2));
  }
  if (input.getRank() < 2 || target.getShape() != ArrayRef(expected)) {
    return op->emitOpError() << "expects input [N,C,d...] and target "
                                "[N,d...], got "
                             << input << " and " << target;
  }
  if (weightValue) {
    auto weight = rankedType(weightValue);
    if (weight.getRank() != 1 || weight.getDimSize(0) != input.getDimSize(1)) {
      return op->emitOpError() << "weight must be [" << input.getDimSize(1)
                               << "] (the classes), got " << weight;
    }
  }
  if (reduction != "mean" && reduction != "sum" && reduction != "none") {
    return op->emitOpError() << "reduction must be mean, sum or none, got '"
                             << reduction << "'";
  }
  if (reduction == "none") {
    result.assign(expected.begin(), expected.end());
  }
  return success();
}

} // namespace

LogicalResult NllLossOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  SmallVector<int64_t> shape;
  if (failed(inferNllLoss(*this, getInput(), getTarget(), getWeight(),
                          getReduction(), shape))) {
    return failure();
  }
  types.push_back(f32Tensor(*this, shape));
  return success();
}

LogicalResult NllLossGradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  SmallVector<int64_t> shape;
  if (failed(inferNllLoss(*this, getInput(), getTarget(), getWeight(),
                          getReduction(), shape))) {
    return failure();
  }
  if (rankedType(getDy()).getShape() != ArrayRef(shape)) {
    return emitOpError() << "dy must have the loss's shape, got "
                         << getDy().getType();
  }
  types.push_back(getInput().getType());
  return success();
}

namespace {

// A view op's input and result types where both are ranked and static,
// else nulls.
std::pair<RankedTensorType, RankedTensorType> staticViewTypes(Operation *op) {
  auto in = llvm::dyn_cast<RankedTensorType>(op->getOperand(0).getType());
  auto out = llvm::dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!in || !out || !in.hasStaticShape() || !out.hasStaticShape()) {
    return {};
  }
  return {in, out};
}

// transpose(x) that keeps the order of x's dims larger than 1 moves only
// unit dims: the same elements in the same order, so a reshape (a view).
// ViT's [1, T, D] <-> [T, 1, D] around attention.
struct TransposeOfUnitDims : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto [in, out] = staticViewTypes(op);
    if (!in || static_cast<int64_t>(op.getPerm().size()) != in.getRank()) {
      return failure();
    }
    int64_t last = -1;
    for (int64_t d : op.getPerm()) {
      if (d < 0 || d >= in.getRank()) {
        return failure();
      }
      if (in.getDimSize(d) == 1) {
        continue;
      }
      if (d < last) {
        return failure();
      }
      last = d;
    }
    rewriter.replaceOpWithNewOp<ReshapeOp>(
        op, out, op.getInput(), rewriter.getDenseI64ArrayAttr(out.getShape()));
    return success();
  }
};

// reshape(reshape(x)) -> reshape(x); a reshape to x's own type -> x.
struct ReshapeOfReshape : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto type = llvm::dyn_cast<RankedTensorType>(op.getType());
    if (!type || !type.hasStaticShape()) {
      return failure();
    }
    if (op.getInput().getType() == type) {
      rewriter.replaceOp(op, op.getInput());
      return success();
    }
    auto inner = op.getInput().getDefiningOp<ReshapeOp>();
    if (!inner) {
      return failure();
    }
    rewriter.replaceOpWithNewOp<ReshapeOp>(
        op, type, inner.getInput(),
        rewriter.getDenseI64ArrayAttr(type.getShape()));
    return success();
  }
};

SmallVector<int64_t> nonUnitDims(ArrayRef<int64_t> shape) {
  return llvm::to_vector(
      llvm::make_filter_range(shape, [](int64_t d) { return d != 1; }));
}

// Elementwise ops whose operands broadcast as in numpy (or that have one
// operand), so that they compute the same on a shape without some of its
// unit dims.
bool broadcastsLikeNumpy(Operation *op) {
  return op->getNumResults() == 1 &&
         (llvm::isa<AddOp, SubOp, MulOp, DivOp, MaximumOp, MinimumOp, PowOp>(
              op) ||
          (llvm::isa<ElementwiseOpInterface>(op) && op->getNumOperands() == 1));
}

// e(reshape(x), y...) -> reshape(e(x, y'...)) where the reshape only adds
// unit dims (x [T, D] -> [1, T, D] or [T, 1, D]) and e is elementwise with
// numpy broadcasting, its result of the reshape's type: the other operands
// y of that type are reshaped to x's (a view), those broadcast from
// trailing dims that x's shape ends with too stay. ONNX importers' MatMul
// on [1, T, D] is a matmul of [T, D] between such reshapes; its bias add,
// activation and residual add then read the product itself and kiln-fuse
// makes them its epilogue. Reshapes that drop unit dims stay, so this
// never undoes itself.
struct SinkUnitDimReshape : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto [from, to] = staticViewTypes(op);
    if (!from || to.getRank() <= from.getRank() ||
        nonUnitDims(from.getShape()) != nonUnitDims(to.getShape())) {
      return failure();
    }
    for (Operation *user : op->getUsers()) {
      if (!broadcastsLikeNumpy(user) || user->getResult(0).getType() != to) {
        continue;
      }
      // Per operand: x, the operand itself, or null (reshape it to x's).
      SmallVector<Value> operands;
      bool sinks = true;
      for (Value operand : user->getOperands()) {
        auto type = llvm::dyn_cast<RankedTensorType>(operand.getType());
        int64_t rank = type ? type.getRank() : 0;
        if (operand == op.getResult()) {
          operands.push_back(op.getInput());
        } else if (type == to) {
          operands.push_back(nullptr);
        } else if (type && rank <= from.getRank() &&
                   to.getShape().take_back(rank) ==
                       from.getShape().take_back(rank)) {
          operands.push_back(operand);
        } else {
          sinks = false;
          break;
        }
      }
      if (!sinks) {
        continue;
      }
      rewriter.setInsertionPoint(user);
      auto shape = [&](RankedTensorType t) {
        return rewriter.getDenseI64ArrayAttr(t.getShape());
      };
      for (auto [operand, original] :
           llvm::zip(operands, user->getOperands())) {
        if (!operand) {
          operand = rewriter.create<ReshapeOp>(user->getLoc(), from, original,
                                               shape(from));
        }
      }
      Operation *sunk = rewriter.clone(*user);
      sunk->setOperands(operands);
      sunk->getResult(0).setType(from);
      rewriter.replaceOpWithNewOp<ReshapeOp>(user, to, sunk->getResult(0),
                                             shape(to));
      return success();
    }
    return failure();
  }
};

// A splat f32 constant within 1e-6 relative of `expected`.
bool isSplat(Value value, double expected) {
  ElementsAttr attr;
  if (!matchPattern(value, m_Constant(&attr)) || attr.getNumElements() < 1 ||
      !attr.getElementType().isF32()) {
    return false;
  }
  auto values = attr.tryGetValues<float>();
  if (!values) {
    return false;
  }
  return llvm::all_of(*values, [&](float v) {
    return std::abs(v - expected) <= 1e-6 * std::abs(expected);
  });
}

// The operand of the binary `op` that is not `other`'s, if `other` is one
// of them.
Value otherOperand(Operation *op, function_ref<bool(Value)> other) {
  if (op->getNumOperands() != 2) {
    return nullptr;
  }
  if (other(op->getOperand(1))) {
    return op->getOperand(0);
  }
  return other(op->getOperand(0)) ? op->getOperand(1) : nullptr;
}

// x * (erf(x / sqrt(2)) + 1) * 0.5 (or x * 0.5 * ..., the factors in any
// order, x * (1 / sqrt(2)) for the division) -> gelu(x): one unary op
// where PyTorch's ONNX export (opset < 20) writes five, so that it can
// join a product's epilogue (ViT-B/16's MLP).
struct GeluFromErf : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    auto half = [](Value v) { return isSplat(v, 0.5); };
    // op = a * 0.5 with a = x * cdf, or op = (x * 0.5) * cdf.
    Value x, cdf;
    if (Value a = otherOperand(op, half)) {
      auto mul = a.getDefiningOp<MulOp>();
      if (!mul) {
        return failure();
      }
      for (int i = 0; i < 2 && !x; ++i) {
        if (isErfTerm(mul->getOperand(1 - i), mul->getOperand(i))) {
          x = mul->getOperand(i);
        }
      }
    } else {
      for (int i = 0; i < 2 && !x; ++i) {
        auto scaled = op->getOperand(i).getDefiningOp<MulOp>();
        Value candidate = scaled ? otherOperand(scaled, half) : nullptr;
        if (candidate && isErfTerm(op->getOperand(1 - i), candidate)) {
          x = candidate;
        }
      }
    }
    if (!x || x.getType() != op.getType()) {
      return failure();
    }
    rewriter.replaceOpWithNewOp<GeluOp>(op, op.getType(), x);
    return success();
  }

  // term = erf(x / sqrt(2)) + 1 (or 1 + ..., x * (1 / sqrt(2))).
  static bool isErfTerm(Value term, Value x) {
    auto add = term.getDefiningOp<AddOp>();
    Value e = add ? otherOperand(add, [](Value v) { return isSplat(v, 1.0); })
                  : nullptr;
    auto erf = e ? e.getDefiningOp<ErfOp>() : nullptr;
    Operation *scale = erf ? erf.getInput().getDefiningOp() : nullptr;
    if (!scale) {
      return false;
    }
    if (llvm::isa<DivOp>(scale)) {
      return scale->getOperand(0) == x &&
             isSplat(scale->getOperand(1), M_SQRT2);
    }
    return llvm::isa<MulOp>(scale) && otherOperand(scale, [](Value v) {
                                        return isSplat(v, M_SQRT1_2);
                                      }) == x;
  }
};

} // namespace

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<TransposeOfUnitDims>(context);
}

void ReshapeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add<ReshapeOfReshape, SinkUnitDimReshape>(context);
}

void MulOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                        MLIRContext *context) {
  results.add<GeluFromErf>(context);
}

bool Conv2DOp::isDepthwise() {
  auto weight = llvm::dyn_cast<RankedTensorType>(getWeight().getType());
  auto input = llvm::dyn_cast<RankedTensorType>(getInput().getType());
  return weight && input && weight.getRank() == 4 && weight.hasStaticShape() &&
         input.getRank() == 4 && weight.getDimSize(1) == 1 &&
         getGroups() == weight.getDimSize(0) &&
         input.getDimSize(1) == weight.getDimSize(0);
}

// The fold scales the weight's rows [O, ...]; a packed weight [O/B, C, KH,
// KW, B] holds them in blocks.
bool Conv2DOp::canFoldChannelAffine() { return !hasPackedWeight(); }

#define GET_OP_CLASSES
#include "kiln/ir/KilnOps.cpp.inc"
