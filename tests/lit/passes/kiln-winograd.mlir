// RUN: kiln-opt %s --split-input-file --kiln-winograd=tile=4 | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-winograd=tile=4 | kiln-opt --split-input-file | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-winograd="tile=4 min-tiles=1000" | FileCheck %s --check-prefix=FEW
// RUN: kiln-opt %s --split-input-file --kiln-winograd | FileCheck %s --check-prefix=TWO
// RUN: kiln-opt %s --split-input-file --kiln-winograd="tile=4 min-image-plane=784" | FileCheck %s --check-prefix=IMAGE
// RUN: kiln-opt %s --split-input-file --kiln-winograd="tile=4 min-image-plane=784 small-plane-tiles=16" | FileCheck %s --check-prefix=SMALL
// RUN: kiln-opt %s --split-input-file --kiln-winograd="tile=4 min-reduction=32" | FileCheck %s --check-prefix=RED
// RUN: kiln-opt %s --split-input-file --kiln-winograd="tile=4 filter-block=16" | FileCheck %s --check-prefix=BLOCK
// RUN: not kiln-opt %s --split-input-file --kiln-winograd="filter-block=4" 2>&1 | FileCheck %s --check-prefix=BADBLOCK
// BADBLOCK: kiln-winograd: filter-block must be 8 or 16, got 4

// A 3x3 stride-1 conv with 16 input and 32 output channels and 12x12x2 =
// 288 2x2 tiles becomes the filter transform plus conv2d_winograd, keeping
// its pads and bias: with tile=4, F(4x4, 3x3) on this 24x24 plane (36 4x4
// tiles, so the kernel keeps a task per image; the filter [36, O/8, C, 8]);
// by default F(2x2, 3x3) ([16, O/8, C, 8]).
// CHECK-LABEL: func.func @same
// CHECK: %[[W:[a-z0-9_]+]] = kiln.param "w"
// CHECK: %[[U:[a-z0-9_]+]] = kiln.winograd_filter %[[W]] {tile = 4 : i64} : (tensor<32x16x3x3xf32>) -> tensor<36x4x16x8xf32>
// CHECK: %[[B:[a-z0-9_]+]] = kiln.param "b"
// CHECK: %[[Y:[a-z0-9_]+]] = kiln.conv2d_winograd %arg0, %[[U]], %[[B]] {pads = array<i64: 1, 1, 1, 1>, tile = 4 : i64} : (tensor<2x16x24x24xf32>, tensor<36x4x16x8xf32>, tensor<32xf32>) -> tensor<2x32x24x24xf32>
// TWO-LABEL: func.func @same
// TWO: kiln.winograd_filter %{{.+}} : (tensor<32x16x3x3xf32>) -> tensor<16x4x16x8xf32>
// TWO: kiln.conv2d_winograd %arg0, %{{.+}}, %{{.+}} {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x16x24x24xf32>, tensor<16x4x16x8xf32>, tensor<32xf32>) -> tensor<2x32x24x24xf32>
// CHECK-NOT: kiln.conv2d %
// CHECK: kiln.relu %[[Y]]
// FEW-LABEL: func.func @same
// FEW-NOT: winograd
// FEW: kiln.conv2d %
func.func @same(%x: tensor<2x16x24x24xf32>) -> tensor<2x32x24x24xf32> {
  %w = kiln.param "w" : tensor<32x16x3x3xf32>
  %b = kiln.param "b" : tensor<32xf32>
  %c = kiln.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x16x24x24xf32>, tensor<32x16x3x3xf32>, tensor<32xf32>) -> tensor<2x32x24x24xf32>
  %r = kiln.relu %c : (tensor<2x32x24x24xf32>) -> tensor<2x32x24x24xf32>
  return %r : tensor<2x32x24x24xf32>
}

// -----

