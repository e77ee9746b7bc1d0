// A VGG block (128 channels, 56x56 -> 28x28): conv-ReLU-conv-ReLU then a
// 2x2 max pool of stride 2, as VGG-16's third stage. The pooling-tail
// benchmark (docs/codegen.md): both convs take Winograd, the second ends
// in the pool; --batch sets the batch size, --no-pool-fusion keeps the
// pool a kernel of its own.
func.func @main(%x: tensor<1x128x56x56xf32> {kiln.name = "x"}) -> (tensor<1x128x28x28xf32> {kiln.name = "y"}) {
  %w1 = kiln.param "conv1.weight" {init = "he_normal"} : tensor<128x128x3x3xf32>
  %b1 = kiln.param "conv1.bias" : tensor<128xf32>
  %w2 = kiln.param "conv2.weight" {init = "he_normal"} : tensor<128x128x3x3xf32>
  %b2 = kiln.param "conv2.bias" : tensor<128xf32>
  %c1 = kiln.conv2d %x, %w1, %b1 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x128x56x56xf32>, tensor<128x128x3x3xf32>, tensor<128xf32>) -> tensor<1x128x56x56xf32>
  %r1 = kiln.relu %c1 : (tensor<1x128x56x56xf32>) -> tensor<1x128x56x56xf32>
  %c2 = kiln.conv2d %r1, %w2, %b2 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x128x56x56xf32>, tensor<128x128x3x3xf32>, tensor<128xf32>) -> tensor<1x128x56x56xf32>
  %r2 = kiln.relu %c2 : (tensor<1x128x56x56xf32>) -> tensor<1x128x56x56xf32>
  %y = kiln.max_pool2d %r2 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x128x56x56xf32>) -> tensor<1x128x28x28xf32>
  return %y : tensor<1x128x28x28xf32>
}
