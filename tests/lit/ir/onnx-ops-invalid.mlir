// Every verifier message of the ONNX data-path ops.
// RUN: kiln-opt %s --split-input-file --verify-diagnostics

func.func @clip_range(%x: tensor<4xf32>) {
  // expected-error @+1 {{needs min <= max, got min = 2.000000e+00, max = 1.000000e+00}}
  %y = kiln.clip %x {min = 2.0 : f32, max = 1.0 : f32} : (tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @transpose_perm(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{perm must be a permutation of 0..1}}
  %y = kiln.transpose %x {perm = array<i64: 0, 0>} : (tensor<2x3xf32>) -> tensor<2x2xf32>
  return
}

// -----

func.func @transpose_rank(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{perm has 3 entries for an input of rank 2}}
  %y = kiln.transpose %x {perm = array<i64: 0, 1, 2>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @transpose_shape(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{result #0 has type 'tensor<2x3xf32>' but its operands imply 'tensor<3x2xf32>'}}
  %y = kiln.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @pad_count(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{pads has 2 entries, expected 2 * rank = 4}}
  %y = kiln.pad %x {pads = array<i64: 1, 1>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @pad_mode(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{mode must be constant, reflect or edge, got 'wrap'}}
  %y = kiln.pad %x {pads = array<i64: 0, 0, 0, 0>, mode = "wrap"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @pad_crop(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{pads -2, 0 leave nothing of dim 0 (size 2)}}
  %y = kiln.pad %x {pads = array<i64: -2, 0, 0, 0>} : (tensor<2x3xf32>) -> tensor<1x3xf32>
  return
}

// -----

func.func @pad_reflect(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{reflect padding of dim 0 must be smaller than its size 2}}
  %y = kiln.pad %x {pads = array<i64: 2, 0, 0, 0>, mode = "reflect"} : (tensor<2x3xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @pow_broadcast(%a: tensor<2x3xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{cannot broadcast 'tensor<2x3xf32>' with 'tensor<4xf32>'}}
  %y = kiln.pow %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return
}
