// Fused kernels (docs/fusion.md): an optional anchor (conv2d, dense or a
// matmul of matrices) whose output stage also computes a chain of
// elementwise ops, or a chain of elementwise ops alone. The chain is
// inlined into the output Func, so the intermediate tensors are never
// written to memory.
//
// attrs: {"kind", "anchor": "" | "conv2d" | "dense" | "matmul",
//         "anchor_attrs", "anchor_inputs": [input indices],
//         "nodes": [{"op", "attrs", "operands": [-1 = running value, k]}]}
// and, in the producer form (a 1x1 conv2d's chain computed inside the
// depthwise conv2d reading it, anchor input -1), "producer": the first
// segment's {"anchor", "anchor_attrs", "anchor_inputs", "nodes"}; in the
// prologue form "consumer", "consumer_attrs", "consumer_inputs" (-1: the
// chain's value) and optionally "sinks" (ops reducing the consumer's first
// result, operand -1) and "writes_dx".
#include "Kernels.h"

#include <map>
#include <optional>
#include <set>

using namespace Halide;

namespace kiln::codegen::detail {
namespace {

bool isNodeOp(const std::string &op) {
  return findUnary(op) || findBinary(op) || op == "prelu" ||
         op == "scale" || op == "batch_norm" || op == "activation_grad" ||
         op == "max_pool2d_grad";
}

// Prologue consumers: the input index they read the chain's value at.
const std::map<std::string, size_t> &consumers() {
  static const std::map<std::string, size_t> ops = {{"batch_norm_grad", 1}};
  return ops;
}

std::string consumerOf(const KernelSpec &s) {
  return s.attrs.value("consumer", std::string());
}

// The value a chain computes: the first output, or in the prologue form
// the consumer's prologue operand, shaped as the consumer's first input
// (batch_norm_grad: dy like x; dx too).
TensorSpec valueSpec(const KernelSpec &s) {
  if (s.attrs.contains("tail")) {
    // A chain's value: the pool's input, of the tail's "shape"; without
    // one (a batch_norm_train chain), shaped as the anchor's x.
    const auto &tail = s.attrs.at("tail");
    if (tail.contains("shape")) {
      TensorSpec value;
      value.shape = tail.at("shape").get<std::vector<int64_t>>();
      if (value.shape.size() != 4) {
        fail(s, "a pooling tail's shape must be [N, C, H, W]");
      }
      return value;
    }
    const auto &at = s.attrs.at("anchor_inputs");
    int64_t index = at.empty() ? -1 : at[0].get<int64_t>();
    if (index < 0 || index >= static_cast<int64_t>(s.inputs.size())) {
      fail(s, "a pooling tail needs the anchor's x as an input");
    }
    return s.inputs[index];
  }
  if (consumerOf(s).empty()) {
    return s.outputs.at(0);
  }
  const auto &inputs = s.attrs.at("consumer_inputs");
  int64_t index = inputs.empty() ? -1 : inputs[0].get<int64_t>();
  if (index < 0 || index >= static_cast<int64_t>(s.inputs.size())) {
    fail(s, "the consumer's first input must be a kernel input");
  }
  return s.inputs[index];
}

// Whether a prologue kernel writes its consumer's first result (dx) as its
// first output; with gradient sinks it may leave it out.
bool writesDx(const KernelSpec &s) { return s.attrs.value("writes_dx", true); }

// The number of outputs the consumer gives the kernel (batch_norm_grad: dx,
// dweight, dbias; dx only if written).
size_t consumerOutputs(const KernelSpec &s) { return writesDx(s) ? 3 : 2; }

// The consumer's own spec, with all its outputs.
KernelSpec consumerSpec(const KernelSpec &s) {
  KernelSpec spec;
  spec.op = consumerOf(s);
  spec.attrs = s.attrs.at("consumer_attrs");
  TensorSpec value = valueSpec(s);
  for (int64_t index : s.attrs.at("consumer_inputs")) {
    spec.inputs.push_back(index < 0 ? value : s.inputs.at(index));
  }
  size_t own = consumerOutputs(s);
  if (s.outputs.size() < own) {
    fail(s, "a prologue kernel has its consumer's outputs");
  }
  spec.outputs.assign(s.outputs.begin(), s.outputs.begin() + own);
  if (!writesDx(s)) {
    spec.outputs.insert(spec.outputs.begin(), value);
  }
  return spec;
}

// The gradient sinks' own specs ("sinks": operand -1 is dx), each with its
// output, after the consumer's.
std::vector<KernelSpec> sinkSpecs(const KernelSpec &s) {
  std::vector<KernelSpec> specs;
  if (!s.attrs.contains("sinks")) {
    return specs;
  }
  size_t next = consumerOutputs(s);
  for (const auto &sink : s.attrs.at("sinks")) {
    KernelSpec spec;
    spec.op = sink.at("op").get<std::string>();
    spec.attrs = sink.at("attrs");
    for (int64_t index : sink.at("operands")) {
      if (index < -1 || index >= static_cast<int64_t>(s.inputs.size())) {
        fail(s, "sink '" + spec.op + "' input index out of range");
      }
      spec.inputs.push_back(index < 0 ? valueSpec(s) : s.inputs[index]);
    }
    if (next >= s.outputs.size()) {
      fail(s, "sink '" + spec.op + "' has no output");
    }
    spec.outputs = {s.outputs[next++]};
    specs.push_back(std::move(spec));
  }
  if (next != s.outputs.size()) {
    fail(s, "a prologue kernel has its consumer's outputs, then one per sink");
  }
  return specs;
}

// A gradient sink as kiln::ir::isGradientSink admits it: the channel sum of
// dx [N, C, H, W], or conv2d_grad_weight of an input and dx with groups 1,
// no Winograd tile and at most 27 weights per output channel (the register
// tile of convGradWeightOfChannel).
void validateSink(const KernelSpec &s, const KernelSpec &sink,
                  const nlohmann::json &operands) {
  if (sink.inputs.empty() || sink.inputs[0].shape.size() != 4) {
    fail(s, "a gradient sink reads dx [N, C, H, W]");
  }
  lookupOp(sink.op).validate(sink);
  if (sink.op == "reduce_sum") {
    if (operands != nlohmann::json::array({-1}) ||
        sink.attrs.value("keepdims", false) ||
        sink.attrs.at("axes") != nlohmann::json::array({0, 2, 3})) {
      fail(s, "a reduce_sum sink sums dx over axes 0, 2, 3");
    }
    return;
  }
  if (sink.op != "conv2d_grad_weight") {
    fail(s, "unsupported gradient sink '" + sink.op + "'");
  }
  const auto &w = sink.outputs[0].shape;
  if (operands.size() != 2 || operands[0] < 0 || operands[1] != -1 ||
      attrInt(sink, "groups") != 1 ||
      sink.attrs.value("tile", int64_t{0}) != 0 || w[1] * w[2] * w[3] > 27) {
    fail(s, "a conv2d_grad_weight sink reads an input and dx, with groups 1, "
            "no Winograd tile and at most 27 weights per output channel");
  }
}

KernelSpec nodeSpec(const KernelSpec &s, const nlohmann::json &node) {
  KernelSpec spec;
  spec.op = node.at("op").get<std::string>();
  spec.attrs = node.at("attrs");
  return spec;
}

// A prologue's max_pool2d_grad: x and dy from the kernel's inputs, dx
// shaped as the consumer's first output.
KernelSpec poolSpec(const KernelSpec &s, const nlohmann::json &node) {
  KernelSpec spec = nodeSpec(s, node);
  for (int64_t index : node.at("operands")) {
    spec.inputs.push_back(index < 0 ? valueSpec(s) : s.inputs.at(index));
  }
  spec.outputs = {valueSpec(s)};
  return spec;
}

void requireAttrs(const KernelSpec &s, std::initializer_list<const char *> keys) {
  for (const char *key : keys) {
    if (!s.attrs.contains(key)) {
      fail(s, std::string("missing attribute '") + key + "'");
    }
  }
}

// The producer form without a 1x1 producer: its first segment a depthwise
// conv2d (weight [C, 1, KH, KW]) reading a kernel input, the second its
// projection (an inverted residual block without expansion).
bool depthwiseFirst(const KernelSpec &first) {
  const auto &at = first.attrs.at("anchor_inputs");
  if (first.attrs.contains("producer") || at.size() < 2) {
    return false;
  }
  const auto &w = first.inputs.at(at[1].get<int64_t>()).shape;
  return w.size() == 4 && w[1] == 1 && w[0] > 1 &&
         first.attrs.at("anchor_attrs").value("groups", int64_t{1}) == w[0];
}

// The producer form's first segment ("producer": anchor, anchor_attrs,
// anchor_inputs, nodes) as a spec of its own, over the kernel's inputs:
// its value is a 1x1 conv2d's, [N, O, H, W] for x [N, C, H, W] and weight
// [O, ...].
KernelSpec producerSpec(const KernelSpec &s) {
  KernelSpec spec;
  spec.op = "fused";
  spec.attrs = s.attrs.at("producer");
  spec.inputs = s.inputs;
  if (!spec.attrs.is_object()) {
    fail(s, "attribute 'producer' must be an object");
  }
  requireAttrs(spec, {"anchor", "anchor_attrs", "anchor_inputs", "nodes"});
  const auto &at = spec.attrs.at("anchor_inputs");
  // The input: a kernel input, or (a nested producer) the producer's value.
  int64_t first = spec.attrs.contains("producer") ? -1 : 0;
  if (at.size() < 2 || at[0].get<int64_t>() < first ||
      at[1].get<int64_t>() < 0 ||
      at[0].get<int64_t>() >= static_cast<int64_t>(s.inputs.size()) ||
      at[1].get<int64_t>() >= static_cast<int64_t>(s.inputs.size())) {
    fail(s, "the producer needs an input and a weight");
  }
  if (spec.attrs.contains("producer")) {
    // A producer of its own (the projection form's depthwise segment): its
    // value's shape is given.
    auto shape = spec.attrs.value("value_shape", nlohmann::json());
    if (!shape.is_array() || shape.size() != 4 ||
        !std::all_of(shape.begin(), shape.end(), [](const auto &d) {
          return d.is_number_integer() && d.template get<int64_t>() > 0;
        })) {
      fail(s, "a nested producer needs its 'value_shape' [N, C, H, W]");
    }
    spec.outputs = {TensorSpec{shape.get<std::vector<int64_t>>()}};
    return spec;
  }
  const auto &x = s.inputs[at[0].get<int64_t>()].shape;
  const auto &w = s.inputs[at[1].get<int64_t>()].shape;
  if (x.size() != 4 || w.empty()) {
    fail(s, "the producer reads x [N, C, H, W] and a weight [O, ...]");
  }
  spec.outputs = {TensorSpec{{x[0], w[0], x[2], x[3]}}};
  return spec;
}

// A segment's anchor inputs: -1 (the producer's value) first where it has
// a producer, nowhere else.
void checkAnchorInputs(const KernelSpec &s, const KernelSpec &segment) {
  bool producer = segment.attrs.contains("producer");
  const auto &at = segment.attrs.at("anchor_inputs");
  for (size_t i = 0; i < at.size(); ++i) {
    if ((at[i] == -1) != (producer && i == 0)) {
      fail(s, "anchor input " + std::to_string(i) + " is invalid");
    }
  }
}

// The anchor's own spec; input -1 (the producer form's second anchor) is
// the producer's value.
KernelSpec anchorSpec(const KernelSpec &s) {
  KernelSpec spec;
  spec.op = s.attrs.at("anchor").get<std::string>();
  spec.attrs = s.attrs.at("anchor_attrs");
  for (int64_t index : s.attrs.at("anchor_inputs")) {
    if (index < -1 || index >= static_cast<int64_t>(s.inputs.size()) ||
        (index == -1 && !s.attrs.contains("producer"))) {
      fail(s, "anchor input index out of range");
    }
    spec.inputs.push_back(index < 0 ? producerSpec(s).outputs.at(0)
                                    : s.inputs.at(index));
  }
  spec.outputs = s.outputs;
  if (s.attrs.contains("tail") && !spec.outputs.empty()) {
    spec.outputs[0] = valueSpec(s); // the pool reads y
  }
  return spec;
}

// A pooling tail's spec (isPoolTail): the chain's value -> the kernel's
// first output.
KernelSpec tailSpec(const KernelSpec &s) {
  KernelSpec spec;
  const auto &tail = s.attrs.at("tail");
  spec.op = tail.at("op").get<std::string>();
  spec.attrs = tail.at("attrs");
  spec.inputs = {valueSpec(s)};
  spec.outputs = {s.outputs.at(0)};
  return spec;
}

// A max_pool2d tail as kiln::ir::isPoolTail admits it: windows of at most
// 3x3 that tile the plane without overlap or padding.
void validateTail(const KernelSpec &s) {
  KernelSpec tail = tailSpec(s);
  std::string anchor = s.attrs.value("anchor", std::string());
  if (tail.op != "max_pool2d" ||
      (anchor != "batch_norm_train" && anchor != "conv2d" &&
       anchor != "conv2d_winograd")) {
    fail(s, "only a batch_norm_train, conv2d or conv2d_winograd chain ends "
            "in a pooling tail (max_pool2d)");
  }
  if (anchor == "conv2d") {
    validatePoolTailAnchor(anchorSpec(s));
  }
  if (anchor == "conv2d_winograd") {
    validateWinogradPoolTail(anchorSpec(s), tail);
  }
  lookupOp(tail.op).validate(tail);
  std::vector<int64_t> k = attrInts(tail, "kernel", 2),
                       st = attrInts(tail, "strides", 2),
                       pads = attrInts(tail, "pads", 4),
                       d = attrInts(tail, "dilations", 2);
  const auto &in = tail.inputs[0].shape, &out = tail.outputs[0].shape;
  bool tiles = k == st && d == std::vector<int64_t>{1, 1} &&
               pads == std::vector<int64_t>{0, 0, 0, 0};
  for (int i = 0; i < 2; ++i) {
    tiles = tiles && k[i] >= 1 && k[i] <= 3 && out[2 + i] * k[i] <= in[2 + i];
  }
  if (!tiles) {
    fail(s, "a pooling tail's windows (at most 3x3) must tile the plane "
            "without overlap or padding");
  }
}

// Anchors and the number of outputs each gives the fused kernel: the
// chain's value (from the anchor's first output), then its other outputs.
const std::map<std::string, size_t> &anchorOutputs() {
  static const std::map<std::string, size_t> anchors = {
      {"conv2d", 1},
      {"conv2d_winograd", 1},
      {"dense", 1},
      {"matmul", 1},
      {"batch_norm_train", 3}};
  return anchors;
}

void validateNodes(const KernelSpec &s, bool haveValue);
void validateAttention(const KernelSpec &s);

// The recomputed inputs' entries ("recomputed": [{"op", "attrs",
// "operands", "shape"}]): conv2d ops reading kernel inputs, whose values
// the kernel reads as the inputs numbered after its own.
const nlohmann::json &recomputedEntries(const KernelSpec &s) {
  static const nlohmann::json none = nlohmann::json::array();
  auto it = s.attrs.find("recomputed");
  return it == s.attrs.end() ? none : *it;
}

size_t realInputs(const KernelSpec &s) {
  return s.inputs.size() - recomputedEntries(s).size();
}

// A recomputed input's own conv2d spec over the kernel's inputs.
KernelSpec recomputedSpec(const KernelSpec &s, const nlohmann::json &entry,
                          size_t inputs) {
  if (!entry.is_object() || entry.value("op", std::string()) != "conv2d" ||
      !entry.contains("attrs") || !entry.contains("operands") ||
      !entry.contains("shape")) {
    fail(s, "a recomputed input is {\"op\": \"conv2d\", \"attrs\", "
            "\"operands\", \"shape\"}");
  }
  KernelSpec conv;
  conv.op = "conv2d";
  conv.attrs = entry.at("attrs");
  for (const auto &operand : entry.at("operands")) {
    int64_t index = operand.is_number_integer() ? operand.get<int64_t>() : -1;
    if (index < 0 || index >= static_cast<int64_t>(inputs)) {
      fail(s, "a recomputed input reads kernel inputs only");
    }
    conv.inputs.push_back(s.inputs[index]);
  }
  const auto &shape = entry.at("shape");
  if (!shape.is_array() || shape.size() != 4) {
    fail(s, "a recomputed input's shape is [N, C, H, W]");
  }
  conv.outputs = {TensorSpec{shape.get<std::vector<int64_t>>()}};
  return conv;
}

// The spec with the recomputed inputs' tensors after the kernel's own
// inputs (the indices the chain reads them at).
KernelSpec withRecomputed(const KernelSpec &s) {
  const auto &entries = recomputedEntries(s);
  if (!entries.is_array()) {
    fail(s, "attribute 'recomputed' must be an array");
  }
  KernelSpec spec = s;
  size_t inputs = s.inputs.size();
  for (const auto &entry : entries) {
    spec.inputs.push_back(recomputedSpec(s, entry, inputs).outputs[0]);
  }
  return spec;
}

// Checks the recomputed inputs (conv2d of at most 27 multiplies per
// output: kiln::ir::isRecomputableConv) and where the kernel reads them:
// as batch_norm_train's x (the anchor), batch_norm_grad's x (the
// consumer) or a batch_norm node's x; every other operand is a kernel
// input of its own.
void validateRecomputed(const KernelSpec &s) {
  const auto &entries = recomputedEntries(s);
  if (entries.empty()) {
    return;
  }
  size_t inputs = realInputs(s);
  for (const auto &entry : entries) {
    KernelSpec conv = recomputedSpec(s, entry, inputs);
    lookupOp("conv2d").validate(conv);
    const auto &w = conv.inputs.at(1).shape;
    if (w.size() != 4 || w[1] * w[2] * w[3] > 27 ||
        attrInt(conv, "groups") != 1) {
      fail(s, "a recomputed conv2d has groups 1 and at most 27 multiplies "
              "per output");
    }
  }
  auto real = [&](const nlohmann::json &indices, size_t allowed,
                  const std::string &what) {
    for (size_t i = 0; i < indices.size(); ++i) {
      if (i != allowed && indices[i].get<int64_t>() >=
                              static_cast<int64_t>(inputs)) {
        fail(s, what + " reads a recomputed input as operand " +
                    std::to_string(i) + " (only x may be recomputed)");
      }
    }
  };
  std::string anchor = s.attrs.at("anchor").get<std::string>();
  real(s.attrs.at("anchor_inputs"), anchor == "batch_norm_train" ? 0 : SIZE_MAX,
       "the anchor");
  if (s.attrs.contains("consumer_inputs")) {
    real(s.attrs.at("consumer_inputs"), 0, "the consumer");
  }
  for (const auto &node : s.attrs.at("nodes")) {
    real(node.at("operands"), node.at("op") == "batch_norm" ? 0 : SIZE_MAX,
         "node '" + node.at("op").get<std::string>() + "'");
  }
  if (s.attrs.contains("sinks")) {
    for (const auto &sink : s.attrs.at("sinks")) {
      real(sink.at("operands"), SIZE_MAX, "a gradient sink");
    }
  }
  if (s.attrs.contains("producer") || s.attrs.value("kind", "") == "attention") {
    fail(s, "only batch-norm kernels recompute their inputs");
  }
}

void validateFusedForm(const KernelSpec &s);

void validateFused(const KernelSpec &s) {
  requireAttrs(s, {"anchor", "anchor_attrs", "anchor_inputs", "nodes"});
  KernelSpec spec = withRecomputed(s);
  validateRecomputed(spec);
  validateFusedForm(spec);
}

void validateFusedForm(const KernelSpec &s) {
  if (s.attrs.value("kind", std::string()) == "attention") {
    validateAttention(s);
    return;
  }
  const std::string anchor = s.attrs.at("anchor").get<std::string>();
  auto outputs = anchorOutputs().find(anchor);
  if (!anchor.empty() && outputs == anchorOutputs().end()) {
    fail(s, "unsupported anchor '" + anchor + "'");
  }
  const std::string consumer = consumerOf(s);
  if (!consumer.empty()) {
    if (!consumers().count(consumer) || !anchor.empty()) {
      fail(s, "unsupported prologue consumer '" + consumer + "'");
    }
    requireAttrs(s, {"consumer_attrs", "consumer_inputs"});
    const auto &inputs = s.attrs.at("consumer_inputs");
    size_t k = consumers().at(consumer);
    for (size_t i = 0; i < inputs.size(); ++i) {
      int64_t index = inputs[i];
      if ((i == k) != (index == -1) ||
          index >= static_cast<int64_t>(s.inputs.size()) || index < -1) {
        fail(s, "consumer input " + std::to_string(i) + " is invalid");
      }
    }
    lookupOp(consumer).validate(consumerSpec(s));
    std::vector<KernelSpec> sinks = sinkSpecs(s);
    if (!writesDx(s) && sinks.empty()) {
      fail(s, "a prologue kernel without sinks writes dx");
    }
    for (size_t i = 0; i < sinks.size(); ++i) {
      validateSink(s, sinks[i], s.attrs.at("sinks")[i].at("operands"));
    }
  } else {
    expectCounts(s, 1, 64, anchor.empty() ? 1 : outputs->second);
  }
  expectF32Except(s);
  bool producer = s.attrs.contains("producer");
  if (producer) {
    // 1x1 conv2d -> depthwise conv2d, or (the projection form) 1x1 conv2d
    // -> depthwise conv2d -> 1x1 conv2d, each with its chain.
    KernelSpec first = producerSpec(s);
    bool projection = first.attrs.contains("producer");
    KernelSpec expand = projection ? producerSpec(first) : first;
    if (expand.attrs.contains("producer") ||
        expand.attrs.at("anchor") != "conv2d" ||
        first.attrs.at("anchor") != "conv2d" || anchor != "conv2d") {
      fail(s, "a producer kernel fuses two or three conv2d anchors");
    }
    validateNodes(expand, true);
    if (projection) {
      checkAnchorInputs(s, first);
      validateNodes(first, true);
      KernelSpec project = anchorSpec(s);
      KernelSpec pw = anchorSpec(expand);
      validatePointwiseDepthwise(&pw, anchorSpec(first), &project);
    } else if (depthwiseFirst(first)) {
      KernelSpec project = anchorSpec(s);
      validatePointwiseDepthwise(nullptr, anchorSpec(first), &project);
    } else {
      KernelSpec pw = anchorSpec(first);
      validatePointwiseDepthwise(&pw, anchorSpec(s));
    }
  }
  if (s.attrs.contains("tail")) {
    validateTail(s);
  }
  bool haveValue = false;
  if (!anchor.empty()) {
    // anchorSpec checks the indices; -1 (the producer's value) only first.
    checkAnchorInputs(s, s);
    KernelSpec anchored = anchorSpec(s);
    lookupOp(anchor).validate(anchored);
    if (anchor == "matmul" && anchored.inputs[0].shape.size() != 2) {
      fail(s, "a matmul takes an epilogue as a product of matrices only "
              "(rank 2)");
    }
    haveValue = true;
  }
  validateNodes(s, haveValue);
}

// The elementwise nodes of s.attrs["nodes"], after an anchor's value if
// haveValue.
void validateNodes(const KernelSpec &s, bool haveValue) {
  const auto &outShape = valueSpec(s).shape;
  bool recomputed = false; // a gather's x computed by the nodes before it
  for (const auto &node : s.attrs.at("nodes")) {
    std::string op = node.at("op").get<std::string>();
    if (!isNodeOp(op)) {
      fail(s, "op '" + op + "' cannot be fused");
    }
    if (op == "batch_norm" && node.at("attrs").value("training", false)) {
      fail(s, "batch_norm with batch statistics cannot be fused");
    }
    if (op == "max_pool2d_grad") {
      // A prologue's gather (kiln::ir::isPrologueSource): its x an input,
      // or, after elementwise nodes, their value (recomputed: later nodes
      // may read it as operand -2); dy an input; its result has the
      // consumer's operand's shape.
      const auto &operands = node.at("operands");
      if (consumerOf(s).empty() || recomputed || operands.size() != 2 ||
          operands[0] < (haveValue ? -1 : 0) ||
          (haveValue && operands[0] != -1) || operands[1] < 0 ||
          operands[0] >= static_cast<int64_t>(s.inputs.size()) ||
          operands[1] >= static_cast<int64_t>(s.inputs.size())) {
        fail(s, "max_pool2d_grad can only start a prologue, reading inputs, "
                "or follow the elementwise nodes computing its x");
      }
      recomputed = haveValue;
      KernelSpec pool = poolSpec(s, node);
      lookupOp(op).validate(pool);
      for (int64_t d : attrInts(pool, "dilations", 2)) {
        if (d != 1) {
          fail(s, "a fused max_pool2d_grad needs unit dilations");
        }
      }
    }
    if (op == "activation_grad") {
      KernelSpec grad = nodeSpec(s, node);
      grad.inputs = {valueSpec(s), valueSpec(s)};
      grad.outputs = {valueSpec(s)};
      lookupOp(op).validate(grad);
    }
    for (int64_t operand : node.at("operands")) {
      if (operand == -1) {
        if (!haveValue) {
          fail(s, "node '" + op + "' reads a value before one is computed");
        }
        continue;
      }
      if (operand == -2 && recomputed && op != "max_pool2d_grad") {
        continue;
      }
      if (operand < 0 || operand >= static_cast<int64_t>(s.inputs.size())) {
        fail(s, "node '" + op + "' reads input " + std::to_string(operand) +
                    " of " + std::to_string(s.inputs.size()));
      }
      const auto &shape = s.inputs[operand].shape;
      if (shape.size() > outShape.size()) {
        fail(s, "node '" + op + "' input has a higher rank than the output");
      }
    }
    haveValue = true;
  }
  if (!haveValue) {
    fail(s, "a fused kernel needs an anchor or at least one node");
  }
}

// Evaluates the chain at output coordinates `v` (Halide order).
class Chain {
public:
  // `recomputed`: the recomputed inputs, numbered after `params`.
  Chain(const KernelSpec &s, const std::vector<ImageParam> &params,
        const Target &target, const std::vector<Func> &recomputed = {})
      : spec_(s), params_(params), inputs_(params.begin(), params.end()),
        target_(target) {
    inputs_.insert(inputs_.end(), recomputed.begin(), recomputed.end());
    int index = 0;
    for (const auto &node : s.attrs.at("nodes")) {
      if (node.at("op") == "batch_norm") {
        prepareBatchNorm(node, index);
      }
      if (node.at("op") == "max_pool2d_grad") {
        // x: an input, or recomputed by the nodes before the gather.
        const auto &ops = node.at("operands");
        Func x;
        if (ops.at(0) < 0) {
          std::vector<Var> v = makeVars(valueSpec(s).shape.size());
          recomputed_(v) = applyNodes(index, Expr(), v);
          x = recomputed_;
        } else {
          x = inputs_.at(ops.at(0));
        }
        gather_.emplace(poolSpec(s, node), x, params_[ops.at(1)]);
      }
      ++index;
    }
  }

