//===- AppendLoss.cpp - kiln-append-loss ----------------------------------===//
//
// 1. Take the entry function's first result as the prediction.
// 2. For losses on logits (cce, sparse-cce) read through a final softmax;
//    for bce read through a final sigmoid and use bce_logits.
// 3. Add the `target` argument (i32 [N] labels for sparse-cce, else the
//    prediction's type) and the loss op; add each weight's regularizer.
// 4. Results become (loss, the original results...).
//
//===----------------------------------------------------------------------===//
#include "FunctionUtils.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

namespace kiln::passes {
#define GEN_PASS_DEF_KILNAPPENDLOSS
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
using namespace kiln::ir;

namespace {
struct AppendLossPass
    : kiln::passes::impl::KilnAppendLossBase<AppendLossPass> {
  using KilnAppendLossBase::KilnAppendLossBase;

  void runOnOperation() override {
    func::FuncOp func = kiln::passes::entryFunction(getOperation());
    if (!func) {
      getOperation().emitError("no function to append a loss to");
      return signalPassFailure();
    }
    auto results = kiln::passes::functionResults(func);
    if (results.empty()) {
      func.emitError("the model has no output to compute a loss on");
      return signalPassFailure();
    }
    if (loss == "model") {
      auto type = llvm::dyn_cast<RankedTensorType>(results[0].value.getType());
      if (!type || type.getRank() != 0) {
        func.emitError() << "--loss model needs the model's first output to "
                            "be a scalar loss, got "
                         << results[0].value.getType();
        return signalPassFailure();
      }
      return;
    }
    Value pred = results[0].value;
    std::string name = loss;
    std::replace(name.begin(), name.end(), '-', '_');
    if (name == "cce" || name == "sparse_cce") {
      if (auto softmax = pred.getDefiningOp<SoftmaxOp>()) {
        pred = softmax.getInput();
      }
    } else if (name == "bce") {
      if (auto sigmoid = pred.getDefiningOp<SigmoidOp>()) {
        pred = sigmoid.getInput();
        name = "bce_logits";
      }
    }
    auto predType = llvm::cast<RankedTensorType>(pred.getType());
    Type targetType = predType;
    if (name == "sparse_cce") {
      if (predType.getRank() != 2) {
        func.emitError() << "sparse-cce needs logits [N,C], the model "
                            "outputs "
                         << predType;
        return signalPassFailure();
      }
      targetType = RankedTensorType::get({predType.getDimSize(0)},
                                         IntegerType::get(&getContext(), 32));
    }
    Value target = kiln::passes::appendArgument(func, targetType, "target");

    OpBuilder builder(func.getBody().front().getTerminator());
    Location loc = func.getLoc();
    OperationState state(loc, "kiln." + name);
    state.addOperands({pred, target});
    state.addTypes(RankedTensorType::get({}, builder.getF32Type()));
    if (name == "huber") {
      state.addAttribute("delta", builder.getF32FloatAttr(delta));
    }
    if (!OperationName(state.name).isRegistered()) {
      func.emitError() << "unknown loss '" << loss
                       << "' (expected mse, mae, huber, bce, bce-logits, cce, "
                          "sparse-cce, hinge or model)";
      return signalPassFailure();
    }
    Operation *lossOp = builder.create(state);
    if (failed(verify(lossOp))) {
      return signalPassFailure();
    }
    Value total = lossOp->getResult(0);
    if (l1 != 0.0 || l2 != 0.0) {
      SmallVector<ParamOp> weights;
      func.walk([&](ParamOp param) {
        if (llvm::cast<RankedTensorType>(param.getType()).getRank() >= 2) {
          weights.push_back(param);
        }
      });
      for (ParamOp weight : weights) {
        Value penalty = builder.create<RegularizerOp>(
            loc, total.getType(), weight, builder.getF64FloatAttr(l1),
            builder.getF64FloatAttr(l2));
        total = builder.create<AddOp>(loc, total.getType(), total, penalty);
      }
    }
    results.insert(results.begin(), {total, "loss"});
    kiln::passes::setFunctionResults(func, results);
  }
};
} // namespace
