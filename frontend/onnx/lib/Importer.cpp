//===- Importer.cpp - ONNX ModelProto -> kiln dialect ---------------------===//
//
// 1. Parse the ModelProto and find the default domain's opset (7-17).
// 2. Initializers and `knownInputs` become host tensors; the other graph
//    inputs become arguments of `func.func @main` (dynamic first dim = batch).
// 3. Nodes are imported in order (ONNX graphs are topologically sorted).
//    Each value is either a host tensor (known at import time) or an SSA
//    value of the function. A node whose inputs are all host tensors and
//    whose op has a host implementation is evaluated right away (constant
//    propagation of shape computations); otherwise its handler emits kiln
//    ops, materializing host inputs as `kiln.param` (initializers) or
//    `kiln.constant`.
// 4. Every attribute a handler does not read is an error, so nothing is
//    silently ignored.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

namespace kiln::frontend {
namespace onnx_import {

//===----------------------------------------------------------------------===//
// Node handlers
//===----------------------------------------------------------------------===//

void Importer::windowAttrs(std::vector<NamedAttribute> &attrs,
                           const std::vector<int64_t> &kernel, bool dilations) {
  std::string autoPad = attrString("auto_pad", "NOTSET");
  std::string lower = llvm::StringRef(autoPad).lower();
  if (lower != "notset" && lower != "valid" && lower != "same_upper" &&
      lower != "same_lower") {
    unsupportedValue("auto_pad", autoPad);
  }
  if (lower != "notset") {
    attrs.push_back(str("auto_pad", lower));
  }
  if (auto strides = attrInts("strides")) {
    if (strides->size() != 2) {
      fail("strides must have 2 entries");
    }
    attrs.push_back(ints("strides", *strides));
  } else if (!kernel.empty()) {
    attrs.push_back(ints("strides", {1, 1}));
  }
  if (auto pads = attrInts("pads")) {
    if (pads->size() != 4) {
      fail("pads must have 4 entries");
    }
    if (lower == "notset") {
      attrs.push_back(ints("pads", *pads));
    }
  }
  if (dilations) {
    if (auto d = attrInts("dilations")) {
      if (d->size() != 2) {
        fail("dilations must have 2 entries");
      }
      attrs.push_back(ints("dilations", *d));
    }
  }
}

void Importer::convOp() {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0), w = shapeOf(1);
  if (x.size() != 4 || w.size() != 4) {
    fail("only 2-D convolution (rank-4 input and weight) is supported, got " +
         shapeText(x));
  }
  if (auto k = attrInts("kernel_shape")) {
    if (*k != std::vector<int64_t>{w[2], w[3]}) {
      fail("kernel_shape " + shapeText(*k) + " does not match the weight " +
           shapeText(w));
    }
  }
  std::vector<NamedAttribute> attrs;
  windowAttrs(attrs, {}, true);
  attrs.push_back(i64("groups", attrInt("group", 1)));
  SmallVector<Value> operands{data(0), data(1, "torch_default")};
  if (hasInput(2)) {
    operands.push_back(data(2, "torch_default"));
  }
  setOutput(0, emit("kiln.conv2d", operands, attrs));
}

// ConvTranspose is the input gradient of the convolution it transposes:
// kiln.conv2d_grad_input with this node's input as dy and its weight
// [C_in, C_out/g, KH, KW] as the forward convolution's [O, C/g, KH, KW].
// The output size (the forward convolution's input_size) is
// s*(H-1) + output_padding + (K-1)*d + 1 - pads, or output_shape (or H*s
// for auto_pad SAME_*) with the pads that gives, split as the ONNX
// operator's definition says; then the bias.
void Importer::convTransposeOp() {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0), w = shapeOf(1);
  if (x.size() != 4 || w.size() != 4) {
    fail("only 2-D transposed convolution (rank-4 input and weight) is "
         "supported, got " + shapeText(x));
  }
  if (auto k = attrInts("kernel_shape")) {
    if (*k != std::vector<int64_t>{w[2], w[3]}) {
      fail("kernel_shape " + shapeText(*k) + " does not match the weight " +
           shapeText(w));
    }
  }
  auto pair = [&](const char *name, int64_t def) {
    std::vector<int64_t> v = attrInts(name).value_or(std::vector<int64_t>{def, def});
    if (v.size() != 2) {
      fail(std::string(name) + " must have 2 entries, got " + shapeText(v));
    }
    return v;
  };
  std::vector<int64_t> strides = pair("strides", 1), dilations = pair("dilations", 1),
                       outputPadding = pair("output_padding", 0);
  std::vector<int64_t> pads = attrInts("pads").value_or(std::vector<int64_t>{0, 0, 0, 0});
  if (pads.size() != 4) {
    fail("pads must have 4 entries, got " + shapeText(pads));
  }
  std::string autoPad = llvm::StringRef(attrString("auto_pad", "NOTSET")).lower();
  if (autoPad != "notset" && autoPad != "valid" && autoPad != "same_upper" &&
      autoPad != "same_lower") {
    unsupportedValue("auto_pad", autoPad);
  }
  std::optional<std::vector<int64_t>> outputShape = attrInts("output_shape");
  if (outputShape && outputShape->size() == 4) {
    outputShape = std::vector<int64_t>(outputShape->begin() + 2, outputShape->end());
  }
  if (outputShape && outputShape->size() != 2) {
    fail("output_shape must have 2 (or 4) entries, got " + shapeText(*outputShape));
  }
  std::vector<int64_t> size(2);
  for (int i = 0; i < 2; ++i) {
    if (strides[i] < 1 || dilations[i] < 1 || outputPadding[i] < 0 ||
        outputPadding[i] >= std::max(strides[i], dilations[i])) {
      fail("strides and dilations must be >= 1 and output_padding below the "
           "stride or dilation, got strides " + shapeText(strides) +
           ", dilations " + shapeText(dilations) + ", output_padding " +
           shapeText(outputPadding));
    }
    int64_t full = strides[i] * (x[2 + i] - 1) + outputPadding[i] +
                   (w[2 + i] - 1) * dilations[i] + 1;
    if (outputShape || autoPad == "same_upper" || autoPad == "same_lower") {
      int64_t target = outputShape ? (*outputShape)[i] : x[2 + i] * strides[i];
      int64_t total = full - target;
        // Python's floor division, as ONNX's reference: an output_shape
      // beyond the full output gives a negative pad, zeros at the end.
      int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
      bool upper = autoPad == "same_upper";
      pads[i] = upper ? half : total - half;
      pads[i + 2] = total - pads[i];
      size[i] = target;
    } else {
      if (autoPad == "valid") {
        pads[i] = pads[i + 2] = 0;
      }
      size[i] = full - pads[i] - pads[i + 2];
    }
    if (size[i] < 1) {
      fail("the output would have " + std::to_string(size[i]) +
           " positions along axis " + std::to_string(2 + i));
    }
  }
  // A negative pad is an output position no tap reaches: the convolution
  // runs without it and the result is padded with zeros there.
  std::vector<int64_t> outerPads(8, 0);
  for (int i = 0; i < 4; ++i) {
    if (pads[i] < 0) {
      outerPads[2 + (i % 2) + (i / 2) * 4] = -pads[i];
      size[i % 2] += pads[i];
      pads[i] = 0;
    }
  }
  int64_t groups = attrInt("group", 1);
  std::vector<NamedAttribute> attrs{ints("strides", strides), ints("pads", pads),
                                    ints("dilations", dilations),
                                    i64("groups", groups),
                                    ints("input_size", size)};
  Value y = emit("kiln.conv2d_grad_input", {data(0), data(1, "torch_default")},
                 attrs);
  if (std::any_of(outerPads.begin(), outerPads.end(),
                  [](int64_t p) { return p != 0; })) {
    y = emit("kiln.pad", {y}, {ints("pads", outerPads)});
  }
  if (hasInput(2)) {
    y = emit("kiln.add",
             {y, reshape(data(2, "torch_default"), {w[1] * groups, 1, 1})});
  }
  setOutput(0, y);
}

void Importer::poolOp(bool max) {
  requireFloat(0);
  if (shapeOf(0).size() != 4) {
    fail("only 2-D pooling (rank-4 input) is supported");
  }
  auto kernel = attrInts("kernel_shape");
  if (!kernel || kernel->size() != 2) {
    fail("kernel_shape must have 2 entries");
  }
  std::vector<NamedAttribute> attrs{ints("kernel", *kernel)};
  windowAttrs(attrs, *kernel, max);
  if (attrInt("ceil_mode", 0)) {
    attrs.push_back(boolean("ceil_mode", true));
  }
  if (max) {
    // The Indices output (opsets 8-): kiln.max_pool2d_indices, in the
    // storage order asked for.
    int64_t order = attrInt("storage_order", 0);
    if (order != 0 && order != 1) {
      unsupportedValue("storage_order", std::to_string(order));
    }
    if (node_->proto.output_size() > 1 && !node_->proto.output(1).empty()) {
      std::vector<NamedAttribute> indexAttrs = attrs;
      indexAttrs.push_back(i64("storage_order", order));
      setOutput(1, emit("kiln.max_pool2d_indices", {data(0)}, indexAttrs));
    }
  } else {
    attrs.push_back(
        boolean("count_include_pad", attrInt("count_include_pad", 0) != 0));
    // AveragePool-19 has dilations; kiln's avg_pool2d has none.
    if (auto d = attrInts("dilations")) {
      if (std::any_of(d->begin(), d->end(), [](int64_t v) { return v != 1; })) {
        unsupportedValue("dilations", shapeText(*d));
      }
    }
  }
  setOutput(0, emit(max ? "kiln.max_pool2d" : "kiln.avg_pool2d", {data(0)},
                    attrs));
}

void Importer::globalPoolOp(bool max) {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0);
  if (x.size() != 4) {
    fail("only rank-4 inputs are supported, got " + shapeText(x));
  }
  if (!max) {
    setOutput(0, emit("kiln.global_avg_pool", {data(0)}));
    return;
  }
  setOutput(0, emit("kiln.max_pool2d", {data(0)},
                    {ints("kernel", {x[2], x[3]})}));
}

void Importer::batchNormOp() {
  requireFloat(0);
  double epsilon = attrFloat("epsilon", 1e-5);
  double momentum = attrFloat("momentum", 0.9);
  if (attrInt("spatial", 1) != 1) {
    unsupportedValue("spatial", "0");
  }
  if (opset_ < 7 && attrInt("is_test", 0) == 0 &&
      node_->proto.output_size() > 1) {
    unsupportedValue("is_test", "0 (training mode)");
  }
  if (attrInt("training_mode", 0) != 0) {
    unsupportedValue("training_mode", "1 (export the model in eval mode; "
                                      "kiln train switches BatchNorm to "
                                      "batch statistics itself)");
  }
  if (shapeOf(0).size() < 2) {
    fail("the input needs rank >= 2");
  }
  markUnsupportedOutputs(1, "running statistics outputs of training mode");
  // ONNX: running = momentum * running + (1 - momentum) * batch; kiln and
  // PyTorch weight the batch by `momentum`.
  setOutput(0, emit("kiln.batch_norm",
                    {data(0), data(1, "ones"), data(2),
                     runningStatistic(3, "running_mean", "zeros"),
                     runningStatistic(4, "running_var", "ones")},
                    {f32("epsilon", epsilon), f32("momentum", 1 - momentum)}));
}

// A running statistic that a training step overwrites must be this node's
// own. torch.onnx.export merges initializers of equal values, so a model
// exported at initialization names one initializer for every BN's running
// variance and scale of a width (ones), and one for the running means and
// shifts (zeros): training wrote the statistics into the scale and shift
// (the running-statistics update and the optimizer both assigning one
// parameter). An initializer the graph reads elsewhere too becomes a
// parameter of its own here, named after the node.
Value Importer::runningStatistic(size_t i, const char *statistic,
                                 const char *init) {
  Entry &e = input(i);
  if (!e.initializer || !e.host || initializerUses_[e.paramName] < 2) {
    return data(i, init);
  }
  const std::string &node = node_->proto.name().empty()
                                ? node_->proto.output(0)
                                : node_->proto.name();
  return makeParam(node + "." + statistic, *e.host, init);
}

void Importer::gemmOp() {
  requireFloat(0);
  double alpha = attrFloat("alpha", 1), beta = attrFloat("beta", 1);
  bool transA = attrInt("transA", 0), transB = attrInt("transB", 0);
  if (opset_ < 7) {
    attrInt("broadcast", 0);
  }
  std::vector<int64_t> a = shapeOf(0), bShape = shapeOf(1);
  if (a.size() != 2 || bShape.size() != 2) {
    fail("A and B must be matrices");
  }
  int64_t outN = transB ? bShape[0] : bShape[1];
  bool biasVector = !hasInput(2) || shapeOf(2) == std::vector<int64_t>{outN};
  if (alpha == 1 && !transA && transB && (!hasInput(2) || (beta == 1 && biasVector))) {
    SmallVector<Value> operands{data(0), data(1, "torch_default")};
    if (hasInput(2)) {
      operands.push_back(data(2, "torch_default"));
    }
    setOutput(0, emit("kiln.dense", operands));
    return;
  }
  Value y = emit("kiln.matmul", {data(0), data(1, "torch_default")},
                 {boolean("transpose_a", transA), boolean("transpose_b", transB)});
  if (alpha != 1) {
    y = scale(y, alpha);
  }
  if (hasInput(2) && beta != 0) {
    Value c = data(2, "torch_default");
    if (beta != 1) {
      c = scale(c, beta);
    }
    y = emit("kiln.add", {y, c});
  }
  setOutput(0, y);
}

void Importer::matmulOp() {
  requireFloat(0);
  requireFloat(1);
  std::vector<int64_t> a = shapeOf(0), bs = shapeOf(1);
  Value av = data(0), bv = data(1, "torch_default");
  if (a.empty() || bs.empty()) {
    fail("MatMul operands must not be scalars");
  }
  bool aVec = a.size() == 1, bVec = bs.size() == 1;
  if (aVec) {
    a.insert(a.begin(), 1);
    av = reshape(av, a);
  }
  if (bVec) {
    bs.push_back(1);
    bv = reshape(bv, bs);
  }
  std::vector<int64_t> resultShape;
  Value y;
  int64_t m = a[a.size() - 2], k = a.back(), n = bs.back();
  if (bs[bs.size() - 2] != k) {
    fail("inner dims differ: " + shapeText(a) + " x " + shapeText(bs));
  }
  if (bs.size() == 2) {
    // [..., M, K] x [K, N]: one matrix product over the flattened rows.
    int64_t rows = product(a, 0, a.size() - 1);
    y = emit("kiln.matmul", {reshape(av, {rows, k}), bv});
    resultShape.assign(a.begin(), a.end() - 1);
    resultShape.push_back(n);
  } else {
    bool ok;
    std::vector<int64_t> batchA(a.begin(), a.end() - 2),
        batchB(bs.begin(), bs.end() - 2);
    std::vector<int64_t> batch = broadcastShapes(batchA, batchB, ok);
    if (!ok) {
      fail("batch dims do not broadcast: " + shapeText(a) + " x " +
           shapeText(bs));
    }
    int64_t count = product(batch);
    if (batchA == batchB) {
      // The same batch on both sides (attention's products): one batched
      // kiln.matmul over [B, M, K] x [B, K, N].
      y = emit("kiln.matmul", {reshape(av, {count, m, k}),
                               reshape(bv, {count, k, n})});
    } else {
      // Broadcast batches: one product per batch element, then
      // concatenated (2-D matmul, crop and concat, all differentiable).
      Value a3 = reshape(av, {product(batchA), m, k});
      Value b3 = reshape(bv, {product(batchB), k, n});
      SmallVector<Value> parts;
      for (int64_t i = 0; i < count; ++i) {
        int64_t ia = broadcastIndex(i, batch, batchA),
                ib = broadcastIndex(i, batch, batchB);
        Value ai = reshape(crop(a3, {ia, 0, 0}, {ia + 1, m, k}), {m, k});
        Value bi = reshape(crop(b3, {ib, 0, 0}, {ib + 1, k, n}), {k, n});
        parts.push_back(emit("kiln.matmul", {ai, bi}));
      }
      y = parts.size() == 1 ? parts[0]
                            : emit("kiln.concat", parts, {i64("axis", 0)});
    }
    resultShape = batch;
    resultShape.push_back(m);
    resultShape.push_back(n);
  }
  if (aVec) {
    resultShape.erase(resultShape.end() - 2);
  }
  if (bVec) {
    resultShape.pop_back();
  }
  setOutput(0, reshape(y, resultShape));
}

