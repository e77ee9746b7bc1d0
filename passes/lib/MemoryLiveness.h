//===- MemoryLiveness.h - buffer lifetimes and arena placement -----------===//
//
// Shared by kiln-plan-memory, kiln-schedule-for-memory and
// kiln-rematerialize (docs/memory.md).
//
// The kernel order is the order in which Compiler.cpp's lower() emits kernel
// calls: every KernelOpInterface op in program order, then one `copy` per
// `kiln.assign` (parameter write-backs run after everything else). Views,
// parameters and constants run no kernel.
//
// Storage: each result of a kernel op is a temp buffer, except those whose
// storage is returned (directly or through views) and those of load-time
// kernels (kiln.load_time): the caller reads them after the step, or a later
// step does, so they live outside the arena like inputs, parameters and
// constants. A state update written straight into its parameter
// (kiln::ir::isUpdatedInPlace) has no storage of its own either. A view shares its root's storage, so it extends the root's
// lifetime. An elementwise kernel may write its result over an operand whose
// storage dies at that kernel: both values then form one block of the arena.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_LIB_MEMORYLIVENESS_H
#define KILN_PASSES_LIB_MEMORYLIVENESS_H

#include "kiln/support/Align.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::passes::memory {

using support::kAlignment;

// Bytes of a ranked tensor (rank 0 included), rounded up to kAlignment.
int64_t alignedBytes(mlir::Type type, int64_t alignment = kAlignment);

// One contiguous piece of the arena: a temp value and the values written in
// place over it, alive over kernel steps [first, last] (inclusive).
struct ArenaBlock {
  int64_t bytes = 0;
  int first = 0, last = 0;
  llvm::SmallVector<mlir::Value, 2> values; // in definition order
};

struct Liveness {
  int kernelCount = 0; // kernel calls, assign copies included
  llvm::DenseMap<mlir::Operation *, int> kernelIndex; // kernel ops, assigns
  std::vector<ArenaBlock> blocks;
  llvm::DenseMap<mlir::Value, int> blockOf;     // arena values only
  llvm::DenseMap<mlir::Value, int> lastUse;     // arena values only
  llvm::DenseMap<mlir::Value, int> inPlaceOver; // result -> operand index
  int64_t naiveBytes = 0;    // every arena value in its own buffer
  int64_t peakLiveBytes = 0; // max over steps of the live blocks' bytes
  int peakStep = 0;          // a step where peakLiveBytes is reached
};

// The storage root of `value`: views resolve to the value they alias.
mlir::Value storageRoot(mlir::Value value);

// Lifetimes over the function's kernel order; with `inPlace`, elementwise
// kernels write over dying operands (ElementwiseOpInterface::canWriteOver).
// Block sizes are multiples of `alignment` bytes.
Liveness analyzeLiveness(mlir::func::FuncOp func, bool inPlace = true,
                         int64_t alignment = kAlignment);

// Greedy-by-size offsets (Pisarchyk & Lee 2020, best fit among the blocks
// whose lifetimes overlap), tried with several block orderings; the
// smallest arena wins.
struct Placement {
  std::vector<int64_t> offsets; // per block, multiples of kAlignment
  int64_t arenaBytes = 0;
  std::string ordering; // the ordering that won
};
Placement placeBlocks(const std::vector<ArenaBlock> &blocks);

} // namespace kiln::passes::memory

#endif // KILN_PASSES_LIB_MEMORYLIVENESS_H
