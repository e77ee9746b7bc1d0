// RUN: kiln-opt %s --split-input-file --kiln-schedule-for-memory | FileCheck %s

// %big is only needed by the add: it is computed there (sinking), not
// before both dense layers, so it is not alive across them.
// CHECK-LABEL: func.func @sink
// CHECK: %[[A:.+]] = kiln.dense %[[X:[^,]+]],
// CHECK: %[[B:.+]] = kiln.dense %[[A]],
// CHECK: %[[BIG:.+]] = kiln.relu %[[X]]
// CHECK: kiln.add %[[B]], %[[BIG]]
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

// A state update waits for every other kernel that reads its parameter, so
// that it can write in place: the add reads the old %rm first. Without the
// scheduler the update came first and needed a copy (kiln-plan-memory.mlir).
// CHECK-LABEL: func.func @update_after_readers
// CHECK: kiln.batch_norm_train
// CHECK: kiln.add
// CHECK: kiln.running_stats_update
// CHECK: kiln.assign
func.func @update_after_readers(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
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

// Sinking moves %s (a reader of parameter "v") down to its user, past v's
// update; the update then moves after it again, so that it can still
// write into v in place (a temporary and a write-back copy otherwise: the
// flipped Winograd filters of ResNet-18's training step).
// CHECK-LABEL: func.func @sunk_reader_before_update
// CHECK: kiln.dense
// CHECK: kiln.dense
// CHECK: %[[S:.+]] = kiln.relu %[[V:[^ ]+]] :
// CHECK-NEXT: %[[U:.+]] = kiln.optimizer_update %[[V]],
// CHECK-NEXT: kiln.assign %[[V]], %[[U]]
// CHECK: kiln.relu %arg0
func.func @sunk_reader_before_update(%x: tensor<4x64xf32>, %g: tensor<64xf32>, %lr: tensor<f32>, %step: tensor<f32>) -> tensor<4x64xf32> {
  %big = kiln.relu %x : (tensor<4x64xf32>) -> tensor<4x64xf32>
  %v = kiln.param "v" : tensor<64xf32>
  %s = kiln.relu %v : (tensor<64xf32>) -> tensor<64xf32>
  %u = kiln.optimizer_update %v, %g, %lr, %step {hyper = {clip_value = 0.000000e+00 : f64, weight_decay = 0.000000e+00 : f64}, kind = "sgd"} : (tensor<64xf32>, tensor<64xf32>, tensor<f32>, tensor<f32>) -> tensor<64xf32>
  kiln.assign %v, %u : tensor<64xf32>
  %w1 = kiln.param "w1" : tensor<256x64xf32>
  %a = kiln.dense %x, %w1 : (tensor<4x64xf32>, tensor<256x64xf32>) -> tensor<4x256xf32>
  %w2 = kiln.param "w2" : tensor<64x256xf32>
  %b = kiln.dense %a, %w2 : (tensor<4x256xf32>, tensor<64x256xf32>) -> tensor<4x64xf32>
  %c = kiln.add %b, %s : (tensor<4x64xf32>, tensor<64xf32>) -> tensor<4x64xf32>
  %d = kiln.add %c, %big : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xf32>
  return %d : tensor<4x64xf32>
}
