// The training loop: feeds batches and step scalars to compiled train/eval
// plans, evaluates, logs, checkpoints and resumes.
//
// Determinism: everything that changes the weights (sample order, dropout
// seeds, learning rate) is a function of the seed, the epoch and the global
// step only, and the tail plan works on exact copies of the train plan's
// parameters; so a run resumed from a checkpoint repeats, bit for bit, what
// the uninterrupted run would have done.
#include "kiln/runtime/Trainer.h"
#include "FileIO.h"
#include "kiln/runtime/Safetensors.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <tuple>
#include <fnmatch.h>
#include <unistd.h>

namespace kiln::runtime {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---------------------------------------------------------------------------
// SIGINT: finish the step, checkpoint, return.

volatile std::sig_atomic_t interruptRequested = 0;

void onInterrupt(int) {
  if (interruptRequested) {
    // Second Ctrl-C: the user means it.
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  interruptRequested = 1;
}

// Installs onInterrupt for the lifetime of train(), restoring the previous
// handler afterwards.
class InterruptGuard {
public:
  InterruptGuard() {
    interruptRequested = 0;
    struct sigaction action = {};
    action.sa_handler = onInterrupt;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &previous_);
  }
  ~InterruptGuard() { ::sigaction(SIGINT, &previous_, nullptr); }
  InterruptGuard(const InterruptGuard &) = delete;
  InterruptGuard &operator=(const InterruptGuard &) = delete;

private:
  struct sigaction previous_;
};

// ---------------------------------------------------------------------------
// Plans.

const std::set<std::string> kStepInputs = {"target", "lr", "step", "seed"};

void note(const std::string &message) {
  std::fprintf(stderr, "kiln train: note: %s\n", message.c_str());
}

// Gradient-flow diagnostics (TrainerOptions::gradNormsEvery): the norms a
// train plan returns, recorded every N steps, and per epoch which
// parameters' gradients stayed vanishing (< 1e-7) or exploding (> 1e3).
class GradNormLog {
public:
  static constexpr double kVanishing = 1e-7, kExploding = 1e3;

  GradNormLog(const TrainerOptions &options, const Session &train,
              int64_t resumedStep)
      : every_(options.gradNormsEvery) {
    if (every_ <= 0) {
      return;
    }
    if (options.logPath.empty()) {
      throw Error("--log-grad-norms needs --log (the norms go next to it)");
    }
    path_ = gradNormLogPath(options.logPath);
    for (const TensorInfo &info : train.outputs()) {
      addIfGradient(info.name);
    }
    if (parameters_.empty()) {
      throw Error("the train plan returns no gradient norms (grad_sq:<param>); "
                  "compile it with gradient norms");
    }
    if (resumedStep > 0 && std::filesystem::exists(path_)) {
      for (const GradNormRecord &r : readGradNormLog(path_)) {
        if (r.step <= resumedStep) {
          records_.push_back(r);
        }
      }
    }
  }

  bool enabled() const { return every_ > 0; }

  void afterStep(const Session &session, int64_t step, int64_t epoch) {
    if (!enabled() || step % every_ != 0) {
      return;
    }
    for (const std::string &p : parameters_) {
      auto scalar = [&](const char *prefix) {
        return static_cast<double>(session.output(prefix + p).f32()[0]);
      };
      GradNormRecord r;
      r.step = step;
      r.epoch = epoch;
      r.parameter = p;
      r.gradNorm = std::sqrt(scalar("grad_sq:"));
      r.weightNorm = std::sqrt(scalar("weight_sq:"));
      double update = std::sqrt(scalar("update_sq:"));
      r.updateRatio = r.weightNorm > 0 ? update / r.weightNorm : 0;
      records_.push_back(r);
      Range &range = epochRange_[p];
      range.low = std::min(range.low, r.gradNorm);
      range.high = std::max(range.high, r.gradNorm);
    }
  }

  // Writes the log and warns about this epoch's vanishing or exploding
  // gradients; then starts the next epoch.
  void endEpoch(int64_t epoch) {
    if (!enabled()) {
      return;
    }
    writeGradNormLog(path_, records_);
    for (const std::string &p : parameters_) {
      auto it = epochRange_.find(p);
      if (it == epochRange_.end()) {
        continue;
      }
      const Range &range = it->second;
      if (range.high < kVanishing) {
        std::fprintf(stderr,
                     "kiln train: warning: epoch %lld: the gradient of '%s' "
                     "vanishes (L2 norm below 1e-7 all epoch, at most %.3g)\n",
                     static_cast<long long>(epoch), p.c_str(), range.high);
      } else if (range.low > kExploding) {
        std::fprintf(stderr,
                     "kiln train: warning: epoch %lld: the gradient of '%s' "
                     "explodes (L2 norm above 1e3 all epoch, at least %.3g)\n",
                     static_cast<long long>(epoch), p.c_str(), range.low);
      }
    }
    epochRange_.clear();
  }

private:
  struct Range {
    double low = INFINITY, high = -INFINITY;
  };
  void addIfGradient(const std::string &name) {
    const std::string prefix = "grad_sq:";
    if (name.compare(0, prefix.size(), prefix) == 0) {
      parameters_.push_back(name.substr(prefix.size()));
    }
  }