// auto_pad becomes explicit pads (same: 1 on every side at stride 1);
// valid needs none (the default). Two convs of one weight share its filter.
// CHECK-LABEL: func.func @auto_pad
// CHECK: %[[U:[a-z0-9_]+]] = kiln.winograd_filter
// CHECK: kiln.conv2d_winograd %arg0, %[[U]] {pads = array<i64: 1, 1, 1, 1>, tile = 4 : i64} : (tensor<1x16x32x32xf32>, tensor<36x2x16x8xf32>) -> tensor<1x16x32x32xf32>
// CHECK-NOT: kiln.winograd_filter
// CHECK: kiln.conv2d_winograd %arg1, %[[U]] {tile = 4 : i64} : (tensor<1x16x34x34xf32>, tensor<36x2x16x8xf32>) -> tensor<1x16x32x32xf32>
func.func @auto_pad(%x: tensor<1x16x32x32xf32>, %z: tensor<1x16x34x34xf32>) -> (tensor<1x16x32x32xf32>, tensor<1x16x32x32xf32>) {
  %w = kiln.param "w" : tensor<16x16x3x3xf32>
  %c = kiln.conv2d %x, %w {auto_pad = "same_lower", strides = array<i64: 1, 1>} : (tensor<1x16x32x32xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x32x32xf32>
  %d = kiln.conv2d %z, %w {auto_pad = "valid"} : (tensor<1x16x34x34xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x32x32xf32>
  return %c, %d : tensor<1x16x32x32xf32>, tensor<1x16x32x32xf32>
}

// -----

// Left alone: a strided, a grouped, a dilated and a 5x5 conv, too few
// channels, and a 6x6 plane at batch 4 (9 2x2 tiles per image, 36 in all:
// fewer than a 7x7 plane's 16, fewer than 64 over the batch).
// CHECK-LABEL: func.func @not_these
// CHECK-NOT: winograd
// CHECK: return
func.func @not_these(%x: tensor<4x16x16x16xf32>, %y: tensor<4x16x6x6xf32>, %z: tensor<4x8x16x16xf32>) -> (tensor<4x16x8x8xf32>, tensor<4x16x16x16xf32>, tensor<4x16x14x14xf32>, tensor<4x16x16x16xf32>, tensor<4x16x6x6xf32>, tensor<4x16x16x16xf32>) {
  %w = kiln.param "w" : tensor<16x16x3x3xf32>
  %wg = kiln.param "wg" : tensor<16x8x3x3xf32>
  %w5 = kiln.param "w5" : tensor<16x16x5x5xf32>
  %w8 = kiln.param "w8" : tensor<16x8x3x3xf32>
  %a = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<4x16x16x16xf32>, tensor<16x16x3x3xf32>) -> tensor<4x16x8x8xf32>
  %b = kiln.conv2d %x, %wg {pads = array<i64: 1, 1, 1, 1>, groups = 2 : i64} : (tensor<4x16x16x16xf32>, tensor<16x8x3x3xf32>) -> tensor<4x16x16x16xf32>
  %c = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 2, 2>} : (tensor<4x16x16x16xf32>, tensor<16x16x3x3xf32>) -> tensor<4x16x14x14xf32>
  %d = kiln.conv2d %x, %w5 {pads = array<i64: 2, 2, 2, 2>} : (tensor<4x16x16x16xf32>, tensor<16x16x5x5xf32>) -> tensor<4x16x16x16xf32>
  %e = kiln.conv2d %y, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<4x16x6x6xf32>, tensor<16x16x3x3xf32>) -> tensor<4x16x6x6xf32>
  %f = kiln.conv2d %z, %w8 {pads = array<i64: 1, 1, 1, 1>} : (tensor<4x8x16x16xf32>, tensor<16x8x3x3xf32>) -> tensor<4x16x16x16xf32>
  return %a, %b, %c, %d, %e, %f : tensor<4x16x8x8xf32>, tensor<4x16x16x16xf32>, tensor<4x16x14x14xf32>, tensor<4x16x16x16xf32>, tensor<4x16x6x6xf32>, tensor<4x16x16x16xf32>
}