// Einsum. Each operand's subscripts become labels (a letter, or one of the
// ellipsis's dims, numbered from the right so that they broadcast like
// numpy's); a label of size 1 against a larger size elsewhere is squeezed
// from its operand (broadcast). An operand's repeated label takes its
// diagonal (a kiln.gather of the flattened pair at constant indices);
// labels that appear nowhere else and not in the output are summed
// (reduce_sum). Operands are then contracted left to right, two at a time:
// each pair as one (batched) kiln.matmul over [batch, left, summed] x
// [batch, summed, right], transposed into place. All of these have
// gradients, so an Einsum trains.
namespace {

struct EinsumTerm {
  Value value;
  std::vector<int> labels; // per axis: a letter, or 1000 + k for the
                           // ellipsis's k-th dim from the right
};

constexpr int kEllipsisLabel = 1000;

std::string labelText(int label) {
  if (label >= kEllipsisLabel) {
    return "...[" + std::to_string(label - kEllipsisLabel) + "]";
  }
  return std::string(1, static_cast<char>(label));
}

} // namespace

void Importer::einsumOp() {
  std::string eq;
  for (char ch : attrString("equation", "")) {
    if (!std::isspace(static_cast<unsigned char>(ch))) {
      eq += ch;
    }
  }
  size_t arrow = eq.find("->");
  std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> specs;
  for (size_t start = 0;;) {
    size_t comma = lhs.find(',', start);
    specs.push_back(lhs.substr(start, comma - start));
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  if (specs.size() != numInputs()) {
    fail("equation '" + eq + "' names " + std::to_string(specs.size()) +
         " operands, the node has " + std::to_string(numInputs()));
  }
  // Subscripts -> labels; the ellipsis stands for the dims no letter takes.
  auto parse = [&](const std::string &spec, int64_t rank,
                   const std::string &what) {
    std::vector<int> labels;
    size_t dots = spec.find("...");
    std::string letters = spec;
    if (dots != std::string::npos) {
      letters.erase(dots, 3);
    }
    for (char ch : letters) {
      if (!std::isalpha(static_cast<unsigned char>(ch))) {
        fail("equation '" + eq + "': '" + std::string(1, ch) + "' in " +
             what + " is not a letter");
      }
    }
    int64_t ellipsis = rank - static_cast<int64_t>(letters.size());
    if (rank >= 0 && (ellipsis < 0 || (dots == std::string::npos && ellipsis))) {
      fail("equation '" + eq + "': " + what + " has " +
           std::to_string(letters.size()) + " subscripts for rank " +
           std::to_string(rank));
    }
    for (size_t i = 0; i < spec.size(); ++i) {
      if (i == dots) {
        for (int64_t k = ellipsis - 1; k >= 0; --k) {
          labels.push_back(kEllipsisLabel + static_cast<int>(k));
        }
        i += 2;
      } else {
        labels.push_back(spec[i]);
      }
    }
    return labels;
  };
  std::vector<EinsumTerm> terms;
  std::map<int, int64_t> size; // the broadcast size of each label
  int64_t ellipsisRank = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    requireFloat(i);
    std::vector<int64_t> shape = shapeOf(i);
    EinsumTerm t{data(i), parse(specs[i], shape.size(),
                                "operand #" + std::to_string(i))};
    for (size_t a = 0; a < shape.size(); ++a) {
      int label = t.labels[a];
      if (label >= kEllipsisLabel) {
        ellipsisRank = std::max<int64_t>(ellipsisRank, label - kEllipsisLabel + 1);
      }
      int64_t &n = size[label];
      if (n > 1 && shape[a] > 1 && n != shape[a]) {
        fail("equation '" + eq + "': subscript " + labelText(label) +
             " has sizes " + std::to_string(n) + " and " +
             std::to_string(shape[a]));
      }
      if (shape[a] == 0) {
        fail("empty operands are not supported");
      }
      n = std::max(n, shape[a]);
    }
    terms.push_back(t);
  }
  // The output's labels: given, or (implicit) the ellipsis, then the
  // letters used once, in alphabetical order.
  std::vector<int> outLabels;
  if (arrow != std::string::npos) {
    // The letters before and after the output's ellipsis, which stands for
    // the operands' widest one.
    std::string out = eq.substr(arrow + 2);
    size_t dots = out.find("...");
    outLabels = parse(out.substr(0, dots), -1, "the output");
    if (dots != std::string::npos) {
      for (int64_t k = ellipsisRank - 1; k >= 0; --k) {
        outLabels.push_back(kEllipsisLabel + static_cast<int>(k));
      }
      for (int l : parse(out.substr(dots + 3), -1, "the output")) {
        outLabels.push_back(l);
      }
    }
  } else {
    std::map<int, int> uses;
    for (const EinsumTerm &t : terms) {
      for (int l : t.labels) {
        ++uses[l];
      }
    }
    for (int64_t k = ellipsisRank - 1; k >= 0; --k) {
      outLabels.push_back(kEllipsisLabel + static_cast<int>(k));
    }
    for (auto [l, count] : uses) {
      if (l < kEllipsisLabel && count == 1) {
        outLabels.push_back(l);
      }
    }
  }
  for (size_t i = 0; i < outLabels.size(); ++i) {
    if (!size.count(outLabels[i])) {
      fail("equation '" + eq + "': output subscript " +
           labelText(outLabels[i]) + " is in no operand");
    }
    if (std::count(outLabels.begin(), outLabels.end(), outLabels[i]) > 1) {
      fail("equation '" + eq + "': output subscript " +
           labelText(outLabels[i]) + " is repeated");
    }
  }

  auto axisOf = [](const EinsumTerm &t, int label) {
    return static_cast<int64_t>(
        std::find(t.labels.begin(), t.labels.end(), label) - t.labels.begin());
  };
  // Moves t's axes into the order `labels` (a permutation of t.labels).
  auto permute = [&](EinsumTerm &t, const std::vector<int> &labels) {
    std::vector<int64_t> perm;
    for (int l : labels) {
      perm.push_back(axisOf(t, l));
    }
    std::vector<int64_t> identity(perm.size());
    std::iota(identity.begin(), identity.end(), 0);
    if (perm != identity) {
      t.value = emit("kiln.transpose", {t.value}, {ints("perm", perm)});
    }
    t.labels = labels;
  };
  auto shapeFor = [&](const std::vector<int> &labels) {
    std::vector<int64_t> shape;
    for (int l : labels) {
      shape.push_back(size[l]);
    }
    return shape;
  };
  // Broadcast dims squeezed, diagonals taken, and the labels that no other
  // operand and not the output use summed.
  auto simplify = [&](EinsumTerm &t, const std::set<int> &needed) {
    if (t.labels.empty()) {
      return; // a scalar (held as [1] after a sum or a product)
    }
    std::vector<int64_t> shape = shapeOf(t.value);
    std::vector<int> kept;
    std::vector<int64_t> keptShape;
    for (size_t a = 0; a < shape.size(); ++a) {
      if (shape[a] == 1 && size[t.labels[a]] > 1) {
        continue; // broadcast against the other operands
      }
      kept.push_back(t.labels[a]);
      keptShape.push_back(shape[a]);
    }
    if (kept.size() != t.labels.size()) {
      t.value = reshape(t.value, keptShape);
      t.labels = kept;
    }
    for (bool found = true; found;) {
      found = false;
      for (size_t a = 0; a < t.labels.size() && !found; ++a) {
        auto again = std::find(t.labels.begin() + a + 1, t.labels.end(), t.labels[a]);
        if (again == t.labels.end()) {
          continue;
        }
        // The diagonal of axes (a, b): both moved last and flattened, then
        // every (n + 1)-th element.
        found = true;
        int label = t.labels[a];
        std::vector<int> rest, order;
        for (size_t c = 0; c < t.labels.size(); ++c) {
          if (c != a && t.labels.begin() + c != again) {
            rest.push_back(t.labels[c]);
          }
        }
        int64_t b = again - t.labels.begin();
        std::vector<int64_t> perm;
        for (size_t c = 0; c < t.labels.size(); ++c) {
          if (c != a && static_cast<int64_t>(c) != b) {
            perm.push_back(c);
          }
        }
        perm.push_back(a);
        perm.push_back(b);
        Value v = emit("kiln.transpose", {t.value}, {ints("perm", perm)});
        int64_t n = size[label];
        std::vector<int64_t> flat = shapeFor(rest);
        flat.push_back(n * n);
        OnnxTensor index;
        index.shape = {n};
        for (int64_t i = 0; i < n; ++i) {
          index.values.push_back(static_cast<double>(i * (n + 1)));
        }
        v = emit("kiln.gather",
                 {reshape(v, flat), makeIntConstant("Einsum diagonal", index)},
                 {i64("axis", static_cast<int64_t>(rest.size()))});
        rest.push_back(label);
        t.value = v;
        t.labels = rest;
      }
    }
    std::vector<int64_t> axes;
    std::vector<int> left;
    for (size_t a = 0; a < t.labels.size(); ++a) {
      if (needed.count(t.labels[a])) {
        left.push_back(t.labels[a]);
      } else {
        axes.push_back(a);
      }
    }
    if (!axes.empty()) {
      t.value = emit("kiln.reduce_sum", {t.value},
                     {ints("axes", axes), boolean("keepdims", false)});
      if (left.empty()) {
        t.value = reshape(t.value, {1});
      }
      t.labels = left;
    }
  };
  // The labels that the output or any operand from `from` on uses.
  auto neededFrom = [&](size_t from) {
    std::set<int> needed(outLabels.begin(), outLabels.end());
    for (size_t i = from; i < terms.size(); ++i) {
      needed.insert(terms[i].labels.begin(), terms[i].labels.end());
    }
    return needed;
  };

  EinsumTerm acc = terms[0];
  simplify(acc, neededFrom(1));
  for (size_t i = 1; i < terms.size(); ++i) {
    EinsumTerm rhs = terms[i];
    std::set<int> later = neededFrom(i + 1);
    std::set<int> accNeeds = later, rhsNeeds = later;
    accNeeds.insert(rhs.labels.begin(), rhs.labels.end());
    rhsNeeds.insert(acc.labels.begin(), acc.labels.end());
    simplify(acc, accNeeds);
    simplify(rhs, rhsNeeds);
    auto in = [](const EinsumTerm &t, int l) {
      return std::find(t.labels.begin(), t.labels.end(), l) != t.labels.end();
    };
    std::vector<int> batch, left, right, summed;
    for (int l : acc.labels) {
      if (!in(rhs, l)) {
        left.push_back(l);
      } else if (later.count(l)) {
        batch.push_back(l);
      } else {
        summed.push_back(l);
      }
    }
    for (int l : rhs.labels) {
      if (!in(acc, l)) {
        right.push_back(l);
      }
    }
    auto concat = [](std::vector<int> a, const std::vector<int> &b,
                     const std::vector<int> &c) {
      a.insert(a.end(), b.begin(), b.end());
      a.insert(a.end(), c.begin(), c.end());
      return a;
    };
    // A rank-0 operand after summing keeps one dim of 1 (no labels).
    if (acc.labels.empty()) {
      acc.value = reshape(acc.value, {1});
    }
    if (rhs.labels.empty()) {
      rhs.value = reshape(rhs.value, {1});
    }
    if (!acc.labels.empty()) {
      permute(acc, concat(batch, left, summed));
    }
    if (!rhs.labels.empty()) {
      permute(rhs, concat(batch, summed, right));
    }
    auto count = [&](const std::vector<int> &labels) {
      return product(shapeFor(labels));
    };
    int64_t nb = count(batch), m = count(left), k = count(summed),
            n = count(right);
    Value y;
    if (batch.empty()) {
      y = emit("kiln.matmul",
               {reshape(acc.value, {m, k}), reshape(rhs.value, {k, n})});
    } else {
      y = emit("kiln.matmul", {reshape(acc.value, {nb, m, k}),
                               reshape(rhs.value, {nb, k, n})});
    }
    acc.labels = concat(batch, left, right);
    acc.value = reshape(y, acc.labels.empty() ? std::vector<int64_t>{1}
                                              : shapeFor(acc.labels));
  }
  std::set<int> outSet(outLabels.begin(), outLabels.end());
  simplify(acc, outSet);
  // Output labels that no operand kept (all sizes 1) come back as dims of 1.
  std::vector<int> present;
  for (int l : outLabels) {
    if (std::find(acc.labels.begin(), acc.labels.end(), l) != acc.labels.end()) {
      present.push_back(l);
    }
  }
  if (!present.empty()) {
    permute(acc, present);
  }
  setOutput(0, reshape(acc.value, shapeFor(outLabels)));
}

void Importer::softmaxOp(bool log) {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0);
  int64_t rank = x.size();
  const char *name = log ? "kiln.log_softmax" : "kiln.softmax";
  if (opset_ >= 13) {
    int64_t axis = normAxis(attrInt("axis", -1), rank);
    setOutput(0, emit(name, {data(0)}, {i64("axis", axis)}));
    return;
  }
  // Before opset 13 the input is coerced to [prod(:axis), prod(axis:)].
  int64_t axis = normAxis(attrInt("axis", 1), rank, true);
  Value v = reshape(data(0), {product(x, 0, axis), product(x, axis)});
  v = emit(name, {v}, {i64("axis", 1)});
  setOutput(0, reshape(v, x));
}

// Hardmax: 1 at the first maximum along the axis, else 0 (opsets 1 and 11
// coerce to 2-D as Softmax does). The index from kiln.arg_reduce (kept
// axis), then 1 - |sign(position - index)| against a constant of the
// positions along the axis: no new kernel, and a zero gradient, as the
// function is piecewise constant.
void Importer::hardmaxOp() {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0);
  int64_t rank = x.size();
  Value v = data(0);
  int64_t axis;
  if (opset_ >= 13) {
    axis = normAxis(attrInt("axis", -1), rank);
  } else {
    int64_t from = normAxis(attrInt("axis", 1), rank, true);
    v = reshape(v, {product(x, 0, from), product(x, from)});
    axis = 1;
  }
  std::vector<int64_t> shape = shapeOf(v);
  Value index = emit("kiln.cast",
                     {emit("kiln.arg_reduce", {v},
                           {str("kind", "max"), i64("axis", axis),
                            boolean("keepdims", true),
                            boolean("select_last_index", false)})});
  // Positions 0..n-1 along the axis, broadcastable against v.
  OnnxTensor positions;
  positions.shape.assign(shape.size(), 1);
  positions.shape[axis] = shape[axis];
  for (int64_t i = 0; i < shape[axis]; ++i) {
    positions.values.push_back(static_cast<double>(i));
  }
  Value apart = emit("kiln.abs", {emit("kiln.sign", {emit(
                                      "kiln.sub",
                                      {makeConstant(positions), index})})});
  // [.., 1, ..] index against [1, .., n, .., 1] positions: v's shape.
  Value y = emit("kiln.sub", {scalarConstant(1), apart});
  setOutput(0, reshape(y, x));
}

Value Importer::hardSigmoid(Value x, double alpha, double beta) {
  Value y = emit("kiln.add", {scale(x, alpha), scalarConstant(beta)});
  return emit("kiln.clip", {y}, {f32("min", 0), f32("max", 1)});
}

void Importer::clipOp() {
  requireFloat(0);
  double lo = -std::numeric_limits<float>::infinity(),
         hi = std::numeric_limits<float>::infinity();
  if (opset_ < 11) {
    lo = attrFloat("min", lo);
    hi = attrFloat("max", hi);
  } else {
    // Bounds computed at run time (graph inputs, data-path values):
    // maximum / minimum, so they broadcast and have gradients.
    bool runtimeLo = hasInput(1) && !host(1), runtimeHi = hasInput(2) && !host(2);
    if (runtimeLo || runtimeHi) {
      Value y = data(0);
      if (hasInput(1)) {
        y = emit("kiln.maximum", {y, data(1)});
      }
      if (hasInput(2)) {
        y = emit("kiln.minimum", {y, data(2)});
      }
      setOutput(0, y);
      return;
    }
    if (hasInput(1)) {
      lo = requireHost(1, "min").values.at(0);
    }
    if (hasInput(2)) {
      hi = requireHost(2, "max").values.at(0);
    }
  }
  Value x = data(0);
  if (lo == 0 && hi == 6) {
    setOutput(0, emit("kiln.relu6", {x}));
  } else if (lo == 0 && std::isinf(hi) && hi > 0) {
    setOutput(0, emit("kiln.relu", {x}));
  } else {
    setOutput(0, emit("kiln.clip", {x}, {f32("min", lo), f32("max", hi)}));
  }
}

void Importer::dropoutOp() {
  double rate = 0.5;
  if (opset_ < 7) {
    attrInt("is_test", 0); // inference either way: kiln run never drops
  }
  if (opset_ < 12) {
    rate = attrFloat("ratio", 0.5);
  } else {
    attrInt("seed", 0);
    if (hasInput(1)) {
      rate = requireHost(1, "ratio").values.at(0);
    }
    if (hasInput(2) && requireHost(2, "training_mode").values.at(0) != 0) {
      fail("training_mode = true is not supported (kiln train applies "
           "dropout itself)");
    }
  }
  markUnsupportedOutputs(1, "the dropout mask is not computed");
  if (const OnnxTensor *h = host(0)) {
    setHostOutput(0, *h);
    return;
  }
  requireFloat(0);
  if (rate < 0 || rate >= 1) {
    unsupportedValue("ratio", std::to_string(rate));
  }
  setOutput(0, emit("kiln.dropout", {data(0)}, {f32("rate", rate)}));
}

