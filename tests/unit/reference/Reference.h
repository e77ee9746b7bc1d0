// Reference implementations of every kiln op that has a kernel, written from
// the definitions in docs/ops.md and PyTorch's documentation.
//
// Deliberately naive: plain loops over row-major tensors, every value and
// every accumulation in double precision, no Halide and no kiln code. The
// kernel tests compare the generated kernels against these functions, so
// they favour being obviously right over being fast.
#ifndef KILN_TESTS_UNIT_REFERENCE_REFERENCE_H
#define KILN_TESTS_UNIT_REFERENCE_REFERENCE_H

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::reference {

// A dense row-major tensor of doubles (rank 0 = one element).
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> data;

  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape);
  Tensor(std::vector<int64_t> shape, std::vector<double> data);
  int64_t numElements() const;
};

int64_t numElements(const std::vector<int64_t> &shape);

// ---------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------

// x [N,K], weight [O,K], bias [O] or null -> [N,O].
Tensor dense(const Tensor &x, const Tensor &weight, const Tensor *bias);

// A conv2d weight [O, C, KH, KW] packed by blocks of `block` output
// channels, as kiln-pack-weights does: [O/block, C, KH, KW, block], channel
// b * block + i at [b, c, ky, kx, i].
Tensor packConvWeight(const Tensor &weight, int64_t block);

struct Conv2dParams {
  std::array<int64_t, 2> strides{1, 1};
  std::array<int64_t, 4> pads{0, 0, 0, 0}; // top, left, bottom, right
  std::array<int64_t, 2> dilations{1, 1};
  int64_t groups = 1;
};
// x [N,C,H,W], weight [O,C/groups,KH,KW], bias [O] or null.
Tensor conv2d(const Tensor &x, const Tensor &weight, const Tensor *bias,
              const Conv2dParams &params);
// ONNX's ConvTranspose, scattered input by input: x [N,Ci,H,W], weight
// [Ci,Co/groups,KH,KW], y [N,Co,size[0],size[1]] with
// y[n, g*Cog + co, i*sh + ky*dh - padTop, j*sw + kx*dw - padLeft] +=
// x[n, g*Cig + ci, i, j] * weight[g*Cig + ci, co, ky, kx] (positions
// outside y dropped; `params.pads` bottom/right unused: `size` says it).
Tensor convTranspose2d(const Tensor &x, const Tensor &weight,
                       const Conv2dParams &params,
                       std::array<int64_t, 2> size);
// Winograd F(m x m, 3x3)'s filter transform of weight [O,C,3,3] (m = tile,
// 2 or 4, alpha = m + 2): [alpha^2,C,O] with [alpha b + a, c, o] =
// (G w[o,c] G^T)[b][a], G from Toom-Cook interpolation (Lavin and Gray,
// 2016): for m = 2 (points 0, 1, -1, infinity) the rows [1,0,0],
// [1/2,1/2,1/2], [1/2,-1/2,1/2], [0,0,1]; for m = 4 (points 0, 1, -1, 2,
// -1/2, infinity) [1,0,0], [-1/3,-1/3,-1/3], [1/3,-1/3,1/3],
// [1/15,2/15,4/15], [-16/15,8/15,-4/15], [0,0,1]. With inputGradient, the
// filter of the input gradient's convolution: [alpha^2,O,C] with
// [alpha b + a, o, c] = (G rot180(w[o,c]) G^T)[b][a].
Tensor winogradFilter(const Tensor &weight, bool inputGradient = false,
                      int tile = 2);
// kiln.winograd_filter's layout of such a filter [P, In, Out]: blocks of B
// output channels (its `block`, 8 or 16), [P, Out/B, In, B] with
// [p, k / B, i, k % B] = [p, i, k] (Out a multiple of B).
Tensor packWinogradFilter(const Tensor &filter, int64_t block = 8);
// kiln.pad in mode "edge" or "reflect" (numpy.pad's edge / reflect, as
// ONNX's Pad): pads [begin_0 .. begin_(r-1), end_0 .. end_(r-1)], >= 0.
Tensor pad(const Tensor &x, const std::vector<int64_t> &pads,
           const std::string &mode);

