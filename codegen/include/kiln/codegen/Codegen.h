// Codegen: KernelSpecs -> Halide pipelines -> object code -> one cached
// shared library.
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
};

struct CompiledLibrary {
  std::string path;                        // the .so ("" when !link)
  std::vector<std::string> objectPaths;    // one object per distinct kernel
  std::string runtimeObject;               // the standalone Halide runtime
  std::string errorHandlerSource;          // C source of halide_error hook
  std::vector<std::string> functionNames;  // one per spec, same order
  int kernelsCompiled = 0;                 // objects built by this call
  int kernelsCached = 0;                   // objects found in the cache
  bool libraryCached = false;              // the .so itself was found
  double seconds = 0;                      // wall time of this call
};

// Name of the exported function for a spec (without the _argv suffix).
std::string functionName(const KernelSpec &spec, const std::string &target);

// Compile (or fetch from the cache) every spec and link them into one shared
// library. Duplicate specs share one function.
CompiledLibrary compileKernels(const std::vector<KernelSpec> &specs,
                               const CompileOptions &options);

// Check a spec without compiling it (used by the compiler to report bad
// attributes early). Throws Error.
void validateSpec(const KernelSpec &spec);

// Floats in the target's natural vector (16 for AVX-512, 8 for AVX2): the
// block kiln-pack-weights packs conv2d weights by. Throws Error for a bad
// target string.
int floatVectorWidth(const std::string &target);

// "Halide 14.0.0, host target x86-64-linux-avx512..." for `kiln --version`.
std::string describeCodegen();

// The body of `kiln-codegen-worker JOB.json`: compiles one kernel object (or
// the Halide runtime) as the job file describes, writing a failure's message
// to the job's error file. compileKernels runs every compilation in such a
// worker, started with posix_spawn (fork + exec): Halide never runs in a
// child forked from a multithreaded process, where another thread may have
// held the allocator's lock at fork time. Returns the exit status.
int runWorkerJob(const std::string &jobPath);

} // namespace kiln::codegen

#endif // KILN_CODEGEN_CODEGEN_H
