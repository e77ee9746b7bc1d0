// Elementwise kernels: activations, prelu, broadcasting arithmetic, concat,
// copy, and the row-wise softmax / log_softmax.
#include "Kernels.h"

#include <cmath>
#include <functional>

using namespace Halide;

namespace kiln::codegen::detail {
namespace {

//===----------------------------------------------------------------------===//
// Unary activations
//===----------------------------------------------------------------------===//

// Every registered binary op's math, by name (registerBinary).
std::map<std::string, BinaryFn> &binaryTable() {
  static std::map<std::string, BinaryFn> table;
  return table;
}

// Every registered unary op's math, by name (registerUnary).
std::map<std::string, UnaryMath> &unaryTable() {
  static std::map<std::string, UnaryMath> table;
  return table;
}

Expr f32(double v) { return cast<float>(Expr(v)); }

Expr sigmoid(Expr x) { return 1.0f / (1.0f + exp(-x)); }

// Each activation with its derivative, written side by side: dy * f'(x),
// with PyTorch's values at the kinks (relu'(0) = 0, ...).
void registerActivations(OpRegistry &r) {
  registerUnary(r, "copy", {{}, [](Expr x, const KernelSpec &) { return x; }});
  // copy also moves i32 tensors (labels).
  r["copy"].validate = [](const KernelSpec &s) {
    expectCounts(s, 1, 1, 1);
    expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
    if (s.outputs[0].dtype != s.inputs[0].dtype) {
      fail(s, "output dtype must equal the input's");
    }
  };
  registerUnary(
      r, "step",
      {{},
       [](Expr x, const KernelSpec &) { return select(x > 0.0f, 1.0f, 0.0f); },
       [](Expr, Expr, const KernelSpec &) { return Expr(0.0f); }});
  registerUnary(r, "sigmoid",
                {{},
                 [](Expr x, const KernelSpec &) { return sigmoid(x); },
                 [](Expr x, Expr dy, const KernelSpec &) {
                   Expr y = sigmoid(x);
                   return dy * y * (1.0f - y);
                 }});
  registerUnary(r, "tanh",
                {{},
                 [](Expr x, const KernelSpec &) { return tanh(x); },
                 [](Expr x, Expr dy, const KernelSpec &) {
                   Expr y = tanh(x);
                   return dy * (1.0f - y * y);
                 }});
  registerUnary(r, "relu",
                {{},
                 [](Expr x, const KernelSpec &) { return max(x, 0.0f); },
                 [](Expr x, Expr dy, const KernelSpec &) {
                   return select(x > 0.0f, dy, 0.0f);
                 }});
  registerUnary(r, "relu6",
                {{},
                 [](Expr x, const KernelSpec &) {
                   return min(max(x, 0.0f), 6.0f);
                 },
                 [](Expr x, Expr dy, const KernelSpec &) {
                   return select(x > 0.0f && x < 6.0f, dy, 0.0f);
                 }});
  registerUnary(r, "leaky_relu",
                {{"alpha"},
                 [](Expr x, const KernelSpec &s) {
                   return select(x >= 0.0f, x, f32(attrFloat(s, "alpha")) * x);
                 },
                 [](Expr x, Expr dy, const KernelSpec &s) {
                   return select(x > 0.0f, dy,
                                 dy * f32(attrFloat(s, "alpha")));
                 }});
  registerUnary(r, "elu",
                {{"alpha"},
                 [](Expr x, const KernelSpec &s) {
                   return select(x > 0.0f, x,
                                 f32(attrFloat(s, "alpha")) * (exp(x) - 1.0f));
                 },
                 [](Expr x, Expr dy, const KernelSpec &s) {
                   return select(x > 0.0f, dy,
                                 dy * f32(attrFloat(s, "alpha")) * exp(x));
                 }});
  const double seluAlpha = 1.6732632423543772, seluScale = 1.0507009873554805;
  registerUnary(r, "selu",
                {{},
                 [=](Expr x, const KernelSpec &) {
                   return f32(seluScale) *
                          select(x > 0.0f, x, f32(seluAlpha) * (exp(x) - 1.0f));
                 },
                 [=](Expr x, Expr dy, const KernelSpec &) {
                   return select(x > 0.0f, dy * f32(seluScale),
                                 dy * f32(seluScale * seluAlpha) * exp(x));
                 }});
  registerUnary(r, "silu",
                {{},
                 [](Expr x, const KernelSpec &) { return x * sigmoid(x); },
                 [](Expr x, Expr dy, const KernelSpec &) {
                   Expr sg = sigmoid(x);
                   return dy * sg * (1.0f + x * (1.0f - sg));
                 }});
  // PyTorch's mish: softplus with beta 1 and threshold 20.
  auto softplus1 = [](Expr x) {
    return select(x > 20.0f, x, log(1.0f + exp(x)));
  };
  registerUnary(r, "mish",
                {{},
                 [=](Expr x, const KernelSpec &) {
                   return x * tanh(softplus1(x));
                 },
                 [=](Expr x, Expr dy, const KernelSpec &) {
                   Expr t = tanh(softplus1(x));
                   return dy * (t + x * (1.0f - t * t) * sigmoid(x));
                 }});
  registerUnary(
      r, "gelu",
      {{},
       [](Expr x, const KernelSpec &s) {
         if (attrString(s, "approximate") == "tanh") {
           Expr inner = f32(std::sqrt(2.0 / M_PI)) * (x + 0.044715f * x * x * x);
           return 0.5f * x * (1.0f + tanh(inner));
         }
         return 0.5f * x * (1.0f + erfF32(x * f32(M_SQRT1_2)));
       },
       [](Expr x, Expr dy, const KernelSpec &s) {
         if (attrString(s, "approximate") == "tanh") {
           const double k = std::sqrt(2.0 / M_PI);
           Expr x2 = x * x;
           Expr t = tanh(f32(k) * (x + 0.044715f * x2 * x));
           Expr dInner = f32(k) * (1.0f + f32(3 * 0.044715) * x2);
           return dy * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dInner);
         }
         Expr cdf = 0.5f * (1.0f + erfF32(x * f32(M_SQRT1_2)));
         Expr pdf = f32(1.0 / std::sqrt(2.0 * M_PI)) * exp(-0.5f * x * x);
         return dy * (cdf + x * pdf);
       },
       [](const KernelSpec &s) {
         std::string mode = attrString(s, "approximate");
         if (mode != "none" && mode != "tanh") {
           fail(s, "attribute 'approximate' must be \"none\" or \"tanh\", "
                   "got \"" + mode + "\"");
         }
       }});
  registerUnary(r, "softplus",
                {{"beta", "threshold"},
                 [](Expr x, const KernelSpec &s) {
                   Expr beta = f32(attrFloat(s, "beta"));
                   Expr bx = beta * x;
                   return select(bx > f32(attrFloat(s, "threshold")), x,
                                 log(1.0f + exp(bx)) / beta);
                 },
                 [](Expr x, Expr dy, const KernelSpec &s) {
                   Expr bx = f32(attrFloat(s, "beta")) * x;
                   return select(bx > f32(attrFloat(s, "threshold")), dy,
                                 dy * sigmoid(bx));
                 }});
  registerUnary(r, "sin",
                {{},
                 [](Expr x, const KernelSpec &) { return sin(x); },
                 [](Expr x, Expr dy, const KernelSpec &) {
                   return dy * cos(x);
                 }});
  // The ONNX math functions with their derivatives (asin, acos, atanh: |x|
  // < 1; acosh: x > 1; outside, NaN as in PyTorch).
  using Math = std::function<Expr(Expr)>;
  auto smooth = [&r](const char *name, Math f, Math df) {
    registerUnary(r, name,
                  {{},
                   [f](Expr x, const KernelSpec &) { return f(x); },
                   [df](Expr x, Expr dy, const KernelSpec &) {
                     return dy * df(x);
                   }});
  };
  smooth("tan", [](Expr x) { return tan(x); },
         [](Expr x) { Expr t = tan(x); return 1.0f + t * t; });
  smooth("sinh", [](Expr x) { return sinh(x); },
         [](Expr x) { return cosh(x); });
  smooth("cosh", [](Expr x) { return cosh(x); },
         [](Expr x) { return sinh(x); });
  smooth("asin", [](Expr x) { return asin(x); },
         [](Expr x) { return 1.0f / sqrt(1.0f - x * x); });
  smooth("acos", [](Expr x) { return acos(x); },
         [](Expr x) { return -1.0f / sqrt(1.0f - x * x); });
  smooth("atan", [](Expr x) { return atan(x); },
         [](Expr x) { return 1.0f / (1.0f + x * x); });
  smooth("asinh", [](Expr x) { return asinh(x); },
         [](Expr x) { return 1.0f / sqrt(x * x + 1.0f); });
  smooth("acosh", [](Expr x) { return acosh(x); },
         [](Expr x) { return 1.0f / sqrt(x * x - 1.0f); });
  smooth("atanh", [](Expr x) { return atanh(x); },
         [](Expr x) { return 1.0f / (1.0f - x * x); });
  smooth("softsign", [](Expr x) { return x / (1.0f + abs(x)); },
         [](Expr x) { Expr d = 1.0f + abs(x); return 1.0f / (d * d); });
  // Piecewise constant: zero gradient (PyTorch's), kinks included.
  auto flat = [&r](const char *name, Math f) {
    registerUnary(r, name,
                  {{},
                   [f](Expr x, const KernelSpec &) { return f(x); },
                   [](Expr, Expr, const KernelSpec &) { return Expr(0.0f); }});
  };
  flat("ceil", [](Expr x) { return ceil(x); });
  flat("floor", [](Expr x) { return floor(x); });
  flat("round", [](Expr x) { return roundHalfEven(x); });
  flat("sign", [](Expr x) {
    return select(x > 0.0f, 1.0f, select(x < 0.0f, -1.0f, 0.0f));
  });
  // Tests of the value (ONNX IsNaN, IsInf), 1 or 0: Halide's is_nan and
  // is_inf, which test the bits (x != x is what an optimizer may fold).
  flat("is_nan", [](Expr x) { return select(is_nan(x), 1.0f, 0.0f); });
  // detect_positive and detect_negative: true when absent (the op's
  // defaults).
  auto detect = [](const KernelSpec &s, const char *name) {
    return !s.attrs.contains(name) || attrBool(s, name);
  };
  registerUnary(r, "is_inf",
                {{},
                 [detect](Expr x, const KernelSpec &s) {
                   Expr hit = cast<bool>(false);
                   if (detect(s, "detect_positive")) {
                     hit = hit || (is_inf(x) && x > 0.0f);
                   }
                   if (detect(s, "detect_negative")) {
                     hit = hit || (is_inf(x) && x < 0.0f);
                   }
                   return select(hit, 1.0f, 0.0f);
                 },
                 [](Expr, Expr, const KernelSpec &) { return Expr(0.0f); },
                 [detect](const KernelSpec &s) {
                   detect(s, "detect_positive");
                   detect(s, "detect_negative");
                 }});
  registerUnary(r, "thresholded_relu",
                {{"alpha"},
                 [](Expr x, const KernelSpec &s) {
                   return select(x > f32(attrFloat(s, "alpha")), x, 0.0f);
                 },
                 [](Expr x, Expr dy, const KernelSpec &s) {
                   return select(x > f32(attrFloat(s, "alpha")), dy, 0.0f);
                 }});
  registerUnary(r, "shrink",
                {{"bias", "lambd"},
                 [](Expr x, const KernelSpec &s) {
                   Expr bias = f32(attrFloat(s, "bias"));
                   Expr lambd = f32(attrFloat(s, "lambd"));
                   return select(x < -lambd, x + bias,
                                 select(x > lambd, x - bias, 0.0f));
                 },
                 [](Expr x, Expr dy, const KernelSpec &s) {
                   Expr lambd = f32(attrFloat(s, "lambd"));
                   return select(x < -lambd || x > lambd, dy, 0.0f);
                 }});
}

//===----------------------------------------------------------------------===//
// prelu: slope per channel (logical axis 1) or one shared slope
//===----------------------------------------------------------------------===//

void validatePrelu(const KernelSpec &s) {
  expectCounts(s, 2, 2, 1);
  expectF32Except(s);
  expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
  const TensorSpec &x = s.inputs[0], &slope = s.inputs[1];
  expectRank(s, slope, "slope", 1);
  bool perChannel = x.shape.size() >= 2 && slope.shape[0] == x.shape[1];
  if (slope.shape[0] != 1 && !perChannel) {
    fail(s, "slope must have shape [C] (x.shape[1]) or [1]");
  }
}

Kernel buildPrelu(const KernelSpec &s, const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam slope = makeInput(s.inputs[1], "slope");
  size_t rank = s.inputs[0].shape.size();
  std::vector<Var> v = makeVars(rank);
  Expr a = s.inputs[1].shape[0] == 1 ? slope(0) : slope(v[rank - 2]);
  Func out("out");
  out(v) = select(x(v) >= 0.0f, x(v), a * x(v));
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {{x, slope}, out};
}

//===----------------------------------------------------------------------===//
// add / sub / mul / div / pow with numpy broadcasting
//===----------------------------------------------------------------------===//

// n f32 inputs that broadcast (numpy) to the output's shape.
void validateBroadcast(const KernelSpec &s, size_t n) {
  expectCounts(s, n, n, 1);
  expectF32Except(s);
  std::vector<int64_t> shape;
  for (const TensorSpec &in : s.inputs) {
    const auto &b = in.shape;
    size_t rank = std::max(shape.size(), b.size());
    std::vector<int64_t> next(rank);
    for (size_t i = 0; i < rank; ++i) { // i counts from the innermost dim
      int64_t ea = i < shape.size() ? shape[shape.size() - 1 - i] : 1;
      int64_t eb = i < b.size() ? b[b.size() - 1 - i] : 1;
      if (ea != eb && ea != 1 && eb != 1) {
        fail(s, "inputs do not broadcast");
      }
      next[rank - 1 - i] = std::max(ea, eb);
    }
    shape = next;
  }
  expectShape(s, s.outputs[0], "output", shape);
}

void validateBinary(const KernelSpec &s) { validateBroadcast(s, 2); }

// Index of a broadcast operand: trailing dims align, extent-1 dims stay 0.
} // namespace

