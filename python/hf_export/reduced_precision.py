"""Rewrite an fp32 ONNX decoder into an fp16 or bf16 one.

This is what onnxruntime's float16 converter (onnxconverter-common) and a
`torch.onnx.export` of a `.half()` model write: every float initializer,
Constant and ConstantOfShape value in the narrow type, `Cast(to=FLOAT)` casting
to it instead, and the float graph inputs and outputs either in the narrow type
too or, with `keep_io_types`, kept in fp32 with a Cast next to them.

Values beyond the narrow type's range (the float32 minimum that causal masks
use) saturate to its largest finite value, as the torch export of a half model
has them (torch.finfo(torch.float16).min).

    from hf_export.reduced_precision import convert
    convert(onnx.load(path), "float16", keep_io_types=True)
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NARROW = {"float16": TensorProto.FLOAT16, "bfloat16": TensorProto.BFLOAT16}


def bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    nan = np.isnan(values)
    out = rounded.astype(np.uint16)
    out[nan] = 0x7FC0
    return out


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def round_to(values: np.ndarray, dtype: str) -> np.ndarray:
    """The float32 values the narrow type holds for `values` (saturating)."""
    values = np.asarray(values, dtype=np.float32)
    if dtype == "float16":
        limit = np.float32(np.finfo(np.float16).max)
        return np.clip(values, -limit, limit).astype(np.float16).astype(np.float32)
    return bfloat16_to_float32(bfloat16_bits(values))


def narrow_tensor(t: TensorProto, dtype: str) -> TensorProto:
    values = round_to(numpy_helper.to_array(t), dtype)
    if dtype == "float16":
        out = numpy_helper.from_array(values.astype(np.float16), t.name)
    else:
        out = TensorProto()
        out.name = t.name
        out.data_type = TensorProto.BFLOAT16
        out.dims.extend(values.shape)
        out.raw_data = bfloat16_bits(values).tobytes()
    return out


def convert(model: onnx.ModelProto, dtype: str, keep_io_types: bool = False) -> onnx.ModelProto:
    narrow = NARROW[dtype]
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph

    for i, init in enumerate(graph.initializer):
        if init.data_type == TensorProto.FLOAT:
            graph.initializer[i].CopyFrom(narrow_tensor(init, dtype))

    def convert_nodes(nodes):
        for node in nodes:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                    attr.t.CopyFrom(narrow_tensor(attr.t, dtype))
                if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                    attr.i = narrow
                if attr.type == onnx.AttributeProto.GRAPH:
                    convert_nodes(attr.g.node)
                    for init in attr.g.initializer:
                        if init.data_type == TensorProto.FLOAT:
                            init.CopyFrom(narrow_tensor(init, dtype))
                    for vi in list(attr.g.output) + list(attr.g.value_info):
                        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
                            vi.type.tensor_type.elem_type = narrow

    convert_nodes(graph.node)
    for vi in graph.value_info:
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = narrow

    def rename(old, new, outputs):
        """Renames `old` where nodes read it (and define it, for outputs)."""
        for node in graph.node:
            for field in ((node.output, node.input) if outputs else (node.input,)):
                for k, name in enumerate(field):
                    if name == old:
                        field[k] = new

    prologue, epilogue = [], []
    for vis, is_output in ((graph.input, False), (graph.output, True)):
        for vi in vis:
            if vi.type.tensor_type.elem_type != TensorProto.FLOAT:
                continue
            if not keep_io_types:
                vi.type.tensor_type.elem_type = narrow
                continue
            # The graph's own value keeps its fp32 name and type; a Cast
            # connects it to the narrow graph inside.
            inner = vi.name + "_" + dtype
            rename(vi.name, inner, outputs=is_output)
            if is_output:
                epilogue.append(helper.make_node("Cast", [inner], [vi.name], to=TensorProto.FLOAT,
                                                 name="cast_out_" + vi.name))
            else:
                prologue.append(helper.make_node("Cast", [vi.name], [inner], to=narrow,
                                                 name="cast_in_" + vi.name))
    nodes = prologue + list(graph.node) + epilogue
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model
