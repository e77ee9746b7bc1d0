// A multilayer perceptron for 28x28 grayscale images (Fashion-MNIST):
// flatten -> dense 256 -> relu -> dense 128 -> relu -> dense 10 (logits).
func.func @main(%image: tensor<1x1x28x28xf32> {kiln.name = "image"})
    -> (tensor<1x10xf32> {kiln.name = "logits"}) {
  %x = kiln.flatten %image : (tensor<1x1x28x28xf32>) -> tensor<1x784xf32>
  %w1 = kiln.param "fc1.weight" {init = "torch_default"} : tensor<256x784xf32>
  %b1 = kiln.param "fc1.bias" {init = "torch_default", fan_in = 784 : i64} : tensor<256xf32>
  %h1 = kiln.dense %x, %w1, %b1 : (tensor<1x784xf32>, tensor<256x784xf32>, tensor<256xf32>) -> tensor<1x256xf32>
  %a1 = kiln.relu %h1 : (tensor<1x256xf32>) -> tensor<1x256xf32>
  %w2 = kiln.param "fc2.weight" {init = "torch_default"} : tensor<128x256xf32>
  %b2 = kiln.param "fc2.bias" {init = "torch_default", fan_in = 256 : i64} : tensor<128xf32>
  %h2 = kiln.dense %a1, %w2, %b2 : (tensor<1x256xf32>, tensor<128x256xf32>, tensor<128xf32>) -> tensor<1x128xf32>
  %a2 = kiln.relu %h2 : (tensor<1x128xf32>) -> tensor<1x128xf32>
  %w3 = kiln.param "fc3.weight" {init = "torch_default"} : tensor<10x128xf32>
  %b3 = kiln.param "fc3.bias" {init = "torch_default", fan_in = 128 : i64} : tensor<10xf32>
  %logits = kiln.dense %a2, %w3, %b3 : (tensor<1x128xf32>, tensor<10x128xf32>, tensor<10xf32>) -> tensor<1x10xf32>
  return %logits : tensor<1x10xf32>
}
