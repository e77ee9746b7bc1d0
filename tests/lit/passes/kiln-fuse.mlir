// RUN: kiln-opt %s --split-input-file --kiln-fuse | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-fuse=epilogue=false | FileCheck %s --check-prefix=NOEPI
// RUN: kiln-opt %s --split-input-file --kiln-fuse=elementwise=false | FileCheck %s --check-prefix=NOELT
// RUN: kiln-opt %s --split-input-file --kiln-fuse=prologue=false | FileCheck %s --check-prefix=NOPRO
// RUN: kiln-opt %s --split-input-file --kiln-fuse | kiln-opt --split-input-file | FileCheck %s

// conv + batch norm + relu become one kernel; the conv's inputs and the
// BN parameters are its inputs.
// CHECK-LABEL: func.func @conv_bn_relu
// CHECK: %[[F:[a-z0-9_]+]] = kiln.fused "epilogue"(%{{.+}}) : (tensor<1x2x6x6xf32>, tensor<4x2x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32> {
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: %[[C:[a-z0-9_]+]] = kiln.conv2d
// CHECK-NEXT: %[[N:[a-z0-9_]+]] = kiln.batch_norm %[[C]]
// CHECK-NEXT: %[[R:[a-z0-9_]+]] = kiln.relu %[[N]]
// CHECK-NEXT: kiln.yield %[[R]] : tensor<1x4x6x6xf32>
// CHECK: return %[[F]]
// NOEPI-LABEL: func.func @conv_bn_relu
// NOEPI: kiln.conv2d
// NOEPI: kiln.fused "elementwise"
// NOEPI-NEXT: ^bb0(
// NOEPI-NEXT: kiln.batch_norm
// NOEPI-NEXT: kiln.relu
// NOELT-LABEL: func.func @conv_bn_relu
// NOELT: kiln.fused "epilogue"
func.func @conv_bn_relu(%x: tensor<1x2x6x6xf32>) -> tensor<1x4x6x6xf32> {
  %w = kiln.param "w" : tensor<4x2x3x3xf32>
  %g = kiln.param "g" {init = "ones"} : tensor<4xf32>
  %b = kiln.param "b" : tensor<4xf32>
  %m = kiln.param "m" : tensor<4xf32>
  %v = kiln.param "v" {init = "ones"} : tensor<4xf32>
  %c = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x2x6x6xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
  %n = kiln.batch_norm %c, %g, %b, %m, %v : (tensor<1x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  %r = kiln.relu %n : (tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32>
  return %r : tensor<1x4x6x6xf32>
}

// -----

// A value used twice (here by the return and the add) ends the chain:
// dense + sigmoid form an epilogue, add + relu an elementwise kernel.
// CHECK-LABEL: func.func @shared
// CHECK: %[[E:[a-z0-9_]+]] = kiln.fused "epilogue"
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: kiln.dense
// CHECK-NEXT: kiln.sigmoid
// CHECK: %[[F:[a-z0-9_]+]] = kiln.fused "elementwise"(%[[E]], %{{.+}})
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: kiln.add
// CHECK-NEXT: kiln.relu
// CHECK: return %[[F]], %[[E]]
// NOELT-LABEL: func.func @shared
// NOELT: kiln.fused "epilogue"
// NOELT-NOT: kiln.fused "elementwise"
func.func @shared(%x: tensor<2x3xf32>, %y: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %w = kiln.param "w2" : tensor<4x3xf32>
  %d = kiln.dense %x, %w : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
  %s = kiln.sigmoid %d : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %a = kiln.add %s, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %r = kiln.relu %a : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %r, %s : tensor<2x4xf32>, tensor<2x4xf32>
}

// -----

// Ops the fused kernel cannot inline stay on their own: softmax (a row
// reduction) ends the chain.
// CHECK-LABEL: func.func @softmax_ends
// CHECK: kiln.fused "elementwise"
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: kiln.tanh
// CHECK-NEXT: kiln.scale
// CHECK: kiln.softmax
func.func @softmax_ends(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
  %t = kiln.tanh %x : (tensor<2x5xf32>) -> tensor<2x5xf32>
  %s = kiln.scale %t {factor = 2.0 : f64} : (tensor<2x5xf32>) -> tensor<2x5xf32>
  %p = kiln.softmax %s : (tensor<2x5xf32>) -> tensor<2x5xf32>
  return %p : tensor<2x5xf32>
}

// -----

// Training: batch_norm_train is an anchor; its batch mean and variance are
// extra results of the fused op. The running-statistics update reads them
// before the chain's last op, so the fused op goes where the anchor was.
// CHECK-LABEL: func.func @bn_train_relu
// CHECK: %[[Y:[a-z0-9_]+]], %[[S:[a-z0-9_]+]]:2 = kiln.fused "epilogue"(%arg0, %{{.+}}, %{{.+}}, %arg1) : (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<2x3x4x4xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>) {
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: %[[R:[a-z0-9_]+]], %[[M:[a-z0-9_]+]], %[[V:[a-z0-9_]+]] = kiln.batch_norm_train
// CHECK-NEXT: %[[A:[a-z0-9_]+]] = kiln.add %[[R]]
// CHECK-NEXT: %[[O:[a-z0-9_]+]] = kiln.relu %[[A]]
// CHECK-NEXT: kiln.yield %[[O]], %[[M]], %[[V]] : tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>
// CHECK: kiln.running_stats_update %{{.+}}, %{{.+}}, %[[S]]#0, %[[S]]#1
// CHECK: return %[[Y]]
// NOEPI-LABEL: func.func @bn_train_relu
// NOEPI: kiln.batch_norm_train
// NOEPI: kiln.fused "elementwise"
func.func @bn_train_relu(%x: tensor<2x3x4x4xf32>, %skip: tensor<2x3x4x4xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>) {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %b = kiln.param "b" : tensor<3xf32>
  %rm = kiln.param "rm" : tensor<3xf32>
  %rv = kiln.param "rv" {init = "ones"} : tensor<3xf32>
  %y, %mean, %var = kiln.batch_norm_train %x, %g, %b : (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>)
  %nm, %nv = kiln.running_stats_update %rm, %rv, %mean, %var {count = 32 : i64} : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>)
  %a = kiln.add %y, %skip : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %r = kiln.relu %a : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  return %r, %nm, %nv : tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>
}

// -----

// Backward: activation_grad feeding only batch_norm_grad's dy is computed
// inside the BN gradient kernel (both reductions and dx read it inline).
// CHECK-LABEL: func.func @act_grad_bn_grad
// CHECK: %[[DX:[a-z0-9_]+]], %[[P:[a-z0-9_]+]]:2 = kiln.fused "prologue"(%arg1, %arg2, %arg0, %{{.+}}, %arg3, %arg4) : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>) {
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: %[[G:[a-z0-9_]+]] = kiln.activation_grad %{{.+}}, %{{.+}} {activation = "relu"}
// CHECK-NEXT: %[[R0:[a-z0-9_]+]], %[[R1:[a-z0-9_]+]], %[[R2:[a-z0-9_]+]] = kiln.batch_norm_grad %{{.+}}, %[[G]],
// CHECK-NEXT: kiln.yield %[[R0]], %[[R1]], %[[R2]]
// CHECK: return %[[DX]], %[[P]]#0, %[[P]]#1
// NOPRO-LABEL: func.func @act_grad_bn_grad
// NOPRO-NOT: kiln.fused
// An activation_grad with a second use stays a kernel of its own.
// CHECK-LABEL: func.func @act_grad_shared
// CHECK-NOT: kiln.fused
func.func @act_grad_bn_grad(%x: tensor<2x3x4x4xf32>, %y: tensor<2x3x4x4xf32>, %dy: tensor<2x3x4x4xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>) {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %d = kiln.activation_grad %y, %dy {activation = "relu"} : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %x, %d, %g, %mean, %var : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>)
  return %dx, %dg, %db : tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>
}
func.func @act_grad_shared(%x: tensor<2x3x4x4xf32>, %y: tensor<2x3x4x4xf32>, %dy: tensor<2x3x4x4xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %d = kiln.activation_grad %y, %dy {activation = "relu"} : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %x, %d, %g, %mean, %var : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>)
  return %dx, %d : tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>
}
