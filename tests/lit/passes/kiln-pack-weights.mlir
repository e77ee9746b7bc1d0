// RUN: kiln-opt %s --split-input-file --kiln-pack-weights | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-pack-weights | kiln-opt --split-input-file | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-pack-weights=block=8 | FileCheck %s --check-prefix=EIGHT
// RUN: kiln-opt %s --split-input-file --kiln-pack-weights=gpu=true | FileCheck %s --check-prefix=GPU

// A strided conv without groups, with 16 or more input channels and whole
// blocks of 16 output channels, reads its weight packed as [O/16, C, KH,
// KW, 16]: a reshape to [O/16, 16, C, KH, KW] and a transpose, right after
// the weight. Two convs of one weight share the packed copy; the bias stays.
// CHECK-LABEL: func.func @strided
// CHECK: %[[W:[a-z0-9_]+]] = kiln.param "w"
// CHECK: %[[R:[a-z0-9_]+]] = kiln.reshape %[[W]] {shape = array<i64: 2, 16, 16, 3, 3>} : (tensor<32x16x3x3xf32>) -> tensor<2x16x16x3x3xf32>
// CHECK: %[[P:[a-z0-9_]+]] = kiln.transpose %[[R]] {perm = array<i64: 0, 2, 3, 4, 1>} : (tensor<2x16x16x3x3xf32>) -> tensor<2x16x3x3x16xf32>
// CHECK: kiln.conv2d %arg0, %[[P]], %{{.+}} {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<2x16x24x24xf32>, tensor<2x16x3x3x16xf32>, tensor<32xf32>) -> tensor<2x32x12x12xf32>
// CHECK-NOT: kiln.transpose
// CHECK: kiln.conv2d %arg1, %[[P]] {strides = array<i64: 2, 2>} : (tensor<1x16x9x9xf32>, tensor<2x16x3x3x16xf32>) -> tensor<1x32x4x4xf32>
// EIGHT-LABEL: func.func @strided
// EIGHT: kiln.transpose %{{.+}} : (tensor<4x8x16x3x3xf32>) -> tensor<4x16x3x3x8xf32>
func.func @strided(%x: tensor<2x16x24x24xf32>, %z: tensor<1x16x9x9xf32>) -> (tensor<2x32x12x12xf32>, tensor<1x32x4x4xf32>) {
  %w = kiln.param "w" : tensor<32x16x3x3xf32>
  %b = kiln.param "b" : tensor<32xf32>
  %c = kiln.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<2x16x24x24xf32>, tensor<32x16x3x3xf32>, tensor<32xf32>) -> tensor<2x32x12x12xf32>
  %d = kiln.conv2d %z, %w {strides = array<i64: 2, 2>} : (tensor<1x16x9x9xf32>, tensor<32x16x3x3xf32>) -> tensor<1x32x4x4xf32>
  return %c, %d : tensor<2x32x12x12xf32>, tensor<1x32x4x4xf32>
}

// -----

// A 1x1 stride-2 conv (ResNet's downsampling shortcut) too.
// CHECK-LABEL: func.func @shortcut
// CHECK: kiln.conv2d %arg0, %{{.+}} {strides = array<i64: 2, 2>} : (tensor<1x64x14x14xf32>, tensor<8x64x1x1x16xf32>) -> tensor<1x128x7x7xf32>
func.func @shortcut(%x: tensor<1x64x14x14xf32>) -> tensor<1x128x7x7xf32> {
  %w = kiln.param "w" : tensor<128x64x1x1xf32>
  %c = kiln.conv2d %x, %w {strides = array<i64: 2, 2>} : (tensor<1x64x14x14xf32>, tensor<128x64x1x1xf32>) -> tensor<1x128x7x7xf32>
  return %c : tensor<1x128x7x7xf32>
}

// -----

