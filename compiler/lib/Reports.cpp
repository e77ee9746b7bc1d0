//===- Reports.cpp - kiln inspect's summary, memory report and SVG ---------===//
#include "CompilerInternal.h"

#include "kiln/ir/KilnDialect.h"
#include "kiln/ir/KilnFusion.h"
#include "kiln/passes/Layout.h"
#include "kiln/support/Hash.h"

#include "mlir/IR/AsmState.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

using namespace mlir;
namespace fs = std::filesystem;
using nlohmann::json;

namespace kiln::compiler {

using namespace detail;
using support::fnv1a;

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
      // kiln-layout's physical layout, after the logical shape.
      if (std::string layout = passes::layoutOf(result); !layout.empty()) {
        node.result += " " + layout;
      }
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
