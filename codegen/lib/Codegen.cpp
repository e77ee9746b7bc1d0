// Codegen driver: hashing, the object/library cache, forked compile jobs and
// the final link.
//
// Cache layout under CompileOptions::cacheDir:
//   obj/<functionName>.o               one kernel (target feature no_runtime)
//   obj/halide_runtime_<hash>.o        the standalone runtime of a target
//   lib/kiln_<hash>.so                 kernels + runtime, keyed by the sorted
//                                      function list and the target
// Every file is written under a temporary name and renamed into place, so
// concurrent compilations of the same kernels never see partial files.
#include "CodegenDriverHash.h"
#include "CodegenSourceHash.h"
#include "WorkerProtocol.h"
#include "kiln/codegen/Codegen.h"
#include "kiln/support/Checksum.h"
#include "kiln/support/Hash.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <atomic>
#include <mutex>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace kiln::codegen {

namespace detail {

nlohmann::json encodeFloats(const nlohmann::json &j) {
  if (j.is_number_float() && !std::isfinite(j.get<double>())) {
    double v = j.get<double>();
    return {{"kiln_float", std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"}};
  }
  if (j.is_structured()) {
    nlohmann::json out = j;
    for (auto it = out.begin(); it != out.end(); ++it) {
      *it = encodeFloats(*it);
    }
    return out;
  }
  return j;
}

nlohmann::json decodeFloats(const nlohmann::json &j) {
  if (j.is_object() && j.size() == 1 && j.contains("kiln_float")) {
    std::string v = j["kiln_float"].get<std::string>();
    return v == "nan"   ? std::numeric_limits<double>::quiet_NaN()
           : v == "inf" ? std::numeric_limits<double>::infinity()
                        : -std::numeric_limits<double>::infinity();
  }
  if (j.is_structured()) {
    nlohmann::json out = j;
    for (auto it = out.begin(); it != out.end(); ++it) {
      *it = decodeFloats(*it);
    }
    return out;
  }
  return j;
}

} // namespace detail

namespace {

// Part of every cache key: bump the number when the object/library layout
// changes; the source hash makes any change to a kernel's algorithm or
// schedule produce new keys, so a stale object is never reused.
constexpr const char *kCodegenVersion =
    "kiln-codegen-2-" KILN_CODEGEN_SOURCE_HASH;

using support::fnv1a;
using support::hex16;

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start)
      .count();
}

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One unit of work for a child process: a kernel object or the runtime.
struct Job {
  const KernelSpec *spec = nullptr; // null: the standalone runtime
  std::string function;
  std::string objectPath;
};

struct JobOptions {
  std::string target; // canonical Halide target string
  std::string dumpDir;
  bool verbose = false;
};

std::string errorPathOf(const Job &job) {
  return job.objectPath + ".err." + std::to_string(getpid());
}

std::string jobPathOf(const Job &job) {
  return job.objectPath + ".job." + std::to_string(getpid());
}

// The worker executable: $KILN_CODEGEN_WORKER, else next to the running
// program (build/bin, or an installed bin/), else where the build put it.
std::string workerPath() {
  if (const char *env = std::getenv("KILN_CODEGEN_WORKER"); env && *env) {
    return env;
  }
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path beside = self.parent_path() / "kiln-codegen-worker";
    if (fs::exists(beside, ec)) {
      return beside.string();
    }
  }
  if (fs::exists(KILN_CODEGEN_WORKER_PATH, ec)) {
    return KILN_CODEGEN_WORKER_PATH;
  }
  throw Error("kiln-codegen-worker not found (next to the program, or at " +
              std::string(KILN_CODEGEN_WORKER_PATH) +
              "); set KILN_CODEGEN_WORKER to its path");
}

// Writes the job file a worker reads (runWorkerJob).
void writeJobFile(const Job &job, const JobOptions &opts) {
  nlohmann::json j = {{"function", job.function},
                      {"object", job.objectPath},
                      {"kind", "compile"},
                      {"target", opts.target},
                      {"dump_dir", opts.dumpDir},
                      {"verbose", opts.verbose},
                      {"error", errorPathOf(job)}};
  j["spec"] =
      job.spec ? detail::encodeFloats(job.spec->toJson()) : nlohmann::json(nullptr);
  std::ofstream(jobPathOf(job)) << j.dump();
}

