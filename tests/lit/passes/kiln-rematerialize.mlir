// RUN: kiln-opt %s --kiln-rematerialize=memory-budget=1 | FileCheck %s
// RUN: kiln-opt %s --kiln-rematerialize | FileCheck %s --check-prefix=OFF

// %a would wait from the forward dense to the mul across the peak; it is
// recomputed from %h (kept alive by the activation_grad anyway) right
// before the mul. Without a budget nothing changes.
// CHECK-LABEL: func.func @remat
// CHECK: %[[H:.+]] = kiln.dense
// CHECK: %[[A:.+]] = kiln.relu %[[H]]
// CHECK: kiln.dense %[[A]],
// CHECK: %[[Z:.+]] = kiln.dense
// CHECK: %[[A2:.+]] = kiln.relu %[[H]]
// CHECK: kiln.mul %[[A2]], %[[Z]]
// OFF-LABEL: func.func @remat
// OFF-COUNT-1: kiln.relu
// OFF-NOT: kiln.relu
func.func @remat(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %w0 = kiln.param "w0" : tensor<64x64xf32>
  %h = kiln.dense %x, %w0 : (tensor<4x64xf32>, tensor<64x64xf32>) -> tensor<4x64xf32>
  %a = kiln.relu %h : (tensor<4x64xf32>) -> tensor<4x64xf32>
  %w1 = kiln.param "w1" : tensor<256x64xf32>
  %y = kiln.dense %a, %w1 : (tensor<4x64xf32>, tensor<256x64xf32>) -> tensor<4x256xf32>
  %w2 = kiln.param "w2" : tensor<64x256xf32>
  %z = kiln.dense %y, %w2 : (tensor<4x256xf32>, tensor<64x256xf32>) -> tensor<4x64xf32>
  %m = kiln.mul %a, %z : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  %g = kiln.activation_grad %h, %m {activation = "relu"} : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  return %g : tensor<4x64xf32>
}
