// RUN: kiln-opt %s --split-input-file --kiln-autodiff --verify-diagnostics | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-autodiff=wrt-inputs=true --verify-diagnostics | FileCheck %s --check-prefix=INPUTS

// Dense + relu + mse: dx = dy·W, dW = dyᵀ·x, db = Σ dy; the relu gradient
// reads the relu's output (same derivative as at the pre-activation).
// CHECK-LABEL: func.func @mlp
// CHECK-SAME: -> (tensor<f32>, tensor<3x4xf32> {kiln.name = "grad:w"}, tensor<3xf32> {kiln.name = "grad:b"})
// CHECK: %[[W:[a-z0-9_]+]] = kiln.param "w"
// CHECK: %[[H:[a-z0-9_]+]] = kiln.dense %[[X:[^,]+]], %[[W]], %[[B:[^ ]+]]
// CHECK: %[[Y:[a-z0-9_]+]] = kiln.relu %[[H]]
// CHECK: %[[L:[a-z0-9_]+]] = kiln.mse %[[Y]], %[[T:[^ ]+]]
// CHECK: %[[ONE:[a-z0-9_]+]] = kiln.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[DY:[a-z0-9_]+]] = kiln.loss_grad %[[Y]], %[[T]], %[[ONE]] {loss = "mse"}
// CHECK: %[[DH:[a-z0-9_]+]] = kiln.activation_grad %[[Y]], %[[DY]] {activation = "relu"}
// CHECK: kiln.matmul %[[DH]], %[[W]] : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
// CHECK: %[[DW:[a-z0-9_]+]] = kiln.matmul %[[DH]], %[[X]] {transpose_a = true} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
// CHECK: %[[DB:[a-z0-9_]+]] = kiln.reduce_sum %[[DH]] {axes = array<i64: 0>} : (tensor<2x3xf32>) -> tensor<3xf32>
// CHECK: return %[[L]], %[[DW]], %[[DB]]
// INPUTS-LABEL: func.func @mlp
// INPUTS-SAME: tensor<2x4xf32> {kiln.name = "grad:x"}
func.func @mlp(%x: tensor<2x4xf32> {kiln.name = "x"}, %t: tensor<2x3xf32>) -> tensor<f32> {
  %w = kiln.param "w" : tensor<3x4xf32>
  %b = kiln.param "b" : tensor<3xf32>
  %h = kiln.dense %x, %w, %b : (tensor<2x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %y = kiln.relu %h : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = kiln.mse %y, %t : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A value used twice accumulates both gradients; a broadcast operand's
// gradient is summed back to its shape.
// CHECK-LABEL: func.func @reuse
// CHECK: %[[A:[a-z0-9_]+]] = kiln.param "a" : tensor<3xf32>
// CHECK: %[[S:[a-z0-9_]+]] = kiln.mul %[[P:[a-z0-9_]+]], %[[P]]
// CHECK: %[[G:[a-z0-9_]+]] = kiln.loss_grad
// CHECK: %[[G1:[a-z0-9_]+]] = kiln.reduce_sum %[[G]] {axes = array<i64: 0>} : (tensor<2x3xf32>) -> tensor<3xf32>
// CHECK: %[[M1:[a-z0-9_]+]] = kiln.mul %[[G]], %[[P]]
// CHECK: %[[M2:[a-z0-9_]+]] = kiln.mul %[[G]], %[[P]]
// CHECK: %[[SUM:[a-z0-9_]+]] = kiln.add %[[M1]], %[[M2]]
// CHECK: return %{{.+}}, %[[G1]], %[[SUM]]
func.func @reuse(%t: tensor<2x3xf32>) -> tensor<f32> {
  %a = kiln.param "a" : tensor<3xf32>
  %p = kiln.param "p" : tensor<2x3xf32>
  %s = kiln.mul %p, %p : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = kiln.add %s, %a : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %l = kiln.mae %y, %t : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Convolution: input and weight gradients with the resolved padding; the
// bias gradient sums over N, H, W. Pooling and flatten route gradients back.
// CHECK-LABEL: func.func @conv
// CHECK: kiln.reshape %{{.+}} {shape = array<i64: 1, 2, 2, 2>}
// CHECK: kiln.max_pool2d_grad %{{.+}} {dilations = array<i64: 1, 1>, kernel = array<i64: 2, 2>, pads = array<i64: 0, 0, 1, 1>, strides = array<i64: 2, 2>}
// CHECK: kiln.conv2d_grad_input %{{.+}} {dilations = array<i64: 1, 1>, groups = 1 : i64, input_size = array<i64: 4, 4>, pads = array<i64: 1, 1, 0, 0>, strides = array<i64: 1, 1>}
// CHECK: kiln.conv2d_grad_weight %{{.+}} {dilations = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 3, 3>, pads = array<i64: 1, 1, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x1x4x4xf32>, tensor<1x2x3x3xf32>) -> tensor<2x1x3x3xf32>
// CHECK: kiln.reduce_sum %{{.+}} {axes = array<i64: 0, 2, 3>}
// CHECK: return {{.*}} : tensor<f32>, tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>
func.func @conv(%t: tensor<1x8xf32>) -> tensor<f32> {
  %x = kiln.param "x" : tensor<1x1x4x4xf32>
  %w = kiln.param "w" : tensor<2x1x3x3xf32>
  %b = kiln.param "b" : tensor<2xf32>
  %c = kiln.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 0, 0>} : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  %p = kiln.max_pool2d %c {kernel = array<i64: 2, 2>, ceil_mode = true} : (tensor<1x2x3x3xf32>) -> tensor<1x2x2x2xf32>
  %f = kiln.flatten %p : (tensor<1x2x2x2xf32>) -> tensor<1x8xf32>
  %l = kiln.mse %f, %t : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A pointwise (1x1, stride 1, unpadded, ungrouped) convolution's input
// gradient is the pointwise convolution of dy with the weight transposed to
// [C, O, 1, 1]; its weight gradient stays conv2d_grad_weight.
// CHECK-LABEL: func.func @pointwise
// CHECK: %[[T:[a-z0-9_]+]] = kiln.transpose %{{.+}} {perm = array<i64: 1, 0, 2, 3>} : (tensor<3x2x1x1xf32>) -> tensor<2x3x1x1xf32>
// CHECK: kiln.conv2d %{{.+}}, %[[T]] : (tensor<1x3x4x4xf32>, tensor<2x3x1x1xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NOT: kiln.conv2d_grad_input
// CHECK: kiln.conv2d_grad_weight
func.func @pointwise(%t: tensor<1x48xf32>) -> tensor<f32> {
  %x = kiln.param "x" : tensor<1x2x4x4xf32>
  %w = kiln.param "w" : tensor<3x2x1x1xf32>
  %c = kiln.conv2d %x, %w : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
  %f = kiln.flatten %c : (tensor<1x3x4x4xf32>) -> tensor<1x48xf32>
  %l = kiln.mse %f, %t : (tensor<1x48xf32>, tensor<1x48xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// reduce_sum's gradient: dy reshaped with the summed axes kept as 1, then
// broadcast back to x's shape by an add of zeros.
// CHECK-LABEL: func.func @reduce
// CHECK: %[[R:[a-z0-9_]+]] = kiln.reshape %{{.+}} {shape = array<i64: 2, 1, 4>} : (tensor<2x4xf32>) -> tensor<2x1x4xf32>
// CHECK: %[[Z:[a-z0-9_]+]] = kiln.constant dense<0.000000e+00> : tensor<2x3x4xf32>
// CHECK: kiln.add %[[R]], %[[Z]] : (tensor<2x1x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
func.func @reduce(%t: tensor<2x4xf32>) -> tensor<f32> {
  %x = kiln.param "x" : tensor<2x3x4xf32>
  %s = kiln.reduce_sum %x {axes = array<i64: 1>, keepdims = false} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
  %l = kiln.mse %s, %t : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Softmax, layer norm, concat and prelu rules.
// CHECK-LABEL: func.func @misc
// CHECK: kiln.softmax_grad %{{.+}}, %{{.+}} {axis = 1 : i64}
// CHECK: kiln.slice %{{.+}} {axis = 1 : i64, size = 2 : i64, start = 0 : i64}
// CHECK: kiln.slice %{{.+}} {axis = 1 : i64, size = 3 : i64, start = 2 : i64}
// CHECK: kiln.prelu_grad
// CHECK: kiln.layer_norm_grad %{{.+}}, %{{.+}}, %{{.+}} {axis = 1 : i64} : (tensor<2x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> (tensor<2x2xf32>, tensor<2xf32>, tensor<2xf32>)
func.func @misc(%t: tensor<2x5xf32>) -> tensor<f32> {
  %a = kiln.param "a" : tensor<2x2xf32>
  %g = kiln.param "g" : tensor<2xf32>
  %b = kiln.param "b" : tensor<2xf32>
  %n = kiln.layer_norm %a, %g, %b : (tensor<2x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<2x2xf32>
  %c = kiln.param "c" : tensor<2x3xf32>
  %s = kiln.param "slope" {init = "ones"} : tensor<1xf32>
  %pc = kiln.prelu %c, %s : (tensor<2x3xf32>, tensor<1xf32>) -> tensor<2x3xf32>
  %cat = kiln.concat %n, %pc {axis = 1} : (tensor<2x2xf32>, tensor<2x3xf32>) -> tensor<2x5xf32>
  %sm = kiln.softmax %cat : (tensor<2x5xf32>) -> tensor<2x5xf32>
  %l = kiln.mse %sm, %t : (tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @not_scalar(%x: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @-1 {{kiln-autodiff needs the first result to be the scalar f32 loss}}
  return %x : tensor<2xf32>
}

// -----

// kiln-pack-weights packs inference graphs only: a packed conv2d has no
// gradient rule.
func.func @packed_conv(%x: tensor<1x16x8x8xf32>, %t: tensor<1x16x4x4xf32>) -> tensor<f32> {
  %w = kiln.param "w" : tensor<1x16x3x3x16xf32>
  // expected-error @+1 {{has a packed weight (kiln-pack-weights packs inference graphs only): no gradient}}
  %y = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x16x8x8xf32>, tensor<1x16x3x3x16xf32>) -> tensor<1x16x4x4xf32>
  %l = kiln.mse %y, %t : (tensor<1x16x4x4xf32>, tensor<1x16x4x4xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// reduce_max / reduce_prod: one reduce_grad each, reading the input, the
// reduction's own result and dy, with the reduction's axes and keepdims.
// CHECK-LABEL: func.func @reduce_extremes
// CHECK: %[[P:[a-z0-9_]+]] = kiln.param "p" : tensor<2x3xf32>
// CHECK: %[[M:[a-z0-9_]+]] = kiln.reduce_max %[[P]] {axes = array<i64: 1>} : (tensor<2x3xf32>) -> tensor<2xf32>
// CHECK: %[[Q:[a-z0-9_]+]] = kiln.reduce_prod %[[P]] {axes = array<i64: -1>, keepdims = true} : (tensor<2x3xf32>) -> tensor<2x1xf32>
// CHECK-DAG: kiln.reduce_grad %[[P]], %[[M]], %{{.+}} {axes = array<i64: 1>, kind = "max"} : (tensor<2x3xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<2x3xf32>
// CHECK-DAG: kiln.reduce_grad %[[P]], %[[Q]], %{{.+}} {axes = array<i64: -1>, keepdims = true, kind = "prod"} : (tensor<2x3xf32>, tensor<2x1xf32>, tensor<2x1xf32>) -> tensor<2x3xf32>
func.func @reduce_extremes(%t: tensor<2xf32>) -> tensor<f32> {
  %p = kiln.param "p" : tensor<2x3xf32>
  %m = kiln.reduce_max %p {axes = array<i64: 1>} : (tensor<2x3xf32>) -> tensor<2xf32>
  %q = kiln.reduce_prod %p {axes = array<i64: -1>, keepdims = true} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  %r = kiln.reshape %q {shape = array<i64: 2>} : (tensor<2x1xf32>) -> tensor<2xf32>
  %s = kiln.add %m, %r : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %l = kiln.mse %s, %t : (tensor<2xf32>, tensor<2xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// nll_loss: nll_loss_grad of the input with the loss's reduction and
// ignore_index; the labels get no gradient.
// CHECK-LABEL: func.func @nll
// CHECK: %[[P:[a-z0-9_]+]] = kiln.param "p" : tensor<2x3xf32>
// CHECK: kiln.nll_loss_grad %[[P]], %{{.+}}, %{{.+}} {ignore_index = 1 : i64, reduction = "sum"} : (tensor<2x3xf32>, tensor<2xi32>, tensor<f32>) -> tensor<2x3xf32>
func.func @nll(%t: tensor<2xi32>) -> tensor<f32> {
  %p = kiln.param "p" : tensor<2x3xf32>
  %l = kiln.nll_loss %p, %t {reduction = "sum", ignore_index = 1 : i64} : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// gather_elements: its gradient sends dy where each index points, with the
// input's shape; the indices get no gradient.
// CHECK-LABEL: func.func @gather_elements
// CHECK: %[[W:[a-z0-9_]+]] = kiln.param "w" : tensor<5x4xf32>
// CHECK: kiln.gather_elements %[[W]], %[[I:[a-z0-9_]+]] {axis = 1 : i64} : (tensor<5x4xf32>, tensor<3x6xi32>) -> tensor<3x6xf32>
// CHECK: kiln.gather_elements_grad %[[I]], %{{.+}} {axis = 1 : i64, shape = array<i64: 5, 4>} : (tensor<3x6xi32>, tensor<3x6xf32>) -> tensor<5x4xf32>
func.func @gather_elements(%ids: tensor<3x6xi32>, %t: tensor<3x6xf32>) -> tensor<f32> {
  %w = kiln.param "w" : tensor<5x4xf32>
  %g = kiln.gather_elements %w, %ids {axis = 1 : i64} : (tensor<5x4xf32>, tensor<3x6xi32>) -> tensor<3x6xf32>
  %l = kiln.mse %g, %t : (tensor<3x6xf32>, tensor<3x6xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// gather at run-time indices (an embedding): gather_grad adds dy into the
// table's rows, with the axis and the table's extent along it; the indices
// get no gradient.
// CHECK-LABEL: func.func @embedding
// CHECK: %[[E:[a-z0-9_]+]] = kiln.param "emb" : tensor<10x4xf32>
// CHECK: kiln.gather %[[E]], %[[I:[a-z0-9_]+]] : (tensor<10x4xf32>, tensor<2x3xi32>) -> tensor<2x3x4xf32>
// CHECK: kiln.gather_grad %[[I]], %{{.+}} {axis = 0 : i64, size = 10 : i64} : (tensor<2x3xi32>, tensor<2x3x4xf32>) -> tensor<10x4xf32>
func.func @embedding(%ids: tensor<2x3xi32>, %t: tensor<2x3x4xf32>) -> tensor<f32> {
  %e = kiln.param "emb" : tensor<10x4xf32>
  %g = kiln.gather %e, %ids {axis = 0 : i64} : (tensor<10x4xf32>, tensor<2x3xi32>) -> tensor<2x3x4xf32>
  %l = kiln.mse %g, %t : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// where at a run-time condition: lhs gets where(cond, dy, 0), rhs
// where(cond, 0, dy) summed back over its broadcast dim; the condition
// gets none.
// CHECK-LABEL: func.func @masked
// CHECK: %[[A:[a-z0-9_]+]] = kiln.param "a" : tensor<2x3xf32>
// CHECK: %[[B:[a-z0-9_]+]] = kiln.param "b" : tensor<1x3xf32>
// CHECK: %[[Z:[a-z0-9_]+]] = kiln.constant dense<0.000000e+00> : tensor<f32>
// CHECK-DAG: kiln.where %arg0, %[[DY:[a-z0-9_]+]], %[[Z]] : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
// CHECK-DAG: %[[DB:[a-z0-9_]+]] = kiln.where %arg0, %[[Z]], %[[DY]] : (tensor<2x3xf32>, tensor<f32>, tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK: %[[S:[a-z0-9_]+]] = kiln.reduce_sum %[[DB]] {axes = array<i64: 0>} : (tensor<2x3xf32>) -> tensor<3xf32>
// CHECK: kiln.reshape %[[S]] {shape = array<i64: 1, 3>} : (tensor<3xf32>) -> tensor<1x3xf32>
func.func @masked(%c: tensor<2x3xf32>, %t: tensor<2x3xf32>) -> tensor<f32> {
  %a = kiln.param "a" : tensor<2x3xf32>
  %b = kiln.param "b" : tensor<1x3xf32>
  %w = kiln.where %c, %a, %b : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<1x3xf32>) -> tensor<2x3xf32>
  %l = kiln.mse %w, %t : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A run-time comparison (1 or 0) passes no gradient: the parameter it
// compares gets its gradient only through the where's branch (where(c, dy,
// 0)), none through the condition.
// CHECK-LABEL: func.func @compared
// CHECK: %[[A:[a-z0-9_]+]] = kiln.param "a" : tensor<2x3xf32>
// CHECK: %[[C:[a-z0-9_]+]] = kiln.greater %[[A]], %arg0
// CHECK: %[[Z:[a-z0-9_]+]] = kiln.constant dense<0.000000e+00> : tensor<f32>
// CHECK: %[[DA:[a-z0-9_]+]] = kiln.where %[[C]], %{{.+}}, %[[Z]]
// CHECK-NOT: kiln.add
// CHECK: return %{{.+}}, %[[DA]]
func.func @compared(%x: tensor<2x3xf32>, %t: tensor<2x3xf32>) -> tensor<f32> {
  %a = kiln.param "a" : tensor<2x3xf32>
  %c = kiln.greater %a, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %w = kiln.where %c, %a, %x : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = kiln.mse %w, %t : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// cumsum: its gradient is the cumulative sum of dy the other way, with the
// same exclusive flag.
// CHECK-LABEL: func.func @cumsum
// CHECK: kiln.cumsum %{{.+}} {axis = 1 : i64, exclusive = true} :
// CHECK: kiln.cumsum %{{.+}} {axis = 1 : i64, exclusive = true, reverse = true} : (tensor<2x5xf32>) -> tensor<2x5xf32>
func.func @cumsum(%t: tensor<2x5xf32>) -> tensor<f32> {
  %w = kiln.param "w" : tensor<2x5xf32>
  %c = kiln.cumsum %w {axis = 1 : i64, exclusive = true} : (tensor<2x5xf32>) -> tensor<2x5xf32>
  %l = kiln.mse %c, %t : (tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<f32>
  return %l : tensor<f32>
}
