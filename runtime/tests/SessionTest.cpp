// End-to-end session tests against fake_kernels.c (built as a shared library
// next to this test; its path arrives as KILN_TEST_KERNELS).
#include "TestUtil.h"

#include "kiln/runtime/Safetensors.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

namespace kiln::runtime {
namespace {

using nlohmann::json;
using test::tempDir;

// x (2x2 input) -view-> xv [4]; t = add(xv, w); u = add(t, c);
// y = view of u as 2x2; flat = view of y (a chain); total = sum(u) (rank 0).
// labels: i32 input, 5 classes.
json examplePlan() {
  return json::parse(R"({
    "version": 1,
    "library": ")" KILN_TEST_KERNELS R"(",
    "target": "host",
    "buffers": [
      {"name": "x", "shape": [2, 2], "dtype": "f32", "kind": "input"},
      {"name": "xv", "shape": [4], "dtype": "f32", "kind": "view", "alias": 0},
      {"name": "w", "shape": [4], "dtype": "f32", "kind": "param",
       "init": {"kind": "ones"}},
      {"name": "%t", "shape": [4], "dtype": "f32", "kind": "temp"},
      {"name": "c", "shape": [4], "dtype": "f32", "kind": "const",
       "data": [10, 20, 30, 40]},
      {"name": "%u", "shape": [4], "dtype": "f32", "kind": "temp"},
      {"name": "%y", "shape": [2, 2], "dtype": "f32", "kind": "view", "alias": 5},
      {"name": "%total", "shape": [], "dtype": "f32", "kind": "temp"},
      {"name": "labels", "shape": [3], "dtype": "i32", "kind": "input",
       "classes": 5},
      {"name": "h", "shape": [8, 4], "dtype": "f32", "kind": "param",
       "init": {"kind": "he_uniform"}},
      {"name": "%flat", "shape": [4], "dtype": "f32", "kind": "view", "alias": 6}
    ],
    "inputs": [0, 8],
    "outputs": [{"name": "y", "buffer": 6}, {"name": "total", "buffer": 7},
                {"name": "weight", "buffer": 2}, {"name": "flat", "buffer": 10}],
    "calls": [
      {"kernel": "kiln_test_add", "op": "add", "args": [1, 2, 3]},
      {"kernel": "kiln_test_add", "op": "add", "args": [3, 4, 5]},
      {"kernel": "kiln_test_sum", "op": "sum", "args": [5, 7]}
    ]
  })");
}

std::string writePlan(const std::string &dir, const json &plan,
                      const std::string &name = "plan.json") {
  std::string path = dir + "/" + name;
  test::writeText(path, plan.dump(2));
  return path;
}

Tensor f32(std::vector<int64_t> shape, std::vector<float> values) {
  Tensor t(std::move(shape), DType::F32);
  for (size_t i = 0; i < values.size(); ++i) {
    t.f32()[i] = values[i];
  }
  return t;
}

TEST(Session, RunsKernelsThroughViews) {
  std::string dir = tempDir();
  Session session = Session::load(writePlan(dir, examplePlan()));
  ASSERT_EQ(session.inputs().size(), 2u);
  EXPECT_EQ(session.inputs()[0].name, "x");
  EXPECT_EQ(session.inputs()[1].dtype, DType::I32);
  ASSERT_EQ(session.outputs().size(), 4u);
  EXPECT_EQ(session.outputs()[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_TRUE(session.outputs()[1].shape.empty());
  ASSERT_EQ(session.parameters().size(), 2u);
  EXPECT_EQ(session.parameters()[0].name, "w");

  EXPECT_EQ(session.allocatedBytes(), 0u);
  session.prepare();
  session.prepare();
  // Roots x, w, %t, c, %u, %total, labels, h, each rounded up to 64 bytes.
  EXPECT_EQ(session.allocatedBytes(), 7 * 64u + 128u);

  session.setInput("x", f32({2, 2}, {1, 2, 3, 4}));
  session.setInput("labels", Tensor({3}, DType::I32));
  session.run();
  Tensor y = session.output("y");
  EXPECT_EQ(y.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(y.f32()[0], 12.0f);
  EXPECT_EQ(y.f32()[1], 23.0f);
  EXPECT_EQ(y.f32()[2], 34.0f);
  EXPECT_EQ(y.f32()[3], 45.0f);
  EXPECT_EQ(session.output("total").f32()[0], 114.0f);
  EXPECT_EQ(session.output("weight").f32()[0], 1.0f);
  Tensor flat = session.output("flat");
  EXPECT_EQ(flat.shape, std::vector<int64_t>{4});
  EXPECT_EQ(flat.f32()[3], 45.0f);

  // Parameters: copies out, replaceable in, visible to the next run.
  Tensor w = session.parameter("w");
  w.f32()[0] = 100;
  EXPECT_EQ(session.parameter("w").f32()[0], 1.0f);
  session.setParameter("w", w);
  session.run();
  EXPECT_EQ(session.output("y").f32()[0], 111.0f);
  EXPECT_EQ(session.output("total").f32()[0], 213.0f);

  // Movable.
  Session moved = std::move(session);
  moved.run();
  EXPECT_EQ(moved.output("y").f32()[3], 45.0f);
}

// A constant of one repeated value is written once ("splat"), not once per
// element.
TEST(Session, SplatConstants) {
  json plan = examplePlan();
  plan["buffers"][4].erase("data");
  plan["buffers"][4]["splat"] = 10;
  Session session = Session::load(writePlan(tempDir(), plan));
  session.setInput("x", f32({2, 2}, {1, 2, 3, 4}));
  session.setInput("labels", Tensor({3}, DType::I32));
  session.run();
  Tensor y = session.output("y");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(y.f32()[i], i + 1 + 1 + 10.0f) << i;
  }
}

// JSON has no numbers for infinities and NaN: a const buffer spells them
// "inf", "-inf" and "nan".
TEST(Session, NonFiniteConstants) {
  json plan = examplePlan();
  plan["buffers"][4]["data"] = {"-inf", 1, "nan", "inf"};
  Session session = Session::load(writePlan(tempDir(), plan));
  session.setInput("x", f32({2, 2}, {1, 2, 3, 4}));
  session.setInput("labels", Tensor({3}, DType::I32));
  session.run();
  Tensor y = session.output("y");
  EXPECT_EQ(y.f32()[0], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(y.f32()[1], 4.0f);
  EXPECT_TRUE(std::isnan(y.f32()[2]));
  EXPECT_EQ(y.f32()[3], std::numeric_limits<float>::infinity());

  plan["buffers"][4].erase("data");
  plan["buffers"][4]["splat"] = "-inf";
  session = Session::load(writePlan(tempDir(), plan));
  session.setInput("x", f32({2, 2}, {1, 2, 3, 4}));
  session.setInput("labels", Tensor({3}, DType::I32));
  session.run();
  EXPECT_EQ(session.output("y").f32()[2],
            -std::numeric_limits<float>::infinity());
}

TEST(Session, InputChecks) {
  std::string dir = tempDir();
  Session session = Session::load(writePlan(dir, examplePlan()));
  EXPECT_EQ(KILN_ERROR_MESSAGE(
                session.setInput("x", f32({1, 2, 2}, {1, 2, 3, 4}))),
            "input 'x': expected 2x2xf32, got 1x2x2xf32");
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.setInput("labels", Tensor({3}, DType::F32))),
            "input 'labels': expected 3xi32, got 3xf32");
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.setInput("image", Tensor({1}, DType::F32))),
            "unknown input 'image' (valid: 'x', 'labels')");
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.output("z")),
            "unknown output 'z' (valid: 'y', 'total', 'weight', 'flat')");
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.parameter("b")),
            "unknown parameter 'b' (valid: 'w', 'h')");
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.setParameter("w", Tensor({5}, DType::F32))),
            "parameter 'w': expected 4xf32, got 5xf32");

  session.setInput("x", f32({2, 2}, {1, 2, 3, 4}));
  std::string message = KILN_ERROR_MESSAGE(session.run());
  EXPECT_NE(message.find("input 'labels' not set"), std::string::npos)
      << message;
}

