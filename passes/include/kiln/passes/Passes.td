//===- Passes.td - kiln passes ---------------------------*- tablegen -*-===//
#ifndef KILN_PASSES_TD
#define KILN_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

def KilnShapeInference : Pass<"kiln-shape-inference", "mlir::ModuleOp"> {
  let summary = "Re-infer every result type from the function inputs";
  let description = [{
    Propagates shapes through every function in program order: each op's
    result types are recomputed from its operand types through
    `ShapeInferenceOpInterface`, and the function's result types follow its
    return values. With `batch` > 0 the leading dim of every function
    argument is set to `batch` first, which is how `kiln run --batch` and
    `kiln bench --batch` re-shape a model. Parameters keep their shapes.

    ```mlir
    // kiln-opt --kiln-shape-inference=batch=8
    func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32>   // becomes 8x4
    ```
  }];
  let options = [
    Option<"batch", "batch", "int64_t", "0",
           "Leading dim of every function argument (0 keeps the IR's)">,
  ];
}

//===----------------------------------------------------------------------===//
// Training
//===----------------------------------------------------------------------===//

def KilnAppendLoss : Pass<"kiln-append-loss", "mlir::ModuleOp"> {
  let summary = "Append a loss (and regularizers) to the model's first output";
  let description = [{
    The entry function gets a new argument `target` and a new first result
    `loss`: the chosen loss of its first output (mean reduction), plus the
    regularizer penalties. When the loss takes logits (`cce`, `sparse-cce`)
    and the output is a softmax, the loss reads the softmax's input instead
    (numerically stable); `bce` on a sigmoid output becomes `bce_logits` on
    its input. Regularizers apply to the weights (parameters of rank >= 2),
    not to biases or BatchNorm parameters. `model` appends nothing: the
    model's first output must already be the scalar loss.
  }];
  let options = [
    Option<"loss", "loss", "std::string", "\"sparse-cce\"",
           "mse, mae, huber, bce, bce-logits, cce, sparse-cce, hinge or model">,
    Option<"delta", "delta", "double", "1.0", "Huber threshold">,
    Option<"l1", "l1", "double", "0.0", "L1 penalty on the weights">,
    Option<"l2", "l2", "double", "0.0", "L2 penalty on the weights">,
  ];
}

def KilnTrainingMode : Pass<"kiln-training-mode", "mlir::ModuleOp"> {
  let summary = "Switch ops to their training behaviour";
  let description = [{
    Adds an `i32` scalar argument `seed` to the entry function and lets every
    op with TrainingModeOpInterface rewrite itself: batch norm uses batch
    statistics and updates its running statistics (`kiln.assign`), dropout
    draws a hashed mask from the seed and a per-op salt. With
    `dropout-rate` (in [0, 1)), every dropout's rate is set to it first
    (`kiln tune --dropout`, `kiln train --dropout`).
  }];
  let options = [
    Option<"dropoutRate", "dropout-rate", "double", "-1.0",
           "Every dropout's rate (negative: the model's own)">,
  ];
}

def KilnAugment : Pass<"kiln-augment", "mlir::ModuleOp"> {
  let summary = "Augment the training batch at the model input";
  let description = [{
    Inserts `kiln.augment(input, seed)` after the entry function's image
    input (the one `[N,C,H,W]` f32 argument) and feeds the model from it;
    `seed` is the argument `kiln-training-mode` adds. `spec` is the
    `kiln train --augment` text: comma-separated `flip-h`, `flip-v`,
    `shift=PIXELS`, `rotate=DEGREES`, `zoom=FRACTION` (below 1) and
    `noise=SIGMA`. Only the training step gets it: evaluation and test data
    are never augmented.
  }];
  let options = [
    Option<"spec", "spec", "std::string", "\"\"",
           "flip-h,flip-v,shift=P,rotate=D,zoom=Z,noise=S">,
  ];
}

