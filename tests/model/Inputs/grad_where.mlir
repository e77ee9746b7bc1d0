// Gradient-check model: where's gradient (an attention mask's select):
// lhs gets dy where the condition holds, rhs (broadcast over axis 1) the
// rest, summed back; the condition (from the input) gets none.
func.func @main(%x: tensor<2x3x4xf32> {kiln.name = "x"}) -> (tensor<2x3xf32> {kiln.name = "logits"}) {
  %a = kiln.param "lhs.weight" {init = "he_normal"} : tensor<3x4xf32>
  %b = kiln.param "rhs.weight" {init = "he_normal"} : tensor<2x1x4xf32>
  %c = kiln.step %x : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %l = kiln.mul %x, %a : (tensor<2x3x4xf32>, tensor<3x4xf32>) -> tensor<2x3x4xf32>
  %s = kiln.where %c, %l, %b : (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x1x4xf32>) -> tensor<2x3x4xf32>
  %p = kiln.reduce_sum %s {axes = array<i64: 1>, keepdims = false} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
  %w = kiln.param "head.weight" {init = "glorot_normal"} : tensor<3x4xf32>
  %y = kiln.dense %p, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
