//===- Importer.h - the ONNX importer's class, internal to KilnOnnx -------===//
//
// Shared by Importer.cpp (the driver and the node handlers) and
// HostEval.cpp (constant propagation: nodes whose inputs are all known at
// import time are evaluated on the host).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_ONNX_LIB_IMPORTER_H
#define KILN_FRONTEND_ONNX_LIB_IMPORTER_H

#include "OnnxSupport.h"
#include "OpVersions.h"

#include "kiln/ir/KilnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>

using namespace mlir;
namespace kir = kiln::ir;

namespace kiln::frontend::onnx_import {

using onnx_detail::elementTypeName;
using onnx_detail::fromProto;
using TP = onnx::TensorProto;

constexpr llvm::StringLiteral kNameAttr = "kiln.name";
using onnx_detail::kMaxOpset;
using onnx_detail::kMinOpset;

inline int64_t product(const std::vector<int64_t> &shape, size_t from = 0,
                size_t to = SIZE_MAX) {
  int64_t n = 1;
  size_t end = std::min(to, shape.size());
  for (size_t i = from; i < end; ++i) {
    n *= shape[i];
  }
  return n;
}

inline std::string shapeText(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += (i ? "," : "") + std::to_string(shape[i]);
  }
  return s + "]";
}

inline int64_t toInt(double v) {
  if (v >= 9.2e18) {
    return std::numeric_limits<int64_t>::max();
  }
  if (v <= -9.2e18) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(v);
}

inline std::vector<int64_t> rowStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

inline bool isIntegerType(int t) {
  return t != TP::FLOAT && t != TP::DOUBLE && t != TP::FLOAT16;
}

// Rounds a host value to its element type (what ONNX would store).
inline double roundTo(int type, double v) {
  switch (type) {
  case TP::FLOAT:
  case TP::FLOAT16:
    return static_cast<float>(v);
  case TP::DOUBLE:
    return v;
  case TP::BOOL:
    return v != 0 ? 1 : 0;
  default:
    return std::trunc(v);
  }
}

// Collects the diagnostics emitted while it lives.
// NumPy broadcasting of two shapes (`ok` false when they do not broadcast).
std::vector<int64_t> broadcastShapes(const std::vector<int64_t> &a,
                                     const std::vector<int64_t> &b, bool &ok);
// The flat index into `shape` (right-aligned, size-1 dims broadcast) of the
// element at `index` of a tensor of shape `out`.
int64_t broadcastIndex(int64_t index, const std::vector<int64_t> &out,
                       const std::vector<int64_t> &shape);

class DiagnosticText {
public:
  explicit DiagnosticText(MLIRContext &ctx)
      : handler_(&ctx, [this](Diagnostic &diag) {
          if (!text_.empty()) {
            text_ += "; ";
          }
          text_ += diag.str();
          return success();
        }) {}
  const std::string &text() const { return text_; }

private:
  std::string text_;
  ScopedDiagnosticHandler handler_;
};

class Importer {
public:
  Importer(MLIRContext &ctx, const OnnxImportOptions &options)
      : ctx_(ctx), b_(&ctx), options_(options) {
    registerHandlers();
  }

  OnnxModel run(const onnx::ModelProto &model);

private:
  // A graph value: known on the host, an SSA value, or an output kiln does
  // not produce (using it is an error).
  struct Entry {
    std::optional<OnnxTensor> host;
    Value value;
    bool initializer = false;
    std::string paramName; // of an initializer (Identity keeps it)
    std::string unsupported;
  };

  // The node being imported: attribute access records what was read.
  struct Node {
    const onnx::NodeProto &proto;
    std::set<std::string> read;
    int64_t version = 0; // the op's ONNX version at the model's opset
  };

  //===-- errors, attributes, inputs ----------------------------------------===//

  // An integer from a host tensor's value (a shape, axis, pad or index):
  // infinities saturate, NaN is an error (found by fuzz-onnx: a NaN pad
  // was cast to int64_t, which is undefined).
  int64_t hostInt(double v) const {
    if (std::isnan(v)) {
      fail("NaN where an integer (a shape, axis, pad or index) is expected");
    }
    return toInt(v);
  }

