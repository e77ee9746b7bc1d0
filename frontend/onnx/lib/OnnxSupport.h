//===- OnnxSupport.h - internals shared by the ONNX importer ---*- C++ -*-===//
#ifndef KILN_FRONTEND_ONNX_LIB_ONNXSUPPORT_H
#define KILN_FRONTEND_ONNX_LIB_ONNXSUPPORT_H

#include "kiln/frontend/Onnx.h"

#include <onnx/onnx_pb.h>

#include <string>

namespace kiln::frontend::onnx_detail {

// "FLOAT", "INT64", ... for an ONNX TensorProto.DataType number.
std::string elementTypeName(int type);
// Decodes raw_data or the typed fields; `what` prefixes error messages.
OnnxTensor fromProto(const onnx::TensorProto &proto, const std::string &what);

} // namespace kiln::frontend::onnx_detail

#endif // KILN_FRONTEND_ONNX_LIB_ONNXSUPPORT_H
