"""Writes variants of a GPT-2 graph whose shape plumbing around the first
Conv1D Gemm is wrong, so that onnxruntime cannot run them (see
plumbing-errors.test): the Reshape before the Gemm flattens to [-7] or to
[2^40, 2^40], or the Gemm's operands are swapped.

Usage: make_bad_plumbing.py MODEL OUTDIR
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

source, out = sys.argv[1], sys.argv[2]


def variant(name, change):
    model = onnx.load(source)
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    gemm = next(n for n in graph.node if n.op_type == "Gemm")
    change(graph, gemm, producer[gemm.input[0]])
    onnx.save(model, f"{out}/{name}.onnx")


def reshape_to(target):
    """The target is a Concat of one-element constants, as exporters write
    it: ONNX's shape inference does not see its values."""
    def change(graph, gemm, reshape):
        parts = []
        for i, d in enumerate(target):
            parts.append(f"bad_target_{i}")
            graph.initializer.append(numpy_helper.from_array(np.array([d], np.int64), parts[-1]))
        graph.node.insert(0, onnx.helper.make_node("Concat", parts, ["bad_target"], axis=0,
                                                   name="bad_target"))
        reshape.input[1] = "bad_target"
    return change


def swap(graph, gemm, reshape):
    gemm.input[0], gemm.input[1] = gemm.input[1], gemm.input[0]


variant("reshape-minus7", reshape_to([-7]))
variant("reshape-huge", reshape_to([2**40, 2**40]))
variant("gemm-swapped", swap)
