// Two ResNet-18 3x3 convolutions (stride 1 at 56x56, stride 2 to 28x28) for
// timing their gradient kernels.
func.func @main(%image: tensor<1x64x56x56xf32> {kiln.name = "image"})
    -> (tensor<1x10xf32> {kiln.name = "logits"}) {
  %w1 = kiln.param "c1.weight" {init = "torch_default"} : tensor<64x64x3x3xf32>
  %a = kiln.conv2d %image, %w1 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x56x56xf32>, tensor<64x64x3x3xf32>) -> tensor<1x64x56x56xf32>
  %r = kiln.relu %a : (tensor<1x64x56x56xf32>) -> tensor<1x64x56x56xf32>
  %w2 = kiln.param "c2.weight" {init = "torch_default"} : tensor<128x64x3x3xf32>
  %b = kiln.conv2d %r, %w2 {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x64x56x56xf32>, tensor<128x64x3x3xf32>) -> tensor<1x128x28x28xf32>
  %g = kiln.global_avg_pool %b : (tensor<1x128x28x28xf32>) -> tensor<1x128x1x1xf32>
  %f = kiln.flatten %g : (tensor<1x128x1x1xf32>) -> tensor<1x128xf32>
  %w3 = kiln.param "fc.weight" {init = "torch_default"} : tensor<10x128xf32>
  %y = kiln.dense %f, %w3 : (tensor<1x128xf32>, tensor<10x128xf32>) -> tensor<1x10xf32>
  return %y : tensor<1x10xf32>
}