// The pointer-taking entry points refuse null or short memory, wrong
// shapes and dtypes with an Error naming the tensor, and the session still
// runs afterwards.
TEST(Session, PointerArgumentChecks) {
  std::string dir = tempDir();
  Session session = Session::load(writePlan(dir, examplePlan()));
  std::vector<float> x = {1, 2, 3, 4};
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.setInput(
                "x", TensorView{nullptr, {2, 2}, DType::F32, 16})),
            "input 'x': tensor holds 16 bytes, 2x2xf32 needs 16");
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.bindInput(
                "x", TensorView{x.data(), {2, 2}, DType::F32, 12})),
            "input 'x': tensor holds 12 bytes, 2x2xf32 needs 16");
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.bindInput(
                "x", TensorView{x.data(), {4}, DType::F32, 16})),
            "input 'x': expected 2x2xf32, got 4xf32");
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.bindInput(
                "labels", TensorView{x.data(), {3}, DType::F32, 12})),
            "input 'labels': expected 3xi32, got 3xf32");
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.bindInput(
                "image", TensorView{x.data(), {2, 2}, DType::F32, 16})),
            "unknown input 'image' (valid: 'x', 'labels')");
  float y[4];
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.copyOutput("y", nullptr, sizeof y)),
            "output 'y': 16 bytes, the destination holds 16");
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.copyOutput("y", y, 8)),
            "output 'y': 16 bytes, the destination holds 8");
  std::string arena = KILN_ERROR_MESSAGE(session.setArena(nullptr, 1 << 20));
  EXPECT_NE(arena.find("the arena must be 64-byte aligned"), std::string::npos)
      << arena;

  session.bindInput("x", TensorView{x.data(), {2, 2}, DType::F32, 16});
  session.fillMissingInputs(1);
  session.run();
  session.copyOutput("y", y, sizeof y);
  EXPECT_EQ(y[3], 45.0f); // x + w + c: 4 + 1 + 40
}

