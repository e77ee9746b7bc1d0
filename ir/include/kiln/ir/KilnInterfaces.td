//===- KilnInterfaces.td - per-op behaviour behind interfaces -*- tablegen -*-===//
#ifndef KILN_INTERFACES_TD
#define KILN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Kiln_ShapeInferenceOpInterface : OpInterface<"ShapeInferenceOpInterface"> {
  let description = [{
    Computes an op's result types from its operand types and attributes.
    Used by the verifier (the declared result types must equal the inferred
    ones) and by `kiln-shape-inference`, which rewrites result types after
    the input shapes change (e.g. a new batch size). On failure the method
    emits an error naming the offending shapes or attributes.
  }];
  let cppNamespace = "::kiln::ir";
  let methods = [
    InterfaceMethod<"Infers the result types; emits an error on failure.",
      "::mlir::LogicalResult", "inferResultTypes",
      (ins "::llvm::SmallVectorImpl<::mlir::Type> &":$types)>,
  ];
  let verify = [{ return ::kiln::ir::verifyInferredTypes($_op); }];
}

def Kiln_ViewOpInterface : OpInterface<"ViewOpInterface"> {
  let description = [{
    The op's single result has the same elements, in the same order, as its
    first operand: no kernel runs, the result aliases the operand's storage
    (reshape, flatten, identity, dropout at inference).
  }];
  let cppNamespace = "::kiln::ir";
}

def Kiln_UpdateOpInterface : OpInterface<"UpdateOpInterface"> {
  let description = [{
    A state update (optimizer step, running statistics): each element of
    every result depends only on the operand elements at the same index,
    and result `r` is the new value of operand `updatedOperand(r)`. When
    that result is only written back to the operand's parameter
    (`kiln.assign`) and nothing reads the parameter after the update, the
    plan lets the kernel write straight into the parameter: no temporary,
    no write-back copy.
  }];
  let cppNamespace = "::kiln::ir";
  let methods = [
    InterfaceMethod<"The operand that result `result` is the new value of.",
      "unsigned", "updatedOperand", (ins "unsigned":$result)>,
  ];
}

def Kiln_ElementwiseOpInterface : OpInterface<"ElementwiseOpInterface"> {
  let description = [{
    Each element of the (single) result depends only on the operand
    elements at the same index (after broadcasting per-channel or scalar
    operands). Memory planning may then let the kernel write its result over
    an operand of the result's type that dies at this op (in place), and
    fusion may inline the op into a neighbouring kernel.
  }];
  let cppNamespace = "::kiln::ir";
  let methods = [
    InterfaceMethod<"Whether the result may overwrite operand `index`.",
      "bool", "canWriteOver", (ins "unsigned":$index), [{}],
      [{ return $_op->getOperand(index).getType() ==
                $_op->getResult(0).getType(); }]>,
    InterfaceMethod<[{Whether a fused kernel can inline this op (the fused
      kernel builder has its elementwise definition).}],
      "bool", "isFusible", (ins), [{}], [{ return true; }]>,
  ];
}

def Kiln_RecomputeOpInterface : OpInterface<"RecomputeOpInterface"> {
  let description = [{
    Cheap to compute again: kiln-rematerialize may drop the op's result
    after its first readers and recompute it next to a later one instead
    of keeping it alive across the gap (docs/memory.md). The estimate of
    the work added is reported with the memory saved.
  }];
  let cppNamespace = "::kiln::ir";
  let methods = [
    InterfaceMethod<[{Floating-point operations per element of the first
      result to compute it again (an estimate).}],
      "int64_t", "recomputeFlopsPerElement", (ins), [{}],
      [{ return 1; }]>,
  ];
}

def Kiln_ChannelAffineFoldOpInterface
    : OpInterface<"ChannelAffineFoldOpInterface"> {
  let description = [{
    A layer `(input, weight [O, ...], bias [O]?) -> [N, O, ...]` whose
    output channel o is linear in row o of the weight plus bias[o]: a
    per-channel affine map after it (an inference batch norm) folds into
    its weight and bias (kiln-fold-batch-norm), which scale the weight's
    rows and shift the bias.
  }];
  let cppNamespace = "::kiln::ir";
  let methods = [
    InterfaceMethod<[{Whether the fold applies to this op as it stands
      (a conv2d with a packed weight holds its rows in blocks: no).}],
      "bool", "canFoldChannelAffine", (ins), [{}], [{ return true; }]>,
  ];
}

def Kiln_KernelOpInterface : OpInterface<"KernelOpInterface"> {
  let description = [{
    The op becomes one kernel. Its kernel attributes (docs/ops.md) are its
    attributes converted to JSON with every default present; an op whose
    attributes need resolving (automatic padding, negative axes, ceil mode)
    overrides `canonicalizeKernelAttrs` to put them in canonical form.
  }];
  let cppNamespace = "::kiln::ir";
  let methods = [
    InterfaceMethod<"Rewrites the generic attribute JSON into canonical form.",
      "::mlir::LogicalResult", "canonicalizeKernelAttrs",
      (ins "::nlohmann::json &":$attrs), [{}],
      [{ return ::mlir::success(); }]>,
  ];
}

def Kiln_GradientOpInterface : OpInterface<"GradientOpInterface"> {
  let description = [{
    The op's reverse-mode rule: given the gradients of the loss with respect
    to its results (null where no gradient flows), build ops that compute
    the gradients with respect to its operands (vector-Jacobian products).
    An operand that is not differentiable (labels, seeds, running
    statistics) gets a null gradient. Forward values the rule uses are
    simply referenced: they stay alive (memoized) for the backward pass.
  }];
  let cppNamespace = "::kiln::ir";
  let methods = [
    InterfaceMethod<"Builds the operand gradients at the builder's point.",
      "::mlir::LogicalResult", "buildGradients",
      (ins "::mlir::OpBuilder &":$builder,
           "::llvm::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}

def Kiln_TrainingModeOpInterface : OpInterface<"TrainingModeOpInterface"> {
  let description = [{
    An op that behaves differently when training (batch norm uses batch
    statistics and updates its running statistics, dropout drops). The
    `kiln-training-mode` pass asks each such op to rewrite itself.
  }];
  let cppNamespace = "::kiln::ir";
  let methods = [
    InterfaceMethod<[{Rewrites the op into its training form. `seed` is the
      step's i32 scalar random seed, `salt` a number unique to this op.}],
      "::mlir::LogicalResult", "convertToTraining",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Value":$seed,
           "int64_t":$salt)>,
  ];
}

#endif // KILN_INTERFACES_TD