const BinaryFn *findBinary(const std::string &name) {
  auto it = binaryTable().find(name);
  return it == binaryTable().end() ? nullptr : &it->second;
}

const UnaryMath *findUnary(const std::string &name) {
  auto it = unaryTable().find(name);
  return it == unaryTable().end() ? nullptr : &it->second;
}

// The kernel of a unary op: one pure Func, scheduled by scheduleElementwise
// (memory bound; vectorized innermost, parallel outer dims).
void registerUnary(OpRegistry &r, const std::string &name, UnaryMath math) {
  unaryTable()[name] = math;
  r[name] = {[math](const KernelSpec &s) {
               expectCounts(s, 1, 1, 1);
               expectF32Except(s);
               expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
               for (const char *attr : math.floatAttrs) {
                 attrFloat(s, attr);
               }
               if (math.checkAttrs) {
                 math.checkAttrs(s);
               }
             },
             [fn = math.forward](const KernelSpec &s, const Target &target) {
               ImageParam x = makeInput(s.inputs[0], "x");
               std::vector<Var> v = makeVars(s.inputs[0].shape.size());
               Func out("out");
               out(v) = fn(x(v), s);
               constrainOutput(out, s.outputs[0]);
               scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
               return Kernel({x}, out);
             }};
}

Expr erfF32(Expr x) {
  static const float alpha[] = {-2.72614225801306e-10f, 2.77068142495902e-08f,
                                -2.10102402082508e-06f, -5.69250639462346e-05f,
                                -7.34990630326855e-04f, -2.95459980854025e-03f,
                                -1.60960333262415e-02f};
  static const float beta[] = {-1.45660718464996e-05f, -2.13374055278905e-04f,
                               -1.68282697438203e-03f, -7.37332916720468e-03f,
                               -1.42647390514189e-02f};
  Expr c = clamp(x, -4.0f, 4.0f);
  Expr c2 = c * c;
  Expr p = alpha[0], q = beta[0];
  for (size_t i = 1; i < std::size(alpha); ++i) {
    p = p * c2 + alpha[i];
  }
  for (size_t i = 1; i < std::size(beta); ++i) {
    q = q * c2 + beta[i];
  }
  return c * p / q;
}