pid_t spawnWorker(const std::string &worker, const std::string &jobPath) {
  std::vector<char *> argv = {const_cast<char *>(worker.c_str()),
                              const_cast<char *>(jobPath.c_str()), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, worker.c_str(), nullptr, nullptr, argv.data(),
                       environ);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  return pid;
}

std::string describe(const Job &job) {
  return job.spec ? "op '" + job.spec->op + "' (" + job.function + ")"
                  : "Halide runtime (" + job.function + ")";
}

// Runs the jobs in up to `parallelism` worker processes, started by
// posix_spawn (Halide's compiler is not used from several threads, and a
// forked child of a multithreaded process may hang). Returns one message per
// job, "" for a job that succeeded.
std::vector<std::string> runJobs(const std::vector<Job> &jobs, int parallelism,
                                 const JobOptions &opts) {
  std::map<pid_t, size_t> running;
  std::vector<std::string> failures(jobs.size());
  size_t next = 0;
  std::fflush(stderr);
  std::fflush(stdout);
  std::string worker = jobs.empty() ? std::string() : workerPath();
  while (next < jobs.size() || !running.empty()) {
    while (next < jobs.size() &&
           static_cast<int>(running.size()) < parallelism) {
      writeJobFile(jobs[next], opts);
      pid_t pid = spawnWorker(worker, jobPathOf(jobs[next]));
      if (pid < 0) {
        failures[next] = describe(jobs[next]) + ": cannot start " + worker +
                         ": " + std::strerror(errno);
        std::error_code ignored;
        fs::remove(jobPathOf(jobs[next]), ignored);
        ++next;
        continue;
      }
      running[pid] = next++;
    }
    if (running.empty()) {
      break;
    }
    // Wait only for our own children, so that a host program's other
    // children are left alone.
    bool reaped = false;
    for (auto it = running.begin(); it != running.end();) {
      int status = 0;
      pid_t r = waitpid(it->first, &status, WNOHANG);
      if (r == 0) {
        ++it;
        continue;
      }
      const Job &job = jobs[it->second];
      std::error_code ignoredJob;
      fs::remove(jobPathOf(job), ignoredJob);
      if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string errorPath = errorPathOf(job);
        std::string message = readFile(errorPath);
        if (message.empty()) {
          message = WIFSIGNALED(status)
                        ? "compiler process killed by signal " +
                              std::to_string(WTERMSIG(status))
                        : "compiler process failed";
        }
        std::error_code ignored;
        fs::remove(errorPath, ignored);
        failures[it->second] = describe(job) + ": " + message;
      }
      it = running.erase(it);
      reaped = true;
    }
    if (!reaped) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  return failures;
}

// Throws Error naming every failed job, if any failed.
void throwJobFailures(const std::vector<std::string> &failures) {
  std::string text;
  for (const std::string &failure : failures) {
    if (!failure.empty()) {
      text += (text.empty() ? "" : "\n") + failure;
    }
  }
  if (!text.empty()) {
    throw Error("Halide compilation failed for " + text);
  }
}

// Runs argv without a shell; stdout and stderr go to logPath.
int runCommand(const std::vector<std::string> &argv,
               const std::string &logPath) {
  std::vector<char *> args;
  for (const std::string &a : argv) {
    args.push_back(const_cast<char *>(a.c_str()));
  }
  args.push_back(nullptr);
  std::fflush(stderr);
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    return -1;
  }
  if (pid == 0) {
    int fd = open(logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execvp(args[0], args.data());
    std::_Exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) {
    return -1;
  }
  return WEXITSTATUS(status);
}

struct CheckResult {
  TargetInfo target;
  std::vector<std::string> errors; // one per spec, "" when valid
};