  int64_t every_;
  std::string path_;
  std::vector<std::string> parameters_;
  std::vector<GradNormRecord> records_;
  std::map<std::string, Range> epochRange_;
};

// A loaded plan with the bindings the trainer needs.
struct LoadedPlan {
  std::string path;
  Session session;
  int64_t batch = 0;
  std::string modelInput;  // the one input that is not a step input
  std::string modelOutput; // the first output other than "loss" ("" if none)

  bool hasInput(const std::string &name) const {
    for (const TensorInfo &info : session.inputs()) {
      if (info.name == name) {
        return true;
      }
    }
    return false;
  }
  const TensorInfo &input(const std::string &name) const {
    for (const TensorInfo &info : session.inputs()) {
      if (info.name == name) {
        return info;
      }
    }
    throw Error(path + ": no input '" + name + "'");
  }
};

LoadedPlan openPlan(const PlanRef &source, uint64_t seed,
                    bool checkNumerics) {
  SessionOptions options;
  options.seed = seed;
  options.checkNumerics = checkNumerics;
  const std::string &path = source->path;
  LoadedPlan plan{path, Session::load(*source, options)};
  for (const TensorInfo &info : plan.session.inputs()) {
    if (kStepInputs.count(info.name)) {
      continue;
    }
    if (!plan.modelInput.empty()) {
      throw Error(path + ": the trainer feeds one model input, the plan has '" +
                  plan.modelInput + "' and '" + info.name + "'");
    }
    plan.modelInput = info.name;
  }
  if (plan.modelInput.empty()) {
    throw Error(path + ": no model input (inputs other than target, lr, step "
                       "and seed)");
  }
  const TensorInfo &model = plan.input(plan.modelInput);
  if (model.shape.empty()) {
    throw Error(path + ": model input '" + model.name +
                "' has no batch dimension");
  }
  plan.batch = model.shape[0];
  if (!plan.hasInput("target")) {
    throw Error(path + ": no input 'target'");
  }
  bool hasLoss = false;
  for (const TensorInfo &info : plan.session.outputs()) {
    if (info.name == "loss") {
      hasLoss = true;
    } else if (plan.modelOutput.empty() &&
               info.name.find(':') == std::string::npos) {
      plan.modelOutput = info.name;
    }
  }
  if (!hasLoss) {
    throw Error(path + ": no output 'loss'");
  }
  return plan;
}

// The data must fit the plan's bindings (dtype and per-sample shape of the
// model input and of "target").
void checkData(const LoadedPlan &plan, const Dataset &data,
               const std::string &split) {
  for (const auto &[input, tensor, what] :
       {std::tuple{plan.modelInput, &data.x, "features"},
        std::tuple{std::string("target"), &data.y, "targets"}}) {
    const TensorInfo &info = plan.input(input);
    std::vector<int64_t> dataRow(tensor->shape.begin() + 1,
                                 tensor->shape.end());
    std::vector<int64_t> planRow(info.shape.begin() + 1, info.shape.end());
    if (info.dtype != tensor->dtype || dataRow != planRow) {
      throw Error(
          plan.path + ": input '" + input + "' is " +
          Tensor(info.shape, info.dtype).shapeString() +
          " per batch, but the " + split + " " + what + " are " +
          tensor->shapeString() +
          (input == "target" ? " (do the loss and the data agree?)" : ""));
    }
  }
}

void setIfPresent(LoadedPlan &plan, const std::string &name, double value) {
  setScalarInputIfPresent(plan.session, name, value);
}

// Every parameter of `to` gets the value it has in `from`.
void copyParameters(const Session &from, Session &to) {
  for (const TensorInfo &info : to.parameters()) {
    to.setParameter(info.name, from.parameter(info.name));
  }
}

void checkParametersSubset(const LoadedPlan &from, const LoadedPlan &to) {
  std::set<std::string> names;
  for (const TensorInfo &info : from.session.parameters()) {
    names.insert(info.name);
  }
  for (const TensorInfo &info : to.session.parameters()) {
    if (!names.count(info.name)) {
      throw Error(to.path + ": parameter '" + info.name +
                  "' is not a parameter of " + from.path);
    }
  }
}

std::map<std::string, Tensor> snapshot(const Session &session) {
  std::map<std::string, Tensor> tensors;
  for (const TensorInfo &info : session.parameters()) {
    tensors.emplace(info.name, session.parameter(info.name));
  }
  return tensors;
}

void restore(Session &session, const std::map<std::string, Tensor> &tensors) {
  for (const auto &[name, tensor] : tensors) {
    session.setParameter(name, tensor);
  }
}

std::string numberText(double v) {
  if (std::isnan(v)) {
    return "nan"; // not "-nan": the sign of a NaN means nothing here
  }
  char text[64];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

} // namespace

void checkTrainerOptions(const TrainerOptions &options) {
  if (!std::isfinite(options.lr) || options.lr <= 0) {
    throw Error("train: the learning rate must be a finite number > 0, got " +
                numberText(options.lr));
  }
  const LrSchedule &s = options.schedule;
  if (!std::isfinite(s.gamma) || s.gamma <= 0) {
    throw Error("train: the schedule's gamma must be a finite number > 0, "
                "got " + numberText(s.gamma));
  }
  if (!std::isfinite(s.etaMin) || s.etaMin < 0) {
    throw Error("train: the schedule's eta_min must be a finite number >= 0, "
                "got " + numberText(s.etaMin));
  }
}

namespace {

struct BatchResult {
  double loss = 0;
  int64_t correct = -1; // -1: accuracy not measurable for this target
};

BatchResult runBatch(LoadedPlan &plan, const Dataset &batch) {
  plan.session.setInput(plan.modelInput, batch.x);
  plan.session.setInput("target", batch.y);
  plan.session.run();
  BatchResult result;
  Tensor loss = plan.session.output("loss");
  result.loss = loss.f32()[0];
  if (!plan.modelOutput.empty()) {
    result.correct =
        countCorrect(plan.session.output(plan.modelOutput), batch.y);
  }
  return result;
}

// Sums over the batches of a pass; loss weighted by batch size.
struct Totals {
  double lossSum = 0;
  int64_t samples = 0;
  int64_t correct = 0;
  bool accuracyMeasured = true;

