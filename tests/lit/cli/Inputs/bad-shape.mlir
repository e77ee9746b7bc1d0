// The weight does not fit the input.
func.func @main(%x: tensor<1x5xf32>) -> tensor<1x3xf32> {
  %w = kiln.param "w" : tensor<3x4xf32>
  %y = kiln.dense %x, %w : (tensor<1x5xf32>, tensor<3x4xf32>) -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}
