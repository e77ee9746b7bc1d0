// Plan -> arena layout, weights blob and generated C (see Aot.h).
#include "Generate.h"

#include "kiln/aot/Aot.h"
#include "kiln/runtime/Runtime.h"
#include "kiln/runtime/Safetensors.h"
#include "kiln/support/Hash.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace kiln::aot::detail {

using nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string &plan, const std::string &problem) {
  throw Error(plan + ": " + problem);
}

std::string shapeText(const Buffer &buffer) {
  std::string text;
  for (int64_t dim : buffer.shape) {
    text += std::to_string(dim) + "x";
  }
  return text + (buffer.i32 ? "i32" : "f32");
}

const char *kindName(Kind kind) {
  switch (kind) {
  case Kind::Input:
    return "input";
  case Kind::Param:
    return "param";
  case Kind::Const:
    return "const";
  case Kind::Temp:
    return "temp";
  case Kind::View:
    return "view";
  }
  return "?";
}

// A C string literal (names may hold ':' '.' '/' or anything else).
std::string quote(const std::string &text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\%03o", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string upper(std::string text) {
  for (char &c : text) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return text;
}

} // namespace

Entry makeEntry(const runtime::Plan &plan, const std::string &function) {
  Entry entry;
  entry.function = function;
  entry.planPath = plan.path;
  entry.weightsPath = plan.weights;
  for (const runtime::PlanBuffer &planned : plan.buffers) {
    Buffer buffer;
    buffer.name = planned.name;
    buffer.shape = planned.shape;
    buffer.i32 = planned.dtype == runtime::DType::I32;
    buffer.kind = planned.kind;
    if (buffer.shape.size() > 8) {
      fail(plan.path, "buffer '" + buffer.name + "' has rank > 8");
    }
    int64_t count = 1;
    for (int64_t dim : buffer.shape) {
      count *= dim; // the plan reader bounded the byte size
    }
    if (count > INT32_MAX) {
      fail(plan.path, "buffer '" + buffer.name +
                          "' has more elements than a Halide buffer addresses");
    }
    buffer.bytes = static_cast<size_t>(count) * 4;
    buffer.alias = static_cast<int>(planned.alias);
    buffer.init = planned.init;
    buffer.data = planned.data;
    buffer.classes = planned.classes;
    buffer.signedIndices = planned.signedIndices;
    buffer.ignoreIndex = planned.ignoreIndex;
    if (planned.offset >= 0) {
      buffer.offset = static_cast<size_t>(planned.offset);
    }
    entry.buffers.push_back(std::move(buffer));
  }
  entry.inputs = plan.inputs;
  for (const runtime::PlanOutput &output : plan.outputs) {
    entry.outputs.push_back({output.name, output.buffer});
  }
  for (const runtime::PlanCall &call : plan.calls) {
    entry.calls.push_back({call.kernel, call.op, call.args, call.once});
  }
  if (plan.arenaBytes > 0) {
    entry.plannedArenaBytes = static_cast<size_t>(plan.arenaBytes);
  }
  entry.objects = plan.objects;
  entry.runtimeObject = plan.runtimeObject;
  // The plan reader checked the views (in range, acyclic).
  for (size_t b = 0; b < entry.buffers.size(); ++b) {
    int r = static_cast<int>(b);
    while (entry.buffers[r].kind == Kind::View) {
      r = entry.buffers[r].alias;
    }
    entry.buffers[b].root = r;
  }
  return entry;
}

void layoutArena(Entry &entry, size_t alignment) {
  entry.location.assign(entry.buffers.size(), Location{});
  size_t planned = entry.plannedArenaBytes.value_or(0);
  size_t next = alignUp(planned, alignment);
  std::set<int> derived; // temps of load-time calls
  for (const Call &call : entry.calls) {
    if (call.once) {
      for (int b : call.args) {
        int root = entry.buffers[b].root;
        if (entry.buffers[root].kind == Kind::Temp) {
          derived.insert(root);
        }
      }
    }
  }
  for (int b : derived) {
    entry.location[b] = {Place::Derived, entry.derivedBytes};
    entry.derivedBytes += alignUp(entry.buffers[b].bytes, alignment);
  }
  for (size_t b = 0; b < entry.buffers.size(); ++b) {
    const Buffer &buffer = entry.buffers[b];
    if (buffer.root != static_cast<int>(b) ||
        (buffer.kind != Kind::Temp && buffer.kind != Kind::Input) ||
        derived.count(static_cast<int>(b))) {
      continue;
    }
    if (entry.plannedArenaBytes && buffer.offset) {
      if (*buffer.offset % alignment != 0 ||
          *buffer.offset + buffer.bytes > planned) {
        fail(entry.planPath, "buffer '" + buffer.name + "': planned offset " +
                                 std::to_string(*buffer.offset) +
                                 " is misaligned or outside arena_bytes");
      }
      entry.location[b] = {Place::Arena, *buffer.offset};
    } else {
      entry.location[b] = {Place::Arena, next};
      next += alignUp(buffer.bytes, alignment);
    }
  }
  // Never 0: a caller-allocated arena of 0 bytes has no valid pointer.
  entry.arenaBytes = std::max(next, alignment);
}