// Asks a worker for Halide's view of a target and of some specs (a "check"
// job): kiln's process never loads libHalide. Takes one process start
// (about 35 ms); targetInfo keeps the answer for the process's lifetime.
CheckResult runCheck(const std::vector<KernelSpec> &specs,
                     const std::string &target) {
  static std::atomic<int> counter{0};
  std::string base =
      (fs::temp_directory_path() /
       ("kiln-check-" + std::to_string(getpid()) + "-" +
        std::to_string(counter++)))
          .string();
  std::string jobPath = base + ".json";
  std::string resultPath = base + ".result.json";
  std::string errorPath = base + ".err";
  nlohmann::json specsJson = nlohmann::json::array();
  for (const KernelSpec &spec : specs) {
    specsJson.push_back(detail::encodeFloats(spec.toJson()));
  }
  std::ofstream(jobPath) << nlohmann::json{{"kind", "check"},
                                           {"target", target},
                                           {"specs", specsJson},
                                           {"result", resultPath},
                                           {"error", errorPath}}
                                .dump();
  std::string worker = workerPath();
  std::fflush(stderr);
  std::fflush(stdout);
  pid_t pid = spawnWorker(worker, jobPath);
  int status = 0;
  bool ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0;
  std::string error = pid > 0 ? readFile(errorPath)
                              : "cannot start " + worker + ": " +
                                    std::strerror(errno);
  std::string answer = readFile(resultPath);
  std::error_code ignored;
  for (const std::string &path : {jobPath, resultPath, errorPath}) {
    fs::remove(path, ignored);
  }
  if (!ok) {
    std::string what = "kiln-codegen-worker could not check " +
                       std::to_string(specs.size()) + " kernels for target '" +
                       target + "'";
    throw Error(pid > 0 && !error.empty() && !WIFSIGNALED(status)
                    ? error
                    : what + ": " +
                          (error.empty() ? "the worker failed" : error));
  }
  nlohmann::json j = nlohmann::json::parse(answer);
  CheckResult result;
  result.target = {j.at("target").get<std::string>(),
                   j.at("vector_width").get<int>(), j.at("gpu").get<bool>(),
                   j.at("halide").get<std::string>(),
                   j.at("host").get<std::string>()};
  result.errors = j.at("errors").get<std::vector<std::string>>();
  return result;
}

std::mutex targetsLock;
std::map<std::string, TargetInfo> &knownTargets() {
  static std::map<std::string, TargetInfo> targets;
  return targets;
}

void rememberTarget(const std::string &text, const TargetInfo &info) {
  std::lock_guard<std::mutex> lock(targetsLock);
  knownTargets().emplace(text, info);
  knownTargets().emplace(info.canonical, info);
}

std::string functionNameFor(const KernelSpec &spec,
                            const std::string &canonicalTarget) {
  return "kiln_" + hex16(fnv1a(spec.key() + "\n" + canonicalTarget + "\n" +
                               kCodegenVersion));
}

