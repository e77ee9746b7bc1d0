// Every verifier message of the kiln dialect.
// RUN: kiln-opt %s --split-input-file --verify-diagnostics

func.func @param_init() {
  // expected-error @+1 {{parameter 'w' has unknown initializer 'bogus'}}
  %w = kiln.param "w" {init = "bogus"} : tensor<2xf32>
  return
}

// -----

func.func @param_name() {
  // expected-error @+1 {{needs a non-empty name}}
  %w = kiln.param "" : tensor<2xf32>
  return
}

// -----

func.func @result_mismatch(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{result #0 has type 'tensor<2x4xf32>' but its operands imply 'tensor<2x3xf32>'}}
  %y = kiln.relu %x : (tensor<2x3xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @dense_features(%x: tensor<2x3xf32>, %w: tensor<4x5xf32>) {
  // expected-error @+1 {{input features 3 of 'tensor<2x3xf32>' do not match weight 'tensor<4x5xf32>' (expects [O,3])}}
  %y = kiln.dense %x, %w : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @dense_rank(%x: tensor<2x3x1xf32>, %w: tensor<4x3xf32>) {
  // expected-error @+1 {{expects input [N,K] and weight [O,K]}}
  %y = kiln.dense %x, %w : (tensor<2x3x1xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @dense_bias(%x: tensor<2x3xf32>, %w: tensor<4x3xf32>, %b: tensor<5xf32>) {
  // expected-error @+1 {{bias 'tensor<5xf32>' does not match weight 'tensor<4x3xf32>' (expects [4])}}
  %y = kiln.dense %x, %w, %b : (tensor<2x3xf32>, tensor<4x3xf32>, tensor<5xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @conv_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+1 {{input channels 3 of 'tensor<1x3x8x8xf32>' do not match weight 'tensor<4x2x3x3xf32>' with groups 1 (expects [O,3,KH,KW])}}
  %y = kiln.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_groups(%x: tensor<1x4x8x8xf32>, %w: tensor<5x2x3x3xf32>) {
  // expected-error @+1 {{groups 2 must divide the input channels 4 and output channels 5}}
  %y = kiln.conv2d %x, %w {groups = 2} : (tensor<1x4x8x8xf32>, tensor<5x2x3x3xf32>) -> tensor<1x5x6x6xf32>
  return
}

// -----

func.func @conv_packed_groups(%x: tensor<1x4x8x8xf32>, %w: tensor<1x2x3x3x16xf32>) {
  // expected-error @+1 {{a packed weight 'tensor<1x2x3x3x16xf32>' needs groups 1, got 2}}
  %y = kiln.conv2d %x, %w {groups = 2} : (tensor<1x4x8x8xf32>, tensor<1x2x3x3x16xf32>) -> tensor<1x16x6x6xf32>
  return
}

// -----

func.func @conv_packed_channels(%x: tensor<1x4x8x8xf32>, %w: tensor<1x2x3x3x16xf32>) {
  // expected-error @+1 {{input channels 4 of 'tensor<1x4x8x8xf32>' do not match weight 'tensor<1x2x3x3x16xf32>' with groups 1}}
  %y = kiln.conv2d %x, %w : (tensor<1x4x8x8xf32>, tensor<1x2x3x3x16xf32>) -> tensor<1x16x6x6xf32>
  return
}

// -----

func.func @conv_rank(%x: tensor<3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{expects input [N,C,H,W] and weight [O,C/groups,KH,KW]}}
  %y = kiln.conv2d %x, %w : (tensor<3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_bias(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{bias 'tensor<3xf32>' does not match 4 output channels}}
  %y = kiln.conv2d %x, %w, %b : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<3xf32>) -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_pads(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{expects 4 pads [top, left, bottom, right], got 2}}
  %y = kiln.conv2d %x, %w {pads = array<i64: 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  return
}

// -----

func.func @conv_negative_pad(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{pads must be >= 0, got -1}}
  %y = kiln.conv2d %x, %w {pads = array<i64: -1, 0, 0, 0>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_stride(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{kernel, strides and dilations must be >= 1, got kernel 3, stride 0, dilation 1}}
  %y = kiln.conv2d %x, %w {strides = array<i64: 0, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_strides_count(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{expects 2 strides and 2 dilations, got 1 and 2}}
  %y = kiln.conv2d %x, %w {strides = array<i64: 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  return
}

// -----

func.func @conv_too_small(%x: tensor<1x3x2x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{window of extent 3 does not fit the padded height 2}}
  %y = kiln.conv2d %x, %w : (tensor<1x3x2x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x1x6xf32>
  return
}

// -----

func.func @conv_auto_pad(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{unknown auto_pad 'same' (expected notset, valid, same_upper or same_lower)}}
  %y = kiln.conv2d %x, %w {auto_pad = "same"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  return
}

// -----

func.func @pool_kernel(%x: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{expects a kernel of 2 sizes, got 3}}
  %y = kiln.max_pool2d %x {kernel = array<i64: 2, 2, 2>} : (tensor<1x3x8x8xf32>) -> tensor<1x3x4x4xf32>
  return
}

// -----

func.func @pool_rank(%x: tensor<3x8x8xf32>) {
  // expected-error @+1 {{expects input [N,C,H,W], got 'tensor<3x8x8xf32>'}}
  %y = kiln.avg_pool2d %x {kernel = array<i64: 2, 2>} : (tensor<3x8x8xf32>) -> tensor<3x4x4xf32>
  return
}

// -----

func.func @gap_rank(%x: tensor<3x8xf32>) {
  // expected-error @+1 {{expects input [N,C,H,W], got 'tensor<3x8xf32>'}}
  %y = kiln.global_avg_pool %x : (tensor<3x8xf32>) -> tensor<3x8x1x1xf32>
  return
}

// -----

func.func @bn_channels(%x: tensor<2x3x4x4xf32>, %c: tensor<4xf32>) {
  // expected-error @+1 {{per-channel operand 'tensor<4xf32>' does not match 3 channels of 'tensor<2x3x4x4xf32>'}}
  %y = kiln.batch_norm %x, %c, %c, %c, %c : (tensor<2x3x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x3x4x4xf32>
  return
}

// -----

func.func @bn_rank(%x: tensor<3xf32>, %c: tensor<3xf32>) {
  // expected-error @+1 {{expects input [N,C,...] of rank >= 2, got 'tensor<3xf32>'}}
  %y = kiln.batch_norm %x, %c, %c, %c, %c : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return
}

// -----

func.func @ln_shape(%x: tensor<2x5xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{scale/bias 'tensor<4xf32>' must have the normalized shape of 'tensor<2x5xf32>' from axis 1}}
  %y = kiln.layer_norm %x, %w : (tensor<2x5xf32>, tensor<4xf32>) -> tensor<2x5xf32>
  return
}

// -----

func.func @ln_axis(%x: tensor<2x5xf32>, %w: tensor<5xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %y = kiln.layer_norm %x, %w {axis = 2} : (tensor<2x5xf32>, tensor<5xf32>) -> tensor<2x5xf32>
  return
}

// -----

func.func @broadcast(%a: tensor<2x3xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{cannot broadcast 'tensor<2x3xf32>' with 'tensor<4xf32>': dim 1 is 3 vs 4}}
  %y = kiln.add %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @concat_shape(%a: tensor<2x3xf32>, %b: tensor<3x3xf32>) {
  // expected-error @+1 {{input 'tensor<3x3xf32>' does not match 'tensor<2x3xf32>' outside axis 1}}
  %y = kiln.concat %a, %b {axis = 1} : (tensor<2x3xf32>, tensor<3x3xf32>) -> tensor<2x6xf32>
  return
}

// -----

func.func @concat_empty() {
  // expected-error @+1 {{needs at least one input}}
  %y = kiln.concat {axis = 0} : () -> tensor<2xf32>
  return
}

// -----

func.func @flatten_axis(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{axis 3 is out of range for rank 2}}
  %y = kiln.flatten %x {axis = 3} : (tensor<2x3xf32>) -> tensor<6x1xf32>
  return
}

// -----

func.func @reshape_count(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{cannot reshape 'tensor<2x3xf32>' (6 elements) into 8 elements}}
  %y = kiln.reshape %x {shape = array<i64: 2, 4>} : (tensor<2x3xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @reshape_two_inferred(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{shape has more than one -1 entry}}
  %y = kiln.reshape %x {shape = array<i64: -1, -1>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @reshape_negative(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{shape entry 0 is -2 (allowed: positive, 0 or -1)}}
  %y = kiln.reshape %x {shape = array<i64: -2, 3>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @reshape_copy(%x: tensor<6xf32>) {
  // expected-error @+1 {{shape entry 1 is 0 (copy) but the input 'tensor<6xf32>' has no dim 1}}
  %y = kiln.reshape %x {shape = array<i64: 6, 0>} : (tensor<6xf32>) -> tensor<6x1xf32>
  return
}

// -----

func.func @reshape_inferred(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{cannot reshape 'tensor<2x3xf32>' (6 elements) with a -1 entry into 4-element blocks}}
  %y = kiln.reshape %x {shape = array<i64: 4, -1>} : (tensor<2x3xf32>) -> tensor<4x1xf32>
  return
}

// -----

func.func @dropout_rate(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{rate must be in [0, 1), got 1}}
  %y = kiln.dropout %x {rate = 1.0 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @gelu_mode(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{approximate must be "none" or "tanh", got "erf"}}
  %y = kiln.gelu %x {approximate = "erf"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @softmax_axis(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{axis -3 is out of range for rank 2}}
  %y = kiln.softmax %x {axis = -3} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @log_softmax_axis(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %y = kiln.log_softmax %x {axis = 2} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @prelu_slope(%x: tensor<2x3x4x4xf32>, %a: tensor<4xf32>) {
  // expected-error @+1 {{slope 'tensor<4xf32>' must be [1] or [3] (channels of 'tensor<2x3x4x4xf32>')}}
  %y = kiln.prelu %x, %a : (tensor<2x3x4x4xf32>, tensor<4xf32>) -> tensor<2x3x4x4xf32>
  return
}

// -----

func.func @loss_shapes(%p: tensor<4x3xf32>, %t: tensor<4x2xf32>) {
  // expected-error @+1 {{prediction 'tensor<4x3xf32>' and target 'tensor<4x2xf32>' must have the same shape}}
  %l = kiln.mse %p, %t : (tensor<4x3xf32>, tensor<4x2xf32>) -> tensor<f32>
  return
}

// -----

func.func @cce_rank(%p: tensor<4xf32>, %t: tensor<4xf32>) {
  // expected-error @+1 {{expects logits and targets [N,C], got 'tensor<4xf32>'}}
  %l = kiln.cce %p, %t : (tensor<4xf32>, tensor<4xf32>) -> tensor<f32>
  return
}

// -----

func.func @sparse_cce_shapes(%p: tensor<4x3xf32>, %y: tensor<5xi32>) {
  // expected-error @+1 {{expects logits [N,C] and labels [N], got 'tensor<4x3xf32>' and 'tensor<5xi32>'}}
  %l = kiln.sparse_cce %p, %y : (tensor<4x3xf32>, tensor<5xi32>) -> tensor<f32>
  return
}

// -----

func.func @labels_type(%p: tensor<4x3xf32>, %y: tensor<4xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit signless integer values}}
  %l = kiln.sparse_cce %p, %y : (tensor<4x3xf32>, tensor<4xf32>) -> tensor<f32>
  return
}

// -----

func.func @fused_not_chain(%x: tensor<2xf32>, %y: tensor<2xf32>) -> tensor<2xf32> {
  %f = kiln.fused "elementwise"(%x, %y) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32> {
  ^bb0(%a: tensor<2xf32>, %b: tensor<2xf32>):
    %r = kiln.relu %a : (tensor<2xf32>) -> tensor<2xf32>
    // expected-error @+1 {{must consume the previous op's result}}
    %s = kiln.relu %b : (tensor<2xf32>) -> tensor<2xf32>
    kiln.yield %s : tensor<2xf32>
  }
  return %f : tensor<2xf32>
}

// -----

func.func @fused_softmax(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %f = kiln.fused "elementwise"(%x) : (tensor<2x3xf32>) -> tensor<2x3xf32> {
  ^bb0(%a: tensor<2x3xf32>):
    %r = kiln.relu %a : (tensor<2x3xf32>) -> tensor<2x3xf32>
    // expected-error @+1 {{is neither a fusion anchor nor elementwise}}
    %s = kiln.softmax %r : (tensor<2x3xf32>) -> tensor<2x3xf32>
    kiln.yield %s : tensor<2x3xf32>
  }
  return %f : tensor<2x3xf32>
}

// -----

func.func @fused_yield(%x: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{must yield the result of its last op}}
  %f = kiln.fused "elementwise"(%x) : (tensor<2xf32>) -> tensor<2xf32> {
  ^bb0(%a: tensor<2xf32>):
    %r = kiln.relu %a : (tensor<2xf32>) -> tensor<2xf32>
    %s = kiln.relu %r : (tensor<2xf32>) -> tensor<2xf32>
    kiln.yield %r : tensor<2xf32>
  }
  return %f : tensor<2xf32>
}

// -----

func.func @fold_batch_norm_channels(%w: tensor<4x2x3x3xf32>, %c: tensor<3xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{per-channel operand 'tensor<3xf32>' does not match the weight's 'tensor<4xf32>'}}
  %fw, %fb = kiln.fold_batch_norm %w, %c, %c, %c, %c : (tensor<4x2x3x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<4x2x3x3xf32>, tensor<4xf32>)
  return %fb : tensor<4xf32>
}

// -----

func.func @fold_batch_norm_rank(%w: tensor<4xf32>, %c: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{expects a weight with the output channel first and rank >= 2}}
  %fw, %fb = kiln.fold_batch_norm %w, %c, %c, %c, %c : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  return %fb : tensor<4xf32>
}

// -----

// A batch of products takes no epilogue (codegen's epilogue follows a
// product of matrices).
func.func @fused_batched_matmul_anchor(%a: tensor<2x3x4xf32>, %b: tensor<2x4x5xf32>) -> tensor<2x3x5xf32> {
  %f = kiln.fused "epilogue"(%a, %b) : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x3x5xf32> {
  ^bb0(%x: tensor<2x3x4xf32>, %y: tensor<2x4x5xf32>):
    // expected-error @+1 {{takes no epilogue: a matmul anchors a fused kernel as a product of matrices with static shapes}}
    %p = kiln.matmul %x, %y : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x3x5xf32>
    %r = kiln.relu %p : (tensor<2x3x5xf32>) -> tensor<2x3x5xf32>
    kiln.yield %r : tensor<2x3x5xf32>
  }
  return %f : tensor<2x3x5xf32>
}

// -----

func.func @fused_anchor_results(%x: tensor<2x3xf32>, %g: tensor<3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{must yield the result of its last op, then the anchor's other results}}
  %f = kiln.fused "epilogue"(%x, %g) : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32> {
  ^bb0(%a: tensor<2x3xf32>, %b: tensor<3xf32>):
    %y, %m, %v = kiln.batch_norm_train %a, %b, %b : (tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>)
    %r = kiln.relu %y : (tensor<2x3xf32>) -> tensor<2x3xf32>
    kiln.yield %r : tensor<2x3xf32>
  }
  return %f : tensor<2x3xf32>
}

// -----

func.func @fused_prologue_operand(%x: tensor<2x3xf32>, %c: tensor<3xf32>) -> tensor<2x3xf32> {
  %f, %g:2 = kiln.fused "prologue"(%x, %c) : (tensor<2x3xf32>, tensor<3xf32>) -> (tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>) {
  ^bb0(%a: tensor<2x3xf32>, %b: tensor<3xf32>):
    %d = kiln.activation_grad %a, %a {activation = "relu"} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    // expected-error @+1 {{must read the chain's value (without an anchor) as operand 1}}
    %dx, %dw, %db = kiln.batch_norm_grad %d, %a, %b, %b, %b : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>)
    kiln.yield %dx, %dw, %db : tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>
  }
  return %f : tensor<2x3xf32>
}

// -----

// A batch_norm_train chain's pooling tail must tile the plane: windows of
// 3x3 at stride 2 overlap.
func.func @fused_pool_tail_overlap(%x: tensor<2x3x16x16xf32>, %c: tensor<3xf32>) -> tensor<2x3x7x7xf32> {
  %f, %g:2 = kiln.fused "epilogue"(%x, %c) : (tensor<2x3x16x16xf32>, tensor<3xf32>) -> (tensor<2x3x7x7xf32>, tensor<3xf32>, tensor<3xf32>) {
  ^bb0(%a: tensor<2x3x16x16xf32>, %b: tensor<3xf32>):
    %y, %m, %v = kiln.batch_norm_train %a, %b, %b : (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>)
    // expected-error @+1 {{is neither a fusion anchor nor elementwise}}
    %p = kiln.max_pool2d %y {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>} : (tensor<2x3x16x16xf32>) -> tensor<2x3x7x7xf32>
    kiln.yield %p, %m, %v : tensor<2x3x7x7xf32>, tensor<3xf32>, tensor<3xf32>
  }
  return %f : tensor<2x3x7x7xf32>
}

// -----

// A gradient sink must reduce dx over every axis but the channel.
func.func @fused_sink_axes(%x: tensor<2x3x16x16xf32>, %c: tensor<3xf32>) -> tensor<3xf32> {
  %f, %g:2 = kiln.fused "prologue"(%x, %c) : (tensor<2x3x16x16xf32>, tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3x16xf32>) {
  ^bb0(%a: tensor<2x3x16x16xf32>, %b: tensor<3xf32>):
    %d = kiln.activation_grad %a, %a {activation = "relu"} : (tensor<2x3x16x16xf32>, tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
    %dx, %dw, %db = kiln.batch_norm_grad %a, %d, %b, %b, %b : (tensor<2x3x16x16xf32>, tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>)
    // expected-error @+1 {{cannot follow a prologue consumer: a gradient sink is a channel sum}}
    %s = kiln.reduce_sum %dx {axes = array<i64: 0, 2>} : (tensor<2x3x16x16xf32>) -> tensor<3x16xf32>
    kiln.yield %dw, %db, %s : tensor<3xf32>, tensor<3xf32>, tensor<3x16xf32>
  }
  return %f : tensor<3xf32>
}

// -----

// dx may be left out of the results only when sinks read it.
func.func @fused_sink_yield(%x: tensor<2x3x16x16xf32>, %c: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{must yield its consumer's results (the first may be left out when gradient sinks read it), then its sinks' results}}
  %f, %g = kiln.fused "prologue"(%x, %c) : (tensor<2x3x16x16xf32>, tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>) {
  ^bb0(%a: tensor<2x3x16x16xf32>, %b: tensor<3xf32>):
    %d = kiln.activation_grad %a, %a {activation = "relu"} : (tensor<2x3x16x16xf32>, tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
    %dx, %dw, %db = kiln.batch_norm_grad %a, %d, %b, %b, %b : (tensor<2x3x16x16xf32>, tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>)
    kiln.yield %dw, %db : tensor<3xf32>, tensor<3xf32>
  }
  return %f : tensor<3xf32>
}

// -----

// A prologue chain may start with a max_pool2d_grad, but not a dilated one
// (its scatter form is no pure function of the position).
func.func @fused_prologue_dilated_pool(%a: tensor<1x2x6x6xf32>, %dp: tensor<1x2x2x2xf32>, %c: tensor<2xf32>) -> tensor<1x2x6x6xf32> {
  %f, %g:2 = kiln.fused "prologue"(%a, %dp, %c) : (tensor<1x2x6x6xf32>, tensor<1x2x2x2xf32>, tensor<2xf32>) -> (tensor<1x2x6x6xf32>, tensor<2xf32>, tensor<2xf32>) {
  ^bb0(%x: tensor<1x2x6x6xf32>, %d: tensor<1x2x2x2xf32>, %b: tensor<2xf32>):
    // expected-error @+1 {{is neither a fusion anchor nor elementwise nor the first op of a prologue chain (max_pool2d_grad with unit dilations)}}
    %p = kiln.max_pool2d_grad %x, %d {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>} : (tensor<1x2x6x6xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x6x6xf32>
    %dx, %dw, %db = kiln.batch_norm_grad %x, %p, %b, %b, %b : (tensor<1x2x6x6xf32>, tensor<1x2x6x6xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<1x2x6x6xf32>, tensor<2xf32>, tensor<2xf32>)
    kiln.yield %dx, %dw, %db : tensor<1x2x6x6xf32>, tensor<2xf32>, tensor<2xf32>
  }
  return %f : tensor<1x2x6x6xf32>
}

// -----

// Outside a prologue a max_pool2d_grad cannot be fused.
func.func @fused_pool_not_prologue(%a: tensor<1x2x4x4xf32>, %dp: tensor<1x2x2x2xf32>) -> tensor<1x2x4x4xf32> {
  %f = kiln.fused "elementwise"(%a, %dp) : (tensor<1x2x4x4xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x4x4xf32> {
  ^bb0(%x: tensor<1x2x4x4xf32>, %d: tensor<1x2x2x2xf32>):
    // expected-error @+1 {{is neither a fusion anchor nor elementwise}}
    %p = kiln.max_pool2d_grad %x, %d {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x4x4xf32>
    %r = kiln.relu %p : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    kiln.yield %r : tensor<1x2x4x4xf32>
  }
  return %f : tensor<1x2x4x4xf32>
}

// -----

// The attention form's softmax runs along the last axis.
func.func @fused_attention_axis(%q: tensor<2x4x3xf32>, %k: tensor<2x3x4xf32>, %v: tensor<2x4x5xf32>) -> tensor<2x4x5xf32> {
  %o = kiln.fused "attention"(%q, %k, %v) : (tensor<2x4x3xf32>, tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x4x5xf32> {
  ^bb0(%a: tensor<2x4x3xf32>, %b: tensor<2x3x4xf32>, %c: tensor<2x4x5xf32>):
    %s = kiln.matmul %a, %b : (tensor<2x4x3xf32>, tensor<2x3x4xf32>) -> tensor<2x4x4xf32>
    // expected-error @+1 {{in an attention kernel: the softmax must be along the last axis}}
    %p = kiln.softmax %s {axis = 1 : i64} : (tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
    %r = kiln.matmul %p, %c : (tensor<2x4x4xf32>, tensor<2x4x5xf32>) -> tensor<2x4x5xf32>
    kiln.yield %r : tensor<2x4x5xf32>
  }
  return %o : tensor<2x4x5xf32>
}

// -----

// ... and its ops are matmul, elementwise ops, softmax, matmul.
func.func @fused_attention_ops(%q: tensor<2x4x3xf32>, %k: tensor<2x3x4xf32>) -> tensor<2x4x4xf32> {
  // expected-error @+1 {{of kind attention must hold matmul, elementwise ops, softmax, matmul}}
  %o = kiln.fused "attention"(%q, %k) : (tensor<2x4x3xf32>, tensor<2x3x4xf32>) -> tensor<2x4x4xf32> {
  ^bb0(%a: tensor<2x4x3xf32>, %b: tensor<2x3x4xf32>):
    %s = kiln.matmul %a, %b : (tensor<2x4x3xf32>, tensor<2x3x4xf32>) -> tensor<2x4x4xf32>
    %p = kiln.softmax %s {axis = 2 : i64} : (tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
    kiln.yield %p : tensor<2x4x4xf32>
  }
  return %o : tensor<2x4x4xf32>
}

// -----

// The producer form: a later anchor must read the previous chain's value as
// its first operand.
func.func @fused_producer_operand(%x: tensor<1x2x4x4xf32>, %we: tensor<2x2x1x1xf32>, %wd: tensor<2x1x3x3xf32>) -> tensor<1x2x4x4xf32> {
  %f = kiln.fused "producer"(%x, %we, %wd) : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x4x4xf32> {
  ^bb0(%a: tensor<1x2x4x4xf32>, %b: tensor<2x2x1x1xf32>, %c: tensor<2x1x3x3xf32>):
    %e = kiln.conv2d %a, %b : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
    %r = kiln.relu %e : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    // expected-error @+1 {{can only be the first op of a fused kernel, or a later anchor, reading the previous anchor's chain as its first operand}}
    %d = kiln.conv2d %a, %c {pads = array<i64: 1, 1, 1, 1>, groups = 2 : i64} : (tensor<1x2x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x4x4xf32>
    kiln.yield %d : tensor<1x2x4x4xf32>
  }
  return %f : tensor<1x2x4x4xf32>
}

// -----

// A third anchor (the projection form) reads the second chain's value, not
// the first's.
func.func @fused_third_anchor(%x: tensor<1x2x4x4xf32>, %we: tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
  %f = kiln.fused "producer"(%x, %we) : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32> {
  ^bb0(%a: tensor<1x2x4x4xf32>, %b: tensor<2x2x1x1xf32>):
    %e = kiln.conv2d %a, %b : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
    %d = kiln.conv2d %e, %b : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
    // expected-error @+1 {{can only be the first op of a fused kernel, or a later anchor}}
    %g = kiln.conv2d %e, %b : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
    kiln.yield %g : tensor<1x2x4x4xf32>
  }
  return %f : tensor<1x2x4x4xf32>
}

// -----

func.func @winograd_filter_kernel(%w: tensor<4x2x5x5xf32>) {
  // expected-error @+1 {{expects a 3x3 conv2d weight [O,C,3,3], got 'tensor<4x2x5x5xf32>'}}
  %u = kiln.winograd_filter %w : (tensor<4x2x5x5xf32>) -> tensor<16x2x4xf32>
  return
}

// -----

func.func @conv2d_winograd_filter(%x: tensor<1x3x8x8xf32>, %u: tensor<16x1x2x8xf32>) {
  // expected-error @+1 {{expects input [N,C,H,W] and a Winograd filter [16,O/B,C,B], B = 8 or 16 (kiln.winograd_filter, tile 2), got 'tensor<1x3x8x8xf32>' and 'tensor<16x1x2x8xf32>'}}
  %y = kiln.conv2d_winograd %x, %u {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x3x8x8xf32>, tensor<16x1x2x8xf32>) -> tensor<1x8x8x8xf32>
  return
}

// -----

func.func @conv2d_winograd_empty(%x: tensor<1x2x1x8xf32>, %u: tensor<16x1x2x8xf32>) {
  // expected-error @+1 {{output plane -1x6 is empty}}
  %y = kiln.conv2d_winograd %x, %u : (tensor<1x2x1x8xf32>, tensor<16x1x2x8xf32>) -> tensor<1x8x1x6xf32>
  return
}

// -----

func.func @winograd_filter_blocks(%w: tensor<12x16x3x3xf32>) {
  // expected-error @+1 {{packs the transformed kernels in blocks of 8 output channels: 12 is not a multiple of 8}}
  %u = kiln.winograd_filter %w : (tensor<12x16x3x3xf32>) -> tensor<16x1x16x8xf32>
  return
}

// -----

func.func @winograd_filter_blocks16(%w: tensor<24x16x3x3xf32>) {
  // expected-error @+1 {{packs the transformed kernels in blocks of 16 output channels: 24 is not a multiple of 16}}
  %u = kiln.winograd_filter %w {block = 16 : i64} : (tensor<24x16x3x3xf32>) -> tensor<16x1x16x16xf32>
  return
}

// -----

func.func @winograd_filter_block(%w: tensor<32x16x3x3xf32>) {
  // expected-error @+1 {{block must be 8 or 16, got 4}}
  %u = kiln.winograd_filter %w {block = 4 : i64} : (tensor<32x16x3x3xf32>) -> tensor<16x8x16x4xf32>
  return
}

// -----

func.func @winograd_filter_tile(%w: tensor<4x2x3x3xf32>) {
  // expected-error @+1 {{tile must be 2 or 4, got 3}}
  %u = kiln.winograd_filter %w {tile = 3 : i64} : (tensor<4x2x3x3xf32>) -> tensor<25x2x4xf32>
  return
}

// -----

func.func @conv2d_grad_weight_tile_strided(%x: tensor<1x16x8x8xf32>, %dy: tensor<1x16x4x4xf32>) {
  // expected-error @+1 {{tile 4 (Winograd) needs a 3x3 kernel with strides and dilations 1 and groups 1}}
  %g = kiln.conv2d_grad_weight %x, %dy {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 3, 3>, tile = 4 : i64} : (tensor<1x16x8x8xf32>, tensor<1x16x4x4xf32>) -> tensor<16x16x3x3xf32>
  return
}

// -----

func.func @conv2d_grad_weight_tile_value(%x: tensor<1x16x8x8xf32>, %dy: tensor<1x16x8x8xf32>) {
  // expected-error @+1 {{tile must be 0 (direct), 2 or 4, got 3}}
  %g = kiln.conv2d_grad_weight %x, %dy {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 3, 3>, tile = 3 : i64} : (tensor<1x16x8x8xf32>, tensor<1x16x8x8xf32>) -> tensor<16x16x3x3xf32>
  return
}

// -----

func.func @reduce_max_axis(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %y = kiln.reduce_max %x {axes = array<i64: 2>} : (tensor<2x3xf32>) -> tensor<2xf32>
  return
}

// -----

func.func @reduce_grad_kind(%x: tensor<2x3xf32>, %y: tensor<2xf32>) {
  // expected-error @+1 {{kind must be max, min or prod, got 'sum'}}
  %g = kiln.reduce_grad %x, %y, %y {kind = "sum", axes = array<i64: 1>} : (tensor<2x3xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @reduce_grad_dy(%x: tensor<2x3xf32>, %y: tensor<2xf32>, %dy: tensor<3xf32>) {
  // expected-error @+1 {{result and dy must be 'tensor<2xf32>', got 'tensor<2xf32>' and 'tensor<3xf32>'}}
  %g = kiln.reduce_grad %x, %y, %dy {kind = "min", axes = array<i64: 1>} : (tensor<2x3xf32>, tensor<2xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @nll_loss_target(%x: tensor<4x10x3xf32>, %t: tensor<4xi32>) {
  // expected-error @+1 {{expects input [N,C,d...] and target [N,d...], got 'tensor<4x10x3xf32>' and 'tensor<4xi32>'}}
  %l = kiln.nll_loss %x, %t : (tensor<4x10x3xf32>, tensor<4xi32>) -> tensor<f32>
  return
}

// -----

func.func @nll_loss_reduction(%x: tensor<4x10xf32>, %t: tensor<4xi32>) {
  // expected-error @+1 {{reduction must be mean, sum or none, got 'avg'}}
  %l = kiln.nll_loss %x, %t {reduction = "avg"} : (tensor<4x10xf32>, tensor<4xi32>) -> tensor<f32>
  return
}

// -----

func.func @nll_loss_none_shape(%x: tensor<4x10xf32>, %t: tensor<4xi32>) {
  // expected-error @+1 {{result #0 has type 'tensor<f32>' but its operands imply 'tensor<4xf32>'}}
  %l = kiln.nll_loss %x, %t {reduction = "none"} : (tensor<4x10xf32>, tensor<4xi32>) -> tensor<f32>
  return
}

// -----

// groups is an i64 attribute that MLIR hands back as uint64_t: zero and
// negative values must be refused, not multiplied into a shape.
func.func @conv2d_grad_input_groups(%dy: tensor<1x2x4x4xf32>, %w: tensor<2x1x3x3xf32>) {
  // expected-error @+1 {{input_size must be [H, W] and groups >= 1}}
  %g = kiln.conv2d_grad_input %dy, %w {dilations = array<i64: 1, 1>, groups = 0 : i64, input_size = array<i64: 4, 4>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<1x1x4x4xf32>
  return
}

// -----

func.func @conv2d_grad_weight_negative_groups(%x: tensor<1x16x8x8xf32>, %dy: tensor<1x16x8x8xf32>) {
  // expected-error @+1 {{kernel must be [KH, KW] and groups >= 1}}
  %g = kiln.conv2d_grad_weight %x, %dy {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = -1 : i64, kernel = array<i64: 3, 3>} : (tensor<1x16x8x8xf32>, tensor<1x16x8x8xf32>) -> tensor<16x16x3x3xf32>
  return
}

// -----

func.func @gather_axis_out_of_range(%x: tensor<5x4xf32>, %i: tensor<3xi32>) {
  // expected-error @+1 {{axis 2 is outside}}
  %g = kiln.gather %x, %i {axis = 2 : i64} : (tensor<5x4xf32>, tensor<3xi32>) -> tensor<5x4xf32>
  return
}

// -----

func.func @gather_elements_rank(%x: tensor<5x4xf32>, %i: tensor<3xi32>) {
  // expected-error @+1 {{indices of rank 1 at axis 0 do not fit an input of rank 2}}
  %g = kiln.gather_elements %x, %i {axis = 0 : i64} : (tensor<5x4xf32>, tensor<3xi32>) -> tensor<3xf32>
  return
}

// -----

func.func @gather_elements_wider_off_axis(%x: tensor<5x4xf32>, %i: tensor<2x6xi32>) {
  // expected-error @+1 {{indices 2x6 do not fit the input 5x4 off axis 0}}
  %g = kiln.gather_elements %x, %i {axis = 0 : i64} : (tensor<5x4xf32>, tensor<2x6xi32>) -> tensor<2x6xf32>
  return
}

// -----

func.func @gather_elements_grad_dy_shape(%i: tensor<2x4xi32>, %dy: tensor<2x3xf32>) {
  // expected-error @+1 {{does not have the indices' shape}}
  %g = kiln.gather_elements_grad %i, %dy {axis = 0 : i64, shape = array<i64: 5, 4>} : (tensor<2x4xi32>, tensor<2x3xf32>) -> tensor<5x4xf32>
  return
}

// -----

func.func @gather_grad_dy_without_indices(%i: tensor<3xi32>, %dy: tensor<2x4xf32>) {
  // expected-error @+1 {{does not hold indices}}
  %g = kiln.gather_grad %i, %dy {axis = 0 : i64, size = 5 : i64} : (tensor<3xi32>, tensor<2x4xf32>) -> tensor<5x4xf32>
  return
}

// -----

func.func @where_shapes_do_not_broadcast(%c: tensor<2x3xf32>, %a: tensor<4xf32>, %b: tensor<f32>) {
  // expected-error @+1 {{cannot broadcast}}
  %w = kiln.where %c, %a, %b : (tensor<2x3xf32>, tensor<4xf32>, tensor<f32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @arg_reduce_bad_kind(%x: tensor<4x10xf32>) {
  // expected-error @+1 {{kind must be "max" or "min", got "mean"}}
  %i = kiln.arg_reduce %x {kind = "mean", axis = 1 : i64} : (tensor<4x10xf32>) -> tensor<4x1xi32>
  return
}

// -----

func.func @top_k_too_many(%x: tensor<4x10xf32>) {
  // expected-error @+1 {{k = 11 must be in [1, 10] (the extent of axis 1)}}
  %i = kiln.top_k %x {k = 11 : i64, axis = 1 : i64} : (tensor<4x10xf32>) -> tensor<4x11xi32>
  return
}

// -----

func.func @top_k_bad_axis(%x: tensor<4x10xf32>) {
  // expected-error @+1 {{axis 2 is outside 'tensor<4x10xf32>'}}
  %i = kiln.top_k %x {k = 1 : i64, axis = 2 : i64} : (tensor<4x10xf32>) -> tensor<4x1xi32>
  return
}

// -----

func.func @grid_sample_bad_grid(%x: tensor<1x3x4x4xf32>, %g: tensor<1x5x6x3xf32>) {
  // expected-error @+1 {{samples an input [N, C, H, W] at a grid [N, OH, OW, 2], got 'tensor<1x3x4x4xf32>' and 'tensor<1x5x6x3xf32>'}}
  %y = kiln.grid_sample %x, %g : (tensor<1x3x4x4xf32>, tensor<1x5x6x3xf32>) -> tensor<1x3x5x6xf32>
  return
}

// -----

func.func @grid_sample_bad_padding(%x: tensor<1x3x4x4xf32>, %g: tensor<1x5x6x2xf32>) {
  // expected-error @+1 {{padding_mode must be zeros, border or reflection, got "wrap"}}
  %y = kiln.grid_sample %x, %g {padding_mode = "wrap"} : (tensor<1x3x4x4xf32>, tensor<1x5x6x2xf32>) -> tensor<1x3x5x6xf32>
  return
}

// -----

func.func @resize_bad_mode(%x: tensor<1x3x4x4xf32>) {
  // expected-error @+1 {{mode must be nearest, linear or cubic, got "area"}}
  %y = kiln.resize %x {sizes = array<i64: 8, 8>, scales = [2.0, 2.0], mode = "area"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32>
  return
}

// -----

func.func @resize_bad_scale(%x: tensor<1x3x4x4xf32>) {
  // expected-error @+1 {{scales must be positive and finite, got 0}}
  %y = kiln.resize %x {sizes = array<i64: 8, 8>, scales = [0.0, 2.0], mode = "linear"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32>
  return
}

// -----

func.func @resize_bad_sizes(%x: tensor<1x3x4x4xf32>) {
  // expected-error @+1 {{resizes the last two dims of an input of rank >= 2 to sizes [OH, OW]}}
  %y = kiln.resize %x {sizes = array<i64: 8>, scales = [2.0, 2.0], mode = "linear"} : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32>
  return
}

// -----

func.func @cumsum_axis(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %c = kiln.cumsum %x {axis = 2 : i64} : (tensor<2x5xf32>) -> tensor<2x5xf32>
  return %c : tensor<2x5xf32>
}

// -----

// A recomputed input must be a conv2d that isRecomputableConv admits.
func.func @fused_recomputed_not_conv(%x: tensor<2x3x16x16xf32>, %g: tensor<3xf32>, %b: tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>) {
  %f:3 = kiln.fused "epilogue"(%x, %g, %b) {recomputed = 1 : i64} : (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>) {
  ^bb0(%a: tensor<2x3x16x16xf32>, %ga: tensor<3xf32>, %ba: tensor<3xf32>):
    // expected-error @+1 {{cannot be a recomputed input: a conv2d of groups 1 with at most 27 multiplies per output}}
    %z = kiln.relu %a : (tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
    %y, %m, %v = kiln.batch_norm_train %z, %ga, %ba : (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>)
    kiln.yield %y, %m, %v : tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>
  }
  return %f#0, %f#1, %f#2 : tensor<2x3x16x16xf32>, tensor<3xf32>, tensor<3xf32>
}

// -----

// A recomputed input is read by the kernel's ops, never yielded.
func.func @fused_recomputed_yielded(%x: tensor<2x1x16x16xf32>, %w: tensor<3x1x3x3xf32>) -> tensor<2x3x16x16xf32> {
  %f = kiln.fused "elementwise"(%x, %w) {recomputed = 1 : i64} : (tensor<2x1x16x16xf32>, tensor<3x1x3x3xf32>) -> tensor<2x3x16x16xf32> {
  ^bb0(%a: tensor<2x1x16x16xf32>, %wa: tensor<3x1x3x3xf32>):
    // expected-error @+1 {{is a recomputed input: later ops must read it and the kernel cannot yield it}}
    %z = kiln.conv2d %a, %wa {pads = array<i64: 1, 1, 1, 1>} : (tensor<2x1x16x16xf32>, tensor<3x1x3x3xf32>) -> tensor<2x3x16x16xf32>
    %r = kiln.relu %a : (tensor<2x1x16x16xf32>) -> tensor<2x1x16x16xf32>
    kiln.yield %z : tensor<2x3x16x16xf32>
  }
  return %f : tensor<2x3x16x16xf32>
}

// -----

// At most the ops before the last can be recomputed inputs.
func.func @fused_recomputed_count(%x: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{recomputes 1 inputs: must be from 0 to the number of ops before the last}}
  %f = kiln.fused "elementwise"(%x) {recomputed = 1 : i64} : (tensor<2xf32>) -> tensor<2xf32> {
  ^bb0(%a: tensor<2xf32>):
    %r = kiln.relu %a : (tensor<2xf32>) -> tensor<2xf32>
    kiln.yield %r : tensor<2xf32>
  }
  return %f : tensor<2xf32>
}
