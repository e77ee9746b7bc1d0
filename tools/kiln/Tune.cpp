//===- Tune.cpp - kiln tune ---===//
//
// Hyperparameter search (as Keras Tuner's RandomSearch / GridSearch): each
// trial is a kiln train run on a validation split with early stopping; the
// data is loaded once and the kernel cache is shared, so trials of the same
// batch size compile nothing new. Results: OUT/results.csv, a ranking on
// stdout, OUT/trial-K.safetensors per trial and OUT/best.safetensors.
#include "Cli.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <random>

namespace fs = std::filesystem;

namespace kiln::cli {
namespace {

using kiln::runtime::Error;

// --lr, --dropout: "LO:HI[:log|lin]" (a range) or "a,b,c" (values).
struct Spec {
  std::vector<double> values; // a list
  double low = 0, high = 0;   // a range
  bool log = true;

  bool isRange() const { return values.empty(); }
  // The grid's `points` values: evenly spaced (in log space for log).
  std::vector<double> grid(int points) const {
    if (!isRange()) {
      return values;
    }
    std::vector<double> out;
    for (int i = 0; i < points; ++i) {
      double t = points == 1 ? 0.5 : static_cast<double>(i) / (points - 1);
      out.push_back(log ? std::exp(std::log(low) +
                                   t * (std::log(high) - std::log(low)))
                        : low + t * (high - low));
    }
    return out;
  }
  double sample(std::mt19937_64 &rng) const {
    if (!isRange()) {
      return values[rng() % values.size()];
    }
    double t = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    return log ? std::exp(std::log(low) + t * (std::log(high) - std::log(low)))
               : low + t * (high - low);
  }
};

// What a value of an option may be: the learning rate > 0, a dropout rate
// in [0, 1).
struct Domain {
  const char *option;
  bool dropout;
  bool logByDefault;
};
const Domain kLr{"--lr", false, true}, kDropout{"--dropout", true, false};

double parseNumber(const std::string &text, const std::string &spec,
                   const Domain &domain) {
  char *end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  bool valid = !text.empty() && *end == '\0' && std::isfinite(value) &&
               (domain.dropout ? value >= 0 && value < 1 : value > 0);
  if (!valid) {
    throw Error(std::string(domain.option) + " '" + spec + "': '" + text +
                (domain.dropout ? "' is not a rate in [0, 1)"
                                : "' is not a finite number > 0"));
  }
  return value;
}

Spec parseSpec(const std::string &spec, const Domain &domain) {
  Spec parsed;
  const std::string option = domain.option;
  if (spec.find(':') != std::string::npos) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t colon; (colon = spec.find(':', start)) != std::string::npos;
         start = colon + 1) {
      parts.push_back(spec.substr(start, colon - start));
    }
    parts.push_back(spec.substr(start));
    if (parts.size() < 2 || parts.size() > 3 ||
        (parts.size() == 3 && parts[2] != "log" && parts[2] != "lin")) {
      throw Error(option + " '" + spec +
                  "': expected LO:HI, LO:HI:log, LO:HI:lin or a,b,c");
    }
    parsed.low = parseNumber(parts[0], spec, domain);
    parsed.high = parseNumber(parts[1], spec, domain);
    parsed.log = parts.size() == 2 ? domain.logByDefault : parts[2] == "log";
    if (parsed.low > parsed.high) {
      throw Error(option + " '" + spec +
                  "': the range's low end is above its high end");
    }
    if (parsed.log && parsed.low <= 0) {
      throw Error(option + " '" + spec + "': a log range needs LO > 0");
    }
    return parsed;
  }
  size_t start = 0;
  for (size_t comma;; start = comma + 1) {
    comma = spec.find(',', start);
    parsed.values.push_back(
        parseNumber(spec.substr(start, comma - start), spec, domain));
    if (comma == std::string::npos) {
      break;
    }
  }
  return parsed;
}

struct Trial {
  int index = 0; // 1-based
  double lr = 0;
  int64_t batch = 0;
  std::string optimizer;
  double dropout = -1; // -1: the model's own
  double bestValLoss = std::numeric_limits<double>::infinity();
  double bestValAccuracy = -1;
  int64_t bestEpoch = 0, epochs = 0;
  double seconds = 0;
  std::string status = "ok";
};

std::string number(double value) { return fmt::format("{:.6g}", value); }

} // namespace

