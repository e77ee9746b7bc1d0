// RUN: kiln-opt %s --split-input-file --kiln-append-loss=loss=sparse-cce | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-append-loss="loss=bce l2=0.01" | FileCheck %s --check-prefix=BCE
// RUN: kiln-opt %s --split-input-file --kiln-append-loss=loss=huber --verify-diagnostics | FileCheck %s --check-prefix=HUBER

// sparse-cce reads through the final softmax; labels are i32 [N].
// CHECK-LABEL: func.func @main
// CHECK-SAME: %[[T:[a-z0-9_]+]]: tensor<4xi32> {kiln.name = "target"}) -> (tensor<f32> {kiln.name = "loss"}, tensor<4x3xf32> {kiln.name = "probs"})
// CHECK: %[[Z:[a-z0-9_]+]] = kiln.dense
// CHECK: %[[P:[a-z0-9_]+]] = kiln.softmax %[[Z]]
// CHECK: %[[L:[a-z0-9_]+]] = kiln.sparse_cce %[[Z]], %[[T]]
// CHECK: return %[[L]], %[[P]]
// BCE-LABEL: func.func @main
// BCE: %[[W:[a-z0-9_]+]] = kiln.param "w"
// BCE: %[[L:[a-z0-9_]+]] = kiln.bce %{{.+}}, %{{.+}} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
// BCE: %[[R:[a-z0-9_]+]] = kiln.regularizer %[[W]] {l2 = 1.000000e-02 : f64}
// BCE: %[[S:[a-z0-9_]+]] = kiln.add %[[L]], %[[R]]
// BCE: return %[[S]]
// HUBER: kiln.huber %{{.+}}, %{{.+}} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
func.func @main(%x: tensor<4x5xf32>) -> (tensor<4x3xf32> {kiln.name = "probs"}) {
  %w = kiln.param "w" : tensor<3x5xf32>
  %b = kiln.param "b" : tensor<3xf32>
  %z = kiln.dense %x, %w, %b : (tensor<4x5xf32>, tensor<3x5xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  %p = kiln.softmax %z : (tensor<4x3xf32>) -> tensor<4x3xf32>
  return %p : tensor<4x3xf32>
}

// -----

// bce on a sigmoid output becomes bce_logits on its input.
// CHECK-LABEL: func.func @sigmoid_out
// BCE-LABEL: func.func @sigmoid_out
// BCE: %[[Z:[a-z0-9_]+]] = kiln.dense
// BCE: kiln.bce_logits %[[Z]], %{{.+}}
func.func @sigmoid_out(%x: tensor<4x5xf32>) -> tensor<4x1xf32> {
  %w = kiln.param "w2" : tensor<1x5xf32>
  %z = kiln.dense %x, %w : (tensor<4x5xf32>, tensor<1x5xf32>) -> tensor<4x1xf32>
  %p = kiln.sigmoid %z : (tensor<4x1xf32>) -> tensor<4x1xf32>
  return %p : tensor<4x1xf32>
}
