// ResNet stem alone, for timing its gradient kernels: conv7x7/2 -> relu ->
// global pool -> dense 10.
func.func @main(%image: tensor<1x3x224x224xf32> {kiln.name = "image"})
    -> (tensor<1x10xf32> {kiln.name = "logits"}) {
  %0 = kiln.param "conv1.weight" {init = "torch_default"} : tensor<64x3x7x7xf32>
  %2 = kiln.conv2d %image, %0 {pads = array<i64: 3, 3, 3, 3>, strides = array<i64: 2, 2>} : (tensor<1x3x224x224xf32>, tensor<64x3x7x7xf32>) -> tensor<1x64x112x112xf32>
  %8 = kiln.relu %2 : (tensor<1x64x112x112xf32>) -> tensor<1x64x112x112xf32>
  %9 = kiln.max_pool2d %8 {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x112x112xf32>) -> tensor<1x64x56x56xf32>
  %10 = kiln.global_avg_pool %9 : (tensor<1x64x56x56xf32>) -> tensor<1x64x1x1xf32>
  %20 = kiln.flatten %10 : (tensor<1x64x1x1xf32>) -> tensor<1x64xf32>
  %21 = kiln.param "fc.weight" {init = "torch_default"} : tensor<10x64xf32>
  %22 = kiln.param "fc.bias" {fan_in = 64 : i64, init = "torch_default"} : tensor<10xf32>
  %23 = kiln.dense %20, %21, %22 : (tensor<1x64xf32>, tensor<10x64xf32>, tensor<10xf32>) -> tensor<1x10xf32>
  return %23 : tensor<1x10xf32>
}
