//===- OnnxDriver.cpp - ONNX import test driver ---------------------------===//
//
//   kiln-onnx-driver import MODEL.onnx OUT.mlir OUT.safetensors [--batch B]
//       imports a model: the kiln IR and the initializer values.
//   kiln-onnx-driver node-tests DATA_DIR [SUBSTRING]
//       runs every ONNX backend node test under DATA_DIR (test_*/model.onnx
//       + test_data_set_0/{input,output}_*.pb) whose model imports: compiles
//       it with kiln::compiler in this process (kernels are cached), runs it
//       and compares each output with ONNX's tolerances (rtol 1e-3, atol
//       1e-7). Integer inputs are known values at import time, and small
//       1-D float inputs too where the model needs them then (Resize's
//       scales). A model that does not import is skipped with the reason.
//       Prints one line per test and the pass/skip/fail counts; exits 1 if
//       any test failed.
//
//===----------------------------------------------------------------------===//
#include "kiln/compiler/Compiler.h"
#include "kiln/frontend/Onnx.h"
#include "kiln/runtime/Runtime.h"
#include "kiln/runtime/Safetensors.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
using kiln::frontend::OnnxTensor;

namespace {

kiln::runtime::Tensor toRuntime(const OnnxTensor &t, bool labels) {
  kiln::runtime::Tensor out(t.shape, labels ? kiln::runtime::DType::I32
                                            : kiln::runtime::DType::F32);
  for (size_t i = 0; i < t.values.size(); ++i) {
    if (labels) {
      out.i32()[i] = static_cast<int32_t>(t.values[i]);
    } else {
      out.f32()[i] = static_cast<float>(t.values[i]);
    }
  }
  return out;
}

void writeModule(mlir::ModuleOp module, const std::string &path) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec) {
    throw kiln::frontend::Error("cannot write '" + path + "'");
  }
  module.print(os);
}

void writeWeights(const std::map<std::string, OnnxTensor> &weights,
                  const std::string &path) {
  std::map<std::string, kiln::runtime::Tensor> tensors;
  for (const auto &[name, t] : weights) {
    tensors.emplace(name, toRuntime(t, false));
  }
  kiln::runtime::writeSafetensors(path, tensors);
}

int importCommand(int argc, char **argv) {
  if (argc < 5) {
    std::cerr << "usage: kiln-onnx-driver import MODEL.onnx OUT.mlir "
                 "OUT.safetensors [--batch B]\n";
    return 2;
  }
  kiln::frontend::OnnxImportOptions options;
  if (argc >= 7 && std::string(argv[5]) == "--batch") {
    options.batch = std::stoll(argv[6]);
  }
  mlir::MLIRContext ctx;
  kiln::frontend::OnnxModel model = kiln::frontend::importOnnx(argv[2], ctx, options);
  writeModule(*model.module, argv[3]);
  writeWeights(model.weights, argv[4]);
  std::cout << "imported " << argv[2] << " (opset " << model.opset << ", "
            << model.weights.size() << " parameters)\n";
  return 0;
}

std::vector<std::string> sortedFiles(const fs::path &dir,
                                     const std::string &prefix) {
  std::vector<std::string> files;
  for (int i = 0;; ++i) {
    fs::path p = dir / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(p)) {
      break;
    }
    files.push_back(p.string());
  }
  return files;
}

// Returns "" on success, else the mismatch.
std::string compare(const std::string &name, const kiln::runtime::Tensor &got,
                    const OnnxTensor &want) {
  if (got.shape != want.shape) {
    return name + ": shape " + got.shapeString() + " differs from the reference";
  }
  double worst = 0;
  for (size_t i = 0; i < want.values.size(); ++i) {
    double g = got.dtype == kiln::runtime::DType::F32 ? got.f32()[i]
                                                      : got.i32()[i];
    double w = want.values[i];
    if (std::isnan(w) && std::isnan(g)) {
      continue;
    }
    if (std::isinf(w) && g == w) {
      continue;
    }
    double err = std::fabs(g - w), tol = 1e-7 + 1e-3 * std::fabs(w);
    if (!(err <= tol)) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "%s[%zu] = %.8g, expected %.8g",
                    name.c_str(), i, g, w);
      return buf;
    }
    worst = std::max(worst, err);
  }
  return "";
}