// -----

// Small planes: a 7x7 plane at batch 1 (16 2x2 tiles, a task per image:
// ResNet-18's last stage) and 14x14 at batch 1 (49 tiles) are converted;
// with min-tiles above their count they stay direct.
// CHECK-LABEL: func.func @small_planes
// CHECK-COUNT-2: kiln.conv2d_winograd
// FEW-LABEL: func.func @small_planes
// FEW-NOT: winograd
// FEW: return
func.func @small_planes(%x: tensor<1x16x7x7xf32>, %y: tensor<1x16x14x14xf32>) -> (tensor<1x16x7x7xf32>, tensor<1x16x14x14xf32>) {
  %w = kiln.param "w" : tensor<16x16x3x3xf32>
  %a = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x7x7xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x7x7xf32>
  %b = kiln.conv2d %y, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x14x14xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x14x14xf32>
  return %a, %b : tensor<1x16x7x7xf32>, tensor<1x16x14x14xf32>
}

// -----

// conv2d_grad_input at stride 1 is a convolution of dy with the kernel turned
// 180 degrees and the channels swapped (the filter's input_gradient form,
// [16, O, C]) and pads 2 - pad; the forward conv of the same weight gets
// its own filter.
// CHECK-LABEL: func.func @grad_input
// CHECK: %[[W:[a-z0-9_]+]] = kiln.param "w"
// CHECK-DAG: %[[UG:[a-z0-9_]+]] = kiln.winograd_filter %[[W]] {input_gradient = true, tile = 4 : i64} : (tensor<32x16x3x3xf32>) -> tensor<36x2x32x8xf32>
// CHECK-DAG: %[[U:[a-z0-9_]+]] = kiln.winograd_filter %[[W]] {tile = 4 : i64} : (tensor<32x16x3x3xf32>) -> tensor<36x4x16x8xf32>
// CHECK: kiln.conv2d_winograd %arg0, %[[U]] {pads = array<i64: 0, 1, 2, 1>, tile = 4 : i64}
// CHECK: kiln.conv2d_winograd %arg1, %[[UG]] {pads = array<i64: 2, 1, 0, 1>, tile = 4 : i64} : (tensor<2x32x24x24xf32>, tensor<36x2x32x8xf32>) -> tensor<2x16x24x24xf32>
// min-reduction (the pipelines pass 32): the forward convolution sums over
// 16 input channels and stays direct; the input gradient sums over dy's 32
// channels and takes Winograd.
// RED-LABEL: func.func @grad_input
// RED: kiln.conv2d %arg0
// RED: kiln.conv2d_winograd %arg1
// filter-block 16 (the pipelines on 8-lane targets): each filter's
// channels in blocks of 16, where they are a multiple of 16.
// BLOCK-LABEL: func.func @grad_input
// BLOCK-DAG: kiln.winograd_filter %{{.+}} {block = 16 : i64, input_gradient = true, tile = 4 : i64} : (tensor<32x16x3x3xf32>) -> tensor<36x1x32x16xf32>
// BLOCK-DAG: kiln.winograd_filter %{{.+}} {block = 16 : i64, tile = 4 : i64} : (tensor<32x16x3x3xf32>) -> tensor<36x2x16x16xf32>
func.func @grad_input(%x: tensor<2x16x24x24xf32>, %dy: tensor<2x32x24x24xf32>) -> (tensor<2x32x24x24xf32>, tensor<2x16x24x24xf32>) {
  %w = kiln.param "w" : tensor<32x16x3x3xf32>
  %y = kiln.conv2d %x, %w {pads = array<i64: 0, 1, 2, 1>} : (tensor<2x16x24x24xf32>, tensor<32x16x3x3xf32>) -> tensor<2x32x24x24xf32>
  %dx = kiln.conv2d_grad_input %dy, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 1, 2, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, input_size = array<i64: 24, 24>} : (tensor<2x32x24x24xf32>, tensor<32x16x3x3xf32>) -> tensor<2x16x24x24xf32>
  return %y, %dx : tensor<2x32x24x24xf32>, tensor<2x16x24x24xf32>
}

