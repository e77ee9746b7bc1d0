//===- Pipelines.cpp - kiln pass pipelines ---------------------------------===//
#include "kiln/passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace kiln::passes {

// Every pipeline ends here: the order is final, so plan the arena
// (docs/memory.md). Rematerialization first, when a budget is given.
static void addMemoryPasses(mlir::OpPassManager &pm, int64_t memoryBudget,
                            int64_t arenaAlignment) {
  pm.addPass(createKilnScheduleForMemory());
  if (memoryBudget > 0) {
    KilnRematerializeOptions remat;
    remat.memoryBudget = memoryBudget;
    pm.addPass(createKilnRematerialize(remat));
  }
  // In place is safe because elementwise kernels never recompute an element
  // (scheduleElementwise uses no ShiftInwards tails).
  KilnPlanMemoryOptions plan;
  plan.alignment = arenaAlignment;
  pm.addPass(createKilnPlanMemory(plan));
}

// Shape inference with the batch size, then (for the training-related
// pipelines) the loss.
static void addFront(mlir::OpPassManager &pm, int64_t batch,
                     const KilnAppendLossOptions *loss) {
  KilnShapeInferenceOptions shapes;
  shapes.batch = batch;
  pm.addPass(createKilnShapeInference(shapes));
  if (loss) {
    pm.addPass(createKilnAppendLoss(*loss));
  }
}

// What the end of a pipeline does besides fusion.
struct BackOptions {
  bool fuse = true;
  KilnFuseOptions fusion;
  // A graph that never updates its parameters (inference, evaluation): BN
  // folding applies and parameter-only kernels (the BN folds, Winograd
  // filters) run at load time.
  bool inference = false;
  bool foldBatchNorm = true;
  int winogradTile = 2;
  int64_t winogradSmallPlaneTiles = 0;
  int64_t winogradFilterBlock = 8;
  int64_t winogradMinReduction = 32;
  int packBlock = 0; // kiln-pack-weights (inference only; 0: off)
  bool packForGpu = false; // kiln-pack-weights' gpu (inference only)
  bool blockedLayout = false; // kiln-layout (inference only, block 16)
  bool splitBatch = false; // kiln-split-batch (the inference pipeline)
  int64_t memoryBudget = 0;
  int64_t arenaAlignment = 64; // kiln-plan-memory's alignment
};

// kiln-winograd's min-image-plane in the pipelines: a forward convolution
// of one image takes Winograd only on planes of 28x28 and up. On smaller
// planes the transforms and a filter 16/9 or 4x the weight's size cost more
// than the multiplies save. On the Intel Xeon (family 6 model 167, 2
// threads), ResNet-18 at batch 1, five alternating `kiln bench --runs 400`
// pairs with the threshold at 40x40 and at 28x28: 10.07 / 10.19 / 10.71 /
// 11.66 / 11.62 against 9.69 / 10.03 / 10.72 / 10.77 / 11.25 ms (`kiln
// bench --profile`: the four 128 -> 128 layers on 28x28 2.06-2.16 -> 1.81
// -1.82 ms; on 14x14 Winograd lost, 2.13 -> 2.15-2.18 ms for the three 256
// -> 256 layers). Zen 5 measured the other way on 28x28 (two 512-bit FMA
// pipes: the direct convolution at 70-75% of the peak; `--winograd 4|0`:
// 128 on 28x28 0.81 -> 0.78 ms, 256 on 14x14 0.77 -> 0.72, 512 on 7x7
// 1.10 -> 0.82; 64 on 56x56 stays Winograd, 0.68 against 0.75; the CNN
// example's 16 -> 32 on 14x14: the whole model 0.033 -> 0.027 ms). At batch
// 8 Winograd wins on every plane (512 on 7x7: 5.25 against 6.52 ms).
// On AVX2 (8 lanes) one image's 7x7 planes take Winograd as well
// (small-plane-tiles 16, set by the compiler for 8-lane targets): the
// direct form's register tiles of 5 positions compute 10 per row of 7. The
// AMD EPYC (Zen 2, 2 threads), ResNet-18 at batch 1, `kiln bench --profile
// --runs 200`: its three 512 -> 512 layers on 7x7 4.86 -> 4.29 ms, while on
// its 14x14 layers Winograd lost (3.66 -> 4.00 ms).
constexpr int64_t kMinImagePlane = 28 * 28;

