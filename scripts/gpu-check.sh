#!/bin/bash
# The GPU test set and benchmark, in two halves (docs/gpu.md, "gpu-check"):
#
#   scripts/gpu-check.sh prepare OUT [--target T] [--onnx RESNET18.onnx]
#                                    [--batches 1,64] [--train-batch 64]
#                                    [--optimizer sgd]
#       Here, where kiln is built (no GPU needed: Halide emits the device
#       code, and the bundles load the driver when they start). Builds
#       `kiln compile --exe` bundles for T (default
#       host-cuda-cuda_capability_86) of every example and, given an ONNX
#       ResNet-18 exported with a dynamic batch axis, of it at each batch
#       (one weights file for all) and its training step (sparse CCE, plain
#       SGD by default: Adam's slots would triple the 47 MB state file) at
#       --train-batch; writes each bundle's CPU reference outputs (`kiln run
#       --seed 5`, at batch 1) and FLOPs (`kiln bench --json`) into
#       OUT/manifest. OUT with ResNet-18 is about 100 MB: keep it in the
#       working tree, untracked, to send it to a device machine.
#
#   scripts/gpu-check.sh run OUT [--repeat R] [--steps S] [--peak-gflops G]
#       On the GPU machine; needs only the bundles in OUT, the driver and
#       python3 for the comparisons (no NumPy). Runs every bundle with --seed 5 and
#       checks its outputs against the CPU's within 1e-4 relative (of the
#       output's largest magnitude), then times each: R inferences (default
#       50), S training steps (default 20), with GFLOP/s and the share of
#       the GPU's FP32 peak (--peak-gflops, else estimated from
#       nvidia-smi's SM clock and the GPU's name, else not shown). Prints a
#       Markdown table for docs/results.md; exits 1 if a check failed.
#
# The two halves also run on PoCL (OpenCL on the CPU) with --target
# host-opencl, which is how this script is tested where no GPU is.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"
  exit 2
}

