#include "reference/Reference.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <limits>

namespace kiln::reference {

int64_t numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    n *= d;
  }
  return n;
}

Tensor::Tensor(std::vector<int64_t> shape)
    : shape(std::move(shape)), data(reference::numElements(this->shape)) {}

Tensor::Tensor(std::vector<int64_t> shape, std::vector<double> data)
    : shape(std::move(shape)), data(std::move(data)) {
  if (static_cast<int64_t>(this->data.size()) !=
      reference::numElements(this->shape)) {
    throw std::invalid_argument("reference::Tensor: data does not fit shape");
  }
}

int64_t Tensor::numElements() const { return reference::numElements(shape); }

namespace {

void require(bool condition, const char *what) {
  if (!condition) {
    throw std::invalid_argument(std::string("reference: ") + what);
  }
}

// Splits `shape` around `axis`: prod(shape[:axis]), shape[axis],
// prod(shape[axis+1:]).
void splitAt(const std::vector<int64_t> &shape, int64_t axis, int64_t &outer,
             int64_t &length, int64_t &inner) {
  require(axis >= 0 && axis < static_cast<int64_t>(shape.size()),
          "axis out of range");
  outer = 1;
  inner = 1;
  for (int64_t d = 0; d < axis; ++d) {
    outer *= shape[d];
  }
  length = shape[axis];
  for (size_t d = axis + 1; d < shape.size(); ++d) {
    inner *= shape[d];
  }
}

} // namespace

// ---------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------

Tensor dense(const Tensor &x, const Tensor &weight, const Tensor *bias) {
  require(x.shape.size() == 2 && weight.shape.size() == 2 &&
              x.shape[1] == weight.shape[1],
          "dense shapes");
  const int64_t n = x.shape[0], k = x.shape[1], o = weight.shape[0];
  Tensor y({n, o});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < o; ++j) {
      double sum = bias ? bias->data[j] : 0.0;
      for (int64_t r = 0; r < k; ++r) {
        sum += x.data[i * k + r] * weight.data[j * k + r];
      }
      y.data[i * o + j] = sum;
    }
  }
  return y;
}

Tensor convTranspose2d(const Tensor &x, const Tensor &weight,
                       const Conv2dParams &p, std::array<int64_t, 2> size) {
  require(x.shape.size() == 4 && weight.shape.size() == 4,
          "convTranspose2d rank");
  const int64_t n = x.shape[0], ci = x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t cog = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3];
  require(weight.shape[0] == ci && ci % p.groups == 0,
          "convTranspose2d channels");
  const int64_t cig = ci / p.groups, co = cog * p.groups;
  Tensor y({n, co, size[0], size[1]});
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t c = 0; c < ci; ++c) {
      const int64_t group = c / cig;
      for (int64_t i = 0; i < h; ++i) {
        for (int64_t j = 0; j < w; ++j) {
          const double v = x.data[((b * ci + c) * h + i) * w + j];
          for (int64_t o = 0; o < cog; ++o) {
            const int64_t oc = group * cog + o;
            for (int64_t ky = 0; ky < kh; ++ky) {
              const int64_t oy = i * p.strides[0] + ky * p.dilations[0] - p.pads[0];
              if (oy < 0 || oy >= size[0]) {
                continue;
              }
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t ox =
                    j * p.strides[1] + kx * p.dilations[1] - p.pads[1];
                if (ox < 0 || ox >= size[1]) {
                  continue;
                }
                y.data[((b * co + oc) * size[0] + oy) * size[1] + ox] +=
                    v * weight.data[((c * cog + o) * kh + ky) * kw + kx];
              }
            }
          }
        }
      }
    }
  }
  return y;
}

Tensor conv2d(const Tensor &x, const Tensor &weight, const Tensor *bias,
              const Conv2dParams &p) {
  require(x.shape.size() == 4 && weight.shape.size() == 4, "conv2d rank");
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t o = weight.shape[0], cg = weight.shape[1], kh = weight.shape[2],
                kw = weight.shape[3];
  require(c % p.groups == 0 && o % p.groups == 0 && cg == c / p.groups,
          "conv2d groups");
  const int64_t oh =
      (h + p.pads[0] + p.pads[2] - p.dilations[0] * (kh - 1) - 1) /
          p.strides[0] +
      1;
  const int64_t ow =
      (w + p.pads[1] + p.pads[3] - p.dilations[1] * (kw - 1) - 1) /
          p.strides[1] +
      1;
  require(oh > 0 && ow > 0, "conv2d output size");
  const int64_t outPerGroup = o / p.groups;
  Tensor y({n, o, oh, ow});
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t oc = 0; oc < o; ++oc) {
      const int64_t group = oc / outPerGroup;
      for (int64_t oy = 0; oy < oh; ++oy) {
        for (int64_t ox = 0; ox < ow; ++ox) {
          double sum = bias ? bias->data[oc] : 0.0;
          for (int64_t ic = 0; ic < cg; ++ic) {
            const int64_t xc = group * cg + ic;
            for (int64_t ky = 0; ky < kh; ++ky) {
              const int64_t iy =
                  oy * p.strides[0] - p.pads[0] + ky * p.dilations[0];
              if (iy < 0 || iy >= h) {
                continue;
              }
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t ix =
                    ox * p.strides[1] - p.pads[1] + kx * p.dilations[1];
                if (ix < 0 || ix >= w) {
                  continue;
                }
                sum += x.data[((b * c + xc) * h + iy) * w + ix] *
                       weight.data[((oc * cg + ic) * kh + ky) * kw + kx];
              }
            }
          }
          y.data[((b * o + oc) * oh + oy) * ow + ox] = sum;
        }
      }
    }
  }
  return y;
}

