// RUN: kiln-opt %s --kiln-hoist-load-time | FileCheck %s
// RUN: kiln-opt %s --kiln-hoist-load-time --kiln-plan-memory | FileCheck %s --check-prefix=MEM

// Kernels reading only parameters, constants (also through views) and
// other load-time results are marked; a kernel reading the input is not.
// CHECK-LABEL: func.func @main
// CHECK: kiln.fold_batch_norm {{.*}} {kiln.load_time}
// CHECK: kiln.reshape
// CHECK: kiln.relu {{.*}} {kiln.load_time}
// CHECK: kiln.add {{.*}} {kiln.load_time}
// CHECK: %[[C:[a-z0-9_]+]] = kiln.conv2d %arg0
// CHECK-NOT: kiln.load_time
// CHECK: kiln.add %[[C]]
// CHECK-NOT: kiln.load_time
// CHECK: return
// Load-time results live outside the arena (offset -1); the conv's result
// is in it.
// MEM: kiln.fold_batch_norm {{.*}}kiln.offsets = array<i64: -1, -1>
// MEM: kiln.relu {{.*}}kiln.offsets = array<i64: -1>
// MEM: kiln.add {{.*}}kiln.offsets = array<i64: -1>
// MEM: kiln.conv2d {{.*}}kiln.offsets = array<i64: 0>
func.func @main(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = kiln.param "w" : tensor<2x2x1x1xf32>
  %g = kiln.param "g" {init = "ones"} : tensor<2xf32>
  %b = kiln.param "b" : tensor<2xf32>
  %m = kiln.param "m" : tensor<2xf32>
  %v = kiln.param "v" {init = "ones"} : tensor<2xf32>
  %k = kiln.constant dense<1.0> : tensor<2xf32>
  %fw, %fb = kiln.fold_batch_norm %w, %g, %b, %m, %v : (tensor<2x2x1x1xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<2x2x1x1xf32>, tensor<2xf32>)
  %r = kiln.reshape %fw {shape = array<i64: 2, 2, 1, 1>} : (tensor<2x2x1x1xf32>) -> tensor<2x2x1x1xf32>
  %a = kiln.relu %r : (tensor<2x2x1x1xf32>) -> tensor<2x2x1x1xf32>
  %fb2 = kiln.add %fb, %k : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %c = kiln.conv2d %x, %a, %fb2 : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %y = kiln.add %c, %x : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  return %y : tensor<1x2x4x4xf32>
}
