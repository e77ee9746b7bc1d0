//===- BuilderTest.cpp - tests of the C++ graph builder -------------------===//
#include "kiln/frontend/Builder.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

// The example models, without their main(): the test checks exactly the code
// the example runs.
#define KILN_EXAMPLE_NO_MAIN
#include "cnn_builder.cpp"

using namespace kiln::frontend;

namespace {

std::string print(mlir::ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os);
  return text;
}

// The hand-written example, parsed and printed: an independent reference.
std::string printReference(mlir::MLIRContext &ctx, const std::string &file) {
  // Loads the dialects the parser needs.
  GraphBuilder loader(ctx);
  std::string path = std::string(KILN_EXAMPLES_DIR) + "/" + file;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(path, mlir::ParserConfig(&ctx));
  EXPECT_TRUE(module) << "cannot parse " << path;
  return module ? print(*module) : "";
}

// Runs `fn`, expects it to throw Error, and returns the message.
template <typename Fn> std::string errorOf(Fn &&fn) {
  try {
    fn();
  } catch (const Error &error) {
    return error.what();
  }
  ADD_FAILURE() << "expected kiln::frontend::Error";
  return "";
}

TEST(BuilderTest, SequentialCnnMatchesExample) {
  mlir::MLIRContext ctx;
  auto module = kiln::examples::buildCnn(ctx);
  EXPECT_EQ(print(*module), printReference(ctx, "cnn.mlir"));
}

TEST(BuilderTest, FunctionalResnetBlockMatchesExample) {
  mlir::MLIRContext ctx;
  auto module = kiln::examples::buildResnetBlock(ctx);
  EXPECT_EQ(print(*module), printReference(ctx, "resnet_block.mlir"));
}

TEST(BuilderTest, SequentialMlpMatchesExample) {
  mlir::MLIRContext ctx;
  GraphBuilder b(ctx);
  Sequential net(b, b.input("image", {1, 1, 28, 28}));
  net.flatten().dense(256).relu().dense(128).relu().dense(10);
  b.output("logits", net.output());
  EXPECT_EQ(print(*b.finish()), printReference(ctx, "mlp.mlir"));
}

TEST(BuilderTest, DenseWithWrongInputFeaturesNamesTheShapes) {
  mlir::MLIRContext ctx;
  GraphBuilder b(ctx);
  Tensor x = b.input("x", {2, 10});
  Tensor w = b.param("w", {5, 8}, "torch_default");
  std::string message = errorOf([&] { b.dense(x, w, std::nullopt); });
  EXPECT_NE(message.find("kiln.dense"), std::string::npos) << message;
  EXPECT_NE(message.find("tensor<2x10xf32>"), std::string::npos) << message;
  EXPECT_NE(message.find("tensor<5x8xf32>"), std::string::npos) << message;
}

TEST(BuilderTest, BroadcastErrorNamesTheShapes) {
  mlir::MLIRContext ctx;
  GraphBuilder b(ctx);
  Tensor lhs = b.input("a", {2, 3});
  Tensor rhs = b.input("b", {4});
  std::string message = errorOf([&] { b.add(lhs, rhs); });
  EXPECT_NE(message.find("tensor<2x3xf32>"), std::string::npos) << message;
  EXPECT_NE(message.find("tensor<4xf32>"), std::string::npos) << message;
}

TEST(BuilderTest, LayerOnWrongRankNamesTheShape) {
  mlir::MLIRContext ctx;
  GraphBuilder b(ctx);
  Tensor x = b.input("x", {2, 10});
  std::string message = errorOf([&] { b.conv2d(x, 4, {3, 3}, "conv"); });
  EXPECT_NE(message.find("tensor<2x10xf32>"), std::string::npos) << message;
}

TEST(BuilderTest, FailedLayerLeavesTheGraphUnchanged) {
  mlir::MLIRContext ctx;
  GraphBuilder b(ctx);
  Tensor x = b.input("x", {1, 1, 8, 8});
  std::string message = errorOf([&] { b.conv2d(x, 4, {9, 9}, "conv"); });
  EXPECT_NE(message.find("does not fit"), std::string::npos) << message;
  // The failed call's parameters are gone, so the name is free again.
  Tensor y = b.conv2d(x, 4, {3, 3}, "conv");
  EXPECT_EQ(y.shape(), llvm::ArrayRef<int64_t>({1, 4, 6, 6}));
  b.output("y", y);
  std::string text = print(*b.finish());
  EXPECT_EQ(text.find("9x9"), std::string::npos) << text;
}

TEST(BuilderTest, DuplicateParamNameThrows) {
  mlir::MLIRContext ctx;
  GraphBuilder b(ctx);
  Tensor x = b.input("x", {2, 4});
  Tensor y = b.dense(x, 4, "fc");
  std::string message = errorOf([&] { b.dense(y, 3, "fc"); });
  EXPECT_NE(message.find("'fc.weight'"), std::string::npos) << message;
  message = errorOf([&] { b.param("fc.bias", {4}); });
  EXPECT_NE(message.find("'fc.bias'"), std::string::npos) << message;
}

TEST(BuilderTest, InvalidAttributesThrowAtTheCall) {
  mlir::MLIRContext ctx;
  GraphBuilder b(ctx);
  Tensor x = b.input("x", {2, 4});
  EXPECT_NE(errorOf([&] { b.dropout(x, 1.5); }).find("rate"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { b.gelu(x, "fast"); }).find("approximate"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { b.softmax(x, 2); }).find("axis 2"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { b.param("p", {3}, "uniform"); }).find("uniform"),
            std::string::npos);
}

