// Gradient-check model: fmod and mod with broadcasting (dy to the dividend,
// -dy * quotient to the divisor).
func.func @main(%x: tensor<2x3x4xf32> {kiln.name = "x"}) -> (tensor<2x3xf32> {kiln.name = "logits"}) {
  %t = kiln.param "tokens.weight" {init = "he_normal"} : tensor<2x3x4xf32>
  %u = kiln.param "period.weight" {init = "he_normal"} : tensor<3x1xf32>
  %v = kiln.param "cycle.weight" {init = "he_normal"} : tensor<4xf32>
  %a = kiln.mul %x, %t : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %m = kiln.fmod %a, %u : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
  %n = kiln.mod %m, %v : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %s = kiln.reduce_sum %n {axes = array<i64: 2>} : (tensor<2x3x4xf32>) -> tensor<2x3xf32>
  return %s : tensor<2x3xf32>
}
