// kiln's thread pool (runtime/lib/ThreadPool.h) against what a parallel
// loop must do: every index of [min, min + size) exactly once, the first
// error returned, nested loops and loops from concurrent threads run to
// completion.
#include "../lib/ThreadPool.h"
#include "kiln/runtime/Runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace {

using kiln::runtime::detail::parallelFor;

struct Counts {
  std::vector<std::atomic<int>> hits;
  int min;
  explicit Counts(int size, int min) : hits(size), min(min) {}
};

int countTask(void *, int i, uint8_t *closure) {
  auto *c = reinterpret_cast<Counts *>(closure);
  c->hits.at(i - c->min).fetch_add(1);
  return 0;
}

TEST(ThreadPool, RunsEveryIndexOnce) {
  for (int size : {0, 1, 2, 3, 17, 1000}) {
    Counts c(size, 5);
    EXPECT_EQ(parallelFor(nullptr, countTask, 5, size,
                          reinterpret_cast<uint8_t *>(&c)),
              0);
    for (int i = 0; i < size; ++i) {
      EXPECT_EQ(c.hits[i].load(), 1) << "size " << size << ", index " << i;
    }
  }
}

int failAtSeven(void *, int i, uint8_t *) { return i == 7 ? -3 : 0; }

TEST(ThreadPool, ReturnsTheTasksError) {
  EXPECT_EQ(parallelFor(nullptr, failAtSeven, 0, 64, nullptr), -3);
  EXPECT_EQ(parallelFor(nullptr, failAtSeven, 8, 64, nullptr), 0);
}

int nestedTask(void *, int i, uint8_t *closure) {
  auto *outer = reinterpret_cast<std::vector<Counts> *>(closure);
  Counts &inner = (*outer)[i];
  return parallelFor(nullptr, countTask, 0, 9,
                     reinterpret_cast<uint8_t *>(&inner));
}

TEST(ThreadPool, NestedLoopsComplete) {
  std::vector<Counts> inner;
  inner.reserve(6);
  for (int i = 0; i < 6; ++i) {
    inner.emplace_back(9, 0);
  }
  EXPECT_EQ(parallelFor(nullptr, nestedTask, 0, 6,
                        reinterpret_cast<uint8_t *>(&inner)),
            0);
  for (const Counts &c : inner) {
    for (const auto &h : c.hits) {
      EXPECT_EQ(h.load(), 1);
    }
  }
}

TEST(ThreadPool, ConcurrentCallersAllComplete) {
  constexpr int kThreads = 4, kLoops = 200, kSize = 33;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int l = 0; l < kLoops; ++l) {
        Counts c(kSize, 0);
        if (parallelFor(nullptr, countTask, 0, kSize,
                        reinterpret_cast<uint8_t *>(&c)) != 0) {
          wrong.fetch_add(1);
        }
        for (const auto &h : c.hits) {
          if (h.load() != 1) {
            wrong.fetch_add(1);
          }
        }
      }
    });
  }
  for (std::thread &t : threads) {
    t.join();
  }
  EXPECT_EQ(wrong.load(), 0);
}

// startLoopTrace / stopLoopTrace: one record per loop run from outside a
// task, in order, each thread's part inside the loop's span, and the parts'
// tasks adding up to the loop's size; loops nested in a task are not
// loops of their own; a full buffer keeps the first loops.
TEST(ThreadPool, TraceRecordsEachLoopAndEachThreadsTasks) {
  using kiln::runtime::LoopTrace;
  kiln::runtime::startLoopTrace(8);
  Counts wide(64, 0), single(1, 0);
  parallelFor(nullptr, countTask, 0, 64, reinterpret_cast<uint8_t *>(&wide));
  parallelFor(nullptr, countTask, 0, 1, reinterpret_cast<uint8_t *>(&single));
  std::vector<Counts> inner;
  inner.reserve(6);
  for (int i = 0; i < 6; ++i) {
    inner.emplace_back(9, 0);
  }
  parallelFor(nullptr, nestedTask, 0, 6, reinterpret_cast<uint8_t *>(&inner));
  std::vector<LoopTrace> loops = kiln::runtime::stopLoopTrace();
  ASSERT_EQ(loops.size(), 3u);
  const int expectedSizes[] = {64, 1, 6};
  for (int l = 0; l < 3; ++l) {
    const LoopTrace &loop = loops[l];
    EXPECT_EQ(loop.size, expectedSizes[l]);
    EXPECT_LE(loop.submitNs, loop.endNs);
    if (l > 0) {
      EXPECT_LE(loops[l - 1].endNs, loop.submitNs);
    }
    int tasks = 0;
    std::vector<int> seen;
    for (const LoopTrace::Part &part : loop.parts) {
      EXPECT_GT(part.tasks, 0);
      EXPECT_LE(loop.submitNs, part.beginNs);
      EXPECT_LE(part.beginNs, part.endNs);
      EXPECT_LE(part.endNs, loop.endNs);
      EXPECT_GE(part.thread, 0);
      EXPECT_LT(part.thread, kiln::runtime::poolThreads());
      EXPECT_EQ(std::count(seen.begin(), seen.end(), part.thread), 0);
      seen.push_back(part.thread);
      tasks += part.tasks;
    }
    EXPECT_EQ(tasks, loop.size) << "loop " << l;
  }
  ASSERT_EQ(loops[1].parts.size(), 1u);
  EXPECT_EQ(loops[1].parts[0].thread, 0); // one task: its caller runs it

  // Not recording: nothing to return.
  parallelFor(nullptr, countTask, 0, 64, reinterpret_cast<uint8_t *>(&wide));
  EXPECT_TRUE(kiln::runtime::stopLoopTrace().empty());

  kiln::runtime::startLoopTrace(2);
  for (int i = 0; i < 5; ++i) {
    parallelFor(nullptr, countTask, 0, 1 + i,
                reinterpret_cast<uint8_t *>(&wide));
  }
  loops = kiln::runtime::stopLoopTrace();
  ASSERT_EQ(loops.size(), 2u);
  EXPECT_EQ(loops[0].size, 1);
  EXPECT_EQ(loops[1].size, 2);
}

} // namespace
