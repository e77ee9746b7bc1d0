//===- Compiler.cpp - model file -> plan + kernel library -----------------===//
//
// 1. The cache key, before anything is parsed: the model file's bytes, the
//    pass pipeline of the mode printed with its options, the target and the
//    sources that shape a plan. On a hit, return the stored plan, read once.
// 2. Otherwise parse (or import) the model and verify it; the first
//    diagnostic becomes the error message, with file:line:col.
// 3. Run the pipeline, lower the entry function (Lowering.cpp).
// 4. Compile the specs with codegen into one library and write the plan
//    atomically (temp file + rename), so an interrupted run never leaves a
//    half-written plan in the cache; return it in memory.
//
// Reports.cpp holds kiln inspect's summary and the memory report.
//
//===----------------------------------------------------------------------===//
#include "kiln/compiler/Compiler.h"

#include "CompilerInternal.h"

#include "CompilerSourceHash.h"
#include "kiln/codegen/Codegen.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/ir/KilnFusion.h"
#include "kiln/runtime/Plan.h"
#include "kiln/runtime/Safetensors.h"
#include "kiln/support/Align.h"
#include "kiln/support/Checksum.h"
#include "kiln/support/Cpu.h"
#include "kiln/support/Hash.h"
#ifdef KILN_HAVE_ONNX
#include "kiln/frontend/Onnx.h"
#endif
#include "kiln/passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/xxhash.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <unistd.h>

using namespace mlir;
namespace fs = std::filesystem;
using nlohmann::json;

