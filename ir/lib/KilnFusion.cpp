//===- KilnFusion.cpp - fused kernels and kernel attributes ---------------===//
#include "kiln/ir/KilnFusion.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace kiln::ir;
using nlohmann::json;

#include "kiln/ir/KilnFusionInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "kiln/ir/KilnFusion.cpp.inc"

namespace {

FailureOr<json> attrToJson(Attribute attr, Operation *op, StringRef name) {
  if (auto b = llvm::dyn_cast<BoolAttr>(attr)) {
    return json(b.getValue());
  }
  if (auto i = llvm::dyn_cast<IntegerAttr>(attr)) {
    return json(i.getInt());
  }
  if (auto f = llvm::dyn_cast<FloatAttr>(attr)) {
    return json(f.getValueAsDouble());
  }
  if (auto s = llvm::dyn_cast<StringAttr>(attr)) {
    return json(s.str());
  }
  if (auto a = llvm::dyn_cast<DenseI64ArrayAttr>(attr)) {
    return json(std::vector<int64_t>(a.asArrayRef().begin(),
                                     a.asArrayRef().end()));
  }
  if (auto d = llvm::dyn_cast<DictionaryAttr>(attr)) {
    json object = json::object();
    for (NamedAttribute entry : d) {
      auto value = attrToJson(entry.getValue(), op, entry.getName());
      if (failed(value)) {
        return failure();
      }
      object[entry.getName().str()] = *value;
    }
    return object;
  }
  if (auto a = llvm::dyn_cast<ArrayAttr>(attr)) {
    json list = json::array();
    for (Attribute element : a) {
      auto value = attrToJson(element, op, name);
      if (failed(value)) {
        return failure();
      }
      list.push_back(*value);
    }
    return list;
  }
  return op->emitOpError() << "attribute '" << name
                           << "' has a kind kiln cannot lower: " << attr;
}

template <typename OpTy>
struct AnchorModel
    : FusionAnchorOpInterface::ExternalModel<AnchorModel<OpTy>, OpTy> {};

// batch_norm_grad(x, dy, ...) computes dy from its producer.
struct BatchNormGradPrologueModel
    : FusionPrologueOpInterface::ExternalModel<BatchNormGradPrologueModel,
                                               BatchNormGradOp> {
  unsigned getPrologueOperand(Operation *) const { return 1; }
};

} // namespace

FailureOr<json> kiln::ir::kernelAttributes(Operation *op) {
  NamedAttrList attrs(op->getAttrs());
  op->getName().populateDefaultAttrs(attrs);
  json out = json::object();
  for (NamedAttribute attr : attrs) {
    // kiln.* are annotations of the passes (the memory plan), not kernel
    // attributes: they must not change the kernel.
    if (attr.getName().strref().starts_with("kiln.")) {
      continue;
    }
    auto value = attrToJson(attr.getValue(), op, attr.getName());
    if (failed(value)) {
      return failure();
    }
    out[attr.getName().str()] = *value;
  }
  if (auto kernel = llvm::dyn_cast<KernelOpInterface>(op)) {
    if (failed(kernel.canonicalizeKernelAttrs(out))) {
      return failure();
    }
  }
  return out;
}

std::string kiln::ir::kernelLabel(Operation *op) {
  auto fused = llvm::dyn_cast<FusedOp>(op);
  if (!fused) {
    return op->getName().stripDialect().str();
  }
  std::string ops;
  for (Operation &inner : fused.getBody().front().without_terminator()) {
    ops += (ops.empty() ? "" : "+") + inner.getName().stripDialect().str();
  }
  return "fused " + fused.getKind().str() + ": " + ops;
}

bool kiln::ir::isPrologueSource(Operation *op) {
  auto pool = llvm::dyn_cast<MaxPool2DGradOp>(op);
  return pool && llvm::all_of(pool.getDilations(),
                              [](int64_t d) { return d == 1; });
}

