// A compiled model's plan (docs/plan-format.md) as plain data: the kernel
// library, the buffers and the ordered kernel calls. The compiler hands it to
// the runtime in memory (compiler::CompiledModel::plan); plan.json, its JSON
// form, exists only on disk, in the cache.
#ifndef KILN_RUNTIME_PLAN_H
#define KILN_RUNTIME_PLAN_H

#include "kiln/runtime/Runtime.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiln::runtime {

enum class BufferKind { Input, Param, Const, Temp, View };

struct PlanBuffer {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  BufferKind kind = BufferKind::Temp;
  InitSpec init;          // Param
  int64_t alias = -1;     // View: the aliased buffer
  Tensor data;            // Const
  int64_t classes = 0;    // i32 Input: labels in [0, classes); 0 = unset
  bool signedIndices = false; // ... or gather indices in [-classes, classes)
  std::optional<int64_t> ignoreIndex; // ... or this label (nll_loss)
  int64_t offset = -1;    // Temp: byte offset in the arena; -1 = unplanned
  // "nchw16c": a [N, C, H, W] intermediate stored as `shape` = [N, C/16, H,
  // W, 16] (docs/layout.md); "" otherwise.
  std::string layout;
};

struct PlanOutput {
  std::string name;
  int buffer;
};

struct PlanCall {
  std::string kernel;
  std::string op;
  std::string label; // for reports; the op when the plan has none
  bool once = false;  // load-time call: only after the parameters change
  int64_t flops = 0;  // floating-point operations, for reports (0: unknown)
  std::vector<int> args; // the operands' buffers, then the results'
  int outputs = 1;       // how many of args, at the end, are results
  std::string loc;       // the op's location in the model ("" if unknown)
};

struct Plan {
  std::string path; // of the plan file, for messages
  std::string library; // the kernels' shared library; "" for kernel objects
  std::string target;
  std::vector<PlanBuffer> buffers;
  std::vector<int> inputs;
  std::vector<PlanOutput> outputs;
  std::vector<PlanCall> calls;
  int64_t arenaBytes = 0; // temps with an offset live in an arena this big
  // Optional safetensors file with parameter values that replace their
  // initializers (e.g. an imported ONNX model's weights); "" if none.
  std::string weights;
  // Facts about the compilation, for reports (absent fields read 0 / "").
  int64_t kernelCount = 0;    // distinct kernel functions in the library
  double compileSeconds = 0;  // wall time of the compilation that built it
  // A plan of kernel objects (compiler option link = false, for kiln
  // compile) has no library: the objects and the Halide runtime's instead.
  std::vector<std::string> objects;
  std::string runtimeObject;
};

// Reads and checks the plan: every field present and well typed, indices in
// range, every buffer's byte size within int64_t (CheckedSize.h), view chains
// acyclic with matching element counts and dtypes, temp offsets 64-byte
// aligned and inside "arena_bytes". A
// relative "library" is resolved against the plan's directory. Throws Error
// "<plan>: <field>: <problem>".
Plan readPlan(const std::string &path);
// The same checks on a plan already in memory as JSON; `path` is where it
// lives (or will live) on disk: messages name it, and relative "library"
// and "weights" paths are resolved against its directory.
Plan planFromJson(const nlohmann::json &root, const std::string &path);

// A plan shared by the code that runs it (the compiler's result, the
// trainer's plans): read once, never copied.
using PlanRef = std::shared_ptr<const Plan>;
PlanRef loadPlan(const std::string &path); // readPlan, shared

} // namespace kiln::runtime

#endif // KILN_RUNTIME_PLAN_H