Tensor packConvWeight(const Tensor &weight, int64_t block) {
  require(weight.shape.size() == 4 && block > 0 && weight.shape[0] % block == 0,
          "packConvWeight: [O, C, KH, KW] with O a multiple of the block");
  const int64_t o = weight.shape[0], rest = weight.numElements() / o;
  Tensor packed({o / block, weight.shape[1], weight.shape[2], weight.shape[3],
                 block});
  for (int64_t k = 0; k < o; ++k) {
    for (int64_t j = 0; j < rest; ++j) {
      packed.data[((k / block) * rest + j) * block + k % block] =
          weight.data[k * rest + j];
    }
  }
  return packed;
}

Tensor packWinogradFilter(const Tensor &filter, int64_t block) {
  require(filter.shape.size() == 3 && block > 0 && filter.shape[2] % block == 0,
          "packWinogradFilter: [P, In, Out] with Out a multiple of the block");
  const int64_t points = filter.shape[0], in = filter.shape[1],
                out = filter.shape[2];
  Tensor packed({points, out / block, in, block});
  for (int64_t p = 0; p < points; ++p) {
    for (int64_t i = 0; i < in; ++i) {
      for (int64_t k = 0; k < out; ++k) {
        packed.data[((p * (out / block) + k / block) * in + i) * block +
                    k % block] = filter.data[(p * in + i) * out + k];
      }
    }
  }
  return packed;
}

Tensor winogradFilter(const Tensor &weight, bool inputGradient, int tile) {
  require(weight.shape.size() == 4 && weight.shape[2] == 3 &&
              weight.shape[3] == 3,
          "winograd_filter weight [O,C,3,3]");
  require(tile == 2 || tile == 4, "winograd_filter tile 2 or 4");
  const int64_t o = weight.shape[0], c = weight.shape[1];
  const double g2[4][3] = {
      {1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  const double g4[6][3] = {{1, 0, 0},
                           {-1.0 / 3, -1.0 / 3, -1.0 / 3},
                           {1.0 / 3, -1.0 / 3, 1.0 / 3},
                           {1.0 / 15, 2.0 / 15, 4.0 / 15},
                           {-16.0 / 15, 8.0 / 15, -4.0 / 15},
                           {0, 0, 1}};
  const int alpha = tile + 2;
  auto g = [&](int row, int k) { return tile == 2 ? g2[row][k] : g4[row][k]; };
  const int64_t points = alpha * alpha;
  Tensor u(inputGradient ? std::vector<int64_t>{points, o, c}
                          : std::vector<int64_t>{points, c, o});
  for (int64_t oc = 0; oc < o; ++oc) {
    for (int64_t ic = 0; ic < c; ++ic) {
      const double *w = &weight.data[(oc * c + ic) * 9];
      for (int b = 0; b < alpha; ++b) {
        for (int a = 0; a < alpha; ++a) {
          double sum = 0;
          for (int ky = 0; ky < 3; ++ky) {
            for (int kx = 0; kx < 3; ++kx) {
              double tap = inputGradient ? w[(2 - ky) * 3 + (2 - kx)]
                                         : w[ky * 3 + kx];
              sum += g(b, ky) * tap * g(a, kx);
            }
          }
          size_t at = inputGradient ? ((alpha * b + a) * o + oc) * c + ic
                                    : ((alpha * b + a) * c + ic) * o + oc;
          u.data[at] = sum;
        }
      }
    }
  }
  return u;
}

Tensor pad(const Tensor &x, const std::vector<int64_t> &pads,
           const std::string &mode) {
  const size_t rank = x.shape.size();
  require(pads.size() == 2 * rank, "pad: 2 * rank pads");
  require(mode == "edge" || mode == "reflect", "pad: mode edge or reflect");
  std::vector<int64_t> shape;
  for (size_t d = 0; d < rank; ++d) {
    shape.push_back(x.shape[d] + pads[d] + pads[d + rank]);
  }
  Tensor y(shape);
  for (int64_t flat = 0; flat < y.numElements(); ++flat) {
    int64_t rest = flat, source = 0, stride = 1;
    for (size_t d = rank; d-- > 0;) {
      const int64_t n = x.shape[d];
      int64_t k = rest % shape[d] - pads[d];
      rest /= shape[d];
      if (mode == "edge") {
        k = std::min(std::max<int64_t>(k, 0), n - 1);
      } else {
        k = k < 0 ? -k : k >= n ? 2 * (n - 1) - k : k;
      }
      source += k * stride;
      stride *= n;
    }
    y.data[flat] = x.data[source];
  }
  return y;
}

int64_t pooledSize(int64_t in, int64_t kernel, int64_t stride, int64_t padBegin,
                   int64_t padEnd, int64_t dilation, bool ceilMode) {
  const int64_t span = in + padBegin + padEnd - dilation * (kernel - 1) - 1;
  require(span >= 0, "pool window larger than the padded input");
  int64_t out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceilMode && (out - 1) * stride >= in + padBegin) {
    --out; // the last window would start inside the right padding
  }
  return out;
}

namespace {
// Each window's first maximum (row-major window order): its value into
// `values` and its position in x, flattened rows innermost (or columns:
// columnMajor), into `indices`.
void maxPoolWindows(const Tensor &x, const Pool2dParams &p, bool columnMajor,
                    Tensor &values, Tensor &indices) {
  require(x.shape.size() == 4, "max_pool2d rank");
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t oh = pooledSize(h, p.kernel[0], p.strides[0], p.pads[0],
                                p.pads[2], p.dilations[0], p.ceilMode);
  const int64_t ow = pooledSize(w, p.kernel[1], p.strides[1], p.pads[1],
                                p.pads[3], p.dilations[1], p.ceilMode);
  values = Tensor({n, c, oh, ow});
  indices = Tensor({n, c, oh, ow});
  for (int64_t plane = 0; plane < n * c; ++plane) {
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        double best = -std::numeric_limits<double>::infinity();
        int64_t at = -1;
        for (int64_t ky = 0; ky < p.kernel[0]; ++ky) {
          for (int64_t kx = 0; kx < p.kernel[1]; ++kx) {
            const int64_t iy =
                oy * p.strides[0] - p.pads[0] + ky * p.dilations[0];
            const int64_t ix =
                ox * p.strides[1] - p.pads[1] + kx * p.dilations[1];
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
              continue;
            }
            double v = x.data[(plane * h + iy) * w + ix];
            if (at < 0 || v > best) { // the first of equal maxima stays
              best = v;
              at = columnMajor ? (plane * w + ix) * h + iy
                               : (plane * h + iy) * w + ix;
            }
          }
        }
        values.data[(plane * oh + oy) * ow + ox] = best;
        indices.data[(plane * oh + oy) * ow + ox] = static_cast<double>(at);
      }
    }
  }
}
} // namespace

