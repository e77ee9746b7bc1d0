// y = sigmoid(relu(x + b)) * z: one fused elementwise kernel, which has a
// GPU schedule (tests/runtime/opencl.cpp).
func.func @main(%x: tensor<2x3x5x7xf32>, %z: tensor<2x3x5x7xf32>) -> tensor<2x3x5x7xf32> {
  %b = kiln.param "b" : tensor<2x3x5x7xf32>
  %a = kiln.add %x, %b : (tensor<2x3x5x7xf32>, tensor<2x3x5x7xf32>) -> tensor<2x3x5x7xf32>
  %r = kiln.relu %a : (tensor<2x3x5x7xf32>) -> tensor<2x3x5x7xf32>
  %s = kiln.sigmoid %r : (tensor<2x3x5x7xf32>) -> tensor<2x3x5x7xf32>
  %y = kiln.mul %s, %z : (tensor<2x3x5x7xf32>, tensor<2x3x5x7xf32>) -> tensor<2x3x5x7xf32>
  return %y : tensor<2x3x5x7xf32>
}
