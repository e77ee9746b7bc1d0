//===- KilnModule.cpp - the kiln Python extension -------------------------===//
//
// `kiln._kiln`: compile a model (kiln::compiler::compileModel) and run it
// (kiln::runtime::Session) on NumPy arrays. The Python half
// (kiln/__init__.py) turns MLIR text, ONNX bytes and torch modules into
// files and wraps this module. docs/python.md.
//
//===----------------------------------------------------------------------===//
#include "kiln/compiler/Compiler.h"
#include "kiln/runtime/Runtime.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
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

// One compiled model and its session: a plan in memory, its kernels loaded.
class Model {
public:
  Model(const std::string &path, const kiln::compiler::CompileOptions &options,
        uint64_t seed)
      : compiled_(kiln::compiler::compileModel(path, options)),
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

  // Binds every input (by position, then by name: each once), runs with the
  // GIL released, and returns the outputs by name, as new arrays.
  py::dict call(const py::args &args, const py::kwargs &kwargs) {
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
      array = array.attr("astype")(numpyDType(ins[i].dtype), "C", "unsafe",
                                   true, false);
      std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
      session_.setInput(ins[i].name,
                        kiln::runtime::TensorView{
                            array.data(), shape, ins[i].dtype,
                            static_cast<size_t>(array.nbytes())});
      keep.push_back(array);
      bound[i] = true;
    };
    for (size_t i = 0; i < args.size(); ++i) {
      bind(i, args[i]);
    }
    for (auto item : kwargs) {
      std::string name = py::cast<std::string>(item.first);
      auto it = std::find_if(ins.begin(), ins.end(),
                             [&](const auto &info) { return info.name == name; });
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
    {
      py::gil_scoped_release release;
      session_.run();
    }
    py::dict out;
    for (const auto &info : session_.outputs()) {
      py::array array(numpyDType(info.dtype), info.shape);
      session_.copyOutput(info.name, array.mutable_data(),
                          static_cast<size_t>(array.nbytes()));
      out[py::str(info.name)] = array;
    }
    return out;
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
    kiln::runtime::Tensor t = session_.parameter(name);
    py::array array(numpyDType(t.dtype), t.shape);
    std::copy(t.bytes.begin(), t.bytes.end(),
              static_cast<uint8_t *>(array.mutable_data()));
    return array;
  }

  void setParameter(const std::string &name, const py::array &value) {
    const auto &params = session_.parameters();
    auto it = std::find_if(params.begin(), params.end(),
                           [&](const auto &info) { return info.name == name; });
    if (it == params.end()) {
      throw kiln::runtime::Error("the model has no parameter '" + name + "'");
    }
    py::array array = value.attr("astype")(numpyDType(it->dtype), "C",
                                           "unsafe", true, false);
    kiln::runtime::Tensor t(
        std::vector<int64_t>(array.shape(), array.shape() + array.ndim()),
        it->dtype);
    if (t.bytes.size() != static_cast<size_t>(array.nbytes())) {
      throw kiln::runtime::Error("parameter '" + name + "': bad size");
    }
    std::copy_n(static_cast<const uint8_t *>(array.data()), t.bytes.size(),
                t.bytes.begin());
    session_.setParameter(name, t);
  }

  void loadWeights(const std::string &path) { session_.loadParameters(path); }
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

  kiln::compiler::CompiledModel compiled_;
  kiln::runtime::Session session_;
};

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

  py::class_<Model>(m, "Model")
      .def(py::init([](const std::string &path, int64_t batch,
                       const std::string &target, bool fusion,
                       bool foldBatchNorm, int winograd, bool weightPacking,
                       const std::string &cacheDir, uint64_t seed) {
             kiln::compiler::CompileOptions o;
             o.batch = batch;
             o.target = target;
             o.fusion = fusion;
             o.foldBatchNorm = foldBatchNorm;
             o.winogradTile = winograd;
             o.packWeights = weightPacking;
             o.cacheDir = cacheDir;
             py::gil_scoped_release release;
             return std::make_unique<Model>(path, o, seed);
           }),
           py::arg("path"), py::arg("batch") = 0, py::arg("target") = "host",
           py::arg("fusion") = true, py::arg("fold_batch_norm") = true,
           py::arg("winograd") = -1, py::arg("weight_packing") = true,
           py::arg("cache_dir") = "", py::arg("seed") = 0)
      .def_property_readonly("inputs", &Model::inputs)
      .def_property_readonly("outputs", &Model::outputs)
      .def_property_readonly("parameters", &Model::parameters)
      .def_property_readonly("cached", &Model::cached)
      .def_property_readonly("kernels", &Model::kernels)
      .def_property_readonly("calls", &Model::calls)
      .def_property_readonly("pipeline", &Model::pipeline)
      .def("run", &Model::call)
      .def("bench", &Model::bench, py::arg("runs") = 50)
      .def("parameter", &Model::parameter, py::arg("name"))
      .def("set_parameter", &Model::setParameter, py::arg("name"),
           py::arg("value"))
      .def("load_weights", &Model::loadWeights, py::arg("path"))
      .def("save_weights", &Model::saveWeights, py::arg("path"));
}
