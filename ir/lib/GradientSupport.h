//===- GradientSupport.h - small builders the gradient rules share --------===//
//
// Internal to ir/lib: KilnGradients.cpp defines them; the ONNX math ops'
// rules (KilnOnnxOps.cpp) use them too.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_LIB_GRADIENTSUPPORT_H
#define KILN_IR_LIB_GRADIENTSUPPORT_H

#include "kiln/ir/KilnDialect.h"

namespace kiln::ir::detail {

// Sums a broadcast gradient back to `target`'s shape (numpy rules).
mlir::Value unbroadcast(mlir::OpBuilder &builder, mlir::Location loc,
                        mlir::Value grad, mlir::RankedTensorType target);
// value * factor (kiln.scale).
mlir::Value scale(mlir::OpBuilder &builder, mlir::Location loc,
                  mlir::Value value, double factor);
// A rank-0 f32 constant.
mlir::Value scalar(mlir::OpBuilder &builder, mlir::Location loc, float value);

} // namespace kiln::ir::detail

#endif // KILN_IR_LIB_GRADIENTSUPPORT_H
