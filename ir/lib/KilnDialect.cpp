//===- KilnDialect.cpp - the kiln dialect ---------------------------------===//
#include "kiln/ir/KilnDialect.h"
#include "kiln/ir/KilnFusion.h"

using namespace mlir;

#include "kiln/ir/KilnDialect.cpp.inc"
#include "kiln/ir/KilnInterfaces.cpp.inc"

void kiln::ir::KilnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "kiln/ir/KilnOps.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "kiln/ir/KilnFusion.cpp.inc"
      >();
  attachFusionInterfaces(getContext());
}
