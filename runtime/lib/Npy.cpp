// .npy reader and writer (format versions 1.0, 2.0 and 3.0; see
// numpy/lib/format.py). The header is a Python dict literal; only the three
// keys numpy writes are understood.
#include "CheckedSize.h"
#include "FileIO.h"
#include "kiln/runtime/Runtime.h"

#include <cctype>
#include <cstring>
#include <limits>

namespace kiln::runtime {

namespace {

const char kMagic[] = "\x93NUMPY";
const size_t kMagicSize = 6;

struct NpyHeader {
  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
};

// Parses "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".
class HeaderParser {
public:
  HeaderParser(const std::string &path, const std::string &text)
      : path_(path), text_(text) {}

  NpyHeader parse() {
    NpyHeader header;
    bool sawDescr = false, sawOrder = false, sawShape = false;
    expect('{');
    while (!peek('}')) {
      std::string key = quoted();
      expect(':');
      if (key == "descr") {
        header.descr = quoted();
        sawDescr = true;
      } else if (key == "fortran_order") {
        header.fortranOrder = boolean();
        sawOrder = true;
      } else if (key == "shape") {
        header.shape = tuple();
        sawShape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!peek('}')) {
        expect(',');
      }
    }
    if (!sawDescr || !sawOrder || !sawShape) {
      fail("header lacks 'descr', 'fortran_order' or 'shape'");
    }
    return header;
  }

private:
  [[noreturn]] void fail(const std::string &problem) {
    throw Error(path_ + ": bad npy header (" + problem + "): " + text_);
  }
  void skipSpace() {
    while (pos_ < text_.size() && std::isspace((unsigned char)text_[pos_])) {
      ++pos_;
    }
  }
  bool peek(char c) {
    skipSpace();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) {
      fail(std::string("expected '") + c + "'");
    }
    ++pos_;
  }
  std::string quoted() {
    skipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      fail("expected a quoted string");
    }
    char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == std::string::npos) {
      fail("unterminated string");
    }
    std::string value = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return value;
  }
  bool boolean() {
    skipSpace();
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> values;
    expect('(');
    while (!peek(')')) {
      skipSpace();
      size_t start = pos_;
      while (pos_ < text_.size() && std::isdigit((unsigned char)text_[pos_])) {
        ++pos_;
      }
      if (start == pos_ || pos_ - start > 18) {
        fail("expected a dimension");
      }
      values.push_back(std::stoll(text_.substr(start, pos_ - start)));
      if (!peek(')')) {
        expect(',');
      }
    }
    expect(')');
    return values;
  }

  const std::string &path_;
  const std::string &text_;
  size_t pos_ = 0;
};

uint32_t readLE(const uint8_t *p, int bytes) {
  uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    value = (value << 8) | p[i];
  }
  return value;
}

} // namespace

namespace {

// One little-endian integer of npy type `code` (i1, i2, i8, u1, u2, u4,
// u8, b1); a u8 value past int64's range reads as its largest (out of i32's
// range as well: the caller's error names the element, readU8 its value).
int64_t readInteger(const uint8_t *p, const std::string &code) {
  switch (code[1] - '0') {
  case 1:
    return code[0] == 'i' ? static_cast<int8_t>(p[0]) : p[0];
  case 2: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return code[0] == 'i' ? static_cast<int16_t>(v) : v;
  }
  case 4: {
    uint32_t v; // u4 (i4 is copied whole)
    std::memcpy(&v, p, 4);
    return v;
  }
  default: {
    if (code[0] == 'u') {
      uint64_t v;
      std::memcpy(&v, p, 8);
      return v > uint64_t(std::numeric_limits<int64_t>::max())
                 ? std::numeric_limits<int64_t>::max()
                 : static_cast<int64_t>(v);
    }
    int64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  }
}

// The value of element `i` as text, as written (u8 values past int64's
// range too).
std::string integerText(const uint8_t *p, const std::string &code) {
  if (code == "u8") {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return std::to_string(v);
  }
  return std::to_string(readInteger(p, code));
}

} // namespace

