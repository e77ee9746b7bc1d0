// RUN: kiln-opt %s --kiln-training-mode | FileCheck %s
// RUN: kiln-opt %s --kiln-training-mode=dropout-rate=0.3 | FileCheck %s --check-prefix=RATE
// RUN: not kiln-opt %s --kiln-training-mode=dropout-rate=1.5 2>&1 | FileCheck %s --check-prefix=BAD

// dropout-rate sets every dropout's rate (kiln tune --dropout).
// RATE: kiln.dropout_train %{{.+}}, %{{.+}} {rate = 3.000000e-01 : f32, salt = 1 : i64}
// RATE: kiln.dropout_train %{{.+}}, %{{.+}} {rate = 3.000000e-01 : f32, salt = 2 : i64}
// BAD: dropout-rate must be in [0, 1), got 1.5

// Batch norm uses batch statistics and writes its running statistics back;
// dropout draws its mask from the new seed argument, one salt per op.
// CHECK-LABEL: func.func @main
// CHECK-SAME: %[[SEED:[a-z0-9_]+]]: tensor<i32> {kiln.name = "seed"}
// CHECK: %[[RM:[a-z0-9_]+]] = kiln.param "bn.running_mean"
// CHECK: %[[RV:[a-z0-9_]+]] = kiln.param "bn.running_var"
// CHECK: %[[Y:[a-z0-9_]+]], %[[M:[a-z0-9_]+]], %[[V:[a-z0-9_]+]] = kiln.batch_norm_train %{{.+}}, %{{.+}}, %{{.+}} {epsilon = 1.000000e-03 : f32}
// CHECK: %[[NM:[a-z0-9_]+]], %[[NV:[a-z0-9_]+]] = kiln.running_stats_update %[[RM]], %[[RV]], %[[M]], %[[V]] {count = 32 : i64, momentum = 2.000000e-01 : f32}
// CHECK: kiln.assign %[[RM]], %[[NM]]
// CHECK: kiln.assign %[[RV]], %[[NV]]
// CHECK: %[[D:[a-z0-9_]+]] = kiln.dropout_train %[[Y]], %[[SEED]] {rate = 5.000000e-01 : f32, salt = 1 : i64}
// CHECK: %[[E:[a-z0-9_]+]] = kiln.dropout_train %[[D]], %[[SEED]] {rate = 1.000000e-01 : f32, salt = 2 : i64}
// CHECK: return %[[E]]
func.func @main(%x: tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32> {
  %g = kiln.param "bn.weight" {init = "ones"} : tensor<3xf32>
  %b = kiln.param "bn.bias" : tensor<3xf32>
  %m = kiln.param "bn.running_mean" : tensor<3xf32>
  %v = kiln.param "bn.running_var" {init = "ones"} : tensor<3xf32>
  %y = kiln.batch_norm %x, %g, %b, %m, %v {epsilon = 1.0e-3 : f32, momentum = 0.2 : f32} : (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3x4x4xf32>
  %d = kiln.dropout %y : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %e = kiln.dropout %d {rate = 0.1 : f32} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  return %e : tensor<2x3x4x4xf32>
}
