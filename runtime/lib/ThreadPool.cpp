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
//
// startLoopTrace (Runtime.h) records each loop's submission and return and
// each participant's first task start, last task end and task count, into
// slots claimed before the loop opens; `kiln bench --trace` draws them.
#include "ThreadPool.h"

#include "kiln/runtime/Runtime.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <dlfcn.h>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

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

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The loops startLoopTrace records: `loops` slots, each with one Part per
// participant that the loop's threads fill in (a part with no tasks is a
// thread that found none left). A loop claims its slot before it starts, so
// loops of several sessions never share one.
struct TraceBuffer {
  TraceBuffer(size_t capacity, int participants)
      : participants(participants), loops(capacity),
        parts(capacity * participants) {}
  // The next free slot, or -1 when the buffer is full.
  int64_t claim() {
    size_t slot = used.fetch_add(1);
    return slot < loops.size() ? static_cast<int64_t>(slot) : -1;
  }
  LoopTrace::Part &part(int64_t slot, int thread) {
    return parts[slot * participants + thread];
  }
  const int participants;
  std::vector<LoopTrace> loops; // submitNs, endNs and size; parts below
  std::vector<LoopTrace::Part> parts;
  std::atomic<size_t> used{0};
};

std::atomic<TraceBuffer *> traceBuffer{nullptr};

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
    TraceBuffer *trace =
        inTask ? nullptr : traceBuffer.load(std::memory_order_acquire);
    int64_t slot = trace ? trace->claim() : -1;
    int64_t submitNs = slot >= 0 ? nowNs() : 0;
    if (count <= 1 || workers == 0 || inTask || !submit.try_lock()) {
      bool outer = inTask;
      inTask = true; // as in takeTasks: nested loops are not loops of their own
      int result = serialFor(userContext, task, first, count, taskClosure);
      inTask = outer;
      if (slot >= 0) {
        int64_t endNs = nowNs();
        trace->loops[slot] = {submitNs, endNs, count, {}};
        trace->part(slot, 0) = {0, submitNs, endNs, count};
      }
      return result;
    }
    std::lock_guard<std::mutex> hold(submit, std::adopt_lock);
    traced = slot >= 0 ? trace : nullptr;
    tracedSlot = slot;
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
    if (slot >= 0) {
      trace->loops[slot] = {submitNs, nowNs(), count, {}};
    }
    return error.load();
  }

  int participants() const { return workers + 1; }

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
    int64_t beginNs = 0;
    for (int k = 0; k < participants; ++k) {
      int part = (self + k) % participants;
      int end = shareBegin(part + 1);
      for (;;) {
        int i = cursor[part].value.fetch_add(1, std::memory_order_relaxed);
        if (i >= end) {
          break;
        }
        if (traced && finished == 0) {
          beginNs = nowNs();
        }
        if (int result = f(context, min + i, closure)) {
          int none = 0;
          error.compare_exchange_strong(none, result);
        }
        ++finished;
      }
    }
    if (traced && finished > 0) {
      traced->part(tracedSlot, self) = {self, beginNs, nowNs(), finished};
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
  TraceBuffer *traced = nullptr; // where the open loop is recorded, if it is
  int64_t tracedSlot = -1;
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

Pool &pool() {
  // Never destroyed: detached workers may still spin on it at exit.
  static Pool *pool = new Pool(threadCount());
  return *pool;
}

} // namespace

int parallelFor(void *userContext, int (*f)(void *, int, uint8_t *), int min,
                int size, uint8_t *closure) {
  return pool().run(userContext, f, min, size, closure);
}

void installParallelFor(void *library) {
  using Setter = halide_do_par_for_t (*)(halide_do_par_for_t);
  if (auto set = reinterpret_cast<Setter>(
          dlsym(library, "halide_set_custom_do_par_for"))) {
    set(&parallelFor);
  }
}

} // namespace kiln::runtime::detail

namespace kiln::runtime {

void startLoopTrace(size_t maxLoops) {
  delete detail::traceBuffer.exchange(
      new detail::TraceBuffer(maxLoops, detail::pool().participants()));
}

int poolThreads() { return detail::pool().participants(); }

std::vector<LoopTrace> stopLoopTrace() {
  std::unique_ptr<detail::TraceBuffer> trace(
      detail::traceBuffer.exchange(nullptr));
  std::vector<LoopTrace> loops;
  if (!trace) {
    return loops;
  }
  size_t count = std::min(trace->used.load(), trace->loops.size());
  for (size_t slot = 0; slot < count; ++slot) {
    LoopTrace loop = trace->loops[slot];
    for (int thread = 0; thread < trace->participants; ++thread) {
      const LoopTrace::Part &part = trace->part(slot, thread);
      if (part.tasks > 0) {
        loop.parts.push_back(part);
      }
    }
    loops.push_back(std::move(loop));
  }
  return loops;
}

} // namespace kiln::runtime
