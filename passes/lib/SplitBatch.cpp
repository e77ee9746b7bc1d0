//===- SplitBatch.cpp - kiln-split-batch ----------------------------------===//
//
// Runs the memory-bound head of an inference graph one image at a time; see
// Passes.td. The algorithm:
//   1. The head: the longest program-order run of ops that read the batched
//      function arguments (directly or through other head ops) and compute
//      each image independently (convolutions, pools, inference batch norm,
//      elementwise ops, concatenation along channels), every batched
//      operand and result with the batch as its leading dim. Ops that do
//      not read the batch (weights, their load-time transforms) are shared.
//   2. Its end: the first "cut" at or after the last large memory-bound
//      value (full-batch bytes >= min-bytes, FLOPs per result byte below
//      max-intensity) whose value is small (min-bytes / 8; none: no split):
//      a cut is a head op whose result is the only head value (and no
//      batched argument) read after it.
//   3. Pieces of the batch: as many images as keep the head's largest value
//      within min-bytes / 4, at least min-images (2), at most 16 pieces.
//   4. Per piece: kiln.slice of each batched argument, the head's ops cloned
//      on it with the piece's types (ShapeInferenceOpInterface); then
//      kiln.concat of the pieces' results along the batch replaces the cut
//      value.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <algorithm>
#include <limits>

