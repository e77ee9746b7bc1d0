//===- FuzzSupport.h - shared pieces of kiln's libFuzzer harnesses ---------===//
//
// Each harness hands one input to one of kiln's readers. The readers take
// paths, so the input is written to a file private to the process first.
// kiln's own errors (exceptions derived from std::exception: a clear
// message for bad input) are the expected outcome of most inputs; a crash,
// a sanitizer report, a hang or an unexpected exception type is a finding.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FUZZ_FUZZSUPPORT_H
#define KILN_FUZZ_FUZZSUPPORT_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <unistd.h>

namespace kiln::fuzz {

// Writes `size` bytes to $TMPDIR (or /tmp)/kiln-fuzz-<pid><suffix> and
// returns the path; the same file is reused for every input.
inline std::string inputFile(const uint8_t *data, size_t size,
                             const char *suffix) {
  const char *dir = std::getenv("TMPDIR");
  std::string path = std::string(dir && *dir ? dir : "/tmp") + "/kiln-fuzz-" +
                     std::to_string(::getpid()) + suffix;
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::abort(); // the harness cannot run: not a finding in kiln
  }
  if (size > 0 && std::fwrite(data, 1, size, f) != size) {
    std::abort();
  }
  std::fclose(f);
  return path;
}

// Runs `read`; an exception with a message is a clean refusal.
template <typename Fn> void expectCleanRefusal(Fn &&read) {
  try {
    read();
  } catch (const std::exception &) {
  }
}

} // namespace kiln::fuzz

#endif // KILN_FUZZ_FUZZSUPPORT_H
