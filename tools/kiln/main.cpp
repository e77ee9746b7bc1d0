//===- main.cpp - the kiln command line ------------------------------------===//
//
// kiln run MODEL [--input NAME=FILE.npy ...] [--output DIR] [--batch B]
//                [--target T] [--seed S] [--weights FILE.safetensors]
// kiln train MODEL --data DATA --loss LOSS [--optimizer OPT] [--lr X]
//                  [--epochs E] [--batch B] [--steps N] [--seed S] ...
// kiln inspect MODEL [--dot] [--json] [--batch B]
// kiln compile MODEL -o DIR [--target T] [--name N] [--weights embed|file]
//                    [--exe] [--train] [--batch B] [--seed S] [--load FILE]
//
// Every failure prints one `error:` line on stderr and exits non-zero.
//
//===----------------------------------------------------------------------===//
#include "Cli.h"
#include "kiln/support/Printable.h"

#include <fmt/core.h>

#include <iostream>

using namespace kiln::cli;

// Every message is printed through support::printable: errors quote names
// from files (ONNX node names, paths), never raw control bytes.
int main(int argc, char **argv) {
  CLI::App app{"kiln: compile and run neural-network models\n\n"
               "  kiln run model.onnx --output out/\n"
               "  kiln train examples/cnn.mlir --data fashion-mnist "
               "--loss sparse-cce --epochs 5\n"
               "  kiln bench model.onnx --batch 8 --profile\n"
               "  kiln inspect examples/cnn.mlir --memory\n"
               "  kiln compile model.onnx -o bundle/ --exe\n"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] {
    return kiln::compiler::versionText();
  });

  CommonFlags runFlags;
  std::vector<std::string> inputs;
  std::string outputDir, weights;
  uint64_t seed = 0;
  CLI::App *run = app.add_subcommand("run", "Compile (cached) and run a model");
  runFlags.add(run);
  run->add_option("--input", inputs, "NAME=FILE.npy (repeatable)");
  run->add_option("--output", outputDir, "Write DIR/<output>.npy");
  run->add_option("--seed", seed, "Seed for random inputs and parameters");
  run->add_option("--weights", weights, "Parameters from a .safetensors file");
  runFlags.addCheckNumerics(run);

  // --data and --loss, as train and tune take them.
  const std::vector<std::string> losses = {"mse", "mae", "huber", "bce",
                                           "bce-logits", "cce", "sparse-cce",
                                           "hinge", "model"};
  const std::vector<std::string> optimizerKinds = {
      "sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam"};
  auto addDataAndLoss = [&](CLI::App *cmd, TrainFlags &flags) {
    cmd->add_option("--data", flags.data,
                    "fashion-mnist, an IDX folder, X.npy,Y.npy or a CSV")
        ->required();
    cmd->add_option("--loss", flags.training.loss, "Loss")
        ->check(CLI::IsMember(losses))
        ->required();
  };

  CommonFlags trainCommon;
  TrainFlags trainFlags;
  CLI::App *trainApp = app.add_subcommand("train", "Compile and run training");
  trainCommon.add(trainApp, true, true);
  trainCommon.addCheckNumerics(trainApp);
  {
    auto &t = trainFlags.training;
    auto &o = trainFlags.trainer;
    addDataAndLoss(trainApp, trainFlags);
    trainApp->add_option("--optimizer", t.optimizer, "Optimizer")
        ->check(CLI::IsMember(optimizerKinds))
        ->capture_default_str();
    trainApp->add_option("--lr", trainFlags.lr,
                         "Learning rate (default: 1e-3 adam, 1.0 adadelta, "
                         "else 1e-2)");
    trainApp->add_option("--epochs", o.epochs, "Epochs")
        ->check(atLeast(1))->capture_default_str();
    trainApp->add_option("--steps", o.maxSteps, "Stop after N steps");
    trainApp->add_option("--seed", o.seed, "Seed for weights, shuffling, dropout");
    trainApp->add_flag("--shuffle,!--no-shuffle", o.shuffle,
                       "Shuffle every epoch (default on)");
    trainApp->add_option("--load", o.loadPath, "Resume from a checkpoint");
    trainApp->add_option("--save", o.savePath,
                         "Checkpoint (.safetensors) after every epoch");
    trainApp->add_option("--log", o.logPath,
                         "Per-epoch CSV (and a .svg plot next to it)");
    trainApp->add_flag("--log-grad-norms{1}", o.gradNormsEvery,
                       "Every N steps (--log-grad-norms=N; default 1), each "
                       "parameter's gradient and weight L2 norms and update "
                       "ratio to LOG.grads.csv (+ .svg); warns when a "
                       "gradient vanishes or explodes for a whole epoch")
        ->check(atLeast(1));
    trainApp->add_option("--val-split", o.validationSplit,
                         "Fraction of the training set held out")
        ->check(between(0, 0.99));
    trainApp->add_option("--patience", o.patience,
                         "Early stopping patience in epochs (0: off)");
    trainApp->add_flag("--no-restore-best", trainFlags.noRestoreBest,
                       "With early stopping, keep the last weights");
    trainApp->add_option("--scale", trainFlags.scale, "Feature scaling")
        ->check(CLI::IsMember({"none", "minmax", "standard"}));
    trainApp->add_option("--schedule", trainFlags.schedule, "LR schedule")
        ->check(CLI::IsMember({"constant", "step", "exponential", "cosine"}));
    trainApp->add_option("--step-size", o.schedule.stepSize,
                         "Step schedule: epochs per decay");
    trainApp->add_option("--gamma", o.schedule.gamma,
                         "Step/exponential schedule factor");
    trainApp->add_option("--eta-min", o.schedule.etaMin, "Cosine: final lr");
    trainApp->add_option("--momentum", t.momentum, "Momentum (0.9)");
    trainApp->add_option("--dampening", t.dampening, "Momentum dampening");
    trainApp->add_option("--beta1", t.beta1, "Adam beta1");
    trainApp->add_option("--beta2", t.beta2, "Adam beta2");
    trainApp->add_option("--eps", t.epsilon, "Optimizer epsilon");
    trainApp->add_option("--rho", t.rho, "Adadelta rho");
    trainApp->add_option("--alpha", t.alpha, "RMSprop alpha");
    trainApp->add_option("--lr-decay", t.lrDecay, "Adagrad lr decay");
    trainApp->add_option("--weight-decay", t.weightDecay, "L2 weight decay");
    trainApp->add_option("--clip-value", t.clipValue,
                         "Clamp gradients to [-c, c]");
    trainApp->add_option("--memory-budget", t.memoryBudget,
                         "Rematerialize forward values until the step's "
                         "arena fits in this many bytes");
    trainApp->add_option("--clip-norm", t.clipNorm,
                         "Clip the global gradient norm to this");
    trainApp->add_option("--reinit", o.reinit,
                         "After --load, draw the parameters matching this "
                         "glob again from their initializers (repeatable; "
                         "e.g. 'fc.*' for a new head); starts a new run");
    trainApp->add_option("--freeze", t.frozen,
                         "Hold the parameters matching this glob constant "
                         "(repeatable; e.g. 'layer1.*'): no gradient, no "
                         "optimizer state");
    trainApp->add_option("--augment", t.augment,
                         "Augment each training batch: flip-h, flip-v, "
                         "shift=PIXELS, rotate=DEGREES, zoom=FRACTION, "
                         "noise=SIGMA (comma-separated)");
    trainApp->add_option("--dropout", t.dropoutRate,
                         "Set every dropout's rate (default: the model's)")
        ->check(between(0, 0.999999));
    trainApp->add_option("--l1", t.l1, "L1 regularization of the weights");
    trainApp->add_option("--l2", t.l2, "L2 regularization of the weights");
    trainApp->add_option("--delta", t.delta, "Huber delta");
    trainApp->add_flag("--no-progress{false}", o.progress, "No progress bar");
    trainApp->add_flag("--continue-on-nan", o.continueOnNan,
                       "Train on when the loss becomes NaN or infinite "
                       "(default: stop, naming the step)");
  }
  trainFlags.trainer.batch = 32; // --batch overrides (Keras's default)

  CommonFlags tuneCommon;
  TrainFlags tuneBase;
  TuneFlags tune;
  CLI::App *tuneApp = app.add_subcommand(
      "tune", "Hyperparameter search: kiln train runs ranked by val loss");
  tuneCommon.add(tuneApp, false);
  {
    auto &o = tuneBase.trainer;
    o.batch = 32;
    o.validationSplit = 0.2;
    o.patience = 2;
    addDataAndLoss(tuneApp, tuneBase);
    tuneApp->add_option("--trials", tune.trials, "Random search: trials")
        ->check(atLeast(1))->capture_default_str();
    tuneApp->add_option("--search", tune.search, "random or grid")
        ->check(CLI::IsMember({"random", "grid"}))->capture_default_str();
    tuneApp->add_option("--lr", tune.lr,
                        "LO:HI[:log|lin] or a,b,c (default 1e-4:1e-1:log)");
    tuneApp->add_option("--grid-points", tune.gridPoints,
                        "Grid search: values per --lr range")
        ->check(atLeast(1))->capture_default_str();
    tuneApp->add_option("--batch", tune.batches, "Batch sizes, e.g. 32,64")
        ->delimiter(',')->check(atLeast(1));
    tuneApp->add_option("--optimizer", tune.optimizers,
                        "Optimizers, e.g. adam,sgd")
        ->delimiter(',')
        ->check(CLI::IsMember(optimizerKinds));
    tuneApp->add_option("--dropout", tune.dropout,
                        "Every dropout's rate: LO:HI[:lin|log] or a,b,c "
                        "(default: the model's)");
    tuneApp->add_option("--epochs", o.epochs, "Epochs per trial (at most)")
        ->check(atLeast(1))->capture_default_str();
    tuneApp->add_option("--val-split", o.validationSplit,
                        "Fraction held out to rank the trials")
        ->check(between(0.01, 0.99))->capture_default_str();
    tuneApp->add_option("--patience", o.patience,
                        "Early stopping per trial (0: off)")
        ->capture_default_str();
    tuneApp->add_option("--seed", o.seed, "Seed for the draws and each run");
    tuneApp->add_option("--scale", tuneBase.scale, "Feature scaling")
        ->check(CLI::IsMember({"none", "minmax", "standard"}));
    tuneApp->add_option("--out", tune.out,
                        "Folder for results.csv, trial-K.safetensors and "
                        "best.safetensors")
        ->capture_default_str();
  }

  CommonFlags benchFlags;
  BenchFlags b;
  CLI::App *bench = app.add_subcommand("bench", "Time a compiled model");
  benchFlags.add(bench);
  benchFlags.addCheckNumerics(bench);
  bench->add_flag("--train", b.train,
                  "Time the training step (--optimizer, default Adam; "
                  "--loss, default sparse-cce)");
  bench->add_option("--loss", b.loss, "Loss of the timed training step");
  bench->add_option("--optimizer", b.optimizer,
                    "Optimizer of the timed training step")
      ->check(CLI::IsMember(optimizerKinds))
      ->capture_default_str();
  bench->add_option("--freeze", b.frozen,
                    "With --train: hold the parameters matching this glob "
                    "constant (repeatable), as kiln train --freeze");
  bench->add_option("--runs", b.runs, "Timed runs")
      ->check(atLeast(1))->capture_default_str();
  bench->add_flag("--json", b.json, "Print one JSON object");
  CLI::Option *compareFlag = bench->add_flag(
      "--compare-no-fusion", b.compare,
      "Time the plan and its --no-fusion twin, runs alternating, "
      "and print the speedup of fusion");
  bench->add_flag("--profile", b.profile,
                  "Also time each kernel call (per-call medians over --runs "
                  "more runs), summed per op or fused group");
  bench
      ->add_option("--trace", b.trace,
                   "Also write one more run's timeline to this file as "
                   "Chrome trace events (Perfetto, chrome://tracing): each "
                   "kernel call, and each thread's part of its parallel "
                   "loops")
      ->excludes(compareFlag);

  std::string importModelPath, importOut, importWeights;
  int64_t importBatch = 0;
  CLI::App *importApp =
      app.add_subcommand("import", "Convert an ONNX model to kiln IR");
  importApp->add_option("MODEL", importModelPath, "Model: .onnx")->required();
  importApp->add_option("-o,--output", importOut, "The .mlir to write")
      ->required();
  importApp->add_option("--weights", importWeights,
                        "Also write the initializers to this .safetensors");
  importApp->add_option("--batch", importBatch,
                        "Batch size for a dynamic batch dim (default 1)");

  CommonFlags inspectFlags;
  bool dot = false, json = false;
  CLI::App *inspect = app.add_subcommand("inspect", "Describe a model");
  inspectFlags.add(inspect);
  inspect->add_flag("--dot", dot, "Print the graph in Graphviz dot");
  inspect->add_flag("--json", json, "Print one JSON object");
  bool inspectMemory = false, inspectTrain = false;
  int64_t inspectBudget = 0;
  std::string memorySvg;
  inspect->add_flag("--memory", inspectMemory,
                    "The memory plan: arena, lower bound, naive total");
  inspect->add_flag("--train", inspectTrain,
                    "Inspect the training step (sparse-cce, Adam)");
  inspect->add_option("--memory-budget", inspectBudget,
                      "Training: rematerialize until the arena fits (bytes)");
  inspect->add_option("--memory-svg", memorySvg,
                      "Also draw the plan as SVG into this file");

  CommonFlags compileCommon;
  AotFlags aotFlags;
  CLI::App *compileApp = app.add_subcommand(
      "compile", "Ahead-of-time: static library + C header (+ executable)");
  compileCommon.add(compileApp);
  {
    kiln::aot::AotOptions &o = aotFlags.options;
    compileApp->add_option("-o,--output", o.outputDir, "Output directory")
        ->required();
    compileApp->add_option("--name", o.name,
                           "C prefix and file names (default: model stem)");
    compileApp->add_option("--weights", aotFlags.weights,
                           "embed: in the library; file: DIR/N.weights")
        ->check(CLI::IsMember({"embed", "file"}))
        ->capture_default_str();
    compileApp->add_flag("--exe", o.executable,
                         "Also link the standalone executable DIR/N");
    compileApp->add_flag("--train", o.train, "Also emit N_train_step");
    compileApp->add_option("--seed", o.seed,
                           "Parameter initialization seed (as kiln run)");
    compileApp->add_option("--load", o.loadPath,
                           "Parameters from a .safetensors file");
    compileApp->add_option("--loss", o.training.loss, "Loss for --train")
        ->check(CLI::IsMember({"mse", "mae", "huber", "bce", "bce-logits",
                               "cce", "sparse-cce", "hinge", "model"}))
        ->capture_default_str();
    compileApp->add_option("--optimizer", o.training.optimizer,
                           "Optimizer for --train")
        ->check(CLI::IsMember({"sgd", "momentum", "nesterov", "adagrad",
                               "adadelta", "rmsprop", "adam"}))
        ->capture_default_str();
  }

  if (argc == 1) { // usage, once, instead of CLI11's bare message
    app.name("kiln");
    std::cerr << app.help() << "error: a subcommand is required\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success &e) { // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    std::cerr << "error: " << kiln::support::printable(e.what()) << "\n";
    return 2;
  }
  try {
    if (*run) {
      return runCommand(runFlags, inputs, outputDir, seed, weights);
    }
    if (*importApp) {
      int params = kiln::compiler::importModel(importModelPath, importOut,
                                               importWeights, importBatch);
      fmt::print("imported {} ({} parameters) to {}\n", importModelPath,
                 params, importOut);
      return 0;
    }
    if (*bench) {
      return benchCommand(benchFlags, b);
    }
    if (*trainApp) {
      if (trainCommon.batch > 0) {
        trainFlags.trainer.batch = trainCommon.batch;
      }
      return trainCommand(trainCommon, trainFlags);
    }
    if (*compileApp) {
      return compileCommand(compileCommon, aotFlags);
    }
    if (*tuneApp) {
      return tuneCommand(tuneCommon, tuneBase, tune);
    }
    if (inspectMemory) {
      return memoryCommand(inspectFlags, inspectTrain, inspectBudget, json,
                           memorySvg);
    }
    return inspectCommand(inspectFlags, inspectTrain, dot, json);
  } catch (const std::exception &e) {
    std::cerr << "error: " << kiln::support::printable(e.what()) << "\n";
    return 1;
  }
}

