//===- Checksum.h - self-checking cache artifacts ----------------*- C++ -*-===//
//
// Every artifact kiln writes into its cache (kernel objects, kernel
// libraries, the Halide runtime object) gets a sidecar `<file>.sum` holding
// its size and a 64-bit content hash, written after the artifact is in
// place. Before an artifact is used it is verified against its sidecar; a
// missing sidecar, a size or a hash that differs (a truncated copy, a full
// disk, flipped bytes, a file replaced by garbage) makes it unusable: the
// cache deletes and rebuilds it, and the runtime refuses to dlopen it (a
// truncated .so mapped into memory dies with SIGBUS).
//
// The hash folds the file 8 bytes at a time (a multiply-xorshift mix, about
// 1 GB/s): it detects damage, it is not a cryptographic signature.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SUPPORT_CHECKSUM_H
#define KILN_SUPPORT_CHECKSUM_H

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

namespace kiln::support {

struct FileSum {
  uint64_t size = 0;
  uint64_t hash = 0;
  bool operator==(const FileSum &o) const {
    return size == o.size && hash == o.hash;
  }
};

// Size and content hash of a file; nullopt if it cannot be read.
inline std::optional<FileSum> sumFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  FileSum sum;
  uint64_t h = 0x9e3779b97f4a7c15ull;
  std::vector<char> chunk(1 << 16);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    std::streamsize got = in.gcount();
    if (got <= 0) {
      break;
    }
    sum.size += static_cast<uint64_t>(got);
    std::streamsize i = 0;
    for (; i + 8 <= got; i += 8) {
      uint64_t word;
      std::memcpy(&word, chunk.data() + i, 8);
      h = (h ^ word) * 0xff51afd7ed558ccdull;
      h ^= h >> 32;
    }
    for (; i < got; ++i) {
      h = (h ^ static_cast<unsigned char>(chunk[i])) * 0xc4ceb9fe1a85ec53ull;
      h ^= h >> 29;
    }
  }
  if (in.bad()) {
    return std::nullopt;
  }
  sum.hash = h ^ sum.size;
  return sum;
}

inline std::string sumPath(const std::string &path) { return path + ".sum"; }

// Writes `<path>.sum` for the artifact whose bytes are in `content` (by
// default `path` itself), atomically: a temp file, then rename. Writers
// call it with their temp file before renaming the artifact into place, so
// that a reader never sees an artifact without its sidecar. Returns false
// when the content cannot be read.
inline bool writeSum(const std::string &path, const std::string &content = "") {
  std::optional<FileSum> sum = sumFile(content.empty() ? path : content);
  if (!sum) {
    return false;
  }
  std::string tmp = sumPath(path) + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "kiln-sum-1 " << sum->size << " " << std::hex << sum->hash << "\n";
    if (!out) {
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, sumPath(path), ec);
  return !ec;
}

// True when `path` exists and matches its sidecar.
inline bool verifySum(const std::string &path) {
  std::ifstream in(sumPath(path));
  std::string magic;
  FileSum recorded;
  if (!(in >> magic >> recorded.size >> std::hex >> recorded.hash) ||
      magic != "kiln-sum-1") {
    return false;
  }
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec || size != recorded.size) {
    return false;
  }
  std::optional<FileSum> actual = sumFile(path);
  return actual && *actual == recorded;
}

// Removes an artifact and its sidecar (a damaged one, before a rebuild).
inline void removeArtifact(const std::string &path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  std::filesystem::remove(sumPath(path), ec);
}

} // namespace kiln::support

#endif // KILN_SUPPORT_CHECKSUM_H
