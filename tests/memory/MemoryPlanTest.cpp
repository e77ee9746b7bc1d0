// An independent checker of memory plans (docs/memory.md), written from the
// plan JSON alone (docs/plan-format.md): lifetimes come from the order of
// the calls, not from the planner's annotations.
//
// Checked for every plan: temps with an "offset" are 64-byte aligned and
// inside "arena_bytes"; no two of them alive at the same call overlap in
// bytes, except an elementwise kernel's output written exactly over an
// input that is read for the last time by that call; returned buffers are
// outside the arena; "peak_live_bytes" and "naive_bytes" match a recount.
#include "kiln/compiler/Compiler.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using kiln::compiler::CompileOptions;
using kiln::compiler::Mode;

// Ops whose kernels read and write each element at the same index.
const std::set<std::string> kElementwise = {
    "relu", "relu6", "sigmoid", "tanh", "selu", "silu", "mish", "sin", "leaky_relu",
    "elu", "gelu", "softplus", "step", "add", "sub", "mul", "div",
    "batch_norm", "prelu", "scale", "regularizer_grad", "activation_grad",
    "dropout_train"};

int64_t aligned(const json &buffer) {
  int64_t elements = 1;
  for (int64_t d : buffer["shape"]) {
    elements *= d;
  }
  return (elements * 4 + 63) / 64 * 64;
}

struct PlanStats {
  int64_t arena = 0, peak = 0, naive = 0;
};

PlanStats checkPlan(const json &plan, const std::string &what) {
  SCOPED_TRACE(what);
  const json &buffers = plan["buffers"];
  auto root = [&](int b) {
    while (buffers[b]["kind"] == "view") {
      b = buffers[b]["alias"];
    }
    return b;
  };
  PlanStats stats;
  stats.arena = plan.value("arena_bytes", int64_t(-1));
  EXPECT_GE(stats.arena, 0) << "no arena_bytes";

  // Lifetimes: first and last call touching the buffer or a view of it.
  std::map<int, std::pair<int, int>> life;
  const json &calls = plan["calls"];
  for (size_t c = 0; c < calls.size(); ++c) {
    for (int arg : calls[c]["args"]) {
      int r = root(arg);
      if (!buffers[r].contains("offset")) {
        continue;
      }
      auto [it, fresh] = life.try_emplace(r, int(c), int(c));
      it->second.second = int(c);
    }
  }
  for (size_t b = 0; b < buffers.size(); ++b) {
    const json &buffer = buffers[b];
    if (!buffer.contains("offset")) {
      continue;
    }
    EXPECT_EQ(buffer["kind"], "temp") << buffer["name"];
    int64_t offset = buffer["offset"];
    EXPECT_EQ(offset % 64, 0) << buffer["name"];
    EXPECT_LE(offset + aligned(buffer), stats.arena) << buffer["name"];
    EXPECT_TRUE(life.count(int(b))) << buffer["name"] << " is never used";
    stats.naive += aligned(buffer);
  }
  for (const json &output : plan["outputs"]) {
    EXPECT_FALSE(buffers[root(output["buffer"])].contains("offset"))
        << "output " << output["name"] << " lives in the arena";
  }

  // Pairwise: alive together => disjoint bytes, or an in-place hand-over.
  std::vector<int> placed;
  for (auto &[b, interval] : life) {
    placed.push_back(b);
  }
  for (size_t i = 0; i < placed.size(); ++i) {
    for (size_t j = i + 1; j < placed.size(); ++j) {
      int a = placed[i], b = placed[j];
      auto [af, al] = life[a];
      auto [bf, bl] = life[b];
      if (al < bf || bl < af) {
        continue;
      }
      int64_t ao = buffers[a]["offset"], bo = buffers[b]["offset"];
      int64_t as = aligned(buffers[a]), bs = aligned(buffers[b]);
      if (ao + as <= bo || bo + bs <= ao) {
        continue;
      }
      // The later-defined one must be written, over the same bytes, by the
      // elementwise call that reads the other for the last time.
      int early = af <= bf ? a : b, late = af <= bf ? b : a;
      bool handOver = life[early].second == life[late].first && ao == bo &&
                      as == bs && af != bf &&
                      kElementwise.count(calls[life[late].first]["op"]);
      EXPECT_TRUE(handOver)
          << buffers[a]["name"] << " [" << af << "," << al << "] @" << ao
          << "+" << as << " overlaps " << buffers[b]["name"] << " [" << bf
          << "," << bl << "] @" << bo << "+" << bs;
    }
  }

  // Peak: bytes alive per call, a range handed over in place counted once.
  for (size_t c = 0; c < calls.size(); ++c) {
    std::set<std::pair<int64_t, int64_t>> ranges;
    for (auto &[b, interval] : life) {
      if (interval.first <= int(c) && int(c) <= interval.second) {
        ranges.insert({buffers[b]["offset"], aligned(buffers[b])});
      }
    }
    int64_t bytes = 0;
    for (auto &[offset, size] : ranges) {
      bytes += size;
    }
    stats.peak = std::max(stats.peak, bytes);
  }
  EXPECT_EQ(plan.value("peak_live_bytes", int64_t(-1)), stats.peak);
  EXPECT_EQ(plan.value("naive_bytes", int64_t(-1)), stats.naive);
  EXPECT_GE(stats.arena, stats.peak);
  return stats;
}

