//===- MemoryLiveness.cpp - buffer lifetimes and arena placement ---------===//
#include "MemoryLiveness.h"

#include "kiln/ir/KilnDialect.h"

#include "llvm/ADT/DenseSet.h"

#include <algorithm>
#include <functional>
#include <numeric>

using namespace mlir;

namespace kiln::passes::memory {

int64_t alignedBytes(Type type, int64_t alignment) {
  auto tensor = llvm::cast<RankedTensorType>(type);
  int64_t bytes = tensor.getNumElements() *
                  ((tensor.getElementTypeBitWidth() + 7) / 8);
  return support::alignUp(bytes, alignment);
}

Value storageRoot(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (!llvm::isa<kiln::ir::ViewOpInterface>(def)) {
      break;
    }
    value = def->getOperand(0);
  }
  return value;
}

Liveness analyzeLiveness(func::FuncOp func, bool inPlace, int64_t alignment) {
  Liveness live;
  Block &body = func.getBody().front();

  // 1. Kernel order: kernel ops in program order, then the assign copies.
  SmallVector<Operation *> assigns;
  int step = 0;
  for (Operation &op : body) {
    if (llvm::isa<kiln::ir::AssignOp>(op)) {
      assigns.push_back(&op);
    } else if (llvm::isa<kiln::ir::KernelOpInterface>(op)) {
      live.kernelIndex[&op] = step++;
    }
  }
  for (Operation *assign : assigns) {
    live.kernelIndex[assign] = step++;
  }
  live.kernelCount = step;

  // 2. Storage returned to the caller stays outside the arena, and so do
  //    the results of load-time kernels, which must survive between runs.
  llvm::DenseSet<Value> external;
  for (Value value : body.getTerminator()->getOperands()) {
    external.insert(storageRoot(value));
  }
  for (Operation &op : body) {
    if (op.hasAttr(kiln::ir::kLoadTimeAttr)) {
      external.insert(op.getResults().begin(), op.getResults().end());
    }
    // A state update written straight into its parameter needs no temp.
    auto assign = llvm::dyn_cast<kiln::ir::AssignOp>(op);
    if (assign && kiln::ir::isUpdatedInPlace(assign)) {
      external.insert(assign.getValue());
    }
  }
  auto inArena = [&](Value root) {
    Operation *def = root.getDefiningOp();
    return def && llvm::isa<kiln::ir::KernelOpInterface>(def) &&
           !external.contains(root);
  };

  // 3. Last use of every arena value: the latest kernel reading it or a
  //    view of it. A value nobody reads still occupies its defining step.
  for (Operation &op : body) {
    auto found = live.kernelIndex.find(&op);
    if (found == live.kernelIndex.end()) {
      continue;
    }
    int index = found->second;
    for (Value operand : op.getOperands()) {
      Value root = storageRoot(operand);
      if (inArena(root)) {
        int &last = live.lastUse[root];
        last = std::max(last, index);
      }
    }
    for (Value result : op.getResults()) {
      if (inArena(result)) {
        live.lastUse[result] = index;
      }
    }
  }

  // 4. Blocks, in kernel order; an elementwise kernel joins the block of an
  //    operand whose storage dies at it.
  for (Operation &op : body) {
    auto found = live.kernelIndex.find(&op);
    if (found == live.kernelIndex.end() || llvm::isa<kiln::ir::AssignOp>(op)) {
      continue;
    }
    int index = found->second;
    auto elementwise = llvm::dyn_cast<kiln::ir::ElementwiseOpInterface>(op);
    if (inPlace && elementwise && op.getNumResults() == 1 &&
        inArena(op.getResult(0))) {
      Value result = op.getResult(0);
      for (unsigned i = 0; i < op.getNumOperands(); ++i) {
        Value operand = op.getOperand(i);
        Value root = storageRoot(operand);
        if (!elementwise.canWriteOver(i) || !inArena(root) ||
            live.lastUse.lookup(root) != index) {
          continue;
        }
        int block = live.blockOf.at(root);
        if (live.blocks[block].values.back() != root) {
          continue;
        }
        // Another operand reading the same storage through a different
        // value (a view) could see elements already overwritten.
        bool aliased = llvm::any_of(op.getOperands(), [&](Value other) {
          return other != operand && storageRoot(other) == root;
        });
        if (aliased) {
          continue;
        }
        live.blocks[block].values.push_back(result);
        live.blocks[block].last = live.lastUse.at(result);
        live.blockOf[result] = block;
        live.inPlaceOver[result] = static_cast<int>(i);
        break;
      }
    }
    for (Value result : op.getResults()) {
      if (!inArena(result) || live.blockOf.count(result)) {
        continue;
      }
      ArenaBlock block;
      block.bytes = alignedBytes(result.getType(), alignment);
      block.first = index;
      block.last = live.lastUse.at(result);
      block.values.push_back(result);
      live.blockOf[result] = static_cast<int>(live.blocks.size());
      live.blocks.push_back(std::move(block));
    }
  }

  // 5. The naive total and the lower bound of any placement.
  std::vector<int64_t> delta(live.kernelCount + 1, 0);
  for (const auto &block : live.blocks) {
    delta[block.first] += block.bytes;
    delta[block.last + 1] -= block.bytes;
    for (Value value : block.values) {
      live.naiveBytes += alignedBytes(value.getType(), alignment);
    }
  }
  int64_t bytes = 0;
  for (int s = 0; s < live.kernelCount; ++s) {
    bytes += delta[s];
    if (bytes > live.peakLiveBytes) {
      live.peakLiveBytes = bytes;
      live.peakStep = s;
    }
  }
  return live;
}

