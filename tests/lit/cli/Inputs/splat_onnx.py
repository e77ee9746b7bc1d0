#!/usr/bin/python3
"""splat_onnx.py OUT: a MatMul whose 512x256 weight is ConstantOfShape(0.5),
as ONNX's "light" models make their weights: every y[i, j] is
0.5 * sum(x[i, :])."""
import sys

from onnx import TensorProto, helper, save

graph = helper.make_graph(
    [helper.make_node("Constant", [], ["shape"], value=helper.make_tensor(
        "shape", TensorProto.INT64, [2], [512, 256])),
     helper.make_node("ConstantOfShape", ["shape"], ["w"],
                      value=helper.make_tensor("v", TensorProto.FLOAT, [1],
                                               [0.5])),
     helper.make_node("MatMul", ["x", "w"], ["y"])],
    "splat",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 512])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 256])])
save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
     sys.argv[1])
