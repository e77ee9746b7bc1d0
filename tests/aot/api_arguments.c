/* Every entry point of a `kiln compile --train` library refuses bad
 * arguments (NULL model, inputs, outputs, state or input; misaligned arena
 * or state) with KILN_AOT_ERROR_ARGUMENT and a message naming the problem,
 * and still works after each refusal; close(NULL) is a no-op. Built and
 * run by train.sh against the same library as train.c. */
#include "mlp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

static void expect(int status, int want, const char *call,
                   const char *message) {
  const char *got = want == KILN_AOT_OK ? "" : mlp_error_message();
  if (status != want || !got || !strstr(got, message)) {
    fprintf(stderr, "FAIL: %s -> %d (want %d), message '%s' (want '%s')\n",
            call, status, want, got ? got : "(null)", message);
    ++failures;
  } else {
    printf("ok: %s -> %d %s\n", call, status, got);
  }
}

/* One zeroed buffer per tensor (labels 0 are valid classes). */
static void buffers(const kiln_aot_tensor *tensors, int count, void **out) {
  int i;
  for (i = 0; i < count; ++i) {
    out[i] = calloc(1, tensors[i].bytes);
  }
}

int main(void) {
  mlp_model *model = NULL;
  void *in[MLP_NUM_INPUTS], *out[MLP_NUM_OUTPUTS];
  void *tin[MLP_TRAIN_NUM_INPUTS], *tout[MLP_TRAIN_NUM_OUTPUTS];
  const void *inputs[MLP_NUM_INPUTS], *train[MLP_TRAIN_NUM_INPUTS];
  uint8_t *arena, *tarena, *state;
  int i;

  expect(mlp_open(NULL, NULL), KILN_AOT_ERROR_ARGUMENT, "open(NULL)",
         "model is NULL");
  mlp_close(NULL);
  if (mlp_open(&model, NULL) != KILN_AOT_OK) {
    fprintf(stderr, "FAIL: open: %s\n", mlp_error_message());
    return 1;
  }
  buffers(mlp_inputs, MLP_NUM_INPUTS, in);
  buffers(mlp_outputs, MLP_NUM_OUTPUTS, out);
  buffers(mlp_train_inputs, MLP_TRAIN_NUM_INPUTS, tin);
  buffers(mlp_train_outputs, MLP_TRAIN_NUM_OUTPUTS, tout);
  for (i = 0; i < MLP_NUM_INPUTS; ++i) {
    inputs[i] = in[i];
  }
  for (i = 0; i < MLP_TRAIN_NUM_INPUTS; ++i) {
    train[i] = tin[i];
  }
  arena = aligned_alloc(KILN_AOT_ALIGNMENT,
                        MLP_ARENA_BYTES + KILN_AOT_ALIGNMENT);
  tarena = aligned_alloc(KILN_AOT_ALIGNMENT,
                         MLP_TRAIN_ARENA_BYTES + KILN_AOT_ALIGNMENT);
  state = aligned_alloc(KILN_AOT_ALIGNMENT,
                        MLP_STATE_BYTES + KILN_AOT_ALIGNMENT);

  /* run */
  expect(mlp_run(NULL, inputs, out, arena), KILN_AOT_ERROR_ARGUMENT,
         "run(NULL model)", "NULL model");
  expect(mlp_run(model, NULL, out, arena), KILN_AOT_ERROR_ARGUMENT,
         "run(NULL inputs)", "NULL model, inputs, outputs");
  expect(mlp_run(model, inputs, NULL, arena), KILN_AOT_ERROR_ARGUMENT,
         "run(NULL outputs)", "NULL model, inputs, outputs");
  inputs[0] = NULL;
  expect(mlp_run(model, inputs, out, arena), KILN_AOT_ERROR_ARGUMENT,
         "run(input 0 NULL)", "input 0 is NULL");
  inputs[0] = in[0];
  expect(mlp_run(model, inputs, out, arena + 4), KILN_AOT_ERROR_ARGUMENT,
         "run(misaligned arena)", "arena is not 64-byte aligned");
  expect(mlp_run(model, inputs, out, arena), KILN_AOT_OK, "run", "");
  expect(mlp_run(model, inputs, out, NULL), KILN_AOT_OK, "run(own arena)",
         "");

  /* state_init */
  expect(mlp_state_init(NULL, state), KILN_AOT_ERROR_ARGUMENT,
         "state_init(NULL model)", "NULL model or state");
  expect(mlp_state_init(model, NULL), KILN_AOT_ERROR_ARGUMENT,
         "state_init(NULL state)", "NULL model or state");
  expect(mlp_state_init(model, state), KILN_AOT_OK, "state_init", "");

  /* train_step */
  expect(mlp_train_step(NULL, state, train, tout, tarena),
         KILN_AOT_ERROR_ARGUMENT, "train_step(NULL model)", "NULL model");
  expect(mlp_train_step(model, NULL, train, tout, tarena),
         KILN_AOT_ERROR_ARGUMENT, "train_step(NULL state)", "or state");
  expect(mlp_train_step(model, state, NULL, tout, tarena),
         KILN_AOT_ERROR_ARGUMENT, "train_step(NULL inputs)", "NULL model");
  expect(mlp_train_step(model, state, train, NULL, tarena),
         KILN_AOT_ERROR_ARGUMENT, "train_step(NULL outputs)", "NULL model");
  expect(mlp_train_step(model, state + 4, train, tout, tarena),
         KILN_AOT_ERROR_ARGUMENT, "train_step(misaligned state)",
         "state is not 64-byte aligned");
  train[MLP_TRAIN_NUM_INPUTS - 1] = NULL;
  expect(mlp_train_step(model, state, train, tout, tarena),
         KILN_AOT_ERROR_ARGUMENT, "train_step(last input NULL)", "is NULL");
  train[MLP_TRAIN_NUM_INPUTS - 1] = tin[MLP_TRAIN_NUM_INPUTS - 1];
  expect(mlp_train_step(model, state, train, tout, tarena + 8),
         KILN_AOT_ERROR_ARGUMENT, "train_step(misaligned arena)",
         "arena is not 64-byte aligned");
  expect(mlp_train_step(model, state, train, tout, tarena), KILN_AOT_OK,
         "train_step", "");

  /* run_state */
  expect(mlp_run_state(model, NULL, inputs, out, arena),
         KILN_AOT_ERROR_ARGUMENT, "run_state(NULL state)", "or state");
  expect(mlp_run_state(model, state + 16, inputs, out, arena),
         KILN_AOT_ERROR_ARGUMENT, "run_state(misaligned state)",
         "state is not 64-byte aligned");
  expect(mlp_run_state(model, state, inputs, out, arena), KILN_AOT_OK,
         "run_state", "");

  /* The type-erased descriptor forwards the same checks. */
  expect(mlp_library.open(NULL, NULL), KILN_AOT_ERROR_ARGUMENT,
         "library.open(NULL)", "model is NULL");
  expect(mlp_library.run(NULL, inputs, out, arena), KILN_AOT_ERROR_ARGUMENT,
         "library.run(NULL model)", "NULL model");
  mlp_library.close(NULL);

  mlp_close(model);
  for (i = 0; i < MLP_NUM_INPUTS; ++i) {
    free(in[i]);
  }
  for (i = 0; i < MLP_NUM_OUTPUTS; ++i) {
    free(out[i]);
  }
  for (i = 0; i < MLP_TRAIN_NUM_INPUTS; ++i) {
    free(tin[i]);
  }
  for (i = 0; i < MLP_TRAIN_NUM_OUTPUTS; ++i) {
    free(tout[i]);
  }
  free(arena);
  free(tarena);
  free(state);
  if (failures) {
    fprintf(stderr, "%d argument checks failed\n", failures);
    return 1;
  }
  printf("all argument checks passed\n");
  return 0;
}
