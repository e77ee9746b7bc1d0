//===- cnn_builder.cpp - build the example models with the C++ frontend ---===//
//
// Builds examples/cnn.mlir with the Sequential API and, with `--resnet`,
// examples/resnet_block.mlir with the functional API, and prints the module.
//
//   kiln-example-cnn-builder [--resnet] [OUTPUT.mlir]
//
// kiln-frontend-test includes this file (without main) and checks that both
// models print exactly like the hand-written files.
//
//===----------------------------------------------------------------------===//
#include "kiln/frontend/Builder.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <iostream>

namespace kiln::examples {

using frontend::Conv2DOptions;
using frontend::GraphBuilder;
using frontend::Sequential;
using frontend::Tensor;

// (conv3x3 - batch norm - relu - maxpool2) x 2 -> flatten -> dense 128 ->
// relu -> dropout -> dense 10, for 28x28 grayscale images.
inline mlir::OwningOpRef<mlir::ModuleOp> buildCnn(mlir::MLIRContext &ctx) {
  GraphBuilder builder(ctx);
  Tensor image = builder.input("image", {1, 1, 28, 28});
  Conv2DOptions same = Conv2DOptions().withPadding(1);
  Sequential net(builder, image);
  // One line per block, as one would draw the network.
  // clang-format off
  net.conv2d(16, {3, 3}, same).batchNorm().relu().maxPool2d({2, 2})
      .conv2d(32, {3, 3}, same).batchNorm().relu().maxPool2d({2, 2})
      .flatten()
      .dense(128).relu().dropout(0.25)
      .dense(10);
  // clang-format on
  builder.output("logits", net.output());
  return builder.finish();
}

// ResNet basic block without projection: conv-BN-ReLU-conv-BN + x -> ReLU.
inline Tensor basicBlock(GraphBuilder &b, Tensor x, const std::string &name) {
  int64_t channels = x.dim(1);
  Conv2DOptions conv =
      Conv2DOptions().withPadding(1).withBias(false).withWeightInit(
          "he_normal");
  Tensor y = b.conv2d(x, channels, {3, 3}, name + ".conv1", conv);
  y = b.relu(b.batchNorm(y, name + ".bn1"));
  y = b.conv2d(y, channels, {3, 3}, name + ".conv2", conv);
  y = b.batchNorm(y, name + ".bn2");
  return b.relu(b.add(y, x));
}

// A basic block followed by a classifier head.
inline mlir::OwningOpRef<mlir::ModuleOp>
buildResnetBlock(mlir::MLIRContext &ctx) {
  GraphBuilder b(ctx);
  Tensor features = b.input("features", {1, 16, 16, 16});
  Tensor y = basicBlock(b, features, "block");
  y = b.reshape(b.globalAvgPool(y), {0, -1});
  b.output("logits", b.dense(y, 10, "fc"));
  return b.finish();
}

} // namespace kiln::examples

#ifndef KILN_EXAMPLE_NO_MAIN
int main(int argc, char **argv) {
  bool resnet = false;
  const char *outputPath = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--resnet") == 0) {
      resnet = true;
    } else if (!outputPath && argv[i][0] != '-') {
      outputPath = argv[i];
    } else {
      std::cerr << "usage: " << argv[0] << " [--resnet] [OUTPUT.mlir]\n";
      return 2;
    }
  }
  mlir::MLIRContext ctx;
  try {
    mlir::OwningOpRef<mlir::ModuleOp> module =
        resnet ? kiln::examples::buildResnetBlock(ctx)
               : kiln::examples::buildCnn(ctx);
    if (!outputPath) {
      module->print(llvm::outs());
      return 0;
    }
    std::error_code error;
    llvm::raw_fd_ostream file(outputPath, error, llvm::sys::fs::OF_Text);
    if (error) {
      std::cerr << "cannot write " << outputPath << ": " << error.message()
                << "\n";
      return 1;
    }
    module->print(file);
  } catch (const kiln::frontend::Error &error) {
    std::cerr << "error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
#endif