  // How a prologue kernel computes the chain's value: inlined (empty), or,
  // starting with a max_pool2d_grad, staged with the gather's schedule.
  StagePrologue stage() {
    if (!gather_) {
      return {};
    }
    return [this](Func value, LoopLevel at, bool root) {
      gather_->schedule(value, at, root, target_);
    };
  }

  Expr apply(Expr value, const std::vector<Var> &v) const {
    return applyNodes(spec_.attrs.at("nodes").size(), value, v);
  }

private:
  // The first `count` nodes applied to `value`.
  Expr applyNodes(size_t count, Expr value, const std::vector<Var> &v) const {
    const auto &nodes = spec_.attrs.at("nodes");
    for (size_t i = 0; i < count; ++i) {
      value = applyNode(nodes[i], static_cast<int>(i), value, v);
    }
    return value;
  }

  // Operand -1: the running value; -2: the gather's recomputed x.
  Expr operand(const nlohmann::json &node, size_t i, Expr value,
               const std::vector<Var> &v) const {
    int64_t k = node.at("operands").at(i);
    if (k == -2) {
      return recomputed_(v);
    }
    if (k >= static_cast<int64_t>(params_.size())) {
      return inputs_.at(k)(v); // a recomputed input, shaped as the value
    }
    return k < 0 ? value : broadcastAt(params_[k], spec_.inputs[k], v);
  }

