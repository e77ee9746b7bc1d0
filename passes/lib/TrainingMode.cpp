//===- TrainingMode.cpp - kiln-training-mode ------------------------------===//
//
// 1. Append the `seed` argument (i32 scalar) to the entry function.
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
  void runOnOperation() override {
    func::FuncOp func = kiln::passes::entryFunction(getOperation());
    if (!func) {
      return;
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
