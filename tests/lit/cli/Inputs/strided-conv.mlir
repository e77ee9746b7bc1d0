func.func @main(%x: tensor<1x16x9x9xf32>) -> tensor<1x32x5x5xf32> {
  %w = kiln.param "w" : tensor<32x16x3x3xf32>
  %b = kiln.param "b" : tensor<32xf32>
  %y = kiln.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x16x9x9xf32>, tensor<32x16x3x3xf32>, tensor<32xf32>) -> tensor<1x32x5x5xf32>
  return %y : tensor<1x32x5x5xf32>
}
