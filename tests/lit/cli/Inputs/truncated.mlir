func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %y = kiln.relu %x : (tensor<1x4xf32>) -> tens
