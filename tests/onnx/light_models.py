#!/usr/bin/python3
"""ONNX's "light" model tests (AlexNet, DenseNet-121, Inception v1/v2,
ResNet-50, ShuffleNet, SqueezeNet, VGG-19, ZFNet-512) through `kiln run`.

Usage: light_models.py LIGHT_DIR [--kiln build/bin/kiln] [--random-weights]
                       [--cache-dir DIR] [NAME ...]

LIGHT_DIR holds onnx/backend/test/data/light/ of an ONNX source tree
(light_NAME.onnx and light_NAME_output_0.pb; Debian's python3-onnx ships
neither, so this script is not part of the test suite). Each model's float
weights are ConstantOfShape nodes there.

Default: the input ONNX's runner feeds these models (arange / n, in the
input's shape) through `kiln run MODEL --input ... --output DIR`, compared
with the reference output at ONNX's tolerances (rtol 1e-3, 2e-3 for
DenseNet-121; atol 1e-7). With constant weights most of these outputs are a
uniform softmax, so --random-weights also checks each model with every
ConstantOfShape weight replaced by seeded random values and a random input,
against ONNX Runtime (bench/compare's onnxruntime-node) on the same model.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

NAMES = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2",
         "resnet50", "shufflenet", "squeezenet", "vgg19", "zfnet512"]
RTOL = {"densenet121": 2e-3}
ROOT = Path(__file__).resolve().parents[2]
ORT = ROOT / "bench" / "compare" / "node" / "node_modules" / "onnxruntime-node"

# Runs MODEL on one f32 input in ONNX Runtime and writes the first output raw.
ORT_SCRIPT = """
'use strict';
const fs = require('fs');
const ort = require(process.argv[2]);
(async () => {
  const [model, name, file, shape, out] = process.argv.slice(3);
  const b = fs.readFileSync(file);
  const x = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const s = await ort.InferenceSession.create(model, {intraOpNumThreads: 2});
  const r = await s.run({[name]: new ort.Tensor('float32', x,
                                                shape.split(',').map(Number))});
  const o = r[s.outputNames[0]].data;
  fs.writeFileSync(out, Buffer.from(o.buffer, o.byteOffset, o.byteLength));
})().catch((e) => { console.error(e.message); process.exit(1); });
"""


def graph_input(model):
    """The one non-initializer input, its shape (free dims 1)."""
    inits = {i.name for i in model.graph.initializer}
    x = [i for i in model.graph.input if i.name not in inits][0]
    shape = [d.dim_value if d.HasField("dim_value") else 1
             for d in x.type.tensor_type.shape.dim]
    return x.name, shape


def kiln_run(args, model_path, name, x, work):
    np.save(work / "input.npy", x)
    out = work / "out"
    out.mkdir(exist_ok=True)
    command = [args.kiln, "run", str(model_path), "--output", str(out),
               "--input", f"{name}={work / 'input.npy'}"]
    if args.cache_dir:
        command += ["--cache-dir", args.cache_dir]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip()[-400:])
    files = sorted(out.glob("*.npy"))
    return np.load(files[0])


def randomized(model, rng):
    """ConstantOfShape weights -> seeded random initializers: uniform
    +-sqrt(3 / fan_in) for kernels, [0.5, 1.5) for 1-D ones (biases, batch
    norm scales, means and variances)."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    kept = []
    for node in graph.node:
        if node.op_type != "ConstantOfShape" or node.input[0] not in inits:
            kept.append(node)
            continue
        shape = numpy_helper.to_array(inits[node.input[0]]).astype(int).tolist()
        if len(shape) >= 2:
            bound = np.sqrt(3.0 / int(np.prod(shape[1:])))
            value = rng.uniform(-bound, bound, shape)
        else:
            value = rng.uniform(0.5, 1.5, shape)
        graph.initializer.append(
            numpy_helper.from_array(value.astype(np.float32), node.output[0]))
    del graph.node[:]
    graph.node.extend(kept)
    return model


def check_reference(args, name, work):
    path = Path(args.light_dir) / f"light_{name}.onnx"
    model = onnx.load(str(path))
    input_name, shape = graph_input(model)
    n = int(np.prod(shape))
    x = (np.arange(n).reshape(shape) / n).astype(np.float32)
    tensor = onnx.TensorProto()
    tensor.ParseFromString(
        (Path(args.light_dir) / f"light_{name}_output_0.pb").read_bytes())
    ref = numpy_helper.to_array(tensor)
    got = kiln_run(args, path, input_name, x, work).reshape(ref.shape)
    ok = np.allclose(got, ref, rtol=RTOL.get(name, 1e-3), atol=1e-7)
    return ok, f"max abs diff {np.abs(got - ref).max():.3g}"


def check_random(args, name, work):
    model = randomized(onnx.load(str(Path(args.light_dir) /
                                     f"light_{name}.onnx")),
                       np.random.default_rng(0))
    path = work / "random.onnx"
    onnx.save(model, str(path))
    input_name, shape = graph_input(model)
    x = np.random.default_rng(1).uniform(0, 1, shape).astype(np.float32)
    x.tofile(work / "input.raw")
    script = work / "ort.js"
    script.write_text(ORT_SCRIPT)
    result = subprocess.run(
        ["node", str(script), str(ORT), str(path), input_name,
         str(work / "input.raw"), ",".join(map(str, shape)),
         str(work / "ort.raw")], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("ONNX Runtime: " + result.stderr.strip()[-400:])
    ref = np.fromfile(work / "ort.raw", dtype=np.float32)
    got = kiln_run(args, path, input_name, x, work).ravel()
    error = np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30)
    ok = error < RTOL.get(name, 1e-3) and got.argmax() == ref.argmax()
    return ok, f"random weights vs ONNX Runtime: max rel error {error:.2e}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("light_dir")
    parser.add_argument("names", nargs="*", default=NAMES)
    parser.add_argument("--kiln", default=str(ROOT / "build" / "bin" / "kiln"))
    parser.add_argument("--cache-dir")
    parser.add_argument("--random-weights", action="store_true")
    args = parser.parse_args()
    if args.random_weights and not ORT.exists():
        sys.exit(f"{ORT} is missing: run bench/compare/run.py --peers ort once")
    failed = 0
    for name in args.names:
        checks = [check_reference] + ([check_random] if args.random_weights
                                      else [])
        for check in checks:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    ok, detail = check(args, name, Path(tmp))
                except RuntimeError as e:
                    ok, detail = False, str(e)
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
