// Session: plan + kernel library + one arena holding every buffer.
//
// load():    parse the plan, dlopen the library, dlsym each distinct kernel.
// prepare(): 1. give every root buffer outside the planned arena (input,
//               param, const, and temps without an offset: returned values)
//               a 64-byte aligned slot in one persistent block; planned temps
//               live at their offset in the arena (allocated here unless the
//               caller lent one with setArena); views share their root;
//            2. copy constants, initialize parameters;
//            3. build one halide_buffer_t per (call, argument), so that
//               run() only walks an array of prepared argument lists.
#include "CheckedSize.h"
#include "FileIO.h"
#include "ThreadPool.h"
#include "kiln/runtime/Plan.h"
#include "kiln/runtime/Runtime.h"
#include "kiln/runtime/Safetensors.h"
#include "kiln/support/Align.h"
#include "kiln/support/Checksum.h"
#include "kiln/support/Denormals.h"
#include "kiln/support/GpuApi.h"

#include <HalideRuntime.h>

#include <chrono>
#include <filesystem>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <sys/mman.h>
#include <map>
#include <optional>

namespace kiln::runtime {


namespace {

using KernelFunction = int (*)(void **);

constexpr size_t kAlignment = support::kAlignment;
constexpr size_t kHugePage = size_t(2) << 20;
using support::alignUp;

struct ArenaDeleter {
  void operator()(uint8_t *p) const { std::free(p); }
};

// "'a', 'b'": names quoted, comma-separated.
std::string quotedNames(const std::vector<std::string> &names) {
  std::string text;
  for (const std::string &name : names) {
    text += (text.empty() ? "'" : ", '") + name + "'";
  }
  return text;
}

std::string listNames(const std::vector<TensorInfo> &infos) {
  if (infos.empty()) {
    return "none";
  }
  std::vector<std::string> names;
  for (const TensorInfo &info : infos) {
    names.push_back(info.name);
  }
  return quotedNames(names);
}

std::string describe(const TensorInfo &info) {
  std::string text;
  for (int64_t dim : info.shape) {
    text += std::to_string(dim) + "x";
  }
  return text + dtypeName(info.dtype);
}

// The kernel library's device runtime, for plans of a GPU target (the
// target names `opencl` or `cuda`): Halide's runtime is linked into every
// kernel library, so the session calls the library's own functions.
struct DeviceApi {
  std::string name; // with its article: "an OpenCL", "a CUDA"
  const halide_device_interface_t *interface = nullptr;
  int (*malloc)(void *, halide_buffer_t *,
                const halide_device_interface_t *) = nullptr;
  int (*free)(void *, halide_buffer_t *) = nullptr;
  int (*crop)(void *, const halide_buffer_t *, halide_buffer_t *) = nullptr;
  int (*releaseCrop)(void *, halide_buffer_t *) = nullptr;
  int (*toHost)(void *, halide_buffer_t *) = nullptr;
  int (*toDevice)(void *, halide_buffer_t *,
                  const halide_device_interface_t *) = nullptr;
  int (*sync)(void *, halide_buffer_t *) = nullptr;
};

// A 1-D byte view of `bytes` bytes at `offset` into a device allocation,
// host side at `host`.
struct ByteView {
  halide_dimension_t dim{};
  halide_buffer_t buffer{};

  void describe(uint8_t *host, int64_t offset, int64_t bytes) {
    dim = {static_cast<int32_t>(offset), static_cast<int32_t>(bytes), 1, 0};
    buffer.host = host;
    buffer.type = {halide_type_uint, 8, 1};
    buffer.dimensions = 1;
    buffer.dim = &dim;
  }
};

} // namespace

struct Session::Impl {
  Plan plan;
  SessionOptions options;
  void *library = nullptr;
  std::vector<KernelFunction> callFunctions; // one per call

  std::vector<TensorInfo> inputs, outputs, parameters;
  std::map<std::string, int> inputBuffer, outputBuffer, parameterBuffer;
  std::vector<int> root; // per buffer: the buffer owning its storage

  bool prepared = false;
  // The parameters changed since the load-time calls (`once`) last ran:
  // set by prepare() and every parameter write.
  bool loadTimeStale = true;
  std::unique_ptr<uint8_t, ArenaDeleter> persistent;
  std::unique_ptr<uint8_t, ArenaDeleter> ownArena; // unless lent
  uint8_t *arena = nullptr;                        // own or lent
  size_t allocated = 0;
  std::vector<size_t> offset; // per unplanned root, in `persistent`
  std::vector<bool> inputSet; // per buffer, for inputs

  // Halide argument lists: callArgs[argBegin[c] .. argBegin[c+1]) are call
  // c's args, pointing into halideBuffers, whose dims point into dims.
  std::vector<halide_buffer_t> halideBuffers;
  std::vector<std::vector<size_t>> argsOfRoot; // per root: its arguments
  // Per root: the caller's memory a bound input reads (bindInput), else
  // nullptr.
  std::vector<uint8_t *> external;
  std::vector<halide_dimension_t> dims;
  std::vector<void *> callArgs;
  std::vector<size_t> argBegin;

