// Kernel builders: KernelSpec -> scheduled Halide pipeline.
//
// Every op family has a validator, an algorithm function (Funcs over
// ImageParams) and a schedule function, kept apart as in Halide's apps. Halide
// dimension 0 is the innermost, i.e. the last logical dimension of a
// TensorSpec: a [N,C,H,W] tensor is indexed (w, h, c, n).
//
// Internal to codegen: the only file set including Halide.h.
#ifndef KILN_CODEGEN_LIB_KERNELS_H
#define KILN_CODEGEN_LIB_KERNELS_H

#include "kiln/codegen/Codegen.h"
#include "kiln/codegen/KernelSpec.h"

#include <Halide.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kiln::codegen::detail {

// A scheduled kernel: the pipeline's input arguments in ABI order and its
// single output (appended after the inputs by Halide).
struct Kernel {
  std::vector<Halide::Argument> inputs;
  Halide::Func output;
};

struct OpInfo {
  // Throws Error if the spec's counts, ranks, dtypes or attrs are wrong.
  std::function<void(const KernelSpec &spec)> validate;
  // Builds and schedules the kernel of an already validated spec.
  std::function<Kernel(const KernelSpec &spec, const Halide::Target &target)>
      build;
};

using OpRegistry = std::map<std::string, OpInfo>;

// Throws Error("unknown op ...") for ops without a kernel.
const OpInfo &lookupOp(const std::string &op);

void registerElementwiseOps(OpRegistry &registry);
void registerLayerOps(OpRegistry &registry);
void registerLossOps(OpRegistry &registry);

//===----------------------------------------------------------------------===//
// Spec checking
//===----------------------------------------------------------------------===//

[[noreturn]] void fail(const KernelSpec &spec, const std::string &problem);
void expectCounts(const KernelSpec &spec, size_t minInputs, size_t maxInputs,
                  size_t outputs);
void expectRank(const KernelSpec &spec, const TensorSpec &t, const char *what,
                size_t rank);
void expectMinRank(const KernelSpec &spec, const TensorSpec &t,
                   const char *what, size_t rank);
void expectShape(const KernelSpec &spec, const TensorSpec &t, const char *what,
                 const std::vector<int64_t> &shape);
// Every tensor f32, except the listed input indices, which must be i32.
void expectF32Except(const KernelSpec &spec, std::vector<size_t> i32Inputs = {});
// Positive extents that fit Halide's 32-bit indexing.
void expectValidShapes(const KernelSpec &spec);

int64_t attrInt(const KernelSpec &spec, const char *name);
double attrFloat(const KernelSpec &spec, const char *name);
bool attrBool(const KernelSpec &spec, const char *name);
std::string attrString(const KernelSpec &spec, const char *name);
std::vector<int64_t> attrInts(const KernelSpec &spec, const char *name,
                              size_t count);

//===----------------------------------------------------------------------===//
// Algorithm helpers
//===----------------------------------------------------------------------===//

// Tensor extents in Halide order (innermost first).
std::vector<int> halideShape(const TensorSpec &t);

// An input with the kernel's static shape: dense, min 0, constant extents and
// strides, so that Halide folds all index arithmetic.
Halide::ImageParam makeInput(const TensorSpec &t, const std::string &name);
// The same constraints on the output buffer.
void constrainOutput(Halide::Func output, const TensorSpec &t);

std::vector<Halide::Var> makeVars(size_t rank);
std::vector<Halide::Expr> asExprs(const std::vector<Halide::Var> &vars);

//===----------------------------------------------------------------------===//
// Schedule helpers
//===----------------------------------------------------------------------===//

// Elements below which a loop is not worth a parallel task.
constexpr int64_t kParallelGrain = 1 << 15;

// Largest of vec, vec/2, vec/4 not above extent; 1 if extent < vec/4.
int vectorWidthFor(int extent, int vec);

// Schedules a pure Func over a dense static domain: the innermost dims are
// fused until they fill a vector, vectorized, and the outer dims are fused
// into one parallel loop. Works for any shape, including rank 0 and 1x1.
void scheduleElementwise(Halide::Func f, const std::vector<Halide::Var> &vars,
                         const std::vector<int> &extents,
                         const Halide::Target &target);

} // namespace kiln::codegen::detail

#endif // KILN_CODEGEN_LIB_KERNELS_H
