//===- Builder.cpp - build kiln graphs from C++ ---------------------------===//
#include "kiln/frontend/Builder.h"

#include "kiln/ir/KilnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace kiln::frontend;
namespace kir = kiln::ir;

namespace {

constexpr llvm::StringLiteral kNameAttr = "kiln.name";

// Collects the diagnostics emitted while it lives, as text.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(MLIRContext &ctx)
      : handler_(&ctx, [this](Diagnostic &diag) {
          append(diag);
          for (Diagnostic &note : diag.getNotes()) {
            append(note);
          }
          return success();
        }) {}

  [[noreturn]] void fail(llvm::StringRef fallback) const {
    throw Error(text_.empty() ? fallback.str() : text_);
  }

private:
  void append(Diagnostic &diag) {
    if (!text_.empty()) {
      text_ += '\n';
    }
    text_ += diag.str();
  }

  std::string text_;
  ScopedDiagnosticHandler handler_;
};

std::string str(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

// Attribute lists that only mention non-default values.
class Attrs {
public:
  explicit Attrs(MLIRContext &ctx) : builder_(&ctx) {}

  Attrs &i64(StringRef name, int64_t value, int64_t defaultValue) {
    if (value != defaultValue) {
      list_.append(name, builder_.getI64IntegerAttr(value));
    }
    return *this;
  }
  Attrs &f32(StringRef name, double value, float defaultValue) {
    if (static_cast<float>(value) != defaultValue) {
      list_.append(name, builder_.getF32FloatAttr(static_cast<float>(value)));
    }
    return *this;
  }
  Attrs &boolean(StringRef name, bool value, bool defaultValue) {
    if (value != defaultValue) {
      list_.append(name, builder_.getBoolAttr(value));
    }
    return *this;
  }
  Attrs &string(StringRef name, StringRef value, StringRef defaultValue) {
    if (value != defaultValue) {
      list_.append(name, builder_.getStringAttr(value));
    }
    return *this;
  }
  // `defaultValue` empty: the attribute is required or optional, so any
  // non-empty value is set.
  Attrs &i64s(StringRef name, ArrayRef<int64_t> value,
              ArrayRef<int64_t> defaultValue) {
    if (value != defaultValue) {
      list_.append(name, builder_.getDenseI64ArrayAttr(value));
    }
    return *this;
  }
  // An attribute without a default: always set.
  Attrs &required(StringRef name, Attribute value) {
    list_.append(name, value);
    return *this;
  }
  ArrayRef<NamedAttribute> get() const { return list_.getAttrs(); }

private:
  Builder builder_;
  NamedAttrList list_;
};

} // namespace

//===----------------------------------------------------------------------===//
// Tensor
//===----------------------------------------------------------------------===//

RankedTensorType Tensor::type() const {
  if (!value_) {
    throw Error("use of an empty Tensor");
  }
  return llvm::cast<RankedTensorType>(value_.getType());
}

int64_t Tensor::dim(int64_t index) const {
  int64_t r = rank();
  int64_t normalized = index < 0 ? index + r : index;
  if (normalized < 0 || normalized >= r) {
    throw Error("dim " + std::to_string(index) + " is out of range for " +
                str(type()));
  }
  return shape()[normalized];
}

//===----------------------------------------------------------------------===//
// GraphBuilder: inputs, parameters, outputs
//===----------------------------------------------------------------------===//

GraphBuilder::GraphBuilder(MLIRContext &ctx, std::string function)
    : ctx_(ctx), builder_(&ctx) {
  ctx.loadDialect<kir::KilnDialect, func::FuncDialect>();
  Location loc = builder_.getUnknownLoc();
  module_ = ModuleOp::create(loc);
  auto func =
      func::FuncOp::create(loc, function, builder_.getFunctionType({}, {}));
  module_->push_back(func);
  function_ = func;
  builder_.setInsertionPointToEnd(func.addEntryBlock());
}

Block &GraphBuilder::body() {
  if (!module_) {
    throw Error("the graph was already finished");
  }
  return llvm::cast<func::FuncOp>(function_).getBody().front();
}

