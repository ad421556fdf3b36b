#!/usr/bin/env python3
"""Regenerates the fuzzers' seed corpora (fuzz/corpus/TARGET) and
dictionaries (fuzz/dict) from the test fixtures.

    /usr/bin/python3 fuzz/make_corpus.py --build build

--build is a normal build of the tools: the .flb seeds are compiled with its
flightllm-compile. The seeds are small on purpose (tiny models with 1 layer and
hidden size 8, tokenizers cut to 300 tokens): a fuzzer's speed is runs per
second, and small seeds reach the same code. Every file is named by the
SHA-1 of its content, as libFuzzer names what it adds; the inputs that
crashed a target once are kept as corpus/TARGET/regression-WHAT (the
fuzz-TARGET-replay tests of the sanitizer build run every file once).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "python"))

import onnx  # noqa: E402
import onnx.parser  # noqa: E402
import torch  # noqa: E402

from flightllm_models import DecoderConfig, build_model, init_random_weights  # noqa: E402
from flightllm_models.export import compact_names, export_decoder  # noqa: E402

# The text models of the lit tests (the error cases included: a refused input
# is a seed too).
ONNXTXT = sorted(p for p in ROOT.glob("test/**/*.onnxtxt"))

# Tiny decoders, one per family and mask style: every raiser sees its pattern.
TINY = [
    ("gpt2", 13, dict(mask_style="buffer", mask_apply="where", activation="gelu_new")),
    ("gpt2", 17, dict(mask_style="trilu", mask_apply="add", activation="gelu")),
    ("opt", 15, dict(mask_style="range", mask_apply="where")),
    ("llama", 14, dict(mask_style="trilu", mask_apply="add")),
    ("llama", 17, dict(mask_style="range", mask_apply="add", num_kv_heads=1)),
]


def put(dirpath: Path, data: bytes) -> None:
    dirpath.mkdir(parents=True, exist_ok=True)
    (dirpath / hashlib.sha1(data).hexdigest()).write_bytes(data)


def tiny_models(work: Path) -> list[Path]:
    paths = []
    for family, opset, kw in TINY:
        config = DecoderConfig(family=family, vocab_size=16, hidden_size=8, num_layers=1,
                               num_heads=2, intermediate_size=12, max_positions=16, **kw)
        torch.manual_seed(opset)
        model = init_random_weights(build_model(config), opset).eval()
        for with_past in (False, True):
            path = work / f"{family}-op{opset}-{'past' if with_past else 'prefill'}.onnx"
            m = export_decoder(model, path, opset, with_past, batch=1, seq_len=3, past_len=2)
            if opset < 17:  # as the fixtures: both naming styles, smaller files
                onnx.save(compact_names(m), str(path))
            paths.append(path)
    return paths


def onnx_seeds(corpus: Path, work: Path) -> list[Path]:
    models = tiny_models(work)
    for path in models:
        put(corpus / "onnx-proto-raise", path.read_bytes())
    for txt in ONNXTXT:
        text = txt.read_text()
        if len(text) < 16384:
            put(corpus / "onnx-text", text.encode())
        try:
            model = onnx.parser.parse_model(text)
        except Exception:  # noqa: BLE001 - the error-case models do not parse
            continue
        put(corpus / "onnx-proto-raise", model.SerializeToString())
    return models


def external_data_seeds(corpus: Path, models: list[Path], work: Path) -> None:
    """[u32 model size][model][model.onnx.data], every initializer external."""
    for path in models[::2] + models[1:2]:
        m = onnx.load(str(path))
        out = work / "ext" / "model.onnx"
        out.parent.mkdir(exist_ok=True)
        data = out.parent / "model.onnx.data"
        if data.exists():
            data.unlink()
        onnx.save(m, str(out), save_as_external_data=True, all_tensors_to_one_file=True,
                  location="model.onnx.data", size_threshold=0, convert_attribute=False)
        model_bytes = out.read_bytes()
        put(corpus / "onnx-external-data",
            struct.pack("<I", len(model_bytes)) + model_bytes + data.read_bytes())
    # The locations issue 17 found hanging or aborting the import, and the
    # ones that leave the directory: each must be refused with an error.
    for name, location in (("fifo", "fifo.data"), ("dev-zero", "/dev/zero"),
                           ("parent", "../secret.data"), ("symlink", "outside.data"),
                           ("subdir", "sub/model.onnx.data")):
        m = onnx.load(str(out), load_external_data=False)
        for t in m.graph.initializer:
            for kv in t.external_data:
                if kv.key == "location":
                    kv.value = location
        model_bytes = m.SerializeToString()
        (corpus / "onnx-external-data" / f"regression-issue17-{name}").write_bytes(
            struct.pack("<I", len(model_bytes)) + model_bytes + data.read_bytes())


def flb_seeds(corpus: Path, models: list[Path], build: Path, work: Path) -> None:
    compiler = build / "bin" / "flightllm-compile"
    for path in models:
        if path.stem not in ("gpt2-op13-prefill", "opt-op15-prefill", "llama-op17-prefill"):
            continue  # one per family
        out = work / (path.stem + ".flb")
        # One HBM channel (fuzz/flb-target.json) and a short context: 87 KB
        # binaries, where a u280 binary of the same model has 640 KB.
        r = subprocess.run([str(compiler), str(path), "-o", str(out), "--quiet",
                            "--calibration=none", "--max-context=16",
                            f"--target={HERE / 'flb-target.json'}"],
                           capture_output=True, text=True)
        if r.returncode:
            print(f"warning: {path.name} does not compile: {r.stderr.strip()}", file=sys.stderr)
            continue
        put(corpus / "flb-runtime", out.read_bytes())


def target_seeds(corpus: Path) -> None:
    for path in sorted(ROOT.glob("targets/*.json")) + sorted(ROOT.glob("test/**/Inputs/tiny-*.json")):
        put(corpus / "target-json", path.read_bytes())


def shrink_tokenizer(doc: dict, keep: int) -> dict:
    """The first `keep` vocabulary entries, the merges among them, the added
    tokens renumbered after them (and the post-processor's ids with them)."""
    model = doc["model"]
    vocab = {t: i for t, i in model["vocab"].items() if i < keep}
    merges = []
    for m in model.get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
    model["vocab"], model["merges"] = vocab, merges
    renumber = {}
    for n, tok in enumerate(doc.get("added_tokens", [])):
        if tok["id"] >= keep:
            renumber[tok["id"]] = keep + n
            tok["id"] = keep + n

    def fix(node):
        if isinstance(node, dict):
            if isinstance(node.get("ids"), list):
                node["ids"] = [renumber.get(i, i) for i in node["ids"]]
            for v in node.values():
                fix(v)
        elif isinstance(node, list):
            for v in node:
                fix(v)
    fix(doc.get("post_processor"))
    return doc


def tokenizer_seeds(corpus: Path) -> None:
    data = ROOT / "test" / "unit" / "Tokenizer"
    bases = {n: json.load(gzip.open(data / f"{n}.tokenizer.json.gz")) for n in ("gpt2", "mistral")}
    text = "Hello world! It's 2026: naïve café, 東京, emoji \U0001F600 and\ttabs\n\nnew lines  ".encode()
    for overlay in sorted(data.glob("*.overlay.json")):
        o = json.loads(overlay.read_text())
        doc = json.loads(json.dumps(bases[o["base"]]))
        for k, v in o.get("replace", {}).items():
            doc[k] = v
        for k, v in o.get("model", {}).items():
            doc["model"][k] = v
        doc = shrink_tokenizer(doc, 300)
        put(corpus / "tokenizer-json", json.dumps(doc, ensure_ascii=False).encode() + b"\0" + text)
    small = ROOT / "test" / "Tools" / "flightllm-compile" / "Inputs" / "export-dir" / "tokenizer.json"
    put(corpus / "tokenizer-json", small.read_bytes() + b"\0" + text)


# --- dictionaries ----------------------------------------------------------

def quoted(data: bytes) -> str:
    return '"' + "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else f"\\x{c:02x}"
                         for c in data) + '"'


def varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def onnx_dict() -> list[str]:
    """Every field tag of the messages a model holds (with each wire type the
    field can take), the op types the raisers look for, external-data keys."""
    lines = []
    messages = [onnx.ModelProto, onnx.GraphProto, onnx.NodeProto, onnx.TensorProto,
                onnx.AttributeProto, onnx.ValueInfoProto, onnx.TypeProto,
                onnx.TypeProto.Tensor, onnx.TensorShapeProto, onnx.TensorShapeProto.Dimension,
                onnx.OperatorSetIdProto, onnx.StringStringEntryProto]
    fd = onnx.ModelProto.DESCRIPTOR.fields[0]
    for msg in messages:
        d = msg.DESCRIPTOR
        for f in d.fields:
            if f.type in (fd.TYPE_STRING, fd.TYPE_BYTES, fd.TYPE_MESSAGE):
                wires = [2]
            elif f.type in (fd.TYPE_FLOAT, fd.TYPE_FIXED32):
                wires = [5] + ([2] if f.label == fd.LABEL_REPEATED else [])
            elif f.type in (fd.TYPE_DOUBLE, fd.TYPE_FIXED64):
                wires = [1] + ([2] if f.label == fd.LABEL_REPEATED else [])
            else:
                wires = [0] + ([2] if f.label == fd.LABEL_REPEATED else [])
            for w in wires:
                lines.append(f"# {d.name}.{f.name} = {f.number}, wire type {w}")
                lines.append(f"{d.name}_{f.name}_w{w}={quoted(varint(f.number << 3 | w))}")
    ops = ["Gather", "MatMul", "Gemm", "Add", "Mul", "Sub", "Div", "Pow", "Sqrt", "Reshape",
           "Transpose", "Concat", "Slice", "Shape", "Unsqueeze", "Squeeze", "Softmax", "Where",
           "Range", "Trilu", "ConstantOfShape", "Constant", "Expand", "Cast", "Equal", "Less",
           "ReduceMean", "LayerNormalization", "Tanh", "Erf", "Sigmoid", "Neg", "Cos", "Sin",
           "Split", "If", "Identity", "Relu", "Max", "Min"]
    for op in ops:
        lines.append(f"op_{op}={quoted(op.encode())}")
    for key in ("location", "offset", "length", "checksum", "model.onnx.data", "sub/model.onnx.data",
                "outside.data", "fifo.data", "../", "/dev/zero", "input_ids", "logits", "past_key_values.0.key",
                "present.0.key", "value", "axis", "perm", "to", "value_ints", "value_floats"):
        lines.append(f"str_{hashlib.sha1(key.encode()).hexdigest()[:8]}={quoted(key.encode())}")
    return lines


