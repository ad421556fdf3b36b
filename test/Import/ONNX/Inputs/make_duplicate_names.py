"""Writes models that define a name twice (see duplicate-names.test)."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]


def save(name, nodes, inputs=("X",), inits=(), outputs=("Y",)):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in outputs],
        [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    with open(f"{out}/{name}.onnx", "wb") as f:
        f.write(model.SerializeToString())


add = helper.make_node("Add", ["X", "w"], ["Y"], name="add")
save("two-initializers", [add], inits=[("w", [1, 2]), ("w", [3, 4])])
save("output-shadows-initializer",
     [helper.make_node("Relu", ["X"], ["w"], name="redefining"), add],
     inits=[("w", [1, 2])])
save("output-shadows-input",
     [helper.make_node("Relu", ["X"], ["X"], name="redefining"),
      helper.make_node("Neg", ["X"], ["Y"], name="neg")])
save("two-outputs",
     [helper.make_node("Neg", ["X"], ["T"], name="first"),
      helper.make_node("Relu", ["X"], ["T"], name="second"),
      helper.make_node("Neg", ["T"], ["Y"], name="neg")])
save("two-inputs", [add], inputs=("X", "X"), inits=[("w", [1, 2])])
save("initializer-as-input", [add], inputs=("X", "w"), inits=[("w", [1, 2])])
