// Helpers shared by the runtime tests.
#ifndef KILN_RUNTIME_TESTS_TESTUTIL_H
#define KILN_RUNTIME_TESTS_TESTUTIL_H

#include "kiln/runtime/Runtime.h"
#include "kiln/support/Checksum.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace kiln::runtime::test {

#ifdef KILN_TEST_KERNELS
// The stand-in kernel library is built by CMake, not by kiln's codegen: give
// it the sidecar codegen writes (kiln/support/Checksum.h) before any session
// loads it; sessions refuse a library without one.
inline const bool kTestKernelsSigned = support::writeSum(KILN_TEST_KERNELS);
#endif

// A fresh directory per test (tests may run in parallel under ctest).
inline std::string tempDir() {
  const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("kiln-runtime-test-" + std::to_string(::getpid())) /
      (std::string(info->test_suite_name()) + "." + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline void writeText(const std::string &path, const std::string &text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The message of the Error `statement` throws ("" if it throws none).
#define KILN_ERROR_MESSAGE(statement)                                          \
  [&]() -> std::string {                                                       \
    try {                                                                      \
      statement;                                                               \
    } catch (const ::kiln::runtime::Error &e) {                                \
      return e.what();                                                         \
    }                                                                          \
    return "";                                                                 \
  }()

} // namespace kiln::runtime::test

#endif // KILN_RUNTIME_TESTS_TESTUTIL_H
