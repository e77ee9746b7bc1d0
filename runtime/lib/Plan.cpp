#include "kiln/runtime/Plan.h"

#include "CheckedSize.h"
#include "FileIO.h"
#include "kiln/support/Align.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <optional>
#include <set>

namespace kiln::runtime {

namespace {

using nlohmann::json;
using namespace detail;

// Typed access to the plan's JSON; every failure names the file and the
// field path ("buffers[3].shape[1]").
class PlanReader {
public:
  explicit PlanReader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string &field,
                         const std::string &problem) const {
    throw Error(path_ + ": " + field + ": " + problem);
  }

  const json &field(const json &object, const std::string &where,
                    const char *key) const {
    auto it = object.find(key);
    if (it == object.end()) {
      fail(join(where, key), "missing");
    }
    return *it;
  }

  std::string string(const json &value, const std::string &where) const {
    if (!value.is_string()) {
      fail(where, std::string("expected a string, got ") + value.type_name());
    }
    return value.get<std::string>();
  }

  int64_t integer(const json &value, const std::string &where) const {
    if (!value.is_number_integer()) {
      fail(where, std::string("expected an integer, got ") + value.type_name());
    }
    return value.get<int64_t>();
  }

  int index(const json &value, const std::string &where, size_t count) const {
    int64_t i = integer(value, where);
    if (i < 0 || static_cast<size_t>(i) >= count) {
      fail(where, "buffer index " + std::to_string(i) + " out of range [0, " +
                      std::to_string(count) + ")");
    }
    return static_cast<int>(i);
  }

  int32_t int32(const json &value, const std::string &where) const {
    int64_t v = integer(value, where);
    if (v < INT32_MIN || v > INT32_MAX) {
      fail(where, "value out of i32 range");
    }
    return static_cast<int32_t>(v);
  }

  // A const buffer's float: a number, or "inf", "-inf" or "nan" (JSON has
  // no numbers for them).
  float f32(const json &value, const std::string &where) const {
    if (value.is_number()) {
      return value.get<float>();
    }
    if (value.is_string()) {
      const std::string &text = value.get_ref<const std::string &>();
      if (text == "inf" || text == "-inf") {
        return text[0] == '-' ? -std::numeric_limits<float>::infinity()
                              : std::numeric_limits<float>::infinity();
      }
      if (text == "nan") {
        return std::numeric_limits<float>::quiet_NaN();
      }
    }
    fail(where, std::string("expected a number, \"inf\", \"-inf\" or "
                            "\"nan\", got ") +
                    (value.is_string() ? "\"" + value.get<std::string>() + "\""
                                       : std::string(value.type_name())));
  }

  const json &array(const json &value, const std::string &where) const {
    if (!value.is_array()) {
      fail(where, std::string("expected an array, got ") + value.type_name());
    }
    return value;
  }

  const json &object(const json &value, const std::string &where) const {
    if (!value.is_object()) {
      fail(where, std::string("expected an object, got ") + value.type_name());
    }
    return value;
  }

  static std::string join(const std::string &where, const char *key) {
    return where.empty() ? key : where + "." + key;
  }
  static std::string at(const std::string &where, size_t i) {
    return where + "[" + std::to_string(i) + "]";
  }

private:
  std::string path_;
};

BufferKind parseKind(const PlanReader &reader, const std::string &text,
                     const std::string &where) {
  if (text == "input") {
    return BufferKind::Input;
  }
  if (text == "param") {
    return BufferKind::Param;
  }
  if (text == "const") {
    return BufferKind::Const;
  }
  if (text == "temp") {
    return BufferKind::Temp;
  }
  if (text == "view") {
    return BufferKind::View;
  }
  reader.fail(where, "unknown kind '" + text +
                         "' (expected input, param, const, temp or view)");
}

PlanBuffer parseBuffer(const PlanReader &r, const json &value,
                       const std::string &where) {
  r.object(value, where);
  PlanBuffer buffer;
  buffer.name = r.string(r.field(value, where, "name"), where + ".name");
  const json &shape = r.array(r.field(value, where, "shape"), where + ".shape");
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t dim = r.integer(shape[i], PlanReader::at(where + ".shape", i));
    if (dim < 0 || dim > INT32_MAX) {
      r.fail(PlanReader::at(where + ".shape", i),
             "dimension " + std::to_string(dim) + " out of range");
    }
    buffer.shape.push_back(dim);
  }
  std::string dtype = r.string(r.field(value, where, "dtype"), where + ".dtype");
  if (dtype == "f32") {
    buffer.dtype = DType::F32;
  } else if (dtype == "i32") {
    buffer.dtype = DType::I32;
  } else {
    r.fail(where + ".dtype", "unsupported dtype '" + dtype +
                                 "' (expected f32 or i32)");
  }
  // Every later size computation (views, arena fit, the session's layout
  // and strides) relies on this.
  if (!byteSize(buffer.shape, dtypeSize(buffer.dtype))) {
    r.fail(where + ".shape", sizeProblem(buffer.shape));
  }
  buffer.kind = parseKind(
      r, r.string(r.field(value, where, "kind"), where + ".kind"),
      where + ".kind");

