// The ONNX data-path ops (exp, log, sqrt, erf, abs, clip, pow, transpose,
// pad) compiled and run: forward values against a plain double-precision
// reference written here, and the gradients their rules build (kiln
// autodiff, Mode::Gradients, mse loss) against central finite differences
// of that reference.
#include "kiln/compiler/Compiler.h"
#include "kiln/runtime/Runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace rt = kiln::runtime;
namespace fs = std::filesystem;

namespace {

using Values = std::vector<double>;
using Params = std::map<std::string, Values>;
// y = f(x, params) on row-major data.
using Forward = std::function<Values(const Values &x, const Params &p)>;

struct Case {
  std::string name;
  std::vector<int64_t> xShape, yShape;
  std::map<std::string, std::vector<int64_t>> params;
  std::string body; // uses %x and the params by name, defines %y
  Forward forward;
  double xOffset = 0; // added to the random x (keeps log/sqrt/pow positive)
};

std::string type(const std::vector<int64_t> &shape) {
  std::string s = "tensor<";
  for (int64_t d : shape) {
    s += std::to_string(d) + "x";
  }
  return s + "f32>";
}

int64_t count(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    n *= d;
  }
  return n;
}

rt::Tensor toTensor(const Values &v, const std::vector<int64_t> &shape) {
  rt::Tensor t(shape, rt::DType::F32);
  for (size_t i = 0; i < v.size(); ++i) {
    t.f32()[i] = static_cast<float>(v[i]);
  }
  return t;
}

Values map(const Values &x, const std::function<double(double)> &f) {
  Values y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    y[i] = f(x[i]);
  }
  return y;
}

// x + p (same shape) through a unary function.
Case unary(const std::string &op, std::function<double(double)> f,
           double offset, const std::string &attrs = "") {
  Case c;
  c.name = op;
  c.xShape = c.yShape = {2, 3, 4};
  c.params = {{"p", {2, 3, 4}}};
  std::string t = type(c.xShape);
  c.body = "%a = kiln.add %x, %p : (" + t + ", " + t + ") -> " + t + "\n" +
           "  %y = kiln." + op + " %a " + attrs + " : (" + t + ") -> " + t;
  c.forward = [f](const Values &x, const Params &p) {
    Values a(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      a[i] = x[i] + p.at("p")[i];
    }
    return map(a, f);
  };
  c.xOffset = offset;
  return c;
}

std::vector<Case> cases() {
  std::vector<Case> all;
  all.push_back(unary("exp", [](double v) { return std::exp(v); }, 0));
  all.push_back(unary("log", [](double v) { return std::log(v); }, 3));
  all.push_back(unary("sqrt", [](double v) { return std::sqrt(v); }, 3));
  all.push_back(unary("erf", [](double v) { return std::erf(v); }, 0));
  all.push_back(unary("abs", [](double v) { return std::fabs(v); }, 0));
  all.push_back(unary(
      "clip", [](double v) { return std::min(std::max(v, -0.5), 0.75); }, 0,
      "{min = -0.5 : f32, max = 0.75 : f32}"));
  {
    // a^b with b broadcast along the last dim: both gradients, b reduced.
    Case c;
    c.name = "pow";
    c.xShape = c.yShape = {2, 3, 4};
    c.params = {{"p", {2, 3, 4}}, {"e", {4}}};
    std::string t = type(c.xShape);
    c.body = "%a = kiln.add %x, %p : (" + t + ", " + t + ") -> " + t + "\n" +
             "  %y = kiln.pow %a, %e : (" + t + ", tensor<4xf32>) -> " + t;
    c.forward = [](const Values &x, const Params &p) {
      Values y(x.size());
      for (size_t i = 0; i < x.size(); ++i) {
        y[i] = std::pow(x[i] + p.at("p")[i], p.at("e")[i % 4]);
      }
      return y;
    };
    c.xOffset = 3;
    all.push_back(c);
  }
  {
    Case c;
    c.name = "transpose";
    c.xShape = {2, 3, 4};
    c.yShape = {4, 2, 3};
    c.params = {{"p", {2, 3, 4}}};
    std::string t = type(c.xShape);
    c.body = "%a = kiln.add %x, %p : (" + t + ", " + t + ") -> " + t + "\n" +
             "  %y = kiln.transpose %a {perm = array<i64: 2, 0, 1>} : (" + t +
             ") -> " + type(c.yShape);
    c.forward = [](const Values &x, const Params &p) {
      Values y(24);
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 3; ++j) {
          for (int k = 0; k < 4; ++k) {
            int src = (i * 3 + j) * 4 + k;
            y[(k * 2 + i) * 3 + j] = x[src] + p.at("p")[src];
          }
        }
      }
      return y;
    };
    all.push_back(c);
  }
  for (std::string mode : {"constant", "reflect", "edge"}) {
    // Dim 0 cropped by one at the front, dim 1 padded 1/2, dim 2 by 2/1.
    Case c;
    c.name = "pad_" + mode;
    c.xShape = {3, 3, 4};
    c.yShape = {2, 6, 7};
    c.params = {{"p", {3, 3, 4}}};
    std::string t = type(c.xShape);
    c.body = "%a = kiln.add %x, %p : (" + t + ", " + t + ") -> " + t + "\n" +
             "  %y = kiln.pad %a {pads = array<i64: -1, 1, 2, 0, 2, 1>, " +
             "value = 0.5 : f32, mode = \"" + mode + "\"} : (" + t + ") -> " +
             type(c.yShape);
    c.forward = [mode](const Values &x, const Params &p) {
      Values y(2 * 6 * 7);
      int dims[3] = {3, 3, 4}, begin[3] = {-1, 1, 2};
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 6; ++j) {
          for (int k = 0; k < 7; ++k) {
            int idx[3] = {i - begin[0], j - begin[1], k - begin[2]};
            bool inside = true;
            for (int d = 0; d < 3; ++d) {
              int n = dims[d];
              if (idx[d] < 0 || idx[d] >= n) {
                inside = false;
                if (mode == "reflect") {
                  idx[d] = idx[d] < 0 ? -idx[d] : 2 * (n - 1) - idx[d];
                } else {
                  idx[d] = std::min(std::max(idx[d], 0), n - 1);
                }
              }
            }
            int src = (idx[0] * 3 + idx[1]) * 4 + idx[2];
            y[(i * 6 + j) * 7 + k] = (!inside && mode == "constant")
                                         ? 0.5
                                         : x[src] + p.at("p")[src];
          }
        }
      }
      return y;
    };
    all.push_back(c);
  }
  return all;
}

