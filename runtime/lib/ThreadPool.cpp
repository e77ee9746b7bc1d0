// kiln's thread pool for the kernels' parallel loops (ThreadPool.h).
//
// One loop at a time: the submitting thread writes the loop's fields, opens
// it and bumps `generation`; workers see the new generation (spinning, or
// woken from sleep), register in `inside`, and take task indices while the
// loop is open. The submitter takes indices too, waits until every task is
// done, closes the loop and waits until no worker is inside before it
// returns, so that a worker never reads the fields of a loop that is over.
// Every flag a worker and the submitter both touch is sequentially
// consistent.
//
// Each of the n participants (the submitter is 0, worker i is i + 1) owns
// the i-th contiguous share of the loop's indices and takes them first,
// one at a time from its share's cursor, then helps with what is left of
// the other shares; it counts what it ran and adds that to `done` once.
// Consecutive kernels split alike (rows, channel groups) so a thread tends
// to read what it wrote itself a kernel earlier, from its own cache, and
// the cursors and `done` are not bounced between cores on every task. On
// 2 vCPUs whose round trip through a shared cache line takes ~450 ns,
// alternating runs against one shared cursor and a `done` bumped per task
// (about 6000 tasks per MobileNetV2 inference at batch 8): MobileNetV2 at
// batch 8 27.2-27.4 -> 25.7-25.9 ms, at batch 1 4.02-4.24 -> 3.90-3.97,
// ResNet-18 at batch 1 10.57-10.97 -> 10.44-10.71.
#include "ThreadPool.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <dlfcn.h>
#include <mutex>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace kiln::runtime::detail {
namespace {

using Task = int (*)(void *, int, uint8_t *);

// How long an idle worker spins before it sleeps. Long enough to cover the
// gap between two kernel calls of a step, and between the steps of a loop
// (microseconds); short enough that an idle process gives its cores back
// at once, as far as a person can tell.
constexpr auto kSpin = std::chrono::microseconds(2000);

constexpr int kMaxThreads = 256;

inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

int threadCount() {
  if (const char *env = std::getenv("HL_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) {
      return std::min(n, kMaxThreads);
    }
  }
  unsigned hardware = std::thread::hardware_concurrency();
  return hardware ? std::min(static_cast<int>(hardware), kMaxThreads) : 1;
}

// Whether this thread is running a task of a loop (a nested loop then runs
// serially).
thread_local bool inTask = false;

int serialFor(void *userContext, Task f, int min, int size, uint8_t *closure) {
  for (int i = 0; i < size; ++i) {
    if (int result = f(userContext, min + i, closure)) {
      return result;
    }
  }
  return 0;
}

class Pool {
public:
  explicit Pool(int threads) : workers(threads - 1) {
    for (int i = 0; i < workers; ++i) {
      std::thread([this, i] { work(i + 1); }).detach();
    }
  }

  int run(void *userContext, Task task, int first, int count,
          uint8_t *taskClosure) {
    if (count <= 1 || workers == 0 || inTask || !submit.try_lock()) {
      return serialFor(userContext, task, first, count, taskClosure);
    }
    std::lock_guard<std::mutex> hold(submit, std::adopt_lock);
    context = userContext;
    f = task;
    min = first;
    size = count;
    closure = taskClosure;
    for (int part = 0; part <= workers; ++part) {
      cursor[part].value.store(shareBegin(part), std::memory_order_relaxed);
    }
    done.store(0, std::memory_order_relaxed);
    error.store(0, std::memory_order_relaxed);
    open.store(true);
    generation.fetch_add(1);
    if (sleepers.load() > 0) {
      std::lock_guard<std::mutex> lock(sleepLock);
      wake.notify_all();
    }
    takeTasks(0);
    while (done.load(std::memory_order_acquire) < size) {
      relax();
    }
    open.store(false);
    while (inside.load() != 0) {
      relax();
    }
    return error.load();
  }

private:
  // The first index of participant `part`'s share of the open loop (the
  // share ends where the next one begins).
  int shareBegin(int part) const {
    return static_cast<int>(static_cast<int64_t>(size) * part /
                            (workers + 1));
  }

  // Claims and runs the open loop's tasks until none is left: participant
  // `self`'s share first, then the others'.
  void takeTasks(int self) {
    inTask = true;
    int participants = workers + 1;
    int finished = 0;
    for (int k = 0; k < participants; ++k) {
      int part = (self + k) % participants;
      int end = shareBegin(part + 1);
      for (;;) {
        int i = cursor[part].value.fetch_add(1, std::memory_order_relaxed);
        if (i >= end) {
          break;
        }
        if (int result = f(context, min + i, closure)) {
          int none = 0;
          error.compare_exchange_strong(none, result);
        }
        ++finished;
      }
    }
    done.fetch_add(finished, std::memory_order_release);
    inTask = false;
  }

  void work(int self) {
    uint64_t seen = generation.load();
    for (;;) {
      auto deadline = std::chrono::steady_clock::now() + kSpin;
      unsigned spins = 0;
      while (generation.load(std::memory_order_acquire) == seen) {
        relax();
        if ((++spins & 255) == 0 &&
            std::chrono::steady_clock::now() > deadline) {
          std::unique_lock<std::mutex> lock(sleepLock);
          sleepers.fetch_add(1);
          wake.wait(lock, [&] { return generation.load() != seen; });
          sleepers.fetch_sub(1);
        }
      }
      seen = generation.load();
      inside.fetch_add(1);
      if (open.load()) {
        takeTasks(self);
      }
      inside.fetch_sub(1);
    }
  }

  const int workers;
  std::mutex submit; // held by the thread whose loop is open
  // The open loop, written before `open` and `generation` publish it.
  void *context = nullptr;
  Task f = nullptr;
  int min = 0, size = 0;
  uint8_t *closure = nullptr;
  std::atomic<int> done{0}, error{0};
  // One cursor per participant's share, each on its own cache line.
  struct alignas(64) Cursor {
    std::atomic<int> value{0};
  };
  Cursor cursor[kMaxThreads];
  std::atomic<bool> open{false};
  std::atomic<int> inside{0};
  std::atomic<uint64_t> generation{0};
  std::atomic<int> sleepers{0};
  std::mutex sleepLock;
  std::condition_variable wake;
};

} // namespace

int parallelFor(void *userContext, int (*f)(void *, int, uint8_t *), int min,
                int size, uint8_t *closure) {
  // Never destroyed: detached workers may still spin on it at exit.
  static Pool *pool = new Pool(threadCount());
  return pool->run(userContext, f, min, size, closure);
}

void installParallelFor(void *library) {
  using Setter = halide_do_par_for_t (*)(halide_do_par_for_t);
  if (auto set = reinterpret_cast<Setter>(
          dlsym(library, "halide_set_custom_do_par_for"))) {
    set(&parallelFor);
  }
}

} // namespace kiln::runtime::detail
