// KernelSpec: JSON form and canonical key.
#include "kiln/codegen/KernelSpec.h"

#include "kiln/codegen/Codegen.h"

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

nlohmann::json TensorSpec::toJson() const {
  return {{"shape", shape}, {"dtype", dtypeName(dtype)}};
}

TensorSpec TensorSpec::fromJson(const nlohmann::json &j) {
  TensorSpec t;
  try {
    t.shape = j.at("shape").get<std::vector<int64_t>>();
    if (j.contains("dtype")) {
      t.dtype = parseDType(j.at("dtype").get<std::string>());
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
  return {{"op", op}, {"attrs", attrs}, {"inputs", ins}, {"outputs", outs}};
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
  } catch (const nlohmann::json::exception &e) {
    throw Error(std::string("bad kernel spec JSON: ") + e.what());
  }
  return s;
}

// nlohmann::json objects are std::maps, so dump() already sorts the keys.
std::string KernelSpec::key() const { return toJson().dump(); }

} // namespace kiln::codegen
