// kiln runtime: runs a compiled plan. Links neither MLIR, LLVM nor the Halide
// compiler: only the kernels' shared library (which carries its own Halide
// runtime) is loaded with dlopen.
//
// A plan is a JSON file (format in docs/plan-format.md) naming the kernel
// library, the buffers (inputs, outputs, parameters, constants, temporaries
// and views) and the ordered kernel calls.
//
// Thread-compatibility: a Session is not thread-safe; use one per thread.
// Sessions are movable, not copyable.
#ifndef KILN_RUNTIME_RUNTIME_H
#define KILN_RUNTIME_RUNTIME_H

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::runtime {

// Every runtime failure: message names the problem (file, buffer, shape).
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class DType { F32, I32 };
const char *dtypeName(DType dtype);
size_t dtypeSize(DType dtype);

// A dense host tensor, row-major, shape outermost first.
struct Tensor {
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  std::vector<uint8_t> bytes;

  Tensor() = default;
  Tensor(std::vector<int64_t> shape, DType dtype);
  int64_t numElements() const;
  float *f32();
  const float *f32() const;
  int32_t *i32();
  const int32_t *i32() const;
  std::string shapeString() const; // "1x3x28x28xf32"
};

// .npy files: reads f4/f8/i4/i8/u1 (little endian, C order), converting f8
// to f32 and i8/u1 to i32; writes f4/i4. Errors name the file.
Tensor readNpy(const std::string &path);
void writeNpy(const std::string &path, const Tensor &tensor);

// Deterministic random numbers, identical on every platform (kiln run and
// AOT binaries draw the same values): splitmix64 + Box-Muller.
class Random {
public:
  explicit Random(uint64_t seed);
  uint64_t next();
  float uniform(float low, float high); // [low, high)
  float normal(float mean, float stddev);

private:
  uint64_t state_;
};
uint64_t hashName(const std::string &name); // FNV-1a, for per-tensor seeds

// A tensor name made safe as a file name (`kiln run --output`): every
// character other than ASCII letters, digits, '-', '_' and '.' becomes '_',
// and a leading '.' does too (no hidden files, no ".."); "" becomes "_".
// ONNX's "gpu_0/softmax_1" is written as gpu_0_softmax_1.npy.
std::string fileNameFor(const std::string &tensorName);
// The files `--output DIR` writes (kiln run and AOT executables), one per
// output in order: fileNameFor(name) + ".npy", with -2, -3, ... before the
// extension where safe names collide.
std::vector<std::string> outputFileNames(const std::vector<std::string> &names);
// The input an `--input NAME=...` means: the one named NAME, else the one
// whose fileNameFor is NAME; -1 if none. Throws Error if NAME is the safe
// name of two inputs.
int findInput(const std::vector<std::string> &inputNames,
              const std::string &name);

// A parameter initializer (plan field `init`, table in docs/ops.md).
// fanIn/fanOut of 0 mean "derive from the shape" (PyTorch's convention;
// rank 1: both are shape[0], rank 0: both are 1).
struct InitSpec {
  std::string kind = "zeros";
  int64_t fanIn = 0;
  int64_t fanOut = 0;
};
bool isKnownInitializer(const std::string &kind);
// The values a Session gives parameter `name`: elements drawn in row-major
// order from Random(seed ^ hashName(name)). Random kinds need an f32 tensor.
Tensor initializeParameter(const std::string &name,
                           const std::vector<int64_t> &shape, DType dtype,
                           const InitSpec &init, uint64_t seed);

// A caller's dense, row-major tensor (e.g. a NumPy array) for setInput,
// without a Tensor in between: `bytes` must match the shape and dtype.
struct TensorView {
  const void *data = nullptr;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  size_t bytes = 0;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype;
};

// One kernel call of a plan and the wall time it took (Session::profile).
struct CallTime {
  std::string kernel;
  std::string label; // the op, or "fused epilogue: conv2d+batch_norm+relu"
  double seconds = 0;
  int64_t flops = 0; // floating-point operations (0: not counted)
  int64_t bytes = 0; // bytes of the call's inputs and outputs
  std::vector<int64_t> shape; // of the call's last output, as stored
  std::string layout;         // its PlanBuffer::layout
  int64_t startNs = 0; // when the call began, on the steady clock (LoopTrace)
};

// One parallel loop of a kernel, as kiln's thread pool ran it
// (startLoopTrace): when it was submitted and returned, its task count, and
// each thread's part. Thread 0 is the thread that submitted the loop; it
// takes tasks too. Times are steady-clock nanoseconds, as CallTime::startNs.
struct LoopTrace {
  struct Part {
    int thread = 0;
    int64_t beginNs = 0, endNs = 0; // its first task's start, last's end
    int tasks = 0;                  // how many of the loop's tasks it ran
  };
  int64_t submitNs = 0, endNs = 0;
  int size = 0;
  std::vector<Part> parts; // the threads that ran at least one task
};

// Records every parallel loop that kiln's thread pool runs from now on (in
// every session of the process), up to `maxLoops`; a loop nested in a task
// runs serially inside that task and is not a loop of its own. For `kiln
// bench --trace`: a timeline of where each thread worked and waited. Call
// it and stopLoopTrace while no kernel runs.
void startLoopTrace(size_t maxLoops);
// Stops recording; returns the loops recorded, in submission order.
std::vector<LoopTrace> stopLoopTrace();
// The threads kiln's pool runs a loop on, its caller included
// (HL_NUM_THREADS, else one per hardware thread).
int poolThreads();

struct Plan; // Plan.h

struct SessionOptions {
  uint64_t seed = 0; // parameter initialization and random inputs
  // After every kernel call, scan its f32 results: the first NaN or
  // infinity is an Error naming the op, its label and its location in the
  // model (as PyTorch's anomaly mode or TensorFlow's check_numerics). One
  // extra pass over each result: for debugging, not for speed.
  bool checkNumerics = false;
};

// Host <-> device copies a session of a GPU plan made (whole buffers);
// zero for CPU plans.
struct TransferCounts {
  size_t toDevice = 0;
  size_t toHost = 0;
};

// Whether `name` is optimizer state of parameter `param` in a training
// checkpoint (`<param>.<kind>.<slot>`, e.g. "fc1.weight.adam.m"): loading
// it into a plan without that slot (inference, or a fresh optimizer)
// skips it without a word.
bool isStateOf(const std::string &name, const std::string &param);

// What a caller of Session::loadParameters tells its user about the
// parameters `absent` from the file at `path` ("" when none): "PATH lacks
// 2 of the model's parameters, which keep their initial values: 'a', 'b'".
std::string absentParametersNote(const std::string &path,
                                 const std::vector<std::string> &absent);

class Session {
public:
  // Loads the plan and the kernel library; throws Error.
  static Session load(const std::string &planPath,
                      const SessionOptions &options = {});
  // The same with a plan already in memory (Plan.h), e.g. the one
  // compiler::compileModel returns.
  static Session load(Plan plan, const SessionOptions &options = {});
  Session(Session &&) noexcept;
  Session &operator=(Session &&) noexcept;
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;
  ~Session();

  const std::vector<TensorInfo> &inputs() const;
  const std::vector<TensorInfo> &outputs() const;
  const std::vector<TensorInfo> &parameters() const;

  // Allocates buffers and initializes parameters (from their init specs,
  // seeded with options.seed). Called once before run(); idempotent.
  void prepare();

  // Input binding: shape and dtype must match exactly (Error otherwise).
  void setInput(const std::string &name, const Tensor &value);
  void setInput(const std::string &name, const TensorView &value);
  // Zero-copy input: the following runs read input `name` straight from
  // the caller's memory (dense, row-major, aligned to its element size),
  // which must stay alive and unchanged while they run; kernels never
  // write into inputs. setInput, bindInput again or unbindInputs ends the
  // binding; unbindInputs also marks the unbound inputs as not set.
  void bindInput(const std::string &name, const TensorView &value);
  void unbindInputs();
  // Where the next run reads input `name`: the session's own storage, or
  // the memory bound by bindInput.
  const void *inputAddress(const std::string &name) const;
  // Fill every input not set with seeded random values: f32 ~ N(0,1);
  // i32 labels uniform in [0, classes) where classes is recorded in the plan
  // (else [0, 10)). Each input's stream is seeded with seed ^ hashName(name).
  void fillMissingInputs(uint64_t seed);

  void setParameter(const std::string &name, const Tensor &value);
  Tensor parameter(const std::string &name) const;

  // Parameters from/to a safetensors file (see Safetensors.h). Every tensor
  // in the file must name a parameter with the same shape and dtype, except
  // the optimizer state of a parameter (`<param>.<kind>.<slot>`, as in a
  // training checkpoint), which a plan without it skips; parameters absent
  // from the file keep their current values, and their names are returned
  // (sorted) so that a caller can say so: a file from another version of a
  // model may lack a parameter that the model's output depends on.
  std::vector<std::string> loadParameters(const std::string &path);
  void saveParameters(const std::string &path) const;
  // Transfer learning: loads every tensor of the file that names a
  // parameter of the same shape and dtype, leaves the other parameters as
  // they are, and returns what it skipped, one line each ("fc.weight: [10,
  // 512] in the file, [5, 512] here"; "aux.weight: not a parameter here").
  // Optimizer state (`<param>.<kind>.<slot>`) is never loaded: a new run
  // starts its optimizer afresh. Throws Error when nothing matches.
  std::vector<std::string> loadMatchingParameters(const std::string &path);
  // Draws parameter `name` again from its initializer (as prepare() did
  // with options.seed), e.g. to replace a loaded head.
  void reinitializeParameter(const std::string &name);

  // Runs every kernel call in order; throws Error naming the kernel if one
  // fails.
  void run();
  // run(), timing each kernel call with a steady clock; one entry per call,
  // in plan order.
  std::vector<CallTime> profile();
  Tensor output(const std::string &name) const;
  // Copies output `name` into the caller's `bytes` bytes at `data` (exactly
  // the output's size; Error otherwise).
  void copyOutput(const std::string &name, void *data, size_t bytes) const;

  // Bytes of all buffers the session allocated (0 before prepare()): the
  // persistent block (inputs, outputs, parameters, constants) plus the
  // arena unless the caller provides it.
  size_t allocatedBytes() const;
  // Copies between host and device so far (GPU plans: inputs go to the
  // device once per run, outputs and parameters come back when read).
  TransferCounts transfers() const;

  // The planned arena (docs/memory.md): every intermediate of a step lives
  // at a compile-time offset in one block of arenaBytes() bytes. By default
  // prepare() allocates it; setArena lends the session caller-owned memory
  // instead (64-byte aligned, at least arenaBytes(), alive and unused by
  // anyone else while the session runs). Intermediates do not survive
  // between runs, so the arena may be swapped at any time between runs;
  // throws Error on a misaligned or short block.
  size_t arenaBytes() const;
  void setArena(void *memory, size_t bytes);

private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace kiln::runtime

#endif // KILN_RUNTIME_RUNTIME_H
