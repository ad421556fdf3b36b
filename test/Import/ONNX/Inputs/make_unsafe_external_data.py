"""Writes models whose external data the importer must refuse: locations that
leave the model's directory (by `..`, an absolute path or a symbolic link),
files that are not regular files (a FIFO, a directory, a device through a
link), and declared sizes or ranges that do not fit the file.

Usage: make_unsafe_external_data.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
model_dir = os.path.join(out, "model")
outside_dir = os.path.join(out, "outside")
os.makedirs(model_dir, exist_ok=True)
os.makedirs(outside_dir, exist_ok=True)

weights = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
raw = weights.tobytes()
with open(os.path.join(model_dir, "weights.bin"), "wb") as f:
    f.write(raw)
with open(os.path.join(outside_dir, "secret.bin"), "wb") as f:
    f.write(raw)


def save(name, location, dims=(64, 64), offset=None, length=None):
    """A MatMul model whose weight 'W' is external data at `location`."""
    w = numpy_helper.from_array(weights, "W")
    w.ClearField("raw_data")
    del w.dims[:]
    w.dims.extend(dims)
    w.data_location = TensorProto.EXTERNAL
    entries = [("location", location)]
    if offset is not None:
        entries.append(("offset", offset))
    if length is not None:
        entries.append(("length", length))
    for key, value in entries:
        kv = w.external_data.add()
        kv.key = key
        kv.value = value
    g = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"], name="/MatMul")], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with open(os.path.join(model_dir, name), "wb") as f:
        f.write(m.SerializeToString())


save("good.onnx", "weights.bin")
# A name with ".." inside one component is an ordinary file name.
os.link(os.path.join(model_dir, "weights.bin"),
        os.path.join(model_dir, "w..1.bin"))
save("dots-in-name.onnx", "w..1.bin")
save("parent.onnx", "../outside/secret.bin")
save("inner-parent.onnx", "sub/../../outside/secret.bin")
save("absolute.onnx", os.path.abspath(os.path.join(outside_dir, "secret.bin")))
os.symlink(os.path.join("..", "outside", "secret.bin"),
           os.path.join(model_dir, "escape-link.bin"))
save("symlink-escape.onnx", "escape-link.bin")
# A sibling directory whose name starts with the model directory's name is
# still outside it.
os.makedirs(os.path.join(out, "model-evil"), exist_ok=True)
with open(os.path.join(out, "model-evil", "secret.bin"), "wb") as f:
    f.write(raw)
os.symlink(os.path.join("..", "model-evil", "secret.bin"),
           os.path.join(model_dir, "sibling.bin"))
save("sibling-escape.onnx", "sibling.bin")
# A directory link on the way out counts too.
os.symlink(os.path.join("..", "outside"), os.path.join(model_dir, "linked-dir"))
save("dir-link-escape.onnx", "linked-dir/secret.bin")
os.makedirs(os.path.join(model_dir, "sub"), exist_ok=True)
os.symlink(os.path.join("..", "weights.bin"),
           os.path.join(model_dir, "sub", "inside-link.bin"))
save("symlink-inside.onnx", "sub/inside-link.bin")
os.symlink("/dev/zero", os.path.join(model_dir, "zero.bin"))
save("dev-zero.onnx", "zero.bin")
os.mkfifo(os.path.join(model_dir, "fifo.bin"))
save("fifo.onnx", "fifo.bin")
save("directory.onnx", "sub")
# 2^40 x 64 floats: far beyond the file, checked before anything is mapped.
save("huge-dims.onnx", "weights.bin", dims=(1 << 40, 64))
save("huge-length.onnx", "weights.bin", dims=(1 << 40, 64),
     length=str((1 << 40) * 64 * 4))
save("overflow-offset.onnx", "weights.bin", offset=str(2**64 - 16),
     length=str(64 * 64 * 4))
save("negative-offset.onnx", "weights.bin", offset="-1")
save("past-end.onnx", "weights.bin", offset="4", length=str(64 * 64 * 4))
