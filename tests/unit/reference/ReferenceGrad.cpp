#include "reference/ReferenceGrad.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace kiln::reference {

namespace {

void require(bool condition, const char *what) {
  if (!condition) {
    throw std::invalid_argument(std::string("reference: ") + what);
  }
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

} // namespace

// ---------------------------------------------------------------------------
// Generic tensor ops
// ---------------------------------------------------------------------------

Tensor matmul(const Tensor &a, const Tensor &b, bool transposeA,
              bool transposeB) {
  require(a.shape.size() == 2 && b.shape.size() == 2, "matmul rank");
  const int64_t m = transposeA ? a.shape[1] : a.shape[0];
  const int64_t k = transposeA ? a.shape[0] : a.shape[1];
  const int64_t kb = transposeB ? b.shape[1] : b.shape[0];
  const int64_t n = transposeB ? b.shape[0] : b.shape[1];
  require(k == kb, "matmul inner dims");
  // Element (i, j) of op(t) for a [rows, cols] tensor t.
  auto at = [](const Tensor &t, bool transposed, int64_t i, int64_t j) {
    return transposed ? t.data[j * t.shape[1] + i] : t.data[i * t.shape[1] + j];
  };
  Tensor c({m, n});
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t r = 0; r < k; ++r) {
        sum += at(a, transposeA, i, r) * at(b, transposeB, r, j);
      }
      c.data[i * n + j] = sum;
    }
  }
  return c;
}

Tensor reduceSum(const Tensor &x, const std::vector<int64_t> &axes,
                 bool keepdims) {
  return reduce(x, axes, keepdims, "sum");
}

Tensor reduce(const Tensor &x, const std::vector<int64_t> &axes,
              bool keepdims, const std::string &kind) {
  const size_t rank = x.shape.size();
  std::vector<bool> reduced(rank, false);
  for (int64_t axis : axes) {
    require(axis >= 0 && axis < static_cast<int64_t>(rank) && !reduced[axis],
            "reduce axes");
    reduced[axis] = true;
  }
  require(kind == "sum" || kind == "max" || kind == "min" || kind == "prod",
          "reduce kind");
  std::vector<int64_t> keptShape(rank); // the output with keepdims
  for (size_t d = 0; d < rank; ++d) {
    keptShape[d] = reduced[d] ? 1 : x.shape[d];
  }
  Tensor y(keptShape);
  std::vector<bool> seen(y.data.size(), false);
  std::vector<int64_t> index(rank);
  for (int64_t flat = 0; flat < x.numElements(); ++flat) {
    int64_t rest = flat;
    for (size_t d = rank; d-- > 0;) {
      index[d] = rest % x.shape[d];
      rest /= x.shape[d];
    }
    int64_t out = 0;
    for (size_t d = 0; d < rank; ++d) {
      out = out * keptShape[d] + (reduced[d] ? 0 : index[d]);
    }
    double v = x.data[flat], &acc = y.data[out];
    if (!seen[out]) {
      acc = v;
      seen[out] = true;
    } else {
      acc = kind == "sum"   ? acc + v
            : kind == "max" ? std::max(acc, v)
            : kind == "min" ? std::min(acc, v)
                            : acc * v;
    }
  }
  if (!keepdims) {
    std::vector<int64_t> shape;
    for (size_t d = 0; d < rank; ++d) {
      if (!reduced[d]) {
        shape.push_back(x.shape[d]);
      }
    }
    y.shape = shape;
  }
  return y;
}

Tensor slice(const Tensor &x, int64_t axis, int64_t start, int64_t size) {
  require(axis >= 0 && axis < static_cast<int64_t>(x.shape.size()),
          "slice axis");
  require(start >= 0 && size > 0 && start + size <= x.shape[axis],
          "slice range");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) {
    outer *= x.shape[d];
  }
  for (size_t d = axis + 1; d < x.shape.size(); ++d) {
    inner *= x.shape[d];
  }
  std::vector<int64_t> shape = x.shape;
  shape[axis] = size;
  Tensor y(shape);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t a = 0; a < size; ++a) {
      for (int64_t i = 0; i < inner; ++i) {
        y.data[(o * size + a) * inner + i] =
            x.data[(o * x.shape[axis] + start + a) * inner + i];
      }
    }
  }
  return y;
}

