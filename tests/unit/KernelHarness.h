// Runs single kernels end to end, the way a compiled model runs them:
// KernelSpec -> kiln::codegen::compileKernels -> a one-call plan.json ->
// kiln::runtime::Session. The kernel tests use it to check each op's kernel
// against the reference implementation.
//
// Compiling a Halide kernel takes ~0.3 s, so specs are batched: a test file
// registers every spec it will run up front (add), and the first run()
// compiles all registered specs in ONE compileKernels call (which compiles in
// parallel and links one library). Results live in the codegen cache, so a
// later process (ctest runs each test in its own) compiles nothing.
//
// Thread-compatibility: not thread-safe; gtest runs tests on one thread.
#ifndef KILN_TESTS_UNIT_KERNELHARNESS_H
#define KILN_TESTS_UNIT_KERNELHARNESS_H

#include "kiln/codegen/Codegen.h"
#include "kiln/codegen/KernelSpec.h"
#include "kiln/runtime/Runtime.h"

#include <map>
#include <string>
#include <vector>

namespace kiln::test {

// The codegen cache the tests use: $KILN_TEST_CACHE_DIR if set, else
// <build dir>/kernel-cache.
std::string testCacheDir();

class KernelBatch {
public:
  explicit KernelBatch(codegen::CompileOptions options);
  ~KernelBatch(); // removes the plan files it wrote
  KernelBatch(const KernelBatch &) = delete;
  KernelBatch &operator=(const KernelBatch &) = delete;

  // Registers a spec for the next batch compile. Duplicates are free.
  void add(const codegen::KernelSpec &spec);

  // Compiles every registered spec not compiled yet (and `spec` itself if it
  // was never registered), then runs `spec` on `inputs` (in spec order) and
  // returns its outputs (in spec order). Throws std::runtime_error if codegen
  // could not build the spec, and whatever the runtime throws
  // (kiln::runtime::Error) if loading or running the kernel fails.
  std::vector<runtime::Tensor> run(const codegen::KernelSpec &spec,
                                   const std::vector<runtime::Tensor> &inputs);

  // Compiles every registered spec not compiled yet; returns one message
  // ("<spec key>: <codegen error>") per spec codegen could not build.
  std::vector<std::string> compileRegistered();

  // Compiles `spec` (with every registered spec not compiled yet) and
  // returns codegen's message for it, "" when it built.
  std::string compileError(const codegen::KernelSpec &spec);

  // Kernels compiled (not found in the cache) by this batch so far.
  int kernelsCompiled() const { return kernelsCompiled_; }

private:
  struct Compiled {
    std::string library;  // .so path; empty if codegen failed
    std::string function; // exported name without _argv
    std::string error;    // codegen's message if it failed
  };

  void compilePending();
  std::string writePlan(const codegen::KernelSpec &spec,
                        const Compiled &compiled);

  codegen::CompileOptions options_;
  std::vector<codegen::KernelSpec> pending_;
  std::map<std::string, Compiled> compiled_; // by KernelSpec::key()
  std::string planDir_;
  int plansWritten_ = 0;
  int kernelsCompiled_ = 0;
};

// The options of the test batches: testCacheDir(), and $KILN_TEST_TARGET
// if set (else "host").
codegen::CompileOptions testCompileOptions();

// One batch per test process, compiling into testCacheDir().
KernelBatch &sharedKernelBatch();

// True when $KILN_TEST_TARGET names a target (the GPU suite).
bool testsGpuTarget();

// True when $KILN_TEST_TARGET names a GPU target and `e` says the kernel
// family has no GPU schedule yet (codegen refuses it): the GPU suite skips
// those cases, naming the family, rather than failing them.
bool lacksGpuSchedule(const std::exception &e);

} // namespace kiln::test

#endif // KILN_TESTS_UNIT_KERNELHARNESS_H
