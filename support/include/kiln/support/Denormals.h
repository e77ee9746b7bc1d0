//===- Denormals.h - flush denormal floats while kernels run -----*- C++ -*-===//
//
// Kernels run with denormal (subnormal) floats flushed to zero: results
// below 2^-126 become 0 (FTZ) and such inputs read as 0 (DAZ). On x86 an
// arithmetic op on a denormal costs about a hundred cycles; a training
// step whose Adam moments decay into that range ran its optimizer 2.9x
// slower (docs/runtime.md). TensorFlow runs its kernels the same way; no
// value a model's loss or output can show is affected.
//
// The mode is per thread (MXCSR). ScopedFlushDenormals sets it on the
// calling thread and restores the caller's mode on exit; Halide's worker
// threads are created by the first parallel kernel call, from a thread in
// this mode, and inherit it (pthread_create copies the floating-point
// environment).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SUPPORT_DENORMALS_H
#define KILN_SUPPORT_DENORMALS_H

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define KILN_HAVE_MXCSR 1
#endif

namespace kiln::support {

class ScopedFlushDenormals {
public:
#ifdef KILN_HAVE_MXCSR
  // MXCSR bit 15: flush to zero; bit 6: denormals are zero.
  static constexpr unsigned kFlushBits = 0x8040;
  ScopedFlushDenormals() : saved_(_mm_getcsr()) {
    _mm_setcsr(saved_ | kFlushBits);
  }
  ~ScopedFlushDenormals() { _mm_setcsr(saved_); }

private:
  unsigned saved_;
#else
  ScopedFlushDenormals() = default;
#endif

public:
  ScopedFlushDenormals(const ScopedFlushDenormals &) = delete;
  ScopedFlushDenormals &operator=(const ScopedFlushDenormals &) = delete;
};

} // namespace kiln::support

#endif // KILN_SUPPORT_DENORMALS_H
