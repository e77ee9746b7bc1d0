// The main() of `kiln compile --exe` executables (library KilnAotMain).
//
//   N [--input NAME=FILE.npy ...] [--output DIR] [--seed S] [--weights FILE]
//     [--repeat R] [--train-steps R [--lr LR]]
//
// Behaves as `kiln run MODEL` with the same flags: inputs not given are
// drawn as Session::fillMissingInputs draws them, one summary line per
// output, DIR/<output>.npy written; parameters are the ones baked in at
// `kiln compile` time. Every failure prints one `error:` line on stderr and
// exits non-zero. The model comes from the generated N_exe.c, which points
// kiln_aot_exe_library at N_library.
//
// --train-steps R (bundles built with --train): R training steps from the
// compiled parameters on one batch (the model's inputs and target from
// --input or drawn as above, the seed input from --seed, the learning rate
// from --lr, default 0.01), printing the loss of the first and the last step
// and the median step time on stderr: a training benchmark with nothing but
// the bundle (scripts/gpu-check.sh runs it on a GPU machine).
#include "kiln/aot/kiln_aot.h"
#include "kiln/runtime/Runtime.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" const kiln_aot_library *const kiln_aot_exe_library;

namespace {

namespace fs = std::filesystem;
using kiln::runtime::DType;
using kiln::runtime::Tensor;

struct Failure {
  std::string message;
  int code;
};

[[noreturn]] void fail(const std::string &message, int code = 1) {
  throw Failure{message, code};
}

struct Arguments {
  std::vector<std::pair<std::string, std::string>> inputs; // name, file
  std::string outputDir;
  uint64_t seed = 0;
  std::string weights;
  int repeat = 1;
  int trainSteps = 0;
  float lr = 0.01f;
};

void usage(const kiln_aot_library &lib) {
  std::printf("%s: run the model compiled by `kiln compile` (target %s)\n"
              "usage: %s [--input NAME=FILE.npy ...] [--output DIR] "
              "[--seed S]%s [--repeat R]%s\n",
              lib.name, lib.target, lib.name,
              lib.weights_file ? " [--weights FILE]" : "",
              lib.train_step ? " [--train-steps R [--lr LR]]" : "");
}

uint64_t parseUnsigned(const std::string &flag, const std::string &text) {
  if (text.empty() || text[0] == '-' || text[0] == '+') {
    fail(flag + ": expected a non-negative integer, got '" + text + "'", 2);
  }
  char *end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || *end != 0) {
    fail(flag + ": expected a non-negative integer, got '" + text + "'", 2);
  }
  return value;
}

Arguments parse(int argc, char **argv, const kiln_aot_library &lib) {
  Arguments args;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    bool inlineValue = false;
    if (size_t eq = flag.find('=');
        flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      inlineValue = true;
    }
    if (flag == "-h" || flag == "--help") {
      usage(lib);
      std::exit(0);
    }
    bool known = flag == "--input" || flag == "--output" || flag == "--seed" ||
                 flag == "--repeat" ||
                 (flag == "--weights" && lib.weights_file) ||
                 ((flag == "--train-steps" || flag == "--lr") &&
                  lib.train_step);
    if (!known) {
      fail("unknown argument '" + std::string(argv[i]) + "' (see --help)", 2);
    }
    if (!inlineValue) {
      if (i + 1 >= argc) {
        fail(flag + " needs a value", 2);
      }
      value = argv[++i];
    }
    if (flag == "--input") {
      size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == value.size()) {
        fail("--input expects NAME=FILE.npy, got '" + value + "'", 2);
      }
      args.inputs.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else if (flag == "--output") {
      args.outputDir = value;
    } else if (flag == "--seed") {
      args.seed = parseUnsigned(flag, value);
    } else if (flag == "--weights") {
      args.weights = value;
    } else if (flag == "--train-steps") {
      uint64_t steps = parseUnsigned(flag, value);
      if (steps < 1 || steps > 1000000000) {
        fail("--train-steps: expected 1 or more, got '" + value + "'", 2);
      }
      args.trainSteps = static_cast<int>(steps);
    } else if (flag == "--lr") {
      char *end = nullptr;
      errno = 0;
      float lr = std::strtof(value.c_str(), &end);
      if (value.empty() || errno != 0 || *end != 0 || !(lr >= 0)) {
        fail("--lr: expected a non-negative number, got '" + value + "'", 2);
      }
      args.lr = lr;
    } else {
      uint64_t repeat = parseUnsigned(flag, value);
      if (repeat < 1 || repeat > 1000000000) {
        fail("--repeat: expected 1 or more, got '" + value + "'", 2);
      }
      args.repeat = static_cast<int>(repeat);
    }
  }
  return args;
}