// Reshape, Flatten, Squeeze, Unsqueeze: only the shape changes.
void Importer::reshapeLikeOp() {
  const std::string &op = node_->proto.op_type();
  std::vector<int64_t> x = shapeOf(0), out;
  int64_t rank = x.size();
  std::vector<int64_t> viewShape; // for kiln.reshape (0 and -1 allowed)
  if (op == "Reshape") {
    // Reshape-1 took the shape as an attribute.
    std::vector<int64_t> shape =
        opset_ < 5 ? attrInts("shape").value_or(std::vector<int64_t>{})
                   : hostInts(1, "shape");
    bool allowZero = attrInt("allowzero", 0) != 0;
    int64_t known = 1, inferred = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
      int64_t d = shape[i];
      if (d == 0 && !allowZero) {
        if (i >= x.size()) {
          fail("shape entry 0 at " + std::to_string(i) + " has no input dim");
        }
        d = x[i];
      }
      if (d == -1) {
        if (inferred >= 0) {
          fail("shape has more than one -1");
        }
        inferred = i;
        out.push_back(-1);
        continue;
      }
      if (d < 0) {
        fail("invalid shape entry " + std::to_string(d));
      }
      // Found by fuzz-onnx: entries whose product overflows int64.
      if (__builtin_mul_overflow(known, d, &known)) {
        fail("shape " + shapeText(shape) +
             ": its element count overflows 64 bits");
      }
      out.push_back(d);
    }
    if (inferred >= 0) {
      if (known == 0 || product(x) % known) {
        fail("cannot reshape " + shapeText(x) + " to " + shapeText(shape));
      }
      out[inferred] = product(x) / known;
    }
    viewShape = allowZero ? out : shape;
  } else if (op == "Flatten") {
    int64_t axis = attrInt("axis", 1);
    axis = normAxis(axis < 0 ? axis + rank : axis, rank, true);
    out = {product(x, 0, axis), product(x, axis)};
    viewShape = out;
  } else {
    std::vector<int64_t> axes;
    if (opset_ >= 13 && hasInput(1)) {
      axes = hostInts(1, "axes");
    } else if (auto a = attrInts("axes")) {
      axes = *a;
    }
    if (op == "Squeeze") {
      std::set<int64_t> drop;
      for (int64_t a : axes) {
        drop.insert(normAxis(a, rank));
      }
      for (int64_t d = 0; d < rank; ++d) {
        if (axes.empty() ? x[d] == 1 : drop.count(d)) {
          if (x[d] != 1) {
            fail("cannot squeeze dim " + std::to_string(d) + " of size " +
                 std::to_string(x[d]));
          }
          continue;
        }
        out.push_back(x[d]);
      }
    } else {
      int64_t outRank = rank + axes.size();
      std::set<int64_t> add;
      for (int64_t a : axes) {
        add.insert(normAxis(a, outRank));
      }
      if (add.size() != axes.size()) {
        fail("axes contain duplicates");
      }
      size_t next = 0;
      for (int64_t d = 0; d < outRank; ++d) {
        out.push_back(add.count(d) ? 1 : x[next++]);
      }
    }
    viewShape = out;
  }
  if (product(out) != product(x)) {
    fail("cannot reshape " + shapeText(x) + " to " + shapeText(out));
  }
  if (const OnnxTensor *h = host(0)) {
    OnnxTensor t = *h;
    t.shape = out;
    setHostOutput(0, std::move(t));
    return;
  }
  Value v = data(0);
  if (viewShape.empty() && !out.empty()) {
    viewShape = out;
  }
  if (shapeOf(v) == out) {
    setOutput(0, v);
    return;
  }
  setOutput(0, emit("kiln.reshape", {v}, {ints("shape", viewShape)}));
}

void Importer::sliceOp() {
  std::vector<int64_t> x = shapeOf(0);
  int64_t rank = x.size();
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset_ < 10) {
    starts = attrInts("starts").value_or(std::vector<int64_t>{});
    ends = attrInts("ends").value_or(std::vector<int64_t>{});
    axes = attrInts("axes").value_or(std::vector<int64_t>{});
  } else {
    starts = hostInts(1, "starts");
    ends = hostInts(2, "ends");
    if (hasInput(3)) {
      axes = hostInts(3, "axes");
    }
    if (hasInput(4)) {
      steps = hostInts(4, "steps");
    }
  }
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) {
      axes.push_back(i);
    }
  }
  if (steps.empty()) {
    steps.assign(starts.size(), 1);
  }
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    fail("starts, ends, axes and steps differ in length");
  }
  std::vector<int64_t> begin(rank, 0), step(rank, 1), count = x;
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = normAxis(axes[i], rank), dim = x[a], s = steps[i];
    if (s == 0) {
      fail("steps must not be 0");
    }
    auto clampIndex = [&](int64_t v, bool isStart) {
      if (v < 0) {
        v += dim;
      }
      if (s > 0) {
        return std::clamp<int64_t>(v, 0, dim);
      }
      (void)isStart;
      return std::clamp<int64_t>(v, -1, dim - 1);
    };
    int64_t st = clampIndex(starts[i], true), en = clampIndex(ends[i], false);
    int64_t n = s > 0 ? std::max<int64_t>(0, (en - st + s - 1) / s)
                      : std::max<int64_t>(0, (st - en + (-s) - 1) / (-s));
    begin[a] = st;
    step[a] = s;
    count[a] = n;
  }
  if (const OnnxTensor *h = host(0)) {
    OnnxTensor t;
    t.elementType = h->elementType;
    t.shape = count;
    std::vector<int64_t> strides = rowStrides(x);
    int64_t total = product(count);
    for (int64_t i = 0; i < total; ++i) {
      int64_t rest = i, src = 0;
      for (int64_t d = rank - 1; d >= 0; --d) {
        src += (begin[d] + (rest % count[d]) * step[d]) * strides[d];
        rest /= count[d];
      }
      t.values.push_back(h->values[src]);
    }
    setHostOutput(0, std::move(t));
    return;
  }
  requireFloat(0);
  // Unit steps crop; every other step (x[:, ::2], a reversal) gathers its
  // positions along the axis at a constant index tensor, which trains
  // through gather's gradient.
  std::vector<int64_t> cropBegin(rank, 0), cropEnd = x;
  for (int64_t d = 0; d < rank; ++d) {
    if (count[d] == 0) {
      fail("the slice is empty along axis " + std::to_string(d));
    }
    if (step[d] == 1) {
      cropBegin[d] = begin[d];
      cropEnd[d] = begin[d] + count[d];
    }
  }
  Value y = crop(data(0), cropBegin, cropEnd);
  for (int64_t d = 0; d < rank; ++d) {
    if (step[d] != 1) {
      std::vector<int32_t> positions;
      for (int64_t i = 0; i < count[d]; ++i) {
        positions.push_back(static_cast<int32_t>(begin[d] + i * step[d]));
      }
      y = emit("kiln.gather", {y, i32Constant(positions, {count[d]})},
               {i64("axis", d)});
    }
  }
  setOutput(0, y);
}

void Importer::splitOp() {
  std::vector<int64_t> x = shapeOf(0);
  int64_t rank = x.size();
  int64_t axis = normAxis(attrInt("axis", 0), rank);
  std::vector<int64_t> sizes;
  // Split-1 took the sizes as an attribute or a second input, 2-11 as the
  // attribute, 13 on as the input.
  if ((opset_ >= 13 || opset_ < 2) && hasInput(1)) {
    sizes = hostInts(1, "split");
  } else if (auto s = attrInts("split")) {
    sizes = *s;
  }
  int64_t outputs = node_->proto.output_size();
  if (opset_ >= 18 && sizes.empty()) {
    // Split-18: num_outputs parts of ceil(dim / num_outputs), the last
    // one smaller.
    int64_t parts = attrInt("num_outputs", 0);
    if (parts != outputs || parts < 1) {
      fail("num_outputs must equal the number of outputs (" +
           std::to_string(outputs) + ") when no split sizes are given");
    }
    int64_t chunk = (x[axis] + parts - 1) / parts;
    for (int64_t i = 0, left = x[axis]; i < parts; ++i, left -= chunk) {
      sizes.push_back(std::max<int64_t>(0, std::min(chunk, left)));
    }
  }
  if (sizes.empty()) {
    if (x[axis] % outputs) {
      fail("dim " + std::to_string(x[axis]) + " does not split into " +
           std::to_string(outputs) + " equal parts");
    }
    sizes.assign(outputs, x[axis] / outputs);
  }
  if (static_cast<int64_t>(sizes.size()) != outputs ||
      std::accumulate(sizes.begin(), sizes.end(), int64_t(0)) != x[axis]) {
    fail("split sizes " + shapeText(sizes) + " do not cover dim " +
         std::to_string(x[axis]));
  }
  int64_t offset = 0;
  for (int64_t i = 0; i < outputs; ++i) {
    std::vector<int64_t> begin(rank, 0), end = x;
    begin[axis] = offset;
    end[axis] = offset + sizes[i];
    offset += sizes[i];
    if (const OnnxTensor *h = host(0)) {
      OnnxTensor idx;
      idx.elementType = TP::INT64;
      idx.shape = {sizes[i]};
      for (int64_t k = begin[axis]; k < end[axis]; ++k) {
        idx.values.push_back(k);
      }
      setHostOutput(i, hostGather(*h, idx, axis));
      continue;
    }
    requireFloat(0);
    if (sizes[i] == 0) {
      fail("empty split outputs are not supported");
    }
    setOutput(i, crop(data(0), begin, end));
  }
}

// RNN, GRU and LSTM (opsets 7, 14), unrolled over the static sequence into
// dense, add, mul and the gate activations, so that they train through
// those ops' gradients. ONNX's gate orders: LSTM i, o, f, c (W [D, 4H,
// I]); GRU z, r, h; B holds the W biases then the R biases. Layout 0: X
// is [seq, batch, input], Y [seq, D, batch, H], Y_h (and LSTM's Y_c and
// the initial states) [D, batch, H]; layout 1 (opset 14) puts the batch
// first: X [batch, seq, input], Y [batch, seq, D, H], Y_h [batch, D, H].
// A reverse direction runs from the last step.
void Importer::recurrentOp() {
  requireFloat(0);
  std::string type = node_->proto.op_type();
  int gates = type == "LSTM" ? 4 : type == "GRU" ? 3 : 1;
  std::vector<int64_t> x = shapeOf(0);
  if (x.size() != 3) {
    fail("X must be [seq_length, batch, input_size] (layout 1: batch first)");
  }
  int64_t layout = attrInt("layout", 0);
  if (layout != 0 && layout != 1) {
    unsupportedValue("layout", std::to_string(layout));
  }
  bool batchFirst = layout == 1;
  int64_t seq = x[batchFirst ? 1 : 0], batch = x[batchFirst ? 0 : 1],
          inputSize = x[2];
  int64_t hidden = attrInt("hidden_size", 0);
  std::string direction = attrString("direction", "forward");
  int64_t dirs = direction == "bidirectional" ? 2 : 1;
  if (direction != "forward" && direction != "reverse" &&
      direction != "bidirectional") {
    unsupportedValue("direction", direction);
  }
  if (hidden <= 0) {
    fail("needs the attribute hidden_size");
  }
  if (attr("clip")) {
    unsupportedValue("clip", std::to_string(attrFloat("clip", 0)));
  }
  if (type == "LSTM" && attrInt("input_forget", 0) != 0) {
    unsupportedValue("input_forget", "1");
  }
  bool linearBeforeReset =
      type == "GRU" && attrInt("linear_before_reset", 0) != 0;
  // Activations: ONNX's defaults, or named ones without parameters.
  std::vector<std::string> activations;
  if (const auto *a = attr("activations")) {
    for (const auto &name : a->strings()) {
      activations.push_back(name);
    }
    if (attr("activation_alpha") || attr("activation_beta")) {
      fail("activations with alpha or beta are not supported");
    }
  }
  size_t perDir = type == "LSTM" ? 3 : type == "GRU" ? 2 : 1;
  if (activations.empty()) {
    std::vector<std::string> defaults =
        type == "LSTM" ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
        : type == "GRU" ? std::vector<std::string>{"Sigmoid", "Tanh"}
                        : std::vector<std::string>{"Tanh"};
    for (int64_t d = 0; d < dirs; ++d) {
      activations.insert(activations.end(), defaults.begin(), defaults.end());
    }
  }
  if (activations.size() != perDir * dirs) {
    fail("expects " + std::to_string(perDir * dirs) + " activations, got " +
         std::to_string(activations.size()));
  }
  auto activate = [&](const std::string &name, Value v) -> Value {
    static const std::map<std::string, std::string> ops = {
        {"Sigmoid", "kiln.sigmoid"}, {"Tanh", "kiln.tanh"},
        {"Relu", "kiln.relu"}};
    auto it = ops.find(name);
    if (it == ops.end()) {
      unsupportedValue("activations", name);
    }
    return emit(it->second, {v});
  };
  std::vector<int64_t> w = shapeOf(1), r = shapeOf(2);
  if (w != std::vector<int64_t>{dirs, gates * hidden, inputSize} ||
      r != std::vector<int64_t>{dirs, gates * hidden, hidden}) {
    fail("W must be [" + std::to_string(dirs) + ", " +
         std::to_string(gates * hidden) + ", " + std::to_string(inputSize) +
         "] and R [" + std::to_string(dirs) + ", " +
         std::to_string(gates * hidden) + ", " + std::to_string(hidden) + "]");
  }
  if (hasInput(4)) {
    // Every sequence at full length: the unrolled steps are all valid.
    for (int64_t len : hostInts(4, "sequence_lens")) {
      if (len != seq) {
        fail("sequence_lens shorter than the sequence (" +
             std::to_string(len) + " of " + std::to_string(seq) +
             ") are not supported");
      }
    }
  }
  // [D, rows, cols] input i's direction d as a [rows, cols] matrix.
  auto slab = [&](Value v, int64_t d) {
    std::vector<int64_t> s = shapeOf(v);
    std::vector<int64_t> begin = {d, 0, 0}, end = {d + 1, s[1], s[2]};
    if (s.size() == 2) {
      begin = {d, 0};
      end = {d + 1, s[1]};
      return reshape(crop(v, begin, end), {s[1]});
    }
    return reshape(crop(v, begin, end), {s[1], s[2]});
  };
  // Columns [g H, (g + 1) H) of a [batch, G H] value (or a [G H] vector).
  auto gate = [&](Value v, int64_t g) {
    std::vector<int64_t> s = shapeOf(v);
    if (s.size() == 1) {
      return crop(v, {g * hidden}, {(g + 1) * hidden});
    }
    return crop(v, {0, g * hidden}, {s[0], (g + 1) * hidden});
  };
  auto zeros = [&](std::vector<int64_t> shape) {
    OnnxTensor t;
    t.shape = shape;
    t.values.assign(product(shape), 0.0);
    return makeConstant(t);
  };
  Value W = data(1, "torch_default"), R = data(2, "torch_default");
  Value B = hasInput(3) ? data(3, "zeros") : Value();
  Value H0 = hasInput(5) ? data(5) : Value();
  Value C0 = type == "LSTM" && hasInput(6) ? data(6) : Value();
  Value P = type == "LSTM" && hasInput(7) ? data(7) : Value();
  std::vector<Value> stepOutputs(seq * dirs), lastH(dirs), lastC(dirs);
  for (int64_t d = 0; d < dirs; ++d) {
    bool reverse = direction == "reverse" || d == 1;
    const std::string *act = &activations[d * perDir];
    Value Wd = slab(W, d), Rd = slab(R, d);
    Value bw, br;
    if (B) {
      Value bd = slab(B, d);
      bw = crop(bd, {0}, {gates * hidden});
      br = crop(bd, {gates * hidden}, {2 * gates * hidden});
    }
    // The initial states, [D, batch, H] (layout 1: [batch, D, H]).
    auto initial = [&](Value v) {
      return batchFirst ? reshape(crop(v, {0, d, 0}, {batch, d + 1, hidden}),
                                  {batch, hidden})
                        : slab(v, d);
    };
    Value h = H0 ? initial(H0) : zeros({batch, hidden});
    Value c = C0 ? initial(C0) : zeros({batch, hidden});
    Value pd = P ? slab(P, d) : Value();
    for (int64_t k = 0; k < seq; ++k) {
      int64_t t = reverse ? seq - 1 - k : k;
      Value xt = reshape(
          batchFirst ? crop(data(0), {0, t, 0}, {batch, t + 1, inputSize})
                     : crop(data(0), {t, 0, 0}, {t + 1, batch, inputSize}),
          {batch, inputSize});
      Value gx = bw ? emit("kiln.dense", {xt, Wd, bw})
                    : emit("kiln.dense", {xt, Wd});
      Value gh = br ? emit("kiln.dense", {h, Rd, br})
                    : emit("kiln.dense", {h, Rd});
      if (type == "RNN") {
        h = activate(act[0], emit("kiln.add", {gx, gh}));
      } else if (type == "GRU") {
        Value z = activate(act[0], emit("kiln.add", {gate(gx, 0), gate(gh, 0)}));
        Value rr =
            activate(act[0], emit("kiln.add", {gate(gx, 1), gate(gh, 1)}));
        Value candidate;
        if (linearBeforeReset) {
          candidate = emit("kiln.add",
                           {gate(gx, 2), emit("kiln.mul", {rr, gate(gh, 2)})});
        } else {
          // (r ⊙ H) Rhᵀ + Rbh.
          Value rh = emit("kiln.mul", {rr, h});
          Value Rh = crop(Rd, {2 * hidden, 0}, {3 * hidden, hidden});
          Value hh = br ? emit("kiln.dense", {rh, Rh, gate(br, 2)})
                        : emit("kiln.dense", {rh, Rh});
          candidate = emit("kiln.add", {gate(gx, 2), hh});
        }
        Value ht = activate(act[1], candidate);
        // H = (1 - z) ⊙ h̃ + z ⊙ H_prev = h̃ + z ⊙ (H_prev - h̃).
        h = emit("kiln.add",
                 {ht, emit("kiln.mul", {z, emit("kiln.sub", {h, ht})})});
      } else {
        Value g = emit("kiln.add", {gx, gh});
        Value pre[4] = {gate(g, 0), gate(g, 1), gate(g, 2), gate(g, 3)};
        if (pd) {
          // Peepholes P = [p_i, p_o, p_f]: i and f see C_{t-1}, o C_t.
          pre[0] = emit("kiln.add",
                        {pre[0], emit("kiln.mul", {gate(pd, 0), c})});
          pre[2] = emit("kiln.add",
                        {pre[2], emit("kiln.mul", {gate(pd, 2), c})});
        }
        Value i = activate(act[0], pre[0]), f = activate(act[0], pre[2]);
        Value cc = activate(act[1], pre[3]);
        c = emit("kiln.add",
                 {emit("kiln.mul", {f, c}), emit("kiln.mul", {i, cc})});
        if (pd) {
          pre[1] = emit("kiln.add",
                        {pre[1], emit("kiln.mul", {gate(pd, 1), c})});
        }
        Value o = activate(act[0], pre[1]);
        h = emit("kiln.mul", {o, activate(act[2], c)});
      }
      stepOutputs[t * dirs + d] =
          reshape(h, batchFirst ? std::vector<int64_t>{batch, 1, 1, hidden}
                                : std::vector<int64_t>{1, 1, batch, hidden});
    }
    std::vector<int64_t> state = batchFirst
                                     ? std::vector<int64_t>{batch, 1, hidden}
                                     : std::vector<int64_t>{1, batch, hidden};
    lastH[d] = reshape(h, state);
    lastC[d] = reshape(c, state);
  }
  auto join = [&](const std::vector<Value> &parts, int64_t axis) {
    return parts.size() == 1
               ? parts[0]
               : emit("kiln.concat", SmallVector<Value>(parts.begin(),
                                                        parts.end()),
                      {i64("axis", axis)});
  };
  std::vector<Value> steps;
  for (int64_t t = 0; t < seq; ++t) {
    std::vector<Value> both(stepOutputs.begin() + t * dirs,
                            stepOutputs.begin() + (t + 1) * dirs);
    steps.push_back(join(both, batchFirst ? 2 : 1));
  }
  setOutput(0, join(steps, batchFirst ? 1 : 0));
  setOutput(1, join(lastH, batchFirst ? 1 : 0));
  if (type == "LSTM") {
    setOutput(2, join(lastC, batchFirst ? 1 : 0));
  }
}

