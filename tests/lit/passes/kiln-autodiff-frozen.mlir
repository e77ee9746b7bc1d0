// kiln-autodiff's frozen patterns (kiln train --freeze): matching parameters
// get no gradient result; after canonicalization the backward work only they
// needed is gone (here the first layer's weight gradient).
// RUN: kiln-opt %s --kiln-autodiff="frozen=l1.*" --canonicalize | FileCheck %s
// RUN: kiln-opt %s --kiln-autodiff="frozen=l1.weight,l2.bias" | FileCheck %s --check-prefix=TWO
// RUN: not kiln-opt %s --kiln-autodiff="frozen=conv*" 2>&1 | FileCheck %s --check-prefix=NOMATCH
// CHECK-LABEL: func.func @two_layers
// CHECK-SAME: -> (tensor<f32>, tensor<3x5xf32> {kiln.name = "grad:l2.weight"}, tensor<3xf32> {kiln.name = "grad:l2.bias"})
// CHECK-COUNT-1: kiln.matmul
// CHECK-NOT: kiln.matmul
// TWO-LABEL: func.func @two_layers
// TWO-SAME: -> (tensor<f32>, tensor<5xf32> {kiln.name = "grad:l1.bias"}, tensor<3x5xf32> {kiln.name = "grad:l2.weight"})
// NOMATCH: frozen pattern 'conv*' matches no parameter
func.func @two_layers(%x: tensor<2x4xf32>, %t: tensor<2x3xf32>) -> tensor<f32> {
  %w1 = kiln.param "l1.weight" : tensor<5x4xf32>
  %b1 = kiln.param "l1.bias" : tensor<5xf32>
  %h = kiln.dense %x, %w1, %b1 : (tensor<2x4xf32>, tensor<5x4xf32>, tensor<5xf32>) -> tensor<2x5xf32>
  %r = kiln.relu %h : (tensor<2x5xf32>) -> tensor<2x5xf32>
  %w2 = kiln.param "l2.weight" : tensor<3x5xf32>
  %b2 = kiln.param "l2.bias" : tensor<3xf32>
  %y = kiln.dense %r, %w2, %b2 : (tensor<2x5xf32>, tensor<3x5xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %l = kiln.mse %y, %t : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<f32>
  return %l : tensor<f32>
}