Tensor maxPool2dIndices(const Tensor &x, const Pool2dParams &p,
                        bool columnMajor) {
  Tensor values, indices;
  maxPoolWindows(x, p, columnMajor, values, indices);
  return indices;
}

Tensor maxPool2d(const Tensor &x, const Pool2dParams &p) {
  Tensor values, indices;
  maxPoolWindows(x, p, false, values, indices);
  return values;
}

// PyTorch's avg_pool2d: the window is cut at the end of the (user) padding
// before its size is taken as the count_include_pad divisor, then cut at the
// input for the sum and for the other divisor.
Tensor avgPool2d(const Tensor &x, const Pool2dParams &p) {
  require(x.shape.size() == 4, "avg_pool2d rank");
  require(p.dilations[0] == 1 && p.dilations[1] == 1,
          "avg_pool2d has no dilation");
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t oh = pooledSize(h, p.kernel[0], p.strides[0], p.pads[0],
                                p.pads[2], 1, p.ceilMode);
  const int64_t ow = pooledSize(w, p.kernel[1], p.strides[1], p.pads[1],
                                p.pads[3], 1, p.ceilMode);
  Tensor y({n, c, oh, ow});
  for (int64_t plane = 0; plane < n * c; ++plane) {
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        int64_t y0 = oy * p.strides[0] - p.pads[0];
        int64_t x0 = ox * p.strides[1] - p.pads[1];
        int64_t y1 = std::min(y0 + p.kernel[0], h + p.pads[2]);
        int64_t x1 = std::min(x0 + p.kernel[1], w + p.pads[3]);
        const int64_t paddedCount = (y1 - y0) * (x1 - x0);
        y0 = std::max<int64_t>(y0, 0);
        x0 = std::max<int64_t>(x0, 0);
        y1 = std::min(y1, h);
        x1 = std::min(x1, w);
        double sum = 0;
        for (int64_t iy = y0; iy < y1; ++iy) {
          for (int64_t ix = x0; ix < x1; ++ix) {
            sum += x.data[(plane * h + iy) * w + ix];
          }
        }
        const int64_t divisor =
            p.countIncludePad ? paddedCount : (y1 - y0) * (x1 - x0);
        require(divisor > 0, "avg_pool2d window entirely in padding");
        y.data[(plane * oh + oy) * ow + ox] = sum / divisor;
      }
    }
  }
  return y;
}

Tensor globalAvgPool(const Tensor &x) {
  require(x.shape.size() == 4, "global_avg_pool rank");
  const int64_t planes = x.shape[0] * x.shape[1];
  const int64_t area = x.shape[2] * x.shape[3];
  Tensor y({x.shape[0], x.shape[1], 1, 1});
  for (int64_t plane = 0; plane < planes; ++plane) {
    double sum = 0;
    for (int64_t i = 0; i < area; ++i) {
      sum += x.data[plane * area + i];
    }
    y.data[plane] = sum / area;
  }
  return y;
}

Tensor batchNorm(const Tensor &x, const Tensor &weight, const Tensor &bias,
                 const Tensor &runningMean, const Tensor &runningVar,
                 double epsilon, bool training) {
  require(x.shape.size() >= 2, "batch_norm rank");
  int64_t n, c, inner;
  splitAt(x.shape, 1, n, c, inner);
  Tensor y(x.shape);
  for (int64_t ch = 0; ch < c; ++ch) {
    double mean = runningMean.data[ch];
    double var = runningVar.data[ch];
    if (training) {
      double sum = 0;
      for (int64_t b = 0; b < n; ++b) {
        for (int64_t i = 0; i < inner; ++i) {
          sum += x.data[(b * c + ch) * inner + i];
        }
      }
      mean = sum / (n * inner);
      double squares = 0;
      for (int64_t b = 0; b < n; ++b) {
        for (int64_t i = 0; i < inner; ++i) {
          const double d = x.data[(b * c + ch) * inner + i] - mean;
          squares += d * d;
        }
      }
      var = squares / (n * inner); // biased, as PyTorch normalizes
    }
    const double scale = weight.data[ch] / std::sqrt(var + epsilon);
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t at = (b * c + ch) * inner + i;
        y.data[at] = (x.data[at] - mean) * scale + bias.data[ch];
      }
    }
  }
  return y;
}

