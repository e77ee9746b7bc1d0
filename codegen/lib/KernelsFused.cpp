// Fused kernels (docs/fusion.md): an optional anchor (conv2d or dense) whose
// output stage also computes a chain of elementwise ops, or a chain of
// elementwise ops alone. The chain is inlined into the output Func, so the
// intermediate tensors are never written to memory.
//
// attrs: {"kind", "anchor": "" | "conv2d" | "dense", "anchor_attrs",
//         "anchor_inputs": [input indices],
//         "nodes": [{"op", "attrs", "operands": [-1 = running value, k]}]}
// and, in the producer form (a 1x1 conv2d's chain computed inside the
// depthwise conv2d reading it, anchor input -1), "producer": the first
// segment's {"anchor", "anchor_attrs", "anchor_inputs", "nodes"}.
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

// The consumer's own spec: the chain's value (-1) has the shape of the
// consumer's first output (batch_norm_grad: dy like dx).
KernelSpec consumerSpec(const KernelSpec &s) {
  KernelSpec spec;
  spec.op = consumerOf(s);
  spec.attrs = s.attrs.at("consumer_attrs");
  for (int64_t index : s.attrs.at("consumer_inputs")) {
    spec.inputs.push_back(index < 0 ? s.outputs.at(0) : s.inputs.at(index));
  }
  spec.outputs = s.outputs;
  return spec;
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
    spec.inputs.push_back(s.inputs.at(index));
  }
  spec.outputs = {s.outputs.at(0)};
  return spec;
}

void requireAttrs(const KernelSpec &s, std::initializer_list<const char *> keys) {
  for (const char *key : keys) {
    if (!s.attrs.contains(key)) {
      fail(s, std::string("missing attribute '") + key + "'");
    }
  }
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
  if (at.size() < 2 || at[0].get<int64_t>() < 0 || at[1].get<int64_t>() < 0 ||
      at[0].get<int64_t>() >= static_cast<int64_t>(s.inputs.size()) ||
      at[1].get<int64_t>() >= static_cast<int64_t>(s.inputs.size())) {
    fail(s, "the producer needs an input and a weight");
  }
  const auto &x = s.inputs[at[0].get<int64_t>()].shape;
  const auto &w = s.inputs[at[1].get<int64_t>()].shape;
  if (x.size() != 4 || w.empty()) {
    fail(s, "the producer reads x [N, C, H, W] and a weight [O, ...]");
  }
  spec.outputs = {TensorSpec{{x[0], w[0], x[2], x[3]}}};
  return spec;
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
  return spec;
}

// Anchors and the number of outputs each gives the fused kernel: the
// chain's value (from the anchor's first output), then its other outputs.
const std::map<std::string, size_t> &anchorOutputs() {
  static const std::map<std::string, size_t> anchors = {
      {"conv2d", 1}, {"conv2d_winograd", 1}, {"dense", 1},
      {"batch_norm_train", 3}};
  return anchors;
}

void validateNodes(const KernelSpec &s, bool haveValue);

void validateFused(const KernelSpec &s) {
  requireAttrs(s, {"anchor", "anchor_attrs", "anchor_inputs", "nodes"});
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
    if (s.outputs.empty()) {
      fail(s, "a prologue kernel has its consumer's outputs");
    }
    lookupOp(consumer).validate(consumerSpec(s));
  } else {
    expectCounts(s, 1, 64, anchor.empty() ? 1 : outputs->second);
  }
  expectF32Except(s);
  bool producer = s.attrs.contains("producer");
  if (producer) {
    KernelSpec first = producerSpec(s);
    if (first.attrs.at("anchor") != "conv2d" || anchor != "conv2d") {
      fail(s, "a producer kernel fuses two conv2d anchors");
    }
    validateNodes(first, true);
    validatePointwiseDepthwise(anchorSpec(first), anchorSpec(s));
  }
  bool haveValue = false;
  if (!anchor.empty()) {
    // anchorSpec checks the indices; -1 (the producer's value) only first.
    const auto &at = s.attrs.at("anchor_inputs");
    for (size_t i = 0; i < at.size(); ++i) {
      if ((at[i] == -1) != (producer && i == 0)) {
        fail(s, "anchor input " + std::to_string(i) + " is invalid");
      }
    }
    lookupOp(anchor).validate(anchorSpec(s));
    haveValue = true;
  }
  validateNodes(s, haveValue);
}

