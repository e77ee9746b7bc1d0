#include "FileIO.h"

#include "kiln/runtime/Runtime.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace kiln::runtime::detail {

std::vector<uint8_t> readFile(const std::string &path) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) {
    throw Error("cannot open '" + path + "': " + std::strerror(errno));
  }
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file)) > 0) {
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  bool failed = std::ferror(file);
  std::fclose(file);
  if (failed) {
    throw Error("cannot read '" + path + "'");
  }
  return bytes;
}

void writeFileAtomically(const std::string &path, const void *data,
                         size_t size) {
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  FILE *file = std::fopen(temp.c_str(), "wb");
  if (!file) {
    throw Error("cannot write '" + path + "': " + std::strerror(errno));
  }
  bool ok = std::fwrite(data, 1, size, file) == size;
  ok = std::fflush(file) == 0 && ok;
  ok = std::fclose(file) == 0 && ok;
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    std::string reason = std::strerror(errno);
    std::remove(temp.c_str());
    throw Error("cannot write '" + path + "': " + reason);
  }
}

} // namespace kiln::runtime::detail