Tensor GraphBuilder::input(const std::string &name, ArrayRef<int64_t> shape,
                           DType dtype) {
  Block &block = body();
  if (llvm::is_contained(inputNames_, name)) {
    throw Error("duplicate input name '" + name + "'");
  }
  Type element = dtype == DType::F32 ? Type(builder_.getF32Type())
                                     : Type(builder_.getI32Type());
  inputNames_.push_back(name);
  return Tensor(block.addArgument(RankedTensorType::get(shape, element),
                                  NameLoc::get(builder_.getStringAttr(name))));
}

Tensor GraphBuilder::param(const std::string &name, ArrayRef<int64_t> shape,
                           const std::string &init,
                           std::optional<int64_t> fanIn) {
  body();
  if (paramNames_.count(name)) {
    throw Error("duplicate parameter name '" + name + "'");
  }
  Location loc = NameLoc::get(builder_.getStringAttr(name));
  Attrs attrs(ctx_);
  attrs.required("name", builder_.getStringAttr(name))
      .string("init", init, "zeros");
  if (fanIn) {
    attrs.required("fan_in", builder_.getI64IntegerAttr(*fanIn));
  }
  auto op = builder_.create<kir::ParamOp>(
      loc, TypeRange{RankedTensorType::get(shape, builder_.getF32Type())},
      ValueRange{}, attrs.get());
  DiagnosticCollector diagnostics(ctx_);
  if (failed(verify(op))) {
    op->erase();
    diagnostics.fail("invalid parameter '" + name + "'");
  }
  paramNames_.insert(name);
  paramOrder_.push_back(name);
  return Tensor(op.getResult());
}

void GraphBuilder::output(const std::string &name, Tensor value) {
  body();
  for (const auto &[existing, tensor] : outputs_) {
    if (existing == name) {
      throw Error("duplicate output name '" + name + "'");
    }
  }
  value.type(); // rejects an empty Tensor
  outputs_.emplace_back(name, value);
}

OwningOpRef<ModuleOp> GraphBuilder::finish() {
  Block &block = body();
  if (outputs_.empty()) {
    throw Error("the graph has no outputs");
  }
  auto func = llvm::cast<func::FuncOp>(function_);
  SmallVector<Value> results;
  for (const auto &output : outputs_) {
    results.push_back(output.second.value());
  }
  func.setFunctionType(builder_.getFunctionType(
      block.getArgumentTypes(), ValueRange(results).getTypes()));
  for (auto [index, name] : llvm::enumerate(inputNames_)) {
    func.setArgAttr(index, kNameAttr, builder_.getStringAttr(name));
  }
  for (auto [index, output] : llvm::enumerate(outputs_)) {
    func.setResultAttr(index, kNameAttr, builder_.getStringAttr(output.first));
  }
  builder_.setInsertionPointToEnd(&block);
  builder_.create<func::ReturnOp>(builder_.getUnknownLoc(), results);
  DiagnosticCollector diagnostics(ctx_);
  OwningOpRef<ModuleOp> module = std::move(module_);
  if (failed(verify(*module))) {
    diagnostics.fail("the module does not verify");
  }
  return module;
}

//===----------------------------------------------------------------------===//
// GraphBuilder: generic op construction
//===----------------------------------------------------------------------===//

template <typename OpTy>
Tensor GraphBuilder::create(ArrayRef<Tensor> operands,
                            ArrayRef<NamedAttribute> attributes,
                            std::optional<Location> loc) {
  body();
  SmallVector<Value> values;
  for (const Tensor &operand : operands) {
    operand.type(); // rejects an empty Tensor
    values.push_back(operand.value());
  }
  // Operands that do not fit the op are the user's error, reported here:
  // the ODS builder without result types would stop the process.
  Location at = loc.value_or(builder_.getUnknownLoc());
  DiagnosticCollector diagnostics(ctx_);
  SmallVector<Type> types;
  if (failed(kir::inferResultTypesOf(
          OperationName(OpTy::getOperationName(), &ctx_), at, values,
          builder_.getDictionaryAttr(attributes), nullptr, types))) {
    diagnostics.fail("shape inference failed");
  }
  auto op = builder_.create<OpTy>(at, types, values, attributes);
  // Attribute checks (rates, axes, modes) report here rather than at finish.
  if (failed(verify(op))) {
    op->erase();
    diagnostics.fail("invalid operation");
  }
  return Tensor(op->getResult(0));
}