// Resize (opsets 10-19) and Upsample (7, 9): kiln.resize over the last two
// dims, with constant scales or sizes.
void Importer::resizeOp() {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0);
  int64_t rank = x.size();
  bool upsample = node_->proto.op_type() == "Upsample";
  // Opset 10 and Upsample: scales only, asymmetric coordinates, nearest
  // floors (the values of their reference).
  bool legacy = upsample || opset_ < 11;
  std::string mode = attrString("mode", "nearest");
  std::string transform =
      legacy ? "asymmetric"
             : attrString("coordinate_transformation_mode", "half_pixel");
  std::string nearest =
      legacy ? "floor" : attrString("nearest_mode", "round_prefer_floor");
  if (!legacy) {
    attrFloat("extrapolation_value", 0.0); // tf_crop_and_resize only
    if (attrInt("antialias", 0) != 0) {
      unsupportedValue("antialias", "1");
    }
    std::string policy = attrString("keep_aspect_ratio_policy", "stretch");
    if (policy != "stretch") {
      unsupportedValue("keep_aspect_ratio_policy", policy);
    }
  }
  if (mode == "bilinear") {
    mode = "linear"; // Upsample-7's name
  }
  if (transform == "tf_crop_and_resize") {
    fail("coordinate_transformation_mode tf_crop_and_resize (a region of "
         "interest) is not supported");
  }
  static const std::set<std::string> transforms = {
      "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
      "tf_half_pixel_for_nn"};
  if (!transforms.count(transform)) {
    unsupportedValue("coordinate_transformation_mode", transform);
  }
  if (mode != "nearest" && mode != "linear" && mode != "cubic") {
    unsupportedValue("mode", mode);
  }
  // The resized axes: all (scales and sizes cover every dim) or `axes`.
  std::vector<int64_t> axes(rank);
  std::iota(axes.begin(), axes.end(), 0);
  if (auto given = attrInts("axes")) {
    axes.clear();
    for (int64_t a : *given) {
      axes.push_back(normAxis(a, rank));
    }
  }
  std::vector<double> scale(rank, 1.0);
  std::vector<int64_t> size(x);
  size_t scalesInput = upsample && opset_ < 9 ? 0 : legacy ? 1 : 2;
  std::vector<double> given;
  if (upsample && opset_ < 9) {
    const auto *a = attr("scales");
    if (!a) {
      fail("Upsample needs the attribute 'scales'");
    }
    given.assign(a->floats().begin(), a->floats().end());
  } else if (hasInput(scalesInput) &&
             requireHost(scalesInput, "scales").numElements() > 0) {
    given = requireHost(scalesInput, "scales").values;
  }
  if (!given.empty()) {
    if (given.size() != axes.size()) {
      fail("scales has " + std::to_string(given.size()) + " entries for " +
           std::to_string(axes.size()) + " axes");
    }
    for (size_t i = 0; i < axes.size(); ++i) {
      if (!(given[i] > 0)) {
        fail("scales must be positive");
      }
      scale[axes[i]] = given[i];
      size[axes[i]] = static_cast<int64_t>(
          std::floor(static_cast<double>(x[axes[i]]) * given[i]));
    }
  } else if (!legacy && hasInput(3)) {
    std::vector<int64_t> sizes = hostInts(3, "sizes");
    if (sizes.size() != axes.size()) {
      fail("sizes has " + std::to_string(sizes.size()) + " entries for " +
           std::to_string(axes.size()) + " axes");
    }
    for (size_t i = 0; i < axes.size(); ++i) {
      size[axes[i]] = sizes[i];
      scale[axes[i]] =
          static_cast<double>(sizes[i]) / static_cast<double>(x[axes[i]]);
    }
  } else {
    fail("needs constant scales or sizes");
  }
  for (int64_t d = 0; d + 2 < rank; ++d) {
    if (size[d] != x[d]) {
      fail("resizes dim " + std::to_string(d) +
           ": kiln resizes only the last two dims");
    }
  }
  if (rank < 2 || size[rank - 2] < 1 || size[rank - 1] < 1) {
    fail("the output would have no elements");
  }
  if (size == x && mode != "cubic") {
    // Nearest or linear at scale 1 copy their input in every mode.
    setOutput(0, data(0));
    return;
  }
  setOutput(0, emit("kiln.resize", {data(0)},
                    {ints("sizes", {size[rank - 2], size[rank - 1]}),
                     named("scales", b_.getF64ArrayAttr(
                                         {scale[rank - 2], scale[rank - 1]})),
                     str("mode", mode),
                     str("coordinate_transformation_mode", transform),
                     str("nearest_mode", nearest),
                     f32("cubic_coeff_a", attrFloat("cubic_coeff_a", -0.75)),
                     boolean("exclude_outside",
                             attrInt("exclude_outside", 0) != 0)}));
}

// Gathers of at most this many constant indices become crops (which fuse
// and need no index buffer); more, a kiln.gather.
constexpr size_t kMaxCropGathers = 64;

void Importer::gatherOp() {
  std::vector<int64_t> x = shapeOf(0);
  int64_t rank = x.size();
  int64_t axis = normAxis(attrInt("axis", 0), rank);
  if (!host(1)) {
    // Indices known only at run time (token ids): kiln.gather, whose
    // gradient adds into the gathered rows (an embedding table trains).
    requireFloat(0);
    if (elementTypeOf(1) != TP::INT32) {
      fail("run-time indices must be an integer graph input");
    }
    if (shapeOf(1).empty()) {
      fail("scalar run-time indices are not supported (give them rank 1)");
    }
    setOutput(0, emit("kiln.gather", {data(0), data(1)}, {i64("axis", axis)}));
    return;
  }
  const OnnxTensor &indices = requireHost(1, "indices");
  if (const OnnxTensor *h = host(0)) {
    setHostOutput(0, hostGather(*h, indices, axis));
    return;
  }
  requireFloat(0);
  for (double iv : indices.values) {
    int64_t idx = hostInt(iv);
    if (idx < -x[axis] || idx >= x[axis]) {
      fail("index " + std::to_string(idx) + " is out of range");
    }
  }
  // Many constant indices: kiln.gather at a constant i32 tensor, not one
  // crop each (the expanded NegativeLogLikelihoodLoss of a 5-D target
  // gathers 6,480 of them).
  if (indices.values.size() > kMaxCropGathers && !indices.shape.empty()) {
    setOutput(0, emit("kiln.gather", {data(0), labelsOf(1)}, {i64("axis", axis)}));
    return;
  }
  SmallVector<Value> parts;
  for (double iv : indices.values) {
    int64_t idx = hostInt(iv);
    idx = idx < 0 ? idx + x[axis] : idx;
    std::vector<int64_t> begin(rank, 0), end = x;
    begin[axis] = idx;
    end[axis] = idx + 1;
    parts.push_back(crop(data(0), begin, end));
  }
  if (parts.empty()) {
    fail("empty indices are not supported");
  }
  Value v = parts.size() == 1
                ? parts[0]
                : emit("kiln.concat", parts, {i64("axis", axis)});
  std::vector<int64_t> out(x.begin(), x.begin() + axis);
  out.insert(out.end(), indices.shape.begin(), indices.shape.end());
  out.insert(out.end(), x.begin() + axis + 1, x.end());
  setOutput(0, reshape(v, out));
}

// GatherND and ScatterND at indices known at import time (checked here):
// the data viewed as rows [B * P, S] (B the batch_dims' extent, P the
// indexed dims', S the rest's), each index tuple a row number. GatherND is
// kiln.gather of those rows; ScatterND adds the updates' rows where they
// point (gather_elements_grad along the rows) and, with reduction none,
// first zeroes the rows it writes (a constant mask; of repeated tuples
// the last one wins, as ONNX's reference). Both train through gather's
// and gather_elements_grad's gradients.
void Importer::gatherScatterNDOp() {
  bool gather = node_->proto.op_type() == "GatherND";
  std::vector<int64_t> x = shapeOf(0);
  const OnnxTensor &indices = requireHost(1, "indices");
  const std::vector<int64_t> &is = indices.shape;
  int64_t r = x.size(), q = is.size();
  int64_t b = gather ? attrInt("batch_dims", 0) : 0;
  if (r < 1 || q < 1) {
    fail("data and indices need rank 1 or more");
  }
  int64_t k = is.back();
  if (b < 0 || b >= std::min(q, r)) {
    fail("batch_dims " + std::to_string(b) + " must be in [0, " +
         std::to_string(std::min(q, r)) + ")");
  }
  if (k < 1 || k > r - b) {
    fail("index tuples of " + std::to_string(k) + " values for data " +
         shapeText(x) + " (batch_dims " + std::to_string(b) + ")");
  }
  for (int64_t d = 0; d < b; ++d) {
    if (is[d] != x[d]) {
      fail("batch dim " + std::to_string(d) + " of indices " + shapeText(is) +
           " differs from the data's " + shapeText(x));
    }
  }
  int64_t batch = 1, rowsPer = 1, slice = 1;
  for (int64_t d = 0; d < r; ++d) {
    (d < b ? batch : d < b + k ? rowsPer : slice) *= x[d];
  }
  int64_t tuples = product(is) / k, perBatch = tuples / batch;
  std::vector<double> rows(tuples);
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t flat = 0;
    for (int64_t j = 0; j < k; ++j) {
      int64_t v = hostInt(indices.values[t * k + j]), dim = x[b + j];
      if (v < -dim || v >= dim) {
        fail("index " + std::to_string(v) + " of dim " +
             std::to_string(b + j) + " is outside [" + std::to_string(-dim) +
             ", " + std::to_string(dim) + ")");
      }
      flat = flat * dim + (v < 0 ? v + dim : v);
    }
    rows[t] = static_cast<double>((t / perBatch) * rowsPer + flat);
  }
  std::vector<int64_t> out(is.begin(), is.end() - 1);
  out.insert(out.end(), x.begin() + b + k, x.end());
  if (gather) {
    if (const OnnxTensor *h = host(0)) {
      OnnxTensor y;
      y.shape = out;
      y.elementType = h->elementType;
      for (double row : rows) {
        auto first = h->values.begin() + static_cast<int64_t>(row) * slice;
        y.values.insert(y.values.end(), first, first + slice);
      }
      setHostOutput(0, std::move(y));
      return;
    }
    requireFloat(0);
    OnnxTensor rowsT;
    rowsT.shape = {tuples};
    rowsT.values = rows;
    Value v = emit("kiln.gather",
                   {reshape(data(0), {batch * rowsPer, slice}),
                    makeIntConstant("GatherND indices", rowsT)},
                   {i64("axis", 0)});
    setOutput(0, reshape(v, out));
    return;
  }
  requireFloat(0);
  requireFloat(2);
  if (shapeOf(2) != out) {
    fail("updates must have the shape " + shapeText(out) + ", got " +
         shapeText(shapeOf(2)));
  }
  std::string reduction = attrString("reduction", "none");
  if (reduction != "none" && reduction != "add") {
    unsupportedValue("reduction", reduction);
  }
  // Each update row's column indices: its row number in every column.
  OnnxTensor cols;
  cols.shape = {tuples, slice};
  std::vector<double> keep(tuples, 1.0), hit(rowsPer, 0.0);
  std::map<int64_t, int64_t> last; // row -> its last tuple
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t row = static_cast<int64_t>(rows[t]);
    cols.values.insert(cols.values.end(), slice, rows[t]);
    hit[row] = 1.0;
    auto [it, fresh] = last.emplace(row, t);
    if (!fresh && reduction == "none") {
      keep[it->second] = 0.0;
      it->second = t;
    }
  }
  Value updates = reshape(data(2), {tuples, slice});
  if (std::find(keep.begin(), keep.end(), 0.0) != keep.end()) {
    OnnxTensor mask;
    mask.shape = {tuples, 1};
    mask.values = keep;
    updates = emit("kiln.mul", {updates, makeConstant(mask)});
  }
  Value base = reshape(data(0), {rowsPer, slice});
  if (reduction == "none") {
    OnnxTensor untouched;
    untouched.shape = {rowsPer, 1};
    for (double h : hit) {
      untouched.values.push_back(1.0 - h);
    }
    base = emit("kiln.mul", {base, makeConstant(untouched)});
  }
  Value scattered =
      emit("kiln.gather_elements_grad",
           {makeIntConstant("ScatterND indices", cols), updates},
           {i64("axis", 0), ints("shape", {rowsPer, slice})});
  setOutput(0, reshape(emit("kiln.add", {base, scattered}), x));
}

// GatherElements: kiln.gather_elements at i32 indices, a graph input (or
// labels computed from one) or a constant known at import time (checked
// here); its gradient adds dy where each index points.
void Importer::gatherElementsOp() {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0), indices = shapeOf(1);
  if (indices.size() != x.size() || x.empty()) {
    fail("indices must have the data's rank");
  }
  int64_t axis = normAxis(attrInt("axis", 0), x.size());
  if (const OnnxTensor *h = host(1)) {
    for (double v : h->values) {
      int64_t index = hostInt(v);
      if (index < -x[axis] || index >= x[axis]) {
        fail("index " + std::to_string(index) + " is outside [" +
             std::to_string(-x[axis]) + ", " + std::to_string(x[axis]) + ")");
      }
    }
  } else if (elementTypeOf(1) != TP::INT32) {
    fail("run-time indices must be an integer graph input");
  }
  setOutput(0, emit("kiln.gather_elements", {data(0), labelsOf(1)},
                    {i64("axis", axis)}));
}