// Pools in PyTorch's terms: the padding the user asked for (may be
// asymmetric) plus ceil_mode; the functions work out the output size and,
// for avg_pool2d, the divisor themselves.
struct Pool2dParams {
  std::array<int64_t, 2> kernel{1, 1};
  std::array<int64_t, 2> strides{1, 1};
  std::array<int64_t, 4> pads{0, 0, 0, 0}; // top, left, bottom, right
  std::array<int64_t, 2> dilations{1, 1};  // max_pool2d only
  bool ceilMode = false;
  bool countIncludePad = true; // avg_pool2d only
};
// Output size of one spatial dim, PyTorch's rule (incl. ceil_mode: the last
// window must start inside the input or the left padding).
int64_t pooledSize(int64_t in, int64_t kernel, int64_t stride, int64_t padBegin,
                   int64_t padEnd, int64_t dilation, bool ceilMode);
Tensor maxPool2d(const Tensor &x, const Pool2dParams &params);
// ONNX MaxPool's Indices: each window's first maximum (row-major window
// order), flattened over x, rows innermost (or columns: columnMajor).
Tensor maxPool2dIndices(const Tensor &x, const Pool2dParams &params,
                        bool columnMajor);
Tensor avgPool2d(const Tensor &x, const Pool2dParams &params);
Tensor globalAvgPool(const Tensor &x); // [N,C,H,W] -> [N,C,1,1]

// x [N,C,...]; per-channel parameters [C]. training: normalize with the
// batch statistics (biased variance) instead of the running ones.
Tensor batchNorm(const Tensor &x, const Tensor &weight, const Tensor &bias,
                 const Tensor &runningMean, const Tensor &runningVar,
                 double epsilon, bool training);
// Normalizes over dims [axis, rank); weight/bias (shape x.shape[axis:]) may
// be null.
Tensor layerNorm(const Tensor &x, const Tensor *weight, const Tensor *bias,
                 int64_t axis, double epsilon);

enum class BinaryOp {
  Add, Sub, Mul, Div, Maximum, Minimum,
  Mod,  // a - b floor(a / b): the sign of b (Python's %)
  Fmod, // C's fmod: the sign of a
  Less, LessEqual, Greater, GreaterEqual, Equal // 1 or 0
};
// numpy broadcasting.
Tensor binary(BinaryOp op, const Tensor &a, const Tensor &b);
// ONNX Where: cond != 0 (NaN counts as true) ? a : b, numpy broadcasting.
Tensor where(const Tensor &cond, const Tensor &a, const Tensor &b);
Tensor concat(const std::vector<Tensor> &xs, int64_t axis);

// ---------------------------------------------------------------------------
// Activations
// ---------------------------------------------------------------------------

enum class Activation {
  Step,
  Sigmoid,
  Tanh,
  Relu,
  Relu6,
  LeakyRelu, // alpha
  Elu,       // alpha
  Selu,
  Silu,
  Mish, // x * tanh(softplus(x)), softplus with beta 1, threshold 20
  GeluErf,
  GeluTanh,
  Softplus, // beta, threshold
  Sin,
  Tan,
  Sinh,
  Cosh,
  Asin,
  Acos,
  Atan,
  Asinh,
  Acosh,
  Atanh,
  Softsign,
  Ceil,
  Floor,
  Round, // halves to even
  Sign,
  IsNan,           // 1 or 0
  IsInf,           // detectPositive, detectNegative; 1 or 0
  ThresholdedRelu, // alpha
  Shrink,          // bias, lambd
};
struct ActivationParams {
  double alpha = 0;
  double beta = 1;
  double threshold = 20;
  double bias = 0;
  double lambd = 0.5;
  bool detectPositive = true, detectNegative = true;
};
double activate(Activation op, double x, const ActivationParams &params = {});
Tensor elementwise(Activation op, const Tensor &x,
                   const ActivationParams &params = {});
