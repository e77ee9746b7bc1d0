//===- Passes.h - kiln passes and pipelines --------------------------------===//
#ifndef KILN_PASSES_PASSES_H
#define KILN_PASSES_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln::passes {

#define GEN_PASS_DECL
#include "kiln/passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "kiln/passes/Passes.h.inc"

struct InferencePipelineOptions {
  int64_t batch = 0; // 0 keeps the model's batch size
  KilnFuseOptions fusion;
  bool fuse = true;  // false: one kernel per op (kiln --no-fusion)
  bool foldBatchNorm = true; // kiln-fold-batch-norm (when fuse)
  // kiln-winograd's largest tile (0: off). F(4x4) where it pays
  // (kiln-winograd's rule): ResNet-18 1.08x at batch 1, 1.17x at batch 8;
  // 8e-7 relative to the direct convolution on it (docs/codegen.md).
  int winogradTile = 4;
  // kiln-winograd's small-plane-tiles: 16 on 8-lane (AVX2) targets, where
  // one image's 7x7 planes take Winograd (Pipelines.cpp).
  int64_t winogradSmallPlaneTiles = 0;
  // kiln-winograd's filter-block: 16 on 8-lane targets (Pipelines.cpp).
  int64_t winogradFilterBlock = 8;
  // kiln-winograd's min-reduction: 32, or 16 on a host that runs 512-bit
  // vectors as two halves (Pipelines.cpp, Compiler.cpp).
  int64_t winogradMinReduction = 32;
  int packBlock = 0;         // kiln-pack-weights' block (0: off)
  bool packForGpu = false;   // kiln-pack-weights' gpu (instead of packBlock)
  bool blockedLayout = false; // kiln-layout (with packBlock 16)
  bool splitBatch = true;    // kiln-split-batch
  int64_t arenaAlignment = 64; // kiln-plan-memory's (GPU targets: 512)
};

// What `kiln run`/`bench`/`inspect` apply before lowering to kernels:
// shape inference (with the batch), canonicalization, CSE, batch norm
// folding, kiln-winograd, kiln-pack-weights, kiln-split-batch and fusion,
// kiln-hoist-load-time,
// then the memory passes
// (kiln-schedule-for-memory, kiln-plan-memory), as every pipeline.
void buildInferencePipeline(mlir::OpPassManager &pm,
                            const InferencePipelineOptions &options);

struct TrainPipelineOptions {
  int64_t batch = 0;
  KilnFuseOptions fusion;
  bool fuse = true;
  bool foldBatchNorm = true; // the eval pipeline's kiln-fold-batch-norm
  // kiln-winograd's largest tile (0: off). F(4x4) in training: 1.08x on
  // ResNet-18's step (docs/codegen.md); its ~1e-5 relative error is far
  // below the gradient noise of a batch.
  int winogradTile = 4;
  // kiln-winograd's small-plane-tiles: 16 on 8-lane (AVX2) targets, where
  // one image's 7x7 planes take Winograd (Pipelines.cpp).
  int64_t winogradSmallPlaneTiles = 0;
  // kiln-winograd's filter-block: 16 on 8-lane targets (Pipelines.cpp).
  int64_t winogradFilterBlock = 8;
  // kiln-winograd's min-reduction: 32, or 16 on a host that runs 512-bit
  // vectors as two halves (Pipelines.cpp, Compiler.cpp).
  int64_t winogradMinReduction = 32;
  int packBlock = 0; // the eval pipeline's kiln-pack-weights block (0: off)
  bool packForGpu = false; // the eval pipeline's kiln-pack-weights gpu
  bool blockedLayout = false; // the eval pipeline's kiln-layout
  KilnAppendLossOptions loss;
  KilnOptimizerOptions optimizer;
  // Glob patterns of parameters held constant (kiln-autodiff's frozen).
  std::vector<std::string> frozen;
  // Every dropout's rate in training (kiln-training-mode's dropout-rate;
  // negative: the model's own).
  double dropoutRate = -1.0;
  // The training step's data augmentation (kiln-augment's spec; "" off).
  std::string augment;
  // Training and gradients: recompute cheap forward values until the arena
  // fits in this many bytes (0: never; kiln-rematerialize).
  int64_t memoryBudget = 0;
  int64_t arenaAlignment = 64; // kiln-plan-memory's (GPU targets: 512)
};

// The whole training step: loss, training mode, autodiff, optimizer
// updates, then canonicalize + CSE. The entry function becomes
// (inputs..., target, seed, lr, step) -> (loss, outputs...).
void buildTrainPipeline(mlir::OpPassManager &pm,
                        const TrainPipelineOptions &options);

// Gradients only (for checking them): loss, training mode, autodiff.
// (inputs..., target, seed) -> (loss, outputs..., grad:<param>...).
void buildGradientPipeline(mlir::OpPassManager &pm,
                           const TrainPipelineOptions &options);

// Evaluation: the model (inference mode) plus its loss.
// (inputs..., target) -> (loss, outputs...).
void buildEvalPipeline(mlir::OpPassManager &pm,
                       const TrainPipelineOptions &options);

// Registers every kiln pass and the kiln-{inference,train,eval}-pipeline
// pipelines.
void registerAllPasses();

} // namespace kiln::passes

#endif // KILN_PASSES_PASSES_H
