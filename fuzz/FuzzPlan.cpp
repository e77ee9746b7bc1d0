// libFuzzer harness: plan.json, which lives in a cache directory that may
// be shared (readPlan checks every buffer against the arena and Halide's
// 32-bit limits).
#include "FuzzSupport.h"
#include "kiln/runtime/Plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = kiln::fuzz::inputFile(data, size, ".plan.json");
  kiln::fuzz::expectCleanRefusal([&] { (void)kiln::runtime::readPlan(path); });
  return 0;
}
