#include "kiln/runtime/Safetensors.h"

#include "CheckedSize.h"
#include "FileIO.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <optional>

namespace kiln::runtime {

using nlohmann::json;

namespace {

// Parses the JSON header of a safetensors file; `headerEnd` receives the
// offset of the first data byte.
json readHeader(const std::string &path, const std::vector<uint8_t> &file,
                size_t &headerEnd) {
  if (file.size() < 8) {
    throw Error(path + ": truncated safetensors file (no header length)");
  }
  uint64_t headerLength = 0;
  for (int i = 7; i >= 0; --i) {
    headerLength = (headerLength << 8) | file[i];
  }
  if (headerLength > file.size() - 8) {
    throw Error(path + ": header length " + std::to_string(headerLength) +
                " exceeds the file size " + std::to_string(file.size()));
  }
  json header;
  try {
    header = json::parse(file.begin() + 8, file.begin() + 8 + headerLength);
  } catch (const json::exception &e) {
    throw Error(path + ": invalid safetensors header JSON: " + e.what());
  }
  if (!header.is_object()) {
    throw Error(path + ": safetensors header is not a JSON object");
  }
  headerEnd = 8 + headerLength;
  return header;
}

} // namespace

std::map<std::string, std::string>
readSafetensorsMetadata(const std::string &path) {
  std::vector<uint8_t> file = detail::readFile(path);
  size_t headerEnd;
  json header = readHeader(path, file, headerEnd);
  std::map<std::string, std::string> metadata;
  if (!header.contains("__metadata__")) {
    return metadata;
  }
  const json &entries = header["__metadata__"];
  if (!entries.is_object()) {
    throw Error(path + ": __metadata__ must be a JSON object");
  }
  for (const auto &[key, value] : entries.items()) {
    if (!value.is_string()) {
      throw Error(path + ": __metadata__ '" + key + "' must be a string");
    }
    metadata.emplace(key, value.get<std::string>());
  }
  return metadata;
}

std::map<std::string, Tensor> readSafetensors(const std::string &path) {
  std::vector<uint8_t> file = detail::readFile(path);
  size_t headerEnd;
  json header = readHeader(path, file, headerEnd);
  const uint8_t *data = file.data() + headerEnd;
  uint64_t dataSize = file.size() - headerEnd;

  std::map<std::string, Tensor> tensors;
  for (const auto &[name, entry] : header.items()) {
    if (name == "__metadata__") {
      continue;
    }
    std::string where = path + ": tensor '" + name + "': ";
    if (!entry.is_object() || !entry.contains("dtype") ||
        !entry.contains("shape") || !entry.contains("data_offsets")) {
      throw Error(where + "needs dtype, shape and data_offsets");
    }
    const json &dtypeField = entry["dtype"];
    if (!dtypeField.is_string()) {
      throw Error(where + "dtype must be a string");
    }
    std::string dtypeText = dtypeField.get<std::string>();
    DType dtype;
    if (dtypeText == "F32") {
      dtype = DType::F32;
    } else if (dtypeText == "I32") {
      dtype = DType::I32;
    } else {
      throw Error(where + "unsupported dtype '" + dtypeText +
                  "' (kiln reads F32 and I32)");
    }
    std::vector<int64_t> shape;
    if (!entry["shape"].is_array()) {
      throw Error(where + "shape must be an array");
    }
    for (const json &dim : entry["shape"]) {
      if (!dim.is_number_unsigned()) {
        throw Error(where + "shape must hold non-negative integers");
      }
      if (dim.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        throw Error(where + "dimension " + dim.dump() + " out of range");
      }
      shape.push_back(dim.get<int64_t>());
    }
    std::optional<int64_t> bytes = detail::byteSize(shape, dtypeSize(dtype));
    if (!bytes) {
      throw Error(where + detail::sizeProblem(shape));
    }
    const json &offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 ||
        !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
      throw Error(where + "data_offsets must be [begin, end]");
    }
    uint64_t begin = offsets[0].get<uint64_t>();
    uint64_t end = offsets[1].get<uint64_t>();
    if (begin > end || end > dataSize) {
      throw Error(where + "data_offsets [" + std::to_string(begin) + ", " +
                  std::to_string(end) + "] outside the " +
                  std::to_string(dataSize) + " data bytes (truncated file?)");
    }
    // Checked before the tensor is allocated, so that it holds no more
    // bytes than the file; `described` is unallocated, for the message.
    if (end - begin != static_cast<uint64_t>(*bytes)) {
      Tensor described;
      described.shape = shape;
      described.dtype = dtype;
      throw Error(where + described.shapeString() + " needs " +
                  std::to_string(*bytes) + " bytes, offsets give " +
                  std::to_string(end - begin));
    }
    Tensor tensor(shape, dtype);
    if (!tensor.bytes.empty()) { // an empty tensor has no buffer
      std::memcpy(tensor.bytes.data(), data + begin, tensor.bytes.size());
    }
    tensors.emplace(name, std::move(tensor));
  }
  return tensors;
}

void writeSafetensors(const std::string &path,
                      const std::map<std::string, Tensor> &tensors,
                      const std::map<std::string, std::string> &metadata) {
  json header = json::object();
  if (!metadata.empty()) {
    header["__metadata__"] = metadata;
  }
  uint64_t offset = 0;
  for (const auto &[name, tensor] : tensors) {
    size_t expected = static_cast<size_t>(
        detail::requireByteSize(tensor.shape, dtypeSize(tensor.dtype),
                                path + ": tensor '" + name + "'"));
    if (tensor.bytes.size() != expected) {
      throw Error(path + ": tensor '" + name + "' " + tensor.shapeString() +
                  " holds " + std::to_string(tensor.bytes.size()) +
                  " bytes, expected " + std::to_string(expected));
    }
    header[name] = {{"dtype", tensor.dtype == DType::F32 ? "F32" : "I32"},
                    {"shape", tensor.shape},
                    {"data_offsets", {offset, offset + expected}}};
    offset += expected;
  }
  std::string text = header.dump();
  // Pad with spaces so the data starts 8-byte aligned, as the reference
  // implementation does.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<uint8_t> file(8);
  for (int i = 0; i < 8; ++i) {
    file[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  }
  file.insert(file.end(), text.begin(), text.end());
  file.reserve(file.size() + offset);
  for (const auto &entry : tensors) {
    file.insert(file.end(), entry.second.bytes.begin(), entry.second.bytes.end());
  }
  detail::writeFileAtomically(path, file.data(), file.size());
}

} // namespace kiln::runtime
