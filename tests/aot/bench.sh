#!/bin/bash
# Sizes and times of `kiln compile --exe` executables against `kiln run`
# (numbers in docs/aot.md). Not a CTest test: it measures, it checks nothing.
#   bench.sh KILN EXAMPLES_DIR WORKDIR [RUNS]
set -euo pipefail
kiln=$1 examples=$2 work=$3 runs=${4:-20}
mkdir -p "$work"
now() { date +%s%N; }
# Mean wall milliseconds of RUNS runs of a command (outputs discarded).
wall_ms() {
  local start end
  "$@" > /dev/null 2>&1 # warm the page cache (and kiln's plan cache)
  start=$(now)
  for _ in $(seq "$runs"); do "$@" > /dev/null 2>&1; done
  end=$(now)
  echo "scale=2; ($end - $start) / 1000000 / $runs" | bc
}
printf '| model | exe bytes | libN.a bytes | weights bytes | exe start+1 run (ms) | kiln run (ms) | exe per inference (ms, median of 2000) |\n'
printf '|---|---|---|---|---|---|---|\n'
for model in mlp cnn resnet_block; do
  dir="$work/$model"
  "$kiln" compile "$examples/$model.mlir" -o "$dir" --exe > "$dir.log"
  weights=$(sed -n 's/.*weights \([0-9]*\) bytes.*/\1/p' "$dir.log")
  exe_ms=$(wall_ms "$dir/$model")
  run_ms=$(wall_ms "$kiln" run "$examples/$model.mlir")
  per=$("$dir/$model" --repeat 2000 2>&1 >/dev/null | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p')
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$model" \
    "$(stat -c %s "$dir/$model")" "$(stat -c %s "$dir/lib$model.a")" \
    "$weights" "$exe_ms" "$run_ms" "$per"
done
