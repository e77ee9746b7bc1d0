//===- Optimizer.cpp - kiln-optimizer -------------------------------------===//
//
// 1. Append the `lr` and `step` f32 scalar arguments.
// 2. For every result named `grad:<param>`: create the optimizer's slots as
//    zero-initialized parameters `<param>.<kind>.<slot>`, an optimizer_update
//    of the parameter, and assign its results to the parameter and slots.
// 3. Drop the gradient results; with grad-norms, return the sums of squares
//    of each gradient, weight and update instead (grad_sq:, weight_sq:,
//    update_sq:<param>).
// Hyperparameters are PyTorch's defaults unless the options say otherwise.
//
//===----------------------------------------------------------------------===//
#include "FunctionUtils.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/passes/Passes.h"

#include <cmath>
#include <limits>

#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"

namespace kiln::passes {
#define GEN_PASS_DEF_KILNOPTIMIZER
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
using namespace kiln::ir;

namespace {

struct Kind {
  const char *name;
  std::vector<const char *> slots;
};

const Kind *findKind(llvm::StringRef name) {
  static const Kind kinds[] = {
      {"sgd", {}},
      {"momentum", {"momentum_buffer"}},
      {"nesterov", {"momentum_buffer"}},
      {"adagrad", {"sum"}},
      {"adadelta", {"square_avg", "acc_delta"}},
      {"rmsprop", {"square_avg"}},
      {"adam", {"exp_avg", "exp_avg_sq"}},
  };
  for (const Kind &kind : kinds) {
    if (name == kind.name) {
      return &kind;
    }
  }
  return nullptr;
}

struct OptimizerPass : kiln::passes::impl::KilnOptimizerBase<OptimizerPass> {
  using KilnOptimizerBase::KilnOptimizerBase;

  DictionaryAttr hyperparameters(Builder &b) {
    SmallVector<NamedAttribute> attrs;
    auto add = [&](const char *name, double value) {
      attrs.push_back(b.getNamedAttr(name, b.getF64FloatAttr(value)));
    };
    auto eps = [&](double fallback) { return epsilon < 0 ? fallback : epsilon; };
    add("weight_decay", weightDecay);
    add("clip_value", clipValue);
    if (kind == "momentum" || kind == "nesterov") {
      add("momentum", momentum);
      add("dampening", dampening);
    } else if (kind == "adagrad") {
      add("lr_decay", lrDecay);
      add("epsilon", eps(1e-10));
    } else if (kind == "adadelta") {
      add("rho", rho);
      add("epsilon", eps(1e-6));
    } else if (kind == "rmsprop") {
      add("alpha", alpha);
      add("epsilon", eps(1e-8));
    } else if (kind == "adam") {
      add("beta1", beta1);
      add("beta2", beta2);
      add("epsilon", eps(1e-8));
    }
    return b.getDictionaryAttr(attrs);
  }

  // Every hyperparameter finite and in its range (PyTorch's checks, plus
  // the ones PyTorch leaves to the user): a NaN beta or a negative decay
  // would train silently into garbage.
  LogicalResult checkHyperparameters(func::FuncOp func) {
    struct Check {
      const char *name;
      double value, low, high;
      bool openHigh;
    };
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<Check> checks = {
        {"weight-decay", weightDecay, 0, inf, true},
        {"clip-value", clipValue, 0, inf, true},
        {"clip-norm", clipNorm, 0, inf, true},
        {"momentum", momentum, 0, 1, true},
        {"dampening", dampening, 0, 1, false},
        {"beta1", beta1, 0, 1, true},
        {"beta2", beta2, 0, 1, true},
        {"rho", rho, 0, 1, false},
        {"alpha", alpha, 0, 1, false},
        {"lr-decay", lrDecay, 0, inf, true}};
    for (const Check &c : checks) {
      bool inRange = std::isfinite(c.value) && c.value >= c.low &&
                     (c.openHigh ? c.value < c.high : c.value <= c.high);
      if (!inRange) {
        return func.emitError()
               << "optimizer " << kind << ": " << c.name << " must be "
               << (c.high == inf ? "a finite number >= " + std::to_string(0)
                                 : std::string("in [0, 1") +
                                       (c.openHigh ? ")" : "]"))
               << ", got " << llvm::formatv("{0}", c.value).str();
      }
    }
    // epsilon: -1 picks the optimizer's default.
    if (!(epsilon == -1.0 || (std::isfinite(epsilon) && epsilon > 0))) {
      return func.emitError() << "optimizer " << kind
                              << ": epsilon must be a finite number > 0, got "
                              << llvm::formatv("{0}", epsilon.getValue()).str();
    }
    return success();
  }