  switch (buffer.kind) {
  case BufferKind::Input:
    if (value.contains("classes")) {
      buffer.classes = r.integer(value["classes"], where + ".classes");
      if (buffer.classes <= 0) {
        r.fail(where + ".classes", "must be positive");
      }
      if (value.contains("signed_indices")) {
        const json &flag = value["signed_indices"];
        if (!flag.is_boolean()) {
          r.fail(where + ".signed_indices", "must be true or false");
        }
        buffer.signedIndices = flag.get<bool>();
      }
      if (value.contains("ignore_index")) {
        buffer.ignoreIndex =
            r.integer(value["ignore_index"], where + ".ignore_index");
      }
    }
    break;
  case BufferKind::Param: {
    std::string initWhere = where + ".init";
    const json &init = r.object(r.field(value, where, "init"), initWhere);
    buffer.init.kind =
        r.string(r.field(init, initWhere, "kind"), initWhere + ".kind");
    if (!isKnownInitializer(buffer.init.kind)) {
      r.fail(initWhere + ".kind",
             "unknown initializer '" + buffer.init.kind + "'");
    }
    if (init.contains("fan_in")) {
      buffer.init.fanIn = r.integer(init["fan_in"], initWhere + ".fan_in");
    }
    if (init.contains("fan_out")) {
      buffer.init.fanOut = r.integer(init["fan_out"], initWhere + ".fan_out");
    }
    bool constant = buffer.init.kind == "zeros" || buffer.init.kind == "ones";
    if (!constant && buffer.dtype != DType::F32) {
      r.fail(initWhere + ".kind", "initializer '" + buffer.init.kind +
                                      "' needs an f32 parameter");
    }
    break;
  }
  case BufferKind::Const: {
    if (value.contains("splat")) {
      // Every element the same value (sized like a param's initializer).
      buffer.data = Tensor(buffer.shape, buffer.dtype);
      const json &splat = value["splat"];
      std::string at = where + ".splat";
      if (buffer.dtype == DType::F32) {
        std::fill_n(buffer.data.f32(), buffer.data.numElements(),
                    r.f32(splat, at));
      } else {
        std::fill_n(buffer.data.i32(), buffer.data.numElements(),
                    r.int32(splat, at));
      }
      break;
    }
    const json &data = r.array(r.field(value, where, "data"), where + ".data");
    // Checked before allocating: the plan's own values then bound the size.
    int64_t count = *elementCount(buffer.shape);
    if (static_cast<int64_t>(data.size()) != count) {
      r.fail(where + ".data", "has " + std::to_string(data.size()) +
                                  " values, shape needs " +
                                  std::to_string(count));
    }
    buffer.data = Tensor(buffer.shape, buffer.dtype);
    // (The element's place is spelled out only for an error.)
    for (size_t i = 0; i < data.size(); ++i) {
      const json &v = data[i];
      if (buffer.dtype == DType::F32) {
        buffer.data.f32()[i] =
            v.is_number() ? v.get<float>()
                          : r.f32(v, PlanReader::at(where + ".data", i));
      } else {
        buffer.data.i32()[i] = r.int32(v, PlanReader::at(where + ".data", i));
      }
    }
    break;
  }
  case BufferKind::View:
    // Range-checked once every buffer is known.
    buffer.alias = r.integer(r.field(value, where, "alias"), where + ".alias");
    break;
  case BufferKind::Temp:
    if (value.contains("layout")) {
      buffer.layout = r.string(value["layout"], where + ".layout");
      if (buffer.layout != "nchw16c" || buffer.shape.size() != 5 ||
          buffer.shape[4] != 16) {
        r.fail(where + ".layout",
               "must be \"nchw16c\" on a [N, C/16, H, W, 16] buffer");
      }
    }
    if (value.contains("offset")) {
      buffer.offset = r.integer(value["offset"], where + ".offset");
      if (buffer.offset < 0 || buffer.offset % support::kAlignment != 0) {
        r.fail(where + ".offset", "must be a non-negative multiple of " +
                                      std::to_string(support::kAlignment));
      }
    }
    break;
  }
  return buffer;
}