  void add(const BatchResult &batch, int64_t size) {
    lossSum += batch.loss * size;
    samples += size;
    if (batch.correct < 0) {
      accuracyMeasured = false;
    } else {
      correct += batch.correct;
    }
  }
  double loss() const { return samples ? lossSum / samples : -1; }
  double accuracy() const {
    return samples && accuracyMeasured ? double(correct) / samples : -1;
  }
};

struct Evaluation {
  double loss = -1, accuracy = -1;
};

// Full batches with `full`, the remainder with the tail plan of that batch
// size (skipped, with a note, when there is none).
Evaluation evaluate(LoadedPlan &full, std::vector<LoadedPlan> &tails, const Dataset &data,
                    const std::string &split, std::set<std::string> &noted) {
  int64_t size = data.size();
  std::vector<int64_t> order(size);
  std::iota(order.begin(), order.end(), 0);
  Totals totals;
  int64_t batches = size / full.batch;
  Dataset batch;
  for (int64_t b = 0; b < batches; ++b) {
    gatherRowsInto(data, order, b * full.batch, full.batch, batch);
    totals.add(runBatch(full, batch), full.batch);
  }
  int64_t rest = size - batches * full.batch;
  if (rest > 0) {
    LoadedPlan *tail = nullptr;
    for (LoadedPlan &candidate : tails) {
      if (candidate.batch == rest) {
        tail = &candidate;
      }
    }
    if (tail) {
      copyParameters(full.session, tail->session);
      totals.add(
          runBatch(*tail, gatherRows(data, order, batches * full.batch, rest)),
          rest);
    } else if (noted.insert(split).second) {
      note("no eval plan for a batch of " + std::to_string(rest) +
           ": the last " + std::to_string(rest) + " " + split +
           " samples are not evaluated");
    }
  }
  return {totals.loss(), totals.accuracy()};
}

// ---------------------------------------------------------------------------
// Progress on stderr.

std::string clockText(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    return "?";
  }
  int64_t total = static_cast<int64_t>(seconds + 0.5);
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof(text), "%lld:%02lld:%02lld",
                  (long long)(total / 3600), (long long)(total / 60 % 60),
                  (long long)(total % 60));
  } else {
    std::snprintf(text, sizeof(text), "%lld:%02lld", (long long)(total / 60),
                  (long long)(total % 60));
  }
  return text;
}

std::string metric(const char *name, double value) {
  if (value == -1) {
    return "";
  }
  char text[64];
  std::snprintf(text, sizeof(text), " %s=%.4g", name, value);
  return text;
}

class Progress {
public:
  explicit Progress(bool enabled)
      : enabled_(enabled), live_(enabled && ::isatty(STDERR_FILENO)) {}

  void startEpoch(int64_t epoch, int64_t epochs, int64_t total) {
    epoch_ = epoch;
    epochs_ = epochs;
    total_ = total;
    done_ = 0;
    start_ = Clock::now();
    lastDraw_ = start_ - std::chrono::seconds(1);
  }

