//===- Pipelines.cpp - kiln pass pipelines ---------------------------------===//
#include "kiln/passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace kiln::passes {

void buildInferencePipeline(mlir::OpPassManager &pm,
                            const InferencePipelineOptions &options) {
  KilnShapeInferenceOptions shapes;
  shapes.batch = options.batch;
  pm.addPass(createKilnShapeInference(shapes));
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
}

namespace {
struct InferencePipelineCLOptions
    : mlir::PassPipelineOptions<InferencePipelineCLOptions> {
  Option<int64_t> batch{*this, "batch",
                        llvm::cl::desc("Leading dim of every model input "
                                       "(0 keeps the IR's)"),
                        llvm::cl::init(0)};
};
} // namespace

void registerAllPasses() {
  registerKilnPasses();
  mlir::PassPipelineRegistration<InferencePipelineCLOptions>(
      "kiln-inference-pipeline",
      "The passes `kiln run` applies before lowering to kernels",
      [](mlir::OpPassManager &pm, const InferencePipelineCLOptions &cl) {
        InferencePipelineOptions options;
        options.batch = cl.batch;
        buildInferencePipeline(pm, options);
      });
}

} // namespace kiln::passes