// Halide's default error handler aborts the process; kernels in a kiln
// library instead print the message and return their non-zero error code to
// the caller. Compiled into every library (a strong definition overriding
// the runtime's weak one).
// Linked into every kernel library: overrides of the Halide runtime's weak
// defaults. Errors go to stderr with a "kiln kernel error" prefix. Memory:
// a kernel's scratch buffers (stride phases, transformed tiles) are
// allocated per call, often per parallel task, and glibc serves blocks of
// 128 KB and up with mmap, so every call paid page faults and zeroing for
// them again (a Winograd layer: 1.08 -> 0.74 ms once they were reused).
// Freed blocks of 64 KB and up are kept, up to 64 of them and 256 MB in
// all, and handed out again to requests of their size (up to 1.25x
// smaller); the rest go to malloc. A kept block remembers the thread that
// freed it, and a request takes one of its own thread's blocks first: a
// block another core wrote last has its lines in that core's cache, and
// every store to them must first take them from there. Parallel tasks that
// allocate scratch each (Winograd's transformed tiles) had been swapping
// blocks between the two threads at random: the LeNet-style CNN's 32 -> 64
// Winograd layer at batch 64 ran 1.25-1.33 ms, each task 30% slower than
// on one thread, against 0.94 with the blocks kept per thread
// (`kiln bench`, 2 threads, alternating). Blocks are 128-byte aligned with
// 128 bytes of slack on either side (Halide may read 8 bytes past both
// ends).
constexpr const char *kErrorHandlerSource = R"(#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __cplusplus
extern "C" {
#endif
void halide_default_error(void *user_context, const char *message) {
  (void)user_context;
  fprintf(stderr, "kiln kernel error: %s\n", message);
}

enum { kiln_align = 128, kiln_large = 1 << 16, kiln_slots = 64 };
static const size_t kiln_cache_limit = (size_t)256 << 20;
static struct {
  char *base;
  size_t size;
  const void *owner; /* the thread that freed it (kiln_thread) */
} kiln_cache[kiln_slots];
static size_t kiln_cached_bytes;
static pthread_mutex_t kiln_cache_lock = PTHREAD_MUTEX_INITIALIZER;
/* Its address names the calling thread. */
static __thread char kiln_thread_token;
#define kiln_thread ((const void *)&kiln_thread_token)

void *halide_default_malloc(void *user_context, size_t bytes) {
  (void)user_context;
  size_t size = (bytes + 2 * kiln_align + kiln_align - 1) &
                ~(size_t)(kiln_align - 1);
  char *base = NULL;
  if (size >= kiln_large) {
    int best = -1;
    pthread_mutex_lock(&kiln_cache_lock);
    /* The smallest fitting block, the thread's own before another's. */
    for (int i = 0; i < kiln_slots; ++i) {
      size_t have = kiln_cache[i].size;
      if (kiln_cache[i].base && have >= size && have - size <= size / 4) {
        int own = kiln_cache[i].owner == kiln_thread;
        int bestOwn = best >= 0 && kiln_cache[best].owner == kiln_thread;
        if (best < 0 || own > bestOwn ||
            (own == bestOwn && have < kiln_cache[best].size)) {
          best = i;
        }
      }
    }
    if (best >= 0) {
      base = kiln_cache[best].base;
      size = kiln_cache[best].size;
      kiln_cache[best].base = NULL;
      kiln_cached_bytes -= size;
    }
    pthread_mutex_unlock(&kiln_cache_lock);
  }
  if (!base && !(base = (char *)aligned_alloc(kiln_align, size))) {
    return NULL;
  }
  *(size_t *)base = size;
  return base + kiln_align;
}

void halide_default_free(void *user_context, void *ptr) {
  (void)user_context;
  if (!ptr) {
    return;
  }
  char *base = (char *)ptr - kiln_align;
  size_t size = *(size_t *)base;
  if (size >= kiln_large) {
    pthread_mutex_lock(&kiln_cache_lock);
    for (int i = 0; i < kiln_slots; ++i) {
      if (!kiln_cache[i].base &&
          kiln_cached_bytes + size <= kiln_cache_limit) {
        kiln_cache[i].base = base;
        kiln_cache[i].size = size;
        kiln_cache[i].owner = kiln_thread;
        kiln_cached_bytes += size;
        base = NULL;
        break;
      }
    }
    pthread_mutex_unlock(&kiln_cache_lock);
  }
  free(base);
}

/* The cached blocks go back to the C heap when the kernel library is
 * unloaded (dlclose when a session ends, or process exit): a process that
 * loads and unloads many models must not keep up to kiln_cache_limit bytes
 * per library it has closed (LeakSanitizer found them). */
__attribute__((destructor)) static void kiln_cache_release(void) {
  pthread_mutex_lock(&kiln_cache_lock);
  for (int i = 0; i < kiln_slots; ++i) {
    free(kiln_cache[i].base);
    kiln_cache[i].base = NULL;
    kiln_cache[i].size = 0;
  }
  kiln_cached_bytes = 0;
  pthread_mutex_unlock(&kiln_cache_lock);
}
#ifdef __cplusplus
}
#endif
)";

// Writes the error handler source once per cache (atomically).
std::string errorHandlerSource(const fs::path &cache) {
  fs::path path = cache / "obj" /
                  ("kiln_error_handler_" +
                   hex16(fnv1a(kErrorHandlerSource)) + ".c");
  if (!fs::exists(path)) {
    std::string tmp = path.string() + ".tmp." + std::to_string(getpid());
    std::ofstream(tmp) << kErrorHandlerSource;
    fs::rename(tmp, path);
  }
  return path.string();
}

