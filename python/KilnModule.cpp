//===- KilnModule.cpp - the kiln Python extension -------------------------===//
//
// `kiln._kiln`: compile a model (kiln::compiler::compileModel) and run it
// (kiln::runtime::Session) on NumPy arrays. The Python half
// (kiln/__init__.py) turns MLIR text, ONNX bytes and torch modules into
// files and wraps this module. docs/python.md.
//
//===----------------------------------------------------------------------===//
#include "Graph.h"
#include "kiln/compiler/Compiler.h"
#include "kiln/runtime/Runtime.h"
#include "kiln/runtime/Safetensors.h"
#include "kiln/runtime/Trainer.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <limits>
#include <chrono>
#include <map>
#include <memory>

namespace py = pybind11;
using kiln::runtime::DType;

namespace {

py::dtype numpyDType(DType dtype) {
  return dtype == DType::F32 ? py::dtype::of<float>() : py::dtype::of<int32_t>();
}

py::dict describe(const kiln::runtime::TensorInfo &info) {
  py::dict d;
  d["name"] = info.name;
  d["shape"] = py::tuple(py::cast(info.shape));
  d["dtype"] = kiln::runtime::dtypeName(info.dtype);
  return d;
}

// `array` converted to `dtype` (C order). Values an i32 tensor cannot hold
// (wider integers out of its range, fractional or non-finite floats) are
// an error naming `what` and the value, never wrapped or truncated.
py::array convertTo(py::array array, DType dtype, const std::string &what) {
  char kind = array.dtype().kind();
  if (dtype == DType::I32 && array.size() > 0 &&
      (kind == 'i' || kind == 'u' || kind == 'f') &&
      !(kind != 'f' && array.itemsize() <= 2) &&
      !(kind == 'i' && array.itemsize() == 4)) {
    auto limit = [&](const char *name, double bound) {
      double value = py::cast<double>(array.attr(name)());
      bool fits = std::string(name) == "min" ? value >= bound : value <= bound;
      if (!fits) { // NaN fails both
        throw kiln::runtime::Error(
            what + " holds " + py::str(array.attr(name)()).cast<std::string>() +
            ", which an i32 input cannot hold");
      }
    };
    limit("min", static_cast<double>(std::numeric_limits<int32_t>::min()));
    limit("max", static_cast<double>(std::numeric_limits<int32_t>::max()));
    if (kind == 'f' &&
        !py::cast<bool>(
            array.attr("__eq__")(py::module_::import("numpy").attr("floor")(
                    array)).attr("all")())) {
      throw kiln::runtime::Error(what + " holds fractional values; its i32 "
                                        "input takes integers");
    }
  }
  return array.attr("astype")(numpyDType(dtype), "C", "unsafe", true, false);
}

// A NumPy array as a runtime Tensor of `dtype` (copied).
kiln::runtime::Tensor toTensor(const py::handle &value, DType dtype,
                               const char *what) {
  py::array array = py::array::ensure(value, py::array::c_style |
                                                 py::array::forcecast);
  if (!array) {
    throw kiln::runtime::Error(std::string(what) +
                               " is not convertible to an array");
  }
  array = convertTo(array, dtype, what);
  kiln::runtime::Tensor t(
      std::vector<int64_t>(array.shape(), array.shape() + array.ndim()), dtype);
  std::copy_n(static_cast<const uint8_t *>(array.data()), t.bytes.size(),
              t.bytes.begin());
  return t;
}

py::array toArray(const kiln::runtime::Tensor &t) {
  py::array array(numpyDType(t.dtype), t.shape);
  std::copy(t.bytes.begin(), t.bytes.end(),
            static_cast<uint8_t *>(array.mutable_data()));
  return array;
}

// One compiled model and its session: a plan in memory, its kernels loaded.
class Model {
public:
  Model(const std::string &path, const kiln::compiler::CompileOptions &options,
        uint64_t seed)
      : path_(path), options_(options),
        compiled_(kiln::compiler::compileModel(path, options)),
        session_(load(compiled_, seed)) {
    session_.prepare();
  }

  py::list inputs() const { return infos(session_.inputs()); }
  py::list outputs() const { return infos(session_.outputs()); }
  py::list parameters() const { return infos(session_.parameters()); }
  bool cached() const { return compiled_.cached; }
  int kernels() const { return compiled_.kernels; }
  int calls() const { return compiled_.calls; }
  std::string pipeline() const { return compiled_.pipeline; }

