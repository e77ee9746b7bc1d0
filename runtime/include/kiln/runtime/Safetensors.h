// safetensors files (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header mapping each tensor name to
// {"dtype", "shape", "data_offsets"}, then the raw little-endian data.
// kiln reads and writes F32 and I32. The optional "__metadata__" entry is a
// string-to-string map (kiln's checkpoints keep epoch, step, seed, ... there).
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
                      const std::map<std::string, Tensor> &tensors,
                      const std::map<std::string, std::string> &metadata = {});

// The "__metadata__" map of a safetensors file (empty if it has none).
// Throws Error naming the file if the header is malformed or a metadata
// value is not a string.
std::map<std::string, std::string>
readSafetensorsMetadata(const std::string &path);

} // namespace kiln::runtime

#endif // KILN_RUNTIME_SAFETENSORS_H
