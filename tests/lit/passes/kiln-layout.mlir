// RUN: kiln-opt %s --split-input-file --kiln-layout | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-layout | kiln-opt --split-input-file | FileCheck %s

// A channel-form conv (weight packed by 16) feeding a depthwise conv that
// feeds another packed conv and a global_avg_pool: the two intermediates
// are nchw16c (the depthwise conv reads and writes blocked together); the
// first conv reads the dense graph input, the pool writes a dense [N, C,
// 1, 1], and the returned value stays dense.
// CHECK-LABEL: func.func @chain
// CHECK: %[[E:[a-z0-9_]+]] = kiln.conv2d %arg0, %{{.+}} {kiln.layouts = ["nchw16c"]}
// CHECK: %[[D:[a-z0-9_]+]] = kiln.conv2d %[[E]], %{{.+}} {groups = 32 : i64, kiln.layouts = ["nchw16c"], pads = array<i64: 1, 1, 1, 1>}
// CHECK: %[[P:[a-z0-9_]+]] = kiln.conv2d %[[D]], %{{.+}} : (tensor<2x32x7x7xf32>, tensor<1x32x1x1x16xf32>) -> tensor<2x16x7x7xf32>
// CHECK: %[[G:[a-z0-9_]+]] = kiln.global_avg_pool %[[D]] : (tensor<2x32x7x7xf32>) -> tensor<2x32x1x1xf32>
// CHECK: return %[[P]], %[[G]]
func.func @chain(%x: tensor<2x16x7x7xf32>) -> (tensor<2x16x7x7xf32>, tensor<2x32x1x1xf32>) {
  %we = kiln.param "we" : tensor<2x16x1x1x16xf32>
  %wd = kiln.param "wd" : tensor<32x1x3x3xf32>
  %wp = kiln.param "wp" : tensor<1x32x1x1x16xf32>
  %e = kiln.conv2d %x, %we : (tensor<2x16x7x7xf32>, tensor<2x16x1x1x16xf32>) -> tensor<2x32x7x7xf32>
  %d = kiln.conv2d %e, %wd {groups = 32 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<2x32x7x7xf32>, tensor<32x1x3x3xf32>) -> tensor<2x32x7x7xf32>
  %p = kiln.conv2d %d, %wp : (tensor<2x32x7x7xf32>, tensor<1x32x1x1x16xf32>) -> tensor<2x16x7x7xf32>
  %g = kiln.global_avg_pool %d : (tensor<2x32x7x7xf32>) -> tensor<2x32x1x1xf32>
  return %p, %g : tensor<2x16x7x7xf32>, tensor<2x32x1x1xf32>
}

// -----

