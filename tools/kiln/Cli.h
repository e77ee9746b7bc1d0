//===- Cli.h - what kiln's subcommands share --------------------------------===//
//
// tools/kiln/: one file per subcommand (Run.cpp, Train.cpp, Bench.cpp,
// Inspect.cpp, Compile.cpp), the flags every one takes and the compile
// step they share (Cli.cpp), and main.cpp, which declares the command line
// with CLI11 and dispatches.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_KILN_CLI_H
#define KILN_TOOLS_KILN_CLI_H

#include "kiln/aot/Aot.h"
#include "kiln/compiler/Compiler.h"
#include "kiln/runtime/Runtime.h"
#include "kiln/runtime/Trainer.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln::cli {

using kiln::compiler::CompileOptions;

// Range checks that read like "--batch: must be >= 1, got 0" (CLI11's own
// print the range up to the largest double).
CLI::Validator atLeast(double low);
CLI::Validator between(double low, double high);

// The flags of every subcommand that compiles a model.
struct CommonFlags {
  std::string model;
  int64_t batch = 0;
  std::string target = "host";
  std::string cacheDir;
  bool verbose = false;
  std::string dumpKernels;
  bool noFusion = false, noEpilogueFusion = false, noElementwiseFusion = false,
       noBatchNormFolding = false, noPrologueFusion = false,
       noProducerFusion = false, noAttentionFusion = false,
       noSinkFusion = false, noProjectionFusion = false,
       projectionFusion = false,
       noRecomputeFusion = false, noPoolFusion = false,
       noRecomputeConvFusion = false, noBatchSplit = false,
       noWeightPacking = false;
  int winograd = -1; // the largest Winograd output tile; 0: off; -1: default
  std::string layout = "nchw16c"; // intermediates' physical layout
  std::string schedule = "hand";  // or auto:<Halide autoscheduler>
  bool checkNumerics = false; // run, train, bench

  void addCheckNumerics(CLI::App *cmd) {
    cmd->add_flag("--check-numerics", checkNumerics,
                  "Stop at the first NaN or Inf a kernel produces, naming "
                  "the op and its place in the model (slow: for debugging)");
  }