TEST(Session, BoundInputsAreReadInPlace) {
  std::string dir = tempDir();
  Session session = Session::load(writePlan(dir, examplePlan()));
  session.prepare();
  std::vector<float> x = {1, 2, 3, 4};
  TensorView view{x.data(), {2, 2}, DType::F32, x.size() * sizeof(float)};
  session.bindInput("x", view);
  EXPECT_EQ(session.inputAddress("x"), x.data());
  session.setInput("labels", Tensor({3}, DType::I32));
  session.run();
  EXPECT_EQ(session.output("y").f32()[0], 12.0f);
  // Not copied: the next run sees the caller's change.
  x[0] = 101;
  session.run();
  EXPECT_EQ(session.output("y").f32()[0], 112.0f);
  EXPECT_EQ(x[0], 101.0f); // and never writes into it
  // setInput copies into the session's own storage again.
  session.setInput("x", f32({2, 2}, {1, 2, 3, 4}));
  EXPECT_NE(session.inputAddress("x"), x.data());
  x[0] = 7;
  session.run();
  EXPECT_EQ(session.output("y").f32()[0], 12.0f);
  // unbindInputs: the input reads its own storage and must be set again.
  session.bindInput("x", view);
  session.unbindInputs();
  EXPECT_NE(session.inputAddress("x"), x.data());
  std::string message = KILN_ERROR_MESSAGE(session.run());
  EXPECT_NE(message.find("input 'x' not set"), std::string::npos) << message;
  // Checked like setInput, and for alignment.
  TensorView wrong{x.data(), {4}, DType::F32, 16};
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.bindInput("x", wrong)),
            "input 'x': expected 2x2xf32, got 4xf32");
  TensorView odd{reinterpret_cast<const char *>(x.data()) + 1, {2, 2},
                 DType::F32, 16};
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.bindInput("x", odd)),
            "input 'x': the bound memory is not aligned to 4 bytes");
}

TEST(Session, FillMissingInputs) {
  std::string dir = tempDir();
  std::string plan = writePlan(dir, examplePlan());
  Session a = Session::load(plan);
  a.setInput("x", f32({2, 2}, {1, 2, 3, 4}));
  a.fillMissingInputs(9);
  a.run();
  EXPECT_EQ(a.output("y").f32()[0], 12.0f); // x kept

  // Labels in [0, classes) from Random(seed ^ hashName("labels")).
  Session b = Session::load(plan);
  b.fillMissingInputs(9);
  b.run();
  Random image(9 ^ hashName("x"));
  Tensor y = b.output("y");
  // y[i] = x[i] + 1 + c[i] with x ~ N(0, 1) drawn from the input's stream.
  EXPECT_FLOAT_EQ(y.f32()[0], image.normal(0, 1) + 1 + 10);
}

