//===- Lowering.cpp - entry function -> buffers, specs and calls -----------===//
#include "CompilerInternal.h"

#include "kiln/ir/KilnDialect.h"
#include "kiln/ir/KilnFusion.h"
#include "kiln/passes/Layout.h"

#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;

namespace kiln::compiler::detail {

// "file:line:col" of the first file location in `loc` (fused ops carry
// several), else MLIR's own text of it; for --check-numerics messages.
static std::string locationText(Location loc) {
  std::string text;
  loc->walk([&](Location inner) {
    if (auto file = llvm::dyn_cast<FileLineColLoc>(inner)) {
      text = (file.getFilename().str() + ":" + std::to_string(file.getLine()) +
              ":" + std::to_string(file.getColumn()));
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (text.empty()) {
    llvm::raw_string_ostream os(text);
    os << loc;
  }
  return text;
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

namespace {

// The value's logical shape and dtype, and the layout kiln-layout gave it.
codegen::TensorSpec tensorSpec(Value value) {
  auto type = llvm::cast<RankedTensorType>(value.getType());
  codegen::TensorSpec spec;
  spec.shape.assign(type.getShape().begin(), type.getShape().end());
  spec.dtype = type.getElementType().isInteger(32) ? codegen::DType::I32
                                                   : codegen::DType::F32;
  spec.layout = passes::layoutOf(value);
  return spec;
}

// A layout-agnostic (elementwise) kernel over blocked tensors reads and
// writes them in their physical order: its spec names the physical dims.
codegen::TensorSpec physical(codegen::TensorSpec t) {
  t.shape = t.physicalShape();
  t.layout.clear();
  return t;
}

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

} // namespace

// A float of a const buffer in plan.json: a number, or "inf", "-inf" or
// "nan", which JSON has no numbers for (nlohmann writes them as null, which
// no reader takes back: an attention mask's -inf made every cached plan
// unreadable, so each run compiled the model again).
static json planFloat(float v) {
  if (std::isfinite(v)) {
    return v;
  }
  return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
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
    // A blocked tensor's buffer holds its physical dims (docs/layout.md).
    json buffer = {{"name", std::move(name)},
                   {"shape", spec.physicalShape()},
                   {"dtype", codegen::dtypeName(spec.dtype)},
                   {"kind", kind}};
    if (spec.blocked()) {
      buffer["layout"] = spec.layout;
    }
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
    // Integer labels of a sparse categorical cross-entropy: the plan says
    // their range, [0, classes), which random inputs use and GPU sessions
    // check on the host (device kernels cannot fail).
    // Gather's and GatherElements' run-time indices likewise, signed:
    // [-rows, rows) (negative ones count from the end). NLL's labels: [0,
    // classes) or its ignore index.
    for (Operation *user : arg.getUsers()) {
      Value logits;
      int64_t axis = 1;
      bool gathers = false;
      std::optional<int64_t> ignore;
      if (auto nll = llvm::dyn_cast<kiln::ir::NllLossOp>(user)) {
        logits = nll.getTarget() == arg ? nll.getInput() : Value();
        ignore = nll.getIgnoreIndex();
      } else if (auto cce = llvm::dyn_cast<kiln::ir::SparseCCEOp>(user)) {
        logits = cce.getLabels() == arg ? cce.getLogits() : Value();
      } else if (auto grad = llvm::dyn_cast<kiln::ir::LossGradOp>(user)) {
        logits = grad.getLoss() == "sparse_cce" && grad.getTarget() == arg
                     ? grad.getPred()
                     : Value();
      } else if (auto gather = llvm::dyn_cast<kiln::ir::GatherOp>(user)) {
        logits = gather.getIndices() == arg ? gather.getInput() : Value();
        axis = gather.getAxis();
        gathers = true;
      } else if (auto elements =
                     llvm::dyn_cast<kiln::ir::GatherElementsOp>(user)) {
        logits = elements.getIndices() == arg ? elements.getInput() : Value();
        axis = elements.getAxis();
        gathers = true;
      }
      if (logits) {
        out.buffers.back()["classes"] =
            llvm::cast<RankedTensorType>(logits.getType()).getDimSize(axis);
        if (gathers) {
          out.buffers.back()["signed_indices"] = true;
        }
        if (ignore) {
          out.buffers.back()["ignore_index"] = *ignore;
        }
      }
    }
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
      // One value repeated (ONNX's ConstantOfShape, zeros): the plan holds it
      // once, not a JSON number per element (a VGG-19 whose weights are
      // ConstantOfShape wrote a 3.3 GB plan).
      if (elements.isSplat()) {
        if (elements.getElementType().isF32()) {
          out.buffers[id]["splat"] = planFloat(elements.getSplatValue<float>());
        } else {
          out.buffers[id]["splat"] =
              elements.getSplatValue<APInt>().getSExtValue();
        }
        continue;
      }
      json data = json::array();
      if (elements.getElementType().isF32()) {
        for (float v : elements.getValues<float>()) {
          data.push_back(planFloat(v));
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
    // Only a kernel that touches a blocked value asks kiln-layout's rules.
    bool agnostic =
        op.hasAttr(passes::kLayoutsAttr) ||
                llvm::any_of(op.getOperands(),
                             [](Value v) { return !passes::layoutOf(v).empty(); })
            ? passes::layoutCapability(&op).agnostic
            : false;
    auto specOf = [&](Value v) {
      codegen::TensorSpec t = tensorSpec(v);
      return agnostic && t.blocked() ? physical(t) : t;
    };
    for (Value operand : op.getOperands()) {
      spec.inputs.push_back(specOf(operand));
      args.push_back(bufferOf.at(operand));
    }
    auto offsets = op.getAttrOfType<DenseI64ArrayAttr>("kiln.offsets");
    for (auto [i, result] : llvm::enumerate(op.getResults())) {
      spec.outputs.push_back(specOf(result));
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
    out.locs.push_back(locationText(op.getLoc()));
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
    out.locs.push_back(locationText(param.getLoc()));
  }
  return out;
}

} // namespace kiln::compiler::detail