std::string cacheDir() {
  const char *dir = std::getenv("KILN_CACHE_DIR");
  return dir && *dir ? dir : KILN_TEST_DEFAULT_CACHE_DIR;
}

CompileOptions options(Mode mode) {
  CompileOptions o;
  o.mode = mode;
  o.cacheDir = cacheDir();
  return o;
}

json readJson(const std::string &path) {
  std::ifstream file(path);
  return json::parse(file);
}

// The real plans the runtime loads, kernels compiled (or cached).
class ExamplePlans
    : public ::testing::TestWithParam<std::tuple<std::string, Mode>> {};

TEST_P(ExamplePlans, FitTheLowerBound) {
  auto [name, mode] = GetParam();
  std::string model = std::string(KILN_EXAMPLES_DIR) + "/" + name + ".mlir";
  CompileOptions o = options(mode);
  kiln::compiler::CompiledModel compiled = kiln::compiler::compileModel(model, o);
  json plan = readJson(compiled.planPath);
  PlanStats stats = checkPlan(plan, name);
  // The issue's bar: within 5% of the lower bound and below the naive sum.
  // With fusion a small plan can keep only buffers that are all live at
  // once (the fused MLP: two activations), where the naive sum is optimal.
  EXPECT_LE(stats.arena, stats.peak * 105 / 100);
  if (stats.peak < stats.naive) {
    EXPECT_LT(stats.arena, stats.naive);
  } else {
    EXPECT_EQ(stats.arena, stats.naive);
  }
  std::printf("%s %s: arena %lld, peak live %lld, naive %lld\n", name.c_str(),
              mode == Mode::Train ? "train" : "inference",
              (long long)stats.arena, (long long)stats.peak,
              (long long)stats.naive);
  // The report API agrees with the plan.
  kiln::compiler::MemoryReport report =
      kiln::compiler::planMemoryReport(model, o);
  EXPECT_EQ(report.arenaBytes, stats.arena);
  EXPECT_EQ(report.peakLiveBytes, stats.peak);
  EXPECT_EQ(report.naiveBytes, stats.naive);
  std::string svg = kiln::compiler::memoryPlanSvg(report);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("<rect"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Examples, ExamplePlans,
    ::testing::Combine(::testing::Values("mlp", "cnn", "resnet_block"),
                       ::testing::Values(Mode::Inference, Mode::Train)),
    [](const auto &info) {
      return std::get<0>(info.param) +
             (std::get<1>(info.param) == Mode::Train ? "_train" : "_infer");
    });

// Random graphs: chains and branches of dense / elementwise / concat /
// views over [B, F] tensors, with random shapes.
class GraphWriter {
public:
  explicit GraphWriter(unsigned seed) : rng_(seed) {}

  std::string build() {
    int64_t batch = pick(1, 8);
    int inputs = int(pick(1, 2));
    std::string args;
    for (int i = 0; i < inputs; ++i) {
      int64_t f = pick(1, 48);
      std::string name = "%in" + std::to_string(i);
      args += (i ? ", " : "") + name + ": " + type(batch, f) +
              " {kiln.name = \"in" + std::to_string(i) + "\"}";
      values_.push_back({name, batch, f});
    }
    int ops = int(pick(3, 30));
    for (int i = 0; i < ops; ++i) {
      addOp(batch);
    }
    // The last value and maybe one more (possibly a view) are returned.
    std::vector<Value> results = {values_.back()};
    if (pick(0, 2) == 0) {
      results.push_back(values_[pick(0, values_.size() - 1)]);
    }
    std::string resultTypes, returned, returnedTypes;
    for (size_t i = 0; i < results.size(); ++i) {
      resultTypes += (i ? ", " : "") + type(results[i].b, results[i].f) +
                     " {kiln.name = \"out" + std::to_string(i) + "\"}";
      returned += (i ? ", " : "") + results[i].name;
      returnedTypes += (i ? ", " : "") + type(results[i].b, results[i].f);
    }
    return "func.func @main(" + args + ") -> (" + resultTypes + ") {\n" +
           body_.str() + "  return " + returned + " : " + returnedTypes +
           "\n}\n";
  }

private:
  struct Value {
    std::string name;
    int64_t b, f;
  };

  int64_t pick(int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(rng_);
  }
  static std::string type(int64_t b, int64_t f) {
    return "tensor<" + std::to_string(b) + "x" + std::to_string(f) + "xf32>";
  }
  std::string fresh() { return "%v" + std::to_string(next_++); }
  // Recent values are likelier: chains, with branches back into the past.
  const Value &operand() {
    size_t n = values_.size();
    size_t back = pick(0, 3) == 0 ? pick(0, n - 1) : pick(0, std::min<size_t>(2, n - 1));
    return values_[n - 1 - back];
  }

  void addOp(int64_t batch) {
    Value x = operand();
    std::string r = fresh();
    switch (pick(0, 6)) {
    case 0: { // dense
      int64_t n = pick(1, 64);
      std::string w = fresh(), bias = fresh();
      body_ << "  " << w << " = kiln.param \"p" << next_ << ".w\" : "
            << "tensor<" << n << "x" << x.f << "xf32>\n";
      body_ << "  " << bias << " = kiln.param \"p" << next_ << ".b\" : "
            << "tensor<" << n << "xf32>\n";
      body_ << "  " << r << " = kiln.dense " << x.name << ", " << w << ", "
            << bias << " : (" << type(x.b, x.f) << ", tensor<" << n << "x"
            << x.f << "xf32>, tensor<" << n << "xf32>) -> " << type(batch, n)
            << "\n";
      values_.push_back({r, batch, n});
      return;
    }
    case 1:
    case 2: { // unary elementwise
      const char *ops[] = {"relu", "sigmoid", "tanh"};
      body_ << "  " << r << " = kiln." << ops[pick(0, 2)] << " " << x.name
            << " : (" << type(x.b, x.f) << ") -> " << type(x.b, x.f) << "\n";
      values_.push_back({r, x.b, x.f});
      return;
    }
    case 3: { // binary elementwise with a same-shaped operand, else itself
      const char *ops[] = {"add", "mul", "sub"};
      Value y = x;
      for (const Value &v : values_) {
        if (v.f == x.f && pick(0, 1)) {
          y = v;
        }
      }
      body_ << "  " << r << " = kiln." << ops[pick(0, 2)] << " " << x.name
            << ", " << y.name << " : (" << type(x.b, x.f) << ", "
            << type(y.b, y.f) << ") -> " << type(x.b, x.f) << "\n";
      values_.push_back({r, x.b, x.f});
      return;
    }
    case 4: { // concat along the features
      const Value &y = operand();
      body_ << "  " << r << " = kiln.concat " << x.name << ", " << y.name
            << " {axis = 1 : i64} : (" << type(x.b, x.f) << ", "
            << type(y.b, y.f) << ") -> " << type(x.b, x.f + y.f) << "\n";
      values_.push_back({r, x.b, x.f + y.f});
      return;
    }
    case 5: { // a view
      body_ << "  " << r << " = kiln.reshape " << x.name
            << " {shape = array<i64: 0, -1>} : (" << type(x.b, x.f) << ") -> "
            << type(x.b, x.f) << "\n";
      values_.push_back({r, x.b, x.f});
      return;
    }
    default: { // a broadcast bias
      std::string p = fresh();
      body_ << "  " << p << " = kiln.param \"p" << next_ << ".bias\" : "
            << "tensor<" << x.f << "xf32>\n";
      body_ << "  " << r << " = kiln.add " << x.name << ", " << p << " : ("
            << type(x.b, x.f) << ", tensor<" << x.f << "xf32>) -> "
            << type(x.b, x.f) << "\n";
      values_.push_back({r, x.b, x.f});
      return;
    }
    }
  }

  std::mt19937 rng_;
  std::vector<Value> values_;
  std::ostringstream body_;
  int next_ = 0;
};

TEST(RandomGraphs, PlansNeverOverlap) {
  fs::path dir = fs::temp_directory_path() /
                 ("kiln-memory-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const char *optimizers[] = {"sgd", "momentum", "adam"};
  int64_t arena = 0, peak = 0, naive = 0;
  for (unsigned seed = 0; seed < 300; ++seed) {
    std::string text = GraphWriter(seed).build();
    fs::path path = dir / ("graph" + std::to_string(seed) + ".mlir");
    std::ofstream(path) << text;
    // Every third graph as a training step (mse on its first output).
    CompileOptions o = options(seed % 3 == 2 ? Mode::Train : Mode::Inference);
    o.training.loss = "mse";
    o.training.optimizer = optimizers[seed % 3];
    std::string what = "seed " + std::to_string(seed) + ":\n" + text;
    json plan;
    try {
      plan = json::parse(kiln::compiler::lowerPlanJson(path.string(), o));
    } catch (const kiln::compiler::Error &e) {
      ADD_FAILURE() << what << "\n" << e.what();
      continue;
    }
    PlanStats stats = checkPlan(plan, what);
    arena += stats.arena;
    peak += stats.peak;
    naive += stats.naive;
    if (HasFailure()) {
      break;
    }
  }
  std::printf("300 random graphs: arena %lld, peak live %lld, naive %lld\n",
              (long long)arena, (long long)peak, (long long)naive);
  fs::remove_all(dir);
}

} // namespace