Blob buildBlob(std::vector<Entry *> entries, Entry *stateEntry,
               const ParameterSource &source, size_t alignment) {
  Blob blob;
  size_t cursor = 0;
  struct Param {
    size_t offset;
    const Buffer *buffer;
  };
  std::map<std::string, Param> params;
  std::vector<std::pair<size_t, const Buffer *>> consts;
  auto addParam = [&](Entry &entry, int b) {
    const Buffer &buffer = entry.buffers[b];
    auto it = params.find(buffer.name);
    if (it == params.end()) {
      it = params.emplace(buffer.name, Param{cursor, &buffer}).first;
      cursor += alignUp(buffer.bytes, alignment);
    } else if (it->second.buffer->shape != buffer.shape ||
               it->second.buffer->i32 != buffer.i32) {
      fail(entry.planPath, "parameter '" + buffer.name + "' is " +
                               shapeText(buffer) + " here but " +
                               shapeText(*it->second.buffer) +
                               " in the training plan");
    }
    return it->second.offset;
  };
  if (stateEntry) {
    for (size_t b = 0; b < stateEntry->buffers.size(); ++b) {
      if (stateEntry->buffers[b].kind == Kind::Param) {
        size_t offset = addParam(*stateEntry, static_cast<int>(b));
        blob.state.push_back({static_cast<int>(b), offset});
      }
    }
    blob.stateBytes = std::max(cursor, alignment);
    cursor = blob.stateBytes;
  }
  for (Entry *entry : entries) {
    for (size_t b = 0; b < entry->buffers.size(); ++b) {
      const Buffer &buffer = entry->buffers[b];
      if (buffer.kind == Kind::Param) {
        entry->location[b] = {Place::Params,
                              addParam(*entry, static_cast<int>(b))};
      } else if (buffer.kind == Kind::Const) {
        entry->location[b] = {Place::Weights, cursor};
        consts.push_back({cursor, &buffer});
        cursor += alignUp(buffer.bytes, alignment);
      }
    }
  }
  blob.bytes.assign(cursor, 0);

  // Values: exactly what a kiln::runtime::Session seeded alike holds.
  std::map<std::string, runtime::Tensor> loaded;
  if (!source.loadPath.empty()) {
    loaded = runtime::readSafetensors(source.loadPath);
    // A training checkpoint's optimizer state of a parameter that this
    // bundle has no slot for is skipped, as `kiln run --weights` skips it.
    for (auto it = loaded.begin(); it != loaded.end();) {
      bool state = false;
      if (!params.count(it->first)) {
        for (const auto &[param, entry] : params) {
          (void)entry;
          state = state || runtime::isStateOf(it->first, param);
        }
      }
      it = state ? loaded.erase(it) : std::next(it);
    }
    for (const auto &[name, tensor] : loaded) {
      auto it = params.find(name);
      if (it == params.end()) {
        std::string valid;
        for (const auto &[param, _] : params) {
          valid += (valid.empty() ? "'" : ", '") + param + "'";
        }
        throw Error(source.loadPath + ": tensor '" + name +
                    "' is not a parameter of the model (valid: " +
                    (valid.empty() ? "none" : valid) + ")");
      }
      const Buffer &buffer = *it->second.buffer;
      if (tensor.shape != buffer.shape ||
          (tensor.dtype == runtime::DType::I32) != buffer.i32) {
        throw Error(source.loadPath + ": parameter '" + name + "': expected " +
                    shapeText(buffer) + ", got " + tensor.shapeString());
      }
    }
    for (const auto &[name, param] : params) {
      if (!loaded.count(name)) {
        blob.absent.push_back(name);
      }
    }
  }
  // An imported model's own values (the plans' weights files), as a
  // Session loads them over the initializers; --load overrides both.
  std::map<std::string, runtime::Tensor> imported;
  std::set<std::string> importedFiles;
  for (Entry *entry : entries) {
    if (entry->weightsPath.empty() ||
        !importedFiles.insert(entry->weightsPath).second) {
      continue;
    }
    for (auto &[name, tensor] : runtime::readSafetensors(entry->weightsPath)) {
      auto it = params.find(name);
      if (it == params.end()) {
        continue; // the compiler dropped an unused parameter
      }
      const Buffer &buffer = *it->second.buffer;
      if (tensor.shape != buffer.shape ||
          (tensor.dtype == runtime::DType::I32) != buffer.i32) {
        throw Error(entry->weightsPath + ": parameter '" + name +
                    "': expected " + shapeText(buffer) + ", got " +
                    tensor.shapeString());
      }
      imported[name] = std::move(tensor);
    }
  }
  for (const auto &[name, param] : params) {
    const Buffer &buffer = *param.buffer;
    runtime::Tensor value;
    if (auto it = loaded.find(name); it != loaded.end()) {
      value = it->second;
    } else if (auto at = imported.find(name); at != imported.end()) {
      value = at->second;
    } else {
      value = runtime::initializeParameter(name, buffer.shape,
                                           buffer.i32 ? runtime::DType::I32
                                                      : runtime::DType::F32,
                                           buffer.init, source.seed);
    }
    std::memcpy(blob.bytes.data() + param.offset, value.bytes.data(),
                buffer.bytes);
    blob.paramOffset[name] = param.offset;
  }
  for (const auto &[offset, buffer] : consts) {
    std::memcpy(blob.bytes.data() + offset, buffer->data.bytes.data(),
                buffer->data.bytes.size());
  }
  return blob;
}

namespace {

std::string tensorInitializer(const Buffer &buffer, const std::string &name,
                              size_t offset) {
  std::ostringstream out;
  out << "{" << quote(name) << ", "
      << (buffer.i32 ? "KILN_AOT_I32" : "KILN_AOT_F32") << ", "
      << buffer.shape.size() << ", {";
  for (size_t d = 0; d < buffer.shape.size(); ++d) {
    out << (d ? ", " : "") << buffer.shape[d];
  }
  if (buffer.shape.empty()) {
    out << "0";
  }
  out << "}, " << buffer.bytes << "u, " << buffer.classes << ", " << offset
      << "u}";
  return out.str();
}

struct TensorTable {
  std::string symbol; // e.g. mlp_inputs
  std::vector<std::string> rows;
};

// "{..}, {..}" or one all-zero row: C has no empty arrays.
std::string tableBody(const std::vector<std::string> &rows) {
  if (rows.empty()) {
    return "    {0, 0, 0, {0}, 0, 0, 0}\n";
  }
  std::string text;
  for (const std::string &row : rows) {
    text += "    " + row + ",\n";
  }
  return text;
}

std::vector<std::string> inputRows(const Entry &entry) {
  std::vector<std::string> rows;
  for (int b : entry.inputs) {
    rows.push_back(
        tensorInitializer(entry.buffers[b], entry.buffers[b].name, 0));
  }
  return rows;
}

std::vector<std::string> outputRows(const Entry &entry) {
  std::vector<std::string> rows;
  for (const Output &output : entry.outputs) {
    rows.push_back(
        tensorInitializer(entry.buffers[output.buffer], output.name, 0));
  }
  return rows;
}

// `#define N_INPUT_IMAGE 0` lines; names that collide once made identifiers
// get their index appended.
std::string indexMacros(const std::string &prefix,
                        const std::vector<std::string> &names,
                        const std::string &what) {
  std::set<std::string> seen;
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string macro = prefix + upper(cIdentifier(names[i]));
    if (!seen.insert(macro).second) {
      macro += "_" + std::to_string(i);
    }
    text += "#define " + macro + " " + std::to_string(i) + " /* " + what +
            " '" + names[i] + "' */\n";
  }
  return text;
}

std::string signatureComment(const Entry &entry) {
  std::string text = " *   inputs:";
  for (int b : entry.inputs) {
    text +=
        " " + entry.buffers[b].name + " " + shapeText(entry.buffers[b]) + ";";
  }
  text += "\n *   outputs:";
  for (const Output &output : entry.outputs) {
    text +=
        " " + output.name + " " + shapeText(entry.buffers[output.buffer]) + ";";
  }
  return text + "\n";
}

// kCommonHeaderText: include/kiln/aot/kiln_aot.h, pasted into every N.h.
#include "kiln_aot_common.inc"

} // namespace