Expr broadcastAt(ImageParam in, const TensorSpec &t,
                 const std::vector<Var> &v) {
  if (t.blocked()) {
    return blockedAt(in, v[0], v[1], v[2], v[3]);
  }
  std::vector<int> extents = halideShape(t);
  std::vector<Expr> args;
  for (size_t i = 0; i < extents.size(); ++i) {
    args.push_back(extents[i] == 1 ? Expr(0) : Expr(v[i]));
  }
  return in(args);
}

namespace {

Kernel buildBinary(const KernelSpec &s, const Target &target,
                   const std::function<Expr(Expr, Expr)> &fn) {
  ImageParam a = makeInput(s.inputs[0], "a");
  ImageParam b = makeInput(s.inputs[1], "b");
  std::vector<Var> v = makeVars(s.outputs[0].shape.size());
  Func out("out");
  out(v) = fn(broadcastAt(a, s.inputs[0], v), broadcastAt(b, s.inputs[1], v));
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {{a, b}, out};
}

// where: cond == 0 ? rhs : lhs, so that a NaN condition takes lhs (true,
// as ONNX's Cast to bool); a select, so an infinite branch stays put.
Kernel buildWhere(const KernelSpec &s, const Target &target) {
  ImageParam cond = makeInput(s.inputs[0], "cond");
  ImageParam a = makeInput(s.inputs[1], "lhs");
  ImageParam b = makeInput(s.inputs[2], "rhs");
  std::vector<Var> v = makeVars(s.outputs[0].shape.size());
  Func out("out");
  out(v) = select(broadcastAt(cond, s.inputs[0], v) == 0.0f,
                  broadcastAt(b, s.inputs[2], v), broadcastAt(a, s.inputs[1], v));
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {{cond, a, b}, out};
}

// cast: i32 -> f32 (run-time ids or a boolean mask).
void validateCast(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s, {0});
  expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
}

