// kiln-train-pipeline: what `kiln train` builds, the whole training step
// (loss, backward graph, optimizer updates written back, memory plan).
// RUN: kiln-opt %S/Inputs/conv-bn-net.mlir --pass-pipeline="builtin.module(kiln-train-pipeline{loss=sparse-cce optimizer=adam})" | FileCheck %s
// CHECK: func.func @main(
// CHECK-SAME: kiln.name = "target"
// CHECK-SAME: kiln.name = "lr"
// CHECK-SAME: kiln.name = "step"
// CHECK-SAME: kiln.arena_bytes = {{[0-9]+}}
// CHECK-DAG: kiln.batch_norm_train
// CHECK-DAG: kiln.batch_norm_grad
// CHECK-DAG: kiln.running_stats_update
// CHECK-DAG: kiln.sparse_cce
// CHECK-DAG: kiln.optimizer_update {{.*}}kind = "adam"
// CHECK-DAG: kiln.assign