// ScatterElements (and Scatter, its opset 9-10 name): data with updates
// written (reduction none) or added (add) where the indices point along the
// axis, as gather_elements_grad (the scatter-add) of the updates: none is
// data - data * hit + scatter(updates), hit = min(scatter of ones, 1) (1
// where some index points). Indices known at import time are checked, and with
// none a repeated index keeps its last update, as ONNX's reference does
// (ONNX leaves it undefined; run-time indices add the repeats up).
void Importer::scatterElementsOp() {
  requireFloat(0);
  requireFloat(2);
  std::vector<int64_t> x = shapeOf(0), indices = shapeOf(1);
  if (indices.size() != x.size() || x.empty() || shapeOf(2) != indices) {
    fail("indices must have the data's rank and the updates' shape");
  }
  int64_t axis = normAxis(attrInt("axis", 0), x.size());
  for (size_t d = 0; d < x.size(); ++d) {
    if (indices[d] > x[d]) {
      fail("indices dim " + std::to_string(d) + " (" +
           std::to_string(indices[d]) + ") exceeds the data's (" +
           std::to_string(x[d]) + ")");
    }
  }
  std::string reduction = attrString("reduction", "none");
  if (reduction != "none" && reduction != "add") {
    unsupportedValue("reduction", reduction);
  }
  Value updates = data(2);
  if (const OnnxTensor *h = host(1)) {
    std::vector<double> keep(h->values.size(), 1.0);
    std::map<std::vector<int64_t>, size_t> last; // target -> update index
    std::vector<int64_t> strides(indices.size(), 1);
    for (int64_t d = static_cast<int64_t>(indices.size()) - 2; d >= 0; --d) {
      strides[d] = strides[d + 1] * indices[d + 1];
    }
    for (size_t i = 0; i < h->values.size(); ++i) {
      int64_t index = hostInt(h->values[i]);
      if (index < -x[axis] || index >= x[axis]) {
        fail("index " + std::to_string(index) + " is outside [" +
             std::to_string(-x[axis]) + ", " + std::to_string(x[axis]) + ")");
      }
      std::vector<int64_t> target(indices.size());
      for (size_t d = 0; d < indices.size(); ++d) {
        target[d] = (static_cast<int64_t>(i) / strides[d]) % indices[d];
      }
      target[axis] = index < 0 ? index + x[axis] : index;
      auto [it, fresh] = last.emplace(target, i);
      if (!fresh && reduction == "none") {
        keep[it->second] = 0.0;
        it->second = i;
      }
    }
    if (std::find(keep.begin(), keep.end(), 0.0) != keep.end()) {
      OnnxTensor mask;
      mask.shape = indices;
      mask.values = keep;
      updates = emit("kiln.mul", {updates, makeConstant(mask)});
    }
  } else if (elementTypeOf(1) != TP::INT32) {
    fail("run-time indices must be an integer graph input");
  }
  Value idx = labelsOf(1);
  auto scatter = [&](Value v) {
    return emit("kiln.gather_elements_grad", {idx, v},
                {i64("axis", axis), ints("shape", x)});
  };
  Value base = data(0);
  if (reduction == "none") {
    OnnxTensor ones;
    ones.shape = indices;
    ones.values.assign(product(indices), 1.0);
    // 1 where some index points (repeats counted once).
    Value hit = emit("kiln.minimum",
                     {scatter(makeConstant(ones)), scalarConstant(1)});
    base = emit("kiln.sub", {base, emit("kiln.mul", {base, hit})});
  }
  setOutput(0, emit("kiln.add", {base, scatter(updates)}));
}

// MaxUnpool (opsets 9, 11): X's values written at their indices (MaxPool's
// Indices: positions flattened over the whole unpooled tensor, row major)
// into zeros of the unpooled shape ((in - 1)·stride - pads + kernel per
// spatial dim); an output_shape (known at import time) larger than that
// adds zero rows and columns at the end, as ONNX's reference. X and the
// indices flattened to one row, gather_elements_grad (a scatter-add along
// it; MaxPool's windows give distinct positions), a reshape and the pad:
// it trains through their gradients. Indices known at import time are
// checked.
void Importer::maxUnpoolOp() {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0);
  if (x.size() != 4 || shapeOf(1) != x) {
    fail("MaxUnpool takes X [N, C, H, W] and indices of its shape, got " +
         shapeText(x) + " and " + shapeText(shapeOf(1)));
  }
  auto kernel = attrInts("kernel_shape");
  if (!kernel || kernel->size() != 2) {
    fail("kernel_shape must have 2 entries");
  }
  std::vector<int64_t> strides = attrInts("strides").value_or(
      std::vector<int64_t>{1, 1});
  std::vector<int64_t> pads = attrInts("pads").value_or(
      std::vector<int64_t>{0, 0, 0, 0});
  if (strides.size() != 2 || pads.size() != 4) {
    fail("strides must have 2 entries and pads 4");
  }
  std::vector<int64_t> out = {x[0], x[1],
                              (x[2] - 1) * strides[0] - pads[0] - pads[2] +
                                  (*kernel)[0],
                              (x[3] - 1) * strides[1] - pads[1] - pads[3] +
                                  (*kernel)[1]};
  if (std::any_of(out.begin(), out.end(), [](int64_t d) { return d < 1; })) {
    fail("the unpooled shape " + shapeText(out) + " is empty");
  }
  std::vector<int64_t> padded = out;
  if (hasInput(2)) {
    padded = hostInts(2, "output_shape");
    if (padded.size() != 4 || padded[0] != out[0] || padded[1] != out[1] ||
        padded[2] < out[2] || padded[3] < out[3]) {
      fail("output_shape " + shapeText(padded) + " must be [N, C, H, W] " +
           "with H and W at least the unpooled " + shapeText(out));
    }
  }
  int64_t count = product(x), total = product(out);
  Value indices;
  if (const OnnxTensor *h = host(1)) {
    std::vector<int32_t> flat;
    for (double v : h->values) {
      int64_t index = hostInt(v);
      if (index < 0 || index >= total) {
        fail("index " + std::to_string(index) + " is outside the output's " +
             std::to_string(total) + " elements");
      }
      flat.push_back(static_cast<int32_t>(index));
    }
    indices = i32Constant(flat, {1, count});
  } else {
    indices = emit("kiln.reshape", {labelsOf(1)}, {ints("shape", {1, count})});
  }
  Value values = emit("kiln.reshape", {data(0)}, {ints("shape", {1, count})});
  Value scattered =
      emit("kiln.gather_elements_grad", {indices, values},
           {i64("axis", 1), ints("shape", {1, total})});
  Value y = emit("kiln.reshape", {scattered}, {ints("shape", out)});
  if (padded != out) {
    y = emit("kiln.pad", {y},
             {ints("pads", {0, 0, 0, 0, 0, 0, padded[2] - out[2],
                            padded[3] - out[3]})});
  }
  setOutput(0, y);
}

std::vector<int64_t> Importer::reduceAxes(int64_t rank) {
  std::vector<int64_t> axes;
  // Axes moved from the attribute to an input: ReduceSum-13, the others 18.
  bool fromInput = opset_ >= (node_->proto.op_type() == "ReduceSum" ? 13 : 18);
  if (fromInput) {
    if (hasInput(1)) {
      axes = hostInts(1, "axes");
    }
  } else if (auto a = attrInts("axes")) {
    axes = *a;
  }
  bool noop = fromInput && attrInt("noop_with_empty_axes", 0) != 0;
  if (axes.empty() && !noop) {
    for (int64_t d = 0; d < rank; ++d) {
      axes.push_back(d);
    }
  }
  std::set<int64_t> sorted;
  for (int64_t a : axes) {
    sorted.insert(normAxis(a, rank));
  }
  return {sorted.begin(), sorted.end()};
}

// ReduceMean, ReduceSum, ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSum
// and ReduceLogSumExp through reduce_sum; ReduceMax, ReduceMin and
// ReduceProd through their own reductions. Without axes (and
// noop_with_empty_axes) the input passes unreduced, as ONNX's reference
// does, after the elementwise part of L1, L2, SumSquare and LogSum.
void Importer::reduceOp(const std::string &kind) {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0);
  bool keepdims = attrInt("keepdims", 1) != 0;
  std::vector<int64_t> axes = reduceAxes(x.size());
  Value v = data(0);
  auto reduce = [&](const char *op, Value input, bool keep) {
    return emit(op, {input}, {ints("axes", axes), boolean("keepdims", keep)});
  };
  if (kind == "max" || kind == "min" || kind == "prod") {
    setOutput(0, axes.empty() ? v
                              : reduce(kind == "max"   ? "kiln.reduce_max"
                                       : kind == "min" ? "kiln.reduce_min"
                                                       : "kiln.reduce_prod",
                                       v, keepdims));
    return;
  }
  if (kind == "log_sum_exp") {
    if (axes.empty()) {
      setOutput(0, v);
      return;
    }
    // m + log(sum(exp(x - m))) with m the slice's maximum, so that exp
    // cannot overflow.
    Value m = reduce("kiln.reduce_max", v, true);
    Value s = reduce("kiln.reduce_sum", emit("kiln.exp", {emit("kiln.sub", {v, m})}),
                     keepdims);
    Value y = emit("kiln.log", {s});
    setOutput(0, emit("kiln.add", {y, keepdims ? m : reshape(m, shapeOf(y))}));
    return;
  }
  if (kind == "sum_square" || kind == "l2") {
    v = emit("kiln.mul", {v, v});
  } else if (kind == "l1") {
    v = emit("kiln.abs", {v});
  }
  Value y = axes.empty() ? v : reduce("kiln.reduce_sum", v, keepdims);
  if (kind == "mean" && !axes.empty()) {
    int64_t count = 1;
    for (int64_t a : axes) {
      count *= x[a];
    }
    y = scale(y, 1.0 / static_cast<double>(count));
  } else if (kind == "l2") {
    y = emit("kiln.sqrt", {y});
  } else if (kind == "log_sum") {
    y = emit("kiln.log", {y});
  }
  setOutput(0, y);
}

void Importer::padOp() {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0);
  int64_t rank = x.size();
  std::string mode = attrString("mode", "constant");
  std::vector<int64_t> pads;
  double value = 0;
  if (opset_ < 11) {
    // Pad-1 named the attribute `paddings`.
    pads = attrInts(opset_ < 2 ? "paddings" : "pads")
               .value_or(std::vector<int64_t>{});
    value = attrFloat("value", 0);
  } else {
    pads = hostInts(1, "pads");
    if (hasInput(2)) {
      const OnnxTensor &v = requireHost(2, "constant_value");
      value = v.values.empty() ? 0 : v.values[0];
    }
    if (hasInput(3)) {
      // Pad-18: pads = [begins, ends] of the listed axes only.
      std::vector<int64_t> axes = hostInts(3, "axes");
      if (pads.size() != 2 * axes.size()) {
        fail("pads must have 2 entries per axis (" +
             std::to_string(2 * axes.size()) + ")");
      }
      std::vector<int64_t> full(2 * rank, 0);
      std::set<int64_t> seen;
      for (size_t i = 0; i < axes.size(); ++i) {
        int64_t axis = normAxis(axes[i], rank);
        if (!seen.insert(axis).second) {
          fail("axis " + std::to_string(axes[i]) + " is listed twice");
        }
        full[axis] = pads[i];
        full[rank + axis] = pads[axes.size() + i];
      }
      pads = full;
    }
  }
  if (static_cast<int64_t>(pads.size()) != 2 * rank) {
    fail("pads must have 2 * rank = " + std::to_string(2 * rank) + " entries");
  }
  if (mode != "constant" && mode != "reflect" && mode != "edge") {
    unsupportedValue("mode", mode);
  }
  std::vector<NamedAttribute> attrs{ints("pads", pads)};
  if (value != 0) {
    attrs.push_back(f32("value", value));
  }
  if (mode != "constant") {
    attrs.push_back(str("mode", mode));
  }
  setOutput(0, emit("kiln.pad", {data(0)}, attrs));
}

void Importer::powOp() {
  requireFloat(0);
  legacyBroadcast();
  if (const OnnxTensor *e = host(1); e && e->numElements() == 1) {
    double p = e->values[0];
    Value x = data(0);
    std::vector<int64_t> shape = shapeOf(0);
    Value y;
    if (p == 1) {
      y = x;
    } else if (p == 2) {
      y = emit("kiln.mul", {x, x});
    } else if (p == 0.5) {
      y = emit("kiln.sqrt", {x});
    } else if (p == -1) {
      y = emit("kiln.div", {scalarConstant(1), x});
    } else {
      y = emit("kiln.pow", {x, data(1)});
    }
    // A rank-N exponent of one element may raise the result's rank.
    bool ok;
    setOutput(0, reshape(y, broadcastShapes(shape, e->shape, ok)));
    return;
  }
  // An integer exponent known at import time is a float constant (every
  // int32 is exact in f64, the host's values).
  if (!host(1)) {
    requireFloat(1);
  }
  setOutput(0, emit("kiln.pow", {data(0), data(1)}));
}

// Versions 1-6 of the arithmetic ops broadcast only with broadcast = 1, B
// aligned with A from `axis` on. That is NumPy broadcasting where B lines
// up with A's last dims (the default axis); other axes mean otherwise.
void Importer::legacyBroadcast() {
  if (opset_ >= 7) {
    return;
  }
  int64_t rankA = shapeOf(0).size(), rankB = shapeOf(1).size();
  bool broadcast = attrInt("broadcast", 0) != 0;
  if (const auto *a = attr("axis"); a && broadcast) {
    int64_t axis = a->i() < 0 ? a->i() + rankA : a->i();
    if (axis != rankA - rankB) {
      fail("legacy broadcasting from axis " + std::to_string(a->i()) +
           " (B not aligned with A's last dims) is not supported");
    }
  }
  if (!broadcast && shapeOf(0) != shapeOf(1)) {
    fail("without broadcast = 1 the inputs must have one shape");
  }
}

// Cast's target type: Cast-1 names it ("FLOAT"), later versions number it.
int Importer::castTarget() {
  if (node_->proto.op_type() == "CastLike") {
    return elementTypeOf(1); // the type of `target_type`
  }
  if (opset_ >= 6) {
    return static_cast<int>(attrInt("to", TP::FLOAT));
  }
  std::string name = attrString("to", "FLOAT");
  TP::DataType type;
  if (!TP::DataType_Parse(name, &type)) {
    unsupportedValue("to", name);
  }
  return type;
}

void Importer::binaryOp(const std::string &kind) {
  requireFloat(0);
  requireFloat(1);
  legacyBroadcast();
  Value a = data(0), b = data(1);
  if (kind == "mul") {
    // x * sigmoid(x) is SiLU (PyTorch exports nn.SiLU this way).
    for (auto [x, s] : {std::pair{a, b}, std::pair{b, a}}) {
      auto it = sigmoidOf_.find(s);
      if (it != sigmoidOf_.end() && it->second == x) {
        setOutput(0, emit("kiln.silu", {x}));
        return;
      }
    }
  }
  setOutput(0, emit("kiln." + kind, {a, b}));
}

void Importer::layerNormOp() {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0);
  int64_t axis = normAxis(attrInt("axis", -1), x.size());
  double epsilon = attrFloat("epsilon", 1e-5);
  if (attrInt("stash_type", 1) != 1) {
    unsupportedValue("stash_type", std::to_string(attrInt("stash_type", 1)));
  }
  std::vector<int64_t> normalized(x.begin() + axis, x.end());
  SmallVector<Value> operands{data(0)};
  for (size_t i = 1; i < 3; ++i) {
    if (!hasInput(i)) {
      continue;
    }
    Value p = data(i, i == 1 ? "ones" : "zeros");
    std::vector<int64_t> shape = shapeOf(p);
    if (shape != normalized) {
      if (product(shape) != product(normalized)) {
        fail("scale and bias must have the normalized shape " +
             shapeText(normalized) + ", got " + shapeText(shape));
      }
      p = reshape(p, normalized);
    }
    operands.push_back(p);
  }
  setOutput(0, emit("kiln.layer_norm", operands,
                    {i64("axis", axis), f32("epsilon", epsilon)}));
  // Mean and InvStdDev (shaped like x with the normalized dims 1), when
  // used: the statistics again, from reduce_sum and elementwise ops (so
  // that they have gradients too); layer_norm's kernel keeps its own.
  auto used = [&](int i) {
    return node_->proto.output_size() > i && !node_->proto.output(i).empty();
  };
  if (!used(1) && !used(2)) {
    return;
  }
  std::vector<int64_t> axes;
  for (int64_t d = axis; d < static_cast<int64_t>(x.size()); ++d) {
    axes.push_back(d);
  }
  double count = static_cast<double>(product(normalized));
  auto mean = [&](Value v) {
    return scale(emit("kiln.reduce_sum", {v},
                      {ints("axes", axes), boolean("keepdims", true)}),
                 1.0 / count);
  };
  Value m = mean(data(0));
  if (used(1)) {
    setOutput(1, m);
  }
  if (used(2)) {
    Value d = emit("kiln.sub", {data(0), m});
    Value var = mean(emit("kiln.mul", {d, d}));
    Value stddev =
        emit("kiln.sqrt", {emit("kiln.add", {var, scalarConstant(epsilon)})});
    setOutput(2, emit("kiln.div", {scalarConstant(1.0), stddev}));
  }
}