Tensor layerNorm(const Tensor &x, const Tensor *weight, const Tensor *bias,
                 int64_t axis, double epsilon) {
  require(axis >= 0 && axis < static_cast<int64_t>(x.shape.size()),
          "layer_norm axis");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) {
    outer *= x.shape[d];
  }
  for (size_t d = axis; d < x.shape.size(); ++d) {
    inner *= x.shape[d];
  }
  Tensor y(x.shape);
  for (int64_t o = 0; o < outer; ++o) {
    const double *row = &x.data[o * inner];
    double sum = 0;
    for (int64_t i = 0; i < inner; ++i) {
      sum += row[i];
    }
    const double mean = sum / inner;
    double squares = 0;
    for (int64_t i = 0; i < inner; ++i) {
      squares += (row[i] - mean) * (row[i] - mean);
    }
    const double invStd = 1.0 / std::sqrt(squares / inner + epsilon);
    for (int64_t i = 0; i < inner; ++i) {
      double v = (row[i] - mean) * invStd;
      if (weight) {
        v *= weight->data[i];
      }
      if (bias) {
        v += bias->data[i];
      }
      y.data[o * inner + i] = v;
    }
  }
  return y;
}

Tensor binary(BinaryOp op, const Tensor &a, const Tensor &b) {
  const size_t rank = std::max(a.shape.size(), b.shape.size());
  // Shapes right-aligned and padded with 1s to the common rank.
  std::vector<int64_t> sa(rank, 1), sb(rank, 1), so(rank);
  std::copy(a.shape.begin(), a.shape.end(), sa.end() - a.shape.size());
  std::copy(b.shape.begin(), b.shape.end(), sb.end() - b.shape.size());
  for (size_t d = 0; d < rank; ++d) {
    require(sa[d] == sb[d] || sa[d] == 1 || sb[d] == 1, "not broadcastable");
    so[d] = std::max(sa[d], sb[d]);
  }
  Tensor y(so);
  std::vector<int64_t> index(rank, 0);
  for (int64_t flat = 0; flat < y.numElements(); ++flat) {
    // Decompose flat into the output index, then re-linearize per operand
    // with broadcast dims pinned to 0.
    int64_t rest = flat;
    for (size_t d = rank; d-- > 0;) {
      index[d] = rest % so[d];
      rest /= so[d];
    }
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < rank; ++d) {
      ia = ia * sa[d] + (sa[d] == 1 ? 0 : index[d]);
      ib = ib * sb[d] + (sb[d] == 1 ? 0 : index[d]);
    }
    const double va = a.data[ia], vb = b.data[ib];
    switch (op) {
    case BinaryOp::Add:
      y.data[flat] = va + vb;
      break;
    case BinaryOp::Sub:
      y.data[flat] = va - vb;
      break;
    case BinaryOp::Mul:
      y.data[flat] = va * vb;
      break;
    case BinaryOp::Div:
      y.data[flat] = va / vb;
      break;
    case BinaryOp::Maximum:
      y.data[flat] = std::max(va, vb);
      break;
    case BinaryOp::Minimum:
      y.data[flat] = std::min(va, vb);
      break;
    case BinaryOp::Mod:
      y.data[flat] = va - vb * std::floor(va / vb);
      break;
    case BinaryOp::Fmod:
      y.data[flat] = std::fmod(va, vb);
      break;
    case BinaryOp::Less:
      y.data[flat] = va < vb;
      break;
    case BinaryOp::LessEqual:
      y.data[flat] = va <= vb;
      break;
    case BinaryOp::Greater:
      y.data[flat] = va > vb;
      break;
    case BinaryOp::GreaterEqual:
      y.data[flat] = va >= vb;
      break;
    case BinaryOp::Equal:
      y.data[flat] = va == vb;
      break;
    }
  }
  return y;
}

Tensor concat(const std::vector<Tensor> &xs, int64_t axis) {
  require(!xs.empty(), "concat of nothing");
  std::vector<int64_t> shape = xs[0].shape;
  int64_t outer, length, inner;
  splitAt(shape, axis, outer, length, inner);
  shape[axis] = 0;
  for (const Tensor &x : xs) {
    require(x.shape.size() == shape.size(), "concat rank");
    shape[axis] += x.shape[axis];
  }
  Tensor y(shape);
  int64_t offset = 0; // along axis, of the current input
  for (const Tensor &x : xs) {
    const int64_t len = x.shape[axis];
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t a = 0; a < len; ++a) {
        for (int64_t i = 0; i < inner; ++i) {
          y.data[(o * shape[axis] + offset + a) * inner + i] =
              x.data[(o * len + a) * inner + i];
        }
      }
    }
    offset += len;
  }
  return y;
}

// ---------------------------------------------------------------------------
// Activations
// ---------------------------------------------------------------------------

