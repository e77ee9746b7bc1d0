// fixPrefetchSteps (KernelSupport.cpp) against Halide 14's prefetch
// lowering: a prefetch of a box of floats must touch each of its cache
// lines once, 64 bytes apart, and none past the box.
#include "../lib/Kernels.h"

#include <gtest/gtest.h>

#include <set>

using namespace Halide;
using namespace Halide::Internal;

namespace {

// Sets every integer variable left in an expression to 0 (the row loop's,
// whose name Halide uniquifies).
class ZeroVariables : public IRMutator {
  using IRMutator::visit;
  Expr visit(const Variable *op) override {
    return op->type.is_int() ? make_zero(op->type) : Expr(op);
  }
};

// The byte offsets that the lowered prefetch loops touch in the first row,
// found by evaluating each `prefetch_split_*` loop's offset at every index
// with the row loop's variable at 0.
class CollectPrefetchBytes : public IRVisitor {
public:
  std::set<int64_t> bytes;
  int calls = 0;

private:
  using IRVisitor::visit;
  void visit(const For *op) override {
    const Evaluate *body = op->body.as<Evaluate>();
    const Call *call = body ? body->value.as<Call>() : nullptr;
    if (!call || !call->is_intrinsic(Call::prefetch)) {
      IRVisitor::visit(op);
      return;
    }
    const int64_t *extent = as_const_int(simplify(op->extent));
    ASSERT_NE(extent, nullptr);
    for (int64_t i = 0; i < *extent; ++i) {
      Expr offset = simplify(substitute(op->name, Expr(int32_t(i)),
                                        call->args[1]));
      offset = simplify(ZeroVariables().mutate(offset));
      const int64_t *value = as_const_int(offset);
      ASSERT_NE(value, nullptr) << offset;
      bytes.insert(*value * call->type.bytes());
      ++calls;
    }
  }
};

// out(x, outer) = in(x, outer) over a row of `width` floats; each row
// prefetches the next row of `in` as it starts.
CollectPrefetchBytes lowerRowPrefetch(int width, bool fix) {
  ImageParam in(Float(32), 2, "in");
  Var x("x"), outer("outer");
  Func out("out");
  out(x, outer) = in(x, outer) * 2.0f;
  out.bound(x, 0, width).bound(outer, 0, 4);
  in.dim(0).set_min(0).set_stride(1);
  in.dim(1).set_min(0).set_stride(width);
  out.prefetch(in, outer, outer, 1, PrefetchBoundStrategy::NonFaulting);
  Pipeline pipeline(out);
  if (fix) {
    kiln::codegen::detail::fixPrefetchSteps(pipeline);
  }
  Module module = pipeline.compile_to_module(
      {in}, "row_prefetch", get_host_target().with_feature(Target::NoRuntime));
  CollectPrefetchBytes collect;
  for (const LoweredFunc &f : module.functions()) {
    f.body.accept(&collect);
  }
  return collect;
}

TEST(PrefetchSteps, EveryLineOfTheBoxOnce) {
  // The next row of 64 floats (outer = 0 + 1): bytes 256 .. 511.
  CollectPrefetchBytes fixed = lowerRowPrefetch(64, true);
  EXPECT_EQ(fixed.bytes, (std::set<int64_t>{256, 320, 384, 448}));
  EXPECT_EQ(fixed.calls, 4);
}

TEST(PrefetchSteps, Halide14AloneStepsByElements) {
  // What the fix corrects: without it the 4 calls are 256 bytes apart
  // (every 4th line, 3 of them past the row). When a Halide release
  // computes the steps right, this test fails and the fix can go.
  CollectPrefetchBytes plain = lowerRowPrefetch(64, false);
  EXPECT_EQ(plain.bytes, (std::set<int64_t>{256, 512, 768, 1024}));
}

} // namespace
