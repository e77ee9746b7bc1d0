#include "TestUtil.h"

#include <cstring>

namespace kiln::runtime {
namespace {

using test::tempDir;

// A version 1.0 or 2.0 npy file with `header` padded to 64 bytes.
std::string npyBytes(const std::string &dict, const std::string &data,
                     int major = 1) {
  size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) {
    header += ' ';
  }
  header += '\n';
  std::string file = std::string("\x93NUMPY", 6);
  file += static_cast<char>(major);
  file += '\0';
  for (size_t i = 0; i < prefix - 8; ++i) {
    file += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  }
  return file + header + data;
}

template <typename T> std::string raw(std::initializer_list<T> values) {
  std::string bytes;
  for (T v : values) {
    bytes.append(reinterpret_cast<const char *>(&v), sizeof(T));
  }
  return bytes;
}

TEST(FileNameFor, ReplacesWhatIsNotPortable) {
  EXPECT_EQ(fileNameFor("logits"), "logits");
  EXPECT_EQ(fileNameFor("gpu_0/softmax_1"), "gpu_0_softmax_1");
  EXPECT_EQ(fileNameFor("a:b c\\d"), "a_b_c_d");
  EXPECT_EQ(fileNameFor("conv1.weight-2"), "conv1.weight-2");
  EXPECT_EQ(fileNameFor(".."), "_.");
  EXPECT_EQ(fileNameFor(".hidden"), "_hidden");
  EXPECT_EQ(fileNameFor(""), "_");
  EXPECT_EQ(fileNameFor("\xc3\xa9t\xc3\xa9"), "__t__"); // UTF-8 bytes
}

TEST(FileNameFor, OutputFilesAreUniqueAndInputsFoundBySafeName) {
  EXPECT_EQ(outputFileNames({"gpu_0/y", "gpu_0:y", "z", "gpu_0_y"}),
            (std::vector<std::string>{"gpu_0_y.npy", "gpu_0_y-2.npy", "z.npy",
                                      "gpu_0_y-3.npy"}));
  std::vector<std::string> inputs = {"gpu_0/data_0", "label", "a/b", "a:b"};
  EXPECT_EQ(findInput(inputs, "label"), 1);
  EXPECT_EQ(findInput(inputs, "gpu_0_data_0"), 0);
  EXPECT_EQ(findInput(inputs, "a:b"), 3); // the exact name first
  EXPECT_EQ(findInput(inputs, "nothing"), -1);
  EXPECT_THROW(findInput(inputs, "a_b"), Error);
}

TEST(Npy, RoundTrip) {
  std::string dir = tempDir();
  Tensor f({2, 3}, DType::F32);
  for (int i = 0; i < 6; ++i) {
    f.f32()[i] = 0.5f * i - 1;
  }
  writeNpy(dir + "/f.npy", f);
  Tensor back = readNpy(dir + "/f.npy");
  EXPECT_EQ(back.shape, f.shape);
  EXPECT_EQ(back.dtype, DType::F32);
  EXPECT_EQ(back.bytes, f.bytes);

  Tensor i({4}, DType::I32);
  i.i32()[0] = -7;
  i.i32()[3] = 1 << 30;
  writeNpy(dir + "/i.npy", i);
  Tensor iback = readNpy(dir + "/i.npy");
  EXPECT_EQ(iback.shape, std::vector<int64_t>{4});
  EXPECT_EQ(iback.dtype, DType::I32);
  EXPECT_EQ(iback.bytes, i.bytes);

  Tensor scalar({}, DType::F32);
  scalar.f32()[0] = 3.25f;
  writeNpy(dir + "/s.npy", scalar);
  Tensor sback = readNpy(dir + "/s.npy");
  EXPECT_TRUE(sback.shape.empty());
  EXPECT_EQ(sback.f32()[0], 3.25f);
}

TEST(Npy, WrittenHeaderIsNumpyFormat) {
  std::string dir = tempDir();
  Tensor t({2, 3}, DType::F32);
  writeNpy(dir + "/t.npy", t);
  std::ifstream in(dir + "/t.npy", std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), {});
  // 10-byte prefix + 60-byte dict + padding + '\n' = 128, as numpy writes.
  ASSERT_EQ(file.size(), 128u + 24u);
  EXPECT_EQ(file.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(file[8]), 118); // 128 - 10
  EXPECT_EQ(static_cast<unsigned char>(file[9]), 0);
  EXPECT_EQ(file.substr(10, 118).find(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"),
            0u);
  EXPECT_EQ(file[127], '\n');
}

TEST(Npy, ReadsHandCraftedF8AsF32) {
  std::string dir = tempDir();
  test::writeText(dir + "/d.npy",
                  npyBytes("{'descr': '<f8', 'fortran_order': False, "
                           "'shape': (3,), }",
                           raw<double>({1.5, -2.0, 0.1})));
  Tensor t = readNpy(dir + "/d.npy");
  EXPECT_EQ(t.shape, std::vector<int64_t>{3});
  EXPECT_EQ(t.dtype, DType::F32);
  EXPECT_EQ(t.f32()[0], 1.5f);
  EXPECT_EQ(t.f32()[1], -2.0f);
  EXPECT_EQ(t.f32()[2], 0.1f);
}

TEST(Npy, ReadsVersion2AndIntegerTypes) {
  std::string dir = tempDir();
  test::writeText(dir + "/v2.npy",
                  npyBytes("{'descr': '<i4', 'fortran_order': False, "
                           "'shape': (2, 1), }",
                           raw<int32_t>({5, -6}), 2));
  Tensor v2 = readNpy(dir + "/v2.npy");
  EXPECT_EQ(v2.shape, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(v2.i32()[0], 5);
  EXPECT_EQ(v2.i32()[1], -6);

  test::writeText(dir + "/i8.npy",
                  npyBytes("{'descr': '<i8', 'fortran_order': False, "
                           "'shape': (2,), }",
                           raw<int64_t>({9, -3})));
  Tensor i8 = readNpy(dir + "/i8.npy");
  EXPECT_EQ(i8.dtype, DType::I32);
  EXPECT_EQ(i8.i32()[0], 9);
  EXPECT_EQ(i8.i32()[1], -3);

  // Keys in another order, double quotes, as other writers produce.
  test::writeText(dir + "/u1.npy",
                  npyBytes("{\"shape\": (3,), \"fortran_order\": False, "
                           "\"descr\": \"|u1\"}",
                           std::string("\x01\xff\x07", 3)));
  Tensor u1 = readNpy(dir + "/u1.npy");
  EXPECT_EQ(u1.dtype, DType::I32);
  EXPECT_EQ(u1.i32()[1], 255);
  EXPECT_EQ(u1.i32()[2], 7);

  // The narrow signed and unsigned types widen with their signs; u4 fits
  // while it is at most 2^31 - 1.
  test::writeText(dir + "/i1.npy",
                  npyBytes("{'descr': '|i1', 'fortran_order': False, "
                           "'shape': (3,), }",
                           std::string("\x80\xff\x7f", 3)));
  Tensor i1 = readNpy(dir + "/i1.npy");
  EXPECT_EQ(i1.dtype, DType::I32);
  EXPECT_EQ(i1.i32()[0], -128);
  EXPECT_EQ(i1.i32()[1], -1);
  EXPECT_EQ(i1.i32()[2], 127);
  test::writeText(dir + "/i2.npy",
                  npyBytes("{'descr': '<i2', 'fortran_order': False, "
                           "'shape': (2,), }",
                           raw<int16_t>({-30000, 1234})));
  Tensor i2 = readNpy(dir + "/i2.npy");
  EXPECT_EQ(i2.i32()[0], -30000);
  EXPECT_EQ(i2.i32()[1], 1234);
  test::writeText(dir + "/u2.npy",
                  npyBytes("{'descr': '<u2', 'fortran_order': False, "
                           "'shape': (2,), }",
                           raw<uint16_t>({65535, 3})));
  Tensor u2 = readNpy(dir + "/u2.npy");
  EXPECT_EQ(u2.i32()[0], 65535);
  EXPECT_EQ(u2.i32()[1], 3);
  test::writeText(dir + "/u4.npy",
                  npyBytes("{'descr': '<u4', 'fortran_order': False, "
                           "'shape': (2,), }",
                           raw<uint32_t>({2147483647u, 8})));
  Tensor u4 = readNpy(dir + "/u4.npy");
  EXPECT_EQ(u4.i32()[0], 2147483647);
  EXPECT_EQ(u4.i32()[1], 8);
  test::writeText(dir + "/u4_big.npy",
                  npyBytes("{'descr': '<u4', 'fortran_order': False, "
                           "'shape': (2,), }",
                           raw<uint32_t>({1, 2147483648u})));
  std::string message = KILN_ERROR_MESSAGE(readNpy(dir + "/u4_big.npy"));
  EXPECT_NE(message.find("u4_big.npy: element 1 (2147483648) does not fit "
                         "in i32"),
            std::string::npos)
      << message;
  // u8 (ONNX uint64 ids): in range, and a value past int64's range named
  // as written.
  test::writeText(dir + "/u8.npy",
                  npyBytes("{'descr': '<u8', 'fortran_order': False, "
                           "'shape': (2,), }",
                           raw<uint64_t>({7, 2147483647u})));
  Tensor u8 = readNpy(dir + "/u8.npy");
  EXPECT_EQ(u8.i32()[0], 7);
  EXPECT_EQ(u8.i32()[1], 2147483647);
  test::writeText(dir + "/u8_big.npy",
                  npyBytes("{'descr': '<u8', 'fortran_order': False, "
                           "'shape': (3,), }",
                           raw<uint64_t>({0, 3, 18446744073709551615ull})));
  message = KILN_ERROR_MESSAGE(readNpy(dir + "/u8_big.npy"));
  EXPECT_NE(message.find("u8_big.npy: element 2 (18446744073709551615) does "
                         "not fit in i32"),
            std::string::npos)
      << message;
}

TEST(Npy, Errors) {
  std::string dir = tempDir();
  std::string missing = dir + "/missing.npy";
  std::string message = KILN_ERROR_MESSAGE(readNpy(missing));
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  EXPECT_NE(message.find("No such file"), std::string::npos) << message;

  test::writeText(dir + "/magic.npy", "PK\x03\x04 not numpy at all");
  message = KILN_ERROR_MESSAGE(readNpy(dir + "/magic.npy"));
  EXPECT_NE(message.find("magic.npy"), std::string::npos) << message;
  EXPECT_NE(message.find("bad magic"), std::string::npos) << message;

  test::writeText(dir + "/c8.npy",
                  npyBytes("{'descr': '<c8', 'fortran_order': False, "
                           "'shape': (1,), }",
                           raw<float>({1, 2})));
  message = KILN_ERROR_MESSAGE(readNpy(dir + "/c8.npy"));
  EXPECT_NE(message.find("c8.npy"), std::string::npos) << message;
  EXPECT_NE(message.find("unsupported dtype '<c8'"), std::string::npos)
      << message;

  test::writeText(dir + "/big.npy",
                  npyBytes("{'descr': '>f4', 'fortran_order': False, "
                           "'shape': (1,), }",
                           raw<float>({1})));
  message = KILN_ERROR_MESSAGE(readNpy(dir + "/big.npy"));
  EXPECT_NE(message.find("unsupported dtype '>f4'"), std::string::npos)
      << message;

  test::writeText(dir + "/fortran.npy",
                  npyBytes("{'descr': '<f4', 'fortran_order': True, "
                           "'shape': (2, 2), }",
                           raw<float>({1, 2, 3, 4})));
  message = KILN_ERROR_MESSAGE(readNpy(dir + "/fortran.npy"));
  EXPECT_NE(message.find("fortran.npy"), std::string::npos) << message;
  EXPECT_NE(message.find("Fortran"), std::string::npos) << message;

  test::writeText(dir + "/short.npy",
                  npyBytes("{'descr': '<f4', 'fortran_order': False, "
                           "'shape': (2, 3), }",
                           raw<float>({1, 2, 3})));
  message = KILN_ERROR_MESSAGE(readNpy(dir + "/short.npy"));
  EXPECT_NE(message.find("short.npy"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated data"), std::string::npos) << message;

  test::writeText(dir + "/header.npy", npyBytes("{'descr': '<f4', ", ""));
  EXPECT_THROW(readNpy(dir + "/header.npy"), Error);

  EXPECT_THROW(writeNpy(dir + "/no/such/dir/x.npy", Tensor({1}, DType::F32)),
               Error);
}

// A header's shape is input: sizes that overflow 64 bits are refused with an
// error naming the file, never wrapped into a small tensor.
TEST(Npy, HugeShapesAreRefused) {
  std::string dir = tempDir();
  std::string path = dir + "/huge.npy";
  test::writeText(path, npyBytes("{'descr': '<f4', 'fortran_order': False, "
                                 "'shape': (4294967296, 4294967296), }",
                                 ""));
  EXPECT_EQ(KILN_ERROR_MESSAGE(readNpy(path)),
            path + ": shape 4294967296x4294967296 is too large (its size "
                   "overflows 64 bits)");

  // The element count fits; times the 8-byte items it does not.
  test::writeText(path, npyBytes("{'descr': '<f8', 'fortran_order': False, "
                                 "'shape': (4294967296, 1073741824), }",
                                 ""));
  EXPECT_NE(KILN_ERROR_MESSAGE(readNpy(path)).find("is too large"),
            std::string::npos);

  // An empty array too, as numpy refuses it: the other dims overflow.
  test::writeText(path, npyBytes("{'descr': '<f4', 'fortran_order': False, "
                                 "'shape': (0, 4294967296, 4294967296), }",
                                 ""));
  EXPECT_NE(KILN_ERROR_MESSAGE(readNpy(path)).find("is too large"),
            std::string::npos);
}

// Empty arrays (numpy writes them) read as empty tensors of every dtype.
// libFuzzer found the f4 case copying 0 bytes into a null buffer, which
// UndefinedBehaviorSanitizer reports (fuzz/regressions/npy).
TEST(Npy, EmptyArraysRead) {
  std::string dir = tempDir();
  std::string path = dir + "/empty.npy";
  for (const char *descr : {"<f4", "<i4", "<f8", "<i8", "|u1"}) {
    test::writeText(path, npyBytes(std::string("{'descr': '") + descr +
                                       "', 'fortran_order': False, "
                                       "'shape': (0, 4), }",
                                   ""));
    Tensor t = readNpy(path);
    EXPECT_EQ(t.shape, (std::vector<int64_t>{0, 4})) << descr;
    EXPECT_EQ(t.numElements(), 0) << descr;
  }
}

TEST(Tensor, ShapeSizesAreChecked) {
  EXPECT_EQ(KILN_ERROR_MESSAGE(Tensor({2, -1}, DType::F32)),
            "cannot create a tensor: shape 2x-1 has a negative dimension");
  EXPECT_EQ(KILN_ERROR_MESSAGE(Tensor({int64_t{1} << 62}, DType::F32)),
            "cannot create a tensor: shape 4611686018427387904 is too large "
            "(its size overflows 64 bits)");
  Tensor t({3}, DType::F32);
  t.shape = {int64_t{1} << 32, int64_t{1} << 32};
  EXPECT_NE(KILN_ERROR_MESSAGE(t.numElements()).find("is too large"),
            std::string::npos);
  EXPECT_EQ(Tensor({0, 5}, DType::I32).numElements(), 0);
}

} // namespace
} // namespace kiln::runtime
