//===- ScheduleForMemory.cpp - kiln-schedule-for-memory -------------------===//
//
// Reorders a function's ops, where data dependences leave the order free, so
// that fewer intermediates are alive at once (docs/memory.md).
//
// Algorithm:
//   1. Measure the peak live bytes of the current order (MemoryLiveness).
//   2. Candidate "greedy": list-schedule the kernel ops: among the ops whose
//      operands are all computed, take the one that adds the fewest bytes
//      to the arena: the bytes of its results minus the bytes of the
//      storage it is the last reader of. Ties keep program order. This runs
//      a gradient reduction or an optimizer update as soon as it can (it
//      frees a gradient). Parameters, constants and views are placed just
//      before their first user; `kiln.assign`s stay at the end (they are
//      write-backs anyway).
//   3. Candidate "sink": from the program order, visit the ops last to
//      first and move each right before its first user, so a value is
//      computed only when it is about to be needed.
//   4. Keep the order with the lowest peak live bytes (the current one on
//      ties).
//
//===----------------------------------------------------------------------===//
#include "MemoryLiveness.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

namespace kiln::passes {
#define GEN_PASS_DEF_KILNSCHEDULEFORMEMORY
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
namespace memory = kiln::passes::memory;

namespace {

bool isKernel(Operation *op) {
  return llvm::isa<kiln::ir::KernelOpInterface>(op);
}

void applyOrder(Block &body, ArrayRef<Operation *> order) {
  Operation *terminator = body.getTerminator();
  for (Operation *op : order) {
    op->moveBefore(terminator);
  }
}

struct ScheduleForMemoryPass
    : kiln::passes::impl::KilnScheduleForMemoryBase<ScheduleForMemoryPass> {
  using KilnScheduleForMemoryBase::KilnScheduleForMemoryBase;

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isExternal()) {
        scheduleFunction(func);
      }
    }
  }

  void scheduleFunction(func::FuncOp func) {
    Block &body = func.getBody().front();
    SmallVector<Operation *> original;
    for (Operation &op : body.without_terminator()) {
      original.push_back(&op);
    }
    memory::Liveness before = memory::analyzeLiveness(func, /*inPlace=*/false);

    // Readers left per arena storage root, and each kernel op's kernel
    // predecessors (through views).
    llvm::DenseMap<Value, int> readersLeft;
    llvm::DenseMap<Operation *, int> waitingOn;
    llvm::DenseMap<Operation *, SmallVector<Operation *>> successors;
    for (Operation *op : original) {
      if (!isKernel(op) && !llvm::isa<kiln::ir::AssignOp>(op)) {
        continue;
      }
      llvm::SmallSetVector<Value, 4> roots;
      llvm::SmallSetVector<Operation *, 4> producers;
      for (Value operand : op->getOperands()) {
        Value root = memory::storageRoot(operand);
        roots.insert(root);
        if (Operation *def = root.getDefiningOp(); def && isKernel(def)) {
          producers.insert(def);
        }
      }
      for (Value root : roots) {
        ++readersLeft[root];
      }
      if (isKernel(op)) {
        waitingOn[op] = producers.size();
        for (Operation *producer : producers) {
          successors[producer].push_back(op);
        }
      }
    }
    // A state update (optimizer step, running statistics) waits for every
    // other kernel that reads the parameter it updates: then nothing reads
    // the parameter after it, and the plan lets it write straight into the
    // parameter (kiln::ir::isUpdatedInPlace) instead of into a temporary
    // copied back at the end of the step. ResNet-18's step had 18 such
    // copies (conv weights whose input gradient ran after their update).
    for (Operation *op : original) {
      auto update = llvm::dyn_cast<kiln::ir::UpdateOpInterface>(op);
      if (!update) {
        continue;
      }
      llvm::SmallSetVector<Operation *, 4> readers;
      for (OpResult result : op->getResults()) {
        Value param = memory::storageRoot(
            op->getOperand(update.updatedOperand(result.getResultNumber())));
        if (!param.getDefiningOp<kiln::ir::ParamOp>()) {
          continue;
        }
        for (Operation *other : original) {
          if (other != op && isKernel(other) &&
              llvm::any_of(other->getOperands(), [&](Value operand) {
                return memory::storageRoot(operand) == param;
              })) {
            readers.insert(other);
          }
        }
      }
      for (Operation *reader : readers) {
        // Only readers the update does not itself feed (no cycle).
        if (llvm::is_contained(successors[op], reader)) {
          continue;
        }
        successors[reader].push_back(op);
        ++waitingOn[op];
      }
    }
    llvm::DenseMap<Operation *, int> position;
    for (auto [i, op] : llvm::enumerate(original)) {
      position[op] = static_cast<int>(i);
    }

    auto growth = [&](Operation *op) {
      int64_t bytes = 0;
      for (Value result : op->getResults()) {
        if (before.blockOf.count(result)) {
          bytes += memory::alignedBytes(result.getType());
        }
      }
      llvm::SmallSetVector<Value, 4> roots;
      for (Value operand : op->getOperands()) {
        roots.insert(memory::storageRoot(operand));
      }
      for (Value root : roots) {
        if (before.blockOf.count(root) && readersLeft.lookup(root) == 1) {
          bytes -= memory::alignedBytes(root.getType());
        }
      }
      return bytes;
    };

    SmallVector<Operation *> order;
    llvm::DenseSet<Operation *> emitted;
    std::function<void(Operation *)> emit = [&](Operation *op) {
      if (!emitted.insert(op).second) {
        return;
      }
      for (Value operand : op->getOperands()) {
        if (Operation *def = operand.getDefiningOp()) {
          emit(def);
        }
      }
      order.push_back(op);
    };

    SmallVector<Operation *> ready;
    for (Operation *op : original) {
      if (isKernel(op) && waitingOn[op] == 0) {
        ready.push_back(op);
      }
    }
    while (!ready.empty()) {
      auto best = ready.begin();
      int64_t bestGrowth = growth(*best);
      for (auto it = std::next(ready.begin()); it != ready.end(); ++it) {
        int64_t g = growth(*it);
        if (g < bestGrowth ||
            (g == bestGrowth && position[*it] < position[*best])) {
          best = it;
          bestGrowth = g;
        }
      }
      Operation *op = *best;
      ready.erase(best);
      emit(op);
      llvm::SmallSetVector<Value, 4> roots;
      for (Value operand : op->getOperands()) {
        roots.insert(memory::storageRoot(operand));
      }
      for (Value root : roots) {
        --readersLeft[root];
      }
      for (Operation *next : successors[op]) {
        if (--waitingOn[next] == 0) {
          ready.push_back(next);
        }
      }
    }
    // Assigns, unused parameters and views last, in program order.
    for (Operation *op : original) {
      emit(op);
    }

    SmallVector<Operation *> best = original;
    int64_t bestPeak = before.peakLiveBytes;
    applyOrder(body, order);
    if (int64_t peak = memory::analyzeLiveness(func, /*inPlace=*/false).peakLiveBytes;
        peak < bestPeak) {
      best = order;
      bestPeak = peak;
    }

    applyOrder(body, original);
    SmallVector<Operation *> sunk = sinkOrder(body, original);
    if (int64_t peak = memory::analyzeLiveness(func, /*inPlace=*/false).peakLiveBytes;
        peak < bestPeak) {
      best = sunk;
      bestPeak = peak;
    }
    applyOrder(body, best);
    updatesAfterReaders(body);
  }

  // Step 3 on the IR; returns the resulting order. Sinking a reader of a
  // parameter to its first user can take it past the parameter's update
  // (ResNet-18's step: the flipped Winograd filters of 7 conv weights, read
  // for the input gradient after the optimizer step, each costing a
  // temporary and a write-back copy: 3 ms a step), so the updates are then
  // moved after their readers again (updatesAfterReaders).
  static SmallVector<Operation *> sinkOrder(Block &body,
                                            ArrayRef<Operation *> original) {
    for (Operation *op : llvm::reverse(original)) {
      if (llvm::isa<kiln::ir::AssignOp>(op) || op->use_empty()) {
        continue;
      }
      Operation *first = nullptr;
      for (Operation *user : op->getUsers()) {
        if (!first || user->isBeforeInBlock(first)) {
          first = user;
        }
      }
      op->moveBefore(first);
    }
    updatesAfterReaders(body);
    SmallVector<Operation *> order;
    for (Operation &op : body.without_terminator()) {
      order.push_back(&op);
    }
    return order;
  }

  // Moves each state update whose parameter a later kernel reads right
  // after the last such reader, where none of the update's users but its
  // write-backs comes before that reader.
  static void updatesAfterReaders(Block &body) {
    SmallVector<Operation *> updates;
    for (Operation &op : body.without_terminator()) {
      if (llvm::isa<kiln::ir::UpdateOpInterface>(op)) {
        updates.push_back(&op);
      }
    }
    for (Operation *op : updates) {
      auto update = llvm::cast<kiln::ir::UpdateOpInterface>(op);
      llvm::SmallSetVector<Value, 2> params;
      for (OpResult result : op->getResults()) {
        Value param = memory::storageRoot(
            op->getOperand(update.updatedOperand(result.getResultNumber())));
        if (param.getDefiningOp<kiln::ir::ParamOp>()) {
          params.insert(param);
        }
      }
      Operation *last = nullptr;
      for (Operation *other = op->getNextNode(); other;
           other = other->getNextNode()) {
        if (isKernel(other) &&
            llvm::any_of(other->getOperands(), [&](Value operand) {
              return params.contains(memory::storageRoot(operand));
            })) {
          last = other;
        }
      }
      // Its write-backs (kiln.assign: they run at the end of the step
      // wherever they stand) move along with it.
      if (!last || llvm::any_of(op->getUsers(), [&](Operation *user) {
            return !llvm::isa<kiln::ir::AssignOp>(user) &&
                   !last->isBeforeInBlock(user);
          })) {
        continue;
      }
      op->moveAfter(last);
      Operation *after = op;
      for (Operation *user : llvm::to_vector(op->getUsers())) {
        if (llvm::isa<kiln::ir::AssignOp>(user) && user->isBeforeInBlock(op)) {
          user->moveAfter(after);
          after = user;
        }
      }
    }
  }
};
} // namespace
