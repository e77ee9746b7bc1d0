//===- Layout.cpp - kiln-layout: channel-blocked intermediates -------------===//
//
// Gives a [N, C, H, W] intermediate (C a multiple of 16) the physical layout
// nchw16c where the kernel that writes it and every kernel that reads it
// have a blocked form (docs/layout.md). The IR keeps NCHW semantics and
// types; the layout is the `kiln.layouts` attribute of the value's
// producer, which the lowering turns into the buffer's physical dims and
// the kernels' specs. Graph inputs and outputs stay dense.
//
//===----------------------------------------------------------------------===//
#include "kiln/passes/Layout.h"

#include "kiln/ir/KilnDialect.h"
#include "kiln/ir/KilnFusion.h"
#include "kiln/passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/EquivalenceClasses.h"

namespace kiln::passes {
#define GEN_PASS_DEF_KILNLAYOUT
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
using namespace kiln::ir;

namespace kiln::passes {

namespace {

constexpr int64_t kBlock = 16;
constexpr const char *kBlocked = "nchw16c";

// A rank-4 f32 tensor with whole blocks of channels.
bool blockable(Type type) {
  auto t = llvm::dyn_cast<RankedTensorType>(type);
  return t && t.getRank() == 4 && t.hasStaticShape() &&
         t.getElementType().isF32() && t.getDimSize(1) % kBlock == 0;
}

bool packedBy16(Type weight) {
  auto t = llvm::dyn_cast<RankedTensorType>(weight);
  return t && t.getRank() == 5 && t.getDimSize(4) == kBlock;
}

bool depthwise(Type x, Type weight, int64_t groups) {
  auto w = llvm::dyn_cast<RankedTensorType>(weight);
  auto in = llvm::dyn_cast<RankedTensorType>(x);
  return w && in && w.getRank() == 4 && w.getDimSize(1) == 1 &&
         groups == w.getDimSize(0) && groups == in.getDimSize(1);
}

} // namespace

LayoutCapability layoutCapability(Operation *op) {
  LayoutCapability c;
  if (op->getNumResults() != 1) {
    return c;
  }
  Type resultType = op->getResult(0).getType();
  if (auto conv = llvm::dyn_cast<Conv2DOp>(op)) {
    if (packedBy16(conv.getWeight().getType())) {
      c.operands = {0};
      c.result = true;
    } else if (depthwise(conv.getInput().getType(), conv.getWeight().getType(),
                         conv.getGroups())) {
      c.tied = {0};
      c.tiedResult = true;
    }
    return c;
  }
  if (llvm::isa<GlobalAvgPoolOp>(op)) {
    c.operands = {0};
    return c;
  }
  auto sameShaped = [&] {
    return llvm::all_of(op->getOperandTypes(),
                        [&](Type t) { return t == resultType; });
  };
  if (auto fused = llvm::dyn_cast<FusedOp>(op)) {
    FailureOr<nlohmann::json> attrs = kernelAttributes(op);
    if (failed(attrs)) {
      return c;
    }
    const nlohmann::json &a = *attrs;
    std::string anchor = a.value("anchor", std::string());
    if (fused.getKind() == "elementwise" && anchor.empty() && sameShaped()) {
      for (unsigned i = 0; i < op->getNumOperands(); ++i) {
        c.tied.push_back(i);
      }
      c.tiedResult = c.agnostic = true;
      return c;
    }
    if (fused.getKind() != "epilogue" || anchor != "conv2d" ||
        a.contains("tail") || a.contains("producer")) {
      return c;
    }
    std::vector<int64_t> in = a.at("anchor_inputs").get<std::vector<int64_t>>();
    if (in.size() < 2 || in[0] < 0 || in[1] < 0) {
      return c;
    }
    Type x = op->getOperand(in[0]).getType(), w = op->getOperand(in[1]).getType();
    int64_t groups = a.at("anchor_attrs").value("groups", int64_t(1));
    if (packedBy16(w)) {
      c.operands.push_back(in[0]);
      c.result = true;
    } else if (depthwise(x, w, groups)) {
      c.tied.push_back(in[0]);
      c.tiedResult = true;
    } else {
      return c;
    }
    // Residuals: other operands of the output's type, read at its logical
    // coordinates in either layout.
    for (unsigned i = 0; i < op->getNumOperands(); ++i) {
      if (!llvm::is_contained(in, int64_t(i)) &&
          op->getOperand(i).getType() == resultType) {
        c.operands.push_back(i);
      }
    }
    return c;
  }
  if (llvm::isa<ElementwiseOpInterface>(op) && sameShaped()) {
    for (unsigned i = 0; i < op->getNumOperands(); ++i) {
      c.tied.push_back(i);
    }
    c.tiedResult = c.agnostic = true;
  }
  return c;
}

std::string layoutOf(Value value) {
  auto result = llvm::dyn_cast<OpResult>(value);
  if (!result) {
    return "";
  }
  auto layouts = result.getOwner()->getAttrOfType<ArrayAttr>(kLayoutsAttr);
  if (!layouts || result.getResultNumber() >= layouts.size()) {
    return "";
  }
  return llvm::cast<StringAttr>(layouts[result.getResultNumber()]).str();
}

namespace {

struct LayoutPass : impl::KilnLayoutBase<LayoutPass> {
  using KilnLayoutBase::KilnLayoutBase;

