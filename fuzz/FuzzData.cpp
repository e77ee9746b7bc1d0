// libFuzzer harness: training data, IDX (plain or gzipped) and CSV.
#include "FuzzSupport.h"
#include "kiln/runtime/Trainer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The first byte picks the reader, so one corpus covers both.
  if (size == 0) {
    return 0;
  }
  bool csv = data[0] & 1;
  std::string path =
      kiln::fuzz::inputFile(data + 1, size - 1, csv ? ".csv" : ".idx");
  kiln::fuzz::expectCleanRefusal([&] {
    if (csv) {
      (void)kiln::runtime::loadData(path);
    } else {
      (void)kiln::runtime::readIdx(path);
    }
  });
  return 0;
}