// -----

// conv2d_grad_weight keeps its op and takes the tile of its forward
// convolution's plane (dy's); a strided one (no Winograd form) and one of
// too few tiles (the 7x7 plane at batch 1: 16) stay direct.
// CHECK-LABEL: func.func @grad_weight
// CHECK: kiln.conv2d_grad_weight %arg0, %arg1 {{{.*}}tile = 4 : i64} : (tensor<2x16x24x24xf32>, tensor<2x32x24x24xf32>) -> tensor<32x16x3x3xf32>
// CHECK: kiln.conv2d_grad_weight %arg3, %arg4 {{{.*}}tile = 2 : i64} : (tensor<4x16x10x14xf32>, tensor<4x32x10x14xf32>) -> tensor<32x16x3x3xf32>
// CHECK-NOT: tile
// CHECK: return
// FEW-LABEL: func.func @grad_weight
// FEW-NOT: tile
// FEW: return
// TWO-LABEL: func.func @grad_weight
// TWO: kiln.conv2d_grad_weight %arg0, %arg1 {{{.*}}tile = 2 : i64}
// The weight gradient sums over tiles, whatever min-reduction says.
// RED-LABEL: func.func @grad_weight
// RED: kiln.conv2d_grad_weight %arg0, %arg1 {{{.*}}tile = 4 : i64}
func.func @grad_weight(%x: tensor<2x16x24x24xf32>, %dy: tensor<2x32x24x24xf32>, %xs: tensor<2x16x16x16xf32>, %x2: tensor<4x16x10x14xf32>, %dy2: tensor<4x32x10x14xf32>, %dy3: tensor<2x32x8x8xf32>, %x4: tensor<1x16x7x7xf32>, %dy4: tensor<1x32x7x7xf32>) -> (tensor<32x16x3x3xf32>, tensor<32x16x3x3xf32>, tensor<32x16x3x3xf32>, tensor<32x16x3x3xf32>) {
  %a = kiln.conv2d_grad_weight %x, %dy {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 3, 3>} : (tensor<2x16x24x24xf32>, tensor<2x32x24x24xf32>) -> tensor<32x16x3x3xf32>
  %b = kiln.conv2d_grad_weight %x2, %dy2 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 3, 3>} : (tensor<4x16x10x14xf32>, tensor<4x32x10x14xf32>) -> tensor<32x16x3x3xf32>
  %c = kiln.conv2d_grad_weight %xs, %dy3 {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 3, 3>} : (tensor<2x16x16x16xf32>, tensor<2x32x8x8xf32>) -> tensor<32x16x3x3xf32>
  %d = kiln.conv2d_grad_weight %x4, %dy4 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 3, 3>} : (tensor<1x16x7x7xf32>, tensor<1x32x7x7xf32>) -> tensor<32x16x3x3xf32>
  return %a, %b, %c, %d : tensor<32x16x3x3xf32>, tensor<32x16x3x3xf32>, tensor<32x16x3x3xf32>, tensor<32x16x3x3xf32>
}

// -----

