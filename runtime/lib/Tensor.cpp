#include "CheckedSize.h"
#include "kiln/runtime/Runtime.h"

#include <set>

namespace kiln::runtime {

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::I32:
    return "i32";
  }
  return "?";
}

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
  case DType::I32:
    return 4;
  }
  return 0;
}

Tensor::Tensor(std::vector<int64_t> shape, DType dtype)
    : shape(std::move(shape)), dtype(dtype) {
  bytes.assign(static_cast<size_t>(detail::requireByteSize(
                   this->shape, dtypeSize(dtype), "cannot create a tensor")),
               0);
}

int64_t Tensor::numElements() const {
  return detail::requireByteSize(shape, 1, "tensor");
}

// The accessors hand out typed views of `bytes`; vector storage comes from
// operator new, which is aligned for float and int32_t.
float *Tensor::f32() { return reinterpret_cast<float *>(bytes.data()); }
const float *Tensor::f32() const {
  return reinterpret_cast<const float *>(bytes.data());
}
int32_t *Tensor::i32() { return reinterpret_cast<int32_t *>(bytes.data()); }
const int32_t *Tensor::i32() const {
  return reinterpret_cast<const int32_t *>(bytes.data());
}

std::string Tensor::shapeString() const {
  std::string text;
  for (int64_t dim : shape) {
    text += std::to_string(dim) + "x";
  }
  return text + dtypeName(dtype);
}

std::string fileNameFor(const std::string &tensorName) {
  std::string name = tensorName.empty() ? "_" : tensorName;
  for (char &c : name) {
    bool portable = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!portable) {
      c = '_';
    }
  }
  if (name[0] == '.') {
    name[0] = '_';
  }
  return name;
}

std::vector<std::string> outputFileNames(const std::vector<std::string> &names) {
  std::set<std::string> taken;
  std::vector<std::string> files;
  for (const std::string &name : names) {
    std::string base = fileNameFor(name), file = base;
    for (int n = 2; !taken.insert(file).second; ++n) {
      file = base + "-" + std::to_string(n);
    }
    files.push_back(file + ".npy");
  }
  return files;
}

int findInput(const std::vector<std::string> &inputNames,
              const std::string &name) {
  int match = -1;
  for (size_t i = 0; i < inputNames.size(); ++i) {
    if (inputNames[i] == name) {
      return static_cast<int>(i);
    }
  }
  for (size_t i = 0; i < inputNames.size(); ++i) {
    if (fileNameFor(inputNames[i]) == name) {
      if (match >= 0) {
        throw Error("--input " + name + ": ambiguous, it is the file name of '" +
                    inputNames[match] + "' and '" + inputNames[i] + "'");
      }
      match = static_cast<int>(i);
    }
  }
  return match;
}

} // namespace kiln::runtime
