//===- HoistLoadTime.cpp - kiln-hoist-load-time --------------------------===//
//
// Marks the kernels whose inputs are all parameters, constants or results of
// marked kernels (`kiln.load_time`): the runtime runs them only after the
// parameters change. See Passes.td.
//
//===----------------------------------------------------------------------===//
#include "MemoryLiveness.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace kiln::passes {
#define GEN_PASS_DEF_KILNHOISTLOADTIME
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
using namespace kiln::ir;

namespace {

struct HoistLoadTimePass
    : kiln::passes::impl::KilnHoistLoadTimeBase<HoistLoadTimePass> {
  void runOnOperation() override {
    Builder builder(&getContext());
    getOperation().walk([&](func::FuncOp func) {
      if (func.isExternal()) {
        return;
      }
      for (Operation &op : func.getBody().front()) {
        if (llvm::isa<KernelOpInterface>(op) && op.getNumOperands() > 0 &&
            llvm::all_of(op.getOperands(), isLoadTime)) {
          op.setAttr(kLoadTimeAttr, builder.getUnitAttr());
        }
      }
    });
  }

  static bool isLoadTime(Value value) {
    Operation *def = kiln::passes::memory::storageRoot(value).getDefiningOp();
    return def && (llvm::isa<ParamOp, ConstantOp>(def) || def->hasAttr(kLoadTimeAttr));
  }
};

} // namespace
