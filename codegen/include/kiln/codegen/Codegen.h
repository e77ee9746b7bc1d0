// Codegen: KernelSpecs -> Halide pipelines -> object code -> one cached
// shared library.
//
// This library (KilnCodegen) holds no Halide: every use of Halide's compiler
// runs in kiln-codegen-worker (KilnKernels + Halide), so that kiln, its
// runtime and its tests never load libHalide (LLVM 14 stays out of the
// process that runs MLIR 19 or a GPU driver such as PoCL).
//
// Every kernel is compiled once per (spec, target, kiln codegen version) into
// an object file named after the hash of those three; objects are compiled in
// parallel (one child process per job: Halide's compiler is not used from
// several threads), linked with one standalone Halide runtime into a shared
// library, and the library is cached under the hash of its kernel list. A
// second compilation of the same kernels compiles and links nothing.
//
// Kernel ABI (what the runtime calls): for a spec with inputs i0..in and
// outputs o0..om the library exports
//   int <functionName>_argv(void **args);
// where args[k] is a halide_buffer_t* for i0..in, o0..om in that order.
// Buffer dimensions are in Halide order (innermost first), i.e. the reverse of
// TensorSpec::shape; buffers are dense. A rank-0 tensor is a 0-dimensional
// buffer.
#ifndef KILN_CODEGEN_CODEGEN_H
#define KILN_CODEGEN_CODEGEN_H

#include "kiln/codegen/KernelSpec.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::codegen {

// Thrown for specs codegen cannot build (unknown op, bad attributes/shapes)
// and for compiler/linker failures. The message names the op and the problem.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct CompileOptions {
  std::string target = "host"; // Halide target string
  std::string cacheDir;        // required: where objects and libraries live
  int jobs = 0;                // parallel compile jobs; 0 = number of cores
  bool verbose = false;        // progress lines on stderr
  std::string dumpDir;         // if set: <fn>.stmt and <fn>.s for every kernel
  bool link = true;            // false: objects only (cross-compiling, AOT)
  // false: the first spec that does not validate, or any kernel that does
  // not compile, fails the whole call (Error). true: they get their message
  // in CompiledLibrary::errors and are left out of the library, which holds
  // the rest (the kernel tests, whose GPU suite has families that do not
  // compile for the GPU).
  bool keepGoing = false;
};

struct CompiledLibrary {
  std::string path;                        // the .so ("" when !link)
  std::vector<std::string> objectPaths;    // one object per distinct kernel
  std::string runtimeObject;               // the standalone Halide runtime
  std::string errorHandlerSource;          // C source of halide_error hook
  std::vector<std::string> functionNames;  // one per spec, same order
  std::vector<std::string> errors;         // one per spec, "" if compiled
  int kernelsCompiled = 0;                 // objects built by this call
  int kernelsCached = 0;                   // objects found in the cache
  bool libraryCached = false;              // the .so itself was found
  double seconds = 0;                      // wall time of this call
};

// Halide's view of a target string, as kiln-codegen-worker answers it (kiln's
// own process never loads libHalide). Asked once per target and process.
struct TargetInfo {
  std::string canonical;     // Halide's canonical string ("host" resolved)
  int vectorWidth = 0;       // floats in the natural vector (16 for AVX-512)
  bool gpu = false;          // the target names a GPU API
  std::string halideVersion; // "14.0.0"
  std::string host;          // the host target of this machine
};

// Throws Error for a target string Halide does not accept.
const TargetInfo &targetInfo(const std::string &target);

// Name of the exported function for a spec (without the _argv suffix).
std::string functionName(const KernelSpec &spec, const std::string &target);

// Compile (or fetch from the cache) every spec and link them into one shared
// library. Duplicate specs share one function. Throws Error naming the op of
// the first spec that does not validate, or every kernel that does not
// compile, unless options.keepGoing.
CompiledLibrary compileKernels(const std::vector<KernelSpec> &specs,
                               const CompileOptions &options);

// Checks specs without compiling them, in one worker process: one message
// per spec naming the op and the problem, "" for a valid spec.
std::vector<std::string> checkSpecs(const std::vector<KernelSpec> &specs,
                                    const std::string &target = "host");

// checkSpecs for one spec; throws Error with its message.
void validateSpec(const KernelSpec &spec, const std::string &target = "host");

// Floats in the target's natural vector (16 for AVX-512, 8 for AVX2): the
// block kiln-pack-weights packs conv2d weights by. Throws Error for a bad
// target string.
int floatVectorWidth(const std::string &target);

// "Halide 14.0.0, host target x86-64-linux-avx512..." for `kiln --version`.
std::string describeCodegen();

// The body of `kiln-codegen-worker JOB.json` (codegen/lib/WorkerProtocol.h):
// compiles one kernel object or the Halide runtime, or checks a target and
// specs, writing a failure's message to the job's error file. Every such
// job runs in a worker started with posix_spawn (fork + exec): Halide never
// runs in kiln's process, nor in a child forked from a multithreaded one.
// Defined in the worker's library (KilnKernels); returns the exit status.
int runWorkerJob(const std::string &jobPath);

} // namespace kiln::codegen

#endif // KILN_CODEGEN_CODEGEN_H