Kernel buildCast(const KernelSpec &s, const Target &target) {
  ImageParam in = makeInput(s.inputs[0], "in");
  std::vector<Var> v = makeVars(s.outputs[0].shape.size());
  Func out("out");
  out(v) = cast<float>(in(v));
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {{in}, out};
}

void registerBinary(OpRegistry &r, const std::string &name, BinaryFn fn) {
  binaryTable()[name] = fn;
  r[name] = {validateBinary, [fn](const KernelSpec &s, const Target &t) {
               return buildBinary(s, t, fn);
             }};
}

//===----------------------------------------------------------------------===//
// concat
//===----------------------------------------------------------------------===//

void validateConcat(const KernelSpec &s) {
  expectCounts(s, 1, 1024, 1);
  expectF32Except(s);
  const auto &first = s.inputs[0].shape;
  expectMinRank(s, s.inputs[0], "x0", 1);
  int64_t axis = axisAttr(s, first.size());
  std::vector<int64_t> shape = first;
  shape[axis] = 0;
  for (const TensorSpec &t : s.inputs) {
    bool same = t.shape.size() == first.size();
    for (size_t d = 0; same && d < first.size(); ++d) {
      same = d == static_cast<size_t>(axis) || t.shape[d] == first[d];
    }
    if (!same) {
      fail(s, "inputs must have equal shapes except along the axis");
    }
    shape[axis] += t.shape[axis];
  }
  expectShape(s, s.outputs[0], "output", shape);
}

