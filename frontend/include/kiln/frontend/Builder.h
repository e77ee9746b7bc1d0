//===- Builder.h - build kiln graphs from C++ ----------------*- C++ -*-===//
//
// A graph builder over the kiln dialect in two styles:
//
//  * functional: `GraphBuilder` methods take and return `Tensor`s, so any
//    DAG (branches, residual connections, concat) can be written;
//  * sequential: `Sequential` chains layers over one running tensor and
//    names them automatically (`conv1`, `bn1`, `fc1`, ...).
//
// Layer methods (`dense`, `conv2d`, `batchNorm`, `layerNorm`, `prelu`) create
// their parameters as `kiln.param` ops named `<layer>.weight`, `<layer>.bias`
// ... with PyTorch's default initialization. Every op's result type comes
// from the dialect's `ShapeInferenceOpInterface`; a shape error throws
// `Error` carrying the op's diagnostic, and the failed call leaves the graph
// as it was. Attributes equal to the op's defaults are not set, so the
// printed IR reads like a hand-written one. See docs/frontend.md.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_BUILDER_H
#define KILN_FRONTEND_BUILDER_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

namespace kiln::frontend {

// Thrown on any misuse or shape error; what() is the diagnostic text.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class DType { F32, I32 };

// A value of the graph under construction: a ranked tensor.
class Tensor {
public:
  Tensor() = default;
  explicit Tensor(mlir::Value value) : value_(value) {}

  mlir::Value value() const { return value_; }
  mlir::RankedTensorType type() const;
  llvm::ArrayRef<int64_t> shape() const { return type().getShape(); }
  int64_t rank() const { return type().getRank(); }
  // Size of dim `index`; a negative index counts from the end.
  int64_t dim(int64_t index) const;
  explicit operator bool() const { return static_cast<bool>(value_); }

private:
  mlir::Value value_;
};

struct Conv2DOptions {
  std::vector<int64_t> strides = {1, 1};
  std::vector<int64_t> pads = {0, 0, 0, 0}; // top, left, bottom, right
  std::vector<int64_t> dilations = {1, 1};
  int64_t groups = 1;
  std::string autoPad = "notset"; // notset, valid, same_upper, same_lower
  bool bias = true;
  std::string weightInit = "torch_default";
  // PyTorch's padding_mode: zeros, replicate or reflect. Replicate and
  // reflect pad the input with kiln.pad (modes edge / reflect) and give the
  // convolution no padding of its own, as ONNX exports them (Pad + Conv).
  std::string paddingMode = "zeros";

  Conv2DOptions &withStrides(std::vector<int64_t> v) {
    strides = std::move(v);
    return *this;
  }
  Conv2DOptions &withPads(std::vector<int64_t> v) {
    pads = std::move(v);
    return *this;
  }
  // `pad` on all four sides.
  Conv2DOptions &withPadding(int64_t pad) {
    return withPads({pad, pad, pad, pad});
  }
  Conv2DOptions &withDilations(std::vector<int64_t> v) {
    dilations = std::move(v);
    return *this;
  }
  Conv2DOptions &withGroups(int64_t g) {
    groups = g;
    return *this;
  }
  Conv2DOptions &withAutoPad(std::string mode) {
    autoPad = std::move(mode);
    return *this;
  }
  Conv2DOptions &withBias(bool enabled) {
    bias = enabled;
    return *this;
  }
  Conv2DOptions &withWeightInit(std::string init) {
    weightInit = std::move(init);
    return *this;
  }
  Conv2DOptions &withPaddingMode(std::string mode) {
    paddingMode = std::move(mode);
    return *this;
  }
};

struct PoolOptions {
  std::vector<int64_t> strides;             // empty: the kernel
  std::vector<int64_t> pads = {0, 0, 0, 0}; // top, left, bottom, right
  std::vector<int64_t> dilations = {1, 1};  // max pooling only
  bool ceilMode = false;
  bool countIncludePad = true; // average pooling only
  std::string autoPad = "notset";

  PoolOptions &withStrides(std::vector<int64_t> v) {
    strides = std::move(v);
    return *this;
  }
  PoolOptions &withPads(std::vector<int64_t> v) {
    pads = std::move(v);
    return *this;
  }
  PoolOptions &withDilations(std::vector<int64_t> v) {
    dilations = std::move(v);
    return *this;
  }
  PoolOptions &withCeilMode(bool enabled = true) {
    ceilMode = enabled;
    return *this;
  }
  PoolOptions &withCountIncludePad(bool enabled) {
    countIncludePad = enabled;
    return *this;
  }
  PoolOptions &withAutoPad(std::string mode) {
    autoPad = std::move(mode);
    return *this;
  }
};

// Builds one `func.func` in a new module. Not copyable; one builder per
// function. After `finish()` the builder is spent.
class GraphBuilder {
public:
  explicit GraphBuilder(mlir::MLIRContext &ctx, std::string function = "main");
  GraphBuilder(const GraphBuilder &) = delete;
  GraphBuilder &operator=(const GraphBuilder &) = delete;

