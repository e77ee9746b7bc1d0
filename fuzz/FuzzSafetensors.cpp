// libFuzzer harness: safetensors weights and checkpoints, and the checkpoint
// metadata that kiln train --load reads.
#include "FuzzSupport.h"
#include "kiln/runtime/Safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = kiln::fuzz::inputFile(data, size, ".safetensors");
  kiln::fuzz::expectCleanRefusal(
      [&] { (void)kiln::runtime::readSafetensors(path); });
  kiln::fuzz::expectCleanRefusal(
      [&] { (void)kiln::runtime::readSafetensorsMetadata(path); });
  return 0;
}