Tensor scale(const Tensor &x, double factor) {
  Tensor y = x;
  for (double &v : y.data) {
    v *= factor;
  }
  return y;
}

double regularizer(const Tensor &w, double l1, double l2) {
  double abs = 0, squares = 0;
  for (double v : w.data) {
    abs += std::abs(v);
    squares += v * v;
  }
  return l1 * abs + l2 * squares;
}

Tensor regularizerGrad(const Tensor &w, double dloss, double l1, double l2) {
  Tensor dw(w.shape);
  for (size_t i = 0; i < w.data.size(); ++i) {
    const double v = w.data[i];
    const double sign = v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0);
    dw.data[i] = dloss * (l1 * sign + 2 * l2 * v);
  }
  return dw;
}

// ---------------------------------------------------------------------------
// Training-mode layers
// ---------------------------------------------------------------------------

namespace {

// x [N,C,...] as (n, c, inner).
void channelSplit(const Tensor &x, int64_t &n, int64_t &c, int64_t &inner) {
  require(x.shape.size() >= 2, "batch_norm rank");
  n = x.shape[0];
  c = x.shape[1];
  inner = 1;
  for (size_t d = 2; d < x.shape.size(); ++d) {
    inner *= x.shape[d];
  }
}

} // namespace

BatchNormTrainResult batchNormTrain(const Tensor &x, const Tensor &weight,
                                    const Tensor &bias, double epsilon) {
  int64_t n, c, inner;
  channelSplit(x, n, c, inner);
  BatchNormTrainResult r{Tensor(x.shape), Tensor({c}), Tensor({c})};
  const double count = static_cast<double>(n * inner);
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0;
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < inner; ++i) {
        sum += x.data[(b * c + ch) * inner + i];
      }
    }
    const double mean = sum / count;
    double squares = 0; // two passes: no E[x²] - E[x]² cancellation
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < inner; ++i) {
        const double d = x.data[(b * c + ch) * inner + i] - mean;
        squares += d * d;
      }
    }
    const double var = squares / count;
    r.mean.data[ch] = mean;
    r.var.data[ch] = var;
    const double invStd = 1.0 / std::sqrt(var + epsilon);
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t at = (b * c + ch) * inner + i;
        r.y.data[at] =
            (x.data[at] - mean) * invStd * weight.data[ch] + bias.data[ch];
      }
    }
  }
  return r;
}

// With m = count per channel, x̂ = (x - mean)·invStd:
//   dbias = Σ dy,  dweight = Σ dy·x̂,
//   dx = weight·invStd/m · (m·dy - Σ dy - x̂·Σ dy·x̂).
BatchNormGradResult batchNormGrad(const Tensor &x, const Tensor &dy,
                                  const Tensor &weight, const Tensor &mean,
                                  const Tensor &var, double epsilon) {
  int64_t n, c, inner;
  channelSplit(x, n, c, inner);
  require(dy.shape == x.shape, "batch_norm_grad dy shape");
  BatchNormGradResult r{Tensor(x.shape), Tensor({c}), Tensor({c})};
  const double m = static_cast<double>(n * inner);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double invStd = 1.0 / std::sqrt(var.data[ch] + epsilon);
    double sumDy = 0, sumDyXhat = 0;
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t at = (b * c + ch) * inner + i;
        sumDy += dy.data[at];
        sumDyXhat += dy.data[at] * (x.data[at] - mean.data[ch]) * invStd;
      }
    }
    r.dbias.data[ch] = sumDy;
    r.dweight.data[ch] = sumDyXhat;
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t at = (b * c + ch) * inner + i;
        const double xhat = (x.data[at] - mean.data[ch]) * invStd;
        r.dx.data[at] = weight.data[ch] * invStd / m *
                        (m * dy.data[at] - sumDy - xhat * sumDyXhat);
      }
    }
  }
  return r;
}

