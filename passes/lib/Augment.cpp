//===- Augment.cpp - kiln-augment ------------------------------------------===//
//
// Parses the --augment spec, finds the image input ([N,C,H,W] f32) and the
// `seed` argument of the entry function, and routes the input through one
// kiln.augment op.
//
//===----------------------------------------------------------------------===//
#include "FunctionUtils.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>

namespace kiln::passes {
#define GEN_PASS_DEF_KILNAUGMENT
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;

namespace {

struct AugmentPass : kiln::passes::impl::KilnAugmentBase<AugmentPass> {
  using KilnAugmentBase::KilnAugmentBase;

  void runOnOperation() override {
    func::FuncOp func = kiln::passes::entryFunction(getOperation());
    if (!func || spec.empty()) {
      return;
    }
    bool flipH = false, flipV = false;
    double shift = 0, rotate = 0, zoom = 0, noise = 0;
    SmallVector<StringRef> items;
    StringRef(spec).split(items, ',', -1, false);
    for (StringRef item : items) {
      item = item.trim();
      auto [key, text] = item.split('=');
      double *value = key == "shift"    ? &shift
                      : key == "rotate" ? &rotate
                      : key == "zoom"   ? &zoom
                      : key == "noise"  ? &noise
                                        : nullptr;
      if ((key == "flip-h" || key == "flip-v") && text.empty()) {
        (key == "flip-h" ? flipH : flipV) = true;
        continue;
      }
      double number = 0;
      if (!value || text.empty() || text.getAsDouble(number) ||
          !std::isfinite(number) || number < 0 ||
          (key == "zoom" && number >= 1)) {
        func.emitError() << "--augment: '" << item
                         << "' is not one of flip-h, flip-v, shift=P, "
                            "rotate=D, zoom=Z (below 1), noise=S with "
                            "non-negative numbers";
        return signalPassFailure();
      }
      *value = number;
    }
    Value image, seed;
    for (auto [i, arg] : llvm::enumerate(func.getArguments())) {
      auto name = func.getArgAttrOfType<StringAttr>(i, "kiln.name");
      auto type = llvm::dyn_cast<RankedTensorType>(arg.getType());
      if (name && name.getValue() == "seed") {
        seed = arg;
      } else if (type && type.getRank() == 4 &&
                 type.getElementType().isF32()) {
        if (image) {
          func.emitError() << "--augment: more than one image input";
          return signalPassFailure();
        }
        image = arg;
      }
    }
    if (!image || !seed) {
      func.emitError() << "--augment needs an image input [N,C,H,W] f32 and "
                          "the training step's seed (kiln-training-mode)";
      return signalPassFailure();
    }
    OpBuilder builder = OpBuilder::atBlockBegin(&func.getBody().front());
    auto augment = builder.create<kiln::ir::AugmentOp>(
        func.getLoc(), image.getType(), image, seed,
        builder.getBoolAttr(flipH), builder.getBoolAttr(flipV),
        builder.getF64FloatAttr(shift), builder.getF64FloatAttr(rotate),
        builder.getF64FloatAttr(zoom), builder.getF64FloatAttr(noise));
    image.replaceAllUsesExcept(augment.getResult(), augment);
  }
};

} // namespace