namespace {

// Best fit: the smallest gap between already placed blocks that overlap
// `block` in time, else the end of the highest of them.
int64_t bestFitOffset(const std::vector<ArenaBlock> &blocks,
                      const std::vector<int64_t> &offsets,
                      const std::vector<int> &placed, int block) {
  const ArenaBlock &b = blocks[block];
  std::vector<int> overlapping;
  for (int p : placed) {
    if (blocks[p].first <= b.last && b.first <= blocks[p].last) {
      overlapping.push_back(p);
    }
  }
  std::sort(overlapping.begin(), overlapping.end(),
            [&](int x, int y) { return offsets[x] < offsets[y]; });
  int64_t best = -1, bestGap = INT64_MAX, end = 0;
  for (int p : overlapping) {
    int64_t gap = offsets[p] - end;
    if (gap >= b.bytes && gap < bestGap) {
      best = end;
      bestGap = gap;
    }
    end = std::max(end, offsets[p] + blocks[p].bytes);
  }
  return best >= 0 ? best : end;
}

} // namespace

Placement placeBlocks(const std::vector<ArenaBlock> &blocks) {
  using Less = std::function<bool(const ArenaBlock &, const ArenaBlock &)>;
  auto length = [](const ArenaBlock &b) { return int64_t(b.last - b.first + 1); };
  // Glow and TFLite found no single ordering best on every graph.
  const std::pair<const char *, Less> orderings[] = {
      {"size", [](const ArenaBlock &a, const ArenaBlock &b) {
         return a.bytes != b.bytes ? a.bytes > b.bytes : a.first < b.first;
       }},
      {"area", [&](const ArenaBlock &a, const ArenaBlock &b) {
         return a.bytes * length(a) != b.bytes * length(b)
                    ? a.bytes * length(a) > b.bytes * length(b)
                    : a.bytes > b.bytes;
       }},
      {"lifetime", [&](const ArenaBlock &a, const ArenaBlock &b) {
         return length(a) != length(b) ? length(a) > length(b)
                                       : a.bytes > b.bytes;
       }},
      {"first-use", [](const ArenaBlock &a, const ArenaBlock &b) {
         return a.first != b.first ? a.first < b.first : a.bytes > b.bytes;
       }},
  };
  Placement best;
  best.arenaBytes = -1;
  for (const auto &[name, less] : orderings) {
    std::vector<int> order(blocks.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
      return less(blocks[x], blocks[y]);
    });
    Placement candidate;
    candidate.ordering = name;
    candidate.offsets.assign(blocks.size(), 0);
    std::vector<int> placed;
    for (int block : order) {
      int64_t offset = bestFitOffset(blocks, candidate.offsets, placed, block);
      candidate.offsets[block] = offset;
      candidate.arenaBytes =
          std::max(candidate.arenaBytes, offset + blocks[block].bytes);
      placed.push_back(block);
    }
    if (best.arenaBytes < 0 || candidate.arenaBytes < best.arenaBytes) {
      best = std::move(candidate);
    }
  }
  return best;
}

} // namespace kiln::passes::memory
