// Pieces shared by the kernel test files (KernelTest.cpp, GradKernelTest.cpp):
// operands with their dtype, the seeded input generator, and the conversion
// of reference tensors to runtime tensors.
#ifndef KILN_TESTS_UNIT_TESTSUPPORT_H
#define KILN_TESTS_UNIT_TESTSUPPORT_H

#include "kiln/codegen/KernelSpec.h"
#include "kiln/runtime/Runtime.h"
#include "reference/Reference.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace kiln::test {

struct Operand {
  reference::Tensor values; // i32 operands hold integral doubles
  codegen::DType dtype = codegen::DType::F32;
};

inline std::vector<Operand> f32(std::vector<reference::Tensor> tensors) {
  std::vector<Operand> operands;
  for (reference::Tensor &t : tensors) {
    operands.push_back({std::move(t), codegen::DType::F32});
  }
  return operands;
}

inline reference::Tensor scalar(double value) {
  return reference::Tensor({}, {value});
}

// splitmix64 seeded from the case name: inputs do not depend on the order
// in which cases are built, nor on the standard library's distributions.
class Rng {
public:
  explicit Rng(const std::string &name)
      : state_(kiln::runtime::hashName(name)) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [low, high), rounded to float so that the reference sees
  // exactly the values the kernel gets.
  double uniform(double low, double high) {
    const double unit = (next() >> 11) * 0x1.0p-53;
    return static_cast<float>(low + (high - low) * unit);
  }
  int32_t integer(int32_t low, int32_t high) { // [low, high)
    return low + static_cast<int32_t>(next() % (high - low));
  }
  reference::Tensor tensor(std::vector<int64_t> shape, double low,
                           double high) {
    reference::Tensor t(std::move(shape));
    for (double &v : t.data) {
      v = uniform(low, high);
    }
    return t;
  }

  // nll_loss's target for input `shape` [N, C, d...]: labels [N, d...] in
  // [0, C), every third one `*ignore` when given (a valid class itself, so
  // only ignoring keeps it out).
  reference::Tensor nllTarget(const std::vector<int64_t> &shape,
                              const int64_t *ignore) {
    std::vector<int64_t> targetShape = {shape[0]};
    targetShape.insert(targetShape.end(), shape.begin() + 2, shape.end());
    reference::Tensor target(targetShape);
    for (size_t i = 0; i < target.data.size(); ++i) {
      target.data[i] = ignore && i % 3 == 1
                           ? static_cast<double>(*ignore)
                           : integer(0, static_cast<int32_t>(shape[1]));
    }
    return target;
  }

private:
  uint64_t state_;
};

inline runtime::Tensor toRuntime(const Operand &operand) {
  const bool isI32 = operand.dtype == codegen::DType::I32;
  runtime::Tensor t(operand.values.shape,
                    isI32 ? runtime::DType::I32 : runtime::DType::F32);
  for (size_t i = 0; i < operand.values.data.size(); ++i) {
    if (isI32) {
      t.i32()[i] = static_cast<int32_t>(operand.values.data[i]);
    } else {
      t.f32()[i] = static_cast<float>(operand.values.data[i]);
    }
  }
  return t;
}

inline std::string shapeText(const std::vector<int64_t> &shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    out << (i ? "," : "") << shape[i];
  }
  out << "]";
  return out.str();
}

// Pool parameters in PyTorch terms, for the reference and the test tables.
inline reference::Pool2dParams poolParams(std::array<int64_t, 2> kernel,
                             std::array<int64_t, 2> strides,
                             std::array<int64_t, 4> pads, bool ceilMode = false,
                             bool countIncludePad = true,
                             std::array<int64_t, 2> dilations = {1, 1}) {
  reference::Pool2dParams p;
  p.kernel = kernel;
  p.strides = strides;
  p.pads = pads;
  p.ceilMode = ceilMode;
  p.countIncludePad = countIncludePad;
  p.dilations = dilations;
  return p;
}

// A resize (and resize_grad) case: the reference's spec and the kernel
// attributes that say the same.
inline reference::ResizeSpec
resizeSpec(const std::string &mode, const std::string &transform,
           double scaleH, double scaleW,
           const std::string &nearest = "round_prefer_floor",
           bool excludeOutside = false) {
  reference::ResizeSpec spec;
  spec.mode = mode;
  spec.transform = transform;
  spec.scaleH = scaleH;
  spec.scaleW = scaleW;
  spec.nearest = nearest;
  spec.excludeOutside = excludeOutside;
  return spec;
}

inline nlohmann::json resizeAttrs(const reference::ResizeSpec &spec,
                                  int64_t oh, int64_t ow) {
  return {{"sizes", {oh, ow}},
          {"scales", {spec.scaleH, spec.scaleW}},
          {"mode", spec.mode},
          {"coordinate_transformation_mode", spec.transform},
          {"nearest_mode", spec.nearest},
          {"cubic_coeff_a", spec.cubicA},
          {"exclude_outside", spec.excludeOutside}};
}

} // namespace kiln::test

#endif // KILN_TESTS_UNIT_TESTSUPPORT_H
