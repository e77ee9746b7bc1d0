// The kiln compiler driver: model file -> MLIR -> passes -> kernels -> plan.
//
// compileModel() parses a model (kiln dialect text), runs the inference
// pipeline, lowers every op to a buffer or a kernel call, has codegen build
// (or fetch from the cache) the kernel library and writes the plan the
// runtime loads. A model file compiled before with the same options and
// target is found in the cache before any import or pass runs, and
// compiles nothing.
#ifndef KILN_COMPILER_COMPILER_H
#define KILN_COMPILER_COMPILER_H

#include "kiln/runtime/Plan.h"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kiln::compiler {

// A user-facing failure: the message names the file, op, shape or option.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// What `kiln train` builds: the loss, regularizers and optimizer
// (docs/training-ops.md; negative epsilon = the optimizer's default).
struct TrainingOptions {
  std::string loss = "sparse-cce"; // mse, mae, huber, bce, bce-logits, cce,
                                   // sparse-cce, hinge, model
  double delta = 1.0;              // Huber
  double l1 = 0.0, l2 = 0.0;       // regularizers on the weights
  std::string optimizer = "sgd";
  double momentum = 0.9, dampening = 0.0;
  double beta1 = 0.9, beta2 = 0.999, epsilon = -1.0;
  double rho = 0.9, alpha = 0.99, lrDecay = 0.0;
  double weightDecay = 0.0, clipValue = 0.0, clipNorm = 0.0;
  // Glob patterns of parameters held constant (transfer learning): no
  // gradient, no optimizer slots (kiln-autodiff's frozen).
  std::vector<std::string> frozen;
  // Recompute cheap forward values in the backward pass until the planned
  // arena fits in this many bytes (0: off). docs/memory.md.
  int64_t memoryBudget = 0;
  // The train step also returns grad_sq:, weight_sq: and update_sq:<param>
  // (kiln-optimizer's grad-norms; `kiln train --log-grad-norms`).
  bool gradNorms = false;
  // Every dropout's rate in training (negative: the model's own).
  double dropoutRate = -1.0;
  // Data augmentation of the training step (kiln-augment's spec, e.g.
  // "flip-h,shift=2,rotate=15"; "" off).
  std::string augment;
};

enum class Mode {
  Inference, // the model as written
  Train,     // (inputs, target, seed, lr, step) -> (loss, outputs), updates
             // parameters, BatchNorm statistics and optimizer slots
  Eval,      // (inputs, target) -> (loss, outputs), inference behaviour
  Gradients, // (inputs, target, seed) -> (loss, outputs, grad:<param>...),
             // training behaviour, no update (for gradient checks)
};

struct CompileOptions {
  Mode mode = Mode::Inference;
  TrainingOptions training;     // for Mode::Train and Mode::Eval
  int64_t batch = 0;            // 0 keeps the model's batch size
  std::string target = "host";  // Halide target string
  std::string cacheDir;         // empty: $KILN_CACHE_DIR or ~/.cache/kiln
  bool verbose = false;         // progress and cache report on stderr
  std::string dumpDir;          // Halide .stmt and assembly per kernel
  bool fusion = true;           // kiln-fuse (false: one kernel per op)
  bool fuseEpilogues = true;    // kiln-fuse patterns, each switchable
  bool fuseElementwise = true;
  bool fusePrologues = true;    // activation_grad into batch_norm_grad
  bool fuseProducers = true;    // 1x1 conv2d chain into a depthwise conv2d
  bool fuseProjections = true;  // and the 1x1 conv2d reading that kernel,
                                // on planes under 40 columns (Compiler.cpp)
  bool fuseWideProjections = false; // ... on planes of any width
  bool fuseSinks = true;        // conv bias / first-layer weight gradients
                                // in the batch_norm_grad prologue kernel
  bool fuseRecompute = true;    // a prologue's pool input recomputed from
                                // the BN's input, not read back
  bool fusePools = true;        // max_pool2d as batch_norm_train's tail
  bool fuseRecomputeConv = true; // a first layer's conv2d recomputed in the
                                 // BN kernels reading it, never written
  bool fuseAttention = true;    // matmul, scale/mask, softmax, matmul
  bool splitBatch = true;       // kiln-split-batch (inference)
  bool foldBatchNorm = true;    // kiln-fold-batch-norm (inference, eval)
  int winogradTile = -1;        // kiln-winograd's largest tile (0: off;
                                // -1: the pipeline's, 2 / 4 in training)
  bool packWeights = true;      // kiln-pack-weights (inference, eval), by
                                // the target's float vector width (GPU
                                // targets: its gpu layout)
  // Intermediates' physical layout (inference, eval; docs/layout.md):
  // "nchw16c" (kiln-layout, on AVX-512 CPU targets) or "nchw".
  std::string layout = "nchw16c";
  // Who schedules the kernels: "hand" (kiln's schedules) or "auto:NAME",
  // one of Halide's autoschedulers (Adams2019, Li2018, Mullapudi2016) on
  // every kernel's algorithm, for research (docs/codegen.md).
  std::string schedule = "hand";
  bool link = true;             // false: kernel objects only, no .so (AOT,
                                // cross-compiling); the plan lists them
};