Kernel buildConcat(const KernelSpec &s, const Target &target) {
  size_t rank = s.outputs[0].shape.size();
  size_t h = rank - 1 - attrInt(s, "axis");
  std::vector<Var> v = makeVars(rank);
  std::vector<ImageParam> inputs;
  std::vector<int> offsets, extents;
  int offset = 0;
  for (size_t k = 0; k < s.inputs.size(); ++k) {
    inputs.push_back(makeInput(s.inputs[k], "x" + std::to_string(k)));
    offsets.push_back(offset);
    extents.push_back(static_cast<int>(s.inputs[k].shape[rank - 1 - h]));
    offset += extents.back();
  }
  // Loads are clamped so bounds inference stays inside every input.
  auto load = [&](size_t k) {
    std::vector<Expr> args = asExprs(v);
    args[h] = clamp(v[h] - offsets[k], 0, extents[k] - 1);
    return inputs[k](args);
  };
  Expr value = load(inputs.size() - 1);
  for (size_t k = inputs.size() - 1; k-- > 0;) {
    value = select(v[h] < offsets[k + 1], load(k), value);
  }
  Func out("out");
  out(v) = value;
  constrainOutput(out, s.outputs[0]);
  scheduleElementwise(out, v, halideShape(s.outputs[0]), target);
  return {std::vector<Argument>(inputs.begin(), inputs.end()), out};
}

