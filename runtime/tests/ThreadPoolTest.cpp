// kiln's thread pool (runtime/lib/ThreadPool.h) against what a parallel
// loop must do: every index of [min, min + size) exactly once, the first
// error returned, nested loops and loops from concurrent threads run to
// completion.
#include "../lib/ThreadPool.h"

#include <gtest/gtest.h>

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

} // namespace
