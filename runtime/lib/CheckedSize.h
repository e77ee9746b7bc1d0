// Checked size arithmetic: the one place where the runtime turns shapes into
// element counts, byte sizes, strides and offsets. Shapes come from files
// (npy, safetensors, IDX, a plan.json in a possibly shared cache), so a
// product that overflows must become an Error naming the file: signed
// overflow is undefined, and a size that wraps to a small value would let a
// copy or a kernel write far past its buffer. Internal to the runtime.
#ifndef KILN_RUNTIME_LIB_CHECKEDSIZE_H
#define KILN_RUNTIME_LIB_CHECKEDSIZE_H

#include "kiln/runtime/Runtime.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::runtime::detail {

// a * b and a + b of non-negative values; nullopt when an operand is
// negative or the result does not fit in int64_t.
inline std::optional<int64_t> checkedMul(int64_t a, int64_t b) {
  int64_t result;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &result)) {
    return std::nullopt;
  }
  return result;
}

inline std::optional<int64_t> checkedAdd(int64_t a, int64_t b) {
  int64_t result;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &result)) {
    return std::nullopt;
  }
  return result;
}

// `size` rounded up to a multiple of `alignment`, or nullopt on overflow.
inline std::optional<int64_t> checkedAlignUp(int64_t size, int64_t alignment) {
  std::optional<int64_t> padded = checkedAdd(size, alignment - 1);
  if (!padded) {
    return std::nullopt;
  }
  return *padded / alignment * alignment;
}

// The product of dims [begin, end) times `itemSize`; nullopt when a dim is
// negative or the product overflows int64_t. Like numpy, the non-zero dims
// must multiply without overflow even when a zero dim makes the size 0:
// then every partial product of an accepted shape (a row, a stride) fits
// too, whatever the order of the dims.
inline std::optional<int64_t>
checkedSize(const int64_t *begin, const int64_t *end, int64_t itemSize = 1) {
  std::optional<int64_t> size = itemSize;
  bool empty = false;
  for (const int64_t *dim = begin; dim != end && size; ++dim) {
    if (*dim == 0) {
      empty = true;
    } else {
      size = checkedMul(*size, *dim);
    }
  }
  if (size && empty) {
    return 0;
  }
  return size;
}

inline std::optional<int64_t> elementCount(const std::vector<int64_t> &shape) {
  return checkedSize(shape.data(), shape.data() + shape.size());
}

inline std::optional<int64_t> byteSize(const std::vector<int64_t> &shape,
                                       size_t itemSize) {
  return checkedSize(shape.data(), shape.data() + shape.size(),
                     static_cast<int64_t>(itemSize));
}

// Why elementCount or byteSize refused `shape`, for an Error message:
// "shape 2x-1 has a negative dimension" or
// "shape 65536x65536 is too large (its size overflows 64 bits)".
inline std::string sizeProblem(const std::vector<int64_t> &shape) {
  std::string text = "shape ";
  bool negative = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    text += (i > 0 ? "x" : "") + std::to_string(shape[i]);
    negative |= shape[i] < 0;
  }
  return text + (negative ? " has a negative dimension"
                          : " is too large (its size overflows 64 bits)");
}

// byteSize(shape, itemSize), or throws Error "<what>: <sizeProblem>".
inline int64_t requireByteSize(const std::vector<int64_t> &shape,
                               size_t itemSize, std::string_view what) {
  std::optional<int64_t> size = byteSize(shape, itemSize);
  if (!size) {
    throw Error(std::string(what) + ": " + sizeProblem(shape));
  }
  return *size;
}

} // namespace kiln::runtime::detail

#endif // KILN_RUNTIME_LIB_CHECKEDSIZE_H
