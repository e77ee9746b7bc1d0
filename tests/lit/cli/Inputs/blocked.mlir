// A 1x1 conv (packed by 16 on a 7x7 plane), a depthwise conv and a global
// pool: kiln-layout stores the two intermediates nchw16c (docs/layout.md).
func.func @main(%x: tensor<1x16x7x7xf32> {kiln.name = "x"}) -> (tensor<1x10xf32> {kiln.name = "y"}) {
  %w = kiln.param "pw.weight" {init = "he_uniform"} : tensor<32x16x1x1xf32>
  %d = kiln.param "dw.weight" {init = "he_uniform"} : tensor<32x1x3x3xf32>
  %f = kiln.param "fc.weight" {init = "glorot_uniform"} : tensor<10x32xf32>
  %a = kiln.conv2d %x, %w : (tensor<1x16x7x7xf32>, tensor<32x16x1x1xf32>) -> tensor<1x32x7x7xf32>
  %r = kiln.relu %a : (tensor<1x32x7x7xf32>) -> tensor<1x32x7x7xf32>
  %b = kiln.conv2d %r, %d {groups = 32 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x32x7x7xf32>, tensor<32x1x3x3xf32>) -> tensor<1x32x7x7xf32>
  %g = kiln.global_avg_pool %b : (tensor<1x32x7x7xf32>) -> tensor<1x32x1x1xf32>
  %v = kiln.flatten %g : (tensor<1x32x1x1xf32>) -> tensor<1x32xf32>
  %y = kiln.dense %v, %f : (tensor<1x32xf32>, tensor<10x32xf32>) -> tensor<1x10xf32>
  return %y : tensor<1x10xf32>
}
