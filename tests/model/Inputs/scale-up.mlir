// x * 2^100: a denormal input (below 2^-126) would come out near 1e-9 if
// it were read as it is; kiln's kernels read it as 0 (ModelTest's
// DenormalsAreFlushedAndTheCallersModeRestored).
func.func @main(%x: tensor<4xf32> {kiln.name = "x"}) -> (tensor<4xf32> {kiln.name = "y"}) {
  %c = kiln.constant dense<1.26765060022822940e+30> : tensor<4xf32>
  %y = kiln.mul %x, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}
