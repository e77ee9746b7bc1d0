// Gradient-check model: layer norm, gelu, prelu, a reverse exclusive
// cumsum, two branches joined by concat and a residual add, global average pooling, a softmax read by cce.
func.func @main(%x: tensor<2x6xf32> {kiln.name = "x"}) -> (tensor<2x7xf32> {kiln.name = "probs"}) {
  %lw = kiln.param "ln.weight" {init = "he_uniform", fan_in = 1} : tensor<6xf32>
  %lb = kiln.param "ln.bias" {init = "he_uniform", fan_in = 1} : tensor<6xf32>
  %n = kiln.layer_norm %x, %lw, %lb : (tensor<2x6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<2x6xf32>
  %g = kiln.gelu %n : (tensor<2x6xf32>) -> tensor<2x6xf32>
  %w1 = kiln.param "a.weight" {init = "glorot_normal"} : tensor<4x6xf32>
  %h1 = kiln.dense %g, %w1 : (tensor<2x6xf32>, tensor<4x6xf32>) -> tensor<2x4xf32>
  %sl = kiln.param "a.slope" {init = "he_uniform", fan_in = 1} : tensor<1xf32>
  %p1 = kiln.prelu %h1, %sl : (tensor<2x4xf32>, tensor<1xf32>) -> tensor<2x4xf32>
  %w2 = kiln.param "b.weight" {init = "lecun_normal"} : tensor<3x6xf32>
  %b2 = kiln.param "b.bias" {init = "torch_default", fan_in = 6} : tensor<3xf32>
  %h2 = kiln.dense %x, %w2, %b2 : (tensor<2x6xf32>, tensor<3x6xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %t2 = kiln.tanh %h2 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %cs = kiln.cumsum %t2 {axis = 1 : i64, exclusive = true, reverse = true} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %u2 = kiln.add %t2, %cs : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %cat = kiln.concat %p1, %u2 {axis = 1} : (tensor<2x4xf32>, tensor<2x3xf32>) -> tensor<2x7xf32>
  %r = kiln.reshape %cat {shape = array<i64: 2, 7, 1, 1>} : (tensor<2x7xf32>) -> tensor<2x7x1x1xf32>
  %gp = kiln.global_avg_pool %r : (tensor<2x7x1x1xf32>) -> tensor<2x7x1x1xf32>
  %fl = kiln.flatten %gp : (tensor<2x7x1x1xf32>) -> tensor<2x7xf32>
  %sc = kiln.param "scale" {init = "he_uniform", fan_in = 1} : tensor<7xf32>
  %m = kiln.mul %fl, %sc : (tensor<2x7xf32>, tensor<7xf32>) -> tensor<2x7xf32>
  %res = kiln.add %m, %cat : (tensor<2x7xf32>, tensor<2x7xf32>) -> tensor<2x7xf32>
  %sm = kiln.softmax %res : (tensor<2x7xf32>) -> tensor<2x7xf32>
  return %sm : tensor<2x7xf32>
}
