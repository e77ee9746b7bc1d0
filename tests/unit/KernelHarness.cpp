#include "KernelHarness.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <system_error>

#include <nlohmann/json.hpp>

namespace kiln::test {

namespace fs = std::filesystem;

std::string testCacheDir() {
  if (const char *dir = std::getenv("KILN_TEST_CACHE_DIR"); dir && *dir) {
    return dir;
  }
  return KILN_TEST_DEFAULT_CACHE_DIR;
}

KernelBatch::KernelBatch(codegen::CompileOptions options)
    : options_(std::move(options)) {
  std::string pattern =
      (fs::temp_directory_path() / "kiln-kernel-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) {
    throw std::runtime_error("cannot create a temporary directory for plans");
  }
  planDir_ = pattern;
}

KernelBatch::~KernelBatch() {
  std::error_code ignored;
  fs::remove_all(planDir_, ignored);
}

void KernelBatch::add(const codegen::KernelSpec &spec) {
  if (!compiled_.count(spec.key())) {
    pending_.push_back(spec);
  }
}

// One compile of every pending spec. Specs that do not validate or do not
// compile get their own message (CompileOptions::keepGoing) and cost only
// their own tests; a failure of the whole call (the runtime object, the
// link) is every pending spec's message.
void KernelBatch::compilePending() {
  std::vector<codegen::KernelSpec> unique;
  std::set<std::string> seen;
  for (const codegen::KernelSpec &spec : pending_) {
    const std::string key = spec.key();
    if (!compiled_.count(key) && seen.insert(key).second) {
      unique.push_back(spec);
    }
  }
  pending_.clear();
  if (unique.empty()) {
    return;
  }
  codegen::CompileOptions options = options_;
  options.keepGoing = true;
  try {
    const codegen::CompiledLibrary library =
        codegen::compileKernels(unique, options);
    kernelsCompiled_ += library.kernelsCompiled;
    for (size_t i = 0; i < unique.size(); ++i) {
      compiled_[unique[i].key()] =
          library.errors[i].empty()
              ? Compiled{library.path, library.functionNames[i], ""}
              : Compiled{"", "", library.errors[i]};
    }
  } catch (const std::exception &e) {
    for (const codegen::KernelSpec &spec : unique) {
      compiled_[spec.key()] = Compiled{"", "", e.what()};
    }
  }
}

std::string KernelBatch::compileError(const codegen::KernelSpec &spec) {
  add(spec);
  compilePending();
  return compiled_.at(spec.key()).error;
}

std::vector<std::string> KernelBatch::compileRegistered() {
  compilePending();
  std::vector<std::string> failures;
  for (const auto &[key, compiled] : compiled_) {
    if (!compiled.error.empty()) {
      failures.push_back(key + ": " + compiled.error);
    }
  }
  return failures;
}

// One call: inputs are "input" buffers in0.., outputs "temp" buffers out0..
// listed as the plan's outputs.
std::string KernelBatch::writePlan(const codegen::KernelSpec &spec,
                                   const Compiled &compiled) {
  nlohmann::json buffers = nlohmann::json::array();
  nlohmann::json inputs = nlohmann::json::array();
  nlohmann::json outputs = nlohmann::json::array();
  nlohmann::json args = nlohmann::json::array();
  auto addBuffer = [&](const codegen::TensorSpec &tensor,
                       const std::string &name, const char *kind) {
    const size_t index = buffers.size();
    // A blocked tensor's buffer holds its physical dims (docs/layout.md).
    buffers.push_back({{"name", name},
                       {"shape", tensor.physicalShape()},
                       {"dtype", codegen::dtypeName(tensor.dtype)},
                       {"kind", kind}});
    args.push_back(index);
    return index;
  };
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    inputs.push_back(
        addBuffer(spec.inputs[i], "in" + std::to_string(i), "input"));
  }
  // The labels of a sparse categorical cross-entropy carry their range, as
  // the compiler's lowering writes it (GPU sessions check it).
  bool sparseLabels =
      spec.op == "sparse_cce" ||
      (spec.op == "loss_grad" &&
       spec.attrs.value("loss", std::string()) == "sparse_cce");
  if (sparseLabels && spec.inputs.size() > 1 &&
      spec.inputs[0].shape.size() == 2) {
    buffers[inputs[1].get<size_t>()]["classes"] = spec.inputs[0].shape[1];
  }
  // Gather's run-time indices likewise: the rows along its axis.
  if ((spec.op == "gather" || spec.op == "gather_elements") &&
      spec.inputs.size() == 2) {
    int64_t axis = spec.attrs.value("axis", int64_t{0});
    if (axis >= 0 && axis < static_cast<int64_t>(spec.inputs[0].shape.size())) {
      buffers[inputs[1].get<size_t>()]["classes"] = spec.inputs[0].shape[axis];
      buffers[inputs[1].get<size_t>()]["signed_indices"] = true;
    }
  }
  for (size_t i = 0; i < spec.outputs.size(); ++i) {
    const std::string name = "out" + std::to_string(i);
    outputs.push_back(
        {{"name", name}, {"buffer", addBuffer(spec.outputs[i], name, "temp")}});
  }
  const nlohmann::json plan = {
      {"version", 1},
      {"library", compiled.library},
      {"target", options_.target},
      {"buffers", buffers},
      {"inputs", inputs},
      {"outputs", outputs},
      {"calls",
       {{{"kernel", compiled.function}, {"op", spec.op}, {"args", args}}}}};
  const std::string path =
      (fs::path(planDir_) /
       ("plan" + std::to_string(plansWritten_++) + ".json"))
          .string();
  std::ofstream out(path);
  out << plan.dump(2);
  if (!out) {
    throw std::runtime_error("cannot write " + path);
  }
  return path;
}