  // g *= min(1, clipNorm / (sqrt(Σ all g²) + 1e-6)) for every gradient.
  void clipByGlobalNorm(OpBuilder &builder, Location loc, Type scalar,
                        SmallVectorImpl<kiln::passes::NamedValue> &grads) {
    Value total;
    for (const auto &grad : grads) {
      Value squares = builder.create<RegularizerOp>(
          loc, scalar, grad.value, builder.getF64FloatAttr(0.0),
          builder.getF64FloatAttr(1.0));
      total = total ? builder.create<AddOp>(loc, scalar, total, squares)
                          .getResult()
                    : squares;
    }
    Value factor = builder.create<ClipFactorOp>(
        loc, scalar, total, builder.getF64FloatAttr(clipNorm));
    for (auto &grad : grads) {
      grad.value = builder.create<MulOp>(loc, grad.value.getType(), grad.value,
                                         factor);
    }
  }

  void runOnOperation() override {
    func::FuncOp func = kiln::passes::entryFunction(getOperation());
    const Kind *optimizer = findKind(kind);
    if (!func) {
      return;
    }
    if (!optimizer) {
      func.emitError()
          << "unknown optimizer '" << kind
          << "' (expected sgd, momentum, nesterov, adagrad, adadelta, "
             "rmsprop or adam)";
      return signalPassFailure();
    }
    if (failed(checkHyperparameters(func))) {
      return signalPassFailure();
    }
    auto scalar = RankedTensorType::get({}, Float32Type::get(&getContext()));
    Value lr = kiln::passes::appendArgument(func, scalar, "lr");
    Value step = kiln::passes::appendArgument(func, scalar, "step");

    llvm::StringMap<ParamOp> params;
    func.walk([&](ParamOp param) { params[param.getName()] = param; });

    Block &body = func.getBody().front();
    OpBuilder builder(body.getTerminator());
    OpBuilder paramBuilder = OpBuilder::atBlockBegin(&body);
    DictionaryAttr hyper = hyperparameters(builder);
    SmallVector<kiln::passes::NamedValue> kept, gradients, norms;
    for (const auto &result : kiln::passes::functionResults(func)) {
      (llvm::StringRef(result.name).starts_with("grad:") ? gradients : kept)
          .push_back(result);
    }
    if (clipNorm > 0 && !gradients.empty()) {
      clipByGlobalNorm(builder, func.getLoc(), scalar, gradients);
    }
    for (const auto &result : gradients) {
      llvm::StringRef name(result.name);
      name.consume_front("grad:");
      auto it = params.find(name);
      if (it == params.end()) {
        func.emitError() << "gradient result '" << result.name
                         << "' names no parameter";
        return signalPassFailure();
      }
      ParamOp param = it->second;
      Location loc = param.getLoc();
      SmallVector<Value> slots;
      for (const char *slot : optimizer->slots) {
        slots.push_back(paramBuilder.create<ParamOp>(
            loc, param.getType(),
            paramBuilder.getStringAttr(name.str() + "." + kind + "." + slot),
            paramBuilder.getStringAttr("zeros"), IntegerAttr(),
            IntegerAttr()));
      }
      SmallVector<Type> types(1 + slots.size(), param.getType());
      auto update = builder.create<OptimizerUpdateOp>(
          loc, types, param, result.value, lr, step, slots,
          builder.getStringAttr(kind), hyper);
      builder.create<AssignOp>(loc, param, update.getResult(0));
      for (auto [i, slot] : llvm::enumerate(slots)) {
        builder.create<AssignOp>(loc, slot, update.getResult(i + 1));
      }
      if (gradNorms) {
        auto squares = [&](Value v) -> Value {
          return builder.create<RegularizerOp>(loc, scalar, v,
                                               builder.getF64FloatAttr(0.0),
                                               builder.getF64FloatAttr(1.0));
        };
        Value change = builder.create<SubOp>(loc, param.getType(),
                                             update.getResult(0), param);
        norms.push_back({squares(result.value), "grad_sq:" + name.str()});
        norms.push_back({squares(param), "weight_sq:" + name.str()});
        norms.push_back({squares(change), "update_sq:" + name.str()});
      }
    }
    kept.append(norms.begin(), norms.end());
    kiln::passes::setFunctionResults(func, kept);
  }
};
} // namespace