  mlir::MLIRContext &context() const { return ctx_; }

  //===--------------------------------------------------------------------===//
  // Graph inputs, parameters, outputs
  //===--------------------------------------------------------------------===//

  // A function argument named `name` (arg attribute `kiln.name`).
  Tensor input(const std::string &name, llvm::ArrayRef<int64_t> shape,
               DType dtype = DType::F32);
  // A `kiln.param` (f32); `init` is one of docs/ops.md's initializers.
  // Names are unique within the graph.
  Tensor param(const std::string &name, llvm::ArrayRef<int64_t> shape,
               const std::string &init = "zeros",
               std::optional<int64_t> fanIn = std::nullopt);
  // Returns `value` from the function as a result named `name`.
  void output(const std::string &name, Tensor value);
  // Adds the return, verifies and hands over the module.
  mlir::OwningOpRef<mlir::ModuleOp> finish();

  //===--------------------------------------------------------------------===//
  // Layers with parameters (PyTorch default initialization)
  //===--------------------------------------------------------------------===//

  // x [N,K] -> [N,outFeatures]; `<name>.weight` [O,K], `<name>.bias` [O].
  Tensor dense(Tensor x, int64_t outFeatures, const std::string &name,
               bool bias = true);
  // x [N,C,H,W]; `<name>.weight` [O,C/groups,kh,kw], `<name>.bias` [O].
  Tensor conv2d(Tensor x, int64_t outChannels, std::array<int64_t, 2> kernel,
                const std::string &name, const Conv2DOptions &options = {});
  // Inference-mode batch norm over axis 1 with `<name>.weight` (ones),
  // `.bias` (zeros), `.running_mean` (zeros), `.running_var` (ones).
  Tensor batchNorm(Tensor x, const std::string &name, double epsilon = 1e-5,
                   double momentum = 0.1);
  // Normalizes over x.shape[axis:]; `<name>.weight` (ones), `.bias` (zeros).
  Tensor layerNorm(Tensor x, const std::string &name, int64_t axis = -1,
                   double epsilon = 1e-5);
  // `<name>.weight` [channels]. kiln has no constant initializer, so the
  // slope starts at 0 (PyTorch: 0.25) unless loaded from a checkpoint.
  Tensor prelu(Tensor x, const std::string &name, int64_t channels = 1);

  // The same ops on tensors the caller provides (shared or custom weights).
  Tensor dense(Tensor x, Tensor weight, std::optional<Tensor> bias);
  Tensor conv2d(Tensor x, Tensor weight, std::optional<Tensor> bias,
                const Conv2DOptions &options = {});
  Tensor batchNorm(Tensor x, Tensor weight, Tensor bias, Tensor runningMean,
                   Tensor runningVar, double epsilon = 1e-5,
                   double momentum = 0.1);
  Tensor layerNorm(Tensor x, Tensor weight, std::optional<Tensor> bias,
                   int64_t axis = -1, double epsilon = 1e-5);
  Tensor prelu(Tensor x, Tensor slope);

  //===--------------------------------------------------------------------===//
  // Activations
  //===--------------------------------------------------------------------===//

  Tensor relu(Tensor x);
  Tensor relu6(Tensor x);
  Tensor sigmoid(Tensor x);
  Tensor tanh(Tensor x);
  Tensor step(Tensor x);
  Tensor selu(Tensor x);
  Tensor silu(Tensor x);
  Tensor mish(Tensor x); // x * tanh(softplus(x))
  Tensor sin(Tensor x);
  Tensor identity(Tensor x);
  Tensor leakyRelu(Tensor x, double alpha = 0.01);
  Tensor elu(Tensor x, double alpha = 1.0);
  Tensor gelu(Tensor x, const std::string &approximate = "none");
  Tensor softplus(Tensor x, double beta = 1.0, double threshold = 20.0);
  Tensor softmax(Tensor x, int64_t axis = -1);
  Tensor logSoftmax(Tensor x, int64_t axis = -1);

  //===--------------------------------------------------------------------===//
  // Pooling, views, elementwise arithmetic
  //===--------------------------------------------------------------------===//

