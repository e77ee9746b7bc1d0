// FNV-1a (64-bit): the one hash of kiln's cache keys, kernel names, weight
// checksums and per-tensor seeds. Stable across platforms and releases: AOT
// bundles and caches written by one kiln are read by another.
#ifndef KILN_SUPPORT_HASH_H
#define KILN_SUPPORT_HASH_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace kiln::support {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

inline uint64_t fnv1a(const void *data, size_t size,
                      uint64_t hash = kFnvOffset) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < size; ++i) {
    hash = (hash ^ bytes[i]) * kFnvPrime;
  }
  return hash;
}

inline uint64_t fnv1a(std::string_view text) {
  return fnv1a(text.data(), text.size());
}

// 16 lowercase hex digits.
inline std::string hex16(uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(value));
  return buf;
}

} // namespace kiln::support

#endif // KILN_SUPPORT_HASH_H
