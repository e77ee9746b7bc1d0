// Gradient-check model for kiln-fuse's recompute-conv: a first layer on
// one channel (3x3, pad 1, bias; planes of 256 positions) with batch norm
// (batch statistics), ReLU and a 2x2 max pool, LeNet's; the conv's output
// is recomputed in the batch-norm kernels and never written.
func.func @main(%x: tensor<3x1x16x17xf32> {kiln.name = "x"}) -> (tensor<3x5xf32> {kiln.name = "logits"}) {
  %w = kiln.param "conv.weight" {init = "he_uniform"} : tensor<4x1x3x3xf32>
  %b = kiln.param "conv.bias" {init = "torch_default", fan_in = 9} : tensor<4xf32>
  %c = kiln.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>} : (tensor<3x1x16x17xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<3x4x16x17xf32>
  %g = kiln.param "bn.weight" {init = "he_uniform", fan_in = 1} : tensor<4xf32>
  %be = kiln.param "bn.bias" {init = "he_uniform", fan_in = 1} : tensor<4xf32>
  %m = kiln.param "bn.running_mean" : tensor<4xf32>
  %v = kiln.param "bn.running_var" {init = "ones"} : tensor<4xf32>
  %n = kiln.batch_norm %c, %g, %be, %m, %v : (tensor<3x4x16x17xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<3x4x16x17xf32>
  %r = kiln.relu %n : (tensor<3x4x16x17xf32>) -> tensor<3x4x16x17xf32>
  %p = kiln.max_pool2d %r {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<3x4x16x17xf32>) -> tensor<3x4x8x8xf32>
  %f = kiln.flatten %p : (tensor<3x4x8x8xf32>) -> tensor<3x256xf32>
  %fw = kiln.param "fc.weight" {init = "glorot_uniform"} : tensor<5x256xf32>
  %fb = kiln.param "fc.bias" {init = "torch_default", fan_in = 256} : tensor<5xf32>
  %y = kiln.dense %f, %fw, %fb : (tensor<3x256xf32>, tensor<5x256xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  return %y : tensor<3x5xf32>
}
