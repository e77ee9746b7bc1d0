// RUN: kiln-opt %s --split-input-file --kiln-fuse | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-fuse=epilogue=false | FileCheck %s --check-prefix=NOEPI
// RUN: kiln-opt %s --split-input-file --kiln-fuse=elementwise=false | FileCheck %s --check-prefix=NOELT
// RUN: kiln-opt %s --split-input-file --kiln-fuse=prologue=false | FileCheck %s --check-prefix=NOPRO
// RUN: kiln-opt %s --split-input-file --kiln-fuse=attention=false | FileCheck %s --check-prefix=NOATT
// RUN: kiln-opt %s --split-input-file --kiln-fuse=sinks=false | FileCheck %s --check-prefix=NOSINK
// RUN: kiln-opt %s --split-input-file --kiln-fuse=recompute=false | FileCheck %s --check-prefix=NOREC
// RUN: kiln-opt %s --split-input-file --kiln-fuse=pool=false | FileCheck %s --check-prefix=NOPOOL
// RUN: kiln-opt %s --split-input-file --kiln-fuse=recompute-conv=false | FileCheck %s --check-prefix=NORC
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

// conv + ReLU whose value only a max pool reads, its 2x2 windows tiling
// the plane (a 7x7 plane: the last row and column are read by no window):
// the pool becomes the tail of the conv's kernel (codegen's planes form
// pools each plane from cache), whose value is never written. A strided
// conv (not the planes form) keeps its pool as a kernel of its own; so
// does a conv whose ReLU output is also returned. A conv alone before its
// pool (no activation between) takes it too.
// CHECK-LABEL: func.func @conv_relu_pool_tail
// CHECK: kiln.fused "epilogue"({{.+}}) -> tensor<2x4x3x3xf32> {
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: kiln.conv2d
// CHECK-NEXT: kiln.relu
// CHECK-NEXT: %[[T:[a-z0-9_]+]] = kiln.max_pool2d
// CHECK-NEXT: kiln.yield %[[T]] : tensor<2x4x3x3xf32>
// CHECK: %[[S:[a-z0-9_]+]] = kiln.fused "epilogue"({{.+}}) -> tensor<2x4x6x6xf32> {
// CHECK: kiln.max_pool2d %[[S]]
// CHECK: %[[U:[a-z0-9_]+]] = kiln.fused "epilogue"({{.+}}) -> tensor<2x4x7x7xf32> {
// CHECK: kiln.max_pool2d %[[U]]
// CHECK: kiln.fused "epilogue"({{.+}}) -> tensor<2x4x2x2xf32> {
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: kiln.conv2d
// CHECK-NEXT: %[[V:[a-z0-9_]+]] = kiln.max_pool2d
// CHECK-NEXT: kiln.yield %[[V]] : tensor<2x4x2x2xf32>
// NOPOOL-LABEL: func.func @conv_relu_pool_tail
// NOPOOL: %[[F:[a-z0-9_]+]] = kiln.fused "epilogue"({{.+}}) -> tensor<2x4x7x7xf32> {
// NOPOOL-NOT: kiln.max_pool2d
// NOPOOL: kiln.yield
// NOPOOL: kiln.max_pool2d %[[F]]
func.func @conv_relu_pool_tail(%x: tensor<2x1x7x7xf32>, %x2: tensor<2x3x12x12xf32>) -> (tensor<2x4x3x3xf32>, tensor<2x4x3x3xf32>, tensor<2x4x3x3xf32>, tensor<2x4x7x7xf32>, tensor<2x4x2x2xf32>) {
  %w = kiln.param "w" : tensor<4x1x3x3xf32>
  %b = kiln.param "b" : tensor<4xf32>
  %c = kiln.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x1x7x7xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x7x7xf32>
  %r = kiln.relu %c : (tensor<2x4x7x7xf32>) -> tensor<2x4x7x7xf32>
  %p = kiln.max_pool2d %r {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<2x4x7x7xf32>) -> tensor<2x4x3x3xf32>
  %w2 = kiln.param "w2" : tensor<4x3x3x3xf32>
  %c2 = kiln.conv2d %x2, %w2 {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<2x3x12x12xf32>, tensor<4x3x3x3xf32>) -> tensor<2x4x6x6xf32>
  %r2 = kiln.relu %c2 : (tensor<2x4x6x6xf32>) -> tensor<2x4x6x6xf32>
  %p2 = kiln.max_pool2d %r2 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<2x4x6x6xf32>) -> tensor<2x4x3x3xf32>
  %c3 = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x1x7x7xf32>, tensor<4x1x3x3xf32>) -> tensor<2x4x7x7xf32>
  %r3 = kiln.relu %c3 : (tensor<2x4x7x7xf32>) -> tensor<2x4x7x7xf32>
  %p3 = kiln.max_pool2d %r3 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<2x4x7x7xf32>) -> tensor<2x4x3x3xf32>
  %c4 = kiln.conv2d %x, %w, %b : (tensor<2x1x7x7xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x5x5xf32>
  %p4 = kiln.max_pool2d %c4 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<2x4x5x5xf32>) -> tensor<2x4x2x2xf32>
  return %p, %p2, %p3, %r3, %p4 : tensor<2x4x3x3xf32>, tensor<2x4x3x3xf32>, tensor<2x4x3x3xf32>, tensor<2x4x7x7xf32>, tensor<2x4x2x2xf32>
}

