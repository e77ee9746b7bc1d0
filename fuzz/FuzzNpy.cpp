// libFuzzer harness: .npy inputs (kiln run --input, training data).
#include "FuzzSupport.h"
#include "kiln/runtime/Runtime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = kiln::fuzz::inputFile(data, size, ".npy");
  kiln::fuzz::expectCleanRefusal([&] { (void)kiln::runtime::readNpy(path); });
  return 0;
}
