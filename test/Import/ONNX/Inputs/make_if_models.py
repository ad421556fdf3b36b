"""Writes small decoder graphs with If nodes, spelled as torch and optimum
write them, for the importer and raising tests.

  shape-if.onnx     an If on a shape test, as torch writes squeeze(d) of a
                    dimension it cannot prove to be 1 (If(Shape(x)[d] == 1,
                    Squeeze, Identity)); the condition is fixed by the shapes
  sizes-if.onnx     an If whose branch depends on the number of new tokens
  merged.onnx       optimum's decoder_model_merged.onnx: one If on the input
                    use_cache_branch between a decoder with past (then) and one
                    without (else); the else branch reads input_ids only

Usage: make_if_models.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
F, I64 = TensorProto.FLOAT, TensorProto.INT64


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def io(with_past):
    inputs = [helper.make_tensor_value_info("input_ids", I64, ["B", "S"])]
    if with_past:
        inputs += [helper.make_tensor_value_info(f"past_key_values.0.{kv}", F, ["B", 1, "P", 2])
                   for kv in ("key", "value")]
    outputs = [helper.make_tensor_value_info("logits", F, ["B", "S", 2])]
    outputs += [helper.make_tensor_value_info(f"present.0.{kv}", F, ["B", 1, None, 2])
                for kv in ("key", "value")]
    return inputs, outputs


def save(name, nodes, inits, inputs, outputs):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)],
                          producer_name="flightllm-test")
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, name))
    return m


def branch(name, nodes, inputs, outputs, inits=()):
    return helper.make_graph(nodes, name, inputs, outputs, list(inits))


table = rng.standard_normal((5, 2)).astype(np.float32)  # [V, D]


def shape_if_model(name, dim, expected):
    """logits = table[input_ids] through an If on Shape(x)[dim] == expected
    (then the table, else its negation); the caches pass through."""
    inputs, outputs = io(True)
    nodes = [
        helper.make_node("Shape", ["table"], ["tshape"], name="/Shape"),
        helper.make_node("Shape", ["input_ids"], ["ishape"], name="/Shape_ids"),
        helper.make_node("Gather", ["tshape" if dim == "table" else "ishape", "idx"], ["d"],
                         axis=0, name="/Gather"),
        helper.make_node("Equal", ["d", "expected"], ["cond"], name="/Equal"),
        helper.make_node("If", ["cond"], ["squeezed"], name="/If",
                         then_branch=branch("then", [helper.make_node(
                             "Identity", ["table"], ["sq"], name="/Identity")],
                             [], [helper.make_tensor_value_info("sq", F, None)]),
                         else_branch=branch("else", [helper.make_node(
                             "Neg", ["table"], ["ng"], name="/Neg")],
                             [], [helper.make_tensor_value_info("ng", F, None)])),
        helper.make_node("Gather", ["squeezed", "input_ids"], ["logits"], axis=0,
                         name="/Embed"),
        helper.make_node("Identity", ["past_key_values.0.key"], ["present.0.key"]),
        helper.make_node("Identity", ["past_key_values.0.value"], ["present.0.value"]),
    ]
    inits = [const("table", table), const("idx", np.array(0 if dim == "table" else 1, np.int64)),
             const("expected", np.array(expected, np.int64))]
    save(name, nodes, inits, inputs, outputs)


shape_if_model("shape-if.onnx", "table", 5)
shape_if_model("sizes-if.onnx", "ids", 1)


def decoder(with_past, suffix):
    """A one-layer decoder without attention: logits = emb[input_ids] @ W; the
    present caches are the past ones (with past) or zero-length ones."""
    inputs, outputs = io(with_past)
    nodes = [helper.make_node("Gather", ["emb", "input_ids"], ["x" + suffix], axis=0),
             helper.make_node("MatMul", ["x" + suffix, "w"], ["logits"])]
    if with_past:
        nodes += [helper.make_node("Identity", [f"past_key_values.0.{kv}"], [f"present.0.{kv}"])
                  for kv in ("key", "value")]
    else:
        nodes += [helper.make_node("Shape", ["input_ids"], ["b" + suffix], start=0, end=1),
                  helper.make_node("Concat", ["b" + suffix, "cache_dims"], ["cshape" + suffix], axis=0)]
        nodes += [helper.make_node("ConstantOfShape", ["cshape" + suffix], [f"present.0.{kv}"],
                                   value=helper.make_tensor("zero", F, [1], [0.0]))
                  for kv in ("key", "value")]
    return inputs, outputs, nodes


emb = const("emb", rng.standard_normal((5, 3)).astype(np.float32))
w = const("w", rng.standard_normal((3, 2)).astype(np.float32))
cache_dims = const("cache_dims", np.array([1, 0, 2], np.int64))
then_in, then_out, then_nodes = decoder(True, "_past")
else_in, else_out, else_nodes = decoder(False, "_nopast")
merged_nodes = [helper.make_node(
    "If", ["use_cache_branch"], [o.name for o in then_out], name="optimum::if",
    then_branch=branch("with_past", then_nodes, [], then_out),
    else_branch=branch("no_past", else_nodes, [], else_out, [cache_dims]))]
save("merged.onnx", merged_nodes, [emb, w],
     then_in + [helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1])],
     then_out)