  void step(double loss, double accuracy) {
    ++done_;
    if (!live_) {
      return;
    }
    Clock::time_point now = Clock::now();
    if (done_ < total_ && now - lastDraw_ < std::chrono::milliseconds(100)) {
      return;
    }
    lastDraw_ = now;
    double elapsed = secondsSince(start_);
    double rate = elapsed > 0 ? done_ / elapsed : 0;
    const int width = 24;
    int filled = total_ ? static_cast<int>(width * done_ / total_) : width;
    std::string bar(filled, '=');
    if (filled < width) {
      bar += '>';
      bar.append(width - filled - 1, ' ');
    }
    std::fprintf(stderr,
                 "\r\033[Kepoch %lld/%lld [%s] %lld/%lld %.1f steps/s "
                 "loss=%.4g%s ETA %s",
                 (long long)epoch_, (long long)epochs_, bar.c_str(),
                 (long long)done_, (long long)total_, rate, loss,
                 metric("accuracy", accuracy).c_str(),
                 clockText(rate > 0 ? (total_ - done_) / rate : NAN).c_str());
    std::fflush(stderr);
  }

  void endEpoch(const EpochMetrics &m, int64_t epochs) {
    if (!enabled_) {
      return;
    }
    std::fprintf(stderr,
                 "%sepoch %lld/%lld: train_loss=%.4g%s%s%s%s%s (%.1f s)\n",
                 live_ ? "\r\033[K" : "", (long long)m.epoch, (long long)epochs,
                 m.trainLoss, metric("train_accuracy", m.trainAccuracy).c_str(),
                 metric("val_loss", m.valLoss).c_str(),
                 metric("val_accuracy", m.valAccuracy).c_str(),
                 metric("test_loss", m.testLoss).c_str(),
                 metric("test_accuracy", m.testAccuracy).c_str(), m.seconds);
  }

  // Evaluation can take a while: say so instead of a frozen bar.
  void evaluating() {
    if (live_) {
      std::fprintf(stderr, "\r\033[Kepoch %lld/%lld: evaluating...",
                   (long long)epoch_, (long long)epochs_);
      std::fflush(stderr);
    }
  }

  void clear() {
    if (live_ && done_ > 0) {
      std::fprintf(stderr, "\r\033[K");
    }
  }

private:
  bool enabled_, live_;
  int64_t epoch_ = 0, epochs_ = 0, total_ = 0, done_ = 0;
  Clock::time_point start_, lastDraw_;
};

// ---------------------------------------------------------------------------
// Checkpoints.

struct LoopState {
  int64_t epoch = 0;     // epochs completed
  int64_t epochStep = 0; // steps into epoch `epoch`
  int64_t step = 0;      // global optimizer steps
  double bestValLoss = std::numeric_limits<double>::infinity();
  int64_t bestEpoch = 0;
  int64_t badEpochs = 0;
};

std::string exact(double value) {
  if (std::isinf(value)) {
    return value > 0 ? "inf" : "-inf";
  }
  char text[40];
  std::snprintf(text, sizeof(text), "%.17g", value);
  return text;
}

std::string bestPath(const std::string &savePath) {
  std::string base = savePath;
  const std::string suffix = ".safetensors";
  if (base.size() > suffix.size() &&
      base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0) {
    base.resize(base.size() - suffix.size());
  }
  return base + ".best.safetensors";
}

void writeCheckpoint(const std::string &path, const Session &session,
                     const LoopState &state, uint64_t seed) {
  std::map<std::string, std::string> metadata = {
      {"format", "kiln-checkpoint"},
      {"epoch", std::to_string(state.epoch)},
      {"epoch_step", std::to_string(state.epochStep)},
      {"step", std::to_string(state.step)},
      {"seed", std::to_string(seed)},
      {"best_val_loss", exact(state.bestValLoss)},
      {"best_epoch", std::to_string(state.bestEpoch)},
      {"bad_epochs", std::to_string(state.badEpochs)},
  };
  writeSafetensors(path, snapshot(session), metadata);
}

int64_t metadataInteger(const std::map<std::string, std::string> &metadata,
                        const std::string &key, const std::string &path) {
  auto it = metadata.find(key);
  if (it == metadata.end()) {
    throw Error(path + ": checkpoint metadata lacks '" + key + "'");
  }
  char *end = nullptr;
  long long value = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || value < 0) {
    throw Error(path + ": checkpoint metadata '" + key + "' = '" + it->second +
                "' is not a non-negative integer");
  }
  return value;
}

