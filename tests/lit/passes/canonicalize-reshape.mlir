// RUN: kiln-opt %s --split-input-file --canonicalize | FileCheck %s

// A chain of reshapes folds into one reshape of the first input; a reshape
// back to the input's type folds away.
// CHECK-LABEL: func.func @chain
// CHECK: %[[R:.+]] = kiln.reshape %arg0 {shape = array<i64: 6, 4>} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
// CHECK-NOT: kiln.reshape
// CHECK: return %[[R]], %arg0
func.func @chain(%x: tensor<2x3x4xf32>) -> (tensor<6x4xf32>, tensor<2x3x4xf32>) {
  %a = kiln.reshape %x {shape = array<i64: 24>} : (tensor<2x3x4xf32>) -> tensor<24xf32>
  %b = kiln.reshape %a {shape = array<i64: 6, 4>} : (tensor<24xf32>) -> tensor<6x4xf32>
  %c = kiln.reshape %b {shape = array<i64: 2, 3, 4>} : (tensor<6x4xf32>) -> tensor<2x3x4xf32>
  return %b, %c : tensor<6x4xf32>, tensor<2x3x4xf32>
}

// -----

// An importer's MatMul on [1, T, D]: the product of [T, D] matrices, then a
// reshape adding the unit dim, a bias add and a residual add. The reshape
// moves below both adds, the residual is read through a reshape to the
// product's shape, and the bias stays as it is: the adds read the product
// itself.
// CHECK-LABEL: func.func @below_bias_and_residual
// CHECK: %[[P:.+]] = kiln.matmul %arg0, %arg1
// CHECK: %[[B:.+]] = kiln.add %arg2, %[[P]] : (tensor<8xf32>, tensor<5x8xf32>) -> tensor<5x8xf32>
// CHECK: %[[R:.+]] = kiln.reshape %arg3 {shape = array<i64: 5, 8>} : (tensor<1x5x8xf32>) -> tensor<5x8xf32>
// CHECK: %[[S:.+]] = kiln.add %[[B]], %[[R]] : (tensor<5x8xf32>, tensor<5x8xf32>) -> tensor<5x8xf32>
// CHECK: %[[G:.+]] = kiln.gelu %[[S]]
// CHECK: %[[O:.+]] = kiln.reshape %[[G]] {shape = array<i64: 1, 5, 8>} : (tensor<5x8xf32>) -> tensor<1x5x8xf32>
// CHECK: return %[[O]]
func.func @below_bias_and_residual(%x: tensor<5x4xf32>, %w: tensor<4x8xf32>, %bias: tensor<8xf32>, %res: tensor<1x5x8xf32>) -> tensor<1x5x8xf32> {
  %p = kiln.matmul %x, %w : (tensor<5x4xf32>, tensor<4x8xf32>) -> tensor<5x8xf32>
  %r = kiln.reshape %p {shape = array<i64: 1, 5, 8>} : (tensor<5x8xf32>) -> tensor<1x5x8xf32>
  %b = kiln.add %bias, %r : (tensor<8xf32>, tensor<1x5x8xf32>) -> tensor<1x5x8xf32>
  %s = kiln.add %b, %res : (tensor<1x5x8xf32>, tensor<1x5x8xf32>) -> tensor<1x5x8xf32>
  %g = kiln.gelu %s : (tensor<1x5x8xf32>) -> tensor<1x5x8xf32>
  return %g : tensor<1x5x8xf32>
}

// -----

// A unit dim inserted in the middle ([T, 1, 3D], ViT's QKV projection).
// CHECK-LABEL: func.func @middle_unit_dim
// CHECK: %[[B:.+]] = kiln.add %arg1, %arg0 : (tensor<6xf32>, tensor<5x6xf32>) -> tensor<5x6xf32>
// CHECK: kiln.reshape %[[B]] {shape = array<i64: 5, 1, 6>}
func.func @middle_unit_dim(%p: tensor<5x6xf32>, %bias: tensor<6xf32>) -> tensor<5x1x6xf32> {
  %r = kiln.reshape %p {shape = array<i64: 5, 1, 6>} : (tensor<5x6xf32>) -> tensor<5x1x6xf32>
  %b = kiln.add %bias, %r : (tensor<6xf32>, tensor<5x1x6xf32>) -> tensor<5x1x6xf32>
  return %b : tensor<5x1x6xf32>
}

