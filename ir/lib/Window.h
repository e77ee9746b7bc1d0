//===- Window.h - conv/pool window geometry (internal) ---------------------===//
#ifndef KILN_IR_LIB_WINDOW_H
#define KILN_IR_LIB_WINDOW_H

#include "kiln/ir/KilnDialect.h"

namespace kiln::ir::detail {

// Sliding-window geometry of a conv or pool over H and W, with auto_pad and
// ceil_mode resolved into explicit pads.
struct Window {
  int64_t kernel[2], strides[2], dilations[2];
  int64_t pads[4];     // canonical: top, left, bottom, right (+ ceil extra)
  int64_t userPads[4]; // as written (or from auto_pad), without ceil extra
  int64_t out[2];
};

mlir::FailureOr<Window>
resolveWindow(mlir::Operation *op, llvm::ArrayRef<int64_t> inHW,
              llvm::ArrayRef<int64_t> kernel, llvm::ArrayRef<int64_t> strides,
              llvm::ArrayRef<int64_t> dilations, llvm::ArrayRef<int64_t> pads,
              llvm::StringRef autoPad, bool ceilMode);

// The window of a max_pool2d / avg_pool2d (strides default to the kernel).
template <typename PoolOp> mlir::FailureOr<Window> poolWindow(PoolOp op);

} // namespace kiln::ir::detail

#endif // KILN_IR_LIB_WINDOW_H