  // GPU plans (DeviceApi): the device copy of every buffer is the live
  // one. The arena and the persistent block are one device allocation each
  // (devArena, devPersistent) and every root buffer a crop of one of them
  // at its planned offset (devRoot); each prepared argument carries its
  // root's device handle. Inputs go to the device once per run, outputs
  // and parameters come back when read (onHost says whose host copy is
  // current), parameters and constants go up when written.
  std::unique_ptr<DeviceApi> device;
  ByteView devArena, devPersistent;
  std::vector<ByteView> devRoot;
  std::vector<bool> onHost; // per root
  TransferCounts transfers;

  ~Impl() {
    releaseDevice();
    if (library) {
      dlclose(library);
    }
  }

  void releaseDevice() {
    if (!device) {
      return;
    }
    for (ByteView &view : devRoot) {
      if (view.buffer.device) {
        device->releaseCrop(nullptr, &view.buffer);
      }
    }
    devRoot.clear();
    for (ByteView *whole : {&devArena, &devPersistent}) {
      if (whole->buffer.device) {
        device->free(nullptr, &whole->buffer);
      }
    }
  }

  // Loads the device runtime of a GPU plan from the kernel library.
  void loadDeviceApi() {
    std::string api = support::gpuApiOf(plan.target);
    if (api.empty()) {
      return;
    }
    auto api_ = std::make_unique<DeviceApi>();
    api_->name = api == "opencl" ? "an OpenCL" : "a CUDA";
    auto symbol = [&](const std::string &name) {
      void *address = dlsym(library, name.c_str());
      if (!address) {
        throw Error(plan.path + ": kernel library '" + plan.library +
                    "' of target '" + plan.target + "' lacks '" + name + "'");
      }
      return address;
    };
    using Interface = const halide_device_interface_t *(*)();
    api_->interface = reinterpret_cast<Interface>(
        symbol("halide_" + api + "_device_interface"))();
    api_->malloc = reinterpret_cast<decltype(api_->malloc)>(
        symbol("halide_device_malloc"));
    api_->free =
        reinterpret_cast<decltype(api_->free)>(symbol("halide_device_free"));
    api_->crop =
        reinterpret_cast<decltype(api_->crop)>(symbol("halide_device_crop"));
    api_->releaseCrop = reinterpret_cast<decltype(api_->releaseCrop)>(
        symbol("halide_device_release_crop"));
    api_->toHost = reinterpret_cast<decltype(api_->toHost)>(
        symbol("halide_copy_to_host"));
    api_->toDevice = reinterpret_cast<decltype(api_->toDevice)>(
        symbol("halide_copy_to_device"));
    api_->sync =
        reinterpret_cast<decltype(api_->sync)>(symbol("halide_device_sync"));
    // Device buffers that kernels allocate for themselves (the GPU weight
    // gradient's partial sums, up to 64 MB) are reused from call to call,
    // not allocated and freed by the driver each time (as AOT bundles do).
    using Reuse = int (*)(void *, bool);
    reinterpret_cast<Reuse>(symbol("halide_reuse_device_allocations"))(
        nullptr, true);
    device = std::move(api_);
  }

  // Allocates the device arena and persistent block and crops every root
  // buffer out of them. Throws a clear Error when there is no device.
  void allocateDevice(size_t persistentBytes) {
    auto whole = [&](ByteView &view, uint8_t *host, size_t bytes,
                     const char *what) {
      if (bytes + kAlignment > static_cast<size_t>(INT32_MAX)) {
        throw Error(plan.path + ": " + what + " (" + std::to_string(bytes) +
                    " bytes) is larger than a Halide device buffer can "
                    "address");
      }
      view.describe(host, 0, static_cast<int64_t>(alignUp(bytes) + kAlignment));
      int status = device->malloc(nullptr, &view.buffer, device->interface);
      if (status != 0) {
        throw Error("target '" + plan.target + "': cannot allocate " +
                    std::to_string(bytes) + " bytes for " + what + " on " +
                    device->name + " device (halide_device_malloc: status " +
                    std::to_string(status) + "; is " + device->name +
                    " driver installed and a device visible? see the kernel "
                    "error above)");
      }
    };
    whole(devArena, arena, static_cast<size_t>(plan.arenaBytes),
          "the plan's arena");
    whole(devPersistent, persistent.get(), persistentBytes,
          "the plan's persistent buffers");
    devRoot.assign(plan.buffers.size(), ByteView{});
    onHost.assign(plan.buffers.size(), true);
    for (size_t b = 0; b < plan.buffers.size(); ++b) {
      if (root[b] != static_cast<int>(b)) {
        continue;
      }
      const PlanBuffer &desc = buffer(static_cast<int>(b));
      ByteView &parent = desc.offset >= 0 ? devArena : devPersistent;
      int64_t at = desc.offset >= 0 ? desc.offset
                                    : static_cast<int64_t>(offset[b]);
      if (at % support::kDeviceAlignment != 0) {
        throw Error(plan.path + ": buffer '" + desc.name + "' is at offset " +
                    std::to_string(at) + ", not a multiple of " +
                    std::to_string(support::kDeviceAlignment) +
                    " bytes: the plan was not compiled for a GPU target");
      }
      // At least one byte: an empty tensor still gets a valid handle.
      int64_t bytes = std::max<int64_t>(1, byteSize(static_cast<int>(b)));
      devRoot[b].describe(storage(static_cast<int>(b)), at, bytes);
      int status = device->crop(nullptr, &parent.buffer, &devRoot[b].buffer);
      if (status != 0) {
        throw Error(plan.path + ": cannot place buffer '" + desc.name +
                    "' in " + device->name +
                    " device allocation (halide_device_crop: status " +
                    std::to_string(status) + ")");
      }
    }
  }

