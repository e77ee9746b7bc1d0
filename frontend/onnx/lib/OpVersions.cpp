//===- OpVersions.cpp - ONNX operator versions kiln imports ---------------===//
#include "OpVersions.h"

#include <map>
#include <vector>

namespace kiln::frontend::onnx_detail {

namespace {

// Every version (since_version) of each operator the importer handles, up
// to opset 21: opsets 1-17 from the operator schemas of Debian's onnx 1.12
// (onnx.defs.get_all_schemas_with_history), 18-21 from ONNX's operator
// changelog (1.13-1.16). A version that only adds element types kiln does
// not take (bfloat16, int4) still counts: the importer accepts it with the
// version before it.
const std::map<std::string, std::vector<int64_t>> &versions() {
  static const std::map<std::string, std::vector<int64_t>> table = {
      {"Abs", {1, 6, 13}},
      {"Acos", {7}},
      {"Acosh", {9}},
      {"Add", {1, 6, 7, 13, 14}},
      {"And", {1, 7}},
      {"ArgMax", {1, 11, 12, 13}},
      {"ArgMin", {1, 11, 12, 13}},
      {"Asin", {7}},
      {"Asinh", {9}},
      {"Atan", {7}},
      {"Atanh", {9}},
      {"AveragePool", {1, 7, 10, 11, 19}},
      {"BatchNormalization", {1, 6, 7, 9, 14, 15}},
      {"BlackmanWindow", {17}},
      {"Cast", {1, 6, 9, 13, 19, 21}},
      {"CastLike", {15, 19, 21}},
      {"Ceil", {1, 6, 13}},
      {"Celu", {12}},
      {"Clip", {1, 6, 11, 12, 13}},
      {"Compress", {9, 11}},
      {"Concat", {1, 4, 11, 13}},
      {"Constant", {1, 9, 11, 12, 13, 19, 21}},
      {"ConstantOfShape", {9, 20, 21}},
      {"Conv", {1, 11}},
      {"ConvTranspose", {1, 11}},
      {"Cos", {7}},
      {"CumSum", {11, 14}},
      {"Cosh", {9}},
      {"DepthToSpace", {1, 11, 13}},
      {"Div", {1, 6, 7, 13, 14}},
      {"Dropout", {1, 6, 7, 10, 12, 13}},
      {"Equal", {7, 11, 13, 19}},
      {"Einsum", {12}},
      {"Elu", {1, 6}},
      {"Erf", {9, 13}},
      {"Exp", {1, 6, 13}},
      {"Expand", {8, 13}},
      {"EyeLike", {9}},
      {"Flatten", {1, 9, 11, 13, 21}},
      {"Floor", {1, 6, 13}},
      {"GRU", {7, 14}},
      {"Gather", {1, 11, 13}},
      {"GatherElements", {11, 13}},
      {"GatherND", {11, 12, 13}},
      {"Gelu", {20}},
      {"Gemm", {1, 6, 7, 9, 11, 13}},
      {"GlobalAveragePool", {1}},
      {"GlobalMaxPool", {1}},
      {"Greater", {7, 9, 13}},
      {"GreaterOrEqual", {12, 16}},
      {"GridSample", {16, 20}},
      {"HammingWindow", {17}},
      {"HannWindow", {17}},
      {"HardSigmoid", {1, 6}},
      {"Hardmax", {1, 11, 13}},
      {"HardSwish", {14}},
      {"Identity", {1, 13, 14, 16, 19, 21}},
      {"If", {1, 11, 13, 16, 19, 21}},
      {"InstanceNormalization", {1, 6}},
      {"IsInf", {10, 20}},
      {"IsNaN", {9, 13, 20}},
      {"LRN", {1, 13}},
      {"LSTM", {7, 14}},
      {"LayerNormalization", {17}},
      {"LeakyRelu", {1, 6, 16}},
      {"Less", {7, 9, 13}},
      {"LessOrEqual", {12, 16}},
      {"Log", {1, 6, 13}},
      {"LogSoftmax", {1, 11, 13}},
      {"Loop", {1, 11, 13, 16, 19, 21}},
      {"MatMul", {1, 9, 13}},
      {"Max", {1, 6, 8, 12, 13}},
      {"MaxPool", {1, 8, 10, 11, 12}},
      {"MaxUnpool", {9, 11}},
      {"Mean", {1, 6, 8, 13}},
      {"Min", {1, 6, 8, 12, 13}},
      {"Mod", {10, 13}},
      {"Mul", {1, 6, 7, 13, 14}},
      {"MeanVarianceNormalization", {9, 13}},
      {"Neg", {1, 6, 13}},
      {"NegativeLogLikelihoodLoss", {12, 13}},
      {"Not", {1}},
      {"OneHot", {9, 11}},
      {"Or", {1, 7}},
      {"PRelu", {1, 6, 7, 9, 16}},
      {"Pad", {1, 2, 11, 13, 18, 19, 21}},
      {"Pow", {1, 7, 12, 13, 15}},
      {"RNN", {7, 14}},
      {"Range", {11}},
      {"Reciprocal", {1, 6, 13}},
      {"ReduceL1", {1, 11, 13, 18}},
      {"ReduceL2", {1, 11, 13, 18}},
      {"ReduceLogSum", {1, 11, 13, 18}},
      {"ReduceLogSumExp", {1, 11, 13, 18}},
      {"ReduceMax", {1, 11, 12, 13, 18, 20}},
      {"ReduceMean", {1, 11, 13, 18}},
      {"ReduceMin", {1, 11, 12, 13, 18, 20}},
      {"ReduceProd", {1, 11, 13, 18}},
      {"ReduceSum", {1, 11, 13}},
      {"ReduceSumSquare", {1, 11, 13, 18}},
      {"Relu", {1, 6, 13, 14}},
      {"Reshape", {1, 5, 13, 14, 19, 21}},
      {"Resize", {10, 11, 13, 18, 19}},
      {"ReverseSequence", {10}},
      {"Round", {11}},
      {"Scan", {8, 9, 11, 16, 19, 21}},
      {"Scatter", {9}},
      {"ScatterElements", {11, 13, 16, 18}},
      {"ScatterND", {11, 13, 16, 18}},
      {"Selu", {1, 6}},
      {"Shape", {1, 13, 15, 19, 21}},
      {"Shrink", {9}},
      {"Sigmoid", {1, 6, 13}},
      {"Sign", {9, 13}},
      {"Sin", {7}},
      {"Sinh", {9}},
      {"Size", {1, 13, 19, 21}},
      {"Slice", {1, 10, 11, 13}},
      {"Softmax", {1, 11, 13}},
      {"SoftmaxCrossEntropyLoss", {12, 13}},
      {"Softplus", {1}},
      {"Softsign", {1}},
      {"SpaceToDepth", {1, 13}},
      {"Split", {1, 2, 11, 13, 18}},
      {"Sqrt", {1, 6, 13}},
      {"Squeeze", {1, 11, 13, 21}},
      {"Sub", {1, 6, 7, 13, 14}},
      {"Sum", {1, 6, 8, 13}},
      {"Tan", {7}},
      {"Tanh", {1, 6, 13}},
      {"ThresholdedRelu", {10}},
      {"Tile", {1, 6, 13}},
      {"TopK", {1, 10, 11}},
      {"Transpose", {1, 13, 21}},
      {"Trilu", {14}},
      {"Unsqueeze", {1, 11, 13, 21}},
      {"Upsample", {7, 9}},
      {"Where", {9, 16}},
      {"Xor", {1, 7}},
  };
  return table;
}

} // namespace

int64_t opVersion(const std::string &op, int64_t opset) {
  auto it = versions().find(op);
  if (it == versions().end()) {
    return 0;
  }
  int64_t version = 0;
  for (int64_t v : it->second) {
    if (v <= opset) {
      version = v;
    }
  }
  return version;
}

} // namespace kiln::frontend::onnx_detail
