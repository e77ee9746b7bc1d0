// A negative log-likelihood loss: a family without a GPU schedule yet
// (errors.test's GPU case).
func.func @main(%p: tensor<4x10xf32>, %y: tensor<4xi32>) -> tensor<f32> {
  %l = kiln.nll_loss %p, %y {reduction = "mean"} : (tensor<4x10xf32>, tensor<4xi32>) -> tensor<f32>
  return %l : tensor<f32>
}