Tensor GraphBuilder::atomically(llvm::function_ref<Tensor()> build) {
  Block &block = body();
  Operation *last = block.empty() ? nullptr : &block.back();
  size_t paramCount = paramOrder_.size();
  try {
    return build();
  } catch (...) {
    while (!block.empty() && &block.back() != last) {
      block.back().erase();
    }
    while (paramOrder_.size() > paramCount) {
      paramNames_.erase(paramOrder_.back());
      paramOrder_.pop_back();
    }
    throw;
  }
}

//===----------------------------------------------------------------------===//
// Layers with parameters
//===----------------------------------------------------------------------===//

Tensor GraphBuilder::dense(Tensor x, Tensor weight,
                           std::optional<Tensor> bias) {
  SmallVector<Tensor, 3> operands = {x, weight};
  if (bias) {
    operands.push_back(*bias);
  }
  return create<kir::DenseOp>(operands);
}

Tensor GraphBuilder::dense(Tensor x, int64_t outFeatures,
                           const std::string &name, bool bias) {
  if (x.rank() != 2) {
    throw Error("dense '" + name + "' expects input [N,K], got " +
                str(x.type()));
  }
  int64_t inFeatures = x.dim(1);
  return atomically([&] {
    Tensor weight =
        param(name + ".weight", {outFeatures, inFeatures}, "torch_default");
    std::optional<Tensor> b;
    if (bias) {
      b = param(name + ".bias", {outFeatures}, "torch_default", inFeatures);
    }
    return dense(x, weight, b);
  });
}

Tensor GraphBuilder::conv2d(Tensor x, Tensor weight, std::optional<Tensor> bias,
                            const Conv2DOptions &options) {
  std::vector<int64_t> pads = options.pads;
  if (options.paddingMode != "zeros") {
    const std::string &mode = options.paddingMode;
    if (mode != "replicate" && mode != "reflect") {
      throw Error("conv2d: padding mode '" + mode +
                  "' is not zeros, replicate or reflect");
    }
    if (options.autoPad != "notset") {
      throw Error("conv2d: padding mode '" + mode +
                  "' needs explicit pads, not auto_pad '" + options.autoPad +
                  "'");
    }
    if (x.rank() != 4 || pads.size() != 4) {
      throw Error("conv2d: padding mode '" + mode +
                  "' expects input [N,C,H,W] and 4 pads, got " +
                  str(x.type()));
    }
    Attrs padAttrs(ctx_);
    padAttrs.i64s("pads", {0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]}, {})
        .string("mode", mode == "replicate" ? "edge" : "reflect", "constant");
    x = create<kir::PadOp>({x}, padAttrs.get());
    pads = {0, 0, 0, 0};
  }
  SmallVector<Tensor, 3> operands = {x, weight};
  if (bias) {
    operands.push_back(*bias);
  }
  Attrs attrs(ctx_);
  attrs.i64s("strides", options.strides, {1, 1})
      .i64s("pads", pads, {0, 0, 0, 0})
      .i64s("dilations", options.dilations, {1, 1})
      .i64("groups", options.groups, 1)
      .string("auto_pad", options.autoPad, "notset");
  return create<kir::Conv2DOp>(operands, attrs.get());
}

Tensor GraphBuilder::conv2d(Tensor x, int64_t outChannels,
                            std::array<int64_t, 2> kernel,
                            const std::string &name,
                            const Conv2DOptions &options) {
  if (x.rank() != 4) {
    throw Error("conv2d '" + name + "' expects input [N,C,H,W], got " +
                str(x.type()));
  }
  if (options.groups < 1 || x.dim(1) % options.groups != 0) {
    throw Error("conv2d '" + name + "': groups " +
                std::to_string(options.groups) + " must divide the " +
                std::to_string(x.dim(1)) + " input channels of " +
                str(x.type()));
  }
  int64_t groupChannels = x.dim(1) / options.groups;
  return atomically([&] {
    Tensor weight = param(name + ".weight",
                          {outChannels, groupChannels, kernel[0], kernel[1]},
                          options.weightInit);
    std::optional<Tensor> b;
    if (options.bias) {
      b = param(name + ".bias", {outChannels}, "torch_default",
                groupChannels * kernel[0] * kernel[1]);
    }
    return conv2d(x, weight, b, options);
  });
}

