//===- Compiler.cpp - model file -> plan + kernel library -----------------===//
//
// 1. Parse the model (kiln dialect text) and verify it; the first diagnostic
//    becomes the error message, with file:line:col.
// 2. Run the inference pipeline (shape inference with the batch, canonicalize,
//    CSE) and hash the resulting IR with the target: the cache key.
// 3. On a cache hit, return the stored plan. Otherwise lower the entry
//    function: each value gets a buffer (input, param, const, view or temp),
//    each KernelOpInterface op a kernel call with its KernelSpec.
// 4. Compile the specs with codegen into one library and write the plan
//    atomically (temp file + rename), so an interrupted run never leaves a
//    half-written plan in the cache.
//
//===----------------------------------------------------------------------===//
#include "kiln/compiler/Compiler.h"

#include "CompilerSourceHash.h"
#include "kiln/codegen/Codegen.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/ir/KilnFusion.h"
#include "kiln/runtime/Plan.h"
#include "kiln/runtime/Safetensors.h"
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
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/xxhash.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

#include <unistd.h>

using namespace mlir;
namespace fs = std::filesystem;
using nlohmann::json;

namespace kiln::compiler {
namespace {

// Bump when the plan format or lowering changes: old cache entries are then
// ignored.
constexpr const char *kPlanVersion = "kiln-plan-3";

using support::fnv1a;
using support::hex16;

std::string shapeString(RankedTensorType type) {
  std::string s;
  for (int64_t d : type.getShape()) {
    s += std::to_string(d) + "x";
  }
  return s + (type.getElementType().isInteger(32) ? "i32" : "f32");
}

void buildPipeline(PassManager &pm, const CompileOptions &options) {
  if (options.mode == Mode::Inference) {
    passes::InferencePipelineOptions pipeline;
    pipeline.batch = options.batch;
    pipeline.fuse = options.fusion;
    pipeline.fusion.epilogue = options.fuseEpilogues;
    pipeline.fusion.elementwise = options.fuseElementwise;
    pipeline.fusion.prologue = options.fusePrologues;
    pipeline.foldBatchNorm = options.foldBatchNorm;
    passes::buildInferencePipeline(pm, pipeline);
    return;
  }
  const TrainingOptions &t = options.training;
  passes::TrainPipelineOptions pipeline;
  pipeline.batch = options.batch;
  pipeline.fuse = options.fusion;
  pipeline.fusion.epilogue = options.fuseEpilogues;
  pipeline.fusion.elementwise = options.fuseElementwise;
  pipeline.fusion.prologue = options.fusePrologues;
  pipeline.foldBatchNorm = options.foldBatchNorm;
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
  pipeline.optimizer.clipNorm = t.clipNorm;
  pipeline.memoryBudget = t.memoryBudget;
  if (options.mode == Mode::Train) {
    passes::buildTrainPipeline(pm, pipeline);
  } else if (options.mode == Mode::Gradients) {
    passes::buildGradientPipeline(pm, pipeline);
  } else {
    passes::buildEvalPipeline(pm, pipeline);
  }
}

// Owns the context and the parsed, pipelined module.
struct LoadedModel {
  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  func::FuncOp entry;
  std::string ir;
  // Parameter values that come with the model (ONNX initializers).
  std::map<std::string, runtime::Tensor> weights;
};

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

std::unique_ptr<LoadedModel> loadModel(const std::string &path,
                                       const CompileOptions &options) {
  checkModelFile(path);
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
  PassManager pm(&model->context);
  buildPipeline(pm, options);
  if (failed(pm.run(*model->module))) {
    throw Error(errors.take(path + ": the inference pipeline failed"));
  }
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

std::string argName(func::FuncOp func, unsigned index) {
  if (auto name = func.getArgAttrOfType<StringAttr>(index, "kiln.name")) {
    return name.str();
  }
  return "input" + std::to_string(index);
}

std::string resultName(func::FuncOp func, unsigned index) {
  if (auto name = func.getResultAttrOfType<StringAttr>(index, "kiln.name")) {
    return name.str();
  }
  return "output" + std::to_string(index);
}


codegen::TensorSpec tensorSpec(Value value) {
  auto type = llvm::cast<RankedTensorType>(value.getType());
  codegen::TensorSpec spec;
  spec.shape.assign(type.getShape().begin(), type.getShape().end());
  spec.dtype = type.getElementType().isInteger(32) ? codegen::DType::I32
                                                   : codegen::DType::F32;
  return spec;
}

// The plan of one entry function, before codegen fills in kernel names.
struct Lowered {
  json buffers = json::array();
  json inputs = json::array();
  json outputs = json::array();
  std::vector<codegen::KernelSpec> specs;
  std::vector<std::vector<int>> callArgs;
  std::vector<std::string> labels; // kiln::ir::kernelLabel of each call
  std::vector<bool> once;          // load-time calls (kiln.load_time)
  int viewOps = 0;
  json memory = json::object(); // arena_bytes, peak_live_bytes, naive_bytes

  // The plan's "calls" (docs/plan-format.md), kernel names given per call.
  json callsJson(const std::vector<std::string> &kernelNames) const {
    json calls = json::array();
    for (size_t i = 0; i < specs.size(); ++i) {
      calls.push_back({{"kernel", kernelNames[i]},
                       {"op", specs[i].op},
                       {"label", labels[i]},
                       {"once", static_cast<bool>(once[i])},
                       {"flops", specs[i].flops()},
                       {"args", callArgs[i]}});
    }
    return calls;
  }
};

// The function attributes kiln-plan-memory leaves (absent: not planned).
constexpr const char *kMemoryAttrs[] = {"arena_bytes", "peak_live_bytes",
                                        "naive_bytes"};

json initSpec(kiln::ir::ParamOp param) {
  auto type = llvm::cast<RankedTensorType>(param.getType());
  ArrayRef<int64_t> shape = type.getShape();
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) {
    receptive *= shape[i];
  }
  int64_t fanIn = shape.size() >= 2 ? shape[1] * receptive
                                    : (shape.empty() ? 1 : shape[0]);
  int64_t fanOut = shape.empty() ? 1 : shape[0] * receptive;
  return json{{"kind", param.getInit().str()},
              {"fan_in", param.getFanIn().value_or(fanIn)},
              {"fan_out", param.getFanOut().value_or(fanOut)}};
}

Lowered lower(func::FuncOp func) {
  Lowered out;
  for (const char *key : kMemoryAttrs) {
    if (auto attr = func->getAttrOfType<IntegerAttr>(std::string("kiln.") + key)) {
      out.memory[key] = attr.getInt();
    }
  }
  llvm::DenseMap<Value, int> bufferOf;
  auto addBuffer = [&](Value value, std::string name, const char *kind) {
    codegen::TensorSpec spec = tensorSpec(value);
    json buffer = {{"name", std::move(name)},
                   {"shape", spec.shape},
                   {"dtype", codegen::dtypeName(spec.dtype)},
                   {"kind", kind}};
    out.buffers.push_back(std::move(buffer));
    int id = static_cast<int>(out.buffers.size()) - 1;
    bufferOf[value] = id;
    return id;
  };

  Block &body = func.getBody().front();
  for (BlockArgument arg : body.getArguments()) {
    if (!llvm::isa<RankedTensorType>(arg.getType())) {
      throw Error("input #" + std::to_string(arg.getArgNumber()) +
                  " of the model is not a ranked tensor");
    }
    out.inputs.push_back(
        addBuffer(arg, argName(func, arg.getArgNumber()), "input"));
  }

  // Parameter write-backs run after every other kernel: until then, reads
  // of the parameter see its old value.
  std::vector<std::pair<Value, Value>> assigns;
  // State updates written straight into their parameter: no temp, no copy.
  llvm::DenseMap<Value, Value> updatesParam;
  for (auto assign : body.getOps<kiln::ir::AssignOp>()) {
    if (kiln::ir::isUpdatedInPlace(assign)) {
      updatesParam[assign.getValue()] = assign.getParam();
    }
  }
  int opIndex = 0;
  for (Operation &op : body) {
    ++opIndex;
    if (auto assign = llvm::dyn_cast<kiln::ir::AssignOp>(op)) {
      if (!updatesParam.count(assign.getValue())) {
        assigns.push_back({assign.getValue(), assign.getParam()});
      }
      continue;
    }
    if (auto ret = llvm::dyn_cast<func::ReturnOp>(op)) {
      for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
        out.outputs.push_back(
            {{"name", resultName(func, i)}, {"buffer", bufferOf.at(value)}});
      }
      continue;
    }
    std::string name = op.getName().stripDialect().str() + "_" +
                       std::to_string(opIndex);
    if (auto param = llvm::dyn_cast<kiln::ir::ParamOp>(op)) {
      int id = addBuffer(param, param.getName().str(), "param");
      out.buffers[id]["init"] = initSpec(param);
      continue;
    }
    if (auto constant = llvm::dyn_cast<kiln::ir::ConstantOp>(op)) {
      int id = addBuffer(constant, name, "const");
      auto elements = llvm::dyn_cast<DenseElementsAttr>(constant.getValue());
      if (!elements) {
        throw Error("constant " + name + " must be a dense elements attribute");
      }
      json data = json::array();
      if (elements.getElementType().isF32()) {
        for (float v : elements.getValues<float>()) {
          data.push_back(v);
        }
      } else {
        for (APInt v : elements.getValues<APInt>()) {
          data.push_back(v.getSExtValue());
        }
      }
      out.buffers[id]["data"] = std::move(data);
      continue;
    }
    if (llvm::isa<kiln::ir::ViewOpInterface>(op)) {
      int id = addBuffer(op.getResult(0), name, "view");
      out.buffers[id]["alias"] = bufferOf.at(op.getOperand(0));
      ++out.viewOps;
      continue;
    }
    auto kernelOp = llvm::dyn_cast<kiln::ir::KernelOpInterface>(op);
    if (!kernelOp) {
      std::string text;
      llvm::raw_string_ostream os(text);
      os << "op '" << op.getName() << "' at " << op.getLoc()
         << " cannot be lowered to a kernel";
      throw Error(os.str());
    }
    codegen::KernelSpec spec;
    spec.op = op.getName().stripDialect().str();
    FailureOr<json> attrs = kiln::ir::kernelAttributes(&op);
    if (failed(attrs)) {
      throw Error("cannot lower " + name + ": invalid attributes");
    }
    spec.attrs = std::move(*attrs);
    std::vector<int> args;
    for (Value operand : op.getOperands()) {
      spec.inputs.push_back(tensorSpec(operand));
      args.push_back(bufferOf.at(operand));
    }
    auto offsets = op.getAttrOfType<DenseI64ArrayAttr>("kiln.offsets");
    for (auto [i, result] : llvm::enumerate(op.getResults())) {
      spec.outputs.push_back(tensorSpec(result));
      if (auto param = updatesParam.find(result); param != updatesParam.end()) {
        int id = bufferOf.at(param->second);
        bufferOf[result] = id;
        args.push_back(id);
        continue;
      }
      int id = addBuffer(result, name, "temp");
      if (offsets && static_cast<int64_t>(i) < offsets.size() &&
          offsets[i] >= 0) {
        out.buffers[id]["offset"] = offsets[i];
      }
      args.push_back(id);
    }
    out.specs.push_back(std::move(spec));
    out.callArgs.push_back(std::move(args));
    out.labels.push_back(kiln::ir::kernelLabel(&op));
    out.once.push_back(op.hasAttr(kiln::ir::kLoadTimeAttr));
  }
  for (auto [value, param] : assigns) {
    codegen::KernelSpec copy;
    copy.op = "copy";
    copy.inputs.push_back(tensorSpec(value));
    copy.outputs.push_back(tensorSpec(param));
    out.specs.push_back(std::move(copy));
    out.callArgs.push_back({bufferOf.at(value), bufferOf.at(param)});
    out.labels.push_back("copy");
    out.once.push_back(false);
  }
  return out;
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
  fs::rename(temp, path);
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

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

std::string defaultCacheDir() {
  if (const char *dir = std::getenv("KILN_CACHE_DIR"); dir && *dir) {
    return dir;
  }
  if (const char *home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.cache/kiln";
  }
  return (fs::temp_directory_path() / "kiln-cache").string();
}

namespace {

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
  std::vector<uint8_t> bytes;
  {
    std::ifstream file(modelPath, std::ios::binary);
    if (!file) {
      throw Error("cannot open model '" + modelPath + "'");
    }
    bytes.assign(std::istreambuf_iterator<char>(file), {});
  }
  return hex16(fnv1a(std::string(kPlanVersion) + "\n" +
                     KILN_COMPILER_SOURCE_HASH + "\n" + options.target +
                     (options.link ? "\n" : "\nobjects-only\n") + pipeline +
                     "\n" + hex16(llvm::xxh3_64bits(bytes))));
}

} // namespace

CompiledModel compileModel(const std::string &modelPath,
                           const CompileOptions &options) {
  auto start = std::chrono::steady_clock::now();
  checkModelFile(modelPath);
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
    bool usable = plan && fs::exists(options.link ? plan->library
                                                  : plan->runtimeObject,
                                     ec);
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
  Lowered lowered = lower(model->entry);
  for (const codegen::KernelSpec &spec : lowered.specs) {
    try {
      codegen::validateSpec(spec);
    } catch (const codegen::Error &e) {
      throw Error(e.what());
    }
  }
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
    runtime::writeSafetensors((planDir / "weights.safetensors").string(),
                              model->weights);
    plan["weights"] = "weights.safetensors";
  }
  writeAtomically(planPath, plan.dump(1));
  writeAtomically(planDir / "model.mlir", model->ir);
  try {
    result.plan = std::make_shared<const runtime::Plan>(
        runtime::planFromJson(plan, result.planPath));
  } catch (const runtime::Error &e) {
    throw Error(std::string("internal error: the plan kiln wrote does not "
                            "read back: ") + e.what());
  }
  return result;
}