Tensor maxPool2dGrad(const Tensor &x, const Tensor &dy, const Pool2dParams &p) {
  require(x.shape.size() == 4 && dy.shape.size() == 4, "max_pool2d_grad rank");
  const int64_t h = x.shape[2], w = x.shape[3];
  const int64_t oh = dy.shape[2], ow = dy.shape[3];
  Tensor dx(x.shape);
  for (int64_t plane = 0; plane < x.shape[0] * x.shape[1]; ++plane) {
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        int64_t best = -1; // flat index of the first maximum
        for (int64_t ky = 0; ky < p.kernel[0]; ++ky) {
          const int64_t iy =
              oy * p.strides[0] - p.pads[0] + ky * p.dilations[0];
          for (int64_t kx = 0; kx < p.kernel[1]; ++kx) {
            const int64_t ix =
                ox * p.strides[1] - p.pads[1] + kx * p.dilations[1];
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
              continue;
            }
            const int64_t at = (plane * h + iy) * w + ix;
            if (best < 0 || x.data[at] > x.data[best]) { // strict: first wins
              best = at;
            }
          }
        }
        require(best >= 0, "max_pool2d_grad window entirely in padding");
        dx.data[best] += dy.data[(plane * oh + oy) * ow + ox];
      }
    }
  }
  return dx;
}

std::vector<Tensor> runningStatsUpdate(const Tensor &runningMean,
                                       const Tensor &runningVar,
                                       const Tensor &mean, const Tensor &var,
                                       double momentum, int64_t count) {
  require(count > 1, "running_stats_update count");
  Tensor newMean(runningMean.shape), newVar(runningVar.shape);
  const double unbias = static_cast<double>(count) / (count - 1);
  for (size_t i = 0; i < mean.data.size(); ++i) {
    newMean.data[i] =
        (1 - momentum) * runningMean.data[i] + momentum * mean.data[i];
    newVar.data[i] =
        (1 - momentum) * runningVar.data[i] + momentum * var.data[i] * unbias;
  }
  return {newMean, newVar};
}

uint32_t dropoutHash(uint32_t index, int32_t seed, int64_t salt) {
  const uint32_t s = static_cast<uint32_t>(seed);
  const uint32_t k = static_cast<uint32_t>(salt); // low 32 bits
  uint32_t h = index ^ (s * 0x9E3779B9u) ^ (k * 0x85EBCA6Bu);
  h ^= h >> 16;
  h *= 0x7FEB352Du;
  h ^= h >> 15;
  h *= 0x846CA68Bu;
  h ^= h >> 16;
  return h;
}

bool dropoutKeep(uint32_t index, int32_t seed, int64_t salt, double rate) {
  // h >> 8 < 2^24: exact in float, and so is the product with 2^-24.
  const float u =
      static_cast<float>(dropoutHash(index, seed, salt) >> 8) * 0x1.0p-24f;
  return u >= rate;
}

Tensor augment(const Tensor &x, int32_t seed, const AugmentParams &p) {
  require(x.shape.size() == 4, "augment: x [N,C,H,W]");
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
  const double pi = 3.14159265358979323846;
  auto uniform = [](uint32_t hash) { return (hash >> 8) / 16777216.0; };
  Tensor y(x.shape);
  for (int64_t i = 0; i < n; ++i) {
    auto u = [&](int k) {
      return uniform(dropoutHash(static_cast<uint32_t>(8 * i + k), seed,
                                 1000003));
    };
    const double sx = p.flipH && u(0) < 0.5 ? -1 : 1;
    const double sy = p.flipV && u(1) < 0.5 ? -1 : 1;
    const double dx = (2 * u(2) - 1) * p.shift, dy = (2 * u(3) - 1) * p.shift;
    const double angle = (2 * u(4) - 1) * p.rotate * pi / 180;
    const double zoom = 1 + (2 * u(5) - 1) * p.zoom;
    const double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
    for (int64_t ch = 0; ch < c; ++ch) {
      const double *plane = &x.data[((i * c + ch) * h) * w];
      auto at = [&](int64_t r, int64_t col) {
        return r < 0 || r >= h || col < 0 || col >= w ? 0.0
                                                       : plane[r * w + col];
      };
      for (int64_t r = 0; r < h; ++r) {
        for (int64_t col = 0; col < w; ++col) {
          const double ox = col - cx - dx, oy = r - cy - dy;
          const double srcX =
              sx * (std::cos(angle) * ox + std::sin(angle) * oy) / zoom + cx;
          const double srcY =
              sy * (std::cos(angle) * oy - std::sin(angle) * ox) / zoom + cy;
          const double fx = std::floor(srcX), fy = std::floor(srcY);
          const int64_t x0 = static_cast<int64_t>(fx),
                        y0 = static_cast<int64_t>(fy);
          const double wx = srcX - fx, wy = srcY - fy;
          double value = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x0 + 1)) +
                         wy * ((1 - wx) * at(y0 + 1, x0) + wx * at(y0 + 1, x0 + 1));
          if (p.noise > 0) {
            const uint32_t e = static_cast<uint32_t>(
                ((i * c + ch) * h + r) * w + col);
            const double u1 =
                ((dropoutHash(2 * e, seed, 2000003) >> 8) + 0.5) / 16777216.0;
            const double u2 = uniform(dropoutHash(2 * e + 1, seed, 2000003));
            value += p.noise * std::sqrt(-2 * std::log(u1)) *
                     std::cos(2 * pi * u2);
          }
          y.data[((i * c + ch) * h + r) * w + col] = value;
        }
      }
    }
  }
  return y;
}

