// Gradient-check model: a batched matmul (attention's products): scores =
// x · kᵀ per batch element, then scores · v, with k and v parameters.
func.func @main(%x: tensor<2x3x4xf32> {kiln.name = "x"}) -> (tensor<2x3xf32> {kiln.name = "logits"}) {
  %k = kiln.param "k" {init = "he_normal"} : tensor<2x5x4xf32>
  %v = kiln.param "v" {init = "he_normal"} : tensor<2x5x4xf32>
  %s = kiln.matmul %x, %k {transpose_b = true} : (tensor<2x3x4xf32>, tensor<2x5x4xf32>) -> tensor<2x3x5xf32>
  %t = kiln.tanh %s : (tensor<2x3x5xf32>) -> tensor<2x3x5xf32>
  %o = kiln.matmul %t, %v : (tensor<2x3x5xf32>, tensor<2x5x4xf32>) -> tensor<2x3x4xf32>
  %f = kiln.reshape %o {shape = array<i64: 2, 12>} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
  %w = kiln.param "head.weight" {init = "glorot_normal"} : tensor<3x12xf32>
  %y = kiln.dense %f, %w : (tensor<2x12xf32>, tensor<3x12xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
