//===- Printable.h - terminal-safe text for messages -------------*- C++ -*-===//
//
// Error messages quote names from files (ONNX node and tensor names, plan
// buffer names, paths). Printed raw, a name's control bytes reach the
// terminal: an ESC sequence can recolour, move the cursor or retitle the
// window. printable() escapes every control byte (below 0x20 but newline
// and tab, and 0x7f) as \xNN; other bytes, UTF-8 included, pass.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SUPPORT_PRINTABLE_H
#define KILN_SUPPORT_PRINTABLE_H

#include <string>
#include <string_view>

namespace kiln::support {

inline std::string printable(std::string_view text) {
  static const char *hex = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto byte = static_cast<unsigned char>(ch);
    if ((byte < 0x20 && byte != '\n' && byte != '\t') || byte == 0x7f) {
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

} // namespace kiln::support

#endif // KILN_SUPPORT_PRINTABLE_H
