#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (lit + GoogleTest).
# Compiled kernels are cached in build/kernel-cache, so a second run is fast.
#
#   scripts/test.sh [CTEST_ARGS...]
#   scripts/test.sh --sanitize [CTEST_ARGS...]   AddressSanitizer and
#       UndefinedBehaviorSanitizer build in build-asan/, whole suite (the
#       arena test, which replaces malloc, is left out); any report fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  shift
  scripts/setup.sh
  if [ ! -f build-asan/build.ninja ]; then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DKILN_SANITIZE=address,undefined \
      -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-19/build/utils/lit/lit.py
  fi
  cmake --build build-asan -j"$(nproc)"
  export KILN_CACHE_DIR="$PWD/build-asan/kernel-cache"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)" "$@"
  exit
fi
scripts/build.sh
export KILN_CACHE_DIR="$PWD/build/kernel-cache"
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
