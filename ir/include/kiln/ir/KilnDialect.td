//===- KilnDialect.td - the kiln dialect --------------------*- tablegen -*-===//
#ifndef KILN_DIALECT_TD
#define KILN_DIALECT_TD

include "mlir/IR/OpBase.td"

def Kiln_Dialect : Dialect {
  let name = "kiln";
  let summary = "Neural-network layers, activations and losses on static tensors";
  let description = [{
    The kiln dialect describes a model as a static dataflow graph of layers,
    activations and losses over ranked, statically shaped `f32` tensors
    (`i32` for class labels), with NCHW images and PyTorch/ONNX semantics.
    Trainable tensors are `kiln.param` values named like `conv1.weight`.
  }];
  let cppNamespace = "::kiln::ir";
}

#endif // KILN_DIALECT_TD
