//===- Autodiff.cpp - kiln-autodiff ---------------------------------------===//
//
// Reverse-mode differentiation of the entry function's scalar loss (its
// first result); see Passes.td for the algorithm. Gradients are built at the
// end of the function body, in reverse order of the forward ops.
//
//===----------------------------------------------------------------------===//
#include "FunctionUtils.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/GlobPattern.h"

namespace kiln::passes {
#define GEN_PASS_DEF_KILNAUTODIFF
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
using namespace kiln::ir;

namespace {
struct AutodiffPass : kiln::passes::impl::KilnAutodiffBase<AutodiffPass> {
  using KilnAutodiffBase::KilnAutodiffBase;

  void runOnOperation() override {
    func::FuncOp func = kiln::passes::entryFunction(getOperation());
    if (!func) {
      getOperation().emitError("no function to differentiate");
      return signalPassFailure();
    }
    auto results = kiln::passes::functionResults(func);
    auto lossType = results.empty()
                        ? RankedTensorType()
                        : llvm::dyn_cast<RankedTensorType>(
                              results[0].value.getType());
    if (!lossType || lossType.getRank() != 0 ||
        !lossType.getElementType().isF32()) {
      func.emitError() << "kiln-autodiff needs the first result to be the "
                          "scalar f32 loss"
                       << (results.empty() ? std::string()
                                           : ", got a different type");
      return signalPassFailure();
    }

    Block &body = func.getBody().front();
    SmallVector<Operation *> forward;
    for (Operation &op : body.without_terminator()) {
      forward.push_back(&op);
    }
    OpBuilder builder(body.getTerminator());
    llvm::DenseMap<Value, Value> grads;
    Value seed = builder.create<ConstantOp>(
        func.getLoc(), lossType,
        DenseElementsAttr::get(lossType, builder.getF32FloatAttr(1.0f)));
    grads[results[0].value] = seed;

    for (Operation *op : llvm::reverse(forward)) {
      SmallVector<Value> resultGrads;
      bool any = false;
      for (Value result : op->getResults()) {
        resultGrads.push_back(grads.lookup(result));
        any |= static_cast<bool>(resultGrads.back());
      }
      // Leaves (parameters, constants) only collect gradients.
      if (!any || op->getNumOperands() == 0) {
        continue;
      }
      auto rule = llvm::dyn_cast<GradientOpInterface>(op);
      if (!rule) {
        op->emitOpError() << "is on the path to the loss but has no "
                             "gradient rule";
        return signalPassFailure();
      }
      SmallVector<Value> operandGrads;
      if (failed(rule.buildGradients(builder, resultGrads, operandGrads))) {
        return signalPassFailure();
      }
      for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads)) {
        if (!grad) {
          continue;
        }
        Value &sum = grads[operand];
        sum = sum ? builder.create<AddOp>(op->getLoc(), sum.getType(), sum,
                                          grad)
                        .getResult()
                  : grad;
      }
    }

    SmallVector<llvm::GlobPattern> patterns;
    for (const std::string &text : frozen) {
      auto pattern = llvm::GlobPattern::create(text);
      if (!pattern) {
        func.emitError() << "frozen pattern '" << text
                         << "' is not a glob: "
                         << llvm::toString(pattern.takeError());
        return signalPassFailure();
      }
      patterns.push_back(std::move(*pattern));
    }
    std::vector<bool> used(patterns.size(), false);
    auto isFrozen = [&](StringRef name) {
      bool match = false;
      for (size_t i = 0; i < patterns.size(); ++i) {
        if (patterns[i].match(name)) {
          used[i] = match = true;
        }
      }
      return match;
    };
    func.walk([&](ParamOp param) {
      if (isFrozen(param.getName())) {
        return;
      }
      if (Value grad = grads.lookup(param.getResult())) {
        results.push_back({grad, "grad:" + param.getName().str()});
      }
    });
    for (size_t i = 0; i < patterns.size(); ++i) {
      if (!used[i]) {
        func.emitError() << "frozen pattern '" << frozen[i]
                         << "' matches no parameter";
        return signalPassFailure();
      }
    }
    if (wrtInputs) {
      for (BlockArgument arg : func.getArguments()) {
        if (Value grad = grads.lookup(arg)) {
          auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                        "kiln.name");
          results.push_back(
              {grad, "grad:" + (name ? name.str()
                                     : "input" + std::to_string(
                                                     arg.getArgNumber()))});
        }
      }
    }
    kiln::passes::setFunctionResults(func, results);
  }
};
} // namespace