namespace kiln::passes {
#define GEN_PASS_DEF_KILNSPLITBATCH
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
using namespace kiln::ir;

namespace {

RankedTensorType rankedType(Value v) {
  return llvm::dyn_cast<RankedTensorType>(v.getType());
}

int64_t bytesOf(RankedTensorType type) {
  return type && type.hasStaticShape()
             ? type.getNumElements() *
                   static_cast<int64_t>(type.getElementTypeBitWidth() / 8)
             : 0;
}

// Multiply-adds x 2 of a convolution; other head ops do a few operations
// per result element (pools: a window's worth). Winograd convolutions are
// 3x3 ones over 16 or more channels: compute bound.
double flopsOf(Operation *op) {
  auto result = rankedType(op->getResult(0));
  double elements = static_cast<double>(result.getNumElements());
  if (auto conv = llvm::dyn_cast<Conv2DOp>(op)) {
    // [O, C/g, KH, KW], or packed [O/B, C, KH, KW, B]: dims 1-3 either way.
    auto w = rankedType(conv.getWeight()).getShape();
    return 2.0 * elements * static_cast<double>(w[1] * w[2] * w[3]);
  }
  if (llvm::isa<Conv2DWinogradOp>(op)) {
    return std::numeric_limits<double>::infinity();
  }
  if (llvm::isa<MaxPool2DOp, AvgPool2DOp>(op)) {
    return elements * 9.0;
  }
  return elements;
}

struct SplitBatchPass
    : kiln::passes::impl::KilnSplitBatchBase<SplitBatchPass> {
  using KilnSplitBatchBase::KilnSplitBatchBase;

  void runOnOperation() override {
    getOperation().walk([&](func::FuncOp func) {
      if (!func.isExternal()) {
        splitFunction(func);
      }
    });
  }

  // Whether `op` computes each image independently, given which of its
  // operands carry the batch (`batched`), all of leading dim `n`.
  static bool separable(Operation *op, const llvm::DenseSet<Value> &batched,
                        int64_t n) {
    if (op->getNumResults() != 1 || op->getNumRegions() != 0 ||
        !llvm::isa<ShapeInferenceOpInterface>(op)) {
      return false;
    }
    auto result = rankedType(op->getResult(0));
    if (!result || result.getRank() < 2 || result.getDimSize(0) != n) {
      return false;
    }
    bool kind =
        llvm::isa<Conv2DOp, Conv2DWinogradOp, MaxPool2DOp, AvgPool2DOp,
                  GlobalAvgPoolOp, ElementwiseOpInterface>(op) ||
        (llvm::isa<BatchNormOp>(op) &&
         !llvm::cast<BatchNormOp>(op).getTraining()) ||
        (llvm::isa<ConcatOp>(op) && llvm::cast<ConcatOp>(op).getAxis() != 0);
    if (!kind) {
      return false;
    }
    // A layer's weights are its operands after the first: one that carries
    // the batch (a function argument whose leading dim happens to equal
    // it) would be sliced, so the op stays whole.
    bool layer = !llvm::isa<ElementwiseOpInterface, ConcatOp>(op);
    for (auto [index, operand] : llvm::enumerate(op->getOperands())) {
      auto type = rankedType(operand);
      if (!type || (layer && index > 0 && batched.contains(operand))) {
        return false;
      }
      if (batched.contains(operand)) {
        if (type.getRank() != result.getRank() || type.getDimSize(0) != n) {
          return false;
        }
      } else if (llvm::isa<ElementwiseOpInterface, ConcatOp>(op) &&
                 type.getRank() == result.getRank() && type.getDimSize(0) != 1) {
        // A batch-sized operand that does not come from the input (a
        // constant per image): it would need slicing too.
        return false;
      }
    }
    return true;
  }

  void splitFunction(func::FuncOp func) {
    Block &body = func.getBody().front();
    llvm::DenseSet<Value> batched;
    int64_t n = 0;
    for (BlockArgument arg : body.getArguments()) {
      auto type = rankedType(arg);
      if (!type || type.getRank() < 2 || !type.hasStaticShape()) {
        continue;
      }
      if (n == 0) {
        n = type.getDimSize(0);
      }
      if (type.getDimSize(0) == n) {
        batched.insert(arg);
      }
    }
    if (n < 2) {
      return;
    }

    // 1. The head.
    SmallVector<Operation *> head;
    for (Operation &op : body.without_terminator()) {
      bool reads = llvm::any_of(op.getOperands(), [&](Value v) {
        return batched.contains(v);
      });
      if (!reads) {
        continue;
      }
      if (!separable(&op, batched, n)) {
        break;
      }
      head.push_back(&op);
      batched.insert(op.getResult(0));
    }

    // 2. Its end. A value is read after head op i if a user lies after it
    // in the body (head users included).
    llvm::DenseMap<Operation *, unsigned> position;
    unsigned index = 0;
    for (Operation &op : body) {
      position[&op] = index++;
    }
    auto lastUse = [&](Value v) {
      unsigned last = 0;
      for (Operation *user : v.getUsers()) {
        last = std::max(last, position.lookup(user));
      }
      return last;
    };
    // Elementwise ops do not count: kiln-fuse joins them to their producer
    // (ResNet's stem conv2d + relu is one compute-bound kernel).
    int last = -1;
    for (int i = 0; i < static_cast<int>(head.size()); ++i) {
      Operation *op = head[i];
      if (llvm::isa<ElementwiseOpInterface>(op)) {
        continue;
      }
      auto type = rankedType(op->getResult(0));
      double bytes = static_cast<double>(bytesOf(type));
      if (bytes >= static_cast<double>(minBytes) &&
          flopsOf(op) / bytes < maxIntensity) {
        last = i;
      }
    }
    if (last < 0) {
      return;
    }
    auto isCut = [&](int i) {
      unsigned at = position.lookup(head[i]);
      for (BlockArgument arg : body.getArguments()) {
        if (batched.contains(arg) && lastUse(arg) > at) {
          return false;
        }
      }
      for (int j = 0; j < i; ++j) {
        if (lastUse(head[j]->getResult(0)) > at) {
          return false;
        }
      }
      return true;
    };
    // Preferably a small cut value (at most min-bytes / 8: the concat
    // copies it), such as a block's output: not the large value itself,
    // nor a convolution whose one user is its activation (which kiln-fuse
    // would then not join).
    auto small = [&](int i) {
      Value v = head[i]->getResult(0);
      bool epilogue = v.hasOneUse() &&
                      llvm::isa<ElementwiseOpInterface>(*v.getUsers().begin());
      return bytesOf(rankedType(v)) <= minBytes / 8 && !epilogue;
    };
    // Without one, the head is left whole: joining a large value costs
    // what the split saves (the example CNN at batch 256, cut after its
    // first conv2d: 6.2 against 4.7 ms).
    int end = -1;
    for (int i = last; i < static_cast<int>(head.size()) && end < 0; ++i) {
      if (isCut(i) && small(i)) {
        end = i;
      }
    }
    if (end < 0) {
      return;
    }

    // 3. Pieces of the batch: as many images as keep the head's largest
    // value within min-bytes / 4 (one image for MobileNetV2's 4.8 MB per
    // image; 41 for the example CNN at batch 256), at least min-images
    // (Passes.td: a piece of 2 images keeps each of 2 threads on its own
    // image), at most kMaxPieces of them (each adds a call per head kernel
    // and an input to the concat).
    constexpr int64_t kMaxPieces = 16;
    int64_t largest = 1;
    for (int i = 0; i <= end; ++i) {
      largest = std::max(largest, bytesOf(rankedType(head[i]->getResult(0))));
    }
    int64_t images = std::clamp<int64_t>(
        static_cast<int64_t>(static_cast<double>(n) *
                             static_cast<double>(minBytes / 4) /
                             static_cast<double>(largest)),
        1, n);
    images = std::max({images, (n + kMaxPieces - 1) / kMaxPieces,
                       std::max<int64_t>(minImages, 1)});
    if (images >= n) {
      return;
    }

    // 4. One copy of the head per piece, after the head's last op.
    Operation *cutOp = head[end];
    Value cut = cutOp->getResult(0);
    OpBuilder builder(cutOp->getContext());
    builder.setInsertionPointAfter(cutOp);
    SmallVector<Value> pieces;
    for (int64_t start = 0; start < n; start += images) {
      int64_t size = std::min(images, n - start);
      IRMapping mapping;
      for (BlockArgument arg : body.getArguments()) {
        if (!batched.contains(arg) || arg.use_empty()) {
          continue;
        }
        auto type = rankedType(arg);
        SmallVector<int64_t> shape(type.getShape());
        shape[0] = size;
        Value slice = builder.create<SliceOp>(
            arg.getLoc(), type.clone(shape), arg, builder.getI64IntegerAttr(0),
            builder.getI64IntegerAttr(start), builder.getI64IntegerAttr(size));
        mapping.map(arg, slice);
      }
      for (int i = 0; i <= end; ++i) {
        Operation *clone = builder.clone(*head[i], mapping);
        SmallVector<Type> types;
        if (failed(llvm::cast<ShapeInferenceOpInterface>(clone)
                       .inferResultTypes(types))) {
          signalPassFailure();
          return;
        }
        clone->getResult(0).setType(types[0]);
      }
      pieces.push_back(mapping.lookup(cut));
    }
    Value joined = builder.create<ConcatOp>(cutOp->getLoc(), cut.getType(),
                                            pieces, builder.getI64IntegerAttr(0));
    cut.replaceAllUsesWith(joined);
    for (int i = end; i >= 0; --i) {
      head[i]->erase();
    }
  }
};

} // namespace
