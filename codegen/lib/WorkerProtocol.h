// The job files between compileKernels (kiln's side: no Halide in the
// process) and kiln-codegen-worker (the only program that loads libHalide).
//
// A job is a JSON object; "kind" says which:
//   "compile": {target, function, object, dump_dir, verbose, error, spec}
//              compiles one kernel object (spec null: the standalone
//              runtime of the target) to `object`.
//   "check":   {target, specs: [...], result, error}
//              writes to `result`: {"target": Halide's canonical string,
//              "vector_width": floats per natural vector, "gpu": bool,
//              "halide": version, "host": the host target, "errors": one
//              string per spec, "" when it is valid}.
// A failure writes its message to `error` and exits non-zero.
#ifndef KILN_CODEGEN_LIB_WORKERPROTOCOL_H
#define KILN_CODEGEN_LIB_WORKERPROTOCOL_H

#include <nlohmann/json.hpp>

namespace kiln::codegen::detail {

// JSON has no infinity or NaN (nlohmann writes null): attributes such as
// clip's unbounded max cross to the worker as {"kiln_float": "inf"}.
nlohmann::json encodeFloats(const nlohmann::json &j);
nlohmann::json decodeFloats(const nlohmann::json &j);

} // namespace kiln::codegen::detail

#endif // KILN_CODEGEN_LIB_WORKERPROTOCOL_H
