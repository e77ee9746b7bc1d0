// A small CNN for 28x28 grayscale images (Fashion-MNIST):
// (conv3x3 - batch norm - relu - maxpool2) x 2 -> flatten -> dense 128 ->
// relu -> dropout -> dense 10 (logits). Built by cnn_builder.cpp too.
func.func @main(%image: tensor<1x1x28x28xf32> {kiln.name = "image"})
    -> (tensor<1x10xf32> {kiln.name = "logits"}) {
  %0 = kiln.param "conv1.weight" {init = "torch_default"} : tensor<16x1x3x3xf32>
  %1 = kiln.param "conv1.bias" {fan_in = 9 : i64, init = "torch_default"} : tensor<16xf32>
  %2 = kiln.conv2d %image, %0, %1 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x1x28x28xf32>, tensor<16x1x3x3xf32>, tensor<16xf32>) -> tensor<1x16x28x28xf32>
  %3 = kiln.param "bn1.weight" {init = "ones"} : tensor<16xf32>
  %4 = kiln.param "bn1.bias" : tensor<16xf32>
  %5 = kiln.param "bn1.running_mean" : tensor<16xf32>
  %6 = kiln.param "bn1.running_var" {init = "ones"} : tensor<16xf32>
  %7 = kiln.batch_norm %2, %3, %4, %5, %6 : (tensor<1x16x28x28xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x16x28x28xf32>
  %8 = kiln.relu %7 : (tensor<1x16x28x28xf32>) -> tensor<1x16x28x28xf32>
  %9 = kiln.max_pool2d %8 {kernel = array<i64: 2, 2>} : (tensor<1x16x28x28xf32>) -> tensor<1x16x14x14xf32>
  %10 = kiln.param "conv2.weight" {init = "torch_default"} : tensor<32x16x3x3xf32>
  %11 = kiln.param "conv2.bias" {fan_in = 144 : i64, init = "torch_default"} : tensor<32xf32>
  %12 = kiln.conv2d %9, %10, %11 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x14x14xf32>, tensor<32x16x3x3xf32>, tensor<32xf32>) -> tensor<1x32x14x14xf32>
  %13 = kiln.param "bn2.weight" {init = "ones"} : tensor<32xf32>
  %14 = kiln.param "bn2.bias" : tensor<32xf32>
  %15 = kiln.param "bn2.running_mean" : tensor<32xf32>
  %16 = kiln.param "bn2.running_var" {init = "ones"} : tensor<32xf32>
  %17 = kiln.batch_norm %12, %13, %14, %15, %16 : (tensor<1x32x14x14xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<1x32x14x14xf32>
  %18 = kiln.relu %17 : (tensor<1x32x14x14xf32>) -> tensor<1x32x14x14xf32>
  %19 = kiln.max_pool2d %18 {kernel = array<i64: 2, 2>} : (tensor<1x32x14x14xf32>) -> tensor<1x32x7x7xf32>
  %20 = kiln.flatten %19 : (tensor<1x32x7x7xf32>) -> tensor<1x1568xf32>
  %21 = kiln.param "fc1.weight" {init = "torch_default"} : tensor<128x1568xf32>
  %22 = kiln.param "fc1.bias" {fan_in = 1568 : i64, init = "torch_default"} : tensor<128xf32>
  %23 = kiln.dense %20, %21, %22 : (tensor<1x1568xf32>, tensor<128x1568xf32>, tensor<128xf32>) -> tensor<1x128xf32>
  %24 = kiln.relu %23 : (tensor<1x128xf32>) -> tensor<1x128xf32>
  %25 = kiln.dropout %24 {rate = 2.500000e-01 : f32} : (tensor<1x128xf32>) -> tensor<1x128xf32>
  %26 = kiln.param "fc2.weight" {init = "torch_default"} : tensor<10x128xf32>
  %27 = kiln.param "fc2.bias" {fan_in = 128 : i64, init = "torch_default"} : tensor<10xf32>
  %28 = kiln.dense %25, %26, %27 : (tensor<1x128xf32>, tensor<10x128xf32>, tensor<10xf32>) -> tensor<1x10xf32>
  return %28 : tensor<1x10xf32>
}