bool kiln::ir::isGradientSink(Operation *op, Value dx) {
  auto type = llvm::dyn_cast<RankedTensorType>(dx.getType());
  if (!type || !type.hasStaticShape() || type.getRank() != 4) {
    return false;
  }
  if (auto sum = llvm::dyn_cast<ReduceSumOp>(op)) {
    SmallVector<int64_t> axes;
    for (int64_t axis : sum.getAxes()) {
      axes.push_back(axis < 0 ? axis + 4 : axis);
    }
    llvm::sort(axes);
    return sum.getInput() == dx && !sum.getKeepdims() &&
           axes == SmallVector<int64_t>{0, 2, 3};
  }
  auto grad = llvm::dyn_cast<Conv2DGradWeightOp>(op);
  if (!grad || type.getDimSize(2) * type.getDimSize(3) < 256 ||
      grad.getDy() != dx || grad.getInput() == dx ||
      grad.getGroups() != 1 || grad.getTile() != 0) {
    return false;
  }
  auto input = llvm::dyn_cast<RankedTensorType>(grad.getInput().getType());
  ArrayRef<int64_t> kernel = grad.getKernel();
  return input && input.hasStaticShape() && input.getRank() == 4 &&
         kernel.size() == 2 &&
         input.getDimSize(1) * kernel[0] * kernel[1] <= 27;
}

bool kiln::ir::isRecomputableConv(Operation *op) {
  auto conv = llvm::dyn_cast<Conv2DOp>(op);
  if (!conv || conv.getGroups() != 1 || conv.hasPackedWeight()) {
    return false;
  }
  auto in = llvm::dyn_cast<RankedTensorType>(conv.getInput().getType());
  auto weight = llvm::dyn_cast<RankedTensorType>(conv.getWeight().getType());
  auto out = llvm::dyn_cast<RankedTensorType>(conv.getType());
  if (!in || !weight || !out || !in.hasStaticShape() ||
      !weight.hasStaticShape() || !out.hasStaticShape() ||
      in.getRank() != 4 || weight.getRank() != 4 || out.getRank() != 4) {
    return false;
  }
  int64_t plane = out.getDimSize(2) * out.getDimSize(3);
  return weight.getDimSize(1) * weight.getDimSize(2) * weight.getDimSize(3) <=
             27 &&
         plane >= 256 &&
         out.getDimSize(0) * plane * 4 <= kRecomputedChannelBytes &&
         in.getNumElements() * 4 <= kRecomputedChannelBytes;
}

// Whether codegen computes `op` in the conv2d planes form (whole planes
// per task; KernelsConv.cpp, chooseConvForm and useChannelForm).
static bool isPlanesFormConv(Operation *op) {
  auto conv = llvm::dyn_cast_or_null<Conv2DOp>(op);
  if (!conv || conv.getGroups() != 1 || conv.hasPackedWeight() ||
      llvm::any_of(conv.getStrides(), [](int64_t s) { return s != 1; })) {
    return false;
  }
  auto weight = llvm::dyn_cast<RankedTensorType>(conv.getWeight().getType());
  return weight && weight.hasStaticShape() && weight.getRank() == 4 &&
         weight.getDimSize(2) * weight.getDimSize(3) > 1;
}

bool kiln::ir::isPoolTail(Operation *anchor, Operation *op) {
  auto pool = llvm::dyn_cast<MaxPool2DOp>(op);
  bool norm = llvm::isa_and_nonnull<BatchNormTrainOp>(anchor);
  bool winograd = llvm::isa_and_nonnull<Conv2DWinogradOp>(anchor);
  if (!pool || (!norm && !winograd && !isPlanesFormConv(anchor))) {
    return false;
  }
  auto in = llvm::dyn_cast<RankedTensorType>(pool.getInput().getType());
  auto out = llvm::dyn_cast<RankedTensorType>(pool.getType());
  // Strides default to the kernel (the kiln dialect's pools).
  ArrayRef<int64_t> kernel = pool.getKernel();
  ArrayRef<int64_t> strides = pool.getStrides() ? *pool.getStrides() : kernel;
  if (!in || !out || !in.hasStaticShape() || !out.hasStaticShape() ||
      in.getRank() != 4 || kernel.size() != 2 || kernel != strides ||
      (norm && in.getDimSize(2) * in.getDimSize(3) < 256) ||
      (winograd && (kernel[0] != 2 || kernel[1] != 2 ||
                    out.getDimSize(2) * 2 != in.getDimSize(2) ||
                    out.getDimSize(3) * 2 != in.getDimSize(3))) ||
      pool.getAutoPad() != "notset" ||
      llvm::any_of(pool.getPads(), [](int64_t p) { return p != 0; }) ||
      llvm::any_of(pool.getDilations(), [](int64_t d) { return d != 1; })) {
    return false;
  }
  for (int i = 0; i < 2; ++i) {
    if (kernel[i] < 1 || kernel[i] > 3 ||
        out.getDimSize(2 + i) * kernel[i] > in.getDimSize(2 + i)) {
      return false;
    }
  }
  return true;
}

