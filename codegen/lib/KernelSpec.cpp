// KernelSpec: JSON form and canonical key.
#include "kiln/codegen/KernelSpec.h"

#include "kiln/codegen/Codegen.h"

#include <algorithm>
#include <optional>

namespace kiln::codegen {

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::I32:
    return "i32";
  }
  return "?";
}

DType parseDType(const std::string &name) {
  if (name == "f32") {
    return DType::F32;
  }
  if (name == "i32") {
    return DType::I32;
  }
  throw Error("unknown dtype '" + name + "' (expected f32 or i32)");
}

int64_t TensorSpec::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape) {
    n *= d;
  }
  return n;
}

std::vector<int64_t> TensorSpec::physicalShape() const {
  if (!blocked()) {
    return shape;
  }
  return {shape[0], shape[1] / kLayoutBlock, shape[2], shape[3], kLayoutBlock};
}

nlohmann::json TensorSpec::toJson() const {
  nlohmann::json j = {{"shape", shape}, {"dtype", dtypeName(dtype)}};
  if (blocked()) {
    j["layout"] = layout;
  }
  return j;
}

TensorSpec TensorSpec::fromJson(const nlohmann::json &j) {
  TensorSpec t;
  try {
    t.shape = j.at("shape").get<std::vector<int64_t>>();
    if (j.contains("dtype")) {
      t.dtype = parseDType(j.at("dtype").get<std::string>());
    }
    if (j.contains("layout")) {
      t.layout = j.at("layout").get<std::string>();
      if (t.layout != kBlockedLayout || t.shape.size() != 4 ||
          t.shape[1] % kLayoutBlock != 0) {
        throw Error("bad tensor spec JSON: layout '" + t.layout +
                    "' needs a rank-4 shape with channels in whole blocks "
                    "of " + std::to_string(kLayoutBlock) + " (only '" +
                    kBlockedLayout + "' is known)");
      }
    }
  } catch (const nlohmann::json::exception &e) {
    throw Error(std::string("bad tensor spec JSON: ") + e.what());
  }
  return t;
}

nlohmann::json KernelSpec::toJson() const {
  nlohmann::json ins = nlohmann::json::array();
  for (const TensorSpec &t : inputs) {
    ins.push_back(t.toJson());
  }
  nlohmann::json outs = nlohmann::json::array();
  for (const TensorSpec &t : outputs) {
    outs.push_back(t.toJson());
  }
  nlohmann::json j = {
      {"op", op}, {"attrs", attrs}, {"inputs", ins}, {"outputs", outs}};
  if (!schedule.empty()) {
    j["schedule"] = schedule;
  }
  return j;
}

KernelSpec KernelSpec::fromJson(const nlohmann::json &j) {
  KernelSpec s;
  try {
    s.op = j.at("op").get<std::string>();
    if (j.contains("attrs")) {
      s.attrs = j.at("attrs");
    }
    if (!s.attrs.is_object()) {
      throw Error("bad kernel spec JSON for op '" + s.op +
                  "': attrs must be an object");
    }
    for (const nlohmann::json &t : j.at("inputs")) {
      s.inputs.push_back(TensorSpec::fromJson(t));
    }
    for (const nlohmann::json &t : j.at("outputs")) {
      s.outputs.push_back(TensorSpec::fromJson(t));
    }
    s.schedule = j.value("schedule", "");
  } catch (const nlohmann::json::exception &e) {
    throw Error(std::string("bad kernel spec JSON: ") + e.what());
  }
  return s;
}

// nlohmann::json objects are std::maps, so dump() already sorts the keys.
std::string KernelSpec::key() const { return toJson().dump(); }

namespace {

// 2 * (output elements) * (products summed into each): conv2d's window is
// C/g * KH * KW of weight [O, C/g, KH, KW] (or [O/B, C, KH, KW, B]); dense's
// K of weight [O, K];
// conv2d_winograd is counted as the direct convolution.
int64_t anchorFlops(const std::string &op, const nlohmann::json &attrs,
                    const std::vector<TensorSpec> &in,
                    const std::vector<TensorSpec> &out) {
  auto elements = [](const TensorSpec &t) { return t.numElements(); };
  if ((op == "conv2d" || op == "dense") && in.size() >= 2 && !out.empty() &&
      out[0].shape.size() >= 2) {
    // The output channels: a packed conv2d weight [O/B, C, KH, KW, B] holds
    // them in two dims.
    return 2 * elements(out[0]) *
           (elements(in[1]) / std::max<int64_t>(out[0].shape[1], 1));
  }
  if (op == "conv2d_winograd" && in.size() >= 2 && !out.empty()) {
    // The direct convolution's count (filter [P, O/B, C, B]: C * 3 * 3), so
    // that the rate compares with conv2d's.
    return 2 * elements(out[0]) * in[1].shape[2] * 9;
  }
  if (op == "conv2d_grad_input" && in.size() == 2) {
    // The forward's count: dy [N,O,OH,OW] times the window C/g * KH * KW.
    const auto &w = in[1].shape;
    return 2 * elements(in[0]) * (elements(in[1]) / std::max<int64_t>(w[0], 1));
  }
  if (op == "conv2d_grad_weight" && in.size() == 2 && !out.empty()) {
    const auto &dw = out[0].shape;
    return 2 * elements(in[1]) * (elements(out[0]) / std::max<int64_t>(dw[0], 1));
  }
  if (op == "matmul" && in.size() == 2 && !out.empty() &&
      in[0].shape.size() >= 2) {
    // op(a) is [(B,) M, K]: K is a's second-last dim when transposed, else
    // its last.
    bool transposeA = attrs.value("transpose_a", false);
    size_t rank = in[0].shape.size();
    return 2 * elements(out[0]) * in[0].shape[transposeA ? rank - 2 : rank - 1];
  }
  return 0;
}

} // namespace

