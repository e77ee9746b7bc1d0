#!/bin/bash
# threads.cpp under ThreadSanitizer: Sessions of one plan run concurrently
# in several threads, with kiln's runtime (plan reader, library loading,
# Session) built from source with -fsanitize=thread; any report fails.
# The kernels inside the cached library are Halide's code, not
# instrumented; Halide's own synchronization is suppressed (tsan.supp).
#   tsan.sh KILN SOURCE_DIR MODEL WORKDIR [KILN_BENCH_ARGS...]
set -euo pipefail
kiln=$1 src=$2 model=$3 work=$4
shift 4
mkdir -p "$work"
plan=$("$kiln" bench "$model" --runs 1 --verbose "$@" 2>&1 |
  sed -n 's/^kiln: plan //p')
[ -f "$plan" ] || { echo "no plan for $model" >&2; exit 1; }
binary="$work/threads_tsan_$(basename "$model" .mlir)_$#"
c++ -std=c++17 -O1 -g -fsanitize=thread -I"$src/runtime/include" \
  -I"$src/runtime/lib" -I"$src/support/include" -I/usr/include/halide14 \
  "$src/tests/runtime/threads.cpp" \
  "$src"/runtime/lib/{FileIO,Initializers,Npy,Plan,Random,Safetensors,Session,Tensor,ThreadPool}.cpp \
  -lpthread -ldl -o "$binary"
TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$src/tests/runtime/tsan.supp" \
  "$binary" "$plan" 20 2
