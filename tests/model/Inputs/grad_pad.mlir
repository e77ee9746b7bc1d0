// Gradient-check model: replicate and reflect padding (PyTorch's Conv2d
// padding_mode, as ONNX exports it: Pad + Conv). A 1x1 conv before the pads
// so that the pads' gradients reach a parameter, and one between the tanh
// and the reflect pad (its input gradient: the pointwise conv of dy with the
// transposed weight).
func.func @main(%x: tensor<2x2x6x5xf32> {kiln.name = "x"}) -> (tensor<2x3xf32> {kiln.name = "logits"}) {
  %w1 = kiln.param "c1.weight" {init = "he_normal"} : tensor<3x2x1x1xf32>
  %b1 = kiln.param "c1.bias" {init = "torch_default", fan_in = 2} : tensor<3xf32>
  %c1 = kiln.conv2d %x, %w1, %b1 : (tensor<2x2x6x5xf32>, tensor<3x2x1x1xf32>, tensor<3xf32>) -> tensor<2x3x6x5xf32>
  %p1 = kiln.pad %c1 {pads = array<i64: 0, 0, 1, 1, 0, 0, 1, 1>, mode = "edge"} : (tensor<2x3x6x5xf32>) -> tensor<2x3x8x7xf32>
  %w2 = kiln.param "c2.weight" {init = "he_normal"} : tensor<4x3x3x3xf32>
  %c2 = kiln.conv2d %p1, %w2 : (tensor<2x3x8x7xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x6x5xf32>
  %t2 = kiln.tanh %c2 : (tensor<2x4x6x5xf32>) -> tensor<2x4x6x5xf32>
  %wm = kiln.param "mix.weight" {init = "he_normal"} : tensor<4x4x1x1xf32>
  %m = kiln.conv2d %t2, %wm : (tensor<2x4x6x5xf32>, tensor<4x4x1x1xf32>) -> tensor<2x4x6x5xf32>
  %p2 = kiln.pad %m {pads = array<i64: 0, 0, 2, 0, 0, 0, 0, 1>, mode = "reflect"} : (tensor<2x4x6x5xf32>) -> tensor<2x4x8x6xf32>
  %w3 = kiln.param "c3.weight" {init = "he_normal"} : tensor<2x4x3x3xf32>
  %c3 = kiln.conv2d %p2, %w3 {strides = array<i64: 2, 2>} : (tensor<2x4x8x6xf32>, tensor<2x4x3x3xf32>) -> tensor<2x2x3x2xf32>
  %f = kiln.reshape %c3 {shape = array<i64: 2, 12>} : (tensor<2x2x3x2xf32>) -> tensor<2x12xf32>
  %wf = kiln.param "fc.weight" {init = "glorot_normal"} : tensor<3x12xf32>
  %y = kiln.dense %f, %wf : (tensor<2x12xf32>, tensor<3x12xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