  [[noreturn]] void fail(const std::string &problem) const {
    if (!node_) {
      throw Error(problem);
    }
    const onnx::NodeProto &n = node_->proto;
    std::string name = n.name().empty() ? (n.output_size() ? n.output(0) : "")
                                        : n.name();
    std::string version =
        node_->version ? "-" + std::to_string(node_->version) : "";
    throw Error("ONNX " + n.op_type() + version + " node '" + name +
                "': " + problem);
  }

  const onnx::AttributeProto *attr(const std::string &name) {
    node_->read.insert(name);
    for (const auto &a : node_->proto.attribute()) {
      if (a.name() == name) {
        return &a;
      }
    }
    return nullptr;
  }
  bool has(const std::string &name) { return attr(name) != nullptr; }
  int64_t attrInt(const std::string &name, int64_t def) {
    const auto *a = attr(name);
    if (!a) {
      return def;
    }
    if (a->type() != onnx::AttributeProto::INT) {
      fail("attribute '" + name + "' must be an int");
    }
    return a->i();
  }
  double attrFloat(const std::string &name, double def) {
    const auto *a = attr(name);
    if (!a) {
      return def;
    }
    if (a->type() != onnx::AttributeProto::FLOAT) {
      fail("attribute '" + name + "' must be a float");
    }
    return a->f();
  }
  std::string attrString(const std::string &name, const std::string &def) {
    const auto *a = attr(name);
    if (!a) {
      return def;
    }
    if (a->type() != onnx::AttributeProto::STRING) {
      fail("attribute '" + name + "' must be a string");
    }
    return a->s();
  }
  std::optional<std::vector<int64_t>> attrInts(const std::string &name) {
    const auto *a = attr(name);
    if (!a) {
      return std::nullopt;
    }
    if (a->type() != onnx::AttributeProto::INTS) {
      fail("attribute '" + name + "' must be a list of ints");
    }
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  }
  // Fails on an attribute the handler accepted but whose value kiln lacks.
  [[noreturn]] void unsupportedValue(const std::string &name,
                                     const std::string &value) {
    fail("unsupported attribute " + name + "=" + value);
  }
  void checkAllAttributesRead() {
    for (const auto &a : node_->proto.attribute()) {
      if (!node_->read.count(a.name())) {
        fail("unsupported attribute '" + a.name() + "'");
      }
    }
  }

  size_t numInputs() const { return node_->proto.input_size(); }
  bool hasInput(size_t i) const {
    return i < numInputs() && !node_->proto.input(i).empty();
  }
  Entry &entry(const std::string &name) {
    auto it = values_.find(name);
    if (it == values_.end()) {
      fail("input '" + name + "' is not defined before its use");
    }
    if (!it->second.unsupported.empty()) {
      fail("uses '" + name + "', " + it->second.unsupported);
    }
    return it->second;
  }
  Entry &input(size_t i) {
    if (!hasInput(i)) {
      fail("missing input #" + std::to_string(i));
    }
    return entry(node_->proto.input(i));
  }
  const OnnxTensor *host(size_t i) {
    return hasInput(i) ? (input(i).host ? &*input(i).host : nullptr) : nullptr;
  }
  const OnnxTensor &requireHost(size_t i, const char *what) {
    const OnnxTensor *t = host(i);
    if (!t) {
      fail(std::string("input '") + what +
           "' must be known at import time (a constant or initializer)");
    }
    return *t;
  }
  std::vector<int64_t> hostInts(size_t i, const char *what) {
    std::vector<int64_t> out;
    for (double v : requireHost(i, what).values) {
      out.push_back(hostInt(v));
    }
    return out;
  }
  // The input as an SSA value; `init` names the initializer kind used if it
  // becomes a parameter.
  Value data(size_t i, const char *init = "zeros") {
    return valueOf(input(i), init);
  }
  // An entry as an SSA value (a host tensor becomes a constant, an
  // initializer a parameter).
  Value valueOf(Entry &e, const char *init = "zeros") {
    if (!e.value) {
      e.value = e.initializer ? makeParam(e.paramName, *e.host, init)
                              : makeConstant(*e.host);
    }
    return e.value;
  }
  std::vector<int64_t> shapeOf(size_t i) {
    Entry &e = input(i);
    if (e.host) {
      return e.host->shape;
    }
    auto type = llvm::cast<RankedTensorType>(e.value.getType());
    return {type.getShape().begin(), type.getShape().end()};
  }
  static std::vector<int64_t> shapeOf(Value v) {
    auto type = llvm::cast<RankedTensorType>(v.getType());
    return {type.getShape().begin(), type.getShape().end()};
  }
  int elementTypeOf(size_t i) {
    Entry &e = input(i);
    if (e.host) {
      return e.host->elementType;
    }
    return llvm::cast<RankedTensorType>(e.value.getType())
                   .getElementType()
                   .isF32()
               ? TP::FLOAT
               : TP::INT32;
  }
  // Input i as f32: a run-time i32 value (an integer or boolean graph
  // input) through kiln.cast.
  Value floatData(size_t i) {
    return elementTypeOf(i) == TP::INT32 ? emit("kiln.cast", {data(i)})
                                         : data(i);
  }
  // ONNX's Cast to bool of an f32 value: 1 where it is not 0 (NaN too).
  Value truth(Value v) {
    return emit("kiln.where", {v, scalarConstant(1), scalarConstant(0)});
  }
  void requireFloat(size_t i) {
    int t = elementTypeOf(i);
    if (t != TP::FLOAT && !(input(i).host && isIntegerType(t) == false)) {
      fail("input #" + std::to_string(i) + " has element type " +
           elementTypeName(t) + "; kiln computes in f32 only");
    }
  }
  int64_t normAxis(int64_t axis, int64_t rank, bool inclusive = false) {
    int64_t limit = inclusive ? rank + 1 : rank;
    int64_t a = axis < 0 ? axis + limit : axis;
    if (a < 0 || a >= limit) {
      fail("axis " + std::to_string(axis) + " is out of range for rank " +
           std::to_string(rank));
    }
    return a;
  }

