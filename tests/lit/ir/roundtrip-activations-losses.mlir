// Activations and losses: parse, verify, print, parse again.
// RUN: kiln-opt %s --split-input-file | kiln-opt --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @activations
func.func @activations(%x: tensor<2x3x4x4xf32>, %a: tensor<3xf32>) -> tensor<2x3x4x4xf32> {
  // CHECK: kiln.step %{{.+}} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %0 = kiln.step %x : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.sigmoid %{{.+}} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %1 = kiln.sigmoid %0 : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.tanh %{{.+}} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %2 = kiln.tanh %1 : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.relu %{{.+}} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %3 = kiln.relu %2 : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.relu6 %{{.+}} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %4 = kiln.relu6 %3 : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.leaky_relu %{{.+}} {alpha = 2.000000e-01 : f32} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %5 = kiln.leaky_relu %4 {alpha = 2.000000e-01 : f32} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.elu %{{.+}} {alpha = 5.000000e-01 : f32} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %6 = kiln.elu %5 {alpha = 5.000000e-01 : f32} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.selu %{{.+}} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %7 = kiln.selu %6 : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.silu %{{.+}} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %8 = kiln.silu %7 : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.mish %{{.+}} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %mish = kiln.mish %8 : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.gelu %{{.+}} {approximate = "tanh"} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %9 = kiln.gelu %8 {approximate = "tanh"} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.softplus %{{.+}} {beta = 2.000000e+00 : f32, threshold = 1.000000e+01 : f32} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %10 = kiln.softplus %9 {beta = 2.000000e+00 : f32, threshold = 1.000000e+01 : f32} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.softmax %{{.+}} {axis = 1 : i64} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %11 = kiln.softmax %10 {axis = 1 : i64} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.log_softmax %{{.+}} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %12 = kiln.log_softmax %11 : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.sin %{{.+}} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %13 = kiln.sin %12 : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: kiln.prelu %{{.+}}, %{{.+}} : (tensor<2x3x4x4xf32>, tensor<3xf32>) -> tensor<2x3x4x4xf32>
  %p = kiln.prelu %13, %a : (tensor<2x3x4x4xf32>, tensor<3xf32>) -> tensor<2x3x4x4xf32>
  return %p : tensor<2x3x4x4xf32>
}

// -----

// CHECK-LABEL: func.func @losses
func.func @losses(%p: tensor<4x3xf32>, %t: tensor<4x3xf32>, %y: tensor<4xi32>) -> (tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>) {
  // CHECK: kiln.mse %{{.+}}, %{{.+}} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  %0 = kiln.mse %p, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  // CHECK: kiln.mae %{{.+}}, %{{.+}} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  %1 = kiln.mae %p, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  // CHECK: kiln.huber %{{.+}}, %{{.+}} {delta = 5.000000e-01 : f32} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  %2 = kiln.huber %p, %t {delta = 5.000000e-01 : f32} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  // CHECK: kiln.bce %{{.+}}, %{{.+}} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  %3 = kiln.bce %p, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  // CHECK: kiln.bce_logits %{{.+}}, %{{.+}} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  %4 = kiln.bce_logits %p, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  // CHECK: kiln.cce %{{.+}}, %{{.+}} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  %5 = kiln.cce %p, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  // CHECK: kiln.hinge %{{.+}}, %{{.+}} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  %6 = kiln.hinge %p, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  // CHECK: kiln.sparse_cce %{{.+}}, %{{.+}} : (tensor<4x3xf32>, tensor<4xi32>) -> tensor<f32>
  %7 = kiln.sparse_cce %p, %y : (tensor<4x3xf32>, tensor<4xi32>) -> tensor<f32>
  return %0, %1, %2, %3, %4, %5, %6, %7 : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>
}