std::string generateHeader(const GenerateOptions &options, const Entry &run,
                           const Entry *train, const Blob &blob) {
  const std::string &n = options.name;
  std::string guard = upper(n) + "_KILN_AOT_H";
  std::string N = upper(n);
  std::ostringstream h;
  h << "/* " << n << ".h: generated by `kiln compile` from "
    << options.modelPath << ".\n * Target: " << options.target
    << " (the kernels in lib" << n << ".a run only there).\n"
    << " * Weights: "
    << (options.embed ? "embedded in lib" + n + ".a"
                      : n + ".weights, read by " + n + "_open")
    << ". Do not edit; see docs/aot.md.\n *\n"
    << " * " << n << "_run (inference):\n"
    << signatureComment(run);
  if (train) {
    h << " * " << n << "_train_step:\n" << signatureComment(*train);
  }
  h << " */\n#ifndef " << guard << "\n#define " << guard << "\n\n"
    << kCommonHeaderText << "\n"
    << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";

  h << "#define " << N << "_TARGET " << quote(options.target) << "\n"
    << "/* Bytes of scratch memory one concurrent call needs (64-byte "
       "aligned). */\n"
    << "#define " << N << "_ARENA_BYTES " << run.arenaBytes << "u\n"
    << "#define " << N << "_WEIGHTS_BYTES " << blob.bytes.size() << "u\n"
    << "#define " << N << "_NUM_INPUTS " << run.inputs.size() << "\n"
    << "#define " << N << "_NUM_OUTPUTS " << run.outputs.size() << "\n";
  std::vector<std::string> names;
  for (int b : run.inputs) {
    names.push_back(run.buffers[b].name);
  }
  h << indexMacros(N + "_INPUT_", names, "input");
  names.clear();
  for (const Output &output : run.outputs) {
    names.push_back(output.name);
  }
  h << indexMacros(N + "_OUTPUT_", names, "output");
  h << "\nextern const kiln_aot_tensor " << n << "_inputs[];\n"
    << "extern const kiln_aot_tensor " << n << "_outputs[];\n"
    << "extern const kiln_aot_library " << n << "_library;\n\n"
    << "typedef struct " << n << "_model " << n << "_model;\n\n"
    << "/* Loads the model: the embedded weights (weights_path is ignored), "
       "or\n"
    << " * with --weights file the file at weights_path (checked: size and\n"
    << " * checksum). Also routes Halide errors to " << n << "_error_message.\n"
    << " * Returns 0 or a kiln_aot_status. */\n"
    << "int " << n << "_open(" << n
    << "_model **model, const char *weights_path);\n"
    << "void " << n << "_close(" << n << "_model *model);\n\n"
    << "/* The message of the last failure on the calling thread. */\n"
    << "const char *" << n << "_error_message(void);\n\n"
    << "/* One inference. inputs[i] / outputs[i] point to dense row-major\n"
    << " * tensors as described by " << n << "_inputs / " << n
    << "_outputs (an\n"
    << " * output pointer may be NULL: not copied). arena: " << N
    << "_ARENA_BYTES\n"
    << " * bytes aligned to 64, or NULL to have the call allocate and free "
       "it.\n"
    << " * Thread-safe: concurrent calls on one model need separate arenas. "
       "*/\n"
    << "int " << n << "_run(const " << n
    << "_model *model, const void *const inputs[],\n"
    << "    void *const outputs[], void *arena);\n";
  if (train) {
    h << "\n/* Training (--train): the parameters, BatchNorm statistics and\n"
      << " * optimizer slots live in a caller-owned state block of " << N
      << "_STATE_BYTES\n"
      << " * (64-byte aligned) that " << n
      << "_state_init fills from the weights. */\n"
      << "#define " << N << "_STATE_BYTES " << blob.stateBytes << "u\n"
      << "#define " << N << "_NUM_STATE_TENSORS " << blob.state.size() << "\n"
      << "#define " << N << "_TRAIN_ARENA_BYTES " << train->arenaBytes << "u\n"
      << "#define " << N << "_TRAIN_NUM_INPUTS " << train->inputs.size() << "\n"
      << "#define " << N << "_TRAIN_NUM_OUTPUTS " << train->outputs.size()
      << "\n";
    names.clear();
    for (int b : train->inputs) {
      names.push_back(train->buffers[b].name);
    }
    h << indexMacros(N + "_TRAIN_INPUT_", names, "train_step input");
    names.clear();
    for (const Output &output : train->outputs) {
      names.push_back(output.name);
    }
    h << indexMacros(N + "_TRAIN_OUTPUT_", names, "train_step output");
    h << "extern const kiln_aot_tensor " << n << "_train_inputs[];\n"
      << "extern const kiln_aot_tensor " << n << "_train_outputs[];\n"
      << "/* Every tensor of the state; .offset is its place in the block. */\n"
      << "extern const kiln_aot_tensor " << n << "_state_tensors[];\n\n"
      << "int " << n << "_state_init(const " << n
      << "_model *model, void *state);\n"
      << "/* One optimizer step: updates state in place. One state must not "
         "be\n"
      << " * used by two calls at once; separate states are independent. */\n"
      << "int " << n << "_train_step(const " << n
      << "_model *model, void *state,\n"
      << "    const void *const inputs[], void *const outputs[], void "
         "*arena);\n"
      << "/* " << n << "_run with the parameters held in state. */\n"
      << "int " << n << "_run_state(const " << n
      << "_model *model, const void *state,\n"
      << "    const void *const inputs[], void *const outputs[], void "
         "*arena);\n";
  }
  h << "\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << guard << " */\n";
  return h.str();
}