Tensor GraphBuilder::batchNorm(Tensor x, Tensor weight, Tensor bias,
                               Tensor runningMean, Tensor runningVar,
                               double epsilon, double momentum) {
  Attrs attrs(ctx_);
  attrs.f32("epsilon", epsilon, 1e-5f).f32("momentum", momentum, 0.1f);
  return create<kir::BatchNormOp>({x, weight, bias, runningMean, runningVar},
                                  attrs.get());
}

Tensor GraphBuilder::batchNorm(Tensor x, const std::string &name,
                               double epsilon, double momentum) {
  if (x.rank() < 2) {
    throw Error("batchNorm '" + name + "' expects input [N,C,...], got " +
                str(x.type()));
  }
  int64_t channels = x.dim(1);
  return atomically([&] {
    Tensor weight = param(name + ".weight", {channels}, "ones");
    Tensor bias = param(name + ".bias", {channels});
    Tensor mean = param(name + ".running_mean", {channels});
    Tensor var = param(name + ".running_var", {channels}, "ones");
    return batchNorm(x, weight, bias, mean, var, epsilon, momentum);
  });
}

Tensor GraphBuilder::layerNorm(Tensor x, Tensor weight,
                               std::optional<Tensor> bias, int64_t axis,
                               double epsilon) {
  SmallVector<Tensor, 3> operands = {x, weight};
  if (bias) {
    operands.push_back(*bias);
  }
  Attrs attrs(ctx_);
  attrs.i64("axis", axis, -1).f32("epsilon", epsilon, 1e-5f);
  return create<kir::LayerNormOp>(operands, attrs.get());
}

Tensor GraphBuilder::layerNorm(Tensor x, const std::string &name, int64_t axis,
                               double epsilon) {
  int64_t rank = x.rank();
  int64_t first = axis < 0 ? axis + rank : axis;
  if (first < 0 || first >= rank) {
    throw Error("layerNorm '" + name + "': axis " + std::to_string(axis) +
                " is out of range for " + str(x.type()));
  }
  ArrayRef<int64_t> normalized = x.shape().drop_front(first);
  return atomically([&] {
    Tensor weight = param(name + ".weight", normalized, "ones");
    Tensor bias = param(name + ".bias", normalized);
    return layerNorm(x, weight, bias, axis, epsilon);
  });
}

Tensor GraphBuilder::prelu(Tensor x, Tensor slope) {
  return create<kir::PReluOp>({x, slope});
}

Tensor GraphBuilder::prelu(Tensor x, const std::string &name,
                           int64_t channels) {
  return atomically(
      [&] { return prelu(x, param(name + ".weight", {channels})); });
}

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

Tensor GraphBuilder::relu(Tensor x) { return create<kir::ReluOp>({x}); }
Tensor GraphBuilder::relu6(Tensor x) { return create<kir::Relu6Op>({x}); }
Tensor GraphBuilder::sigmoid(Tensor x) { return create<kir::SigmoidOp>({x}); }
Tensor GraphBuilder::tanh(Tensor x) { return create<kir::TanhOp>({x}); }
Tensor GraphBuilder::step(Tensor x) { return create<kir::StepOp>({x}); }
Tensor GraphBuilder::selu(Tensor x) { return create<kir::SeluOp>({x}); }
Tensor GraphBuilder::silu(Tensor x) { return create<kir::SiluOp>({x}); }
Tensor GraphBuilder::mish(Tensor x) { return create<kir::MishOp>({x}); }
Tensor GraphBuilder::sin(Tensor x) { return create<kir::SinOp>({x}); }
Tensor GraphBuilder::identity(Tensor x) { return create<kir::IdentityOp>({x}); }

Tensor GraphBuilder::leakyRelu(Tensor x, double alpha) {
  return create<kir::LeakyReluOp>({x},
                                  Attrs(ctx_).f32("alpha", alpha, 0.01f).get());
}

Tensor GraphBuilder::elu(Tensor x, double alpha) {
  return create<kir::EluOp>({x}, Attrs(ctx_).f32("alpha", alpha, 1.0f).get());
}

Tensor GraphBuilder::gelu(Tensor x, const std::string &approximate) {
  return create<kir::GeluOp>(
      {x}, Attrs(ctx_).string("approximate", approximate, "none").get());
}

Tensor GraphBuilder::softplus(Tensor x, double beta, double threshold) {
  Attrs attrs(ctx_);
  attrs.f32("beta", beta, 1.0f).f32("threshold", threshold, 20.0f);
  return create<kir::SoftplusOp>({x}, attrs.get());
}

