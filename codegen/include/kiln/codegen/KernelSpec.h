// KernelSpec: the contract between the MLIR half of kiln and the Halide half.
//
// The compiler lowers every kernel-producing op of the kiln dialect to one
// KernelSpec: the op's name (without the "kiln." prefix), its attributes
// resolved to canonical form (see docs/ops.md: explicit pads, non-negative
// axes), and the shapes of its operands and results in logical (row-major,
// NCHW) order. Codegen turns a KernelSpec into one Halide pipeline.
//
// This header names no MLIR, LLVM or Halide type: it is plain data, so both
// halves can include it without mixing the two LLVMs.
#ifndef KILN_CODEGEN_KERNELSPEC_H
#define KILN_CODEGEN_KERNELSPEC_H

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kiln::codegen {

enum class DType { F32, I32 };

const char *dtypeName(DType dtype); // "f32" / "i32"
DType parseDType(const std::string &name); // throws kiln::codegen::Error

// The channel-blocked physical layout kiln-layout gives intermediates
// (docs/layout.md): a logical [N, C, H, W] tensor stored as [N, C/16, H, W,
// 16], channel c at block c / 16, lane c % 16 (C a multiple of 16).
constexpr const char *kBlockedLayout = "nchw16c";
constexpr int64_t kLayoutBlock = 16;

// KernelSpec::schedule: "auto:" + one of Halide's autoschedulers (their
// plugins ship with Debian's Halide 14).
constexpr const char *kAutoSchedulePrefix = "auto:";
constexpr const char *kAutoSchedulers[] = {"Adams2019", "Li2018",
                                           "Mullapudi2016"};

struct TensorSpec {
  std::vector<int64_t> shape; // logical order, outermost first (NCHW)
  DType dtype = DType::F32;
  // Physical layout: "" (dense, in logical order) or kBlockedLayout.
  std::string layout;

  int64_t numElements() const;
  bool blocked() const { return !layout.empty(); }
  // The dims as stored, outermost first: `shape`, or [N, C/16, H, W, 16].
  std::vector<int64_t> physicalShape() const;
  nlohmann::json toJson() const;
  static TensorSpec fromJson(const nlohmann::json &j);
};

struct KernelSpec {
  std::string op;       // e.g. "conv2d", "relu", "sparse_cce"
  nlohmann::json attrs = nlohmann::json::object(); // canonical attributes
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // Who schedules the kernel: "" (kiln's hand schedule) or "auto:NAME", one
  // of Halide's autoschedulers (Adams2019, Li2018, Mullapudi2016) on the
  // kernel's algorithm (docs/codegen.md "Autoschedulers"). Part of the key.
  std::string schedule;

  nlohmann::json toJson() const;
  static KernelSpec fromJson(const nlohmann::json &j);
  // Canonical text of the spec (sorted keys): equal specs give equal keys.
  std::string key() const;
  // Floating-point operations of one call, a multiply-add counting 2, for
  // the kernels that do arithmetic beyond one pass over their data:
  // conv2d, dense, matmul and the conv gradients (also as a fused kernel's
  // anchor). 0 for the others, which `kiln bench --profile` rates in GB/s.
  int64_t flops() const;
};

} // namespace kiln::codegen

#endif // KILN_CODEGEN_KERNELSPEC_H