double activate(Activation op, double x, const ActivationParams &p) {
  constexpr double kSeluAlpha = 1.6732632423543772;
  constexpr double kSeluScale = 1.0507009873554805;
  constexpr double kPi = 3.14159265358979323846;
  switch (op) {
  case Activation::Step:
    return x > 0 ? 1.0 : 0.0;
  case Activation::Sigmoid:
    return 1.0 / (1.0 + std::exp(-x));
  case Activation::Tanh:
    return std::tanh(x);
  case Activation::Relu:
    return std::max(x, 0.0);
  case Activation::Relu6:
    return std::min(std::max(x, 0.0), 6.0);
  case Activation::LeakyRelu:
    return x >= 0 ? x : p.alpha * x;
  case Activation::Elu:
    return x > 0 ? x : p.alpha * (std::exp(x) - 1.0);
  case Activation::Selu:
    return kSeluScale * (x > 0 ? x : kSeluAlpha * (std::exp(x) - 1.0));
  case Activation::Silu:
    return x / (1.0 + std::exp(-x));
  case Activation::Mish:
    return x * std::tanh(x > 20 ? x : std::log1p(std::exp(x)));
  case Activation::GeluErf:
    return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  case Activation::GeluTanh:
    return 0.5 * x *
           (1.0 + std::tanh(std::sqrt(2.0 / kPi) * (x + 0.044715 * x * x * x)));
  case Activation::Softplus:
    return p.beta * x > p.threshold ? x
                                    : std::log1p(std::exp(p.beta * x)) / p.beta;
  case Activation::Sin:
    return std::sin(x);
  case Activation::Tan:
    return std::tan(x);
  case Activation::Sinh:
    return std::sinh(x);
  case Activation::Cosh:
    return std::cosh(x);
  case Activation::Asin:
    return std::asin(x);
  case Activation::Acos:
    return std::acos(x);
  case Activation::Atan:
    return std::atan(x);
  case Activation::Asinh:
    return std::asinh(x);
  case Activation::Acosh:
    return std::acosh(x);
  case Activation::Atanh:
    return std::atanh(x);
  case Activation::Softsign:
    return x / (1 + std::fabs(x));
  case Activation::Ceil:
    return std::ceil(x);
  case Activation::Floor:
    return std::floor(x);
  case Activation::Round: { // halves to even, whatever the rounding mode
    const double f = std::floor(x), d = x - f;
    return d < 0.5 ? f : d > 0.5 ? f + 1 : (std::fmod(f, 2) == 0 ? f : f + 1);
  }
  case Activation::Sign:
    return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
  case Activation::IsNan:
    return std::isnan(x) ? 1.0 : 0.0;
  case Activation::IsInf:
    return std::isinf(x) && (x > 0 ? p.detectPositive : p.detectNegative)
               ? 1.0
               : 0.0;
  case Activation::ThresholdedRelu:
    return x > p.alpha ? x : 0.0;
  case Activation::Shrink:
    return x < -p.lambd ? x + p.bias : x > p.lambd ? x - p.bias : 0.0;
  }
  throw std::invalid_argument("reference: unknown activation");
}

Tensor elementwise(Activation op, const Tensor &x,
                   const ActivationParams &params) {
  Tensor y(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i) {
    y.data[i] = activate(op, x.data[i], params);
  }
  return y;
}

Tensor prelu(const Tensor &x, const Tensor &slope) {
  require(slope.numElements() == 1 ||
              (x.shape.size() >= 2 && slope.numElements() == x.shape[1]),
          "prelu slope shape");
  int64_t outer = x.numElements(), channels = 1, inner = 1;
  if (x.shape.size() >= 2) {
    splitAt(x.shape, 1, outer, channels, inner);
  }
  Tensor y(x.shape);
  for (int64_t i = 0; i < x.numElements(); ++i) {
    const int64_t channel = (i / inner) % channels;
    const double s =
        slope.numElements() == 1 ? slope.data[0] : slope.data[channel];
    y.data[i] = x.data[i] >= 0 ? x.data[i] : s * x.data[i];
  }
  return y;
}

namespace {

Tensor softmaxImpl(const Tensor &x, int64_t axis, bool logarithm) {
  int64_t outer, length, inner;
  splitAt(x.shape, axis, outer, length, inner);
  Tensor y(x.shape);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t a) { return (o * length + a) * inner + i; };
      double top = -std::numeric_limits<double>::infinity();
      for (int64_t a = 0; a < length; ++a) {
        top = std::max(top, x.data[at(a)]);
      }
      double sum = 0;
      for (int64_t a = 0; a < length; ++a) {
        sum += std::exp(x.data[at(a)] - top);
      }
      for (int64_t a = 0; a < length; ++a) {
        const double shifted = x.data[at(a)] - top;
        y.data[at(a)] =
            logarithm ? shifted - std::log(sum) : std::exp(shifted) / sum;
      }
    }
  }
  return y;
}

void requireSameShape(const Tensor &a, const Tensor &b) {
  require(a.shape == b.shape, "loss operands differ in shape");
}

} // namespace

Tensor lrn(const Tensor &x, int64_t size, double alpha, double beta,
           double bias) {
  int64_t outer, channels, inner;
  splitAt(x.shape, 1, outer, channels, inner);
  const int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  Tensor y(x.shape);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t c) { return (o * channels + c) * inner + i; };
      for (int64_t c = 0; c < channels; ++c) {
        double squares = 0;
        for (int64_t j = std::max<int64_t>(0, c - lo);
             j <= std::min(channels - 1, c + hi); ++j) {
          squares += x.data[at(j)] * x.data[at(j)];
        }
        y.data[at(c)] =
            x.data[at(c)] / std::pow(bias + alpha / size * squares, beta);
      }
    }
  }
  return y;
}

