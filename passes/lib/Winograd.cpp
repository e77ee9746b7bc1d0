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

#include <map>

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
    if (filterBlock != 8 && filterBlock != 16) {
      getOperation()->emitError()
          << "kiln-winograd: filter-block must be 8 or 16, got "
          << static_cast<int64_t>(filterBlock);
      return signalPassFailure();
    }
    SmallVector<Operation *> convs;
    getOperation().walk([&](Operation *op) {
      if (auto conv = llvm::dyn_cast<Conv2DOp>(op); conv && applies(conv)) {
        convs.push_back(op);
      }
      if (auto grad = llvm::dyn_cast<Conv2DGradInputOp>(op);
          grad && applies(grad)) {
        convs.push_back(op);
      }
      // The weight gradient keeps its op and takes the tile.
      if (auto grad = llvm::dyn_cast<Conv2DGradWeightOp>(op);
          grad && applies(grad)) {
        grad.setTile(tileFor(grad));
      }
    });
    for (Operation *op : convs) {
      if (auto conv = llvm::dyn_cast<Conv2DOp>(op)) {
        rewrite(conv);
      } else {
        rewrite(llvm::cast<Conv2DGradInputOp>(op));
      }
    }
    filters.clear();
  }

  // The work of m x m tiles over a plane, against the plane itself: a plane
  // that is not a multiple of m has a row and a column of partial tiles.
  static double tileWaste(RankedTensorType result, int64_t m) {
    int64_t height = result.getDimSize(2), width = result.getDimSize(3);
    double covered = static_cast<double>((height + m - 1) / m * m) *
                     static_cast<double>((width + m - 1) / m * m);
    return covered / static_cast<double>(height * width);
  }

  // Shapes that suit F(2x2, 3x3): a 3x3 kernel with 16 or more channels on
  // either side, multiples of 8 (the filter holds its transformed kernels
  // in blocks of 8 channels, in both directions for training), at least
  // min-tiles 2x2 tiles over the batch, and partial
  // tiles adding at most a third to the work (14x14 with 4x4 tiles: 256 /
  // 196). A task per image needs 32 tiles, or 16 (a 7x7 plane) for a
  // forward convolution (ResNet-18's 512 -> 512 on 7x7 at batch 1: 1.41 ->
  // 1.29 ms; the gradients' forms were not measured there); at 64 or more
  // tiles over the batch, smaller planes take the kernel's batch form,
  // products over the whole batch (512 -> 512 on 7x7 at batch 8: 5.5 ms
  // against 7.3 direct; a task per image was 9.0; docs/codegen.md).
  // `reduction`: the channels the converted convolution sums over (a
  // forward conv2d's inputs, an input gradient's dy channels; 0 for the
  // weight gradient, whose sums run over the tiles), at least
  // min-reduction.
  bool suits(RankedTensorType weight, RankedTensorType result, bool forward,
             int64_t reduction) const {
    if (!weight.hasStaticShape() || !result.hasStaticShape() ||
        weight.getRank() != 4 || result.getRank() != 4) {
      return false;
    }
    int64_t height = result.getDimSize(2), width = result.getDimSize(3);
    int64_t imageTiles = ((height + 1) / 2) * ((width + 1) / 2);
    return weight.getDimSize(2) == 3 && weight.getDimSize(3) == 3 &&
           weight.getDimSize(0) >= 16 && weight.getDimSize(1) >= 16 &&
           weight.getDimSize(0) % 8 == 0 && weight.getDimSize(1) % 8 == 0 &&
           tileWaste(result, 2) <= kMaxWaste &&
           !(forward && result.getDimSize(0) == 1 &&
             height * width < minImagePlane && imageTiles > smallPlaneTiles) &&
           (imageTiles >= (forward ? 16 : 32) ||
            result.getDimSize(0) * imageTiles >= 64) &&
           result.getDimSize(0) * imageTiles >= minTiles &&
           (reduction == 0 || reduction >= minReduction);
  }

  static constexpr double kMaxWaste = 1.34;

  static bool ones(ArrayRef<int64_t> v) {
    return llvm::all_of(v, [](int64_t x) { return x == 1; });
  }

  bool applies(Conv2DOp conv) const {
    auto input = llvm::cast<RankedTensorType>(conv.getInput().getType());
    return input.hasStaticShape() && conv.getGroups() == 1 &&
           !conv.hasPackedWeight() && ones(conv.getStrides()) && ones(conv.getDilations()) &&
           suits(llvm::cast<RankedTensorType>(conv.getWeight().getType()),
                 llvm::cast<RankedTensorType>(conv.getResult().getType()),
                 /*forward=*/true, input.getDimSize(1));
  }

  // At stride 1 the input gradient is a convolution of dy with the turned
  // kernel and pads 2 - pad: every pad must be at most 2.
  bool applies(Conv2DGradInputOp grad) const {
    return grad.getGroups() == 1 && ones(grad.getStrides()) &&
           ones(grad.getDilations()) &&
           llvm::all_of(grad.getPads(), [](int64_t p) { return p <= 2; }) &&
           suits(llvm::cast<RankedTensorType>(grad.getWeight().getType()),
                 llvm::cast<RankedTensorType>(grad.getResult().getType()),
                 /*forward=*/false,
                 llvm::cast<RankedTensorType>(grad.getWeight().getType())
                     .getDimSize(0));
  }

  // The weight gradient over the forward convolution's tiles: the forward
  // output is dy's plane.
  bool applies(Conv2DGradWeightOp grad) const {
    auto weight = llvm::cast<RankedTensorType>(grad.getResult().getType());
    auto dy = llvm::cast<RankedTensorType>(grad.getDy().getType());
    return grad.getGroups() == 1 && ones(grad.getStrides()) &&
           ones(grad.getDilations()) &&
           suits(weight, dy, /*forward=*/false, /*reduction=*/0);
  }

  // The explicit pads (auto_pad resolved), as conv2d's kernel gets them.
  static SmallVector<int64_t> explicitPads(Conv2DOp conv) {
    nlohmann::json attrs;
    (void)conv.canonicalizeKernelAttrs(attrs); // verified: cannot fail here
    std::vector<int64_t> pads = attrs["pads"].get<std::vector<int64_t>>();
    return SmallVector<int64_t>(pads.begin(), pads.end());
  }

  // The output tile: 4 where the option allows it and its partial tiles
  // waste no more than kMaxWaste (so F(4x4)'s 4x fewer multiplies beat
  // F(2x2)'s 2.25x), and where the kernel keeps a task per image (32 or
  // more 4x4 tiles per plane) or the channels repay the batch form's
  // transforms through memory (128 or more both ways: ResNet's 14x14 and
  // 7x7 layers) and the batch has 32 or more 4x4 tiles for it. The
  // LeNet-style CNN's 32 -> 64 and 64 -> 32 on 14x14 at batch 64 ran 2.4x
  // slower at F(4x4) than at F(2x2); ResNet-18's 512 -> 512 on 7x7 at
  // batch 1 (4 tiles) 1.9x slower (docs/codegen.md).
  int64_t tileFor(Operation *op) const {
    bool weightGradient = llvm::isa<Conv2DGradWeightOp>(op);
    // The forward output's plane (dy's for the weight gradient) and the
    // weight [O, C, 3, 3].
    auto result = llvm::cast<RankedTensorType>(
        (weightGradient ? op->getOperand(1) : op->getResult(0)).getType());
    auto weight = llvm::cast<RankedTensorType>(
        (weightGradient ? op->getResult(0) : op->getOperand(1)).getType());
    int64_t planeTiles =
        ((result.getDimSize(2) + 3) / 4) * ((result.getDimSize(3) + 3) / 4);
    bool repays = planeTiles >= 32 ||
                  (std::min(weight.getDimSize(0), weight.getDimSize(1)) >= 128 &&
                   result.getDimSize(0) * planeTiles >= 32);
    // One image's forward convolution on fewer than 64 4x4 tiles (ResNet's
    // 28x28 at batch 1: 49) gives F(4x4)'s kernel too few tiles for 4
    // tasks: it splits the output channels into 4 groups, each transforming
    // the input again, where F(2x2)'s 196 tiles make 4 tasks of 2 groups.
    // ResNet-18's four 128 -> 128 layers on 28x28 at batch 1 (`kiln bench
    // --profile --winograd 4|2`, two runs): 1.89 / 1.91 -> 1.78 / 1.74 ms;
    // the network, five alternating pairs, 11.30 -> 11.17 ms on average.
    // At batch 8 F(4x4) wins on every plane (28x28: 10.47 / 10.19 against
    // 11.11 / 12.01 ms).
    bool oneImage = llvm::isa<Conv2DOp>(op) && result.getDimSize(0) == 1 &&
                    planeTiles < 64;
    return tile >= 4 && repays && !oneImage &&
                   tileWaste(result, 4) <= kMaxWaste
               ? 4
               : 2;
  }

  // One filter per (weight, direction, tile), right after the weight's
  // definition (convs of one weight share it).
  Value filterOf(Value weight, bool inputGradient, int64_t tileSize) {
    Value &filter = filters[{weight.getAsOpaquePointer(),
                             inputGradient ? -tileSize : tileSize}];
    if (!filter) {
      OpBuilder builder(weight.getContext());
      builder.setInsertionPointAfterValue(weight);
      auto type = llvm::cast<RankedTensorType>(weight.getType());
      int64_t in = type.getDimSize(1), out = type.getDimSize(0);
      if (inputGradient) {
        std::swap(in, out);
      }
      int64_t points = (tileSize + 2) * (tileSize + 2);
      int64_t block = filterBlock == 16 && out % 16 == 0 ? 16 : 8;
      filter = builder.create<WinogradFilterOp>(
          weight.getLoc(),
          RankedTensorType::get({points, out / block, in, block},
                                type.getElementType()),
          weight, builder.getBoolAttr(inputGradient),
          builder.getI64IntegerAttr(tileSize),
          builder.getI64IntegerAttr(block));
    }
    return filter;
  }

  void replace(Operation *op, Value input, Value weight, bool inputGradient,
               Value bias, ArrayRef<int64_t> pads) {
    int64_t tileSize = tileFor(op);
    Value filter = filterOf(weight, inputGradient, tileSize);
    OpBuilder builder(op);
    auto winograd = builder.create<Conv2DWinogradOp>(
        op->getLoc(), op->getResult(0).getType(), input, filter, bias,
        builder.getDenseI64ArrayAttr(pads), builder.getI64IntegerAttr(tileSize));
    op->getResult(0).replaceAllUsesWith(winograd.getResult());
    op->erase();
  }

  void rewrite(Conv2DOp conv) {
    replace(conv, conv.getInput(), conv.getWeight(), false, conv.getBias(),
            explicitPads(conv));
  }

  void rewrite(Conv2DGradInputOp grad) {
    SmallVector<int64_t> pads;
    for (int64_t p : grad.getPads()) {
      pads.push_back(2 - p);
    }
    replace(grad, grad.getDy(), grad.getWeight(), true, Value(), pads);
  }

  // (weight, +-tile: negative for the input gradient) -> filter.
  std::map<std::pair<const void *, int64_t>, Value> filters;
};

} // namespace
