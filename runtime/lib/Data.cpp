// Datasets for the trainer: IDX folders (Fashion-MNIST), .npy pairs and CSV
// files, feature scaling and the validation split.
#include "CheckedSize.h"
#include "kiln/runtime/Trainer.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <sys/stat.h>

namespace kiln::runtime {

namespace {

const char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// Whole file, gunzipped when it is gzip (gzread passes plain files through).
std::vector<uint8_t> readMaybeGzipped(const std::string &path) {
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) {
    throw Error("cannot open '" + path +
                "': " + (errno ? std::strerror(errno) : "out of memory"));
  }
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  int got;
  while ((got = gzread(file, chunk, sizeof(chunk))) > 0) {
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  if (got < 0) {
    int code;
    std::string message = gzerror(file, &code);
    gzclose(file);
    throw Error(path + ": cannot decompress: " + message);
  }
  gzclose(file);
  return bytes;
}

uint32_t readBigEndian(const uint8_t *p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) |
         (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

bool isFile(const std::string &path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

// `dir/name` or `dir/name.gz`, whichever exists ("" if neither).
std::string findIdx(const std::string &dir, const std::string &name) {
  for (const std::string &candidate :
       {dir + "/" + name, dir + "/" + name + ".gz"}) {
    if (isFile(candidate)) {
      return candidate;
    }
  }
  return "";
}

// Images [N,H,W] bytes -> f32 [N,1,H,W] in [0,1]; labels [N] -> i32 [N].
Dataset idxPair(const std::string &imagesPath, const std::string &labelsPath) {
  Tensor images = readIdx(imagesPath);
  Tensor labels = readIdx(labelsPath);
  if (images.shape.size() != 3) {
    throw Error(imagesPath + ": expected images [N, H, W], got " +
                std::to_string(images.shape.size()) + " dimensions");
  }
  if (labels.shape.size() != 1) {
    throw Error(labelsPath + ": expected labels [N], got " +
                std::to_string(labels.shape.size()) + " dimensions");
  }
  if (labels.shape[0] != images.shape[0]) {
    throw Error(labelsPath + ": " + std::to_string(labels.shape[0]) +
                " labels for " + std::to_string(images.shape[0]) +
                " images in " + imagesPath);
  }
  Dataset data;
  data.x = Tensor({images.shape[0], 1, images.shape[1], images.shape[2]},
                  DType::F32);
  int64_t count = images.numElements();
  for (int64_t i = 0; i < count; ++i) {
    data.x.f32()[i] = static_cast<float>(images.i32()[i]) / 255.0f;
  }
  data.y = std::move(labels);
  return data;
}

DataSplits loadIdxFolder(const std::string &dir) {
  std::string trainImages = findIdx(dir, "train-images-idx3-ubyte");
  std::string trainLabels = findIdx(dir, "train-labels-idx1-ubyte");
  if (trainImages.empty() || trainLabels.empty()) {
    throw Error(dir + ": no train-images-idx3-ubyte[.gz] and "
                      "train-labels-idx1-ubyte[.gz] in this folder");
  }
  DataSplits splits;
  splits.train = idxPair(trainImages, trainLabels);
  std::string testImages = findIdx(dir, "t10k-images-idx3-ubyte");
  std::string testLabels = findIdx(dir, "t10k-labels-idx1-ubyte");
  if (!testImages.empty() && !testLabels.empty()) {
    splits.test = idxPair(testImages, testLabels);
  }
  return splits;
}

// x: f32 (integers converted, not rescaled); y: i32 labels are flattened
// from [N, 1] to [N].
Dataset npyPair(const std::string &xPath, const std::string &yPath) {
  Dataset data;
  data.x = readNpy(xPath);
  data.y = readNpy(yPath);
  if (data.x.shape.empty()) {
    throw Error(xPath + ": features need a sample dimension, got a scalar");
  }
  if (data.x.dtype == DType::I32) {
    Tensor converted(data.x.shape, DType::F32);
    for (int64_t i = 0; i < converted.numElements(); ++i) {
      converted.f32()[i] = static_cast<float>(data.x.i32()[i]);
    }
    data.x = std::move(converted);
  }
  if (data.y.shape.empty() || data.y.shape[0] != data.x.shape[0]) {
    throw Error(
        yPath + ": " +
        (data.y.shape.empty() ? std::string("a scalar")
                              : std::to_string(data.y.shape[0]) + " targets") +
        " for " + std::to_string(data.x.shape[0]) + " samples in " + xPath);
  }
  if (data.y.dtype == DType::I32 && data.y.shape.size() == 2 &&
      data.y.shape[1] == 1) {
    data.y.shape = {data.y.shape[0]};
  }
  return data;
}

std::vector<std::string> splitOn(const std::string &text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream stream(text);
  while (std::getline(stream, part, separator)) {
    parts.push_back(part);
  }
  if (!text.empty() && text.back() == separator) {
    parts.push_back("");
  }
  return parts;
}

std::string trim(const std::string &text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) {
    return "";
  }
  size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

bool parseDouble(const std::string &text, double &value) {
  if (text.empty()) {
    return false;
  }
  char *end = nullptr;
  errno = 0;
  value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && errno != ERANGE;
}

bool isInteger(const std::string &text) {
  size_t i = text[0] == '-' || text[0] == '+' ? 1 : 0;
  if (i == text.size()) {
    return false;
  }
  for (; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return true;
}

// Comma-separated, the last column the label; a first row that is not all
// numbers is a header. Labels that are all integers give i32 [N], others
// f32 [N, 1].
Dataset loadCsv(const std::string &path) {
  std::ifstream stream(path);
  if (!stream) {
    throw Error("cannot open '" + path + "': " + std::strerror(errno));
  }
  std::vector<float> features;
  std::vector<std::string> labels;
  size_t columns = 0;
  std::string line;
  int64_t lineNumber = 0;
  while (std::getline(stream, line)) {
    ++lineNumber;
    if (trim(line).empty()) {
      continue;
    }
    std::vector<std::string> fields = splitOn(line, ',');
    for (std::string &field : fields) {
      field = trim(field);
    }
    std::vector<double> values(fields.size());
    bool numeric = true;
    for (size_t i = 0; i < fields.size(); ++i) {
      numeric = numeric && parseDouble(fields[i], values[i]);
    }
    bool first = columns == 0;
    if (first) {
      columns = fields.size();
      if (columns < 2) {
        throw Error(path + ":" + std::to_string(lineNumber) +
                    ": need at least one feature column and a label column");
      }
      if (!numeric) {
        continue; // header
      }
    }
    if (fields.size() != columns) {
      throw Error(path + ":" + std::to_string(lineNumber) + ": " +
                  std::to_string(fields.size()) + " columns, expected " +
                  std::to_string(columns));
    }
    if (!numeric) {
      throw Error(path + ":" + std::to_string(lineNumber) +
                  ": not a number in '" + line + "'");
    }
    for (size_t i = 0; i + 1 < columns; ++i) {
      features.push_back(static_cast<float>(values[i]));
    }
    labels.push_back(fields.back());
  }
  if (labels.empty()) {
    throw Error(path + ": no data rows");
  }
  int64_t rows = static_cast<int64_t>(labels.size());
  int64_t width = static_cast<int64_t>(columns) - 1;
  Dataset data;
  data.x = Tensor({rows, width}, DType::F32);
  std::memcpy(data.x.bytes.data(), features.data(), data.x.bytes.size());
  bool integers = true;
  for (const std::string &label : labels) {
    integers = integers && isInteger(label);
  }
  if (integers) {
    data.y = Tensor({rows}, DType::I32);
    for (int64_t i = 0; i < rows; ++i) {
      long long value = std::stoll(labels[i]);
      if (value < std::numeric_limits<int32_t>::min() ||
          value > std::numeric_limits<int32_t>::max()) {
        throw Error(path + ": label '" + labels[i] + "' does not fit in i32");
      }
      data.y.i32()[i] = static_cast<int32_t>(value);
    }
  } else {
    data.y = Tensor({rows, 1}, DType::F32);
    for (int64_t i = 0; i < rows; ++i) {
      data.y.f32()[i] = std::strtof(labels[i].c_str(), nullptr);
    }
  }
  return data;
}

int64_t rowElements(const Tensor &tensor) {
  if (tensor.shape.size() < 2) {
    return 1;
  }
  const int64_t *dims = tensor.shape.data();
  std::optional<int64_t> count =
      detail::checkedSize(dims + 1, dims + tensor.shape.size());
  if (!count) { // only for a shape edited after construction
    throw Error("tensor: " + detail::sizeProblem(tensor.shape));
  }
  return *count;
}

// Rows [begin, end) of `tensor`.
Tensor sliceRows(const Tensor &tensor, int64_t begin, int64_t end) {
  std::vector<int64_t> shape = tensor.shape;
  shape[0] = end - begin;
  Tensor slice(shape, tensor.dtype);
  size_t rowBytes =
      static_cast<size_t>(rowElements(tensor)) * dtypeSize(tensor.dtype);
  std::memcpy(slice.bytes.data(), tensor.bytes.data() + begin * rowBytes,
              slice.bytes.size());
  return slice;
}

} // namespace

Tensor readIdx(const std::string &path) {
  std::vector<uint8_t> file = readMaybeGzipped(path);
  // Magic: two zero bytes, the element type (0x08 = unsigned byte), the
  // number of dimensions; then one big-endian u32 per dimension.
  if (file.size() < 4 || file[0] != 0 || file[1] != 0) {
    throw Error(path + ": not an IDX file (bad magic)");
  }
  if (file[2] != 0x08) {
    char code[8];
    std::snprintf(code, sizeof(code), "0x%02x", file[2]);
    throw Error(path + ": unsupported IDX element type " + code +
                " (kiln reads unsigned bytes, 0x08)");
  }
  int rank = file[3];
  size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (rank == 0 || file.size() < header) {
    throw Error(path + ": truncated IDX header (" + std::to_string(rank) +
                " dimensions)");
  }
  std::vector<int64_t> shape;
  for (int d = 0; d < rank; ++d) {
    shape.push_back(readBigEndian(file.data() + 4 + 4 * d));
  }
  uint64_t count = static_cast<uint64_t>(
      detail::requireByteSize(shape, 1, path + ": IDX header"));
  if (file.size() - header != count) {
    std::string dims;
    for (int64_t dim : shape) {
      dims += (dims.empty() ? "" : "x") + std::to_string(dim);
    }
    throw Error(path + ": IDX header says " + dims + " = " +
                std::to_string(count) + " bytes of data, file has " +
                std::to_string(file.size() - header));
  }
  Tensor tensor(shape, DType::I32);
  for (uint64_t i = 0; i < count; ++i) {
    tensor.i32()[i] = file[header + i];
  }
  return tensor;
}

DataSplits loadData(const std::string &spec) {
  if (spec == "fashion-mnist") {
    if (!std::filesystem::is_directory(kFashionMnistDir)) {
      throw Error(std::string(kFashionMnistDir) +
                  ": not found (install Debian's dataset-fashion-mnist)");
    }
    return loadIdxFolder(kFashionMnistDir);
  }
  if (spec.find(',') != std::string::npos) {
    std::vector<std::string> files = splitOn(spec, ',');
    if (files.size() != 2 && files.size() != 4) {
      throw Error("data '" + spec +
                  "': expected X.npy,Y.npy or X.npy,Y.npy,XT.npy,YT.npy");
    }
    DataSplits splits;
    splits.train = npyPair(files[0], files[1]);
    if (files.size() == 4) {
      splits.test = npyPair(files[2], files[3]);
    }
    return splits;
  }
  if (std::filesystem::is_directory(spec)) {
    return loadIdxFolder(spec);
  }
  if (isFile(spec)) {
    DataSplits splits;
    splits.train = loadCsv(spec);
    return splits;
  }
  throw Error("data '" + spec +
              "': not 'fashion-mnist', a folder of IDX files, X.npy,Y.npy "
              "or a CSV file (no such file or folder)");
}

void scaleFeatures(Scaling scaling, Dataset &fit,
                   const std::vector<Dataset *> &others) {
  if (scaling == Scaling::None) {
    return;
  }
  if (fit.x.dtype != DType::F32 || fit.size() == 0) {
    throw Error("feature scaling needs f32 features and at least one sample");
  }
  int64_t rows = fit.size();
  int64_t width = rowElements(fit.x);
  // Per feature: value -> (value - shift[f]) * factor[f]. Sums in double.
  std::vector<double> shift(width), factor(width, 1.0);
  const float *x = fit.x.f32();
  for (int64_t f = 0; f < width; ++f) {
    if (scaling == Scaling::MinMax) {
      double low = x[f], high = x[f];
      for (int64_t r = 1; r < rows; ++r) {
        low = std::min(low, double(x[r * width + f]));
        high = std::max(high, double(x[r * width + f]));
      }
      shift[f] = low;
      factor[f] = high > low ? 1.0 / (high - low) : 1.0;
    } else {
      double sum = 0;
      for (int64_t r = 0; r < rows; ++r) {
        sum += x[r * width + f];
      }
      double mean = sum / rows;
      double squares = 0;
      for (int64_t r = 0; r < rows; ++r) {
        double d = x[r * width + f] - mean;
        squares += d * d;
      }
      double stddev = std::sqrt(squares / rows); // population, like sklearn
      shift[f] = mean;
      factor[f] = stddev > 0 ? 1.0 / stddev : 1.0;
    }
  }
  std::vector<Dataset *> all{&fit};
  all.insert(all.end(), others.begin(), others.end());
  for (Dataset *data : all) {
    if (!data || data->size() == 0) {
      continue;
    }
    if (data->x.dtype != DType::F32 || rowElements(data->x) != width) {
      throw Error("feature scaling: dataset with " + data->x.shapeString() +
                  " features does not match the fitted " + fit.x.shapeString());
    }
    float *values = data->x.f32();
    for (int64_t r = 0; r < data->size(); ++r) {
      for (int64_t f = 0; f < width; ++f) {
        float &v = values[r * width + f];
        v = static_cast<float>((v - shift[f]) * factor[f]);
      }
    }
  }
}

Dataset splitValidation(Dataset &train, double fraction) {
  if (fraction < 0 || fraction >= 1) {
    throw Error("validation split " + std::to_string(fraction) +
                " outside [0, 1)");
  }
  int64_t rows = train.size();
  int64_t keep = static_cast<int64_t>(std::floor(rows * (1.0 - fraction)));
  Dataset validation;
  validation.x = sliceRows(train.x, keep, rows);
  validation.y = sliceRows(train.y, keep, rows);
  train.x = sliceRows(train.x, 0, keep);
  train.y = sliceRows(train.y, 0, keep);
  return validation;
}

void gatherRowsInto(const Dataset &data, const std::vector<int64_t> &indices,
                    int64_t begin, int64_t count, Dataset &batch) {
  for (auto [source, target] :
       {std::pair{&data.x, &batch.x}, std::pair{&data.y, &batch.y}}) {
    std::vector<int64_t> shape = source->shape;
    shape[0] = count;
    // Reused when the shape matches: a fresh multi-page tensor every step
    // costs page faults, not just a copy.
    if (target->shape != shape || target->dtype != source->dtype) {
      *target = Tensor(shape, source->dtype);
    }
    size_t rowBytes =
        static_cast<size_t>(rowElements(*source)) * dtypeSize(source->dtype);
    for (int64_t i = 0; i < count; ++i) {
      int64_t row = indices[begin + i];
      std::memcpy(target->bytes.data() + i * rowBytes,
                  source->bytes.data() + row * rowBytes, rowBytes);
    }
  }
}

Dataset gatherRows(const Dataset &data, const std::vector<int64_t> &indices,
                   int64_t begin, int64_t count) {
  Dataset batch;
  gatherRowsInto(data, indices, begin, count, batch);
  return batch;
}

} // namespace kiln::runtime
