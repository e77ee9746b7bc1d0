// Gradient-check model: resize in a decoder (kiln.resize_grad). A conv
// before the resizes so that their gradients reach a parameter: bilinear
// up to 9x7 (half_pixel), nearest x2 (asymmetric, floor: every input read
// by 4 outputs), then cubic down to 4x3 with the outside taps excluded.
func.func @main(%x: tensor<2x2x5x4xf32> {kiln.name = "x"}) -> (tensor<2x3xf32> {kiln.name = "logits"}) {
  %w1 = kiln.param "c1.weight" {init = "he_normal"} : tensor<3x2x3x3xf32>
  %b1 = kiln.param "c1.bias" {init = "torch_default", fan_in = 18} : tensor<3xf32>
  %c1 = kiln.conv2d %x, %w1, %b1 {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x2x5x4xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>) -> tensor<2x3x5x4xf32>
  %r1 = kiln.resize %c1 {sizes = array<i64: 9, 7>, scales = [1.8, 1.75], mode = "linear"} : (tensor<2x3x5x4xf32>) -> tensor<2x3x9x7xf32>
  %t1 = kiln.tanh %r1 : (tensor<2x3x9x7xf32>) -> tensor<2x3x9x7xf32>
  %r2 = kiln.resize %t1 {sizes = array<i64: 18, 14>, scales = [2.0, 2.0], mode = "nearest", coordinate_transformation_mode = "asymmetric", nearest_mode = "floor"} : (tensor<2x3x9x7xf32>) -> tensor<2x3x18x14xf32>
  %r3 = kiln.resize %r2 {sizes = array<i64: 4, 3>, scales = [0.2222222222222222, 0.21428571428571427], mode = "cubic", exclude_outside = true} : (tensor<2x3x18x14xf32>) -> tensor<2x3x4x3xf32>
  %f = kiln.reshape %r3 {shape = array<i64: 2, 36>} : (tensor<2x3x4x3xf32>) -> tensor<2x36xf32>
  %wf = kiln.param "fc.weight" {init = "glorot_normal"} : tensor<3x36xf32>
  %y = kiln.dense %f, %wf : (tensor<2x36xf32>, tensor<3x36xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
