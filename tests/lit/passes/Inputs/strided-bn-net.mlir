// A strided conv + BatchNorm + ReLU for the pipeline tests of
// kiln-pack-weights.
func.func @main(%x: tensor<1x16x8x8xf32> {kiln.name = "image"}) -> (tensor<1x32x4x4xf32> {kiln.name = "features"}) {
  %w = kiln.param "conv.weight" {init = "he_normal"} : tensor<32x16x3x3xf32>
  %g = kiln.param "bn.weight" {init = "ones"} : tensor<32xf32>
  %b = kiln.param "bn.bias" : tensor<32xf32>
  %m = kiln.param "bn.running_mean" : tensor<32xf32>
  %v = kiln.param "bn.running_var" {init = "ones"} : tensor<32xf32>
  %c = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x16x8x8xf32>, tensor<32x16x3x3xf32>) -> tensor<1x32x4x4xf32>
  %n = kiln.batch_norm %c, %g, %b, %m, %v : (tensor<1x32x4x4xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<1x32x4x4xf32>
  %r = kiln.relu %n : (tensor<1x32x4x4xf32>) -> tensor<1x32x4x4xf32>
  return %r : tensor<1x32x4x4xf32>
}