  // Host -> device for root r, from `host` (the caller's memory of a bound
  // input, else its own storage).
  void upload(int r, const uint8_t *host) {
    halide_buffer_t &view = devRoot[r].buffer;
    view.host = const_cast<uint8_t *>(host);
    view.flags = halide_buffer_flag_host_dirty;
    int status = device->toDevice(nullptr, &view, device->interface);
    view.flags = 0;
    if (status != 0) {
      throw Error(plan.path + ": copying buffer '" + buffer(r).name +
                  "' to " + device->name + " device failed (status " +
                  std::to_string(status) + ")");
    }
    ++transfers.toDevice;
  }

  // Device -> host for buffer b's root, unless the host copy is current.
  void download(int b) {
    int r = root[b];
    if (!device || onHost[r]) {
      return;
    }
    halide_buffer_t &view = devRoot[r].buffer;
    view.host = storage(r);
    view.flags = halide_buffer_flag_device_dirty;
    int status = device->toHost(nullptr, &view);
    view.flags = 0;
    if (status != 0) {
      throw Error(plan.path + ": copying buffer '" + buffer(r).name +
                  "' from " + device->name + " device failed (status " +
                  std::to_string(status) + ")");
    }
    onHost[r] = true;
    ++transfers.toHost;
  }

  const PlanBuffer &buffer(int b) const { return plan.buffers[b]; }
  uint8_t *storage(int b) {
    if (!external.empty() && external[root[b]]) {
      return external[root[b]];
    }
    const PlanBuffer &r = buffer(root[b]);
    return r.offset >= 0 ? arena + r.offset : persistent.get() + offset[root[b]];
  }

  // Points every prepared argument of root buffer `r` at `host`.
  void repoint(int r, uint8_t *host) {
    for (size_t arg : argsOfRoot[r]) {
      halideBuffers[arg].host = host;
    }
  }

  // Input `b` reads the caller's memory (nullptr: its own storage again).
  // Kernels never write into inputs (the memory plan overwrites only arena
  // temps in place), so the caller's memory is only read.
  void bind(int b, const void *data) {
    int r = root[b];
    external[r] = static_cast<uint8_t *>(const_cast<void *>(data));
    repoint(r, storage(b));
  }
  // readPlan checked every buffer's size already; the check stays next to
  // the arithmetic that depends on it.
  size_t byteSize(int b) const {
    const PlanBuffer &desc = buffer(b);
    std::optional<int64_t> bytes =
        detail::byteSize(desc.shape, dtypeSize(desc.dtype));
    if (!bytes) {
      throw Error(plan.path + ": buffer '" + desc.name +
                  "': " + detail::sizeProblem(desc.shape));
    }
    return static_cast<size_t>(*bytes);
  }

  TensorInfo info(int b, const std::string &name) const {
    return TensorInfo{name, buffer(b).shape, buffer(b).dtype};
  }

  int find(const std::map<std::string, int> &index,
           const std::vector<TensorInfo> &infos, const char *what,
           const std::string &name) const {
    auto it = index.find(name);
    if (it == index.end()) {
      throw Error(std::string("unknown ") + what + " '" + name +
                  "' (valid: " + listNames(infos) + ")");
    }
    return it->second;
  }

  Tensor read(int b) {
    download(b);
    Tensor tensor(buffer(b).shape, buffer(b).dtype);
    std::memcpy(tensor.bytes.data(), storage(b), tensor.bytes.size());
    return tensor;
  }

  void write(int b, const Tensor &value, const char *what,
             const std::string &name) {
    write(b, TensorView{value.bytes.data(), value.shape, value.dtype,
                        value.bytes.size()},
          what, name);
  }

  void write(int b, const TensorView &value, const char *what,
             const std::string &name) {
    check(b, value, what, name);
    if (buffer(b).kind == BufferKind::Param) {
      loadTimeStale = true;
    }
    if (value.bytes > 0) {
      std::memcpy(storage(b), value.data, value.bytes);
    }
    // Inputs go up at the next run; anything else (parameters) now.
    if (device && prepared && buffer(b).kind != BufferKind::Input) {
      upload(root[b], storage(b));
      onHost[root[b]] = true;
    }
  }