  // Channel = logical axis 1 = Halide dim rank-2.
  Expr channel(const std::vector<Var> &v) const {
    return v.size() >= 2 ? Expr(v[v.size() - 2]) : Expr(0);
  }

  void prepareBatchNorm(const nlohmann::json &node, int index) {
    // Per-channel scale and shift, computed once per kernel call (C values).
    const auto &ops = node.at("operands");
    Func w = inputs_.at(ops.at(1)), b = inputs_.at(ops.at(2)),
         mean = inputs_.at(ops.at(3)), var = inputs_.at(ops.at(4));
    Expr eps = cast<float>(Expr(node.at("attrs").at("epsilon").get<double>()));
    Var c("c");
    Func scale("bn_scale_" + std::to_string(index)),
        shift("bn_shift_" + std::to_string(index));
    defineBatchNormAffine(scale, shift, c, w(c), b(c), mean(c), var(c), eps);
    rootStages(scale, target_);
    rootStages(shift, target_);
    batchNorm_[index] = {scale, shift};
  }

  Expr applyNode(const nlohmann::json &node, int index, Expr value,
                 const std::vector<Var> &v) const {
    std::string op = node.at("op").get<std::string>();
    if (const UnaryMath *math = findUnary(op)) {
      return math->forward(operand(node, 0, value, v), nodeSpec(spec_, node));
    }
    if (const BinaryFn *math = findBinary(op)) {
      return (*math)(operand(node, 0, value, v), operand(node, 1, value, v));
    }
    if (op == "scale") {
      return cast<float>(Expr(node.at("attrs").at("factor").get<double>())) *
             operand(node, 0, value, v);
    }
    if (op == "max_pool2d_grad") {
      return (*gather_)(v);
    }
    if (op == "activation_grad") {
      return activationGrad(nodeSpec(spec_, node), operand(node, 0, value, v),
                            operand(node, 1, value, v));
    }
    if (op == "prelu") {
      Expr x = operand(node, 0, value, v);
      int64_t k = node.at("operands").at(1);
      Expr slope = spec_.inputs[k].shape[0] == 1 ? params_[k](0)
                                                 : params_[k](channel(v));
      return select(x >= 0.0f, x, slope * x);
    }
    // batch_norm (inference): one FMA with the per-channel scale and shift.
    const auto &[scale, shift] = batchNorm_.at(index);
    Expr c = channel(v);
    return operand(node, 0, value, v) * scale(c) + shift(c);
  }

