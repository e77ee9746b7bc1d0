// kiln-fuse's producer form: a 1x1 conv2d's epilogue chain whose only use is
// a depthwise conv2d becomes one kernel with that conv and its own chain;
// with projection=true, so does the 1x1 conv2d reading that kernel's value
// (with projection-max-columns=N only where the expanded plane is narrower
// than N columns: the pipelines' default is 40, docs/fusion.md).
// RUN: kiln-opt %s --split-input-file --kiln-fuse | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-fuse=producer=false | FileCheck %s --check-prefix=NOPROD
// RUN: kiln-opt %s --split-input-file --kiln-fuse | kiln-opt --split-input-file | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-fuse=projection=true | FileCheck %s --check-prefix=PROJ
// RUN: kiln-opt %s --split-input-file --kiln-fuse=projection=true | kiln-opt --split-input-file | FileCheck %s --check-prefix=PROJ
// RUN: kiln-opt %s --split-input-file "--kiln-fuse=projection=true projection-max-columns=21" | FileCheck %s --check-prefix=PROJ
// RUN: kiln-opt %s --split-input-file "--kiln-fuse=projection=true projection-max-columns=20" | FileCheck %s --check-prefix=NARROW

// CHECK-LABEL: func.func @expand_depthwise
// CHECK: %[[F:[a-z0-9_]+]] = kiln.fused "producer"(%arg0, %arg1, %arg2, %arg3, %arg4) : (tensor<2x4x9x9xf32>, tensor<12x4x1x1xf32>, tensor<12xf32>, tensor<12x1x3x3xf32>, tensor<12xf32>) -> tensor<2x12x5x5xf32> {
// CHECK-NEXT: ^bb0(%[[X:[a-z0-9_]+]]: {{.+}}, %[[WE:[a-z0-9_]+]]: {{.+}}, %[[BE:[a-z0-9_]+]]: {{.+}}, %[[WD:[a-z0-9_]+]]: {{.+}}, %[[BD:[a-z0-9_]+]]: {{.+}}):
// CHECK-NEXT: %[[E:[a-z0-9_]+]] = kiln.conv2d %[[X]], %[[WE]], %[[BE]] :
// CHECK-NEXT: %[[R:[a-z0-9_]+]] = kiln.relu6 %[[E]] :
// CHECK-NEXT: %[[D:[a-z0-9_]+]] = kiln.conv2d %[[R]], %[[WD]], %[[BD]] {groups = 12 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} :
// CHECK-NEXT: %[[Y:[a-z0-9_]+]] = kiln.relu6 %[[D]] :
// CHECK-NEXT: kiln.yield %[[Y]] : tensor<2x12x5x5xf32>
// CHECK: return %[[F]]
// NOPROD-LABEL: func.func @expand_depthwise
// NOPROD-NOT: "producer"
// NOPROD: kiln.fused "epilogue"
// NOPROD: kiln.fused "epilogue"
func.func @expand_depthwise(%x: tensor<2x4x9x9xf32>, %we: tensor<12x4x1x1xf32>, %be: tensor<12xf32>, %wd: tensor<12x1x3x3xf32>, %bd: tensor<12xf32>) -> tensor<2x12x5x5xf32> {
  %e = kiln.conv2d %x, %we, %be : (tensor<2x4x9x9xf32>, tensor<12x4x1x1xf32>, tensor<12xf32>) -> tensor<2x12x9x9xf32>
  %r = kiln.relu6 %e : (tensor<2x12x9x9xf32>) -> tensor<2x12x9x9xf32>
  %d = kiln.conv2d %r, %wd, %bd {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>, groups = 12 : i64} : (tensor<2x12x9x9xf32>, tensor<12x1x3x3xf32>, tensor<12xf32>) -> tensor<2x12x5x5xf32>
  %y = kiln.relu6 %d : (tensor<2x12x5x5xf32>) -> tensor<2x12x5x5xf32>
  return %y : tensor<2x12x5x5xf32>
}

// -----

