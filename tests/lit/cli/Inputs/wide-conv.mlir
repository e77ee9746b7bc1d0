// One 3x3 conv (32 -> 16 channels) on a 32x32 plane, then a classifier: the
// plane has 64 4x4 tiles per image, enough for F(4x4, 3x3), and the sum runs
// over 32 channels (kiln-winograd's min-reduction in the pipelines).
func.func @main(%x: tensor<2x32x32x32xf32> {kiln.name = "x"})
    -> (tensor<2x10xf32> {kiln.name = "logits"}) {
  %w = kiln.param "conv.weight" {init = "he_normal"} : tensor<16x32x3x3xf32>
  %c = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x32x32x32xf32>, tensor<16x32x3x3xf32>) -> tensor<2x16x32x32xf32>
  %r = kiln.relu %c : (tensor<2x16x32x32xf32>) -> tensor<2x16x32x32xf32>
  %p = kiln.global_avg_pool %r : (tensor<2x16x32x32xf32>) -> tensor<2x16x1x1xf32>
  %f = kiln.flatten %p : (tensor<2x16x1x1xf32>) -> tensor<2x16xf32>
  %fw = kiln.param "fc.weight" {init = "he_normal"} : tensor<10x16xf32>
  %y = kiln.dense %f, %fw : (tensor<2x16xf32>, tensor<10x16xf32>) -> tensor<2x10xf32>
  return %y : tensor<2x10xf32>
}
