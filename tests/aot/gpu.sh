#!/bin/bash
# kiln compile for GPU targets (docs/aot.md, docs/gpu.md):
# - OpenCL (PoCL in CI): for each example the executable's outputs equal
#   `kiln run --target host-opencl` byte for byte and the CPU's within
#   1e-5 of the largest magnitude; the kernels launch on the device
#   (halide_opencl_run); a training library trains (train.c), refuses bad
#   arguments (api_arguments.c) and bad labels (gpu_labels.c), and its
#   losses equal the CPU library's within 1e-4 relative.
# - CUDA: the bundle and executable build without a CUDA toolkit; without
#   a driver the executable fails with a clear error.
#   gpu.sh KILN EXAMPLES_DIR WORKDIR TESTS_AOT_DIR
set -euo pipefail
kiln=$1 examples=$2 work=$3 sources=$4
rm -rf "$work"
mkdir -p "$work"

compare() { # compare DIR_A DIR_B TOLERANCE: every .npy of A, relative
  /usr/bin/python3 - "$@" <<'PY'
import glob, os, sys
import numpy as np
a_dir, b_dir, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
files = sorted(glob.glob(os.path.join(a_dir, "*.npy")))
assert files, f"no outputs in {a_dir}"
for f in files:
    a = np.load(f)
    b = np.load(os.path.join(b_dir, os.path.basename(f)))
    scale = max(float(np.abs(a).max()), 1e-12)
    err = float(np.abs(a.astype(np.float64) - b).max()) / scale
    print(f"{os.path.basename(f)}: relative difference {err:.3g}")
    if not err <= tol:
        sys.exit(f"FAIL: {f} differs by {err:.3g} > {tol}")
PY
}

for name in mlp cnn resnet_block; do
  model=$examples/$name.mlir
  dir=$work/$name
  "$kiln" compile "$model" -o "$dir/bundle" --exe --seed 5 \
    --target host-opencl > "$dir.compile.txt"
  nm "$dir/bundle/$name" | grep halide_opencl_run > /dev/null
  "$dir/bundle/$name" --seed 5 --output "$dir/exe" > "$dir/exe.txt"
  "$kiln" run "$model" --seed 5 --target host-opencl --output "$dir/opencl" \
    > "$dir/opencl.txt"
  "$kiln" run "$model" --seed 5 --output "$dir/cpu" > /dev/null
  diff "$dir/opencl.txt" "$dir/exe.txt"
  for f in "$dir"/opencl/*.npy; do
    cmp "$f" "$dir/exe/$(basename "$f")"
  done
  compare "$dir/cpu" "$dir/exe" 1e-5
done

# Training: the same library source on both targets.
for target in host host-opencl; do
  dir=$work/train-$target
  "$kiln" compile "$examples/mlp.mlir" -o "$dir" --train --loss sparse-cce \
    --optimizer sgd --target "$target" > /dev/null
  programs="train api_arguments"
  if [ "$target" != host ]; then
    programs="$programs gpu_labels"
  fi
  for program in $programs; do
    cc -std=c11 -O2 -Wall -Werror -I"$dir" "$sources/$program.c" \
      "$dir/libmlp.a" -lpthread -ldl -lm -o "$dir/$program"
    "$dir/$program" > "$dir/$program.txt"
  done
done
/usr/bin/python3 - "$work/train-host/train.txt" \
  "$work/train-host-opencl/train.txt" <<'PY'
import re, sys
def losses(path):
    return [float(x) for x in re.findall(r"loss ([0-9.eE+-]+)", open(path).read())]
cpu, gpu = losses(sys.argv[1]), losses(sys.argv[2])
assert len(cpu) == len(gpu) == 10, (cpu, gpu)
worst = max(abs(a - b) / max(abs(a), 1e-12) for a, b in zip(cpu, gpu))
print(f"10 steps, worst relative loss difference {worst:.3g}")
sys.exit(0 if worst <= 1e-4 else 1)
PY

# CUDA: builds here; runs wherever a driver is.
dir=$work/cuda
"$kiln" compile "$examples/mlp.mlir" -o "$dir" --exe --seed 5 \
  --target host-cuda-cuda_capability_86 > /dev/null
grep -q halide_cuda_device_interface "$dir/mlp.c"
nm "$dir/mlp" | grep halide_cuda_run > /dev/null
if ! ldconfig -p | grep "libcuda\.so" > /dev/null; then
  if "$dir/mlp" --seed 5 > "$dir/run.txt" 2>&1; then
    echo "FAIL: the CUDA executable ran without a driver"
    exit 1
  fi
  grep "cannot allocate .* on a CUDA device" "$dir/run.txt"
fi
echo PASS
