//===- OnnxTensor.cpp - onnx.TensorProto <-> host values ------------------===//
#include "OnnxSupport.h"

#include <cstring>
#include <fstream>
#include <sstream>

namespace kiln::frontend {

// Checked: shapes come from the file (fuzz-onnx found dims whose product
// overflowed int64_t, undefined behaviour before the size check).
int64_t OnnxTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) {
      std::string dims;
      for (int64_t e : shape) {
        dims += (dims.empty() ? "" : "x") + std::to_string(e);
      }
      throw Error("tensor '" + name + "' of shape " + dims +
                  ": its element count is negative or overflows 64 bits");
    }
  }
  return n;
}

bool OnnxTensor::isFloat() const {
  return elementType == onnx::TensorProto::FLOAT ||
         elementType == onnx::TensorProto::DOUBLE ||
         elementType == onnx::TensorProto::FLOAT16;
}

namespace onnx_detail {

std::string elementTypeName(int type) {
  if (onnx::TensorProto_DataType_IsValid(type)) {
    return onnx::TensorProto_DataType_Name(
        static_cast<onnx::TensorProto_DataType>(type));
  }
  return "type " + std::to_string(type);
}

namespace {

float halfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // subnormal: renormalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <typename T>
void readRaw(const std::string &raw, int64_t n, std::vector<double> &out,
             const std::string &what) {
  if (static_cast<int64_t>(raw.size()) != n * static_cast<int64_t>(sizeof(T))) {
    throw Error(what + ": raw_data has " + std::to_string(raw.size()) +
                " bytes, expected " + std::to_string(n * sizeof(T)));
  }
  out.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
    out[i] = static_cast<double>(v);
  }
}

} // namespace

OnnxTensor fromProto(const onnx::TensorProto &proto, const std::string &what) {
  OnnxTensor t;
  t.name = proto.name();
  t.elementType = proto.data_type();
  for (int64_t d : proto.dims()) {
    if (d < 0) {
      throw Error(what + ": negative dim " + std::to_string(d));
    }
    t.shape.push_back(d);
  }
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    throw Error(what + ": external tensor data is not supported");
  }
  int64_t n = t.numElements();
  if (n > (int64_t(1) << 31)) {
    throw Error(what + ": too many elements");
  }
  const std::string &raw = proto.raw_data();
  bool hasRaw = proto.has_raw_data();
  using TP = onnx::TensorProto;
  auto checkCount = [&](int count) {
    if (count != n) {
      throw Error(what + ": holds " + std::to_string(count) +
                  " values, its shape needs " + std::to_string(n));
    }
  };
  switch (t.elementType) {
  case TP::FLOAT:
    if (hasRaw) {
      readRaw<float>(raw, n, t.values, what);
    } else {
      checkCount(proto.float_data_size());
      t.values.assign(proto.float_data().begin(), proto.float_data().end());
    }
    break;
  case TP::DOUBLE:
    if (hasRaw) {
      readRaw<double>(raw, n, t.values, what);
    } else {
      checkCount(proto.double_data_size());
      t.values.assign(proto.double_data().begin(), proto.double_data().end());
    }
    break;
  case TP::INT64:
    if (hasRaw) {
      readRaw<int64_t>(raw, n, t.values, what);
    } else {
      checkCount(proto.int64_data_size());
      t.values.assign(proto.int64_data().begin(), proto.int64_data().end());
    }
    break;
  case TP::UINT64:
    if (hasRaw) {
      readRaw<uint64_t>(raw, n, t.values, what);
    } else {
      checkCount(proto.uint64_data_size());
      t.values.assign(proto.uint64_data().begin(), proto.uint64_data().end());
    }
    break;
  case TP::INT32:
  case TP::INT16:
  case TP::INT8:
  case TP::UINT16:
  case TP::UINT8:
  case TP::BOOL:
  case TP::FLOAT16:
    if (hasRaw) {
      switch (t.elementType) {
      case TP::INT32: readRaw<int32_t>(raw, n, t.values, what); break;
      case TP::INT16: readRaw<int16_t>(raw, n, t.values, what); break;
      case TP::INT8: readRaw<int8_t>(raw, n, t.values, what); break;
      case TP::UINT16: readRaw<uint16_t>(raw, n, t.values, what); break;
      case TP::FLOAT16: {
        readRaw<uint16_t>(raw, n, t.values, what);
        for (double &v : t.values) {
          v = halfToFloat(static_cast<uint16_t>(v));
        }
        break;
      }
      default: readRaw<uint8_t>(raw, n, t.values, what); break;
      }
    } else {
      checkCount(proto.int32_data_size());
      t.values.assign(proto.int32_data().begin(), proto.int32_data().end());
      if (t.elementType == TP::FLOAT16) {
        for (double &v : t.values) {
          v = halfToFloat(static_cast<uint16_t>(v));
        }
      }
    }
    break;
  default:
    throw Error(what + ": element type " + elementTypeName(t.elementType) +
                " is not supported");
  }
  return t;
}

} // namespace onnx_detail

OnnxTensor readOnnxTensorFile(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw Error("cannot open '" + path + "'");
  }
  std::stringstream buffer;
  buffer << file.rdbuf();
  onnx::TensorProto proto;
  if (!proto.ParseFromString(buffer.str())) {
    throw Error("'" + path + "' is not a valid onnx.TensorProto");
  }
  return onnx_detail::fromProto(proto, "'" + path + "'");
}

} // namespace kiln::frontend