  // `kiln inspect`: the graph after the pipeline (ops, their results and
  // labels, the IR text) and its counts.
  py::dict inspect() const {
    kiln::compiler::ModelSummary m;
    {
      py::gil_scoped_release release;
      m = kiln::compiler::summarizeModel(path_, options_);
    }
    py::list ops;
    for (const auto &op : m.nodes) {
      py::dict d;
      d["op"] = op.name;
      d["result"] = op.result;
      d["label"] = op.label;
      d["operands"] = op.operands;
      ops.append(d);
    }
    py::dict d;
    d["ops"] = ops;
    d["inputs"] = m.inputs;
    d["outputs"] = m.outputs;
    d["parameter_elements"] = m.parameterCount;
    d["kernel_ops"] = m.kernelOps;
    d["view_ops"] = m.viewOps;
    d["params"] = m.params;
    d["load_time_ops"] = m.loadTimeOps;
    d["ir"] = m.ir;
    return d;
  }

  // `kiln inspect --memory --json`: the memory plan as JSON text.
  std::string memory() const {
    py::gil_scoped_release release;
    return kiln::compiler::memoryReportJson(
        kiln::compiler::planMemoryReport(path_, options_));
  }

  // `--dump-kernels DIR`: compiles the kernels again, writing each one's
  // Halide .stmt and assembly into `dir`.
  void dumpKernels(const std::string &dir) const {
    py::gil_scoped_release release;
    kiln::compiler::CompileOptions o = options_;
    o.dumpDir = dir;
    kiln::compiler::compileModel(path_, o);
  }

  // Binds every input (by position, then by name: each once), runs with the
  // GIL released, and returns the outputs by name: new arrays, or the
  // caller's arrays in `into` ({name: array}; each of the output's shape
  // and dtype, C-contiguous and writeable), which receive the output with
  // one copy and no allocation. An array already of the input's dtype,
  // C-contiguous and aligned is read in place (Session::bindInput, no copy)
  // and unbound after the run; others are converted, then copied once.
  py::dict call(const py::tuple &args, const py::dict &kwargs,
                const py::dict &into) {
    const auto &outs = session_.outputs();
    std::vector<py::object> dests(outs.size());
    for (auto item : into) {
      std::string name = py::cast<std::string>(item.first);
      auto it = std::find_if(outs.begin(), outs.end(), [&](const auto &info) {
        return info.name == name;
      });
      if (it == outs.end()) {
        throw kiln::runtime::Error("out: the model has no output '" + name +
                                   "'");
      }
      dests[static_cast<size_t>(it - outs.begin())] =
          destination(*it, item.second);
    }
    const auto &ins = session_.inputs();
    if (args.size() > ins.size()) {
      throw kiln::runtime::Error(
          "the model takes " + std::to_string(ins.size()) + " inputs, got " +
          std::to_string(args.size()) + " positional arrays");
    }
    std::vector<bool> bound(ins.size(), false);
    // Arrays converted to the input's dtype, C-contiguous; kept alive until
    // run() has read them.
    std::vector<py::array> keep;
    auto bind = [&](size_t i, const py::handle &value) {
      if (bound[i]) {
        throw kiln::runtime::Error("input '" + ins[i].name +
                                   "' given twice");
      }
      py::array array = py::array::ensure(
          value, py::array::c_style | py::array::forcecast);
      if (!array) {
        throw kiln::runtime::Error("input '" + ins[i].name +
                                   "' is not convertible to an array");
      }
      bool inPlace = array.dtype().is(numpyDType(ins[i].dtype)) &&
                     (array.flags() & py::array::c_style) &&
                     (array.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_);
      if (!inPlace) {
        array = convertTo(array, ins[i].dtype, "input '" + ins[i].name + "'");
      }
      std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
      kiln::runtime::TensorView view{array.data(), shape, ins[i].dtype,
                                     static_cast<size_t>(array.nbytes())};
      if (inPlace) {
        session_.bindInput(ins[i].name, view);
      } else {
        session_.setInput(ins[i].name, view);
      }
      keep.push_back(array);
      bound[i] = true;
    };
    try {
      for (size_t i = 0; i < args.size(); ++i) {
        bind(i, args[i]);
      }
      for (auto item : kwargs) {
        std::string name = py::cast<std::string>(item.first);
        auto it = std::find_if(ins.begin(), ins.end(), [&](const auto &info) {
          return info.name == name;
        });
        if (it == ins.end()) {
          throw kiln::runtime::Error("the model has no input '" + name + "'");
        }
        bind(static_cast<size_t>(it - ins.begin()), item.second);
      }
      for (size_t i = 0; i < ins.size(); ++i) {
        if (!bound[i]) {
          throw kiln::runtime::Error("input '" + ins[i].name + "' is missing");
        }
      }
    } catch (...) {
      session_.unbindInputs(); // no binding outlives `keep`'s arrays
      throw;
    }
    {
      py::gil_scoped_release release;
      try {
        session_.run();
      } catch (...) {
        session_.unbindInputs();
        throw;
      }
      session_.unbindInputs(); // `keep` lets go of the arrays next
    }
    py::dict out;
    for (size_t i = 0; i < outs.size(); ++i) {
      const auto &info = outs[i];
      py::array array = dests[i] ? py::array(dests[i])
                                 : py::array(numpyDType(info.dtype), info.shape);
      session_.copyOutput(info.name, array.mutable_data(),
                          static_cast<size_t>(array.nbytes()));
      out[py::str(info.name)] = array;
    }
    return out;
  }