  // Throws unless `value` has buffer b's shape, dtype and byte size.
  void check(int b, const TensorView &value, const char *what,
             const std::string &name) {
    const PlanBuffer &expected = buffer(b);
    Tensor shown; // for its shapeString
    shown.shape = value.shape;
    shown.dtype = value.dtype;
    if (value.shape != expected.shape || value.dtype != expected.dtype) {
      throw Error(std::string(what) + " '" + name + "': expected " +
                  describe(info(b, name)) + ", got " + shown.shapeString());
    }
    if (value.bytes != byteSize(b) || (value.bytes > 0 && !value.data)) {
      throw Error(std::string(what) + " '" + name + "': tensor holds " +
                  std::to_string(value.bytes) + " bytes, " +
                  shown.shapeString() + " needs " +
                  std::to_string(byteSize(b)));
    }
  }

  void load() {
    size_t count = plan.buffers.size();
    root.resize(count);
    for (size_t b = 0; b < count; ++b) {
      int r = static_cast<int>(b);
      while (buffer(r).kind == BufferKind::View) {
        r = static_cast<int>(buffer(r).alias);
      }
      root[b] = r;
    }
    for (int b : plan.inputs) {
      inputBuffer[buffer(b).name] = b;
      inputs.push_back(info(b, buffer(b).name));
    }
    for (size_t b = 0; b < count; ++b) {
      if (buffer(b).kind == BufferKind::Param) {
        parameterBuffer[buffer(b).name] = static_cast<int>(b);
        parameters.push_back(info(b, buffer(b).name));
      }
    }
    for (const auto &output : plan.outputs) {
      outputBuffer[output.name] = output.buffer;
      outputs.push_back(info(output.buffer, output.name));
    }

    if (plan.library.empty()) {
      throw Error(plan.path + ": the plan has kernel objects for kiln "
                              "compile, no library to run");
    }
    // Never map a damaged library (a truncated .so dies with SIGBUS): it
    // must match the sidecar the compiler wrote (kiln/support/Checksum.h).
    std::error_code missing;
    if (std::filesystem::exists(plan.library, missing) &&
        !support::verifySum(plan.library)) {
      throw Error(plan.path + ": kernel library '" + plan.library +
                  "' is damaged or unverified (it does not match its .sum); "
                  "compiling the model again rebuilds it");
    }
    library = dlopen(plan.library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      const char *reason = dlerror();
      throw Error(plan.path + ": cannot load kernel library '" + plan.library +
                  "': " + (reason ? reason : "unknown error"));
    }
    detail::installParallelFor(library);
    std::map<std::string, KernelFunction> functions;
    for (size_t c = 0; c < plan.calls.size(); ++c) {
      const std::string &kernel = plan.calls[c].kernel;
      auto it = functions.find(kernel);
      if (it == functions.end()) {
        std::string symbol = kernel + "_argv";
        dlerror();
        void *address = dlsym(library, symbol.c_str());
        if (!address) {
          const char *reason = dlerror();
          throw Error(plan.path + ": calls[" + std::to_string(c) +
                      "]: kernel library '" + plan.library + "' lacks '" +
                      symbol + "'" + (reason ? std::string(": ") + reason : ""));
        }
        it = functions
                 .emplace(kernel, reinterpret_cast<KernelFunction>(address))
                 .first;
      }
      callFunctions.push_back(it->second);
    }
    loadDeviceApi();
  }

  void prepare() {
    if (prepared) {
      return;
    }
    size_t count = plan.buffers.size();
    offset.assign(count, 0);
    size_t total = 0;
    for (size_t b = 0; b < count; ++b) {
      if (root[b] == static_cast<int>(b) && buffer(b).offset < 0) {
        offset[b] = total;
        std::optional<int64_t> slot = detail::checkedAlignUp(
            static_cast<int64_t>(byteSize(static_cast<int>(b))),
            device ? support::kDeviceAlignment : kAlignment);
        std::optional<int64_t> end =
            slot ? detail::checkedAdd(static_cast<int64_t>(total), *slot)
                 : std::nullopt;
        if (!end) {
          throw Error(plan.path + ": the persistent buffers' total size "
                                  "overflows 64 bits");
        }
        total = static_cast<size_t>(*end);
      }
    }
    persistent.reset(allocate(total, "the plan's persistent buffers"));
    allocated = total;
    if (!arena) {
      size_t bytes = static_cast<size_t>(plan.arenaBytes);
      ownArena.reset(allocate(bytes, "the plan's arena"));
      arena = ownArena.get();
      allocated += bytes;
    }

    for (size_t b = 0; b < count; ++b) {
      const PlanBuffer &desc = buffer(static_cast<int>(b));
      if (desc.kind == BufferKind::Const) {
        std::memcpy(storage(static_cast<int>(b)), desc.data.bytes.data(),
                    desc.data.bytes.size());
      } else if (desc.kind == BufferKind::Param) {
        Tensor value = initializeParameter(desc.name, desc.shape, desc.dtype,
                                           desc.init, options.seed);
        std::memcpy(storage(static_cast<int>(b)), value.bytes.data(),
                    value.bytes.size());
      }
    }
    if (!plan.weights.empty()) {
      // Values for the parameters the plan kept (the compiler may have
      // dropped unused ones, so other names are skipped).
      for (const auto &[name, value] : readSafetensors(plan.weights)) {
        auto it = parameterBuffer.find(name);
        if (it != parameterBuffer.end()) {
          write(it->second, value, "parameter", name);
        }
      }
    }
    inputSet.assign(count, false);
    external.assign(count, nullptr);
    if (device) {
      allocateDevice(total);
      for (size_t b = 0; b < count; ++b) {
        BufferKind kind = buffer(static_cast<int>(b)).kind;
        if (root[b] == static_cast<int>(b) &&
            (kind == BufferKind::Const || kind == BufferKind::Param)) {
          upload(static_cast<int>(b), storage(static_cast<int>(b)));
        }
      }
    }
    buildHalideBuffers();
    prepared = true;
  }

