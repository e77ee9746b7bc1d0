// Gradient-check model: reduce_sum's gradient (a transformer's mean pooling
// over tokens: reduce_sum then a scale; and a keepdims sum broadcast back in
// an add).
func.func @main(%x: tensor<2x3x4xf32> {kiln.name = "x"}) -> (tensor<2x3xf32> {kiln.name = "logits"}) {
  %t = kiln.param "tokens.weight" {init = "he_normal"} : tensor<2x3x4xf32>
  %a = kiln.mul %x, %t : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %s = kiln.reduce_sum %a {axes = array<i64: 2>, keepdims = true} : (tensor<2x3x4xf32>) -> tensor<2x3x1xf32>
  %b = kiln.add %a, %s : (tensor<2x3x4xf32>, tensor<2x3x1xf32>) -> tensor<2x3x4xf32>
  %h = kiln.tanh %b : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %p = kiln.reduce_sum %h {axes = array<i64: 1>, keepdims = false} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
  %m = kiln.scale %p {factor = 0.3333333333333333 : f64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %w = kiln.param "head.weight" {init = "glorot_normal"} : tensor<3x4xf32>
  %y = kiln.dense %m, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
