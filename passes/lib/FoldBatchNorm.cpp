//===- FoldBatchNorm.cpp - kiln-fold-batch-norm --------------------------===//
//
// batch_norm (running statistics) after conv2d / dense becomes new weights
// and bias of the layer; see Passes.td. Over constants the fold happens
// here, at compile time; over parameters a kiln.fold_batch_norm kernel
// computes them (once per parameter change, kiln-hoist-load-time).
//
//===----------------------------------------------------------------------===//
#include "FunctionUtils.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "mlir/IR/Builders.h"

#include <cmath>

namespace kiln::passes {
#define GEN_PASS_DEF_KILNFOLDBATCHNORM
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
using namespace kiln::ir;

namespace {

// The f32 values of a kiln.constant, or nothing.
std::optional<std::vector<double>> constantValues(Value value) {
  auto constant = value.getDefiningOp<ConstantOp>();
  if (!constant) {
    return std::nullopt;
  }
  auto dense = llvm::dyn_cast<DenseElementsAttr>(constant.getValue());
  if (!dense || !dense.getElementType().isF32()) {
    return std::nullopt;
  }
  std::vector<double> out;
  out.reserve(dense.getNumElements());
  for (float v : dense.getValues<float>()) {
    out.push_back(v);
  }
  return out;
}

Value makeConstant(OpBuilder &builder, Location loc, RankedTensorType type,
                   const std::vector<double> &values) {
  std::vector<float> f32(values.begin(), values.end());
  return builder.create<ConstantOp>(
      loc, type, DenseElementsAttr::get(type, llvm::ArrayRef<float>(f32)));
}

struct FoldBatchNormPass
    : kiln::passes::impl::KilnFoldBatchNormBase<FoldBatchNormPass> {
  void runOnOperation() override {
    SmallVector<BatchNormOp> norms;
    getOperation().walk([&](BatchNormOp bn) { norms.push_back(bn); });
    for (BatchNormOp bn : norms) {
      foldInto(bn);
    }
  }

  // The layer (ChannelAffineFoldOpInterface: conv2d, dense) whose result
  // `bn` (running statistics) reads and nothing else does; else nullptr.
  static Operation *foldableLayer(BatchNormOp bn) {
    if (bn.getTraining()) {
      return nullptr;
    }
    auto layer = llvm::dyn_cast_or_null<ChannelAffineFoldOpInterface>(
        bn.getInput().getDefiningOp());
    if (!layer || !layer.canFoldChannelAffine() ||
        !layer->getResult(0).hasOneUse()) {
      return nullptr;
    }
    return layer;
  }

  void foldInto(BatchNormOp bn) {
    Operation *layer = foldableLayer(bn);
    if (!layer) {
      return;
    }
    Value input = layer->getOperand(0), weight = layer->getOperand(1);
    Value bias = layer->getNumOperands() > 2 ? layer->getOperand(2) : Value();
    OpBuilder builder(bn);
    Location loc = builder.getFusedLoc({layer->getLoc(), bn.getLoc()});
    auto [foldedWeight, foldedBias] =
        foldConstants(builder, loc, bn, weight, bias);
    if (!foldedWeight) {
      auto fold = builder.create<FoldBatchNormOp>(
          loc, weight.getType(), bn.getWeight().getType(), weight, bias,
          bn.getWeight(), bn.getBias(), bn.getRunningMean(), bn.getRunningVar(),
          bn.getEpsilonAttr());
      foldedWeight = fold.getFoldedWeight();
      foldedBias = fold.getFoldedBias();
    }
    OperationState state(loc, layer->getName());
    state.addOperands({input, foldedWeight, foldedBias});
    state.addAttributes(layer->getAttrs());
    state.addTypes(layer->getResultTypes());
    Operation *folded = builder.create(state);
    bn.getResult().replaceAllUsesWith(folded->getResult(0));
    bn.erase();
    layer->erase();
  }

  // Compile-time fold when every operand is a constant; {null, null}
  // otherwise.
  static std::pair<Value, Value> foldConstants(OpBuilder &builder,
                                               Location loc, BatchNormOp bn,
                                               Value weight, Value bias) {
    auto w = constantValues(weight);
    auto gamma = constantValues(bn.getWeight());
    auto beta = constantValues(bn.getBias());
    auto mean = constantValues(bn.getRunningMean());
    auto var = constantValues(bn.getRunningVar());
    std::optional<std::vector<double>> b;
    if (bias) {
      b = constantValues(bias);
    }
    if (!w || !gamma || !beta || !mean || !var || (bias && !b)) {
      return {};
    }
    size_t channels = gamma->size();
    size_t perChannel = w->size() / channels;
    std::vector<double> foldedBias(channels);
    for (size_t o = 0; o < channels; ++o) {
      double scale =
          (*gamma)[o] / std::sqrt((*var)[o] + bn.getEpsilon().convertToDouble());
      for (size_t i = 0; i < perChannel; ++i) {
        (*w)[o * perChannel + i] *= scale;
      }
      foldedBias[o] = ((b ? (*b)[o] : 0.0) - (*mean)[o]) * scale + (*beta)[o];
    }
    auto weightType = llvm::cast<RankedTensorType>(weight.getType());
    auto biasType = llvm::cast<RankedTensorType>(bn.getWeight().getType());
    return {makeConstant(builder, loc, weightType, *w),
            makeConstant(builder, loc, biasType, foldedBias)};
  }
};

} // namespace