namespace {

// The internal plan function of one entry: a halide_buffer_t table, then
// straight-line code. `gpu`: every root buffer is also a crop of a device
// block (arena, parameters or state, weights, derived), inputs go up and
// outputs come down once per call; `stateBytes` sizes a state block.
std::string planFunction(const std::string &n, const Entry &entry, bool gpu,
                         size_t stateBytes) {
  std::string p = n + "_plan_" + entry.function;
  std::ostringstream c;
  c << "/* " << entry.function << ": " << entry.calls.size()
    << " kernel calls, " << entry.buffers.size() << " buffers, arena "
    << entry.arenaBytes << " bytes. */\n";
  c << "static const halide_dimension_t " << p << "_dims[] = {\n";
  std::vector<size_t> dimStart;
  size_t dims = 0;
  for (const Buffer &buffer : entry.buffers) {
    dimStart.push_back(dims);
    // Halide order: innermost first, dense strides.
    int64_t stride = 1;
    for (size_t d = buffer.shape.size(); d-- > 0;) {
      c << "    {0, " << buffer.shape[d] << ", " << stride << ", 0},\n";
      stride *= buffer.shape[d];
      ++dims;
    }
  }
  c << "    {0, 0, 0, 0} /* end */\n};\n";
  c << "static const halide_buffer_t " << p << "_buffers["
    << entry.buffers.size() << "] = {\n";
  for (size_t b = 0; b < entry.buffers.size(); ++b) {
    const Buffer &buffer = entry.buffers[b];
    c << "    /* " << b << " " << buffer.name << ": " << shapeText(buffer)
      << " " << kindName(buffer.kind) << " */\n"
      << "    {0, NULL, NULL, 0, {"
      << (buffer.i32 ? "halide_type_int" : "halide_type_float") << ", 32, 1}, "
      << buffer.shape.size() << ", "
      << (buffer.shape.empty() ? std::string("NULL")
                               : "(halide_dimension_t *)&" + p + "_dims[" +
                                     std::to_string(dimStart[b]) + "]")
      << ", NULL},\n";
  }
  c << "};\n";
  c << "static const char *const " << p << "_call_names[] = {\n";
  for (size_t i = 0; i < entry.calls.size(); ++i) {
    c << "    "
      << quote("op '" + entry.calls[i].op + "', kernel '" +
               entry.calls[i].kernel + "'")
      << ",\n";
  }
  c << "    NULL\n};\n\n";

  // The root buffers, in order; on a GPU each has a crop.
  std::vector<int> roots;
  std::map<int, size_t> cropOf;
  for (size_t b = 0; b < entry.buffers.size(); ++b) {
    if (entry.buffers[b].root == static_cast<int>(b)) {
      cropOf[static_cast<int>(b)] = roots.size();
      roots.push_back(static_cast<int>(b));
    }
  }
  auto place = [&](int b) { return entry.location[entry.buffers[b].root].place; };

  // mode: KILN_PLAN_RUN (the per-run calls, inputs and outputs),
  // KILN_PLAN_LOAD_TIME (the load-time calls, into `derived`), or both;
  // on a GPU also KILN_PLAN_STATE (params is a caller's state block: it
  // goes up) and KILN_PLAN_STATE_OUT (and comes back after the calls).
  c << "static int " << p << "_calls(const " << n
    << "_model *model, const uint8_t *weights,\n"
    << "    uint8_t *params, const void *const *inputs, void *const *outputs,\n"
    << "    uint8_t *arena, uint8_t *derived, int mode) {\n"
    << "  halide_buffer_t b[" << entry.buffers.size() << "];\n"
    << "  int status = 0;\n"
    << "  (void)model;\n  (void)weights;\n  (void)params;\n"
    << "  (void)derived;\n  (void)mode;\n";
  if (gpu) {
    c << "  " << n << "_block dev_arena, dev_state, dev_scratch, crop["
      << std::max<size_t>(roots.size(), 1) << "];\n"
      << "  const " << n << "_block *dev_params = &model->dev_weights;\n"
      << "  const " << n << "_block *dev_derived = &model->dev_derived;\n"
      << "  memset(&dev_arena, 0, sizeof dev_arena);\n"
      << "  memset(&dev_state, 0, sizeof dev_state);\n"
      << "  memset(&dev_scratch, 0, sizeof dev_scratch);\n"
      << "  memset(crop, 0, sizeof crop);\n";
  }
  c << "  memcpy(b, " << p << "_buffers, sizeof b);\n";
  for (int b : roots) {
    const Location &at = entry.location[b];
    const char *base = at.place == Place::Arena     ? "arena"
                       : at.place == Place::Params  ? "params"
                       : at.place == Place::Derived ? "derived"
                                                    : "(uint8_t *)weights";
    c << "  b[" << b << "].host = " << base << " + " << at.offset << ";\n";
  }
  for (size_t b = 0; b < entry.buffers.size(); ++b) {
    if (entry.buffers[b].root != static_cast<int>(b)) {
      c << "  b[" << b << "].host = b[" << entry.buffers[b].root
        << "].host; /* view */\n";
    }
  }
  if (gpu) {
    // The blocks of this call, then every root a crop of its block.
    c << "  if ((status = " << n << "_block_alloc(&dev_arena, arena, "
      << entry.arenaBytes << "u, \"the arena\")) != 0) {\n    goto done;\n  }\n"
      << "  if (mode & KILN_PLAN_STATE) {\n"
      << "    if ((status = " << n << "_block_alloc(&dev_state, params, "
      << stateBytes << "u, \"the state\")) != 0 ||\n"
      << "        (status = " << n
      << "_block_copy(&dev_state, params, 1, \"the state\")) != 0) {\n"
      << "      goto done;\n    }\n"
      << "    dev_params = &dev_state;\n  }\n";
    if (entry.derivedBytes) {
      c << "  if (derived != model->derived) {\n"
        << "    if ((status = " << n << "_block_alloc(&dev_scratch, derived, "
        << entry.derivedBytes
        << "u, \"the load-time results\")) != 0) {\n      goto done;\n    }\n"
        << "    dev_derived = &dev_scratch;\n  }\n";
    }
    for (int b : roots) {
      const Location &at = entry.location[b];
      const char *parent = at.place == Place::Arena     ? "&dev_arena"
                           : at.place == Place::Params  ? "dev_params"
                           : at.place == Place::Derived ? "dev_derived"
                                                        : "&model->dev_weights";
      size_t k = cropOf[b];
      c << "  if ((status = " << n << "_block_crop(" << parent << ", &crop["
        << k << "], b[" << b << "].host, " << at.offset << "u, "
        << std::max<size_t>(entry.buffers[b].bytes, 1) << "u, "
        << quote(entry.buffers[b].name) << ")) != 0) {\n    goto done;\n  }\n";
    }
    for (size_t b = 0; b < entry.buffers.size(); ++b) {
      size_t k = cropOf[entry.buffers[b].root];
      c << "  b[" << b << "].device = crop[" << k << "].buf.device;\n"
        << "  b[" << b << "].device_interface = crop[" << k
        << "].buf.device_interface;\n";
    }
  }
  // The load-time calls first (when asked for), then the per-run ones.
  auto emitCalls = [&](bool once, const std::string &condition) {
    for (size_t i = 0; i < entry.calls.size(); ++i) {
      const Call &call = entry.calls[i];
      if (call.once != once) {
        continue;
      }
      c << "  if (" << condition << "(status = " << call.kernel << "(";
      for (size_t a = 0; a < call.args.size(); ++a) {
        c << (a ? ", " : "") << "&b[" << call.args[a] << "]";
      }
      c << ")) != 0) {\n    status = " << n << "_kernel_failed(status, " << i
        << ", " << p << "_call_names[" << i << "]);\n    goto done;\n  }\n";
    }
  };
  emitCalls(true, "(mode & KILN_PLAN_LOAD_TIME) && ");
  c << "  if (!(mode & KILN_PLAN_RUN)) {\n    goto done;\n  }\n";
  for (size_t i = 0; i < entry.inputs.size(); ++i) {
    int b = entry.inputs[i];
    const Buffer &buffer = entry.buffers[b];
    if (!gpu) {
      c << "  memcpy(b[" << b << "].host, inputs[" << i << "], "
        << buffer.bytes << ");\n";
      continue;
    }
    if (buffer.i32 && buffer.classes > 0) {
      // Device code cannot fail on a label outside the classes: checked
      // here, as a CPU kernel checks it.
      int64_t low = buffer.signedIndices ? -buffer.classes : 0;
      c << "  if ((status = " << n << "_check_ids(inputs[" << i << "], "
        << buffer.bytes / 4 << "u, " << low << ", " << buffer.classes << ", "
        << (buffer.ignoreIndex ? 1 : 0) << ", "
        << buffer.ignoreIndex.value_or(0) << ", " << quote(buffer.name)
        << ", " << (buffer.signedIndices ? 1 : 0)
        << ")) != 0) {\n    goto done;\n  }\n";
    }
    c << "  if ((status = " << n << "_block_copy(&crop[" << cropOf[buffer.root]
      << "], inputs[" << i << "], 1, " << quote(buffer.name)
      << ")) != 0) {\n    goto done;\n  }\n";
  }
  emitCalls(false, "");
  if (gpu) {
    c << "  if ((mode & KILN_PLAN_STATE_OUT) &&\n"
      << "      (status = " << n
      << "_block_copy(&dev_state, params, 0, \"the state\")) != 0) {\n"
      << "    goto done;\n  }\n";
  }
  for (size_t i = 0; i < entry.outputs.size(); ++i) {
    int b = entry.outputs[i].buffer;
    int r = entry.buffers[b].root;
    c << "  if (outputs[" << i << "]) {\n";
    if (gpu && (place(b) == Place::Arena || place(b) == Place::Derived)) {
      // The host copies of parameters and weights are current.
      c << "    if ((status = " << n << "_block_copy(&crop[" << cropOf[r]
        << "], b[" << r << "].host, 0, " << quote(entry.outputs[i].name)
        << ")) != 0) {\n      goto done;\n    }\n";
    }
    c << "    memcpy(outputs[" << i << "], b[" << b << "].host, "
      << entry.buffers[b].bytes << ");\n  }\n";
  }
  c << "done:\n";
  if (gpu) {
    c << "  for (int i = " << std::max<size_t>(roots.size(), 1)
      << "; i-- > 0;) {\n    " << n << "_block_release(&crop[i]);\n  }\n"
      << "  " << n << "_block_free(&dev_scratch);\n"
      << "  " << n << "_block_free(&dev_state);\n"
      << "  " << n << "_block_free(&dev_arena);\n";
  }
  c << "  return status;\n}\n\n";
  // The calls run with denormal floats flushed to zero, as in the runtime
  // (kiln/support/Denormals.h); the caller's mode is restored.
  c << "static int " << p << "(const " << n
    << "_model *model, const uint8_t *weights,\n"
    << "    uint8_t *params, const void *const *inputs, void *const *outputs,\n"
    << "    uint8_t *arena, uint8_t *derived, int mode) {\n"
    << "  int status;\n"
    << "#if KILN_AOT_HAVE_MXCSR\n"
    << "  unsigned int csr = _mm_getcsr();\n"
    << "  _mm_setcsr(csr | 0x8040u); /* flush to zero, denormals are zero */\n"
    << "#endif\n"
    << "  status = " << p
    << "_calls(model, weights, params, inputs, outputs, arena, derived, "
       "mode);\n"
    << "#if KILN_AOT_HAVE_MXCSR\n"
    << "  _mm_setcsr(csr);\n"
    << "#endif\n"
    << "  return status;\n}\n\n";
  return c.str();
}

// How an entry point treats the parameters: the model's weights, or a
// caller's state block that it reads (N_run_state) or also updates
// (N_train_step). On a GPU a state block goes up per call (and comes back).
enum class State { None, Read, Update };

// How an entry point treats the load-time calls of its plan.
enum class LoadTime {
  None,       // the plan has none (training step)
  FromModel,  // N_open computed them into model->derived (N_run)
  EveryCall,  // parameters change between calls (N_run_state): recompute
};

// Checks and arena handling shared by every public entry point.
std::string entryFunction(const std::string &n, const std::string &signature,
                          const std::string &entry,
                          const std::string &numInputs,
                          const std::string &arenaBytes,
                          const std::string &params, State state,
                          LoadTime loadTime, size_t derivedBytes) {
  bool needsState = state != State::None;
  std::ostringstream c;
  c << signature << " {\n"
    << "  uint8_t *owned = NULL;\n  int status;\n  int i;\n"
    << "  if (!model || !inputs || !outputs" << (needsState ? " || !state" : "")
    << ") {\n    return " << n
    << "_fail(KILN_AOT_ERROR_ARGUMENT, \"NULL model, inputs, outputs"
    << (needsState ? " or state" : "") << "\");\n  }\n";
  if (needsState) {
    c << "  if ((uintptr_t)state % KILN_AOT_ALIGNMENT != 0) {\n    return " << n
      << "_fail(KILN_AOT_ERROR_ARGUMENT, \"state is not 64-byte aligned\");\n  "
         "}\n";
  }
  c << "  for (i = 0; i < " << numInputs << "; ++i) {\n"
    << "    if (!inputs[i]) {\n      return " << n
    << "_fail(KILN_AOT_ERROR_ARGUMENT, \"input %d is NULL\", i);\n    }\n  }\n"
    << "  if (!arena) {\n"
    << "    owned = (uint8_t *)aligned_alloc(KILN_AOT_ALIGNMENT, " << arenaBytes
    << ");\n    if (!owned) {\n      return " << n
    << "_fail(KILN_AOT_ERROR_MEMORY, \"cannot allocate %zu arena bytes\", "
       "(size_t)"
    << arenaBytes << ");\n    }\n    arena = owned;\n"
    << "  } else if ((uintptr_t)arena % KILN_AOT_ALIGNMENT != 0) {\n    return "
    << n
    << "_fail(KILN_AOT_ERROR_ARGUMENT, \"arena is not 64-byte aligned\");\n  "
       "}\n";
  std::string derived = "NULL", mode = "KILN_PLAN_RUN";
  if (loadTime == LoadTime::FromModel) {
    derived = "model->derived";
  } else if (loadTime == LoadTime::EveryCall && derivedBytes) {
    c << "  uint8_t *derived = (uint8_t *)aligned_alloc(KILN_AOT_ALIGNMENT, "
      << derivedBytes << ");\n"
      << "  if (!derived) {\n    free(owned);\n    return " << n
      << "_fail(KILN_AOT_ERROR_MEMORY, \"cannot allocate %zu bytes\", "
         "(size_t)"
      << derivedBytes << ");\n  }\n";
    derived = "derived";
    mode = "KILN_PLAN_RUN | KILN_PLAN_LOAD_TIME";
  }
  if (state != State::None) {
    mode += " | KILN_PLAN_STATE";
  }
  if (state == State::Update) {
    mode += " | KILN_PLAN_STATE_OUT";
  }
  c << "  status = " << n << "_plan_" << entry << "(model, model->weights, "
    << params << ", inputs, outputs, (uint8_t *)arena, " << derived << ", "
    << mode << ");\n";
  if (derived == "derived") {
    c << "  free(derived);\n";
  }
  c << "  free(owned);\n  return status;\n}\n\n";
  return c.str();
}

} // namespace