// Loads weights (any safetensors file) and, from a kiln checkpoint of this
// model, where the loop stopped. Weights that do not all fit (transfer
// learning: a new head), or a run that re-initializes parameters, start
// from epoch 0 with what fits, listing the rest.
LoopState resume(const std::string &path, Session &session, uint64_t seed,
                 bool fineTune) {
  LoopState state;
  if (!fineTune) {
    try {
      // Checks everything before writing.
      std::string absent =
          absentParametersNote(path, session.loadParameters(path));
      if (!absent.empty()) {
        note(absent);
      }
    } catch (const Error &) {
      fineTune = true;
    }
  }
  if (fineTune) {
    std::vector<std::string> skipped = session.loadMatchingParameters(path);
    std::string list;
    for (const std::string &line : skipped) {
      list += "\n  " + line;
    }
    note("starting a new run from the weights in " + path +
         (skipped.empty() ? std::string()
                          : "; skipped " + std::to_string(skipped.size()) +
                                " tensor(s) that do not fit this model:" +
                                list));
    return state;
  }
  std::map<std::string, std::string> metadata = readSafetensorsMetadata(path);
  if (metadata.count("format") == 0 ||
      metadata.at("format") != "kiln-checkpoint") {
    return state; // plain weights: fine-tune from epoch 0
  }
  state.epoch = metadataInteger(metadata, "epoch", path);
  state.epochStep = metadataInteger(metadata, "epoch_step", path);
  state.step = metadataInteger(metadata, "step", path);
  state.bestEpoch = metadataInteger(metadata, "best_epoch", path);
  state.badEpochs = metadataInteger(metadata, "bad_epochs", path);
  state.bestValLoss = std::strtod(metadata["best_val_loss"].c_str(), nullptr);
  if (metadata["seed"] != std::to_string(seed)) {
    note(path + " was trained with seed " + metadata["seed"] +
         ", this run uses " + std::to_string(seed) +
         ": the resumed run will not repeat the original one");
  }
  return state;
}

} // namespace

// ---------------------------------------------------------------------------

double LrSchedule::at(double baseLr, int64_t epoch, int64_t epochs) const {
  switch (kind) {
  case Constant:
    return baseLr;
  case Step:
    return baseLr *
           std::pow(gamma, static_cast<double>(epoch /
                                               std::max<int64_t>(stepSize, 1)));
  case Exponential:
    return baseLr * std::pow(gamma, static_cast<double>(epoch));
  case Cosine: {
    // PyTorch's CosineAnnealingLR (closed form), held at etaMin after tMax.
    int64_t period = tMax > 0 ? tMax : std::max<int64_t>(epochs, 1);
    double t = static_cast<double>(std::min(epoch, period));
    const double pi = 3.14159265358979323846;
    return etaMin + (baseLr - etaMin) * (1 + std::cos(pi * t / period)) / 2;
  }
  }
  return baseLr;
}

