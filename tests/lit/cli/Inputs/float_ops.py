#!/usr/bin/python3
"""float_ops.py DIR: writes ONNX models whose node tests in ONNX's suite use
integer tensors or miss a case (Trilu on floats, Max/Min over three
broadcast inputs, ReduceLogSumExp of values whose exp overflows float32)
to DIR, with DIR/x.npy and the expected outputs computed with NumPy
(DIR/<model>_<output>.npy).
float_ops.py --check WANT.npy GOT.npy: exits 1 unless they agree to 1e-5."""
import sys

import numpy as np

from onnx_cases import check_mode, writer

check_mode()

from onnx import TensorProto, helper, save

out = sys.argv[1]
rng = np.random.default_rng(1)
x = rng.standard_normal((2, 3, 5)).astype(np.float32)
np.save(f"{out}/x.npy", x)
opset17 = writer(out, x)


def model(name, nodes, outputs, inits=()):
    opset17(name, 17, nodes, outputs, inits)


# Trilu: upper with k = 1, lower with k = -1 and the default k = 0, on a
# batch of 3x5 matrices (non-square).
model("trilu", [
    helper.make_node("Trilu", ["x", "k1"], ["upper"]),
    helper.make_node("Trilu", ["x", "km1"], ["lower"], upper=0),
    helper.make_node("Trilu", ["x"], ["lower0"], upper=0),
], {"upper": np.triu(x, 1), "lower": np.tril(x, -1), "lower0": np.tril(x)},
    [("k1", np.array(1, np.int64)), ("km1", np.array(-1, np.int64))])

# Trilu of -inf (a causal attention mask) keeps -inf above the diagonal
# and 0 elsewhere, not NaN (-inf * 0): on a constant, folded at import
# time, and on a run-time tensor (x - x - inf). Exp turns the masks into
# 0/1 (finite) outputs.
ninf = np.full((3, 3), -np.inf, np.float32)
model("trilu_inf", [
    helper.make_node("Trilu", ["ninf", "k1"], ["mask"]),
    helper.make_node("Exp", ["mask"], ["folded"]),
    helper.make_node("Sub", ["x", "x"], ["zero"]),
    helper.make_node("Add", ["zero", "ninf1"], ["all_ninf"]),
    helper.make_node("Trilu", ["all_ninf", "k1"], ["mask_rt"]),
    helper.make_node("Exp", ["mask_rt"], ["runtime"]),
], {"folded": np.exp(np.triu(np.full((3, 3), -np.inf), 1) + np.tril(np.zeros((3, 3)))),
    "runtime": 1.0 - np.triu(np.ones_like(x), 1)},
    [("ninf", ninf), ("k1", np.array(1, np.int64)),
     ("ninf1", np.array(-np.inf, np.float32))])

# Max and Min of three inputs that broadcast to x's shape.
a = rng.standard_normal((3, 1)).astype(np.float32)
b = rng.standard_normal((5,)).astype(np.float32)
model("maxmin", [
    helper.make_node("Max", ["x", "a", "b"], ["hi"]),
    helper.make_node("Min", ["x", "a", "b"], ["lo"]),
], {"hi": np.maximum(np.maximum(x, a), b), "lo": np.minimum(np.minimum(x, a), b)},
    [("a", a), ("b", b)])

# ReduceLogSumExp over values near 100 (exp(100) overflows float32): the
# maximum is taken out first. Expected in float64.
big = 90.0 + 10.0 * x.astype(np.float64)
model("logsumexp", [
    helper.make_node("Mul", ["x", "ten"], ["t"]),
    helper.make_node("Add", ["t", "ninety"], ["z"]),
    helper.make_node("ReduceLogSumExp", ["z"], ["y"], axes=[2], keepdims=0),
], {"y": np.log(np.exp(big - big.max(2, keepdims=True)).sum(2))
    + big.max(2)},
    [("ten", np.array(10, np.float32)), ("ninety", np.array(90, np.float32))])

# A node with no name and no outputs (dead code an exporter may leave):
# imported without reading past its output list (found by fuzz-onnx), and
# the graph runs.
model("no_outputs", [
    helper.make_node("ReduceSum", ["x"], [], keepdims=0),
    helper.make_node("Neg", ["x"], ["y"]),
], {"y": -x})

# An initializer whose dims multiply past 2^63 (found by fuzz-onnx: the
# element count overflowed before the size check): a clear error.
huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2**62, 4],
                   raw_data=b"")
