// Helpers shared by the whole-model tests: compile a model file into a
// prepared session, convert runtime tensors for the reference ops.
#ifndef KILN_TESTS_MODEL_MODELTESTSUPPORT_H
#define KILN_TESTS_MODEL_MODELTESTSUPPORT_H

#include "kiln/compiler/Compiler.h"
#include "kiln/runtime/Runtime.h"
#include "reference/Reference.h"

#include <cstdlib>
#include <string>

namespace kiln::testing {

inline std::string cacheDir() {
  const char *dir = std::getenv("KILN_CACHE_DIR");
  return dir && *dir ? dir : KILN_TEST_DEFAULT_CACHE_DIR;
}

// Compiles `path` (cache: $KILN_CACHE_DIR or the build tree's) and returns
// a prepared session whose parameters are seeded with `seed`.
inline runtime::Session compileSession(const std::string &path,
                                       compiler::CompileOptions options,
                                       uint64_t seed) {
  options.cacheDir = cacheDir();
  auto compiled = compiler::compileModel(path, options);
  runtime::SessionOptions sessionOptions;
  sessionOptions.seed = seed;
  runtime::Session session =
      runtime::Session::load(*compiled.plan, sessionOptions);
  session.prepare();
  return session;
}

inline reference::Tensor toRef(const runtime::Tensor &t) {
  reference::Tensor r(t.shape);
  for (int64_t i = 0; i < t.numElements(); ++i) {
    r.data[i] = t.f32()[i];
  }
  return r;
}

} // namespace kiln::testing

#endif // KILN_TESTS_MODEL_MODELTESTSUPPORT_H
