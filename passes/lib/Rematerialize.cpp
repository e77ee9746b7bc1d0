//===- Rematerialize.cpp - kiln-rematerialize -----------------------------===//
//
// Trades compute for memory in a training step (docs/memory.md): a cheap
// forward value that waits, unused, from the forward pass to its backward
// reader is recomputed just before that reader instead of being kept.
//
// Algorithm (repeated while the planned arena exceeds `memory-budget`):
//   1. Plan the function (MemoryLiveness: liveness + greedy placement) and
//      find the peak step (where the live bytes are largest).
//   2. Candidates: results of elementwise kernels (ElementwiseOpInterface)
//      and the normalized output of batch_norm_train, read only by kernels
//      (not views or write-backs), with a gap between two consecutive
//      readers that spans the peak step, and whose operands are alive (or
//      outside the arena) at the reader after the gap.
//   3. Take the largest candidate (fewest FLOPs on ties); clone its op
//      right before the reader after the gap and let every later reader use
//      the clone.
//   4. Stop when the arena fits or no candidate is left. The function gets
//      `kiln.remat_bytes_saved` (arena before minus after) and
//      `kiln.remat_flops` (the estimated FLOPs the clones add per step).
//
//===----------------------------------------------------------------------===//
#include "MemoryLiveness.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace kiln::passes {
#define GEN_PASS_DEF_KILNREMATERIALIZE
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
namespace memory = kiln::passes::memory;

namespace {

// FLOPs of a recomputation (RecomputeOpInterface's estimate per element
// of the first result), reported as an estimate.
int64_t recomputeFlops(kiln::ir::RecomputeOpInterface op) {
  int64_t elements =
      llvm::cast<RankedTensorType>(op->getResult(0).getType()).getNumElements();
  return op.recomputeFlopsPerElement() * elements;
}

// Cheap to recompute: the ops that say so in ODS (RecomputeOpInterface:
// the elementwise ops and batch_norm_train).
bool isCheap(Operation *op) {
  return llvm::isa<kiln::ir::RecomputeOpInterface>(op);
}

struct Candidate {
  Operation *op = nullptr;
  Operation *reader = nullptr; // the first reader after the gap
  int64_t bytes = 0;
  int64_t flops = 0;
};

struct RematerializePass
    : kiln::passes::impl::KilnRematerializeBase<RematerializePass> {
  using KilnRematerializeBase::KilnRematerializeBase;

  void runOnOperation() override {
    if (memoryBudget <= 0) {
      return;
    }
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isExternal()) {
        rematerialize(func);
      }
    }
  }

  std::optional<Candidate> pick(func::FuncOp func,
                                const memory::Liveness &live) {
    std::optional<Candidate> best;
    for (Operation &body : func.getBody().front()) {
      Operation *op = &body;
      if (!isCheap(op) || !live.blockOf.count(op->getResult(0))) {
        continue;
      }
      Value value = op->getResult(0);
      SmallVector<std::pair<int, Operation *>> readers;
      bool onlyKernels = true;
      for (Operation *user : value.getUsers()) {
        auto index = live.kernelIndex.find(user);
        if (index == live.kernelIndex.end() ||
            llvm::isa<kiln::ir::AssignOp>(user)) {
          onlyKernels = false;
          break;
        }
        readers.push_back({index->second, user});
      }
      if (!onlyKernels || readers.size() < 2) {
        continue;
      }
      llvm::sort(readers, [](auto &a, auto &b) { return a.first < b.first; });
      for (size_t i = 0; i + 1 < readers.size(); ++i) {
        int resume = readers[i + 1].first;
        if (!(readers[i].first < live.peakStep && live.peakStep < resume)) {
          continue;
        }
        bool operandsAlive = llvm::all_of(op->getOperands(), [&](Value v) {
          Value root = memory::storageRoot(v);
          auto last = live.lastUse.find(root);
          return last == live.lastUse.end() || last->second >= resume;
        });
        if (!operandsAlive) {
          continue;
        }
        Candidate candidate{op, readers[i + 1].second,
                            memory::alignedBytes(value.getType()),
                            recomputeFlops(llvm::cast<kiln::ir::RecomputeOpInterface>(op))};
        if (!best || candidate.bytes > best->bytes ||
            (candidate.bytes == best->bytes && candidate.flops < best->flops)) {
          best = candidate;
        }
      }
    }
    return best;
  }

  void rematerialize(func::FuncOp func) {
    memory::Liveness live = memory::analyzeLiveness(func, /*inPlace=*/false);
    int64_t initial = memory::placeBlocks(live.blocks).arenaBytes;
    int64_t arena = initial, flops = 0;
    // Each clone leaves its value fewer readers, so this ends; the cap only
    // bounds compile time on huge graphs.
    for (int round = 0; arena > memoryBudget && round < 10000; ++round) {
      std::optional<Candidate> candidate = pick(func, live);
      if (!candidate) {
        break;
      }
      int resume = live.kernelIndex.at(candidate->reader);
      OpBuilder builder(candidate->reader);
      Operation *clone = builder.clone(*candidate->op);
      Value value = candidate->op->getResult(0);
      value.replaceUsesWithIf(clone->getResult(0), [&](OpOperand &use) {
        auto index = live.kernelIndex.find(use.getOwner());
        return index != live.kernelIndex.end() && index->second >= resume;
      });
      flops += candidate->flops;
      live = memory::analyzeLiveness(func, /*inPlace=*/false);
      arena = memory::placeBlocks(live.blocks).arenaBytes;
    }
    Builder builder(func.getContext());
    func->setAttr("kiln.remat_bytes_saved",
                  builder.getI64IntegerAttr(initial - arena));
    func->setAttr("kiln.remat_flops", builder.getI64IntegerAttr(flops));
  }
};
} // namespace