ModelSummary summarizeModel(const std::string &modelPath,
                            const CompileOptions &options) {
  std::unique_ptr<LoadedModel> model = loadModel(modelPath, options);
  ModelSummary summary;
  summary.ir = model->ir;
  func::FuncOp func = model->entry;
  llvm::DenseMap<Value, int> nodeOf;
  for (BlockArgument arg : func.getArguments()) {
    ModelSummary::Op node;
    node.name = "input";
    node.label = argName(func, arg.getArgNumber());
    node.result = shapeString(llvm::cast<RankedTensorType>(arg.getType()));
    summary.inputs.push_back(node.label);
    nodeOf[arg] = static_cast<int>(summary.nodes.size());
    summary.nodes.push_back(node);
  }
  for (Operation &op : func.getBody().front()) {
    ModelSummary::Op node;
    node.name = op.getName().getStringRef().str();
    node.label = op.getName().stripDialect().str();
    for (Value operand : op.getOperands()) {
      node.operands.push_back(nodeOf.lookup(operand));
    }
    if (auto ret = llvm::dyn_cast<func::ReturnOp>(op)) {
      for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
        summary.outputs.push_back(resultName(func, i));
      }
      node.label = "outputs";
    } else if (auto param = llvm::dyn_cast<kiln::ir::ParamOp>(op)) {
      node.label = param.getName().str();
      ++summary.params;
      summary.parameterCount +=
          llvm::cast<RankedTensorType>(param.getType()).getNumElements();
    } else if (llvm::isa<kiln::ir::ViewOpInterface>(op)) {
      ++summary.viewOps;
    } else if (llvm::isa<kiln::ir::KernelOpInterface>(op)) {
      node.label = kiln::ir::kernelLabel(&op);
      if (op.hasAttr(kiln::ir::kLoadTimeAttr)) {
        ++summary.loadTimeOps;
        node.label += " (load time)";
      } else {
        ++summary.kernelOps;
      }
    }
    for (Value result : op.getResults()) {
      node.result += (node.result.empty() ? "" : ", ") +
                     shapeString(llvm::cast<RankedTensorType>(result.getType()));
      nodeOf[result] = static_cast<int>(summary.nodes.size());
    }
    summary.nodes.push_back(node);
  }
  return summary;
}

