"""Shared by the lit tests' ONNX model writers (opsets.py, float_ops.py):
the --check mode and a one-input model writer with NumPy expectations."""
import sys

import numpy as np


def check_mode():
    """`SCRIPT --check WANT.npy GOT.npy`: exits 1 unless they agree to 1e-5
    (relative to max(1, |want|))."""
    if len(sys.argv) < 2 or sys.argv[1] != "--check":
        return
    want, got = np.load(sys.argv[2]), np.load(sys.argv[3])
    error = np.abs(want - got).max() / max(1.0, np.abs(want).max())
    print(f"shape {got.shape} max error {error:.2e}")
    sys.exit(0 if want.shape == got.shape and error <= 1e-5 else 1)


def writer(out, x):
    """A function model(name, opset, nodes, outputs, inits=()) that saves
    the graph (input "x" shaped like x, f32 outputs) as OUT/<name>.onnx and
    each expected output as OUT/<name>_<output>.npy."""
    from onnx import TensorProto, helper, numpy_helper, save
    F = TensorProto.FLOAT

    def model(name, opset, nodes, outputs, inits=()):
        graph = helper.make_graph(
            nodes, name, [helper.make_tensor_value_info("x", F, list(x.shape))],
            [helper.make_tensor_value_info(o, F, list(np.shape(v)))
             for o, v in outputs.items()],
            [numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
        proto = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", opset)])
        save(proto, f"{out}/{name}.onnx")
        for o, v in outputs.items():
            np.save(f"{out}/{name}_{o}.npy", np.asarray(v, np.float32))

    return model
