//===- Onnx.h - import ONNX models into the kiln dialect -------*- C++ -*-===//
//
// Reads an ONNX ModelProto (opsets 7-17 of the default domain) and builds one
// `func.func @main` in the kiln dialect:
//
//  * graph inputs become function arguments (`kiln.name` = the ONNX name); a
//    dynamic first dim takes `batch`;
//  * float initializers consumed by the data path become `kiln.param` ops
//    named after the initializer, their values are returned in `weights`
//    (write them with `kiln::runtime::writeSafetensors` and load them into a
//    session, `kiln run --weights`, `kiln train --load`);
//  * shape computations (Shape, Gather, Slice, Concat, Cast, Unsqueeze ...)
//    whose inputs are all known at import time are evaluated on the host
//    (constant propagation), so only data-path ops reach the IR.
//
// Every unsupported op, attribute or element type throws Error naming the op
// type, the node and the attribute; a malformed file throws Error too. See
// docs/onnx.md for the op table.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_ONNX_H
#define KILN_FRONTEND_ONNX_H

#include "kiln/frontend/Builder.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kiln::frontend {

// A tensor's values on the host, widened to double (integers up to 2^53
// exactly); `elementType` is the ONNX TensorProto.DataType number.
struct OnnxTensor {
  std::string name;
  std::vector<int64_t> shape;
  int elementType = 1; // FLOAT
  std::vector<double> values;

  int64_t numElements() const;
  bool isFloat() const; // FLOAT, DOUBLE or FLOAT16
};

struct OnnxImportOptions {
  // The size of a dynamic first input dim (the compiler's --batch).
  int64_t batch = 1;
  // Graph inputs whose values are known at import time (e.g. the integer
  // `shape` input of a Reshape node test): they are folded like initializers
  // instead of becoming function arguments.
  std::map<std::string, OnnxTensor> knownInputs;
};

struct OnnxModel {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  // Values of the `kiln.param`s, by parameter name (f32).
  std::map<std::string, OnnxTensor> weights;
  int64_t opset = 0; // of the default domain
};

// Throws Error.
OnnxModel importOnnx(const std::string &path, mlir::MLIRContext &ctx,
                     const OnnxImportOptions &options = {});

// The module only (parameters keep their initializer names; their values
// come from importOnnx's `weights`). Throws Error.
mlir::OwningOpRef<mlir::ModuleOp> importOnnxFile(const std::string &path,
                                                 mlir::MLIRContext &ctx,
                                                 int64_t batch);

// A serialized onnx.TensorProto (the backend tests' input_0.pb ...).
// Throws Error.
OnnxTensor readOnnxTensorFile(const std::string &path);

} // namespace kiln::frontend

#endif // KILN_FRONTEND_ONNX_H
