// A negative log-likelihood loss with an ignore index (errors.test's NLL
// cases).
func.func @main(%p: tensor<4x10xf32>, %y: tensor<4xi32>) -> tensor<f32> {
  %l = kiln.nll_loss %p, %y {reduction = "mean", ignore_index = -100 : i64} : (tensor<4x10xf32>, tensor<4xi32>) -> tensor<f32>
  return %l : tensor<f32>
}