  //===-- outputs -----------------------------------------------------------===//

  void setOutput(size_t i, Value v) {
    if (i < static_cast<size_t>(node_->proto.output_size()) &&
        !node_->proto.output(i).empty()) {
      Entry e;
      e.value = v;
      values_[node_->proto.output(i)] = e;
    }
  }
  void setHostOutput(size_t i, OnnxTensor t) {
    if (i < static_cast<size_t>(node_->proto.output_size()) &&
        !node_->proto.output(i).empty()) {
      Entry e;
      t.name = node_->proto.output(i);
      e.host = std::move(t);
      values_[node_->proto.output(i)] = e;
    }
  }
  // Optional outputs kiln does not compute: an error only when used.
  void markUnsupportedOutputs(size_t from, const std::string &why) {
    for (int i = from; i < node_->proto.output_size(); ++i) {
      if (!node_->proto.output(i).empty()) {
        Entry e;
        e.unsupported = "output #" + std::to_string(i) + " of " +
                        node_->proto.op_type() + " node '" +
                        node_->proto.name() + "' (" + why + ")";
        values_[node_->proto.output(i)] = e;
      }
    }
  }

  //===-- building kiln ops -------------------------------------------------===//

  Location loc() {
    // The node's name, else its first output's, else its op type (a node
    // may have neither: found by fuzz-onnx).
    const onnx::NodeProto &n = node_->proto;
    std::string name = !n.name().empty()     ? n.name()
                       : n.output_size() > 0 ? n.output(0)
                                             : n.op_type();
    return NameLoc::get(b_.getStringAttr(name));
  }

  Value emit(StringRef opName, ValueRange operands,
             ArrayRef<NamedAttribute> attrs = {}) {
    OperationState state(loc(), opName);
    state.addOperands(operands);
    state.addAttributes(attrs);
    DiagnosticText diagnostics(ctx_);
    SmallVector<Type> types;
    if (failed(kir::inferResultTypesOf(state.name, state.location, operands,
                                       b_.getDictionaryAttr(attrs), nullptr,
                                       types))) {
      fail("cannot build " + opName.str() + ": " + diagnostics.text());
    }
    state.addTypes(types);
    Operation *op = b_.create(state);
    if (failed(mlir::verify(op))) {
      op->erase();
      fail("cannot build " + opName.str() + ": " + diagnostics.text());
    }
    return op->getResult(0);
  }
  NamedAttribute named(StringRef name, Attribute value) {
    return b_.getNamedAttr(name, value);
  }
  NamedAttribute ints(StringRef name, llvm::ArrayRef<int64_t> v) {
    return named(name, b_.getDenseI64ArrayAttr(v));
  }
  NamedAttribute i64(StringRef name, int64_t v) {
    return named(name, b_.getI64IntegerAttr(v));
  }
  NamedAttribute f32(StringRef name, double v) {
    return named(name, b_.getF32FloatAttr(static_cast<float>(v)));
  }
  NamedAttribute f64(StringRef name, double v) {
    return named(name, b_.getF64FloatAttr(v));
  }
  NamedAttribute boolean(StringRef name, bool v) {
    return named(name, b_.getBoolAttr(v));
  }
  NamedAttribute str(StringRef name, StringRef v) {
    return named(name, b_.getStringAttr(v));
  }

