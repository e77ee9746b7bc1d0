// The ONNX data-path ops parse, verify and print back to text that parses
// to the same.
// RUN: kiln-opt %s --split-input-file | kiln-opt --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @math
func.func @math(%x: tensor<2x3xf32>, %e: tensor<f32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  // CHECK: kiln.exp %{{.+}} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %0 = kiln.exp %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: kiln.log
  %1 = kiln.log %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: kiln.sqrt
  %2 = kiln.sqrt %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: kiln.erf
  %3 = kiln.erf %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: kiln.abs
  %4 = kiln.abs %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: kiln.clip %{{.+}} {max = 1.000000e+00 : f32, min = -1.000000e+00 : f32}
  %5 = kiln.clip %x {min = -1.0 : f32, max = 1.0 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: kiln.pow %{{.+}}, %{{.+}} : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %6 = kiln.pow %x, %e : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func.func @transpose
func.func @transpose(%x: tensor<2x3x4xf32>) -> tensor<2x4x3xf32> {
  // CHECK: kiln.transpose %{{.+}} {perm = array<i64: 0, 2, 1>} : (tensor<2x3x4xf32>) -> tensor<2x4x3xf32>
  %t = kiln.transpose %x {perm = array<i64: 0, 2, 1>} : (tensor<2x3x4xf32>) -> tensor<2x4x3xf32>
  return %t : tensor<2x4x3xf32>
}

// -----

// CHECK-LABEL: func.func @pad
func.func @pad(%x: tensor<1x2x3x3xf32>) -> (tensor<1x2x5x5xf32>, tensor<1x2x1x3xf32>) {
  // CHECK: kiln.pad %{{.+}} {mode = "reflect", pads = array<i64: 0, 0, 1, 1, 0, 0, 1, 1>}
  %p = kiln.pad %x {pads = array<i64: 0, 0, 1, 1, 0, 0, 1, 1>, mode = "reflect"} : (tensor<1x2x3x3xf32>) -> tensor<1x2x5x5xf32>
  // CHECK: kiln.pad %{{.+}} {pads = array<i64: 0, 0, -1, 0, 0, 0, -1, 0>} : (tensor<1x2x3x3xf32>) -> tensor<1x2x1x3xf32>
  %c = kiln.pad %x {pads = array<i64: 0, 0, -1, 0, 0, 0, -1, 0>} : (tensor<1x2x3x3xf32>) -> tensor<1x2x1x3xf32>
  return %p, %c : tensor<1x2x5x5xf32>, tensor<1x2x1x3xf32>
}
