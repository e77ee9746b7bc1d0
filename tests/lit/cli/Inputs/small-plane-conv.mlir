// One 3x3 conv (32 -> 32 channels) on one image's 14x14 plane (49 2x2
// tiles, under kiln-winograd's min-image-plane of the pipelines), then a
// classifier.
func.func @main(%x: tensor<1x32x14x14xf32> {kiln.name = "x"})
    -> (tensor<1x10xf32> {kiln.name = "logits"}) {
  %w = kiln.param "conv.weight" {init = "he_normal"} : tensor<32x32x3x3xf32>
  %c = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x32x14x14xf32>, tensor<32x32x3x3xf32>) -> tensor<1x32x14x14xf32>
  %r = kiln.relu %c : (tensor<1x32x14x14xf32>) -> tensor<1x32x14x14xf32>
  %p = kiln.global_avg_pool %r : (tensor<1x32x14x14xf32>) -> tensor<1x32x1x1xf32>
  %f = kiln.flatten %p : (tensor<1x32x1x1xf32>) -> tensor<1x32xf32>
  %fw = kiln.param "fc.weight" {init = "he_normal"} : tensor<10x32xf32>
  %y = kiln.dense %f, %fw : (tensor<1x32xf32>, tensor<10x32xf32>) -> tensor<1x10xf32>
  return %y : tensor<1x10xf32>
}