opset17_graph = helper.make_graph(
    [helper.make_node("Add", ["x", "w"], ["y"])], "huge",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(x.shape))],
    [huge])
save(helper.make_model(opset17_graph,
                       opset_imports=[helper.make_opsetid("", 17)]),
     f"{out}/huge.onnx")

# A node with fewer inputs than its op takes, all of them (none) known at
# import time (found by fuzz-onnx: host folding dereferenced the missing
# input): a clear error.
model("missing_input", [
    helper.make_node("Neg", [], ["c"]),
    helper.make_node("Add", ["x", "c"], ["y"]),
], {"y": x})

# Pads that are NaN (a float tensor where ONNX wants int64; found by
# fuzz-onnx: the cast to an integer was undefined): a clear error.
model("nan_pads", [helper.make_node("Pad", ["x", "pads"], ["y"])], {"y": x},
      [("pads", np.full(6, np.nan, np.float32))])

# Trilu over matrices too large for the mask kiln builds at import time
# (found by fuzz-onnx: a 4 GB allocation): a clear error.
big = helper.make_graph(
    [helper.make_node("Trilu", ["x"], ["y"])], "big_trilu",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 65536, 65536])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 65536, 65536])])
save(helper.make_model(big, opset_imports=[helper.make_opsetid("", 17)]),
     f"{out}/big_trilu.onnx")

# A Reshape whose shape entries multiply past 2^63 (found by fuzz-onnx:
# signed overflow in the element count): an error naming the shape.
model("reshape_overflow", [
    helper.make_node("Reshape", ["x", "huge"], ["y"]),
], {"y": x}, [("huge", np.array([2**40, 2**40, -1], np.int64))])

# 1-D Conv (stride 2, pads 1 and 2, a bias) and MaxPool (kernel 2,
# stride 1, pads 0 and 1) over x as [N, C, L]: kiln imports them as 2-D
# over a unit height. A rank-2 weight with a rank-3 input is an error.
w1 = rng.standard_normal((4, 3, 3)).astype(np.float32)
b1 = rng.standard_normal(4).astype(np.float32)
xp = np.pad(x, ((0, 0), (0, 0), (1, 2)))
conv1 = np.zeros((2, 4, 3), np.float32)
for o in range(4):
    for l in range(3):
        conv1[:, o, l] = np.einsum("nck,ck->n", xp[:, :, 2 * l:2 * l + 3],
                                   w1[o]) + b1[o]
xm = np.pad(x, ((0, 0), (0, 0), (0, 1)), constant_values=-np.inf)
pool1 = np.maximum(xm[:, :, :-1], xm[:, :, 1:])
model("conv1d", [
    helper.make_node("Conv", ["x", "w1", "b1"], ["conv"], strides=[2],
                     pads=[1, 2], kernel_shape=[3]),
    helper.make_node("MaxPool", ["x"], ["pool"], kernel_shape=[2],
                     pads=[0, 1]),
], {"conv": conv1, "pool": pool1}, [("w1", w1), ("b1", b1)])
model("conv1d_bad_weight", [
    helper.make_node("Conv", ["x", "w2"], ["y"]),
], {"y": x}, [("w2", w1[:, :, 0])])

# MaxPool's Indices at run time (2x2 windows, stride 2, the last row and
# column padded) feeding MaxUnpool (the node tests give MaxUnpool known
# indices): the negated maxima written back where they were, in x viewed
# as [1, 2, 3, 5].
x4 = x.reshape(1, 2, 3, 5)
pooled_idx = np.zeros((1, 2, 2, 3), np.int64)
unpooled = np.zeros_like(x4)
for c in range(2):
    for i in range(2):
        for j in range(3):
            win = [(y, z) for y in (2 * i, 2 * i + 1) for z in (2 * j, 2 * j + 1)
                   if y < 3 and z < 5]
            y, z = max(win, key=lambda p: (x4[0, c][p], -win.index(p)))
            pooled_idx[0, c, i, j] = (c * 3 + y) * 5 + z
            unpooled[0, c, y, z] = -x4[0, c, y, z]
model("unpool", [
    helper.make_node("Reshape", ["x", "shape4"], ["x4"]),
    helper.make_node("MaxPool", ["x4"], ["pooled", "indices"],
                     kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1]),
    helper.make_node("Neg", ["pooled"], ["negated"]),
    helper.make_node("MaxUnpool", ["negated", "indices"], ["unpooled"],
                     kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1]),
], {"unpooled": unpooled, "indices": pooled_idx},
    [("shape4", np.array([1, 2, 3, 5], np.int64))])

