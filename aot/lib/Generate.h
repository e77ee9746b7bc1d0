// Internal to KilnAot: plans as the code generator sees them, their memory
// layout, the weights blob and the generated C text.
#ifndef KILN_AOT_LIB_GENERATE_H
#define KILN_AOT_LIB_GENERATE_H

#include "kiln/runtime/Plan.h"
#include "kiln/support/Align.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kiln::aot::detail {

using support::alignUp;
constexpr size_t kAlignment = support::kAlignment;

using Kind = runtime::BufferKind;

struct Buffer {
  std::string name;
  std::vector<int64_t> shape;
  bool i32 = false;
  Kind kind = Kind::Temp;
  int alias = -1;               // View
  int root = -1;                // the buffer owning the storage
  runtime::InitSpec init;       // Param
  runtime::Tensor data;         // Const
  int64_t classes = 0;          // i32 Input
  bool signedIndices = false;   // i32 Input: ids in [-classes, classes)
  std::optional<int64_t> ignoreIndex; // i32 Input: ... or this label
  std::optional<size_t> offset; // planned arena offset (memory planner)
  size_t bytes = 0;
};

struct Call {
  std::string kernel, op;
  std::vector<int> args;
  bool once = false; // load-time call (plan "once"): reads only parameters
};

struct Output {
  std::string name;
  int buffer = -1;
};

// Where a root buffer lives at run time. Derived: results of load-time
// calls, computed by N_open into model-owned memory (docs/aot.md).
enum class Place { Arena, Params, Weights, Derived };
struct Location {
  Place place = Place::Arena;
  size_t offset = 0;
};

// One plan -> one generated entry point.
struct Entry {
  std::string function; // C name of the internal plan function
  std::string planPath;
  // The plan's parameter values (plan "weights": an imported model's
  // initializers, safetensors), or empty.
  std::string weightsPath;
  std::vector<Buffer> buffers;
  std::vector<int> inputs;
  std::vector<Output> outputs;
  std::vector<Call> calls;
  std::optional<size_t> plannedArenaBytes;
  std::vector<std::string> objects;
  std::string runtimeObject;
  std::vector<Location> location; // per buffer (roots; views copy theirs)
  size_t arenaBytes = 0;
  size_t derivedBytes = 0; // Place::Derived storage (0: no load-time call)
};

// One plan (read and checked by the runtime's plan reader) as an entry
// point; checks what the generated C needs beyond that (rank <= 8, element
// counts a Halide buffer addresses). Throws kiln::aot::Error.
Entry makeEntry(const runtime::Plan &plan, const std::string &function);

// Arena layout of one entry: the planner's offsets where given, the rest
// sequentially after them; temps that load-time calls read or write go to
// the derived block instead. Every offset is a multiple of `alignment`
// (kAlignment; support::kDeviceAlignment for GPU targets).
void layoutArena(Entry &entry, size_t alignment = kAlignment);

// The parameters and constants of all entries, 64-byte aligned. Parameters
// of `stateEntry` (if any) come first, in plan order: that prefix is the
// training state, so N_state_init is one memcpy.
struct Blob {
  std::vector<uint8_t> bytes;
  size_t stateBytes = 0;
  std::map<std::string, size_t> paramOffset; // by parameter name
  struct StateTensor {
    int buffer;
    size_t offset;
  };
  std::vector<StateTensor> state; // stateEntry's parameters
  // Parameters that ParameterSource::loadPath lacks (sorted): they keep
  // their initializers or imported values.
  std::vector<std::string> absent;
};
struct ParameterSource {
  uint64_t seed = 0;
  std::string loadPath; // safetensors; empty: initializers only
};
Blob buildBlob(std::vector<Entry *> entries, Entry *stateEntry,
               const ParameterSource &source, size_t alignment = kAlignment);

struct GenerateOptions {
  std::string name, modelPath, target;
  bool embed = true;
  // "opencl" or "cuda" for a GPU target: the generated code keeps the
  // weights on the device and moves inputs, outputs and state (docs/aot.md).
  std::string deviceApi;
};
// N.h and N.c. `train` is null for an inference-only bundle.
std::string generateHeader(const GenerateOptions &options, const Entry &run,
                           const Entry *train, const Blob &blob);
std::string generateSource(const GenerateOptions &options, const Entry &run,
                           const Entry *train, const Blob &blob);

} // namespace kiln::aot::detail

#endif // KILN_AOT_LIB_GENERATE_H
