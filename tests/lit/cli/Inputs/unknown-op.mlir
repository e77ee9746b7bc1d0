// An op kiln does not have.
func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
  %y = kiln.frobnicate %x : (tensor<2xf32>) -> tensor<2xf32>
  return %y : tensor<2xf32>
}