// A depthwise conv2d without a chain of its own joins the 1x1's chain.
// CHECK-LABEL: func.func @depthwise_alone
// CHECK: kiln.fused "producer"
// CHECK: kiln.conv2d
// CHECK-NEXT: kiln.relu
// CHECK-NEXT: %[[D:[a-z0-9_]+]] = kiln.conv2d
// CHECK-NEXT: kiln.yield %[[D]]
func.func @depthwise_alone(%x: tensor<1x3x6x6xf32>, %we: tensor<8x3x1x1xf32>, %wd: tensor<8x1x3x3xf32>) -> tensor<1x8x6x6xf32> {
  %e = kiln.conv2d %x, %we : (tensor<1x3x6x6xf32>, tensor<8x3x1x1xf32>) -> tensor<1x8x6x6xf32>
  %r = kiln.relu %e : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %d = kiln.conv2d %r, %wd {pads = array<i64: 1, 1, 1, 1>, groups = 8 : i64} : (tensor<1x8x6x6xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x6x6xf32>
  return %d : tensor<1x8x6x6xf32>
}

// -----

// Not the producer form: the 1x1's value has a second use (here returned,
// as a training step keeps it for the backward pass); a strided 1x1; a 3x3
// producer; a grouped consumer that is not depthwise.
// CHECK-LABEL: func.func @not_producers
// CHECK-NOT: "producer"
// CHECK: return
func.func @not_producers(%x: tensor<1x4x8x8xf32>, %we: tensor<8x4x1x1xf32>, %w3: tensor<8x4x3x3xf32>, %wd: tensor<8x1x3x3xf32>, %wg: tensor<8x4x3x3xf32>) -> (tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>, tensor<1x8x4x4xf32>, tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>) {
  %e1 = kiln.conv2d %x, %we : (tensor<1x4x8x8xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x8x8xf32>
  %r1 = kiln.relu %e1 : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %d1 = kiln.conv2d %r1, %wd {pads = array<i64: 1, 1, 1, 1>, groups = 8 : i64} : (tensor<1x8x8x8xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x8x8xf32>
  %e2 = kiln.conv2d %x, %we {strides = array<i64: 2, 2>} : (tensor<1x4x8x8xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x4x4xf32>
  %r2 = kiln.relu %e2 : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %d2 = kiln.conv2d %r2, %wd {pads = array<i64: 1, 1, 1, 1>, groups = 8 : i64} : (tensor<1x8x4x4xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x4x4xf32>
  %e3 = kiln.conv2d %x, %w3 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x4x8x8xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x8x8xf32>
  %r3 = kiln.relu %e3 : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %d3 = kiln.conv2d %r3, %wd {pads = array<i64: 1, 1, 1, 1>, groups = 8 : i64} : (tensor<1x8x8x8xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x8x8xf32>
  %e4 = kiln.conv2d %x, %we : (tensor<1x4x8x8xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x8x8xf32>
  %r4 = kiln.relu %e4 : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %d4 = kiln.conv2d %r4, %wg {pads = array<i64: 1, 1, 1, 1>, groups = 2 : i64} : (tensor<1x8x8x8xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x8x8xf32>
  return %r1, %d1, %d2, %d3, %d4 : tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>, tensor<1x8x4x4xf32>, tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>
}

// -----

// The projection form (projection=true; off by default): the 1x1 conv2d
// reading a producer kernel's value, its only use, joins with its own chain
// (the residual add): MobileNetV2's inverted residual block, 20 columns.
// PROJ-LABEL: func.func @inverted_residual
// PROJ: %[[F:[a-z0-9_]+]] = kiln.fused "producer"(%arg0, %arg1, %arg2, %arg3)
// PROJ-NEXT: ^bb0(%[[X:[a-z0-9_]+]]: {{.+}}, %[[WE:[a-z0-9_]+]]: {{.+}}, %[[WD:[a-z0-9_]+]]: {{.+}}, %[[WP:[a-z0-9_]+]]: {{.+}}):
// PROJ-NEXT: %[[E:[a-z0-9_]+]] = kiln.conv2d %[[X]], %[[WE]] :
// PROJ-NEXT: %[[R:[a-z0-9_]+]] = kiln.relu6 %[[E]] :
// PROJ-NEXT: %[[D:[a-z0-9_]+]] = kiln.conv2d %[[R]], %[[WD]] {groups = 12 : i64
// PROJ-NEXT: %[[RD:[a-z0-9_]+]] = kiln.relu6 %[[D]] :
// PROJ-NEXT: %[[P:[a-z0-9_]+]] = kiln.conv2d %[[RD]], %[[WP]] :
// PROJ-NEXT: %[[S:[a-z0-9_]+]] = kiln.add %[[P]], %[[X]] :
// PROJ-NEXT: kiln.yield %[[S]] : tensor<1x4x20x20xf32>
// PROJ: return %[[F]]
// Under projection-max-columns=20 the 20-column block stays two kernels.
// NARROW-LABEL: func.func @inverted_residual
// NARROW: kiln.fused "producer"
// NARROW: kiln.fused "epilogue"
// NARROW-NEXT: ^bb0
// NARROW-NEXT: kiln.conv2d
// NARROW-NEXT: kiln.add
// CHECK-LABEL: func.func @inverted_residual
// CHECK: kiln.fused "producer"
// CHECK: kiln.fused "epilogue"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: kiln.conv2d
// CHECK-NEXT: kiln.add
func.func @inverted_residual(%x: tensor<1x4x20x20xf32>, %we: tensor<12x4x1x1xf32>, %wd: tensor<12x1x3x3xf32>, %wp: tensor<4x12x1x1xf32>) -> tensor<1x4x20x20xf32> {
  %e = kiln.conv2d %x, %we : (tensor<1x4x20x20xf32>, tensor<12x4x1x1xf32>) -> tensor<1x12x20x20xf32>
  %r = kiln.relu6 %e : (tensor<1x12x20x20xf32>) -> tensor<1x12x20x20xf32>
  %d = kiln.conv2d %r, %wd {pads = array<i64: 1, 1, 1, 1>, groups = 12 : i64} : (tensor<1x12x20x20xf32>, tensor<12x1x3x3xf32>) -> tensor<1x12x20x20xf32>
  %rd = kiln.relu6 %d : (tensor<1x12x20x20xf32>) -> tensor<1x12x20x20xf32>
  %p = kiln.conv2d %rd, %wp : (tensor<1x12x20x20xf32>, tensor<4x12x1x1xf32>) -> tensor<1x4x20x20xf32>
  %s = kiln.add %p, %x : (tensor<1x4x20x20xf32>, tensor<1x4x20x20xf32>) -> tensor<1x4x20x20xf32>
  return %s : tensor<1x4x20x20xf32>
}

// -----

// Not the projection form: a strided depthwise conv2d (its expanded rows
// left L1); depthwise output rows under 16 columns; the depthwise value
// read twice. The producers stay; the 1x1 conv2d after each stays alone.
// PROJ-LABEL: func.func @not_projections
// PROJ: kiln.fused "producer"{{.*}} -> tensor<1x12x16x16xf32>
// PROJ: kiln.conv2d %{{.*}} -> tensor<1x4x16x16xf32>
// PROJ: kiln.fused "producer"{{.*}} -> tensor<1x12x12x12xf32>
// PROJ: kiln.conv2d %{{.*}} -> tensor<1x4x12x12xf32>
// PROJ: kiln.fused "producer"{{.*}} -> tensor<1x12x32x32xf32>
// PROJ: kiln.conv2d %{{.*}} -> tensor<1x4x32x32xf32>
// PROJ: return
func.func @not_projections(%x: tensor<1x4x32x32xf32>, %y: tensor<1x4x12x12xf32>, %we: tensor<12x4x1x1xf32>, %wd: tensor<12x1x3x3xf32>, %wp: tensor<4x12x1x1xf32>) -> (tensor<1x4x16x16xf32>, tensor<1x4x12x12xf32>, tensor<1x4x32x32xf32>, tensor<1x12x32x32xf32>) {
  %e1 = kiln.conv2d %x, %we : (tensor<1x4x32x32xf32>, tensor<12x4x1x1xf32>) -> tensor<1x12x32x32xf32>
  %r1 = kiln.relu6 %e1 : (tensor<1x12x32x32xf32>) -> tensor<1x12x32x32xf32>
  %d1 = kiln.conv2d %r1, %wd {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>, groups = 12 : i64} : (tensor<1x12x32x32xf32>, tensor<12x1x3x3xf32>) -> tensor<1x12x16x16xf32>
  %p1 = kiln.conv2d %d1, %wp : (tensor<1x12x16x16xf32>, tensor<4x12x1x1xf32>) -> tensor<1x4x16x16xf32>
  %e2 = kiln.conv2d %y, %we : (tensor<1x4x12x12xf32>, tensor<12x4x1x1xf32>) -> tensor<1x12x12x12xf32>
  %r2 = kiln.relu6 %e2 : (tensor<1x12x12x12xf32>) -> tensor<1x12x12x12xf32>
  %d2 = kiln.conv2d %r2, %wd {pads = array<i64: 1, 1, 1, 1>, groups = 12 : i64} : (tensor<1x12x12x12xf32>, tensor<12x1x3x3xf32>) -> tensor<1x12x12x12xf32>
  %p2 = kiln.conv2d %d2, %wp : (tensor<1x12x12x12xf32>, tensor<4x12x1x1xf32>) -> tensor<1x4x12x12xf32>
  %e3 = kiln.conv2d %x, %we : (tensor<1x4x32x32xf32>, tensor<12x4x1x1xf32>) -> tensor<1x12x32x32xf32>
  %r3 = kiln.relu6 %e3 : (tensor<1x12x32x32xf32>) -> tensor<1x12x32x32xf32>
  %d3 = kiln.conv2d %r3, %wd {pads = array<i64: 1, 1, 1, 1>, groups = 12 : i64} : (tensor<1x12x32x32xf32>, tensor<12x1x3x3xf32>) -> tensor<1x12x32x32xf32>
  %p3 = kiln.conv2d %d3, %wp : (tensor<1x12x32x32xf32>, tensor<4x12x1x1xf32>) -> tensor<1x4x32x32xf32>
  return %p1, %p2, %p3, %d3 : tensor<1x4x16x16xf32>, tensor<1x4x12x12xf32>, tensor<1x4x32x32xf32>, tensor<1x12x32x32xf32>
}

// -----

// Without expansion (MobileNetV2's first block): a depthwise conv2d's chain
// whose only use is a 1x1 conv2d joins it under projection=true, whatever
// projection-max-columns (no expanded rows to keep in cache). Not at stride
// 2, nor on planes under 20 columns: the 1x1 conv2d then stays alone.
// PROJ-LABEL: func.func @depthwise_projection
// PROJ: %[[F:[a-z0-9_]+]] = kiln.fused "producer"(%arg0, %arg2, %arg3)
// PROJ-NEXT: ^bb0(%[[X:[a-z0-9_]+]]: {{.+}}, %[[WD:[a-z0-9_]+]]: {{.+}}, %[[WP:[a-z0-9_]+]]: {{.+}}):
// PROJ-NEXT: %[[D:[a-z0-9_]+]] = kiln.conv2d %[[X]], %[[WD]] {groups = 12 : i64
// PROJ-NEXT: %[[R:[a-z0-9_]+]] = kiln.relu6 %[[D]] :
// PROJ-NEXT: %[[P:[a-z0-9_]+]] = kiln.conv2d %[[R]], %[[WP]] :
// PROJ-NEXT: kiln.yield %[[P]] : tensor<1x4x24x24xf32>
// PROJ: kiln.fused "epilogue"{{.*}} -> tensor<1x12x12x12xf32>
// PROJ: kiln.conv2d %{{.*}} -> tensor<1x4x12x12xf32>
// PROJ: kiln.fused "epilogue"{{.*}} -> tensor<1x12x12x12xf32>
// PROJ: kiln.conv2d %{{.*}} -> tensor<1x4x12x12xf32>
// PROJ: return %[[F]]
// NARROW-LABEL: func.func @depthwise_projection
// NARROW: kiln.fused "producer"(%arg0, %arg2, %arg3)
// CHECK-LABEL: func.func @depthwise_projection
// CHECK-NOT: kiln.fused "producer"
// CHECK: return
func.func @depthwise_projection(%x: tensor<1x12x24x24xf32>, %y: tensor<1x12x12x12xf32>, %wd: tensor<12x1x3x3xf32>, %wp: tensor<4x12x1x1xf32>) -> (tensor<1x4x24x24xf32>, tensor<1x4x12x12xf32>, tensor<1x4x12x12xf32>) {
  %d1 = kiln.conv2d %x, %wd {pads = array<i64: 1, 1, 1, 1>, groups = 12 : i64} : (tensor<1x12x24x24xf32>, tensor<12x1x3x3xf32>) -> tensor<1x12x24x24xf32>
  %r1 = kiln.relu6 %d1 : (tensor<1x12x24x24xf32>) -> tensor<1x12x24x24xf32>
  %p1 = kiln.conv2d %r1, %wp : (tensor<1x12x24x24xf32>, tensor<4x12x1x1xf32>) -> tensor<1x4x24x24xf32>
  %d2 = kiln.conv2d %y, %wd {pads = array<i64: 1, 1, 1, 1>, groups = 12 : i64} : (tensor<1x12x12x12xf32>, tensor<12x1x3x3xf32>) -> tensor<1x12x12x12xf32>
  %r2 = kiln.relu6 %d2 : (tensor<1x12x12x12xf32>) -> tensor<1x12x12x12xf32>
  %p2 = kiln.conv2d %r2, %wp : (tensor<1x12x12x12xf32>, tensor<4x12x1x1xf32>) -> tensor<1x4x12x12xf32>
  %d3 = kiln.conv2d %x, %wd {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>, groups = 12 : i64} : (tensor<1x12x24x24xf32>, tensor<12x1x3x3xf32>) -> tensor<1x12x12x12xf32>
  %r3 = kiln.relu6 %d3 : (tensor<1x12x12x12xf32>) -> tensor<1x12x12x12xf32>
  %p3 = kiln.conv2d %r3, %wp : (tensor<1x12x12x12xf32>, tensor<4x12x1x1xf32>) -> tensor<1x4x12x12xf32>
  return %p1, %p2, %p3 : tensor<1x4x24x24xf32>, tensor<1x4x12x12xf32>, tensor<1x4x12x12xf32>
}