// Left alone: stride 1 with 16 input channels, groups, 24 output channels
// (not whole blocks of 16).
// CHECK-LABEL: func.func @not_these
// CHECK-NOT: kiln.transpose
// CHECK: return
// EIGHT-LABEL: func.func @not_these
// EIGHT: kiln.transpose %{{.+}} : (tensor<3x8x16x3x3xf32>) -> tensor<3x16x3x3x8xf32>
// EIGHT-NOT: kiln.transpose
// EIGHT: return
func.func @not_these(%x: tensor<1x16x16x16xf32>) -> (tensor<1x16x16x16xf32>, tensor<1x16x8x8xf32>, tensor<1x24x8x8xf32>) {
  %w = kiln.param "w" : tensor<16x16x3x3xf32>
  %wg = kiln.param "wg" : tensor<16x8x3x3xf32>
  %w24 = kiln.param "w24" : tensor<24x16x3x3xf32>
  %a = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x16x16xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x16x16xf32>
  %g = kiln.conv2d %x, %wg {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>, groups = 2} : (tensor<1x16x16x16xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x8x8xf32>
  %o = kiln.conv2d %x, %w24 {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x16x16x16xf32>, tensor<24x16x3x3xf32>) -> tensor<1x24x8x8xf32>
  return %a, %g, %o : tensor<1x16x16x16xf32>, tensor<1x16x8x8xf32>, tensor<1x24x8x8xf32>
}

// -----

// Strided stems of 3 input channels (MobileNetV2's 3x3, ResNet's 7x7) are
// packed: the channel form beats the rows and planes forms there; at stride
// 1 they are left alone.
// CHECK-LABEL: func.func @small_stem
// CHECK: kiln.transpose %{{.+}} : (tensor<2x16x3x3x3xf32>) -> tensor<2x3x3x3x16xf32>
// CHECK: kiln.conv2d %arg0, %{{.+}} {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x3x16x16xf32>, tensor<2x3x3x3x16xf32>) -> tensor<1x32x8x8xf32>
// CHECK: kiln.conv2d %arg0, %{{.+}} {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x3x16x16xf32>, tensor<32x3x3x3xf32>) -> tensor<1x32x16x16xf32>
// CHECK: kiln.transpose %{{.+}} : (tensor<1x16x3x7x7xf32>) -> tensor<1x3x7x7x16xf32>
// CHECK: kiln.conv2d %arg0, %{{.+}} {pads = array<i64: 3, 3, 3, 3>, strides = array<i64: 2, 2>} : (tensor<1x3x16x16xf32>, tensor<1x3x7x7x16xf32>) -> tensor<1x16x8x8xf32>
func.func @small_stem(%s: tensor<1x3x16x16xf32>) -> (tensor<1x32x8x8xf32>, tensor<1x32x16x16xf32>, tensor<1x16x8x8xf32>) {
  %w = kiln.param "w" : tensor<32x3x3x3xf32>
  %a = kiln.conv2d %s, %w {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x3x16x16xf32>, tensor<32x3x3x3xf32>) -> tensor<1x32x8x8xf32>
  %b = kiln.conv2d %s, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x3x16x16xf32>, tensor<32x3x3x3xf32>) -> tensor<1x32x16x16xf32>
  %ws = kiln.param "ws" : tensor<16x3x7x7xf32>
  %t = kiln.conv2d %s, %ws {pads = array<i64: 3, 3, 3, 3>, strides = array<i64: 2, 2>} : (tensor<1x3x16x16xf32>, tensor<16x3x7x7xf32>) -> tensor<1x16x8x8xf32>
  return %a, %b, %t : tensor<1x32x8x8xf32>, tensor<1x32x16x16xf32>, tensor<1x16x8x8xf32>
}

// -----

// A 1x1 stride-1 conv over a plane of at most 64 positions (MobileNetV2's
// 7x7 stage) is packed; with blocks of 16, so is one over up to 28x28
// (784 positions: ResNet-50's bottlenecks); over a larger plane it stays
// a matrix product over the plane, and so does a padded one. With blocks
// of 8 (AVX2), planes over 64 positions stay too.
// CHECK-LABEL: func.func @pointwise
// CHECK: kiln.conv2d %arg0, %{{.+}} : (tensor<1x32x7x7xf32>, tensor<4x32x1x1x16xf32>) -> tensor<1x64x7x7xf32>
// CHECK: kiln.conv2d %arg1, %{{.+}} : (tensor<1x32x28x28xf32>, tensor<4x32x1x1x16xf32>) -> tensor<1x64x28x28xf32>
// CHECK: kiln.conv2d %arg2, %{{.+}} : (tensor<1x32x29x29xf32>, tensor<64x32x1x1xf32>) -> tensor<1x64x29x29xf32>
// CHECK: kiln.conv2d %arg0, %{{.+}} {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x32x7x7xf32>, tensor<64x32x1x1xf32>) -> tensor<1x64x9x9xf32>
// EIGHT-LABEL: func.func @pointwise
// EIGHT: kiln.conv2d %arg0, %{{.+}} : (tensor<1x32x7x7xf32>, tensor<8x32x1x1x8xf32>) -> tensor<1x64x7x7xf32>
// EIGHT: kiln.conv2d %arg1, %{{.+}} : (tensor<1x32x28x28xf32>, tensor<64x32x1x1xf32>) -> tensor<1x64x28x28xf32>
func.func @pointwise(%x: tensor<1x32x7x7xf32>, %z: tensor<1x32x28x28xf32>, %t: tensor<1x32x29x29xf32>) -> (tensor<1x64x7x7xf32>, tensor<1x64x28x28xf32>, tensor<1x64x29x29xf32>, tensor<1x64x9x9xf32>) {
  %w = kiln.param "w" : tensor<64x32x1x1xf32>
  %v = kiln.param "v" : tensor<64x32x1x1xf32>
  %u = kiln.param "u" : tensor<64x32x1x1xf32>
  %a = kiln.conv2d %x, %w : (tensor<1x32x7x7xf32>, tensor<64x32x1x1xf32>) -> tensor<1x64x7x7xf32>
  %b = kiln.conv2d %z, %v : (tensor<1x32x28x28xf32>, tensor<64x32x1x1xf32>) -> tensor<1x64x28x28xf32>
  %d = kiln.conv2d %t, %u : (tensor<1x32x29x29xf32>, tensor<64x32x1x1xf32>) -> tensor<1x64x29x29xf32>
  %c = kiln.conv2d %x, %u {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x32x7x7xf32>, tensor<64x32x1x1xf32>) -> tensor<1x64x9x9xf32>
  return %a, %b, %d, %c : tensor<1x64x7x7xf32>, tensor<1x64x28x28xf32>, tensor<1x64x29x29xf32>, tensor<1x64x9x9xf32>
}

