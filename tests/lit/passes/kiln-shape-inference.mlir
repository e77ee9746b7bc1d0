// RUN: kiln-opt %s --split-input-file --kiln-shape-inference=batch=8 | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-shape-inference | FileCheck %s --check-prefix=SAME
// RUN: kiln-opt %s --split-input-file --kiln-inference-pipeline=batch=3 | FileCheck %s --check-prefix=PIPE

// CHECK-LABEL: func.func @cnn
// CHECK-SAME: (%[[X:.+]]: tensor<8x1x28x28xf32>) -> tensor<8x10xf32>
// CHECK: %[[W:.+]] = kiln.param "conv.weight" {{.*}} : tensor<4x1x3x3xf32>
// CHECK: %[[C:.+]] = kiln.conv2d %[[X]], %[[W]] {{.*}} -> tensor<8x4x14x14xf32>
// CHECK: %[[P:.+]] = kiln.max_pool2d %[[C]] {{.*}} -> tensor<8x4x7x7xf32>
// CHECK: %[[F:.+]] = kiln.flatten %[[P]] : (tensor<8x4x7x7xf32>) -> tensor<8x196xf32>
// CHECK: %[[D:.+]] = kiln.dense %[[F]], %{{.+}} : (tensor<8x196xf32>, tensor<10x196xf32>) -> tensor<8x10xf32>
// CHECK: return %[[D]] : tensor<8x10xf32>
// SAME-LABEL: func.func @cnn
// SAME-SAME: tensor<1x1x28x28xf32>) -> tensor<1x10xf32>
// PIPE-LABEL: func.func @cnn
// PIPE-SAME: tensor<3x1x28x28xf32>) -> tensor<3x10xf32>
func.func @cnn(%x: tensor<1x1x28x28xf32>) -> tensor<1x10xf32> {
  %w = kiln.param "conv.weight" {init = "he_uniform"} : tensor<4x1x3x3xf32>
  %c = kiln.conv2d %x, %w {strides = array<i64: 2, 2>, auto_pad = "same_upper"} : (tensor<1x1x28x28xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x14x14xf32>
  %p = kiln.max_pool2d %c {kernel = array<i64: 2, 2>} : (tensor<1x4x14x14xf32>) -> tensor<1x4x7x7xf32>
  %f = kiln.flatten %p : (tensor<1x4x7x7xf32>) -> tensor<1x196xf32>
  %fw = kiln.param "fc.weight" : tensor<10x196xf32>
  %y = kiln.dense %f, %fw : (tensor<1x196xf32>, tensor<10x196xf32>) -> tensor<1x10xf32>
  return %y : tensor<1x10xf32>
}

// -----

// Reshape entries 0 (copy) follow the new batch; a loss stays a scalar.
// CHECK-LABEL: func.func @reshape_loss
// CHECK: kiln.reshape %{{.+}} {shape = array<i64: 0, -1>} : (tensor<8x2x3xf32>) -> tensor<8x6xf32>
// CHECK: kiln.sparse_cce %{{.+}}, %{{.+}} : (tensor<8x6xf32>, tensor<8xi32>) -> tensor<f32>
func.func @reshape_loss(%x: tensor<2x2x3xf32>, %y: tensor<2xi32>) -> tensor<f32> {
  %r = kiln.reshape %x {shape = array<i64: 0, -1>} : (tensor<2x2x3xf32>) -> tensor<2x6xf32>
  %l = kiln.sparse_cce %r, %y : (tensor<2x6xf32>, tensor<2xi32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Ceil-mode pooling and same_lower padding.
// CHECK-LABEL: func.func @windows
// CHECK: kiln.max_pool2d %{{.+}} -> tensor<8x2x3x3xf32>
// CHECK: kiln.avg_pool2d %{{.+}} -> tensor<8x2x2x2xf32>
func.func @windows(%x: tensor<1x2x5x5xf32>) -> (tensor<1x2x3x3xf32>, tensor<1x2x2x2xf32>) {
  %a = kiln.max_pool2d %x {kernel = array<i64: 2, 2>, ceil_mode = true} : (tensor<1x2x5x5xf32>) -> tensor<1x2x3x3xf32>
  %b = kiln.avg_pool2d %x {kernel = array<i64: 3, 3>, strides = array<i64: 3, 3>, auto_pad = "same_lower"} : (tensor<1x2x5x5xf32>) -> tensor<1x2x2x2xf32>
  return %a, %b : tensor<1x2x3x3xf32>, tensor<1x2x2x2xf32>
}
