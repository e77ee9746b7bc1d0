//===- PackWeights.cpp - kiln-pack-weights --------------------------------===//
//
// conv2d(x, w) -> conv2d(x, transpose(reshape(w, [O/B, B, C, KH, KW]),
// [0, 2, 3, 4, 1])): the weight packed by blocks of B output channels; see
// Passes.td. Convolutions of one weight share its packed copy.
//
//===----------------------------------------------------------------------===//
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "mlir/IR/Builders.h"

#include <map>

namespace kiln::passes {
#define GEN_PASS_DEF_KILNPACKWEIGHTS
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
using namespace kiln::ir;

namespace {

struct PackWeightsPass
    : kiln::passes::impl::KilnPackWeightsBase<PackWeightsPass> {
  using KilnPackWeightsBase::KilnPackWeightsBase;

  void runOnOperation() override {
    if (!gpu && block < 1) {
      getOperation().emitError() << "kiln-pack-weights: block must be >= 1, "
                                 << "got " << block;
      return signalPassFailure();
    }
    SmallVector<Conv2DOp> convs;
    getOperation().walk([&](Conv2DOp conv) {
      if (gpu ? appliesOnGpu(conv) : applies(conv)) {
        convs.push_back(conv);
      }
    });
    std::map<const void *, Value> packed; // weight -> its packed copy
    for (Conv2DOp conv : convs) {
      Value &p = packed[conv.getWeight().getAsOpaquePointer()];
      if (!p) {
        auto type = llvm::cast<RankedTensorType>(conv.getWeight().getType());
        p = pack(conv.getWeight(), gpu ? type.getDimSize(0) : block);
      }
      conv.getWeightMutable().assign(p);
    }
  }

  // GPU: every convolution without groups whose output channels are a
  // multiple of 8, so that no register tile (up to 8 channels, a power of
  // two: convTilesGpu) reads past the last channel. The kernel reads the
  // weight [1, C, KH, KW, O] in place of the [C, KH, KW, O] copy it made on
  // every call (gpuWeightsByChannel).
  static bool appliesOnGpu(Conv2DOp conv) {
    auto weight = llvm::dyn_cast<RankedTensorType>(conv.getWeight().getType());
    return weight && weight.getRank() == 4 && weight.hasStaticShape() &&
           conv.getGroups() == 1 && weight.getDimSize(0) % 8 == 0;
  }

  // Convolutions without groups, with whole blocks of output channels and
  // 16 or more input channels, where the kernel's channel form beats the
  // position forms (docs/codegen.md): strided ones; spatial ones at stride
  // 1 with 64 or more input channels (the CNN example's 16 -> 32 on 14x14
  // ran 0.010 -> 0.013 ms packed: one task) and output channels in pairs of
  // blocks (a task's two channel vectors), those Winograd left (small
  // planes at batch 1): on Zen 5, in
  // ResNet-18 at batch 1, 512 on 7x7 0.82 -> 0.72 ms, 256 on 14x14 0.71 ->
  // 0.68, 128 on 28x28 0.76 -> 0.69 (the planes form computes the pitch
  // columns: 63 lanes for a 7x7 plane); and 1x1 ones over planes of at most
  // 64 positions (MobileNetV2's 7x7 stage: 1.1-2.3x alone at batch 1 and
  // 8; on 14x14 planes the matrix product over the plane wins).
  //
  // Strided stems with fewer than 16 input channels too: MobileNetV2's 3 ->
  // 32 3x3 at stride 2 (on Zen 5 the channel form beats the rows form's
  // per-tap deinterleaving, 2.36 -> 1.95 ms at batch 8, `kiln bench
  // --profile`, alternating) and ResNet's 3 -> 64 7x7 (on the Intel Xeon,
  // family 6 model 167, with the channel form's sums one output row at a
  // time: 0.99-1.06 -> 0.79 ms at batch 1, 8.2-8.3 -> 6.5-6.7 ms at batch
  // 8, against the planes form; on Zen 5, with the sums of a task's rows,
  // it had lost, 0.85 against 1.00 ms).
  bool applies(Conv2DOp conv) const {
    auto weight = llvm::dyn_cast<RankedTensorType>(conv.getWeight().getType());
    auto result = llvm::cast<RankedTensorType>(conv.getResult().getType());
    if (!weight || weight.getRank() != 4 || !weight.hasStaticShape() ||
        !result.hasStaticShape() || conv.getGroups() != 1 ||
        weight.getDimSize(0) % block != 0) {
      return false;
    }
    bool strided =
        llvm::any_of(conv.getStrides(), [](int64_t s) { return s > 1; });
    if (weight.getDimSize(1) < 16) {
      return strided;
    }
    if (strided) {
      return true;
    }
    if (weight.getDimSize(2) * weight.getDimSize(3) > 1) {
      return weight.getDimSize(1) >= 64 &&
             weight.getDimSize(0) % (2 * block) == 0;
    }
    nlohmann::json attrs;
    if (failed(conv.canonicalizeKernelAttrs(attrs))) {
      return false;
    }
    bool padded = llvm::any_of(attrs["pads"].get<std::vector<int64_t>>(),
                               [](int64_t p) { return p != 0; });
    if (weight.getDimSize(2) != 1 || weight.getDimSize(3) != 1 || padded ||
        llvm::any_of(conv.getDilations(), [](int64_t d) { return d != 1; })) {
      return false;
    }
    int64_t positions = result.getDimSize(2) * result.getDimSize(3);
    if (positions <= kPointwisePositions) {
      return true;
    }
    return block == 16 && positions <= kWidePointwisePositions &&
           !fusesWithDepthwise(conv);
  }

  // 1x1 layers over planes of up to 28x28 (784 positions) take the 16-lane
  // channel form too (session 57, Zen 4, `kiln bench --profile`, conv +
  // bias + residual add + ReLU alone at batch 1, alternating): 256 -> 1024
  // on 14x14 0.52-0.57 -> 0.49 ms, 1024 -> 256 0.51 -> 0.47, 128 -> 512 on
  // 28x28 0.67 -> 0.51, 512 -> 128 0.53 -> 0.52; ResNet-50 at batch 1
  // 37.2-37.5 -> 35.5-35.6 ms, at batch 8 282-297 -> 271-272. On 56x56
  // (a task's sums, 32 channels of 3136 positions, 400 KB in L2) 64 -> 256
  // lost: 0.50-0.55 -> 0.56-0.57. Those that kiln-fuse would put in one
  // kernel with a depthwise conv2d (the producer and projection forms,
  // which need the weight unpacked: MobileNetV2's blocks) stay unpacked.
  // AVX2's blocks of 8 keep the limit of 64 (not measured).
  static constexpr int64_t kPointwisePositions = 64;
  static constexpr int64_t kWidePointwisePositions = 28 * 28;

  // Whether `conv` reads a depthwise conv2d's value through a chain of
  // unary elementwise ops, or its value's only use is a depthwise conv2d,
  // through a chain of elementwise ops of one use each.
  static bool fusesWithDepthwise(Conv2DOp conv) {
    Value v = conv.getResult();
    while (v.hasOneUse()) {
      Operation *user = *v.getUsers().begin();
      if (isDepthwise(user)) {
        return true;
      }
      if (!llvm::isa<ElementwiseOpInterface>(user) ||
          user->getNumResults() != 1) {
        break;
      }
      v = user->getResult(0);
    }
    v = conv.getInput();
    while (Operation *def = v.getDefiningOp()) {
      if (isDepthwise(def)) {
        return true;
      }
      if (!llvm::isa<ElementwiseOpInterface>(def) ||
          def->getNumOperands() != 1) {
        return false;
      }
      v = def->getOperand(0);
    }
    return false;
  }

  static bool isDepthwise(Operation *op) {
    auto conv = llvm::dyn_cast<Conv2DOp>(op);
    return conv && conv.isDepthwise();
  }

  // The weight packed by blocks of `perBlock` output channels, right after
  // its definition.
  Value pack(Value weight, int64_t perBlock) {
    auto type = llvm::cast<RankedTensorType>(weight.getType());
    int64_t o = type.getDimSize(0), c = type.getDimSize(1),
            kh = type.getDimSize(2), kw = type.getDimSize(3);
    OpBuilder builder(weight.getContext());
    builder.setInsertionPointAfterValue(weight);
    Location loc = weight.getLoc();
    SmallVector<int64_t> blocked = {o / perBlock, perBlock, c, kh, kw};
    Value reshaped = builder.create<ReshapeOp>(
        loc, RankedTensorType::get(blocked, type.getElementType()), weight,
        builder.getDenseI64ArrayAttr(blocked));
    return builder.create<TransposeOp>(
        loc,
        RankedTensorType::get({o / perBlock, c, kh, kw, perBlock},
                              type.getElementType()),
        reshaped, builder.getDenseI64ArrayAttr({0, 2, 3, 4, 1}));
  }
};

} // namespace
