// The parallel loops of kernel libraries: kiln's own thread pool, installed
// as each library's halide_do_par_for (halide_set_custom_do_par_for) when
// the runtime loads it.
//
// Halide's default pool puts a worker to sleep on a condition variable as
// soon as it finds no work, so every kernel call (113 in MobileNetV2 at
// batch 8) has to wake it again, and on a virtual machine a sleeping vCPU
// is slow to wake. Here the workers spin for a while after each loop
// (kSpin), as ONNX Runtime's do, so that the next kernel's loop finds them
// awake; then they sleep. Measured on 2 vCPUs, alternating runs: the
// example CNN at batch 1 0.049-0.050 -> 0.031 ms; ResNet-18, MobileNetV2
// and the training steps level. (It does not cure the host's slow phases,
// in which 2 threads ran MobileNetV2 at batch 1 about as fast as one: 7.6
// ms with Halide's pool, 7.3 with this one, 8.2 on one thread.)
//
// One loop runs at a time: a loop started while another runs (a second
// session on another thread) or inside a task runs serially in its caller.
// The calling thread takes tasks too. The thread count is HL_NUM_THREADS,
// as for Halide's pool, else the hardware's.
#pragma once

#include <cstdint>

namespace kiln::runtime::detail {

// halide_do_par_for_t: runs f(user_context, i, closure) for i in [min, min
// + size); returns the first nonzero result, else 0.
int parallelFor(void *userContext, int (*f)(void *, int, uint8_t *), int min,
                int size, uint8_t *closure);

// Installs parallelFor in a dlopened kernel library (its copy of the
// Halide runtime); a library without halide_set_custom_do_par_for keeps
// its own pool.
void installParallelFor(void *library);

} // namespace kiln::runtime::detail
