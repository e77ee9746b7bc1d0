// Gradient-check model: two transposed convolutions (ONNX ConvTranspose
// imports as kiln.conv2d_grad_input): stride 2 with asymmetric pads and an
// output-padding row and column, then grouped with a dilation. Their
// gradients are conv2d (for the input) and conv2d_grad_weight (for the
// weight).
func.func @main(%x: tensor<2x3x4x5xf32> {kiln.name = "x"}) -> (tensor<2x3xf32> {kiln.name = "logits"}) {
  %w1 = kiln.param "t1.weight" {init = "he_normal"} : tensor<3x4x3x3xf32>
  %t1 = kiln.conv2d_grad_input %x, %w1 {strides = array<i64: 2, 2>, pads = array<i64: 1, 0, 0, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, input_size = array<i64: 9, 11>} : (tensor<2x3x4x5xf32>, tensor<3x4x3x3xf32>) -> tensor<2x4x9x11xf32>
  %a1 = kiln.tanh %t1 : (tensor<2x4x9x11xf32>) -> tensor<2x4x9x11xf32>
  %w2 = kiln.param "t2.weight" {init = "he_normal"} : tensor<4x1x2x2xf32>
  %t2 = kiln.conv2d_grad_input %a1, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 2>, groups = 2 : i64, input_size = array<i64: 10, 13>} : (tensor<2x4x9x11xf32>, tensor<4x1x2x2xf32>) -> tensor<2x2x10x13xf32>
  %f = kiln.reshape %t2 {shape = array<i64: 2, 260>} : (tensor<2x2x10x13xf32>) -> tensor<2x260xf32>
  %wf = kiln.param "fc.weight" {init = "glorot_normal"} : tensor<3x260xf32>
  %y = kiln.dense %f, %wf : (tensor<2x260xf32>, tensor<3x260xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