namespace {

// One output coordinate of one axis: (input index, weight) pairs.
std::vector<std::pair<int64_t, double>>
resizeTaps(const ResizeSpec &spec, int64_t x, int64_t in, int64_t out,
           double scale) {
  double xo;
  const std::string &t = spec.transform;
  // The reference's output length: scale x in, not floored.
  double length = scale * double(in);
  (void)out;
  if (t == "align_corners") {
    xo = length == 1 ? 0.0 : double(x) * double(in - 1) / (length - 1);
  } else if (t == "asymmetric") {
    xo = double(x) / scale;
  } else if (t == "pytorch_half_pixel") {
    xo = length == 1 ? -0.5 : (double(x) + 0.5) / scale - 0.5;
  } else if (t == "tf_half_pixel_for_nn") {
    xo = (double(x) + 0.5) / scale;
  } else {
    xo = (double(x) + 0.5) / scale - 0.5;
  }
  double base = std::floor(xo);
  // The reference prefers the left pixel: an integral coordinate has
  // ratio 1 (between x - 1 and x).
  double ratio = xo == base ? 1.0 : xo - base;
  std::vector<double> coeffs;
  if (spec.mode == "nearest") {
    bool right;
    if (ratio == 1.0) {
      right = true;
    } else if (spec.nearest == "round_prefer_ceil") {
      right = ratio >= 0.5;
    } else if (spec.nearest == "floor") {
      right = false;
    } else if (spec.nearest == "ceil") {
      right = true;
    } else {
      right = ratio > 0.5;
    }
    coeffs = {right ? 0.0 : 1.0, right ? 1.0 : 0.0};
  } else if (spec.mode == "linear") {
    coeffs = {1 - ratio, ratio};
  } else {
    double a = spec.cubicA, r = ratio, q = 1 - ratio;
    coeffs = {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
              ((a + 2) * r - (a + 3)) * r * r + 1,
              ((a + 2) * q - (a + 3)) * q * q + 1,
              ((a * (q + 1) - 5 * a) * (q + 1) + 8 * a) * (q + 1) - 4 * a};
  }
  // The n indices of the input padded by n/2 (rounded up) edge copies
  // nearest to xo, ties to the smaller index, in order.
  int64_t n = static_cast<int64_t>(coeffs.size()), pad = (n + 1) / 2;
  std::vector<int64_t> order(in + 2 * pad);
  for (int64_t i = 0; i < in + 2 * pad; ++i) {
    order[i] = i;
  }
  double xp = xo + double(pad);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return std::fabs(xp - double(a)) < std::fabs(xp - double(b));
  });
  std::vector<int64_t> chosen(order.begin(), order.begin() + n);
  std::sort(chosen.begin(), chosen.end());
  if (spec.excludeOutside) {
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      int64_t idx = chosen[i] - pad;
      if (idx < 0 || idx >= in) {
        coeffs[i] = 0;
      }
      total += coeffs[i];
    }
    for (double &c : coeffs) {
      c /= total;
    }
  }
  std::vector<std::pair<int64_t, double>> taps;
  for (int64_t i = 0; i < n; ++i) {
    int64_t idx = std::clamp<int64_t>(chosen[i] - pad, 0, in - 1);
    taps.push_back({idx, coeffs[i]});
  }
  return taps;
}

} // namespace

Tensor resize(const Tensor &x, int64_t oh, int64_t ow,
              const ResizeSpec &spec) {
  size_t rank = x.shape.size();
  int64_t h = x.shape[rank - 2], w = x.shape[rank - 1];
  int64_t planes = x.numElements() / (h * w);
  std::vector<int64_t> shape = x.shape;
  shape[rank - 2] = oh;
  shape[rank - 1] = ow;
  Tensor y(shape);
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t i = 0; i < oh; ++i) {
      auto rows = resizeTaps(spec, i, h, oh, spec.scaleH);
      for (int64_t j = 0; j < ow; ++j) {
        auto cols = resizeTaps(spec, j, w, ow, spec.scaleW);
        double value = 0;
        for (const auto &[r, wr] : rows) {
          for (const auto &[c, wc] : cols) {
            value += wr * wc * x.data[(p * h + r) * w + c];
          }
        }
        y.data[(p * oh + i) * ow + j] = value;
      }
    }
  }
  return y;
}

Tensor argReduce(const Tensor &x, int64_t axis, bool max, bool keepdims,
                 bool last) {
  int64_t outer, length, inner;
  splitAt(x.shape, axis, outer, length, inner);
  std::vector<int64_t> shape = x.shape;
  if (keepdims) {
    shape[axis] = 1;
  } else {
    shape.erase(shape.begin() + axis);
  }
  Tensor y(shape);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = -1;
      for (int64_t k = 0; k < length; ++k) {
        double v = x.data[(o * length + k) * inner + i];
        if (best >= 0 && std::isnan(x.data[(o * length + best) * inner + i])) {
          break; // the first NaN stays
        }
        if (std::isnan(v)) {
          best = k;
          continue;
        }
        double b = best < 0 ? 0 : x.data[(o * length + best) * inner + i];
        bool better = best < 0 || (max ? (last ? v >= b : v > b)
                                       : (last ? v <= b : v < b));
        if (better) {
          best = k;
        }
      }
      y.data[o * inner + i] = static_cast<double>(best);
    }
  }
  return y;
}

double gridCoordinate(double pixel, int64_t size, bool alignCorners) {
  if (alignCorners) {
    return size > 1 ? pixel / double(size - 1) * 2 - 1 : 0;
  }
  return (2 * pixel + 1) / double(size) - 1;
}

