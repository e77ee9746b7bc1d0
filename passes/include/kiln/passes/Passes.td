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

#endif // KILN_PASSES_TD
