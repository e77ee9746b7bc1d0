/* Two threads, each with its own arena, run one compiled model many times
 * concurrently; every result equals the single-threaded one bit for bit.
 * Built against any kiln AOT library: -DMODEL_HEADER='"mlp.h"'
 * -DMODEL_LIBRARY=mlp_library. */
#include MODEL_HEADER

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS 200

static const kiln_aot_library *lib = &MODEL_LIBRARY;
static void *model;
static const void **inputs;
static unsigned char **expected;

typedef struct {
  int id;
  int mismatches;
  int failures;
} worker;

static unsigned char **alloc_outputs(void) {
  unsigned char **outputs = calloc((size_t)lib->num_outputs, sizeof *outputs);
  int i;
  for (i = 0; i < lib->num_outputs; ++i) {
    outputs[i] = calloc(1, lib->outputs[i].bytes);
  }
  return outputs;
}

static void *work(void *arg) {
  worker *w = (worker *)arg;
  void *arena = aligned_alloc(KILN_AOT_ALIGNMENT, lib->arena_bytes);
  unsigned char **outputs = alloc_outputs();
  int r, i;
  for (r = 0; r < RUNS; ++r) {
    for (i = 0; i < lib->num_outputs; ++i) {
      memset(outputs[i], 0xff, lib->outputs[i].bytes);
    }
    if (lib->run(model, inputs, (void *const *)outputs, arena) != 0) {
      fprintf(stderr, "thread %d: %s\n", w->id, lib->error_message());
      ++w->failures;
      continue;
    }
    for (i = 0; i < lib->num_outputs; ++i) {
      if (memcmp(outputs[i], expected[i], lib->outputs[i].bytes) != 0) {
        ++w->mismatches;
      }
    }
  }
  free(arena);
  return NULL;
}

int main(void) {
  pthread_t threads[2];
  worker workers[2] = {{0, 0, 0}, {1, 0, 0}};
  int i, t;
  size_t k;
  if (lib->open(&model, lib->weights_file) != 0) {
    fprintf(stderr, "error: %s\n", lib->error_message());
    return 1;
  }
  inputs = calloc((size_t)lib->num_inputs, sizeof *inputs);
  for (i = 0; i < lib->num_inputs; ++i) {
    float *data = malloc(lib->inputs[i].bytes);
    for (k = 0; k < lib->inputs[i].bytes / 4; ++k) {
      data[k] = (float)((k * 7919 + (size_t)i) % 97) / 48.0f - 1.0f;
    }
    inputs[i] = data;
  }
  expected = alloc_outputs();
  if (lib->run(model, inputs, (void *const *)expected, NULL) != 0) {
    fprintf(stderr, "error: %s\n", lib->error_message());
    return 1;
  }
  for (t = 0; t < 2; ++t) {
    pthread_create(&threads[t], NULL, work, &workers[t]);
  }
  for (t = 0; t < 2; ++t) {
    pthread_join(threads[t], NULL);
  }
  for (t = 0; t < 2; ++t) {
    printf("thread %d: %d runs, %d failures, %d mismatches\n", t, RUNS,
           workers[t].failures, workers[t].mismatches);
    if (workers[t].failures || workers[t].mismatches) {
      return 1;
    }
  }
  lib->close(model);
  printf("PASS: %s, 2 threads x %d runs identical\n", lib->name, RUNS);
  return 0;
}
