// ResNet basic block (64 channels, 56x56): conv-BN-ReLU-conv-BN + skip + ReLU.
// The fusion benchmark (docs/fusion.md); --batch sets the batch size.
func.func @main(%x: tensor<1x64x56x56xf32> {kiln.name = "x"}) -> (tensor<1x64x56x56xf32> {kiln.name = "y"}) {
  %w1 = kiln.param "conv1.weight" {init = "he_normal"} : tensor<64x64x3x3xf32>
  %bn1_weight = kiln.param "bn1.weight" {init = "ones"} : tensor<64xf32>
  %bn1_bias = kiln.param "bn1.bias" : tensor<64xf32>
  %bn1_running_mean = kiln.param "bn1.running_mean" : tensor<64xf32>
  %bn1_running_var = kiln.param "bn1.running_var" {init = "ones"} : tensor<64xf32>
  %w2 = kiln.param "conv2.weight" {init = "he_normal"} : tensor<64x64x3x3xf32>
  %bn2_weight = kiln.param "bn2.weight" {init = "ones"} : tensor<64xf32>
  %bn2_bias = kiln.param "bn2.bias" : tensor<64xf32>
  %bn2_running_mean = kiln.param "bn2.running_mean" : tensor<64xf32>
  %bn2_running_var = kiln.param "bn2.running_var" {init = "ones"} : tensor<64xf32>
  %c1 = kiln.conv2d %x, %w1 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x56x56xf32>, tensor<64x64x3x3xf32>) -> tensor<1x64x56x56xf32>
  %n1 = kiln.batch_norm %c1, %bn1_weight, %bn1_bias, %bn1_running_mean, %bn1_running_var : (tensor<1x64x56x56xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<1x64x56x56xf32>
  %r1 = kiln.relu %n1 : (tensor<1x64x56x56xf32>) -> tensor<1x64x56x56xf32>
  %c2 = kiln.conv2d %r1, %w2 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x56x56xf32>, tensor<64x64x3x3xf32>) -> tensor<1x64x56x56xf32>
  %n2 = kiln.batch_norm %c2, %bn2_weight, %bn2_bias, %bn2_running_mean, %bn2_running_var : (tensor<1x64x56x56xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<1x64x56x56xf32>
  %s = kiln.add %n2, %x : (tensor<1x64x56x56xf32>, tensor<1x64x56x56xf32>) -> tensor<1x64x56x56xf32>
  %y = kiln.relu %s : (tensor<1x64x56x56xf32>) -> tensor<1x64x56x56xf32>
  return %y : tensor<1x64x56x56xf32>
}