  // Zeroed, 64-byte aligned; one extra slot so that even an empty plan gets
  // a valid pointer.
  uint8_t *allocate(size_t bytes, const char *what) {
    size_t size = alignUp(bytes) + kAlignment;
    bool huge = size >= kHugePage;
    if (huge) {
      size = (size + kHugePage - 1) / kHugePage * kHugePage;
    }
    auto *memory = static_cast<uint8_t *>(
        std::aligned_alloc(huge ? kHugePage : kAlignment, size));
    if (!memory) {
      throw Error(plan.path + ": cannot allocate " + std::to_string(bytes) +
                  " bytes for " + what);
    }
    if (huge) {
      madvise(memory, size, MADV_HUGEPAGE);
    }
    std::memset(memory, 0, size);
    return memory;
  }

  void setArena(void *memory, size_t bytes) {
    if (!memory || reinterpret_cast<uintptr_t>(memory) % kAlignment != 0) {
      throw Error(plan.path + ": the arena must be 64-byte aligned");
    }
    if (bytes < static_cast<size_t>(plan.arenaBytes)) {
      throw Error(plan.path + ": the arena holds " + std::to_string(bytes) +
                  " bytes, the plan needs " + std::to_string(plan.arenaBytes));
    }
    if (ownArena) {
      allocated -= static_cast<size_t>(plan.arenaBytes);
      ownArena.reset();
    }
    arena = static_cast<uint8_t *>(memory);
    if (prepared) {
      // Re-point the prepared argument lists; the new arena's intermediates
      // are written before they are read, as in the old one.
      buildHalideBuffers();
    }
  }

  void buildHalideBuffers() {
    size_t argCount = 0, dimCount = 0;
    for (const auto &call : plan.calls) {
      argCount += call.args.size();
      for (int b : call.args) {
        dimCount += buffer(b).shape.size();
      }
    }
    // Sized once: the pointers taken below stay valid.
    halideBuffers.assign(argCount, halide_buffer_t{});
    argsOfRoot.assign(plan.buffers.size(), {});
    dims.assign(dimCount, halide_dimension_t{});
    callArgs.assign(argCount, nullptr);
    argBegin.clear();
    size_t arg = 0, dim = 0;
    for (const auto &call : plan.calls) {
      argBegin.push_back(arg);
      for (int b : call.args) {
        const PlanBuffer &desc = buffer(b);
        halide_buffer_t &hb = halideBuffers[arg];
        hb.host = storage(b);
        if (device) {
          hb.device = devRoot[root[b]].buffer.device;
          hb.device_interface = device->interface;
        }
        argsOfRoot[root[b]].push_back(arg);
        hb.type.code =
            desc.dtype == DType::F32 ? halide_type_float : halide_type_int;
        hb.type.bits = 32;
        hb.type.lanes = 1;
        hb.dimensions = static_cast<int32_t>(desc.shape.size());
        hb.dim = hb.dimensions > 0 ? &dims[dim] : nullptr;
        // Halide order: innermost first, dense strides. Every stride and
        // the element count must fit Halide's int32_t.
        int64_t stride = 1;
        for (int d = hb.dimensions - 1; d >= 0; --d) {
          halide_dimension_t &hd = dims[dim++];
          hd.min = 0;
          hd.extent = static_cast<int32_t>(desc.shape[d]);
          hd.stride = static_cast<int32_t>(stride);
          std::optional<int64_t> next =
              detail::checkedMul(stride, desc.shape[d]);
          if (!next || *next > INT32_MAX) {
            throw Error(plan.path + ": buffer '" + desc.name +
                        "' has more elements than a Halide buffer can "
                        "address");
          }
          stride = *next;
        }
        callArgs[arg] = &hb;
        ++arg;
      }
    }
    argBegin.push_back(arg);
  }

  void checkInputsSet() {
    prepare();
    for (int b : plan.inputs) {
      if (!inputSet[b]) {
        throw Error("input '" + buffer(b).name +
                    "' not set (call setInput or fillMissingInputs)");
      }
    }
  }