  Tensor maxPool2d(Tensor x, std::array<int64_t, 2> kernel,
                   const PoolOptions &options = {});
  Tensor avgPool2d(Tensor x, std::array<int64_t, 2> kernel,
                   const PoolOptions &options = {});
  Tensor globalAvgPool(Tensor x);
  Tensor flatten(Tensor x, int64_t axis = 1);
  // `0` copies the input's dim, `-1` is inferred (ONNX Reshape).
  Tensor reshape(Tensor x, llvm::ArrayRef<int64_t> shape);
  Tensor dropout(Tensor x, double rate = 0.5);
  Tensor add(Tensor lhs, Tensor rhs);
  Tensor sub(Tensor lhs, Tensor rhs);
  Tensor mul(Tensor lhs, Tensor rhs);
  Tensor div(Tensor lhs, Tensor rhs);
  Tensor concat(llvm::ArrayRef<Tensor> inputs, int64_t axis);

  //===--------------------------------------------------------------------===//
  // Losses (rank-0 result, mean reduction)
  //===--------------------------------------------------------------------===//

  Tensor mse(Tensor pred, Tensor target);
  Tensor mae(Tensor pred, Tensor target);
  Tensor huber(Tensor pred, Tensor target, double delta = 1.0);
  Tensor bce(Tensor prob, Tensor target);
  Tensor bceLogits(Tensor logits, Tensor target);
  Tensor cce(Tensor logits, Tensor target);
  Tensor sparseCce(Tensor logits, Tensor labels);
  Tensor hinge(Tensor pred, Tensor target);

private:
  // Creates an op with a placeholder result type, then sets the type
  // inferred by its ShapeInferenceOpInterface and verifies it; on failure
  // erases it and throws Error with the op's diagnostics.
  template <typename OpTy>
  Tensor create(llvm::ArrayRef<Tensor> operands,
                llvm::ArrayRef<mlir::NamedAttribute> attributes = {},
                std::optional<mlir::Location> loc = std::nullopt);
  // Runs `build`; if it throws, removes every op and parameter name it
  // added, so a failed layer call leaves the graph unchanged.
  Tensor atomically(llvm::function_ref<Tensor()> build);
  mlir::Block &body();

  mlir::MLIRContext &ctx_;
  mlir::OpBuilder builder_;
  mlir::OwningOpRef<mlir::ModuleOp> module_;
  mlir::Operation *function_ = nullptr;
  std::vector<std::string> inputNames_;
  std::vector<std::pair<std::string, Tensor>> outputs_;
  std::vector<std::string> paramOrder_;
  std::unordered_set<std::string> paramNames_;
};

// A chain of layers over one running tensor. Layers without a name get
// `<kind><n>` where n counts the layers of that kind in this chain:
// conv (conv2d), bn (batchNorm), ln (layerNorm), fc (dense), prelu.
class Sequential {
public:
  Sequential(GraphBuilder &builder, Tensor input)
      : builder_(builder), current_(input) {}

  Sequential &dense(int64_t outFeatures, const std::string &name = "",
                    bool bias = true);
  Sequential &conv2d(int64_t outChannels, std::array<int64_t, 2> kernel,
                     const Conv2DOptions &options = {},
                     const std::string &name = "");
  Sequential &batchNorm(const std::string &name = "", double epsilon = 1e-5,
                        double momentum = 0.1);
  Sequential &layerNorm(const std::string &name = "", int64_t axis = -1,
                        double epsilon = 1e-5);
  Sequential &prelu(int64_t channels = 1, const std::string &name = "");

  Sequential &relu();
  Sequential &relu6();
  Sequential &sigmoid();
  Sequential &tanh();
  Sequential &step();
  Sequential &selu();
  Sequential &silu();
  Sequential &mish();
  Sequential &sin();
  Sequential &identity();
  Sequential &leakyRelu(double alpha = 0.01);
  Sequential &elu(double alpha = 1.0);
  Sequential &gelu(const std::string &approximate = "none");
  Sequential &softplus(double beta = 1.0, double threshold = 20.0);
  Sequential &softmax(int64_t axis = -1);
  Sequential &logSoftmax(int64_t axis = -1);

  Sequential &maxPool2d(std::array<int64_t, 2> kernel,
                        const PoolOptions &options = {});
  Sequential &avgPool2d(std::array<int64_t, 2> kernel,
                        const PoolOptions &options = {});
  Sequential &globalAvgPool();
  Sequential &flatten(int64_t axis = 1);
  Sequential &reshape(llvm::ArrayRef<int64_t> shape);
  Sequential &dropout(double rate = 0.5);

  // Any functional block, e.g. a residual block: `fn(builder, x) -> y`.
  template <typename Fn> Sequential &apply(Fn &&fn) {
    current_ = fn(builder_, current_);
    return *this;
  }

  // The chain's current tensor.
  Tensor output() const { return current_; }

private:
  // `name` if given, otherwise `<kind><n>`.
  std::string layerName(const std::string &kind, const std::string &name);

  GraphBuilder &builder_;
  Tensor current_;
  std::map<std::string, int> layerCounts_;
};

} // namespace kiln::frontend

#endif // KILN_FRONTEND_BUILDER_H