Tensor GraphBuilder::softmax(Tensor x, int64_t axis) {
  return create<kir::SoftmaxOp>({x}, Attrs(ctx_).i64("axis", axis, -1).get());
}

Tensor GraphBuilder::logSoftmax(Tensor x, int64_t axis) {
  return create<kir::LogSoftmaxOp>({x},
                                   Attrs(ctx_).i64("axis", axis, -1).get());
}

//===----------------------------------------------------------------------===//
// Pooling, views, elementwise arithmetic
//===----------------------------------------------------------------------===//

Tensor GraphBuilder::maxPool2d(Tensor x, std::array<int64_t, 2> kernel,
                               const PoolOptions &options) {
  Attrs attrs(ctx_);
  attrs.i64s("kernel", kernel, {})
      .i64s("strides", options.strides, {})
      .i64s("pads", options.pads, {0, 0, 0, 0})
      .i64s("dilations", options.dilations, {1, 1})
      .boolean("ceil_mode", options.ceilMode, false)
      .string("auto_pad", options.autoPad, "notset");
  return create<kir::MaxPool2DOp>({x}, attrs.get());
}

Tensor GraphBuilder::avgPool2d(Tensor x, std::array<int64_t, 2> kernel,
                               const PoolOptions &options) {
  if (options.dilations != std::vector<int64_t>{1, 1}) {
    throw Error("avgPool2d has no dilations");
  }
  Attrs attrs(ctx_);
  attrs.i64s("kernel", kernel, {})
      .i64s("strides", options.strides, {})
      .i64s("pads", options.pads, {0, 0, 0, 0})
      .boolean("ceil_mode", options.ceilMode, false)
      .boolean("count_include_pad", options.countIncludePad, true)
      .string("auto_pad", options.autoPad, "notset");
  return create<kir::AvgPool2DOp>({x}, attrs.get());
}

Tensor GraphBuilder::globalAvgPool(Tensor x) {
  return create<kir::GlobalAvgPoolOp>({x});
}

Tensor GraphBuilder::flatten(Tensor x, int64_t axis) {
  return create<kir::FlattenOp>({x}, Attrs(ctx_).i64("axis", axis, 1).get());
}

Tensor GraphBuilder::reshape(Tensor x, ArrayRef<int64_t> shape) {
  return create<kir::ReshapeOp>(
      {x}, Attrs(ctx_)
               .required("shape", builder_.getDenseI64ArrayAttr(shape))
               .get());
}

Tensor GraphBuilder::dropout(Tensor x, double rate) {
  return create<kir::DropoutOp>({x}, Attrs(ctx_).f32("rate", rate, 0.5f).get());
}

Tensor GraphBuilder::add(Tensor lhs, Tensor rhs) {
  return create<kir::AddOp>({lhs, rhs});
}
Tensor GraphBuilder::sub(Tensor lhs, Tensor rhs) {
  return create<kir::SubOp>({lhs, rhs});
}
Tensor GraphBuilder::mul(Tensor lhs, Tensor rhs) {
  return create<kir::MulOp>({lhs, rhs});
}
Tensor GraphBuilder::div(Tensor lhs, Tensor rhs) {
  return create<kir::DivOp>({lhs, rhs});
}

