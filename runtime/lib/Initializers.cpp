// Parameter initializers: the table "Initializers" in docs/ops.md.
#include "kiln/runtime/Runtime.h"

#include <cmath>

namespace kiln::runtime {

namespace {

enum class Distribution { Constant, Uniform, Normal };

struct Resolved {
  Distribution distribution;
  double value; // constant value, uniform bound or normal stddev
};

// PyTorch's _calculate_fan_in_and_fan_out, extended to rank 0 and 1 (where
// PyTorch refuses): a bias should carry its layer's fans as attributes.
void deriveFans(const std::vector<int64_t> &shape, const InitSpec &init,
                double &fanIn, double &fanOut) {
  double receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) {
    receptive *= static_cast<double>(shape[i]);
  }
  double in = 1, out = 1;
  if (shape.size() == 1) {
    in = out = static_cast<double>(shape[0]);
  } else if (shape.size() >= 2) {
    in = static_cast<double>(shape[1]) * receptive;
    out = static_cast<double>(shape[0]) * receptive;
  }
  fanIn = init.fanIn > 0 ? static_cast<double>(init.fanIn) : in;
  fanOut = init.fanOut > 0 ? static_cast<double>(init.fanOut) : out;
}

Resolved resolve(const std::string &name, const std::vector<int64_t> &shape,
                 const InitSpec &init) {
  if (init.kind == "zeros") {
    return {Distribution::Constant, 0.0};
  }
  if (init.kind == "ones") {
    return {Distribution::Constant, 1.0};
  }
  double fanIn, fanOut;
  deriveFans(shape, init, fanIn, fanOut);
  if (fanIn <= 0 || fanOut <= 0) {
    throw Error("parameter '" + name + "': initializer '" + init.kind +
                "' needs a positive fan_in/fan_out");
  }
  const std::string &k = init.kind;
  if (k == "torch_default") {
    return {Distribution::Uniform, 1.0 / std::sqrt(fanIn)};
  }
  if (k == "glorot_uniform") {
    return {Distribution::Uniform, std::sqrt(6.0 / (fanIn + fanOut))};
  }
  if (k == "glorot_normal") {
    return {Distribution::Normal, std::sqrt(2.0 / (fanIn + fanOut))};
  }
  if (k == "he_uniform") {
    return {Distribution::Uniform, std::sqrt(6.0 / fanIn)};
  }
  if (k == "he_normal") {
    return {Distribution::Normal, std::sqrt(2.0 / fanIn)};
  }
  if (k == "lecun_uniform") {
    return {Distribution::Uniform, std::sqrt(3.0 / fanIn)};
  }
  if (k == "lecun_normal") {
    return {Distribution::Normal, std::sqrt(1.0 / fanIn)};
  }
  throw Error("parameter '" + name + "': unknown initializer '" + k + "'");
}

} // namespace

bool isKnownInitializer(const std::string &kind) {
  static const char *const kinds[] = {
      "zeros",         "ones",           "torch_default",
      "glorot_uniform", "glorot_normal", "he_uniform",
      "he_normal",     "lecun_uniform",  "lecun_normal"};
  for (const char *known : kinds) {
    if (kind == known) {
      return true;
    }
  }
  return false;
}

Tensor initializeParameter(const std::string &name,
                           const std::vector<int64_t> &shape, DType dtype,
                           const InitSpec &init, uint64_t seed) {
  Tensor tensor(shape, dtype);
  Resolved how = resolve(name, shape, init);
  int64_t count = tensor.numElements();
  if (how.distribution == Distribution::Constant) {
    for (int64_t i = 0; i < count; ++i) {
      if (dtype == DType::F32) {
        tensor.f32()[i] = static_cast<float>(how.value);
      } else {
        tensor.i32()[i] = static_cast<int32_t>(how.value);
      }
    }
    return tensor;
  }
  if (dtype != DType::F32) {
    throw Error("parameter '" + name + "': initializer '" + init.kind +
                "' needs an f32 tensor, got " + tensor.shapeString());
  }
  Random random(seed ^ hashName(name));
  float bound = static_cast<float>(how.value);
  float *values = tensor.f32();
  for (int64_t i = 0; i < count; ++i) {
    values[i] = how.distribution == Distribution::Uniform
                    ? random.uniform(-bound, bound)
                    : random.normal(0.0f, bound);
  }
  return tensor;
}

} // namespace kiln::runtime