// Left dense: a value that a kernel without a blocked form reads (a max
// pool), and a depthwise conv whose input must stay dense (a graph input):
// the tie keeps its output dense too. A same-shaped elementwise op between blocked values is
// blocked with them (relu), one that broadcasts is not (add of a bias).
// CHECK-LABEL: func.func @dense
// CHECK: %[[A:[a-z0-9_]+]] = kiln.conv2d %arg0, %{{.+}} : {{.+}} -> tensor<1x32x8x8xf32>
// CHECK: kiln.max_pool2d %[[A]]
// CHECK: %[[B:[a-z0-9_]+]] = kiln.conv2d %arg0, %{{.+}} {groups = 16 : i64} : {{.+}} -> tensor<1x16x6x6xf32>
// CHECK: %[[C:[a-z0-9_]+]] = kiln.conv2d %arg0, %{{.+}} {kiln.layouts = ["nchw16c"]} : {{.+}} -> tensor<1x32x8x8xf32>
// CHECK: %[[R:[a-z0-9_]+]] = kiln.relu %[[C]] {kiln.layouts = ["nchw16c"]}
// CHECK: kiln.global_avg_pool %[[R]]
// CHECK: %[[S:[a-z0-9_]+]] = kiln.conv2d %arg0, %{{.+}} : {{.+}} -> tensor<1x32x8x8xf32>
// CHECK: kiln.add %[[S]], %{{.+}} : (tensor<1x32x8x8xf32>, tensor<1x32x1x1xf32>)
func.func @dense(%x: tensor<1x16x8x8xf32>) -> (tensor<1x32x4x4xf32>, tensor<1x16x6x6xf32>, tensor<1x32x1x1xf32>, tensor<1x32x8x8xf32>) {
  %w = kiln.param "w" : tensor<2x16x1x1x16xf32>
  %wd = kiln.param "wd" : tensor<16x1x3x3xf32>
  %bias = kiln.param "bias" : tensor<1x32x1x1xf32>
  %a = kiln.conv2d %x, %w : (tensor<1x16x8x8xf32>, tensor<2x16x1x1x16xf32>) -> tensor<1x32x8x8xf32>
  %m = kiln.max_pool2d %a {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x32x8x8xf32>) -> tensor<1x32x4x4xf32>
  %b = kiln.conv2d %x, %wd {groups = 16 : i64} : (tensor<1x16x8x8xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x6x6xf32>
  %c = kiln.conv2d %x, %w : (tensor<1x16x8x8xf32>, tensor<2x16x1x1x16xf32>) -> tensor<1x32x8x8xf32>
  %r = kiln.relu %c : (tensor<1x32x8x8xf32>) -> tensor<1x32x8x8xf32>
  %g = kiln.global_avg_pool %r : (tensor<1x32x8x8xf32>) -> tensor<1x32x1x1xf32>
  %s = kiln.conv2d %x, %w : (tensor<1x16x8x8xf32>, tensor<2x16x1x1x16xf32>) -> tensor<1x32x8x8xf32>
  %t = kiln.add %s, %bias : (tensor<1x32x8x8xf32>, tensor<1x32x1x1xf32>) -> tensor<1x32x8x8xf32>
  return %m, %b, %g, %t : tensor<1x32x4x4xf32>, tensor<1x16x6x6xf32>, tensor<1x32x1x1xf32>, tensor<1x32x8x8xf32>
}

// -----

// An epilogue kernel on a packed conv with a residual: the residual (a
// blocked value) and the kernel's output are blocked.
// CHECK-LABEL: func.func @residual
// CHECK: %[[A:[a-z0-9_]+]] = kiln.conv2d %arg0, %{{.+}} {kiln.layouts = ["nchw16c"]}
// CHECK: %[[F:[a-z0-9_]+]] = kiln.fused "epilogue"(%[[A]], %{{.+}}, %[[A]]) {kiln.layouts = ["nchw16c"]}
// CHECK: kiln.global_avg_pool %[[F]]
func.func @residual(%x: tensor<1x16x7x7xf32>) -> tensor<1x16x1x1xf32> {
  %w = kiln.param "w" : tensor<1x16x1x1x16xf32>
  %a = kiln.conv2d %x, %w : (tensor<1x16x7x7xf32>, tensor<1x16x1x1x16xf32>) -> tensor<1x16x7x7xf32>
  %f = kiln.fused "epilogue"(%a, %w, %a) : (tensor<1x16x7x7xf32>, tensor<1x16x1x1x16xf32>, tensor<1x16x7x7xf32>) -> tensor<1x16x7x7xf32> {
  ^bb0(%a0: tensor<1x16x7x7xf32>, %a1: tensor<1x16x1x1x16xf32>, %a2: tensor<1x16x7x7xf32>):
    %c = kiln.conv2d %a0, %a1 : (tensor<1x16x7x7xf32>, tensor<1x16x1x1x16xf32>) -> tensor<1x16x7x7xf32>
    %s = kiln.add %c, %a2 : (tensor<1x16x7x7xf32>, tensor<1x16x7x7xf32>) -> tensor<1x16x7x7xf32>
    %r = kiln.relu %s : (tensor<1x16x7x7xf32>) -> tensor<1x16x7x7xf32>
    kiln.yield %r : tensor<1x16x7x7xf32>
  }
  %g = kiln.global_avg_pool %f : (tensor<1x16x7x7xf32>) -> tensor<1x16x1x1xf32>
  return %g : tensor<1x16x1x1xf32>
}