  Value makeParam(const std::string &name, const OnnxTensor &t,
                  const char *init) {
    if (auto it = params_.find(name); it != params_.end()) {
      return it->second;
    }
    if (!t.isFloat()) {
      fail("initializer '" + name + "' of type " +
           elementTypeName(t.elementType) +
           " is used as data; kiln computes in f32 only");
    }
    OpBuilder::InsertionGuard guard(b_);
    b_.setInsertionPointToStart(body_);
    auto type = RankedTensorType::get(t.shape, b_.getF32Type());
    auto op = b_.create<kir::ParamOp>(
        NameLoc::get(b_.getStringAttr(name)), TypeRange{type}, ValueRange{},
        ArrayRef<NamedAttribute>{str("name", name), str("init", init)});
    OnnxTensor w = t;
    w.name = name;
    w.elementType = TP::FLOAT;
    weights_[name] = std::move(w);
    params_[name] = op.getResult();
    return op.getResult();
  }
  Value makeConstant(const OnnxTensor &t) {
    auto type = RankedTensorType::get(t.shape, b_.getF32Type());
    std::vector<float> v(t.values.begin(), t.values.end());
    DenseElementsAttr value =
        !v.empty() && std::all_of(v.begin(), v.end(),
                                  [&](float x) { return x == v[0]; })
            ? DenseElementsAttr::get(type, v[0])
            : DenseElementsAttr::get(type, llvm::ArrayRef<float>(v));
    return b_.create<kir::ConstantOp>(loc(), type, value).getResult();
  }
  // An integer tensor known at import time as an i32 constant (a graph
  // output); throws naming `what` and the value if one does not fit.
  Value makeIntConstant(const std::string &what, const OnnxTensor &t) {
    auto type = RankedTensorType::get(t.shape, b_.getI32Type());
    std::vector<int32_t> v;
    v.reserve(t.values.size());
    for (double x : t.values) {
      if (!(x >= INT32_MIN && x <= INT32_MAX) || x != std::floor(x)) {
        throw Error("graph output '" + what + "' holds " + std::to_string(static_cast<long long>(x)) +
                    ", which kiln's i32 outputs cannot hold");
      }
      v.push_back(static_cast<int32_t>(x));
    }
    return i32Constant(v, t.shape);
  }
  Value scalarConstant(double v) {
    OnnxTensor t;
    t.values = {v};
    return makeConstant(t);
  }
  // x broadcast (numpy rules) against `shape`: an add of a zero constant,
  // whose gradient sums the copies back.
  Value broadcastTo(Value x, const std::vector<int64_t> &shape) {
    OnnxTensor zeros;
    zeros.shape = shape;
    zeros.values.assign(product(shape), 0.0);
    return emit("kiln.add", {x, makeConstant(zeros)});
  }
  Value scale(Value x, double factor) {
    return emit("kiln.scale", {x}, {f64("factor", factor)});
  }
  Value reshape(Value x, llvm::ArrayRef<int64_t> shape) {
    if (shapeOf(x) == std::vector<int64_t>(shape.begin(), shape.end())) {
      return x;
    }
    return emit("kiln.reshape", {x}, {ints("shape", shape)});
  }
  // x[begin:end] per axis (step 1) as a pad with negative pads, which has a
  // gradient (a pad with the opposite pads).
  Value crop(Value x, const std::vector<int64_t> &begin,
             const std::vector<int64_t> &end) {
    std::vector<int64_t> shape = shapeOf(x), pads(2 * shape.size());
    bool any = false;
    for (size_t d = 0; d < shape.size(); ++d) {
      pads[d] = -begin[d];
      pads[d + shape.size()] = -(shape[d] - end[d]);
      any = any || pads[d] || pads[d + shape.size()];
    }
    if (!any) {
      return x;
    }
    return emit("kiln.pad", {x}, {ints("pads", pads)});
  }