// DepthToSpace and SpaceToDepth: a reshape to 6-D, a transpose and a
// reshape back (ONNX's own definition), so the gradient is theirs.
void Importer::depthSpaceOp() {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0);
  if (x.size() != 4) {
    fail("needs a rank-4 input [N, C, H, W], got " + shapeText(x));
  }
  int64_t b = attrInt("blocksize", 0);
  if (b < 1) {
    fail("blocksize must be 1 or more, got " + std::to_string(b));
  }
  int64_t n = x[0], c = x[1], h = x[2], w = x[3];
  std::vector<int64_t> blocked, perm, out;
  if (node_->proto.op_type() == "DepthToSpace") {
    if (c % (b * b) != 0) {
      fail("channels " + std::to_string(c) + " are not a multiple of " +
           "blocksize^2 = " + std::to_string(b * b));
    }
    std::string mode = attrString("mode", "DCR");
    if (mode == "DCR") {
      blocked = {n, b, b, c / (b * b), h, w};
      perm = {0, 3, 4, 1, 5, 2};
    } else if (mode == "CRD") {
      blocked = {n, c / (b * b), b, b, h, w};
      perm = {0, 1, 4, 2, 5, 3};
    } else {
      unsupportedValue("mode", mode);
    }
    out = {n, c / (b * b), h * b, w * b};
  } else {
    if (h % b != 0 || w % b != 0) {
      fail("spatial dims " + std::to_string(h) + "x" + std::to_string(w) +
           " are not multiples of blocksize " + std::to_string(b));
    }
    blocked = {n, c, h / b, b, w / b, b};
    perm = {0, 3, 5, 1, 2, 4};
    out = {n, c * b * b, h / b, w / b};
  }
  if (b == 1) {
    setOutput(0, data(0));
    return;
  }
  Value v = reshape(data(0), blocked);
  v = emit("kiln.transpose", {v}, {ints("perm", perm)});
  setOutput(0, reshape(v, out));
}

// Tile (opset 6 on: the repeats as an input known at import time): x
// reshaped to [1, d0, 1, d1, ...], broadcast against zeros of shape [r0,
// d0, r1, d1, ...] (as Expand), reshaped to [r0 * d0, r1 * d1, ...]; the
// gradient sums the copies.
void Importer::tileOp() {
  requireFloat(0);
  if (node_->version < 6) {
    fail("Tile-1 (the 'tiles' and 'axis' inputs) is not supported; Tile-6 "
         "and later are");
  }
  std::vector<int64_t> x = shapeOf(0);
  std::vector<int64_t> repeats = hostInts(1, "repeats");
  if (repeats.size() != x.size()) {
    fail("repeats has " + std::to_string(repeats.size()) +
         " values for a rank-" + std::to_string(x.size()) + " input");
  }
  std::vector<int64_t> spread, wide, out;
  for (size_t d = 0; d < x.size(); ++d) {
    if (repeats[d] < 0) {
      fail("repeats must not be negative, got " + std::to_string(repeats[d]));
    }
    spread.insert(spread.end(), {1, x[d]});
    wide.insert(wide.end(), {repeats[d], x[d]});
    out.push_back(repeats[d] * x[d]);
  }
  if (llvm::all_of(repeats, [](int64_t r) { return r == 1; })) {
    setOutput(0, data(0));
    return;
  }
  if (product(out) == 0) {
    fail("the tiled output " + shapeText(out) + " is empty");
  }
  setOutput(0, reshape(broadcastTo(reshape(data(0), spread), wide), out));
}

// OneHot: `on` where the index (negative ones count from the end) equals
// the position along the new axis, else `off`. Indices known at import
// time fold on the host (in the values' element type); run-time ones are
// compared with a constant of the positions (f32 values only).
void Importer::oneHotOp() {
  const OnnxTensor &depthT = requireHost(1, "depth");
  const OnnxTensor &values = requireHost(2, "values");
  if (depthT.values.size() != 1 || values.values.size() != 2) {
    fail("depth must be one value and values two (off, on)");
  }
  int64_t depth = hostInt(depthT.values[0]);
  if (depth < 1) {
    fail("depth must be 1 or more, got " + std::to_string(depth));
  }
  double off = values.values[0], on = values.values[1];
  std::vector<int64_t> in = shapeOf(0);
  int64_t axis = normAxis(attrInt("axis", -1), in.size() + 1);
  std::vector<int64_t> out = in;
  out.insert(out.begin() + axis, depth);
  if (const OnnxTensor *indices = host(0)) {
    OnnxTensor y;
    y.shape = out;
    y.elementType = values.elementType;
    int64_t inner = 1;
    for (size_t d = axis; d < in.size(); ++d) {
      inner *= in[d];
    }
    int64_t outer = product(in) / std::max<int64_t>(inner, 1);
    y.values.assign(product(out), off);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        int64_t k = static_cast<int64_t>(indices->values[o * inner + i]);
        k = k < 0 ? k + depth : k;
        if (k >= 0 && k < depth) {
          y.values[(o * depth + k) * inner + i] = on;
        }
      }
    }
    setHostOutput(0, std::move(y));
    return;
  }
  if (values.elementType != TP::FLOAT) {
    fail("run-time indices with values of element type " +
         elementTypeName(values.elementType) + ": kiln computes them in f32 "
         "only");
  }
  Value idx = floatData(0);
  Value negative = emit("kiln.less", {idx, scalarConstant(0)});
  idx = emit("kiln.where",
             {negative, emit("kiln.add", {idx, scalarConstant(depth)}), idx});
  std::vector<int64_t> spread = in, along(out.size(), 1);
  spread.insert(spread.begin() + axis, 1);
  along[axis] = depth;
  OnnxTensor positions;
  positions.shape = along;
  for (int64_t k = 0; k < depth; ++k) {
    positions.values.push_back(static_cast<double>(k));
  }
  Value hit = emit("kiln.equal", {reshape(idx, spread), makeConstant(positions)});
  setOutput(0, emit("kiln.where", {hit, scalarConstant(on), scalarConstant(off)}));
}

// InstanceNormalization: each (image, channel) plane normalized over its
// spatial dims (layer_norm over the flattened plane, its scale ones), then
// the per-channel scale and bias.
void Importer::instanceNormOp() {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0);
  if (x.size() < 3) {
    fail("needs an input [N, C, D1, ...] of rank 3 or more, got " +
         shapeText(x));
  }
  int64_t plane = 1;
  for (size_t d = 2; d < x.size(); ++d) {
    plane *= x[d];
  }
  OnnxTensor ones;
  ones.shape = {plane};
  ones.values.assign(plane, 1.0);
  Value v = reshape(data(0), {x[0], x[1], plane});
  v = emit("kiln.layer_norm", {v, makeConstant(ones)},
           {i64("axis", 2), f32("epsilon", attrFloat("epsilon", 1e-5))});
  v = reshape(v, x);
  std::vector<int64_t> perChannel(x.size() - 1, 1);
  perChannel[0] = x[1];
  for (size_t i = 1; i < 3; ++i) {
    Value p = data(i, i == 1 ? "ones" : "zeros");
    if (product(shapeOf(p)) != x[1]) {
      fail(std::string(i == 1 ? "scale" : "B") + " must have " +
           std::to_string(x[1]) + " values (one per channel), got " +
           shapeText(shapeOf(p)));
    }
    v = emit(i == 1 ? "kiln.mul" : "kiln.add", {v, reshape(p, perChannel)});
  }
  setOutput(0, v);
}

// Labels as an i32 value: a graph input, or a constant known on the host.
Value Importer::labelsOf(size_t i) {
  Entry &labels = input(i);
  if (labels.value) {
    return labels.value;
  }
  const OnnxTensor &t = *labels.host;
  return i32Constant(std::vector<int32_t>(t.values.begin(), t.values.end()),
                     t.shape);
}

Value Importer::i32Constant(const std::vector<int32_t> &values,
                            const std::vector<int64_t> &shape) {
  auto type = RankedTensorType::get(shape, b_.getI32Type());
  return b_.create<kir::ConstantOp>(
               loc(), type,
               DenseElementsAttr::get(type, llvm::ArrayRef<int32_t>(values)))
      .getResult();
}

// nll_loss of log-probabilities `logProb` with the node's target (input 1),
// class weights (input 2), reduction and ignore_index.
Value Importer::nllLoss(Value logProb) {
  SmallVector<Value> operands = {logProb, labelsOf(1)};
  if (hasInput(2)) {
    requireFloat(2);
    operands.push_back(data(2));
  }
  std::vector<NamedAttribute> attrs = {
      str("reduction", attrString("reduction", "mean"))};
  if (has("ignore_index")) {
    attrs.push_back(i64("ignore_index", attrInt("ignore_index", 0)));
  }
  return emit("kiln.nll_loss", operands, attrs);
}

// SoftmaxCrossEntropyLoss: sparse_cce (one fused kernel) for the common
// form, [N,C] scores with the mean and nothing else; otherwise log_softmax
// over the classes and nll_loss, which also gives the log_prob output.
void Importer::sceLossOp() {
  requireFloat(0);
  bool plain = shapeOf(0).size() == 2 && !hasInput(2) &&
               !has("ignore_index") &&
               attrString("reduction", "mean") == "mean" &&
               !(node_->proto.output_size() > 1 &&
                 !node_->proto.output(1).empty());
  if (plain) {
    setOutput(0, emit("kiln.sparse_cce", {data(0), labelsOf(1)}));
    return;
  }
  Value logProb = emit("kiln.log_softmax", {data(0)}, {i64("axis", 1)});
  setOutput(0, nllLoss(logProb));
  if (node_->proto.output_size() > 1 && !node_->proto.output(1).empty()) {
    setOutput(1, logProb);
  }
}

void Importer::preluOp() {
  requireFloat(0);
  std::vector<int64_t> x = shapeOf(0), slope = shapeOf(1);
  Value xs = data(0), s = data(1);
  int64_t n = product(slope);
  bool perChannel = x.size() >= 2 && n == x[1] &&
                    (slope.size() == 1 ||
                     slope.size() + 1 == x.size()) && // [C,1,1] or [C]
                    (slope.size() == 1 || slope[0] == x[1]);
  if (n == 1 || perChannel) {
    setOutput(0, emit("kiln.prelu", {xs, reshape(s, {n})}));
    return;
  }
  // General broadcasting slope: relu(x) - slope * relu(-x).
  Value negPart = emit("kiln.relu", {scale(xs, -1)});
  setOutput(0, emit("kiln.sub", {emit("kiln.relu", {xs}),
                                 emit("kiln.mul", {s, negPart})}));
}

void Importer::concatOp() {
  int64_t rank = shapeOf(0).size();
  int64_t axis = normAxis(attrInt("axis", opset_ < 4 ? 1 : 0), rank);
  bool allHost = true;
  for (size_t i = 0; i < numInputs(); ++i) {
    allHost = allHost && host(i);
  }
  if (allHost) {
    OnnxTensor out = *host(0);
    std::vector<const OnnxTensor *> parts;
    for (size_t i = 0; i < numInputs(); ++i) {
      parts.push_back(host(i));
    }
    out.shape[axis] = 0;
    for (auto *p : parts) {
      out.shape[axis] += p->shape[axis];
    }
    out.values.clear();
    int64_t outer = product(out.shape, 0, axis);
    for (int64_t o = 0; o < outer; ++o) {
      for (auto *p : parts) {
        int64_t chunk = product(p->shape, axis);
        out.values.insert(out.values.end(), p->values.begin() + o * chunk,
                          p->values.begin() + (o + 1) * chunk);
      }
    }
    setHostOutput(0, std::move(out));
    return;
  }
  SmallVector<Value> operands;
  for (size_t i = 0; i < numInputs(); ++i) {
    requireFloat(i);
    if (product(shapeOf(i)) == 0) {
      continue; // ONNX allows empty inputs
    }
    operands.push_back(data(i));
  }
  setOutput(0, operands.size() == 1
                   ? operands[0]
                   : emit("kiln.concat", operands, {i64("axis", axis)}));
}

