// Whole-file reads and atomic writes shared by the npy, safetensors and plan
// readers. Internal to the runtime.
#ifndef KILN_RUNTIME_LIB_FILEIO_H
#define KILN_RUNTIME_LIB_FILEIO_H

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::runtime::detail {

// Throws Error "cannot open '<path>': <strerror>".
std::vector<uint8_t> readFile(const std::string &path);

// Writes `<path>.tmp.<pid>` and renames it over `path`.
void writeFileAtomically(const std::string &path, const void *data,
                         size_t size);

} // namespace kiln::runtime::detail

#endif // KILN_RUNTIME_LIB_FILEIO_H