// Clean-up, fusion, then the memory passes: the end of every pipeline.
static void addBack(mlir::OpPassManager &pm, const BackOptions &options) {
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
  if (options.fuse && options.inference && options.foldBatchNorm) {
    pm.addPass(createKilnFoldBatchNorm());
  }
  if (options.winogradTile > 0) {
    KilnWinogradOptions winograd;
    winograd.tile = options.winogradTile;
    winograd.minImagePlane = kMinImagePlane;
    winograd.smallPlaneTiles = options.winogradSmallPlaneTiles;
    winograd.filterBlock = options.winogradFilterBlock;
    winograd.minReduction = options.winogradMinReduction;
    pm.addPass(createKilnWinograd(winograd));
  }
  if (options.inference && options.packForGpu) {
    pm.addPass(createKilnPackWeights({/*block=*/0, /*gpu=*/true}));
  } else if (options.inference && options.packBlock > 0) {
    pm.addPass(createKilnPackWeights({options.packBlock}));
  }
  if (options.splitBatch) {
    pm.addPass(createKilnSplitBatch());
  }
  if (options.fuse) {
    pm.addPass(createKilnFuse(options.fusion));
  }
  if (options.inference) {
    pm.addPass(createKilnHoistLoadTime());
  }
  // Channel blocks of 16: the packing block the blocked kernels read.
  if (options.inference && options.blockedLayout && options.packBlock == 16) {
    pm.addPass(createKilnLayout());
  }
  addMemoryPasses(pm, options.memoryBudget, options.arenaAlignment);
}

template <typename Options>
static BackOptions backOptions(const Options &options, bool inference) {
  BackOptions back;
  back.fuse = options.fuse;
  back.fusion = options.fusion;
  back.inference = inference;
  back.foldBatchNorm = options.foldBatchNorm;
  back.winogradTile = options.winogradTile;
  back.winogradSmallPlaneTiles = options.winogradSmallPlaneTiles;
  back.winogradFilterBlock = options.winogradFilterBlock;
  back.winogradMinReduction = options.winogradMinReduction;
  back.packBlock = options.packBlock;
  back.packForGpu = options.packForGpu;
  back.blockedLayout = options.blockedLayout;
  back.arenaAlignment = options.arenaAlignment;
  return back;
}

void buildInferencePipeline(mlir::OpPassManager &pm,
                            const InferencePipelineOptions &options) {
  addFront(pm, options.batch, nullptr);
  BackOptions back = backOptions(options, /*inference=*/true);
  back.splitBatch = options.splitBatch;
  addBack(pm, back);
}

static KilnAutodiffOptions autodiffOptions(const TrainPipelineOptions &options) {
  KilnAutodiffOptions autodiff;
  autodiff.frozen = options.frozen;
  return autodiff;
}

void buildTrainPipeline(mlir::OpPassManager &pm,
                        const TrainPipelineOptions &options) {
  addFront(pm, options.batch, &options.loss);
  pm.addPass(createKilnTrainingMode({options.dropoutRate}));
  if (!options.augment.empty()) {
    pm.addPass(createKilnAugment({options.augment}));
  }
  pm.addPass(createKilnAutodiff(autodiffOptions(options)));
  pm.addPass(createKilnOptimizer(options.optimizer));
  BackOptions back = backOptions(options, /*inference=*/false);
  back.memoryBudget = options.memoryBudget;
  addBack(pm, back);
}

void buildGradientPipeline(mlir::OpPassManager &pm,
                           const TrainPipelineOptions &options) {
  addFront(pm, options.batch, &options.loss);
  pm.addPass(createKilnTrainingMode({options.dropoutRate}));
  pm.addPass(createKilnAutodiff(autodiffOptions(options)));
  BackOptions back = backOptions(options, /*inference=*/false);
  back.memoryBudget = options.memoryBudget;
  addBack(pm, back);
}

void buildEvalPipeline(mlir::OpPassManager &pm,
                       const TrainPipelineOptions &options) {
  addFront(pm, options.batch, &options.loss);
  addBack(pm, backOptions(options, /*inference=*/true));
}

