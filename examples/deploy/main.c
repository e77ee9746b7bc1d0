/* Deploying a kiln model ahead of time: plain C, no kiln, no compiler.
 *
 *   kiln compile examples/mlp.mlir -o build/mlp-aot
 *   cc -std=c11 -O2 -I build/mlp-aot examples/deploy/main.c \
 *      build/mlp-aot/libmlp.a -lpthread -ldl -lm -o mlp-deploy
 *   ./mlp-deploy
 *
 * Classifies one synthetic 28x28 image with the MLP and prints the logits
 * and the winning class. The caller owns the arena (MLP_ARENA_BYTES, 64-byte
 * aligned): one per thread that runs the model at the same time.
 */
#include "mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  static float image[1 * 1 * 28 * 28];
  float logits[1 * 10];
  const void *inputs[MLP_NUM_INPUTS];
  void *outputs[MLP_NUM_OUTPUTS];
  mlp_model *model = NULL;
  void *arena;
  int i, best = 0;

  /* A bright diagonal stroke on a dark background. */
  for (i = 0; i < 28 * 28; ++i) {
    int row = i / 28, col = i % 28;
    image[i] = abs(row - col) < 3 ? 1.0f : 0.0f;
  }
  if (mlp_inputs[MLP_INPUT_IMAGE].bytes != sizeof image ||
      mlp_outputs[MLP_OUTPUT_LOGITS].bytes != sizeof logits) {
    fprintf(stderr, "error: mlp.h does not describe a 1x1x28x28 -> 1x10 model\n");
    return 1;
  }

  if (mlp_open(&model, NULL) != 0) {
    fprintf(stderr, "error: %s\n", mlp_error_message());
    return 1;
  }
  arena = aligned_alloc(KILN_AOT_ALIGNMENT, MLP_ARENA_BYTES);
  inputs[MLP_INPUT_IMAGE] = image;
  outputs[MLP_OUTPUT_LOGITS] = logits;
  if (!arena || mlp_run(model, inputs, outputs, arena) != 0) {
    fprintf(stderr, "error: %s\n", arena ? mlp_error_message() : "out of memory");
    free(arena);
    mlp_close(model);
    return 1;
  }

  /* A misaligned arena is refused with a message, not a crash. */
  if (mlp_run(model, inputs, outputs, (char *)arena + 1) == 0) {
    fprintf(stderr, "error: a misaligned arena was accepted\n");
    return 1;
  }
  printf("misaligned arena: %s\n", mlp_error_message());

  printf("mlp (%s), arena %u bytes\nlogits:", MLP_TARGET, (unsigned)MLP_ARENA_BYTES);
  for (i = 0; i < 10; ++i) {
    printf(" %.5f", logits[i]);
    if (logits[i] > logits[best]) {
      best = i;
    }
  }
  printf("\nclass: %d\n", best);
  free(arena);
  mlp_close(model);
  return isfinite(logits[best]) ? 0 : 1;
}