struct CompiledModel {
  std::string planPath;       // plan.json, its copy in the cache
  // The plan itself, for kiln::runtime::Session::load: the runtime takes it
  // in memory, with no second read of plan.json.
  std::shared_ptr<const runtime::Plan> plan;
  // The pass pipeline that built it, as text: `kiln-opt
  // --pass-pipeline='<pipeline>' model.mlir` replays the compilation's IR.
  std::string pipeline;
  int kernels = 0;            // distinct kernel functions in the library
  int calls = 0;              // kernel calls per run, load-time ones excluded
  int loadTimeCalls = 0;      // calls run once per parameter change
  int kernelsCompiled = 0;    // built by this call (0 on a cache hit)
  bool cached = false;        // the whole plan came from the cache
  double seconds = 0;         // wall time of this compilation
  // Its phases and their wall times (import, passes, lowering, codegen,
  // writing the plan and weights); empty on a cache hit.
  std::vector<std::pair<std::string, double>> phases;
  double originalSeconds = 0; // wall time of the compilation that built it
};

// Throws Error.
CompiledModel compileModel(const std::string &modelPath,
                           const CompileOptions &options);

// `kiln import`: an ONNX model as kiln dialect text (written to `irPath`)
// and its initializers as a safetensors file (`weightsPath`, skipped when
// empty). Returns the number of parameters written. Throws Error.
int importModel(const std::string &onnxPath, const std::string &irPath,
                const std::string &weightsPath, int64_t batch);

// `kiln --version`: kiln's, MLIR's and Halide's versions and the host
// target, one per line.
std::string versionText();

// CompileOptions::schedule's choices: "hand", then "auto:NAME" for each of
// Halide's autoschedulers.
std::vector<std::string> scheduleChoices();

// Default cache directory ($KILN_CACHE_DIR, else ~/.cache/kiln).
std::string defaultCacheDir();

// A model's structure for `kiln inspect`.
struct ModelSummary {
  struct Op {
    std::string name;                 // e.g. "kiln.conv2d"
    std::string result;               // e.g. "1x8x28x28xf32"
    std::vector<int> operands;        // indices into `nodes` (-1: input)
    std::vector<std::string> operandNames;
    std::string label;                // param name or op name
  };
  std::vector<Op> nodes;
  std::vector<std::string> inputs, outputs;
  int64_t parameterCount = 0;         // elements over all params
  int kernelOps = 0, viewOps = 0, params = 0;
  int loadTimeOps = 0;                // kernel ops run once per parameter change
  std::string ir;                     // the module after the pipeline
};
ModelSummary summarizeModel(const std::string &modelPath,
                            const CompileOptions &options);

// The memory plan of a model (docs/memory.md), for `kiln inspect --memory`.
// Steps are kernel calls in plan order (the write-back copies of a training
// step last).
struct MemoryReport {
  struct Buffer {
    std::string name;            // as in the plan; "#i" marks result i > 0
    std::string op;              // e.g. "relu"
    std::vector<int64_t> shape;
    int64_t bytes = 0;           // rounded up to the 64-byte alignment
    int64_t offset = -1;         // in the arena; -1: outside (returned)
    int first = 0, last = 0;     // kernel steps it is alive (inclusive)
    int inPlaceOf = -1;          // index of the buffer it overwrites
  };
  std::vector<Buffer> buffers;   // every kernel result, in program order
  int64_t arenaBytes = 0;        // the planned arena
  int64_t peakLiveBytes = 0;     // lower bound: max bytes alive at one step
  int64_t naiveBytes = 0;        // every temp in its own buffer
  int kernelCount = 0;
  int64_t rematBytesSaved = 0;   // with training.memoryBudget
  int64_t rematFlops = 0;        // estimated FLOPs added per step
};
// Runs the pipeline of options.mode (no codegen). Throws Error.
MemoryReport planMemoryReport(const std::string &modelPath,
                              const CompileOptions &options);
// {"arena_bytes", "peak_live_bytes", "naive_bytes", "kernel_count",
//  "remat_bytes_saved", "remat_flops", "buffers": [{"name", "op", "shape",
//  "bytes", "offset", "first", "last"[, "in_place_of"]}]}
std::string memoryReportJson(const MemoryReport &report);
// Kernel step across, arena offset up, one labelled rectangle per buffer.
std::string memoryPlanSvg(const MemoryReport &report);

// The plan compileModel would write, without compiling any kernel (calls
// carry an empty "kernel"): for tests and tools that only need the buffers,
// the calls and the memory plan. Throws Error.
std::string lowerPlanJson(const std::string &modelPath,
                          const CompileOptions &options);

} // namespace kiln::compiler

#endif // KILN_COMPILER_COMPILER_H