// The data-path ops by ONNX op type (docs/onnx.md "Mapping"): each handler
// reads the current node's inputs and attributes and sets its outputs.
void Importer::registerHandlers() {
  auto on = [this](std::initializer_list<const char *> ops,
                   std::function<void()> handler) {
    for (const char *op : ops) {
      handlers_[op] = handler;
    }
  };
  // Ops that map one to one.
  static const std::pair<const char *, const char *> unary[] = {
      {"Relu", "relu"},         {"Sigmoid", "sigmoid"}, {"Tanh", "tanh"},
      {"Sin", "sin"},           {"Exp", "exp"},         {"Log", "log"},
      {"Sqrt", "sqrt"},         {"Erf", "erf"},         {"Abs", "abs"},
      {"Tan", "tan"},           {"Sinh", "sinh"},       {"Cosh", "cosh"},
      {"Asin", "asin"},         {"Acos", "acos"},       {"Atan", "atan"},
      {"Asinh", "asinh"},       {"Acosh", "acosh"},     {"Atanh", "atanh"},
      {"Softsign", "softsign"}, {"Ceil", "ceil"},       {"Floor", "floor"},
      {"Round", "round"},       {"Sign", "sign"},
  };
  for (auto [onnxOp, kilnOp] : unary) {
    std::string name = std::string("kiln.") + kilnOp;
    on({onnxOp}, [this, name] {
      requireFloat(0);
      Value y = emit(name, {data(0)});
      if (node_->proto.op_type() == "Sigmoid") {
        sigmoidOf_[y] = data(0);
      }
      setOutput(0, y);
    });
  }
  static const std::pair<const char *, const char *> binary[] = {
      {"Add", "add"}, {"Sub", "sub"}, {"Mul", "mul"}, {"Div", "div"}};
  for (auto [onnxOp, kilnOp] : binary) {
    std::string name = kilnOp;
    on({onnxOp}, [this, name] { binaryOp(name); });
  }
  on({"Conv"}, [this] { convOp(); });
  on({"ConvTranspose"}, [this] { convTransposeOp(); });
  on({"MaxPool"}, [this] { poolOp(true); });
  on({"AveragePool"}, [this] { poolOp(false); });
  on({"GlobalMaxPool"}, [this] { globalPoolOp(true); });
  on({"GlobalAveragePool"}, [this] { globalPoolOp(false); });
  on({"BatchNormalization"}, [this] { batchNormOp(); });
  on({"Gemm"}, [this] { gemmOp(); });
  on({"MatMul"}, [this] { matmulOp(); });
  on({"Einsum"}, [this] { einsumOp(); });
  on({"If"}, [this] { ifOp(); });
  on({"Loop"}, [this] { loopOp(); });
  on({"Scan"}, [this] { scanOp(); });
  on({"Softmax"}, [this] { softmaxOp(false); });
  on({"LogSoftmax"}, [this] { softmaxOp(true); });
  on({"LRN"}, [this] {
    // Opsets 1 and 13 define the same op; size is required.
    requireFloat(0);
    if (!attr("size")) {
      fail("LRN needs the attribute 'size'");
    }
    setOutput(0, emit("kiln.lrn", {data(0)},
                      {i64("size", attrInt("size", 0)),
                       f32("alpha", attrFloat("alpha", 1e-4)),
                       f32("beta", attrFloat("beta", 0.75)),
                       f32("bias", attrFloat("bias", 1.0))}));
  });
  on({"MaxUnpool"}, [this] { maxUnpoolOp(); });
  on({"ReverseSequence"}, [this] {
    // Each batch entry's first sequence_lens[b] steps along time_axis
    // reversed, the rest kept: gather_elements at a constant index tensor
    // (the lengths must be known at import time; it trains through
    // gather_elements' gradient).
    requireFloat(0);
    std::vector<int64_t> x = shapeOf(0);
    if (x.size() < 2) {
      fail("the input must have rank 2 or more, got " + shapeText(x));
    }
    int64_t batchAxis = normAxis(attrInt("batch_axis", 1), x.size());
    int64_t timeAxis = normAxis(attrInt("time_axis", 0), x.size());
    if (batchAxis == timeAxis || batchAxis > 1 || timeAxis > 1) {
      fail("batch_axis and time_axis must be 0 and 1 in some order");
    }
    std::vector<int64_t> lens = hostInts(1, "sequence_lens");
    if (static_cast<int64_t>(lens.size()) != x[batchAxis]) {
      fail("sequence_lens has " + std::to_string(lens.size()) +
           " entries for a batch of " + std::to_string(x[batchAxis]));
    }
    int64_t inner = product(x) / (x[0] * x[1]);
    std::vector<int32_t> index(product(x));
    for (size_t i = 0; i < index.size(); ++i) {
      int64_t outer = static_cast<int64_t>(i) / inner;
      int64_t pos[2] = {outer / x[1], outer % x[1]};
      int64_t b = pos[batchAxis], t = pos[timeAxis], len = lens[b];
      if (len < 1 || len > x[timeAxis]) {
        fail("sequence_lens[" + std::to_string(b) + "] = " +
             std::to_string(len) + " is outside [1, " +
             std::to_string(x[timeAxis]) + "]");
      }
      index[i] = static_cast<int32_t>(t < len ? len - 1 - t : t);
    }
    setOutput(0, emit("kiln.gather_elements", {data(0), i32Constant(index, x)},
                      {i64("axis", timeAxis)}));
  });

  on({"GridSample"}, [this] {
    // Opset 16 names the modes bilinear, nearest and bicubic; opset 20
    // linear, nearest and cubic (its default linear) and allows inputs of
    // any rank: kiln samples 4-D inputs [N, C, H, W].
    requireFloat(0);
    requireFloat(1);
    std::string mode =
        attrString("mode", node_->version >= 20 ? "linear" : "bilinear");
    if (mode == "linear") {
      mode = "bilinear";
    } else if (mode == "cubic") {
      mode = "bicubic";
    }
    if (shapeOf(0).size() != 4) {
      fail("GridSample samples 4-D inputs [N, C, H, W] only, got rank " +
           std::to_string(shapeOf(0).size()));
    }
    setOutput(0, emit("kiln.grid_sample", {data(0), data(1)},
                      {str("mode", mode),
                       str("padding_mode", attrString("padding_mode", "zeros")),
                       boolean("align_corners",
                               attrInt("align_corners", 0) != 0)}));
  });
  on({"LeakyRelu"}, [this] {
    requireFloat(0);
    setOutput(0, emit("kiln.leaky_relu", {data(0)},
                      {f32("alpha", attrFloat("alpha", 0.01))}));
  });
  on({"ThresholdedRelu"}, [this] {
    requireFloat(0);
    setOutput(0, emit("kiln.thresholded_relu", {data(0)},
                      {f32("alpha", attrFloat("alpha", 1.0))}));
  });
  on({"Shrink"}, [this] {
    requireFloat(0);
    setOutput(0, emit("kiln.shrink", {data(0)},
                      {f32("bias", attrFloat("bias", 0.0)),
                       f32("lambd", attrFloat("lambd", 0.5))}));
  });
  on({"Elu"}, [this] {
    requireFloat(0);
    setOutput(0, emit("kiln.elu", {data(0)},
                      {f32("alpha", attrFloat("alpha", 1.0))}));
  });
  on({"Celu"}, [this] {
    // celu(x) = x for x > 0, else alpha (exp(x / alpha) - 1): alpha *
    // elu(x / alpha).
    requireFloat(0);
    double alpha = attrFloat("alpha", 1.0);
    if (!(alpha != 0) || !std::isfinite(alpha)) {
      unsupportedValue("alpha", std::to_string(alpha));
    }
    Value y = emit("kiln.elu", {scale(data(0), 1.0 / alpha)}, {f32("alpha", 1.0)});
    setOutput(0, scale(y, alpha));
  });
  on({"Selu"}, [this] {
    requireFloat(0);
    double alpha = attrFloat("alpha", 1.67326319217681884765625);
    double gamma = attrFloat("gamma", 1.05070102214813232421875);
    if (std::fabs(alpha - 1.6732632423543772) < 1e-6 &&
        std::fabs(gamma - 1.0507009873554805) < 1e-6) {
      setOutput(0, emit("kiln.selu", {data(0)}));
    } else {
      setOutput(
          0, scale(emit("kiln.elu", {data(0)}, {f32("alpha", alpha)}), gamma));
    }
  });
  on({"PRelu"}, [this] { preluOp(); });
  on({"Softplus"}, [this] {
    requireFloat(0);
    setOutput(0, emit("kiln.softplus", {data(0)}));
  });
  on({"HardSigmoid"}, [this] {
    requireFloat(0);
    setOutput(0, hardSigmoid(data(0), attrFloat("alpha", 0.2),
                             attrFloat("beta", 0.5)));
  });
  on({"Gelu"}, [this] {
    requireFloat(0);
    std::string approximate = attrString("approximate", "none");
    if (approximate != "none" && approximate != "tanh") {
      unsupportedValue("approximate", approximate);
    }
    setOutput(0,
              emit("kiln.gelu", {data(0)}, {str("approximate", approximate)}));
  });
  on({"HardSwish"}, [this] {
    requireFloat(0);
    setOutput(0,
              emit("kiln.mul", {data(0), hardSigmoid(data(0), 1.0 / 6, 0.5)}));
  });
  on({"Clip"}, [this] { clipOp(); });
  on({"Neg"}, [this] {
    requireFloat(0);
    setOutput(0, scale(data(0), -1));
  });
  on({"Reciprocal"}, [this] {
    requireFloat(0);
    setOutput(0, emit("kiln.div", {scalarConstant(1), data(0)}));
  });
  on({"Cos"}, [this] {
    requireFloat(0);
    setOutput(0, emit("kiln.sin",
                      {emit("kiln.add", {data(0), scalarConstant(M_PI_2)})}));
  });
  on({"Pow"}, [this] { powOp(); });
  on({"Mod"}, [this] {
    // fmod = 1: C's fmod; fmod = 0 (integers only, the sign of the
    // divisor): run-time integers as f32, exact below 2^24.
    bool integers = elementTypeOf(0) == TP::INT32 &&
                    elementTypeOf(1) == TP::INT32;
    (void)modFunction(integers); // checks fmod against the types
    setOutput(0, emit(attrInt("fmod", 0) ? "kiln.fmod" : "kiln.mod",
                      {floatData(0), floatData(1)}));
  });
  on({"Dropout"}, [this] { dropoutOp(); });
  // Ops whose output shape is their inputs' values: folded on the host
  // (HostEval.cpp) when those are known, else this error names the input.
  on({"Range"}, [this] {
    requireHost(0, "start");
    requireHost(1, "limit");
    requireHost(2, "delta");
  });
  on({"HannWindow", "HammingWindow", "BlackmanWindow"},
     [this] { requireHost(0, "size"); });
  on({"Compress"}, [this] {
    // The output's length is the number of true conditions, so the
    // condition must be known at import time; the kept positions are
    // gathered along the axis (of the flattened input without one), which
    // trains through gather's gradient.
    const OnnxTensor &cond = requireHost(1, "condition");
    requireFloat(0);
    Value x = data(0);
    std::vector<int64_t> shape = shapeOf(0);
    int64_t axis = 0;
    if (attr("axis")) {
      axis = normAxis(attrInt("axis", 0), static_cast<int64_t>(shape.size()));
    } else {
      shape = {product(shape)};
      x = reshape(x, shape);
    }
    if (cond.shape.size() != 1 ||
        cond.shape[0] > shape[static_cast<size_t>(axis)]) {
      fail("condition " + shapeText(cond.shape) +
           " must be 1-D and no longer than the input's " +
           std::to_string(shape[static_cast<size_t>(axis)]) +
           " positions along the axis");
    }
    // ONNX: positions past the condition's length are dropped.
    std::vector<int32_t> kept;
    for (size_t i = 0; i < cond.values.size(); ++i) {
      if (cond.values[i] != 0) {
        kept.push_back(static_cast<int32_t>(i));
      }
    }
    if (kept.empty()) {
      fail("the condition keeps nothing (kiln has no empty tensors)");
    }
    int64_t count = static_cast<int64_t>(kept.size());
    setOutput(0, emit("kiln.gather", {x, i32Constant(kept, {count})},
                      {i64("axis", axis)}));
  });
  on({"Cast", "CastLike"}, [this] {
    // Run-time values are f32 (booleans as 0/1) or i32 (integer and
    // boolean graph inputs).
    int to = castTarget(), from = elementTypeOf(0);
    if (from == TP::INT32 && isIntegerType(to) && to != TP::BOOL) {
      setOutput(0, data(0)); // ids stay ids
    } else if (from == TP::INT32 && to == TP::FLOAT) {
      setOutput(0, emit("kiln.cast", {data(0)}));
    } else if (to == TP::BOOL) {
      setOutput(0, truth(floatData(0)));
    } else if (from == TP::FLOAT && to == TP::FLOAT) {
      setOutput(0, data(0));
    } else {
      fail("Cast of data to " + elementTypeName(to) +
           " is not supported (kiln computes in f32)");
    }
  });
  // Booleans at run time (a padding mask): f32 0/1, selected by kiln.where.
  on({"Where"}, [this] {
    requireFloat(1);
    requireFloat(2);
    setOutput(0, emit("kiln.where", {floatData(0), data(1), data(2)}));
  });
  on({"ArgMax", "ArgMin"}, [this] {
    requireFloat(0);
    int64_t rank = shapeOf(0).size();
    bool isMax = node_->proto.op_type() == "ArgMax";
    setOutput(0, emit("kiln.arg_reduce",
                      {data(0)},
                      {str("kind", isMax ? "max" : "min"),
                       i64("axis", normAxis(attrInt("axis", 0), rank)),
                       boolean("keepdims", attrInt("keepdims", 1) != 0),
                       boolean("select_last_index",
                               attrInt("select_last_index", 0) != 0)}));
  });
  on({"TopK"}, [this] {
    // The indices from kiln.top_k (i32, as ArgMax's); the values gathered
    // at them, which carries the gradient. A sorted output is also a valid
    // unsorted one (sorted = 0).
    requireFloat(0);
    std::vector<int64_t> x = shapeOf(0);
    int64_t rank = x.size();
    int64_t axis = normAxis(attrInt("axis", -1), rank);
    int64_t k = node_->version < 10 ? attrInt("k", 0) : [&] {
      std::vector<int64_t> ks = hostInts(1, "K");
      if (ks.size() != 1) {
        fail("K must hold one value");
      }
      return ks[0];
    }();
    if (k < 1 || k > x[axis]) {
      fail("k = " + std::to_string(k) + " must be in [1, " +
           std::to_string(x[axis]) + "] (axis " + std::to_string(axis) +
           " of " + shapeText(x) + ")");
    }
    attrInt("sorted", 1);
    Value indices = emit("kiln.top_k", {data(0)},
                         {i64("k", k), i64("axis", axis),
                          boolean("largest", attrInt("largest", 1) != 0)});
    setOutput(0, emit("kiln.gather_elements", {data(0), indices},
                      {i64("axis", axis)}));
    setOutput(1, indices);
  });
  on({"Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Equal"}, [this] {
    // Run-time comparisons: f32 1 / 0 (booleans at run time); integer
    // inputs (ids) compare as f32, exact below 2^24.
    static const std::map<std::string, std::string> ops = {
        {"Less", "kiln.less"},
        {"LessOrEqual", "kiln.less_equal"},
        {"Greater", "kiln.greater"},
        {"GreaterOrEqual", "kiln.greater_equal"},
        {"Equal", "kiln.equal"}};
    setOutput(0, emit(ops.at(node_->proto.op_type()),
                      {floatData(0), floatData(1)}));
  });
  on({"CumSum"}, [this] {
    // The axis is an input that must be known at import time.
    requireFloat(0);
    int64_t rank = shapeOf(0).size();
    setOutput(0, emit("kiln.cumsum", {data(0)},
                      {i64("axis", normAxis(hostInts(1, "axis").at(0), rank)),
                       boolean("exclusive", attrInt("exclusive", 0) != 0),
                       boolean("reverse", attrInt("reverse", 0) != 0)}));
  });
  on({"IsNaN"}, [this] {
    requireFloat(0);
    setOutput(0, emit("kiln.is_nan", {data(0)}));
  });
  on({"IsInf"}, [this] {
    requireFloat(0);
    setOutput(0, emit("kiln.is_inf", {data(0)},
                      {boolean("detect_positive",
                               attrInt("detect_positive", 1) != 0),
                       boolean("detect_negative",
                               attrInt("detect_negative", 1) != 0)}));
  });
  on({"Not"}, [this] {
    setOutput(0, emit("kiln.where", {floatData(0), scalarConstant(0),
                                     scalarConstant(1)}));
  });
  on({"And", "Or"}, [this] {
    bool isAnd = node_->proto.op_type() == "And";
    Value b = truth(floatData(1));
    setOutput(0, isAnd ? emit("kiln.where", {floatData(0), b, scalarConstant(0)})
                       : emit("kiln.where", {floatData(0), scalarConstant(1), b}));
  });
  on({"Flatten", "Reshape", "Squeeze", "Unsqueeze"},
     [this] { reshapeLikeOp(); });
  on({"DepthToSpace", "SpaceToDepth"}, [this] { depthSpaceOp(); });
  on({"Tile"}, [this] { tileOp(); });
  on({"OneHot"}, [this] { oneHotOp(); });
  on({"MeanVarianceNormalization"}, [this] {
    // (x - mean) / (std + 1e-9) over `axes` (ONNX's function; the variance
    // as the mean of squared deviations).
    requireFloat(0);
    std::vector<int64_t> x = shapeOf(0);
    std::vector<int64_t> axes = attrInts("axes").value_or(
        std::vector<int64_t>{0, 2, 3});
    double count = 1;
    for (int64_t &a : axes) {
      a = normAxis(a, x.size());
      count *= static_cast<double>(x[a]);
    }
    auto mean = [&](Value v) {
      return scale(emit("kiln.reduce_sum", {v},
                        {ints("axes", axes), boolean("keepdims", true)}),
                   1.0 / count);
    };
    Value d = emit("kiln.sub", {data(0), mean(data(0))});
    Value std = emit("kiln.sqrt", {mean(emit("kiln.mul", {d, d}))});
    setOutput(0, emit("kiln.div", {d, emit("kiln.add", {std, scalarConstant(1e-9)})}));
  });
  on({"InstanceNormalization"}, [this] { instanceNormOp(); });
  on({"Xor"}, [this] {
    Value b = truth(floatData(1));
    Value notB = emit("kiln.where", {b, scalarConstant(0), scalarConstant(1)});
    setOutput(0, emit("kiln.where", {floatData(0), notB, b}));
  });
  on({"EyeLike"}, [this] {
    // A constant: ones on the k-th diagonal of the input's 2-D shape, in
    // the `dtype` asked for (the input's by default).
    std::vector<int64_t> x = shapeOf(0);
    if (x.size() != 2) {
      fail("EyeLike needs a rank-2 input, got " + shapeText(x));
    }
    OnnxTensor eye;
    eye.shape = x;
    eye.elementType = static_cast<int>(attrInt("dtype", elementTypeOf(0)));
    int64_t k = attrInt("k", 0);
    for (int64_t i = 0; i < x[0]; ++i) {
      for (int64_t j = 0; j < x[1]; ++j) {
        eye.values.push_back(j - i == k ? 1.0 : 0.0);
      }
    }
    setHostOutput(0, std::move(eye));
  });
  on({"Transpose"}, [this] {
    requireFloat(0);
    int64_t rank = shapeOf(0).size();
    std::vector<int64_t> perm(rank);
    std::iota(perm.rbegin(), perm.rend(), 0);
    if (auto p = attrInts("perm")) {
      perm = *p;
    }
    std::vector<int64_t> identity(rank);
    std::iota(identity.begin(), identity.end(), 0);
    setOutput(0, perm == identity
                     ? data(0)
                     : emit("kiln.transpose", {data(0)}, {ints("perm", perm)}));
  });
  on({"Concat"}, [this] { concatOp(); });
  on({"Slice"}, [this] { sliceOp(); });
  on({"Split"}, [this] { splitOp(); });
  on({"Gather"}, [this] { gatherOp(); });
  on({"GatherElements"}, [this] { gatherElementsOp(); });
  on({"GatherND", "ScatterND"}, [this] { gatherScatterNDOp(); });
  on({"ScatterElements", "Scatter"}, [this] { scatterElementsOp(); });
  on({"Resize", "Upsample"}, [this] { resizeOp(); });
  on({"Hardmax"}, [this] { hardmaxOp(); });
  on({"RNN", "GRU", "LSTM"}, [this] { recurrentOp(); });
  static const std::pair<const char *, const char *> reductions[] = {
      {"ReduceMean", "mean"},
      {"ReduceSum", "sum"},
      {"ReduceSumSquare", "sum_square"},
      {"ReduceMax", "max"},
      {"ReduceMin", "min"},
      {"ReduceProd", "prod"},
      {"ReduceL1", "l1"},
      {"ReduceL2", "l2"},
      {"ReduceLogSum", "log_sum"},
      {"ReduceLogSumExp", "log_sum_exp"}};
  for (auto [onnxOp, kind] : reductions) {
    std::string name = kind;
    on({onnxOp}, [this, name] { reduceOp(name); });
  }
  on({"Pad"}, [this] { padOp(); });
  on({"Trilu"}, [this] {
    // The upper (j - i >= k) or lower (j - i <= k) triangle of the last two
    // dims: a select at a constant 0/1 mask, so its gradient is the mask
    // too. A select, not a product: a causal attention mask is the upper
    // triangle of a matrix of -inf, and -inf * 0 is NaN. An input known at
    // import time (any element type) is folded.
    std::vector<int64_t> x = shapeOf(0);
    if (x.size() < 2) {
      fail("Trilu needs a rank-2 or higher input");
    }
    int64_t k = hasInput(1) ? hostInts(1, "k").at(0) : 0;
    bool upper = attrInt("upper", 1) != 0;
    int64_t rows = x[x.size() - 2], cols = x.back(), count = 0;
    // The mask is built on the host (found by fuzz-onnx: a declared
    // 2^31 x 2^31 input asked for it all).
    constexpr int64_t kMaxMask = int64_t(1) << 24;
    if (__builtin_mul_overflow(rows, cols, &count) || count > kMaxMask) {
      fail("Trilu over " + std::to_string(rows) + "x" + std::to_string(cols) +
           " matrices is not supported (its mask is built at import time; " +
           "at most " + std::to_string(kMaxMask) + " elements)");
    }
    OnnxTensor mask;
    mask.shape = {rows, cols};
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        mask.values.push_back((upper ? j - i >= k : j - i <= k) ? 1.0 : 0.0);
      }
    }
    if (const OnnxTensor *h = host(0)) {
      setHostOutput(0, hostBroadcast(*h, mask, h->elementType,
                                     [](double v, double keep) {
                                       return keep != 0 ? v : 0.0;
                                     }));
      return;
    }
    requireFloat(0);
    setOutput(0, emit("kiln.where",
                      {makeConstant(mask), data(0), scalarConstant(0)}));
  });
  on({"Max", "Min"}, [this] {
    const std::string &op = node_->proto.op_type();
    // Variadic with numpy broadcasting (versions before 8 took equal
    // shapes only, a case of it).
    Value acc = data(0);
    requireFloat(0);
    for (size_t i = 1; i < numInputs(); ++i) {
      requireFloat(i);
      acc = emit(op == "Max" ? "kiln.maximum" : "kiln.minimum", {acc, data(i)});
    }
    setOutput(0, acc);
  });
  on({"Sum", "Mean"}, [this] {
    const std::string &op = node_->proto.op_type();
    Value acc = data(0);
    for (size_t i = 1; i < numInputs(); ++i) {
      requireFloat(i);
      acc = emit("kiln.add", {acc, data(i)});
    }
    if (op == "Mean" && numInputs() > 1) {
      acc = scale(acc, 1.0 / static_cast<double>(numInputs()));
    }
    setOutput(0, acc);
  });
  on({"LayerNormalization"}, [this] { layerNormOp(); });
  on({"SoftmaxCrossEntropyLoss"}, [this] { sceLossOp(); });
  on({"NegativeLogLikelihoodLoss"}, [this] {
    requireFloat(0);
    setOutput(0, nllLoss(data(0)));
  });
  on({"Expand"}, [this] {
    requireFloat(0);
    setOutput(0, broadcastTo(data(0), hostInts(1, "shape")));
  });
}

