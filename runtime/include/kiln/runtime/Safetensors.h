// safetensors files (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header mapping each tensor name to
// {"dtype", "shape", "data_offsets"}, then the raw little-endian data.
// kiln reads and writes F32 and I32; "__metadata__" is ignored on read.
#ifndef KILN_RUNTIME_SAFETENSORS_H
#define KILN_RUNTIME_SAFETENSORS_H

#include "kiln/runtime/Runtime.h"

#include <map>
#include <string>

namespace kiln::runtime {

// Throws Error naming the file and the problem.
std::map<std::string, Tensor> readSafetensors(const std::string &path);

// Written to a temporary file next to `path`, then renamed over it, so a
// reader never sees a half-written file.
void writeSafetensors(const std::string &path,
                      const std::map<std::string, Tensor> &tensors);

} // namespace kiln::runtime

#endif // KILN_RUNTIME_SAFETENSORS_H