bool kiln::ir::isEpilogueAnchor(Operation *op) {
  if (auto matmul = llvm::dyn_cast<MatmulOp>(op)) {
    auto type = llvm::dyn_cast<RankedTensorType>(matmul.getType());
    return type && type.hasStaticShape() && type.getRank() == 2;
  }
  return llvm::isa<FusionAnchorOpInterface>(op);
}

void kiln::ir::attachFusionInterfaces(MLIRContext *context) {
  Conv2DOp::attachInterface<AnchorModel<Conv2DOp>>(*context);
  Conv2DWinogradOp::attachInterface<AnchorModel<Conv2DWinogradOp>>(*context);
  DenseOp::attachInterface<AnchorModel<DenseOp>>(*context);
  MatmulOp::attachInterface<AnchorModel<MatmulOp>>(*context);
  BatchNormTrainOp::attachInterface<AnchorModel<BatchNormTrainOp>>(*context);
  BatchNormGradOp::attachInterface<BatchNormGradPrologueModel>(*context);
}

//===----------------------------------------------------------------------===//
// FusedOp
//===----------------------------------------------------------------------===//

// The attention form: [matmul, elementwise..., softmax (last axis),
// matmul], each op consuming the previous op's result (the output matmul as
// its untransposed left operand) and otherwise only kernel inputs; the body
// yields the output.
// The prologue form's tail: after the consumer, gradient sinks
// (isGradientSink) reading its first result (dx) and kernel inputs. The
// body yields the consumer's results, then each sink's; dx may be left out
// when only sinks read it (the kernel then never writes it).
static LogicalResult verifySinks(FusedOp fused, Operation *consumer,
                                 YieldOp yield) {
  Value dx = consumer->getResult(0);
  SmallVector<Value> expected(consumer->getResults());
  for (Operation *op = consumer->getNextNode(); op != yield;
       op = op->getNextNode()) {
    if (!isGradientSink(op, dx)) {
      return op->emitOpError()
             << "cannot follow a prologue consumer: a gradient sink is a "
                "channel sum (reduce_sum over axes 0, 2, 3) or a "
                "conv2d_grad_weight of groups 1 with at most 27 weights per "
                "output channel, reading the consumer's first result, whose "
                "planes have 256 or more positions";
    }
    for (Value operand : op->getOperands()) {
      if (operand != dx && !fused.isKernelInput(operand)) {
        return op->emitOpError() << "reads a value other than the consumer's "
                                    "first result or a kernel input";
      }
    }
    llvm::append_range(expected, op->getResults());
  }
  ValueRange values = yield.getValues();
  bool withDx = llvm::equal(values, expected);
  bool withoutDx = expected.size() > consumer->getNumResults() &&
                   llvm::equal(values, ArrayRef<Value>(expected).drop_front());
  if (!withDx && !withoutDx) {
    return fused.emitOpError()
           << "must yield its consumer's results (the first may be left out "
              "when gradient sinks read it), then its sinks' results";
  }
  return success();
}

static LogicalResult verifyAttention(FusedOp fused, Block &body,
                                     YieldOp yield) {
  SmallVector<Operation *> ops;
  for (Operation &op : body.without_terminator()) {
    ops.push_back(&op);
  }
  auto fail = [&](Operation *op, const Twine &message) {
    return op->emitOpError() << "in an attention kernel: " << message;
  };
  if (ops.size() < 3 || !llvm::isa<MatmulOp>(ops.front()) ||
      !llvm::isa<SoftmaxOp>(ops[ops.size() - 2]) ||
      !llvm::isa<MatmulOp>(ops.back())) {
    return fused.emitOpError()
           << "of kind attention must hold matmul, elementwise ops, "
              "softmax, matmul";
  }
  Value previous;
  for (auto [i, op] : llvm::enumerate(ops)) {
    bool middle = i > 0 && i + 2 < ops.size();
    if (middle && (!llvm::isa<ElementwiseOpInterface>(op) ||
                   op->getNumResults() != 1)) {
      return fail(op, "the ops between the matmul and softmax must be "
                      "elementwise");
    }
    bool usesPrevious = !previous;
    for (Value operand : op->getOperands()) {
      if (operand == previous) {
        usesPrevious = true;
      } else if (!llvm::isa<BlockArgument>(operand)) {
        return fail(op, "reads a value other than the previous op's result "
                        "or a kernel input");
      }
    }
    if (!usesPrevious) {
      return fail(op, "must consume the previous op's result");
    }
    previous = op->getResult(0);
  }
  auto softmax = llvm::cast<SoftmaxOp>(ops[ops.size() - 2]);
  auto scores = llvm::cast<RankedTensorType>(softmax.getType());
  if (softmax.getAxis() != -1 && softmax.getAxis() != scores.getRank() - 1) {
    return fail(softmax, "the softmax must be along the last axis");
  }
  auto output = llvm::cast<MatmulOp>(ops.back());
  if (output.getA() != softmax.getResult() || output.getTransposeA()) {
    return fail(output, "the output matmul must read the probabilities as "
                        "its untransposed left operand");
  }
  if (yield.getValues().size() != 1 ||
      yield.getValues().front() != output.getResult()) {
    return fused.emitOpError() << "must yield the output matmul's result";
  }
  return success();
}

