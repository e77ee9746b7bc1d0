// MobileNetV2 inverted residual block (24 -> 144 -> 24 channels, 56x56): 1x1
// expand + BN + relu6, 3x3 depthwise + BN + relu6, 1x1 project + BN, + skip.
// Depthwise and 1x1 layers are memory bound: the fusion benchmark's
// memory-bound case (docs/fusion.md); --batch sets the batch size.
func.func @main(%x: tensor<1x24x56x56xf32> {kiln.name = "x"}) -> (tensor<1x24x56x56xf32> {kiln.name = "y"}) {
  %w1 = kiln.param "expand.weight" {init = "he_normal"} : tensor<144x24x1x1xf32>
  %bn1_g = kiln.param "bn1.weight" {init = "ones"} : tensor<144xf32>
  %bn1_b = kiln.param "bn1.bias" : tensor<144xf32>
  %bn1_m = kiln.param "bn1.running_mean" : tensor<144xf32>
  %bn1_v = kiln.param "bn1.running_var" {init = "ones"} : tensor<144xf32>
  %w2 = kiln.param "dw.weight" {init = "he_normal"} : tensor<144x1x3x3xf32>
  %bn2_g = kiln.param "bn2.weight" {init = "ones"} : tensor<144xf32>
  %bn2_b = kiln.param "bn2.bias" : tensor<144xf32>
  %bn2_m = kiln.param "bn2.running_mean" : tensor<144xf32>
  %bn2_v = kiln.param "bn2.running_var" {init = "ones"} : tensor<144xf32>
  %w3 = kiln.param "project.weight" {init = "he_normal"} : tensor<24x144x1x1xf32>
  %bn3_g = kiln.param "bn3.weight" {init = "ones"} : tensor<24xf32>
  %bn3_b = kiln.param "bn3.bias" : tensor<24xf32>
  %bn3_m = kiln.param "bn3.running_mean" : tensor<24xf32>
  %bn3_v = kiln.param "bn3.running_var" {init = "ones"} : tensor<24xf32>
  %c1 = kiln.conv2d %x, %w1 : (tensor<1x24x56x56xf32>, tensor<144x24x1x1xf32>) -> tensor<1x144x56x56xf32>
  %n1 = kiln.batch_norm %c1, %bn1_g, %bn1_b, %bn1_m, %bn1_v : (tensor<1x144x56x56xf32>, tensor<144xf32>, tensor<144xf32>, tensor<144xf32>, tensor<144xf32>) -> tensor<1x144x56x56xf32>
  %r1 = kiln.relu6 %n1 : (tensor<1x144x56x56xf32>) -> tensor<1x144x56x56xf32>
  %c2 = kiln.conv2d %r1, %w2 {pads = array<i64: 1, 1, 1, 1>, groups = 144 : i64} : (tensor<1x144x56x56xf32>, tensor<144x1x3x3xf32>) -> tensor<1x144x56x56xf32>
  %n2 = kiln.batch_norm %c2, %bn2_g, %bn2_b, %bn2_m, %bn2_v : (tensor<1x144x56x56xf32>, tensor<144xf32>, tensor<144xf32>, tensor<144xf32>, tensor<144xf32>) -> tensor<1x144x56x56xf32>
  %r2 = kiln.relu6 %n2 : (tensor<1x144x56x56xf32>) -> tensor<1x144x56x56xf32>
  %c3 = kiln.conv2d %r2, %w3 : (tensor<1x144x56x56xf32>, tensor<24x144x1x1xf32>) -> tensor<1x24x56x56xf32>
  %n3 = kiln.batch_norm %c3, %bn3_g, %bn3_b, %bn3_m, %bn3_v : (tensor<1x24x56x56xf32>, tensor<24xf32>, tensor<24xf32>, tensor<24xf32>, tensor<24xf32>) -> tensor<1x24x56x56xf32>
  %y = kiln.add %n3, %x : (tensor<1x24x56x56xf32>, tensor<1x24x56x56xf32>) -> tensor<1x24x56x56xf32>
  return %y : tensor<1x24x56x56xf32>
}
