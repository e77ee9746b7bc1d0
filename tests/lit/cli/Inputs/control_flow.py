#!/usr/bin/python3
"""control_flow.py DIR: writes ONNX models with If, Loop and Scan to DIR,
with DIR/x.npy and the expected outputs computed with NumPy
(DIR/<model>_<output>.npy).
control_flow.py --check WANT.npy GOT.npy: exits 1 unless they agree to
1e-5."""
import sys

import numpy as np

from onnx_cases import check_mode, writer

check_mode()

from onnx import TensorProto, helper, numpy_helper, save

F, B, I64 = TensorProto.FLOAT, TensorProto.BOOL, TensorProto.INT64
out = sys.argv[1]
rng = np.random.default_rng(5)
x = rng.standard_normal((2, 4, 3)).astype(np.float32)
np.save(f"{out}/x.npy", x)
opset = writer(out, x)


def const(name, value):
    return helper.make_node("Constant", [], [name],
                            value=numpy_helper.from_array(np.asarray(value), name))


def graph(name, nodes, inputs, outputs):
    return helper.make_graph(nodes, name, inputs, outputs)


def info(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


# Branches of If: x * 2 (then) and -x reshaped to 4x6 (else).
then_branch = graph("then", [const("two", np.float32(2)),
                             helper.make_node("Mul", ["x", "two"], ["t"])],
                    [], [info("t", F, [2, 4, 3])])
else_flat = graph("else", [const("shape46", np.array([4, 6], np.int64)),
                           helper.make_node("Neg", ["x"], ["n"]),
                           helper.make_node("Reshape", ["n", "shape46"], ["e"])],
                  [], [info("e", F, [4, 6])])
else_same = graph("else", [helper.make_node("Neg", ["x"], ["e"])],
                  [], [info("e", F, [2, 4, 3])])

# A condition known at import time takes its branch only: the other one's
# shape does not matter.
opset("if_known", 16, [const("c", np.array(True)),
                       helper.make_node("If", ["c"], ["y"],
                                        then_branch=then_branch,
                                        else_branch=else_flat)],
      {"y": x * 2})


def cond_model(name, else_branch):
    """If on a boolean graph input `c`."""
    g = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=then_branch,
                          else_branch=else_branch)],
        name, [info("x", F, list(x.shape)), info("c", B, [])],
        [info("y", F, list(x.shape))])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 16)]),
         f"{out}/{name}.onnx")


cond_model("if_runtime", else_same)
cond_model("if_shapes", else_flat)
np.save(f"{out}/c_true.npy", np.array(True))
np.save(f"{out}/c_false.npy", np.array(False))
np.save(f"{out}/if_then.npy", x * 2)
np.save(f"{out}/if_else.npy", -x)

# Loop: at most 4 iterations; the body's condition (iteration < 2) stops
# it after 3. h = 0.5 h + x, scanned after every iteration.
body = graph("body", [
    const("half", np.float32(0.5)),
    const("two", np.array(2, np.int64)),
    helper.make_node("Less", ["i", "two"], ["cond_out"]),
    helper.make_node("Mul", ["h_in", "half"], ["hh"]),
    helper.make_node("Add", ["hh", "x"], ["h_out"]),
    helper.make_node("Identity", ["h_out"], ["scan"]),
], [info("i", I64, []), info("cond_in", B, []), info("h_in", F, [2, 4, 3])],
    [info("cond_out", B, []), info("h_out", F, [2, 4, 3]),
     info("scan", F, [2, 4, 3])])
h, steps = np.zeros_like(x), []
for _ in range(3):
    h = 0.5 * h + x
    steps.append(h)
opset("loop", 16, [const("m", np.array(4, np.int64)),
                   const("go", np.array(True)),
                   const("h0", np.zeros_like(x)),
                   helper.make_node("Loop", ["m", "go", "h0"], ["h", "hs"],
                                    body=body)],
      {"h": h, "hs": np.stack(steps)})

# A loop whose condition is computed at run time: refused.
opset("loop_runtime", 16, [
    const("m", np.array(4, np.int64)),
    helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
    const("zero", np.float32(0)),
    helper.make_node("Greater", ["s", "zero"], ["go"]),
    const("h0", np.zeros_like(x)),
    helper.make_node("Loop", ["m", "go", "h0"], ["h", "hs"], body=body)],
    {"h": h})

# Scan (opset 11): a running sum over axis 1 of x (4 steps) and of x
# reversed along axis 2 read backwards... both scan inputs: x along axis 1,
# and x transposed (4 along axis 2) read in reverse; the state adds both
# steps; the scan output is the state, stacked along axis 2 in reverse.
xt = np.ascontiguousarray(np.transpose(x, (0, 2, 1)))  # 2x3x4
scan_body = graph("scan_body", [
    helper.make_node("Add", ["s_in", "a"], ["s1"]),
    helper.make_node("Add", ["s1", "b"], ["s_out"]),
    helper.make_node("Identity", ["s_out"], ["y"]),
], [info("s_in", F, [2, 3]), info("a", F, [2, 3]), info("b", F, [2, 3])],
    [info("s_out", F, [2, 3]), info("y", F, [2, 3])])
s, ys = np.zeros((2, 3), np.float32), []
for t in range(4):
    s = s + x[:, t, :] + xt[:, :, 3 - t]
    ys.append(s)
opset("scan", 11, [
    const("s0", np.zeros((2, 3), np.float32)),
    helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
    helper.make_node("Scan", ["s0", "x", "xt"], ["s", "ys"], body=scan_body,
                     num_scan_inputs=2, scan_input_axes=[1, -1],
                     scan_input_directions=[0, 1], scan_output_axes=[2],
                     scan_output_directions=[1])],
    {"s": s, "ys": np.stack(ys[::-1], axis=2)})

# Scan-8: a batch axis (the body sees one element), the sequence along
# axis 1 read backwards, sequence_lens covering the whole sequence.
scan8_body = graph("scan8_body", [
    helper.make_node("Add", ["s_in", "a"], ["s_out"]),
    helper.make_node("Identity", ["s_out"], ["y"]),
], [info("s_in", F, [3]), info("a", F, [3])],
    [info("s_out", F, [3]), info("y", F, [3])])
backwards = np.cumsum(x[:, ::-1, :], axis=1)
opset("scan8", 8, [
    const("lens", np.array([4, 4], np.int32)),
    const("s0", np.zeros((2, 3), np.float32)),
    helper.make_node("Scan", ["lens", "s0", "x"], ["s", "ys"],
                     body=scan8_body, num_scan_inputs=1, directions=[1])],
    {"s": x.sum(1), "ys": backwards})