Tensor dropoutTrain(const Tensor &x, int32_t seed, int64_t salt, double rate) {
  Tensor y(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i) {
    y.data[i] = dropoutKeep(static_cast<uint32_t>(i), seed, salt, rate)
                    ? x.data[i] / (1 - rate)
                    : 0.0;
  }
  return y;
}

double activationDerivative(Activation op, double x,
                            const ActivationParams &p) {
  constexpr double kSeluAlpha = 1.6732632423543772;
  constexpr double kSeluScale = 1.0507009873554805;
  constexpr double kPi = 3.14159265358979323846;
  switch (op) {
  case Activation::Step:
    return 0;
  case Activation::Sigmoid:
    return sigmoid(x) * (1 - sigmoid(x));
  case Activation::Tanh:
    return 1 - std::tanh(x) * std::tanh(x);
  case Activation::Relu:
    return x > 0 ? 1 : 0;
  case Activation::Relu6:
    return x > 0 && x < 6 ? 1 : 0;
  case Activation::LeakyRelu:
    return x > 0 ? 1 : p.alpha;
  case Activation::Elu:
    return x > 0 ? 1 : p.alpha * std::exp(x);
  case Activation::Selu:
    return x > 0 ? kSeluScale : kSeluScale * kSeluAlpha * std::exp(x);
  case Activation::Silu:
    return sigmoid(x) * (1 + x * (1 - sigmoid(x)));
  case Activation::Mish: { // tanh(sp) + x * sech^2(sp) * sigmoid(x)
    const double t = std::tanh(x > 20 ? x : std::log1p(std::exp(x)));
    return t + x * (1 - t * t) * sigmoid(x);
  }
  case Activation::GeluErf: // Φ(x) + x·φ(x)
    return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) +
           x * std::exp(-0.5 * x * x) / std::sqrt(2 * kPi);
  case Activation::GeluTanh: {
    const double k = std::sqrt(2.0 / kPi);
    const double t = std::tanh(k * (x + 0.044715 * x * x * x));
    return 0.5 * (1 + t) +
           0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
  }
  case Activation::Softplus:
    return p.beta * x <= p.threshold ? sigmoid(p.beta * x) : 1.0;
  case Activation::Sin:
    return std::cos(x);
  case Activation::Tan:
    return 1 / (std::cos(x) * std::cos(x));
  case Activation::Sinh:
    return std::cosh(x);
  case Activation::Cosh:
    return std::sinh(x);
  case Activation::Asin:
    return 1 / std::sqrt(1 - x * x);
  case Activation::Acos:
    return -1 / std::sqrt(1 - x * x);
  case Activation::Atan:
    return 1 / (1 + x * x);
  case Activation::Asinh:
    return 1 / std::sqrt(x * x + 1);
  case Activation::Acosh:
    return 1 / std::sqrt(x * x - 1);
  case Activation::Atanh:
    return 1 / (1 - x * x);
  case Activation::Softsign:
    return 1 / ((1 + std::fabs(x)) * (1 + std::fabs(x)));
  case Activation::Ceil:
  case Activation::Floor:
  case Activation::Round:
  case Activation::Sign:
  case Activation::IsNan:
  case Activation::IsInf:
    return 0;
  case Activation::ThresholdedRelu:
    return x > p.alpha ? 1 : 0;
  case Activation::Shrink:
    return x < -p.lambd || x > p.lambd ? 1 : 0;
  }
  throw std::invalid_argument("reference: unknown activation");
}

