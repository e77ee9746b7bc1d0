#!/usr/bin/env bash
# Before/after ratio of two kiln builds, measured in one run: each case is
# timed with `kiln bench --json` by the old and the new binary in turn,
# twice, each binary with its own kernel cache, and the medians are printed
# side by side with the speed-up old/new (of the faster median of each).
#
#   bench/before_after.sh OLD_KILN NEW_KILN CASE...
#   CASE = MODEL[:RUNS[:train]]     e.g. resnet18_b1.onnx:30 resnet18_b16.onnx:3:train
#
# Threads: HL_NUM_THREADS (default 2). Caches: $BEFORE_AFTER_CACHE/{old,new}
# (default /tmp/kiln-before-after).
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
old=$1 new=$2
shift 2
export HL_NUM_THREADS=${HL_NUM_THREADS:-2}
cache=${BEFORE_AFTER_CACHE:-/tmp/kiln-before-after}

median() { # binary cache model runs [train]
  local extra=()
  [ "${5:-}" = train ] && extra=(--train)
  "$1" bench "$3" --cache-dir "$2" --runs "$4" --json "${extra[@]}" |
    /usr/bin/python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["median_ms"])'
}

printf '| case | before ms | after ms | speed-up (before / after) |\n|---|---|---|---|\n'
for spec in "$@"; do
  IFS=: read -r model runs mode <<<"$spec"
  runs=${runs:-20}
  o1=$(median "$old" "$cache/old" "$model" "$runs" "$mode")
  n1=$(median "$new" "$cache/new" "$model" "$runs" "$mode")
  o2=$(median "$old" "$cache/old" "$model" "$runs" "$mode")
  n2=$(median "$new" "$cache/new" "$model" "$runs" "$mode")
  /usr/bin/python3 - "$model" "$mode" "$o1" "$o2" "$n1" "$n2" <<'PY'
import sys
model, mode, o1, o2, n1, n2 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
old, new = min(o1, o2), min(n1, n2)
name = model.rsplit("/", 1)[-1] + (" (training step)" if mode == "train" else "")
print(f"| {name} | {o1:g} / {o2:g} | {n1:g} / {n2:g} | {old / new:.2f}x |")
PY
done