namespace {

// The device memory helpers of a GPU bundle (docs/aot.md): a block is a
// 1-D byte buffer with a device allocation; a tensor is a crop of one, at
// its offset, that its kernels' buffers share.
std::string deviceHelpers(const std::string &n, const std::string &api) {
  bool cl = api == "opencl";
  std::string device = cl ? "an OpenCL device" : "a CUDA device";
  std::string driver = cl ? "an OpenCL platform (libOpenCL.so and an ICD)"
                          : "the NVIDIA driver (libcuda.so)";
  std::ostringstream c;
  c << "extern const struct halide_device_interface_t *halide_" << api
    << "_device_interface(void);\n\n"
    << "static const char *" << n << "_halide_text(void) {\n"
    << "  return kiln_aot_halide_message[0] ? kiln_aot_halide_message : "
       "\"no message\";\n}\n\n"
    << "static void " << n << "_describe(" << n
    << "_block *block, uint8_t *host, size_t offset,\n    size_t bytes) {\n"
    << "  memset(block, 0, sizeof *block);\n"
    << "  block->dim.min = (int32_t)offset;\n"
    << "  block->dim.extent = (int32_t)bytes;\n"
    << "  block->dim.stride = 1;\n"
    << "  block->buf.host = host;\n"
    << "  block->buf.type.code = halide_type_uint;\n"
    << "  block->buf.type.bits = 8;\n"
    << "  block->buf.type.lanes = 1;\n"
    << "  block->buf.dimensions = 1;\n"
    << "  block->buf.dim = &block->dim;\n}\n\n"
    << "static int " << n << "_block_alloc(" << n
    << "_block *block, const uint8_t *host,\n    size_t bytes, const char "
       "*what) {\n"
    << "  int status;\n"
    << "  " << n << "_describe(block, (uint8_t *)host, 0, bytes);\n"
    << "  status = halide_device_malloc(NULL, &block->buf, halide_" << api
    << "_device_interface());\n"
    << "  if (status != 0) {\n    block->buf.device = 0;\n    return " << n
    << "_fail(KILN_AOT_ERROR_MEMORY,\n"
    << "        \"cannot allocate %zu bytes for %s on " << device
    << " (halide_device_malloc: \"\n"
    << "        \"status %d; is " << driver
    << " installed and a device visible?): %s\",\n"
    << "        bytes, what, status, " << n << "_halide_text());\n  }\n"
    << "  return 0;\n}\n\n"
    << "static void " << n << "_block_free(" << n << "_block *block) {\n"
    << "  if (block->buf.device) {\n"
    << "    halide_device_free(NULL, &block->buf);\n  }\n}\n\n"
    << "static int " << n << "_block_crop(const " << n << "_block *parent, "
    << n << "_block *crop,\n"
    << "    uint8_t *host, size_t offset, size_t bytes, const char *name) {\n"
    << "  int status;\n"
    << "  " << n << "_describe(crop, host, offset, bytes);\n"
    << "  status = halide_device_crop(NULL, &parent->buf, &crop->buf);\n"
    << "  if (status != 0) {\n    crop->buf.device = 0;\n    return " << n
    << "_fail(KILN_AOT_ERROR_MEMORY,\n"
    << "        \"cannot place buffer '%s' in its device allocation \"\n"
    << "        \"(halide_device_crop: status %d): %s\", name, status, " << n
    << "_halide_text());\n  }\n  return 0;\n}\n\n"
    << "static void " << n << "_block_release(" << n << "_block *crop) {\n"
    << "  if (crop->buf.device) {\n"
    << "    halide_device_release_crop(NULL, &crop->buf);\n  }\n}\n\n"
    << "/* Host -> device (to_device) or device -> host, with `host` as the "
       "host side. */\n"
    << "static int " << n << "_block_copy(" << n
    << "_block *block, const void *host, int to_device,\n"
    << "    const char *name) {\n"
    << "  int status;\n"
    << "  block->buf.host = (uint8_t *)host;\n"
    << "  block->buf.flags = to_device ? halide_buffer_flag_host_dirty\n"
    << "                               : halide_buffer_flag_device_dirty;\n"
    << "  status = to_device ? halide_copy_to_device(NULL, &block->buf,\n"
    << "                           halide_" << api
    << "_device_interface())\n"
    << "                     : halide_copy_to_host(NULL, &block->buf);\n"
    << "  block->buf.flags = 0;\n"
    << "  if (status != 0) {\n    return " << n
    << "_fail(KILN_AOT_ERROR_KERNEL, \"copying '%s' %s " << device
    << " failed \"\n"
    << "        \"(status %d): %s\", name, to_device ? \"to\" : \"from\", "
       "status,\n        "
    << n << "_halide_text());\n  }\n  return 0;\n}\n\n"
    << "/* Labels and ids: a device kernel cannot fail on one outside its "
       "range,\n * so they are checked here, as a CPU kernel checks them. "
       "*/\n"
    << "static int " << n
    << "_check_ids(const void *data, size_t count, int64_t low,\n"
    << "    int64_t classes, int has_ignore, int64_t ignore, const char "
       "*name,\n"
    << "    int ids) {\n"
    << "  const int32_t *values = (const int32_t *)data;\n"
    << "  size_t i;\n"
    << "  for (i = 0; i < count; ++i) {\n"
    << "    if ((values[i] < low || values[i] >= classes) &&\n"
    << "        !(has_ignore && values[i] == ignore)) {\n"
    << "      return " << n
    << "_fail(KILN_AOT_ERROR_ARGUMENT,\n"
    << "          \"input '%s': %s %d at element %zu is outside [%lld, "
       "%lld)\", name,\n"
    << "          ids ? \"index\" : \"label\", (int)values[i], i, (long "
       "long)low,\n"
    << "          (long long)classes);\n    }\n  }\n  return 0;\n}\n\n";
  return c.str();
}

} // namespace

