#!/usr/bin/python3
"""opsets.py DIR: writes small ONNX models at opsets 1, 18, 20, 21 and 22
to DIR, with DIR/x.npy and each model's expected outputs computed here with
NumPy (DIR/<model>_<output>.npy).
opsets.py --check WANT.npy GOT.npy: exits 1 unless they agree to 1e-5."""
import math
import sys

import numpy as np

from onnx_cases import check_mode, writer

check_mode()

from onnx import helper

out = sys.argv[1]
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 7, 4)).astype(np.float32)
np.save(f"{out}/x.npy", x)
model = writer(out, x)


# Opset 1: Add with the legacy broadcast attribute (B aligned with A's last
# dims), Relu with consumed_inputs, Reshape with its shape attribute, Pad-1's
# `paddings`, Concat-1 with its default axis 1.
b = np.linspace(-1, 1, 4).astype(np.float32)
h = np.maximum(x + b, 0)
model("opset1", 1, [
    helper.make_node("Add", ["x", "b"], ["s"], broadcast=1),
    helper.make_node("Relu", ["s"], ["r"], consumed_inputs=[0]),
    helper.make_node("Reshape", ["r"], ["y"], shape=[2, 28]),
    helper.make_node("Pad", ["r"], ["p"], paddings=[0, 1, 0, 0, 2, 1],
                     value=0.5),
    helper.make_node("Concat", ["r", "r"], ["c"]),
], {"y": h.reshape(2, 28),
    "p": np.pad(h, [(0, 0), (1, 2), (0, 1)], constant_values=0.5),
    "c": np.concatenate([h, h], axis=1)}, [("b", b)])

# The same Add from axis 0: B lines up with A's first dims, which NumPy
# broadcasting does not mean; kiln refuses it.
b2 = np.linspace(-1, 1, 2).astype(np.float32)
model("opset1_axis", 1, [
    helper.make_node("Add", ["x", "b"], ["y"], broadcast=1, axis=0),
], {"y": x}, [("b", b2)])

# Opset 18: ReduceMean's axes input, Split into num_outputs parts (7 -> 3,
# 3, 1), Pad's axes input.
parts = [x[:, 0:3], x[:, 3:6], x[:, 6:7]]
model("opset18", 18, [
    helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=1),
    helper.make_node("Split", ["x"], ["s0", "s1", "s2"], axis=1,
                     num_outputs=3),
    helper.make_node("Pad", ["x", "pads", "", "padaxes"], ["p"]),
], {"m": x.mean(axis=1, keepdims=True), "s0": parts[0], "s1": parts[1],
    "s2": parts[2], "p": np.pad(x, [(0, 0), (0, 0), (2, 1)])},
    [("axes", np.array([1], np.int64)),
     ("pads", np.array([2, 1], np.int64)),
     ("padaxes", np.array([-1], np.int64))])

# Opset 20: Gelu, exact and tanh.
erf = np.vectorize(math.erf)
exact = 0.5 * x * (1 + erf(x / math.sqrt(2)))
tanh = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
model("opset20", 20, [
    helper.make_node("Gelu", ["x"], ["g"]),
    helper.make_node("Gelu", ["x"], ["t"], approximate="tanh"),
], {"g": exact, "t": tanh})

# Opset 21: Transpose and Flatten (new versions for element types only).
model("opset21", 21, [
    helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1]),
    helper.make_node("Flatten", ["t"], ["y"], axis=1),
], {"y": x.transpose(0, 2, 1).reshape(2, 28)})

# Opset 22: past what kiln knows.
model("opset22", 22, [helper.make_node("Relu", ["x"], ["y"])],
      {"y": np.maximum(x, 0)})
