// Sessions of one plan in concurrent threads (tests/runtime/tsan.sh builds
// this and the runtime with ThreadSanitizer). Each thread loads its own
// Session (the kernel library is dlopened once per process and shared),
// fills the same seeded inputs and runs RUNS times; every output of every
// run and every parameter at the end must equal, bit for bit, those of the
// same runs done alone first. A training plan updates its parameters on
// each run, so its outputs differ from run to run and the comparison
// covers the whole trajectory.
//   threads PLAN_JSON [RUNS] [THREADS]
#include "kiln/runtime/Runtime.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <vector>

namespace {

using kiln::runtime::Session;
using kiln::runtime::Tensor;

// Outputs of each run, then the parameters after the last run.
std::vector<Tensor> trajectory(const std::string &plan, int runs) {
  Session session = Session::load(plan);
  session.prepare();
  session.fillMissingInputs(7);
  std::vector<Tensor> seen;
  for (int r = 0; r < runs; ++r) {
    session.run();
    for (const auto &info : session.outputs()) {
      seen.push_back(session.output(info.name));
    }
  }
  for (const auto &info : session.parameters()) {
    seen.push_back(session.parameter(info.name));
  }
  return seen;
}

bool same(const std::vector<Tensor> &a, const std::vector<Tensor> &b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape != b[i].shape || a[i].bytes != b[i].bytes) {
      std::fprintf(stderr, "tensor %zu of the trajectory differs\n", i);
      return false;
    }
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PLAN_JSON [RUNS] [THREADS]\n", argv[0]);
    return 2;
  }
  std::string plan = argv[1];
  int runs = argc > 2 ? std::atoi(argv[2]) : 20;
  int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  try {
    std::vector<Tensor> expected = trajectory(plan, runs);
    std::vector<std::vector<Tensor>> got(threads);
    std::vector<std::string> errors(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        try {
          got[t] = trajectory(plan, runs);
        } catch (const std::exception &e) {
          errors[t] = e.what();
        }
      });
    }
    for (auto &thread : pool) {
      thread.join();
    }
    for (int t = 0; t < threads; ++t) {
      if (!errors[t].empty()) {
        std::fprintf(stderr, "thread %d: %s\n", t, errors[t].c_str());
        return 1;
      }
      if (!same(expected, got[t])) {
        std::fprintf(stderr, "thread %d: results differ from the serial run\n",
                     t);
        return 1;
      }
    }
    std::printf("%d threads x %d runs of %s: equal to the serial run "
                "(%zu tensors)\n",
                threads, runs, plan.c_str(), expected.size());
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
