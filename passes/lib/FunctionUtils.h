//===- FunctionUtils.h - entry-function edits shared by the passes --------===//
#ifndef KILN_PASSES_FUNCTIONUTILS_H
#define KILN_PASSES_FUNCTIONUTILS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace kiln::passes {

// The model's entry: @main, else the only function with a body.
mlir::func::FuncOp entryFunction(mlir::ModuleOp module);

// Appends an argument named `name` (attribute kiln.name).
mlir::BlockArgument appendArgument(mlir::func::FuncOp func, mlir::Type type,
                                   llvm::StringRef name);

struct NamedValue {
  mlir::Value value;
  std::string name;
};
// The function's results (values and kiln.name, "" when unnamed).
llvm::SmallVector<NamedValue> functionResults(mlir::func::FuncOp func);
// Replaces the terminator's operands, the function type and result names.
void setFunctionResults(mlir::func::FuncOp func,
                        llvm::ArrayRef<NamedValue> results);

} // namespace kiln::passes

#endif // KILN_PASSES_FUNCTIONUTILS_H
