// Training loop over compiled plans (no compiler needed: this is what
// `kiln train` runs, and what a deployed model can run to fine-tune).
//
// The compiler provides plans with these bindings:
//   train plan  inputs:  the model inputs (e.g. "image"), "target" (labels:
//                        i32 [B] for sparse-cce, else f32 like the output),
//                        "lr" (f32 scalar), "step" (f32 scalar, 1-based
//                        optimizer step), "seed" (i32 scalar, dropout);
//               outputs: "loss" (f32 scalar, incl. regularizers) and the
//                        model outputs (e.g. "logits");
//               parameters: weights, BatchNorm running statistics and
//                        optimizer slots (`<param>.<kind>.<slot>`), updated
//                        in place by every run().
//   eval plan   inputs:  the model inputs and "target"; outputs "loss" and
//               the model outputs; parameters: a subset of the train plan's
//               (no optimizer slots), BatchNorm in inference mode.
// Each comes in a full-batch version and, when the dataset size is not a
// multiple of the batch, a "tail" version compiled for the last partial
// batch.
#ifndef KILN_RUNTIME_TRAINER_H
#define KILN_RUNTIME_TRAINER_H

#include "kiln/runtime/Plan.h"
#include "kiln/runtime/Runtime.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kiln::runtime {

// A dataset held in memory: x is [N, ...] f32; y is [N] i32 (class labels)
// or [N, ...] f32 (regression / one-hot targets).
struct Dataset {
  Tensor x;
  Tensor y;
  int64_t size() const { return x.shape.empty() ? 0 : x.shape[0]; }
};

struct DataSplits {
  Dataset train;
  std::optional<Dataset> test;
};

// DATA as in the CLI: "fashion-mnist" (Debian's dataset-fashion-mnist in
// /usr/share/datasets/fashion-mnist, gzipped IDX), a folder holding
// train-images-idx3-ubyte[.gz] / train-labels-idx1-ubyte[.gz] (and t10k-*
// for the test split), "X.npy,Y.npy" (+ optional ",XT.npy,YT.npy" test
// split), or a CSV file whose last column is the label. Images are scaled
// to [0,1] floats with shape [N,1,H,W]. Throws Error naming the file.
DataSplits loadData(const std::string &spec);

enum class Scaling { None, MinMax, Standard };
// Fits the scaling on `fit` (per feature) and applies it to every dataset.
void scaleFeatures(Scaling scaling, Dataset &fit,
                   const std::vector<Dataset *> &others);

// An IDX file (plain or gzipped; unsigned-byte data only), as i32 with the
// file's shape. Throws Error naming the file (bad magic, size mismatch).
Tensor readIdx(const std::string &path);

// Moves the last `fraction` of `train` (rows in file order, before any
// shuffling) into the returned validation set: Keras' convention, i.e.
// N - floor(N * (1 - fraction)) rows.
Dataset splitValidation(Dataset &train, double fraction);

// Rows indices[begin, begin + count) of `data`, in that order.
Dataset gatherRows(const Dataset &data, const std::vector<int64_t> &indices,
                   int64_t begin, int64_t count);
// The same into `batch`, reusing its storage when the shapes match.
void gatherRowsInto(const Dataset &data, const std::vector<int64_t> &indices,
                    int64_t begin, int64_t count, Dataset &batch);

struct LrSchedule {
  enum Kind { Constant, Step, Exponential, Cosine } kind = Constant;
  int64_t stepSize = 1; // Step: epochs between decays
  double gamma = 0.1;   // Step, Exponential: factor per decay / per epoch
  int64_t tMax = 0;     // Cosine: epochs to reach etaMin (0 = all epochs)
  double etaMin = 0.0;
  double at(double baseLr, int64_t epoch, int64_t epochs) const; // 0-based
};

struct TrainerOptions {
  int64_t epochs = 1;
  int64_t maxSteps = 0; // stop after this many steps (0 = no limit)
  int64_t batch = 32;
  uint64_t seed = 0; // parameters, shuffling, dropout
  bool shuffle = true;
  double lr = 0.01;
  LrSchedule schedule;
  double validationSplit = 0; // fraction of train held out (last samples)
  int64_t patience = 0;       // early stopping on val loss (0 = off)
  bool restoreBest = true;    // with early stopping: best weights at the end
  std::string loadPath;       // resume from this checkpoint, or start from
                              // these weights (see train())
  // Glob patterns (fnmatch) of parameters drawn again from their
  // initializers after loadPath (a new head); each must match.
  std::vector<std::string> reinit;
  std::string savePath;       // checkpoint after every epoch and at the end
  std::string logPath;        // per-epoch CSV (and <log>.svg plot)
  bool progress = true;       // live progress bar on stderr (if a tty)
  // A non-finite training loss stops training with an Error naming the
  // step (Keras's TerminateOnNaN) unless this is set.
  bool continueOnNan = false;
  bool checkNumerics = false; // SessionOptions::checkNumerics for every plan
  // Every this many steps (0 = off), the L2 norms of each parameter's
  // gradient and weight and the update-to-weight ratio, from the train
  // plan's grad_sq:, weight_sq: and update_sq:<param> outputs (compiled with
  // TrainingOptions::gradNorms), go to gradNormLogPath(logPath) with an SVG
  // plot; a parameter whose gradient norm stays below 1e-7 or above 1e3
  // through a whole epoch gets a warning. Needs logPath.
  int64_t gradNormsEvery = 0;
};

