// kiln-fuse changes how kernels are grouped, never what they compute:
// fused and unfused compilations of the same model, with the same seeded
// weights and inputs, agree within 1e-5 relative (forward outputs and
// gradients), on the examples, the ResNet basic block and random models:
// element by element with Winograd F(2x2, 3x3), and relative to each
// output's largest magnitude with the default (F(4x4, 3x3) where it pays,
// whose own roundoff, about 1e-5 of the sums, differs between folded and
// unfolded batch norm weights; docs/codegen.md).
#include "ModelTestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

namespace rt = kiln::runtime;
namespace fs = std::filesystem;

namespace {

struct Run {
  std::map<std::string, rt::Tensor> outputs;
  int calls = 0;
};

// OnNchw: fused with every intermediate in NCHW (--layout nchw); the
// others use the default layout (nchw16c where kernels have a blocked
// form, docs/layout.md), so blocked and NCHW results are compared too.
// OnProjection: On with kiln-fuse's projection form on planes of every
// width (by default only under 40 columns).
enum class Fusion { Off, On, NoBatchNormFolding, OnNchw, OnProjection };

// The Winograd tile of a comparison: 2, or -1 for the pipelines' default.
int winogradTile = -1;

kiln::compiler::CompiledModel compile(const std::string &path,
                                      kiln::compiler::Mode mode, int64_t batch,
                                      Fusion fusion) {
  kiln::compiler::CompileOptions options;
  options.winogradTile = winogradTile;
  options.mode = mode;
  options.batch = batch;
  options.fusion = fusion != Fusion::Off;
  options.foldBatchNorm = fusion != Fusion::NoBatchNormFolding;
  options.fuseWideProjections = fusion == Fusion::OnProjection;
  options.layout = fusion == Fusion::OnNchw ? "nchw" : "nchw16c";
  options.training.loss = "mse";
  options.cacheDir = kiln::testing::cacheDir();
  return kiln::compiler::compileModel(path, options);
}

Run run(const std::string &path, kiln::compiler::Mode mode, int64_t batch,
        Fusion fusion) {
  auto compiled = compile(path, mode, batch, fusion);
  rt::SessionOptions sessionOptions;
  sessionOptions.seed = 5;
  rt::Session session = rt::Session::load(*compiled.plan, sessionOptions);
  session.prepare();
  session.fillMissingInputs(3);
  // A first run with the initial parameters: load-time kernels (the batch
  // norm folds) must run again after the statistics change below.
  session.run();
  // Non-trivial BatchNorm statistics: running_var near 1, mean near 0.
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  for (const rt::TensorInfo &param : session.parameters()) {
    bool var = param.name.find("running_var") != std::string::npos;
    bool mean = param.name.find("running_mean") != std::string::npos;
    if (var || mean) {
      rt::Tensor t(param.shape, param.dtype);
      for (int64_t i = 0; i < t.numElements(); ++i) {
        t.f32()[i] = var ? 1.0f + u(rng) : u(rng);
      }
      session.setParameter(param.name, t);
    }
  }
  session.run();
  Run result;
  result.calls = compiled.calls;
  for (const rt::TensorInfo &output : session.outputs()) {
    result.outputs[output.name] = session.output(output.name);
  }
  return result;
}

void expectSameResultsAtTile(const std::string &path,
                             kiln::compiler::Mode mode, int64_t batch,
                             bool elementwise) {
  Run unfused = run(path, mode, batch, Fusion::Off);
  std::vector<Fusion> variants = {Fusion::On};
  if (mode == kiln::compiler::Mode::Inference) {
    variants.push_back(Fusion::NoBatchNormFolding);
    variants.push_back(Fusion::OnNchw);
    variants.push_back(Fusion::OnProjection);
  }
  for (Fusion variant : variants) {
    SCOPED_TRACE(variant == Fusion::On             ? "fused"
                 : variant == Fusion::OnNchw       ? "fused, layout nchw"
                 : variant == Fusion::OnProjection ? "fused, projection form"
                                                   : "fused, BN not folded");
    Run fused = run(path, mode, batch, variant);
    EXPECT_LE(fused.calls, unfused.calls) << path;
    ASSERT_EQ(fused.outputs.size(), unfused.outputs.size());
    for (const auto &[name, expected] : unfused.outputs) {
      const rt::Tensor &actual = fused.outputs.at(name);
      ASSERT_EQ(actual.shape, expected.shape) << name;
      float largest = 1.0f;
      for (int64_t i = 0; i < expected.numElements(); ++i) {
        largest = std::max(largest, std::fabs(expected.f32()[i]));
      }
      for (int64_t i = 0; i < expected.numElements(); ++i) {
        float want = expected.f32()[i];
        float scale = elementwise ? std::max(1.0f, std::fabs(want)) : largest;
        ASSERT_NEAR(actual.f32()[i], want, 1e-5 * scale)
            << path << ": output " << name << " element " << i;
      }
    }
  }
}

// Fused (with and, for inference, without batch norm folding) against
// unfused, at F(2x2) element by element and at the default tiles relative
// to each output's largest magnitude.
void expectSameResults(const std::string &path, kiln::compiler::Mode mode,
                       int64_t batch) {
  for (int tile : {2, -1}) {
    SCOPED_TRACE(tile == 2 ? "F(2x2, 3x3)" : "default Winograd tiles");
    winogradTile = tile;
    expectSameResultsAtTile(path, mode, batch, tile == 2);
  }
  winogradTile = -1;
}

// The labels of a compiled plan's kernel calls, load-time calls included:
// "fused epilogue: conv2d+relu", "fold_batch_norm", "dense", ...
std::multiset<std::string> callLabels(const std::string &path,
                                      kiln::compiler::Mode mode, int64_t batch,
                                      Fusion fusion) {
  auto compiled = compile(path, mode, batch, fusion);
  std::multiset<std::string> labels;
  for (const rt::PlanCall &call : compiled.plan->calls) {
    labels.insert(call.label);
  }
  return labels;
}

std::string listed(const std::multiset<std::string> &labels) {
  std::string text;
  for (const std::string &label : labels) {
    text += "\n  " + label;
  }
  return text;
}

// kiln-fuse forms the groups it is meant to: the results above would also
// agree if it fused nothing.
TEST(FusionTest, ExpectedGroupsExist) {
  using kiln::compiler::Mode;
  std::string cnn = std::string(KILN_EXAMPLES_DIR) + "/cnn.mlir";
  // The first convolution stays direct (one input channel); the second
  // (16 -> 32 channels) is direct, or by Winograd on a host that runs
  // 512-bit vectors as two halves (kiln-winograd's min-reduction 16 there:
  // Compiler.cpp). Either way ReLU is in its epilogue and the 2x2 max pool
  // (strides defaulting to the kernel) its tail.
  auto labels = callLabels(cnn, Mode::Inference, 3, Fusion::On);
  EXPECT_EQ(labels.count("fused epilogue: conv2d+relu+max_pool2d") +
                labels.count("fused epilogue: conv2d_winograd+relu+max_pool2d"),
            2u)
      << listed(labels);
  EXPECT_EQ(labels.count("max_pool2d"), 0u) << listed(labels);
  EXPECT_EQ(labels.count("fused epilogue: dense+relu"), 1u) << listed(labels);
  EXPECT_EQ(labels.count("fold_batch_norm"), 2u) << listed(labels);
  EXPECT_EQ(labels.count("batch_norm"), 0u) << listed(labels);

  labels = callLabels(cnn, Mode::Inference, 3, Fusion::NoBatchNormFolding);
  EXPECT_EQ(
      labels.count("fused epilogue: conv2d+batch_norm+relu+max_pool2d") +
          labels.count(
              "fused epilogue: conv2d_winograd+batch_norm+relu+max_pool2d"),
      2u)
      << listed(labels);

  labels = callLabels(cnn, Mode::Inference, 3, Fusion::Off);
  for (const std::string &label : labels) {
    EXPECT_EQ(label.find("fused"), std::string::npos) << listed(labels);
  }

  labels = callLabels(std::string(KILN_SOURCE_DIR) +
                          "/bench/models/resnet_basic_block64.mlir",
                      Mode::Inference, 1, Fusion::On);
  EXPECT_EQ(labels.count("fused epilogue: conv2d_winograd+relu"), 1u)
      << listed(labels);
  EXPECT_EQ(labels.count("fused epilogue: conv2d_winograd+add+relu"), 1u)
      << listed(labels);
  EXPECT_EQ(labels.count("winograd_filter"), 2u) << listed(labels);
  // Batch norm unfolded: its scale and shift in the Winograd kernels'
  // epilogues.
  labels = callLabels(std::string(KILN_SOURCE_DIR) +
                          "/bench/models/resnet_basic_block64.mlir",
                      Mode::Inference, 1, Fusion::NoBatchNormFolding);
  EXPECT_EQ(labels.count("fused epilogue: conv2d_winograd+batch_norm+relu"), 1u)
      << listed(labels);
  EXPECT_EQ(
      labels.count("fused epilogue: conv2d_winograd+batch_norm+add+relu"), 1u)
      << listed(labels);

  labels = callLabels(std::string(KILN_TEST_INPUTS_DIR) + "/grad_cnn.mlir",
                      Mode::Gradients, 0, Fusion::On);
  // The conv bias's gradient (the channel sum of dx) is a gradient sink.
  EXPECT_GE(labels.count(
                "fused prologue: activation_grad+batch_norm_grad+reduce_sum"),
            1u)
      << listed(labels);
}

TEST(FusionTest, ExamplesInference) {
  for (const char *model : {"mlp.mlir", "cnn.mlir", "resnet_block.mlir"}) {
    expectSameResults(std::string(KILN_EXAMPLES_DIR) + "/" + model,
                      kiln::compiler::Mode::Inference, 3);
  }
}

TEST(FusionTest, ResNetBasicBlock64) {
  expectSameResults(std::string(KILN_SOURCE_DIR) +
                        "/bench/models/resnet_basic_block64.mlir",
                    kiln::compiler::Mode::Inference, 1);
}

TEST(FusionTest, MobileNetV2Block) {
  std::string block =
      std::string(KILN_SOURCE_DIR) + "/bench/models/mobilenet_v2_block.mlir";
  expectSameResults(block, kiln::compiler::Mode::Inference, 1);
  // The expansion and the depthwise layer are one kernel (the producer
  // form); the projection adds the skip in its epilogue.
  auto labels =
      callLabels(block, kiln::compiler::Mode::Inference, 2, Fusion::On);
  EXPECT_EQ(labels.count("fused producer: conv2d+relu6+conv2d+relu6"), 1u)
      << listed(labels);
  EXPECT_EQ(labels.count("fused epilogue: conv2d+add"), 1u) << listed(labels);
  // With the projection form (compared above too), the whole block.
  labels = callLabels(block, kiln::compiler::Mode::Inference, 2,
                      Fusion::OnProjection);
  EXPECT_EQ(labels.count("fused producer: conv2d+relu6+conv2d+relu6+conv2d+add"),
            1u)
      << listed(labels);
  EXPECT_EQ(labels.count("fused producer: conv2d+relu6+conv2d+relu6"), 0u)
      << listed(labels);
  EXPECT_EQ(labels.count("fused epilogue: conv2d+add"), 0u) << listed(labels);
}

TEST(FusionTest, Gradients) {
  expectSameResults(std::string(KILN_TEST_INPUTS_DIR) + "/grad_cnn.mlir",
                    kiln::compiler::Mode::Gradients, 0);
  expectSameResults(std::string(KILN_TEST_INPUTS_DIR) + "/grad_misc.mlir",
                    kiln::compiler::Mode::Gradients, 0);
  // recompute-conv: the first layer's conv2d is computed only inside the
  // two batch-norm kernels (the forward one with its pool tail).
  std::string first = std::string(KILN_TEST_INPUTS_DIR) + "/grad_first_conv.mlir";
  expectSameResults(first, kiln::compiler::Mode::Gradients, 0);
  auto labels =
      callLabels(first, kiln::compiler::Mode::Gradients, 0, Fusion::On);
  EXPECT_EQ(labels.count("conv2d"), 0u) << listed(labels);
  EXPECT_EQ(labels.count("fused epilogue: conv2d+batch_norm_train+relu+max_pool2d"),
            1u)
      << listed(labels);
}

// A random conv net: blocks of conv (1x1 or 3x3), optional batch norm, a
// random activation, optional residual add; an optional 2x2 max pool; then
// a dense layer.
std::string randomModel(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const char *activations[] = {"relu", "relu6", "leaky_relu", "elu", "selu",
                               "silu", "mish", "gelu", "softplus", "sigmoid", "tanh"};
  int c = 2 + pick(4), h = 5 + pick(4);
  std::ostringstream ir;
  auto t = [&](int ch) {
    return "tensor<1x" + std::to_string(ch) + "x" + std::to_string(h) + "x" +
           std::to_string(h) + "xf32>";
  };
  ir << "func.func @main(%x: " << t(c) << ") -> tensor<1x3xf32> {\n";
  std::string value = "%x";
  int id = 0;
  int blocks = 2 + pick(3);
  for (int b = 0; b < blocks; ++b) {
    int out = pick(2) ? c : 2 + pick(5);
    int k = pick(2) ? 3 : 1;
    std::string n = std::to_string(id++);
    ir << "  %w" << n << " = kiln.param \"conv" << n
       << ".weight\" {init = \"he_uniform\"} : tensor<" << out << "x" << c
       << "x" << k << "x" << k << "xf32>\n";
    ir << "  %b" << n << " = kiln.param \"conv" << n
       << ".bias\" {init = \"he_uniform\", fan_in = 1} : tensor<" << out
       << "xf32>\n";
    ir << "  %c" << n << " = kiln.conv2d " << value << ", %w" << n << ", %b" << n
       << (k == 3 ? " {pads = array<i64: 1, 1, 1, 1>}" : "") << " : (" << t(c)
       << ", tensor<" << out << "x" << c << "x" << k << "x" << k << "xf32>, tensor<"
       << out << "xf32>) -> " << t(out) << "\n";
    std::string v = "%c" + n;
    if (pick(2)) {
      for (const char *p : {"weight", "bias", "running_mean", "running_var"}) {
        ir << "  %bn" << n << p << " = kiln.param \"bn" << n << "." << p
           << "\" {init = \"" << (std::string(p) == "running_var" ? "ones" : "he_uniform")
           << "\", fan_in = 1} : tensor<" << out << "xf32>\n";
      }
      ir << "  %n" << n << " = kiln.batch_norm " << v << ", %bn" << n << "weight, %bn"
         << n << "bias, %bn" << n << "running_mean, %bn" << n << "running_var : ("
         << t(out) << ", tensor<" << out << "xf32>, tensor<" << out
         << "xf32>, tensor<" << out << "xf32>, tensor<" << out << "xf32>) -> "
         << t(out) << "\n";
      v = "%n" + n;
    }
    if (out == c && pick(2)) {
      ir << "  %r" << n << " = kiln.add " << v << ", " << value << " : (" << t(out)
         << ", " << t(out) << ") -> " << t(out) << "\n";
      v = "%r" + n;
    }
    ir << "  %a" << n << " = kiln." << activations[pick(10)] << " " << v << " : ("
       << t(out) << ") -> " << t(out) << "\n";
    value = "%a" + std::to_string(id - 1);
    c = out;
  }
  if (pick(2)) {
    // A 2x2 max pool (a 7x7 plane: its last row and column unread): where
    // the last block is a 3x3 conv, the tail of its kernel.
    std::string in = t(c);
    h /= 2;
    ir << "  %p = kiln.max_pool2d " << value
       << " {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (" << in
       << ") -> " << t(c) << "\n";
    value = "%p";
  }
  int features = c * h * h;
  ir << "  %f = kiln.flatten " << value << " : (" << t(c) << ") -> tensor<1x"
     << features << "xf32>\n";
  ir << "  %fw = kiln.param \"fc.weight\" {init = \"glorot_uniform\"} : tensor<3x"
     << features << "xf32>\n";
  ir << "  %y = kiln.dense %f, %fw : (tensor<1x" << features << "xf32>, tensor<3x"
     << features << "xf32>) -> tensor<1x3xf32>\n";
  ir << "  %z = kiln.tanh %y : (tensor<1x3xf32>) -> tensor<1x3xf32>\n";
  ir << "  return %z : tensor<1x3xf32>\n}\n";
  return ir.str();
}

// A random model whose intermediates can be channel-blocked (docs/layout.md):
// 16-48 channels on planes of 5x5 to 8x8, 1x1 convolutions (packed by
// kiln-pack-weights on planes of 64 positions or fewer), depthwise 3x3 ones
// (stride 1 or 2), batch norm, residual adds and activations, then a global
// average pool and a dense layer.
std::string randomBlockedModel(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const char *activations[] = {"relu", "relu6", "silu", "gelu", "tanh"};
  int c = 16 * (1 + pick(2)), h = 5 + pick(4);
  std::ostringstream ir;
  auto t = [&](int ch, int size) {
    return "tensor<2x" + std::to_string(ch) + "x" + std::to_string(size) +
           "x" + std::to_string(size) + "xf32>";
  };
  ir << "func.func @main(%x: " << t(c, h) << ") -> tensor<2x3xf32> {\n";
  std::string value = "%x";
  int layers = 3 + pick(4);
  for (int id = 0; id < layers; ++id) {
    std::string n = std::to_string(id);
    // The first layer a 1x1 conv: a depthwise one reading the graph input
    // (dense) would keep its output, and the depthwise chain tied to it,
    // dense.
    bool depthwise = id > 0 && pick(2) == 1;
    int out = depthwise ? c : 16 * (1 + pick(3));
    int stride = depthwise && h >= 6 && pick(3) == 0 ? 2 : 1;
    int size = depthwise ? (h + 2 - 3) / stride + 1 : h;
    std::string wt = depthwise ? "tensor<" + std::to_string(c) + "x1x3x3xf32>"
                               : "tensor<" + std::to_string(out) + "x" +
                                     std::to_string(c) + "x1x1xf32>";
    ir << "  %w" << n << " = kiln.param \"conv" << n
       << ".weight\" {init = \"he_uniform\"} : " << wt << "\n";
    ir << "  %b" << n << " = kiln.param \"conv" << n
       << ".bias\" {init = \"he_uniform\", fan_in = 1} : tensor<" << out
       << "xf32>\n";
    ir << "  %c" << n << " = kiln.conv2d " << value << ", %w" << n << ", %b"
       << n;
    if (depthwise) {
      ir << " {groups = " << c << " : i64, pads = array<i64: 1, 1, 1, 1>"
         << ", strides = array<i64: " << stride << ", " << stride << ">}";
    }
    ir << " : (" << t(c, h) << ", " << wt << ", tensor<" << out
       << "xf32>) -> " << t(out, size) << "\n";
    std::string v = "%c" + n;
    if (pick(2)) {
      for (const char *p : {"weight", "bias", "running_mean", "running_var"}) {
        ir << "  %bn" << n << p << " = kiln.param \"bn" << n << "." << p
           << "\" {init = \""
           << (std::string(p) == "running_var" ? "ones" : "he_uniform")
           << "\", fan_in = 1} : tensor<" << out << "xf32>\n";
      }
      ir << "  %n" << n << " = kiln.batch_norm " << v << ", %bn" << n
         << "weight, %bn" << n << "bias, %bn" << n << "running_mean, %bn" << n
         << "running_var : (" << t(out, size) << ", tensor<" << out
         << "xf32>, tensor<" << out << "xf32>, tensor<" << out
         << "xf32>, tensor<" << out << "xf32>) -> " << t(out, size) << "\n";
      v = "%n" + n;
    }
    if (out == c && size == h && pick(2)) {
      ir << "  %r" << n << " = kiln.add " << v << ", " << value << " : ("
         << t(out, size) << ", " << t(out, size) << ") -> " << t(out, size)
         << "\n";
      v = "%r" + n;
    }
    ir << "  %a" << n << " = kiln." << activations[pick(5)] << " " << v
       << " : (" << t(out, size) << ") -> " << t(out, size) << "\n";
    value = "%a" + n;
    c = out;
    h = size;
  }
  ir << "  %g = kiln.global_avg_pool " << value << " : (" << t(c, h)
     << ") -> tensor<2x" << c << "x1x1xf32>\n";
  ir << "  %f = kiln.flatten %g : (tensor<2x" << c
     << "x1x1xf32>) -> tensor<2x" << c << "xf32>\n";
  ir << "  %fw = kiln.param \"fc.weight\" {init = \"glorot_uniform\"} : "
     << "tensor<3x" << c << "xf32>\n";
  ir << "  %y = kiln.dense %f, %fw : (tensor<2x" << c << "xf32>, tensor<3x"
     << c << "xf32>) -> tensor<2x3xf32>\n";
  ir << "  return %y : tensor<2x3xf32>\n}\n";
  return ir.str();
}

// Writes generator(seed) for seeds 1-6 into a temporary directory and runs
// check on each file.
void forEachRandomModel(
    const std::string &name, std::string (*generator)(uint32_t),
    const std::function<void(const std::string &, uint32_t)> &check) {
  fs::path dir = fs::temp_directory_path() /
                 ("kiln-" + name + "-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    fs::path path = dir / (name + std::to_string(seed) + ".mlir");
    std::ofstream(path) << generator(seed);
    SCOPED_TRACE(path.string());
    check(path.string(), seed);
  }
  fs::remove_all(dir);
}

// Random models with blocked intermediates: blocked (the default) against
// NCHW and unfused, and the pass blocks something in each (on AVX-512).
TEST(FusionTest, RandomBlockedModels) {
  forEachRandomModel("layout", randomBlockedModel,
                     [](const std::string &path, uint32_t seed) {
    expectSameResults(path, kiln::compiler::Mode::Inference, 2);
    auto compiled =
        compile(path, kiln::compiler::Mode::Inference, 2, Fusion::On);
    int blocked = 0;
    for (const rt::PlanBuffer &buffer : compiled.plan->buffers) {
      blocked += buffer.layout == "nchw16c";
    }
    // kiln-layout blocks by 16 channels on AVX-512 hosts only (an AVX2
    // host's plans stay NCHW); the results are compared on every host.
    if (__builtin_cpu_supports("avx512f")) {
      EXPECT_GT(blocked, 0) << randomBlockedModel(seed);
    }
  });
}

TEST(FusionTest, RandomModels) {
  int tails = 0;
  forEachRandomModel("fusion", randomModel,
                     [&](const std::string &path, uint32_t) {
    expectSameResults(path, kiln::compiler::Mode::Inference, 2);
    expectSameResults(path, kiln::compiler::Mode::Gradients, 2);
    for (const std::string &label :
         callLabels(path, kiln::compiler::Mode::Inference, 2, Fusion::On)) {
      tails += label.rfind("fused epilogue: conv2d", 0) == 0 &&
               label.find("+max_pool2d") != std::string::npos;
    }
  });
  // Some of the seeds end in a conv2d kernel with a pooling tail.
  EXPECT_GT(tails, 0);
}

} // namespace
