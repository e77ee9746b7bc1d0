// A GPU plan's session on OpenCL (PoCL in CI): its output equals a plain
// C++ reference, and data moves between host and device only at the edges
// (docs/gpu.md): parameters when written, inputs once per run, outputs
// once per read after a run. In a training step the parameters stay on the
// device: only the step's inputs go up, and what is read comes back.
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

Tensor scalar(DType type, double value) {
  Tensor t({}, type);
  if (type == DType::I32) {
    t.i32()[0] = static_cast<int32_t>(value);
  } else {
    t.f32()[0] = static_cast<float>(value);
  }
  return t;
}

// Steps of plain SGD on y = x w^T + b with the mean squared error over all
// of y's elements, in double: w -= lr * dw, b -= lr * db, with dy = 2 (y -
// t) / y's size. Returns the loss before each step.
std::vector<double> referenceSgd(const std::vector<float> &x,
                                 const std::vector<float> &t,
                                 std::vector<double> &w, std::vector<double> &b,
                                 int rows, int in, int out, double lr,
                                 int steps) {
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    std::vector<double> dw(w.size(), 0.0), db(b.size(), 0.0);
    double loss = 0;
    for (int n = 0; n < rows; ++n) {
      for (int o = 0; o < out; ++o) {
        double y = b[o];
        for (int k = 0; k < in; ++k) {
          y += x[n * in + k] * w[o * in + k];
        }
        double diff = y - t[n * out + o];
        loss += diff * diff / (rows * out);
        double dy = 2.0 * diff / (rows * out);
        db[o] += dy;
        for (int k = 0; k < in; ++k) {
          dw[o * in + k] += dy * x[n * in + k];
        }
      }
    }
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] -= lr * dw[i];
    }
    for (size_t i = 0; i < b.size(); ++i) {
      b[i] -= lr * db[i];
    }
    losses.push_back(loss);
  }
  return losses;
}

// A training plan's steps on OpenCL: each step sends its inputs up once and
// nothing else; the loss comes back when read; the parameters stay on the
// device through the steps (nothing comes back until they are read) and
// then equal plain SGD's.
TEST(OpenCl, TrainingStepKeepsTheParametersOnTheDevice) {
  kiln::compiler::CompileOptions options;
  options.target = "host-opencl";
  options.cacheDir = std::getenv("KILN_CACHE_DIR");
  options.mode = kiln::compiler::Mode::Train;
  options.training.loss = "mse";
  options.training.optimizer = "sgd";
  options.training.momentum = 0.0;
  kiln::compiler::CompiledModel model =
      kiln::compiler::compileModel(KILN_DENSE_MODEL, options);
  Session session = Session::load(*model.plan);
  session.prepare();

  constexpr int rows = 4, in = 3, out = 2, steps = 3;
  constexpr double lr = 0.1;
  Tensor w({out, in}, DType::F32), b({out}, DType::F32);
  Tensor x({rows, in}, DType::F32), t({rows, out}, DType::F32);
  std::vector<double> wRef, bRef;
  for (int i = 0; i < out * in; ++i) {
    w.f32()[i] = 0.25f * static_cast<float>(i % 5) - 0.5f;
    wRef.push_back(w.f32()[i]);
  }
  for (int i = 0; i < out; ++i) {
    b.f32()[i] = 0.125f * static_cast<float>(i) - 0.1f;
    bRef.push_back(b.f32()[i]);
  }
  for (int i = 0; i < rows * in; ++i) {
    x.f32()[i] = 0.3f * static_cast<float>(i % 7) - 0.8f;
  }
  for (int i = 0; i < rows * out; ++i) {
    t.f32()[i] = 0.5f - 0.2f * static_cast<float>(i % 3);
  }
  session.setParameter("w", w);
  session.setParameter("b", b);
  std::vector<float> xs(x.f32(), x.f32() + rows * in);
  std::vector<float> ts(t.f32(), t.f32() + rows * out);
  std::vector<double> losses =
      referenceSgd(xs, ts, wRef, bRef, rows, in, out, lr, steps);

  for (int step = 1; step <= steps; ++step) {
    for (const auto &input : session.inputs()) {
      if (input.name == "x") {
        session.setInput("x", x);
      } else if (input.name == "target") {
        session.setInput("target", t);
      } else if (input.name == "lr") {
        session.setInput("lr", scalar(DType::F32, lr));
      } else if (input.name == "step") {
        session.setInput("step", scalar(DType::F32, step));
      } else if (input.name == "seed") {
        session.setInput("seed", scalar(DType::I32, step));
      } else {
        FAIL() << "unexpected training input " << input.name;
      }
    }
    kiln::runtime::TransferCounts before = session.transfers();
    session.run();
    EXPECT_EQ(session.transfers().toDevice,
              before.toDevice + session.inputs().size())
        << "step " << step << ": only the step's inputs go up";
    EXPECT_EQ(session.transfers().toHost, before.toHost)
        << "step " << step << ": nothing comes back unread";
    float loss = session.output("loss").f32()[0];
    EXPECT_EQ(session.transfers().toHost, before.toHost + 1);
    EXPECT_NEAR(loss, losses[step - 1], 1e-5 * std::max(1.0, losses[step - 1]))
        << "step " << step;
  }
  Tensor wGot = session.parameter("w"), bGot = session.parameter("b");
  for (int i = 0; i < out * in; ++i) {
    EXPECT_NEAR(wGot.f32()[i], wRef[i], 1e-5) << "w[" << i << "]";
  }
  for (int i = 0; i < out; ++i) {
    EXPECT_NEAR(bGot.f32()[i], bRef[i], 1e-5) << "b[" << i << "]";
  }
}

} // namespace