namespace {
struct TrainPipelineCLOptions
    : mlir::PassPipelineOptions<TrainPipelineCLOptions> {
  Option<int64_t> batch{*this, "batch", llvm::cl::desc("Batch size"),
                        llvm::cl::init(0)};
  Option<std::string> loss{*this, "loss", llvm::cl::desc("Loss"),
                           llvm::cl::init("sparse-cce")};
  Option<std::string> optimizer{*this, "optimizer",
                                llvm::cl::desc("Optimizer kind"),
                                llvm::cl::init("sgd")};
  Option<double> l1{*this, "l1", llvm::cl::desc("L1 penalty"),
                    llvm::cl::init(0.0)};
  Option<double> l2{*this, "l2", llvm::cl::desc("L2 penalty"),
                    llvm::cl::init(0.0)};
  Option<bool> fuse{*this, "fuse", llvm::cl::desc("Run kiln-fuse"),
                    llvm::cl::init(true)};
  Option<bool> foldBatchNorm{
      *this, "fold-batch-norm",
      llvm::cl::desc("Run kiln-fold-batch-norm (eval pipeline, with fuse)"),
      llvm::cl::init(true)};
  Option<int> winograd{
      *this, "winograd",
      llvm::cl::desc("kiln-winograd's largest tile (2 or 4; 0: off)"),
      llvm::cl::init(4)};
  Option<int> packWeights{
      *this, "pack-weights",
      llvm::cl::desc("kiln-pack-weights' block in the eval pipeline (0: off)"),
      llvm::cl::init(0)};
  Option<int64_t> memoryBudget{
      *this, "memory-budget",
      llvm::cl::desc("Arena bytes to fit in by rematerializing (0: off)"),
      llvm::cl::init(0)};

  TrainPipelineOptions get() const {
    TrainPipelineOptions options;
    options.batch = batch;
    options.loss.loss = loss;
    options.loss.l1 = l1;
    options.loss.l2 = l2;
    options.optimizer.kind = optimizer;
    options.fuse = fuse;
    options.foldBatchNorm = foldBatchNorm;
    options.winogradTile = winograd;
    options.packBlock = packWeights;
    options.memoryBudget = memoryBudget;
    return options;
  }
};

struct InferencePipelineCLOptions
    : mlir::PassPipelineOptions<InferencePipelineCLOptions> {
  Option<int64_t> batch{*this, "batch",
                        llvm::cl::desc("Leading dim of every model input "
                                       "(0 keeps the IR's)"),
                        llvm::cl::init(0)};
  Option<bool> fuse{*this, "fuse", llvm::cl::desc("Run kiln-fuse"),
                    llvm::cl::init(true)};
  Option<bool> foldBatchNorm{
      *this, "fold-batch-norm",
      llvm::cl::desc("Run kiln-fold-batch-norm (with fuse)"),
      llvm::cl::init(true)};
  Option<int> winograd{
      *this, "winograd",
      llvm::cl::desc("kiln-winograd's largest tile (2 or 4; 0: off)"),
      llvm::cl::init(4)};
  Option<int> packWeights{
      *this, "pack-weights",
      llvm::cl::desc("kiln-pack-weights' block (0: off)"),
      llvm::cl::init(0)};
  Option<bool> packWeightsGpu{
      *this, "pack-weights-gpu",
      llvm::cl::desc("kiln-pack-weights for the GPU convolutions"),
      llvm::cl::init(false)};
  Option<bool> splitBatch{*this, "split-batch",
                          llvm::cl::desc("Run kiln-split-batch"),
                          llvm::cl::init(true)};
  Option<bool> layout{
      *this, "blocked-layout",
      llvm::cl::desc("Run kiln-layout (with pack-weights=16)"),
      llvm::cl::init(false)};
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
        options.fuse = cl.fuse;
        options.foldBatchNorm = cl.foldBatchNorm;
        options.winogradTile = cl.winograd;
        options.packBlock = cl.packWeights;
        options.packForGpu = cl.packWeightsGpu;
        options.splitBatch = cl.splitBatch;
        options.blockedLayout = cl.layout;
        buildInferencePipeline(pm, options);
      });
  mlir::PassPipelineRegistration<TrainPipelineCLOptions>(
      "kiln-train-pipeline",
      "The passes `kiln train` applies to build the training step",
      [](mlir::OpPassManager &pm, const TrainPipelineCLOptions &cl) {
        buildTrainPipeline(pm, cl.get());
      });
  mlir::PassPipelineRegistration<TrainPipelineCLOptions>(
      "kiln-eval-pipeline",
      "The passes `kiln train` applies to build the evaluation step",
      [](mlir::OpPassManager &pm, const TrainPipelineCLOptions &cl) {
        buildEvalPipeline(pm, cl.get());
      });
}

} // namespace kiln::passes