def flb_dict() -> list[str]:
    lines = [f"magic={quoted(bytes([0x89]) + b'FLB' + bytes([0x0D, 0x0A, 0x1A, 0x0A]))}",
             f"version_1_1={quoted(struct.pack('<HH', 1, 1))}",
             f"header_size={quoted(struct.pack('<I', 64))}",
             f"entry_size={quoted(struct.pack('<I', 32))}",
             f"alignment={quoted(struct.pack('<I', 64))}"]
    # include/flightllm/Binary/Format.h, SectionKind.
    for kind, name in enumerate(("metadata", "buckets", "strings", "quant", "stream", "weights",
                                 "devicemap", "embeddings", "tokenizer"), start=1):
        lines.append(f"section_{name}={quoted(struct.pack('<I', kind))}")
        lines.append(f"section_{name}_index0={quoted(struct.pack('<II', kind, 0))}")
    return lines


def json_dict(fields: list[str]) -> list[str]:
    tokens = ["{", "}", "[", "]", ":", ",", '"', "true", "false", "null", "0", "-1", "1e308",
              "0.5", "\\u0000", "\\ud800", "\\\\"]
    words = ["type", "model", "vocab", "merges", "added_tokens", "normalizer", "pre_tokenizer",
             "post_processor", "decoder", "BPE", "ByteLevel", "Metaspace", "Sequence", "Split",
             "Regex", "String", "Replace", "Prepend", "NFC", "ByteFallback", "Fuse", "Strip",
             "TemplateProcessing", "SpecialToken", "special_tokens", "ids", "tokens", "id",
             "content", "special", "single_word", "lstrip", "rstrip", "normalized", "behavior",
             "Isolated", "invert", "pattern", "replacement", "prepend_scheme", "always", "first",
             "never", "split", "add_prefix_space", "use_regex", "ignore_merges", "byte_fallback",
             "unk_token", "fuse_unk", "dropout", "continuing_subword_prefix",
             "end_of_word_suffix", "\\p{L}", "\\p{N}", "(?i:", "\\s+(?!\\S)", "<0x0A>"]
    lines = [f"tok_{i}={quoted(t.encode())}" for i, t in enumerate(tokens)]
    lines += [f"word_{i}={quoted(json.dumps(w).encode())}" for i, w in enumerate(words + fields)]
    return lines


def target_fields() -> list[str]:
    """The keys of the target descriptions (their JSON paths' last parts)."""
    keys = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                keys.add(k)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    for path in ROOT.glob("targets/*.json"):
        walk(json.loads(path.read_text()))
    return sorted(keys)


def write_dict(path: Path, header: str, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {header}\n# Generated by fuzz/make_corpus.py.\n" + "\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, default=ROOT / "build")
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    corpus = args.out / "corpus"
    # The seeds are replaced; the past findings (regression-*) stay.
    for old in corpus.glob("*/*"):
        if not old.name.startswith("regression-"):
            old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models = onnx_seeds(corpus, work)
        external_data_seeds(corpus, models, work)
        flb_seeds(corpus, models, args.build, work)
    target_seeds(corpus)
    tokenizer_seeds(corpus)
    write_dict(args.out / "dict" / "onnx.dict", "ONNX protobuf field tags, op types, external-data keys",
               onnx_dict())
    write_dict(args.out / "dict" / "flb.dict", ".flb magic, header fields, section kinds", flb_dict())
    write_dict(args.out / "dict" / "json.dict", "JSON tokens, tokenizer.json and target keys",
               json_dict(target_fields()))
    for d in sorted(corpus.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name:20s} {len(files):3d} seeds {sum(f.stat().st_size for f in files):8d} bytes")


if __name__ == "__main__":
    main()