  // A caller's array for output `info`, checked before the run.
  static py::object destination(const kiln::runtime::TensorInfo &info,
                                const py::handle &value) {
    std::string what = "out['" + info.name + "']";
    if (!py::isinstance<py::array>(value)) {
      throw kiln::runtime::Error(what + " is not a NumPy array");
    }
    py::array array = py::reinterpret_borrow<py::array>(value);
    std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
    if (!array.dtype().is(numpyDType(info.dtype)) || shape != info.shape) {
      throw kiln::runtime::Error(
          what + " must be " + kiln::runtime::Tensor(info.shape, info.dtype)
                                   .shapeString() +
          ", got " + py::str(array.dtype()).cast<std::string>() + " of shape " +
          py::str(array.attr("shape")).cast<std::string>());
    }
    if (!(array.flags() & py::array::c_style) || !array.writeable()) {
      throw kiln::runtime::Error(what +
                                 " must be C-contiguous and writeable");
    }
    return py::reinterpret_borrow<py::object>(value);
  }

  // Times `runs` runs on the bound inputs (random ones where none were
  // bound), after one warm-up run; milliseconds.
  py::dict bench(int runs) {
    if (runs < 1) {
      throw kiln::runtime::Error("runs must be >= 1, got " +
                                 std::to_string(runs));
    }
    std::vector<double> ms;
    {
      py::gil_scoped_release release;
      session_.fillMissingInputs(0);
      session_.run();
      for (int i = 0; i < runs; ++i) {
        auto start = std::chrono::steady_clock::now();
        session_.run();
        ms.push_back(std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - start)
                         .count());
      }
    }
    std::sort(ms.begin(), ms.end());
    py::dict d;
    d["median_ms"] = ms[ms.size() / 2];
    d["min_ms"] = ms.front();
    d["runs"] = runs;
    return d;
  }

  py::array parameter(const std::string &name) const {
    return toArray(session_.parameter(name));
  }

  void setParameter(const std::string &name, const py::array &value) {
    const auto &params = session_.parameters();
    auto it = std::find_if(params.begin(), params.end(),
                           [&](const auto &info) { return info.name == name; });
    if (it == params.end()) {
      throw kiln::runtime::Error("the model has no parameter '" + name + "'");
    }
    kiln::runtime::Tensor t = toTensor(value, it->dtype, "parameter");
    session_.setParameter(name, t);
  }

  // Where the next run reads input `name` (for tests of zero-copy binding).
  uintptr_t inputAddress(const std::string &name) const {
    return reinterpret_cast<uintptr_t>(session_.inputAddress(name));
  }

  std::vector<std::string> loadWeights(const std::string &path) {
    return session_.loadParameters(path);
  }
  void saveWeights(const std::string &path) const {
    session_.saveParameters(path);
  }

private:
  static kiln::runtime::Session load(const kiln::compiler::CompiledModel &c,
                                     uint64_t seed) {
    kiln::runtime::SessionOptions options;
    options.seed = seed;
    return kiln::runtime::Session::load(*c.plan, options);
  }

  static py::list infos(const std::vector<kiln::runtime::TensorInfo> &v) {
    py::list list;
    for (const auto &info : v) {
      list.append(describe(info));
    }
    return list;
  }

  std::string path_;
  kiln::compiler::CompileOptions options_;
  kiln::compiler::CompiledModel compiled_;
  kiln::runtime::Session session_;
};

