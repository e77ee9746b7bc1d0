//===- Cpu.h - what the CPU this process runs on can do ---------*- C++ -*-===//
//
// Questions about the host CPU that Halide's host target does not answer,
// read with cpuid. Only choices for a `host` target ask them: a target
// named in full may run on another machine.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SUPPORT_CPU_H
#define KILN_SUPPORT_CPU_H

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <cstring>
#endif

namespace kiln::support {

// Whether the CPU runs 512-bit vector arithmetic as two 256-bit halves:
// AMD family 19h (Zen 4; Zen 3, the same family, has no AVX-512, so a
// caller asks only where it targets 16 float lanes).
inline bool cpuHalvesWideVectors() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) {
    return false;
  }
  char vendor[12];
  std::memcpy(vendor, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  if (std::memcmp(vendor, "AuthenticAMD", 12) != 0 ||
      !__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
    return false;
  }
  unsigned family = (eax >> 8) & 0xf;
  if (family == 0xf) {
    family += (eax >> 20) & 0xff;
  }
  return family == 0x19;
#else
  return false;
#endif
}

// Whether the CPU has AVX-VNNI (VEX-encoded integer dot products: cpuid
// leaf 7, subleaf 1, EAX bit 4).
inline bool cpuHasAvxVnni() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) &&
         (eax & (1u << 4)) != 0;
#else
  return false;
#endif
}

} // namespace kiln::support

#endif // KILN_SUPPORT_CPU_H