  // withBatch false: the command has its own --batch (kiln tune's list).
  // kernelScheduleOnly: --schedule names the learning-rate schedule (kiln
  // train), so the kernels' is --kernel-schedule only.
  void add(CLI::App *cmd, bool withBatch = true,
           bool kernelScheduleOnly = false) {
    cmd->add_option("MODEL", model, "Model: kiln dialect .mlir or .onnx")
        ->required();
    if (withBatch) {
      cmd->add_option("--batch", batch, "Batch size (leading dim of inputs)")
          ->check(atLeast(1));
    }
    cmd->add_option("--target", target, "Halide target string")
        ->capture_default_str();
    cmd->add_option("--cache-dir", cacheDir,
                    "Kernel cache (default $KILN_CACHE_DIR or ~/.cache/kiln)");
    cmd->add_flag("-v,--verbose", verbose, "Report compilation and caching");
    cmd->add_option("--dump-kernels", dumpKernels,
                    "Write each kernel's Halide .stmt and assembly here");
    cmd->add_flag("--no-fusion", noFusion, "One kernel per op");
    cmd->add_flag("--no-epilogue-fusion", noEpilogueFusion,
                  "Do not fuse elementwise ops into conv2d / dense");
    cmd->add_flag("--no-elementwise-fusion", noElementwiseFusion,
                  "Do not fuse chains of elementwise ops");
    cmd->add_flag("--no-prologue-fusion", noPrologueFusion,
                  "Do not fuse activation_grad into batch_norm_grad");
    cmd->add_flag("--no-producer-fusion", noProducerFusion,
                  "Do not fuse a 1x1 conv2d and its epilogue into the "
                  "depthwise conv2d reading it (inference)");
    auto *noProjection = cmd->add_flag(
        "--no-projection-fusion", noProjectionFusion,
        "Do not fuse the 1x1 conv2d reading a producer kernel's value into "
        "it (MobileNetV2's inverted residual block in one kernel; by default "
        "on planes under 40 columns, docs/fusion.md)");
    cmd->add_flag("--projection-fusion", projectionFusion,
                  "Fuse the 1x1 conv2d reading a producer kernel's value "
                  "into it on planes of any width (by default: under 40 "
                  "columns)")
        ->excludes(noProjection);
    cmd->add_flag("--no-sink-fusion", noSinkFusion,
                  "Do not compute a conv bias's gradient and a first layer's "
                  "weight gradient inside the batch_norm_grad kernel that "
                  "computes their dy (training)");
    cmd->add_flag("--no-recompute-fusion", noRecomputeFusion,
                  "Read the ReLU output back in the pool + BN gradient kernel "
                  "instead of recomputing it from the BN's input (training)");
    cmd->add_flag("--no-recompute-conv-fusion", noRecomputeConvFusion,
                  "Write a first layer's conv2d output instead of recomputing "
                  "it inside the batch_norm_train and batch_norm_grad kernels "
                  "that read it (training)");
    cmd->add_flag("--no-pool-fusion", noPoolFusion,
                  "Do not pool inside the batch_norm_train (+ ReLU) kernel, "
                  "or the conv2d (+ epilogue) kernel, whose output only a "
                  "max_pool2d reads");
    cmd->add_flag("--no-attention-fusion", noAttentionFusion,
                  "Do not fuse attention's matmul, scale/mask, softmax and "
                  "matmul into one kernel");
    cmd->add_flag("--no-batch-split", noBatchSplit,
                  "Do not run the memory-bound first layers image by image "
                  "at batch > 1 (kiln-split-batch; inference)");
    cmd->add_flag("--no-batch-norm-folding", noBatchNormFolding,
                  "Do not fold inference batch norms into conv2d / dense "
                  "weights (they stay in the conv's epilogue)");
    cmd->add_flag("--no-weight-packing", noWeightPacking,
                  "Do not pack conv2d weights by blocks of output channels "
                  "at load time (kiln-pack-weights; inference)");
    cmd->add_option("--winograd", winograd,
                    "3x3 stride-1 convolutions by Winograd: 2 = F(2x2, 3x3) "
                    "(about 1e-6 relative), 4 = F(4x4, 3x3) where the plane "
                    "and batch repay it, else F(2x2) (faster; about 1e-5, "
                    "up to 1e-4 on wide sums of uniform values), 0 = "
                    "direct. Default: 4")
        ->check(CLI::IsMember({0, 2, 4}));
    cmd->add_option("--layout", layout,
                    "Physical layout of intermediates: nchw16c (channels in "
                    "blocks of 16 between the kernels that have a blocked "
                    "form, docs/layout.md; AVX-512 CPU targets) or nchw")
        ->check(CLI::IsMember({"nchw", "nchw16c"}))
        ->capture_default_str();
    cmd->add_option(kernelScheduleOnly ? "--kernel-schedule"
                                       : "--schedule,--kernel-schedule",
                    schedule,
                    "Who schedules the kernels: hand (kiln's schedules) or "
                    "one of Halide's autoschedulers on every kernel's "
                    "algorithm, for comparison (research; compiling takes "
                    "seconds per kernel, docs/codegen.md)")
        ->check(CLI::IsMember(kiln::compiler::scheduleChoices()))
        ->capture_default_str();
  }

