/* --train: mlp_train_step on a caller-owned state. Ten SGD steps on one
 * sample lower the loss; two states trained alike stay bit-identical;
 * mlp_run_state sees the trained parameters while mlp_run keeps the
 * compiled ones. */
#include "mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float image[784];
static int32_t target = 3;
static int32_t seed = 7;
static float lr = 0.05f, step = 0;

static int train(const mlp_model *model, void *state, void *arena,
                 float *losses, int steps) {
  const void *inputs[MLP_TRAIN_NUM_INPUTS];
  void *outputs[MLP_TRAIN_NUM_OUTPUTS] = {0};
  float loss;
  int i;
  inputs[MLP_TRAIN_INPUT_IMAGE] = image;
  inputs[MLP_TRAIN_INPUT_TARGET] = &target;
  inputs[MLP_TRAIN_INPUT_SEED] = &seed;
  inputs[MLP_TRAIN_INPUT_LR] = &lr;
  inputs[MLP_TRAIN_INPUT_STEP] = &step;
  outputs[MLP_TRAIN_OUTPUT_LOSS] = &loss;
  for (i = 0; i < steps; ++i) {
    step = (float)(i + 1);
    if (mlp_train_step(model, state, inputs, outputs, arena) != 0) {
      fprintf(stderr, "error: %s\n", mlp_error_message());
      return 1;
    }
    losses[i] = loss;
  }
  return 0;
}

int main(void) {
  mlp_model *model;
  void *a = aligned_alloc(KILN_AOT_ALIGNMENT, MLP_STATE_BYTES);
  void *b = aligned_alloc(KILN_AOT_ALIGNMENT, MLP_STATE_BYTES);
  void *arena = aligned_alloc(KILN_AOT_ALIGNMENT, MLP_TRAIN_ARENA_BYTES);
  float la[10], lb[10], before[10], after[10], trained[10];
  const void *inputs[MLP_NUM_INPUTS];
  void *outputs[MLP_NUM_OUTPUTS];
  int i;
  for (i = 0; i < 784; ++i) {
    image[i] = (float)sin(i * 0.1);
  }
  if (mlp_open(&model, NULL) != 0 || mlp_state_init(model, a) != 0 ||
      mlp_state_init(model, b) != 0) {
    fprintf(stderr, "error: %s\n", mlp_error_message());
    return 1;
  }
  if (train(model, a, arena, la, 10) || train(model, b, NULL, lb, 10)) {
    return 1;
  }
  for (i = 0; i < 10; ++i) {
    printf("step %d: loss %.6f\n", i + 1, la[i]);
  }
  if (memcmp(la, lb, sizeof la) != 0 || memcmp(a, b, MLP_STATE_BYTES) != 0) {
    fprintf(stderr, "FAIL: two states trained alike differ\n");
    return 1;
  }
  if (!(la[9] < la[0]) || !isfinite(la[9])) {
    fprintf(stderr, "FAIL: loss did not decrease\n");
    return 1;
  }
  inputs[MLP_INPUT_IMAGE] = image;
  outputs[MLP_OUTPUT_LOGITS] = before;
  if (mlp_run(model, inputs, outputs, NULL) != 0) {
    return 1;
  }
  outputs[MLP_OUTPUT_LOGITS] = trained;
  if (mlp_run_state(model, a, inputs, outputs, NULL) != 0) {
    return 1;
  }
  mlp_state_init(model, b);
  outputs[MLP_OUTPUT_LOGITS] = after;
  if (mlp_run_state(model, b, inputs, outputs, NULL) != 0) {
    return 1;
  }
  if (memcmp(before, after, sizeof before) != 0 ||
      memcmp(before, trained, sizeof before) == 0 || trained[3] <= before[3]) {
    fprintf(stderr, "FAIL: run_state does not reflect the state\n");
    return 1;
  }
  printf("PASS: logit of class 3 %.4f -> %.4f\n", before[3], trained[3]);
  mlp_close(model);
  return 0;
}