  void call(size_t c) {
    int status = callFunctions[c](callArgs.data() + argBegin[c]);
    if (device) {
      // The device copies are the live ones: no argument stays dirty (a
      // kernel marks its results device-dirty).
      for (size_t a = argBegin[c]; a < argBegin[c + 1]; ++a) {
        halideBuffers[a].flags = 0;
      }
    }
    if (status != 0) {
      const auto &call = plan.calls[c];
      throw Error(plan.path + ": call " + std::to_string(c) + " (kernel '" +
                  call.kernel + "', op '" + call.op + "') failed with status " +
                  std::to_string(status));
    }
    if (options.checkNumerics) {
      checkNumerics(c);
    }
  }

  // SessionOptions::checkNumerics: the first NaN or infinity in a result of
  // call c is an Error naming the op, its label and its place in the model.
  void checkNumerics(size_t c) {
    const PlanCall &call = plan.calls[c];
    for (size_t k = call.args.size() - call.outputs; k < call.args.size();
         ++k) {
      int b = call.args[k];
      if (buffer(b).dtype != DType::F32) {
        continue;
      }
      download(b);
      const auto *data = reinterpret_cast<const float *>(storage(b));
      size_t count = byteSize(b) / sizeof(float);
      for (size_t i = 0; i < count; ++i) {
        if (std::isfinite(data[i])) {
          continue;
        }
        std::string what = std::isnan(data[i]) ? "NaN"
                           : data[i] > 0       ? "+Inf"
                                               : "-Inf";
        throw Error("check-numerics: " + what + " in result " +
                    std::to_string(k - (call.args.size() - call.outputs)) +
                    " (" + buffer(b).name + ", element " + std::to_string(i) +
                    " of " + describe(info(b, buffer(b).name)) + ") of op '" +
                    call.op + "' (" + call.label + ")" +
                    (call.loc.empty() ? std::string() : " at " + call.loc) +
                    ", call " + std::to_string(c));
      }
    }
  }

  // Load-time calls run only when the parameters changed since they last
  // ran.
  bool skip(size_t c) const { return plan.calls[c].once && !loadTimeStale; }

  // Integer labels outside [0, classes) (PlanBuffer::classes): a CPU kernel
  // fails on them itself; device code cannot, so GPU sessions check here.
  void checkLabels(int b) {
    const PlanBuffer &desc = buffer(b);
    if (desc.classes <= 0 || desc.dtype != DType::I32) {
      return;
    }
    const auto *labels = reinterpret_cast<const int32_t *>(storage(b));
    size_t count = byteSize(b) / sizeof(int32_t);
    int64_t low = desc.signedIndices ? -desc.classes : 0;
    for (size_t i = 0; i < count; ++i) {
      if ((labels[i] < low || labels[i] >= desc.classes) &&
          labels[i] != desc.ignoreIndex) {
        throw Error("input '" + desc.name + "': " +
                    (desc.signedIndices ? "index " : "label ") +
                    std::to_string(labels[i]) + " at element " +
                    std::to_string(i) + " is outside [" +
                    std::to_string(low) + ", " +
                    std::to_string(desc.classes) + ")" +
                    (desc.ignoreIndex ? " and is not the ignore index " +
                                            std::to_string(*desc.ignoreIndex)
                                      : std::string()));
      }
    }
  }

  // GPU plans: the inputs go to the device, and after the calls every
  // host copy but the inputs' and constants' is stale.
  void beginRun() {
    if (!device) {
      return;
    }
    for (int b : plan.inputs) {
      checkLabels(b);
      upload(root[b], storage(b));
    }
    for (size_t b = 0; b < onHost.size(); ++b) {
      BufferKind kind = buffer(static_cast<int>(b)).kind;
      onHost[b] = kind == BufferKind::Input || kind == BufferKind::Const;
    }
  }

  void run() {
    checkInputsSet();
    support::ScopedFlushDenormals flush;
    beginRun();
    for (size_t c = 0; c < plan.calls.size(); ++c) {
      if (!skip(c)) {
        call(c);
      }
    }
    loadTimeStale = false;
  }

