"""Writes a deep, narrow Llama decoder-with-past graph (python/gen_large_model.py
at tiny widths) for tests of the raising's cost in depth, optionally with one
Range node's delta replaced by zero (an ONNX error the raising must report at
the node instead of re-exploring the failing shape arithmetic per user).

Usage: gen_deep_model.py OUTDIR LAYERS [--range-delta-zero NODE]
"""
import argparse
import re
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

root = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(root / "python"))
import gen_large_model  # noqa: E402



def merge_heads(self, scope, x):
    """HF's `reshape(bsz, q_len, hidden)` with bsz, q_len read off the shape:
    the Reshape's target is computed from its own input's shape."""
    g = self.g
    t = g.op(scope, "Transpose", [x], perm=[0, 2, 1, 3])
    lead = g.op(scope, "Slice", [g.op(scope, "Shape", [t]), g.const([0]), g.const([2])])
    return g.op(scope, "Reshape", [t, g.op(scope, "Concat", [lead, g.const([self.H])], axis=0)])


gen_large_model.Builder.merge_heads = merge_heads
ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("layers", type=int)
ap.add_argument("--family", choices=("llama", "opt"), default="llama")
ap.add_argument("--range-delta-zero", metavar="NODE")
args = ap.parse_args()
gen_large_model.generate(gen_large_model.parse_args([
    "--family", args.family, "--layers", str(args.layers), "--hidden", "16", "--heads", "2",
    "--ffn", "16", "--vocab", "16", "--max-positions", "32",
    "--with-past", "--quiet", "--out", args.out]))
for name in (gen_large_model.PREFILL_FILE, gen_large_model.WITH_PAST_FILE):
    path = Path(args.out) / name
    model = onnx.load(str(path), load_external_data=False)
    # HF's `attn_output + residual` order: the residual stream is the second
    # operand of each layer's adds.
    for node in model.graph.node:
        if re.fullmatch(r"/layers\.\d+/Add(_1)?", node.name):
            node.input[0], node.input[1] = node.input[1], node.input[0]
    if args.range_delta_zero and name == gen_large_model.WITH_PAST_FILE:
        node = next(n for n in model.graph.node if n.name == args.range_delta_zero)
        assert node.op_type == "Range", node.op_type
        model.graph.initializer.append(
            numpy_helper.from_array(np.array(0, np.int64), "zero_delta"))
        node.input[2] = "zero_delta"
    onnx.save(model, str(path))
