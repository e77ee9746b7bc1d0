// Ahead-of-time deployment: a model -> a static library with a generated C
// call sequence, a C header and the weights (embedded or a side file), and
// optionally a standalone executable.
//
// compileBundle():
//   1. has the compiler build the plan(s) and kernel objects without linking
//      (CompileOptions::link = false): the inference plan, and with `train`
//      the Mode::Train plan;
//   2. lays out every plan's buffers: temporaries and inputs in one arena
//      (the plan's "offset"/"arena_bytes" when the memory planner wrote
//      them, else sequentially, 64-byte aligned), parameters and constants
//      in one read-only weights blob whose first part is the training state;
//   3. writes N.c (one halide_buffer_t table and a straight-line list of
//      kernel calls per entry point; no interpreter, no JSON), N.h and the
//      weights (an .incbin object, or N.weights);
//   4. drives cc/ar: libN.a = kernel objects + Halide runtime + N.o
//      (+ weights object), and with `executable` links DIR/N against
//      KilnRuntime (npy, Random) only — no compiler library.
// For a target the host cannot run (e.g. arm-64-linux) only the kernel and
// runtime objects are archived; N.c, N.h and the weights are left for the
// target's toolchain and no executable is linked.
#ifndef KILN_AOT_AOT_H
#define KILN_AOT_AOT_H

#include "kiln/compiler/Compiler.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::aot {

// A user-facing failure (bad option, tool failure); the message says which.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct AotOptions {
  std::string outputDir;       // required; created if missing
  std::string name;            // C prefix; default: the model file stem
  std::string target = "host"; // Halide target string
  bool embedWeights = true;    // false: DIR/N.weights, loaded by N_open
  bool executable = false;     // also link DIR/N
  bool train = false;          // also emit N_train_step
  int64_t batch = 0;           // 0 keeps the model's batch size
  uint64_t seed = 0;           // parameter initialization (as kiln run)
  std::string loadPath;        // parameters from a .safetensors file
  compiler::TrainingOptions training;
  std::string cacheDir; // kernel cache (see CompileOptions)
  bool verbose = false;
  std::string dumpDir; // Halide .stmt and assembly per kernel
  // How the model is lowered: fusion, weight packing, Winograd, layout and
  // schedule (kiln compile's flags, as kiln run's). Its batch, target,
  // cache, verbosity, dump directory, mode and training are the fields
  // above.
  compiler::CompileOptions lowering;
};

struct Bundle {
  std::string name;
  std::string target;             // as given (e.g. "host")
  bool native = true;             // built for this machine: archive complete
  std::string library;            // DIR/libN.a
  std::string header;             // DIR/N.h
  std::string source;             // DIR/N.c
  std::string weights;            // DIR/N.weights ("" when embedded)
  std::string executable;         // DIR/N ("" when not linked)
  size_t arenaBytes = 0;          // N_ARENA_BYTES
  size_t trainArenaBytes = 0;     // N_TRAIN_ARENA_BYTES (train only)
  size_t stateBytes = 0;          // N_STATE_BYTES (train only)
  size_t weightsBytes = 0;        // parameters + constants
  int calls = 0;                  // kernel calls of the inference entry
  std::vector<std::string> notes; // what was skipped and why
};

// Throws Error (and compiler::Error for model errors).
Bundle compileBundle(const std::string &modelPath, const AotOptions &options);

// A C identifier made from `text` (invalid characters become '_').
std::string cIdentifier(const std::string &text);

} // namespace kiln::aot

#endif // KILN_AOT_AOT_H
