/* Stand-in kernels with the codegen ABI (int <name>_argv(void **args), each
 * arg a halide_buffer_t*, inputs then outputs), for the session tests. They
 * check the buffers the runtime builds and return non-zero on a mismatch. */
#include <HalideRuntime.h>

static int isDenseF32(const struct halide_buffer_t *b, int dimensions) {
  if (b->host == 0 || b->type.code != halide_type_float || b->type.bits != 32 ||
      b->type.lanes != 1 || b->dimensions != dimensions) {
    return 0;
  }
  int stride = 1;
  for (int d = 0; d < dimensions; ++d) {
    if (b->dim[d].min != 0 || b->dim[d].stride != stride) {
      return 0;
    }
    stride *= b->dim[d].extent;
  }
  return 1;
}

/* c = a + b, all 1-D f32 of the same extent. */
int kiln_test_add_argv(void **args) {
  struct halide_buffer_t *a = args[0], *b = args[1], *c = args[2];
  if (!isDenseF32(a, 1) || !isDenseF32(b, 1) || !isDenseF32(c, 1) ||
      a->dim[0].extent != b->dim[0].extent ||
      a->dim[0].extent != c->dim[0].extent) {
    return -2;
  }
  const float *x = (const float *)a->host, *y = (const float *)b->host;
  float *z = (float *)c->host;
  for (int i = 0; i < a->dim[0].extent; ++i) {
    z[i] = x[i] + y[i];
  }
  return 0;
}

/* s = sum(a): a 1-D f32, s a rank-0 f32 buffer. */
int kiln_test_sum_argv(void **args) {
  struct halide_buffer_t *a = args[0], *s = args[1];
  if (!isDenseF32(a, 1) || !isDenseF32(s, 0) || s->dim != 0) {
    return -2;
  }
  float total = 0;
  for (int i = 0; i < a->dim[0].extent; ++i) {
    total += ((const float *)a->host)[i];
  }
  *(float *)s->host = total;
  return 0;
}

/* Always fails, as a kernel whose Halide pipeline reports an error. */
int kiln_test_fail_argv(void **args) {
  (void)args;
  return -1;
}