Tensor readNpy(const std::string &path) {
  std::vector<uint8_t> file = detail::readFile(path);
  if (file.size() < kMagicSize + 2 ||
      std::memcmp(file.data(), kMagic, kMagicSize) != 0) {
    throw Error(path + ": not an npy file (bad magic)");
  }
  int major = file[6];
  if (major < 1 || major > 3) {
    throw Error(path + ": unsupported npy format version " +
                std::to_string(major) + "." + std::to_string(file[7]));
  }
  size_t lengthBytes = major == 1 ? 2 : 4;
  size_t headerStart = kMagicSize + 2 + lengthBytes;
  if (file.size() < headerStart) {
    throw Error(path + ": truncated npy header");
  }
  size_t headerLength = readLE(file.data() + 8, static_cast<int>(lengthBytes));
  if (file.size() < headerStart + headerLength) {
    throw Error(path + ": truncated npy header");
  }
  std::string text(reinterpret_cast<const char *>(file.data()) + headerStart,
                   headerLength);
  NpyHeader header = HeaderParser(path, text).parse();

  const std::string &descr = header.descr;
  bool little = !descr.empty() &&
                (descr[0] == '<' || descr[0] == '|' || descr[0] == '=');
  std::string code = little ? descr.substr(1) : descr;
  size_t itemSize;
  DType dtype;
  if (code == "f4" || code == "f8") {
    dtype = DType::F32;
    itemSize = code == "f4" ? 4 : 8;
  } else if (code == "i1" || code == "i2" || code == "i4" || code == "i8" ||
             code == "u1" || code == "u2" || code == "u4" || code == "u8" ||
             code == "b1") {
    dtype = DType::I32;
    itemSize = static_cast<size_t>(code[1] - '0');
  } else {
    little = false;
    itemSize = 0;
    dtype = DType::F32;
  }
  if (!little || (descr[0] == '|' && itemSize != 1)) {
    throw Error(path + ": unsupported dtype '" + descr +
                "' (kiln reads little-endian f4, f8, i1, i2, i4, i8, u1, u2, "
                "u4, u8, b1)");
  }
  if (header.fortranOrder) {
    throw Error(path + ": Fortran-order arrays are not supported (save with "
                       "numpy.ascontiguousarray)");
  }

  // Sized from the header before anything is allocated: a bad shape or a
  // short file is an error, not a huge allocation.
  size_t need = static_cast<size_t>(
      detail::requireByteSize(header.shape, itemSize, path));
  size_t count = need / itemSize;
  size_t dataStart = headerStart + headerLength;
  size_t available = file.size() - dataStart;
  if (available < need) {
    throw Error(path + ": truncated data: " + std::to_string(count) +
                " elements of " + descr + " need " + std::to_string(need) +
                " bytes, file has " + std::to_string(available));
  }
  // Its size cannot overflow: no more elements than the file has bytes.
  Tensor tensor(header.shape, dtype);
  const uint8_t *data = file.data() + dataStart;
  if (count == 0) {
    // An empty array (numpy saves shape (0, 4)): nothing to copy, and no
    // buffer to copy into.
  } else if (code == "f4" || code == "i4") {
    std::memcpy(tensor.bytes.data(), data, count * 4);
  } else if (code == "f8") {
    for (size_t i = 0; i < count; ++i) {
      double value;
      std::memcpy(&value, data + 8 * i, 8);
      tensor.f32()[i] = static_cast<float>(value);
    }
  } else {
    // The other integers (booleans: 0 and 1) widened or narrowed to i32;
    // i8, u4 and u8 values outside its range are an error.
    for (size_t i = 0; i < count; ++i) {
      int64_t value = readInteger(data + itemSize * i, code);
      if (value < std::numeric_limits<int32_t>::min() ||
          value > std::numeric_limits<int32_t>::max()) {
        throw Error(path + ": element " + std::to_string(i) + " (" +
                    integerText(data + itemSize * i, code) +
                    ") does not fit in i32");
      }
      tensor.i32()[i] = static_cast<int32_t>(value);
    }
  }
  return tensor;
}

void writeNpy(const std::string &path, const Tensor &tensor) {
  // Python tuple syntax: (), (4,), (2, 3).
  std::string shape = "(";
  for (size_t i = 0; i < tensor.shape.size(); ++i) {
    shape += (i > 0 ? ", " : "") + std::to_string(tensor.shape[i]);
  }
  shape += tensor.shape.size() == 1 ? ",)" : ")";
  std::string header = std::string("{'descr': '") +
                       (tensor.dtype == DType::F32 ? "<f4" : "<i4") +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces and a final newline so the data starts on a 64-byte
  // boundary, as numpy does; version 2.0 only when the header needs it.
  int major = header.size() + 64 <= 65535 ? 1 : 2;
  size_t prefix = kMagicSize + 2 + (major == 1 ? 2 : 4);
  size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';

  std::vector<uint8_t> file(kMagic, kMagic + kMagicSize);
  file.push_back(static_cast<uint8_t>(major));
  file.push_back(0);
  for (size_t i = 0; i < prefix - kMagicSize - 2; ++i) {
    file.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  }
  file.insert(file.end(), header.begin(), header.end());
  size_t expected = static_cast<size_t>(
      detail::requireByteSize(tensor.shape, dtypeSize(tensor.dtype), path));
  if (tensor.bytes.size() != expected) {
    throw Error(path + ": tensor " + tensor.shapeString() + " holds " +
                std::to_string(tensor.bytes.size()) + " bytes, expected " +
                std::to_string(expected));
  }
  file.insert(file.end(), tensor.bytes.begin(), tensor.bytes.end());
  detail::writeFileAtomically(path, file.data(), file.size());
}

} // namespace kiln::runtime