LogicalResult FusedOp::verify() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size()) {
    return emitOpError() << "body has " << body.getNumArguments()
                         << " arguments for " << getInputs().size()
                         << " inputs";
  }
  for (auto [arg, input] : llvm::zip(body.getArguments(), getInputs())) {
    if (arg.getType() != input.getType()) {
      return emitOpError() << "body argument " << arg.getType()
                           << " does not match input " << input.getType();
    }
  }
  auto yield = llvm::dyn_cast<YieldOp>(body.getTerminator());
  if (!yield) {
    return emitOpError() << "body must end in kiln.yield";
  }
  int64_t recomputedInputs = getRecomputed();
  if (getKind() == "attention" && recomputedInputs != 0) {
    return emitOpError() << "an attention kernel recomputes no input";
  }
  if (getKind() == "attention") {
    return verifyAttention(*this, body, yield);
  }
  // Recomputed inputs: the first `recomputed` ops, conv2d ops that read
  // only block arguments and that later ops read (never yielded).
  auto ops = body.without_terminator();
  if (recomputedInputs < 0 ||
      recomputedInputs >=
          static_cast<int64_t>(std::distance(ops.begin(), ops.end()))) {
    return emitOpError() << "recomputes " << recomputedInputs
                         << " inputs: must be from 0 to the number of ops "
                            "before the last";
  }
  auto op = ops.begin();
  for (int64_t i = 0; i < recomputedInputs; ++i, ++op) {
    if (!isRecomputableConv(&*op) ||
        !llvm::all_of(op->getOperands(), [](Value operand) {
          return llvm::isa<BlockArgument>(operand);
        })) {
      return op->emitOpError()
             << "cannot be a recomputed input: a conv2d of groups 1 with at "
                "most 27 multiplies per output, planes of 256 or more "
                "positions and its input and one output channel over the "
                "batch within "
             << kRecomputedChannelBytes / 1024
             << " KB (isRecomputableConv), reading only kernel inputs";
    }
    if (op->use_empty() || llvm::is_contained(yield.getValues(),
                                              op->getResult(0))) {
      return op->emitOpError()
             << "is a recomputed input: later ops must read it and the "
                "kernel cannot yield it";
    }
  }
  Operation *first = &*op;
  // Anchor (optional, first) then a chain: every op but the first consumes
  // the previous op's first result and otherwise only block arguments.
  // recomputed: in a prologue, the value elementwise ops before the gather
  // compute (its input, a forward value recomputed); later ops may read it.
  Value previous, recomputed;
  Operation *anchorOp = nullptr;
  Operation *consumer = prologueConsumer();
  for (Operation &op : llvm::make_range(first->getIterator(),
                                        body.without_terminator().end())) {
    if (&op == consumer) {
      break;
    }
    bool anchor = llvm::isa<FusionAnchorOpInterface>(op);
    if (anchor && !isEpilogueAnchor(&op)) {
      return op.emitOpError() << "takes no epilogue: a matmul anchors a fused "
                                 "kernel as a product of matrices with "
                                 "static shapes";
    }
    // Producer form: a later anchor reads the previous segment's value as
    // its first operand and computes it itself (docs/fusion.md).
    if (anchor && previous &&
        (!anchorOp || !llvm::isa<FusionAnchorOpInterface>(first) ||
         op.getNumOperands() == 0 || op.getOperand(0) != previous)) {
      return op.emitOpError()
             << "can only be the first op of a fused kernel, or a later "
                "anchor, reading the previous anchor's chain as its first "
                "operand";
    }
    // A prologue chain may start with a gather (max_pool2d_grad), or reach
    // one after elementwise ops that compute its input.
    bool source = consumer && !anchorOp && !recomputed &&
                  isPrologueSource(&op) &&
                  (!previous || op.getOperand(0) == previous);
    if (source && previous) {
      recomputed = previous;
    }
    // A batch_norm_train or conv2d chain may end in a pooling tail.
    bool tail = isPoolTail(anchorOp, &op) &&
                op.getNextNode() == body.getTerminator();
    if (!anchor && !source && !tail &&
        !llvm::isa<ElementwiseOpInterface>(op)) {
      return op.emitOpError()
             << "is neither a fusion anchor nor elementwise"
             << (consumer ? " nor the first op of a prologue chain "
                            "(max_pool2d_grad with unit dilations)"
                          : "");
    }
    if (anchor) {
      anchorOp = &op;
    }
    bool usesPrevious = !previous;
    for (Value operand : op.getOperands()) {
      if (operand == previous) {
        usesPrevious = true;
      } else if (operand != recomputed && !isKernelInput(operand)) {
        return op.emitOpError() << "reads a value other than the previous op's "
                                   "result, a recomputed gather input or a "
                                   "kernel input";
      }
    }
    if (!usesPrevious || (!anchor && op.getNumResults() != 1)) {
      return op.emitOpError() << "must consume the previous op's result";
    }
    previous = op.getResult(0);
  }
  if (consumer) {
    // Prologue form: the consumer reads the chain's value at its prologue
    // operand, kernel inputs otherwise; gradient sinks may follow it.
    unsigned k =
        llvm::cast<FusionPrologueOpInterface>(consumer).getPrologueOperand();
    if (anchorOp || !previous || k >= consumer->getNumOperands() ||
        consumer->getOperand(k) != previous) {
      return consumer->emitOpError()
             << "must read the chain's value (without an anchor) as operand "
             << k;
    }
    for (auto [i, operand] : llvm::enumerate(consumer->getOperands())) {
      if (i != k && !isKernelInput(operand)) {
        return consumer->emitOpError()
               << "reads a value other than the chain's or a kernel input";
      }
    }
    return verifySinks(*this, consumer, yield);
  }
  // yield: the chain's value, then the anchor's other results in order.
  SmallVector<Value> expected = {previous};
  if (anchorOp) {
    llvm::append_range(expected, anchorOp->getResults().drop_front());
  }
  if (!previous || yield.getValues().size() != expected.size() ||
      !llvm::equal(yield.getValues(), expected)) {
    return emitOpError() << "must yield the result of its last op"
                         << (expected.size() > 1
                                 ? ", then the anchor's other results"
                                 : "");
  }
  return success();
}