// -----

// A Winograd conv + ReLU takes a 2x2 pool of stride 2 over its even plane
// (every window inside one output tile). Over an odd plane, or with 3x3
// windows, the pool stays a kernel of its own.
// CHECK-LABEL: func.func @winograd_pool_tail
// CHECK: kiln.fused "epilogue"({{.+}}) -> tensor<2x16x4x4xf32> {
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: kiln.conv2d_winograd
// CHECK-NEXT: kiln.relu
// CHECK-NEXT: %[[T:[a-z0-9_]+]] = kiln.max_pool2d
// CHECK-NEXT: kiln.yield %[[T]] : tensor<2x16x4x4xf32>
// CHECK: %[[O:[a-z0-9_]+]] = kiln.fused "epilogue"({{.+}}) -> tensor<2x16x7x7xf32> {
// CHECK: kiln.max_pool2d %[[O]]
// CHECK: %[[W:[a-z0-9_]+]] = kiln.fused "epilogue"({{.+}}) -> tensor<2x16x8x8xf32> {
// CHECK: kiln.max_pool2d %[[W]]
// NOPOOL-LABEL: func.func @winograd_pool_tail
// NOPOOL: %[[F:[a-z0-9_]+]] = kiln.fused "epilogue"({{.+}}) -> tensor<2x16x8x8xf32> {
// NOPOOL-NOT: kiln.max_pool2d
// NOPOOL: kiln.yield
// NOPOOL: kiln.max_pool2d %[[F]]
func.func @winograd_pool_tail(%x: tensor<2x16x8x8xf32>, %x2: tensor<2x16x7x7xf32>) -> (tensor<2x16x4x4xf32>, tensor<2x16x3x3xf32>, tensor<2x16x2x2xf32>) {
  %u = kiln.param "u" : tensor<16x2x16x8xf32>
  %b = kiln.param "b" : tensor<16xf32>
  %c = kiln.conv2d_winograd %x, %u, %b {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x16x8x8xf32>, tensor<16x2x16x8xf32>, tensor<16xf32>) -> tensor<2x16x8x8xf32>
  %r = kiln.relu %c : (tensor<2x16x8x8xf32>) -> tensor<2x16x8x8xf32>
  %p = kiln.max_pool2d %r {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<2x16x8x8xf32>) -> tensor<2x16x4x4xf32>
  %c2 = kiln.conv2d_winograd %x2, %u, %b {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x16x7x7xf32>, tensor<16x2x16x8xf32>, tensor<16xf32>) -> tensor<2x16x7x7xf32>
  %r2 = kiln.relu %c2 : (tensor<2x16x7x7xf32>) -> tensor<2x16x7x7xf32>
  %p2 = kiln.max_pool2d %r2 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<2x16x7x7xf32>) -> tensor<2x16x3x3xf32>
  %c3 = kiln.conv2d_winograd %x, %u, %b {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x16x8x8xf32>, tensor<16x2x16x8xf32>, tensor<16xf32>) -> tensor<2x16x8x8xf32>
  %r3 = kiln.relu %c3 : (tensor<2x16x8x8xf32>) -> tensor<2x16x8x8xf32>
  %p3 = kiln.max_pool2d %r3 {kernel = array<i64: 3, 3>, strides = array<i64: 3, 3>} : (tensor<2x16x8x8xf32>) -> tensor<2x16x2x2xf32>
  return %p, %p2, %p3 : tensor<2x16x4x4xf32>, tensor<2x16x3x3xf32>, tensor<2x16x2x2xf32>
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

// A matmul of matrices anchors an epilogue like dense (a transformer's
// MLP: bias, GELU); a batch of products takes none (its add stays alone).
// CHECK-LABEL: func.func @matmul_epilogue
// CHECK: kiln.fused "epilogue"(%arg0, %arg1, %arg2) : (tensor<5x3xf32>, tensor<3x16xf32>, tensor<16xf32>) -> tensor<5x16xf32> {
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: kiln.matmul
// CHECK-NEXT: kiln.add
// CHECK-NEXT: kiln.gelu
// CHECK: kiln.matmul %arg3, %arg4
// CHECK-NEXT: kiln.add
// NOEPI-LABEL: func.func @matmul_epilogue
// NOEPI: kiln.matmul
// NOEPI: kiln.fused "elementwise"
// NOEPI-NEXT: ^bb0(
// NOEPI-NEXT: kiln.add
// NOEPI-NEXT: kiln.gelu
func.func @matmul_epilogue(%x: tensor<5x3xf32>, %w: tensor<3x16xf32>, %b: tensor<16xf32>, %q: tensor<2x5x3xf32>, %k: tensor<2x3x5xf32>) -> (tensor<5x16xf32>, tensor<2x5x5xf32>) {
  %p = kiln.matmul %x, %w : (tensor<5x3xf32>, tensor<3x16xf32>) -> tensor<5x16xf32>
  %a = kiln.add %p, %b : (tensor<5x16xf32>, tensor<16xf32>) -> tensor<5x16xf32>
  %g = kiln.gelu %a : (tensor<5x16xf32>) -> tensor<5x16xf32>
  %s = kiln.matmul %q, %k : (tensor<2x5x3xf32>, tensor<2x3x5xf32>) -> tensor<2x5x5xf32>
  %t = kiln.add %s, %s : (tensor<2x5x5xf32>, tensor<2x5x5xf32>) -> tensor<2x5x5xf32>
  return %g, %t : tensor<5x16xf32>, tensor<2x5x5xf32>
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
func.func @act_grad_bn_grad(%x: tensor<2x3x4x4xf32>, %y: tensor<2x3x4x4xf32>, %dy: tensor<2x3x4x4xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>) {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %d = kiln.activation_grad %y, %dy {activation = "relu"} : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %x, %d, %g, %mean, %var : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>)
  return %dx, %dg, %db : tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>
}

