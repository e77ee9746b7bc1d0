// Every op parses, verifies and prints back to text that parses to the same.
// RUN: kiln-opt %s --split-input-file | kiln-opt --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @params
func.func @params() -> (tensor<8x1x3x3xf32>, tensor<8xf32>, tensor<2xf32>) {
  // CHECK: kiln.param "conv1.weight" {init = "he_uniform"} : tensor<8x1x3x3xf32>
  %w = kiln.param "conv1.weight" {init = "he_uniform"} : tensor<8x1x3x3xf32>
  // CHECK: kiln.param "conv1.bias" {fan_in = 9 : i64, init = "torch_default"} : tensor<8xf32>
  %b = kiln.param "conv1.bias" {init = "torch_default", fan_in = 9} : tensor<8xf32>
  // CHECK: kiln.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
  %c = kiln.constant dense<[1.0, 2.0]> : tensor<2xf32>
  return %w, %b, %c : tensor<8x1x3x3xf32>, tensor<8xf32>, tensor<2xf32>
}

// -----

// CHECK-LABEL: func.func @layers
func.func @layers(%x: tensor<2x4x9x9xf32>, %w: tensor<6x2x3x3xf32>, %b: tensor<6xf32>,
                  %fw: tensor<5x24xf32>, %fb: tensor<5xf32>, %c: tensor<6xf32>)
    -> (tensor<2x6x4x4xf32>, tensor<2x6x1x1xf32>, tensor<16x5xf32>, tensor<384x1xf32>) {
  // CHECK: kiln.conv2d %{{.+}} {dilations = array<i64: 2, 2>, groups = 2 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>}
  %0 = kiln.conv2d %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 2, 2>, groups = 2}
      : (tensor<2x4x9x9xf32>, tensor<6x2x3x3xf32>, tensor<6xf32>) -> tensor<2x6x4x4xf32>
  // CHECK: kiln.conv2d %{{.+}} {auto_pad = "same_upper", groups = 2 : i64, strides = array<i64: 2, 2>} : (tensor<2x4x9x9xf32>, tensor<6x2x3x3xf32>) -> tensor<2x6x5x5xf32>
  %1 = kiln.conv2d %x, %w {auto_pad = "same_upper", strides = array<i64: 2, 2>, groups = 2}
      : (tensor<2x4x9x9xf32>, tensor<6x2x3x3xf32>) -> tensor<2x6x5x5xf32>
  // CHECK: kiln.batch_norm %{{.+}} {epsilon = 1.000000e-03 : f32, training = true}
  %2 = kiln.batch_norm %1, %c, %c, %c, %c {epsilon = 1.0e-3 : f32, training = true}
      : (tensor<2x6x5x5xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<2x6x5x5xf32>
  // CHECK: kiln.max_pool2d %{{.+}} {ceil_mode = true, kernel = array<i64: 2, 2>} : (tensor<2x6x5x5xf32>) -> tensor<2x6x3x3xf32>
  %3 = kiln.max_pool2d %2 {kernel = array<i64: 2, 2>, ceil_mode = true}
      : (tensor<2x6x5x5xf32>) -> tensor<2x6x3x3xf32>
  // CHECK: kiln.avg_pool2d %{{.+}} {count_include_pad = false, kernel = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>}
  %4 = kiln.avg_pool2d %3 {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = false}
      : (tensor<2x6x3x3xf32>) -> tensor<2x6x3x3xf32>
  // CHECK: kiln.global_avg_pool %{{.+}} : (tensor<2x6x3x3xf32>) -> tensor<2x6x1x1xf32>
  %5 = kiln.global_avg_pool %4 : (tensor<2x6x3x3xf32>) -> tensor<2x6x1x1xf32>
  // CHECK: kiln.flatten %{{.+}} : (tensor<2x6x4x4xf32>) -> tensor<2x96xf32>
  %6 = kiln.flatten %0 : (tensor<2x6x4x4xf32>) -> tensor<2x96xf32>
  // CHECK: kiln.reshape %{{.+}} {shape = array<i64: 0, 4, -1>} : (tensor<2x96xf32>) -> tensor<2x4x24xf32>
  %7 = kiln.reshape %6 {shape = array<i64: 0, 4, -1>} : (tensor<2x96xf32>) -> tensor<2x4x24xf32>
  // CHECK: kiln.dropout %{{.+}} {rate = 2.500000e-01 : f32}
  %8 = kiln.dropout %7 {rate = 0.25 : f32} : (tensor<2x4x24xf32>) -> tensor<2x4x24xf32>
  // CHECK: kiln.layer_norm %{{.+}} {axis = 2 : i64, epsilon = 1.000000e-03 : f32} : (tensor<2x4x24xf32>, tensor<24xf32>, tensor<24xf32>) -> tensor<2x4x24xf32>
  %lw = kiln.param "ln.weight" {init = "ones"} : tensor<24xf32>
  %9 = kiln.layer_norm %8, %lw, %lw {axis = 2, epsilon = 1.0e-3 : f32}
      : (tensor<2x4x24xf32>, tensor<24xf32>, tensor<24xf32>) -> tensor<2x4x24xf32>
  // CHECK: kiln.flatten %{{.+}} {axis = 2 : i64} : (tensor<2x4x24xf32>) -> tensor<8x24xf32>
  %10 = kiln.flatten %9 {axis = 2} : (tensor<2x4x24xf32>) -> tensor<8x24xf32>
  // CHECK: kiln.concat %{{.+}}, %{{.+}} {axis = 0 : i64} : (tensor<8x24xf32>, tensor<8x24xf32>) -> tensor<16x24xf32>
  %11 = kiln.concat %10, %10 {axis = 0} : (tensor<8x24xf32>, tensor<8x24xf32>) -> tensor<16x24xf32>
  // CHECK: kiln.concat %{{.+}}, %{{.+}} {axis = -1 : i64} : (tensor<8x24xf32>, tensor<8x24xf32>) -> tensor<8x48xf32>
  %12 = kiln.concat %10, %10 {axis = -1} : (tensor<8x24xf32>, tensor<8x24xf32>) -> tensor<8x48xf32>
  %13 = kiln.reshape %12 {shape = array<i64: 16, 24>} : (tensor<8x48xf32>) -> tensor<16x24xf32>
  // CHECK: kiln.add %{{.+}}, %{{.+}} : (tensor<16x24xf32>, tensor<16x24xf32>) -> tensor<16x24xf32>
  %14 = kiln.add %11, %13 : (tensor<16x24xf32>, tensor<16x24xf32>) -> tensor<16x24xf32>
  // CHECK: kiln.sub %{{.+}}, %{{.+}} : (tensor<16x24xf32>, tensor<24xf32>) -> tensor<16x24xf32>
  %15 = kiln.sub %14, %lw : (tensor<16x24xf32>, tensor<24xf32>) -> tensor<16x24xf32>
  // CHECK: kiln.mul %{{.+}}, %{{.+}} : (tensor<16x1xf32>, tensor<24xf32>) -> tensor<16x24xf32>
  %s = kiln.reshape %15 {shape = array<i64: 384, 1>} : (tensor<16x24xf32>) -> tensor<384x1xf32>
  %col = kiln.constant dense<2.0> : tensor<16x1xf32>
  %16 = kiln.mul %col, %lw : (tensor<16x1xf32>, tensor<24xf32>) -> tensor<16x24xf32>
  // CHECK: kiln.div %{{.+}}, %{{.+}} : (tensor<16x24xf32>, tensor<16x24xf32>) -> tensor<16x24xf32>
  %17 = kiln.div %16, %15 : (tensor<16x24xf32>, tensor<16x24xf32>) -> tensor<16x24xf32>
  %18 = kiln.reshape %17 {shape = array<i64: 2, 192>} : (tensor<16x24xf32>) -> tensor<2x192xf32>
  // CHECK: kiln.identity %{{.+}} : (tensor<2x192xf32>) -> tensor<2x192xf32>
  %19 = kiln.identity %18 : (tensor<2x192xf32>) -> tensor<2x192xf32>
  %20 = kiln.reshape %19 {shape = array<i64: 16, 24>} : (tensor<2x192xf32>) -> tensor<16x24xf32>
  // CHECK: kiln.dense %{{.+}}, %{{.+}}, %{{.+}} : (tensor<16x24xf32>, tensor<5x24xf32>, tensor<5xf32>) -> tensor<16x5xf32>
  %21 = kiln.dense %20, %fw, %fb : (tensor<16x24xf32>, tensor<5x24xf32>, tensor<5xf32>) -> tensor<16x5xf32>
  // CHECK: kiln.dense %{{.+}}, %{{.+}} : (tensor<16x24xf32>, tensor<5x24xf32>) -> tensor<16x5xf32>
  %22 = kiln.dense %20, %fw : (tensor<16x24xf32>, tensor<5x24xf32>) -> tensor<16x5xf32>
  return %0, %5, %22, %s : tensor<2x6x4x4xf32>, tensor<2x6x1x1xf32>, tensor<16x5xf32>, tensor<384x1xf32>
}
