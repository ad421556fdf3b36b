"""Rewrite an opset-13..17 ONNX decoder into opset 18..21, as a newer exporter
writes it (onnx 1.12's version converter stops at 17).

What changes for the operators the decoders use: ReduceMean (and the other
Reduce* but ReduceSum) take their axes as an input from 18; Split without a
`split` input names its chunks with `num_outputs` from 18. The other changes
in 18-21 only add element types. The IR version follows the opset.

    from hf_export.upgrade_opset import upgrade
    upgrade(onnx.load(path), 18)
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

IR_VERSION = {18: 8, 19: 9, 20: 9, 21: 10}
REDUCE_AXES_INPUT = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                     "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}


def _upgrade_nodes(nodes, initializers):
    for node in nodes:
        if node.domain not in ("", "ai.onnx"):
            continue
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                _upgrade_nodes(attr.g.node, attr.g.initializer)
        if node.op_type in REDUCE_AXES_INPUT:
            axes = [a for a in node.attribute if a.name == "axes"]
            if axes:
                name = (node.name or node.output[0]) + "/axes"
                initializers.append(numpy_helper.from_array(
                    np.array(list(axes[0].ints), dtype=np.int64), name))
                node.attribute.remove(axes[0])
                node.input.append(name)
        elif node.op_type == "Split":
            if len(node.input) < 2 or not node.input[1]:
                node.attribute.append(helper.make_attribute("num_outputs", len(node.output)))


def upgrade(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    if opset not in IR_VERSION:
        raise ValueError(f"opset {opset}: 18 to 21")
    model = onnx.ModelProto.FromString(model.SerializeToString())
    _upgrade_nodes(model.graph.node, model.graph.initializer)
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            imp.version = opset
    model.ir_version = IR_VERSION[opset]
    return model
