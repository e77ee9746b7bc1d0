// Measures the single-precision FMA peak of this CPU: `threads` threads, each
// running many independent chains of vector FMAs (AVX-512 when the compiler
// targets it, i.e. -march=native on an AVX-512 machine, else AVX2 + FMA).
//
//   g++ -O2 -march=native -pthread fma_peak.cpp -o fma_peak
//   ./fma_peak [--threads 2] [--seconds 0.5] [--repeats 3]
//
// Prints one JSON object: isa, threads, pinned, gflops (best repeat, all
// threads together), gflops_per_thread, and with 2 or more threads
// round_trip_ns: the median time for the first two CPUs, one pinned thread
// each, to pass one cache line there and back (an atomic counter bumped in
// turn). It tells the host's core placement apart: two vCPUs on separate
// cores of one cache domain answer in tens of ns, on SMT siblings of one
// core in tens of ns too (and then the FMA peak on 2 threads is one
// core's), on cores further apart in hundreds, and then every cache line
// one thread writes and the other reads costs that much.
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

#if defined(__AVX512F__)
using vec = __m512;
constexpr int kLanes = 16;
constexpr const char *kIsa = "avx512";
inline vec splat(float x) { return _mm512_set1_ps(x); }
inline vec fmadd(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
inline vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
inline float hsum(vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__FMA__) && defined(__AVX2__)
using vec = __m256;
constexpr int kLanes = 8;
constexpr const char *kIsa = "avx2";
inline vec splat(float x) { return _mm256_set1_ps(x); }
inline vec fmadd(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
inline vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
inline float hsum(vec v) {
  alignas(32) float t[8];
  _mm256_store_ps(t, v);
  float s = 0;
  for (float x : t) s += x;
  return s;
}
#else
#error "fma_peak needs AVX2 + FMA or AVX-512 (compile with -march=native)"
#endif

// Independent accumulator chains per thread, in registers: the chains and
// the two operands must fit the register file, or every FMA reloads its
// accumulator from the stack and the "peak" halves (16 chains on AVX2's 16
// ymm registers measured 111 GFLOP/s on 2 Zen 2 threads, 12 chains 196).
// Two FMA pipes with a 4-5 cycle latency need 8-10 chains in flight.
#if defined(__AVX512F__)
constexpr int kChains = 16; // of 32 zmm registers
#else
constexpr int kChains = 12; // of 16 ymm registers
#endif
constexpr long kInner = 256; // FMAs per chain per block

// kChains * kInner * blocks FMAs; returns a value that depends on every
// accumulator so that nothing is optimized away.
float kernel(long blocks, float seed) {
  vec acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = splat(seed + 0.001f * i);
  const vec a = splat(0.999999f), b = splat(1e-7f);
  for (long blk = 0; blk < blocks; ++blk) {
    for (long k = 0; k < kInner; ++k) {
#pragma GCC unroll 16
      for (int i = 0; i < kChains; ++i) acc[i] = fmadd(acc[i], a, b);
    }
  }
  vec s = acc[0];
  for (int i = 1; i < kChains; ++i) s = add(s, acc[i]);
  return hsum(s);
}

double flopsPerBlock() { return 2.0 * kLanes * kChains * kInner; }

bool pinToCpu(int index) {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return false;
  int seen = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (seen++ == index) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      return pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
    }
  }
  return false; // more threads than allowed CPUs: leave it to the OS
}

// Median nanoseconds of `rounds` round trips of a cache line between CPU 0
// and CPU 1 (pinToCpu's indices), over 5 repeats; -1 if either cannot be
// pinned.
double roundTripNs(int rounds) {
  cpu_set_t mask; // restored after each repeat: a thread inherits it
  if (pthread_getaffinity_np(pthread_self(), sizeof(mask), &mask) != 0) return -1;
  std::vector<double> times;
  for (int r = 0; r < 5; ++r) {
    pthread_setaffinity_np(pthread_self(), sizeof(mask), &mask);
    alignas(64) std::atomic<int> flag{0};
    std::atomic<bool> pinned{true};
    std::thread other([&] {
      if (!pinToCpu(1)) pinned = false;
      for (int i = 0; i < rounds; ++i) {
        while (flag.load(std::memory_order_acquire) != 2 * i + 1) {
          if (!pinned.load(std::memory_order_relaxed)) return;
        }
        flag.store(2 * i + 2, std::memory_order_release);
      }
    });
    if (!pinToCpu(0)) pinned = false;
    if (!pinned.load()) {
      pinned = false;
      other.join();
      return -1;
    }
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < rounds && pinned.load(std::memory_order_relaxed); ++i) {
      flag.store(2 * i + 1, std::memory_order_release);
      while (flag.load(std::memory_order_acquire) != 2 * i + 2 &&
             pinned.load(std::memory_order_relaxed)) {
      }
    }
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    other.join();
    if (!pinned.load()) return -1;
    times.push_back(dt * 1e9 / rounds);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  int threads = 2, repeats = 3;
  double seconds = 0.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--seconds S] [--repeats R]\n", argv[0]);
      return 2;
    }
  }
  threads = std::max(threads, 1);

  // Calibrate on one thread: blocks per `seconds`.
  long blocks = 1000;
  volatile float sink = 0;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    sink = sink + kernel(blocks, 1.0f);
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt > 0.05) {
      blocks = static_cast<long>(blocks * seconds / dt) + 1;
      break;
    }
    blocks *= 4;
  }

  double best = 0;
  std::atomic<bool> allPinned{true};
  for (int r = 0; r < repeats; ++r) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<double> secs(threads);
    std::vector<float> out(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        if (!pinToCpu(t)) allPinned = false;
        ready++;
        while (!go.load()) {
        }
        auto t0 = std::chrono::steady_clock::now();
        out[t] = kernel(blocks, 1.0f + t);
        secs[t] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      });
    }
    while (ready.load() < threads) {
    }
    go = true;
    for (auto &th : pool) th.join();
    // All threads' FLOPs over the slowest thread's time.
    double slowest = *std::max_element(secs.begin(), secs.end());
    double gflops = threads * blocks * flopsPerBlock() / slowest / 1e9;
    best = std::max(best, gflops);
    for (float v : out) sink = sink + v;
  }
  double roundTrip = threads >= 2 ? roundTripNs(100000) : -1;
  std::printf("{\"isa\": \"%s\", \"threads\": %d, \"pinned\": %s, \"gflops\": %.2f, "
              "\"gflops_per_thread\": %.2f, \"chains\": %d, \"round_trip_ns\": %s}\n",
              kIsa, threads, allPinned ? "true" : "false", best, best / threads, kChains,
              roundTrip > 0 ? std::to_string(roundTrip).c_str() : "null");
  return sink == 12345.0f ? 1 : 0;
}