int nodeTestsCommand(int argc, char **argv) {
  if (argc < 3) {
    std::cerr << "usage: kiln-onnx-driver node-tests DATA_DIR [SUBSTRING]\n";
    return 2;
  }
  std::string filter = argc >= 4 ? argv[3] : "";
  std::vector<fs::path> tests;
  for (const auto &entry : fs::directory_iterator(argv[2])) {
    if (fs::exists(entry.path() / "model.onnx") &&
        entry.path().filename().string().find(filter) != std::string::npos) {
      tests.push_back(entry.path());
    }
  }
  std::sort(tests.begin(), tests.end());
  fs::path work = fs::temp_directory_path() /
                  ("kiln-onnx-node-" + std::to_string(::getpid()));
  fs::create_directories(work);
  int passed = 0, skipped = 0, failed = 0;
  std::map<std::string, int> skipReasons;
  for (const fs::path &dir : tests) {
    std::string name = dir.filename().string();
    fs::path data = dir / "test_data_set_0";
    std::string status, detail;
    try {
      // Integer inputs (shapes, axes, indices) are folded at import time;
      // f32 inputs become the model's inputs.
      std::map<std::string, OnnxTensor> inputs;
      kiln::frontend::OnnxImportOptions options;
      std::vector<std::string> inputFiles = sortedFiles(data, "input_");
      std::vector<std::string> outputFiles = sortedFiles(data, "output_");
      for (const std::string &file : inputFiles) {
        OnnxTensor t;
        try {
          t = kiln::frontend::readOnnxTensorFile(file);
        } catch (const kiln::frontend::Error &e) {
          status = "SKIP";
          detail = e.what();
          break;
        }
        if (!t.isFloat() && t.elementType != 7 /*INT64*/ &&
            t.elementType != 6 /*INT32*/ && t.elementType != 9 /*BOOL*/) {
          status = "SKIP";
          detail = "input element type " + std::to_string(t.elementType) +
                   " (kiln computes in f32, labels and booleans in i32)";
          break;
        }
        inputs[t.name] = t;
      }
      mlir::MLIRContext ctx;
      std::map<std::string, OnnxTensor> floatInputs;
      // Floats and booleans (masks, conditions) are run-time inputs;
      // integers (shapes, axes, indices) known values.
      for (auto &[inputName, t] : inputs) {
        if ((t.isFloat() && t.elementType == 1) || t.elementType == 9) {
          floatInputs[inputName] = t;
        } else {
          options.knownInputs[inputName] = t;
        }
      }
      kiln::frontend::OnnxModel model;
      if (status.empty()) try {
        try {
          model = kiln::frontend::importOnnx((dir / "model.onnx").string(),
                                             ctx, options);
        } catch (const kiln::frontend::Error &e) {
          // A model that needs a float or boolean input at import time
          // (Resize's scales, OneHot's depth, Compress's condition): small
          // 0-D and 1-D float and boolean inputs (16 elements or fewer)
          // become known values too, as the integer ones.
          if (std::string(e.what()).find("must be known at import time") ==
              std::string::npos) {
            throw;
          }
          bool moved = false;
          for (auto it = floatInputs.begin(); it != floatInputs.end();) {
            const OnnxTensor &t = it->second;
            if ((t.elementType == 1 || t.elementType == 9) &&
                t.shape.size() <= 1 &&
                t.numElements() <= 16) {
              options.knownInputs[it->first] = t;
              it = floatInputs.erase(it);
              moved = true;
            } else {
              ++it;
            }
          }
          if (!moved) {
            throw;
          }
          model = kiln::frontend::importOnnx((dir / "model.onnx").string(),
                                             ctx, options);
        }
      } catch (const kiln::frontend::Error &e) {
        std::string reason = e.what();
        size_t colon = reason.find(": ");
        detail = colon == std::string::npos ? reason : reason.substr(colon + 2);
        status = "SKIP";
      }
      if (status.empty()) {
        for (const std::string &file : outputFiles) {
          OnnxTensor t = kiln::frontend::readOnnxTensorFile(file);
          // Booleans compare as kiln's 0/1, int64 and int32 (ArgMax's
          // indices) as kiln's i32.
          if (!t.isFloat() && t.elementType != 9 /*BOOL*/ &&
              t.elementType != 7 /*INT64*/ && t.elementType != 6 /*INT32*/) {
            status = "SKIP";
            detail = "integer-valued output '" + t.name + "'";
          }
        }
      }
      if (status.empty()) {
        std::string mlirPath = (work / (name + ".mlir")).string();
        writeModule(*model.module, mlirPath);
        kiln::compiler::CompileOptions compileOptions;
        auto compiled = kiln::compiler::compileModel(mlirPath, compileOptions);
        auto session = kiln::runtime::Session::load(*compiled.plan);
        session.prepare();
        for (const auto &[paramName, t] : model.weights) {
          session.setParameter(paramName, toRuntime(t, false));
        }
        for (const auto &info : session.inputs()) {
          auto it = floatInputs.find(info.name);
          if (it == floatInputs.end()) {
            it = inputs.find(info.name);
          }
          if (it == inputs.end()) {
            throw kiln::frontend::Error("no data for input '" + info.name + "'");
          }
          session.setInput(info.name,
                           toRuntime(it->second,
                                     info.dtype == kiln::runtime::DType::I32));
        }
        session.run();
        std::vector<kiln::runtime::TensorInfo> outs = session.outputs();
        if (outs.size() != outputFiles.size()) {
          throw kiln::frontend::Error("the model has " +
                                      std::to_string(outs.size()) +
                                      " outputs, the reference " +
                                      std::to_string(outputFiles.size()));
        }
        for (size_t i = 0; i < outs.size(); ++i) {
          OnnxTensor want = kiln::frontend::readOnnxTensorFile(outputFiles[i]);
          std::string mismatch =
              compare(outs[i].name, session.output(outs[i].name), want);
          if (!mismatch.empty()) {
            status = "FAIL";
            detail = mismatch;
            break;
          }
        }
        if (status.empty()) {
          status = "PASS";
        }
      }
    } catch (const std::exception &e) {
      status = "FAIL";
      detail = e.what();
    }
    if (status == "PASS") {
      ++passed;
    } else if (status == "SKIP") {
      ++skipped;
      // Group reasons by their text without node names.
      std::string key = detail;
      if (size_t q = key.find("node '"); q != std::string::npos) {
        size_t end = key.find("': ", q);
        if (end != std::string::npos) {
          key = key.substr(0, q) + key.substr(end + 3);
        }
      }
      ++skipReasons[key.substr(0, 120)];
    } else {
      ++failed;
    }
    std::cout << status << " " << name << (detail.empty() ? "" : ": ")
              << detail << "\n"
              << std::flush;
  }
  fs::remove_all(work);
  std::cout << "\nskip reasons:\n";
  for (const auto &[reason, count] : skipReasons) {
    std::cout << "  " << count << "  " << reason << "\n";
  }
  std::cout << "\nONNX node tests: " << passed << " passed, " << skipped
            << " skipped, " << failed << " failed (of " << tests.size()
            << ")\n";
  return failed ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
  std::string command = argc > 1 ? argv[1] : "";
  try {
    if (command == "import") {
      return importCommand(argc, argv);
    }
    if (command == "node-tests") {
      return nodeTestsCommand(argc, argv);
    }
  } catch (const std::exception &e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: kiln-onnx-driver import|node-tests ...\n";
  return 2;
}
