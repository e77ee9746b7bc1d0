//===- Worker.cpp - kiln-codegen-worker ------------------------------------===//
//
// kiln-codegen-worker JOB.json: compiles one kernel object (or the Halide
// runtime) for compileKernels, in a process of its own that was exec'ed,
// never forked from a multithreaded one (kiln::codegen::runWorkerJob).
//
//===----------------------------------------------------------------------===//
#include "kiln/codegen/Codegen.h"

#include <cstdio>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr,
                 "usage: kiln-codegen-worker JOB.json (started by kiln)\n");
    return 2;
  }
  return kiln::codegen::runWorkerJob(argv[1]);
}
