// RUN: kiln-opt %s --split-input-file --kiln-training-mode --kiln-augment="spec=flip-h,shift=2,rotate=15,zoom=0.1,noise=0.05" | FileCheck %s
// RUN: kiln-opt %s --split-input-file --kiln-training-mode --kiln-augment="spec=flip-h,spin=3" --verify-diagnostics

// The image input goes through kiln.augment (seeded by the step's seed)
// before the model reads it; the labels do not.
// CHECK-LABEL: func.func @main
// CHECK-SAME: (%[[X:[a-z0-9_]+]]: tensor<4x1x8x8xf32> {kiln.name = "image"}, %[[T:[a-z0-9_]+]]: tensor<4xi32> {kiln.name = "target"}, %[[SEED:[a-z0-9_]+]]: tensor<i32> {kiln.name = "seed"})
// CHECK: %[[A:[a-z0-9_]+]] = kiln.augment %[[X]], %[[SEED]] {flip_h = true, noise = 5.000000e-02 : f64, rotate = 1.500000e+01 : f64, shift = 2.000000e+00 : f64, zoom = 1.000000e-01 : f64}
// CHECK: kiln.flatten %[[A]]
// expected-error @+1 {{--augment: 'spin=3' is not one of flip-h, flip-v, shift=P, rotate=D, zoom=Z (below 1), noise=S with non-negative numbers}}
func.func @main(%x: tensor<4x1x8x8xf32> {kiln.name = "image"}, %t: tensor<4xi32> {kiln.name = "target"}) -> tensor<4x64xf32> {
  %f = kiln.flatten %x : (tensor<4x1x8x8xf32>) -> tensor<4x64xf32>
  return %f : tensor<4x64xf32>
}