// The elementwise nodes of s.attrs["nodes"], after an anchor's value if
// haveValue.
void validateNodes(const KernelSpec &s, bool haveValue) {
  const auto &outShape = s.outputs[0].shape;
  for (const auto &node : s.attrs.at("nodes")) {
    std::string op = node.at("op").get<std::string>();
    if (!isNodeOp(op)) {
      fail(s, "op '" + op + "' cannot be fused");
    }
    if (op == "batch_norm" && node.at("attrs").value("training", false)) {
      fail(s, "batch_norm with batch statistics cannot be fused");
    }
    if (op == "max_pool2d_grad") {
      // A prologue's first node (kiln::ir::isPrologueSource): its x and dy
      // are inputs, its result has the consumer's operand's shape.
      const auto &operands = node.at("operands");
      if (consumerOf(s).empty() || haveValue || operands.size() != 2 ||
          operands[0] < 0 || operands[1] < 0 ||
          operands[0] >= static_cast<int64_t>(s.inputs.size()) ||
          operands[1] >= static_cast<int64_t>(s.inputs.size())) {
        fail(s, "max_pool2d_grad can only start a prologue, reading inputs");
      }
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
      grad.inputs = {s.outputs[0], s.outputs[0]};
      grad.outputs = {s.outputs[0]};
      lookupOp(op).validate(grad);
    }
    for (int64_t operand : node.at("operands")) {
      if (operand == -1) {
        if (!haveValue) {
          fail(s, "node '" + op + "' reads a value before one is computed");
        }
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
  Chain(const KernelSpec &s, const std::vector<ImageParam> &params,
        const Target &target)
      : spec_(s), params_(params), target_(target) {
    int index = 0;
    for (const auto &node : s.attrs.at("nodes")) {
      if (node.at("op") == "batch_norm") {
        prepareBatchNorm(node, index);
      }
      if (node.at("op") == "max_pool2d_grad") {
        const auto &ops = node.at("operands");
        gather_.emplace(poolSpec(s, node), params_[ops.at(0)],
                        params_[ops.at(1)]);
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
    int index = 0;
    for (const auto &node : spec_.attrs.at("nodes")) {
      value = applyNode(node, index++, value, v);
    }
    return value;
  }

private:
  Expr operand(const nlohmann::json &node, size_t i, Expr value,
               const std::vector<Var> &v) const {
    int64_t k = node.at("operands").at(i);
    return k < 0 ? value : broadcastAt(params_[k], spec_.inputs[k], v);
  }

  // Channel = logical axis 1 = Halide dim rank-2.
  Expr channel(const std::vector<Var> &v) const {
    return v.size() >= 2 ? Expr(v[v.size() - 2]) : Expr(0);
  }

  void prepareBatchNorm(const nlohmann::json &node, int index) {
    // Per-channel scale and shift, computed once per kernel call (C values).
    const auto &ops = node.at("operands");
    ImageParam w = params_[ops.at(1)], b = params_[ops.at(2)],
               mean = params_[ops.at(3)], var = params_[ops.at(4)];
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
  Target target_;
  std::map<int, std::pair<Func, Func>> batchNorm_;
  std::optional<MaxPoolGradGather> gather_;
};

Kernel buildFused(const KernelSpec &s, const Target &target) {
  std::vector<ImageParam> params;
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    params.push_back(makeInput(s.inputs[i], "in" + std::to_string(i)));
  }
  std::vector<Argument> arguments(params.begin(), params.end());
  Chain chain(s, params, target);
  auto epilogue = [&chain](Expr value, const std::vector<Var> &v) {
    return chain.apply(value, v);
  };
  std::string anchor = s.attrs.at("anchor").get<std::string>();
  std::string consumer = consumerOf(s);
  if (!consumer.empty()) {
    // The chain computes the consumer's prologue operand, inlined where the
    // consumer reads it.
    KernelSpec spec = consumerSpec(s);
    std::vector<Var> v = makeVars(spec.inputs[0].shape.size());
    Func value("prologue");
    value(v) = chain.apply(Expr(), v);
    const auto &at = s.attrs.at("consumer_inputs");
    auto input = [&](size_t i) { return params[at[i].get<int64_t>()]; };
    return {arguments,
            buildBatchNormGradWithPrologue(spec, input(0), value, input(2),
                                           input(3), input(4), target,
                                           chain.stage())};
  }
  if (s.attrs.contains("producer")) {
    // The first segment's value is computed where the second anchor (a
    // depthwise conv2d) reads it.
    KernelSpec first = producerSpec(s);
    Chain producer(first, params, target);
    std::vector<ImageParam> pin, din;
    for (int64_t index : first.attrs.at("anchor_inputs")) {
      pin.push_back(params[index]);
    }
    for (int64_t index : s.attrs.at("anchor_inputs")) {
      if (index >= 0) {
        din.push_back(params[index]);
      }
    }
    Epilogue producerChain = [&producer](Expr value,
                                         const std::vector<Var> &v) {
      return producer.apply(value, v);
    };
    return {arguments,
            buildPointwiseDepthwise(anchorSpec(first), pin, producerChain,
                                    anchorSpec(s), din, epilogue, target)};
  }
  if (!anchor.empty()) {
    std::vector<ImageParam> anchorParams;
    for (int64_t index : s.attrs.at("anchor_inputs")) {
      anchorParams.push_back(params[index]);
    }
    KernelSpec spec = anchorSpec(s);
    if (anchor == "batch_norm_train") {
      return {arguments, buildBatchNormTrainWithEpilogue(spec, anchorParams,
                                                         epilogue, target)};
    }
    Func out = anchor == "conv2d" || anchor == "conv2d_winograd"
                   ? buildConv2dWithEpilogue(spec, anchorParams, epilogue, target)
                   : buildDenseWithEpilogue(spec, anchorParams, epilogue, target);
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

} // namespace kiln::codegen::detail
