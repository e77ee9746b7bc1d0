// RUN: kiln-opt %s --split-input-file --kiln-split-batch="min-bytes=16384 min-images=1" | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-split-batch="min-bytes=16384 min-images=1" | kiln-opt --split-input-file | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-split-batch | FileCheck %s --check-prefix=DEFAULT
// RUN: kiln-opt %s --split-input-file --kiln-split-batch="min-bytes=65536" | FileCheck %s --check-prefix=PIECES
// RUN: kiln-opt %s --split-input-file --kiln-split-batch="min-bytes=32768" | FileCheck %s --check-prefix=TWO
// RUN: kiln-opt %s --split-input-file --kiln-split-batch="min-bytes=32768 min-images=1" | FileCheck %s --check-prefix=ONE

// A memory-bound head (a depthwise conv of few FLOPs per byte, 16 KiB at
// batch 2) runs per image: a slice of the input, the head's ops on batch-1
// shapes, and one concat of the two results where the cut value was read.
// The weights are shared, not copied. The cut is the first small value
// (2 KiB) read alone after the depthwise conv: the 1x1 conv's, not the
// relu6's (16 KiB). The tail stays at batch 2.
// CHECK-LABEL: func.func @head
// CHECK-COUNT-2: kiln.param
// CHECK-NOT: kiln.param
// CHECK: %[[S0:[a-z0-9_]+]] = kiln.slice %arg0 {axis = 0 : i64, size = 1 : i64, start = 0 : i64} : (tensor<2x8x16x16xf32>) -> tensor<1x8x16x16xf32>
// CHECK: %[[D0:[a-z0-9_]+]] = kiln.conv2d %[[S0]], %{{.+}} {groups = 8 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x16x16xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x16x16xf32>
// CHECK: %[[R0:[a-z0-9_]+]] = kiln.relu6 %[[D0]] : (tensor<1x8x16x16xf32>) -> tensor<1x8x16x16xf32>
// CHECK: %[[P0:[a-z0-9_]+]] = kiln.conv2d %[[R0]], %{{.+}} : (tensor<1x8x16x16xf32>, tensor<1x8x1x1xf32>) -> tensor<1x1x16x16xf32>
// CHECK: %[[S1:[a-z0-9_]+]] = kiln.slice %arg0 {axis = 0 : i64, size = 1 : i64, start = 1 : i64}
// CHECK: %[[P1:[a-z0-9_]+]] = kiln.conv2d %{{.+}} -> tensor<1x1x16x16xf32>
// CHECK: %[[J:[a-z0-9_]+]] = kiln.concat %[[P0]], %[[P1]] {axis = 0 : i64} : (tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32>) -> tensor<2x1x16x16xf32>
// CHECK: %[[A:[a-z0-9_]+]] = kiln.add %[[J]], %[[J]] : (tensor<2x1x16x16xf32>, tensor<2x1x16x16xf32>) -> tensor<2x1x16x16xf32>
// CHECK: kiln.global_avg_pool %[[A]]
// DEFAULT-LABEL: func.func @head
// DEFAULT-NOT: kiln.slice
func.func @head(%x: tensor<2x8x16x16xf32>) -> tensor<2x1x1x1xf32> {
  %wd = kiln.param "wd" : tensor<8x1x3x3xf32>
  %wp = kiln.param "wp" : tensor<1x8x1x1xf32>
  %d = kiln.conv2d %x, %wd {groups = 8 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<2x8x16x16xf32>, tensor<8x1x3x3xf32>) -> tensor<2x8x16x16xf32>
  %r = kiln.relu6 %d : (tensor<2x8x16x16xf32>) -> tensor<2x8x16x16xf32>
  %p = kiln.conv2d %r, %wp : (tensor<2x8x16x16xf32>, tensor<1x8x1x1xf32>) -> tensor<2x1x16x16xf32>
  %a = kiln.add %p, %p : (tensor<2x1x16x16xf32>, tensor<2x1x16x16xf32>) -> tensor<2x1x16x16xf32>
  %g = kiln.global_avg_pool %a : (tensor<2x1x16x16xf32>) -> tensor<2x1x1x1xf32>
  return %g : tensor<2x1x1x1xf32>
}

// -----

// Left alone: a compute-bound head (a 3x3 conv over 64 channels: 1152
// FLOPs per result float), whose relu does not count.
// CHECK-LABEL: func.func @compute_bound
// CHECK-NOT: kiln.slice
func.func @compute_bound(%x: tensor<2x64x8x8xf32>) -> tensor<2x64x8x8xf32> {
  %w = kiln.param "w" : tensor<64x64x3x3xf32>
  %c = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x64x8x8xf32>, tensor<64x64x3x3xf32>) -> tensor<2x64x8x8xf32>
  %r = kiln.relu %c : (tensor<2x64x8x8xf32>) -> tensor<2x64x8x8xf32>
  return %r : tensor<2x64x8x8xf32>
}

// -----

