"""Writes OUT.onnx: y = x @ w where the initializer w is declared as
float[1048576, 1024] (4 GiB) in external data 'w.bin', which is not written:
a memory budget must refuse it before anything looks at the data."""
import sys

import onnx
from onnx import TensorProto, helper

w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1048576, 1024],
                data_location=TensorProto.EXTERNAL)
w.external_data.add(key="location", value="w.bin")
graph = helper.make_graph(
    [helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")], "huge",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1048576])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1024])], [w])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.save(model, sys.argv[1])
