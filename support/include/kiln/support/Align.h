// The one alignment of kiln's buffers: every arena offset, tensor block and
// AOT weight is a multiple of 64 bytes (a cache line, one AVX-512 vector).
#ifndef KILN_SUPPORT_ALIGN_H
#define KILN_SUPPORT_ALIGN_H

#include <cstdint>

namespace kiln::support {

constexpr int64_t kAlignment = 64;

// n rounded up to kAlignment. n must be at most INT64_MAX - 63 (callers
// with untrusted sizes use runtime/lib/CheckedSize.h's checkedAlignUp).
template <typename T> constexpr T alignUp(T n) {
  return (n + T(kAlignment) - 1) / T(kAlignment) * T(kAlignment);
}

// n rounded up to a multiple of `alignment` (> 0).
template <typename T> constexpr T alignUp(T n, T alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

// Buffers of GPU plans start at multiples of this many bytes in their
// device allocation: an OpenCL sub-buffer's offset must be a multiple of
// the device's CL_DEVICE_MEM_BASE_ADDR_ALIGN (PoCL: 128 bytes, NVIDIA:
// 512), and CUDA reads coalesce from 256-byte boundaries.
constexpr int64_t kDeviceAlignment = 512;

} // namespace kiln::support

#endif // KILN_SUPPORT_ALIGN_H