// slope [C] (per channel, axis 1) or [1].
Tensor prelu(const Tensor &x, const Tensor &slope);
Tensor softmax(const Tensor &x, int64_t axis);
// ONNX LRN over axis 1: y[c] = x[c] / (bias + alpha/size * sum of x[j]^2
// for j in [c - (size-1)/2, c + size-1-(size-1)/2] within [0, C))^beta.
// ONNX Resize over the last two dims to [oh, ow], as ONNX's reference
// (onnx/backend/test/case/node/resize.py) computes it: per axis the
// source coordinate, the coefficients of its fraction, and the nearest
// indices of the edge-padded input.
struct ResizeSpec {
  std::string mode = "nearest", transform = "half_pixel",
              nearest = "round_prefer_floor";
  double scaleH = 1, scaleW = 1, cubicA = -0.75;
  bool excludeOutside = false;
};
Tensor resize(const Tensor &x, int64_t oh, int64_t ow, const ResizeSpec &spec);
// PyTorch's grid_sample (ONNX GridSample) of x [N, C, H, W] at grid
// [N, OH, OW, 2]: mode "bilinear", "nearest" or "bicubic"; padding
// "zeros", "border" or "reflection".
Tensor gridSample(const Tensor &x, const Tensor &grid, const std::string &mode,
                  const std::string &padding, bool alignCorners);
// The normalized grid coordinate of a pixel coordinate along an axis of
// `size` pixels (the inverse of grid_sample's unnormalization).
double gridCoordinate(double pixel, int64_t size, bool alignCorners);

Tensor lrn(const Tensor &x, int64_t size, double alpha, double beta,
           double bias);
// ONNX ArgMax (max) / ArgMin along axis: the first index of the extreme,
// or the last with `last`; the first NaN wins over any number (NumPy).
Tensor argReduce(const Tensor &x, int64_t axis, bool max, bool keepdims,
                 bool last);
// ONNX TopK's indices along axis: those of the k largest (smallest)
// elements by a stable sort (NaN above every number, as NumPy's sort;
// equal elements by index).
Tensor topK(const Tensor &x, int64_t axis, int64_t k, bool largest);
// ONNX Gather at run-time indices: x[:axis] + indices.shape + x[axis+1:],
// each index (negative: from the end) naming a slice of x along axis.
Tensor gather(const Tensor &x, const Tensor &indices, int64_t axis);
// ONNX GatherElements: y[i] = x[i with i[axis] = indices[i]] over the
// indices' positions (negative indices from the end).
Tensor gatherElements(const Tensor &x, const Tensor &indices, int64_t axis);
Tensor logSoftmax(const Tensor &x, int64_t axis);

// ---------------------------------------------------------------------------
// Losses (mean reduction)
// ---------------------------------------------------------------------------

double mse(const Tensor &pred, const Tensor &target);
double mae(const Tensor &pred, const Tensor &target);
double huber(const Tensor &pred, const Tensor &target, double delta);
double bce(const Tensor &prob, const Tensor &target);
double bceLogits(const Tensor &logits, const Tensor &target);
double cce(const Tensor &logits, const Tensor &target);
// Throws std::out_of_range for a label outside [0, C).
double sparseCce(const Tensor &logits, const std::vector<int32_t> &labels);
double hinge(const Tensor &pred, const Tensor &target);
// PyTorch's nll_loss: input [N,C,d...] (log-probabilities), target [N,d...]
// (labels as doubles), optional class weights [C], reduction "mean", "sum"
// or "none" (then shaped like target), labels equal to *ignore skipped.
Tensor nllLoss(const Tensor &input, const Tensor &target, const Tensor *weight,
               const std::string &reduction, const int64_t *ignore);

} // namespace kiln::reference

#endif // KILN_TESTS_UNIT_REFERENCE_REFERENCE_H
