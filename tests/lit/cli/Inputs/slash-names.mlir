// Tensor names as Caffe2-exported ONNX models have them.
func.func @main(%x: tensor<1x4xf32> {kiln.name = "gpu_0/data_0"})
    -> (tensor<1x4xf32> {kiln.name = "gpu_0/softmax_1"}, tensor<1x4xf32> {kiln.name = "gpu_0:softmax_1"}) {
  %0 = kiln.relu %x : (tensor<1x4xf32>) -> tensor<1x4xf32>
  %1 = kiln.sigmoid %x : (tensor<1x4xf32>) -> tensor<1x4xf32>
  return %0, %1 : tensor<1x4xf32>, tensor<1x4xf32>
}
