// A pair loss (mean squared error): a family without a GPU schedule yet
// (errors.test's GPU case).
func.func @main(%a: tensor<4x3xf32>, %b: tensor<4x3xf32>) -> tensor<f32> {
  %l = kiln.mse %a, %b : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  return %l : tensor<f32>
}