std::string lowerPlanJson(const std::string &modelPath,
                          const CompileOptions &options) {
  std::unique_ptr<LoadedModel> model = loadModel(modelPath, options);
  Lowered lowered = lower(model->entry);
  json calls = lowered.callsJson(
      std::vector<std::string>(lowered.specs.size(), std::string()));
  json plan = {{"version", 1},
               {"model", fs::absolute(modelPath).string()},
               {"buffers", std::move(lowered.buffers)},
               {"inputs", std::move(lowered.inputs)},
               {"outputs", std::move(lowered.outputs)},
               {"calls", std::move(calls)}};
  plan.update(lowered.memory);
  return plan.dump(1);
}

MemoryReport planMemoryReport(const std::string &modelPath,
                              const CompileOptions &options) {
  std::unique_ptr<LoadedModel> model = loadModel(modelPath, options);
  func::FuncOp func = model->entry;
  MemoryReport report;
  auto intAttr = [&](const char *name) -> int64_t {
    auto attr = func->getAttrOfType<IntegerAttr>(name);
    return attr ? attr.getInt() : 0;
  };
  report.arenaBytes = intAttr("kiln.arena_bytes");
  report.peakLiveBytes = intAttr("kiln.peak_live_bytes");
  report.naiveBytes = intAttr("kiln.naive_bytes");
  report.rematBytesSaved = intAttr("kiln.remat_bytes_saved");
  report.rematFlops = intAttr("kiln.remat_flops");
  llvm::DenseMap<Value, int> bufferOf;
  int opIndex = 0;
  for (Operation &op : func.getBody().front()) {
    ++opIndex;
    if (llvm::isa<kiln::ir::AssignOp>(op)) {
      ++report.kernelCount;
      continue;
    }
    if (!llvm::isa<kiln::ir::KernelOpInterface>(op)) {
      continue;
    }
    ++report.kernelCount;
    auto offsets = op.getAttrOfType<DenseI64ArrayAttr>("kiln.offsets");
    auto live = op.getAttrOfType<DenseI64ArrayAttr>("kiln.live");
    auto inPlace = op.getAttrOfType<IntegerAttr>("kiln.in_place");
    if (!offsets || !live) {
      throw Error(modelPath + ": the memory plan is missing (op " +
                  op.getName().getStringRef().str() + ")");
    }
    std::string name =
        op.getName().stripDialect().str() + "_" + std::to_string(opIndex);
    for (auto [i, result] : llvm::enumerate(op.getResults())) {
      auto type = llvm::cast<RankedTensorType>(result.getType());
      MemoryReport::Buffer buffer;
      buffer.name = i == 0 ? name : name + "#" + std::to_string(i);
      buffer.op = op.getName().stripDialect().str();
      buffer.shape.assign(type.getShape().begin(), type.getShape().end());
      buffer.bytes = (type.getNumElements() * 4 + 63) / 64 * 64;
      buffer.offset = offsets[i];
      buffer.first = static_cast<int>(live[2 * i]);
      buffer.last = static_cast<int>(live[2 * i + 1]);
      if (inPlace && i == 0) {
        Value operand = op.getOperand(inPlace.getInt());
        while (Operation *def = operand.getDefiningOp()) {
          if (!llvm::isa<kiln::ir::ViewOpInterface>(def)) {
            break;
          }
          operand = def->getOperand(0);
        }
        buffer.inPlaceOf = bufferOf.lookup(operand);
      }
      bufferOf[result] = static_cast<int>(report.buffers.size());
      report.buffers.push_back(std::move(buffer));
    }
  }
  return report;
}

