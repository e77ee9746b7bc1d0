// kiln-eval-pipeline: the evaluation step of `kiln train` (the loss with
// inference behaviour: BatchNorm on running statistics, folded; no update).
// RUN: kiln-opt %S/Inputs/conv-bn-net.mlir --pass-pipeline="builtin.module(kiln-eval-pipeline{loss=sparse-cce})" | FileCheck %s
// CHECK: func.func @main(
// CHECK-SAME: kiln.name = "target"
// CHECK-SAME: kiln.name = "loss"
// CHECK: kiln.fold_batch_norm
// CHECK: kiln.sparse_cce
// CHECK-NOT: kiln.optimizer_update
// CHECK-NOT: kiln.assign
// CHECK-NOT: kiln.batch_norm_train