// Left alone: batch 1.
// CHECK-LABEL: func.func @one_image
// CHECK-NOT: kiln.slice
func.func @one_image(%x: tensor<1x8x32x32xf32>) -> tensor<1x8x32x32xf32> {
  %wd = kiln.param "wd" : tensor<8x1x3x3xf32>
  %d = kiln.conv2d %x, %wd {groups = 8 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x32x32xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x32x32xf32>
  return %d : tensor<1x8x32x32xf32>
}

// -----

// The head stops at an op that mixes images (a dense layer after a
// flatten, a view the pass does not take): the pool before it is the
// last cut, read by the flatten.
// CHECK-LABEL: func.func @stops
// CHECK-COUNT-2: kiln.max_pool2d {{.+}} -> tensor<1x8x4x4xf32>
// CHECK: %[[J:[a-z0-9_]+]] = kiln.concat {{.+}} -> tensor<2x8x4x4xf32>
// CHECK: kiln.flatten %[[J]]
func.func @stops(%x: tensor<2x8x16x16xf32>) -> tensor<2x128xf32> {
  %wd = kiln.param "wd" : tensor<8x1x3x3xf32>
  %d = kiln.conv2d %x, %wd {groups = 8 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<2x8x16x16xf32>, tensor<8x1x3x3xf32>) -> tensor<2x8x16x16xf32>
  %p = kiln.max_pool2d %d {kernel = array<i64: 4, 4>, strides = array<i64: 4, 4>} : (tensor<2x8x16x16xf32>) -> tensor<2x8x4x4xf32>
  %f = kiln.flatten %p : (tensor<2x8x4x4xf32>) -> tensor<2x128xf32>
  return %f : tensor<2x128xf32>
}

// -----

// Pieces of several images: at min-bytes = 64 KiB the head's largest value
// (the depthwise conv's, 64 KiB at batch 8) allows 2 images per piece
// (16 KiB each, min-bytes / 4): 4 pieces, one concat of 4 inputs.
// PIECES-LABEL: func.func @pieces
// PIECES: kiln.slice %arg0 {axis = 0 : i64, size = 2 : i64, start = 0 : i64} : (tensor<8x8x16x16xf32>) -> tensor<2x8x16x16xf32>
// PIECES: kiln.slice %arg0 {axis = 0 : i64, size = 2 : i64, start = 2 : i64}
// PIECES: kiln.slice %arg0 {axis = 0 : i64, size = 2 : i64, start = 4 : i64}
// PIECES: kiln.slice %arg0 {axis = 0 : i64, size = 2 : i64, start = 6 : i64}
// PIECES: kiln.concat {{.+}} : (tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>) -> tensor<8x8x4x4xf32>
// At min-bytes = 32 KiB the budget is one image per piece (8 KiB of the
// depthwise conv's value, min-bytes / 4), but a piece holds at least
// min-images (2 by default) images.
// TWO-LABEL: func.func @pieces
// TWO: kiln.slice %arg0 {axis = 0 : i64, size = 2 : i64, start = 0 : i64}
// TWO: kiln.slice %arg0 {axis = 0 : i64, size = 2 : i64, start = 2 : i64}
// TWO: kiln.slice %arg0 {axis = 0 : i64, size = 2 : i64, start = 4 : i64}
// TWO: kiln.slice %arg0 {axis = 0 : i64, size = 2 : i64, start = 6 : i64}
// TWO-NOT: kiln.slice
// TWO: kiln.concat {{.+}} : (tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>) -> tensor<8x8x4x4xf32>
// ONE-LABEL: func.func @pieces
// ONE-COUNT-8: kiln.slice %arg0 {axis = 0 : i64, size = 1 : i64
// ONE: kiln.concat {{.+}} -> tensor<8x8x4x4xf32>
// At min-bytes = 16 KiB the only cut after the depthwise conv, the pool's
// 4 KiB, is not small (over min-bytes / 8): no split.
// CHECK-LABEL: func.func @pieces
// CHECK-NOT: kiln.slice
func.func @pieces(%x: tensor<8x8x16x16xf32>) -> tensor<8x128xf32> {
  %wd = kiln.param "wd" : tensor<8x1x3x3xf32>
  %d = kiln.conv2d %x, %wd {groups = 8 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<8x8x16x16xf32>, tensor<8x1x3x3xf32>) -> tensor<8x8x16x16xf32>
  %p = kiln.max_pool2d %d {kernel = array<i64: 4, 4>, strides = array<i64: 4, 4>} : (tensor<8x8x16x16xf32>) -> tensor<8x8x4x4xf32>
  %f = kiln.flatten %p : (tensor<8x8x4x4xf32>) -> tensor<8x128xf32>
  return %f : tensor<8x128xf32>
}

// -----

// Left alone: the depthwise weight is a function argument whose leading
// dim equals the batch (8): it counts as batched, and a layer whose
// weight carries the batch is not split (at min-bytes = 64 KiB the same
// graph with a parameter weight is: @pieces).
// PIECES-LABEL: func.func @batched_weight
// PIECES-NOT: kiln.slice
func.func @batched_weight(%x: tensor<8x8x16x16xf32>, %w: tensor<8x1x3x3xf32>) -> tensor<8x8x4x4xf32> {
  %d = kiln.conv2d %x, %w {groups = 8 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<8x8x16x16xf32>, tensor<8x1x3x3xf32>) -> tensor<8x8x16x16xf32>
  %p = kiln.max_pool2d %d {kernel = array<i64: 4, 4>, strides = array<i64: 4, 4>} : (tensor<8x8x16x16xf32>) -> tensor<8x8x4x4xf32>
  return %p : tensor<8x8x4x4xf32>
}
