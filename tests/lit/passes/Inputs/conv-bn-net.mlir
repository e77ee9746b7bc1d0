// A conv + BatchNorm + ReLU + pool + dense net for the pipeline tests.
func.func @main(%x: tensor<2x1x6x6xf32> {kiln.name = "image"}) -> (tensor<2x3xf32> {kiln.name = "logits"}) {
  %w = kiln.param "conv.weight" {init = "he_normal"} : tensor<4x1x3x3xf32>
  %g = kiln.param "bn.weight" {init = "ones"} : tensor<4xf32>
  %b = kiln.param "bn.bias" : tensor<4xf32>
  %m = kiln.param "bn.running_mean" : tensor<4xf32>
  %v = kiln.param "bn.running_var" {init = "ones"} : tensor<4xf32>
  %c = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x1x6x6xf32>, tensor<4x1x3x3xf32>) -> tensor<2x4x6x6xf32>
  %n = kiln.batch_norm %c, %g, %b, %m, %v : (tensor<2x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4x6x6xf32>
  %r = kiln.relu %n : (tensor<2x4x6x6xf32>) -> tensor<2x4x6x6xf32>
  %p = kiln.global_avg_pool %r : (tensor<2x4x6x6xf32>) -> tensor<2x4x1x1xf32>
  %f = kiln.flatten %p : (tensor<2x4x1x1xf32>) -> tensor<2x4xf32>
  %wd = kiln.param "fc.weight" {init = "he_normal"} : tensor<3x4xf32>
  %y = kiln.dense %f, %wd : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
