//===- TrainingMode.cpp - kiln-training-mode ------------------------------===//
//
// 1. Append the `seed` argument (i32 scalar) to the entry function.
// With dropout-rate, every kiln.dropout's rate is set to it first.
// 2. Give every TrainingModeOpInterface op, in program order, the seed and
//    a salt (its position among those ops) and let it rewrite itself.
//
//===----------------------------------------------------------------------===//
#include "FunctionUtils.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace kiln::passes {
#define GEN_PASS_DEF_KILNTRAININGMODE
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;

namespace {
struct TrainingModePass
    : kiln::passes::impl::KilnTrainingModeBase<TrainingModePass> {
  using KilnTrainingModeBase::KilnTrainingModeBase;
  void runOnOperation() override {
    func::FuncOp func = kiln::passes::entryFunction(getOperation());
    if (!func) {
      return;
    }
    if (dropoutRate >= 0) {
      if (!(dropoutRate < 1)) {
        func.emitError() << "dropout-rate must be in [0, 1), got "
                         << dropoutRate.getValue();
        return signalPassFailure();
      }
      func.walk([&](kiln::ir::DropoutOp dropout) {
        dropout.setRate(llvm::APFloat(static_cast<float>(dropoutRate)));
      });
    }
    Value seed = kiln::passes::appendArgument(
        func, RankedTensorType::get({}, IntegerType::get(&getContext(), 32)),
        "seed");
    SmallVector<kiln::ir::TrainingModeOpInterface> ops;
    func.walk([&](kiln::ir::TrainingModeOpInterface op) { ops.push_back(op); });
    OpBuilder builder(&getContext());
    for (auto [salt, op] : llvm::enumerate(ops)) {
      if (failed(op.convertToTraining(builder, seed, salt))) {
        return signalPassFailure();
      }
    }
  }
};
} // namespace