namespace kiln::compiler {

using detail::LoadedModel;

namespace {

// Bump when the plan format or lowering changes: old cache entries are then
// ignored.
constexpr const char *kPlanVersion = "kiln-plan-4";

using support::fnv1a;
using support::hex16;

// Imports an ONNX model: its graph as kiln IR, its initializers as weights.
void importOnnxModel(const std::string &path, const CompileOptions &options,
                     LoadedModel &model) {
#ifdef KILN_HAVE_ONNX
  frontend::OnnxImportOptions importOptions;
  importOptions.batch = options.batch > 0 ? options.batch : 1;
  frontend::OnnxModel onnx;
  try {
    onnx = frontend::importOnnx(path, model.context, importOptions);
  } catch (const std::exception &e) {
    throw Error(e.what());
  }
  model.module = std::move(onnx.module);
  for (const auto &[name, tensor] : onnx.weights) {
    runtime::Tensor value(tensor.shape, runtime::DType::F32);
    for (int64_t i = 0; i < value.numElements(); ++i) {
      value.f32()[i] = static_cast<float>(tensor.values[i]);
    }
    model.weights.emplace(name, std::move(value));
  }
#else
  (void)options;
  (void)model;
  throw Error("'" + path + "': this kiln was built without ONNX support "
              "(libonnx-dev and libprotobuf-dev were missing)");
#endif
}

// Collects the first error diagnostic as "file:line:col: message".
class FirstError {
public:
  explicit FirstError(MLIRContext &context)
      : handler_(&context, [this](Diagnostic &diag) {
          if (diag.getSeverity() == DiagnosticSeverity::Error &&
              message_.empty()) {
            std::string loc;
            if (auto file = llvm::dyn_cast<FileLineColLoc>(diag.getLocation())) {
              loc = (file.getFilename().str() + ":" +
                     std::to_string(file.getLine()) + ":" +
                     std::to_string(file.getColumn()) + ": ");
            }
            message_ = loc + diag.str();
          }
          return success();
        }) {}
  std::string take(const std::string &fallback) {
    return message_.empty() ? fallback : message_;
  }

private:
  std::string message_;
  ScopedDiagnosticHandler handler_;
};

void checkModelFile(const std::string &path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw Error("cannot open model '" + path + "': no such file");
  }
  if (fs::is_directory(path, ec)) {
    throw Error("cannot open model '" + path + "': it is a directory");
  }
}

void writeAtomically(const fs::path &path, const std::string &text) {
  fs::path temp = path;
  temp += ".tmp" + std::to_string(::getpid());
  {
    std::ofstream file(temp, std::ios::binary);
    file << text;
    if (!file) {
      throw Error("cannot write '" + temp.string() + "'");
    }
  }
  support::writeSum(path.string(), temp.string()); // before it is in place
  fs::rename(temp, path);
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

namespace detail {

std::string shapeString(RankedTensorType type) {
  std::string s;
  for (int64_t d : type.getShape()) {
    s += std::to_string(d) + "x";
  }
  return s + (type.getElementType().isInteger(32) ? "i32" : "f32");
}

// kiln-fuse's projection form (MobileNetV2's inverted residual block in one
// kernel, docs/fusion.md) by default only where the expanded plane is
// narrower than this. Intel Xeon (family 6 model 167), 2 threads, `kiln
// bench --profile` with and without --projection-fusion, the fused kernel
// against the producer + projection it replaces, ms per inference: 28x28
// (192 channels, 2 blocks) at batch 1 0.190 + 0.106 -> 0.253, at batch 8
// 1.168 + 0.664 -> 1.728; 56x56 (144 channels) at batch 1 0.156 + 0.073 ->
// 0.244, at batch 8 1.133 + 0.621 -> 1.837 (session 32).
constexpr int64_t kProjectionMaxColumns = 40;

// kiln-winograd's small-plane-tiles: one image's forward convolutions on
// planes of at most this many 2x2 tiles take Winograd, under the
// pipelines' min-image-plane (28x28).
// - 8-lane (AVX2) targets: 16, the 7x7 planes, whose direct register tiles
//   compute 10 positions per row of 7; on Zen 2 the 14x14 layers lost by
//   Winograd (docs/codegen.md).
// - AVX-512 with full-width FMAs (Zen 5, the Intel Xeon): 0. The direct
//   form won on 14x14 and 7x7 (Zen 5, `--winograd 4|0`: 0.77 against 0.72
//   and 1.10 against 0.82 ms per call; the Xeon's 14x14 layers 2.13 ->
//   2.15-2.18 ms by Winograd, session 37).
// - AVX-512 on a CPU that runs 512-bit FMAs as two 256-bit halves (AMD Zen
//   4: support::cpuHalvesWideVectors): 49, the 14x14 and 7x7 planes.
//   ResNet-18 at batch 1, 2 threads, `kiln bench --profile --runs 150`, two
//   rounds of 0 / 16 / 49: its 256 -> 256 layers on 14x14 2.15-2.17 + 1.08
//   ms direct -> 1.54-1.58 + 0.76-0.78 by Winograd, its 512 -> 512 layers
//   on 7x7 2.22-2.23 + 1.11-1.12 -> 1.94-1.98 + 0.95-0.96, the model
//   14.4-14.6 -> 13.2-13.7 ms.
constexpr int64_t kSmallPlaneTilesAvx2 = 16;
constexpr int64_t kSmallPlaneTilesHalvedAvx512 = 49;

// kiln-winograd's min-reduction: a forward convolution or an input
// gradient takes Winograd only where it sums over this many channels or
// more.
// - 32 by default. Over 16 the transforms cost more than the multiplies
//   save (Intel Xeon, 2 threads, `kiln bench --profile --winograd 0|4`: the
//   example CNN's 16 -> 32 on 14x14 at batch 64 0.413-0.422 ms direct
//   against 0.621-0.640 Winograd in inference, 0.427-0.441 against
//   0.591-0.610 in training), over 32 they repay them (the same CNN's
//   input gradient 32 -> 16: 0.521-0.537 against 0.556-0.575 direct;
//   LeNet's 32 -> 64 at batch 64: 1.30 against 1.44).
// - 16 on a CPU that runs 512-bit FMAs as two halves (Zen 4), where the
//   same layer measured the other way (2 threads, FMA peak 231-234
//   GFLOP/s, the host target against the target named in full, session
//   56): at batch 64 0.601-0.613 ms direct (188-192 GFLOP/s, its max pool
//   fused) against 0.384-0.402 by Winograd + 0.028 for the pool, the model
//   0.843-0.848 -> 0.666-0.670 ms in four alternating pairs of `kiln bench
//   --runs 200`; its training step at batch 64 2.84-2.91 -> 2.61-2.69 ms
//   (the forward conv 0.793 -> 0.528). With the pool as the Winograd
//   kernel's tail and 2 chunks of 4 images at batch 8 (docs/codegen.md),
//   the example CNN at batch 1 / 8 / 16: 0.022-0.025 / 0.099-0.100 /
//   0.175 ms against 0.027 / 0.125 / 0.227-0.230 direct.
constexpr int64_t kMinReduction = 32;
constexpr int64_t kMinReductionHalvedAvx512 = 16;

void buildPipeline(PassManager &pm, const CompileOptions &options) {
  // The options both pipelines take.
  auto common = [&](auto &pipeline) {
    pipeline.batch = options.batch;
    pipeline.fuse = options.fusion;
    pipeline.fusion.epilogue = options.fuseEpilogues;
    pipeline.fusion.elementwise = options.fuseElementwise;
    pipeline.fusion.prologue = options.fusePrologues;
    pipeline.fusion.producer = options.fuseProducers;
    pipeline.fusion.projection =
        options.fuseProjections || options.fuseWideProjections;
    pipeline.fusion.projectionMaxColumns =
        options.fuseWideProjections ? 0 : kProjectionMaxColumns;
    pipeline.fusion.attention = options.fuseAttention;
    pipeline.fusion.sinks = options.fuseSinks;
    pipeline.fusion.recompute = options.fuseRecompute;
    pipeline.fusion.pool = options.fusePools;
    pipeline.fusion.recomputeConv = options.fuseRecomputeConv;
    pipeline.foldBatchNorm = options.foldBatchNorm;
    if (options.winogradTile >= 0) {
      pipeline.winogradTile = options.winogradTile;
    }
    int lanes = codegen::floatVectorWidth(options.target);
    pipeline.packBlock = options.packWeights ? lanes : 0;
    // A host target runs here; a target named in full may run anywhere.
    bool host = options.target.empty() || options.target.rfind("host", 0) == 0;
    bool halved = lanes == 16 && host && support::cpuHalvesWideVectors();
    pipeline.winogradSmallPlaneTiles = lanes == 8 ? kSmallPlaneTilesAvx2
                                       : halved   ? kSmallPlaneTilesHalvedAvx512
                                                  : 0;
    pipeline.winogradMinReduction =
        halved ? kMinReductionHalvedAvx512 : kMinReduction;
    pipeline.winogradFilterBlock = lanes == 8 ? 16 : 8;
    if (options.layout != "nchw" && options.layout != "nchw16c") {
      throw Error("unknown layout '" + options.layout +
                  "' (nchw or nchw16c)");
    }
    pipeline.blockedLayout = options.layout == "nchw16c";
    // A GPU plan's buffers are sub-buffers of one device allocation, at
    // offsets the device can address (kiln-plan-memory's alignment).
    bool gpu = !options.target.empty() && options.target != "host" &&
               codegen::targetInfo(options.target).gpu;
    pipeline.arenaAlignment =
        gpu ? support::kDeviceAlignment : support::kAlignment;
    if (gpu) {
      // The GPU convolutions' weight layout in place of the CPU's blocks;
      // Winograd and the pointwise-into-depthwise producer form have no
      // GPU schedule (docs/gpu.md).
      pipeline.packForGpu = pipeline.packBlock > 0;
      pipeline.packBlock = 0;
      pipeline.winogradTile = 0;
      pipeline.fusion.producer = false;
    }
    return gpu;
  };
  if (options.mode == Mode::Inference) {
    passes::InferencePipelineOptions pipeline;
    bool gpu = common(pipeline);
    // Image by image keeps a CPU's caches warm; a GPU wants the batch.
    pipeline.splitBatch = options.splitBatch && !gpu;
    passes::buildInferencePipeline(pm, pipeline);
    return;
  }
  const TrainingOptions &t = options.training;
  passes::TrainPipelineOptions pipeline;
  common(pipeline);
  pipeline.loss.loss = t.loss;
  pipeline.loss.delta = t.delta;
  pipeline.loss.l1 = t.l1;
  pipeline.loss.l2 = t.l2;
  pipeline.optimizer.kind = t.optimizer;
  pipeline.optimizer.momentum = t.momentum;
  pipeline.optimizer.dampening = t.dampening;
  pipeline.optimizer.beta1 = t.beta1;
  pipeline.optimizer.beta2 = t.beta2;
  pipeline.optimizer.epsilon = t.epsilon;
  pipeline.optimizer.rho = t.rho;
  pipeline.optimizer.alpha = t.alpha;
  pipeline.optimizer.lrDecay = t.lrDecay;
  pipeline.optimizer.weightDecay = t.weightDecay;
  pipeline.optimizer.clipValue = t.clipValue;
  pipeline.frozen = t.frozen;
  pipeline.dropoutRate = t.dropoutRate;
  pipeline.augment = t.augment;
  pipeline.optimizer.clipNorm = t.clipNorm;
  pipeline.optimizer.gradNorms = t.gradNorms;
  pipeline.memoryBudget = t.memoryBudget;
  if (options.mode == Mode::Train) {
    passes::buildTrainPipeline(pm, pipeline);
  } else if (options.mode == Mode::Gradients) {
    passes::buildGradientPipeline(pm, pipeline);
  } else {
    passes::buildEvalPipeline(pm, pipeline);
  }
}

std::unique_ptr<LoadedModel> loadModel(const std::string &path,
                                       const CompileOptions &options) {
  checkModelFile(path);
  auto start = std::chrono::steady_clock::now();
  auto model = std::make_unique<LoadedModel>();
  model->context.loadDialect<kiln::ir::KilnDialect, func::FuncDialect>();
  FirstError errors(model->context);
  if (fs::path(path).extension() == ".onnx") {
    importOnnxModel(path, options, *model);
  } else {
    llvm::SourceMgr sourceMgr;
    std::string includeError;
    if (sourceMgr.AddIncludeFile(path, SMLoc(), includeError) == 0) {
      throw Error("cannot read model '" + path + "'");
    }
    model->module = parseSourceFile<ModuleOp>(sourceMgr, &model->context);
    if (!model->module) {
      throw Error(errors.take(path + ": not a valid kiln model"));
    }
  }
  model->importSeconds = secondsSince(start);
  start = std::chrono::steady_clock::now();
  PassManager pm(&model->context);
  buildPipeline(pm, options);
  if (failed(pm.run(*model->module))) {
    throw Error(errors.take(path + ": the inference pipeline failed"));
  }
  model->passSeconds = secondsSince(start);
  for (auto func : model->module->getOps<func::FuncOp>()) {
    if (func.isExternal()) {
      continue;
    }
    if (func.getSymName() == "main" || !model->entry) {
      model->entry = func;
    }
  }
  if (!model->entry) {
    throw Error(path + ": the model has no function (expected func.func @main)");
  }
  llvm::raw_string_ostream os(model->ir);
  model->module->print(os);
  return model;
}

} // namespace detail

using detail::buildPipeline;
using detail::loadModel;
using detail::lower;
using detail::Lowered;

int importModel(const std::string &onnxPath, const std::string &irPath,
                const std::string &weightsPath, int64_t batch) {
  if (fs::path(onnxPath).extension() != ".onnx") {
    throw Error("'" + onnxPath + "': kiln import takes an .onnx model");
  }
  LoadedModel model;
  model.context.loadDialect<kiln::ir::KilnDialect, func::FuncDialect>();
  CompileOptions options;
  options.batch = batch;
  importOnnxModel(onnxPath, options, model);
  std::string text;
  llvm::raw_string_ostream os(text);
  model.module->print(os);
  writeAtomically(irPath, os.str());
  if (!weightsPath.empty()) {
    runtime::writeSafetensors(weightsPath, model.weights);
  }
  return static_cast<int>(model.weights.size());
}

std::string versionText() {
  return std::string("kiln ") + KILN_VERSION + " (sources " +
         KILN_COMPILER_SOURCE_HASH + ")\nMLIR " + LLVM_VERSION_STRING + "\n" +
         codegen::describeCodegen();
}

std::string defaultCacheDir() {
  if (const char *dir = std::getenv("KILN_CACHE_DIR"); dir && *dir) {
    return dir;
  }
  if (const char *home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.cache/kiln";
  }
  return (fs::temp_directory_path() / "kiln-cache").string();
}

std::vector<std::string> scheduleChoices() {
  std::vector<std::string> choices = {"hand"};
  for (const char *name : codegen::kAutoSchedulers) {
    choices.push_back(codegen::kAutoSchedulePrefix + std::string(name));
  }
  return choices;
}

namespace {

void checkSchedule(const std::string &schedule) {
  std::vector<std::string> choices = scheduleChoices();
  if (std::find(choices.begin(), choices.end(), schedule) == choices.end()) {
    std::string known;
    for (const std::string &choice : choices) {
      known += (known.empty() ? "" : ", ") + choice;
    }
    throw Error("unknown schedule '" + schedule + "' (" + known + ")");
  }
}

// The pass pipeline of options.mode, printed with every option it was
// built with (kiln-opt --pass-pipeline accepts it as it is).
std::string pipelineText(const CompileOptions &options) {
  MLIRContext context(MLIRContext::Threading::DISABLED);
  PassManager pm(&context);
  buildPipeline(pm, options);
  std::string pipeline;
  llvm::raw_string_ostream os(pipeline);
  pm.printAsTextualPipeline(os);
  os.flush();
  return pipeline;
}

// The plan cache key, computed before any import or pass: a hash of the
// model file's bytes, the pass pipeline with every option it was built
// with (printed as text, so a new pass option is part of the key without
// being listed here), the target, the kind of library and the sources of
// everything that shapes a plan. A cache hit then costs one read of the
// model file and one of the plan: no import, no pass.
std::string planKey(const std::string &modelPath, const std::string &pipeline,
                    const CompileOptions &options) {
  // Mapped, not copied: a warm start reads a 45 MB ONNX file once, here.
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file =
      llvm::MemoryBuffer::getFile(modelPath, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!file) {
    throw Error("cannot open model '" + modelPath +
                "': " + file.getError().message());
  }
  return hex16(fnv1a(std::string(kPlanVersion) + "\n" +
                     KILN_COMPILER_SOURCE_HASH + "\n" + options.target +
                     "\n" + options.schedule +
                     (options.link ? "\n" : "\nobjects-only\n") + pipeline +
                     "\n" + hex16(llvm::xxh3_64bits((*file)->getBuffer()))));
}

} // namespace

CompiledModel compileModel(const std::string &modelPath,
                           const CompileOptions &options) {
  auto start = std::chrono::steady_clock::now();
  checkModelFile(modelPath);
  checkSchedule(options.schedule);
  std::string cacheDir =
      options.cacheDir.empty() ? defaultCacheDir() : options.cacheDir;
  CompiledModel result;
  result.pipeline = pipelineText(options);
  fs::path planDir = fs::path(cacheDir) / "models" /
                     planKey(modelPath, result.pipeline, options);
  fs::path planPath = planDir / "plan.json";
  result.planPath = planPath.string();
  std::error_code ec;
  if (fs::exists(planPath, ec) && options.dumpDir.empty()) {
    // A plan that does not read back (say, from an older kiln or a
    // damaged cache) is rebuilt and replaced, not an error.
    std::optional<runtime::Plan> plan;
    try {
      plan = runtime::readPlan(result.planPath);
    } catch (const runtime::Error &) {
    }
    // Every artifact the plan names must match its sidecar
    // (kiln/support/Checksum.h): a damaged plan, weights file, library or
    // object makes this a miss, and the compilation below rebuilds it.
    auto intact = [&](const std::string &path) {
      bool ok = support::verifySum(path);
      if (!ok && options.verbose) {
        std::fprintf(stderr,
                     "kiln: %s is damaged or missing (it does not match its "
                     ".sum): rebuilding\n",
                     path.c_str());
      }
      return ok;
    };
    bool usable = plan && intact(result.planPath) &&
                  (plan->weights.empty() || intact(plan->weights));
    if (usable && options.link) {
      usable = intact(plan->library);
    } else if (usable) {
      usable = intact(plan->runtimeObject);
      for (const std::string &object : plan->objects) {
        usable = usable && intact(object);
      }
    }
    if (usable) {
      result.cached = true;
      result.kernels = static_cast<int>(plan->kernelCount);
      for (const runtime::PlanCall &call : plan->calls) {
        ++(call.once ? result.loadTimeCalls : result.calls);
      }
      result.originalSeconds = plan->compileSeconds;
      result.plan = std::make_shared<const runtime::Plan>(std::move(*plan));
      result.seconds = secondsSince(start);
      return result;
    }
  }

  std::unique_ptr<LoadedModel> model = loadModel(modelPath, options);
  auto phaseStart = std::chrono::steady_clock::now();
  auto phase = [&](const char *name) {
    result.phases.emplace_back(name, secondsSince(phaseStart));
    phaseStart = std::chrono::steady_clock::now();
  };
  result.phases = {{"import", model->importSeconds},
                   {"passes", model->passSeconds}};
  // compileKernels checks every spec (in kiln-codegen-worker) before it
  // compiles any, and names the op of a bad one.
  Lowered lowered = lower(model->entry);
  if (options.schedule != "hand") {
    for (codegen::KernelSpec &spec : lowered.specs) {
      spec.schedule = options.schedule;
    }
  }
  phase("lowering");
  codegen::CompileOptions codegenOptions;
  codegenOptions.target = options.target;
  codegenOptions.cacheDir = cacheDir;
  codegenOptions.verbose = options.verbose;
  codegenOptions.dumpDir = options.dumpDir;
  codegenOptions.link = options.link;
  codegen::CompiledLibrary library;
  try {
    library = codegen::compileKernels(lowered.specs, codegenOptions);
  } catch (const codegen::Error &e) {
    throw Error(e.what());
  }
  phase("codegen");

  json calls = lowered.callsJson(library.functionNames);
  std::vector<std::string> distinct = library.functionNames;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());

  result.kernels = static_cast<int>(distinct.size());
  result.loadTimeCalls = static_cast<int>(
      std::count(lowered.once.begin(), lowered.once.end(), true));
  result.calls = static_cast<int>(calls.size()) - result.loadTimeCalls;
  result.kernelsCompiled = library.kernelsCompiled;
  result.seconds = secondsSince(start);
  result.originalSeconds = result.seconds;

  json kernelSpecs = json::object();
  for (size_t i = 0; i < lowered.specs.size(); ++i) {
    kernelSpecs[library.functionNames[i]] = lowered.specs[i].toJson();
  }
  json plan = {{"version", 1},
               {"model", fs::absolute(modelPath).string()},
               {"library", library.path},
               {"target", options.target},
               {"buffers", std::move(lowered.buffers)},
               {"inputs", std::move(lowered.inputs)},
               {"outputs", std::move(lowered.outputs)},
               {"calls", std::move(calls)},
               {"kernel_count", result.kernels},
               {"kernel_specs", std::move(kernelSpecs)},
               {"objects", library.objectPaths},
               {"runtime_object", library.runtimeObject},
               {"error_handler_source", library.errorHandlerSource},
               {"compile_seconds", result.seconds}};
  plan.update(lowered.memory);
  fs::create_directories(planDir);
  if (!model->weights.empty()) {
    // The model's own parameter values (ONNX initializers), loaded by the
    // runtime in place of the initializers.
    std::string weights = (planDir / "weights.safetensors").string();
    runtime::writeSafetensors(weights, model->weights);
    support::writeSum(weights); // before the plan that names it
    plan["weights"] = "weights.safetensors";
  }
  writeAtomically(planPath, plan.dump(1));
  writeAtomically(planDir / "model.mlir", model->ir);
  phase("writing the plan and weights");
  try {
    result.plan = std::make_shared<const runtime::Plan>(
        runtime::planFromJson(plan, result.planPath));
  } catch (const runtime::Error &e) {
    throw Error(std::string("internal error: the plan kiln wrote does not "
                            "read back: ") + e.what());
  }
  return result;
}


} // namespace kiln::compiler
