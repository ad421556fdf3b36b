"""Writes variants of a Llama decoder-with-past graph whose past cache inputs
do not have the [batch, kv_heads, past_sequence_length, head_size] form the
raising binds (see cache-input-form.test): the first layer's value cache
declared with rank 3 (found by fuzz-onnx-proto-raise: the raising bound a
dynamic size and aborted), or with a dynamic head size.

Usage: make_bad_cache_inputs.py MODEL OUTDIR
"""
import sys

import onnx

source, out = sys.argv[1], sys.argv[2]


def variant(name, change):
    model = onnx.load(source)
    value = next(i for i in model.graph.input
                 if i.name == "past_key_values.0.value")
    change(value.type.tensor_type.shape.dim)
    onnx.save(model, f"{out}/{name}.onnx")


def drop_heads(dims):
    del dims[1]


def dynamic_head_size(dims):
    dims[3].Clear()
    dims[3].dim_param = "head_size"


variant("rank3", drop_heads)
variant("dynamic-head-size", dynamic_head_size)
