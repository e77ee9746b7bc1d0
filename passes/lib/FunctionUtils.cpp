//===- FunctionUtils.cpp - entry-function edits shared by the passes ------===//
#include "FunctionUtils.h"

#include "mlir/IR/Builders.h"

using namespace mlir;

namespace kiln::passes {

func::FuncOp entryFunction(ModuleOp module) {
  func::FuncOp entry;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal()) {
      continue;
    }
    if (func.getSymName() == "main") {
      return func;
    }
    if (!entry) {
      entry = func;
    }
  }
  return entry;
}

BlockArgument appendArgument(func::FuncOp func, Type type, StringRef name) {
  unsigned index = func.getNumArguments();
  Builder builder(func.getContext());
  (void)func.insertArgument(
      index, type,
      builder.getDictionaryAttr(builder.getNamedAttr(
          "kiln.name", builder.getStringAttr(name))),
      func.getLoc());
  return func.getArgument(index);
}

SmallVector<NamedValue> functionResults(func::FuncOp func) {
  SmallVector<NamedValue> results;
  Operation *terminator = func.getBody().front().getTerminator();
  for (auto [i, value] : llvm::enumerate(terminator->getOperands())) {
    std::string name;
    if (auto attr = func.getResultAttrOfType<StringAttr>(i, "kiln.name")) {
      name = attr.str();
    }
    results.push_back({value, name});
  }
  return results;
}

void setFunctionResults(func::FuncOp func, ArrayRef<NamedValue> results) {
  Operation *terminator = func.getBody().front().getTerminator();
  SmallVector<Value> values;
  SmallVector<Type> types;
  for (const NamedValue &result : results) {
    values.push_back(result.value);
    types.push_back(result.value.getType());
  }
  terminator->setOperands(values);
  func.setType(FunctionType::get(func.getContext(),
                                 func.getArgumentTypes(), types));
  Builder builder(func.getContext());
  SmallVector<DictionaryAttr> attrs;
  for (const NamedValue &result : results) {
    attrs.push_back(result.name.empty()
                        ? builder.getDictionaryAttr({})
                        : builder.getDictionaryAttr(builder.getNamedAttr(
                              "kiln.name",
                              builder.getStringAttr(result.name))));
  }
  func.setAllResultAttrs(attrs);
}

} // namespace kiln::passes