// The options the Python entry points share with `kiln run`'s flags.
kiln::compiler::CompileOptions compileOptions(const std::string &target,
                                              bool fusion, int winograd,
                                              const std::string &cacheDir) {
  kiln::compiler::CompileOptions o;
  o.target = target;
  o.fusion = fusion;
  o.winogradTile = winograd;
  o.cacheDir = cacheDir;
  return o;
}

// kiln-fuse's patterns by name (kiln.compile's and Trainer's `fuse=`:
// {"epilogue": False, ...}), as kiln's --no-*-fusion flags.
void applyFusion(kiln::compiler::CompileOptions &o, const py::dict &fuse) {
  static const std::map<std::string, bool kiln::compiler::CompileOptions::*>
      patterns = {
          {"epilogue", &kiln::compiler::CompileOptions::fuseEpilogues},
          {"elementwise", &kiln::compiler::CompileOptions::fuseElementwise},
          {"prologue", &kiln::compiler::CompileOptions::fusePrologues},
          {"producer", &kiln::compiler::CompileOptions::fuseProducers},
          {"projection", &kiln::compiler::CompileOptions::fuseProjections},
          {"attention", &kiln::compiler::CompileOptions::fuseAttention},
          {"sinks", &kiln::compiler::CompileOptions::fuseSinks},
          {"recompute", &kiln::compiler::CompileOptions::fuseRecompute},
          {"pool", &kiln::compiler::CompileOptions::fusePools},
          {"recompute_conv",
           &kiln::compiler::CompileOptions::fuseRecomputeConv},
      };
  for (auto item : fuse) {
    std::string name = py::cast<std::string>(item.first);
    auto it = patterns.find(name);
    if (it == patterns.end()) {
      throw kiln::runtime::Error(
          "fuse: unknown pattern '" + name +
          "' (epilogue, elementwise, prologue, producer, projection, "
          "attention, sinks, recompute, pool, recompute_conv)");
    }
    o.*(it->second) = py::cast<bool>(item.second);
  }
}

// An optimizer's hyperparameters by kiln train's flag names (kiln.optim:
// {"beta1": 0.9, "clip_norm": 1.0, ...}) and memory_budget.
void applyHyper(kiln::compiler::TrainingOptions &t, const py::dict &hyper) {
  static const std::map<std::string, double kiln::compiler::TrainingOptions::*>
      fields = {
          {"momentum", &kiln::compiler::TrainingOptions::momentum},
          {"dampening", &kiln::compiler::TrainingOptions::dampening},
          {"beta1", &kiln::compiler::TrainingOptions::beta1},
          {"beta2", &kiln::compiler::TrainingOptions::beta2},
          {"eps", &kiln::compiler::TrainingOptions::epsilon},
          {"rho", &kiln::compiler::TrainingOptions::rho},
          {"alpha", &kiln::compiler::TrainingOptions::alpha},
          {"lr_decay", &kiln::compiler::TrainingOptions::lrDecay},
          {"weight_decay", &kiln::compiler::TrainingOptions::weightDecay},
          {"clip_value", &kiln::compiler::TrainingOptions::clipValue},
          {"clip_norm", &kiln::compiler::TrainingOptions::clipNorm},
      };
  for (auto item : hyper) {
    std::string name = py::cast<std::string>(item.first);
    if (name == "memory_budget") {
      t.memoryBudget = py::cast<int64_t>(item.second);
      continue;
    }
    auto it = fields.find(name);
    if (it == fields.end()) {
      throw kiln::runtime::Error("unknown training option '" + name + "'");
    }
    t.*(it->second) = py::cast<double>(item.second);
  }
}

// x [N, ...] as f32; y [N] as i32 class labels when integral, else f32.
kiln::runtime::Dataset toDataset(const py::handle &x, const py::handle &y) {
  kiln::runtime::Dataset d;
  d.x = toTensor(x, DType::F32, "x");
  py::array ya = py::array::ensure(y);
  bool labels = ya && py::str(ya.dtype().attr("kind")).cast<std::string>()
                              .find_first_of("iub") != std::string::npos;
  d.y = toTensor(y, labels ? DType::I32 : DType::F32, "y");
  if (d.x.shape.empty() || d.y.shape.empty() || d.x.shape[0] != d.y.shape[0]) {
    throw kiln::runtime::Error("x and y need the same number of rows, got " +
                               d.x.shapeString() + " and " +
                               d.y.shapeString());
  }
  return d;
}