bool FusedOp::isKernelInput(Value value) {
  if (llvm::isa<BlockArgument>(value)) {
    return true;
  }
  Operation *def = value.getDefiningOp();
  int64_t index = 0;
  for (Operation &op : getBody().front().without_terminator()) {
    if (index++ >= getRecomputed()) {
      return false;
    }
    if (&op == def) {
      return true;
    }
  }
  return false;
}

Operation *FusedOp::prologueConsumer() {
  for (Operation &op : getBody().front().without_terminator()) {
    if (llvm::isa<FusionPrologueOpInterface>(op)) {
      return &op;
    }
  }
  return nullptr;
}

LogicalResult FusedOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto yield = llvm::dyn_cast<YieldOp>(getBody().front().getTerminator());
  if (!yield) {
    return emitOpError() << "body must end in kiln.yield";
  }
  for (Value value : yield.getValues()) {
    types.push_back(value.getType());
  }
  return success();
}

// {"anchor": op name or "", "anchor_attrs": {...}, "anchor_inputs": [...],
//  "nodes": [{"op", "attrs", "operands": [-1 = running value, k = input k]}]}
// and, in the producer form, "producer": the first segment's {"anchor",
// "anchor_attrs", "anchor_inputs", "nodes"}; in the prologue form
// "consumer", "consumer_attrs", "consumer_inputs" (operand -2: the input of
// the chain's gather that the nodes before it recompute), and with gradient sinks
// "sinks" ([{"op", "attrs", "operands": [-1 = the consumer's first result,
// k]}]) and "writes_dx"; with recomputed inputs "recomputed" ([{"op",
// "attrs", "operands", "shape"}], the i-th read as input (arguments + i))
// (docs/fusion.md).
LogicalResult FusedOp::canonicalizeKernelAttrs(json &attrs) {
  json nodes = json::array();
  attrs = json{{"kind", getKind().str()}, {"anchor", ""},
               {"anchor_attrs", json::object()},
               {"anchor_inputs", json::array()}};
  Operation *consumer = prologueConsumer();
  Value previous, recomputed;
  // Recomputed inputs: the first `recomputed` ops' results, read as the
  // inputs numbered after the block arguments.
  llvm::DenseMap<Value, int64_t> inputs;
  int64_t count = 0, arguments = getBody().front().getNumArguments();
  for (Operation &op : getBody().front().without_terminator()) {
    auto opAttrs = kernelAttributes(&op);
    if (failed(opAttrs)) {
      return failure();
    }
    json operands = json::array();
    for (Value operand : op.getOperands()) {
      auto input = inputs.find(operand);
      operands.push_back(
          operand == previous     ? -1
          : operand == recomputed ? -2
          : input != inputs.end()
              ? input->second
              : static_cast<int64_t>(
                    llvm::cast<BlockArgument>(operand).getArgNumber()));
    }
    std::string name = op.getName().stripDialect().str();
    if (count < getRecomputed()) {
      inputs[op.getResult(0)] = arguments + count++;
      attrs["recomputed"].push_back(
          {{"op", name},
           {"attrs", *opAttrs},
           {"operands", operands},
           {"shape", llvm::cast<RankedTensorType>(op.getResult(0).getType())
                         .getShape()
                         .vec()}});
      continue;
    }
    if (previous && isPrologueSource(&op) && op.getOperand(0) == previous) {
      recomputed = previous;
    }
    if (llvm::isa<MaxPool2DOp>(op)) {
      // A chain's pooling tail (isPoolTail), with the chain's value's
      // shape (the pool's input).
      attrs["tail"] = {
          {"op", name},
          {"attrs", *opAttrs},
          {"shape", llvm::cast<RankedTensorType>(op.getOperand(0).getType())
                        .getShape()
                        .vec()}};
      previous = op.getResult(0);
      continue;
    }
    if (consumer && consumer->isBeforeInBlock(&op)) {
      // A gradient sink: operand -1 is the consumer's first result.
      attrs["sinks"].push_back(
          {{"op", name}, {"attrs", *opAttrs}, {"operands", operands}});
      continue;
    }
    if (&op == consumer) {
      attrs["consumer"] = name;
      attrs["consumer_attrs"] = *opAttrs;
      attrs["consumer_inputs"] = operands;
    } else if (llvm::isa<FusionAnchorOpInterface>(op) &&
               getKind() != "attention") {
      if (!attrs["anchor"].get<std::string>().empty()) {
        // Producer form: the previous segment moves to "producer", with
        // its own producer (the projection form's first segment) and its
        // value's shape.
        json segment = {{"anchor", attrs["anchor"]},
                        {"anchor_attrs", attrs["anchor_attrs"]},
                        {"anchor_inputs", attrs["anchor_inputs"]},
                        {"nodes", std::move(nodes)}};
        if (attrs.contains("producer")) {
          segment["producer"] = std::move(attrs["producer"]);
          segment["value_shape"] =
              llvm::cast<RankedTensorType>(previous.getType()).getShape().vec();
        }
        attrs["producer"] = std::move(segment);
        nodes = json::array();
      }
      attrs["anchor"] = name;
      attrs["anchor_attrs"] = *opAttrs;
      attrs["anchor_inputs"] = operands;
    } else {
      nodes.push_back({{"op", name}, {"attrs", *opAttrs},
                       {"operands", operands}});
    }
    previous = op.getResult(0);
  }
  attrs["nodes"] = std::move(nodes);
  if (attrs.contains("sinks")) {
    // Whether the kernel writes the consumer's first result (its first
    // output) or only its sinks read it.
    attrs["writes_dx"] =
        getBody().front().getTerminator()->getOperand(0) ==
        consumer->getResult(0);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// FoldBatchNormOp
//===----------------------------------------------------------------------===//

LogicalResult
FoldBatchNormOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto weight = llvm::cast<RankedTensorType>(getWeight().getType());
  if (weight.getRank() < 2) {
    return emitOpError() << "expects a weight with the output channel first "
                            "and rank >= 2, got "
                         << weight;
  }
  auto channels = RankedTensorType::get({weight.getDimSize(0)},
                                        weight.getElementType());
  SmallVector<Value> perChannel = {getGamma(), getBeta(), getMean(), getVar()};
  if (getBias()) {
    perChannel.push_back(getBias());
  }
  for (Value v : perChannel) {
    if (v.getType() != channels) {
      return emitOpError() << "per-channel operand " << v.getType()
                           << " does not match the weight's " << channels;
    }
  }
  types.append({weight, channels});
  return success();
}

//===----------------------------------------------------------------------===//
// WinogradFilterOp, Conv2DWinogradOp
//===----------------------------------------------------------------------===//

// F(2x2, 3x3) or F(4x4, 3x3): the tiles kiln's Winograd kernels have.
static LogicalResult checkWinogradTile(Operation *op, int64_t tile) {
  if (tile != 2 && tile != 4) {
    return op->emitOpError() << "tile must be 2 or 4, got " << tile;
  }
  return success();
}

LogicalResult
WinogradFilterOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto weight = llvm::cast<RankedTensorType>(getWeight().getType());
  if (weight.getRank() != 4 || weight.getDimSize(2) != 3 ||
      weight.getDimSize(3) != 3) {
    return emitOpError() << "expects a 3x3 conv2d weight [O,C,3,3], got "
                         << weight;
  }
  int64_t tile = getTile();
  if (failed(checkWinogradTile(*this, tile))) {
    return failure();
  }
  int64_t in = weight.getDimSize(1), out = weight.getDimSize(0);
  if (getInputGradient()) {
    std::swap(in, out);
  }
  int64_t block = getBlock();
  if (block != 8 && block != 16) {
    return emitOpError() << "block must be 8 or 16, got " << block;
  }
  if (out % block != 0) {
    return emitOpError() << "packs the transformed kernels in blocks of "
                         << block << " output channels: " << out
                         << " is not a multiple of " << block;
  }
  types.push_back(
      RankedTensorType::get({(tile + 2) * (tile + 2), out / block, in, block},
                            weight.getElementType()));
  return success();
}