// -----

// Over planes of 65 to 784 positions, a 1x1 conv that kiln-fuse would put
// in one kernel with a depthwise conv stays unpacked: the expansion whose
// value (through its ReLU6) only the depthwise conv reads, and the
// projection that reads the depthwise conv's value through its ReLU6. A
// projection reading the depthwise value through a binary op (a
// squeeze-and-excitation scale) is packed.
// CHECK-LABEL: func.func @beside_depthwise
// CHECK: kiln.conv2d %arg0, %{{.+}} : (tensor<1x16x14x14xf32>, tensor<96x16x1x1xf32>) -> tensor<1x96x14x14xf32>
// CHECK: kiln.conv2d %{{.+}}, %{{.+}} : (tensor<1x96x14x14xf32>, tensor<32x96x1x1xf32>) -> tensor<1x32x14x14xf32>
// CHECK: kiln.conv2d %{{.+}}, %{{.+}} : (tensor<1x96x14x14xf32>, tensor<2x96x1x1x16xf32>) -> tensor<1x32x14x14xf32>
func.func @beside_depthwise(%x: tensor<1x16x14x14xf32>, %s: tensor<1x96x1x1xf32>) -> (tensor<1x32x14x14xf32>, tensor<1x32x14x14xf32>) {
  %we = kiln.param "we" : tensor<96x16x1x1xf32>
  %wd = kiln.param "wd" : tensor<96x1x3x3xf32>
  %wp = kiln.param "wp" : tensor<32x96x1x1xf32>
  %wq = kiln.param "wq" : tensor<32x96x1x1xf32>
  %e = kiln.conv2d %x, %we : (tensor<1x16x14x14xf32>, tensor<96x16x1x1xf32>) -> tensor<1x96x14x14xf32>
  %r = kiln.relu6 %e : (tensor<1x96x14x14xf32>) -> tensor<1x96x14x14xf32>
  %d = kiln.conv2d %r, %wd {groups = 96 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x96x14x14xf32>, tensor<96x1x3x3xf32>) -> tensor<1x96x14x14xf32>
  %q = kiln.relu6 %d : (tensor<1x96x14x14xf32>) -> tensor<1x96x14x14xf32>
  %p = kiln.conv2d %q, %wp : (tensor<1x96x14x14xf32>, tensor<32x96x1x1xf32>) -> tensor<1x32x14x14xf32>
  %m = kiln.mul %q, %s : (tensor<1x96x14x14xf32>, tensor<1x96x1x1xf32>) -> tensor<1x96x14x14xf32>
  %o = kiln.conv2d %m, %wq : (tensor<1x96x14x14xf32>, tensor<32x96x1x1xf32>) -> tensor<1x32x14x14xf32>
  return %p, %o : tensor<1x32x14x14xf32>, tensor<1x32x14x14xf32>
}

// -----

