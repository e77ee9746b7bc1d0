#!/usr/bin/python3
"""seeds.py DIR: seed corpora for the harnesses of fuzz/ in DIR/<harness>/,
from the repository's examples and test inputs plus small valid files of
each format written here (npy, safetensors, IDX, CSV, plan.json, ONNX).
Existing files are kept: the corpora grow across runs."""
import glob
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

out = sys.argv[1]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def put(harness, name, data):
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def npy_bytes(array):
    with tempfile.TemporaryFile() as f:
        np.save(f, array)
        f.seek(0)
        return f.read()


# .npy: the dtypes kiln reads, 0-d to 4-d, Fortran order (refused).
rng = np.random.default_rng(0)
for name, a in {
    "f4_2x3": rng.standard_normal((2, 3)).astype("<f4"),
    "f8_4": rng.standard_normal(4),
    "i4_5": np.arange(5, dtype="<i4"),
    "i8_2x2": np.arange(4, dtype="<i8").reshape(2, 2),
    "u1_3x1x2x2": np.arange(12, dtype="u1").reshape(3, 1, 2, 2),
    "f4_scalar": np.array(1.5, dtype="<f4"),
    "f4_fortran": np.asfortranarray(np.ones((2, 3), "<f4")),
}.items():
    put("npy", name, npy_bytes(a))


# safetensors: header length, JSON header (with a kiln checkpoint's
# metadata), data.
def safetensors(tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        raw = a.tobytes()
        dtype = {"float32": "F32", "int32": "I32"}[str(a.dtype)]
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


put("safetensors", "weights", safetensors(
    {"fc.weight": np.ones((3, 4), np.float32), "fc.bias": np.zeros(3, np.float32)}))
put("safetensors", "checkpoint", safetensors(
    {"w": np.arange(6, dtype=np.float32).reshape(2, 3)},
    {"format": "kiln-checkpoint", "epoch": "3", "step": "120"}))

# IDX (plain and gzipped) and CSV; the first byte picks the reader.
images = struct.pack(">IIII", 0x803, 2, 3, 3) + bytes(range(18))
labels = struct.pack(">II", 0x801, 2) + bytes([1, 7])
put("data", "idx_images", b"\x00" + images)
put("data", "idx_labels", b"\x00" + labels)
put("data", "idx_images_gz", b"\x00" + gzip.compress(images))
put("data", "csv", b"\x01" + b"a,b,label\n0.5,1.5,0\n2,3,1\n-1,4e2,0\n")

# Model text: the examples and the test models.
for pattern in ["examples/*.mlir", "tests/model/Inputs/*.mlir",
                "tests/lit/passes/*.mlir", "tests/lit/ir/*.mlir"]:
    for path in sorted(glob.glob(os.path.join(root, pattern))):
        if os.path.getsize(path) <= 65536:
            with open(path, "rb") as f:
                put("mlir", os.path.basename(path), f.read())

# ONNX: the small models the lit tests generate.
with tempfile.TemporaryDirectory() as tmp:
    for script in ["opsets.py", "float_ops.py", "control_flow.py"]:
        subprocess.run(["/usr/bin/python3",
                        os.path.join(root, "tests/lit/cli/Inputs", script),
                        tmp], check=True, stdout=subprocess.DEVNULL)
    for path in sorted(glob.glob(os.path.join(tmp, "*.onnx"))):
        with open(path, "rb") as f:
            put("onnx", os.path.basename(path), f.read())

# plan.json: the plans the test suite left in the kernel cache, if any, and
# a minimal hand-written one.
plans = sorted(glob.glob(os.path.join(root, "build/kernel-cache/models/*/plan.json")))
for path in plans[:20]:
    if os.path.getsize(path) <= 65536:
        with open(path, "rb") as f:
            put("plan", os.path.basename(os.path.dirname(path)) + ".json",
                f.read())
put("plan", "minimal.json", json.dumps({
    "version": 1, "library": "lib.so", "arena_bytes": 64,
    "buffers": [{"name": "x", "shape": [1, 4], "dtype": "f32",
                 "kind": "input", "offset": 0}],
    "inputs": [0], "outputs": [0], "calls": []}).encode())