  //===-- host evaluation ---------------------------------------------------===//

  OnnxTensor hostBroadcast(const OnnxTensor &a, const OnnxTensor &b, int type,
                           const std::function<double(double, double)> &fn);
  OnnxTensor hostGather(const OnnxTensor &data, const OnnxTensor &indices,
                        int64_t axis);
  OnnxTensor hostTranspose(const OnnxTensor &x,
                           const std::vector<int64_t> &perm);
  bool foldOnHost();
  // ONNX Mod's function by its fmod attribute; fails on fmod = 0 with
  // float inputs (undefined by ONNX).
  std::function<double(double, double)> modFunction(bool integers);

  //===-- node handlers ------------------------------------------------------===//

  void importNode(const onnx::NodeProto &node);
  // Control flow, unrolled at import time (ControlFlow.cpp).
  std::vector<Entry> importSubgraph(const onnx::GraphProto &graph,
                                    const std::vector<Entry> &inputs);
  const onnx::GraphProto &graphAttr(const std::string &name);
  void setEntryOutput(size_t i, const Entry &e);
  Value stack(const std::vector<Value> &steps, int64_t axis, bool reverse);
  Value take(Value x, int64_t axis, int64_t at);
  std::vector<Entry> scanSteps(const onnx::GraphProto &body,
                               std::vector<Entry> states,
                               const std::vector<Value> &inputs,
                               const std::vector<int64_t> &inAxes,
                               const std::vector<int64_t> &inReverse,
                               const std::vector<int64_t> &outAxes,
                               const std::vector<int64_t> &outReverse);
  void ifOp();
  void loopOp();
  void scanOp();
  void convOp();
  void convTransposeOp();
  void poolOp(bool max);
  void globalPoolOp(bool max);
  void batchNormOp();
  Value runningStatistic(size_t i, const char *statistic, const char *init);
  void gemmOp();
  void matmulOp();
  void einsumOp();
  void softmaxOp(bool log);
  void clipOp();
  void dropoutOp();
  void reshapeLikeOp();
  void sliceOp();
  void splitOp();
  void gatherOp();
  void gatherElementsOp();
  void resizeOp();
  void hardmaxOp();
  void recurrentOp();
  void reduceOp(const std::string &kind);
  Value labelsOf(size_t i);
  Value i32Constant(const std::vector<int32_t> &values,
                    const std::vector<int64_t> &shape);
  void scatterElementsOp();
  void maxUnpoolOp();
  Value nllLoss(Value logProb);
  void padOp();
  void powOp();
  void binaryOp(const std::string &kind);
  void legacyBroadcast();
  int castTarget();
  static bool isWindowOp(const std::string &op);
  void importAs2d();
  void depthSpaceOp();
  void tileOp();
  void gatherScatterNDOp();
  void oneHotOp();
  void instanceNormOp();
  void layerNormOp();
  void sceLossOp();
  void preluOp();
  void concatOp();
  Value hardSigmoid(Value x, double alpha, double beta);
  std::vector<int64_t> reduceAxes(int64_t rank);
  // Pads [top,left,bottom,right] resolved from ONNX's attrs for a 2-D window.
  void windowAttrs(std::vector<NamedAttribute> &attrs,
                   const std::vector<int64_t> &kernel, bool dilations);

  MLIRContext &ctx_;
  OpBuilder b_;
  const OnnxImportOptions &options_;
  int64_t opset_ = 0;
  Block *body_ = nullptr;
  Node *node_ = nullptr;
  std::map<std::string, Entry> values_;
  int liftedNodes_ = 0; // importAs2d's nodes, for unique value names
  int64_t unrolledNodes_ = 0; // imported from control-flow bodies
  std::map<std::string, OnnxTensor> weights_;
  std::map<std::string, Value> params_;
  // How many node inputs of the main graph name each initializer.
  std::map<std::string, int> initializerUses_;
  // sigmoid result -> its input, to recognize x * sigmoid(x) as silu.
  llvm::DenseMap<Value, Value> sigmoidOf_;
  // The data-path ops' handlers by ONNX op type (registerHandlers).
  std::map<std::string, std::function<void()>> handlers_;
  void registerHandlers();
};

} // namespace kiln::frontend::onnx_import

#endif // KILN_FRONTEND_ONNX_LIB_IMPORTER_H
