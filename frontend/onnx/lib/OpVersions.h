//===- OpVersions.h - ONNX operator versions kiln imports -------*- C++ -*-===//
//
// An ONNX model names an opset; each operator has the version in effect at
// that opset: the latest version it has that is not newer than the opset.
// The importer decides per op version, not per model, what it accepts
// (docs/onnx.md "Opsets").
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_ONNX_LIB_OPVERSIONS_H
#define KILN_FRONTEND_ONNX_LIB_OPVERSIONS_H

#include <cstdint>
#include <string>

namespace kiln::frontend::onnx_detail {

// The opsets of the default domain that kiln reads.
constexpr int64_t kMinOpset = 1, kMaxOpset = 21;

// The version of `op` in effect at `opset` (ONNX's since_version), or 0
// where the op does not exist yet at that opset or kiln does not know it.
int64_t opVersion(const std::string &op, int64_t opset);

} // namespace kiln::frontend::onnx_detail

#endif // KILN_FRONTEND_ONNX_LIB_OPVERSIONS_H