// Planes that are not a multiple of the tile get partial tiles where they
// add at most a third to the work: 14x14 and 15x15 take 4x4 tiles (256 /
// 196, 256 / 225; 16 4x4 tiles per image, and 128 channels that repay the
// kernel's batch form), 10x14 2x2 ones only (4x4: 192 / 140).
// CHECK-LABEL: func.func @partial
// CHECK: kiln.conv2d_winograd %arg0, %{{.+}} {pads = array<i64: 1, 1, 1, 1>, tile = 4 : i64} : (tensor<4x128x14x14xf32>, tensor<36x16x128x8xf32>) -> tensor<4x128x14x14xf32>
// CHECK: kiln.conv2d_winograd %arg1, %{{.+}} {pads = array<i64: 1, 1, 1, 1>, tile = 4 : i64} : (tensor<4x128x15x15xf32>, tensor<36x16x128x8xf32>) -> tensor<4x128x15x15xf32>
// CHECK: kiln.conv2d_winograd %arg2, %{{.+}} {pads = array<i64: 1, 1, 1, 1>} : (tensor<8x128x10x14xf32>, tensor<16x16x128x8xf32>) -> tensor<8x128x10x14xf32>
// TWO-LABEL: func.func @partial
// TWO-COUNT-3: kiln.conv2d_winograd %arg{{[0-2]}}, %{{.+}} {pads = array<i64: 1, 1, 1, 1>} :
func.func @partial(%x: tensor<4x128x14x14xf32>, %y: tensor<4x128x15x15xf32>, %z: tensor<8x128x10x14xf32>) -> (tensor<4x128x14x14xf32>, tensor<4x128x15x15xf32>, tensor<8x128x10x14xf32>) {
  %w = kiln.param "w" : tensor<128x128x3x3xf32>
  %a = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<4x128x14x14xf32>, tensor<128x128x3x3xf32>) -> tensor<4x128x14x14xf32>
  %b = kiln.conv2d %y, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<4x128x15x15xf32>, tensor<128x128x3x3xf32>) -> tensor<4x128x15x15xf32>
  %c = kiln.conv2d %z, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<8x128x10x14xf32>, tensor<128x128x3x3xf32>) -> tensor<8x128x10x14xf32>
  return %a, %b, %c : tensor<4x128x14x14xf32>, tensor<4x128x15x15xf32>, tensor<8x128x10x14xf32>
}

// -----

// 7x7 planes over a batch of 8: 16 tiles per image, 128 in all (the
// kernel's batch form).
// CHECK-LABEL: func.func @small_planes
// CHECK: kiln.winograd_filter
// CHECK: kiln.conv2d_winograd
func.func @small_planes(%x: tensor<8x16x7x7xf32>) -> tensor<8x16x7x7xf32> {
  %w = kiln.param "w" : tensor<16x16x3x3xf32>
  %y = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<8x16x7x7xf32>, tensor<16x16x3x3xf32>) -> tensor<8x16x7x7xf32>
  return %y : tensor<8x16x7x7xf32>
}

// -----

// Small planes with few channels stay at F(2x2, 3x3) under tile=4: the
// LeNet-style CNN's 14x14 layers (16 4x4 tiles per image, 32 and 64
// channels) at batch 64, whose F(4x4) batch form ran 2.4x slower.
// CHECK-LABEL: func.func @few_channels
// CHECK: kiln.conv2d_winograd %arg0, %{{.+}} {pads = array<i64: 1, 1, 1, 1>} : (tensor<64x32x14x14xf32>, tensor<16x8x32x8xf32>) -> tensor<64x64x14x14xf32>
func.func @few_channels(%x: tensor<64x32x14x14xf32>) -> tensor<64x64x14x14xf32> {
  %w = kiln.param "w" : tensor<64x32x3x3xf32>
  %y = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<64x32x14x14xf32>, tensor<64x32x3x3xf32>) -> tensor<64x64x14x14xf32>
  return %y : tensor<64x64x14x14xf32>
}

// -----

