#!/usr/bin/python3
"""tiny_onnx.py OUT: writes a Gemm + Relu ONNX model whose weights are
initializers (kiln keeps them in the cache as weights.safetensors)."""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

w = numpy_helper.from_array(
    np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), "w")
b = numpy_helper.from_array(np.array([0.5, -0.25, 1.0], np.float32), "b")
graph = helper.make_graph(
    [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
     helper.make_node("Relu", ["h"], ["y"])],
    "tiny",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    [w, b])
save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
     sys.argv[1])
