//===- KilnDialect.h - the kiln dialect ----------------------------------===//
#ifndef KILN_IR_KILNDIALECT_H
#define KILN_IR_KILNDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <nlohmann/json.hpp>

#include "kiln/ir/KilnDialect.h.inc"

namespace kiln::ir {
// Unit attribute of kernel ops that read only parameters and constants
// (kiln-hoist-load-time): run once per parameter change, results kept
// outside the arena.
inline constexpr const char *kLoadTimeAttr = "kiln.load_time";

// Checks that an op's declared result types equal the inferred ones.
mlir::LogicalResult verifyInferredTypes(mlir::Operation *op);
// The result types an op of `name` would have over `operands` and
// `attributes`/`properties` (either form), from its
// ShapeInferenceOpInterface: a detached twin without results answers, and
// its diagnostics name the problem at `location`. The one place that types
// new ops: ODS builders (InferTypeOpInterface), GraphBuilder and the ONNX
// importer all come here.
mlir::LogicalResult inferResultTypesOf(
    mlir::OperationName name, std::optional<mlir::Location> location,
    mlir::ValueRange operands, mlir::DictionaryAttr attributes,
    mlir::OpaqueProperties properties, llvm::SmallVectorImpl<mlir::Type> &types);

// The trait behind Kiln_InferredResultTypes (KilnOps.td): its methods are
// generated into each op.
template <typename ConcreteType>
class InferredResultTypes
    : public mlir::OpTrait::TraitBase<ConcreteType, InferredResultTypes> {};
// Result type of numpy broadcasting of the two operands.
mlir::LogicalResult inferBroadcast(mlir::Operation *op,
                                   llvm::SmallVectorImpl<mlir::Type> &types);
// Two same-shaped f32 operands -> rank-0 f32.
mlir::LogicalResult inferPairLoss(mlir::Operation *op,
                                  llvm::SmallVectorImpl<mlir::Type> &types);
// Output size of a sliding window along one dim (conv/pool), PyTorch rules.
int64_t windowOutputSize(int64_t in, int64_t padBegin, int64_t padEnd,
                         int64_t kernel, int64_t stride, int64_t dilation,
                         bool ceilMode);

// Gradient rules shared by op families (ir/lib/KilnGradients.cpp).
mlir::LogicalResult
buildActivationGradient(mlir::Operation *op, mlir::OpBuilder &builder,
                        llvm::ArrayRef<mlir::Value> resultGrads,
                        llvm::SmallVectorImpl<mlir::Value> &operandGrads);
mlir::LogicalResult
buildSoftmaxGradient(mlir::Operation *op, mlir::OpBuilder &builder,
                     llvm::ArrayRef<mlir::Value> resultGrads,
                     llvm::SmallVectorImpl<mlir::Value> &operandGrads);
mlir::LogicalResult
buildBinaryGradient(mlir::Operation *op, mlir::OpBuilder &builder,
                    llvm::ArrayRef<mlir::Value> resultGrads,
                    llvm::SmallVectorImpl<mlir::Value> &operandGrads);
mlir::LogicalResult
buildLossGradient(mlir::Operation *op, mlir::OpBuilder &builder,
                  llvm::ArrayRef<mlir::Value> resultGrads,
                  llvm::SmallVectorImpl<mlir::Value> &operandGrads);
} // namespace kiln::ir

#include "kiln/ir/KilnInterfaces.h.inc"

#define GET_OP_CLASSES
#include "kiln/ir/KilnOps.h.inc"

namespace kiln::ir {
// Whether `assign`'s write-back needs no copy: its value is a state update
// (UpdateOpInterface) of the assigned parameter itself, used only by the
// assign, and no kernel after the update reads the parameter or a view of
// it. The update kernel then writes straight into the parameter's storage,
// and every earlier reader still sees the old value. Memory planning keeps
// such values out of the arena; the lowering passes the parameter's buffer
// as the kernel's output.
bool isUpdatedInPlace(AssignOp assign);
} // namespace kiln::ir

#endif // KILN_IR_KILNDIALECT_H