// A spatial stride-1 conv (one that kiln-winograd left: small planes at
// batch 1) with 64 or more input channels and output channels in pairs of
// blocks is packed too (the channel form computes no pitch columns); with
// fewer input channels, or 48 output channels, it keeps its form.
// CHECK-LABEL: func.func @spatial
// CHECK: kiln.conv2d %arg0, %{{.+}} {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x7x7xf32>, tensor<2x64x3x3x16xf32>) -> tensor<1x32x7x7xf32>
// CHECK: kiln.conv2d %arg1, %{{.+}} {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x32x7x7xf32>, tensor<32x32x3x3xf32>) -> tensor<1x32x7x7xf32>
// CHECK: kiln.conv2d %arg0, %{{.+}} {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x7x7xf32>, tensor<48x64x3x3xf32>) -> tensor<1x48x7x7xf32>
func.func @spatial(%x: tensor<1x64x7x7xf32>, %z: tensor<1x32x7x7xf32>) -> (tensor<1x32x7x7xf32>, tensor<1x32x7x7xf32>, tensor<1x48x7x7xf32>) {
  %w = kiln.param "w" : tensor<32x64x3x3xf32>
  %v = kiln.param "v" : tensor<32x32x3x3xf32>
  %u = kiln.param "u" : tensor<48x64x3x3xf32>
  %a = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x7x7xf32>, tensor<32x64x3x3xf32>) -> tensor<1x32x7x7xf32>
  %b = kiln.conv2d %z, %v {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x32x7x7xf32>, tensor<32x32x3x3xf32>) -> tensor<1x32x7x7xf32>
  %c = kiln.conv2d %x, %u {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x7x7xf32>, tensor<48x64x3x3xf32>) -> tensor<1x48x7x7xf32>
  return %a, %b, %c : tensor<1x32x7x7xf32>, tensor<1x32x7x7xf32>, tensor<1x48x7x7xf32>
}

// -----

// gpu: every conv2d without groups whose output channels are a multiple of
// 8, at any stride, window or plane, in one block of all its output
// channels ([1, C, KH, KW, O]); two convs of one weight share it. Groups
// and 10 output channels are left alone. (Without gpu, none of these.)
// GPU-LABEL: func.func @gpu
// GPU: %[[W:[a-z0-9_]+]] = kiln.param "w"
// GPU: %[[R:[a-z0-9_]+]] = kiln.reshape %[[W]] {shape = array<i64: 1, 24, 16, 3, 3>} : (tensor<24x16x3x3xf32>) -> tensor<1x24x16x3x3xf32>
// GPU: %[[P:[a-z0-9_]+]] = kiln.transpose %[[R]] {perm = array<i64: 0, 2, 3, 4, 1>} : (tensor<1x24x16x3x3xf32>) -> tensor<1x16x3x3x24xf32>
// GPU: kiln.transpose %{{.+}} : (tensor<1x40x16x1x1xf32>) -> tensor<1x16x1x1x40xf32>
// GPU-NOT: kiln.transpose
// GPU: kiln.conv2d %arg0, %[[P]] {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x20x20xf32>, tensor<1x16x3x3x24xf32>) -> tensor<1x24x20x20xf32>
// GPU: kiln.conv2d %arg0, %[[P]] {strides = array<i64: 2, 2>} : (tensor<1x16x20x20xf32>, tensor<1x16x3x3x24xf32>) -> tensor<1x24x9x9xf32>
// GPU: kiln.conv2d %arg0, %{{.+}} : (tensor<1x16x20x20xf32>, tensor<1x16x1x1x40xf32>) -> tensor<1x40x20x20xf32>
// GPU: kiln.conv2d %arg0, %{{.+}} {groups = 2 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x20x20xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x20x20xf32>
// GPU: kiln.conv2d %arg0, %{{.+}} : (tensor<1x16x20x20xf32>, tensor<10x16x1x1xf32>) -> tensor<1x10x20x20xf32>
// CHECK-LABEL: func.func @gpu
// CHECK-NOT: kiln.transpose
// CHECK: return
func.func @gpu(%x: tensor<1x16x20x20xf32>) -> (tensor<1x24x20x20xf32>, tensor<1x24x9x9xf32>, tensor<1x40x20x20xf32>, tensor<1x16x20x20xf32>, tensor<1x10x20x20xf32>) {
  %w = kiln.param "w" : tensor<24x16x3x3xf32>
  %p = kiln.param "p" : tensor<40x16x1x1xf32>
  %g = kiln.param "g" : tensor<16x8x3x3xf32>
  %t = kiln.param "t" : tensor<10x16x1x1xf32>
  %a = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x20x20xf32>, tensor<24x16x3x3xf32>) -> tensor<1x24x20x20xf32>
  %b = kiln.conv2d %x, %w {strides = array<i64: 2, 2>} : (tensor<1x16x20x20xf32>, tensor<24x16x3x3xf32>) -> tensor<1x24x9x9xf32>
  %c = kiln.conv2d %x, %p : (tensor<1x16x20x20xf32>, tensor<40x16x1x1xf32>) -> tensor<1x40x20x20xf32>
  %d = kiln.conv2d %x, %g {groups = 2 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x20x20xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x20x20xf32>
  %e = kiln.conv2d %x, %t : (tensor<1x16x20x20xf32>, tensor<10x16x1x1xf32>) -> tensor<1x10x20x20xf32>
  return %a, %b, %c, %d, %e : tensor<1x24x20x20xf32>, tensor<1x24x9x9xf32>, tensor<1x40x20x20xf32>, tensor<1x16x20x20xf32>, tensor<1x10x20x20xf32>
}
