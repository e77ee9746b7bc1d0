// Winograd's filter transform: a kernel family without a GPU schedule
// (GPU plans never create it; errors.test's GPU case writes it by hand).
func.func @main(%w: tensor<8x8x3x3xf32>) -> tensor<16x1x8x8xf32> {
  %u = kiln.winograd_filter %w {tile = 2 : i64} : (tensor<8x8x3x3xf32>) -> tensor<16x1x8x8xf32>
  return %u : tensor<16x1x8x8xf32>
}
