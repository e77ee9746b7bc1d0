// Gradient-check model: maximum and minimum with broadcasting (their
// gradients go through sign(lhs - rhs); dy / 2 to each side at a tie).
func.func @main(%x: tensor<2x3x4xf32> {kiln.name = "x"}) -> (tensor<2x3xf32> {kiln.name = "logits"}) {
  %t = kiln.param "tokens.weight" {init = "he_normal"} : tensor<2x3x4xf32>
  %u = kiln.param "floor.weight" {init = "he_normal"} : tensor<3x1xf32>
  %v = kiln.param "ceiling.weight" {init = "he_normal"} : tensor<4xf32>
  %a = kiln.mul %x, %t : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %m = kiln.maximum %a, %u : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
  %n = kiln.minimum %m, %v : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %s = kiln.reduce_sum %n {axes = array<i64: 2>} : (tensor<2x3x4xf32>) -> tensor<2x3xf32>
  return %s : tensor<2x3xf32>
}