// ---------------------------------------------------------------------------
// Optimizer update
// ---------------------------------------------------------------------------

int optimizerSlots(const std::string &kind) {
  if (kind == "sgd") {
    return 0;
  }
  if (kind == "momentum" || kind == "nesterov" || kind == "adagrad" ||
      kind == "rmsprop") {
    return 1;
  }
  if (kind == "adadelta" || kind == "adam") {
    return 2;
  }
  throw std::invalid_argument("reference: unknown optimizer " + kind);
}

std::vector<Tensor> optimizerUpdate(const OptimizerConfig &c,
                                    const Tensor &param, const Tensor &grad,
                                    double lr, double step,
                                    const std::vector<Tensor> &slots) {
  require(static_cast<int>(slots.size()) == optimizerSlots(c.kind),
          "optimizer slot count");
  require(grad.shape == param.shape, "optimizer grad shape");
  std::vector<Tensor> out = {param};
  for (const Tensor &slot : slots) {
    require(slot.shape == param.shape, "optimizer slot shape");
    out.push_back(slot);
  }
  for (size_t i = 0; i < param.data.size(); ++i) {
    double &p = out[0].data[i];
    double g = grad.data[i];
    if (c.clipValue > 0) {
      g = std::clamp(g, -c.clipValue, c.clipValue);
    }
    g += c.weightDecay * p; // after clipping, as PyTorch's weight_decay
    if (c.kind == "sgd") {
      p -= lr * g;
    } else if (c.kind == "momentum" || c.kind == "nesterov") {
      double &buf = out[1].data[i];
      buf = step == 1 ? g : c.momentum * buf + (1 - c.dampening) * g;
      p -= lr * (c.kind == "nesterov" ? g + c.momentum * buf : buf);
    } else if (c.kind == "adagrad") {
      double &sum = out[1].data[i];
      sum += g * g;
      const double clr = lr / (1 + (step - 1) * c.lrDecay);
      p -= clr * g / (std::sqrt(sum) + c.epsilon);
    } else if (c.kind == "adadelta") {
      double &v = out[1].data[i];
      double &u = out[2].data[i];
      v = c.rho * v + (1 - c.rho) * g * g;
      const double delta =
          std::sqrt(u + c.epsilon) / std::sqrt(v + c.epsilon) * g;
      u = c.rho * u + (1 - c.rho) * delta * delta;
      p -= lr * delta;
    } else if (c.kind == "rmsprop") {
      double &v = out[1].data[i];
      v = c.alpha * v + (1 - c.alpha) * g * g;
      p -= lr * g / (std::sqrt(v) + c.epsilon);
    } else if (c.kind == "adam") {
      double &m = out[1].data[i];
      double &v = out[2].data[i];
      m = c.beta1 * m + (1 - c.beta1) * g;
      v = c.beta2 * v + (1 - c.beta2) * g * g;
      const double mHat = m / (1 - std::pow(c.beta1, step));
      const double vHat = v / (1 - std::pow(c.beta2, step));
      p -= lr * mHat / (std::sqrt(vHat) + c.epsilon);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Finite differences
// ---------------------------------------------------------------------------

Tensor numericGrad(std::function<double(const Tensor &)> f, Tensor x,
                   double h) {
  Tensor grad(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i) {
    const double original = x.data[i];
    const double s = h * std::max(1.0, std::abs(original));
    x.data[i] = original + s;
    const double up = f(x);
    x.data[i] = original - s;
    const double down = f(x);
    x.data[i] = original;
    // (original + s) - (original - s) is not exactly 2s in floating point;
    // dividing by the actual distance removes that error.
    grad.data[i] = (up - down) / ((original + s) - (original - s));
  }
  return grad;
}

double dot(const Tensor &a, const Tensor &b) {
  require(a.shape == b.shape, "dot shapes");
  double sum = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    sum += a.data[i] * b.data[i];
  }
  return sum;
}

} // namespace kiln::reference