Tensor gridSample(const Tensor &x, const Tensor &grid, const std::string &mode,
                  const std::string &padding, bool alignCorners) {
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t oh = grid.shape[1], ow = grid.shape[2];
  // Normalized [-1, 1] to a pixel coordinate along an axis of `size`.
  auto unnormalize = [&](double g, int64_t size) {
    return alignCorners ? (g + 1) / 2 * double(size - 1)
                        : ((g + 1) * double(size) - 1) / 2;
  };
  // Reflected into [low, high] (twice-values as PyTorch's
  // reflect_coordinates), by repeated folding.
  auto reflect = [](double v, double low, double high) {
    if (low == high) {
      return 0.0;
    }
    while (v < low || v > high) {
      v = v < low ? 2 * low - v : 2 * high - v;
    }
    return v;
  };
  auto pad = [&](double v, int64_t size) {
    if (padding == "zeros") {
      return v;
    }
    if (padding == "reflection") {
      v = alignCorners ? reflect(v, 0, double(size - 1))
                       : reflect(v, -0.5, double(size) - 0.5);
    }
    return std::min(std::max(v, 0.0), double(size - 1));
  };
  Tensor y({n, c, oh, ow});
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      auto pixel = [&](int64_t ix, int64_t iy) {
        if (ix < 0 || ix >= w || iy < 0 || iy >= h) {
          return 0.0;
        }
        return x.data[((b * c + ch) * h + iy) * w + ix];
      };
      for (int64_t i = 0; i < oh; ++i) {
        for (int64_t j = 0; j < ow; ++j) {
          const double *g = &grid.data[((b * oh + i) * ow + j) * 2];
          double fx = unnormalize(g[0], w), fy = unnormalize(g[1], h);
          double value = 0;
          if (mode == "bicubic") {
            double x0 = std::floor(fx), y0 = std::floor(fy);
            auto weights = [](double t) {
              const double a = -0.75;
              auto k = [&](double d) {
                d = std::abs(d);
                return d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1
                              : ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
              };
              return std::array<double, 4>{k(1 + t), k(t), k(1 - t), k(2 - t)};
            };
            auto wx = weights(fx - x0), wy = weights(fy - y0);
            for (int q = 0; q < 4; ++q) {
              for (int p = 0; p < 4; ++p) {
                auto ix = static_cast<int64_t>(pad(x0 - 1 + p, w));
                auto iy = static_cast<int64_t>(pad(y0 - 1 + q, h));
                value += wx[p] * wy[q] * pixel(ix, iy);
              }
            }
          } else {
            fx = pad(fx, w);
            fy = pad(fy, h);
            if (mode == "nearest") {
              value = pixel(static_cast<int64_t>(std::nearbyint(fx)),
                            static_cast<int64_t>(std::nearbyint(fy)));
            } else {
              double x0 = std::floor(fx), y0 = std::floor(fy);
              double tx = fx - x0, ty = fy - y0;
              auto ix = static_cast<int64_t>(x0), iy = static_cast<int64_t>(y0);
              value = (1 - tx) * (1 - ty) * pixel(ix, iy) +
                      tx * (1 - ty) * pixel(ix + 1, iy) +
                      (1 - tx) * ty * pixel(ix, iy + 1) +
                      tx * ty * pixel(ix + 1, iy + 1);
            }
          }
          y.data[((b * c + ch) * oh + i) * ow + j] = value;
        }
      }
    }
  }
  return y;
}

Tensor topK(const Tensor &x, int64_t axis, int64_t k, bool largest) {
  int64_t outer, length, inner;
  splitAt(x.shape, axis, outer, length, inner);
  std::vector<int64_t> shape = x.shape;
  shape[axis] = k;
  Tensor y(shape);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto value = [&](int64_t j) { return x.data[(o * length + j) * inner + i]; };
      std::vector<int64_t> order(length);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        double va = value(a), vb = value(b);
        if (std::isnan(va) || std::isnan(vb)) {
          // NaN above every number.
          return largest ? std::isnan(va) && !std::isnan(vb)
                         : std::isnan(vb) && !std::isnan(va);
        }
        return largest ? va > vb : va < vb;
      });
      for (int64_t r = 0; r < k; ++r) {
        y.data[(o * k + r) * inner + i] = static_cast<double>(order[r]);
      }
    }
  }
  return y;
}

Tensor where(const Tensor &cond, const Tensor &a, const Tensor &b) {
  // Each operand stretched to the common shape by adding zeros of it
  // (x + 0 is x for finite x and for infinities).
  const Tensor shape = binary(BinaryOp::Add,
                              binary(BinaryOp::Add, cond, a), b);
  const Tensor zeros(shape.shape);
  const Tensor c = binary(BinaryOp::Add, cond, zeros);
  const Tensor x = binary(BinaryOp::Add, a, zeros);
  const Tensor y = binary(BinaryOp::Add, b, zeros);
  Tensor out(shape.shape);
  for (size_t i = 0; i < out.data.size(); ++i) {
    out.data[i] = !(c.data[i] == 0) ? x.data[i] : y.data[i];
  }
  return out;
}

Tensor gather(const Tensor &x, const Tensor &indices, int64_t axis) {
  int64_t outer, rows, inner;
  splitAt(x.shape, axis, outer, rows, inner);
  std::vector<int64_t> shape(x.shape.begin(), x.shape.begin() + axis);
  shape.insert(shape.end(), indices.shape.begin(), indices.shape.end());
  shape.insert(shape.end(), x.shape.begin() + axis + 1, x.shape.end());
  Tensor y(shape);
  const int64_t count = static_cast<int64_t>(indices.data.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < count; ++k) {
      int64_t row = static_cast<int64_t>(indices.data[k]);
      row = row < 0 ? row + rows : row;
      for (int64_t i = 0; i < inner; ++i) {
        y.data[(o * count + k) * inner + i] = x.data[(o * rows + row) * inner + i];
      }
    }
  }
  return y;
}

