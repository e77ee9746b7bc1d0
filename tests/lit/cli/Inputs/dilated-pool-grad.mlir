// The gradient of a dilated max pool: a scatter (overlapping windows add
// into one dx element), a family without a GPU schedule yet (errors.test's
// GPU case).
func.func @main(%x: tensor<1x2x6x6xf32>, %d: tensor<1x2x2x2xf32>) -> tensor<1x2x6x6xf32> {
  %p = kiln.max_pool2d_grad %x, %d {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>} : (tensor<1x2x6x6xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x6x6xf32>
  return %p : tensor<1x2x6x6xf32>
}
