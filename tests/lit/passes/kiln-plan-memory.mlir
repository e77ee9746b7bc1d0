// RUN: kiln-opt %s --split-input-file --kiln-plan-memory | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-plan-memory=in-place=false | FileCheck %s --check-prefix=COPY
// GPU targets place every buffer at a multiple of 512 bytes:
// RUN: kiln-opt %s --split-input-file --kiln-plan-memory="in-place=false alignment=512" | FileCheck %s --check-prefix=GPU
// RUN: not kiln-opt %s --split-input-file --kiln-plan-memory=alignment=100 2>&1 | FileCheck %s --check-prefix=BADALIGN
// BADALIGN: kiln-plan-memory: alignment 100 is not a positive multiple of 64
// The passes that run before it in every pipeline:
// RUN: kiln-opt %s --split-input-file --kiln-schedule-for-memory --kiln-plan-memory | FileCheck %s --check-prefix=SCHED
// RUN: kiln-opt %s --split-input-file --kiln-rematerialize=memory-budget=1 --kiln-plan-memory | FileCheck %s --check-prefix=REMAT

// A chain: relu writes over the dense result that dies at it; the returned
// value stays outside the arena (-1).
// CHECK-LABEL: func.func @chain
// CHECK-SAME: attributes {kiln.arena_bytes = 64 : i64, kiln.naive_bytes = 128 : i64, kiln.peak_live_bytes = 64 : i64}
// CHECK: %[[H:.+]] = kiln.dense %{{.+}} {kiln.live = array<i64: 0, 1>, kiln.offsets = array<i64: 0>}
// CHECK: %[[A:.+]] = kiln.relu %[[H]] {kiln.in_place = 0 : i64, kiln.live = array<i64: 1, 2>, kiln.offsets = array<i64: 0>}
// CHECK: %[[Y:.+]] = kiln.dense %[[A]], %{{.+}} {kiln.live = array<i64: 2, 2>, kiln.offsets = array<i64: -1>}
// CHECK: return %[[Y]]
// COPY-LABEL: func.func @chain
// COPY-SAME: attributes {kiln.arena_bytes = 128 : i64, kiln.naive_bytes = 128 : i64, kiln.peak_live_bytes = 128 : i64}
// COPY: kiln.dense {{.+}} kiln.offsets = array<i64: 0>
// COPY-NOT: kiln.in_place
// COPY: kiln.relu {{.+}} kiln.offsets = array<i64: 64>
// GPU-LABEL: func.func @chain
// GPU-SAME: attributes {kiln.arena_bytes = 1024 : i64, kiln.naive_bytes = 1024 : i64, kiln.peak_live_bytes = 1024 : i64}
// GPU: kiln.dense {{.+}} kiln.offsets = array<i64: 0>
// GPU: kiln.relu {{.+}} kiln.offsets = array<i64: 512>
func.func @chain(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = kiln.param "w" : tensor<8x4xf32>
  %h = kiln.dense %x, %w : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x8xf32>
  %a = kiln.relu %h : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %w2 = kiln.param "w2" : tensor<3x8xf32>
  %y = kiln.dense %a, %w2 : (tensor<2x8xf32>, tensor<3x8xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// Each result of a multi-result kernel is its own buffer. A state update
// whose parameter nothing reads afterwards writes straight into it
// (kiln::ir::isUpdatedInPlace): its results take no arena bytes (-1).
// CHECK-LABEL: func.func @multi_result_assign
// CHECK-SAME: kiln.arena_bytes = 384 : i64
// CHECK-SAME: kiln.peak_live_bytes = 384 : i64
// CHECK: %[[Y:[a-z0-9_]+]], %[[M:[a-z0-9_]+]], %[[V:[a-z0-9_]+]] = kiln.batch_norm_train {{.+}} {kiln.live = array<i64: 0, 2, 0, 1, 0, 1>, kiln.offsets = array<i64: 0, 256, 320>}
// CHECK: %[[NM:[a-z0-9_]+]], %[[NV:[a-z0-9_]+]] = kiln.running_stats_update %{{.+}}, %{{.+}}, %[[M]], %[[V]] {count = 4 : i64, {{.+}}kiln.offsets = array<i64: -1, -1>}
// CHECK: kiln.assign %{{.+}}, %[[NM]]
// CHECK: kiln.assign %{{.+}}, %[[NV]]
// CHECK: kiln.relu %[[Y]] {kiln.live = array<i64: 2, 4>, kiln.offsets = array<i64: -1>}
func.func @multi_result_assign(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %w = kiln.param "w" : tensor<16xf32>
  %b = kiln.param "b" : tensor<16xf32>
  %y:3 = kiln.batch_norm_train %x, %w, %b : (tensor<4x16xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<4x16xf32>, tensor<16xf32>, tensor<16xf32>)
  %rm = kiln.param "rm" : tensor<16xf32>
  %rv = kiln.param "rv" : tensor<16xf32>
  %n:2 = kiln.running_stats_update %rm, %rv, %y#1, %y#2 {count = 4 : i64} : (tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<16xf32>, tensor<16xf32>)
  kiln.assign %rm, %n#0 : tensor<16xf32>
  kiln.assign %rv, %n#1 : tensor<16xf32>
  %z = kiln.relu %y#0 : (tensor<4x16xf32>) -> tensor<4x16xf32>
  return %z : tensor<4x16xf32>
}

// -----

// A parameter read after its update keeps the old semantics: the new value
// lives in the arena (step 1 to its write-back copy, step 3) and is copied
// at the end, so the add still reads the old running mean.
// CHECK-LABEL: func.func @update_then_read
// CHECK-SAME: kiln.arena_bytes = 448 : i64
// CHECK: kiln.running_stats_update {{.+}}kiln.live = array<i64: 1, 3, 1, 4>, kiln.offsets = array<i64: 384, -1>}
// kiln-schedule-for-memory makes the update wait for the add, the last
// other reader of %rm: then it writes straight into both parameters, with
// no temporary and no copy.
// SCHED-LABEL: func.func @update_then_read
// SCHED: kiln.add
// SCHED: kiln.running_stats_update {{.+}}kiln.offsets = array<i64: -1, -1>}
func.func @update_then_read(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %w = kiln.param "w" : tensor<16xf32>
  %b = kiln.param "b" : tensor<16xf32>
  %y:3 = kiln.batch_norm_train %x, %w, %b : (tensor<4x16xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<4x16xf32>, tensor<16xf32>, tensor<16xf32>)
  %rm = kiln.param "rm" : tensor<16xf32>
  %rv = kiln.param "rv" : tensor<16xf32>
  %n:2 = kiln.running_stats_update %rm, %rv, %y#1, %y#2 {count = 4 : i64} : (tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<16xf32>, tensor<16xf32>)
  kiln.assign %rm, %n#0 : tensor<16xf32>
  kiln.assign %rv, %n#1 : tensor<16xf32>
  %z = kiln.add %y#0, %rm : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  return %z : tensor<4x16xf32>
}

// -----

// A view extends its root's lifetime: %h is read through %r at step 2, so
// %s (step 1) gets other bytes; the add then writes over %h (through the
// view), which dies there.
// CHECK-LABEL: func.func @view_lifetime
// CHECK-SAME: kiln.arena_bytes = 2048 : i64
// CHECK: %[[H:.+]] = kiln.dense {{.+}} {kiln.live = array<i64: 0, 2>, kiln.offsets = array<i64: 0>}
// CHECK: %[[R:.+]] = kiln.reshape %[[H]]
// CHECK: %[[S:.+]] = kiln.sigmoid %{{.+}} {kiln.live = array<i64: 1, 2>, kiln.offsets = array<i64: 1024>}
// CHECK: %[[T:.+]] = kiln.add %[[R]], %[[S]] {kiln.in_place = 0 : i64, kiln.live = array<i64: 2, 3>, kiln.offsets = array<i64: 0>}
// CHECK: kiln.dense %[[T]]
func.func @view_lifetime(%x: tensor<4x64xf32>) -> tensor<4x2xf32> {
  %w = kiln.param "w" : tensor<64x64xf32>
  %h = kiln.dense %x, %w : (tensor<4x64xf32>, tensor<64x64xf32>) -> tensor<4x64xf32>
  %r = kiln.reshape %h {shape = array<i64: 0, -1>} : (tensor<4x64xf32>) -> tensor<4x64xf32>
  %s = kiln.sigmoid %x : (tensor<4x64xf32>) -> tensor<4x64xf32>
  %t = kiln.add %r, %s : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  %w2 = kiln.param "w2" : tensor<2x64xf32>
  %y = kiln.dense %t, %w2 : (tensor<4x64xf32>, tensor<2x64xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// Three values alive together get disjoint offsets; a rank-0 value takes a
// 64-byte slot.
// CHECK-LABEL: func.func @disjoint
// CHECK-SAME: kiln.arena_bytes = 576 : i64
// CHECK-SAME: kiln.naive_bytes = 832 : i64
// CHECK-SAME: kiln.peak_live_bytes = 576 : i64
// CHECK: %[[A:.+]] = kiln.relu {{.+}} kiln.offsets = array<i64: 0>
// CHECK: %[[B:.+]] = kiln.tanh {{.+}} kiln.offsets = array<i64: 256>
// CHECK: %[[L:.+]] = kiln.mse %[[A]], {{.+}} kiln.offsets = array<i64: 512>
// CHECK: %[[C:.+]] = kiln.add %[[A]], %[[B]] {kiln.in_place = 0 : i64, kiln.live = array<i64: 3, 4>, kiln.offsets = array<i64: 0>}
// CHECK: kiln.mul %[[C]], %[[L]]
func.func @disjoint(%x: tensor<4x16xf32>, %t: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %a = kiln.relu %x : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %b = kiln.tanh %x : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %l = kiln.mse %a, %t : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<f32>
  %c = kiln.add %a, %b : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %d = kiln.mul %c, %l : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  return %d : tensor<4x16xf32>
}

// -----

// kiln-schedule-for-memory: %big is only needed by the add; computing it
// there (sinking) keeps it out of the peak at the second dense.
// CHECK-LABEL: func.func @sink
// CHECK-SAME: kiln.peak_live_bytes = 6144 : i64
// SCHED-LABEL: func.func @sink
// SCHED-SAME: kiln.peak_live_bytes = 5120 : i64
// SCHED: %[[A:.+]] = kiln.dense %[[X:[^,]+]],
// SCHED: %[[B:.+]] = kiln.dense %[[A]],
// SCHED: %[[BIG:.+]] = kiln.relu %[[X]]
// SCHED: kiln.add %[[B]], %[[BIG]]
func.func @sink(%x: tensor<4x64xf32>) -> tensor<4x2xf32> {
  %big = kiln.relu %x : (tensor<4x64xf32>) -> tensor<4x64xf32>
  %w1 = kiln.param "w1" : tensor<256x64xf32>
  %a = kiln.dense %x, %w1 : (tensor<4x64xf32>, tensor<256x64xf32>) -> tensor<4x256xf32>
  %w2 = kiln.param "w2" : tensor<64x256xf32>
  %b = kiln.dense %a, %w2 : (tensor<4x256xf32>, tensor<64x256xf32>) -> tensor<4x64xf32>
  %c = kiln.add %b, %big : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  %w3 = kiln.param "w3" : tensor<2x64xf32>
  %y = kiln.dense %c, %w3 : (tensor<4x64xf32>, tensor<2x64xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// kiln-rematerialize: %a waits from the forward dense (step 2) to the mul
// (step 4) across the peak (step 3); it is recomputed from %h, which the
// backward activation_grad keeps alive anyway: 1024 bytes saved, 256 FLOPs.
// REMAT-LABEL: func.func @remat
// REMAT-SAME: kiln.arena_bytes = 6144 : i64
// REMAT-SAME: kiln.remat_bytes_saved = 1024 : i64
// REMAT-SAME: kiln.remat_flops = 256 : i64
// REMAT: %[[H:.+]] = kiln.dense
// REMAT: %[[A:.+]] = kiln.relu %[[H]]
// REMAT: kiln.dense %[[A]],
// REMAT: %[[Z:.+]] = kiln.dense
// REMAT: %[[A2:.+]] = kiln.relu %[[H]]
// REMAT: kiln.mul %[[A2]], %[[Z]]
func.func @remat(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %w0 = kiln.param "w0" : tensor<64x64xf32>
  %h = kiln.dense %x, %w0 : (tensor<4x64xf32>, tensor<64x64xf32>) -> tensor<4x64xf32>
  %a = kiln.relu %h : (tensor<4x64xf32>) -> tensor<4x64xf32>
  %w1 = kiln.param "w1" : tensor<256x64xf32>
  %y = kiln.dense %a, %w1 : (tensor<4x64xf32>, tensor<256x64xf32>) -> tensor<4x256xf32>
  %w2 = kiln.param "w2" : tensor<64x256xf32>
  %z = kiln.dense %y, %w2 : (tensor<4x256xf32>, tensor<64x256xf32>) -> tensor<4x64xf32>
  %m = kiln.mul %a, %z : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  %g = kiln.activation_grad %h, %m {activation = "relu"} : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  return %g : tensor<4x64xf32>
}
