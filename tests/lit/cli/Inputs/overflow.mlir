// exp(100 x) overflows to +Inf for x > 0.89: --check-numerics names the op.
func.func @main(%x: tensor<2x8xf32> {kiln.name = "x"}) -> (tensor<2x8xf32> {kiln.name = "y"}) {
  %c = kiln.constant dense<100.0> : tensor<2x8xf32>
  %w = kiln.param "w" {init = "ones"} : tensor<8x8xf32>
  %h = kiln.dense %x, %w : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  %a = kiln.mul %h, %c : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = kiln.exp %a : (tensor<2x8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
