//===- Passes.h - kiln passes and pipelines --------------------------------===//
#ifndef KILN_PASSES_PASSES_H
#define KILN_PASSES_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <memory>

namespace kiln::passes {

#define GEN_PASS_DECL
#include "kiln/passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "kiln/passes/Passes.h.inc"

struct InferencePipelineOptions {
  int64_t batch = 0; // 0 keeps the model's batch size
};

// What `kiln run`/`bench`/`inspect` apply before lowering to kernels:
// shape inference (with the batch), canonicalization, CSE.
void buildInferencePipeline(mlir::OpPassManager &pm,
                            const InferencePipelineOptions &options);

// Registers every kiln pass and the `kiln-inference-pipeline` pipeline.
void registerAllPasses();

} // namespace kiln::passes

#endif // KILN_PASSES_PASSES_H