// -----

// An activation_grad with a second use stays a kernel of its own.
// CHECK-LABEL: func.func @act_grad_shared
// CHECK-NOT: kiln.fused
func.func @act_grad_shared(%x: tensor<2x3x4x4xf32>, %y: tensor<2x3x4x4xf32>, %dy: tensor<2x3x4x4xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %d = kiln.activation_grad %y, %dy {activation = "relu"} : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %x, %d, %g, %mean, %var : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>)
  return %dx, %d : tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>
}

// -----

// A max_pool2d_grad whose result only the activation_grad reads starts the
// prologue chain (the LeNet CNN's pool after BN + ReLU).
// CHECK-LABEL: func.func @pool_act_bn_grad
// CHECK: %[[DX:[a-z0-9_]+]], %{{.+}}:2 = kiln.fused "prologue"(%arg1, %arg2, %arg0, %{{.+}}, %arg3, %arg4) : (tensor<2x3x4x4xf32>, tensor<2x3x2x2xf32>, tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>) {
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: %[[P:[a-z0-9_]+]] = kiln.max_pool2d_grad
// CHECK-NEXT: %[[G:[a-z0-9_]+]] = kiln.activation_grad %{{.+}}, %[[P]] {activation = "relu"}
// CHECK-NEXT: kiln.batch_norm_grad %{{.+}}, %[[G]],
// CHECK: return %[[DX]]
// NOPRO-LABEL: func.func @pool_act_bn_grad
// NOPRO-NOT: kiln.fused
func.func @pool_act_bn_grad(%x: tensor<2x3x4x4xf32>, %a: tensor<2x3x4x4xf32>, %dp: tensor<2x3x2x2xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>) {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %p = kiln.max_pool2d_grad %a, %dp {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<2x3x4x4xf32>, tensor<2x3x2x2xf32>) -> tensor<2x3x4x4xf32>
  %d = kiln.activation_grad %a, %p {activation = "relu"} : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %x, %d, %g, %mean, %var : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>)
  return %dx, %dg, %db : tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>
}

// -----

// So does one that batch_norm_grad reads directly.
// CHECK-LABEL: func.func @pool_bn_grad
// CHECK: kiln.fused "prologue"
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: kiln.max_pool2d_grad
// CHECK-NEXT: kiln.batch_norm_grad
func.func @pool_bn_grad(%x: tensor<2x3x4x4xf32>, %a: tensor<2x3x4x4xf32>, %dp: tensor<2x3x2x2xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>) -> tensor<2x3x4x4xf32> {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %p = kiln.max_pool2d_grad %a, %dp {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<2x3x4x4xf32>, tensor<2x3x2x2xf32>) -> tensor<2x3x4x4xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %x, %p, %g, %mean, %var : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>)
  return %dx : tensor<2x3x4x4xf32>
}

// -----

// A dilated one (its scatter form is no pure function of the position)
// stays a kernel of its own; the activation_grad still fuses.
// CHECK-LABEL: func.func @pool_dilated
// CHECK: kiln.max_pool2d_grad
// CHECK: kiln.fused "prologue"
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: kiln.activation_grad
func.func @pool_dilated(%x: tensor<2x3x4x4xf32>, %a: tensor<2x3x4x4xf32>, %dp: tensor<2x3x2x2xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>) -> tensor<2x3x4x4xf32> {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %p = kiln.max_pool2d_grad %a, %dp {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>} : (tensor<2x3x4x4xf32>, tensor<2x3x2x2xf32>) -> tensor<2x3x4x4xf32>
  %d = kiln.activation_grad %a, %p {activation = "relu"} : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %x, %d, %g, %mean, %var : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>)
  return %dx : tensor<2x3x4x4xf32>
}

// -----

// So does one whose result has a second use.
// CHECK-LABEL: func.func @pool_shared
// CHECK: kiln.max_pool2d_grad
// CHECK: kiln.fused "prologue"
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: kiln.activation_grad
func.func @pool_shared(%x: tensor<2x3x4x4xf32>, %a: tensor<2x3x4x4xf32>, %dp: tensor<2x3x2x2xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %p = kiln.max_pool2d_grad %a, %dp {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<2x3x4x4xf32>, tensor<2x3x2x2xf32>) -> tensor<2x3x4x4xf32>
  %d = kiln.activation_grad %a, %p {activation = "relu"} : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %x, %d, %g, %mean, %var : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>)
  return %dx, %p : tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>
}

// -----