// Wide channels repay F(4x4, 3x3)'s batch form only over 32 or more 4x4
// tiles: ResNet-18's 512 -> 512 on 7x7 (4 tiles per image) takes F(4x4)
// at batch 8 (32 tiles) but F(2x2) at batch 1 (16 2x2 tiles, a task per
// image; F(4x4) ran 1.9x slower there).
// CHECK-LABEL: func.func @wide_small_planes
// CHECK: kiln.conv2d_winograd %arg0, %{{.+}} {pads = array<i64: 1, 1, 1, 1>, tile = 4 : i64} : (tensor<8x128x7x7xf32>, tensor<36x16x128x8xf32>) -> tensor<8x128x7x7xf32>
// CHECK: kiln.conv2d_winograd %arg1, %{{.+}} {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x128x7x7xf32>, tensor<16x16x128x8xf32>) -> tensor<1x128x7x7xf32>
func.func @wide_small_planes(%x: tensor<8x128x7x7xf32>, %z: tensor<1x128x7x7xf32>) -> (tensor<8x128x7x7xf32>, tensor<1x128x7x7xf32>) {
  %w = kiln.param "w" : tensor<128x128x3x3xf32>
  %y = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<8x128x7x7xf32>, tensor<128x128x3x3xf32>) -> tensor<8x128x7x7xf32>
  %v = kiln.conv2d %z, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x128x7x7xf32>, tensor<128x128x3x3xf32>) -> tensor<1x128x7x7xf32>
  return %y, %v : tensor<8x128x7x7xf32>, tensor<1x128x7x7xf32>
}

// -----

// One image's forward convolution on fewer than 64 4x4 tiles (28x28: 49)
// takes F(2x2) under tile=4; two images, or a plane of 64 tiles, F(4x4).
// CHECK-LABEL: func.func @one_image_tiles
// CHECK: kiln.conv2d_winograd %arg0, %{{.+}} {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x28x28xf32>, tensor<16x2x16x8xf32>) -> tensor<1x16x28x28xf32>
// CHECK: kiln.conv2d_winograd %arg1, %{{.+}} {pads = array<i64: 1, 1, 1, 1>, tile = 4 : i64} : (tensor<2x16x28x28xf32>, tensor<36x2x16x8xf32>) -> tensor<2x16x28x28xf32>
// CHECK: kiln.conv2d_winograd %arg2, %{{.+}} {pads = array<i64: 1, 1, 1, 1>, tile = 4 : i64} : (tensor<1x16x32x32xf32>, tensor<36x2x16x8xf32>) -> tensor<1x16x32x32xf32>
func.func @one_image_tiles(%x: tensor<1x16x28x28xf32>, %y: tensor<2x16x28x28xf32>, %z: tensor<1x16x32x32xf32>) -> (tensor<1x16x28x28xf32>, tensor<2x16x28x28xf32>, tensor<1x16x32x32xf32>) {
  %w = kiln.param "w" : tensor<16x16x3x3xf32>
  %a = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x28x28xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x28x28xf32>
  %b = kiln.conv2d %y, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x16x28x28xf32>, tensor<16x16x3x3xf32>) -> tensor<2x16x28x28xf32>
  %c = kiln.conv2d %z, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x32x32xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x32x32xf32>
  return %a, %b, %c : tensor<1x16x28x28xf32>, tensor<2x16x28x28xf32>, tensor<1x16x32x32xf32>
}

// -----

