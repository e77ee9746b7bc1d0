//===- ControlFlow.cpp - ONNX If, Loop and Scan, unrolled at import ------===//
//
// kiln's graphs are static dataflow, so ONNX's control flow becomes
// straight-line kiln ops at import time:
// - If: a condition known at import time imports the branch it takes; one
//   computed at run time imports both branches and selects between their
//   outputs with kiln.where (so their outputs must share a shape). The
//   gradient then goes to the branch that was taken, element by element.
// - Loop: unrolled; the trip count and the condition (the initial one and
//   the body's after every iteration) must be known at import time, as
//   they are in a `for i in range(n)` exported from TorchScript.
// - Scan: unrolled over the scan inputs' static length (Scan-8, with a
//   batch axis, once per batch element; its sequence_lens, if given, must
//   be known at import time and cover the whole sequence).
// A body is imported in the scope of the node: it reads outer values by
// name. Its nodes' errors name them, prefixed with the control-flow node.
#include "Importer.h"

namespace kiln::frontend::onnx_import {

namespace {

// More iterations than this is a model kiln cannot unroll sensibly.
constexpr int64_t kMaxUnroll = 4096;
// Nodes imported from bodies and branches in all, nested loops included.
constexpr int64_t kMaxUnrolledNodes = 1000000;

} // namespace

const onnx::GraphProto &Importer::graphAttr(const std::string &name) {
  const onnx::AttributeProto *a = attr(name);
  if (!a || a->type() != onnx::AttributeProto::GRAPH) {
    fail("needs a graph attribute '" + name + "'");
  }
  return a->g();
}

void Importer::setEntryOutput(size_t i, const Entry &e) {
  if (i < static_cast<size_t>(node_->proto.output_size()) &&
      !node_->proto.output(i).empty()) {
    values_[node_->proto.output(i)] = e;
  }
}

std::vector<Importer::Entry>
Importer::importSubgraph(const onnx::GraphProto &graph,
                         const std::vector<Entry> &inputs) {
  if (static_cast<size_t>(graph.input_size()) != inputs.size()) {
    fail("its graph '" + graph.name() + "' has " +
         std::to_string(graph.input_size()) + " inputs, expected " +
         std::to_string(inputs.size()));
  }
  unrolledNodes_ += graph.node_size();
  if (unrolledNodes_ > kMaxUnrolledNodes) {
    fail("unrolling the model's control flow imports more than " +
         std::to_string(kMaxUnrolledNodes) + " nodes");
  }
  Node *outer = node_;
  std::string where = "ONNX " + outer->proto.op_type() + " node '" +
                      (outer->proto.name().empty() && outer->proto.output_size()
                           ? outer->proto.output(0)
                           : outer->proto.name()) +
                      "', in its graph '" + graph.name() + "': ";
  try {
    for (int i = 0; i < graph.input_size(); ++i) {
      values_[graph.input(i).name()] = inputs[i];
    }
    for (const auto &init : graph.initializer()) {
      Entry e;
      e.host = fromProto(init, "initializer '" + init.name() + "'");
      values_[init.name()] = e;
    }
    for (const auto &node : graph.node()) {
      importNode(node);
    }
  } catch (const Error &e) {
    node_ = outer;
    throw Error(where + e.what());
  }
  node_ = outer;
  std::vector<Entry> outputs;
  for (const auto &out : graph.output()) {
    outputs.push_back(entry(out.name()));
  }
  return outputs;
}

// The steps stacked along a new axis (in reverse order where `reverse`).
Value Importer::stack(const std::vector<Value> &steps, int64_t axis,
                      bool reverse) {
  SmallVector<Value> parts;
  for (Value v : steps) {
    std::vector<int64_t> shape = shapeOf(v);
    shape.insert(shape.begin() + axis, 1);
    parts.push_back(reshape(v, shape));
  }
  if (reverse) {
    std::reverse(parts.begin(), parts.end());
  }
  return parts.size() == 1 ? parts[0]
                           : emit("kiln.concat", parts, {i64("axis", axis)});
}

void Importer::ifOp() {
  const onnx::GraphProto &thenBranch = graphAttr("then_branch");
  const onnx::GraphProto &elseBranch = graphAttr("else_branch");
  size_t outputs = node_->proto.output_size();
  auto branch = [&](const onnx::GraphProto &g, const char *which) {
    std::vector<Entry> outs = importSubgraph(g, {});
    if (outs.size() != outputs) {
      fail(std::string(which) + " has " + std::to_string(outs.size()) +
           " outputs, the node " + std::to_string(outputs));
    }
    return outs;
  };
  std::vector<int64_t> condShape = shapeOf(0);
  if (product(condShape) != 1) {
    fail("the condition must hold one value, got shape " +
         shapeText(condShape));
  }
  if (const OnnxTensor *c = host(0)) {
    bool taken = c->values[0] != 0;
    std::vector<Entry> outs = branch(taken ? thenBranch : elseBranch,
                                     taken ? "then_branch" : "else_branch");
    for (size_t i = 0; i < outputs; ++i) {
      setEntryOutput(i, outs[i]);
    }
    return;
  }
  Value cond = reshape(floatData(0), {});
  std::vector<Entry> thenOuts = branch(thenBranch, "then_branch");
  std::vector<Entry> elseOuts = branch(elseBranch, "else_branch");
  for (size_t i = 0; i < outputs; ++i) {
    Entry &t = thenOuts[i], &e = elseOuts[i];
    if (t.host && e.host && t.host->shape == e.host->shape &&
        t.host->values == e.host->values &&
        t.host->elementType == e.host->elementType) {
      setEntryOutput(i, t);
      continue;
    }
    for (Entry *x : {&t, &e}) {
      if (x->host && !x->host->isFloat()) {
        fail("output #" + std::to_string(i) + " is an integer tensor that "
             "depends on a condition computed at run time; kiln knows "
             "integer tensors at import time only");
      }
    }
    Value tv = valueOf(t), ev = valueOf(e);
    if (shapeOf(tv) != shapeOf(ev)) {
      fail("a condition computed at run time needs branches whose outputs "
           "have one shape (kiln computes both and selects): output #" +
           std::to_string(i) + " is " + shapeText(shapeOf(tv)) +
           " in then_branch and " + shapeText(shapeOf(ev)) +
           " in else_branch");
    }
    setOutput(i, emit("kiln.where", {cond, tv, ev}));
  }
}

void Importer::loopOp() {
  const onnx::GraphProto &body = graphAttr("body");
  std::optional<int64_t> trips;
  if (hasInput(0)) {
    std::vector<int64_t> m = hostInts(0, "M (the trip count)");
    if (m.size() != 1) {
      fail("the trip count must hold one value");
    }
    trips = m[0];
  }
  bool cond = true;
  if (hasInput(1)) {
    const OnnxTensor &c =
        requireHost(1, "cond (kiln unrolls loops at import time)");
    if (c.values.size() != 1) {
      fail("the condition must hold one value");
    }
    cond = c.values[0] != 0;
  }
  size_t carried = numInputs() > 2 ? numInputs() - 2 : 0;
  if (static_cast<size_t>(body.output_size()) < carried + 1) {
    fail("its body has " + std::to_string(body.output_size()) +
         " outputs, fewer than the condition and " + std::to_string(carried) +
         " loop-carried values");
  }
  size_t scans = body.output_size() - 1 - carried;
  std::vector<Entry> state;
  for (size_t i = 0; i < carried; ++i) {
    state.push_back(input(2 + i));
  }
  std::vector<std::vector<Value>> scanned(scans);
  for (int64_t i = 0; cond && (!trips || i < *trips); ++i) {
    if (i == kMaxUnroll) {
      fail("runs more than " + std::to_string(kMaxUnroll) +
           " iterations; kiln unrolls loops at import time");
    }
    Entry iteration, condIn;
    iteration.host = OnnxTensor{"", {}, TP::INT64, {double(i)}};
    condIn.host = OnnxTensor{"", {}, TP::BOOL, {1.0}};
    std::vector<Entry> ins = {iteration, condIn};
    ins.insert(ins.end(), state.begin(), state.end());
    std::vector<Entry> outs = importSubgraph(body, ins);
    if (!outs[0].host || outs[0].host->values.size() != 1) {
      fail("its body's condition output is computed at run time; kiln "
           "unrolls loops at import time and needs it known there");
    }
    cond = outs[0].host->values[0] != 0;
    state.assign(outs.begin() + 1, outs.begin() + 1 + carried);
    for (size_t k = 0; k < scans; ++k) {
      scanned[k].push_back(valueOf(outs[1 + carried + k]));
    }
  }
  for (size_t i = 0; i < carried; ++i) {
    setEntryOutput(i, state[i]);
  }
  for (size_t k = 0; k < scans; ++k) {
    if (scanned[k].empty()) {
      fail("runs no iteration, so its scan output #" + std::to_string(k) +
           " would be empty; kiln tensors cannot be");
    }
    setOutput(carried + k, stack(scanned[k], 0, false));
  }
}

// One scan: `states` carried through the body once per step of the scan
// inputs (each read along its axis, backwards where reversed); returns the
// final states, then each scan output stacked along its axis (backwards
// where reversed).
std::vector<Importer::Entry>
Importer::scanSteps(const onnx::GraphProto &body, std::vector<Entry> states,
                    const std::vector<Value> &inputs,
                    const std::vector<int64_t> &inAxes,
                    const std::vector<int64_t> &inReverse,
                    const std::vector<int64_t> &outAxes,
                    const std::vector<int64_t> &outReverse) {
  size_t n = states.size(), k = outAxes.size();
  int64_t length = -1;
  for (size_t j = 0; j < inputs.size(); ++j) {
    int64_t steps = shapeOf(inputs[j])[inAxes[j]];
    if (length >= 0 && steps != length) {
      fail("scan input #" + std::to_string(j) + " has " +
           std::to_string(steps) + " steps along its axis, scan input #0 " +
           std::to_string(length));
    }
    length = steps;
  }
  if (length < 1 || length > kMaxUnroll) {
    fail("scans " + std::to_string(length) + " steps; kiln unrolls 1 to " +
         std::to_string(kMaxUnroll));
  }
  std::vector<std::vector<Value>> scanned(k);
  for (int64_t t = 0; t < length; ++t) {
    std::vector<Entry> ins = states;
    for (size_t j = 0; j < inputs.size(); ++j) {
      Entry step;
      int64_t at = inReverse[j] ? length - 1 - t : t;
      step.value = take(inputs[j], inAxes[j], at);
      ins.push_back(step);
    }
    std::vector<Entry> outs = importSubgraph(body, ins);
    states.assign(outs.begin(), outs.begin() + n);
    for (size_t o = 0; o < k; ++o) {
      scanned[o].push_back(valueOf(outs[n + o]));
    }
  }
  for (size_t o = 0; o < k; ++o) {
    int64_t rank = shapeOf(scanned[o][0]).size();
    Entry e;
    e.value = stack(scanned[o], normAxis(outAxes[o], rank, true),
                    outReverse[o] != 0);
    states.push_back(e);
  }
  return states;
}

// x at position `at` along `axis`, that axis dropped.
Value Importer::take(Value x, int64_t axis, int64_t at) {
  std::vector<int64_t> shape = shapeOf(x), begin(shape.size(), 0),
                       end = shape;
  begin[axis] = at;
  end[axis] = at + 1;
  shape.erase(shape.begin() + axis);
  return reshape(crop(x, begin, end), shape);
}

void Importer::scanOp() {
  const onnx::GraphProto &body = graphAttr("body");
  // Scan-8: input 0 is sequence_lens, then states and scan inputs with a
  // batch axis first (the body sees one batch element: the scan runs per
  // element, its results stacked back along axis 0), the sequence axis 1.
  bool batched = node_->version < 9;
  size_t first = batched ? 1 : 0;
  int64_t m = attrInt("num_scan_inputs", 0);
  if (m < 1 || static_cast<size_t>(m) + first > numInputs()) {
    fail("num_scan_inputs must be between 1 and the node's " +
         std::to_string(numInputs() - first) + " inputs, got " +
         std::to_string(m));
  }
  size_t n = numInputs() - first - m;
  if (static_cast<size_t>(body.output_size()) < n) {
    fail("its body has fewer outputs than the " + std::to_string(n) +
         " state variables");
  }
  size_t k = body.output_size() - n;
  auto list = [&](const char *name, size_t count) {
    std::vector<int64_t> v =
        attrInts(name).value_or(std::vector<int64_t>(count, 0));
    if (v.size() != count) {
      fail(std::string(name) + " must hold " + std::to_string(count) +
           " values, got " + std::to_string(v.size()));
    }
    return v;
  };
  std::vector<Value> inputs;
  for (int64_t j = 0; j < m; ++j) {
    inputs.push_back(data(first + n + j));
  }
  if (!batched) {
    std::vector<int64_t> inAxes = list("scan_input_axes", m);
    for (int64_t j = 0; j < m; ++j) {
      inAxes[j] = normAxis(inAxes[j], shapeOf(inputs[j]).size());
    }
    std::vector<Entry> states;
    for (size_t i = 0; i < n; ++i) {
      states.push_back(input(i));
    }
    std::vector<Entry> outs = scanSteps(
        body, states, inputs, inAxes, list("scan_input_directions", m),
        list("scan_output_axes", k), list("scan_output_directions", k));
    for (size_t i = 0; i < outs.size(); ++i) {
      setEntryOutput(i, outs[i]);
    }
    return;
  }
  std::vector<int64_t> reverse = list("directions", m);
  int64_t batch = shapeOf(inputs[0])[0];
  for (size_t i = 0; i < n + m; ++i) {
    std::vector<int64_t> shape = shapeOf(first + i);
    if (shape.size() < (i < n ? 1u : 2u) || shape[0] != batch) {
      fail("input #" + std::to_string(first + i) + " of shape " +
           shapeText(shape) + " has no batch axis of " + std::to_string(batch));
    }
  }
  if (hasInput(0)) {
    int64_t steps = shapeOf(inputs[0])[1];
    for (int64_t len : hostInts(0, "sequence_lens")) {
      if (len != steps) {
        fail("sequence_lens " + std::to_string(len) + " differs from the " +
             std::to_string(steps) + " steps of the scan inputs; kiln "
             "scans whole sequences only");
      }
    }
  }
  std::vector<std::vector<Value>> perBatch(n + k);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<Entry> states;
    for (size_t i = 0; i < n; ++i) {
      Entry e;
      e.value = take(data(first + i), 0, b);
      states.push_back(e);
    }
    std::vector<Value> slices;
    for (Value x : inputs) {
      slices.push_back(take(x, 0, b));
    }
    std::vector<Entry> outs =
        scanSteps(body, states, slices, std::vector<int64_t>(m, 0), reverse,
                  std::vector<int64_t>(k, 0), std::vector<int64_t>(k, 0));
    for (size_t i = 0; i < outs.size(); ++i) {
      perBatch[i].push_back(valueOf(outs[i]));
    }
  }
  for (size_t i = 0; i < n + k; ++i) {
    setOutput(i, stack(perBatch[i], 0, false));
  }
}

} // namespace kiln::frontend::onnx_import
