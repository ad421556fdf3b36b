"""Writes small binary ONNX models (good and broken) for the importer tests.

Usage: make_binary_models.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)


def model(nodes, inits, opset=17, outputs=None):
    g = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 64])],
        outputs or [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                             producer_name="flightllm-test")


W = numpy_helper.from_array(rng.random((64, 64), dtype=np.float32), "layer0.weight")
b = numpy_helper.from_array(np.arange(64, dtype=np.float32), "layer0.bias")
nodes = [helper.make_node("MatMul", ["X", "layer0.weight"], ["T"], name="/layer0/MatMul"),
         helper.make_node("Add", ["T", "layer0.bias"], ["U"], name="/layer0/Add"),
         helper.make_node("Relu", ["U"], ["Y"], name="/layer0/Relu")]
good = model(nodes, [W, b])
onnx.save(good, os.path.join(out, "good.onnx"))

data = open(os.path.join(out, "good.onnx"), "rb").read()
open(os.path.join(out, "truncated.onnx"), "wb").write(data[: len(data) // 2])
open(os.path.join(out, "garbage.onnx"), "wb").write(b"\xff" * 64)

def fresh():
    # onnx.save(save_as_external_data=True) moves the data out of the proto.
    return onnx.load(os.path.join(out, "good.onnx"))


# Weights in an external file; and the same with the file missing or short.
os.makedirs(os.path.join(out, "ext"), exist_ok=True)
onnx.save(fresh(), os.path.join(out, "ext", "model.onnx"), save_as_external_data=True,
          all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
os.makedirs(os.path.join(out, "ext-missing"), exist_ok=True)
onnx.save(fresh(), os.path.join(out, "ext-missing", "model.onnx"), save_as_external_data=True,
          all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
os.remove(os.path.join(out, "ext-missing", "weights.bin"))
os.makedirs(os.path.join(out, "ext-short"), exist_ok=True)
onnx.save(fresh(), os.path.join(out, "ext-short", "model.onnx"), save_as_external_data=True,
          all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
with open(os.path.join(out, "ext-short", "weights.bin"), "r+b") as f:
    f.truncate(1000)

# Escaping the model directory is refused.
esc = onnx.load(os.path.join(out, "ext", "model.onnx"), load_external_data=False)
for t in esc.graph.initializer:
    for kv in t.external_data:
        if kv.key == "location":
            kv.value = "../ext/weights.bin"
onnx.save(esc, os.path.join(out, "ext", "escape.onnx"))

# Raw data of the wrong size.
bad = onnx.load(os.path.join(out, "good.onnx"))
bad.graph.initializer[1].raw_data = bad.graph.initializer[1].raw_data[:100]
onnx.save(bad, os.path.join(out, "bad-raw.onnx"))

# A string tensor has no counterpart in the dialect.
s = helper.make_tensor("names", TensorProto.STRING, [1], [b"a"])
onnx.save(model([helper.make_node("Identity", ["X"], ["Y"], name="/id")], [s]),
          os.path.join(out, "string.onnx"))

# An opset-21 int4 weight (TensorProto type 22, which the onnx 1.12 package
# cannot write: its int8 tensor is patched to that type in the bytes).
w4 = helper.make_tensor("W4", TensorProto.INT8, [64, 2], [1] * 128)
w4_bytes = w4.SerializeToString()
int4 = model([helper.make_node("DequantizeLinear", ["W4", "s4"], ["D"], name="/dq4", axis=1),
              helper.make_node("MatMul", ["X", "D"], ["Y"], name="/mm4")],
             [w4, numpy_helper.from_array(np.ones(2, np.float32), "s4")], opset=21)
patched = w4_bytes.replace(b"\x10\x03", b"\x10\x16", 1)
assert len(patched) == len(w4_bytes) and patched != w4_bytes
with open(os.path.join(out, "int4.onnx"), "wb") as f:
    f.write(int4.SerializeToString().replace(w4_bytes, patched, 1))
