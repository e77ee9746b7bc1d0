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

// With pack-weights (kiln sets the target's float vector width), the folded
// weight of a strided conv is packed by kiln-pack-weights after the fold,
// and both run at load time; the fused conv reads the packed weight.
// RUN: kiln-opt %S/Inputs/strided-bn-net.mlir --pass-pipeline="builtin.module(kiln-inference-pipeline{pack-weights=16})" | FileCheck %s --check-prefix=PACK
// RUN: kiln-opt %S/Inputs/strided-bn-net.mlir --pass-pipeline="builtin.module(kiln-inference-pipeline)" | FileCheck %s --check-prefix=NOPACK
// PACK: %[[W:[a-z0-9_]+]], %{{.+}} = kiln.fold_batch_norm {{.*}}kiln.load_time
// PACK: %[[R:[a-z0-9_]+]] = kiln.reshape %[[W]]
// PACK: %[[P:[a-z0-9_]+]] = kiln.transpose %[[R]] {{{.*}}kiln.load_time{{.*}}perm = array<i64: 0, 2, 3, 4, 1>} : (tensor<2x16x16x3x3xf32>) -> tensor<2x16x3x3x16xf32>
// PACK: kiln.fused "epilogue"(%arg0, %[[P]], 
// NOPACK-NOT: kiln.transpose