void checkViews(const PlanReader &r, const Plan &plan) {
  size_t count = plan.buffers.size();
  for (size_t i = 0; i < count; ++i) {
    const PlanBuffer &view = plan.buffers[i];
    if (view.kind == BufferKind::View &&
        (view.alias < 0 || static_cast<size_t>(view.alias) >= count)) {
      r.fail(PlanReader::at("buffers", i) + ".alias",
             "buffer index " + std::to_string(view.alias) +
                 " out of range [0, " + std::to_string(count) + ")");
    }
  }
  for (size_t i = 0; i < count; ++i) {
    const PlanBuffer &view = plan.buffers[i];
    if (view.kind != BufferKind::View) {
      continue;
    }
    std::string where = PlanReader::at("buffers", i) + ".alias";
    const PlanBuffer &target = plan.buffers[view.alias];
    if (*elementCount(view.shape) != *elementCount(target.shape) ||
        view.dtype != target.dtype) {
      r.fail(where, "view '" + view.name + "' (" +
                        Tensor(view.shape, view.dtype).shapeString() +
                        ") does not match '" + target.name + "' (" +
                        Tensor(target.shape, target.dtype).shapeString() +
                        ")");
    }
    // A chain longer than the buffer count must contain a cycle.
    size_t steps = 0;
    for (int64_t b = static_cast<int64_t>(i);
         plan.buffers[b].kind == BufferKind::View;
         b = plan.buffers[b].alias) {
      if (++steps > count) {
        r.fail(where, "view '" + view.name + "' is part of an alias cycle");
      }
    }
  }
}

} // namespace

Plan readPlan(const std::string &path) {
  std::vector<uint8_t> bytes;
  try {
    bytes = readFile(path);
  } catch (const Error &e) {
    throw Error(std::string("cannot load plan: ") + e.what());
  }
  json root;
  try {
    root = json::parse(bytes.begin(), bytes.end());
  } catch (const json::exception &e) {
    throw Error(path + ": invalid JSON: " + e.what());
  }
  return planFromJson(root, path);
}

PlanRef loadPlan(const std::string &path) {
  return std::make_shared<const Plan>(readPlan(path));
}