//===----------------------------------------------------------------------===//
// softmax / log_softmax along any axis
//===----------------------------------------------------------------------===//

void validateSoftmax(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  expectMinRank(s, s.inputs[0], "x", 1);
  expectShape(s, s.outputs[0], "output", s.inputs[0].shape);
  int64_t axis = axisAttr(s, s.inputs[0].shape.size());
}

struct SoftmaxFuncs {
  ImageParam x;
  std::vector<Var> v;
  size_t h; // Halide dim of the axis
  std::vector<Var> rest; // v without v[h]
  Func rowMax, rowSum, out;
};

SoftmaxFuncs defineSoftmax(const KernelSpec &s, bool logOutput) {
  SoftmaxFuncs f;
  size_t rank = s.inputs[0].shape.size();
  f.x = makeInput(s.inputs[0], "x");
  f.v = makeVars(rank);
  f.h = rank - 1 - attrInt(s, "axis");
  for (size_t i = 0; i < rank; ++i) {
    if (i != f.h) {
      f.rest.push_back(f.v[i]);
    }
  }
  RDom r(0, static_cast<int>(s.inputs[0].shape[rank - 1 - f.h]), "r");
  std::vector<Expr> args = asExprs(f.v);
  args[f.h] = r;
  Expr xr = f.x(args);
  f.rowMax = Func("row_max");
  f.rowMax(f.rest) = f.x.type().min();
  f.rowMax(f.rest) = max(f.rowMax(f.rest), xr);
  f.rowSum = Func("row_sum");
  f.rowSum(f.rest) = 0.0f;
  f.rowSum(f.rest) += exp(xr - f.rowMax(f.rest));
  Expr shifted = f.x(f.v) - f.rowMax(f.rest);
  f.out = Func("out");
  f.out(f.v) = logOutput ? shifted - log(f.rowSum(f.rest))
                         : exp(shifted) / f.rowSum(f.rest);
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// Target: x86-64 AVX-512, 2 cores. The row statistics are computed per
// outermost slice (or once, when the axis is the outermost dim) and
// vectorized along the innermost non-axis dim; log_softmax over [64,10]
// takes a few microseconds, dominated by the call overhead.
void scheduleSoftmax(SoftmaxFuncs &f, const KernelSpec &s,
                     const Target &target) {
  if (target.has_gpu_feature()) {
    // The row statistics one thread per row, then one thread per output.
    rootStages(f.rowMax, target);
    rootStages(f.rowSum, target);
    scheduleElementwiseGpu(f.out, f.v);
    return;
  }
  int vec = target.natural_vector_size<float>();
  std::vector<int> extents = halideShape(s.outputs[0]);
  size_t rank = extents.size();
  int64_t total = s.outputs[0].numElements();
  if (extents[0] >= vec) {
    f.out.vectorize(f.v[0], vec, TailStrategy::ShiftInwards);
  }
  bool statsAtRoot = f.h == rank - 1;
  if (!statsAtRoot) {
    if (total >= kParallelGrain) {
      f.out.parallel(f.v[rank - 1]);
    }
    f.rowMax.compute_at(f.out, f.v[rank - 1]);
    f.rowSum.compute_at(f.out, f.v[rank - 1]);
  } else {
    f.rowMax.compute_root();
    f.rowSum.compute_root();
  }
  if (int width = guardedWidth(extents[0], vec);
      !f.rest.empty() && f.h != 0 && width > 1) {
    for (Func stats : {f.rowMax, f.rowSum}) {
      stats.vectorize(f.rest[0], width, TailStrategy::GuardWithIf);
      stats.update().vectorize(f.rest[0], width, TailStrategy::GuardWithIf);
    }
  }
}

Kernel buildSoftmax(const KernelSpec &s, const Target &target,
                    bool logOutput) {
  SoftmaxFuncs f = defineSoftmax(s, logOutput);
  scheduleSoftmax(f, s, target);
  return {{f.x}, f.out};
}

} // namespace

