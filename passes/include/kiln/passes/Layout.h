//===- Layout.h - kiln-layout's capability rules, shared with lowering ----===//
#ifndef KILN_PASSES_LAYOUT_H
#define KILN_PASSES_LAYOUT_H

#include "mlir/IR/Operation.h"

#include <string>
#include <vector>

namespace kiln::passes {

// The attribute kiln-layout sets on an op: one string per result, "" (dense,
// logical order) or "nchw16c" (docs/layout.md).
constexpr const char *kLayoutsAttr = "kiln.layouts";

// What an op's kernel can do with channel-blocked tensors (codegen's
// supportsBlocked, from the IR side).
struct LayoutCapability {
  std::vector<unsigned> operands; // operands that may be blocked
  bool result = false;            // its (first) result may be blocked
  // `tied` operands and the result are all blocked or all dense: the
  // blocked depthwise form (input and output), and layout-agnostic
  // elementwise kernels (same-shaped operands read and written in one
  // physical order: all of them).
  std::vector<unsigned> tied;
  bool tiedResult = false;
  bool agnostic = false; // an elementwise kernel: lowered over physical dims
};
LayoutCapability layoutCapability(mlir::Operation *op);

// The layout of `value`: its defining op's kiln.layouts entry, else "".
std::string layoutOf(mlir::Value value);

} // namespace kiln::passes

#endif // KILN_PASSES_LAYOUT_H
