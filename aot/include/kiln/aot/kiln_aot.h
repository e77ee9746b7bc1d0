/* kiln ahead-of-time libraries: the C types every generated header shares.
 *
 * `kiln compile MODEL -o DIR --name N` writes DIR/N.h, which starts with a
 * copy of this file (guarded, so several models' headers can be included in
 * one translation unit) and then declares N's entry points. Plain C99; no
 * Halide, kiln or C++ type appears here. See docs/aot.md.
 */
#ifndef KILN_AOT_COMMON_H
#define KILN_AOT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Arena, state and weights blocks are aligned to this many bytes. */
#define KILN_AOT_ALIGNMENT 64
#define KILN_AOT_MAX_RANK 8

enum kiln_aot_dtype { KILN_AOT_F32 = 0, KILN_AOT_I32 = 1 };

/* Return codes of every entry point (0 = success); the message of the last
 * failure on the calling thread is the library's N_error_message(). */
enum kiln_aot_status {
  KILN_AOT_OK = 0,
  KILN_AOT_ERROR_ARGUMENT = 1, /* NULL pointer, misaligned arena, ... */
  KILN_AOT_ERROR_MEMORY = 2,   /* allocation failed */
  KILN_AOT_ERROR_WEIGHTS = 3,  /* weights file missing, short or foreign */
  KILN_AOT_ERROR_KERNEL = 4    /* a kernel returned a Halide error */
};

/* A tensor the caller passes or receives: dense, row-major (outermost
 * dimension first), `bytes` = product(shape) * 4. */
typedef struct kiln_aot_tensor {
  const char *name;
  int32_t dtype; /* enum kiln_aot_dtype */
  int32_t rank;
  int64_t shape[KILN_AOT_MAX_RANK];
  size_t bytes;
  int64_t classes; /* i32 label inputs: random labels in [0, classes); 0 unset */
  size_t offset;   /* state tensors: byte offset in the state block; else 0 */
} kiln_aot_tensor;

/* One compiled model behind type-erased pointers, for generic drivers such
 * as the executable `kiln compile --exe` links. */
typedef struct kiln_aot_library {
  const char *name;
  const char *target;       /* Halide target the kernels were compiled for */
  const char *weights_file; /* "N.weights" with --weights file, else NULL */
  int num_inputs;
  const kiln_aot_tensor *inputs;
  int num_outputs;
  const kiln_aot_tensor *outputs;
  size_t arena_bytes;
  int (*open)(void **model, const char *weights_path);
  void (*close)(void *model);
  int (*run)(const void *model, const void *const *inputs,
             void *const *outputs, void *arena);
  const char *(*error_message)(void);
  /* Training (--train builds; else 0 and NULL): N_state_init and
   * N_train_step with their sizes and tensors. */
  size_t state_bytes;
  size_t train_arena_bytes;
  int num_train_inputs;
  const kiln_aot_tensor *train_inputs;
  int num_train_outputs;
  const kiln_aot_tensor *train_outputs;
  int (*state_init)(const void *model, void *state);
  int (*train_step)(const void *model, void *state, const void *const *inputs,
                    void *const *outputs, void *arena);
} kiln_aot_library;

#ifdef __cplusplus
}
#endif

#endif /* KILN_AOT_COMMON_H */
