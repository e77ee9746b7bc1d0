//===- Graph.h - kiln.Graph: the C++ graph builder for Python -*- C++ -*-===//
//
// A graph under construction from Python (kiln.Graph, kiln.Sequential,
// docs/python.md): frontend::GraphBuilder with its own MLIR context,
// behind a plain interface (no MLIR types), so that the pybind11 module
// (built with RTTI) never touches the -fno-rtti MLIR classes. Values are
// indices into the graph's list of tensors. Errors are
// kiln::frontend::Error (a std::runtime_error) with the builder's
// diagnostics.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PYTHON_GRAPH_H
#define KILN_PYTHON_GRAPH_H

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kiln::python {

struct ConvSpec {
  std::array<int64_t, 2> kernel{1, 1};
  std::vector<int64_t> strides{1, 1};
  std::vector<int64_t> pads{0, 0, 0, 0}; // top, left, bottom, right
  std::vector<int64_t> dilations{1, 1};
  int64_t groups = 1;
  bool bias = true;
  std::string paddingMode = "zeros";
};

struct PoolSpec {
  std::array<int64_t, 2> kernel{2, 2};
  std::vector<int64_t> strides; // empty: the kernel
  std::vector<int64_t> pads{0, 0, 0, 0};
  bool ceilMode = false;
  bool countIncludePad = true;
};

class Graph {
public:
  Graph();
  ~Graph();
  Graph(const Graph &) = delete;
  Graph &operator=(const Graph &) = delete;

  int input(const std::string &name, const std::vector<int64_t> &shape,
            const std::string &dtype);
  void output(const std::string &name, int value);
  // The module as kiln dialect text; the graph is finished afterwards.
  std::string finish();
  std::vector<int64_t> shape(int value) const;

  int dense(int x, int64_t outFeatures, const std::string &name, bool bias);
  int conv2d(int x, int64_t outChannels, const ConvSpec &spec,
             const std::string &name);
  int batchNorm(int x, const std::string &name, double epsilon,
                double momentum);
  int layerNorm(int x, const std::string &name, int64_t axis, double epsilon);
  int prelu(int x, const std::string &name, int64_t channels);
  // relu, relu6, sigmoid, tanh, step, selu, silu, mish, sin, identity;
  // leaky_relu and elu (alpha = a), softplus (beta = a, threshold = b),
  // gelu (approximate), softmax and log_softmax (axis = a).
  int activation(int x, const std::string &kind, double a, double b,
                 const std::string &approximate);
  int maxPool2d(int x, const PoolSpec &spec);
  int avgPool2d(int x, const PoolSpec &spec);
  int globalAvgPool(int x);
  int flatten(int x, int64_t axis);
  int reshape(int x, const std::vector<int64_t> &shape);
  int dropout(int x, double rate);
  // add, sub, mul, div (NumPy broadcasting).
  int binary(const std::string &kind, int lhs, int rhs);
  int concat(const std::vector<int> &values, int64_t axis);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace kiln::python

#endif // KILN_PYTHON_GRAPH_H
