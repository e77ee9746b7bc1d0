// A GPU plan's session on OpenCL (PoCL in CI): its output equals a plain
// C++ reference, and data moves between host and device only at the edges
// (docs/gpu.md): parameters when written, inputs once per run, outputs
// once per read after a run.
#include "kiln/compiler/Compiler.h"
#include "kiln/runtime/Runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

namespace {

using kiln::runtime::DType;
using kiln::runtime::Session;
using kiln::runtime::Tensor;

Tensor filled(float start, float step) {
  Tensor t({2, 3, 5, 7}, DType::F32);
  for (int64_t i = 0; i < t.numElements(); ++i) {
    t.f32()[i] = start + step * static_cast<float>(i % 17) -
                 0.3f * static_cast<float>(i % 5);
  }
  return t;
}

// y = sigmoid(relu(x + b)) * z, elementwise.
std::vector<float> reference(const Tensor &x, const Tensor &b,
                             const Tensor &z) {
  std::vector<float> y(x.numElements());
  for (size_t i = 0; i < y.size(); ++i) {
    float a = std::max(0.0f, x.f32()[i] + b.f32()[i]);
    y[i] = z.f32()[i] / (1.0f + std::exp(-a));
  }
  return y;
}

void expectNear(const Tensor &got, const std::vector<float> &want) {
  ASSERT_EQ(got.numElements(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got.f32()[i], want[i], 1e-6 * std::max(1.0f, std::abs(want[i])))
        << "element " << i;
  }
}

TEST(OpenCl, DataStaysOnTheDevice) {
  kiln::compiler::CompileOptions options;
  options.target = "host-opencl";
  options.cacheDir = std::getenv("KILN_CACHE_DIR");
  kiln::compiler::CompiledModel model =
      kiln::compiler::compileModel(KILN_ELEMENTWISE_MODEL, options);
  Session session = Session::load(*model.plan);
  session.prepare();
  // The parameter went up when the session was prepared.
  EXPECT_EQ(session.transfers().toDevice, 1u);

  Tensor x = filled(-1.0f, 0.125f), z = filled(0.5f, -0.0625f);
  Tensor b = filled(0.25f, 0.03125f);
  session.setParameter("b", b); // up at once
  EXPECT_EQ(session.transfers().toDevice, 2u);
  session.setInput(session.inputs()[0].name, x);
  session.setInput(session.inputs()[1].name, z);
  EXPECT_EQ(session.transfers().toDevice, 2u); // inputs go up at run()

  for (int run = 1; run <= 3; ++run) {
    session.run();
    EXPECT_EQ(session.transfers().toDevice, 2u + 2u * run);
    std::string out = session.outputs()[0].name;
    expectNear(session.output(out), reference(x, b, z));
    expectNear(session.output(out), reference(x, b, z)); // read twice,
    EXPECT_EQ(session.transfers().toHost, static_cast<size_t>(run)); // one copy
  }
  // A parameter reads back what was written: one copy down at most (after
  // a run, a training plan's kernels may have changed it).
  size_t before = session.transfers().toHost;
  Tensor back = session.parameter("b");
  EXPECT_EQ(back.bytes, b.bytes);
  EXPECT_LE(session.transfers().toHost, before + 1);
}

} // namespace