Tensor gatherElements(const Tensor &x, const Tensor &indices, int64_t axis) {
  const size_t rank = x.shape.size();
  Tensor y(indices.shape);
  std::vector<int64_t> at(rank, 0);
  for (size_t k = 0; k < indices.data.size(); ++k) {
    // k's coordinates in the indices, then x's flat position.
    int64_t rest = static_cast<int64_t>(k);
    for (size_t d = rank; d-- > 0;) {
      at[d] = rest % indices.shape[d];
      rest /= indices.shape[d];
    }
    int64_t row = static_cast<int64_t>(indices.data[k]);
    at[axis] = row < 0 ? row + x.shape[axis] : row;
    int64_t flat = 0;
    for (size_t d = 0; d < rank; ++d) {
      flat = flat * x.shape[d] + at[d];
    }
    y.data[k] = x.data[flat];
  }
  return y;
}

Tensor softmax(const Tensor &x, int64_t axis) {
  return softmaxImpl(x, axis, false);
}

Tensor logSoftmax(const Tensor &x, int64_t axis) {
  return softmaxImpl(x, axis, true);
}

// ---------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------

double mse(const Tensor &pred, const Tensor &target) {
  requireSameShape(pred, target);
  double sum = 0;
  for (size_t i = 0; i < pred.data.size(); ++i) {
    const double d = pred.data[i] - target.data[i];
    sum += d * d;
  }
  return sum / pred.data.size();
}

double mae(const Tensor &pred, const Tensor &target) {
  requireSameShape(pred, target);
  double sum = 0;
  for (size_t i = 0; i < pred.data.size(); ++i) {
    sum += std::abs(pred.data[i] - target.data[i]);
  }
  return sum / pred.data.size();
}

double huber(const Tensor &pred, const Tensor &target, double delta) {
  requireSameShape(pred, target);
  double sum = 0;
  for (size_t i = 0; i < pred.data.size(); ++i) {
    const double d = std::abs(pred.data[i] - target.data[i]);
    sum += d < delta ? 0.5 * d * d : delta * (d - 0.5 * delta);
  }
  return sum / pred.data.size();
}

double bce(const Tensor &prob, const Tensor &target) {
  requireSameShape(prob, target);
  // PyTorch clamps each log at -100 so that p = 0 or 1 stays finite.
  auto clampedLog = [](double v) { return std::max(std::log(v), -100.0); };
  double sum = 0;
  for (size_t i = 0; i < prob.data.size(); ++i) {
    const double p = prob.data[i], t = target.data[i];
    sum += -(t * clampedLog(p) + (1.0 - t) * clampedLog(1.0 - p));
  }
  return sum / prob.data.size();
}

double bceLogits(const Tensor &logits, const Tensor &target) {
  requireSameShape(logits, target);
  double sum = 0;
  for (size_t i = 0; i < logits.data.size(); ++i) {
    const double z = logits.data[i], t = target.data[i];
    sum += std::max(z, 0.0) - z * t + std::log1p(std::exp(-std::abs(z)));
  }
  return sum / logits.data.size();
}

double cce(const Tensor &logits, const Tensor &target) {
  requireSameShape(logits, target);
  require(logits.shape.size() == 2, "cce rank");
  const Tensor logProb = logSoftmax(logits, 1);
  double sum = 0;
  for (size_t i = 0; i < logits.data.size(); ++i) {
    sum -= target.data[i] * logProb.data[i];
  }
  return sum / logits.shape[0];
}

double sparseCce(const Tensor &logits, const std::vector<int32_t> &labels) {
  require(logits.shape.size() == 2 &&
              static_cast<int64_t>(labels.size()) == logits.shape[0],
          "sparse_cce shapes");
  const int64_t n = logits.shape[0], c = logits.shape[1];
  const Tensor logProb = logSoftmax(logits, 1);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= c) {
      throw std::out_of_range("reference: sparse_cce label out of range");
    }
    sum -= logProb.data[i * c + labels[i]];
  }
  return sum / n;
}

double hinge(const Tensor &pred, const Tensor &target) {
  requireSameShape(pred, target);
  double sum = 0;
  for (size_t i = 0; i < pred.data.size(); ++i) {
    sum += std::max(0.0, 1.0 - pred.data[i] * target.data[i]);
  }
  return sum / pred.data.size();
}

Tensor nllLoss(const Tensor &input, const Tensor &target, const Tensor *weight,
               const std::string &reduction, const int64_t *ignore) {
  const int64_t n = input.shape[0], c = input.shape[1];
  const int64_t inner = input.numElements() / (n * c);
  require(target.numElements() == n * inner, "nll_loss target shape");
  Tensor losses(target.shape);
  double total = 0, weights = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t s = 0; s < inner; ++s) {
      const int64_t t = static_cast<int64_t>(target.data[i * inner + s]);
      if (ignore && t == *ignore) {
        continue;
      }
      require(t >= 0 && t < c, "nll_loss label out of range");
      const double w = weight ? weight->data[t] : 1.0;
      const double l = -w * input.data[(i * c + t) * inner + s];
      losses.data[i * inner + s] = l;
      total += l;
      weights += w;
    }
  }
  if (reduction == "none") {
    return losses;
  }
  return Tensor({}, {reduction == "sum" ? total : total / weights});
}

} // namespace kiln::reference