void registerElementwiseOps(OpRegistry &r) {
  registerActivations(r);
  r["prelu"] = {validatePrelu, buildPrelu};
  r["where"] = {[](const KernelSpec &s) { validateBroadcast(s, 3); },
                buildWhere};
  r["cast"] = {validateCast, buildCast};
  registerBinary(r, "add", [](Expr a, Expr b) { return a + b; });
  registerBinary(r, "sub", [](Expr a, Expr b) { return a - b; });
  registerBinary(r, "mul", [](Expr a, Expr b) { return a * b; });
  registerBinary(r, "div", [](Expr a, Expr b) { return a / b; });
  registerBinary(r, "pow", [](Expr a, Expr b) { return pow(a, b); });
  registerBinary(r, "maximum", [](Expr a, Expr b) { return max(a, b); });
  registerBinary(r, "minimum", [](Expr a, Expr b) { return min(a, b); });
  registerBinary(r, "mod", [](Expr a, Expr b) { return a - b * floor(a / b); });
  registerBinary(r, "fmod", [](Expr a, Expr b) { return a - b * trunc(a / b); });
  // Comparisons as 1 / 0 (run-time booleans), compared, not subtracted.
  auto compare = [&](const std::string &name,
                     std::function<Expr(Expr, Expr)> relation) {
    registerBinary(r, name, [relation](Expr a, Expr b) {
      return select(relation(a, b), 1.0f, 0.0f);
    });
  };
  compare("less", [](Expr a, Expr b) { return a < b; });
  compare("less_equal", [](Expr a, Expr b) { return a <= b; });
  compare("greater", [](Expr a, Expr b) { return a > b; });
  compare("greater_equal", [](Expr a, Expr b) { return a >= b; });
  compare("equal", [](Expr a, Expr b) { return a == b; });
  r["concat"] = {validateConcat, buildConcat};
  r["softmax"] = {validateSoftmax, [](const KernelSpec &s, const Target &t) {
                    return buildSoftmax(s, t, false);
                  }};
  r["log_softmax"] = {validateSoftmax,
                      [](const KernelSpec &s, const Target &t) {
                        return buildSoftmax(s, t, true);
                      }};
}

} // namespace kiln::codegen::detail
