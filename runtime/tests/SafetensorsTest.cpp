#include "TestUtil.h"

#include "kiln/runtime/Safetensors.h"

#include <filesystem>

namespace kiln::runtime {
namespace {

using test::tempDir;

std::string withLength(const std::string &header) {
  std::string file;
  for (int i = 0; i < 8; ++i) {
    file += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  }
  return file + header;
}

TEST(Safetensors, RoundTrip) {
  std::string dir = tempDir();
  std::map<std::string, Tensor> tensors;
  Tensor w({2, 2}, DType::F32);
  for (int i = 0; i < 4; ++i) {
    w.f32()[i] = 0.25f * i;
  }
  Tensor n({3}, DType::I32);
  n.i32()[2] = -9;
  tensors["layer.weight"] = w;
  tensors["steps"] = n;
  tensors["scalar"] = Tensor({}, DType::F32);
  writeSafetensors(dir + "/p.safetensors", tensors);

  auto back = readSafetensors(dir + "/p.safetensors");
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back["layer.weight"].shape, w.shape);
  EXPECT_EQ(back["layer.weight"].bytes, w.bytes);
  EXPECT_EQ(back["steps"].dtype, DType::I32);
  EXPECT_EQ(back["steps"].bytes, n.bytes);
  EXPECT_TRUE(back["scalar"].shape.empty());
  // Written through a temporary file that no longer exists.
  for (const auto &entry : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename(), "p.safetensors");
  }
}

TEST(Safetensors, ReadsHandBuiltFile) {
  std::string dir = tempDir();
  std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  float a[2] = {1.0f, -0.5f};
  int32_t b = 77;
  std::string data(reinterpret_cast<const char *>(a), 8);
  data.append(reinterpret_cast<const char *>(&b), 4);
  test::writeText(dir + "/h.safetensors", withLength(header) + data);

  auto tensors = readSafetensors(dir + "/h.safetensors");
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_EQ(tensors["a"].shape, std::vector<int64_t>{2});
  EXPECT_EQ(tensors["a"].f32()[0], 1.0f);
  EXPECT_EQ(tensors["a"].f32()[1], -0.5f);
  EXPECT_EQ(tensors["b"].dtype, DType::I32);
  EXPECT_EQ(tensors["b"].i32()[0], 77);
}

TEST(Safetensors, WrittenLayout) {
  std::string dir = tempDir();
  Tensor t({1}, DType::F32);
  t.f32()[0] = 2.0f;
  writeSafetensors(dir + "/t.safetensors", {{"t", t}});
  std::ifstream in(dir + "/t.safetensors", std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), {});
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) {
    length = (length << 8) | static_cast<unsigned char>(file[i]);
  }
  EXPECT_EQ(length % 8, 0u);
  ASSERT_EQ(file.size(), 8 + length + 4);
  EXPECT_NE(file.find(R"("data_offsets":[0,4])"), std::string::npos);
  EXPECT_NE(file.find(R"("dtype":"F32")"), std::string::npos);
}

TEST(Safetensors, Errors) {
  std::string dir = tempDir();
  std::string message =
      KILN_ERROR_MESSAGE(readSafetensors(dir + "/missing.safetensors"));
  EXPECT_NE(message.find("missing.safetensors"), std::string::npos) << message;

  test::writeText(dir + "/f64.safetensors",
                  withLength(R"({"x":{"dtype":"F64","shape":[1],)"
                             R"("data_offsets":[0,8]}})") +
                      std::string(8, '\0'));
  message = KILN_ERROR_MESSAGE(readSafetensors(dir + "/f64.safetensors"));
  EXPECT_NE(message.find("unsupported dtype 'F64'"), std::string::npos)
      << message;

  test::writeText(dir + "/short.safetensors",
                  withLength(R"({"x":{"dtype":"F32","shape":[4],)"
                             R"("data_offsets":[0,16]}})") +
                      std::string(8, '\0'));
  message = KILN_ERROR_MESSAGE(readSafetensors(dir + "/short.safetensors"));
  EXPECT_NE(message.find("short.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;

  test::writeText(dir + "/json.safetensors", withLength("{not json"));
  EXPECT_THROW(readSafetensors(dir + "/json.safetensors"), Error);

  test::writeText(dir + "/length.safetensors",
                  std::string("\xff\xff\x00\x00\x00\x00\x00\x00{}", 10));
  EXPECT_THROW(readSafetensors(dir + "/length.safetensors"), Error);
}

// Shapes in the header are input: a size that overflows is refused before
// anything is allocated, with the file and tensor named.
TEST(Safetensors, HugeShapesAreRefused) {
  std::string dir = tempDir();
  std::string path = dir + "/huge.safetensors";
  test::writeText(path, withLength(R"({"x":{"dtype":"F32",)"
                                   R"("shape":[4294967296,4294967296],)"
                                   R"("data_offsets":[0,0]}})"));
  EXPECT_EQ(KILN_ERROR_MESSAGE(readSafetensors(path)),
            path + ": tensor 'x': shape 4294967296x4294967296 is too large "
                   "(its size overflows 64 bits)");

  // 2^62 elements fit; their 2^64 bytes do not.
  test::writeText(path, withLength(R"({"x":{"dtype":"I32",)"
                                   R"("shape":[4611686018427387904],)"
                                   R"("data_offsets":[0,0]}})"));
  EXPECT_NE(KILN_ERROR_MESSAGE(readSafetensors(path)).find("is too large"),
            std::string::npos);

  test::writeText(path, withLength(R"({"x":{"dtype":"F32",)"
                                   R"("shape":[18446744073709551615],)"
                                   R"("data_offsets":[0,0]}})"));
  EXPECT_EQ(KILN_ERROR_MESSAGE(readSafetensors(path)),
            path + ": tensor 'x': dimension 18446744073709551615 out of range");
}

} // namespace
} // namespace kiln::runtime