// min-image-plane (the pipelines pass 784): a forward convolution of one
// image takes Winograd on a 28x28 plane, not on 26x28 nor on 7x7, 8x8 or
// 10x10; batch 2 is not bound by it. With small-plane-tiles=16 (the
// pipelines' on 8-lane targets) planes of at most 16 2x2 tiles (7x7, 8x8)
// take it too, 10x10 (25 tiles) not.
// IMAGE-LABEL: func.func @image_plane
// IMAGE: kiln.conv2d_winograd %arg0
// IMAGE: kiln.conv2d %arg1
// IMAGE: kiln.conv2d_winograd %arg2
// IMAGE: kiln.conv2d %arg3
// IMAGE: kiln.conv2d %arg4
// IMAGE: kiln.conv2d %arg5
// IMAGE: return
// SMALL-LABEL: func.func @image_plane
// SMALL: kiln.conv2d_winograd %arg0
// SMALL: kiln.conv2d %arg1
// SMALL: kiln.conv2d_winograd %arg2
// SMALL: kiln.conv2d_winograd %arg3
// SMALL: kiln.conv2d_winograd %arg4
// SMALL: kiln.conv2d %arg5
// SMALL: return
func.func @image_plane(%x: tensor<1x16x28x28xf32>, %y: tensor<1x16x26x28xf32>, %z: tensor<2x16x14x14xf32>, %s7: tensor<1x16x7x7xf32>, %s8: tensor<1x16x8x8xf32>, %s10: tensor<1x16x10x10xf32>) -> (tensor<1x16x28x28xf32>, tensor<1x16x26x28xf32>, tensor<2x16x14x14xf32>, tensor<1x16x7x7xf32>, tensor<1x16x8x8xf32>, tensor<1x16x10x10xf32>) {
  %w = kiln.param "w" : tensor<16x16x3x3xf32>
  %a = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x28x28xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x28x28xf32>
  %b = kiln.conv2d %y, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x26x28xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x26x28xf32>
  %c = kiln.conv2d %z, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x16x14x14xf32>, tensor<16x16x3x3xf32>) -> tensor<2x16x14x14xf32>
  %d = kiln.conv2d %s7, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x7x7xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x7x7xf32>
  %e = kiln.conv2d %s8, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x8x8xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x8x8xf32>
  %f = kiln.conv2d %s10, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x10x10xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x10x10xf32>
  return %a, %b, %c, %d, %e, %f : tensor<1x16x28x28xf32>, tensor<1x16x26x28xf32>, tensor<2x16x14x14xf32>, tensor<1x16x7x7xf32>, tensor<1x16x8x8xf32>, tensor<1x16x10x10xf32>
}

// -----

// filter-block 16 where the filter's channels are not a multiple of 16
// keeps blocks of 8: 24 output channels forward, while the input
// gradient's filter (16 dx channels) takes blocks of 16.
// BLOCK-LABEL: func.func @block_fallback
// BLOCK-DAG: kiln.winograd_filter %{{.+}} {block = 16 : i64, input_gradient = true, tile = 4 : i64} : (tensor<24x16x3x3xf32>) -> tensor<36x1x24x16xf32>
// BLOCK-DAG: kiln.winograd_filter %{{.+}} {tile = 4 : i64} : (tensor<24x16x3x3xf32>) -> tensor<36x3x16x8xf32>
// BLOCK: kiln.conv2d_winograd %arg0, %{{.+}} {pads = array<i64: 1, 1, 1, 1>, tile = 4 : i64} : (tensor<2x16x24x24xf32>, tensor<36x3x16x8xf32>) -> tensor<2x24x24x24xf32>
// BLOCK: kiln.conv2d_winograd %arg1, %{{.+}} {pads = array<i64: 1, 1, 1, 1>, tile = 4 : i64} : (tensor<2x24x24x24xf32>, tensor<36x1x24x16xf32>) -> tensor<2x16x24x24xf32>
func.func @block_fallback(%x: tensor<2x16x24x24xf32>, %dy: tensor<2x24x24x24xf32>) -> (tensor<2x24x24x24xf32>, tensor<2x16x24x24xf32>) {
  %w = kiln.param "w" : tensor<24x16x3x3xf32>
  %y = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x16x24x24xf32>, tensor<24x16x3x3xf32>) -> tensor<2x24x24x24xf32>
  %dx = kiln.conv2d_grad_input %dy, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, input_size = array<i64: 24, 24>} : (tensor<2x24x24x24xf32>, tensor<24x16x3x3xf32>) -> tensor<2x16x24x24xf32>
  return %y, %dx : tensor<2x24x24x24xf32>, tensor<2x16x24x24xf32>
}
