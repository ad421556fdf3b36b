#!/usr/bin/python3
"""The other ONNX forms of the fixture decoders (issue 15), end to end.

Every variant is written here from a fixture (test/fixtures/<name>/, both of
its graphs) by python/hf_export:

  fp16        weights and graph in float16, float16 inputs and outputs
              (a torch export of a .half() model)          reduced_precision
  (float16 inside with float32 inputs and outputs, onnxruntime's
  keep_io_types, is refused by the raising: its caches are f32 around an f16
  attention.)
  bf16        weights, graph and outputs in bfloat16, opset 21 (ConstantOfShape
              fills bf16 from opset 20); the prefill graph only (numpy has
              no bfloat16 for the with-past graph's cache inputs)
  op18, op21  the opset-18 / opset-21 forms (ReduceMean axes input,
              Split num_outputs)                           upgrade_opset
  fused       onnxruntime's fused operators (SkipLayerNormalization,
              SkipSimplifiedLayerNormalization, SimplifiedLayerNormalization,
              FastGelu)                                    fuse_ort

Checks per variant:
  reference  every saved case of the fixture (prefill and with past, other
             batch and lengths), inputs converted to the variant's types, run
             by onnxruntime on the variant and by `flightllm-run --case` (the
             reference interpreter on the raised program) within the
             variant's tolerance. bf16 cannot run on onnxruntime's CPU; its
             reference is onnxruntime on the fp32 graph with the weights
             rounded to bfloat16.
  built      python/hf_export/ort_builder.py's models (BUILT): a prefill and
             a with-past case against onnxruntime (a prefill-only model's
             with-past case: onnxruntime on the whole sequence, the new
             tokens' logits), the program's weight integers against the
             model's, and for one model per attention operator a
             left-padded attention_mask, which flightllm-run --case refuses
  sim        (--sim) the binary generates on the simulator bit-identically to
             the host quantized reference (`--engine=quantized`), as
             check_accelerator.py's bit-exact mode does; fp16/bf16 programs
             too (the host engine's accelerator numerics do not round to the
             program's float type: the accelerator computes them like f32
             ones and returns f32 logits).

    /usr/bin/python3 python/check_model_variants.py --build build --work /tmp/variants [--sim] [--quick]

--quick (the sanitizer build's run, docs/testing.md): every variant and every
built form still imports, raises and runs, on fewer inputs: the reference
check runs two of the five cases of each fixture (QUICK_CASES: batch 2 with
a past, a 7-token prefill; the others change shapes, not code paths), and the
simulator check runs on QUICK_SIM (every weight format and every family
once, every variant kind once on the Llama fixture): 16 of the 36.

Prints one line per check and "N passed, N failed" last; exits non-zero on a
failure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from hf_export.fuse_ort import fuse  # noqa: E402
from hf_export.ort_builder import build as build_ort, unpack_mha_qkv  # noqa: E402
from hf_export.reduced_precision import convert, round_to  # noqa: E402
from hf_export.upgrade_opset import upgrade  # noqa: E402
from ortref import OrtRunner, ort_run  # noqa: E402

# onnxruntime's optimizer rewrites a DequantizeLinear weight feeding MatMul
# into a dynamically quantized MatMul (int8 activations per tensor): that is
# its fast path, not the graph's arithmetic. The built models' references
# run the graph as written.
_unoptimized = None


def ort_run_unoptimized(model_path, feeds):
    global _unoptimized
    if _unoptimized is None:
        _unoptimized = OrtRunner(graph_opt_level="disabled")
    return _unoptimized.run(model_path, feeds)

GRAPHS = ("decoder_model.onnx", "decoder_with_past_model.onnx")

# name -> (model transform, float dtype of the graph inputs/outputs, atol)
# fp16 atol: logits of magnitude ~5 in fp16 carry ~5e-3 of rounding, and
# onnxruntime computes some fp16 ops in fp32 (its inserted casts) where the
# reference interpreter rounds every op's result.
VARIANTS = {
    "fp16": (lambda m: convert(m, "float16", keep_io_types=False), np.float16, 3e-2),
    "bf16": (lambda m: upgrade(convert(m, "bfloat16"), 21), np.float32, 2.5e-1),
    "op18": (lambda m: upgrade(m, 18), np.float32, 1e-4),
    "op21": (lambda m: upgrade(m, 21), np.float32, 1e-4),
    "fused": (fuse, np.float32, 1e-4),
}

# fixture -> variants
MATRIX = {
    "llama-op17": ["fp16", "bf16", "op18", "op21", "fused"],
    "gpt2-op17": ["fp16", "op18", "op21", "fused"],
    "opt-op17": ["fp16", "op21", "fused"],
}


# Models written by python/hf_export/ort_builder.py (onnxruntime's tools'
# forms: Llama/Phi-3 with GroupQueryAttention, GPT-2 with Attention (gpt2,
# packed caches) or MultiHeadAttention (gpt2mha)): (family, weights) ->
# reference atol. Pre-quantized models run on the reference engine with
# --dequantize-weights (onnxruntime's arithmetic: dequantized weights times
# f32 activations). fp16: the fixtures' fp16 tolerance (VARIANTS).
BUILT = {
    ("llama", "fp32"): 1e-4,
    ("phi3", "fp32"): 1e-4,
    ("llama", "qdq8"): 1e-4,
    ("phi3", "qdq8"): 1e-4,
    ("llama", "nbits4-32"): 1e-4,
    ("llama", "nbits4-128"): 1e-4,
    ("phi3", "nbits4-32"): 1e-4,
    ("phi3", "nbits4-128"): 1e-4,
    ("llama", "fp16"): 3e-2,
    ("phi3", "fp16"): 3e-2,
    ("llama", "qdq8-b32"): 1e-4,
    ("phi3", "qdq8-b32"): 1e-4,
    ("gpt2", "fp32"): 1e-4,
    ("gpt2", "qdq8"): 1e-4,
    ("gpt2mha", "fp32"): 1e-4,
    ("gpt2mha", "qdq8"): 1e-4,
    ("gpt2", "fp16"): 3e-2,
    ("gpt2mha", "fp16"): 3e-2,
    # Prefill-only exports (no past inputs) and MultiHeadAttention's packed
    # QKV, whose reference is onnxruntime on the unpacked model.
    ("gpt2-nopast", "fp32"): 1e-4,
    ("gpt2mha-nopast", "fp32"): 1e-4,
    # Exported without a cache (logits only): onnxruntime runs the same
    # model with its presents returned (the -nopast build, same weights).
    ("gpt2-nocache", "fp32"): 1e-4,
    ("gpt2mha-nocache", "fp32"): 1e-4,
    ("gpt2mha-packed", "fp32"): 1e-4,
    ("gpt2mha-packed", "qdq8"): 1e-4,
}
# Built models the simulator runs (every weight format the lowering encodes
# exactly: INT8 per channel or in groups, INT4 groups, zero points), checked
# bit-identical to the host quantized reference.
BUILT_SIM = {("llama", "fp32"), ("phi3", "fp32"), ("phi3", "qdq8"), ("gpt2", "fp32"),
             ("gpt2", "qdq8"), ("gpt2mha", "fp32"), ("gpt2mha", "qdq8"),
             ("llama", "qdq8"), ("llama", "qdq8-b32"), ("phi3", "qdq8-b32"),
             ("llama", "nbits4-32"), ("llama", "nbits4-128"), ("phi3", "nbits4-32"),
             ("phi3", "nbits4-128"), ("llama", "fp16"), ("phi3", "fp16"), ("gpt2", "fp16"),
             ("gpt2mha", "fp16"), ("gpt2-nopast", "fp32"), ("gpt2mha-nopast", "fp32"),
             ("gpt2-nocache", "fp32"), ("gpt2mha-nocache", "fp32"),
             ("gpt2mha-packed", "fp32"), ("gpt2mha-packed", "qdq8")}
# One model per attention operator: a left-padded attention_mask (which
# onnxruntime applies) is refused by flightllm-run --case, as for the
# fixtures' HF exports (test/Tools/flightllm-run/hf-exports.test).
BUILT_PADDED = {("llama", "fp32"), ("gpt2", "fp32"), ("gpt2mha", "fp32"),
                ("gpt2mha-packed", "fp32")}

# --quick's simulator checks: every variant kind (on llama-op17), every
# weight format the lowering encodes (fp32, fp16, INT8 per channel and in
# groups, INT4 groups of 32 and 128) and every family of the built models.
QUICK_SIM = {"llama-op17-fp16", "llama-op17-bf16", "llama-op17-op18", "llama-op17-op21",
             "llama-op17-fused", ("llama", "nbits4-32"), ("phi3", "nbits4-128"),
             ("phi3", "qdq8"), ("llama", "qdq8-b32"), ("gpt2", "fp16"), ("gpt2mha", "fp32"),
             ("gpt2-nopast", "fp32"), ("gpt2mha-nopast", "fp32"), ("gpt2-nocache", "fp32"),
             ("gpt2mha-nocache", "fp32"), ("gpt2mha-packed", "qdq8")}


# --quick's reference cases of a fixture: batch 2 with a past, and a
# 7-token prefill (the other three change shapes, not code paths).
QUICK_CASES = ("past_b2_p3_s2", "prefill_b1_s7")


def _cache_names(model: onnx.ModelProto):
    """(past input, present output, dims, packed) per cache of a built model:
    past_key_values.N.key/value or onnxruntime GPT-2's packed past_N, named
    after the present outputs (a prefill-only model has no past inputs)."""
    for vi in model.graph.output:
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        if vi.name.startswith("present."):
            yield vi.name.replace("present.", "past_key_values."), vi.name, dims, False
        elif vi.name.startswith("present_"):
            yield f"past_{vi.name[8:]}", vi.name, dims, True


def _split_packed(name: str, a: np.ndarray) -> dict:
    """past_N / present_N [2, B, H, T, Dh] as the compiled program's
    past_key_values.N.key/value / present.N.key/value (the importer's split)."""
    if name.startswith("past_") and not name.startswith("past_key_values."):
        base = f"past_key_values.{name[5:]}"
    elif name.startswith("present_"):
        base = f"present.{name[8:]}"
    else:
        return {name: a}
    return {base + ".key": a[0], base + ".value": a[1]}


def built_cases(model_path: Path, out: Path, dtype, ref_path: Path):
    """A prefill case (B=2, S=5) and a case with past (B=1, P=3, S=2), the
    past being onnxruntime's presents for the prefix; onnxruntime runs
    `ref_path`. A prefill-only model's case with past is its run on the
    whole sequence, the logits of the new tokens."""
    model = onnx.load(str(model_path), load_external_data=False)
    caches = list(_cache_names(onnx.load(str(ref_path), load_external_data=False)))
    inputs = {vi.name for vi in model.graph.input}
    prefill_only = not any(past in inputs for past, _, _, _ in caches)
    rng = np.random.default_rng(3)
    cases = []

    def run_ort(feeds):
        if prefill_only:
            feeds = {k: a for k, a in feeds.items() if k in inputs}
        return ort_run_unoptimized(str(ref_path), feeds)

    def empty_pasts(batch):
        pasts = {}
        for past, _, dims, packed in caches:
            shape = [2, batch] + dims[2:] if packed else [batch] + dims[1:]
            shape[-2] = 0
            pasts[past] = np.zeros(shape, dtype)
        return pasts

    def feeds_for(ids, past):
        f = {"input_ids": ids, "attention_mask": np.ones((ids.shape[0], past + ids.shape[1]),
                                                         np.int64)}
        if "position_ids" in inputs:
            f["position_ids"] = np.tile(np.arange(past, past + ids.shape[1]),
                                        (ids.shape[0], 1)).astype(np.int64)
        return f

    # (onnxruntime refuses several new tokens after a past for batch > 1.)
    for name, batch, past, seq in (("prefill_b2_s5", 2, 0, 5), ("past_b1_p3_s2", 1, 3, 2)):
        pasts = empty_pasts(batch)
        if past:
            prefix = rng.integers(0, 90, (batch, past)).astype(np.int64)
            pres = run_ort(dict(feeds_for(prefix, 0), **pasts))
            pasts = {p: pres[q] for p, q, _, _ in caches}
        ids = rng.integers(0, 90, (batch, seq)).astype(np.int64)
        feeds = feeds_for(ids, past)
        feeds.update(pasts)
        if past and prefill_only:
            outputs = run_ort(feeds_for(np.concatenate([prefix, ids], 1), 0))
            outputs["logits"] = outputs["logits"][:, past:]
        else:
            outputs = run_ort(feeds)
        case = out / "cases" / name
        (case / "inputs").mkdir(parents=True, exist_ok=True)
        (case / "outputs").mkdir(parents=True, exist_ok=True)
        meta = {"name": name, "model": model_path.name, "inputs": {}, "outputs": {}}
        for kind, tensors in (("inputs", feeds), ("outputs", outputs)):
            for k, a in tensors.items():
                if k == "attention_mask":
                    continue  # assumed all ones by the llm program
                for n, part in _split_packed(k, a).items():
                    np.save(case / kind / f"{n}.npy", part)
                    meta[kind][n] = {"shape": list(part.shape), "dtype": part.dtype.name}
        (case / "case.json").write_text(json.dumps(meta, indent=1))
        cases.append(case)
    return cases


def mlir_weights(text: str) -> dict:
    """name -> int8 codes of every integer llm.weight in an --emit=llm program
    (the parts of a fused projection, .partN, as a list in order)."""
    import re
    blobs = dict(re.findall(r'^\s*"?([\w.]+)"?: "0x([0-9A-Fa-f]+)"', text, re.M))
    found = {}
    for name, key, dims in re.findall(
            r'llm\.weight "([^"]+)" = dense_resource<"?([\w.]+)"?> : tensor<([0-9x]+)xi8>', text):
        raw = bytes.fromhex(blobs[key])[4:]  # the blob's alignment word first
        found[name] = np.frombuffer(raw, np.int8).reshape([int(d) for d in dims.split("x")])
    for name, hexdata, dims in re.findall(
            r'llm\.weight "([^"]+)" = dense<"0x([0-9A-Fa-f]+)"> : tensor<([0-9x]+)xi8>', text):
        found[name] = np.frombuffer(bytes.fromhex(hexdata), np.int8).reshape(
            [int(d) for d in dims.split("x")])
    parts = {}
    for name in sorted(found):
        base, _, index = name.rpartition(".part")
        if base and index.isdigit():
            parts.setdefault(base, []).append((int(index), found.pop(name)))
    for base, items in parts.items():
        found[base] = [a for _, a in sorted(items)]
    return found


def packed_qkv_order(model: onnx.ModelProto) -> dict:
    """codes name -> output channel order of each projection feeding a
    packed-QKV MultiHeadAttention through DequantizeLinear, MatMul and a
    Reshape to [B, S, N, 3, H]: the program splits its channels (n, j, h) as
    q, k and v, (j, n, h)."""
    producer = {o: n for n in model.graph.node for o in n.output}
    order = {}
    for n in model.graph.node:
        if n.op_type != "MultiHeadAttention" or (len(n.input) > 1 and n.input[1]):
            continue
        heads = next(a.i for a in n.attribute if a.name == "num_heads")
        matmul = producer[producer[n.input[0]].input[0]]
        deq = producer.get(matmul.input[1])
        if deq is None or deq.op_type != "DequantizeLinear":
            continue
        width = [vi for vi in model.graph.initializer if vi.name == deq.input[0]][0].dims[1]
        order[deq.input[0]] = (np.arange(width).reshape(heads, 3, width // (3 * heads))
                               .transpose(1, 0, 2).reshape(-1))
    return order


def model_codes(model: onnx.ModelProto, reorder: dict | None = None) -> dict:
    """name -> the codes of every pre-quantized weight of the model, in
    llm.linear's form (docs/compression.md): uint8 codes of a per-channel
    weight shifted by -128, blocked DequantizeLinear codes as [N, K],
    MatMulNBits codes unpacked to [N, K], minus 8 without zero points.
    `reorder`: name -> output channel order of a per-channel weight."""
    from onnx import numpy_helper
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    codes = {}
    for n in model.graph.node:
        if n.op_type == "DequantizeLinear":
            q = inits[n.input[0]]
            q = (q.astype(np.int16) - 128).astype(np.int8) if q.dtype == np.uint8 else q
            # Blocked along K (opset 21): [N, K] like MatMulNBits' codes.
            blocked = any(a.name == "block_size" and a.i for a in n.attribute)
            codes[n.input[0]] = np.ascontiguousarray(q.T) if blocked else q
            if reorder and n.input[0] in reorder and not blocked:
                codes[n.input[0]] = q[:, reorder[n.input[0]]]
        elif n.op_type == "MatMulNBits":
            b = inits[n.input[1]]
            q = np.stack([b & 15, b >> 4], -1).reshape(b.shape[0], -1).astype(np.int8)
            has_zp = len(n.input) > 3 and n.input[3]
            codes[n.input[1]] = q if has_zp else q - 8
    return codes


def codes_equal(got, want) -> bool:
    if isinstance(got, list):  # the parts of a fused projection
        return any(a.shape == want.shape and np.array_equal(a, want)
                   for a in (np.concatenate(got, axis) for axis in (0, 1)
                             if all(g.ndim == 2 for g in got)
                             and len({g.shape[1 - axis] for g in got}) == 1))
    return got.shape == want.shape and np.array_equal(got, want)


def built_checks(bin_dir: Path, work: Path, key, atol: float, sim: bool, quick: bool = False):
    family, weights = key
    out = work / f"built-{family}-{weights}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    model = build_ort(family, weights, seed=1)
    path = out / "model.onnx"
    onnx.save(model, str(path))
    ref_path = path
    if family.endswith("-packed"):  # onnxruntime's CPU kernel: unpacked only
        ref_path = out / "ref-model.onnx"
        onnx.save(unpack_mha_qkv(model), str(ref_path))
    elif family.endswith("-nocache"):  # the presents to compare with
        ref_path = out / "ref-model.onnx"
        onnx.save(build_ort(family.replace("-nocache", "-nopast"), weights, seed=1),
                  str(ref_path))
    dtype = np.float16 if weights == "fp16" else np.float32
    results = []
    if key in BUILT_PADDED:
        results.append(padded_check(bin_dir, path, ref_path, out))
    for case in built_cases(path, out, dtype, ref_path):
        label = f"{out.name} {case.name} (atol {atol:g})"
        # Pre-quantized weights: the graph's arithmetic (dequantized weights,
        # f32 activations), then the accelerator's on the simulator.
        extra = ["--dequantize-weights"] if weights not in ("fp32", "fp16") else []
        try:
            run([bin_dir / "flightllm-run", path, "--case", case, "--atol", atol] + extra,
                label)
            results.append((label, None))
        except RuntimeError as e:
            results.append((label, str(e)))
    if sim and key in BUILT_SIM and (not quick or key in QUICK_SIM):
        results += sim_check(bin_dir, out, 96, model="model.onnx")
    if weights not in ("fp32", "fp16"):
        # Without --quantize: the program's codes are the model's own.
        label = f"{out.name} the program's weight integers are the model's"
        try:
            text = run([bin_dir / "flightllm-compile", path, "--emit=llm", "-o", "-",
                        "--quiet"], label)
            got, want = mlir_weights(text), model_codes(model, packed_qkv_order(model))
            bad = [n for n, codes in want.items() if n not in got or not codes_equal(got[n], codes)]
            results.append((label, f"differ or missing: {bad}" if bad or not want else None))
        except RuntimeError as e:
            results.append((label, str(e)))
    return results


def padded_check(bin_dir: Path, path: Path, ref_path: Path, out: Path):
    """A left-padded batch (row 0's first two tokens padding): onnxruntime
    runs it, and flightllm-run --case refuses the mask, naming it."""
    label = f"{out.name} a left-padded attention_mask is refused"
    model = onnx.load(str(path), load_external_data=False)
    inputs = {vi.name for vi in model.graph.input}
    ids = np.array([[0, 0, 5, 9, 13], [4, 8, 12, 16, 20]], np.int64)
    mask = np.ones_like(ids)
    mask[0, :2] = 0
    feeds = {"input_ids": ids, "attention_mask": mask}
    if "position_ids" in inputs:
        feeds["position_ids"] = np.maximum(np.cumsum(mask, 1) - 1, 0)
    for past, _, dims, packed in _cache_names(model):
        if past in inputs:
            shape = [2, 2] + dims[2:] if packed else [2] + dims[1:]
            shape[-2] = 0
            feeds[past] = np.zeros(shape, np.float32)
    outputs = ort_run_unoptimized(str(ref_path), feeds)
    case = out / "cases" / "padded"
    (case / "inputs").mkdir(parents=True, exist_ok=True)
    (case / "outputs").mkdir(parents=True, exist_ok=True)
    meta = {"name": "padded", "model": path.name, "inputs": {}, "outputs": {}}
    for kind, tensors, keep in (("inputs", feeds, ("input_ids", "attention_mask")),
                                ("outputs", outputs, ("logits",))):
        for k in keep:
            np.save(case / kind / f"{k}.npy", tensors[k])
            meta[kind][k] = {"shape": list(tensors[k].shape), "dtype": tensors[k].dtype.name}
    (case / "case.json").write_text(json.dumps(meta, indent=1))
    p = subprocess.run([str(bin_dir / "flightllm-run"), str(path), "--case", str(case)],
                       capture_output=True, text=True)
    want = "input 'attention_mask' is tensor<2x5xi64> with other values than the program assumes"
    if p.returncode == 0 or want not in p.stderr:
        return (label, f"exit {p.returncode}: {(p.stdout + p.stderr).strip()[-800:]}")
    return (label, None)


def bf16_reference(model: onnx.ModelProto) -> onnx.ModelProto:
    """The fp32 graph with its weights rounded to bfloat16."""
    from onnx import numpy_helper
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for i, t in enumerate(model.graph.initializer):
        if t.data_type == onnx.TensorProto.FLOAT:
            model.graph.initializer[i].CopyFrom(
                numpy_helper.from_array(round_to(numpy_helper.to_array(t), "bfloat16"), t.name))
    return model


def run(args, label):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{label}: exit {p.returncode}: {(p.stdout + p.stderr).strip()[-1500:]}")
    return p.stdout


def write_variant(fixture_dir: Path, variant: str, out: Path):
    transform = VARIANTS[variant][0]
    out.mkdir(parents=True, exist_ok=True)
    for g in GRAPHS:
        src = onnx.load(str(fixture_dir / g))
        onnx.save(transform(src), str(out / g))
        if variant == "bf16":
            onnx.save(bf16_reference(src), str(out / ("ref-" + g)))


def reference_checks(bin_dir: Path, fixture_dir: Path, variant: str, out: Path,
                     quick: bool = False):
    _, io_dtype, atol = VARIANTS[variant]
    results = []
    case_dirs = sorted((fixture_dir / "ref").iterdir())
    for case_dir in [d for d in case_dirs if d.name in QUICK_CASES] if quick else case_dirs:
        meta = json.loads((case_dir / "case.json").read_text())
        graph = meta["model"]
        if variant == "bf16" and graph != GRAPHS[0]:
            continue
        case_out = out / "cases" / case_dir.name
        (case_out / "inputs").mkdir(parents=True, exist_ok=True)
        (case_out / "outputs").mkdir(parents=True, exist_ok=True)
        feeds = {}
        for name in meta["inputs"]:
            a = np.load(case_dir / "inputs" / f"{name}.npy")
            if a.dtype == np.float32:
                a = a.astype(io_dtype)
                meta["inputs"][name]["dtype"] = np.dtype(io_dtype).name
            feeds[name] = a
            np.save(case_out / "inputs" / f"{name}.npy", a)
        ort_model = out / (("ref-" if variant == "bf16" else "") + graph)
        outputs = ort_run(str(ort_model), feeds)
        for name in meta["outputs"]:
            a = outputs[name]
            if a.dtype == np.float32:
                a = a.astype(io_dtype)
            # bf16 outputs are compared with the f32 reference's values.
            meta["outputs"][name]["dtype"] = a.dtype.name
            np.save(case_out / "outputs" / f"{name}.npy", a)
        (case_out / "case.json").write_text(json.dumps(meta, indent=1))
        label = f"{out.name} {graph} {case_dir.name} (atol {atol:g})"
        try:
            run([bin_dir / "flightllm-run", out / graph, "--case", case_out, "--atol", atol],
                label)
            results.append((label, None))
        except RuntimeError as e:
            results.append((label, str(e)))
    return results


def sim_check(bin_dir: Path, out: Path, vocab: int, model: str = "decoder_model.onnx"):
    model = out / model
    flb, mlir = out / "model.flb", out / "quantized.mlir"
    label = f"{out.name} simulator vs quantized reference"
    try:
        run([bin_dir / "flightllm-compile", model, "-o", flb, "--quiet"], label)
        run([bin_dir / "flightllm-compile", model, "--emit=llm", "--quantize=w8a8", "-o", mlir],
            label)
        prompt = ",".join(str((7 * i + 3) % vocab) for i in range(5))
        reports = []
        for m, engine, logits in ((flb, None, out / "sim.npy"),
                                  (mlir, "quantized", out / "quantized.npy")):
            args = [bin_dir / "flightllm-run", m, "--tokens", prompt, "--max-new-tokens", 8,
                    "--json", "--dump-logits", logits]
            if engine:
                args.append(f"--engine={engine}")
            reports.append((json.loads(run(args, label)), np.load(logits)))
        (sim, ls), (qnt, lq) = reports
        if sim["generated_tokens"] != qnt["generated_tokens"] or len(sim["generated_tokens"]) != 8:
            return [(label, f"tokens differ: {sim['generated_tokens']} vs {qnt['generated_tokens']}")]
        if ls.shape != lq.shape or not np.array_equal(ls, lq):
            return [(label, "logits differ")]
        return [(label, None)]
    except RuntimeError as e:
        return [(label, str(e))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", type=Path, default=HERE.parent / "build")
    ap.add_argument("--fixtures", type=Path, default=HERE.parent / "test" / "fixtures")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--sim", action="store_true", help="also the simulator check")
    ap.add_argument("--only", nargs="*", help="fixture-variant names")
    ap.add_argument("--quick", action="store_true",
                    help="fewer cases and simulator checks, every variant (sanitizer builds)")
    args = ap.parse_args()
    bin_dir = args.build / "bin"
    results = []
    for fixture, variants in MATRIX.items():
        for variant in variants:
            name = f"{fixture}-{variant}"
            if args.only and name not in args.only:
                continue
            out = args.work / name
            shutil.rmtree(out, ignore_errors=True)
            write_variant(args.fixtures / fixture, variant, out)
            results += reference_checks(bin_dir, args.fixtures / fixture, variant, out,
                                        args.quick)
            if args.sim and (not args.quick or name in QUICK_SIM):
                vocab = onnx.load(str(out / "decoder_model.onnx")).graph.output[0] \
                    .type.tensor_type.shape.dim[-1].dim_value
                results += sim_check(bin_dir, out, vocab)
    for key, atol in BUILT.items():
        name = "built-" + "-".join(key)
        if args.only and name not in args.only:
            continue
        results += built_checks(bin_dir, args.work, key, atol, args.sim, args.quick)
    failed = 0
    for label, error in results:
        print(("PASS " if error is None else "FAIL ") + label)
        if error:
            failed += 1
            print("  " + error.replace("\n", "\n  "))
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