std::string memoryReportJson(const MemoryReport &report) {
  json buffers = json::array();
  for (const MemoryReport::Buffer &b : report.buffers) {
    json entry = {{"name", b.name},   {"op", b.op},         {"shape", b.shape},
                  {"bytes", b.bytes}, {"offset", b.offset}, {"first", b.first},
                  {"last", b.last}};
    if (b.inPlaceOf >= 0) {
      entry["in_place_of"] = report.buffers[b.inPlaceOf].name;
    }
    buffers.push_back(std::move(entry));
  }
  json out = {{"arena_bytes", report.arenaBytes},
              {"peak_live_bytes", report.peakLiveBytes},
              {"naive_bytes", report.naiveBytes},
              {"kernel_count", report.kernelCount},
              {"remat_bytes_saved", report.rematBytesSaved},
              {"remat_flops", report.rematFlops},
              {"buffers", std::move(buffers)}};
  return out.dump();
}

std::string memoryPlanSvg(const MemoryReport &report) {
  // Kernel steps across, arena offsets up; one rectangle per arena buffer.
  const double left = 90, top = 40, width = 960, height = 540;
  int steps = std::max(report.kernelCount, 1);
  double arena = std::max<double>(report.arenaBytes, 1);
  double stepWidth = width / steps;
  auto escape = [](const std::string &text) {
    std::string out;
    for (char c : text) {
      out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;"
             : c == '"' ? "&quot;" : std::string(1, c);
    }
    return out;
  };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\""
      << left + width + 20 << "\" height=\"" << top + height + 50
      << "\" font-family=\"sans-serif\" font-size=\"10\">\n";
  svg << "<text x=\"" << left << "\" y=\"20\" font-size=\"13\">arena "
      << report.arenaBytes << " B, peak live " << report.peakLiveBytes
      << " B, naive " << report.naiveBytes << " B</text>\n";
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << width
      << "\" height=\"" << height
      << "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (const MemoryReport::Buffer &b : report.buffers) {
    if (b.offset < 0) {
      continue;
    }
    double x = left + b.first * stepWidth;
    double w = (b.last - b.first + 1) * stepWidth;
    double y = top + height * (1 - (b.offset + b.bytes) / arena);
    double h = height * b.bytes / arena;
    unsigned hue = static_cast<unsigned>(fnv1a(b.op) % 360);
    svg << "<g><title>" << escape(b.name) << ": " << b.bytes << " B at "
        << b.offset << ", steps " << b.first << "-" << b.last
        << "</title><rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << w
        << "\" height=\"" << h << "\" fill=\"hsl(" << hue
        << ",60%,75%)\" stroke=\"#333\" stroke-width=\"0.5\"/>";
    if (h >= 10 && w >= 6.0 * b.name.size()) {
      svg << "<text x=\"" << x + 2 << "\" y=\"" << y + h / 2 + 3 << "\">"
          << escape(b.name) << "</text>";
    }
    svg << "</g>\n";
  }
  svg << "<text x=\"" << left + width / 2 << "\" y=\"" << top + height + 30
      << "\" text-anchor=\"middle\">kernel step (0-" << steps - 1
      << ")</text>\n";
  svg << "<text x=\"" << left - 5 << "\" y=\"" << top + height
      << "\" text-anchor=\"end\">0</text>\n";
  svg << "<text x=\"" << left - 5 << "\" y=\"" << top + 10
      << "\" text-anchor=\"end\">" << report.arenaBytes << "</text>\n";
  svg << "<text x=\"20\" y=\"" << top + height / 2
      << "\" transform=\"rotate(-90 20 " << top + height / 2
      << ")\" text-anchor=\"middle\">arena offset (bytes)</text>\n";
  svg << "</svg>\n";
  return svg.str();
}

} // namespace kiln::compiler