Plan planFromJson(const json &root, const std::string &path) {
  PlanReader r(path);
  r.object(root, "(top level)");

  Plan plan;
  plan.path = path;
  int64_t version = r.integer(r.field(root, "", "version"), "version");
  if (version != 1) {
    r.fail("version", "unsupported plan version " + std::to_string(version) +
                          " (this runtime reads version 1)");
  }
  if (root.contains("runtime_object")) {
    plan.runtimeObject = r.string(root["runtime_object"], "runtime_object");
  }
  if (root.contains("objects")) {
    const json &objects = r.array(root["objects"], "objects");
    for (size_t i = 0; i < objects.size(); ++i) {
      plan.objects.push_back(
          r.string(objects[i], PlanReader::at("objects", i)));
    }
  }
  plan.library = r.string(r.field(root, "", "library"), "library");
  // A plan of kernel objects (for kiln compile) has no library: it names
  // the Halide runtime object instead.
  if (plan.library.empty() && plan.runtimeObject.empty()) {
    r.fail("library", "empty path");
  }
  if (!plan.library.empty() && plan.library[0] != '/') {
    size_t slash = path.rfind('/');
    if (slash != std::string::npos) {
      plan.library = path.substr(0, slash + 1) + plan.library;
    }
  }
  if (root.contains("target")) {
    plan.target = r.string(root["target"], "target");
  }
  if (root.contains("kernel_count")) {
    plan.kernelCount = r.integer(root["kernel_count"], "kernel_count");
  }
  if (root.contains("compile_seconds")) {
    if (!root["compile_seconds"].is_number()) {
      r.fail("compile_seconds", "expected a number");
    }
    plan.compileSeconds = root["compile_seconds"].get<double>();
  }

  const json &buffers = r.array(r.field(root, "", "buffers"), "buffers");
  for (size_t i = 0; i < buffers.size(); ++i) {
    plan.buffers.push_back(
        parseBuffer(r, buffers[i], PlanReader::at("buffers", i)));
  }
  size_t count = plan.buffers.size();
  checkViews(r, plan);
  if (root.contains("weights")) {
    plan.weights = r.string(root["weights"], "weights");
    size_t slash = path.find_last_of('/');
    if (!plan.weights.empty() && plan.weights.front() != '/' &&
        slash != std::string::npos) {
      plan.weights = path.substr(0, slash + 1) + plan.weights;
    }
  }
  if (root.contains("arena_bytes")) {
    plan.arenaBytes = r.integer(root["arena_bytes"], "arena_bytes");
    if (plan.arenaBytes < 0) {
      r.fail("arena_bytes", "must not be negative");
    }
  }
  for (size_t b = 0; b < count; ++b) {
    const PlanBuffer &buffer = plan.buffers[b];
    int64_t bytes = *byteSize(buffer.shape, dtypeSize(buffer.dtype));
    std::optional<int64_t> end = checkedAdd(buffer.offset, bytes);
    if (buffer.offset >= 0 && (!end || *end > plan.arenaBytes)) {
      r.fail(PlanReader::at("buffers", b) + ".offset",
             "buffer '" + buffer.name + "' (" + std::to_string(bytes) +
                 " bytes at " + std::to_string(buffer.offset) +
                 ") does not fit in arena_bytes " +
                 std::to_string(plan.arenaBytes));
    }
  }

  std::set<std::string> names;
  const json &inputs = r.array(r.field(root, "", "inputs"), "inputs");
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string where = PlanReader::at("inputs", i);
    int b = r.index(inputs[i], where, count);
    if (plan.buffers[b].kind != BufferKind::Input) {
      r.fail(where, "buffer " + std::to_string(b) + " ('" +
                        plan.buffers[b].name + "') is not of kind input");
    }
    if (!names.insert(plan.buffers[b].name).second) {
      r.fail(where, "duplicate input '" + plan.buffers[b].name + "'");
    }
    plan.inputs.push_back(b);
  }
  for (size_t b = 0; b < count; ++b) {
    const PlanBuffer &buffer = plan.buffers[b];
    if (buffer.kind == BufferKind::Input && !names.count(buffer.name)) {
      r.fail(PlanReader::at("buffers", b),
             "input '" + buffer.name + "' is not listed in inputs");
    }
  }
  names.clear();
  for (size_t b = 0; b < count; ++b) {
    const PlanBuffer &buffer = plan.buffers[b];
    if (buffer.kind == BufferKind::Param && !names.insert(buffer.name).second) {
      r.fail(PlanReader::at("buffers", b),
             "duplicate parameter '" + buffer.name + "'");
    }
  }

  names.clear();
  const json &outputs = r.array(r.field(root, "", "outputs"), "outputs");
  for (size_t i = 0; i < outputs.size(); ++i) {
    std::string where = PlanReader::at("outputs", i);
    r.object(outputs[i], where);
    PlanOutput output;
    output.name = r.string(r.field(outputs[i], where, "name"), where + ".name");
    output.buffer = r.index(r.field(outputs[i], where, "buffer"),
                            where + ".buffer", count);
    if (!names.insert(output.name).second) {
      r.fail(where, "duplicate output '" + output.name + "'");
    }
    plan.outputs.push_back(output);
  }

  const json &calls = r.array(r.field(root, "", "calls"), "calls");
  for (size_t i = 0; i < calls.size(); ++i) {
    std::string where = PlanReader::at("calls", i);
    r.object(calls[i], where);
    PlanCall call;
    call.kernel = r.string(r.field(calls[i], where, "kernel"), where + ".kernel");
    call.op = r.string(r.field(calls[i], where, "op"), where + ".op");
    call.label = calls[i].contains("label")
                     ? r.string(calls[i]["label"], where + ".label")
                     : call.op;
    if (calls[i].contains("once")) {
      if (!calls[i]["once"].is_boolean()) {
        r.fail(where + ".once", "expected true or false");
      }
      call.once = calls[i]["once"].get<bool>();
    }
    if (calls[i].contains("flops")) {
      call.flops = r.integer(calls[i]["flops"], where + ".flops");
      if (call.flops < 0) {
        r.fail(where + ".flops", "must be non-negative");
      }
    }
    const json &args = r.array(r.field(calls[i], where, "args"), where + ".args");
    for (size_t a = 0; a < args.size(); ++a) {
      call.args.push_back(r.index(args[a], PlanReader::at(where + ".args", a), count));
    }
    if (calls[i].contains("outputs")) {
      int64_t outputs = r.integer(calls[i]["outputs"], where + ".outputs");
      if (outputs < 0 || outputs > static_cast<int64_t>(call.args.size())) {
        r.fail(where + ".outputs", "must be in [0, " +
                                       std::to_string(call.args.size()) + "]");
      }
      call.outputs = static_cast<int>(outputs);
    } else {
      call.outputs = call.args.empty() ? 0 : 1;
    }
    if (calls[i].contains("loc")) {
      call.loc = r.string(calls[i]["loc"], where + ".loc");
    }
    plan.calls.push_back(std::move(call));
  }
  return plan;
}

} // namespace kiln::runtime
