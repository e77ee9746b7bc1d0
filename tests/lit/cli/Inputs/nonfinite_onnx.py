#!/usr/bin/python3
"""nonfinite_onnx.py OUT: y = min(max(x, s), k) over 2x3, with s a
ConstantOfShape of -inf and k a constant holding -inf and +inf: constants
that JSON has no numbers for. For x = arange(6): [[-inf, 1, 2], [3, 4, 5]]."""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

k = numpy_helper.from_array(
    np.array([[-np.inf, 1, 2], [3, np.inf, 5]], np.float32), "k")
graph = helper.make_graph(
    [helper.make_node("Constant", [], ["shape"], value=helper.make_tensor(
        "shape", TensorProto.INT64, [2], [2, 3])),
     helper.make_node("ConstantOfShape", ["shape"], ["s"],
                      value=helper.make_tensor("v", TensorProto.FLOAT, [1],
                                               [-np.inf])),
     helper.make_node("Constant", [], ["k"], value=k),
     helper.make_node("Max", ["x", "s"], ["a"]),
     helper.make_node("Min", ["a", "k"], ["y"])],
    "nonfinite",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
     sys.argv[1])