# ReverseSequence on a rank-3 input (the node tests are 2-D): batch axis
# 0, time axis 1, each entry's first lens[b] steps reversed.
lens = np.array([3, 2], np.int64)
reversed_x = x.copy()
for b in range(2):
    reversed_x[b, :lens[b]] = x[b, :lens[b]][::-1]
model("reverse_sequence", [
    helper.make_node("ReverseSequence", ["x", "lens"], ["y"], batch_axis=0,
                     time_axis=1),
], {"y": reversed_x}, [("lens", lens)])

# Range whose start is computed at run time: its output's shape would be
# a run-time value, an error naming the input.
model("range_runtime", [
    helper.make_node("ReduceMax", ["x"], ["start"], keepdims=0),
    helper.make_node("Range", ["start", "limit", "delta"], ["y"]),
], {"y": np.zeros(3)}, [("limit", np.array(10, np.float32)),
                        ("delta", np.array(1, np.float32))])

# ScatterElements along the last axis at known indices with repeats and
# negative ones: reduction none keeps the last update of a repeat (ONNX's
# reference), add adds them; mul is refused.
idx = np.array([[[0, 4], [2, 2]], [[-1, 1], [3, 3]], [[1, -5], [0, 0]]],
               np.int64).reshape(2, 3, 2)
upd = rng.standard_normal((2, 3, 2)).astype(np.float32)
want_none, want_add = x.copy(), x.copy()
for n in range(2):
    for c in range(3):
        for i in range(2):
            j = idx[n, c, i] % 5
            want_none[n, c, j] = upd[n, c, i]
            want_add[n, c, j] += upd[n, c, i]
model("scatter", [
    helper.make_node("ScatterElements", ["x", "idx", "upd"], ["none"], axis=2),
    helper.make_node("ScatterElements", ["x", "idx", "upd"], ["add"], axis=-1,
                     reduction="add"),
], {"none": want_none, "add": want_add}, [("idx", idx), ("upd", upd)])
opset17("scatter_mul", 18, [
    helper.make_node("ScatterElements", ["x", "idx", "upd"], ["y"], axis=2,
                     reduction="mul")], {"y": x}, [("idx", idx), ("upd", upd)])

# Integer graph outputs known at import time (Shape of x) come out as i32;
# one that does not fit in i32 (a Constant of 2^40) is a clear error.
for name, node in [
        ("shape_out", helper.make_node("Shape", ["x"], ["s"])),
        ("big_int", helper.make_node(
            "Constant", [], ["s"], value=helper.make_tensor(
                "v", TensorProto.INT64, [1], [2**40])))]:
    graph = helper.make_graph(
        [node, helper.make_node("Neg", ["x"], ["y"])], name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("s", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, list(x.shape))])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
         f"{out}/{name}.onnx")

# Einsum in forms ONNX's node tests leave out, against np.einsum: three
# operands contracted left to right, an uppercase subscript, a subscript
# of size 1 broadcast against 3, a trace to a scalar-shaped sum, an
# implicit output with an ellipsis; then two equations kiln refuses.
w = rng.standard_normal((5, 4)).astype(np.float32)
v = rng.standard_normal((4, 2)).astype(np.float32)
g = rng.standard_normal((1, 5)).astype(np.float32)
sq = rng.standard_normal((3, 3)).astype(np.float32)
model("einsum", [
    helper.make_node("Einsum", ["x", "w", "v"], ["chain"],
                     equation="nij,jk,kl->nil"),
    helper.make_node("Einsum", ["x", "g"], ["bcast"],
                     equation="nIj,Ij->nj"),
    helper.make_node("Einsum", ["x", "sq"], ["trace"],
                     equation="nij,ii->n"),
    helper.make_node("Einsum", ["x", "x"], ["implicit"],
                     equation="...ij , ...kj"),
], {"chain": np.einsum("nij,jk,kl->nil", x, w, v),
    "bcast": np.einsum("nIj,Ij->nj", x, np.broadcast_to(g, (3, 5))),
    "trace": np.einsum("nij,ii->n", x, sq),
    "implicit": np.einsum("...ij,...kj", x, x)},
    [("w", w), ("v", v), ("g", g), ("sq", sq)])
model("einsum_sizes", [
    helper.make_node("Einsum", ["x", "w"], ["y"], equation="nij,ik->njk")],
    {"y": x}, [("w", w)])
model("einsum_operands", [
    helper.make_node("Einsum", ["x"], ["y"], equation="nij,jk->nik")],
    {"y": x})
