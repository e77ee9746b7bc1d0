// Gradient-check model: ONNX ScatterElements' form (docs/onnx.md), a
// scatter of parameters at constant indices (one repeated) through
// gather_elements_grad, whose gradient is gather_elements.
func.func @main(%x: tensor<2x5xf32> {kiln.name = "x"}) -> (tensor<2x5xf32> {kiln.name = "logits"}) {
  %b = kiln.param "base.weight" {init = "he_normal"} : tensor<2x5xf32>
  %u = kiln.param "updates.weight" {init = "he_normal"} : tensor<2x3xf32>
  %i = kiln.constant dense<[[0, 3, 3], [4, 1, -5]]> : tensor<2x3xi32>
  %one = kiln.constant dense<1.0> : tensor<2x3xf32>
  %a = kiln.mul %x, %b : (tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<2x5xf32>
  %hit = kiln.gather_elements_grad %i, %one {axis = 1 : i64, shape = array<i64: 2, 5>} : (tensor<2x3xi32>, tensor<2x3xf32>) -> tensor<2x5xf32>
  %s = kiln.gather_elements_grad %i, %u {axis = 1 : i64, shape = array<i64: 2, 5>} : (tensor<2x3xi32>, tensor<2x3xf32>) -> tensor<2x5xf32>
  %ah = kiln.mul %a, %hit : (tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<2x5xf32>
  %k = kiln.sub %a, %ah : (tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<2x5xf32>
  %y = kiln.add %k, %s : (tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}