std::vector<runtime::Tensor>
KernelBatch::run(const codegen::KernelSpec &spec,
                 const std::vector<runtime::Tensor> &inputs) {
  const std::string key = spec.key();
  if (!compiled_.count(key)) {
    add(spec);
    compilePending();
  }
  const Compiled &compiled = compiled_.at(key);
  if (!compiled.error.empty()) {
    throw std::runtime_error("codegen failed for " + spec.op + ": " +
                             compiled.error);
  }
  if (inputs.size() != spec.inputs.size()) {
    throw std::invalid_argument("run: " + std::to_string(inputs.size()) +
                                " inputs for a spec with " +
                                std::to_string(spec.inputs.size()));
  }
  runtime::Session session = runtime::Session::load(writePlan(spec, compiled));
  session.prepare();
  for (size_t i = 0; i < inputs.size(); ++i) {
    session.setInput("in" + std::to_string(i), inputs[i]);
  }
  session.run();
  std::vector<runtime::Tensor> outputs;
  for (size_t i = 0; i < spec.outputs.size(); ++i) {
    outputs.push_back(session.output("out" + std::to_string(i)));
  }
  return outputs;
}

bool testsGpuTarget() {
  const char *target = std::getenv("KILN_TEST_TARGET");
  return target && *target;
}

bool lacksGpuSchedule(const std::exception &e) {
  return testsGpuTarget() &&
         std::string(e.what()).find("has no GPU schedule yet") !=
             std::string::npos;
}

codegen::CompileOptions testCompileOptions() {
  codegen::CompileOptions options;
  options.cacheDir = testCacheDir();
  // $KILN_TEST_TARGET runs the same cases on another target (the GPU
  // suite: host-opencl on PoCL).
  if (const char *target = std::getenv("KILN_TEST_TARGET"); target && *target) {
    options.target = target;
  }
  return options;
}

KernelBatch &sharedKernelBatch() {
  static KernelBatch batch(testCompileOptions());
  return batch;
}

} // namespace kiln::test
