//===- HostEval.cpp - the ONNX importer's constant propagation ------------===//
//
// A node whose inputs are all host tensors (initializers, constants, shapes
// known at import time) and whose op has a host implementation here is
// evaluated right away (Importer::foldOnHost): shape arithmetic, casts,
// gathers, transposes and friends never become kernels.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

namespace kiln::frontend::onnx_import {

// The most elements a tensor made on the host from a few known values may
// have (Range, the window functions): a typo'd limit must not fill memory.
constexpr int64_t kMaxHostElements = int64_t(1) << 24;

std::vector<int64_t> broadcastShapes(const std::vector<int64_t> &a,
                                     const std::vector<int64_t> &b,
                                     bool &ok) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  ok = true;
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      ok = false;
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t broadcastIndex(int64_t index, const std::vector<int64_t> &out,
                       const std::vector<int64_t> &shape) {
  int64_t flat = 0, stride = 1;
  for (int64_t d = static_cast<int64_t>(out.size()) - 1; d >= 0; --d) {
    int64_t coord = index % out[d];
    index /= out[d];
    int64_t sd = d - static_cast<int64_t>(out.size() - shape.size());
    if (sd >= 0) {
      if (shape[sd] != 1) {
        flat += coord * stride;
      }
      stride *= shape[sd];
    }
  }
  return flat;
}

OnnxTensor
Importer::hostBroadcast(const OnnxTensor &a, const OnnxTensor &b, int type,
                        const std::function<double(double, double)> &fn) {
  bool ok;
  OnnxTensor out;
  out.shape = broadcastShapes(a.shape, b.shape, ok);
  if (!ok) {
    fail("shapes " + shapeText(a.shape) + " and " + shapeText(b.shape) +
         " do not broadcast");
  }
  out.elementType = type;
  int64_t n = product(out.shape);
  out.values.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    out.values[i] = roundTo(type, fn(a.values[broadcastIndex(i, out.shape, a.shape)],
                                     b.values[broadcastIndex(i, out.shape, b.shape)]));
  }
  return out;
}

OnnxTensor Importer::hostGather(const OnnxTensor &data,
                                const OnnxTensor &indices, int64_t axis) {
  int64_t outer = product(data.shape, 0, axis), dim = data.shape[axis],
          inner = product(data.shape, axis + 1);
  OnnxTensor out;
  out.elementType = data.elementType;
  out.shape.assign(data.shape.begin(), data.shape.begin() + axis);
  out.shape.insert(out.shape.end(), indices.shape.begin(), indices.shape.end());
  out.shape.insert(out.shape.end(), data.shape.begin() + axis + 1,
                   data.shape.end());
  for (int64_t o = 0; o < outer; ++o) {
    for (double iv : indices.values) {
      int64_t idx = hostInt(iv);
      idx = idx < 0 ? idx + dim : idx;
      if (idx < 0 || idx >= dim) {
        fail("index " + std::to_string(hostInt(iv)) + " is out of range");
      }
      for (int64_t k = 0; k < inner; ++k) {
        out.values.push_back(data.values[(o * dim + idx) * inner + k]);
      }
    }
  }
  return out;
}

OnnxTensor Importer::hostTranspose(const OnnxTensor &x,
                                   const std::vector<int64_t> &perm) {
  OnnxTensor out;
  out.elementType = x.elementType;
  for (int64_t p : perm) {
    out.shape.push_back(x.shape[p]);
  }
  std::vector<int64_t> inStrides = rowStrides(x.shape);
  int64_t n = x.numElements();
  out.values.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i, src = 0;
    for (int64_t d = static_cast<int64_t>(perm.size()) - 1; d >= 0; --d) {
      src += (rest % out.shape[d]) * inStrides[perm[d]];
      rest /= out.shape[d];
    }
    out.values[i] = x.values[src];
  }
  return out;
}

std::function<double(double, double)> Importer::modFunction(bool integers) {
  int64_t fmod = attrInt("fmod", 0);
  if (fmod != 0 && fmod != 1) {
    fail("fmod must be 0 or 1, got " + std::to_string(fmod));
  }
  if (fmod == 0 && !integers) {
    fail("fmod = 0 (the sign of the divisor) is defined for integer inputs "
         "only; floats need fmod = 1");
  }
  if (fmod == 1) {
    return [](double a, double b) { return std::fmod(a, b); };
  }
  return [](double a, double b) { return a - b * std::floor(a / b); };
}

