// The GPU API a Halide target string names, for the code that manages
// device memory without Halide's compiler (the runtime's sessions, the AOT
// bundles' generated C).
#ifndef KILN_SUPPORT_GPUAPI_H
#define KILN_SUPPORT_GPUAPI_H

#include <string>

namespace kiln::support {

// "opencl" or "cuda" when a feature of `target` ("host-opencl",
// "x86-64-linux-avx2-cuda-cuda_capability_86") names it, else "".
inline std::string gpuApiOf(const std::string &target) {
  std::string api;
  size_t start = 0;
  while (start <= target.size()) {
    size_t end = target.find('-', start);
    std::string feature = target.substr(
        start, end == std::string::npos ? std::string::npos : end - start);
    if (feature == "opencl" || feature == "cuda") {
      api = feature;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return api;
}

} // namespace kiln::support

#endif // KILN_SUPPORT_GPUAPI_H