// Trainer.train_step: the training step compiled at one batch size, its
// session (parameters and optimizer slots) kept between calls. A step
// sets the inputs as kiln::runtime::train does: the batch, "target", and
// where the plan has them "lr", "step" (1-based, global) and "seed"
// (runtime::stepSeed).
class TrainStepper {
public:
  TrainStepper(const std::string &path, kiln::compiler::CompileOptions compile,
               const kiln::compiler::TrainingOptions &training, int64_t batch,
               uint64_t seed, const std::string &load)
      : seed_(seed) {
    compile.mode = kiln::compiler::Mode::Train;
    compile.training = training;
    compile.batch = batch;
    kiln::runtime::SessionOptions options;
    options.seed = seed;
    auto plan = kiln::compiler::compileModel(path, compile).plan;
    session_ = std::make_unique<kiln::runtime::Session>(
        kiln::runtime::Session::load(*plan, options));
    session_->prepare();
    if (!load.empty()) {
      session_->loadParameters(load);
    }
    for (const auto &info : session_->inputs()) {
      if (info.name != "target" && info.name != "lr" && info.name != "step" &&
          info.name != "seed") {
        if (!modelInput_.empty()) {
          throw kiln::runtime::Error(
              "train_step: the model has several inputs ('" + modelInput_ +
              "', '" + info.name + "'); use fit");
        }
        modelInput_ = info.name;
      }
    }
  }

  double step(const py::handle &x, const py::handle &y, double lr,
              int64_t step) {
    const auto &ins = session_->inputs();
    auto info = [&](const std::string &name) -> const kiln::runtime::TensorInfo * {
      for (const auto &i : ins) {
        if (i.name == name) {
          return &i;
        }
      }
      return nullptr;
    };
    session_->setInput(modelInput_, toTensor(x, info(modelInput_)->dtype, "x"));
    session_->setInput("target", toTensor(y, info("target")->dtype, "y"));
    kiln::runtime::setScalarInputIfPresent(*session_, "lr", lr);
    kiln::runtime::setScalarInputIfPresent(*session_, "step",
                                           static_cast<double>(step));
    kiln::runtime::setScalarInputIfPresent(
        *session_, "seed", kiln::runtime::stepSeed(seed_, step));
    {
      py::gil_scoped_release release;
      session_->run();
    }
    return session_->output("loss").f32()[0];
  }

  // Every parameter and optimizer slot, for the checkpoint.
  py::dict state() const {
    py::dict d;
    for (const auto &info : session_->parameters()) {
      d[py::str(info.name)] = toArray(session_->parameter(info.name));
    }
    return d;
  }

private:
  uint64_t seed_;
  std::unique_ptr<kiln::runtime::Session> session_;
  std::string modelInput_;
};

// One training run of kiln::runtime::train on arrays: the plans for the
// batch and its remainders compiled from `path`, then the loop. Returns
// {"epochs": [per-epoch metrics], "test_loss", "test_accuracy", "steps",
// "seconds_per_step", "stopped_early"}.
py::dict train(const std::string &path, const py::handle &x,
               const py::handle &y, const py::object &xTest,
               const py::object &yTest,
               kiln::compiler::CompileOptions compile,
               kiln::compiler::TrainingOptions training,
               kiln::runtime::TrainerOptions options) {
  kiln::runtime::DataSplits data;
  data.train = toDataset(x, y);
  if (!xTest.is_none()) {
    data.test = toDataset(xTest, yTest);
  }
  kiln::runtime::TrainResult result;
  {
    py::gil_scoped_release release;
    auto compileFor = [&](bool train, int64_t batch) {
      kiln::compiler::CompileOptions o = compile;
      o.mode = train ? kiln::compiler::Mode::Train : kiln::compiler::Mode::Eval;
      o.training = training;
      o.batch = batch;
      return kiln::compiler::compileModel(path, o).plan;
    };
    result = kiln::runtime::train(
        kiln::runtime::compileTrainingPlans(data, options, compileFor), data,
        options);
  }
  py::list epochs;
  auto metric = [](double v) { return v < 0 ? py::object(py::none()) : py::float_(v); };
  for (const auto &e : result.epochs) {
    py::dict d;
    d["epoch"] = e.epoch;
    d["loss"] = e.trainLoss;
    d["accuracy"] = metric(e.trainAccuracy);
    d["val_loss"] = metric(e.valLoss);
    d["val_accuracy"] = metric(e.valAccuracy);
    d["test_loss"] = metric(e.testLoss);
    d["test_accuracy"] = metric(e.testAccuracy);
    d["seconds"] = e.seconds;
    epochs.append(d);
  }
  py::dict out;
  out["epochs"] = epochs;
  out["test_loss"] = result.testLoss ? py::object(py::float_(*result.testLoss))
                                     : py::object(py::none());
  out["test_accuracy"] = result.testAccuracy
                             ? py::object(py::float_(*result.testAccuracy))
                             : py::object(py::none());
  out["steps"] = result.steps;
  out["seconds_per_step"] = result.secondsPerStep;
  out["stopped_early"] = result.stoppedEarly;
  out["interrupted"] = result.interrupted;
  return out;
}

} // namespace