namespace {

// The anchor count of one fused segment ({"anchor", "anchor_attrs",
// "anchor_inputs"}) over `inputs`; anchor input -1 is `value`, the
// producer's value in the producer form. 0 where it does not apply.
int64_t segmentFlops(const nlohmann::json &segment,
                     const std::vector<TensorSpec> &inputs,
                     const std::vector<TensorSpec> &outputs,
                     const TensorSpec *value) {
  if (!segment.is_object()) {
    return 0;
  }
  std::string anchor = segment.value("anchor", std::string());
  if (anchor.empty() || !segment.contains("anchor_inputs")) {
    return 0;
  }
  std::vector<TensorSpec> in;
  for (const auto &index : segment.at("anchor_inputs")) {
    int64_t i = index.is_number_integer() ? index.get<int64_t>() : -2;
    if (i == -1 && value) {
      in.push_back(*value);
    } else if (i < 0 || i >= static_cast<int64_t>(inputs.size())) {
      return 0;
    } else {
      in.push_back(inputs[i]);
    }
  }
  return anchorFlops(anchor,
                     segment.value("anchor_attrs", nlohmann::json::object()),
                     in, outputs);
}

// A producer segment's value: its "value_shape" where given (a segment
// with a producer of its own), else a 1x1 conv2d's [N, O, H, W] over its
// input x [N, C, H, W] and weight [O, ...].
std::optional<TensorSpec> producerValue(const nlohmann::json &producer,
                                        const std::vector<TensorSpec> &inputs) {
  if (!producer.is_object()) {
    return std::nullopt;
  }
  if (producer.contains("value_shape")) {
    const auto &shape = producer.at("value_shape");
    if (!shape.is_array() ||
        !std::all_of(shape.begin(), shape.end(), [](const auto &d) {
          return d.is_number_integer();
        })) {
      return std::nullopt;
    }
    return TensorSpec{shape.get<std::vector<int64_t>>()};
  }
  const auto &at = producer.value("anchor_inputs", nlohmann::json::array());
  auto input = [&](size_t k) -> const TensorSpec * {
    int64_t i = k < at.size() && at[k].is_number_integer()
                    ? at[k].get<int64_t>()
                    : -1;
    return i >= 0 && i < static_cast<int64_t>(inputs.size()) ? &inputs[i]
                                                             : nullptr;
  };
  const TensorSpec *x = input(0), *w = input(1);
  if (!x || !w || x->shape.size() != 4 || w->shape.empty()) {
    return std::nullopt;
  }
  return TensorSpec{{x->shape[0], w->shape[0], x->shape[2], x->shape[3]}};
}

// A fused segment's count with its producers' (the producer form: each
// segment's anchor reads its producer's value).
int64_t chainFlops(const nlohmann::json &segment,
                   const std::vector<TensorSpec> &inputs,
                   const std::vector<TensorSpec> &outputs) {
  if (!segment.is_object() || !segment.contains("producer")) {
    return segmentFlops(segment, inputs, outputs, nullptr);
  }
  const auto &producer = segment.at("producer");
  std::optional<TensorSpec> value = producerValue(producer, inputs);
  if (!value) {
    return 0;
  }
  return chainFlops(producer, inputs, {*value}) +
         segmentFlops(segment, inputs, outputs, &*value);
}

} // namespace

int64_t KernelSpec::flops() const {
  if (op != "fused") {
    return anchorFlops(op, attrs, inputs, outputs);
  }
  if (attrs.value("kind", std::string()) == "attention") {
    // Both products: S = op(q) op(k) ([(B,) M, N], contraction K) and O =
    // softmax(S) op(v) ([(B,) M, Dv], contraction N).
    const auto &nodes = attrs.value("nodes", nlohmann::json::array());
    if (nodes.size() < 3 || outputs.empty()) {
      return 0;
    }
    auto input = [&](const nlohmann::json &node, size_t k) -> const TensorSpec * {
      const auto &ops = node.value("operands", nlohmann::json::array());
      int64_t i = k < ops.size() && ops[k].is_number_integer()
                      ? ops[k].get<int64_t>() : -1;
      return i >= 0 && i < static_cast<int64_t>(inputs.size()) ? &inputs[i]
                                                               : nullptr;
    };
    const TensorSpec *q = input(nodes.front(), 0), *v = input(nodes.back(), 1);
    if (!q || !v || q->shape.size() < 2 || v->shape.size() < 2) {
      return 0;
    }
    auto transposed = [](const nlohmann::json &node, const char *flag) {
      return node.value("attrs", nlohmann::json::object()).value(flag, false);
    };
    size_t r = q->shape.size();
    int64_t k = q->shape[transposed(nodes.front(), "transpose_a") ? r - 2 : r - 1];
    int64_t n = v->shape[transposed(nodes.back(), "transpose_b") ? r - 1 : r - 2];
    const auto &o = outputs[0].shape;
    int64_t rowsTimesBatch = outputs[0].numElements() / std::max<int64_t>(o.back(), 1);
    return 2 * rowsTimesBatch * n * (k + o.back());
  }
  auto tail = attrs.find("tail");
  if (tail != attrs.end() && tail->contains("shape") && !outputs.empty()) {
    // A pooling tail: the chain's value (the pool's input) is the anchor's
    // output.
    std::vector<TensorSpec> value = outputs;
    value[0].shape = tail->at("shape").get<std::vector<int64_t>>();
    return chainFlops(attrs, inputs, value);
  }
  return chainFlops(attrs, inputs, outputs);
}

} // namespace kiln::codegen