// Gradient sinks (LeNet's first layer): the conv bias's gradient (the
// channel sum of dx) and the weight gradient of a 1-channel input join the
// prologue kernel; only they read dx, so the kernel does not yield it.
// CHECK-LABEL: func.func @sinks_first_layer
// CHECK: %[[R:[a-z0-9_]+]], %[[A:[a-z0-9_]+]]:3 = kiln.fused "prologue"(%arg2, %arg3, %arg1, %{{.+}}, %arg4, %arg5, %arg0) : ({{.+}}) -> (tensor<3xf32>, tensor<3xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>) {
// CHECK: %[[DX:[a-z0-9_]+]], %{{.+}}, %{{.+}} = kiln.batch_norm_grad
// CHECK-NEXT: %[[CW:[a-z0-9_]+]] = kiln.conv2d_grad_weight %{{.+}}, %[[DX]]
// CHECK-NEXT: %[[CB:[a-z0-9_]+]] = kiln.reduce_sum %[[DX]]
// CHECK-NEXT: kiln.yield %{{.+}}, %{{.+}}, %[[CW]], %[[CB]] : tensor<3xf32>, tensor<3xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>
// CHECK: return %[[A]]#1, %[[A]]#2, %[[R]]
// NOSINK-LABEL: func.func @sinks_first_layer
// NOSINK: kiln.fused "prologue"
// NOSINK: kiln.conv2d_grad_weight
// NOSINK: kiln.reduce_sum
func.func @sinks_first_layer(%in: tensor<2x1x16x16xf32>, %z: tensor<2x3x16x16xf32>, %a: tensor<2x3x16x16xf32>, %dp: tensor<2x3x8x8xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>) -> (tensor<3x1x3x3xf32>, tensor<3xf32>, tensor<3xf32>) {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %p = kiln.max_pool2d_grad %a, %dp {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<2x3x16x16xf32>, tensor<2x3x8x8xf32>) -> tensor<2x3x16x16xf32>
  %d = kiln.activation_grad %a, %p {activation = "relu"} : (tensor<2x3x16x16xf32>, tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %z, %d, %g, %mean, %var : (tensor<2x3x16x16xf32>, tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>)
  %cw = kiln.conv2d_grad_weight %in, %dx {dilations = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<2x1x16x16xf32>, tensor<2x3x16x16xf32>) -> tensor<3x1x3x3xf32>
  %cb = kiln.reduce_sum %dx {axes = array<i64: 0, 2, 3>} : (tensor<2x3x16x16xf32>) -> tensor<3xf32>
  return %cw, %cb, %dg : tensor<3x1x3x3xf32>, tensor<3xf32>, tensor<3xf32>
}

// -----

// A later layer: dx also feeds the input gradient, so the kernel yields it
// first and takes the channel sum; the weight gradient stays a kernel of
// its own although it is narrow (2 channels x 9 taps): dx is written
// anyway, and its own kernel is faster then. A sum keeping dims is no sink.
// CHECK-LABEL: func.func @sinks_dx_used
// CHECK: %[[F:[a-z0-9_]+]], %{{.+}}:3 = kiln.fused "prologue"
// CHECK: %[[DX:[a-z0-9_]+]], %{{.+}}, %{{.+}} = kiln.batch_norm_grad
// CHECK-NEXT: %[[S:[a-z0-9_]+]] = kiln.reduce_sum %[[DX]] {axes = array<i64: 0, 2, 3>}
// CHECK-NEXT: kiln.yield %[[DX]], %{{.+}}, %{{.+}}, %[[S]]
// CHECK: kiln.conv2d_grad_input %[[F]],
// CHECK: kiln.conv2d_grad_weight %arg0, %[[F]]
// CHECK: kiln.reduce_sum %[[F]] {axes = array<i64: 0, 2, 3>, keepdims = true}
func.func @sinks_dx_used(%in: tensor<2x2x16x16xf32>, %z: tensor<2x3x16x16xf32>, %a: tensor<2x3x16x16xf32>, %dp: tensor<2x3x8x8xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>, %w: tensor<3x2x3x3xf32>) -> (tensor<2x2x16x16xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>, tensor<1x3x1x1xf32>) {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %p = kiln.max_pool2d_grad %a, %dp {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<2x3x16x16xf32>, tensor<2x3x8x8xf32>) -> tensor<2x3x16x16xf32>
  %d = kiln.activation_grad %a, %p {activation = "relu"} : (tensor<2x3x16x16xf32>, tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %z, %d, %g, %mean, %var : (tensor<2x3x16x16xf32>, tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>)
  %cb = kiln.reduce_sum %dx {axes = array<i64: 0, 2, 3>} : (tensor<2x3x16x16xf32>) -> tensor<3xf32>
  %gi = kiln.conv2d_grad_input %dx, %w {dilations = array<i64: 1, 1>, groups = 1 : i64, input_size = array<i64: 16, 16>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<2x3x16x16xf32>, tensor<3x2x3x3xf32>) -> tensor<2x2x16x16xf32>
  %cw = kiln.conv2d_grad_weight %in, %dx {dilations = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<2x2x16x16xf32>, tensor<2x3x16x16xf32>) -> tensor<3x2x3x3xf32>
  %ck = kiln.reduce_sum %dx {axes = array<i64: 0, 2, 3>, keepdims = true} : (tensor<2x3x16x16xf32>) -> tensor<1x3x1x1xf32>
  return %gi, %cw, %cb, %ck : tensor<2x2x16x16xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>, tensor<1x3x1x1xf32>
}

// -----

// conv -> BN (batch statistics) -> ReLU -> max pool in a training step:
// the backward prologue recomputes the ReLU output a from z and the
// statistics (new batch_norm + relu ops at its head) instead of reading
// it; a's only reader is then the forward pool, which becomes the BN
// kernel's tail, so a is never written.
// CHECK-LABEL: func.func @recompute_pool_tail
// CHECK: %[[P:[a-z0-9_]+]], %[[S:[a-z0-9_]+]]:2 = kiln.fused "epilogue"(%arg0, %{{.+}}, %{{.+}}) : ({{.+}}) -> (tensor<2x3x8x8xf32>, tensor<3xf32>, tensor<3xf32>) {
// CHECK: kiln.batch_norm_train
// CHECK-NEXT: kiln.relu
// CHECK-NEXT: %[[T:[a-z0-9_]+]] = kiln.max_pool2d
// CHECK-NEXT: kiln.yield %[[T]],
// CHECK: kiln.fused "prologue"(%arg0, %{{.+}}, %{{.+}}, %[[S]]#0, %[[S]]#1, %arg1)
// CHECK: %[[N:[a-z0-9_]+]] = kiln.batch_norm
// CHECK-NEXT: %[[R:[a-z0-9_]+]] = kiln.relu %[[N]]
// CHECK-NEXT: %[[G:[a-z0-9_]+]] = kiln.max_pool2d_grad %[[R]],
// CHECK-NEXT: kiln.activation_grad %[[R]], %[[G]]
// CHECK-NEXT: kiln.batch_norm_grad
// NOREC-LABEL: func.func @recompute_pool_tail
// NOREC: kiln.fused "epilogue"
// NOREC-NOT: kiln.max_pool2d
// NOREC: kiln.yield
// NOREC: kiln.max_pool2d %
// NOREC: kiln.fused "prologue"
// NOREC-NEXT: ^bb0(
// NOREC-NEXT: kiln.max_pool2d_grad
// NOPRO-LABEL: func.func @recompute_pool_tail
// NOPOOL-LABEL: func.func @recompute_pool_tail
// NOPOOL: kiln.fused "epilogue"
// NOPOOL: kiln.yield
// NOPOOL: kiln.max_pool2d %
// NOPOOL: kiln.fused "prologue"
// NOPOOL-NEXT: ^bb0(
// NOPOOL-NEXT: kiln.batch_norm
func.func @recompute_pool_tail(%z: tensor<2x3x16x16xf32>, %dp: tensor<2x3x8x8xf32>) -> (tensor<2x3x8x8xf32>, tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>) {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %b = kiln.param "b" : tensor<3xf32>
  %y, %mean, %var = kiln.batch_norm_train %z, %g, %b : (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>)
  %a = kiln.relu %y : (tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
  %pool = kiln.max_pool2d %a {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<2x3x16x16xf32>) -> tensor<2x3x8x8xf32>
  %p = kiln.max_pool2d_grad %a, %dp {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<2x3x16x16xf32>, tensor<2x3x8x8xf32>) -> tensor<2x3x16x16xf32>
  %d = kiln.activation_grad %a, %p {activation = "relu"} : (tensor<2x3x16x16xf32>, tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %z, %d, %g, %mean, %var : (tensor<2x3x16x16xf32>, tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>)
  return %pool, %dx, %dg, %db : tensor<2x3x8x8xf32>, tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>
}

// -----

// A first layer in a training step (LeNet's: one input channel, 3x3): the
// conv2d's output z is read only by the forward BN kernel and the
// backward prologue, so both recompute it from the image (`recomputed =
// 1`: the body's first op) and no kernel writes it. Its bias's and
// weight's gradients stay sinks reading the image.
// CHECK-LABEL: func.func @recompute_first_conv
// CHECK-NOT: kiln.conv2d %arg0
// CHECK: %[[P:[a-z0-9_]+]], %[[S:[a-z0-9_]+]]:2 = kiln.fused "epilogue"(%arg0, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) {recomputed = 1 : i64}
// CHECK-NEXT: ^bb0(%[[I:[a-z0-9_]+]]: tensor<2x1x16x16xf32>,
// CHECK-NEXT: %[[Z:[a-z0-9_]+]] = kiln.conv2d %[[I]],
// CHECK-NEXT: kiln.batch_norm_train %[[Z]],
// CHECK: kiln.max_pool2d
// CHECK: kiln.fused "prologue"({{.+}}) {recomputed = 1 : i64}
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: %[[Z2:[a-z0-9_]+]] = kiln.conv2d
// CHECK-NEXT: kiln.batch_norm %[[Z2]],
// CHECK: kiln.batch_norm_grad %[[Z2]],
// CHECK-NEXT: kiln.conv2d_grad_weight
// CHECK-NEXT: kiln.reduce_sum
// CHECK-NOT: kiln.conv2d %arg0
// CHECK: return
// NORC-LABEL: func.func @recompute_first_conv
// NORC: kiln.conv2d %arg0
// NORC-NOT: recomputed
// NORC: return
func.func @recompute_first_conv(%in: tensor<2x1x16x16xf32>, %dp: tensor<2x3x8x8xf32>) -> (tensor<2x3x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>, tensor<3xf32>) {
  %w = kiln.param "w" : tensor<3x1x3x3xf32>
  %cb0 = kiln.param "cb" : tensor<3xf32>
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %b = kiln.param "b" : tensor<3xf32>
  %z = kiln.conv2d %in, %w, %cb0 {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x1x16x16xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>) -> tensor<2x3x16x16xf32>
  %y, %mean, %var = kiln.batch_norm_train %z, %g, %b : (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>)
  %a = kiln.relu %y : (tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
  %pool = kiln.max_pool2d %a {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<2x3x16x16xf32>) -> tensor<2x3x8x8xf32>
  %p = kiln.max_pool2d_grad %a, %dp {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<2x3x16x16xf32>, tensor<2x3x8x8xf32>) -> tensor<2x3x16x16xf32>
  %d = kiln.activation_grad %a, %p {activation = "relu"} : (tensor<2x3x16x16xf32>, tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %z, %d, %g, %mean, %var : (tensor<2x3x16x16xf32>, tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>)
  %cw = kiln.conv2d_grad_weight %in, %dx {dilations = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<2x1x16x16xf32>, tensor<2x3x16x16xf32>) -> tensor<3x1x3x3xf32>
  %cb = kiln.reduce_sum %dx {axes = array<i64: 0, 2, 3>} : (tensor<2x3x16x16xf32>) -> tensor<3xf32>
  return %pool, %cw, %cb, %dg : tensor<2x3x8x8xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>, tensor<3xf32>
}

// -----

// A first layer whose input (3 x 120 x 120 floats, 169 KB an image) or one
// output channel over the batch is past kRecomputedChannelBytes (256 KB:
// the kernels recompute it channel by channel, reading all of the input
// each time) is written by a kernel of its own.
// CHECK-LABEL: func.func @recompute_conv_too_large
// CHECK: kiln.conv2d %arg0
// CHECK-NOT: recomputed
// CHECK: return
func.func @recompute_conv_too_large(%in: tensor<2x3x120x120xf32>) -> (tensor<2x3x60x60xf32>, tensor<3xf32>) {
  %w = kiln.param "w" : tensor<3x3x3x3xf32>
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %b = kiln.param "b" : tensor<3xf32>
  %z = kiln.conv2d %in, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x3x120x120xf32>, tensor<3x3x3x3xf32>) -> tensor<2x3x120x120xf32>
  %y, %mean, %var = kiln.batch_norm_train %z, %g, %b : (tensor<2x3x120x120xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x120x120xf32>, tensor<3xf32>, tensor<3xf32>)
  %a = kiln.relu %y : (tensor<2x3x120x120xf32>) -> tensor<2x3x120x120xf32>
  %pool = kiln.max_pool2d %a {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<2x3x120x120xf32>) -> tensor<2x3x60x60xf32>
  return %pool, %mean : tensor<2x3x60x60xf32>, tensor<3xf32>
}

// -----

// A conv2d read by a kernel that cannot recompute it (here the return) is
// written, and recomputed by none: both its BN kernels read it.
// CHECK-LABEL: func.func @recompute_conv_read_elsewhere
// CHECK: %[[Z:[a-z0-9_]+]] = kiln.conv2d %arg0
// CHECK-NOT: recomputed
// CHECK: return %{{.+}}, %[[Z]]
func.func @recompute_conv_read_elsewhere(%in: tensor<2x1x16x16xf32>) -> (tensor<2x3x8x8xf32>, tensor<2x3x16x16xf32>) {
  %w = kiln.param "w" : tensor<3x1x3x3xf32>
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %b = kiln.param "b" : tensor<3xf32>
  %z = kiln.conv2d %in, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x1x16x16xf32>, tensor<3x1x3x3xf32>) -> tensor<2x3x16x16xf32>
  %y, %mean, %var = kiln.batch_norm_train %z, %g, %b : (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>)
  %a = kiln.relu %y : (tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
  %pool = kiln.max_pool2d %a {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<2x3x16x16xf32>) -> tensor<2x3x8x8xf32>
  return %pool, %z : tensor<2x3x8x8xf32>, tensor<2x3x16x16xf32>
}

// -----

// Planes under 256 positions (the batch-norm gradient's flat form) take
// the channel sum (computed from the kernel's sums) but no weight gradient.
// CHECK-LABEL: func.func @sinks_small_plane
// CHECK: kiln.fused "prologue"
// CHECK: kiln.batch_norm_grad
// CHECK-NEXT: kiln.reduce_sum
// CHECK-NEXT: kiln.yield
// CHECK-NEXT: }
// CHECK-NEXT: kiln.conv2d_grad_weight
func.func @sinks_small_plane(%in: tensor<2x1x4x4xf32>, %z: tensor<2x3x4x4xf32>, %a: tensor<2x3x4x4xf32>, %dp: tensor<2x3x2x2xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>) -> (tensor<3xf32>, tensor<3x1x3x3xf32>) {
  %g = kiln.param "g" {init = "ones"} : tensor<3xf32>
  %p = kiln.max_pool2d_grad %a, %dp {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<2x3x4x4xf32>, tensor<2x3x2x2xf32>) -> tensor<2x3x4x4xf32>
  %d = kiln.activation_grad %a, %p {activation = "relu"} : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %dx, %dg, %db = kiln.batch_norm_grad %z, %d, %g, %mean, %var : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>)
  %cb = kiln.reduce_sum %dx {axes = array<i64: 0, 2, 3>} : (tensor<2x3x4x4xf32>) -> tensor<3xf32>
  %cw = kiln.conv2d_grad_weight %in, %dx {dilations = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<2x1x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<3x1x3x3xf32>
  return %cb, %cw : tensor<3xf32>, tensor<3x1x3x3xf32>
}

// -----

// Attention: the scores' matmul, the scale and mask, the softmax along the
// last axis and the matmul reading the probabilities become one kernel
// (matched before the scale and mask could start an elementwise chain).
// CHECK-LABEL: func.func @attention
// CHECK: %[[O:[a-z0-9_]+]] = kiln.fused "attention"(%arg0, %arg1, %{{.+}}, %arg3, %arg2) : (tensor<4x16x8xf32>, tensor<4x8x16xf32>, tensor<f32>, tensor<16x16xf32>, tensor<4x16x8xf32>) -> tensor<4x16x8xf32> {
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: kiln.matmul
// CHECK-NEXT: kiln.mul
// CHECK-NEXT: kiln.add
// CHECK-NEXT: kiln.softmax
// CHECK-NEXT: kiln.matmul
// CHECK-NEXT: kiln.yield
// CHECK: return %[[O]]
// NOPRO-LABEL: func.func @attention
// NOPRO: kiln.fused "attention"
// NOATT-LABEL: func.func @attention
// NOATT: kiln.matmul
// NOATT: kiln.fused "elementwise"
// NOATT: kiln.softmax
// NOATT: kiln.matmul
func.func @attention(%q: tensor<4x16x8xf32>, %kt: tensor<4x8x16xf32>, %v: tensor<4x16x8xf32>, %mask: tensor<16x16xf32>) -> tensor<4x16x8xf32> {
  %scale = kiln.constant dense<0.35> : tensor<f32>
  %s = kiln.matmul %q, %kt : (tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<4x16x16xf32>
  %t = kiln.mul %s, %scale : (tensor<4x16x16xf32>, tensor<f32>) -> tensor<4x16x16xf32>
  %m = kiln.add %t, %mask : (tensor<4x16x16xf32>, tensor<16x16xf32>) -> tensor<4x16x16xf32>
  %p = kiln.softmax %m {axis = 2 : i64} : (tensor<4x16x16xf32>) -> tensor<4x16x16xf32>
  %o = kiln.matmul %p, %v : (tensor<4x16x16xf32>, tensor<4x16x8xf32>) -> tensor<4x16x8xf32>
  return %o : tensor<4x16x8xf32>
}

// -----

// Probabilities with a second use (kept for a gradient, or returned) stay
// a kernel's output: no attention kernel.
// CHECK-LABEL: func.func @attention_probs_used
// CHECK-NOT: kiln.fused "attention"
func.func @attention_probs_used(%q: tensor<4x16x8xf32>, %kt: tensor<4x8x16xf32>, %v: tensor<4x16x8xf32>) -> (tensor<4x16x8xf32>, tensor<4x16x16xf32>) {
  %s = kiln.matmul %q, %kt : (tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<4x16x16xf32>
  %p = kiln.softmax %s {axis = 2 : i64} : (tensor<4x16x16xf32>) -> tensor<4x16x16xf32>
  %o = kiln.matmul %p, %v : (tensor<4x16x16xf32>, tensor<4x16x8xf32>) -> tensor<4x16x8xf32>
  return %o, %p : tensor<4x16x8xf32>, tensor<4x16x16xf32>
}

// -----

// A softmax along another axis, or probabilities read transposed: no
// attention kernel either.
// CHECK-LABEL: func.func @attention_other_axis
// CHECK-NOT: kiln.fused "attention"
func.func @attention_other_axis(%q: tensor<4x16x8xf32>, %kt: tensor<4x8x16xf32>, %v: tensor<4x16x8xf32>) -> tensor<4x16x8xf32> {
  %s = kiln.matmul %q, %kt : (tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<4x16x16xf32>
  %p = kiln.softmax %s {axis = 1 : i64} : (tensor<4x16x16xf32>) -> tensor<4x16x16xf32>
  %o = kiln.matmul %p, %v {transpose_a = true} : (tensor<4x16x16xf32>, tensor<4x16x8xf32>) -> tensor<4x16x8xf32>
  return %o : tensor<4x16x8xf32>
}

// -----

// A fused kernel takes at most 64 inputs: a chain of 69 adds of 70 distinct
// values (the gradient of many slices of one tensor) is cut where the next
// add would need a 65th input; the rest fuses on its own.
// CHECK-LABEL: func.func @wide_chain
// NOEPI-LABEL: func.func @wide_chain
// NOELT-LABEL: func.func @wide_chain
// NOELT-NOT: kiln.fused
// NOPRO-LABEL: func.func @wide_chain
// CHECK: kiln.fused "elementwise"(%arg0, %arg1, {{.*}}, %arg63) :
// CHECK: kiln.fused "elementwise"(%{{[a-z0-9_]+}}, %arg64, %arg65, %arg66, %arg67, %arg68, %arg69) :
func.func @wide_chain(%a0: tensor<4xf32>, %a1: tensor<4xf32>, %a2: tensor<4xf32>, %a3: tensor<4xf32>, %a4: tensor<4xf32>, %a5: tensor<4xf32>, %a6: tensor<4xf32>, %a7: tensor<4xf32>, %a8: tensor<4xf32>, %a9: tensor<4xf32>, %a10: tensor<4xf32>, %a11: tensor<4xf32>, %a12: tensor<4xf32>, %a13: tensor<4xf32>, %a14: tensor<4xf32>, %a15: tensor<4xf32>, %a16: tensor<4xf32>, %a17: tensor<4xf32>, %a18: tensor<4xf32>, %a19: tensor<4xf32>, %a20: tensor<4xf32>, %a21: tensor<4xf32>, %a22: tensor<4xf32>, %a23: tensor<4xf32>, %a24: tensor<4xf32>, %a25: tensor<4xf32>, %a26: tensor<4xf32>, %a27: tensor<4xf32>, %a28: tensor<4xf32>, %a29: tensor<4xf32>, %a30: tensor<4xf32>, %a31: tensor<4xf32>, %a32: tensor<4xf32>, %a33: tensor<4xf32>, %a34: tensor<4xf32>, %a35: tensor<4xf32>, %a36: tensor<4xf32>, %a37: tensor<4xf32>, %a38: tensor<4xf32>, %a39: tensor<4xf32>, %a40: tensor<4xf32>, %a41: tensor<4xf32>, %a42: tensor<4xf32>, %a43: tensor<4xf32>, %a44: tensor<4xf32>, %a45: tensor<4xf32>, %a46: tensor<4xf32>, %a47: tensor<4xf32>, %a48: tensor<4xf32>, %a49: tensor<4xf32>, %a50: tensor<4xf32>, %a51: tensor<4xf32>, %a52: tensor<4xf32>, %a53: tensor<4xf32>, %a54: tensor<4xf32>, %a55: tensor<4xf32>, %a56: tensor<4xf32>, %a57: tensor<4xf32>, %a58: tensor<4xf32>, %a59: tensor<4xf32>, %a60: tensor<4xf32>, %a61: tensor<4xf32>, %a62: tensor<4xf32>, %a63: tensor<4xf32>, %a64: tensor<4xf32>, %a65: tensor<4xf32>, %a66: tensor<4xf32>, %a67: tensor<4xf32>, %a68: tensor<4xf32>, %a69: tensor<4xf32>) -> tensor<4xf32> {
  %s1 = kiln.add %a0, %a1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s2 = kiln.add %s1, %a2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s3 = kiln.add %s2, %a3 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s4 = kiln.add %s3, %a4 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s5 = kiln.add %s4, %a5 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s6 = kiln.add %s5, %a6 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s7 = kiln.add %s6, %a7 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s8 = kiln.add %s7, %a8 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s9 = kiln.add %s8, %a9 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s10 = kiln.add %s9, %a10 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s11 = kiln.add %s10, %a11 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s12 = kiln.add %s11, %a12 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s13 = kiln.add %s12, %a13 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s14 = kiln.add %s13, %a14 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s15 = kiln.add %s14, %a15 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s16 = kiln.add %s15, %a16 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s17 = kiln.add %s16, %a17 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s18 = kiln.add %s17, %a18 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s19 = kiln.add %s18, %a19 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s20 = kiln.add %s19, %a20 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s21 = kiln.add %s20, %a21 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s22 = kiln.add %s21, %a22 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s23 = kiln.add %s22, %a23 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s24 = kiln.add %s23, %a24 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s25 = kiln.add %s24, %a25 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s26 = kiln.add %s25, %a26 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s27 = kiln.add %s26, %a27 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s28 = kiln.add %s27, %a28 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s29 = kiln.add %s28, %a29 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s30 = kiln.add %s29, %a30 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s31 = kiln.add %s30, %a31 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s32 = kiln.add %s31, %a32 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s33 = kiln.add %s32, %a33 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s34 = kiln.add %s33, %a34 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s35 = kiln.add %s34, %a35 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s36 = kiln.add %s35, %a36 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s37 = kiln.add %s36, %a37 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s38 = kiln.add %s37, %a38 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s39 = kiln.add %s38, %a39 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s40 = kiln.add %s39, %a40 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s41 = kiln.add %s40, %a41 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s42 = kiln.add %s41, %a42 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s43 = kiln.add %s42, %a43 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s44 = kiln.add %s43, %a44 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s45 = kiln.add %s44, %a45 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s46 = kiln.add %s45, %a46 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s47 = kiln.add %s46, %a47 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s48 = kiln.add %s47, %a48 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s49 = kiln.add %s48, %a49 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s50 = kiln.add %s49, %a50 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s51 = kiln.add %s50, %a51 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s52 = kiln.add %s51, %a52 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s53 = kiln.add %s52, %a53 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s54 = kiln.add %s53, %a54 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s55 = kiln.add %s54, %a55 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s56 = kiln.add %s55, %a56 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s57 = kiln.add %s56, %a57 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s58 = kiln.add %s57, %a58 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s59 = kiln.add %s58, %a59 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s60 = kiln.add %s59, %a60 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s61 = kiln.add %s60, %a61 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s62 = kiln.add %s61, %a62 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s63 = kiln.add %s62, %a63 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s64 = kiln.add %s63, %a64 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s65 = kiln.add %s64, %a65 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s66 = kiln.add %s65, %a66 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s67 = kiln.add %s66, %a67 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s68 = kiln.add %s67, %a68 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %s69 = kiln.add %s68, %a69 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %s69 : tensor<4xf32>
}