std::vector<int64_t> epochPermutation(int64_t size, uint64_t seed,
                                      int64_t epoch) {
  std::vector<int64_t> order(size);
  std::iota(order.begin(), order.end(), 0);
  // The epoch goes through one splitmix64 round so that consecutive epochs
  // (and seeds) give unrelated streams.
  Random epochMix(0x51F7E0C4D1A2B3C5ull + static_cast<uint64_t>(epoch));
  Random random(seed ^ epochMix.next());
  for (int64_t i = size - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(random.next() % uint64_t(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

void setScalarInputIfPresent(Session &session, const std::string &name,
                             double value) {
  for (const TensorInfo &info : session.inputs()) {
    if (info.name != name) {
      continue;
    }
    Tensor tensor(info.shape, info.dtype);
    for (int64_t i = 0; i < tensor.numElements(); ++i) {
      if (info.dtype == DType::F32) {
        tensor.f32()[i] = static_cast<float>(value);
      } else {
        tensor.i32()[i] = static_cast<int32_t>(value);
      }
    }
    session.setInput(name, tensor);
  }
}

int32_t stepSeed(uint64_t seed, int64_t step) {
  Random stepMix(0xD20F0A7E5EEDull + static_cast<uint64_t>(step));
  Random random(seed ^ stepMix.next());
  return static_cast<int32_t>(random.next() >> 33); // [0, 2^31)
}

int64_t countCorrect(const Tensor &output, const Tensor &target) {
  if (output.dtype != DType::F32 || output.shape.empty() ||
      target.shape.empty() || output.shape[0] != target.shape[0]) {
    return -1;
  }
  int64_t rows = output.shape[0];
  int64_t classes = rows ? output.numElements() / rows : 0;
  if (classes < 2) {
    return -1;
  }
  auto argmax = [classes](const float *row) {
    return static_cast<int64_t>(std::max_element(row, row + classes) - row);
  };
  int64_t correct = 0;
  if (target.dtype == DType::I32) {
    if (target.shape.size() != 1) {
      return -1;
    }
    for (int64_t r = 0; r < rows; ++r) {
      correct += argmax(output.f32() + r * classes) == target.i32()[r];
    }
    return correct;
  }
  if (target.numElements() != rows * classes) {
    return -1;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = target.f32() + r * classes;
    int64_t ones = 0, hot = 0;
    for (int64_t c = 0; c < classes; ++c) {
      if (row[c] == 1.0f) {
        ++ones;
        hot = c;
      } else if (row[c] != 0.0f) {
        return -1;
      }
    }
    if (ones != 1) {
      return -1;
    }
    correct += argmax(output.f32() + r * classes) == hot;
  }
  return correct;
}

double defaultLearningRate(const std::string &optimizer) {
  if (optimizer == "adam") {
    return 1e-3;
  }
  if (optimizer == "adadelta") {
    return 1.0;
  }
  return 1e-2;
}

TrainingPlans compileTrainingPlans(
    const DataSplits &data, const TrainerOptions &options,
    const std::function<PlanRef(bool train, int64_t batch)> &compile) {
  int64_t rows = data.train.size();
  int64_t trainRows = static_cast<int64_t>(
      std::floor(rows * (1.0 - options.validationSplit)));
  int64_t batch = options.batch;
  TrainingPlans plans;
  plans.train = compile(true, batch);
  plans.eval = compile(false, batch);
  if (trainRows % batch != 0) {
    plans.trainTail = compile(true, trainRows % batch);
  }
  std::set<int64_t> evalRemainders;
  if (rows - trainRows > 0) {
    evalRemainders.insert((rows - trainRows) % batch);
  }
  if (data.test) {
    evalRemainders.insert(data.test->size() % batch);
  }
  evalRemainders.erase(0);
  for (int64_t remainder : evalRemainders) {
    PlanRef plan = compile(false, remainder);
    if (!plans.evalTail) {
      plans.evalTail = plan;
    } else {
      plans.extraEvalTails.push_back(plan);
    }
  }
  return plans;
}

// Features for a model whose input is integer (token ids): the readers
// give f32 features (npyPair converts integer arrays), turned back into
// i32 here, exactly; a value that is not an integer i32 holds is refused.
void featuresAsIds(Dataset &data, const std::string &input,
                   const std::string &split) {
  if (data.x.dtype != DType::F32) {
    return;
  }
  Tensor ids(data.x.shape, DType::I32);
  for (int64_t i = 0; i < ids.numElements(); ++i) {
    float v = data.x.f32()[i];
    if (!(v == std::floor(v)) || std::fabs(v) > 16777216.0f) {
      throw Error("model input '" + input + "' takes integer ids, but " +
                  split + " feature " + std::to_string(i) + " is " +
                  std::to_string(v));
    }
    ids.i32()[i] = static_cast<int32_t>(v);
  }
  data.x = std::move(ids);
}

TrainResult train(const TrainingPlans &plans, const DataSplits &given,
                  const TrainerOptions &options) {
  if (!plans.train) {
    throw Error("train: no train plan");
  }
  LoadedPlan trainPlan = openPlan(plans.train, options.seed, options.checkNumerics);
  std::optional<DataSplits> ids;
  if (trainPlan.input(trainPlan.modelInput).dtype == DType::I32) {
    ids = given;
    featuresAsIds(ids->train, trainPlan.modelInput, "train");
    if (ids->test) {
      featuresAsIds(*ids->test, trainPlan.modelInput, "test");
    }
  }
  const DataSplits &data = ids ? *ids : given;
  if (options.epochs < 0 || options.maxSteps < 0) {
    throw Error("train: epochs and max steps must be non-negative");
  }
  checkTrainerOptions(options);
  // The training set is only copied when a validation split is cut off.
  Dataset splitTrain;
  const Dataset *trainData = &data.train;
  std::optional<Dataset> validation;
  if (options.validationSplit > 0) {
    splitTrain = data.train;
    validation = splitValidation(splitTrain, options.validationSplit);
    trainData = &splitTrain;
    if (validation->size() == 0) {
      note("validation split " + std::to_string(options.validationSplit) +
           " leaves no validation samples");
      validation.reset();
    }
  }
  const Dataset &trainSet = *trainData;
  int64_t size = trainSet.size();
  if (size == 0) {
    throw Error("train: the training set is empty");
  }

  // Plans.
  int64_t batch = trainPlan.batch;
  if (options.batch != batch) {
    throw Error(plans.train->path + ": compiled for batch " + std::to_string(batch) +
                ", the trainer was asked for batch " +
                std::to_string(options.batch));
  }
  checkData(trainPlan, trainSet, "train");
  int64_t fullBatches = size / batch;
  int64_t rest = size % batch;
  std::optional<LoadedPlan> trainTail;
  if (rest > 0 && plans.trainTail) {
    trainTail.emplace(openPlan(plans.trainTail, options.seed, options.checkNumerics));
    if (trainTail->batch != rest) {
      throw Error(plans.trainTail->path + ": tail plan for batch " +
                  std::to_string(trainTail->batch) + ", but " +
                  std::to_string(size) + " training samples leave " +
                  std::to_string(rest));
    }
    checkParametersSubset(trainPlan, *trainTail);
  } else if (rest > 0) {
    note("no tail plan: the last " + std::to_string(rest) +
         " samples of each epoch's order are skipped");
  }
  int64_t stepsPerEpoch = fullBatches + (trainTail ? 1 : 0);
  if (stepsPerEpoch == 0) {
    throw Error("train: " + std::to_string(size) +
                " training samples do not fill one batch of " +
                std::to_string(batch));
  }

  std::optional<LoadedPlan> evalPlan;
  std::vector<LoadedPlan> evalTails;
  if (plans.eval) {
    evalPlan.emplace(openPlan(plans.eval, options.seed, options.checkNumerics));
    checkParametersSubset(trainPlan, *evalPlan);
    std::vector<PlanRef> tails = plans.extraEvalTails;
    if (plans.evalTail) {
      tails.insert(tails.begin(), plans.evalTail);
    }
    for (const PlanRef &tail : tails) {
      evalTails.push_back(openPlan(tail, options.seed, options.checkNumerics));
      checkParametersSubset(trainPlan, evalTails.back());
    }
    if (validation) {
      checkData(*evalPlan, *validation, "validation");
    }
    if (data.test) {
      checkData(*evalPlan, *data.test, "test");
    }
  } else if (validation || data.test) {
    note("no eval plan: validation and test splits are not evaluated");
  }
  bool earlyStopping = options.patience > 0 && validation && evalPlan;
  if (options.patience > 0 && !earlyStopping) {
    note("early stopping needs a validation split and an eval plan; off");
  }

  // Where to start.
  LoopState state;
  std::map<std::string, Tensor> bestWeights;
  if (!options.loadPath.empty()) {
    state = resume(options.loadPath, trainPlan.session, options.seed,
                   !options.reinit.empty());
    if (earlyStopping && state.bestEpoch > 0) {
      std::string best = bestPath(options.loadPath);
      if (std::filesystem::exists(best)) {
        bestWeights = readSafetensors(best);
      }
    }
  }
  for (const std::string &pattern : options.reinit) {
    int drawn = 0;
    for (const TensorInfo &info : trainPlan.session.parameters()) {
      if (::fnmatch(pattern.c_str(), info.name.c_str(), 0) == 0) {
        trainPlan.session.reinitializeParameter(info.name);
        ++drawn;
      }
    }
    if (drawn == 0) {
      throw Error("--reinit '" + pattern + "' matches no parameter");
    }
  }
  std::vector<EpochMetrics> history;
  if (!options.logPath.empty() && state.epoch > 0 &&
      std::filesystem::exists(options.logPath)) {
    for (const EpochMetrics &m : readTrainingLog(options.logPath)) {
      if (m.epoch <= state.epoch) {
        history.push_back(m);
      }
    }
  }

  GradNormLog gradNorms(options, trainPlan.session,
                        state.epoch > 0 || state.step > 0 ? state.step : 0);
  TrainResult result;
  result.bestEpoch = state.bestEpoch;
  Progress progress(options.progress);
  InterruptGuard interruptGuard;
  std::set<std::string> noted;
  double stepSeconds = 0;
  bool stop = false;
  bool weightsRestored = false;

  auto evaluateSplits = [&](EpochMetrics &m) {
    if (!evalPlan) {
      return;
    }
    copyParameters(trainPlan.session, evalPlan->session);
    if (validation) {
      Evaluation e =
          evaluate(*evalPlan, evalTails, *validation, "validation", noted);
      m.valLoss = e.loss;
      m.valAccuracy = e.accuracy;
    }
    if (data.test) {
      Evaluation e = evaluate(*evalPlan, evalTails, *data.test, "test", noted);
      m.testLoss = e.loss;
      m.testAccuracy = e.accuracy;
    }
  };

  Dataset samples; // one batch buffer for the whole run
  for (int64_t epoch = state.epoch; epoch < options.epochs && !stop; ++epoch) {
    std::vector<int64_t> order;
    if (options.shuffle) {
      order = epochPermutation(size, options.seed, epoch);
    } else {
      order.resize(size);
      std::iota(order.begin(), order.end(), 0);
    }
    double lr = options.schedule.at(options.lr, epoch, options.epochs);
    Clock::time_point epochStart = Clock::now();
    int64_t first = epoch == state.epoch ? state.epochStep : 0;
    progress.startEpoch(epoch + 1, options.epochs, stepsPerEpoch - first);
    Totals totals;
    bool interrupted = false, reachedMax = false;
    int64_t b = first;
    for (; b < stepsPerEpoch; ++b) {
      if (options.maxSteps > 0 && state.step >= options.maxSteps) {
        reachedMax = true;
        break;
      }
      int64_t count = b < fullBatches ? batch : rest;
      LoadedPlan &plan = count == batch ? trainPlan : *trainTail;
      // A step's time includes its batch copy (the overhead of kiln train
      // over the compiled step: docs/training.md).
      Clock::time_point stepStart = Clock::now();
      gatherRowsInto(trainSet, order, b * batch, count, samples);
      if (&plan != &trainPlan) {
        copyParameters(trainPlan.session, plan.session);
      }
      ++state.step;
      setIfPresent(plan, "lr", lr);
      setIfPresent(plan, "step", static_cast<double>(state.step));
      setIfPresent(plan, "seed", stepSeed(options.seed, state.step));
      BatchResult outcome = runBatch(plan, samples);
      gradNorms.afterStep(plan.session, state.step, epoch + 1);
      if (!std::isfinite(outcome.loss) && !options.continueOnNan) {
        // As Keras's TerminateOnNaN: the weights are already damaged, so
        // nothing is saved; the last checkpoint (if any) stays as it was.
        progress.clear();
        throw Error(
            "step " + std::to_string(state.step) + " (epoch " +
            std::to_string(epoch + 1) + "): the training loss is " +
            numberText(outcome.loss) + "; training stopped" +
            (options.savePath.empty() || !std::filesystem::exists(options.savePath)
                 ? std::string(" (nothing saved)")
                 : " (" + options.savePath +
                       " keeps the last completed epoch's weights)") +
            ". Lower the learning rate, clip gradients (--clip-norm), or "
            "pass --continue-on-nan to train on");
      }
      if (&plan != &trainPlan) {
        copyParameters(plan.session, trainPlan.session);
      }
      stepSeconds += secondsSince(stepStart);
      ++result.steps;
      totals.add(outcome, count);
      progress.step(totals.loss(), totals.accuracy());
      if (interruptRequested) {
        interrupted = true;
        ++b;
        break;
      }
    }
    if (options.maxSteps > 0 && state.step >= options.maxSteps) {
      reachedMax = true;
    }
    bool complete = b == stepsPerEpoch;
    state.epoch = complete ? epoch + 1 : epoch;
    state.epochStep = complete ? 0 : b;

    if (interrupted && !complete) {
      // Ctrl-C mid-epoch: save and go; no evaluation.
      progress.clear();
      note("interrupted after step " + std::to_string(state.step) +
           (options.savePath.empty()
                ? std::string(" (no --save: the weights are not kept)")
                : "; checkpoint " + options.savePath));
      if (!options.savePath.empty()) {
        writeCheckpoint(options.savePath, trainPlan.session, state,
                        options.seed);
      }
      result.interrupted = true;
      break;
    }
    if (totals.samples == 0) {
      progress.clear();
      break; // maxSteps reached exactly at an epoch boundary
    }

    EpochMetrics m;
    m.epoch = epoch + 1;
    m.steps = b - first;
    m.trainLoss = totals.loss();
    m.trainAccuracy = totals.accuracy();
    if (evalPlan && (validation || data.test)) {
      progress.evaluating();
    }
    evaluateSplits(m);
    m.seconds = secondsSince(epochStart);

    if (earlyStopping && m.valLoss != -1) {
      if (m.valLoss < state.bestValLoss) {
        state.bestValLoss = m.valLoss;
        state.bestEpoch = m.epoch;
        state.badEpochs = 0;
        bestWeights = snapshot(trainPlan.session);
        if (!options.savePath.empty()) {
          writeSafetensors(bestPath(options.savePath), bestWeights);
        }
      } else if (++state.badEpochs >= options.patience) {
        result.stoppedEarly = true;
        stop = true;
      }
    }
    history.push_back(m);
    result.epochs.push_back(m);
    if (!options.logPath.empty()) {
      writeTrainingLog(options.logPath, history);
    }
    gradNorms.endEpoch(m.epoch);
    if (!options.savePath.empty()) {
      writeCheckpoint(options.savePath, trainPlan.session, state, options.seed);
    }
    progress.endEpoch(m, options.epochs);
    if (result.stoppedEarly) {
      note("early stopping: val_loss has not improved for " +
           std::to_string(state.badEpochs) + " epochs (best: epoch " +
           std::to_string(state.bestEpoch) + ")");
    }
    if (interrupted) {
      result.interrupted = true;
      note("interrupted at the end of epoch " + std::to_string(m.epoch));
      stop = true;
    }
    stop = stop || reachedMax;
  }
  result.bestEpoch = state.bestEpoch;

  // Best weights at the end (unless the last epoch was the best anyway).
  if (earlyStopping && options.restoreBest && !result.interrupted &&
      !bestWeights.empty() && state.bestEpoch != state.epoch) {
    restore(trainPlan.session, bestWeights);
    weightsRestored = true;
    note("restored the weights of epoch " + std::to_string(state.bestEpoch));
    if (!options.savePath.empty()) {
      writeCheckpoint(options.savePath, trainPlan.session, state, options.seed);
    }
  }

  if (data.test && evalPlan) {
    double loss = -1, accuracy = -1;
    if (!weightsRestored && !result.epochs.empty() &&
        result.epochs.back().testLoss != -1) {
      loss = result.epochs.back().testLoss;
      accuracy = result.epochs.back().testAccuracy;
    } else if (!result.interrupted) {
      EpochMetrics m;
      evaluateSplits(m);
      loss = m.testLoss;
      accuracy = m.testAccuracy;
    }
    if (loss != -1) {
      result.testLoss = loss;
    }
    if (accuracy != -1) {
      result.testAccuracy = accuracy;
    }
  }
  result.secondsPerStep = result.steps ? stepSeconds / result.steps : 0;
  return result;
}

} // namespace kiln::runtime
