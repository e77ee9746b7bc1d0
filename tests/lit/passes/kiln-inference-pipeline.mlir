// kiln-inference-pipeline: what `kiln run` applies (shape inference at the
// asked batch, BN folding hoisted to load time, fusion, memory planning).
// RUN: kiln-opt %S/Inputs/conv-bn-net.mlir --pass-pipeline="builtin.module(kiln-inference-pipeline{batch=5})" | FileCheck %s
// RUN: kiln-opt %S/Inputs/conv-bn-net.mlir --pass-pipeline="builtin.module(kiln-inference-pipeline{fuse=false})" | FileCheck %s --check-prefix=NOFUSE
// CHECK: func.func @main(%{{.+}}: tensor<5x1x6x6xf32>
// CHECK-SAME: kiln.arena_bytes = {{[0-9]+}}
// CHECK: kiln.fold_batch_norm {{.*}}kiln.load_time
// CHECK: kiln.fused
// CHECK-NOT: kiln.batch_norm
// NOFUSE-NOT: kiln.fused
// NOFUSE-NOT: kiln.fold_batch_norm
// NOFUSE: kiln.batch_norm
