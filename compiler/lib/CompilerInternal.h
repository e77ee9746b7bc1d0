//===- CompilerInternal.h - what the compiler's files share ----------------===//
//
// compiler/lib: Compiler.cpp (the driver: loading, pipelines, the plan
// cache, compileModel), Lowering.cpp (entry function -> buffers, kernel
// specs and calls) and Reports.cpp (kiln inspect's summary, the memory
// report and its SVG).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_COMPILER_LIB_COMPILERINTERNAL_H
#define KILN_COMPILER_LIB_COMPILERINTERNAL_H

#include "kiln/codegen/KernelSpec.h"
#include "kiln/compiler/Compiler.h"
#include "kiln/runtime/Runtime.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/PassManager.h"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln::compiler::detail {

using nlohmann::json;

// Owns the context and the parsed, pipelined module.
struct LoadedModel {
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::func::FuncOp entry;
  std::string ir;
  // Parameter values that come with the model (ONNX initializers).
  std::map<std::string, runtime::Tensor> weights;
  // Wall time of the import (parse, or ONNX import) and of the pipeline.
  double importSeconds = 0, passSeconds = 0;
};

// Parses (or imports, for .onnx) the model and runs the pipeline of
// options.mode on it. Throws Error naming the file (and line) at fault.
std::unique_ptr<LoadedModel> loadModel(const std::string &path,
                                       const CompileOptions &options);
// The pass pipeline of options.mode, with its options.
void buildPipeline(mlir::PassManager &pm, const CompileOptions &options);
// "1x8x28x28xf32".
std::string shapeString(mlir::RankedTensorType type);
// An entry argument's / result's name (kiln.name, else input<i>/output<i>).
std::string argName(mlir::func::FuncOp func, unsigned index);
std::string resultName(mlir::func::FuncOp func, unsigned index);

// The plan of one entry function, before codegen fills in kernel names.
struct Lowered {
  json buffers = json::array();
  json inputs = json::array();
  json outputs = json::array();
  std::vector<codegen::KernelSpec> specs;
  std::vector<std::vector<int>> callArgs;
  std::vector<std::string> labels; // kiln::ir::kernelLabel of each call
  std::vector<bool> once;          // load-time calls (kiln.load_time)
  std::vector<std::string> locs;   // each call's op location in the model
  int viewOps = 0;
  json memory = json::object(); // arena_bytes, peak_live_bytes, naive_bytes

  // The plan's "calls" (docs/plan-format.md), kernel names given per call.
  json callsJson(const std::vector<std::string> &kernelNames) const {
    json calls = json::array();
    for (size_t i = 0; i < specs.size(); ++i) {
      calls.push_back({{"kernel", kernelNames[i]},
                       {"op", specs[i].op},
                       {"label", labels[i]},
                       {"once", static_cast<bool>(once[i])},
                       {"flops", specs[i].flops()},
                       {"outputs", specs[i].outputs.size()},
                       {"loc", locs[i]},
                       {"args", callArgs[i]}});
    }
    return calls;
  }
};

// Lowers the entry function (Lowering.cpp): each value gets a buffer
// (input, param, const, view or temp), each KernelOpInterface op a kernel
// call with its KernelSpec.
Lowered lower(mlir::func::FuncOp func);

} // namespace kiln::compiler::detail

#endif // KILN_COMPILER_LIB_COMPILERINTERNAL_H
