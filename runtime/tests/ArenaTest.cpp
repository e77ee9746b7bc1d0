// The planned arena (docs/memory.md): temps at their offsets, a caller-lent
// arena, and no allocation at all inside Session::run(). Its own executable:
// it replaces the global operator new and malloc to count allocations.
#include "TestUtil.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

extern "C" void *__libc_malloc(size_t size);

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};

void *countedMalloc(size_t size) {
  if (counting.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1, std::memory_order_relaxed);
  }
  return __libc_malloc(size);
}

// Counts the allocations `statement` makes.
template <typename F> long countAllocations(F &&statement) {
  allocations = 0;
  counting = true;
  statement();
  counting = false;
  return allocations.load();
}
} // namespace

// glibc lets the executable interpose malloc; free stays glibc's.
extern "C" void *malloc(size_t size) { return countedMalloc(size); }

void *operator new(size_t size) {
  if (void *p = countedMalloc(size ? size : 1)) {
    return p;
  }
  throw std::bad_alloc();
}
void *operator new[](size_t size) { return operator new(size); }
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, size_t) noexcept { std::free(p); }
void operator delete[](void *p, size_t) noexcept { std::free(p); }

namespace kiln::runtime {
namespace {

using nlohmann::json;

// t = x + w (offset 0); u = t + w (offset 64); v = u + w written over t's
// slot (t died at call 1); total = sum(v), returned, outside the arena.
json arenaPlan() {
  return json::parse(R"({
    "version": 1,
    "library": ")" KILN_TEST_KERNELS R"(",
    "buffers": [
      {"name": "x", "shape": [4], "dtype": "f32", "kind": "input"},
      {"name": "w", "shape": [4], "dtype": "f32", "kind": "param",
       "init": {"kind": "ones"}},
      {"name": "t", "shape": [4], "dtype": "f32", "kind": "temp", "offset": 0},
      {"name": "u", "shape": [4], "dtype": "f32", "kind": "temp", "offset": 64},
      {"name": "v", "shape": [4], "dtype": "f32", "kind": "temp", "offset": 0},
      {"name": "total", "shape": [], "dtype": "f32", "kind": "temp"}
    ],
    "inputs": [0],
    "outputs": [{"name": "total", "buffer": 5}],
    "calls": [
      {"kernel": "kiln_test_add", "op": "add", "args": [0, 1, 2]},
      {"kernel": "kiln_test_add", "op": "add", "args": [2, 1, 3]},
      {"kernel": "kiln_test_add", "op": "add", "args": [3, 1, 4]},
      {"kernel": "kiln_test_sum", "op": "sum", "args": [4, 5]}
    ],
    "arena_bytes": 128
  })");
}

std::string writePlan(const json &plan) {
  std::string path = test::tempDir() + "/plan.json";
  test::writeText(path, plan.dump(1));
  return path;
}

Tensor input() {
  Tensor x({4}, DType::F32);
  for (int i = 0; i < 4; ++i) {
    x.f32()[i] = static_cast<float>(i);
  }
  return x;
}

TEST(Arena, RunAllocatesNothing) {
  Session session = Session::load(writePlan(arenaPlan()));
  EXPECT_EQ(session.arenaBytes(), 128u);
  session.setInput("x", input());
  session.run(); // the first run may touch lazily initialized state
  EXPECT_EQ(countAllocations([&] {
              for (int i = 0; i < 10; ++i) {
                session.run();
              }
            }),
            0);
  // (0+1+2+3) + 4 * 3 ones.
  EXPECT_FLOAT_EQ(session.output("total").f32()[0], 18.0f);
  // The session's own arena counts in allocatedBytes.
  EXPECT_GE(session.allocatedBytes(), 128u);
}

TEST(Arena, CountingSeesAllocations) {
  // The counter works: a vector allocates.
  EXPECT_GT(countAllocations([] { std::vector<int> v(100); (void)v; }), 0);
}

TEST(Arena, LentArenaHoldsTheTemps) {
  Session session = Session::load(writePlan(arenaPlan()));
  session.prepare();
  size_t own = session.allocatedBytes();
  alignas(64) static float memory[32 + 16];
  std::memset(memory, 0, sizeof memory);
  session.setArena(memory, 128);
  EXPECT_EQ(session.allocatedBytes(), own - 128);
  session.setInput("x", input());
  EXPECT_EQ(countAllocations([&] { session.run(); }), 0);
  EXPECT_FLOAT_EQ(session.output("total").f32()[0], 18.0f);
  // v = x + 3 at offset 0 (over t), u = x + 2 at offset 64.
  for (int i = 0; i < 4; ++i) {
    EXPECT_FLOAT_EQ(memory[i], i + 3.0f);
    EXPECT_FLOAT_EQ(memory[16 + i], i + 2.0f);
  }
}

TEST(Arena, LentArenaIsChecked) {
  Session session = Session::load(writePlan(arenaPlan()));
  alignas(64) static char memory[256];
  EXPECT_NE(KILN_ERROR_MESSAGE(session.setArena(memory, 64))
                .find("the arena holds 64 bytes, the plan needs 128"),
            std::string::npos);
  EXPECT_NE(KILN_ERROR_MESSAGE(session.setArena(memory + 8, 200))
                .find("64-byte aligned"),
            std::string::npos);
}

TEST(Arena, PlanOffsetsAreChecked) {
  json plan = arenaPlan();
  plan["buffers"][3]["offset"] = 96;
  EXPECT_NE(KILN_ERROR_MESSAGE(Session::load(writePlan(plan)))
                .find("buffers[3].offset: must be a non-negative multiple of 64"),
            std::string::npos);
  plan["buffers"][3]["offset"] = 128;
  EXPECT_NE(KILN_ERROR_MESSAGE(Session::load(writePlan(plan)))
                .find("does not fit in arena_bytes 128"),
            std::string::npos);
}

} // namespace
} // namespace kiln::runtime
