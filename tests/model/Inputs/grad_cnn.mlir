// Gradient-check model: odd batch, odd sizes, strided asymmetric conv,
// batch norm with batch statistics, smooth activation, both poolings.
func.func @main(%x: tensor<3x2x7x6xf32> {kiln.name = "x"}) -> (tensor<3x5xf32> {kiln.name = "logits"}) {
  %w = kiln.param "conv.weight" {init = "he_uniform"} : tensor<4x2x3x3xf32>
  %b = kiln.param "conv.bias" {init = "torch_default", fan_in = 18} : tensor<4xf32>
  %c = kiln.conv2d %x, %w, %b {strides = array<i64: 2, 1>, pads = array<i64: 1, 0, 1, 2>} : (tensor<3x2x7x6xf32>, tensor<4x2x3x3xf32>, tensor<4xf32>) -> tensor<3x4x4x6xf32>
  %g = kiln.param "bn.weight" {init = "he_uniform", fan_in = 1} : tensor<4xf32>
  %be = kiln.param "bn.bias" {init = "he_uniform", fan_in = 1} : tensor<4xf32>
  %m = kiln.param "bn.running_mean" : tensor<4xf32>
  %v = kiln.param "bn.running_var" {init = "ones"} : tensor<4xf32>
  %n = kiln.batch_norm %c, %g, %be, %m, %v : (tensor<3x4x4x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<3x4x4x6xf32>
  %s = kiln.silu %n : (tensor<3x4x4x6xf32>) -> tensor<3x4x4x6xf32>
  %a = kiln.avg_pool2d %s {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = false} : (tensor<3x4x4x6xf32>) -> tensor<3x4x5x7xf32>
  %p = kiln.max_pool2d %a {kernel = array<i64: 2, 3>, strides = array<i64: 2, 2>, ceil_mode = true} : (tensor<3x4x5x7xf32>) -> tensor<3x4x3x3xf32>
  %f = kiln.flatten %p : (tensor<3x4x3x3xf32>) -> tensor<3x36xf32>
  %fw = kiln.param "fc.weight" {init = "glorot_uniform"} : tensor<5x36xf32>
  %fb = kiln.param "fc.bias" {init = "torch_default", fan_in = 36} : tensor<5xf32>
  %y = kiln.dense %f, %fw, %fb : (tensor<3x36xf32>, tensor<5x36xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  return %y : tensor<3x5xf32>
}
