//===- ShapeInference.cpp - kiln-shape-inference -------------------------===//
//
// Re-infers every result type of the kiln ops in each function:
//   1. With `batch` > 0, set the leading dim of every argument to `batch`.
//   2. Visit the ops of the body in program order (operands are always
//      defined before use in a single-block function); for an op with
//      ShapeInferenceOpInterface, recompute its result types and set them.
//   3. Set the function type's results to the types of the returned values.
// An op whose inference fails has already emitted an error naming it; the
// pass then fails.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace kiln::passes {
#define GEN_PASS_DEF_KILNSHAPEINFERENCE
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;

namespace {
struct ShapeInferencePass
    : kiln::passes::impl::KilnShapeInferenceBase<ShapeInferencePass> {
  using KilnShapeInferenceBase::KilnShapeInferenceBase;

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal() || failed(inferFunction(func))) {
        signalPassFailure();
        return;
      }
    }
  }

  LogicalResult inferFunction(func::FuncOp func) {
    Block &body = func.getBody().front();
    if (batch > 0) {
      for (BlockArgument arg : body.getArguments()) {
        auto type = llvm::dyn_cast<RankedTensorType>(arg.getType());
        if (!type || type.getRank() == 0) {
          continue;
        }
        SmallVector<int64_t> shape(type.getShape());
        shape[0] = batch;
        arg.setType(type.clone(shape));
      }
    }
    for (Operation &op : body) {
      auto inferable = llvm::dyn_cast<kiln::ir::ShapeInferenceOpInterface>(op);
      if (!inferable) {
        continue;
      }
      SmallVector<Type> types;
      if (failed(inferable.inferResultTypes(types))) {
        return failure();
      }
      for (auto [result, type] : llvm::zip(op.getResults(), types)) {
        result.setType(type);
      }
    }
    func.setType(FunctionType::get(
        func.getContext(), body.getArgumentTypes(),
        body.getTerminator()->getOperandTypes()));
    return success();
  }
};
} // namespace
