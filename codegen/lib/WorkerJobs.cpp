// kiln-codegen-worker's jobs (WorkerProtocol.h): the only code that runs
// Halide's compiler. compileKernels in kiln's process writes a job file and
// starts the worker with posix_spawn; nothing here runs in kiln's process.
#include "Kernels.h"
#include "WorkerProtocol.h"
#include "kiln/support/Checksum.h"
#include "kiln/support/Cpu.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include <fcntl.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace kiln::codegen {
namespace {

// Halide 14 gives a host with AVX-512 VNNI and BF16 its Sapphire Rapids
// feature, and LLVM then targets `sapphirerapids`, which has AVX-VNNI.
// AMD Zen 4 has the former but not AVX-VNNI: a kernel whose index
// arithmetic LLVM matched to a 256-bit `vpdpwssd` (VEX-encoded) died of
// SIGILL there (the weighted nll_loss test, session 55). Such a host
// keeps the Cannon Lake features, which it has.
Halide::Target hostTarget(Halide::Target target) {
  if (target.has_feature(Halide::Target::AVX512_SapphireRapids) &&
      !support::cpuHasAvxVnni()) {
    target = target.without_feature(Halide::Target::AVX512_SapphireRapids);
  }
  return target;
}

Halide::Target parseTarget(const std::string &text) {
  if (text.empty() || text == "host") {
    return hostTarget(Halide::get_host_target());
  }
  if (!Halide::Target::validate_target_string(text)) {
    throw Error("invalid Halide target '" + text + "'");
  }
  Halide::Target target =
      Halide::Target(text).without_feature(Halide::Target::NoRuntime);
  if (text.rfind("host", 0) == 0) {
    target = hostTarget(target);
  }
  // Some kernels compute in double where float would lose accuracy (Adam's
  // bias corrections): OpenCL needs the device's fp64 (PoCL and the
  // desktop GPUs' drivers have it).
  if (target.has_feature(Halide::Target::OpenCL)) {
    target = target.with_feature(Halide::Target::CLDoubles);
  }
  return target;
}

// Collects the work of a lowered kernel that runs on the host. Halide's
// lowering has already moved every GPU loop nest into device code (a call
// to halide_<api>_run), so what is left is host work: any loop, and any
// store to a buffer (a rank-0 result computed on the host has no loop).
class HostWork : public Halide::Internal::IRVisitor {
public:
  std::vector<std::string> names;
  int deviceLaunches = 0;

private:
  using Halide::Internal::IRVisitor::visit;
  void visit(const Halide::Internal::For *op) override {
    names.push_back("loop " + op->name);
    Halide::Internal::IRVisitor::visit(op);
  }
  void visit(const Halide::Internal::Store *op) override {
    names.push_back("store to " + op->name);
    Halide::Internal::IRVisitor::visit(op);
  }
  void visit(const Halide::Internal::Call *op) override {
    if (op->name == "halide_opencl_run" || op->name == "halide_cuda_run") {
      ++deviceLaunches;
    }
    Halide::Internal::IRVisitor::visit(op);
  }
};

// A GPU target runs every loop of every kernel on the device: a family
// whose schedule still has host loops would run on the CPU without a word
// (Halide compiles a CPU schedule for any target). Refuse it, naming the
// op and the loops.
void requireDeviceWork(const Halide::Module &module, const KernelSpec &spec,
                        const Halide::Target &target) {
  HostWork work;
  for (const Halide::Internal::LoweredFunc &f : module.functions()) {
    f.body.accept(&work);
  }
  if (work.names.empty() && work.deviceLaunches > 0) {
    return;
  }
  if (work.names.empty()) {
    work.names.push_back("no device kernel launched");
  }
  std::string names;
  for (size_t i = 0; i < work.names.size() && i < 4; ++i) {
    names += (i ? ", " : "") + work.names[i];
  }
  if (work.names.size() > 4) {
    names += ", ...";
  }
  throw Error("target '" + target.to_string() + "' asks for a GPU, but op '" +
              spec.op +
              "' has no GPU schedule yet: it would compute on the CPU (" +
              names + "). Use a CPU target such as 'host'.");
}

// Sends stderr to /dev/null while it lives (if `quiet`): the
// autoschedulers print their search, and Halide warns about the schedules
// they choose; errors reach kiln through the job's error file.
class QuietStderr {
public:
  explicit QuietStderr(bool quiet) {
    if (!quiet) {
      return;
    }
    std::fflush(stderr);
    saved_ = dup(2);
    int null = open("/dev/null", O_WRONLY);
    if (saved_ >= 0 && null >= 0) {
      dup2(null, 2);
    }
    if (null >= 0) {
      close(null);
    }
  }
  ~QuietStderr() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      dup2(saved_, 2);
      close(saved_);
    }
  }
  QuietStderr(const QuietStderr &) = delete;
  QuietStderr &operator=(const QuietStderr &) = delete;