prepare() {
  local out=$1
  shift
  local target=host-cuda-cuda_capability_86 onnx="" batches=1,64 train_batch=64
  local optimizer=sgd
  while [ $# -gt 0 ]; do
    case $1 in
      --target) target=$2; shift 2 ;;
      --optimizer) optimizer=$2; shift 2 ;;
      --onnx) onnx=$2; shift 2 ;;
      --batches) batches=$2; shift 2 ;;
      --train-batch) train_batch=$2; shift 2 ;;
      *) echo "error: unknown argument '$1'" >&2; exit 2 ;;
    esac
  done
  local kiln=${KILN:-$here/build/bin/kiln}
  [ -x "$kiln" ] || { echo "error: $kiln is not built" >&2; exit 1; }
  if [ -e "$out" ] && [ ! -f "$out/manifest" ] && [ -n "$(ls -A "$out")" ]; then
    echo "error: $out is not empty and holds no manifest: not overwriting it" >&2
    exit 1
  fi
  rm -rf "$out"
  mkdir -p "$out"
  : > "$out/manifest"
  # bundle NAME MODEL BATCH KIND [compile flags...]: one line of the manifest
  # "NAME KIND BATCH FLOPS WEIGHTS" (KIND: run or train; WEIGHTS: the
  # weights file relative to OUT, or - when embedded).
  bundle() {
    local name=$1 model=$2 batch=$3 kind=$4
    shift 4
    local dir=$out/$name flops
    rm -rf "$dir"
    echo "== $name ($target, batch $batch, $kind)" >&2
    "$kiln" compile "$model" -o "$dir" --exe --seed 5 --batch "$batch" \
      --target "$target" --name "$name" "$@" > "$dir.compile.txt"
    if [ "$kind" = train ]; then
      flops=$("$kiln" bench "$model" --batch "$batch" --runs 1 --json --train \
        --loss sparse-cce --optimizer "$optimizer" 2>/dev/null | tail -n 1 |
        sed -n 's/.*"flops":\([0-9.e+]*\).*/\1/p')
      # The CPU's losses of 3 steps (a host bundle of the same step), for
      # `run` to compare.
      "$kiln" compile "$model" -o "$dir/cpu" --exe --seed 5 --batch "$batch" \
        --name cpu_step "$@" > /dev/null
      "$dir/cpu/cpu_step" --train-steps 3 --seed 5 2> /dev/null |
        sed -n 's/^loss: //p' > "$dir/ref_loss.txt"
      rm -rf "$dir/cpu"
    else
      flops=$("$kiln" bench "$model" --batch "$batch" --runs 1 --json \
        2>/dev/null | tail -n 1 | sed -n 's/.*"flops":\([0-9.e+]*\).*/\1/p')
      if [ "$batch" = 1 ]; then
        "$kiln" run "$model" --seed 5 --batch 1 --output "$dir/ref" \
          > "$dir/ref.txt"
      fi
    fi
    # Bundles of one model at several batches have the same weights file:
    # one copy is kept.
    local weights=-
    if [ -f "$dir/$name.weights" ]; then
      weights=$name/$name.weights
      local w
      for w in "$out"/*/*.weights; do
        if [ "$w" != "$dir/$name.weights" ] && cmp -s "$w" "$dir/$name.weights"; then
          rm "$dir/$name.weights"
          weights=${w#"$out"/}
          break
        fi
      done
    fi
    echo "$name $kind $batch ${flops:-0} $weights" >> "$out/manifest"
  }
  for example in mlp cnn resnet_block; do
    bundle "$example" "$here/examples/$example.mlir" 1 run
  done
  if [ -n "$onnx" ]; then
    local b
    for b in ${batches//,/ }; do
      bundle "resnet18_b$b" "$onnx" "$b" run --weights file
    done
    bundle "resnet18_train_b$train_batch" "$onnx" "$train_batch" train \
      --weights file --train --loss sparse-cce --optimizer "$optimizer"
  fi
  echo "$target" > "$out/target"
  du -sh "$out" >&2
}

# compare REF_DIR OUT_DIR: every reference output within 1e-4 relative of
# its largest magnitude (plain python3, no NumPy: f4 and i4 .npy files).
compare() {
  local py
  py=$(command -v python3 || command -v /usr/bin/python3) || {
    echo "no python3" >&2
    return 2
  }
  "$py" - "$1" "$2" <<'PY'
import array, ast, glob, os, sys

def load(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY", path
    size = int.from_bytes(data[8:10], "little")
    header = ast.literal_eval(data[10:10 + size].decode("latin1"))
    values = array.array("f" if header["descr"] == "<f4" else "i")
    values.frombytes(data[10 + size:])
    return values

ref_dir, got_dir = sys.argv[1], sys.argv[2]
worst = 0.0
files = sorted(glob.glob(os.path.join(ref_dir, "*.npy")))
for f in files:
    a, b = load(f), load(os.path.join(got_dir, os.path.basename(f)))
    assert len(a) == len(b), f
    scale = max(max((abs(v) for v in a), default=0.0), 1e-30)
    worst = max(worst, max((abs(x - y) for x, y in zip(a, b)), default=0.0) / scale)
print(f"{worst:.2e}")
sys.exit(0 if files and worst <= 1e-4 else 1)
PY
}

# peak_gflops: FP32 GFLOP/s from nvidia-smi (SMs by name x 128 lanes x 2 x
# the largest SM clock), or empty.
peak_gflops() {
  command -v nvidia-smi > /dev/null || return 0
  local line name mhz sms=""
  line=$(nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader,nounits \
    2> /dev/null | head -n 1) || return 0
  name=${line%,*}
  mhz=${line##*, }
  case $name in
    *H200*|*H100*SXM*|*"H100 80GB HBM3"*) sms=132 ;;
    *H100*PCIe*|*"H100 PCIe"*) sms=114 ;;
    *L40S*|*L40*) sms=142 ;;
    *A10G*|*A10*) sms=80 ;; # 128 FP32 lanes per SM from Ampere GA10x on
  esac
  [ -n "$sms" ] && [ -n "$mhz" ] || return 0
  awk -v s="$sms" -v m="$mhz" 'BEGIN { printf "%.0f", s * 128 * 2 * m / 1000 }'
}

run() {
  local out=$1
  shift
  local repeat=50 steps=20 peak=""
  while [ $# -gt 0 ]; do
    case $1 in
      --repeat) repeat=$2; shift 2 ;;
      --steps) steps=$2; shift 2 ;;
      --peak-gflops) peak=$2; shift 2 ;;
      *) echo "error: unknown argument '$1'" >&2; exit 2 ;;
    esac
  done
  [ -f "$out/manifest" ] || { echo "error: $out/manifest: run prepare first" >&2; exit 1; }
  [ -n "$peak" ] || peak=$(peak_gflops)
  local failed=0 name kind batch flops weights dir ms err rate share
  local -a wflag
  echo "target $(cat "$out/target"); FP32 peak: ${peak:-unknown} GFLOP/s"
  command -v nvidia-smi > /dev/null &&
    nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader || true
  echo
  echo "| bundle | batch | check | median ms | GFLOP/s | % of FP32 peak |"
  echo "|---|---|---|---|---|---|"
  while read -r name kind batch flops weights; do
    dir=$out/$name
    err="-"
    wflag=()
    if [ "${weights:--}" != - ]; then
      wflag=(--weights "$out/$weights")
    fi
    if [ "$kind" = train ]; then
      if [ -s "$dir/ref_loss.txt" ]; then
        # Losses of steps 1 and 3 within 1e-3 relative of the CPU's.
        got=$("$dir/$name" "${wflag[@]}" --train-steps 3 --seed 5 2> /dev/null |
          sed -n 's/^loss: //p')
        if awk -v a="$(cat "$dir/ref_loss.txt")" -v b="$got" 'BEGIN {
            n = split(a, x, /[ ,]+/); m = split(b, y, /[ ,]+/)
            if (n != m || n < 6) exit 1
            for (i = 1; i <= n; ++i) if (x[i] ~ /^[-0-9.e+]+$/ && i % 3 == 0) {
              d = x[i] - y[i]; if (d < 0) d = -d
              s = x[i] < 0 ? -x[i] : x[i]; if (d > 1e-3 * s) exit 1 }
            exit 0 }'; then
          err="ok (loss $got; CPU $(cat "$dir/ref_loss.txt"))"
        else
          err="FAIL (loss $got; CPU $(cat "$dir/ref_loss.txt"))"; failed=1
        fi
      fi
      ms=$("$dir/$name" "${wflag[@]}" --train-steps "$steps" --seed 5 2>&1 >/dev/null |
        sed -n 's/.* median \([0-9.]*\) ms.*/\1/p') || ms=""
    else
      rm -rf "$dir/got"
      if "$dir/$name" "${wflag[@]}" --seed 5 --output "$dir/got" > "$dir/got.txt" 2> "$dir/err.txt"; then
        if [ -d "$dir/ref" ]; then
          if err=$(compare "$dir/ref" "$dir/got"); then
            err="ok ($err)"
          elif [ $? -eq 2 ]; then
            err="not compared (no python3)"
          else
            err="FAIL ($err)"; failed=1
          fi
        fi
      else
        err="FAIL: $(tail -n 1 "$dir/err.txt")"; failed=1
      fi
      ms=$("$dir/$name" "${wflag[@]}" --seed 5 --repeat "$repeat" 2>&1 >/dev/null |
        sed -n 's/.* median \([0-9.]*\) ms.*/\1/p') || ms=""
    fi
    if [ -z "$ms" ]; then
      echo "| $name | $batch | $err | failed | | |"
      failed=1
      continue
    fi
    rate=$(awk -v f="$flops" -v ms="$ms" 'BEGIN { printf "%.1f", f / (ms * 1e6) }')
    share=""
    [ -n "$peak" ] && share=$(awk -v r="$rate" -v p="$peak" 'BEGIN { printf "%.1f%%", 100 * r / p }')
    echo "| $name ($kind) | $batch | $err | $ms | $rate | $share |"
  done < "$out/manifest"
  return $failed
}

[ $# -ge 2 ] || usage
case $1 in
  prepare) shift; prepare "$@" ;;
  run) shift; run "$@" ;;
  *) usage ;;
esac
