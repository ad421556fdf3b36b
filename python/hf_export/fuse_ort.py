"""Fuse a torch-exported decoder's normalizations and activations into
onnxruntime's contrib operators, as its transformer optimizer writes them
(onnxruntime.transformers.optimizer is not installed here):

    LayerNormalization fed by a residual Add  -> com.microsoft.SkipLayerNormalization
    an RMSNorm subgraph (Pow, ReduceMean, ...) -> SimplifiedLayerNormalization, or
      com.microsoft.SkipSimplifiedLayerNormalization when a residual Add feeds it
    GPT-2's GELU subgraph                      -> com.microsoft.FastGelu (tanh) / Gelu (erf)

Subgraphs are found by the exporter's name scopes (`/model/layers.N/input_layernorm/`,
`/model/h.N/mlp/`, ...), which python/flightllm_models' exports keep.

    from hf_export.fuse_ort import fuse
    fused = fuse(onnx.load(path))
"""

from __future__ import annotations

import re
from collections import defaultdict

import onnx
from onnx import helper, numpy_helper

MS = "com.microsoft"


def _scope(name: str) -> str:
    return name.rsplit("/", 1)[0] + "/" if "/" in name else ""


class _Graph:
    def __init__(self, graph: onnx.GraphProto):
        self.graph = graph
        self.nodes = list(graph.node)
        self.inits = {t.name for t in graph.initializer}
        self.outputs = {o.name for o in graph.output}

    def producer(self):
        return {o: n for n in self.nodes for o in n.output}

    def consumers(self):
        uses = defaultdict(list)
        for n in self.nodes:
            for i in n.input:
                uses[i].append(n)
        return uses

    def region_io(self, region):
        """External inputs (non-constant) and outputs of a set of nodes."""
        ids = {id(n) for n in region}
        produced = {o for n in region for o in n.output}
        inputs = []
        for n in region:
            for i in n.input:
                if i and i not in produced and i not in inputs:
                    inputs.append(i)
        uses = self.consumers()
        outputs = [o for n in region for o in n.output
                   if o in self.outputs or any(id(u) not in ids for u in uses[o])]
        return inputs, outputs

    def replace(self, region, new_nodes):
        ids = {id(n) for n in region}
        first = min(i for i, n in enumerate(self.nodes) if id(n) in ids)
        kept = [n for n in self.nodes[:first]]
        rest = [n for n in self.nodes[first:] if id(n) not in ids]
        self.nodes = kept + list(new_nodes) + rest

    def constant_value(self, name):
        for n in self.nodes:
            if n.op_type == "Constant" and n.output[0] == name:
                return numpy_helper.to_array(n.attribute[0].t)
        for t in self.graph.initializer:
            if t.name == name:
                return numpy_helper.to_array(t)
        return None

    def commit(self):
        del self.graph.node[:]
        self.graph.node.extend(self.nodes)


def _scopes(g: _Graph, pattern: str):
    groups = defaultdict(list)
    for n in g.nodes:
        if re.search(pattern, _scope(n.name)):
            groups[_scope(n.name)].append(n)
    return groups


def _residual_add(g: _Graph, x: str):
    """The residual Add defining `x` when its only other use is later code."""
    node = g.producer().get(x)
    if node is None or node.op_type != "Add" or any(i in g.inits for i in node.input):
        return None
    return node


def _fuse_rms_norms(g: _Graph) -> int:
    count = 0
    for scope, region in _scopes(g, r"(layernorm|/norm)/$").items():
        ops = {n.op_type for n in region}
        if "ReduceMean" not in ops or "LayerNormalization" in ops:
            continue
        pow_node = next(n for n in region if n.op_type in ("Pow", "Mul") and n.input[0])
        x = pow_node.input[0]
        add = next(n for n in region if n.op_type == "Add")
        eps = float(g.constant_value(add.input[1]))
        last = region[-1]
        weight = next(i for i in last.input if i in g.inits)
        out = last.output[0]
        residual = _residual_add(g, x)
        if residual is not None:
            fused = helper.make_node(
                "SkipSimplifiedLayerNormalization",
                [residual.input[0], residual.input[1], weight], [out, "", "", x],
                name=scope + "SkipSimplifiedLayerNormalization", domain=MS, epsilon=eps)
            g.replace(region + [residual], [fused])
        else:
            fused = helper.make_node(
                "SimplifiedLayerNormalization", [x, weight], [out],
                name=scope + "SimplifiedLayerNormalization", axis=-1, epsilon=eps,
                stash_type=1)
            g.replace(region, [fused])
        count += 1
    return count


def _fuse_skip_layer_norms(g: _Graph) -> int:
    count = 0
    for ln in [n for n in g.nodes if n.op_type == "LayerNormalization"]:
        residual = _residual_add(g, ln.input[0])
        if residual is None:
            continue
        eps = next((a.f for a in ln.attribute if a.name == "epsilon"), 1e-5)
        fused = helper.make_node(
            "SkipLayerNormalization",
            [residual.input[0], residual.input[1]] + list(ln.input[1:3]),
            [ln.output[0], "", "", residual.output[0]],
            name=_scope(ln.name) + "SkipLayerNormalization", domain=MS, epsilon=eps)
        g.replace([residual, ln], [fused])
        count += 1
    return count


def _fuse_gelus(g: _Graph) -> int:
    count = 0
    for scope, region in _scopes(g, r"/mlp/$").items():
        ops = {n.op_type for n in region}
        if not ({"Tanh", "Erf"} & ops):
            continue
        inputs, outputs = g.region_io(region)
        if len(inputs) != 1 or len(outputs) != 1:
            continue
        op = "FastGelu" if "Tanh" in ops else "Gelu"
        g.replace(region, [helper.make_node(op, inputs, outputs, name=scope + op, domain=MS)])
        count += 1
    return count


def fuse(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with its norms and GELUs fused; raises if nothing was."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = _Graph(model.graph)
    count = _fuse_skip_layer_norms(g)
    count += _fuse_rms_norms(g)
    count += _fuse_gelus(g)
    if not count:
        raise ValueError("nothing to fuse")
    g.commit()
    if not any(o.domain == MS for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS, 1))
    return model