std::string writeModel(const Case &c) {
  std::string params;
  for (const auto &[name, shape] : c.params) {
    params += "  %" + name + " = kiln.param \"" + name + "\" : " + type(shape) +
              "\n";
  }
  std::string text = "func.func @main(%x: " + type(c.xShape) +
                     " {kiln.name = \"x\"}) -> (" + type(c.yShape) +
                     " {kiln.name = \"y\"}) {\n" + params + "  " + c.body +
                     "\n  return %y : " + type(c.yShape) + "\n}\n";
  fs::path dir = fs::temp_directory_path() / "kiln-onnx-ops-test";
  fs::create_directories(dir);
  std::string path = (dir / (c.name + ".mlir")).string();
  std::ofstream(path) << text;
  return path;
}

double mse(const Values &y, const Values &t) {
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    s += (y[i] - t[i]) * (y[i] - t[i]);
  }
  return s / static_cast<double>(y.size());
}

class OnnxOpsTest : public ::testing::TestWithParam<Case> {};

TEST_P(OnnxOpsTest, ForwardAndGradients) {
  const Case &c = GetParam();
  // Only constant padding is differentiable: the other pad modes are
  // checked forward (with their loss) only.
  bool differentiable = c.name != "pad_reflect" && c.name != "pad_edge";
  kiln::compiler::CompileOptions options;
  options.mode = differentiable ? kiln::compiler::Mode::Gradients
                                : kiln::compiler::Mode::Eval;
  options.training.loss = "mse";
  auto compiled = kiln::compiler::compileModel(writeModel(c), options);
  rt::Session session = rt::Session::load(*compiled.plan);
  session.prepare();

  std::mt19937 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  Values x(count(c.xShape)), target(count(c.yShape));
  for (double &v : x) {
    v = static_cast<float>(normal(rng) * 0.7 + c.xOffset);
  }
  for (double &v : target) {
    v = static_cast<float>(normal(rng));
  }
  Params params;
  for (const auto &[name, shape] : c.params) {
    Values v(count(shape));
    for (double &e : v) {
      e = static_cast<float>(name == "e" ? 1.5 + 0.3 * normal(rng)
                                         : 0.2 * normal(rng));
    }
    params[name] = v;
    session.setParameter(name, toTensor(v, shape));
  }
  session.setInput("x", toTensor(x, c.xShape));
  session.setInput("target", toTensor(target, c.yShape));
  session.fillMissingInputs(1);
  session.run();

  Values want = c.forward(x, params);
  rt::Tensor y = session.output("y");
  ASSERT_EQ(y.shape, c.yShape);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(y.f32()[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i]))
        << c.name << " y[" << i << "]";
  }
  EXPECT_NEAR(session.output("loss").f32()[0], mse(want, target),
              1e-4 * (1 + mse(want, target)));

  if (!differentiable) {
    return;
  }
  const double h = 1e-6;
  for (const auto &[name, shape] : c.params) {
    rt::Tensor grad = session.output("grad:" + name);
    Values &p = params[name];
    double scale = 1e-2;
    std::vector<double> numeric(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      double saved = p[i];
      p[i] = saved + h;
      double up = mse(c.forward(x, params), target);
      p[i] = saved - h;
      double down = mse(c.forward(x, params), target);
      p[i] = saved;
      numeric[i] = (up - down) / (2 * h);
      scale = std::max(scale, std::fabs(numeric[i]));
    }
    for (size_t i = 0; i < p.size(); ++i) {
      EXPECT_NEAR(grad.f32()[i], numeric[i], 2e-3 * scale)
          << c.name << " grad:" << name << "[" << i << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, OnnxOpsTest, ::testing::ValuesIn(cases()),
                         [](const auto &info) { return info.param.name; });

} // namespace