  std::vector<CallTime> profile() {
    checkInputsSet();
    support::ScopedFlushDenormals flush;
    std::vector<CallTime> times;
    times.reserve(plan.calls.size());
    beginRun();
    for (size_t c = 0; c < plan.calls.size(); ++c) {
      if (skip(c)) {
        continue;
      }
      auto start = std::chrono::steady_clock::now();
      call(c);
      if (device && !plan.calls[c].args.empty()) {
        // Kernels are launched asynchronously: time them to completion.
        device->sync(nullptr, &halideBuffers[argBegin[c + 1] - 1]);
      }
      std::chrono::duration<double> took =
          std::chrono::steady_clock::now() - start;
      int64_t bytes = 0;
      for (int arg : plan.calls[c].args) {
        bytes += static_cast<int64_t>(byteSize(arg));
      }
      const std::vector<int> &args = plan.calls[c].args;
      times.push_back(
          {plan.calls[c].kernel, plan.calls[c].label, took.count(),
           plan.calls[c].flops, bytes,
           args.empty() ? std::vector<int64_t>() : buffer(args.back()).shape,
           args.empty() ? std::string() : buffer(args.back()).layout,
           std::chrono::duration_cast<std::chrono::nanoseconds>(
               start.time_since_epoch())
               .count()});
    }
    loadTimeStale = false;
    return times;
  }
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session &&) noexcept = default;
Session &Session::operator=(Session &&) noexcept = default;
Session::~Session() = default;

Session Session::load(const std::string &planPath,
                      const SessionOptions &options) {
  return load(readPlan(planPath), options);
}

Session Session::load(Plan plan, const SessionOptions &options) {
  auto impl = std::make_unique<Impl>();
  impl->plan = std::move(plan);
  impl->options = options;
  impl->load();
  return Session(std::move(impl));
}

const std::vector<TensorInfo> &Session::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo> &Session::outputs() const {
  return impl_->outputs;
}
const std::vector<TensorInfo> &Session::parameters() const {
  return impl_->parameters;
}

void Session::prepare() { impl_->prepare(); }

void Session::setInput(const std::string &name, const Tensor &value) {
  setInput(name, TensorView{value.bytes.data(), value.shape, value.dtype,
                            value.bytes.size()});
}

void Session::setInput(const std::string &name, const TensorView &value) {
  int b = impl_->find(impl_->inputBuffer, impl_->inputs, "input", name);
  impl_->prepare();
  impl_->bind(b, nullptr);
  impl_->write(b, value, "input", name);
  impl_->inputSet[b] = true;
}

void Session::bindInput(const std::string &name, const TensorView &value) {
  int b = impl_->find(impl_->inputBuffer, impl_->inputs, "input", name);
  impl_->prepare();
  impl_->check(b, value, "input", name);
  if (reinterpret_cast<uintptr_t>(value.data) % dtypeSize(value.dtype) != 0) {
    throw Error("input '" + name + "': the bound memory is not aligned to " +
                std::to_string(dtypeSize(value.dtype)) + " bytes");
  }
  impl_->bind(b, value.data);
  impl_->inputSet[b] = true;
}

void Session::unbindInputs() {
  impl_->prepare();
  for (int b : impl_->plan.inputs) {
    if (impl_->external[impl_->root[b]]) {
      impl_->bind(b, nullptr);
      impl_->inputSet[b] = false;
    }
  }
}

const void *Session::inputAddress(const std::string &name) const {
  int b = impl_->find(impl_->inputBuffer, impl_->inputs, "input", name);
  impl_->prepare();
  return impl_->storage(b);
}

void Session::fillMissingInputs(uint64_t seed) {
  impl_->prepare();
  for (int b : impl_->plan.inputs) {
    if (impl_->inputSet[b]) {
      continue;
    }
    const PlanBuffer &desc = impl_->buffer(b);
    Random random(seed ^ hashName(desc.name));
    Tensor value(desc.shape, desc.dtype);
    int64_t count = value.numElements();
    uint64_t classes = desc.classes > 0 ? desc.classes : 10;
    for (int64_t i = 0; i < count; ++i) {
      if (desc.dtype == DType::F32) {
        value.f32()[i] = random.normal(0.0f, 1.0f);
      } else {
        value.i32()[i] = static_cast<int32_t>(random.next() % classes);
      }
    }
    impl_->write(b, value, "input", desc.name);
    impl_->inputSet[b] = true;
  }
}

void Session::setParameter(const std::string &name, const Tensor &value) {
  int b = impl_->find(impl_->parameterBuffer, impl_->parameters, "parameter",
                      name);
  impl_->prepare();
  impl_->write(b, value, "parameter", name);
}

Tensor Session::parameter(const std::string &name) const {
  int b = impl_->find(impl_->parameterBuffer, impl_->parameters, "parameter",
                      name);
  impl_->prepare();
  return impl_->read(b);
}

std::vector<std::string>
Session::loadMatchingParameters(const std::string &path) {
  std::map<std::string, Tensor> tensors = readSafetensors(path);
  std::vector<std::string> skipped;
  std::vector<std::pair<int, const Tensor *>> matched;
  for (const auto &[name, tensor] : tensors) {
    // Optimizer state (`<param>.<kind>.<slot>` of a tensor in the file) is
    // left out without a word: a new run starts its optimizer afresh.
    bool state = false;
    for (const auto &[other, t] : tensors) {
      (void)t;
      state = state || isStateOf(name, other);
    }
    if (state) {
      continue;
    }
    auto it = impl_->parameterBuffer.find(name);
    if (it == impl_->parameterBuffer.end()) {
      skipped.push_back(name + ": not a parameter here");
      continue;
    }
    const PlanBuffer &desc = impl_->buffer(it->second);
    if (tensor.shape != desc.shape || tensor.dtype != desc.dtype) {
      skipped.push_back(name + ": " + tensor.shapeString() +
                        " in the file, " +
                        describe(impl_->info(it->second, name)) + " here");
      continue;
    }
    matched.emplace_back(it->second, &tensor);
  }
  if (matched.empty()) {
    throw Error(path + ": no tensor names a parameter of this model with "
                       "its shape (parameters: " +
                listNames(impl_->parameters) + ")");
  }
  impl_->prepare();
  for (const auto &[buffer, tensor] : matched) {
    impl_->write(buffer, *tensor, "parameter", impl_->buffer(buffer).name);
  }
  return skipped;
}

void Session::reinitializeParameter(const std::string &name) {
  auto it = impl_->parameterBuffer.find(name);
  if (it == impl_->parameterBuffer.end()) {
    throw Error("no parameter '" + name + "' (parameters: " +
                listNames(impl_->parameters) + ")");
  }
  impl_->prepare();
  const PlanBuffer &desc = impl_->buffer(it->second);
  impl_->write(it->second,
               initializeParameter(desc.name, desc.shape, desc.dtype,
                                   desc.init, impl_->options.seed),
               "parameter", name);
}

std::string absentParametersNote(const std::string &path,
                                 const std::vector<std::string> &absent) {
  if (absent.empty()) {
    return "";
  }
  return path + " lacks " + std::to_string(absent.size()) +
         " of the model's parameters, which keep their initial values: " +
         quotedNames(absent);
}

bool isStateOf(const std::string &name, const std::string &param) {
  return name.size() > param.size() + 1 &&
         name.compare(0, param.size(), param) == 0 &&
         name[param.size()] == '.';
}

std::vector<std::string> Session::loadParameters(const std::string &path) {
  std::map<std::string, Tensor> tensors = readSafetensors(path);
  // A training checkpoint also holds optimizer state named after its
  // parameter (`<param>.<kind>.<slot>`); a plan without those slots (e.g.
  // inference) skips it.
  for (auto it = tensors.begin(); it != tensors.end();) {
    bool stateOfParameter = false;
    if (!impl_->parameterBuffer.count(it->first)) {
      for (const auto &[param, b] : impl_->parameterBuffer) {
        (void)b;
        if (isStateOf(it->first, param)) {
          stateOfParameter = true;
          break;
        }
      }
    }
    it = stateOfParameter ? tensors.erase(it) : std::next(it);
  }
  // Check everything before writing anything: a bad file leaves the
  // session unchanged.
  for (const auto &[name, tensor] : tensors) {
    auto it = impl_->parameterBuffer.find(name);
    if (it == impl_->parameterBuffer.end()) {
      throw Error(path + ": tensor '" + name +
                  "' is not a parameter of the plan (valid: " +
                  listNames(impl_->parameters) + ")");
    }
    const PlanBuffer &desc = impl_->buffer(it->second);
    if (tensor.shape != desc.shape || tensor.dtype != desc.dtype) {
      throw Error(path + ": parameter '" + name + "': expected " +
                  describe(impl_->info(it->second, name)) + ", got " +
                  tensor.shapeString());
    }
  }
  impl_->prepare();
  for (const auto &[name, tensor] : tensors) {
    impl_->write(impl_->parameterBuffer.at(name), tensor, "parameter", name);
  }
  std::vector<std::string> absent;
  for (const auto &[name, b] : impl_->parameterBuffer) {
    (void)b;
    if (!tensors.count(name)) {
      absent.push_back(name);
    }
  }
  return absent;
}

void Session::saveParameters(const std::string &path) const {
  impl_->prepare();
  std::map<std::string, Tensor> tensors;
  for (const auto &[name, b] : impl_->parameterBuffer) {
    tensors.emplace(name, impl_->read(b));
  }
  writeSafetensors(path, tensors);
}

void Session::run() { impl_->run(); }

std::vector<CallTime> Session::profile() { return impl_->profile(); }

Tensor Session::output(const std::string &name) const {
  int b = impl_->find(impl_->outputBuffer, impl_->outputs, "output", name);
  impl_->prepare();
  return impl_->read(b);
}

void Session::copyOutput(const std::string &name, void *data,
                         size_t bytes) const {
  int b = impl_->find(impl_->outputBuffer, impl_->outputs, "output", name);
  impl_->prepare();
  size_t size = impl_->byteSize(b);
  if (bytes != size || (size > 0 && !data)) {
    throw Error("output '" + name + "': " + std::to_string(size) +
                " bytes, the destination holds " + std::to_string(bytes));
  }
  impl_->download(b);
  if (size > 0) {
    std::memcpy(data, impl_->storage(b), size);
  }
}

TransferCounts Session::transfers() const { return impl_->transfers; }

size_t Session::allocatedBytes() const { return impl_->allocated; }

size_t Session::arenaBytes() const {
  return static_cast<size_t>(impl_->plan.arenaBytes);
}

void Session::setArena(void *memory, size_t bytes) {
  impl_->setArena(memory, bytes);
}

} // namespace kiln::runtime
