// Data loading (IDX, npy, CSV), feature scaling, validation split, the LR
// schedules and the other pure pieces of the trainer.
#include "TestUtil.h"

#include "kiln/runtime/Safetensors.h"
#include "kiln/runtime/Trainer.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

namespace kiln::runtime {
namespace {

using test::tempDir;

// An IDX file of unsigned bytes: magic 00 00 08 <rank>, big-endian dims.
std::string idx(const std::vector<uint32_t> &dims,
                const std::vector<uint8_t> &data) {
  std::string bytes = {0, 0, 8, static_cast<char>(dims.size())};
  for (uint32_t dim : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      bytes += static_cast<char>((dim >> shift) & 0xff);
    }
  }
  bytes.append(data.begin(), data.end());
  return bytes;
}

void writeGzip(const std::string &path, const std::string &bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

// Three 2x2 images (pixel values 0, 51, ..., 255) and their labels.
const std::vector<uint8_t> kPixels = {0,   51, 102, 153, 204, 255,
                                      255, 0,  10,  20,  30,  40};
const std::vector<uint8_t> kLabels = {7, 0, 9};

TEST(Data, IdxFolderGzipped) {
  std::string dir = tempDir();
  writeGzip(dir + "/train-images-idx3-ubyte.gz", idx({3, 2, 2}, kPixels));
  writeGzip(dir + "/train-labels-idx1-ubyte.gz", idx({3}, kLabels));
  // The test split as plain files: both forms are accepted.
  test::writeText(dir + "/t10k-images-idx3-ubyte",
                  idx({1, 2, 2}, {255, 255, 0, 0}));
  test::writeText(dir + "/t10k-labels-idx1-ubyte", idx({1}, {4}));

  DataSplits splits = loadData(dir);
  EXPECT_EQ(splits.train.x.shape, (std::vector<int64_t>{3, 1, 2, 2}));
  EXPECT_EQ(splits.train.x.dtype, DType::F32);
  EXPECT_EQ(splits.train.y.shape, std::vector<int64_t>{3});
  EXPECT_EQ(splits.train.y.dtype, DType::I32);
  EXPECT_FLOAT_EQ(splits.train.x.f32()[0], 0.0f);
  EXPECT_FLOAT_EQ(splits.train.x.f32()[1], 0.2f);
  EXPECT_FLOAT_EQ(splits.train.x.f32()[5], 1.0f);
  EXPECT_FLOAT_EQ(splits.train.x.f32()[8], 10.0f / 255.0f);
  EXPECT_EQ(splits.train.y.i32()[0], 7);
  EXPECT_EQ(splits.train.y.i32()[2], 9);
  ASSERT_TRUE(splits.test.has_value());
  EXPECT_EQ(splits.test->size(), 1);
  EXPECT_FLOAT_EQ(splits.test->x.f32()[0], 1.0f);
  EXPECT_EQ(splits.test->y.i32()[0], 4);
}

TEST(Data, IdxPlainWithoutTestSplit) {
  std::string dir = tempDir();
  test::writeText(dir + "/train-images-idx3-ubyte", idx({3, 2, 2}, kPixels));
  test::writeText(dir + "/train-labels-idx1-ubyte", idx({3}, kLabels));
  DataSplits splits = loadData(dir);
  EXPECT_EQ(splits.train.size(), 3);
  EXPECT_FALSE(splits.test.has_value());
  Tensor raw = readIdx(dir + "/train-images-idx3-ubyte");
  EXPECT_EQ(raw.shape, (std::vector<int64_t>{3, 2, 2}));
  EXPECT_EQ(raw.i32()[5], 255);
}

TEST(Data, IdxErrorsNameTheFile) {
  std::string dir = tempDir();
  std::string bad = dir + "/train-images-idx3-ubyte";
  test::writeText(bad, "\x01\x02\x08\x03");
  EXPECT_EQ(KILN_ERROR_MESSAGE(readIdx(bad)),
            bad + ": not an IDX file (bad magic)");

  std::string shortFile = dir + "/short.gz";
  std::vector<uint8_t> pixels(kPixels.begin(), kPixels.end() - 1);
  writeGzip(shortFile, idx({3, 2, 2}, pixels));
  EXPECT_EQ(KILN_ERROR_MESSAGE(readIdx(shortFile)),
            shortFile +
                ": IDX header says 3x2x2 = 12 bytes of data, file has 11");

  // The dims' product overflows 64 bits (an unsigned count wraps to 0,
  // matching the empty data).
  std::string huge = dir + "/huge";
  test::writeText(huge, idx({65536, 65536, 65536, 65536}, {}));
  EXPECT_EQ(KILN_ERROR_MESSAGE(readIdx(huge)),
            huge + ": IDX header: shape 65536x65536x65536x65536 is too large "
                   "(its size overflows 64 bits)");

  std::string floats = dir + "/floats";
  test::writeText(floats, std::string("\0\0\x0d\x01\0\0\0\0", 8));
  EXPECT_EQ(KILN_ERROR_MESSAGE(readIdx(floats)),
            floats + ": unsupported IDX element type 0x0d (kiln reads "
                     "unsigned bytes, 0x08)");

  // Label count must match the image count.
  test::writeText(dir + "/train-images-idx3-ubyte", idx({3, 2, 2}, kPixels));
  test::writeText(dir + "/train-labels-idx1-ubyte", idx({2}, {1, 2}));
  EXPECT_EQ(KILN_ERROR_MESSAGE(loadData(dir)),
            dir + "/train-labels-idx1-ubyte: 2 labels for 3 images in " + dir +
                "/train-images-idx3-ubyte");

  std::string empty = tempDir() + "/empty";
  std::filesystem::create_directories(empty);
  EXPECT_NE(KILN_ERROR_MESSAGE(loadData(empty)).find("train-images-idx3-ubyte"),
            std::string::npos);
  EXPECT_NE(
      KILN_ERROR_MESSAGE(loadData(dir + "/missing.csv")).find("missing.csv"),
      std::string::npos);
}

// Debian's dataset-fashion-mnist, when installed.
TEST(Data, FashionMnist) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  DataSplits splits = loadData("fashion-mnist");
  EXPECT_EQ(splits.train.x.shape, (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(splits.train.y.shape, std::vector<int64_t>{60000});
  ASSERT_TRUE(splits.test.has_value());
  EXPECT_EQ(splits.test->size(), 10000);
  EXPECT_EQ(splits.train.y.i32()[0], 9); // the first image: an ankle boot
  auto [low, high] =
      std::minmax_element(splits.train.x.f32(),
                          splits.train.x.f32() + splits.train.x.numElements());
  EXPECT_EQ(*low, 0.0f);
  EXPECT_EQ(*high, 1.0f);
}

TEST(Data, NpyPairs) {
  std::string dir = tempDir();
  Tensor x({4, 3}, DType::F32);
  for (int i = 0; i < 12; ++i) {
    x.f32()[i] = static_cast<float>(i);
  }
  Tensor y({4, 1}, DType::I32); // [N, 1] labels become [N]
  for (int i = 0; i < 4; ++i) {
    y.i32()[i] = i % 2;
  }
  writeNpy(dir + "/x.npy", x);
  writeNpy(dir + "/y.npy", y);
  Tensor xt({2, 3}, DType::F32);
  Tensor yt({2}, DType::I32);
  writeNpy(dir + "/xt.npy", xt);
  writeNpy(dir + "/yt.npy", yt);

  DataSplits two = loadData(dir + "/x.npy," + dir + "/y.npy");
  EXPECT_EQ(two.train.x.bytes, x.bytes);
  EXPECT_EQ(two.train.y.shape, std::vector<int64_t>{4});
  EXPECT_EQ(two.train.y.i32()[3], 1);
  EXPECT_FALSE(two.test.has_value());

  DataSplits four = loadData(dir + "/x.npy," + dir + "/y.npy," + dir +
                             "/xt.npy," + dir + "/yt.npy");
  ASSERT_TRUE(four.test.has_value());
  EXPECT_EQ(four.test->x.shape, (std::vector<int64_t>{2, 3}));

  EXPECT_EQ(KILN_ERROR_MESSAGE(loadData(dir + "/x.npy," + dir + "/yt.npy")),
            dir + "/yt.npy: 2 targets for 4 samples in " + dir + "/x.npy");
  EXPECT_NE(
      KILN_ERROR_MESSAGE(loadData(dir + "/x.npy,a,b")).find("X.npy,Y.npy"),
      std::string::npos);
}

TEST(Data, CsvWithHeaderAndIntegerLabels) {
  std::string dir = tempDir();
  test::writeText(dir + "/d.csv", "a,b,label\n1,2.5,0\n3, 4 ,2\n\n-1,0,1\n");
  DataSplits splits = loadData(dir + "/d.csv");
  EXPECT_EQ(splits.train.x.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_FLOAT_EQ(splits.train.x.f32()[1], 2.5f);
  EXPECT_FLOAT_EQ(splits.train.x.f32()[3], 4.0f);
  EXPECT_FLOAT_EQ(splits.train.x.f32()[4], -1.0f);
  EXPECT_EQ(splits.train.y.dtype, DType::I32);
  EXPECT_EQ(splits.train.y.shape, std::vector<int64_t>{3});
  EXPECT_EQ(splits.train.y.i32()[1], 2);
}

TEST(Data, CsvWithoutHeaderAndRealLabels) {
  std::string dir = tempDir();
  test::writeText(dir + "/d.csv", "1,2,0.5\r\n3,4,1e1\r\n");
  DataSplits splits = loadData(dir + "/d.csv");
  EXPECT_EQ(splits.train.x.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(splits.train.y.dtype, DType::F32);
  EXPECT_EQ(splits.train.y.shape, (std::vector<int64_t>{2, 1}));
  EXPECT_FLOAT_EQ(splits.train.y.f32()[0], 0.5f);
  EXPECT_FLOAT_EQ(splits.train.y.f32()[1], 10.0f);

  test::writeText(dir + "/bad.csv", "1,2,3\n4,5\n");
  EXPECT_EQ(KILN_ERROR_MESSAGE(loadData(dir + "/bad.csv")),
            dir + "/bad.csv:2: 2 columns, expected 3");
  test::writeText(dir + "/text.csv", "x,y\n1,2\nfoo,3\n");
  EXPECT_EQ(KILN_ERROR_MESSAGE(loadData(dir + "/text.csv")),
            dir + "/text.csv:3: not a number in 'foo,3'");
}

Dataset features(std::vector<int64_t> shape, std::vector<float> values) {
  Dataset data;
  data.x = Tensor(shape, DType::F32);
  for (size_t i = 0; i < values.size(); ++i) {
    data.x.f32()[i] = values[i];
  }
  data.y = Tensor({shape[0]}, DType::I32);
  return data;
}

TEST(Data, MinMaxScalingFitsTheTrainSplit) {
  // Feature 0: 0, 2, 4 -> min 0, range 4; feature 1: 10, 10, 10 (constant).
  Dataset train = features({3, 2}, {0, 10, 2, 10, 4, 10});
  Dataset other = features({1, 2}, {8, 12});
  scaleFeatures(Scaling::MinMax, train, {&other});
  const float expected[] = {0, 0, 0.5f, 0, 1, 0};
  for (int i = 0; i < 6; ++i) {
    EXPECT_FLOAT_EQ(train.x.f32()[i], expected[i]) << i;
  }
  EXPECT_FLOAT_EQ(other.x.f32()[0], 2.0f); // (8 - 0) / 4: not refitted
  EXPECT_FLOAT_EQ(other.x.f32()[1], 2.0f); // 12 - 10, constant feature
}

TEST(Data, StandardScaling) {
  // Feature 0: 1, 3 -> mean 2, population std 1; feature 1: 0, 4 -> 2, 2.
  Dataset train = features({2, 1, 2}, {1, 0, 3, 4});
  Dataset test = features({1, 1, 2}, {5, 1});
  scaleFeatures(Scaling::Standard, train, {&test});
  EXPECT_FLOAT_EQ(train.x.f32()[0], -1);
  EXPECT_FLOAT_EQ(train.x.f32()[1], -1);
  EXPECT_FLOAT_EQ(train.x.f32()[2], 1);
  EXPECT_FLOAT_EQ(train.x.f32()[3], 1);
  EXPECT_FLOAT_EQ(test.x.f32()[0], 3);     // (5 - 2) / 1
  EXPECT_FLOAT_EQ(test.x.f32()[1], -0.5f); // (1 - 2) / 2

  Dataset wrong = features({1, 3}, {1, 2, 3});
  EXPECT_NE(
      KILN_ERROR_MESSAGE(scaleFeatures(Scaling::Standard, train, {&wrong}))
          .find("does not match"),
      std::string::npos);
}

TEST(Data, ValidationSplitTakesTheLastSamples) {
  Dataset train = features({10, 1}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  for (int i = 0; i < 10; ++i) {
    train.y.i32()[i] = 100 + i;
  }
  Dataset val = splitValidation(train, 0.25); // floor(10 * 0.75) = 7 kept
  EXPECT_EQ(train.size(), 7);
  EXPECT_EQ(val.size(), 3);
  EXPECT_EQ(val.x.f32()[0], 7.0f);
  EXPECT_EQ(val.y.i32()[2], 109);
  EXPECT_EQ(train.y.shape, std::vector<int64_t>{7});

  Dataset batch = gatherRows(val, {2, 0, 1}, 0, 2);
  EXPECT_EQ(batch.x.f32()[0], 9.0f);
  EXPECT_EQ(batch.y.i32()[1], 107);
}

TEST(Trainer, LrScheduleValues) {
  LrSchedule constant;
  EXPECT_DOUBLE_EQ(constant.at(0.1, 7, 10), 0.1);

  LrSchedule step;
  step.kind = LrSchedule::Step;
  step.stepSize = 3;
  step.gamma = 0.5;
  EXPECT_DOUBLE_EQ(step.at(0.8, 0, 10), 0.8);
  EXPECT_DOUBLE_EQ(step.at(0.8, 2, 10), 0.8);
  EXPECT_DOUBLE_EQ(step.at(0.8, 3, 10), 0.4);
  EXPECT_DOUBLE_EQ(step.at(0.8, 7, 10), 0.2);

  LrSchedule exponential;
  exponential.kind = LrSchedule::Exponential;
  exponential.gamma = 0.9;
  EXPECT_DOUBLE_EQ(exponential.at(1.0, 0, 10), 1.0);
  EXPECT_DOUBLE_EQ(exponential.at(1.0, 2, 10), 0.81);

  // eta_min + (base - eta_min) * (1 + cos(pi * t / T)) / 2, T = epochs.
  LrSchedule cosine;
  cosine.kind = LrSchedule::Cosine;
  cosine.etaMin = 0.1;
  EXPECT_DOUBLE_EQ(cosine.at(1.1, 0, 4), 1.1);
  EXPECT_NEAR(cosine.at(1.1, 1, 4), 0.1 + 1.0 * (1 + std::sqrt(0.5)) / 2,
              1e-12);
  EXPECT_NEAR(cosine.at(1.1, 2, 4), 0.6, 1e-12);
  EXPECT_NEAR(cosine.at(1.1, 4, 4), 0.1, 1e-12);
  cosine.tMax = 2; // held at eta_min after t_max
  EXPECT_NEAR(cosine.at(1.1, 1, 10), 0.6, 1e-12);
  EXPECT_NEAR(cosine.at(1.1, 5, 10), 0.1, 1e-12);
}

TEST(Trainer, PermutationDependsOnSeedAndEpochOnly) {
  std::vector<int64_t> a = epochPermutation(100, 42, 3);
  EXPECT_EQ(a, epochPermutation(100, 42, 3));
  EXPECT_NE(a, epochPermutation(100, 42, 4));
  EXPECT_NE(a, epochPermutation(100, 43, 3));
  std::set<int64_t> values(a.begin(), a.end());
  EXPECT_EQ(values.size(), 100u);
  EXPECT_EQ(*values.begin(), 0);
  EXPECT_EQ(*values.rbegin(), 99);
  EXPECT_TRUE(epochPermutation(0, 1, 0).empty());

  EXPECT_EQ(stepSeed(5, 1), stepSeed(5, 1));
  EXPECT_NE(stepSeed(5, 1), stepSeed(5, 2));
  EXPECT_NE(stepSeed(5, 1), stepSeed(6, 1));
  for (int64_t step = 1; step < 100; ++step) {
    EXPECT_GE(stepSeed(7, step), 0);
  }
}

TEST(Trainer, CountCorrect) {
  Tensor logits({3, 3}, DType::F32);
  const float values[] = {0.1f, 0.7f, 0.2f, 2, 1, 0, -1, -2, -0.5f};
  std::memcpy(logits.bytes.data(), values, sizeof(values));
  Tensor labels({3}, DType::I32);
  labels.i32()[0] = 1; // right
  labels.i32()[1] = 1; // wrong (argmax 0)
  labels.i32()[2] = 2; // right
  EXPECT_EQ(countCorrect(logits, labels), 2);

  Tensor oneHot({3, 3}, DType::F32);
  oneHot.f32()[1] = 1;     // row 0: class 1, right
  oneHot.f32()[3 + 0] = 1; // row 1: class 0, right
  oneHot.f32()[6 + 0] = 1; // row 2: class 0, wrong
  EXPECT_EQ(countCorrect(logits, oneHot), 2);

  oneHot.f32()[2] = 0.5f; // not one-hot: a soft target
  EXPECT_EQ(countCorrect(logits, oneHot), -1);
  Tensor regression({3, 1}, DType::F32);
  EXPECT_EQ(countCorrect(regression, regression), -1);
}

TEST(Safetensors, MetadataRoundTrip) {
  std::string dir = tempDir();
  std::map<std::string, Tensor> tensors;
  tensors["w"] = Tensor({2}, DType::F32);
  tensors["w"].f32()[1] = 3;
  std::map<std::string, std::string> metadata = {
      {"epoch", "3"}, {"best_val_loss", "0.25"}, {"format", "kiln-checkpoint"}};
  writeSafetensors(dir + "/c.safetensors", tensors, metadata);
  EXPECT_EQ(readSafetensorsMetadata(dir + "/c.safetensors"), metadata);
  auto back = readSafetensors(dir + "/c.safetensors");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back["w"].bytes, tensors["w"].bytes);

  writeSafetensors(dir + "/plain.safetensors", tensors);
  EXPECT_TRUE(readSafetensorsMetadata(dir + "/plain.safetensors").empty());

  std::string header = R"({"__metadata__":{"epoch":3}})";
  std::string file;
  for (int i = 0; i < 8; ++i) {
    file += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  }
  test::writeText(dir + "/bad.safetensors", file + header);
  EXPECT_EQ(
      KILN_ERROR_MESSAGE(readSafetensorsMetadata(dir + "/bad.safetensors")),
      dir + "/bad.safetensors: __metadata__ 'epoch' must be a string");
}

} // namespace
} // namespace kiln::runtime