// Evaluates elementwise math and shape-only ops whose inputs are all host
// tensors. Returns false when the node has to be imported as kiln ops.
bool Importer::foldOnHost() {
  const onnx::NodeProto &n = node_->proto;
  const std::string &op = n.op_type();
  // CastLike reads only the type of its second input, not its values.
  size_t valueInputs = op == "CastLike" ? 1 : numInputs();
  for (size_t i = 0; i < valueInputs; ++i) {
    if (hasInput(i) && !input(i).host) {
      return false;
    }
  }
  // Input i, which the fold needs: a node may list fewer inputs than its op
  // takes (found by fuzz-onnx: a null dereference).
  auto in = [&](size_t i) -> const OnnxTensor & {
    (void)input(i); // "missing input #i"
    std::string what = "#" + std::to_string(i);
    return requireHost(i, what.c_str());
  };
  static const std::map<std::string, std::function<double(double, double)>>
      binaries = {
          {"Add", [](double a, double b) { return a + b; }},
          {"Sub", [](double a, double b) { return a - b; }},
          {"Mul", [](double a, double b) { return a * b; }},
          {"Div", [](double a, double b) { return a / b; }},
          {"Pow", [](double a, double b) { return std::pow(a, b); }},
          {"Max", [](double a, double b) { return std::max(a, b); }},
          {"Min", [](double a, double b) { return std::min(a, b); }},
          {"Mod", nullptr}, // modFunction: by the fmod attribute
      };
  static const std::map<std::string, std::function<double(double, double)>>
      comparisons = {
          {"Equal", [](double a, double b) { return double(a == b); }},
          {"Less", [](double a, double b) { return double(a < b); }},
          {"Greater", [](double a, double b) { return double(a > b); }},
          {"LessOrEqual", [](double a, double b) { return double(a <= b); }},
          {"GreaterOrEqual",
           [](double a, double b) { return double(a >= b); }},
          {"And", [](double a, double b) { return double(a != 0 && b != 0); }},
          {"Or", [](double a, double b) { return double(a != 0 || b != 0); }},
      };
  static const std::map<std::string, std::function<double(double)>> unaries = {
      {"Neg", [](double x) { return -x; }},
      {"Abs", [](double x) { return std::fabs(x); }},
      {"Sqrt", [](double x) { return std::sqrt(x); }},
      {"Exp", [](double x) { return std::exp(x); }},
      {"Log", [](double x) { return std::log(x); }},
      {"Floor", [](double x) { return std::floor(x); }},
      {"Ceil", [](double x) { return std::ceil(x); }},
      {"Reciprocal", [](double x) { return 1 / x; }},
      {"Not", [](double x) { return double(x == 0); }},
  };
  if (auto it = binaries.find(op); it != binaries.end() && numInputs() == 2) {
    const OnnxTensor &a = in(0), &b = in(1);
    auto fn = it->second;
    if (op == "Div" && isIntegerType(a.elementType)) {
      fn = [](double x, double y) { return std::trunc(x / y); };
    }
    if (op == "Mod") {
      fn = modFunction(isIntegerType(a.elementType) &&
                       isIntegerType(b.elementType));
    }
    setHostOutput(0, hostBroadcast(a, b, a.elementType, fn));
    return true;
  }
  if (auto it = comparisons.find(op); it != comparisons.end()) {
    setHostOutput(0, hostBroadcast(in(0), in(1), TP::BOOL, it->second));
    return true;
  }
  if (auto it = unaries.find(op); it != unaries.end()) {
    OnnxTensor t = in(0);
    for (double &v : t.values) {
      v = roundTo(t.elementType, it->second(v));
    }
    setHostOutput(0, std::move(t));
    return true;
  }
  if (op == "Identity") {
    setHostOutput(0, in(0));
    return true;
  }
  if (op == "Cast" || op == "CastLike") {
    OnnxTensor t = in(0);
    t.elementType = castTarget();
    if (t.elementType == TP::STRING || !TP::DataType_IsValid(t.elementType)) {
      unsupportedValue("to", elementTypeName(t.elementType));
    }
    for (double &v : t.values) {
      v = roundTo(t.elementType, v);
    }
    setHostOutput(0, std::move(t));
    return true;
  }
  if (op == "Where") {
    const OnnxTensor &c = in(0), &x = in(1), &y = in(2);
    OnnxTensor cx = hostBroadcast(c, x, TP::DOUBLE,
                                  [](double c, double) { return c; });
    OnnxTensor sel = hostBroadcast(cx, y, TP::DOUBLE,
                                   [](double c, double) { return c; });
    OnnxTensor xs = hostBroadcast(x, sel, x.elementType,
                                  [](double x, double) { return x; });
    OnnxTensor ys = hostBroadcast(y, sel, x.elementType,
                                  [](double y, double) { return y; });
    for (size_t i = 0; i < xs.values.size(); ++i) {
      xs.values[i] = sel.values[i] != 0 ? xs.values[i] : ys.values[i];
    }
    setHostOutput(0, std::move(xs));
    return true;
  }
  if (op == "Range") {
    double start = in(0).values.at(0), limit = in(1).values.at(0),
           delta = in(2).values.at(0);
    if (delta == 0) {
      fail("delta must not be 0");
    }
    OnnxTensor t;
    t.elementType = in(0).elementType;
    double steps = std::ceil((limit - start) / delta);
    if (!(steps <= kMaxHostElements)) { // NaN too
      fail("Range(" + std::to_string(start) + ", " + std::to_string(limit) +
           ", " + std::to_string(delta) + ") would have more than " +
           std::to_string(kMaxHostElements) + " elements");
    }
    int64_t count = std::max<int64_t>(0, static_cast<int64_t>(steps));
    for (int64_t i = 0; i < count; ++i) {
      t.values.push_back(roundTo(t.elementType, start + i * delta));
    }
    t.shape = {count};
    setHostOutput(0, std::move(t));
    return true;
  }
  if (op == "HannWindow" || op == "HammingWindow" || op == "BlackmanWindow") {
    // ONNX's window functions over n = 0 .. size-1, with N = size
    // (periodic, the default) or size - 1 (symmetric).
    int64_t size = hostInt(in(0).values.at(0));
    if (size < 0 || size > kMaxHostElements) {
      fail("window size " + std::to_string(size) + " must be in [0, " +
           std::to_string(kMaxHostElements) + "]");
    }
    double n = attrInt("periodic", 1) != 0 ? size : size - 1;
    OnnxTensor t;
    t.elementType = static_cast<int>(attrInt("output_datatype", TP::FLOAT));
    if (!TP::DataType_IsValid(t.elementType) || t.elementType == TP::STRING) {
      unsupportedValue("output_datatype", elementTypeName(t.elementType));
    }
    t.shape = {size};
    for (int64_t i = 0; i < size; ++i) {
      double a = 2 * M_PI * static_cast<double>(i) / n, w;
      if (op == "HannWindow") {
        w = 0.5 - 0.5 * std::cos(a);
      } else if (op == "HammingWindow") {
        w = 25.0 / 46.0 - (21.0 / 46.0) * std::cos(a);
      } else {
        w = 0.42 - 0.5 * std::cos(a) + 0.08 * std::cos(2 * a);
      }
      t.values.push_back(roundTo(t.elementType, w));
    }
    setHostOutput(0, std::move(t));
    return true;
  }
  if (op == "Expand") {
    OnnxTensor shape = in(1);
    OnnxTensor ones;
    for (double v : shape.values) {
      ones.shape.push_back(hostInt(v));
    }
    ones.values.assign(product(ones.shape), 1.0);
    setHostOutput(0, hostBroadcast(in(0), ones, in(0).elementType,
                                   [](double x, double) { return x; }));
    return true;
  }
  if (op == "Transpose") {
    const OnnxTensor &x = in(0);
    std::vector<int64_t> perm(x.shape.size());
    std::iota(perm.rbegin(), perm.rend(), 0);
    if (auto p = attrInts("perm")) {
      perm = *p;
    }
    if (perm.size() != x.shape.size()) {
      fail("perm has " + std::to_string(perm.size()) + " entries for rank " +
           std::to_string(x.shape.size()));
    }
    setHostOutput(0, hostTranspose(x, perm));
    return true;
  }
  return false;
}

} // namespace kiln::frontend::onnx_import