TEST(Session, RelativeLibraryIsNextToThePlan) {
  std::string dir = tempDir();
  std::filesystem::copy_file(KILN_TEST_KERNELS, dir + "/kernels.so");
  support::writeSum(dir + "/kernels.so");
  json plan = examplePlan();
  plan["library"] = "kernels.so";
  Session session = Session::load(writePlan(dir, plan));
  session.fillMissingInputs(0);
  session.run();
}

// A damaged library (truncated: mapping it would die with SIGBUS; or
// without its sidecar) is refused with an error, never loaded.
TEST(Session, DamagedLibraryIsRefused) {
  std::string dir = tempDir();
  std::string library = dir + "/kernels.so";
  std::filesystem::copy_file(KILN_TEST_KERNELS, library);
  support::writeSum(library);
  std::filesystem::resize_file(library, 1000);
  json plan = examplePlan();
  plan["library"] = "kernels.so";
  std::string path = writePlan(dir, plan);
  try {
    Session::load(path);
    FAIL() << "a truncated library was loaded";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("is damaged or unverified"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::copy_file(KILN_TEST_KERNELS, library,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove(library + ".sum");
  EXPECT_THROW(Session::load(path), Error);
}

TEST(Session, RandomLabelsUseClasses) {
  std::string dir = tempDir();
  // An output that is an input reads it back.
  json withOutput = examplePlan();
  withOutput["buffers"][8]["shape"] = {1000};
  withOutput["outputs"].push_back({{"name", "labels"}, {"buffer", 8}});
  Session s2 = Session::load(writePlan(dir, withOutput, "labels.json"));
  s2.fillMissingInputs(3);
  Tensor labels = s2.output("labels");
  Random random(3 ^ hashName("labels"));
  bool sawZero = false, sawFour = false;
  for (int i = 0; i < 1000; ++i) {
    int32_t label = labels.i32()[i];
    ASSERT_EQ(static_cast<uint64_t>(label), random.next() % 5);
    sawZero |= label == 0;
    sawFour |= label == 4;
  }
  EXPECT_TRUE(sawZero && sawFour);
}

TEST(Session, ParametersAreSeeded) {
  std::string dir = tempDir();
  std::string plan = writePlan(dir, examplePlan());
  SessionOptions options;
  options.seed = 5;
  Session a = Session::load(plan, options);
  Session b = Session::load(plan, options);
  options.seed = 6;
  Session c = Session::load(plan, options);
  Tensor ha = a.parameter("h");
  EXPECT_EQ(ha.bytes, b.parameter("h").bytes);
  EXPECT_NE(ha.bytes, c.parameter("h").bytes);
  InitSpec he;
  he.kind = "he_uniform";
  EXPECT_EQ(ha.bytes,
            initializeParameter("h", {8, 4}, DType::F32, he, 5).bytes);
}

TEST(Session, SaveAndLoadParameters) {
  std::string dir = tempDir();
  std::string plan = writePlan(dir, examplePlan());
  SessionOptions options;
  options.seed = 1;
  Session a = Session::load(plan, options);
  a.setParameter("w", f32({4}, {1, 2, 3, 4}));
  a.saveParameters(dir + "/params.safetensors");
  auto saved = readSafetensors(dir + "/params.safetensors");
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(saved["w"].f32()[3], 4.0f);

  options.seed = 2;
  Session b = Session::load(plan, options);
  EXPECT_TRUE(b.loadParameters(dir + "/params.safetensors").empty());
  EXPECT_EQ(b.parameter("w").bytes, saved["w"].bytes);
  EXPECT_EQ(b.parameter("h").bytes, a.parameter("h").bytes);

  Session c = Session::load(plan, options);
  Tensor hBefore = c.parameter("h");
  writeSafetensors(dir + "/w.safetensors", {{"w", f32({4}, {9, 9, 9, 9})}});
  // A partial file leaves the other parameters alone and names them.
  std::vector<std::string> absent = c.loadParameters(dir + "/w.safetensors");
  EXPECT_EQ(absent, std::vector<std::string>{"h"});
  EXPECT_EQ(absentParametersNote("w.safetensors", absent),
            "w.safetensors lacks 1 of the model's parameters, which keep "
            "their initial values: 'h'");
  EXPECT_EQ(absentParametersNote("p.safetensors", {}), "");
  EXPECT_EQ(c.parameter("w").f32()[2], 9.0f);
  EXPECT_EQ(c.parameter("h").bytes, hBefore.bytes);

  writeSafetensors(dir + "/bad.safetensors", {{"w", Tensor({2, 2}, DType::F32)}});
  std::string message =
      KILN_ERROR_MESSAGE(c.loadParameters(dir + "/bad.safetensors"));
  EXPECT_NE(message.find("parameter 'w': expected 4xf32, got 2x2xf32"),
            std::string::npos)
      << message;
  writeSafetensors(dir + "/unknown.safetensors", {{"q", Tensor({4}, DType::F32)}});
  message = KILN_ERROR_MESSAGE(c.loadParameters(dir + "/unknown.safetensors"));
  EXPECT_NE(message.find("'q' is not a parameter"), std::string::npos)
      << message;
  EXPECT_EQ(c.parameter("w").f32()[2], 9.0f);

  // A training checkpoint's optimizer state of a parameter is skipped by a
  // plan without it; a name that merely starts like a parameter is not.
  writeSafetensors(dir + "/checkpoint.safetensors",
                   {{"w", f32({4}, {5, 6, 7, 8})},
                    {"w.adam.exp_avg", Tensor({4}, DType::F32)}});
  c.loadParameters(dir + "/checkpoint.safetensors");
  EXPECT_EQ(c.parameter("w").f32()[0], 5.0f);
  writeSafetensors(dir + "/wx.safetensors", {{"wx", Tensor({4}, DType::F32)}});
  message = KILN_ERROR_MESSAGE(c.loadParameters(dir + "/wx.safetensors"));
  EXPECT_NE(message.find("'wx' is not a parameter"), std::string::npos)
      << message;
}

TEST(Session, KernelFailureNamesTheCall) {
  std::string dir = tempDir();
  json plan = examplePlan();
  plan["calls"].push_back(
      {{"kernel", "kiln_test_fail"}, {"op", "relu"}, {"args", {5, 3}}});
  std::string path = writePlan(dir, plan);
  Session session = Session::load(path);
  session.fillMissingInputs(0);
  EXPECT_EQ(KILN_ERROR_MESSAGE(session.run()),
            path + ": call 3 (kernel 'kiln_test_fail', op 'relu') failed "
                   "with status -1");

  // The fake add rejects 2-D buffers: the halide_buffer_t carried rank 2.
  json wrongRank = examplePlan();
  wrongRank["calls"][0]["args"] = {0, 0, 3};
  path = writePlan(dir, wrongRank, "rank.json");
  Session rank = Session::load(path);
  rank.fillMissingInputs(0);
  std::string message = KILN_ERROR_MESSAGE(rank.run());
  EXPECT_NE(message.find("call 0 (kernel 'kiln_test_add', op 'add') failed "
                         "with status -2"),
            std::string::npos)
      << message;
}

// Loading `plan` fails with a message containing `expected`.
void expectLoadError(const json &plan, const std::string &expected) {
  std::string dir = tempDir();
  std::string path = writePlan(dir, plan);
  std::string message = KILN_ERROR_MESSAGE(Session::load(path));
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find(expected), std::string::npos) << message;
}

TEST(Session, PlanErrors) {
  json plan = examplePlan();
  plan["library"] = "/nonexistent/kernels.so";
  expectLoadError(plan, "cannot load kernel library '/nonexistent/kernels.so'");

  plan = examplePlan();
  plan["calls"][2]["kernel"] = "kiln_missing";
  expectLoadError(plan, "calls[2]: kernel library '" KILN_TEST_KERNELS
                        "' lacks 'kiln_missing_argv'");

  plan = examplePlan();
  plan["version"] = "1";
  expectLoadError(plan, "version: expected an integer, got string");
  plan["version"] = 2;
  expectLoadError(plan, "unsupported plan version 2");

  plan = examplePlan();
  plan.erase("calls");
  expectLoadError(plan, "calls: missing");

  plan = examplePlan();
  plan["buffers"][3]["shape"][0] = "4";
  expectLoadError(plan, "buffers[3].shape[0]: expected an integer, got string");

  plan = examplePlan();
  plan["buffers"][2].erase("init");
  expectLoadError(plan, "buffers[2].init: missing");

  plan = examplePlan();
  plan["buffers"][2]["init"]["kind"] = "orthogonal";
  expectLoadError(plan, "buffers[2].init.kind: unknown initializer 'orthogonal'");

  plan = examplePlan();
  plan["buffers"][0]["dtype"] = "f16";
  expectLoadError(plan, "buffers[0].dtype: unsupported dtype 'f16'");

  plan = examplePlan();
  plan["buffers"][0]["kind"] = "weight";
  expectLoadError(plan, "buffers[0].kind: unknown kind 'weight'");

  plan = examplePlan();
  plan["buffers"][4]["data"] = {1, 2, 3};
  expectLoadError(plan, "buffers[4].data: has 3 values, shape needs 4");

  plan = examplePlan();
  plan["buffers"][4].erase("data");
  plan["buffers"][4]["splat"] = "ten";
  expectLoadError(plan, "buffers[4].splat: expected a number, \"inf\", "
                        "\"-inf\" or \"nan\", got \"ten\"");

  plan = examplePlan();
  plan["buffers"][4]["data"] = {1, 2, nullptr, 4};
  expectLoadError(plan, "buffers[4].data[2]: expected a number, \"inf\", "
                        "\"-inf\" or \"nan\", got null");

  plan = examplePlan();
  plan["buffers"][8]["kind"] = "const";
  plan["buffers"][8].erase("classes");
  plan["buffers"][8]["splat"] = int64_t{1} << 40;
  plan["inputs"] = {0};
  expectLoadError(plan, "buffers[8].splat: value out of i32 range");

  plan = examplePlan();
  plan["buffers"][1]["alias"] = 42;
  expectLoadError(plan, "buffers[1].alias: buffer index 42 out of range");

  plan = examplePlan();
  plan["buffers"][1]["shape"] = {5};
  expectLoadError(plan, "view 'xv' (5xf32) does not match 'x' (2x2xf32)");

  plan = examplePlan();
  plan["buffers"][6]["alias"] = 6;
  plan["buffers"][6]["shape"] = {2, 2};
  expectLoadError(plan, "alias cycle");

  plan = examplePlan();
  plan["inputs"] = {0, 3};
  expectLoadError(plan, "inputs[1]: buffer 3 ('%t') is not of kind input");

  plan = examplePlan();
  plan["outputs"][0]["buffer"] = -1;
  expectLoadError(plan, "outputs[0].buffer: buffer index -1 out of range");

  plan = examplePlan();
  plan["calls"][0]["args"] = {1, 2, "3"};
  expectLoadError(plan, "calls[0].args[2]: expected an integer, got string");

  plan = examplePlan();
  plan["calls"][0] = {1, 2, 3};
  expectLoadError(plan, "calls[0]: expected an object, got array");
}

TEST(Session, UnreadablePlans) {
  std::string dir = tempDir();
  std::string message = KILN_ERROR_MESSAGE(Session::load(dir + "/none.json"));
  EXPECT_NE(message.find(dir + "/none.json"), std::string::npos) << message;

  test::writeText(dir + "/bad.json", "{\"version\": 1,");
  message = KILN_ERROR_MESSAGE(Session::load(dir + "/bad.json"));
  EXPECT_NE(message.find(dir + "/bad.json: invalid JSON"), std::string::npos)
      << message;

  test::writeText(dir + "/array.json", "[]");
  EXPECT_THROW(Session::load(dir + "/array.json"), Error);
}

// plan.json may sit in a shared cache: sizes that overflow are refused at
// load, before they can shrink an arena slot or a Halide stride.
TEST(Session, PlanSizesAreChecked) {
  json plan = examplePlan();
  plan["arena_bytes"] = 64;
  plan["buffers"][3]["shape"] = {65536, 65536, 65536, 65536};
  plan["buffers"][3]["offset"] = 0;
  expectLoadError(plan, "buffers[3].shape: shape 65536x65536x65536x65536 is "
                        "too large (its size overflows 64 bits)");

  plan = examplePlan();
  plan["buffers"][4]["shape"] = {65536, 65536, 65536, 65536};
  plan["buffers"][4]["data"] = json::array();
  expectLoadError(plan, "buffers[4].shape: shape 65536x65536x65536x65536 is "
                        "too large");

  // offset + size overflows.
  plan = examplePlan();
  plan["arena_bytes"] = 64;
  plan["buffers"][3]["offset"] = INT64_MAX / 64 * 64;
  expectLoadError(plan, "does not fit in arena_bytes 64");
}

} // namespace
} // namespace kiln::runtime
