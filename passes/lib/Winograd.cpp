//===- Winograd.cpp - kiln-winograd ---------------------------------------===//
//
// 3x3 stride-1 conv2d -> conv2d_winograd over winograd_filter(weight); see
// Passes.td. The filter transform reads only the weight, so over parameters
// kiln-hoist-load-time makes it a load-time kernel.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace kiln::passes {
#define GEN_PASS_DEF_KILNWINOGRAD
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
using namespace kiln::ir;

namespace {

struct WinogradPass : kiln::passes::impl::KilnWinogradBase<WinogradPass> {
  using KilnWinogradBase::KilnWinogradBase;

  void runOnOperation() override {
    SmallVector<Conv2DOp> convs;
    getOperation().walk([&](Conv2DOp conv) {
      if (applies(conv)) {
        convs.push_back(conv);
      }
    });
    for (Conv2DOp conv : convs) {
      rewrite(conv);
    }
    filters.clear();
  }

  llvm::DenseMap<Value, Value> filters;

  bool applies(Conv2DOp conv) {
    auto input = llvm::cast<RankedTensorType>(conv.getInput().getType());
    auto weight = llvm::cast<RankedTensorType>(conv.getWeight().getType());
    auto result = llvm::cast<RankedTensorType>(conv.getResult().getType());
    if (!input.hasStaticShape() || !weight.hasStaticShape() ||
        !result.hasStaticShape() || weight.getRank() != 4 ||
        result.getRank() != 4) {
      return false;
    }
    auto ones = [](ArrayRef<int64_t> v) {
      return llvm::all_of(v, [](int64_t x) { return x == 1; });
    };
    int64_t height = result.getDimSize(2), width = result.getDimSize(3);
    return weight.getDimSize(2) == 3 && weight.getDimSize(3) == 3 &&
           conv.getGroups() == 1 && ones(conv.getStrides()) &&
           ones(conv.getDilations()) && weight.getDimSize(0) >= 16 &&
           weight.getDimSize(1) >= 16 && height % 2 == 0 && width % 2 == 0 &&
           result.getDimSize(0) * (height / 2) * (width / 2) >= minTiles;
  }

  // The explicit pads: the output plane is the input's plus pads minus 2.
  static SmallVector<int64_t> explicitPads(Conv2DOp conv) {
    auto input = llvm::cast<RankedTensorType>(conv.getInput().getType());
    auto result = llvm::cast<RankedTensorType>(conv.getResult().getType());
    if (conv.getAutoPad() == "notset") {
      return SmallVector<int64_t>(conv.getPads());
    }
    SmallVector<int64_t> pads(4, 0);
    for (int d = 0; d < 2; ++d) {
      int64_t total = result.getDimSize(2 + d) + 2 - input.getDimSize(2 + d);
      int64_t small = total / 2, large = total - small;
      bool upper = conv.getAutoPad() != "same_lower";
      pads[d] = upper ? small : large;
      pads[d + 2] = upper ? large : small;
    }
    return pads;
  }

  // One filter per weight, right after the weight's definition (convs of
  // one weight share it).
  Value filterOf(Value weight) {
    Value &filter = filters[weight];
    if (!filter) {
      OpBuilder builder(weight.getContext());
      builder.setInsertionPointAfterValue(weight);
      auto type = llvm::cast<RankedTensorType>(weight.getType());
      auto filterType = RankedTensorType::get(
          {16, type.getDimSize(1), type.getDimSize(0)}, type.getElementType());
      filter = builder.create<WinogradFilterOp>(weight.getLoc(), filterType,
                                                weight);
    }
    return filter;
  }

  void rewrite(Conv2DOp conv) {
    OpBuilder builder(conv);
    Location loc = conv.getLoc();
    Value filter = filterOf(conv.getWeight());
    auto winograd = builder.create<Conv2DWinogradOp>(
        loc, conv.getResult().getType(), conv.getInput(), filter,
        conv.getBias(), builder.getDenseI64ArrayAttr(explicitPads(conv)));
    conv.getResult().replaceAllUsesWith(winograd.getResult());
    conv.erase();
  }
};

} // namespace