private:
  int saved_ = -1;
};

void compileJob(const nlohmann::json &j) {
  auto start = std::chrono::steady_clock::now();
  Halide::Target target = parseTarget(j.at("target").get<std::string>());
  std::string function = j.at("function").get<std::string>();
  std::string objectPath = j.at("object").get<std::string>();
  std::string dumpDir = j.at("dump_dir").get<std::string>();
  std::optional<KernelSpec> spec;
  if (!j.at("spec").is_null()) {
    spec = KernelSpec::fromJson(detail::decodeFloats(j.at("spec")));
  }
  std::string tmp = objectPath + ".tmp." + std::to_string(getpid());
  if (!spec) {
    Halide::compile_standalone_runtime(tmp, target);
  } else {
    std::map<Halide::OutputFileType, std::string> outputs = {
        {Halide::OutputFileType::object, tmp}};
    if (!dumpDir.empty()) {
      std::string base = dumpDir + "/" + function;
      outputs[Halide::OutputFileType::stmt] = base + ".stmt";
      outputs[Halide::OutputFileType::assembly] = base + ".s";
    }
    const detail::OpInfo &op = detail::lookupOp(spec->op);
    auto compile = [&](const detail::Kernel &kernel) {
      Halide::Pipeline pipeline(kernel.outputs);
      detail::fixPrefetchSteps(pipeline);
      Halide::Module module = pipeline.compile_to_module(
          kernel.inputs, function, target.with_feature(Halide::Target::NoRuntime));
      if (target.has_gpu_feature()) {
        requireDeviceWork(module, *spec, target);
      }
      module.compile(outputs);
    };
    if (spec->schedule.empty()) {
      compile(op.build(*spec, target));
    } else {
      // An autoscheduler's schedule that Halide 14 cannot compile (Li2018's
      // atomic vector stores, an RVar reorder it may not make) leaves the
      // kernel on kiln's hand schedule, said on stderr: the model still
      // runs, and the comparison names what it could not compare.
      try {
        QuietStderr quiet(!j.at("verbose").get<bool>());
        compile(detail::autoSchedule(op.build(*spec, target), *spec, target));
      } catch (const Halide::Error &e) {
        std::string why = e.what();
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) {
          why.pop_back();
        }
        std::fprintf(stderr,
                     "kiln-codegen: %s's schedule of op '%s' (%s) does not "
                     "compile in Halide %s (%s); this kernel keeps kiln's "
                     "hand schedule\n",
                     spec->schedule.c_str(), spec->op.c_str(),
                     function.c_str(), KILN_HALIDE_VERSION, why.c_str());
        compile(op.build(*spec, target));
      }
    }
  }
  // The sidecar first: no reader sees the object without it.
  support::writeSum(objectPath, tmp);
  fs::rename(tmp, objectPath);
  if (j.at("verbose").get<bool>()) {
    std::fprintf(
        stderr, "kiln-codegen: compiled %s (%s) in %.2f s\n",
        spec ? spec->op.c_str() : "halide runtime", function.c_str(),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
  }
}

void checkJob(const nlohmann::json &j) {
  Halide::Target target = parseTarget(j.at("target").get<std::string>());
  nlohmann::json errors = nlohmann::json::array();
  for (const nlohmann::json &specJson : j.at("specs")) {
    try {
      detail::validateKernelSpec(
          KernelSpec::fromJson(detail::decodeFloats(specJson)));
      errors.push_back("");
    } catch (const std::exception &e) {
      errors.push_back(e.what());
    }
  }
  nlohmann::json result = {
      {"target", target.to_string()},
      {"vector_width", target.natural_vector_size<float>()},
      {"gpu", target.has_gpu_feature()},
      {"halide", KILN_HALIDE_VERSION},
      {"host", hostTarget(Halide::get_host_target()).to_string()},
      {"errors", errors}};
  std::string path = j.at("result").get<std::string>();
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << result.dump();
  fs::rename(tmp, path);
}

} // namespace

int runWorkerJob(const std::string &jobPath) {
  std::string errorPath;
  std::string message;
  try {
    std::ifstream in(jobPath);
    nlohmann::json j = nlohmann::json::parse(in);
    errorPath = j.at("error").get<std::string>();
    if (j.value("kind", "compile") == "check") {
      checkJob(j);
    } else {
      compileJob(j);
    }
    return 0;
  } catch (const Halide::Error &e) {
    message = e.what();
  } catch (const std::exception &e) {
    message = e.what();
  } catch (...) {
    message = "unknown exception";
  }
  if (!errorPath.empty()) {
    std::ofstream(errorPath) << message;
  } else {
    std::fprintf(stderr, "kiln-codegen-worker: %s\n", message.c_str());
  }
  return 1;
}

} // namespace kiln::codegen
