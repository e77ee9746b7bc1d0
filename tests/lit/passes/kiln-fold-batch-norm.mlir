// RUN: kiln-opt %s --split-input-file --kiln-fold-batch-norm | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-fold-batch-norm | kiln-opt --split-input-file | FileCheck %s

// Runtime parameters: a fold kernel computes the conv's new weight and bias
// (the conv had none); the batch norm is gone.
// CHECK-LABEL: func.func @conv_params
// CHECK: %[[W:[a-z0-9_]+]] = kiln.param "w"
// CHECK: %[[G:[a-z0-9_]+]] = kiln.param "g"
// CHECK: %[[B:[a-z0-9_]+]] = kiln.param "b"
// CHECK: %[[M:[a-z0-9_]+]] = kiln.param "m"
// CHECK: %[[V:[a-z0-9_]+]] = kiln.param "v"
// CHECK: %[[FW:[a-z0-9_]+]], %[[FB:[a-z0-9_]+]] = kiln.fold_batch_norm %[[W]], %[[G]], %[[B]], %[[M]], %[[V]] {epsilon = 1.000000e-03 : f32} : (tensor<4x2x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4x2x3x3xf32>, tensor<4xf32>)
// CHECK: %[[C:[a-z0-9_]+]] = kiln.conv2d %arg0, %[[FW]], %[[FB]] {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>}
// CHECK-NOT: kiln.batch_norm
// CHECK: %[[R:[a-z0-9_]+]] = kiln.relu %[[C]]
// CHECK: return %[[R]]
func.func @conv_params(%x: tensor<1x2x6x6xf32>) -> tensor<1x4x3x3xf32> {
  %w = kiln.param "w" : tensor<4x2x3x3xf32>
  %g = kiln.param "g" {init = "ones"} : tensor<4xf32>
  %b = kiln.param "b" : tensor<4xf32>
  %m = kiln.param "m" : tensor<4xf32>
  %v = kiln.param "v" {init = "ones"} : tensor<4xf32>
  %c = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x2x6x6xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x3x3xf32>
  %n = kiln.batch_norm %c, %g, %b, %m, %v {epsilon = 1.0e-3 : f32} : (tensor<1x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x3x3xf32>
  %r = kiln.relu %n : (tensor<1x4x3x3xf32>) -> tensor<1x4x3x3xf32>
  return %r : tensor<1x4x3x3xf32>
}

// -----

// The layer's own bias is folded too; dense works like conv2d.
// CHECK-LABEL: func.func @dense_bias
// CHECK: %[[FW:[a-z0-9_]+]], %[[FB:[a-z0-9_]+]] = kiln.fold_batch_norm %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : (tensor<3x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<3x5xf32>, tensor<3xf32>)
// CHECK: kiln.dense %arg0, %[[FW]], %[[FB]] : (tensor<2x5xf32>, tensor<3x5xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NOT: kiln.batch_norm
func.func @dense_bias(%x: tensor<2x5xf32>) -> tensor<2x3xf32> {
  %w = kiln.param "w" : tensor<3x5xf32>
  %bias = kiln.param "bias" : tensor<3xf32>
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %b = kiln.param "b" : tensor<3xf32>
  %m = kiln.param "m" : tensor<3xf32>
  %v = kiln.param "v" {init = "ones"} : tensor<3xf32>
  %d = kiln.dense %x, %w, %bias : (tensor<2x5xf32>, tensor<3x5xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %n = kiln.batch_norm %d, %g, %b, %m, %v : (tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %n : tensor<2x3xf32>
}

// -----

// Constants fold at compile time. By hand: scale = 2 / sqrt(15 + 1) = 0.5,
// weight [1, 2] * 0.5 = [0.5, 1], bias (1 - 3) * 0.5 + 0.5 = -0.5.
// CHECK-LABEL: func.func @constants
// CHECK-NOT: kiln.fold_batch_norm
// CHECK-DAG: %[[FW:[a-z0-9_]+]] = kiln.constant dense<{{\[\[}}5.000000e-01, 1.000000e+00]]> : tensor<1x2xf32>
// CHECK-DAG: %[[FB:[a-z0-9_]+]] = kiln.constant dense<-5.000000e-01> : tensor<1xf32>
// CHECK: kiln.dense %arg0, %[[FW]], %[[FB]]
// CHECK-NOT: kiln.batch_norm
func.func @constants(%x: tensor<4x2xf32>) -> tensor<4x1xf32> {
  %w = kiln.constant dense<[[1.0, 2.0]]> : tensor<1x2xf32>
  %bias = kiln.constant dense<1.0> : tensor<1xf32>
  %g = kiln.constant dense<2.0> : tensor<1xf32>
  %b = kiln.constant dense<0.5> : tensor<1xf32>
  %m = kiln.constant dense<3.0> : tensor<1xf32>
  %v = kiln.constant dense<15.0> : tensor<1xf32>
  %d = kiln.dense %x, %w, %bias : (tensor<4x2xf32>, tensor<1x2xf32>, tensor<1xf32>) -> tensor<4x1xf32>
  %n = kiln.batch_norm %d, %g, %b, %m, %v {epsilon = 1.0 : f32} : (tensor<4x1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<4x1xf32>
  return %n : tensor<4x1xf32>
}

// -----

// Not folded: batch statistics (training = true), a conv result that is
// also returned, and a batch norm that follows no conv / dense.
// CHECK-LABEL: func.func @unchanged
// CHECK-NOT: kiln.fold_batch_norm
// CHECK-COUNT-3: kiln.batch_norm
func.func @unchanged(%x: tensor<1x2x4x4xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %w = kiln.param "w" : tensor<2x2x1x1xf32>
  %g = kiln.param "g" {init = "ones"} : tensor<2xf32>
  %b = kiln.param "b" : tensor<2xf32>
  %m = kiln.param "m" : tensor<2xf32>
  %v = kiln.param "v" {init = "ones"} : tensor<2xf32>
  %c1 = kiln.conv2d %x, %w : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %n1 = kiln.batch_norm %c1, %g, %b, %m, %v {training = true} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %c2 = kiln.conv2d %x, %w : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %n2 = kiln.batch_norm %c2, %g, %b, %m, %v : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %n3 = kiln.batch_norm %x, %g, %b, %m, %v : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  return %n1, %n2, %c2, %n3 : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}
