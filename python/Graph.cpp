//===- Graph.cpp - kiln.Graph: the C++ graph builder for Python ---------===//
#include "Graph.h"

#include "kiln/frontend/Builder.h"

#include "llvm/Support/raw_ostream.h"

#include <map>

namespace kiln::python {

using frontend::Error;
using frontend::GraphBuilder;
using frontend::Tensor;

struct Graph::Impl {
  mlir::MLIRContext ctx;
  GraphBuilder builder{ctx};
  std::vector<Tensor> values;

  Tensor at(int index) const {
    if (index < 0 || static_cast<size_t>(index) >= values.size()) {
      throw Error("not a tensor of this graph (#" + std::to_string(index) +
                  ")");
    }
    return values[static_cast<size_t>(index)];
  }
  int add(Tensor t) {
    values.push_back(t);
    return static_cast<int>(values.size() - 1);
  }
};

namespace {

frontend::Conv2DOptions convOptions(const ConvSpec &s) {
  frontend::Conv2DOptions o;
  o.strides = s.strides;
  o.pads = s.pads;
  o.dilations = s.dilations;
  o.groups = s.groups;
  o.bias = s.bias;
  o.paddingMode = s.paddingMode;
  return o;
}

frontend::PoolOptions poolOptions(const PoolSpec &s) {
  frontend::PoolOptions o;
  o.strides = s.strides;
  o.pads = s.pads;
  o.ceilMode = s.ceilMode;
  o.countIncludePad = s.countIncludePad;
  return o;
}

} // namespace

Graph::Graph() : impl_(std::make_unique<Impl>()) {}
Graph::~Graph() = default;

int Graph::input(const std::string &name, const std::vector<int64_t> &shape,
                 const std::string &dtype) {
  if (dtype != "float32" && dtype != "int32") {
    throw Error("input '" + name + "': dtype must be float32 or int32, got " +
                dtype);
  }
  return impl_->add(impl_->builder.input(
      name, shape,
      dtype == "int32" ? frontend::DType::I32 : frontend::DType::F32));
}

void Graph::output(const std::string &name, int value) {
  impl_->builder.output(name, impl_->at(value));
}

std::string Graph::finish() {
  mlir::OwningOpRef<mlir::ModuleOp> module = impl_->builder.finish();
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  return os.str();
}

std::vector<int64_t> Graph::shape(int value) const {
  auto shape = impl_->at(value).shape();
  return {shape.begin(), shape.end()};
}

int Graph::dense(int x, int64_t outFeatures, const std::string &name,
                 bool bias) {
  return impl_->add(impl_->builder.dense(impl_->at(x), outFeatures, name, bias));
}

int Graph::conv2d(int x, int64_t outChannels, const ConvSpec &spec,
                  const std::string &name) {
  return impl_->add(impl_->builder.conv2d(impl_->at(x), outChannels,
                                          spec.kernel, name,
                                          convOptions(spec)));
}

int Graph::batchNorm(int x, const std::string &name, double epsilon,
                     double momentum) {
  return impl_->add(
      impl_->builder.batchNorm(impl_->at(x), name, epsilon, momentum));
}

int Graph::layerNorm(int x, const std::string &name, int64_t axis,
                     double epsilon) {
  return impl_->add(impl_->builder.layerNorm(impl_->at(x), name, axis, epsilon));
}

int Graph::prelu(int x, const std::string &name, int64_t channels) {
  return impl_->add(impl_->builder.prelu(impl_->at(x), name, channels));
}

int Graph::activation(int x, const std::string &kind, double a, double b,
                      const std::string &approximate) {
  using Unary = Tensor (GraphBuilder::*)(Tensor);
  static const std::map<std::string, Unary> unary = {
      {"relu", &GraphBuilder::relu},         {"relu6", &GraphBuilder::relu6},
      {"sigmoid", &GraphBuilder::sigmoid},   {"tanh", &GraphBuilder::tanh},
      {"step", &GraphBuilder::step},         {"selu", &GraphBuilder::selu},
      {"silu", &GraphBuilder::silu},         {"mish", &GraphBuilder::mish},
      {"sin", &GraphBuilder::sin},           {"identity", &GraphBuilder::identity},
  };
  GraphBuilder &g = impl_->builder;
  Tensor t = impl_->at(x);
  if (auto it = unary.find(kind); it != unary.end()) {
    return impl_->add((g.*(it->second))(t));
  }
  if (kind == "leaky_relu") {
    return impl_->add(g.leakyRelu(t, a));
  }
  if (kind == "elu") {
    return impl_->add(g.elu(t, a));
  }
  if (kind == "softplus") {
    return impl_->add(g.softplus(t, a, b));
  }
  if (kind == "gelu") {
    return impl_->add(g.gelu(t, approximate));
  }
  if (kind == "softmax") {
    return impl_->add(g.softmax(t, static_cast<int64_t>(a)));
  }
  if (kind == "log_softmax") {
    return impl_->add(g.logSoftmax(t, static_cast<int64_t>(a)));
  }
  throw Error("unknown activation '" + kind + "'");
}

int Graph::maxPool2d(int x, const PoolSpec &spec) {
  return impl_->add(
      impl_->builder.maxPool2d(impl_->at(x), spec.kernel, poolOptions(spec)));
}

int Graph::avgPool2d(int x, const PoolSpec &spec) {
  return impl_->add(
      impl_->builder.avgPool2d(impl_->at(x), spec.kernel, poolOptions(spec)));
}

int Graph::globalAvgPool(int x) {
  return impl_->add(impl_->builder.globalAvgPool(impl_->at(x)));
}

int Graph::flatten(int x, int64_t axis) {
  return impl_->add(impl_->builder.flatten(impl_->at(x), axis));
}

int Graph::reshape(int x, const std::vector<int64_t> &shape) {
  return impl_->add(impl_->builder.reshape(impl_->at(x), shape));
}

int Graph::dropout(int x, double rate) {
  return impl_->add(impl_->builder.dropout(impl_->at(x), rate));
}

int Graph::binary(const std::string &kind, int lhs, int rhs) {
  using Binary = Tensor (GraphBuilder::*)(Tensor, Tensor);
  static const std::map<std::string, Binary> ops = {
      {"add", &GraphBuilder::add},
      {"sub", &GraphBuilder::sub},
      {"mul", &GraphBuilder::mul},
      {"div", &GraphBuilder::div},
  };
  auto it = ops.find(kind);
  if (it == ops.end()) {
    throw Error("unknown elementwise op '" + kind + "'");
  }
  return impl_->add(
      (impl_->builder.*(it->second))(impl_->at(lhs), impl_->at(rhs)));
}

int Graph::concat(const std::vector<int> &values, int64_t axis) {
  std::vector<Tensor> inputs;
  for (int v : values) {
    inputs.push_back(impl_->at(v));
  }
  return impl_->add(impl_->builder.concat(inputs, axis));
}

} // namespace kiln::python
