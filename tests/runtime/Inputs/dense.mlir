// y = x w^T + b: a dense layer whose training step (mse, SGD) has GPU
// schedules for every kernel (tests/runtime/opencl.cpp).
func.func @main(%x: tensor<4x3xf32> {kiln.name = "x"}) -> (tensor<4x2xf32> {kiln.name = "y"}) {
  %w = kiln.param "w" : tensor<2x3xf32>
  %b = kiln.param "b" : tensor<2xf32>
  %y = kiln.dense %x, %w, %b : (tensor<4x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}