int tuneCommand(const CommonFlags &common, TrainFlags base,
                const TuneFlags &tune) {
  using namespace kiln::runtime;
  Spec lr = parseSpec(tune.lr, kLr);
  std::optional<Spec> dropout;
  if (!tune.dropout.empty()) {
    dropout = parseSpec(tune.dropout, kDropout);
  }
  std::vector<double> dropouts =
      dropout ? dropout->grid(tune.gridPoints) : std::vector<double>{-1.0};
  std::vector<int64_t> batches = tune.batches;
  if (batches.empty()) {
    batches.push_back(base.trainer.batch);
  }
  std::vector<std::string> optimizers = tune.optimizers;
  if (optimizers.empty()) {
    optimizers.push_back(base.training.optimizer);
  }
  if (base.trainer.validationSplit <= 0) {
    throw Error("kiln tune ranks trials by validation loss: --val-split must "
                "be > 0");
  }

  // The trials: every combination (grid), or --trials draws (random).
  std::vector<Trial> trials;
  if (tune.search == "grid") {
    for (double rate : lr.grid(tune.gridPoints)) {
      for (int64_t batch : batches) {
        for (const std::string &optimizer : optimizers) {
          for (double d : dropouts) {
            Trial t;
            t.lr = rate;
            t.batch = batch;
            t.optimizer = optimizer;
            t.dropout = d;
            trials.push_back(t);
          }
        }
      }
    }
  } else {
    std::mt19937_64 rng(base.trainer.seed ^ 0x7475'6e65ull); // "tune"
    for (int i = 0; i < tune.trials; ++i) {
      Trial t;
      t.lr = lr.sample(rng);
      t.batch = batches[rng() % batches.size()];
      t.optimizer = optimizers[rng() % optimizers.size()];
      t.dropout = dropout ? dropout->sample(rng) : -1.0;
      trials.push_back(t);
    }
  }
  fs::create_directories(tune.out);
  DataSplits data = loadScaledData(base);
  fmt::print(stderr, "kiln tune: {} trials ({} search)\n", trials.size(),
             tune.search);

  for (size_t i = 0; i < trials.size(); ++i) {
    Trial &t = trials[i];
    t.index = static_cast<int>(i + 1);
    TrainFlags flags = base;
    flags.lr = t.lr;
    flags.trainer.batch = t.batch;
    flags.training.optimizer = t.optimizer;
    flags.training.dropoutRate = t.dropout;
    flags.trainer.savePath =
        (fs::path(tune.out) / fmt::format("trial-{}.safetensors", t.index))
            .string();
    flags.trainer.logPath =
        (fs::path(tune.out) / fmt::format("trial-{}.csv", t.index)).string();
    flags.trainer.progress = false;
    try {
      prepareTrainFlags(common, flags);
      TrainResult result = trainOnData(common, flags, data);
      for (const EpochMetrics &m : result.epochs) {
        t.seconds += m.seconds;
        if (m.valLoss != -1 && m.valLoss < t.bestValLoss) {
          t.bestValLoss = m.valLoss;
          t.bestValAccuracy = m.valAccuracy;
          t.bestEpoch = m.epoch;
        }
      }
      t.epochs = static_cast<int64_t>(result.epochs.size());
      if (result.stoppedEarly) {
        t.status = "stopped early";
      }
    } catch (const Error &e) {
      t.status = std::string("failed: ") + e.what();
    }
    fmt::print(stderr,
               "kiln tune: trial {}/{}: lr={} batch={} optimizer={}{}: "
               "val_loss={} ({})\n",
               t.index, trials.size(), number(t.lr), t.batch, t.optimizer,
               t.dropout >= 0 ? " dropout=" + number(t.dropout) : "",
               std::isfinite(t.bestValLoss) ? number(t.bestValLoss) : "-",
               t.status);
  }

  // Rank: the lowest validation loss first; failed trials last.
  std::vector<const Trial *> ranked;
  for (const Trial &t : trials) {
    ranked.push_back(&t);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const Trial *a, const Trial *b) {
                     return a->bestValLoss < b->bestValLoss;
                   });
  std::string csv = "rank,trial,lr,batch,optimizer,dropout,best_val_loss,"
                    "best_val_accuracy,best_epoch,epochs,seconds,status\n";
  fmt::print("rank  trial  lr          batch  optimizer  dropout  val_loss    "
             "val_acc  epoch\n");
  for (size_t r = 0; r < ranked.size(); ++r) {
    const Trial &t = *ranked[r];
    bool measured = std::isfinite(t.bestValLoss);
    std::string loss = measured ? number(t.bestValLoss) : "";
    std::string accuracy =
        t.bestValAccuracy >= 0 ? fmt::format("{:.4f}", t.bestValAccuracy) : "";
    std::string status = t.status;
    std::replace(status.begin(), status.end(), ',', ';');
    std::string rate = t.dropout >= 0 ? number(t.dropout) : "";
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{:.3f},{}\n", r + 1,
                       t.index, number(t.lr), t.batch, t.optimizer, rate,
                       loss, accuracy, t.bestEpoch, t.epochs, t.seconds,
                       status);
    fmt::print("{:<5} {:<6} {:<11} {:<6} {:<10} {:<8} {:<11} {:<8} {}\n",
               r + 1, t.index, number(t.lr), t.batch, t.optimizer,
               rate.empty() ? "-" : rate, measured ? loss : "-",
               accuracy.empty() ? "-" : accuracy, t.bestEpoch);
  }
  std::string results = (fs::path(tune.out) / "results.csv").string();
  {
    std::ofstream file(results);
    file << csv;
    if (!file) {
      throw Error("cannot write '" + results + "'");
    }
  }
  const Trial &best = *ranked.front();
  if (!std::isfinite(best.bestValLoss)) {
    throw Error("no trial finished with a validation loss (" + results + ")");
  }
  // With early stopping the trial's best weights are <save>.best; else the
  // final ones.
  fs::path saved = fs::path(tune.out) /
                   fmt::format("trial-{}.safetensors", best.index);
  fs::path bestWeights = fs::path(tune.out) /
                         fmt::format("trial-{}.best.safetensors", best.index);
  fs::path chosen = fs::exists(bestWeights) ? bestWeights : saved;
  fs::copy_file(chosen, fs::path(tune.out) / "best.safetensors",
                fs::copy_options::overwrite_existing);
  fmt::print("best: trial {} (lr={} batch={} optimizer={}), val_loss={}; "
             "weights in {}, table in {}\n",
             best.index, number(best.lr), best.batch, best.optimizer,
             number(best.bestValLoss),
             (fs::path(tune.out) / "best.safetensors").string(), results);
  return 0;
}

} // namespace kiln::cli
