// RUN: kiln-opt %s --canonicalize | FileCheck %s

// A transpose that moves only dims of size 1 keeps every element in place:
// it becomes a reshape (a view, no kernel). One that reorders dims larger
// than 1 stays, even where unit dims move with them.
// CHECK-LABEL: func.func @unit_dims
// CHECK: kiln.reshape %arg0 {shape = array<i64: 5, 1, 3>} : (tensor<1x5x3xf32>) -> tensor<5x1x3xf32>
// CHECK: kiln.reshape %arg1 {shape = array<i64: 7, 1, 1, 4>} : (tensor<1x7x4x1xf32>) -> tensor<7x1x1x4xf32>
// CHECK: kiln.transpose %arg0 {perm = array<i64: 2, 0, 1>} : (tensor<1x5x3xf32>) -> tensor<3x1x5xf32>
// CHECK: kiln.transpose %arg2 {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
// CHECK-NOT: kiln.transpose
func.func @unit_dims(%x: tensor<1x5x3xf32>, %y: tensor<1x7x4x1xf32>, %z: tensor<2x3xf32>) -> (tensor<5x1x3xf32>, tensor<7x1x1x4xf32>, tensor<3x1x5xf32>, tensor<3x2xf32>) {
  %a = kiln.transpose %x {perm = array<i64: 1, 0, 2>} : (tensor<1x5x3xf32>) -> tensor<5x1x3xf32>
  %b = kiln.transpose %y {perm = array<i64: 1, 3, 0, 2>} : (tensor<1x7x4x1xf32>) -> tensor<7x1x1x4xf32>
  %c = kiln.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<1x5x3xf32>) -> tensor<3x1x5xf32>
  %d = kiln.transpose %z {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %a, %b, %c, %d : tensor<5x1x3xf32>, tensor<7x1x1x4xf32>, tensor<3x1x5xf32>, tensor<3x2xf32>
}
