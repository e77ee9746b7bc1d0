#!/usr/bin/env bash
# Builds kiln's libFuzzer harnesses (fuzz/) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in build-fuzz/, and runs each for SECONDS
# (default 60) from seed corpora made of the repository's examples and test
# inputs. Any crash, sanitizer report, leak, timeout or out-of-memory input
# fails the run; the input is kept in build-fuzz/findings/<harness>/.
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]   harnesses: npy safetensors plan
#                                            data mlir onnx (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  harnesses=(npy safetensors plan data mlir onnx)
fi

scripts/setup.sh
if [ ! -f build-fuzz/build.ninja ]; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 \
    -DKILN_FUZZ=ON \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-19/build/utils/lit/lit.py
fi
targets=()
for h in "${harnesses[@]}"; do
  targets+=("fuzz-$h")
done
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"

corpus=build-fuzz/corpus
/usr/bin/python3 fuzz/seeds.py "$corpus"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# Each input goes through a file: in memory where there is /dev/shm.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm
fi
status=0
for h in "${harnesses[@]}"; do
  dict=()
  case "$h" in
    mlir) dict=(-dict=fuzz/mlir.dict) ;;
    plan) dict=(-dict=fuzz/json.dict) ;;
  esac
  findings="build-fuzz/findings/$h"
  mkdir -p "$findings" "$corpus/$h"
  # Inputs that once crashed a harness (each fixed, each also a unit test).
  regressions=(fuzz/regressions/"$h"/*)
  if [ -e "${regressions[0]}" ]; then
    if ! build-fuzz/bin/"fuzz-$h" "${regressions[@]}" \
         > "build-fuzz/fuzz-$h-regressions.log" 2>&1; then
      echo "fuzz-$h: a regression input fails again" \
           "(build-fuzz/fuzz-$h-regressions.log)"
      tail -30 "build-fuzz/fuzz-$h-regressions.log"
      status=1
    fi
  fi
  echo "fuzz-$h: $seconds s"
  if ! build-fuzz/bin/"fuzz-$h" "$corpus/$h" "${dict[@]}" \
       -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
       -max_len=65536 -print_final_stats=1 \
       -artifact_prefix="$findings/" > "build-fuzz/fuzz-$h.log" 2>&1; then
    echo "fuzz-$h: FAILED (build-fuzz/fuzz-$h.log; input in $findings/)"
    tail -30 "build-fuzz/fuzz-$h.log"
    status=1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" \
    "build-fuzz/fuzz-$h.log" | sed "s/^/fuzz-$h: /" || true
done
exit $status