// The learning rate `kiln train` takes when none is given: 1e-3 for Adam,
// 1.0 for Adadelta, else 1e-2 (PyTorch has no default for SGD; these are
// the usual ones).
double defaultLearningRate(const std::string &optimizer);

// Throws Error unless the learning rate is finite and > 0 and the
// schedule's gamma and eta_min are finite and in range. train() checks;
// callers may check before they compile.
void checkTrainerOptions(const TrainerOptions &options);

struct EpochMetrics {
  int64_t epoch = 0;                        // 1-based
  double trainLoss = 0, trainAccuracy = -1; // accuracy -1 = not measured
  double valLoss = -1, valAccuracy = -1;
  double testLoss = -1, testAccuracy = -1;
  double seconds = 0;
  int64_t steps = 0;
};

struct TrainResult {
  std::vector<EpochMetrics> epochs;             // the epochs this call ran
  std::optional<double> testLoss, testAccuracy; // of the final weights
  int64_t steps = 0;                            // optimizer steps this call ran
  double secondsPerStep = 0;
  bool interrupted = false;  // stopped by SIGINT (checkpoint written)
  bool stoppedEarly = false; // early stopping ended the run
  int64_t bestEpoch = 0;     // with early stopping: epoch of the best val loss
};

// The plans in memory (compiler::CompiledModel::plan, or loadPlan(path)).
struct TrainingPlans {
  PlanRef train, trainTail; // tail: null when batch divides the data
  PlanRef eval, evalTail;
  // More eval tails, for when the validation and test splits leave
  // different remainders; each eval pass uses the tail whose batch size is
  // its remainder (a remainder without one is skipped, with a note).
  std::vector<PlanRef> extraEvalTails;
};

// The plans train() needs for `data` and `options`, each made by
// `compile(train, batch)` (a Train plan when `train`, else an Eval plan):
// plans are compiled for exact batch sizes, the full batch and the
// remainders that the train, validation and test splits leave.
TrainingPlans compileTrainingPlans(
    const DataSplits &data, const TrainerOptions &options,
    const std::function<PlanRef(bool train, int64_t batch)> &compile);

// Runs the loop. Checkpoints are safetensors files with every parameter of
// the train plan plus metadata (epoch, step, seed, best val loss); a run
// resumed from an epoch checkpoint ends with the same weights as one that
// was never interrupted (shuffling and dropout seeds derive from the seed,
// the epoch and the step only). A loadPath whose tensors do not all fit the
// model (another head), or any reinit pattern, starts a new run instead
// (transfer learning): the tensors that fit are loaded, the others are
// listed in a note, the optimizer starts afresh.
//
// While it runs, SIGINT finishes the current step, writes the checkpoint (if
// savePath) and returns with `interrupted` set; a second SIGINT kills the
// process as usual. Checkpoint metadata keys: "format" ("kiln-checkpoint"),
// "epoch" (epochs completed), "epoch_step" (steps into the next epoch, > 0
// after an interruption), "step" (global optimizer steps), "seed",
// "best_val_loss", "best_epoch", "bad_epochs" (patience counter). With early
// stopping the best weights go to `<save>.best.safetensors` as well.
TrainResult train(const TrainingPlans &plans, const DataSplits &data,
                  const TrainerOptions &options);

// The pieces train() is made of, for tests and tools.

// The sample order of `epoch` (0-based): Fisher-Yates driven by
// Random(seed ^ mix(epoch)); depends on nothing else.
std::vector<int64_t> epochPermutation(int64_t size, uint64_t seed,
                                      int64_t epoch);
// The "seed" input of global step `step` (1-based): non-negative i32.
int32_t stepSeed(uint64_t seed, int64_t step);
// Sets input `name` of `session`, if its plan has one, to `value` in every
// element, in the input's dtype: a training plan's scalar step inputs
// ("lr", "step", "seed").
void setScalarInputIfPresent(Session &session, const std::string &name,
                             double value);
// Correct predictions of `output` [B, C] (argmax per row) against `target`:
// i32 labels [B], or f32 one-hot rows [B, C]; -1 when the target is neither.
int64_t countCorrect(const Tensor &output, const Tensor &target);

// The CSV log (header + one row per epoch; empty cells where not measured)
// and its SVG plot (loss and accuracy per epoch, train/val/test).
void writeTrainingLog(const std::string &path,
                      const std::vector<EpochMetrics> &epochs);
std::vector<EpochMetrics> readTrainingLog(const std::string &path);
std::string trainingPlotSvg(const std::vector<EpochMetrics> &epochs);

// One gradient-flow record (TrainerOptions::gradNormsEvery).
struct GradNormRecord {
  int64_t step = 0, epoch = 0; // global step, 1-based epoch
  std::string parameter;
  double gradNorm = 0, weightNorm = 0;
  double updateRatio = 0; // ||update|| / ||weight|| (0 for a zero weight)
};
// X.csv -> X.grads.csv (any other name: name + ".grads.csv").
std::string gradNormLogPath(const std::string &logPath);
// The CSV (step,epoch,parameter,grad_norm,weight_norm,update_ratio) and its
// SVG plot next to it (X.grads.svg: a panel per parameter, log10 of the
// gradient norm and of the update ratio against the step).
void writeGradNormLog(const std::string &path,
                      const std::vector<GradNormRecord> &records);
std::vector<GradNormRecord> readGradNormLog(const std::string &path);
std::string gradNormPlotSvg(const std::vector<GradNormRecord> &records);

} // namespace kiln::runtime

#endif // KILN_RUNTIME_TRAINER_H
