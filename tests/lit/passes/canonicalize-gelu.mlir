// RUN: kiln-opt %s --split-input-file --canonicalize | FileCheck %s

// PyTorch's ONNX export of nn.GELU before opset 20: x * (erf(x / sqrt(2)) +
// 1) * 0.5 becomes one gelu op.
// CHECK-LABEL: func.func @torch_export
// CHECK-NEXT: %[[G:.+]] = kiln.gelu %arg0 : (tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: return %[[G]]
func.func @torch_export(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %c = kiln.constant dense<1.41421354> : tensor<f32>
  %d = kiln.div %x, %c : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %e = kiln.erf %d : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %a = kiln.add %e, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m = kiln.mul %x, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %y = kiln.mul %m, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// The other orders: 0.5 * x first, 1 + erf, x times 1/sqrt(2) (a [1]
// constant).
// CHECK-LABEL: func.func @other_orders
// CHECK-NEXT: %[[G:.+]] = kiln.gelu %arg0
// CHECK-NEXT: return %[[G]]
func.func @other_orders(%x: tensor<3xf32>) -> tensor<3xf32> {
  %half = kiln.constant dense<0.5> : tensor<f32>
  %h = kiln.mul %half, %x : (tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  %c = kiln.constant dense<0.707106769> : tensor<1xf32>
  %d = kiln.mul %c, %x : (tensor<1xf32>, tensor<3xf32>) -> tensor<3xf32>
  %e = kiln.erf %d : (tensor<3xf32>) -> tensor<3xf32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %a = kiln.add %one, %e : (tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  %y = kiln.mul %a, %h : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %y : tensor<3xf32>
}

// -----

// Not a GELU: the erf of another value than the one multiplied, a scale of
// 0.6, a divisor other than sqrt(2).
// CHECK-LABEL: func.func @not_gelu
// CHECK-NOT: kiln.gelu
// CHECK-COUNT-3: kiln.erf
func.func @not_gelu(%x: tensor<3xf32>, %z: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) {
  %c = kiln.constant dense<1.41421354> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %d = kiln.div %z, %c : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %e = kiln.erf %d : (tensor<3xf32>) -> tensor<3xf32>
  %a = kiln.add %e, %one : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %m = kiln.mul %x, %a : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %y1 = kiln.mul %m, %half : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %d2 = kiln.div %x, %c : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %e2 = kiln.erf %d2 : (tensor<3xf32>) -> tensor<3xf32>
  %a2 = kiln.add %e2, %one : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %m2 = kiln.mul %x, %a2 : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %six = kiln.constant dense<0.6> : tensor<f32>
  %y2 = kiln.mul %m2, %six : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %d3 = kiln.div %x, %two : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %e3 = kiln.erf %d3 : (tensor<3xf32>) -> tensor<3xf32>
  %a3 = kiln.add %e3, %one : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %m3 = kiln.mul %x, %a3 : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %y3 = kiln.mul %m3, %half : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  return %y1, %y2, %y3 : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
}