def KilnAutodiff : Pass<"kiln-autodiff", "mlir::ModuleOp"> {
  let summary = "Reverse-mode differentiation of the scalar loss";
  let description = [{
    The entry function's first result must be a scalar `f32` loss. The pass
    appends, for every `kiln.param` the loss depends on, a result holding
    dloss/dparam, named `grad:<param name>` (and for every function
    argument with `wrt-inputs`).

    Algorithm:
    1. Seed the loss's gradient with the constant 1.
    2. Visit the ops in reverse program order; for each op with a gradient
       on some result, call its GradientOpInterface rule at the end of the
       function; the rule references the forward values it needs (which
       therefore stay alive) and returns one gradient per operand.
    3. Accumulate: an operand used several times gets the sum of its
       gradients (`kiln.add`).
    4. Append the gradients of parameters (and inputs) as results.
    An op on the path to the loss without a gradient rule is an error.

    Parameters whose names match a `frozen` glob pattern (`kiln train
    --freeze`, transfer learning) get no gradient result: the optimizer then
    keeps no slots for them and leaves them unchanged, and canonicalization
    removes the backward work only they needed. A pattern that matches no
    parameter is an error naming it.
  }];
  let options = [
    Option<"wrtInputs", "wrt-inputs", "bool", "false",
           "Also return the gradients of the function arguments">,
    ListOption<"frozen", "frozen", "std::string",
               "Glob patterns of parameters held constant (no gradient)">,
  ];
}

