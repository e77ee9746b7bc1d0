// A small CNN for 8x8 single-channel images, 4 classes (training tests).
func.func @main(%image: tensor<1x1x8x8xf32> {kiln.name = "image"}) -> (tensor<1x4xf32> {kiln.name = "logits"}) {
  %w = kiln.param "conv.weight" {init = "torch_default"} : tensor<6x1x3x3xf32>
  %b = kiln.param "conv.bias" {init = "torch_default", fan_in = 9} : tensor<6xf32>
  %c = kiln.conv2d %image, %w, %b {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x1x8x8xf32>, tensor<6x1x3x3xf32>, tensor<6xf32>) -> tensor<1x6x8x8xf32>
  %g = kiln.param "bn.weight" {init = "ones"} : tensor<6xf32>
  %be = kiln.param "bn.bias" : tensor<6xf32>
  %m = kiln.param "bn.running_mean" : tensor<6xf32>
  %v = kiln.param "bn.running_var" {init = "ones"} : tensor<6xf32>
  %n = kiln.batch_norm %c, %g, %be, %m, %v : (tensor<1x6x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<1x6x8x8xf32>
  %r = kiln.relu %n : (tensor<1x6x8x8xf32>) -> tensor<1x6x8x8xf32>
  %p = kiln.max_pool2d %r {kernel = array<i64: 2, 2>} : (tensor<1x6x8x8xf32>) -> tensor<1x6x4x4xf32>
  %f = kiln.flatten %p : (tensor<1x6x4x4xf32>) -> tensor<1x96xf32>
  %d = kiln.dropout %f {rate = 0.1 : f32} : (tensor<1x96xf32>) -> tensor<1x96xf32>
  %fw = kiln.param "fc.weight" {init = "torch_default"} : tensor<4x96xf32>
  %fb = kiln.param "fc.bias" {init = "torch_default", fan_in = 96} : tensor<4xf32>
  %y = kiln.dense %d, %fw, %fb : (tensor<1x96xf32>, tensor<4x96xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}
