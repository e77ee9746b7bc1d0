/* A GPU bundle checks integer labels on the host before they go to the
 * device (device code cannot fail): mlp_train_step with label 12 of 10
 * classes returns KILN_AOT_ERROR_ARGUMENT naming the input, the value and
 * the range, and a valid step still works afterwards. Built by gpu.sh
 * against a `--train --target host-opencl` library of examples/mlp.mlir. */
#include "mlp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  static float image[784];
  int32_t label = 12, seed = 7;
  float lr = 0.05f, step = 1.0f, loss = 0.0f;
  const void *inputs[MLP_TRAIN_NUM_INPUTS];
  void *outputs[MLP_TRAIN_NUM_OUTPUTS] = {0};
  mlp_model *model;
  void *state;
  int status;
  inputs[MLP_TRAIN_INPUT_IMAGE] = image;
  inputs[MLP_TRAIN_INPUT_TARGET] = &label;
  inputs[MLP_TRAIN_INPUT_SEED] = &seed;
  inputs[MLP_TRAIN_INPUT_LR] = &lr;
  inputs[MLP_TRAIN_INPUT_STEP] = &step;
  outputs[MLP_TRAIN_OUTPUT_LOSS] = &loss;
  if (mlp_open(&model, NULL) != 0) {
    fprintf(stderr, "FAIL: open: %s\n", mlp_error_message());
    return 1;
  }
  state = aligned_alloc(KILN_AOT_ALIGNMENT, MLP_STATE_BYTES);
  if (!state || mlp_state_init(model, state) != 0) {
    fprintf(stderr, "FAIL: state_init\n");
    return 1;
  }
  status = mlp_train_step(model, state, inputs, outputs, NULL);
  const char *want = "input 'target': label 12 at element 0 is outside [0, 10)";
  if (status != KILN_AOT_ERROR_ARGUMENT || !strstr(mlp_error_message(), want)) {
    fprintf(stderr, "FAIL: label 12 -> %d '%s' (want %d '%s')\n", status,
            mlp_error_message(), KILN_AOT_ERROR_ARGUMENT, want);
    return 1;
  }
  printf("ok: label 12 -> %d %s\n", status, mlp_error_message());
  label = 3;
  status = mlp_train_step(model, state, inputs, outputs, NULL);
  if (status != 0 || !(loss > 0.0f)) {
    fprintf(stderr, "FAIL: label 3 -> %d (%s), loss %g\n", status,
            mlp_error_message(), loss);
    return 1;
  }
  printf("ok: label 3 -> loss %g\n", loss);
  free(state);
  mlp_close(model);
  return 0;
}