std::string describe(const kiln_aot_tensor &t) {
  std::string text;
  for (int d = 0; d < t.rank; ++d) {
    text += std::to_string(t.shape[d]) + "x";
  }
  return text + (t.dtype == KILN_AOT_I32 ? "i32" : "f32");
}

Tensor emptyTensor(const kiln_aot_tensor &t) {
  return Tensor(std::vector<int64_t>(t.shape, t.shape + t.rank),
                t.dtype == KILN_AOT_I32 ? DType::I32 : DType::F32);
}

// As Session::fillMissingInputs: each input its own stream.
Tensor randomInput(const kiln_aot_tensor &t, uint64_t seed) {
  Tensor value = emptyTensor(t);
  kiln::runtime::Random random(seed ^ kiln::runtime::hashName(t.name));
  uint64_t classes = t.classes > 0 ? static_cast<uint64_t>(t.classes) : 10;
  int64_t count = value.numElements();
  for (int64_t i = 0; i < count; ++i) {
    if (value.dtype == DType::F32) {
      value.f32()[i] = random.normal(0.0f, 1.0f);
    } else {
      value.i32()[i] = static_cast<int32_t>(random.next() % classes);
    }
  }
  return value;
}

// As `kiln run` prints it.
void printSummary(const std::string &name, const Tensor &t) {
  int64_t n = t.numElements();
  double lo = 0, hi = 0, sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    double v = t.dtype == DType::F32 ? t.f32()[i] : t.i32()[i];
    lo = i == 0 ? v : std::min(lo, v);
    hi = i == 0 ? v : std::max(hi, v);
    sum += v;
  }
  std::printf("%s: %s min=%.6g max=%.6g mean=%.6g\n", name.c_str(),
              t.shapeString().c_str(), lo, hi, n ? sum / n : 0.0);
}

std::string defaultWeightsPath(const kiln_aot_library &lib) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(lib.weights_file)
            : (self.parent_path() / lib.weights_file).string();
}

// The tensors of `specs` from --input files by name, the others drawn
// (random inputs; the training step's scalars are set by the caller).
std::vector<Tensor> readInputs(const Arguments &args,
                               const kiln_aot_tensor *specs, int count) {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    names.push_back(specs[i].name);
  }
  std::vector<Tensor> inputs(count);
  std::vector<bool> given(count, false);
  for (const auto &[name, file] : args.inputs) {
    int index = kiln::runtime::findInput(names, name);
    if (index < 0) {
      std::string valid;
      for (const std::string &n : names) {
        valid += (valid.empty() ? "'" : ", '") + n + "'";
      }
      fail("unknown input '" + name +
           "' (valid: " + (valid.empty() ? "none" : valid) + ")");
    }
    Tensor value = kiln::runtime::readNpy(file);
    const kiln_aot_tensor &expected = specs[index];
    if (value.shape != emptyTensor(expected).shape ||
        value.dtype != emptyTensor(expected).dtype) {
      fail("input '" + name + "': expected " + describe(expected) + ", got " +
           value.shapeString());
    }
    inputs[index] = std::move(value);
    given[index] = true;
  }
  for (int i = 0; i < count; ++i) {
    if (!given[i]) {
      inputs[i] = randomInput(specs[i], args.seed);
    }
  }
  return inputs;
}

void *alignedBytes(size_t bytes, const char *what) {
  size_t rounded = (std::max<size_t>(bytes, 1) + KILN_AOT_ALIGNMENT - 1) /
                   KILN_AOT_ALIGNMENT * KILN_AOT_ALIGNMENT;
  void *p = std::aligned_alloc(KILN_AOT_ALIGNMENT, rounded);
  if (!p) {
    fail("cannot allocate " + std::to_string(bytes) + " " + what + " bytes");
  }
  return p;
}

void printTimes(const kiln_aot_library &lib, std::vector<double> ms,
                const char *what) {
  std::sort(ms.begin(), ms.end());
  std::fprintf(stderr, "%s: %zu %s, median %.4f ms, min %.4f ms\n", lib.name,
               ms.size(), what, ms[ms.size() / 2], ms.front());
}

