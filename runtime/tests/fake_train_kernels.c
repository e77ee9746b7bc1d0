/* Stand-in train/eval kernels for the trainer tests: a one-weight linear
 * model pred = w * x with loss mean((pred - y)^2), trained by SGD with
 * momentum in C. The "seed" input scales the gradient slightly (as dropout
 * would change it) and "step" is recorded, so the tests see whether the
 * trainer feeds both deterministically. */
#include <HalideRuntime.h>

#include <signal.h>

static long long elements(const struct halide_buffer_t *b) {
  long long count = 1;
  for (int d = 0; d < b->dimensions; ++d) {
    count *= b->dim[d].extent;
  }
  return count;
}

/* Raise SIGINT while running this (1-based) step; 0 = never. The trainer
 * tests set it through dlsym. */
int kiln_test_interrupt_at_step = 0;

/* args: x [B,1], target [B,1], lr [], step [], seed [] (i32), w [1],
 * velocity [1] | loss [], pred [B,1], w [1] and velocity [1] updated in
 * place, last_step [1]. */
int kiln_test_linear_train_argv(void **args) {
  struct halide_buffer_t **b = (struct halide_buffer_t **)args;
  const float *x = (const float *)b[0]->host, *y = (const float *)b[1]->host;
  float lr = *(const float *)b[2]->host;
  float step = *(const float *)b[3]->host;
  int seed = *(const int *)b[4]->host;
  float *w = (float *)b[5]->host, *velocity = (float *)b[6]->host;
  float *loss = (float *)b[7]->host, *pred = (float *)b[8]->host;
  float *lastStep = (float *)b[9]->host;
  long long n = elements(b[0]);
  if (n != elements(b[1]) || n != elements(b[8]) ||
      b[4]->type.code != halide_type_int) {
    return -2;
  }
  float sum = 0, gradient = 0;
  for (long long i = 0; i < n; ++i) {
    pred[i] = w[0] * x[i];
    float error = pred[i] - y[i];
    sum += error * error;
    gradient += 2 * error * x[i];
  }
  *loss = sum / n;
  gradient /= n;
  gradient *= 1.0f + 0.1f * ((float)(seed % 1000) / 1000.0f - 0.5f);
  velocity[0] = 0.5f * velocity[0] + gradient;
  w[0] -= lr * velocity[0];
  lastStep[0] = step;
  if (kiln_test_interrupt_at_step > 0 &&
      (int)step == kiln_test_interrupt_at_step) {
    raise(SIGINT);
  }
  return 0;
}

/* args: x [B,1], target [B,1], w [1] | loss [], pred [B,1]. */
int kiln_test_linear_eval_argv(void **args) {
  struct halide_buffer_t **b = (struct halide_buffer_t **)args;
  const float *x = (const float *)b[0]->host, *y = (const float *)b[1]->host;
  const float *w = (const float *)b[2]->host;
  float *loss = (float *)b[3]->host, *pred = (float *)b[4]->host;
  long long n = elements(b[0]);
  float sum = 0;
  for (long long i = 0; i < n; ++i) {
    pred[i] = w[0] * x[i];
    sum += (pred[i] - y[i]) * (pred[i] - y[i]);
  }
  *loss = sum / n;
  return 0;
}

/* A classifier that does not learn: logits = x ([B,C]), loss = 1, for the
 * accuracy bookkeeping. args: x [B,C], labels [B] (i32) | loss [],
 * logits [B,C]. */
int kiln_test_classify_argv(void **args) {
  struct halide_buffer_t **b = (struct halide_buffer_t **)args;
  const float *x = (const float *)b[0]->host;
  float *loss = (float *)b[2]->host, *logits = (float *)b[3]->host;
  if (b[1]->type.code != halide_type_int) {
    return -2;
  }
  for (long long i = 0; i < elements(b[0]); ++i) {
    logits[i] = x[i];
  }
  *loss = 1;
  return 0;
}