def KilnOptimizer : Pass<"kiln-optimizer", "mlir::ModuleOp"> {
  let summary = "Turn gradient results into in-place optimizer updates";
  let description = [{
    Consumes the `grad:<param>` results of `kiln-autodiff`: adds `lr` and
    `step` scalar arguments, creates the optimizer's slots as zero-
    initialized parameters `<param>.<kind>.<slot>`, and for each parameter
    an `optimizer_update` whose results are assigned back (`kiln.assign`).
    Hyperparameters default to PyTorch's (docs/training-ops.md). With
    `clip-norm`, every gradient is first multiplied by the global-norm
    clipping factor computed from all of them (`regularizer` with l2 = 1
    gives each one's sum of squares, `clip_factor` the coefficient).
    With `grad-norms`, three scalar results per parameter for gradient-flow
    diagnostics (`kiln train --log-grad-norms`), computed inside the step:
    `grad_sq:<param>`, `weight_sq:<param>` and `update_sq:<param>`, the sums
    of squares of the gradient the update uses, of the weight before the
    update and of the change the update makes.
  }];
  let options = [
    Option<"kind", "kind", "std::string", "\"sgd\"",
           "sgd, momentum, nesterov, adagrad, adadelta, rmsprop or adam">,
    Option<"momentum", "momentum", "double", "0.9", "momentum / nesterov">,
    Option<"dampening", "dampening", "double", "0.0", "momentum dampening">,
    Option<"beta1", "beta1", "double", "0.9", "Adam beta1">,
    Option<"beta2", "beta2", "double", "0.999", "Adam beta2">,
    Option<"epsilon", "epsilon", "double", "-1.0",
           "Denominator epsilon (negative: the optimizer's default)">,
    Option<"rho", "rho", "double", "0.9", "Adadelta rho">,
    Option<"alpha", "alpha", "double", "0.99", "RMSprop alpha">,
    Option<"lrDecay", "lr-decay", "double", "0.0", "Adagrad lr decay">,
    Option<"weightDecay", "weight-decay", "double", "0.0",
           "L2 weight decay added to the gradient (PyTorch)">,
    Option<"clipValue", "clip-value", "double", "0.0",
           "Clamp each gradient element to [-c, c] (0: off)">,
    Option<"clipNorm", "clip-norm", "double", "0.0",
           "Scale all gradients so their global L2 norm is at most this "
           "(0: off)">,
    Option<"gradNorms", "grad-norms", "bool", "false",
           "Return grad_sq:, weight_sq: and update_sq:<param> scalars">,
  ];
}

//===----------------------------------------------------------------------===//
// Fusion
//===----------------------------------------------------------------------===//

def KilnFoldBatchNorm : Pass<"kiln-fold-batch-norm", "mlir::ModuleOp"> {
  let summary = "Fold inference batch norms into the preceding conv2d / dense";
  let description = [{
    `batch_norm(conv2d(x, w, b))` with running statistics (`training =
    false`) becomes `conv2d(x, w', b')`, where `w', b' =
    kiln.fold_batch_norm(w, b, gamma, beta, mean, var)` (docs/fusion.md);
    the same for `dense`. The layer's result must have no other use.
    - When every operand of the fold is a `kiln.constant`, the pass computes
      the folded weight and bias itself (in double precision, stored as
      f32) and the layer reads two new constants.
    - Otherwise (runtime parameters) the `kiln.fold_batch_norm` op stays:
      `kiln-hoist-load-time` marks it to run once per parameter change, not
      per inference.
    Only for inference graphs: in training the statistics are the batch's.
  }];
}

def KilnWinograd : Pass<"kiln-winograd", "mlir::ModuleOp"> {
  let summary = "Compute 3x3 stride-1 convolutions by Winograd's F(2x2, 3x3)";
  let description = [{
    `conv2d(x, w, b)` with a 3x3 kernel, strides and dilations 1, groups 1
    and 16 or more input and output channels, multiples of 8, becomes
    `conv2d_winograd(x, winograd_filter(w), b)` (docs/codegen.md) when its
    batch has at least `min-tiles` 2x2 output tiles (counting partial ones)
    and 32 per image (16, a 7x7 plane, for `conv2d` itself) or 64 over the
    batch (smaller planes at a larger batch: the kernel's batch form), and
    the partial tiles of a
    plane that is not a multiple of the tile add at most a third to the
    work (14x14 qualifies for 4x4 tiles, 10x10 does not): F(2x2, 3x3)
    (2.25x fewer multiplies; results within about 1e-6 relative of the
    direct convolution) or, with `tile` 4 where its partial tiles allow
    and the plane has 32 or more 4x4 tiles per image (or 128 or more
    channels both ways and 32 or more 4x4 tiles over the batch; a forward
    `conv2d` of one image needs 64), F(4x4,
    3x3) (4x fewer; about 1e-5 of the sums, up to 1e-4 on wide sums of
    uniform values; ResNet-18 8e-7), at the price of the input and output
    transforms, which small planes do not repay. A forward `conv2d` of one
    image also needs an output plane of `min-image-plane` pixels: the
    pipelines pass 784 (28x28), where on the Intel Xeon the direct
    convolution wins on smaller planes (Zen 5 measured 1600, docs/codegen.md). A `conv2d` or `conv2d_grad_input`
    also needs `min-reduction` channels to sum over (its input channels, or
    dy's): the pipelines pass 32, since a 16-channel sum does not repay the
    transforms (docs/codegen.md). `kiln run`, `bench`,
    `compile` and `train` pass tile 4 (`--winograd 2` for F(2x2) only). `conv2d_grad_input` of such a convolution (pads at most 2)
    becomes `conv2d_winograd(dy,
    winograd_filter(w) {input_gradient}, pads 2 - pad)`, and
    `conv2d_grad_weight` of such a convolution takes the same `tile` (its
    kernel computes the gradient over the transformed tiles of x and dy).
    Convolutions of
    one weight share its filter. Over parameters that do not change
    (inference, evaluation) `kiln-hoist-load-time` runs the filter
    transforms once per parameter change; in training they run every step,
    on the weights the step's convolutions read (before their update). Run it after `kiln-fold-batch-norm`
    (which folds into conv2d's weights) and before `kiln-fuse` (the new op
    is a fusion anchor, like conv2d).

    ```mlir
    // kiln-opt --kiln-winograd
    %y = kiln.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : ...
    // becomes
    %u = kiln.winograd_filter %w : (tensor<64x64x3x3xf32>) -> tensor<16x8x64x8xf32>
    %y = kiln.conv2d_winograd %x, %u {pads = array<i64: 1, 1, 1, 1>} : ...
    ```
  }];
  let options = [
    Option<"minTiles", "min-tiles", "int64_t", "16",
           "Least 2x2 output tiles over the batch (N x OH/2 x OW/2)">,
    Option<"tile", "tile", "int64_t", "2",
           "Largest output tile: 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3) where "
           "the plane is a multiple of 4, else F(2x2, 3x3))">,
    Option<"minImagePlane", "min-image-plane", "int64_t", "0",
           "A forward conv2d of batch 1 only on output planes of at least "
           "this many pixels (the pipelines: 784, i.e. 28x28)">,
    Option<"smallPlaneTiles", "small-plane-tiles", "int64_t", "0",
           "A forward conv2d of batch 1 also on output planes of at most "
           "this many 2x2 tiles, whatever min-image-plane says (the "
           "pipelines: 16, i.e. 7x7 and 8x8, on 8-lane targets)">,
    Option<"minReduction", "min-reduction", "int64_t", "0",
           "A conv2d or conv2d_grad_input only where it sums over at least "
           "this many channels (the pipelines: 32)">,
    Option<"filterBlock", "filter-block", "int64_t", "8",
           "Output channels per block of the transformed filters: 8, or "
           "16 where the channels are a multiple of 16 (the pipelines: 16 "
           "on 8-lane targets, for register tiles of 2 vectors x 6 "
           "channels)">,
  ];
}

def KilnLayout : Pass<"kiln-layout", "mlir::ModuleOp"> {
  let summary = "Give intermediates the channel-blocked layout nchw16c";
  let description = [{
    Marks a rank-4 f32 intermediate with whole blocks of 16 channels as
    `nchw16c` (stored `[N, C/16, H, W, 16]`) where the kernel that writes it
    and every kernel that reads it have a blocked form: conv2d's channel
    form (weights packed by 16, `kiln-pack-weights`), the depthwise form
    (input and output blocked together), epilogue kernels anchored on them
    (a residual operand in either layout), global_avg_pool's input, and
    elementwise kernels whose operands all have the result's shape (they
    read and write one physical order). The IR keeps NCHW semantics and
    types: the layout is the producer's `kiln.layouts` attribute (one
    string per result), which the lowering turns into the buffer's dims
    and the kernels' specs. Graph inputs and outputs stay dense, so no
    reorder kernel is needed: a blocked region begins at a kernel that
    reads dense and writes blocked. Run it last before the memory passes
    (docs/layout.md).

    ```mlir
    // kiln-opt --kiln-layout
    %y = kiln.conv2d %x, %p : (tensor<1x160x7x7xf32>, tensor<60x160x1x1x16xf32>) -> tensor<1x960x7x7xf32>
    %d = kiln.conv2d %y, %w {groups = 960 : i64, pads = array<i64: 1, 1, 1, 1>} : ...
    // becomes
    %y = kiln.conv2d %x, %p {kiln.layouts = ["nchw16c"]} : ...
    ```
  }];
}

def KilnPackWeights : Pass<"kiln-pack-weights", "mlir::ModuleOp"> {
  let summary = "Pack conv2d weights by blocks of output channels";
  let description = [{
    Gives `conv2d` the weight `[O/B, C, KH, KW, B]` (`B` = `block`, the
    target's float vector width) through a reshape and a transpose, so that
    its kernel reads a vector of `B` output channels per tap and input
    channel (codegen's channel form, docs/codegen.md). Over parameters that
    do not change, `kiln-hoist-load-time` makes the transpose a load-time
    kernel: the weights are packed once, not on every call. It applies to
    convolutions without groups, with 16 or more input channels and `O` a
    multiple of `B`, that are strided, spatial at stride 1 with 64 or more
    input channels and `O` a multiple of `2B` (those `kiln-winograd` left:
    small planes at batch 1), or 1x1 (stride 1, unpadded) over output
    planes of at most 64 positions, or with `block` 16 up to 28x28 (784
    positions) unless `kiln-fuse` would put it in one kernel with a
    depthwise conv2d (its value, through elementwise ops, only a depthwise
    conv2d's input; or its input a depthwise conv2d's value through unary
    ones), and to strided stems with fewer
    input channels and a window under 5x5 (MobileNetV2's 3x3 stem; a 7x7
    stem keeps its planes form): the shapes where codegen's channel form
    wins (without packing, a strided one repacks its weight on every
    call). Run it after
    `kiln-fold-batch-norm` (which scales `[O, ...]` weights) and
    `kiln-winograd`, before `kiln-fuse`; inference and evaluation graphs
    only (a packed convolution has no gradient).

    With `gpu`, it packs for the GPU convolutions instead (docs/gpu.md):
    every convolution without groups and with `O` a multiple of 8, in one
    block of all `O` channels (`[1, C, KH, KW, O]`, the output channel
    fastest), so that a thread's register tile of up to 8 output channels
    loads its weights as 4-wide vectors. Without it the GPU kernel lays the
    weight out so on every call, in a kernel of its own.

    ```mlir
    // kiln-opt --kiln-pack-weights
    %y = kiln.conv2d %x, %w {strides = array<i64: 2, 2>} : (tensor<1x64x56x56xf32>, tensor<128x64x3x3xf32>) -> ...
    // becomes
    %r = kiln.reshape %w {shape = array<i64: 8, 16, 64, 3, 3>} : ...
    %p = kiln.transpose %r {perm = array<i64: 0, 2, 3, 4, 1>} : ... -> tensor<8x64x3x3x16xf32>
    %y = kiln.conv2d %x, %p {strides = array<i64: 2, 2>} : ...
    ```
  }];
  let options = [
    Option<"block", "block", "int64_t", "16",
           "Output channels per block: the target's float vector width">,
    Option<"gpu", "gpu", "bool", "false",
           "The GPU convolutions' layout: every conv2d without groups whose "
           "output channels are a multiple of 8, in one block of all of "
           "them ([1, C, KH, KW, O]); `block` is unused">,
  ];
}

def KilnSplitBatch : Pass<"kiln-split-batch", "mlir::ModuleOp"> {
  let summary = "Run the memory-bound head of an inference graph image by image";
  let description = [{
    At batch N > 1 the first layers of a network like MobileNetV2 stream
    activations of tens of MB (N x 96 x 112 x 112 floats) through kernels
    of few FLOPs per byte, which then wait on memory; per image the same
    tensors stay in cache. This pass finds the graph's head: the longest
    program-order run of ops that read the batched inputs and compute each
    image on its own (conv2d, conv2d_winograd, pools, inference batch_norm,
    elementwise ops, concat along a channel axis). It ends the head at the
    first op after the last large memory-bound value (full-batch bytes of at
    least `min-bytes`, fewer than `max-intensity` FLOPs per result byte)
    whose result is the only head value read later (a cut), at most
    `min-bytes` / 8 and not a convolution's value that only its activation
    reads (a block's output: the join copies it); without such a cut the
    graph is left unchanged. It cuts the batch into pieces of as many images as keep the
    head's largest value within `min-bytes` / 4 (one image for
    MobileNetV2), but at least `min-images`, and at most 16 pieces.
    Kernels split their parallel loops batch-major and the runtime's pool
    gives each thread a contiguous share (runtime/lib/ThreadPool.cpp), so
    in a piece of 2 images each of 2 threads computes its own image in
    every head kernel and reads it from its own core's cache; in a piece
    of one image the threads split the channels, and each kernel reads
    half its input from the other core (a 1x1 conv's output channels need
    every input channel). MobileNetV2 at batch 8, alternating runs: 1 ->
    2 images per piece, 25.6-26.6 -> 23.3-24.3 ms (the 1x1 projections
    16 x 112 x 112: 1.25 -> 0.74 ms for 8 images). Then per piece it
    slices each batched input (`kiln.slice`, axis 0), clones the head on
    that slice with the piece's shapes, and joins the pieces' results with one `kiln.concat`
    along axis 0, which replaces the cut value. Ops
    that do not read the batch (weights and their folds, packs and Winograd
    filters) stay shared. Graphs without such a head are left unchanged.
    Measured on MobileNetV2 at batch 8: docs/codegen.md. Inference only,
    after `kiln-pack-weights` and before `kiln-fuse` (each copy is fused as
    the batch-1 graph would be).

    ```mlir
    // kiln-opt --kiln-split-batch="min-bytes=1024 min-images=1"
    %y = kiln.conv2d %x, %w : (tensor<2x3x16x16xf32>, ...) -> tensor<2x8x16x16xf32>
    %z = kiln.relu6 %y : ...
    // becomes, per image b = 0, 1:
    %x0 = kiln.slice %x {axis = 0, start = 0, size = 1} : ... -> tensor<1x3x16x16xf32>
    %y0 = kiln.conv2d %x0, %w : ... -> tensor<1x8x16x16xf32>
    %z0 = kiln.relu6 %y0 : ...
    // ... the same for b = 1, then
    %z = kiln.concat %z0, %z1 {axis = 0 : i64} : ... -> tensor<2x8x16x16xf32>
    ```
  }];
  let options = [
    Option<"minBytes", "min-bytes", "int64_t", "8388608",
           "Least full-batch bytes of a memory-bound value worth splitting for">,
    Option<"maxIntensity", "max-intensity", "double", "32.0",
           "FLOPs per result byte below which a value is memory bound">,
    Option<"minImages", "min-images", "int64_t", "2",
           "Least images per piece (a batch of at most this many is not split)">,
  ];
}

def KilnHoistLoadTime : Pass<"kiln-hoist-load-time", "mlir::ModuleOp"> {
  let summary = "Mark kernels that read only parameters and constants";
  let description = [{
    A kernel op whose operands all come (through views) from `kiln.param`,
    `kiln.constant` or other marked kernels gets the unit attribute
    `kiln.load_time`. Its plan call is flagged `once`: the runtime runs it
    when the parameters were (re)loaded or set, and skips it otherwise; its
    results live outside the arena so they survive between runs. Only for
    graphs that do not update their parameters (inference, evaluation).
  }];
}

def KilnFuse : Pass<"kiln-fuse", "mlir::ModuleOp"> {
  let summary = "Group producer-consumer chains into kiln.fused kernels";
  let description = [{
    Each group becomes one `kiln.fused` op whose body holds the ops, and one
    Halide pipeline in which the chain is inlined into the output stage
    (docs/fusion.md). Patterns, each with an option:
    - `epilogue`: an anchor (FusionAnchorOpInterface: conv2d, dense, a
      matmul of matrices with static shapes) and the elementwise ops that
      consume it: conv + batch norm (inference) + activation, conv +
      residual add + activation, dense + bias-free activation, matmul +
      bias + GELU, ...
    - `elementwise`: a chain of elementwise ops without an anchor.
    - `prologue`: an `activation_grad` whose only use is the operand a
      consumer (FusionPrologueOpInterface: batch_norm_grad's dy) computes
      itself: activation-grad + BN-grad reductions in one kernel; a
      max_pool2d_grad (unit dilations) may start the chain.
    - `pool`: a batch_norm_train chain, or a conv2d chain that codegen
      computes in whole planes (groups 1, unpacked weight, window larger
      than 1x1, unit strides), whose value only a max_pool2d reads ends in
      it (isPoolTail: non-overlapping windows, after a batch_norm_train
      inside planes of 256 or more positions); appended after the other
      patterns, since `recompute` removes the backward pass's reads of
      that value.
    - `recompute`: a prologue's max_pool2d_grad reading relu(y) of the
      same layer's batch_norm_train reads it recomputed from the BN's input
      and statistics inside the kernel (new batch_norm + relu ops at the
      chain's head), so the ReLU output is not read back.
    - `sinks`: after a prologue's consumer, the ops reducing its first
      result (kiln::ir::isGradientSink: a conv bias's gradient, and a
      first layer's weight gradient where nothing else reads dx) join the
      kernel, which then writes dx only if something else reads it; the
      fused op sits at the consumer.
    - `recompute-conv`: a conv2d that the kernels reading it can
      recompute cheaply (isRecomputableConv: at most 27 multiplies per
      output, a first layer on one or three channels, its input and one
      output channel over the batch within 256 KB) and whose every reader
      reads it as x, as a batch_norm_train chain's anchor, a prologue
      chain's batch_norm_grad or a batch_norm recomputing the forward,
      joins each of those chains as a recomputed input (`recomputed` on
      the fused op): its output, the largest tensor of a small CNN, is
      never written. Applied after the other patterns.
    - `producer`: an epilogue chain of a 1x1 conv2d (stride 1, no padding
      or groups) whose only use is a depthwise conv2d, with that conv's own
      chain: MobileNet's expansion + depthwise layers in one kernel, which
      computes the expanded tensor in cache and never writes it.
    - `projection` (with `producer`; off by default: docs/fusion.md's
      measurements): a 1x1 conv2d (stride 1, no padding or
      groups) whose input is a producer chain's value, its only use, with
      its own chain (bias, residual add): MobileNetV2's whole inverted
      residual block in one kernel, the depthwise value computed in cache
      row by row and never written either. Only where codegen computes the
      depthwise value in rows: expanded planes of 20 columns or more,
      depthwise output rows of 16 or more.
    - `attention`: a matmul (the scores), elementwise ops on them (scale,
      mask), a softmax along the last axis and the matmul that reads the
      probabilities as its left operand, each value used only by the next:
      the scores and probabilities of a block of query rows stay in cache.
      Matched first, from each softmax.

    Algorithm:
    1. Visit the ops of the entry function in program order; an op not yet
       grouped starts a chain if it is an anchor (with `epilogue`) or a
       fusible elementwise op (with `elementwise`).
    2. Extend the chain while the last result has exactly one use, by a
       fusible elementwise op (ElementwiseOpInterface::isFusible) whose
       result has the same type. Values used twice (e.g. kept for the
       backward pass) end a chain: fusing them would recompute or spill.
       With `producer`, a depthwise conv2d reading the end of a 1x1
       conv2d's chain (its only use) extends that chain, with its own;
       with `projection`, so does a 1x1 conv2d reading the end of such a
       chain.
    3. A chain of two or more ops becomes a `kiln.fused` op placed at its
       last op, with the chain's outside operands as inputs.
  }];
  let options = [
    Option<"epilogue", "epilogue", "bool", "true",
           "Fuse elementwise consumers into conv2d / dense">,
    Option<"elementwise", "elementwise", "bool", "true",
           "Fuse chains of elementwise ops">,
    Option<"prologue", "prologue", "bool", "true",
           "Fuse activation_grad into the batch_norm_grad reading it">,
    Option<"producer", "producer", "bool", "true",
           "Fuse a 1x1 conv2d's chain into the depthwise conv2d reading it">,
    Option<"projection", "projection", "bool", "false",
           "With producer: fuse the 1x1 conv2d reading a producer kernel's "
           "value into it">,
    Option<"projectionMaxColumns", "projection-max-columns", "int64_t", "0",
           "With projection: only where the expanded plane is narrower than "
           "this many columns (0: any width)">,
    Option<"attention", "attention", "bool", "true",
           "Fuse attention's matmul, scale/mask, softmax and matmul">,
    Option<"pool", "pool", "bool", "true",
           "End a batch_norm_train or planes-form conv2d chain in the "
           "max_pool2d reading it (its value then never written)">,
    Option<"recompute", "recompute", "bool", "true",
           "In a prologue whose max_pool2d_grad reads relu(batch_norm_train), "
           "recompute that ReLU output from the BN's input instead of "
           "reading it">,
    Option<"recomputeConv", "recompute-conv", "bool", "true",
           "Recompute a cheap conv2d (at most 27 multiplies per output) "
           "inside the batch_norm_train and batch_norm_grad kernels that "
           "read it, instead of writing its output">,
    Option<"sinks", "sinks", "bool", "true",
           "Fuse a conv bias's and a first layer's weight gradient into the "
           "prologue's batch_norm_grad (gradient sinks)">,
  ];
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

def KilnScheduleForMemory : Pass<"kiln-schedule-for-memory", "mlir::ModuleOp"> {
  let summary = "Reorder ops, where dependences allow, to lower peak memory";
  let description = [{
    List-schedules the kernel ops: among the ops whose operands are ready,
    the one adding the fewest bytes (its results minus the storage it is
    the last reader of) runs next, program order breaking ties; parameters,
    constants and views move just before their first user. The new order is
    kept only if its peak live bytes (as `kiln-plan-memory` counts them) are
    lower. See docs/memory.md.
  }];
}

def KilnRematerialize : Pass<"kiln-rematerialize", "mlir::ModuleOp"> {
  let summary = "Recompute cheap forward values in the backward pass";
  let description = [{
    While the planned arena exceeds `memory-budget` bytes, the largest
    elementwise (or batch_norm_train) result that is idle across the peak
    step is recomputed just before its next reader instead of being kept.
    The function records `kiln.remat_bytes_saved` and `kiln.remat_flops`.

    ```mlir
    // kiln-opt --kiln-rematerialize=memory-budget=1000000
    %a = kiln.relu %h ...          // forward reader of %a ...
    %a2 = kiln.relu %h ...         // ... backward readers use the clone
    ```
  }];
  let options = [
    Option<"memoryBudget", "memory-budget", "int64_t", "0",
           "Arena bytes to fit in (0: no rematerialization)">,
  ];
}

def KilnPlanMemory : Pass<"kiln-plan-memory", "mlir::ModuleOp"> {
  let summary = "Plan every intermediate at an offset in one arena";
  let description = [{
    Liveness over the kernel order (kernel ops, then the `kiln.assign`
    write-backs), in-place elementwise kernels over dying operands, then
    greedy-by-size placement with 64-byte alignment (`alignment`; 512 for
    GPU targets, whose buffers are sub-buffers of one device allocation),
    best of several
    orderings. Annotates each kernel op with `kiln.offsets` (per result; -1:
    outside the arena), `kiln.live` (first and last kernel step per result)
    and `kiln.in_place` (the overwritten operand), and the function with
    `kiln.arena_bytes`, `kiln.peak_live_bytes` and `kiln.naive_bytes`.

    ```mlir
    %0 = kiln.dense %x, %w {kiln.live = array<i64: 0, 1>, kiln.offsets = array<i64: 0>} ...
    %1 = kiln.relu %0 {kiln.in_place = 0 : i64, kiln.live = array<i64: 1, 2>, kiln.offsets = array<i64: 0>} ...
    ```
  }];
  let options = [
    Option<"inPlace", "in-place", "bool", "true",
           "Let elementwise kernels overwrite operands that die there">,
    Option<"alignment", "alignment", "int64_t", "64",
           "Every offset and block size a multiple of this many bytes "
           "(GPU targets: 512, kiln::support::kDeviceAlignment)">,
  ];
}

#endif // KILN_PASSES_TD