void linkLibrary(const std::vector<std::string> &objects,
                 const std::string &libPath) {
  std::string tmp = libPath + ".tmp." + std::to_string(getpid());
  std::string log = libPath + ".log." + std::to_string(getpid());
  std::vector<std::string> argv = {"c++", "-shared", "-o", tmp};
  argv.insert(argv.end(), objects.begin(), objects.end());
  argv.insert(argv.end(), {"-O2", "-fPIC"});
  argv.insert(argv.end(), {"-lpthread", "-ldl", "-lm"});
  int rc = runCommand(argv, log);
  std::string output = readFile(log);
  std::error_code ignored;
  fs::remove(log, ignored);
  if (rc != 0) {
    fs::remove(tmp, ignored);
    throw Error("linking " + libPath + " failed (exit " + std::to_string(rc) +
                "): " + output);
  }
  support::writeSum(libPath, tmp);
  fs::rename(tmp, libPath);
}

} // namespace

const TargetInfo &targetInfo(const std::string &target) {
  {
    std::lock_guard<std::mutex> lock(targetsLock);
    auto it = knownTargets().find(target);
    if (it != knownTargets().end()) {
      return it->second;
    }
  }
  rememberTarget(target, runCheck({}, target).target);
  std::lock_guard<std::mutex> lock(targetsLock);
  return knownTargets().at(target);
}

std::string functionName(const KernelSpec &spec, const std::string &target) {
  return functionNameFor(spec, targetInfo(target).canonical);
}

static CompiledLibrary compileKernelsImpl(const std::vector<KernelSpec> &specs,
                                          const CompileOptions &options);

CompiledLibrary compileKernels(const std::vector<KernelSpec> &specs,
                               const CompileOptions &options) {
  try {
    return compileKernelsImpl(specs, options);
  } catch (const fs::filesystem_error &e) {
    throw Error(std::string("kernel cache: ") + e.what());
  }
}

