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

#endif // KILN_INTERFACES_TD
