//===- PlanMemory.cpp - kiln-plan-memory ----------------------------------===//
//
// Gives every intermediate of a function an offset in one arena, decided at
// compile time (docs/memory.md). The runtime allocates the arena once and
// every temp buffer of a step lives at its offset.
//
// Algorithm:
//   1. Number the kernel calls as lower() emits them: kernel ops in program
//      order, then one copy per `kiln.assign` (so an assigned value lives
//      until the end).
//   2. Storage: kernel op results are temps; the storage of returned values
//      (through views), inputs, parameters and constants is outside the
//      arena. Each temp lives from its kernel to the last kernel that reads
//      it or a view of it.
//   3. In place: an elementwise kernel (ElementwiseOpInterface) writes its
//      result over an operand it may overwrite (`canWriteOver`) whose
//      storage dies at this kernel; the two share one block of the arena.
//   4. Bounds: peak live bytes = max over kernel steps of the bytes of the
//      blocks alive at that step (no placement can do better); naive bytes =
//      every temp in its own buffer.
//   5. Placement: greedy by size (Pisarchyk & Lee 2020): blocks in a chosen
//      order, each at the smallest gap between the blocks already placed
//      that overlap it in time, else above them; 64-byte aligned. Four
//      orderings (size, size x lifetime, lifetime, first use) are tried and
//      the smallest arena is kept.
//   6. Annotate: each kernel op gets `kiln.offsets` (one per result, -1 for
//      storage outside the arena), `kiln.live` (first, last kernel step per
//      result) and `kiln.in_place` (the operand it overwrites); the function
//      gets `kiln.arena_bytes`, `kiln.peak_live_bytes`, `kiln.naive_bytes`.
//
//===----------------------------------------------------------------------===//
#include "MemoryLiveness.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace kiln::passes {
#define GEN_PASS_DEF_KILNPLANMEMORY
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
namespace memory = kiln::passes::memory;

namespace {
struct PlanMemoryPass
    : kiln::passes::impl::KilnPlanMemoryBase<PlanMemoryPass> {
  using KilnPlanMemoryBase::KilnPlanMemoryBase;

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isExternal()) {
        planFunction(func);
      }
    }
  }

  void planFunction(func::FuncOp func) {
    if (alignment <= 0 || alignment % kiln::support::kAlignment != 0) {
      func.emitError() << "kiln-plan-memory: alignment "
                       << static_cast<int64_t>(alignment)
                       << " is not a positive multiple of "
                       << kiln::support::kAlignment;
      return signalPassFailure();
    }
    memory::Liveness live = memory::analyzeLiveness(func, inPlace, alignment);
    memory::Placement placement = memory::placeBlocks(live.blocks);
    Builder builder(func.getContext());
    for (Operation &op : func.getBody().front()) {
      if (!llvm::isa<kiln::ir::KernelOpInterface>(op)) {
        continue;
      }
      int step = live.kernelIndex.at(&op);
      SmallVector<int64_t> offsets, steps;
      for (Value result : op.getResults()) {
        auto block = live.blockOf.find(result);
        if (block == live.blockOf.end()) {
          offsets.push_back(-1);
          steps.append({step, live.kernelCount - 1});
          continue;
        }
        offsets.push_back(placement.offsets[block->second]);
        steps.append({step, live.lastUse.at(result)});
      }
      op.setAttr("kiln.offsets", builder.getDenseI64ArrayAttr(offsets));
      op.setAttr("kiln.live", builder.getDenseI64ArrayAttr(steps));
      if (op.getNumResults() == 1 && live.inPlaceOver.count(op.getResult(0))) {
        op.setAttr("kiln.in_place", builder.getI64IntegerAttr(
                                        live.inPlaceOver.at(op.getResult(0))));
      } else {
        op.removeAttr("kiln.in_place");
      }
    }
    func->setAttr("kiln.arena_bytes",
                  builder.getI64IntegerAttr(placement.arenaBytes));
    func->setAttr("kiln.peak_live_bytes",
                  builder.getI64IntegerAttr(live.peakLiveBytes));
    func->setAttr("kiln.naive_bytes",
                  builder.getI64IntegerAttr(live.naiveBytes));
  }
};
} // namespace