double elapsedMs(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

// --train-steps: R steps on one batch from the compiled parameters.
int trainMain(const kiln_aot_library &lib, const Arguments &args, void *model) {
  std::vector<Tensor> inputs =
      readInputs(args, lib.train_inputs, lib.num_train_inputs);
  Tensor *step = nullptr;
  for (int i = 0; i < lib.num_train_inputs; ++i) {
    std::string name = lib.train_inputs[i].name;
    if (name == "seed") {
      inputs[i].i32()[0] = static_cast<int32_t>(args.seed);
    } else if (name == "lr") {
      inputs[i].f32()[0] = args.lr;
    } else if (name == "step") {
      step = &inputs[i];
    }
  }
  std::vector<const void *> inputPointers;
  for (Tensor &t : inputs) {
    inputPointers.push_back(t.bytes.data());
  }
  std::vector<Tensor> outputs;
  std::vector<void *> outputPointers;
  int lossIndex = -1;
  for (int i = 0; i < lib.num_train_outputs; ++i) {
    outputs.push_back(emptyTensor(lib.train_outputs[i]));
    if (std::string(lib.train_outputs[i].name) == "loss") {
      lossIndex = i;
    }
  }
  for (Tensor &t : outputs) {
    outputPointers.push_back(t.bytes.data());
  }
  void *state = alignedBytes(lib.state_bytes, "state");
  void *arena = alignedBytes(lib.train_arena_bytes, "arena");
  auto release = [&] {
    std::free(state);
    std::free(arena);
    lib.close(model);
  };
  if (lib.state_init(model, state) != 0) {
    std::string message = lib.error_message();
    release();
    fail(message);
  }
  std::vector<double> ms;
  float first = 0, last = 0;
  for (int r = 0; r < args.trainSteps; ++r) {
    if (step) {
      step->f32()[0] = static_cast<float>(r + 1);
    }
    auto start = std::chrono::steady_clock::now();
    int status = lib.train_step(model, state, inputPointers.data(),
                                outputPointers.data(), arena);
    ms.push_back(elapsedMs(start));
    if (status != 0) {
      std::string message = lib.error_message();
      release();
      fail(message);
    }
    if (lossIndex >= 0) {
      last = outputs[lossIndex].f32()[0];
      first = r == 0 ? last : first;
    }
  }
  release();
  if (lossIndex >= 0) {
    std::printf("loss: step 1 %.6g, step %d %.6g\n", first, args.trainSteps,
                last);
  }
  printTimes(lib, ms, "training steps");
  return 0;
}

int runMain(int argc, char **argv) {
  const kiln_aot_library &lib = *kiln_aot_exe_library;
  Arguments args = parse(argc, argv, lib);

  void *model = nullptr;
  std::string weights = args.weights;
  if (lib.weights_file && weights.empty()) {
    weights = defaultWeightsPath(lib);
  }
  if (args.trainSteps > 0) {
    if (lib.open(&model, weights.empty() ? nullptr : weights.c_str()) != 0) {
      fail(lib.error_message());
    }
    return trainMain(lib, args, model);
  }
  std::vector<Tensor> inputs = readInputs(args, lib.inputs, lib.num_inputs);
  if (lib.open(&model, weights.empty() ? nullptr : weights.c_str()) != 0) {
    fail(lib.error_message());
  }
  std::vector<Tensor> outputs;
  std::vector<void *> outputPointers;
  std::vector<const void *> inputPointers;
  for (int i = 0; i < lib.num_inputs; ++i) {
    inputPointers.push_back(inputs[i].bytes.data());
  }
  for (int i = 0; i < lib.num_outputs; ++i) {
    outputs.push_back(emptyTensor(lib.outputs[i]));
  }
  for (Tensor &t : outputs) {
    outputPointers.push_back(t.bytes.data());
  }
  void *arena = alignedBytes(lib.arena_bytes, "arena");
  std::vector<double> ms;
  for (int r = 0; r < args.repeat; ++r) {
    auto start = std::chrono::steady_clock::now();
    int status =
        lib.run(model, inputPointers.data(), outputPointers.data(), arena);
    ms.push_back(elapsedMs(start));
    if (status != 0) {
      std::string message = lib.error_message();
      std::free(arena);
      lib.close(model);
      fail(message);
    }
  }
  std::free(arena);
  lib.close(model);

  if (!args.outputDir.empty()) {
    fs::create_directories(args.outputDir);
  }
  std::vector<std::string> names;
  for (int i = 0; i < lib.num_outputs; ++i) {
    names.push_back(lib.outputs[i].name);
  }
  std::vector<std::string> files = kiln::runtime::outputFileNames(names);
  for (int i = 0; i < lib.num_outputs; ++i) {
    printSummary(lib.outputs[i].name, outputs[i]);
    if (!args.outputDir.empty()) {
      kiln::runtime::writeNpy((fs::path(args.outputDir) / files[i]).string(),
                              outputs[i]);
      std::printf("%s -> %s\n", lib.outputs[i].name, files[i].c_str());
    }
  }
  if (args.repeat > 1) {
    printTimes(lib, ms, "runs");
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return runMain(argc, argv);
  } catch (const Failure &failure) {
    std::fprintf(stderr, "error: %s\n", failure.message.c_str());
    return failure.code;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