TEST(BuilderTest, FunctionalBranchesAndConcatVerify) {
  mlir::MLIRContext ctx;
  GraphBuilder b(ctx);
  Tensor x = b.input("x", {1, 3, 8, 8});
  // Inception-style: a 1x1 branch, a 3x3 branch and a pooling branch.
  Tensor a = b.relu(b.conv2d(x, 4, {1, 1}, "branch1"));
  Tensor c = b.conv2d(x, 6, {3, 3}, "branch3",
                      Conv2DOptions().withAutoPad("same_upper"));
  c = b.relu(b.batchNorm(c, "branch3.bn"));
  Tensor p = b.maxPool2d(
      x, {3, 3}, PoolOptions().withStrides({1, 1}).withPads({1, 1, 1, 1}));
  Tensor y = b.concat({a, c, p}, 1);
  EXPECT_EQ(y.shape(), llvm::ArrayRef<int64_t>({1, 13, 8, 8}));
  b.output("y", y);
  b.output("pooled", b.globalAvgPool(y));
  auto module = b.finish();
  ASSERT_TRUE(module);
  EXPECT_TRUE(mlir::succeeded(mlir::verify(*module)));
  std::string text = print(*module);
  EXPECT_NE(text.find("kiln.concat"), std::string::npos) << text;
  EXPECT_NE(text.find("{kiln.name = \"pooled\"}"), std::string::npos) << text;
}

// padding_mode replicate / reflect: the input padded by kiln.pad (edge /
// reflect), the convolution unpadded, as ONNX exports PyTorch's Conv2d.
TEST(BuilderTest, ConvPaddingModes) {
  mlir::MLIRContext ctx;
  GraphBuilder b(ctx);
  Tensor x = b.input("x", {2, 3, 8, 8});
  Tensor r = b.conv2d(x, 4, {3, 3}, "rep",
                      Conv2DOptions().withPadding(1).withPaddingMode("replicate"));
  Tensor f = b.conv2d(x, 4, {3, 3}, "ref",
                      Conv2DOptions().withPads({2, 1, 0, 1}).withPaddingMode("reflect"));
  EXPECT_EQ(r.shape(), llvm::ArrayRef<int64_t>({2, 4, 8, 8}));
  EXPECT_EQ(f.shape(), llvm::ArrayRef<int64_t>({2, 4, 8, 8}));
  b.output("r", r);
  b.output("f", f);
  auto module = b.finish();
  ASSERT_TRUE(module);
  EXPECT_TRUE(mlir::succeeded(mlir::verify(*module)));
  std::string text = print(*module);
  EXPECT_NE(text.find("kiln.pad %arg0 {mode = \"edge\", pads = array<i64: 0, 0, "
                      "1, 1, 0, 0, 1, 1>}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kiln.pad %arg0 {mode = \"reflect\", pads = array<i64: 0, "
                      "0, 2, 1, 0, 0, 0, 1>}"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("pads = array<i64: 1, 1, 1, 1>"), std::string::npos)
      << text;

  GraphBuilder bad(ctx);
  Tensor y = bad.input("y", {1, 3, 4, 4});
  EXPECT_THROW(bad.conv2d(y, 2, {3, 3}, "c",
                          Conv2DOptions().withPadding(1).withPaddingMode("circular")),
               kiln::frontend::Error);
  // Reflection needs pads smaller than the image: the pad op's verifier
  // names the dim.
  EXPECT_THROW(bad.conv2d(y, 2, {3, 3}, "d",
                          Conv2DOptions().withPadding(4).withPaddingMode("reflect")),
               kiln::frontend::Error);
}

TEST(BuilderTest, LossesAndOtherLayers) {
  mlir::MLIRContext ctx;
  GraphBuilder b(ctx);
  Tensor x = b.input("x", {4, 6});
  Tensor labels = b.input("labels", {4}, DType::I32);
  Tensor h = b.layerNorm(b.dense(x, 8, "fc1"), "ln1");
  h = b.prelu(h, "act", 8);
  h = b.softplus(b.gelu(b.elu(b.leakyRelu(h, 0.2)), "tanh"), 2.0);
  Tensor logits = b.dense(b.dropout(h), 3, "fc2", /*bias=*/false);
  Tensor loss = b.sparseCce(logits, labels);
  EXPECT_EQ(loss.rank(), 0);
  Tensor target = b.softmax(b.input("target", {4, 3}));
  b.output("cce", b.cce(logits, target));
  b.output("sparse_cce", loss);
  b.output("mse", b.mse(b.sigmoid(logits), target));
  auto module = b.finish();
  std::string text = print(*module);
  EXPECT_NE(text.find("alpha = 2.000000e-01"), std::string::npos) << text;
  EXPECT_EQ(text.find("fc2.bias"), std::string::npos) << text;
  EXPECT_NE(text.find("kiln.param \"act.weight\" : tensor<8xf32>"),
            std::string::npos)
      << text;
}

TEST(BuilderTest, FinishNeedsAnOutputAndIsFinal) {
  mlir::MLIRContext ctx;
  GraphBuilder b(ctx);
  Tensor x = b.input("x", {2});
  EXPECT_NE(errorOf([&] { b.finish(); }).find("no outputs"), std::string::npos);
  b.output("y", b.relu(x));
  EXPECT_NE(errorOf([&] { b.output("y", x); }).find("duplicate output"),
            std::string::npos);
  EXPECT_TRUE(b.finish());
  EXPECT_NE(errorOf([&] { b.relu(x); }).find("already finished"),
            std::string::npos);
}

TEST(BuilderTest, ErrorIsARuntimeError) {
  mlir::MLIRContext ctx;
  GraphBuilder b(ctx);
  Tensor x = b.input("x", {2, 3});
  EXPECT_THROW(b.flatten(x, 5), std::runtime_error);
}

} // namespace