  void runOnOperation() override {
    getOperation().walk([&](func::FuncOp func) { runOn(func); });
  }

  void runOn(func::FuncOp func) {
    if (func.getBody().empty()) {
      return;
    }
    Block &body = func.getBody().front();
    // Candidates: single results of top-level kernel ops that may be
    // blocked, whose every reader may read them blocked.
    llvm::DenseMap<Value, LayoutCapability> caps;
    auto capOf = [&](Operation *op) -> const LayoutCapability & {
      auto it = caps.find(op->getResult(0));
      if (it == caps.end()) {
        it = caps.try_emplace(op->getResult(0), layoutCapability(op)).first;
      }
      return it->second;
    };
    llvm::EquivalenceClasses<void *> tied;
    llvm::DenseSet<void *> eligible;
    SmallVector<Value> candidates;
    for (Operation &op : body) {
      if (op.getNumResults() != 1 || !blockable(op.getResult(0).getType())) {
        continue;
      }
      Value v = op.getResult(0);
      const LayoutCapability &cap = capOf(&op);
      bool ok = cap.result || cap.tiedResult;
      for (OpOperand &use : v.getUses()) {
        Operation *user = use.getOwner();
        if (user->getParentOp() != func || user->getNumResults() == 0) {
          ok = false; // func.return, assign: graph outputs stay dense
          break;
        }
        LayoutCapability u = user->getNumResults() == 1
                                 ? capOf(user)
                                 : layoutCapability(user);
        unsigned i = use.getOperandNumber();
        if (!llvm::is_contained(u.operands, i) &&
            !llvm::is_contained(u.tied, i)) {
          ok = false;
          break;
        }
      }
      candidates.push_back(v);
      tied.insert(v.getAsOpaquePointer());
      if (ok) {
        eligible.insert(v.getAsOpaquePointer());
      }
    }
    // Tied groups: an op's tied operands with its result.
    for (Operation &op : body) {
      if (op.getNumResults() != 1) {
        continue;
      }
      const LayoutCapability &cap = capOf(&op);
      if (!cap.tiedResult) {
        continue;
      }
      void *result = op.getResult(0).getAsOpaquePointer();
      tied.insert(result);
      for (unsigned i : cap.tied) {
        void *operand = op.getOperand(i).getAsOpaquePointer();
        tied.insert(operand);
        tied.unionSets(result, operand);
      }
    }
    // A group is blocked when all of its members are eligible candidates
    // (a block argument or a dense-only value in it keeps it dense).
    auto groupBlocked = [&](void *member) {
      for (auto it = tied.findLeader(member); it != tied.member_end(); ++it) {
        if (!eligible.count(*it)) {
          return false;
        }
      }
      return true;
    };
    Builder builder(func.getContext());
    for (Value v : candidates) {
      if (!eligible.count(v.getAsOpaquePointer()) ||
          !groupBlocked(v.getAsOpaquePointer())) {
        continue;
      }
      v.getDefiningOp()->setAttr(
          kLayoutsAttr, builder.getStrArrayAttr({kBlocked}));
    }
  }
};

} // namespace
} // namespace kiln::passes
