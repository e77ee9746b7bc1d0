// libFuzzer harness: a model file (kiln dialect text, or ONNX when built
// with KILN_FUZZ_ONNX) through everything kiln does before codegen:
// parsing or import, verification, shape inference, the inference pipeline
// (and, for dialect text, the training pipeline), and lowering to a plan
// (compiler::lowerPlanJson). No kernel is compiled.
#include "FuzzSupport.h"
#include "kiln/compiler/Compiler.h"

#ifdef KILN_FUZZ_ONNX
static const char *const kSuffix = ".onnx";
#else
static const char *const kSuffix = ".mlir";
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = kiln::fuzz::inputFile(data, size, kSuffix);
  kiln::compiler::CompileOptions options;
  options.batch = 2;
  kiln::fuzz::expectCleanRefusal(
      [&] { (void)kiln::compiler::lowerPlanJson(path, options); });
#ifndef KILN_FUZZ_ONNX
  options.mode = kiln::compiler::Mode::Train;
  kiln::fuzz::expectCleanRefusal(
      [&] { (void)kiln::compiler::lowerPlanJson(path, options); });
#endif
  return 0;
}
