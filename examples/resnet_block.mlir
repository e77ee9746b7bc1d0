// A ResNet basic block with a projection-free skip connection and a head:
// conv-BN-ReLU-conv-BN + skip -> ReLU -> global average pool -> dense 10.
// Exercises residual add, global pooling and reshape.
func.func @main(%x: tensor<1x16x16x16xf32> {kiln.name = "features"})
    -> (tensor<1x10xf32> {kiln.name = "logits"}) {
  %w1 = kiln.param "block.conv1.weight" {init = "he_normal"} : tensor<16x16x3x3xf32>
  %c1 = kiln.conv2d %x, %w1 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x16x16xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x16x16xf32>
  %g1 = kiln.param "block.bn1.weight" {init = "ones"} : tensor<16xf32>
  %b1 = kiln.param "block.bn1.bias" : tensor<16xf32>
  %m1 = kiln.param "block.bn1.running_mean" : tensor<16xf32>
  %v1 = kiln.param "block.bn1.running_var" {init = "ones"} : tensor<16xf32>
  %n1 = kiln.batch_norm %c1, %g1, %b1, %m1, %v1 : (tensor<1x16x16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x16x16x16xf32>
  %r1 = kiln.relu %n1 : (tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32>
  %w2 = kiln.param "block.conv2.weight" {init = "he_normal"} : tensor<16x16x3x3xf32>
  %c2 = kiln.conv2d %r1, %w2 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x16x16xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x16x16xf32>
  %g2 = kiln.param "block.bn2.weight" {init = "ones"} : tensor<16xf32>
  %b2 = kiln.param "block.bn2.bias" : tensor<16xf32>
  %m2 = kiln.param "block.bn2.running_mean" : tensor<16xf32>
  %v2 = kiln.param "block.bn2.running_var" {init = "ones"} : tensor<16xf32>
  %n2 = kiln.batch_norm %c2, %g2, %b2, %m2, %v2 : (tensor<1x16x16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x16x16x16xf32>
  %s = kiln.add %n2, %x : (tensor<1x16x16x16xf32>, tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32>
  %r2 = kiln.relu %s : (tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32>
  %g = kiln.global_avg_pool %r2 : (tensor<1x16x16x16xf32>) -> tensor<1x16x1x1xf32>
  %f = kiln.reshape %g {shape = array<i64: 0, -1>} : (tensor<1x16x1x1xf32>) -> tensor<1x16xf32>
  %fw = kiln.param "fc.weight" {init = "torch_default"} : tensor<10x16xf32>
  %fb = kiln.param "fc.bias" {init = "torch_default", fan_in = 16 : i64} : tensor<10xf32>
  %y = kiln.dense %f, %fw, %fb : (tensor<1x16xf32>, tensor<10x16xf32>, tensor<10xf32>) -> tensor<1x10xf32>
  return %y : tensor<1x10xf32>
}