std::string generateSource(const GenerateOptions &options, const Entry &run,
                           const Entry *train, const Blob &blob) {
  const std::string &n = options.name;
  std::string N = upper(n);
  std::ostringstream c;
  c << "/* " << n << ".c: generated by `kiln compile` from "
    << options.modelPath << " for target " << options.target << ".\n"
    << " * The whole model as straight-line kernel calls on statically "
       "described\n"
    << " * halide_buffer_t's; no plan is read at run time. Do not edit. */\n"
    << "#include \"" << n << ".h\"\n\n"
    << "#include <HalideRuntime.h>\n\n"
    << "#include <stdarg.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
    << "#include <string.h>\n\n"
    << "#if defined(__SSE__) || defined(__x86_64__)\n"
    << "#include <xmmintrin.h>\n#define KILN_AOT_HAVE_MXCSR 1\n#else\n"
    << "#define KILN_AOT_HAVE_MXCSR 0\n#endif\n\n";

  std::map<std::string, size_t> kernels;
  for (const Entry *entry : {&run, train}) {
    if (!entry) {
      continue;
    }
    for (const Call &call : entry->calls) {
      kernels.emplace(call.kernel, call.args.size());
    }
  }
  c << "/* Kernels: Halide pipelines, one object each in lib" << n
    << ".a. */\n";
  for (const auto &[kernel, arity] : kernels) {
    c << "extern int " << kernel << "(";
    for (size_t a = 0; a < arity; ++a) {
      c << (a ? ", " : "") << "struct halide_buffer_t *";
    }
    c << ");\n";
  }
  c << "\n";
  if (options.embed) {
    c << "/* The weights: " << n << "_weights.S (.incbin). */\n"
      << "extern const uint8_t " << n << "_weights_blob[];\n\n";
  }
  char hash[32];
  std::snprintf(hash, sizeof(hash), "0x%016llxull",
                static_cast<unsigned long long>(
                    support::fnv1a(blob.bytes.data(), blob.bytes.size())));
  c << "#define " << N << "_WEIGHTS_HASH " << hash << " /* FNV-1a */\n\n"
    ;
  bool gpu = !options.deviceApi.empty();
  if (gpu) {
    c << "/* A device memory block (1-D bytes) or a tensor's crop of one. */\n"
      << "typedef struct " << n << "_block {\n  halide_dimension_t dim;\n"
      << "  halide_buffer_t buf;\n} " << n << "_block;\n\n";
  }
  c << "struct " << n
    << "_model {\n  const uint8_t *weights;\n  uint8_t *owned;\n"
    << "  uint8_t *derived; /* results of the load-time calls */\n"
    << (gpu ? "  " + n + "_block dev_weights; /* the weights on the device */\n  " +
                  n + "_block dev_derived; /* the load-time results there */\n"
            : std::string())
    << "};\n\n"
    << "#define KILN_PLAN_RUN 1\n#define KILN_PLAN_LOAD_TIME 2\n"
    << "#define KILN_PLAN_STATE 4\n#define KILN_PLAN_STATE_OUT 8\n\n"
    << "/* Halide reports errors through a process-wide handler that cannot "
       "tell\n"
    << " * callers apart; it keeps the message per thread. Weak: every kiln\n"
    << " * library in a program shares one. */\n"
    << "__attribute__((weak)) _Thread_local char "
       "kiln_aot_halide_message[512];\n"
    << "static _Thread_local char " << n << "_message[768];\n\n"
    << "static void " << n
    << "_halide_error(void *user_context, const char *message) {\n"
    << "  (void)user_context;\n"
    << "  snprintf(kiln_aot_halide_message, sizeof kiln_aot_halide_message, "
       "\"%s\", message);\n"
    << "}\n\n"
    << "static int " << n << "_fail(int status, const char *format, ...) {\n"
    << "  va_list args;\n  va_start(args, format);\n"
    << "  vsnprintf(" << n << "_message, sizeof " << n
    << "_message, format, args);\n"
    << "  va_end(args);\n  return status;\n}\n\n"
    << "static int " << n
    << "_kernel_failed(int status, int call, const char *what) {\n"
    << "  int result = " << n << "_fail(KILN_AOT_ERROR_KERNEL,\n"
    << "      \"call %d (%s) failed with Halide status %d: %s\", call, what,\n"
    << "      status, kiln_aot_halide_message[0] ? kiln_aot_halide_message : "
       "\"no message\");\n"
    << "  kiln_aot_halide_message[0] = 0;\n  return result;\n}\n\n"
    << "const char *" << n << "_error_message(void) {\n  return " << n
    << "_message;\n}\n\n";
  if (gpu) {
    c << deviceHelpers(n, options.deviceApi);
  }

  std::vector<std::string> rows;
  c << "const kiln_aot_tensor " << n << "_inputs[] = {\n"
    << tableBody(inputRows(run)) << "};\n"
    << "const kiln_aot_tensor " << n << "_outputs[] = {\n"
    << tableBody(outputRows(run)) << "};\n";
  if (train) {
    c << "const kiln_aot_tensor " << n << "_train_inputs[] = {\n"
      << tableBody(inputRows(*train)) << "};\n"
      << "const kiln_aot_tensor " << n << "_train_outputs[] = {\n"
      << tableBody(outputRows(*train)) << "};\n";
    for (const Blob::StateTensor &tensor : blob.state) {
      const Buffer &buffer = train->buffers[tensor.buffer];
      rows.push_back(tensorInitializer(buffer, buffer.name, tensor.offset));
    }
    c << "const kiln_aot_tensor " << n << "_state_tensors[] = {\n"
      << tableBody(rows) << "};\n";
  }
  c << "\n";

  c << planFunction(n, run, gpu, blob.stateBytes);

  // open / close.
  c << "int " << n << "_open(" << n
    << "_model **model, const char *weights_path) {\n"
    << "  " << n << "_model *m;\n";
  if (gpu) {
    c << "  int status;\n";
  }
  if (!options.embed) {
    c << "  FILE *file;\n  unsigned char header[64];\n  uint64_t bytes, hash, "
         "h;\n"
      << "  size_t i;\n";
  }
  c << "  if (!model) {\n    return " << n
    << "_fail(KILN_AOT_ERROR_ARGUMENT, \"model is NULL\");\n  }\n"
    << "  *model = NULL;\n"
    << "  halide_set_error_handler(" << n << "_halide_error);\n"
    << "  m = (" << n << "_model *)calloc(1, sizeof *m);\n"
    << "  if (!m) {\n    return " << n
    << "_fail(KILN_AOT_ERROR_MEMORY, \"out of memory\");\n  }\n";
  if (options.embed) {
    c << "  (void)weights_path;\n  m->weights = " << n << "_weights_blob;\n";
  } else {
    c << "  if (!weights_path) {\n    free(m);\n    return " << n
      << "_fail(KILN_AOT_ERROR_ARGUMENT, \"no weights file given (" << n
      << ".weights)\");\n  }\n"
      << "  file = fopen(weights_path, \"rb\");\n"
      << "  if (!file) {\n    free(m);\n    return " << n
      << "_fail(KILN_AOT_ERROR_WEIGHTS, \"cannot open weights file '%s'\", "
         "weights_path);\n  }\n"
      << "  m->owned = (uint8_t *)aligned_alloc(KILN_AOT_ALIGNMENT, " << N
      << "_WEIGHTS_BYTES + KILN_AOT_ALIGNMENT);\n"
      << "  if (!m->owned) {\n    fclose(file);\n    free(m);\n    return " << n
      << "_fail(KILN_AOT_ERROR_MEMORY, \"cannot allocate %zu weight bytes\", "
         "(size_t)"
      << N << "_WEIGHTS_BYTES);\n  }\n"
      << "  if (fread(header, 1, sizeof header, file) != sizeof header ||\n"
      << "      memcmp(header, \"KILNWTS1\", 8) != 0) {\n"
      << "    fclose(file);\n    " << n << "_close(m);\n    return " << n
      << "_fail(KILN_AOT_ERROR_WEIGHTS, \"'%s' is not a kiln weights file\", "
         "weights_path);\n  }\n"
      << "  memcpy(&bytes, header + 8, 8);\n  memcpy(&hash, header + 16, 8);\n"
      << "  if (bytes != " << N << "_WEIGHTS_BYTES || hash != " << N
      << "_WEIGHTS_HASH) {\n"
      << "    fclose(file);\n    " << n << "_close(m);\n    return " << n
      << "_fail(KILN_AOT_ERROR_WEIGHTS, \"'%s' holds the weights of another "
         "build \"\n"
      << "        \"(%llu bytes, checksum %016llx; this library expects %zu "
         "bytes, checksum %016llx)\",\n"
      << "        weights_path, (unsigned long long)bytes, (unsigned long "
         "long)hash,\n"
      << "        (size_t)" << N << "_WEIGHTS_BYTES, (unsigned long long)" << N
      << "_WEIGHTS_HASH);\n  }\n"
      << "  if (fread(m->owned, 1, " << N << "_WEIGHTS_BYTES, file) != " << N
      << "_WEIGHTS_BYTES) {\n"
      << "    fclose(file);\n    " << n << "_close(m);\n    return " << n
      << "_fail(KILN_AOT_ERROR_WEIGHTS, \"'%s' is short: expected %zu bytes of "
         "weights\", weights_path, (size_t)"
      << N << "_WEIGHTS_BYTES);\n  }\n"
      << "  fclose(file);\n"
      << "  h = " << support::kFnvOffset << "ull; /* FNV-1a */\n"
      << "  for (i = 0; i < " << N << "_WEIGHTS_BYTES; ++i) {\n"
      << "    h = (h ^ m->owned[i]) * " << support::kFnvPrime << "ull;\n  }\n"
      << "  if (h != " << N << "_WEIGHTS_HASH) {\n    " << n
      << "_close(m);\n    return " << n
      << "_fail(KILN_AOT_ERROR_WEIGHTS, \"'%s' is corrupt (checksum "
         "mismatch)\", weights_path);\n  }\n"
      << "  m->weights = m->owned;\n";
  }
  if (gpu) {
    // The weights go to the device once; device allocations are reused
    // from call to call (each call's arena).
    size_t bytes = std::max<size_t>(blob.bytes.size(), 1);
    c << "  halide_reuse_device_allocations(NULL, true);\n"
      << "  if ((status = " << n << "_block_alloc(&m->dev_weights, m->weights, "
      << bytes << "u, \"the weights\")) != 0 ||\n"
      << "      (status = " << n
      << "_block_copy(&m->dev_weights, m->weights, 1, \"the weights\")) != "
         "0) {\n"
      << "    " << n << "_close(m);\n    return status;\n  }\n";
  }
  if (run.derivedBytes) {
    // Load-time calls (batch norm folds): once, into model-owned memory.
    c << "  m->derived = (uint8_t *)aligned_alloc(KILN_AOT_ALIGNMENT, "
      << run.derivedBytes << ");\n";
    if (gpu) {
      c << "  if (!m->derived) {\n    " << n << "_close(m);\n    return " << n
        << "_fail(KILN_AOT_ERROR_MEMORY, \"out of memory\");\n  }\n"
        << "  if ((status = " << n << "_block_alloc(&m->dev_derived, m->derived, "
        << run.derivedBytes << "u,\n      \"the load-time results\")) != 0) {\n"
        << "    " << n << "_close(m);\n    return status;\n  }\n";
    }
    c
      << "  {\n    uint8_t *arena = (uint8_t *)aligned_alloc("
         "KILN_AOT_ALIGNMENT, "
      << N << "_ARENA_BYTES);\n"
      << "    int status = m->derived && arena ? 0 : KILN_AOT_ERROR_MEMORY;\n"
      << "    if (status == 0) {\n      status = " << n
      << "_plan_run(m, m->weights, (uint8_t *)m->weights, NULL, NULL, "
         "arena,\n"
      << "          m->derived, KILN_PLAN_LOAD_TIME);\n    } else {\n"
      << "      " << n
      << "_fail(status, \"cannot allocate the load-time buffers\");\n    }\n"
      << "    free(arena);\n"
      << "    if (status != 0) {\n      " << n
      << "_close(m);\n      return status;\n    }\n  }\n";
  }
  c << "  *model = m;\n  return 0;\n}\n\n"
    << "void " << n << "_close(" << n << "_model *model) {\n"
    << "  if (model) {\n"
    << (gpu ? "    " + n + "_block_free(&model->dev_derived);\n    " + n +
                  "_block_free(&model->dev_weights);\n"
            : std::string())
    << "    free(model->derived);\n    free(model->owned);\n"
    << "    free(model);\n  }\n}\n\n";

  c << entryFunction(n,
                     "int " + n + "_run(const " + n +
                         "_model *model, const void *const inputs[],\n    void "
                         "*const outputs[], void *arena)",
                     "run", N + "_NUM_INPUTS", N + "_ARENA_BYTES",
                     "(uint8_t *)model->weights", State::None, LoadTime::FromModel,
                     run.derivedBytes);
  if (train) {
    c << planFunction(n, *train, gpu, blob.stateBytes);
    c << "int " << n << "_state_init(const " << n
      << "_model *model, void *state) {\n"
      << "  if (!model || !state) {\n    return " << n
      << "_fail(KILN_AOT_ERROR_ARGUMENT, \"NULL model or state\");\n  }\n"
      << "  memcpy(state, model->weights, " << N
      << "_STATE_BYTES);\n  return 0;\n}\n\n";
    c << entryFunction(n,
                       "int " + n + "_train_step(const " + n +
                           "_model *model, void *state,\n    const void *const "
                           "inputs[], void *const outputs[], void *arena)",
                       "train_step", N + "_TRAIN_NUM_INPUTS",
                       N + "_TRAIN_ARENA_BYTES", "(uint8_t *)state", State::Update,
                       LoadTime::None, 0);
    c << entryFunction(
        n,
        "int " + n + "_run_state(const " + n +
            "_model *model, const void *state,\n    const void "
            "*const inputs[], void *const outputs[], void *arena)",
        "run", N + "_NUM_INPUTS", N + "_ARENA_BYTES", "(uint8_t *)state", State::Read,
        LoadTime::EveryCall, run.derivedBytes);
  }

  // The type-erased descriptor (generic drivers, the --exe main).
  c << "static int " << n << "_open_any(void **model, const char *path) {\n"
    << "  return " << n << "_open((" << n << "_model **)model, path);\n}\n"
    << "static void " << n << "_close_any(void *model) {\n  " << n << "_close(("
    << n << "_model *)model);\n}\n"
    << "static int " << n
    << "_run_any(const void *model, const void *const *inputs,\n"
    << "    void *const *outputs, void *arena) {\n  return " << n
    << "_run((const " << n << "_model *)model, inputs, outputs, arena);\n}\n\n";
  if (train) {
    c << "static int " << n
      << "_state_init_any(const void *model, void *state) {\n  return " << n
      << "_state_init((const " << n << "_model *)model, state);\n}\n"
      << "static int " << n
      << "_train_step_any(const void *model, void *state,\n"
      << "    const void *const *inputs, void *const *outputs, void *arena) "
         "{\n  return "
      << n << "_train_step((const " << n
      << "_model *)model, state, inputs, outputs, arena);\n}\n\n";
  }
  c << "const kiln_aot_library " << n << "_library = {\n"
    << "    " << quote(n) << ", " << N << "_TARGET, "
    << (options.embed ? std::string("NULL") : quote(n + ".weights")) << ",\n"
    << "    " << N << "_NUM_INPUTS, " << n << "_inputs, " << N
    << "_NUM_OUTPUTS, " << n << "_outputs,\n    " << N << "_ARENA_BYTES, " << n
    << "_open_any, " << n << "_close_any, " << n << "_run_any,\n    " << n
    << "_error_message,\n";
  if (train) {
    c << "    " << N << "_STATE_BYTES, " << N << "_TRAIN_ARENA_BYTES, " << N
      << "_TRAIN_NUM_INPUTS, " << n << "_train_inputs,\n    " << N
      << "_TRAIN_NUM_OUTPUTS, " << n << "_train_outputs, " << n
      << "_state_init_any, " << n << "_train_step_any};\n";
  } else {
    c << "    0, 0, 0, NULL, 0, NULL, NULL, NULL};\n";
  }
  return c.str();
}

} // namespace kiln::aot::detail