// The convolutions and pools kiln imports in 2-D, whose 1-D forms (rank-3
// input [N, C, L]) importAs2d lifts to a unit height.
bool Importer::isWindowOp(const std::string &op) {
  static const std::set<std::string> ops = {
      "Conv",        "ConvTranspose",     "MaxPool",
      "AveragePool", "GlobalAveragePool", "GlobalMaxPool"};
  return ops.count(op) > 0;
}

// A 1-D convolution or pool as its 2-D form over a unit height: the input
// (and a convolution's weight) [.., .., L] reshaped to [.., .., 1, L], the
// window attributes given the height's identity entry (kernel, stride and
// dilation 1, pads and output padding 0), the node imported as that 2-D
// node, and its outputs reshaped back. The weight stays the 3-D parameter
// the model names (its reshape is in the graph, with a gradient), and the
// 2-D node's own checks name the same node.
void Importer::importAs2d() {
  Node *outer = node_;
  const onnx::NodeProto &proto = outer->proto;
  onnx::NodeProto lifted = proto;
  // A suffix no ONNX name ends with (a control character).
  std::string tag = "\x1f" "2d" + std::to_string(liftedNodes_++);
  auto unitHeight = [&](int i) {
    Value v = data(i, "torch_default");
    std::vector<int64_t> shape = shapeOf(v);
    if (shape.size() != 3) {
      fail("input #" + std::to_string(i) + " of a 1-D " + proto.op_type() +
           " must have rank 3, got " + shapeText(shape));
    }
    shape.insert(shape.begin() + 2, 1);
    Entry e;
    e.value = reshape(v, shape);
    values_[proto.input(i) + tag] = e;
    lifted.set_input(i, proto.input(i) + tag);
  };
  unitHeight(0);
  bool conv = proto.op_type() == "Conv" || proto.op_type() == "ConvTranspose";
  if (conv && hasInput(1)) {
    unitHeight(1);
  }
  for (onnx::AttributeProto &a : *lifted.mutable_attribute()) {
    outer->read.insert(a.name());
    std::vector<int64_t> v(a.ints().begin(), a.ints().end());
    const std::string &name = a.name();
    if (name == "kernel_shape" || name == "strides" || name == "dilations") {
      v.insert(v.begin(), 1);
    } else if (name == "output_padding") {
      v.insert(v.begin(), 0);
    } else if (name == "pads" && v.size() == 2) {
      v = {0, v[0], 0, v[1]};
    } else if (name == "output_shape") {
      v.insert(v.end() - std::min<size_t>(v.size(), 1), 1); // [.., 1, L]
    } else {
      continue;
    }
    a.clear_ints();
    for (int64_t x : v) {
      a.add_ints(x);
    }
  }
  for (int i = 0; i < lifted.output_size(); ++i) {
    if (!lifted.output(i).empty()) {
      lifted.set_output(i, lifted.output(i) + tag);
    }
  }
  importNode(lifted);
  node_ = outer;
  for (int i = 0; i < proto.output_size(); ++i) {
    auto it = values_.find(lifted.output(i));
    if (proto.output(i).empty() || it == values_.end()) {
      continue;
    }
    Entry out = it->second;
    if (out.unsupported.empty()) {
      Value v = valueOf(out);
      std::vector<int64_t> shape = shapeOf(v);
      shape.erase(shape.begin() + 2);
      out.value = reshape(v, shape);
      out.host.reset();
    }
    values_[proto.output(i)] = out;
  }
}

void Importer::importNode(const onnx::NodeProto &proto) {
  Node node{proto, {}};
  node_ = &node;
  const std::string &op = proto.op_type();
  if (!proto.domain().empty() && proto.domain() != "ai.onnx") {
    fail("operators of domain '" + proto.domain() + "' are not supported");
  }
  node.version = onnx_detail::opVersion(op, opset_);
  if (opset_ < 6) {
    attr("consumed_inputs"); // a legacy memory hint, no semantics
  }
  if (isWindowOp(op) && hasInput(0) && shapeOf(0).size() == 3) {
    importAs2d();
    node_ = nullptr;
    return;
  }
  if (op == "Constant") {
    OnnxTensor t;
    if (const auto *a = attr("value")) {
      t = fromProto(a->t(), "Constant value");
    } else if (const auto *a = attr("value_float")) {
      t.values = {a->f()};
    } else if (const auto *a = attr("value_floats")) {
      t.values.assign(a->floats().begin(), a->floats().end());
      t.shape = {static_cast<int64_t>(t.values.size())};
    } else if (const auto *a = attr("value_int")) {
      t.elementType = TP::INT64;
      t.values = {static_cast<double>(a->i())};
    } else if (const auto *a = attr("value_ints")) {
      t.elementType = TP::INT64;
      t.values.assign(a->ints().begin(), a->ints().end());
      t.shape = {static_cast<int64_t>(t.values.size())};
    } else {
      attr("sparse_value");
      attr("value_string");
      attr("value_strings");
      checkAllAttributesRead();
      fail("needs a value, value_float(s) or value_int(s) attribute");
    }
    checkAllAttributesRead();
    setHostOutput(0, std::move(t));
    node_ = nullptr;
    return;
  }
  if (op == "ConstantOfShape") {
    OnnxTensor t;
    if (const auto *a = attr("value")) {
      OnnxTensor v = fromProto(a->t(), "ConstantOfShape value");
      t.elementType = v.elementType;
      t.values = v.values;
    } else {
      t.values = {0.0};
    }
    for (int64_t d : hostInts(0, "input")) {
      t.shape.push_back(d);
    }
    t.values.assign(product(t.shape), t.values.empty() ? 0 : t.values[0]);
    checkAllAttributesRead();
    setHostOutput(0, std::move(t));
    node_ = nullptr;
    return;
  }
  if (op == "Shape" || op == "Size") {
    std::vector<int64_t> shape = shapeOf(0);
    OnnxTensor t;
    t.elementType = TP::INT64;
    if (op == "Size") {
      t.values = {static_cast<double>(product(shape))};
    } else {
      int64_t rank = shape.size();
      int64_t start = attrInt("start", 0), end = attrInt("end", rank);
      start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
      end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
      for (int64_t d = start; d < end; ++d) {
        t.values.push_back(shape[d]);
      }
      t.shape = {static_cast<int64_t>(t.values.size())};
    }
    checkAllAttributesRead();
    setHostOutput(0, std::move(t));
    node_ = nullptr;
    return;
  }
  if (op == "Identity") {
    // The output is the input: an initializer stays the same parameter.
    Entry copy = input(0);
    checkAllAttributesRead();
    if (proto.output_size() > 0 && !proto.output(0).empty()) {
      values_[proto.output(0)] = copy;
    }
    node_ = nullptr;
    return;
  }
  if (foldOnHost()) {
    checkAllAttributesRead();
    node_ = nullptr;
    return;
  }
  auto handler = handlers_.find(op);
  if (handler == handlers_.end()) {
    fail("unsupported op type '" + op + "'");
  }
  handler->second();
  checkAllAttributesRead();
  node_ = nullptr;
}

//===----------------------------------------------------------------------===//
// The graph
//===----------------------------------------------------------------------===//

OnnxModel Importer::run(const onnx::ModelProto &model) {
  ctx_.loadDialect<kir::KilnDialect, func::FuncDialect>();
  for (const auto &opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") {
      opset_ = opset.version();
    }
  }
  if (opset_ == 0 && model.opset_import_size() == 0) {
    opset_ = 1; // IR version 1 models have no opset_import
  }
  if (opset_ < kMinOpset || opset_ > kMaxOpset) {
    throw Error("ONNX opset " + std::to_string(opset_) +
                " is not supported (kiln imports opsets " +
                std::to_string(kMinOpset) + "-" + std::to_string(kMaxOpset) +
                ")");
  }
  const onnx::GraphProto &graph = model.graph();
  for (const auto &init : graph.initializer()) {
    Entry e;
    e.host = fromProto(init, "initializer '" + init.name() + "'");
    e.initializer = true;
    e.paramName = init.name();
    values_[init.name()] = std::move(e);
  }
  for (const auto &[name, t] : options_.knownInputs) {
    Entry e;
    e.host = t;
    values_[name] = std::move(e);
  }

  // Function arguments: the graph inputs that are not initializers.
  std::vector<std::string> argNames;
  SmallVector<Type> argTypes;
  std::vector<bool> argBool; // BOOL inputs: i32 0/1 in, f32 0/1 inside
  for (const auto &in : graph.input()) {
    if (values_.count(in.name())) {
      continue;
    }
    if (!in.type().has_tensor_type()) {
      throw Error("graph input '" + in.name() + "' is not a tensor");
    }
    const auto &tensorType = in.type().tensor_type();
    Type element;
    int et = tensorType.elem_type();
    if (et == TP::FLOAT) {
      element = b_.getF32Type();
    } else if (et == TP::INT64 || et == TP::INT32 || et == TP::INT16 ||
               et == TP::INT8 || et == TP::UINT64 || et == TP::UINT32 ||
               et == TP::UINT16 || et == TP::UINT8 || et == TP::BOOL) {
      // Class labels, token ids, masks, 8-bit images: i32 at run time,
      // which holds every value of the narrower types exactly (int64,
      // uint32 and uint64 values are range-checked where they are read:
      // .npy files, Python arrays).
      element = b_.getI32Type();
    } else {
      throw Error("graph input '" + in.name() + "' has element type " +
                  elementTypeName(et) +
                  "; kiln takes f32, integers (int8-int64, uint8-uint64: "
                  "labels, ids, 8-bit images) or booleans");
    }
    if (!tensorType.has_shape()) {
      throw Error("graph input '" + in.name() + "' has no shape");
    }
    SmallVector<int64_t> shape;
    for (const auto &[index, dim] : llvm::enumerate(tensorType.shape().dim())) {
      if (dim.has_dim_value() && dim.dim_value() > 0) {
        shape.push_back(dim.dim_value());
      } else if (index == 0) {
        shape.push_back(options_.batch); // dynamic batch
      } else {
        throw Error("graph input '" + in.name() + "' has a dynamic dim " +
                    std::to_string(index) +
                    "; only the first (batch) dim may be dynamic");
      }
    }
    argNames.push_back(in.name());
    argTypes.push_back(RankedTensorType::get(shape, element));
    argBool.push_back(et == TP::BOOL);
  }

  OwningOpRef<ModuleOp> module = ModuleOp::create(b_.getUnknownLoc());
  b_.setInsertionPointToEnd(module->getBody());
  auto func = b_.create<func::FuncOp>(b_.getUnknownLoc(), "main",
                                      b_.getFunctionType(argTypes, {}));
  body_ = func.addEntryBlock();
  b_.setInsertionPointToEnd(body_);
  for (auto [i, name] : llvm::enumerate(argNames)) {
    Entry e;
    e.value = body_->getArgument(i);
    if (argBool[i]) {
      // Booleans compute as f32 0/1 (kiln.where selects on them).
      e.value = b_.create<kir::CastOp>(b_.getUnknownLoc(), e.value).getResult();
    }
    values_[name] = e;
    func.setArgAttr(i, kNameAttr, b_.getStringAttr(name));
  }

  for (const auto &node : graph.node()) {
    for (const std::string &name : node.input()) {
      ++initializerUses_[name];
    }
  }
  for (const auto &node : graph.node()) {
    importNode(node);
  }

  SmallVector<Value> results;
  std::vector<std::string> resultNames;
  for (const auto &out : graph.output()) {
    auto it = values_.find(out.name());
    if (it == values_.end()) {
      throw Error("graph output '" + out.name() + "' is not produced");
    }
    Entry &e = it->second;
    if (!e.unsupported.empty()) {
      throw Error("graph output '" + out.name() + "' is " + e.unsupported);
    }
    if (!e.value) {
      // Booleans known at import time output as f32 0/1, as computed ones.
      OnnxTensor host = *e.host;
      if (host.elementType == TP::BOOL) {
        host.elementType = TP::FLOAT;
      }
      // Integers known at import time (Shape, Size, ...) output as i32,
      // as ArgMax's indices do: every value must fit.
      static const std::set<int> integers = {TP::INT8,  TP::UINT8,  TP::INT16,
                                             TP::UINT16, TP::INT32, TP::INT64,
                                             TP::UINT32, TP::UINT64};
      bool integer = integers.count(host.elementType) > 0;
      if (!host.isFloat() && !integer) {
        throw Error("graph output '" + out.name() + "' has element type " +
                    elementTypeName(e.host->elementType) +
                    "; kiln models output f32, or i32 for integers");
      }
      Node fake{graph.node_size() ? graph.node(graph.node_size() - 1)
                                  : onnx::NodeProto(),
                {}};
      node_ = &fake;
      if (integer) {
        e.value = makeIntConstant(out.name(), host);
      } else {
        e.value = e.initializer ? makeParam(e.paramName, host, "zeros")
                                : makeConstant(host);
      }
      node_ = nullptr;
    }
    results.push_back(e.value);
    resultNames.push_back(out.name());
  }
  if (results.empty()) {
    throw Error("the graph has no outputs");
  }
  b_.create<func::ReturnOp>(b_.getUnknownLoc(), results);
  func.setFunctionType(
      b_.getFunctionType(argTypes, ValueRange(results).getTypes()));
  for (auto [i, name] : llvm::enumerate(resultNames)) {
    func.setResultAttr(i, kNameAttr, b_.getStringAttr(name));
  }
  DiagnosticText diagnostics(ctx_);
  if (failed(mlir::verify(*module))) {
    throw Error("the imported module does not verify: " + diagnostics.text());
  }
  OnnxModel result;
  result.module = std::move(module);
  result.weights = std::move(weights_);
  result.opset = opset_;
  return result;
}

} // namespace onnx_import

using onnx_import::Importer;

OnnxModel importOnnx(const std::string &path, MLIRContext &ctx,
                     const OnnxImportOptions &options) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw Error("cannot open '" + path + "'");
  }
  std::stringstream buffer;
  buffer << file.rdbuf();
  onnx::ModelProto model;
  if (!model.ParseFromString(buffer.str())) {
    throw Error("'" + path + "' is not a valid ONNX model");
  }
  if (!model.has_graph()) {
    throw Error("'" + path + "' has no graph");
  }
  try {
    return Importer(ctx, options).run(model);
  } catch (const Error &e) {
    throw Error(path + ": " + e.what());
  }
}

OwningOpRef<ModuleOp> importOnnxFile(const std::string &path, MLIRContext &ctx,
                                     int64_t batch) {
  OnnxImportOptions options;
  options.batch = batch;
  return importOnnx(path, ctx, options).module;
}

} // namespace kiln::frontend