static CompiledLibrary compileKernelsImpl(const std::vector<KernelSpec> &specs,
                                          const CompileOptions &options) {
  auto start = std::chrono::steady_clock::now();
  if (options.cacheDir.empty()) {
    throw Error("CompileOptions::cacheDir is required");
  }
  CompiledLibrary result;
  result.errors.assign(specs.size(), "");
  CheckResult check = runCheck(specs, options.target);
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!check.errors[i].empty()) {
      if (!options.keepGoing) {
        throw Error(check.errors[i]);
      }
      result.errors[i] = check.errors[i];
    }
  }
  rememberTarget(options.target, check.target);
  std::string targetText = check.target.canonical;
  JobOptions jobOptions{targetText, options.dumpDir, options.verbose};

  // Function name -> spec, for the specs that validated; std::map keeps the
  // names sorted for the library's key.
  std::map<std::string, const KernelSpec *> unique;
  for (size_t i = 0; i < specs.size(); ++i) {
    result.functionNames.push_back(functionNameFor(specs[i], targetText));
    if (result.errors[i].empty()) {
      unique.emplace(result.functionNames.back(), &specs[i]);
    }
  }

  fs::path cache = fs::absolute(options.cacheDir);
  fs::create_directories(cache / "obj");
  fs::create_directories(cache / "lib");
  if (!options.dumpDir.empty()) {
    fs::create_directories(options.dumpDir);
  }
  auto objectPath = [&](const std::string &function) {
    return (cache / "obj" / (function + ".o")).string();
  };
  // The library's name: a hash of the functions it holds.
  auto libraryPath = [&] {
    std::string listing;
    for (const auto &entry : unique) {
      listing += entry.first + "\n";
    }
    return (cache / "lib" /
            ("kiln_" +
             hex16(fnv1a(listing + targetText + "\n" + kCodegenVersion + "\n" +
                         KILN_CODEGEN_DRIVER_HASH)) +
             ".so"))
        .string();
  };
  result.path = libraryPath();
  for (const auto &[function, spec] : unique) {
    result.objectPaths.push_back(objectPath(function));
  }
  std::string runtimeName = "halide_runtime_" +
                            hex16(fnv1a(targetText + "\n" + kCodegenVersion));
  result.runtimeObject = (cache / "obj" / (runtimeName + ".o")).string();

  // --dump-kernels: a cached kernel is compiled again for its .stmt and
  // assembly, unless they are already in the dump directory.
  auto dumped = [&](const std::string &function) {
    return options.dumpDir.empty() ||
           fs::exists(fs::path(options.dumpDir) / (function + ".stmt"));
  };
  // A cached artifact is used only when it matches its sidecar
  // (kiln/support/Checksum.h); a damaged one is deleted and rebuilt.
  auto usable = [&](const std::string &path) {
    if (!fs::exists(path)) {
      return false;
    }
    if (support::verifySum(path)) {
      return true;
    }
    if (options.verbose) {
      std::fprintf(stderr,
                   "kiln-codegen: %s is damaged (it does not match its "
                   ".sum): rebuilding it\n",
                   path.c_str());
    }
    support::removeArtifact(path);
    return false;
  };
  if (options.link && options.dumpDir.empty() && usable(result.path)) {
    result.libraryCached = true;
    result.kernelsCached = static_cast<int>(unique.size());
    result.seconds = secondsSince(start);
    return result;
  }
  std::vector<Job> jobs;
  for (const auto &[function, spec] : unique) {
    if (dumped(function) && usable(objectPath(function))) {
      ++result.kernelsCached;
    } else {
      jobs.push_back({spec, function, objectPath(function)});
    }
  }
  if (!usable(result.runtimeObject)) {
    jobs.push_back({nullptr, runtimeName, result.runtimeObject});
  }

  int parallelism = options.jobs > 0
                        ? options.jobs
                        : static_cast<int>(std::thread::hardware_concurrency());
  std::vector<std::string> failures =
      runJobs(jobs, std::max(parallelism, 1), jobOptions);
  // keepGoing: a kernel that failed leaves the library, and its specs get
  // the message; the runtime's failure still fails the whole call.
  std::map<std::string, std::string> failed;
  for (size_t i = 0; i < jobs.size(); ++i) {
    result.kernelsCompiled += jobs[i].spec && failures[i].empty() ? 1 : 0;
    if (options.keepGoing && jobs[i].spec && !failures[i].empty()) {
      failed.emplace(jobs[i].function,
                     "Halide compilation failed for " + failures[i]);
      failures[i].clear();
    }
  }
  throwJobFailures(failures);
  if (!failed.empty()) {
    for (size_t i = 0; i < specs.size(); ++i) {
      if (auto it = failed.find(result.functionNames[i]); it != failed.end()) {
        result.errors[i] = it->second;
      }
    }
    for (const auto &entry : failed) {
      unique.erase(entry.first);
    }
    result.objectPaths.clear();
    for (const auto &[function, spec] : unique) {
      result.objectPaths.push_back(objectPath(function));
    }
    result.path = libraryPath();
  }
  result.errorHandlerSource = errorHandlerSource(cache);
  if (!options.link) {
    result.path.clear();
    result.seconds = secondsSince(start);
    return result;
  }
  if (!failed.empty() && options.dumpDir.empty() && usable(result.path)) {
    result.libraryCached = true;
  } else {
    std::vector<std::string> objects = result.objectPaths;
    objects.push_back(result.runtimeObject);
    objects.push_back(result.errorHandlerSource);
    linkLibrary(objects, result.path);
  }
  result.seconds = secondsSince(start);
  if (options.verbose) {
    std::fprintf(stderr,
                 "kiln-codegen: %s: %d kernels compiled, %d cached, %.2f s\n",
                 result.path.c_str(), result.kernelsCompiled,
                 result.kernelsCached, result.seconds);
  }
  return result;
}

int floatVectorWidth(const std::string &target) {
  return targetInfo(target).vectorWidth;
}

std::string describeCodegen() {
  const TargetInfo &host = targetInfo("host");
  return "Halide " + host.halideVersion + ", host target " + host.canonical;
}

std::vector<std::string> checkSpecs(const std::vector<KernelSpec> &specs,
                                    const std::string &target) {
  return runCheck(specs, target).errors;
}

void validateSpec(const KernelSpec &spec, const std::string &target) {
  std::vector<std::string> errors = checkSpecs({spec}, target);
  if (!errors.front().empty()) {
    throw Error(errors.front());
  }
}

} // namespace kiln::codegen