  const KernelSpec &spec_;
  const std::vector<ImageParam> &params_;
  std::vector<Func> inputs_; // params_, then the recomputed inputs
  Target target_;
  std::map<int, std::pair<Func, Func>> batchNorm_;
  Func recomputed_{"recomputed"};
  std::optional<MaxPoolGradGather> gather_;
};

//===----------------------------------------------------------------------===//
// The attention form: nodes [matmul (scores S = op(a) op(b)), elementwise
// nodes on S (scale, mask), softmax along the last axis, matmul (output O =
// softmax(S) op(v))]; S and the probabilities stay in cache.
//===----------------------------------------------------------------------===//

// A node's matmul spec over the kernel's inputs (operand -1: `value`), its
// output [B, M, N] or [M, N] from the operands and transposes.
KernelSpec attentionMatmul(const KernelSpec &s, const nlohmann::json &node,
                           const TensorSpec &value) {
  KernelSpec spec = nodeSpec(s, node);
  for (int64_t index : node.at("operands")) {
    if (index < -1 || index >= static_cast<int64_t>(s.inputs.size())) {
      fail(s, "attention matmul operand out of range");
    }
    spec.inputs.push_back(index < 0 ? value : s.inputs[index]);
  }
  if (spec.inputs.size() != 2) {
    fail(s, "an attention matmul has two operands");
  }
  const auto &a = spec.inputs[0].shape, &b = spec.inputs[1].shape;
  size_t rank = a.size();
  if ((rank != 2 && rank != 3) || b.size() != rank) {
    fail(s, "attention matmuls take matrices or [B, ., .] batches of them");
  }
  bool ta = attrBool(spec, "transpose_a"), tb = attrBool(spec, "transpose_b");
  std::vector<int64_t> out;
  if (rank == 3) {
    out.push_back(a[0]);
  }
  out.push_back(ta ? a[rank - 1] : a[rank - 2]);
  out.push_back(tb ? b[rank - 2] : b[rank - 1]);
  spec.outputs = {TensorSpec{out}};
  return spec;
}

// The elementwise nodes between the matmuls, as a chain spec over S.
KernelSpec attentionChain(const KernelSpec &s, const TensorSpec &scores) {
  const auto &nodes = s.attrs.at("nodes");
  KernelSpec spec;
  spec.op = "fused";
  spec.inputs = s.inputs;
  spec.outputs = {scores};
  spec.attrs = {{"nodes", nlohmann::json::array()}};
  for (size_t i = 1; i + 2 < nodes.size(); ++i) {
    spec.attrs["nodes"].push_back(nodes[i]);
  }
  return spec;
}

void validateAttention(const KernelSpec &s) {
  expectCounts(s, 3, 64, 1);
  expectF32Except(s);
  const auto &nodes = s.attrs.at("nodes");
  if (!nodes.is_array() || nodes.size() < 3 ||
      nodes.front().value("op", "") != "matmul" ||
      nodes[nodes.size() - 2].value("op", "") != "softmax" ||
      nodes.back().value("op", "") != "matmul") {
    fail(s, "an attention kernel's nodes are matmul, elementwise nodes, "
            "softmax, matmul");
  }
  const auto &first = nodes.front().at("operands");
  if (first.size() != 2 || first[0] < 0 || first[1] < 0) {
    fail(s, "the scores' matmul reads two inputs");
  }
  KernelSpec scores = attentionMatmul(s, nodes.front(), TensorSpec{});
  lookupOp("matmul").validate(scores);
  const TensorSpec &sc = scores.outputs[0];
  validateNodes(attentionChain(s, sc), true);
  const nlohmann::json &softmax = nodes[nodes.size() - 2];
  int64_t rank = static_cast<int64_t>(sc.shape.size());
  int64_t axis = softmax.at("attrs").value("axis", int64_t(-1));
  if (softmax.at("operands") != nlohmann::json::array({-1}) ||
      (axis != -1 && axis != rank - 1)) {
    fail(s, "the softmax reads the scores along their last axis");
  }
  const nlohmann::json &last = nodes.back();
  const auto &second = last.at("operands");
  if (second.size() != 2 || second[0] != -1 || second[1] < 0 ||
      last.at("attrs").value("transpose_a", false)) {
    fail(s, "the output matmul reads the probabilities, untransposed, "
            "and an input");
  }
  KernelSpec output = attentionMatmul(s, last, sc);
  output.outputs = s.outputs;
  lookupOp("matmul").validate(output);
}

// Query rows per task of the attention kernel: 24-48, a multiple of its
// 8-row register tiles, the one whose whole blocks round `rows` up least
// (the last block shifts inwards and recomputes the overlap): 197 rows
// (ViT-B/16) in 5 blocks of 40, 200 rows computed, where blocks of 32
// computed 224. ViT-B/16's 12 x 197 x 64 heads alone (`kiln bench
// --profile`, alternating, Zen 4): 0.91-0.95 -> 0.80-0.81 ms.
int attentionRowBlock(int rows) {
  if (rows <= 32) {
    return rows;
  }
  int best = 32;
  auto computed = [&](int block) { return (rows + block - 1) / block * block; };
  for (int block = 24; block <= 48; block += 8) {
    if (computed(block) < computed(best)) {
      best = block;
    }
  }
  return best;
}

// S(j, i, b) = sum_k op(a)(k, i, b) op(b)(j, k, b), then the chain T;
// rowMax(i, b), e = exp(T - rowMax), rowSum(i, b) = sum_j e; O(d, i, b) =
// sum_j e(j, i, b) op(v)(d, j, b) / rowSum(i, b): softmax's definition
// (docs/training-ops.md) with the division after the product.
// Target: x86-64 AVX-512, 2 cores: parallel over (blocks of 8 query rows,
// batch), the block's S, e and statistics in cache, S and O in register
// tiles of one vector of columns x 8 rows (the matmul kernel's).
Kernel buildAttention(const KernelSpec &s, const std::vector<ImageParam> &params,
                      const Target &target) {
  const auto &nodes = s.attrs.at("nodes");
  KernelSpec first = attentionMatmul(s, nodes.front(), TensorSpec{});
  const TensorSpec &sc = first.outputs[0];
  KernelSpec last = attentionMatmul(s, nodes.back(), sc);
  KernelSpec chainSpec = attentionChain(s, sc);
  Chain chain(chainSpec, params, target);
  bool batched = sc.shape.size() == 3;
  size_t r0 = batched ? 1 : 0; // the rows' dim in the logical shape
  int rows = static_cast<int>(sc.shape[r0]);
  int cols = static_cast<int>(sc.shape[r0 + 1]);
  bool ta = attrBool(first, "transpose_a"), tb = attrBool(first, "transpose_b");
  bool tv = attrBool(last, "transpose_b");
  int depth = static_cast<int>(first.inputs[0].shape[ta ? r0 : r0 + 1]);
  int width = static_cast<int>(s.outputs[0].shape[r0 + 1]);
  ImageParam a = params[nodes.front().at("operands")[0].get<int64_t>()];
  ImageParam b = params[nodes.front().at("operands")[1].get<int64_t>()];
  ImageParam v = params[nodes.back().at("operands")[1].get<int64_t>()];
  Var j("j"), i("i"), n("n"), d("d");
  auto at = [&](Expr x, Expr y) {
    std::vector<Expr> e = {x, y};
    if (batched) {
      e.push_back(n);
    }
    return e;
  };
  std::vector<Var> sv = {j, i}, rv = {i}, ov = {d, i};
  if (batched) {
    sv.push_back(n);
    rv.push_back(n);
    ov.push_back(n);
  }
  RDom rk(0, depth, "k"), rj(0, cols, "rj");
  Func keys("att_keys"), scores("att_scores"), rowMax("att_row_max"),
      e("att_exp"), rowSum("att_row_sum"), acc("att_acc"), out("out");
  // op(b)(j, k) with the key column j innermost: the scores' vector loads
  // (a transposing copy when transpose_b).
  Var kv("kv");
  std::vector<Var> kvars = {j, kv};
  if (batched) {
    kvars.push_back(n);
  }
  keys(kvars) = tb ? b(at(kv, j)) : b(at(j, kv));
  scores(sv) = 0.0f;
  scores(sv) += (ta ? a(at(i, rk)) : a(at(rk, i))) * keys(at(j, rk));
  Func t("att_t");
  t(sv) = chain.apply(scores(sv), sv);
  auto atJ = [&](Expr col) {
    std::vector<Expr> e = {col, i};
    if (batched) {
      e.push_back(n);
    }
    return e;
  };
  rowMax(rv) = Float(32).min();
  rowMax(rv) = max(rowMax(rv), t(atJ(rj)));
  e(sv) = exp(t(sv) - rowMax(rv));
  rowSum(rv) = 0.0f;
  rowSum(rv) += e(atJ(rj));
  std::vector<Expr> vAt = tv ? at(rj, d) : at(d, rj);
  acc(ov) = 0.0f;
  acc(ov) += e(atJ(rj)) * v(vAt);
  out(ov) = acc(ov) / rowSum(rv);
  constrainOutput(out, s.outputs[0]);
  std::vector<Argument> arguments(params.begin(), params.end());
  if (target.has_gpu_feature()) {
    // One thread per score, per row's statistics, per output element.
    for (Func f : {scores, e, rowMax, rowSum, acc}) {
      rootStages(f, target);
    }
    scheduleElementwiseGpu(out, ov);
    return {arguments, out};
  }
  int vec = target.natural_vector_size<float>();
  // Tasks of up to 48 query rows (one transposing copy of the keys each),
  // register tiles of 8 rows x one vector of columns (scores: key columns;
  // output: its columns), the reduction inside the tile.
  int rowTile = std::min(rows, 8), rowBlock = attentionRowBlock(rows);
  Var io("io"), ii("ii"), task("task"), it("it"), ir("ir");
  out.split(i, io, ii, rowBlock, TailStrategy::ShiftInwards);
  if (batched) {
    out.reorder(d, ii, io, n).fuse(io, n, task);
  } else {
    out.reorder(d, ii, io).rename(io, task);
  }
  out.parallel(task);
  int dw = vectorWidthFor(width, vec), jw = vectorWidthFor(cols, vec);
  if (dw > 1) {
    out.vectorize(d, dw, TailStrategy::ShiftInwards);
  }
  for (Func f : {scores, e, rowMax, rowSum, acc}) {
    f.compute_at(out, task);
  }
  if (tb) {
    keys.compute_at(out, task);
    if (jw > 1) {
      keys.vectorize(j, jw, TailStrategy::GuardWithIf);
    }
  }
  if (jw > 1) {
    e.vectorize(j, jw, TailStrategy::GuardWithIf);
  }
  // A product's register tiles: `width` columns x rowTile rows, the
  // reduction `r` inside.
  auto registerTiles = [&](Func f, Var col, int width, RVar r) {
    Var co(col.name() + "_o"), ci(col.name() + "_i");
    if (width > 1) {
      f.vectorize(col, width, TailStrategy::GuardWithIf);
    }
    f.update()
        .split(col, co, ci, std::max(width, 1), TailStrategy::GuardWithIf)
        .split(i, it, ir, rowTile, TailStrategy::GuardWithIf)
        .reorder(ci, ir, r, co, it)
        .unroll(ir);
    if (width > 1) {
      f.update().vectorize(ci);
    }
  };
  registerTiles(scores, j, jw, rk.x);
  registerTiles(acc, d, dw, rj.x);
  return {arguments, out};
}

// A recomputed input (`entry`, a conv2d of at most 27 multiplies per
// output) as a pure Func over its output coordinates, which the
// batch-norm builders compute channel by channel into a buffer
// (`recomputedX`): the sum of its C x KH x KW products, unrolled, over a
// zero-padded copy of its input made once per call (computed at the root:
// the taps then read memory without bounds checks).
Func recomputedInput(const KernelSpec &s, const nlohmann::json &entry,
                     const std::vector<ImageParam> &params,
                     const Target &target) {
  KernelSpec conv = recomputedSpec(s, entry, params.size());
  const auto &operands = entry.at("operands");
  ImageParam x = params.at(operands.at(0).get<int64_t>());
  ImageParam weight = params.at(operands.at(1).get<int64_t>());
  const auto &ws = conv.inputs[1].shape; // [O, C, KH, KW]
  Window w = readWindow(conv, ws[2], ws[3], true);
  Func padded = paddedInput(x, w, 0.0f);
  Var px("px"), py("py"), pc("pc"), pn("pn");
  Func copy("recomputed_padded");
  copy(px, py, pc, pn) = padded(px, py, pc, pn);
  if (target.has_gpu_feature()) {
    rootStages(copy, target);
  } else {
    copy.compute_root().parallel(pn);
    int width = vectorWidthFor(
        static_cast<int>(conv.inputs[0].shape[3] + w.padLeft + w.padRight),
        target.natural_vector_size<float>());
    if (width > 1) {
      copy.vectorize(px, width, TailStrategy::GuardWithIf);
    }
  }
  Var ox("x"), oy("y"), o("o"), n("n");
  Expr sum = operands.size() == 3
                 ? Expr(params.at(operands.at(2).get<int64_t>())(o))
                 : Expr(0.0f);
  for (int c = 0; c < ws[1]; ++c) {
    for (int ky = 0; ky < ws[2]; ++ky) {
      for (int kx = 0; kx < ws[3]; ++kx) {
        Expr col = ox * static_cast<int>(w.sw) +
                   static_cast<int>(kx * w.dw - w.padLeft);
        Expr row = oy * static_cast<int>(w.sh) +
                   static_cast<int>(ky * w.dh - w.padTop);
        sum = sum + weight(kx, ky, c, o) * copy(col, row, c, n);
      }
    }
  }
  Func value("recomputed_input");
  value(ox, oy, o, n) = sum;
  return value;
}

Kernel buildFused(const KernelSpec &spec, const Target &target) {
  std::vector<ImageParam> params;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    params.push_back(makeInput(spec.inputs[i], "in" + std::to_string(i)));
  }
  if (spec.attrs.value("kind", std::string()) == "attention") {
    return buildAttention(spec, params, target);
  }
  std::vector<Argument> arguments(params.begin(), params.end());
  // The recomputed inputs follow the kernel's own (withRecomputed).
  const KernelSpec s = withRecomputed(spec);
  std::vector<Func> recomputed;
  for (const auto &entry : recomputedEntries(s)) {
    recomputed.push_back(recomputedInput(s, entry, params, target));
  }
  auto input = [&](int64_t index) -> Func {
    return index < static_cast<int64_t>(params.size())
               ? Func(params.at(index))
               : recomputed.at(index - params.size());
  };
  Chain chain(s, params, target, recomputed);
  auto epilogue = [&chain](Expr value, const std::vector<Var> &v) {
    return chain.apply(value, v);
  };
  std::string anchor = s.attrs.at("anchor").get<std::string>();
  std::string consumer = consumerOf(s);
  if (!consumer.empty()) {
    // The chain computes the consumer's prologue operand, inlined where the
    // consumer reads it.
    KernelSpec consumed = consumerSpec(s);
    std::vector<Var> v = makeVars(consumed.inputs[0].shape.size());
    Func value("prologue");
    value(v) = chain.apply(Expr(), v);
    const auto &at = s.attrs.at("consumer_inputs");
    auto consumerInput = [&](size_t i) {
      return params.at(at[i].get<int64_t>());
    };
    std::vector<GradientSink> sinks;
    std::vector<KernelSpec> specs = sinkSpecs(s);
    for (size_t i = 0; i < specs.size(); ++i) {
      int64_t operand = s.attrs.at("sinks")[i].at("operands")[0];
      sinks.push_back({specs[i], operand >= 0 ? params[operand] : ImageParam()});
    }
    return {arguments,
            buildBatchNormGradWithPrologue(
                consumed, input(at[0].get<int64_t>()), value, consumerInput(2),
                consumerInput(3), consumerInput(4), target, chain.stage(),
                sinks, writesDx(s),
                at[0].get<int64_t>() >= static_cast<int64_t>(params.size()))};
  }
  if (s.attrs.contains("producer")) {
    // The first segment's value is computed where the second anchor (a
    // depthwise conv2d) reads it; in the projection form the depthwise
    // segment's value where the third (a 1x1 conv2d) reads it.
    KernelSpec first = producerSpec(s);
    bool projection = first.attrs.contains("producer");
    KernelSpec expand = projection ? producerSpec(first) : first;
    KernelSpec depthwise = projection ? first : s;
    Chain producer(expand, params, target), middle(depthwise, params, target);
    auto inputsOf = [&](const KernelSpec &segment) {
      std::vector<ImageParam> in;
      for (int64_t index : segment.attrs.at("anchor_inputs")) {
        if (index >= 0) {
          in.push_back(params[index]);
        }
      }
      return in;
    };
    Epilogue producerChain = [&producer](Expr value,
                                         const std::vector<Var> &v) {
      return producer.apply(value, v);
    };
    Epilogue middleChain = [&middle](Expr value, const std::vector<Var> &v) {
      return middle.apply(value, v);
    };
    KernelSpec project = anchorSpec(s);
    Projection proj{project, inputsOf(s), epilogue};
    if (!projection && depthwiseFirst(first)) {
      // depthwise conv2d (inputs x, weight[, bias]; its chain is
      // `producer`'s, expand being first) -> 1x1 conv2d.
      std::vector<ImageParam> in = inputsOf(first);
      return {arguments,
              buildPointwiseDepthwise(
                  nullptr, {in[0]}, Epilogue(), anchorSpec(first),
                  std::vector<ImageParam>(in.begin() + 1, in.end()),
                  producerChain, target, &proj)};
    }
    KernelSpec pw = anchorSpec(expand);
    return {arguments,
            buildPointwiseDepthwise(
                &pw, inputsOf(expand), producerChain, anchorSpec(depthwise),
                inputsOf(depthwise), projection ? middleChain : epilogue,
                target, projection ? &proj : nullptr)};
  }
  if (!anchor.empty()) {
    KernelSpec anchored = anchorSpec(s);
    std::optional<KernelSpec> tail;
    if (s.attrs.contains("tail")) {
      tail = tailSpec(s);
    }
    if (anchor == "batch_norm_train") {
      std::vector<Func> anchorInputs;
      for (int64_t index : s.attrs.at("anchor_inputs")) {
        anchorInputs.push_back(input(index));
      }
      bool recomputedX = s.attrs.at("anchor_inputs")[0].get<int64_t>() >=
                         static_cast<int64_t>(params.size());
      return {arguments, buildBatchNormTrainWithEpilogue(
                             anchored, anchorInputs, epilogue, target,
                             tail ? &*tail : nullptr, recomputedX)};
    }
    std::vector<ImageParam> anchorParams;
    for (int64_t index : s.attrs.at("anchor_inputs")) {
      anchorParams.push_back(params.at(index));
    }
    Func out =
        anchor == "conv2d" || anchor == "conv2d_winograd"
            ? buildConv2dWithEpilogue(anchored, anchorParams, epilogue, target,
                                      tail ? &*tail : nullptr)
        : anchor == "matmul"
            ? buildMatmulWithEpilogue(anchored, anchorParams, epilogue, target)
            : buildDenseWithEpilogue(anchored, anchorParams, epilogue, target);
    return {arguments, out};
  }
  // Elementwise chain: the first node reads only inputs.
  std::vector<Var> v = makeVars(s.outputs[0].shape.size());
  Func out("out");
  out(v) = chain.apply(Expr(), v);
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {arguments, out};
}

//===----------------------------------------------------------------------===//
// fold_batch_norm: weight [O,...], [bias [O]], gamma, beta, mean, var [O]
// -> weight * scale[o], (bias - mean) * scale + beta, with
// scale = gamma / sqrt(var + epsilon). Runs once per parameter change.
//===----------------------------------------------------------------------===//

void validateFoldBatchNorm(const KernelSpec &s) {
  expectCounts(s, 5, 6, 2);
  expectF32Except(s);
  expectValidShapes(s);
  expectMinRank(s, s.inputs[0], "weight", 2);
  std::vector<int64_t> c = {s.inputs[0].shape[0]};
  const char *names[] = {"bias", "gamma", "beta", "mean", "var"};
  size_t first = s.inputs.size() == 6 ? 0 : 1;
  for (size_t i = 1; i < s.inputs.size(); ++i) {
    expectShape(s, s.inputs[i], names[first + i - 1], c);
  }
  expectShape(s, s.outputs[0], "folded_weight", s.inputs[0].shape);
  expectShape(s, s.outputs[1], "folded_bias", c);
  attrFloat(s, "epsilon");
}

Kernel buildFoldBatchNorm(const KernelSpec &s, const Target &target) {
  bool hasBias = s.inputs.size() == 6;
  ImageParam weight = makeInput(s.inputs[0], "weight");
  std::vector<ImageParam> params = {weight};
  for (size_t i = 1; i < s.inputs.size(); ++i) {
    params.push_back(makeInput(s.inputs[i], "in" + std::to_string(i)));
  }
  size_t g = hasBias ? 2 : 1;
  ImageParam gamma = params[g], beta = params[g + 1], mean = params[g + 2],
             var = params[g + 3];
  Expr eps = cast<float>(Expr(attrFloat(s, "epsilon")));
  Var c("c");
  Func scale("scale");
  Func shift("shift");
  defineBatchNormAffine(scale, shift, c, gamma(c), beta(c), mean(c), var(c),
                        eps);
  rootStages(scale, target);
  rootStages(shift, target);
  std::vector<Var> v = makeVars(s.inputs[0].shape.size());
  Func foldedWeight("folded_weight"), foldedBias("folded_bias");
  foldedWeight(v) = weight(v) * scale(v.back()); // O is the outermost dim
  Expr bias = hasBias ? Expr(params[1](c)) : Expr(0.0f);
  foldedBias(c) = bias * scale(c) + shift(c);
  constrainOutput(foldedWeight, s.outputs[0]);
  constrainOutput(foldedBias, s.outputs[1]);
  scheduleElementwise(foldedWeight, v, halideShape(s.outputs[0]), target);
  scheduleElementwise(foldedBias, {c}, halideShape(s.outputs[1]), target);
  return {std::vector<Argument>(params.begin(), params.end()),
          std::vector<Func>{foldedWeight, foldedBias}};
}

} // namespace

void registerFusedOps(OpRegistry &r) {
  r["fused"] = {validateFused, buildFused};
  r["fold_batch_norm"] = {validateFoldBatchNorm, buildFoldBatchNorm};
}

bool fusedSupportsBlocked(const KernelSpec &s) {
  if (s.attrs.value("kind", std::string()) == "attention" ||
      !consumerOf(s).empty() || s.attrs.contains("producer") ||
      s.attrs.contains("tail") ||
      s.attrs.value("anchor", std::string()) != "conv2d") {
    return false;
  }
  // Other operands the chain reads blocked: whole tensors of the output's
  // shape (a residual), read at the output's logical coordinates.
  std::set<int64_t> anchorInputs;
  for (int64_t index : s.attrs.at("anchor_inputs")) {
    anchorInputs.insert(index);
  }
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    if (s.inputs[i].blocked() && !anchorInputs.count(i) &&
        s.inputs[i].shape != s.outputs[0].shape) {
      return false;
    }
  }
  return conv2dSupportsBlocked(anchorSpec(s));
}

} // namespace kiln::codegen::detail