// -----

// What stays: a reshape that drops unit dims (the other direction); one
// that changes dims larger than 1; an operand of a higher rank than the
// reshape's input ([1, 5, 1] over [1, 5, 8]); a
// result larger than the reshape's (broadcast up); a per-channel op
// (batch_norm's channels are axis 1).
// CHECK-LABEL: func.func @stays
// CHECK: %[[A:.+]] = kiln.reshape %arg0 {shape = array<i64: 5, 8>} : (tensor<1x5x8xf32>) -> tensor<5x8xf32>
// CHECK: kiln.relu %[[A]]
// CHECK: %[[C:.+]] = kiln.reshape %arg1 {shape = array<i64: 1, 8, 5>} : (tensor<5x8xf32>) -> tensor<1x8x5xf32>
// CHECK: kiln.relu %[[C]]
// CHECK: %[[D:.+]] = kiln.reshape %arg1 {shape = array<i64: 1, 5, 8>} : (tensor<5x8xf32>) -> tensor<1x5x8xf32>
// CHECK: kiln.add %[[D]], %arg2 : (tensor<1x5x8xf32>, tensor<1x5x1xf32>) -> tensor<1x5x8xf32>
// CHECK: kiln.add %[[D]], %arg3 : (tensor<1x5x8xf32>, tensor<3x5x8xf32>) -> tensor<3x5x8xf32>
// CHECK: %[[E:.+]] = kiln.reshape %arg4 {shape = array<i64: 1, 4, 1, 1>} : (tensor<1x4xf32>) -> tensor<1x4x1x1xf32>
// CHECK: kiln.batch_norm %[[E]]
func.func @stays(%x: tensor<1x5x8xf32>, %p: tensor<5x8xf32>, %col: tensor<1x5x1xf32>, %big: tensor<3x5x8xf32>, %c: tensor<1x4xf32>, %g: tensor<4xf32>) -> (tensor<5x8xf32>, tensor<1x8x5xf32>, tensor<1x5x8xf32>, tensor<3x5x8xf32>, tensor<1x4x1x1xf32>) {
  %a = kiln.reshape %x {shape = array<i64: 5, 8>} : (tensor<1x5x8xf32>) -> tensor<5x8xf32>
  %ra = kiln.relu %a : (tensor<5x8xf32>) -> tensor<5x8xf32>
  %c2 = kiln.reshape %p {shape = array<i64: 1, 8, 5>} : (tensor<5x8xf32>) -> tensor<1x8x5xf32>
  %rc = kiln.relu %c2 : (tensor<1x8x5xf32>) -> tensor<1x8x5xf32>
  %d = kiln.reshape %p {shape = array<i64: 1, 5, 8>} : (tensor<5x8xf32>) -> tensor<1x5x8xf32>
  %e1 = kiln.add %d, %col : (tensor<1x5x8xf32>, tensor<1x5x1xf32>) -> tensor<1x5x8xf32>
  %e2 = kiln.add %d, %big : (tensor<1x5x8xf32>, tensor<3x5x8xf32>) -> tensor<3x5x8xf32>
  %e = kiln.reshape %c {shape = array<i64: 1, 4, 1, 1>} : (tensor<1x4xf32>) -> tensor<1x4x1x1xf32>
  %bn = kiln.batch_norm %e, %g, %g, %g, %g : (tensor<1x4x1x1xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x1x1xf32>
  return %ra, %rc, %e1, %e2, %bn : tensor<5x8xf32>, tensor<1x8x5xf32>, tensor<1x5x8xf32>, tensor<3x5x8xf32>, tensor<1x4x1x1xf32>
}