PYBIND11_MODULE(_kiln, m) {
  m.doc() = "kiln's compiler and runtime (see the kiln package)";
  static py::exception<std::runtime_error> error(m, "Error",
                                                 PyExc_RuntimeError);
  // kiln's errors (runtime, compiler, codegen: all std::runtime_error) keep
  // their messages as kiln.Error. Module-local: pybind11's global
  // translators would also catch the errors of other extensions (PyTorch's).
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) {
        std::rethrow_exception(p);
      }
    } catch (const std::runtime_error &e) {
      error(e.what());
    }
  });

  m.def("version", &kiln::compiler::versionText,
        "kiln's, MLIR's and Halide's versions and the host target");
  m.def("default_cache_dir", &kiln::compiler::defaultCacheDir);
  m.def("default_learning_rate", &kiln::runtime::defaultLearningRate);
  m.def("absent_parameters_note", &kiln::runtime::absentParametersNote,
        py::arg("path"), py::arg("absent"));
  m.def("read_safetensors", [](const std::string &path) {
    py::dict d;
    for (const auto &[name, tensor] : kiln::runtime::readSafetensors(path)) {
      d[py::str(name)] = toArray(tensor);
    }
    return d;
  }, py::arg("path"));
  m.def("read_safetensors_metadata", [](const std::string &path) {
    return kiln::runtime::readSafetensorsMetadata(path);
  }, py::arg("path"));
  m.def("write_safetensors", [](const std::string &path, const py::dict &d,
                                const std::map<std::string, std::string> &meta) {
    std::map<std::string, kiln::runtime::Tensor> tensors;
    for (auto item : d) {
      std::string name = py::cast<std::string>(item.first);
      py::array a = py::array::ensure(item.second);
      bool integral = a && py::str(a.dtype().attr("kind")).cast<std::string>()
                                   .find_first_of("iub") != std::string::npos;
      tensors[name] = toTensor(item.second, integral ? DType::I32 : DType::F32,
                               name.c_str());
    }
    kiln::runtime::writeSafetensors(path, tensors, meta);
  }, py::arg("path"), py::arg("tensors"),
     py::arg("metadata") = std::map<std::string, std::string>());
  m.def("load_data", [](const std::string &spec) {
    kiln::runtime::DataSplits data = kiln::runtime::loadData(spec);
    py::tuple train = py::make_tuple(toArray(data.train.x), toArray(data.train.y));
    if (!data.test) {
      return py::make_tuple(train, py::none());
    }
    return py::make_tuple(
        train, py::make_tuple(toArray(data.test->x), toArray(data.test->y)));
  }, py::arg("spec"));
  m.def(
      "train",
      [](const std::string &path, const py::handle &x, const py::handle &y,
         const py::object &xTest, const py::object &yTest,
         const std::string &loss, const std::string &optimizer, double lr,
         double momentum, double weightDecay, int64_t epochs,
         int64_t initialEpoch, int64_t batch, double validationSplit,
         bool shuffle, uint64_t seed, const std::string &save,
         const std::string &load, bool progress, int64_t patience,
         const std::string &target, bool fusion, int winograd,
         const std::string &cacheDir, double l1, double l2,
         const py::dict &fuse, const py::dict &hyper) {
        kiln::compiler::CompileOptions compile =
            compileOptions(target, fusion, winograd, cacheDir);
        kiln::compiler::TrainingOptions training;
        training.loss = loss;
        training.optimizer = optimizer;
        training.momentum = momentum;
        training.weightDecay = weightDecay;
        training.l1 = l1;
        training.l2 = l2;
        applyHyper(training, hyper);
        applyFusion(compile, fuse);
        kiln::runtime::TrainerOptions options;
        options.epochs = initialEpoch + epochs;
        options.batch = batch;
        options.lr = lr > 0 ? lr : kiln::runtime::defaultLearningRate(optimizer);
        options.validationSplit = validationSplit;
        options.shuffle = shuffle;
        options.seed = seed;
        options.savePath = save;
        options.loadPath = load;
        options.progress = progress;
        options.patience = patience;
        kiln::runtime::checkTrainerOptions(options);
        return train(path, x, y, xTest, yTest, compile, training, options);
      },
      py::arg("path"), py::arg("x"), py::arg("y"), py::arg("x_test"),
      py::arg("y_test"), py::arg("loss"), py::arg("optimizer"), py::arg("lr"),
      py::arg("momentum"), py::arg("weight_decay"), py::arg("epochs"),
      py::arg("initial_epoch"), py::arg("batch"), py::arg("validation_split"),
      py::arg("shuffle"), py::arg("seed"), py::arg("save"), py::arg("load"),
      py::arg("progress"), py::arg("patience"), py::arg("target"),
      py::arg("fusion"), py::arg("winograd"), py::arg("cache_dir"),
      py::arg("l1") = 0.0, py::arg("l2") = 0.0, py::arg("fuse") = py::dict(),
      py::arg("hyper") = py::dict());

  py::class_<TrainStepper>(m, "TrainStepper")
      .def(py::init([](const std::string &path, int64_t batch,
                       const std::string &loss, const std::string &optimizer,
                       double l1, double l2, const py::dict &hyper,
                       const std::string &target, bool fusion, int winograd,
                       const std::string &cacheDir, const py::dict &fuse,
                       uint64_t seed, const std::string &load) {
             kiln::compiler::CompileOptions compile =
                 compileOptions(target, fusion, winograd, cacheDir);
             applyFusion(compile, fuse);
             kiln::compiler::TrainingOptions training;
             training.loss = loss;
             training.optimizer = optimizer;
             training.l1 = l1;
             training.l2 = l2;
             applyHyper(training, hyper);
             py::gil_scoped_release release;
             return std::make_unique<TrainStepper>(path, compile, training,
                                                   batch, seed, load);
           }),
           py::arg("path"), py::arg("batch"), py::arg("loss"),
           py::arg("optimizer"), py::arg("l1"), py::arg("l2"),
           py::arg("hyper"), py::arg("target"), py::arg("fusion"),
           py::arg("winograd"), py::arg("cache_dir"), py::arg("fuse"),
           py::arg("seed"), py::arg("load"))
      .def("step", &TrainStepper::step, py::arg("x"), py::arg("y"),
           py::arg("lr"), py::arg("step"))
      .def("state", &TrainStepper::state);

  // kiln.Graph's builder (python/Graph.h); tensors are indices.
  using kiln::python::ConvSpec;
  using kiln::python::Graph;
  using kiln::python::PoolSpec;
  auto pool = [](std::array<int64_t, 2> kernel, std::vector<int64_t> strides,
                 std::vector<int64_t> pads, bool ceil, bool countIncludePad) {
    PoolSpec s;
    s.kernel = kernel;
    s.strides = std::move(strides);
    s.pads = std::move(pads);
    s.ceilMode = ceil;
    s.countIncludePad = countIncludePad;
    return s;
  };
  py::class_<Graph>(m, "GraphBuilder")
      .def(py::init<>())
      .def("input", &Graph::input, py::arg("name"), py::arg("shape"),
           py::arg("dtype"))
      .def("output", &Graph::output, py::arg("name"), py::arg("value"))
      .def("finish", &Graph::finish)
      .def("shape", &Graph::shape, py::arg("value"))
      .def("dense", &Graph::dense, py::arg("x"), py::arg("units"),
           py::arg("name"), py::arg("bias"))
      .def("conv2d",
           [](Graph &g, int x, int64_t channels, std::array<int64_t, 2> kernel,
              std::vector<int64_t> strides, std::vector<int64_t> pads,
              std::vector<int64_t> dilations, int64_t groups, bool bias,
              const std::string &paddingMode, const std::string &name) {
             ConvSpec s;
             s.kernel = kernel;
             s.strides = std::move(strides);
             s.pads = std::move(pads);
             s.dilations = std::move(dilations);
             s.groups = groups;
             s.bias = bias;
             s.paddingMode = paddingMode;
             return g.conv2d(x, channels, s, name);
           },
           py::arg("x"), py::arg("channels"), py::arg("kernel"),
           py::arg("strides"), py::arg("pads"), py::arg("dilations"),
           py::arg("groups"), py::arg("bias"), py::arg("padding_mode"),
           py::arg("name"))
      .def("batch_norm", &Graph::batchNorm, py::arg("x"), py::arg("name"),
           py::arg("epsilon"), py::arg("momentum"))
      .def("layer_norm", &Graph::layerNorm, py::arg("x"), py::arg("name"),
           py::arg("axis"), py::arg("epsilon"))
      .def("prelu", &Graph::prelu, py::arg("x"), py::arg("name"),
           py::arg("channels"))
      .def("activation", &Graph::activation, py::arg("x"), py::arg("kind"),
           py::arg("a") = 0.0, py::arg("b") = 0.0,
           py::arg("approximate") = "none")
      .def("max_pool2d",
           [pool](Graph &g, int x, std::array<int64_t, 2> kernel,
                  std::vector<int64_t> strides, std::vector<int64_t> pads,
                  bool ceil) {
             return g.maxPool2d(x, pool(kernel, strides, pads, ceil, true));
           },
           py::arg("x"), py::arg("kernel"), py::arg("strides"),
           py::arg("pads"), py::arg("ceil_mode"))
      .def("avg_pool2d",
           [pool](Graph &g, int x, std::array<int64_t, 2> kernel,
                  std::vector<int64_t> strides, std::vector<int64_t> pads,
                  bool ceil, bool countIncludePad) {
             return g.avgPool2d(
                 x, pool(kernel, strides, pads, ceil, countIncludePad));
           },
           py::arg("x"), py::arg("kernel"), py::arg("strides"),
           py::arg("pads"), py::arg("ceil_mode"),
           py::arg("count_include_pad"))
      .def("global_avg_pool", &Graph::globalAvgPool, py::arg("x"))
      .def("flatten", &Graph::flatten, py::arg("x"), py::arg("axis"))
      .def("reshape", &Graph::reshape, py::arg("x"), py::arg("shape"))
      .def("dropout", &Graph::dropout, py::arg("x"), py::arg("rate"))
      .def("binary", &Graph::binary, py::arg("kind"), py::arg("lhs"),
           py::arg("rhs"))
      .def("concat", &Graph::concat, py::arg("values"), py::arg("axis"));

  py::class_<Model>(m, "Model")
      .def(py::init([](const std::string &path, int64_t batch,
                       const std::string &target, bool fusion,
                       bool foldBatchNorm, int winograd, bool weightPacking,
                       bool batchSplit, const std::string &cacheDir,
                       uint64_t seed, const py::dict &fuse,
                       const std::string &layout,
                       const std::string &schedule) {
             kiln::compiler::CompileOptions o =
                 compileOptions(target, fusion, winograd, cacheDir);
             applyFusion(o, fuse);
             o.batch = batch;
             o.foldBatchNorm = foldBatchNorm;
             o.packWeights = weightPacking;
             o.splitBatch = batchSplit;
             o.layout = layout;
             o.schedule = schedule;
             py::gil_scoped_release release;
             return std::make_unique<Model>(path, o, seed);
           }),
           py::arg("path"), py::arg("batch") = 0, py::arg("target") = "host",
           py::arg("fusion") = true, py::arg("fold_batch_norm") = true,
           py::arg("winograd") = -1, py::arg("weight_packing") = true,
           py::arg("batch_split") = true, py::arg("cache_dir") = "",
           py::arg("seed") = 0, py::arg("fuse") = py::dict(),
           py::arg("layout") = "nchw16c", py::arg("schedule") = "hand")
      .def_property_readonly("inputs", &Model::inputs)
      .def_property_readonly("outputs", &Model::outputs)
      .def_property_readonly("parameters", &Model::parameters)
      .def_property_readonly("cached", &Model::cached)
      .def_property_readonly("kernels", &Model::kernels)
      .def_property_readonly("calls", &Model::calls)
      .def_property_readonly("pipeline", &Model::pipeline)
      .def("run", &Model::call, py::arg("arrays"), py::arg("named"),
           py::arg("into"))
      .def("bench", &Model::bench, py::arg("runs") = 50)
      .def("inspect", &Model::inspect)
      .def("memory", &Model::memory)
      .def("dump_kernels", &Model::dumpKernels, py::arg("dir"))
      .def("parameter", &Model::parameter, py::arg("name"))
      .def("set_parameter", &Model::setParameter, py::arg("name"),
           py::arg("value"))
      .def("input_address", &Model::inputAddress, py::arg("name"))
      .def("load_weights", &Model::loadWeights, py::arg("path"))
      .def("save_weights", &Model::saveWeights, py::arg("path"));
}
