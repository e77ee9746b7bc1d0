#!/usr/bin/env bash
# 5 training steps on Fashion-MNIST on OpenCL (PoCL in CI) end with the
# same parameters (and optimizer state) as on the CPU, within TOLERANCE
# relative to each tensor's largest magnitude (docs/gpu.md):
#   opencl_train.sh KILN MODEL WORKDIR OPTIMIZER TOLERANCE
set -euo pipefail
kiln=$1 model=$2 work=$3 optimizer=$4 tolerance=$5
rm -rf "$work" && mkdir -p "$work"
for target in host host-opencl; do
  "$kiln" train "$model" --data fashion-mnist --steps 5 --batch 64 \
    --loss sparse-cce --optimizer "$optimizer" --seed 3 --target "$target" \
    --save "$work/$target.safetensors" > "$work/$target.log"
done
/usr/bin/python3 - "$work/host.safetensors" "$work/host-opencl.safetensors" \
  "$tolerance" <<'PY'
import json, struct, sys
import numpy as np

def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        start, end = v["data_offsets"]
        out[name] = np.frombuffer(data[start:end], np.float32).reshape(v["shape"])
    return out

cpu, gpu = load(sys.argv[1]), load(sys.argv[2])
assert cpu.keys() == gpu.keys(), (cpu.keys(), gpu.keys())
worst = 0.0
for name in cpu:
    scale = max(1e-12, float(np.abs(cpu[name]).max()))
    worst = max(worst, float(np.abs(gpu[name] - cpu[name]).max()) / scale)
print(f"{len(cpu)} tensors, worst relative difference {worst:.3g}")
sys.exit(0 if worst <= float(sys.argv[3]) else 1)
PY