Tensor GraphBuilder::concat(ArrayRef<Tensor> inputs, int64_t axis) {
  return create<kir::ConcatOp>(
      inputs,
      Attrs(ctx_).required("axis", builder_.getI64IntegerAttr(axis)).get());
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

Tensor GraphBuilder::mse(Tensor pred, Tensor target) {
  return create<kir::MSEOp>({pred, target});
}
Tensor GraphBuilder::mae(Tensor pred, Tensor target) {
  return create<kir::MAEOp>({pred, target});
}
Tensor GraphBuilder::huber(Tensor pred, Tensor target, double delta) {
  return create<kir::HuberOp>({pred, target},
                              Attrs(ctx_).f32("delta", delta, 1.0f).get());
}
Tensor GraphBuilder::bce(Tensor prob, Tensor target) {
  return create<kir::BCEOp>({prob, target});
}
Tensor GraphBuilder::bceLogits(Tensor logits, Tensor target) {
  return create<kir::BCELogitsOp>({logits, target});
}
Tensor GraphBuilder::cce(Tensor logits, Tensor target) {
  return create<kir::CCEOp>({logits, target});
}
Tensor GraphBuilder::sparseCce(Tensor logits, Tensor labels) {
  return create<kir::SparseCCEOp>({logits, labels});
}
Tensor GraphBuilder::hinge(Tensor pred, Tensor target) {
  return create<kir::HingeOp>({pred, target});
}

//===----------------------------------------------------------------------===//
// Sequential
//===----------------------------------------------------------------------===//

std::string Sequential::layerName(const std::string &kind,
                                  const std::string &name) {
  int index = ++layerCounts_[kind];
  return name.empty() ? kind + std::to_string(index) : name;
}

Sequential &Sequential::dense(int64_t outFeatures, const std::string &name,
                              bool bias) {
  current_ = builder_.dense(current_, outFeatures, layerName("fc", name), bias);
  return *this;
}

Sequential &Sequential::conv2d(int64_t outChannels,
                               std::array<int64_t, 2> kernel,
                               const Conv2DOptions &options,
                               const std::string &name) {
  current_ = builder_.conv2d(current_, outChannels, kernel,
                             layerName("conv", name), options);
  return *this;
}

Sequential &Sequential::batchNorm(const std::string &name, double epsilon,
                                  double momentum) {
  current_ =
      builder_.batchNorm(current_, layerName("bn", name), epsilon, momentum);
  return *this;
}

Sequential &Sequential::layerNorm(const std::string &name, int64_t axis,
                                  double epsilon) {
  current_ = builder_.layerNorm(current_, layerName("ln", name), axis, epsilon);
  return *this;
}

Sequential &Sequential::prelu(int64_t channels, const std::string &name) {
  current_ = builder_.prelu(current_, layerName("prelu", name), channels);
  return *this;
}

#define KILN_SEQUENTIAL_UNARY(method)                                          \
  Sequential &Sequential::method() {                                           \
    current_ = builder_.method(current_);                                      \
    return *this;                                                              \
  }
KILN_SEQUENTIAL_UNARY(relu)
KILN_SEQUENTIAL_UNARY(relu6)
KILN_SEQUENTIAL_UNARY(sigmoid)
KILN_SEQUENTIAL_UNARY(tanh)
KILN_SEQUENTIAL_UNARY(step)
KILN_SEQUENTIAL_UNARY(selu)
KILN_SEQUENTIAL_UNARY(silu)
KILN_SEQUENTIAL_UNARY(mish)
KILN_SEQUENTIAL_UNARY(sin)
KILN_SEQUENTIAL_UNARY(identity)
KILN_SEQUENTIAL_UNARY(globalAvgPool)
#undef KILN_SEQUENTIAL_UNARY

Sequential &Sequential::leakyRelu(double alpha) {
  current_ = builder_.leakyRelu(current_, alpha);
  return *this;
}

Sequential &Sequential::elu(double alpha) {
  current_ = builder_.elu(current_, alpha);
  return *this;
}

Sequential &Sequential::gelu(const std::string &approximate) {
  current_ = builder_.gelu(current_, approximate);
  return *this;
}

Sequential &Sequential::softplus(double beta, double threshold) {
  current_ = builder_.softplus(current_, beta, threshold);
  return *this;
}

Sequential &Sequential::softmax(int64_t axis) {
  current_ = builder_.softmax(current_, axis);
  return *this;
}

Sequential &Sequential::logSoftmax(int64_t axis) {
  current_ = builder_.logSoftmax(current_, axis);
  return *this;
}

Sequential &Sequential::maxPool2d(std::array<int64_t, 2> kernel,
                                  const PoolOptions &options) {
  current_ = builder_.maxPool2d(current_, kernel, options);
  return *this;
}

Sequential &Sequential::avgPool2d(std::array<int64_t, 2> kernel,
                                  const PoolOptions &options) {
  current_ = builder_.avgPool2d(current_, kernel, options);
  return *this;
}

Sequential &Sequential::flatten(int64_t axis) {
  current_ = builder_.flatten(current_, axis);
  return *this;
}

Sequential &Sequential::reshape(ArrayRef<int64_t> shape) {
  current_ = builder_.reshape(current_, shape);
  return *this;
}

Sequential &Sequential::dropout(double rate) {
  current_ = builder_.dropout(current_, rate);
  return *this;
}