  CompileOptions options() const {
    CompileOptions o;
    o.batch = batch;
    o.target = target;
    o.cacheDir = cacheDir;
    o.verbose = verbose;
    o.dumpDir = dumpKernels;
    o.fusion = !noFusion;
    o.fuseEpilogues = !noEpilogueFusion;
    o.fuseElementwise = !noElementwiseFusion;
    o.foldBatchNorm = !noBatchNormFolding;
    o.winogradTile = winograd;
    o.packWeights = !noWeightPacking;
    o.fusePrologues = !noPrologueFusion;
    o.fuseProducers = !noProducerFusion;
    o.fuseAttention = !noAttentionFusion;
    o.fuseSinks = !noSinkFusion;
    o.fuseProjections = !noProjectionFusion;
    o.fuseWideProjections = projectionFusion;
    o.fuseRecompute = !noRecomputeFusion;
    o.fusePools = !noPoolFusion;
    o.fuseRecomputeConv = !noRecomputeConvFusion;
    o.splitBatch = !noBatchSplit;
    o.layout = layout;
    o.schedule = schedule;
    return o;
  }
};

// compileModel, reporting the cache, the pass pipeline (replayable with
// `kiln-opt --pass-pipeline=...`) and the plan with --verbose.
kiln::compiler::CompiledModel
compileReported(const std::string &model,
                const kiln::compiler::CompileOptions &options, bool verbose);
kiln::compiler::CompiledModel compile(const CommonFlags &flags);
// " (+N at load time)", or nothing when N is 0.
std::string loadTimeSuffix(int count);
// "NAME: SHAPE min=... max=... mean=..." on stdout.
void printSummary(const std::string &name, const kiln::runtime::Tensor &t);

// kiln run (Run.cpp).
int runCommand(const CommonFlags &flags,
               const std::vector<std::string> &inputs,
               const std::string &outputDir, uint64_t seed,
               const std::string &weights);

// kiln train (Train.cpp).
struct TrainFlags {
  std::string data;
  kiln::compiler::TrainingOptions training;
  kiln::runtime::TrainerOptions trainer;
  std::optional<double> lr;
  std::string scale = "none";
  std::string schedule = "constant";
  bool noRestoreBest = false;
};
int trainCommand(const CommonFlags &common, TrainFlags flags);
// The pieces kiln tune reuses: the trainer options from the flags, checked
// (before the data and the compilation); the data with --scale applied;
// the plans compiled for flags' batch and trained on `data`.
void prepareTrainFlags(const CommonFlags &common, TrainFlags &flags);
kiln::runtime::DataSplits loadScaledData(const TrainFlags &flags);
kiln::runtime::TrainResult trainOnData(const CommonFlags &common,
                                       const TrainFlags &flags,
                                       const kiln::runtime::DataSplits &data);

// kiln tune (Tune.cpp): hyperparameter search over kiln train runs.
struct TuneFlags {
  int trials = 8;
  std::string search = "random";      // random | grid
  std::string lr = "1e-4:1e-1:log";   // LO:HI[:log|lin] or a,b,c
  int gridPoints = 3;                 // values per range in a grid
  std::vector<int64_t> batches;       // empty: --batch (or 32)
  std::vector<std::string> optimizers; // empty: --optimizer
  std::string dropout;                // "": the model's rates
  std::string out = "tune";
};
int tuneCommand(const CommonFlags &common, TrainFlags base,
                const TuneFlags &tune);

// kiln bench (Bench.cpp).
struct BenchFlags {
  bool train = false, json = false, profile = false, compare = false;
  std::string loss = "sparse-cce";
  std::string optimizer = "adam"; // --train: the step's optimizer
  int runs = 50;
  std::vector<std::string> frozen; // --train: parameters held constant
  std::string trace; // --trace: the Chrome trace-event file to write
};
int benchCommand(const CommonFlags &flags, const BenchFlags &bench);

// kiln inspect, kiln inspect --memory (Inspect.cpp).
int inspectCommand(const CommonFlags &flags, bool trainStep, bool dot,
                   bool json);
int memoryCommand(const CommonFlags &flags, bool trainStep, int64_t budget,
                  bool json, std::string svgPath);

// kiln compile (Compile.cpp).
struct AotFlags {
  kiln::aot::AotOptions options;
  std::string weights = "embed";
};
int compileCommand(const CommonFlags &common, AotFlags flags);

} // namespace kiln::cli

#endif // KILN_TOOLS_KILN_CLI_H
