// Reference implementations of kiln's training ops (docs/training-ops.md),
// written from that page and PyTorch's documented semantics, not from kiln
// code: plain loops, double precision, obviously right rather than fast.
//
// The gradient ops are checked against central finite differences of the
// forward references (numericGrad), so this file holds only what cannot be
// checked that way: the generic tensor ops, the forward-with-statistics
// ops, the dropout hash, the optimizer updates, the closed-form derivatives
// the kink tests and self-tests need, and the finite-difference helper.
#ifndef KILN_TESTS_UNIT_REFERENCE_REFERENCEGRAD_H
#define KILN_TESTS_UNIT_REFERENCE_REFERENCEGRAD_H

#include "reference/Reference.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kiln::reference {

// ---------------------------------------------------------------------------
// Generic tensor ops
// ---------------------------------------------------------------------------

// c = op(a)·op(b), op = transpose when the flag is set; a, b rank 2.
Tensor matmul(const Tensor &a, const Tensor &b, bool transposeA,
              bool transposeB);
// Sum over `axes` (any order, no duplicates); removed dims are dropped
// unless keepdims (then size 1).
Tensor reduceSum(const Tensor &x, const std::vector<int64_t> &axes,
                 bool keepdims);
// The same with another combiner: kind "sum", "max", "min" or "prod".
Tensor reduce(const Tensor &x, const std::vector<int64_t> &axes,
              bool keepdims, const std::string &kind);
// x[..., start:start+size, ...] along `axis`.
Tensor slice(const Tensor &x, int64_t axis, int64_t start, int64_t size);
Tensor scale(const Tensor &x, double factor);
// l1·Σ|w| + l2·Σw² (Keras convention).
double regularizer(const Tensor &w, double l1, double l2);
// dloss·(l1·sign(w) + 2·l2·w), sign(0) = 0.
Tensor regularizerGrad(const Tensor &w, double dloss, double l1, double l2);

// ---------------------------------------------------------------------------
// Training-mode layers
// ---------------------------------------------------------------------------

struct BatchNormTrainResult {
  Tensor y;    // like x
  Tensor mean; // [C]
  Tensor var;  // [C], biased
};
// x [N,C,...]: statistics over every dim but 1.
BatchNormTrainResult batchNormTrain(const Tensor &x, const Tensor &weight,
                                    const Tensor &bias, double epsilon);

struct BatchNormGradResult {
  Tensor dx, dweight, dbias;
};
// Closed form of batch_norm_train's vector-Jacobian product (mean and var
// depend on x), from the batch statistics `mean`/`var` of x. Used by the
// self-tests, which check it against hand values and finite differences.
BatchNormGradResult batchNormGrad(const Tensor &x, const Tensor &dy,
                                  const Tensor &weight, const Tensor &mean,
                                  const Tensor &var, double epsilon);

// max_pool2d's gradient by PyTorch's tie rule: each window's dy goes to its
// first maximum in row-major window order (padding never wins); windows
// that overlap add up. `params.pads` are the explicit (canonical) pads and
// dy's shape gives the output size, so ceilMode is not used.
Tensor maxPool2dGrad(const Tensor &x, const Tensor &dy,
                     const Pool2dParams &params);

// PyTorch: new = (1 - m)·old + m·batch, the batch variance made unbiased
// (var·count/(count - 1)). Returns {new_mean, new_var}.
std::vector<Tensor> runningStatsUpdate(const Tensor &runningMean,
                                       const Tensor &runningVar,
                                       const Tensor &mean, const Tensor &var,
                                       double momentum, int64_t count);

// The dropout mask hash of docs/training-ops.md, bit for bit: element
// `index` (row-major), seed and salt cast to uint32.
uint32_t dropoutHash(uint32_t index, int32_t seed, int64_t salt);
bool dropoutKeep(uint32_t index, int32_t seed, int64_t salt, double rate);
// y = keep ? x/(1 - rate) : 0.
Tensor dropoutTrain(const Tensor &x, int32_t seed, int64_t salt, double rate);
// kiln.augment of x [N,C,H,W] (docs/training-ops.md), in double: per image
// u_k = (dropoutHash(8n + k, seed, 1000003) >> 8) / 2^24; flip_h when
// u_0 < 1/2, flip_v when u_1 < 1/2, shift (2u_2 - 1, 2u_3 - 1) * shift,
// angle (2u_4 - 1) * rotate degrees, zoom 1 + (2u_5 - 1) * zoom; output
// pixel p samples x bilinearly (zero outside) at the centre +
// flip(R(-angle) (p - centre - shift) / zoom); plus noise * N(0,1) from
// Box-Muller on the hashes of 2e and 2e + 1 (salt 2000003) of the
// row-major element index e.
struct AugmentParams {
  bool flipH = false, flipV = false;
  double shift = 0, rotate = 0, zoom = 0, noise = 0;
};
Tensor augment(const Tensor &x, int32_t seed, const AugmentParams &p);

// f'(x) of an activation with PyTorch's values at kinks (the table in
// docs/training-ops.md): relu 0 at x <= 0, relu6 1 only inside (0, 6),
// leaky_relu alpha at x <= 0, elu alpha·e^x at x <= 0, selu likewise,
// softplus sigmoid(beta·x) where beta·x <= threshold else 1, step 0.
double activationDerivative(Activation op, double x,
                            const ActivationParams &params = {});

// ---------------------------------------------------------------------------
// Optimizer update (PyTorch's rules, docs/training-ops.md)
// ---------------------------------------------------------------------------

struct OptimizerConfig {
  std::string kind; // sgd momentum nesterov adagrad adadelta rmsprop adam
  double momentum = 0.9, dampening = 0;  // momentum, nesterov
  double lrDecay = 0;                    // adagrad
  double epsilon = 1e-10;                // adagrad 1e-10, adadelta
                                         // 1e-6, rmsprop/adam 1e-8
  double rho = 0.9;                      // adadelta
  double alpha = 0.99;                   // rmsprop
  double beta1 = 0.9, beta2 = 0.999;     // adam
  double weightDecay = 0, clipValue = 0; // every kind; clip 0 = off
};
// Slot count of a kind: 0 sgd, 1 momentum/nesterov/adagrad/rmsprop,
// 2 adadelta/adam.
int optimizerSlots(const std::string &kind);
// One update, step t >= 1. Returns {new param, new slots...}.
std::vector<Tensor> optimizerUpdate(const OptimizerConfig &config,
                                    const Tensor &param, const Tensor &grad,
                                    double lr, double step,
                                    const std::vector<Tensor> &slots);

// ---------------------------------------------------------------------------
// Finite differences
// ---------------------------------------------------------------------------

// Central differences of a scalar function: element i of the result is
// (f(x + s e_i) - f(x - s e_i)) / 2s with s = h·max(1, |x_i|) (the step
// scales with the value so that it stays meaningful for large inputs).
Tensor numericGrad(std::function<double(const Tensor &)> f, Tensor x, double h);
// Σ a ⊙ b (shapes must match): f(x) = dot(forward(x), dy).
double dot(const Tensor &a, const Tensor &b);

} // namespace kiln::reference

#endif // KILN_TESTS_UNIT_REFERENCE_REFERENCEGRAD_H
