// RUN: kiln-opt %s --split-input-file --kiln-optimizer=kind=adam | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-optimizer="kind=momentum momentum=0.5 weight-decay=0.01" | FileCheck %s --check-prefix=MOM
// RUN: kiln-opt %s --split-input-file --kiln-optimizer=kind=lion --verify-diagnostics
// RUN: kiln-opt %s --split-input-file --kiln-optimizer="kind=sgd grad-norms=true" | FileCheck %s --check-prefix=NORMS

// CHECK-LABEL: func.func @main
// CHECK-SAME: %[[LR:[a-z0-9_]+]]: tensor<f32> {kiln.name = "lr"}, %[[STEP:[a-z0-9_]+]]: tensor<f32> {kiln.name = "step"}) -> (tensor<f32> {kiln.name = "loss"})
// CHECK-DAG: %[[M:[a-z0-9_]+]] = kiln.param "w.adam.exp_avg" : tensor<3xf32>
// CHECK-DAG: %[[V:[a-z0-9_]+]] = kiln.param "w.adam.exp_avg_sq" : tensor<3xf32>
// CHECK: %[[W:[a-z0-9_]+]] = kiln.param "w" : tensor<3xf32>
// CHECK: %[[U:[a-z0-9_]+]]:3 = kiln.optimizer_update %[[W]], %{{.+}}, %[[LR]], %[[STEP]], %[[M]], %[[V]] {hyper = {beta1 = 9.000000e-01 : f64, beta2 = 0.99899999999999999 : f64, clip_value = 0.000000e+00 : f64, epsilon = 1.000000e-08 : f64, weight_decay = 0.000000e+00 : f64}, kind = "adam"}
// CHECK: kiln.assign %[[W]], %[[U]]#0
// CHECK: kiln.assign %[[M]], %[[U]]#1
// CHECK: kiln.assign %[[V]], %[[U]]#2
// MOM: kiln.param "w.momentum.momentum_buffer"
// MOM: kiln.optimizer_update {{.*}} {hyper = {clip_value = 0.000000e+00 : f64, dampening = 0.000000e+00 : f64, momentum = 5.000000e-01 : f64, weight_decay = 1.000000e-02 : f64}, kind = "momentum"}
// grad-norms: the sums of squares of the gradient, the weight before the
// update and the update's change, returned after the loss.
// NORMS: func.func @main({{.*}}) -> (tensor<f32> {kiln.name = "loss"}, tensor<f32> {kiln.name = "grad_sq:w"}, tensor<f32> {kiln.name = "weight_sq:w"}, tensor<f32> {kiln.name = "update_sq:w"})
// NORMS: %[[W:[a-z0-9_]+]] = kiln.param "w" : tensor<3xf32>
// NORMS: %[[G:[a-z0-9_]+]] = kiln.sub %[[W]], %arg0
// NORMS: %[[U:[a-z0-9_]+]] = kiln.optimizer_update %[[W]], %[[G]]
// NORMS: kiln.assign %[[W]], %[[U]]
// NORMS: %[[D:[a-z0-9_]+]] = kiln.sub %[[U]], %[[W]]
// NORMS: %[[GS:[a-z0-9_]+]] = kiln.regularizer %[[G]] {l2 = 1.000000e+00 : f64}
// NORMS: %[[WS:[a-z0-9_]+]] = kiln.regularizer %[[W]] {l2 = 1.000000e+00 : f64}
// NORMS: %[[US:[a-z0-9_]+]] = kiln.regularizer %[[D]] {l2 = 1.000000e+00 : f64}
// NORMS: return %{{.+}}, %[[GS]], %[[WS]], %[[US]] : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>
// expected-error @+1 {{unknown optimizer 'lion'}}
func.func @main(%t: tensor<3xf32>) -> (tensor<f32> {kiln.name = "loss"}, tensor<3xf32> {kiln.name = "grad:w"}) {
  %w = kiln.param "w" : tensor<3xf32>
  %l = kiln.mse %w, %t : (tensor<3xf32>, tensor<3xf32>) -> tensor<f32>
  %g = kiln.sub %w, %t : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %l, %g : tensor<f32>, tensor<3xf32>
}

// -----

// Hyperparameters must be finite and in range.
// RUN: not kiln-opt %s --split-input-file --kiln-optimizer="kind=adam beta1=1.0" 2>&1 | FileCheck %s --check-prefix=RANGE
// RANGE: optimizer adam: beta1 must be in [0, 1), got 1.00