LogicalResult
Conv2DWinogradOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  auto input = llvm::cast<RankedTensorType>(getInput().getType());
  auto filter = llvm::cast<RankedTensorType>(getFilter().getType());
  int64_t tile = getTile();
  if (failed(checkWinogradTile(*this, tile))) {
    return failure();
  }
  int64_t points = (tile + 2) * (tile + 2);
  if (input.getRank() != 4 || filter.getRank() != 4 ||
      filter.getDimSize(0) != points ||
      filter.getDimSize(2) != input.getDimSize(1) ||
      (filter.getDimSize(3) != 8 && filter.getDimSize(3) != 16)) {
    return emitOpError() << "expects input [N,C,H,W] and a Winograd filter ["
                         << points
                         << ",O/B,C,B], B = 8 or 16 (kiln.winograd_filter, "
                            "tile "
                         << tile << "), got " << input << " and " << filter;
  }
  int64_t outChannels = filter.getDimSize(1) * filter.getDimSize(3);
  if (getBias()) {
    auto bias = llvm::cast<RankedTensorType>(getBias().getType());
    if (bias.getRank() != 1 || bias.getDimSize(0) != outChannels) {
      return emitOpError() << "bias " << bias << " does not match "
                           << outChannels << " output channels";
    }
  }
  ArrayRef<int64_t> pads = getPads();
  if (pads.size() != 4 || llvm::any_of(pads, [](int64_t p) { return p < 0; })) {
    return emitOpError() << "expects 4 non-negative pads [top, left, bottom, "
                            "right]";
  }
  int64_t height = input.getDimSize(2) + pads[0] + pads[2] - 2;
  int64_t width = input.getDimSize(3) + pads[1] + pads[3] - 2;
  if (height < 1 || width < 1) {
    return emitOpError() << "output plane " << height << "x" << width
                         << " is empty";
  }
  types.push_back(RankedTensorType::get(
      {input.getDimSize(0), outChannels, height, width},
      input.getElementType()));
  return success();
}
