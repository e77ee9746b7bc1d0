// Gradient-check model: the gradients of reduce_max, reduce_min and
// reduce_prod (autodiff's reduce_grad), on products x * t whose values are
// distinct almost surely, so that finite differences see no tie.
func.func @main(%x: tensor<2x3x4xf32> {kiln.name = "x"}) -> (tensor<2x3xf32> {kiln.name = "logits"}) {
  %t = kiln.param "tokens.weight" {init = "he_normal"} : tensor<2x3x4xf32>
  %a = kiln.mul %x, %t : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %m = kiln.reduce_max %a {axes = array<i64: 2>, keepdims = false} : (tensor<2x3x4xf32>) -> tensor<2x3xf32>
  %q = kiln.reduce_min %a {axes = array<i64: -2>, keepdims = false} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
  %h = kiln.tanh %a : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %p = kiln.reduce_prod %h {axes = array<i64: 1>, keepdims = false} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
  %s = kiln.add %q, %p : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %w = kiln.param "head.weight" {init = "glorot_normal"} : tensor<3x4xf32>
  %d = kiln.dense %s, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  %y = kiln.add %d, %m : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
