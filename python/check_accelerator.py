#!/usr/bin/python3
"""Check the compiled accelerator binaries end to end on the simulator.

Modes (positional; default: all four):

  bit-exact    For every fixture (test/fixtures/*/decoder_model.onnx) and the
               trained byte-level model (examples/tiny-llama-bytes): compile the
               binary (`flightllm-compile -o M.flb`) and the quantized llm
               program (`--emit=llm --quantize=w8a8`, same calibration), run the
               binary on the simulator (`flightllm-run M.flb`) and the program on
               the host quantized reference (`--engine=quantized`) with the same
               prompt ids and --dump-logits, and require identical tokens and
               bit-identical logits (np.array_equal). Fixtures: 5 prompt tokens,
               12 generated; trained model: a 160-byte prompt (the prefill spans
               two 128-token tiles) with 40 generated, and "Licensed under the "
               with 64. Then every kind of bucket width: prefill buckets of 1,
               2 and 3 MM tiles (--prefill-bucket=128/256/384) and decode buckets
               of 16/32/48 (48 does not divide the context: the last bucket is
               clipped), with prompts that end inside the first tile, at a tile
               edge, in a later tile, at a bucket edge and one past it, and
               generations that cross decode bucket edges: on the trained model
               (context 256) and on a random Llama with context 512 and
               grouped-query attention exported here (python/flightllm_models).
               Each model also compiled for several cores (--cores=3, and 2
               for one trained-model case): the same reference, bit for bit.
  onnxruntime  On the trained model, for the 3 prompts of greedy.json: the
               simulator's 64 greedy tokens agree with onnxruntime's for at least
               the first 32 (or, with --tie-margin M, diverge earlier only where
               onnxruntime's top-2 margin is below M and the simulator took its
               runner-up), and every step's logits have cosine similarity
               >= 0.99 with onnxruntime's fp32 logits on the same token path (one
               decoder_model.onnx run over prompt + the simulator's tokens; the
               rows at the positions that predicted each generated token).
  compressed   Like bit-exact, per compressed weight format (the same
               compression flags for the binary and the --emit=llm program):
               4-bit per channel (symmetric and with zero points), 2:4 and
               2:4 + 4-bit asymmetric on three fixtures (5 prompt tokens, 12
               generated); 4-bit in groups of 64 and of 128 with zero points,
               2:4, 8:16, 4:16 and 8:16 + 4-bit g128 on examples/llama-bytes-4m
               (20 prompt bytes, 20 generated); and mixed precision across
               layers there (--weight-bits=auto --budget=6; 4-bit with layer 0
               kept at 8 bits; --budget=4.5 --auto-sparsity=8:16,4:16, N:16
               and bits chosen per linear), one layer body per run of layers with the same
               formats, also on 3 cores with a two-tile prompt. The 4-bit KV cache
               (--kv-bits=4) on the three fixtures (one and three cores) and
               on examples/llama-bytes-4m with INT8 and with 4-bit g128
               weights, also with a two-tile (160-byte) prompt and on 2 cores.
  perplexity   Held-out perplexity (heldout.txt) of the fp32 reference
               (decoder_model.onnx), the host quantized reference and the
               simulator (`flightllm-run M.flb --perplexity`); the simulator
               must equal the quantized reference exactly and stay within 2% of
               fp32.

  pipeline     The bit-exact comparison for multi-card system binaries
               (`flightllm-compile --system=u280xN`, docs/lowering.md
               "Pipeline stages"): the opset-17 fixture of each family (GPT-2,
               OPT, Llama) on 2 cards (their 2 layers allow no more) and the
               trained model on 2 and 4 cards (and with --kv-bits=4 on 2), the
               same prompts as bit-exact; the simulator runs one simulator per
               card and moves the hidden states over the modelled links.

  batch        Batched decode (`flightllm-compile --batch=B`, docs/lowering.md
               "Batched decode"): users with prompts of different lengths
               served together (`flightllm-run --users N --dump-logits`, one
               decode run for all active users) get, each, the tokens and the
               bit-identical logits of decoding its prompt alone with the
               ordinary binary. The opset-17 fixture of each family: 5 users
               on --batch=4 (the fifth starts in the first freed slot; padded
               rows) and on --batch=4 --cores=3, GPT-2 also on --batch=2
               --kv-slots=3; the trained model: 3 users on --batch=4, on
               --batch=4 --cores=3 and on --batch=2 (the third user decodes
               alone in a reused slot, its row padded); with the compressed
               formats, 5 users on --batch=4 against the ordinary binary of the
               same flags: the trained model with --kv-bits=4 (also --cores=3)
               and the 4M model with --keep-8bit=layers.0.* --weight-bits=4.
               Pipelines with micro-batches (--batch=B with --system): the
               fixtures on 2 cards (their 2 layers allow no more) with
               micro-batches of 2 and of 4, the trained model on 4 cards with
               micro-batches of 2 (4 slots: the second micro-batch padded), of
               4, and of 2 on 3 cores; with --kv-bits=4 on 4 cards, batch 4.
               Every user's tokens and logits equal its prompt decoded alone
               on one card.

--quick (the sanitizer build's run, docs/testing.md): every code path of each
mode once, on smaller inputs: the opset-17 fixture of each family instead of
all 16 (the opset variants differ in the importer only, which the lit tests
and onnx-backend-node cover); bit-exact drops the trained model's extra bucket
widths (the random Llama checks the same widths); compressed keeps llama-op17
and three of the six formats of the 4M model (groups, N:16, N:16 + INT4);
perplexity runs on the first QUICK_PERPLEXITY_BYTES of heldout.txt and checks
the simulator against the quantized reference only (the 2% bound against fp32
is a property of the whole text).

Prints a table per mode; exits non-zero on any failure; the last line reads
"N passed, N failed".

    /usr/bin/python3 python/check_accelerator.py --build build --work /tmp/acc [bit-exact] [onnxruntime] [perplexity] [pipeline]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

MODES = ("bit-exact", "onnxruntime", "perplexity", "compressed", "pipeline", "batch")
FIXTURE_PROMPT_LEN = 5
FIXTURE_NEW_TOKENS = 12
TRAINED_NEW_TOKENS = 40
MIN_AGREE = 32
MIN_COSINE = 0.99
PPL_REL_TOL = 0.02
# Bucket widths (prefill, decode) checked beyond the default (128, 16): the
# trained model's context is 256 positions, the random Llama's 512.
TRAINED_CONTEXT = 256
TRAINED_WIDTHS = ((256, 32),)
LONG_CONTEXT = 512
LONG_WIDTHS = ((384, 48),)
QUICK_PERPLEXITY_BYTES = 1024


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, label: str, ok: bool):
        if ok:
            self.passed += 1
        else:
            self.failed.append(label)
        return ok


def table(title: str, header, rows):
    """Prints rows (lists of str) under header, columns padded."""
    cols = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    print(f"\n== {title}")
    for r in [header] + rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, cols)).rstrip())
    sys.stdout.flush()


class Tools:
    def __init__(self, build: Path, work: Path, calibration: str):
        self.bin = build / "bin"
        self.work = work
        self.calibration = calibration

    def _run(self, args, label):
        try:
            p = subprocess.run([str(a) for a in args], capture_output=True, text=True)
        except OSError as e:  # e.g. the tool is being relinked
            raise RuntimeError(f"{label}: cannot run {args[0]}: {e}") from e
        if p.returncode != 0:
            raise RuntimeError(f"{label}: exit {p.returncode}: {p.stderr.strip()[-2000:]}")
        return p.stdout

    def binary(self, model: Path, name: str, calibrated: bool, flags=()):
        """M.flb of the model compiled with extra flightllm-compile flags."""
        out = self.work / name
        out.mkdir(parents=True, exist_ok=True)
        cal = [f"--calibration={self.calibration}"] if calibrated else []
        tag = "".join(f.lstrip("-").replace("-bucket=", "") for f in flags)
        flb = out / f"model{'.' + tag if tag else ''}.flb"
        self._run([self.bin / "flightllm-compile", model, "-o", flb, "--quiet", *cal, *flags],
                  f"compile {name} {' '.join(flags)}".rstrip())
        return flb

    def quantized(self, model: Path, name: str, calibrated: bool, flags=()):
        """The quantized llm program, with the calibration (and compression
        flags) of binary()."""
        out = self.work / name
        out.mkdir(parents=True, exist_ok=True)
        cal = [f"--calibration={self.calibration}"] if calibrated else []
        tag = "".join(f.lstrip("-") for f in flags)
        mlir = out / f"quantized{'.' + tag if tag else ''}.mlir"
        self._run([self.bin / "flightllm-compile", model, "--emit=llm", "--quantize=w8a8",
                   *cal, *flags, "-o", mlir], f"compile {name} --emit=llm {' '.join(flags)}".rstrip())
        return mlir

    def compile(self, model: Path, name: str, calibrated: bool):
        """(M.flb, Q.mlir) for the model, both with the same calibration."""
        return self.binary(model, name, calibrated), self.quantized(model, name, calibrated)

    def run(self, model: Path, tokens, new_tokens: int, logits: Path, engine=None):
        """(json report, logits array) of flightllm-run."""
        args = [self.bin / "flightllm-run", model, "--tokens", ",".join(map(str, tokens)),
                "--max-new-tokens", str(new_tokens), "--json", "--dump-logits", logits]
        if engine:
            args.append(f"--engine={engine}")
        report = json.loads(self._run(args, f"run {model}"))
        return report, np.load(logits)

    def perplexity(self, model: Path, text: Path, engine=None):
        args = [self.bin / "flightllm-run", model, "--perplexity", text, "--json"]
        if engine:
            args.append(f"--engine={engine}")
        return json.loads(self._run(args, f"perplexity {model}"))


def fixture_prompt(vocab: int):
    return [(7 * i + 3) % vocab for i in range(FIXTURE_PROMPT_LEN)]


def bit_exact_case(tools: Tools, name, model, calibrated, binaries, compression=()):
    """Rows for one model: binaries are (compile flags, cases), cases are
    (label, prompt ids, new tokens); `compression` flags go to both the
    binary and the host program."""
    try:
        mlir = tools.quantized(model, name, calibrated, compression)
    except RuntimeError as e:
        return [[name, " ".join(compression) or "-", "-", "-", "-", "-", "-", "-",
                 "FAIL " + str(e)[:300]]]
    rows = []
    for flags, cases in binaries:
        widths = " ".join(f.lstrip("-") for f in (*compression, *flags)) or "default"
        try:
            flb = tools.binary(model, name, calibrated, (*compression, *flags))
        except RuntimeError as e:
            rows.append([name, widths, "-", "-", "-", "-", "-", "-", "FAIL " + str(e)[:200]])
            continue
        for label, prompt, n in cases:
            try:
                d = flb.parent
                sim, ls = tools.run(flb, prompt, n, d / f"{flb.stem}.{label}.sim.npy")
                qnt, lq = tools.run(mlir, prompt, n, d / f"{mlir.stem}.{label}.npy", "quantized")
                same_tokens = sim["generated_tokens"] == qnt["generated_tokens"]
                same_logits = ls.shape == lq.shape and np.array_equal(ls, lq)
                diff = float(np.max(np.abs(ls - lq))) if ls.shape == lq.shape else float("inf")
                ok = same_tokens and same_logits and len(sim["generated_tokens"]) == n
                rows.append([name, widths, label, len(prompt), n,
                             "yes" if same_tokens else "NO", "yes" if same_logits else "NO",
                             f"{diff:.3g}", "PASS" if ok else "FAIL"])
            except RuntimeError as e:
                rows.append([name, widths, label, len(prompt), n, "-", "-", "-",
                             "FAIL " + str(e)[:200]])
    return rows


def long_context_model(work: Path) -> Path:
    """A random Llama (GQA, rotary) with 512 positions: room for a prefill
    bucket of three MM tiles and a second one of four. Exported once per work
    directory (about 4 s, mostly importing torch)."""
    from flightllm_models import DecoderConfig
    from flightllm_models.export import export_random_prefill

    config = DecoderConfig(family="llama", vocab_size=96, hidden_size=32, num_layers=2,
                           num_heads=4, num_kv_heads=2, intermediate_size=40,
                           max_positions=LONG_CONTEXT, mask_style="trilu",
                           mask_apply="where")
    return export_random_prefill(config, work / "llama-ctx512" / "decoder_model.onnx", 5)


def width_cases(text: bytes, vocab: int, context: int, prefill: int, decode: int):
    """Prompts that end in the first tile, at the first tile's edge and one
    past it, at the first prefill bucket's edge and one past it, and in the
    last tile of the context; generations that cross a decode bucket edge
    (or reach the end of the context)."""
    tile = 128
    lengths = sorted({2, tile, tile + 1, prefill, prefill + 1, context - 20})
    cases = []
    for n in lengths:
        if n > context:
            continue
        # Past the next decode bucket edge, within the context.
        new = min(context - n + 1, decode - n % decode + 3)
        prompt = [b % vocab for b in text[n:2 * n]] if len(text) >= 2 * n else \
            [(7 * i + 3) % vocab for i in range(n)]
        cases.append((f"p{n}", prompt, new))
    return cases


def fixture_entries(fixtures: Path, quick: bool, only=None):
    """The fixtures' MANIFEST entries: those named in `only` if given, else
    all of them, or with quick the opset-17 one of each family."""
    entries = json.loads((fixtures / "MANIFEST.json").read_text())["fixtures"]
    if only is not None:
        return [fx for fx in entries if fx["dir"] in only]
    return [fx for fx in entries if not quick or fx["dir"].endswith("-op17")]


def check_bit_exact(tools: Tools, fixtures: Path, example: Path, jobs: int, c: Checker,
                    quick: bool = False):
    work = []
    for fx in fixture_entries(fixtures, quick):
        prompt = fixture_prompt(fx["config"]["vocab_size"])
        # ... and on all three cores of the u280 (docs/lowering.md, cores)
        work.append((fx["dir"], fixtures / fx["dir"] / "decoder_model.onnx", False,
                     [((), [("p5", prompt, FIXTURE_NEW_TOKENS)]),
                      (("--cores=3",), [("p5", prompt, FIXTURE_NEW_TOKENS)])]))
    held = (example / "heldout.txt").read_bytes()
    long_prompt = list(held[40:200])
    trained = [((), [("p160", long_prompt, TRAINED_NEW_TOKENS),
                     ("licensed", list(b"Licensed under the "), 64)]),
               (("--cores=3",), [("p160", long_prompt, TRAINED_NEW_TOKENS)]),
               (("--cores=2",), [("licensed", list(b"Licensed under the "), 64)])]
    for prefill, decode in () if quick else TRAINED_WIDTHS:
        flags = (f"--prefill-bucket={prefill}", f"--decode-bucket={decode}")
        trained.append((flags, width_cases(held, 256, TRAINED_CONTEXT, prefill, decode)))
    work.append((example.name, example / "decoder_model.onnx", True, trained))
    long_model = long_context_model(tools.work)
    work.append(("llama-ctx512", long_model, False,
                 [((f"--prefill-bucket={prefill}", f"--decode-bucket={decode}"),
                   width_cases(b"", 96, LONG_CONTEXT, prefill, decode))
                  for prefill, decode in LONG_WIDTHS]
                 + [(("--cores=3", f"--prefill-bucket={LONG_WIDTHS[-1][0]}",
                      f"--decode-bucket={LONG_WIDTHS[-1][1]}"),
                     width_cases(b"", 96, LONG_CONTEXT, *LONG_WIDTHS[-1]))]))
    run_bit_exact(work, lambda w: tools, "bit-exact", "buckets",
                  "bit-exact: simulator (.flb) vs host quantized reference (.mlir)", jobs, c)


def run_bit_exact(work, tools_for, mode: str, column: str, title: str, jobs: int, c: Checker):
    """Runs bit_exact_case over `work` (its arguments after the tools, which
    tools_for(item) gives), checks and prints the rows."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda w: bit_exact_case(tools_for(w), *w), work))
    rows = [r for rs in results for r in rs]
    for r in rows:
        c.check(f"{mode} {r[0]}/{r[1]}/{r[2]}", r[8] == "PASS")
    table(title, ["model", column, "case", "prompt", "new", "tokens equal", "logits equal",
                  "max|diff|", "result"], rows)


# Compressed weight formats (docs/execution-model.md, section 2), each run by
# the simulator and the host quantized engine. The fixtures' widths (32, 40,
# 48; heads of 8) admit per-channel 4-bit and 2:4 only; the 4M-parameter
# model (widths 256 and 640, heads of 64) takes groups of 64 and 128 and
# every N:16. Magnitude pruning keeps the compiles fast (the format, not the
# criterion, is under test).
COMPRESSED_FIXTURES = ("llama-op17", "gpt2-op17", "opt-op17")
MAGNITUDE = "--sparsity-method=magnitude"
FIXTURE_FORMATS = (
    ("--weight-bits=4", "--group-size=0"),
    ("--weight-bits=4", "--group-size=0", "--weight-zero-points"),
    ("--sparsity=2:4", MAGNITUDE),
    ("--sparsity=2:4", MAGNITUDE, "--weight-bits=4", "--group-size=0", "--weight-zero-points"),
)
LARGE_FORMATS = (
    ("--weight-bits=4", "--group-size=64"),
    ("--weight-bits=4", "--group-size=128", "--weight-zero-points"),
    ("--sparsity=2:4", MAGNITUDE),
    ("--sparsity=8:16", MAGNITUDE),
    ("--sparsity=4:16", MAGNITUDE),
    ("--sparsity=8:16", MAGNITUDE, "--weight-bits=4", "--group-size=128"),
)
LARGE_NEW_TOKENS = 20
# Mixed precision across layers (docs/lowering.md, "Layer groups"): formats
# chosen per projection by the measured sensitivity under a budget, and
# layer 0 kept at 8 bits.
MIXED_FORMATS = (
    ("--weight-bits=auto", "--budget=6"),
    ("--keep-8bit=layers.0.*", "--weight-bits=4"),
    # ... and the N:16 sparsity chosen per linear too (8:16 and 4:16 beside
    # dense, at 8 and 4 bits).
    ("--weight-bits=auto", "--budget=4.5", "--auto-sparsity=8:16,4:16", MAGNITUDE),
)
# The 4-bit KV cache (docs/execution-model.md, section 2).
KV4 = ("--kv-bits=4",)
LARGE_KV4_FORMATS = (KV4, ("--weight-bits=4", "--group-size=128", *KV4))


def check_compressed(tools: Tools, fixtures: Path, large: Path, jobs: int, c: Checker,
                     quick: bool = False):
    work = []
    for fx in fixture_entries(fixtures, quick,
                              COMPRESSED_FIXTURES[:1] if quick else COMPRESSED_FIXTURES):
        prompt = fixture_prompt(fx["config"]["vocab_size"])
        for formats in FIXTURE_FORMATS:
            work.append((fx["dir"], fixtures / fx["dir"] / "decoder_model.onnx", False,
                         [((), [("p5", prompt, FIXTURE_NEW_TOKENS)])], formats))
        work.append((fx["dir"], fixtures / fx["dir"] / "decoder_model.onnx", False,
                     [((), [("p5", prompt, FIXTURE_NEW_TOKENS)]),
                      (("--cores=3",), [("p5", prompt, FIXTURE_NEW_TOKENS)])], KV4))
    held = (large / "heldout.txt").read_bytes()
    # 20 bytes of prompt, 20 generated: the decode crosses a bucket edge.
    cases = [((), [("p20", list(held[1000:1020]), LARGE_NEW_TOKENS)])]
    large_tools = Tools(tools.bin.parent, tools.work, str(large / "calibration.txt"))
    for formats in (LARGE_FORMATS[0], LARGE_FORMATS[3], LARGE_FORMATS[5]) if quick \
            else LARGE_FORMATS:
        work.append((large.name, large / "decoder_model.onnx", True, cases,
                     (*formats, "--calibration-tokens=1024")))
    # ... and per layer group: decode and one prefill tile, then on 3 cores a
    # prompt of two prefill tiles (every tile runs each group's body).
    mixed_cases = cases + [(("--cores=3",), [("p140", list(held[3000:3140]), 4)])]
    for formats in MIXED_FORMATS[:1] if quick else MIXED_FORMATS:
        work.append((large.name, large / "decoder_model.onnx", True, mixed_cases,
                     (*formats, "--calibration-tokens=1024")))
    # The 4-bit KV cache: also a prompt over two prefill tiles (the second
    # tile's scale vector and cache rows follow the first's) and two cores.
    kv4_cases = [((), [("p20", list(held[1000:1020]), LARGE_NEW_TOKENS),
                       ("p160", list(held[40:200]), LARGE_NEW_TOKENS)]),
                 (("--cores=2",), [("p20", list(held[1000:1020]), LARGE_NEW_TOKENS)])]
    for formats in LARGE_KV4_FORMATS[:1] if quick else LARGE_KV4_FORMATS:
        work.append((large.name, large / "decoder_model.onnx", True, kv4_cases,
                     (*formats, "--calibration-tokens=1024")))
    run_bit_exact(work, lambda w: large_tools if w[0] == large.name else tools, "compressed",
                  "format", "compressed: simulator (.flb) vs host quantized reference (.mlir), "
                  "per weight format", jobs, c)


def check_pipeline(tools: Tools, fixtures: Path, example: Path, jobs: int, c: Checker):
    work = []
    # One fixture per family (the opset variants only test the importer).
    for fx in fixture_entries(fixtures, True):
        prompt = fixture_prompt(fx["config"]["vocab_size"])
        work.append((fx["dir"], fixtures / fx["dir"] / "decoder_model.onnx", False,
                     [(("--system=u280x2",), [("p5", prompt, FIXTURE_NEW_TOKENS)])]))
    held = (example / "heldout.txt").read_bytes()
    cases = [("p160", list(held[40:200]), TRAINED_NEW_TOKENS),
             ("licensed", list(b"Licensed under the "), 64)]
    work.append((example.name, example / "decoder_model.onnx", True,
                 [(("--system=u280x2",), cases), (("--system=u280x4",), cases)]))
    # The 4-bit KV cache: every card keeps its layers' packed rows and scales.
    work.append((example.name, example / "decoder_model.onnx", True,
                 [(("--system=u280x2",), cases[:1])], KV4))
    run_bit_exact(work, lambda w: tools, "pipeline", "system",
                  "pipeline: multi-card simulator (.flb) vs host quantized reference (.mlir)", jobs, c)


def batch_case(tools: Tools, name, model, calibrated, binaries, prompts, new_tokens,
               formats=()):
    """Rows for one model: each binary (its flightllm-compile flags, --batch=B
    first, then `formats`) serves len(prompts) users (prompts: lists of token
    ids); each user's tokens and logits must equal its prompt decoded alone
    on the ordinary binary of the same `formats` (e.g. --kv-bits=4)."""
    rows = []
    if formats:  # its own directory: the alone logits differ per format
        name = f"{name} {' '.join(f.lstrip('-') for f in formats)}"
    d = tools.work / name.replace(" ", "_").replace("*", "x")
    try:
        alone_flb = tools.binary(model, d.name, calibrated, formats)
        alone = []
        for i, prompt in enumerate(prompts):
            report, logits = tools.run(alone_flb, prompt, new_tokens, d / f"alone{i}.npy")
            alone.append((report["generated_tokens"], logits))
    except RuntimeError as e:
        return [[name, "-", "-", "-", "-", "FAIL " + str(e)[:300]]]
    token_lists = ";".join(",".join(map(str, p)) for p in prompts)
    for flags in binaries:
        batch = int(flags[0].split("=")[1])
        label = " ".join(f.lstrip("-") for f in flags)
        try:
            flb = tools.binary(model, d.name, calibrated, (*flags, *formats))
            logits_file = d / f"{flb.stem}.npy"
            args = [tools.bin / "flightllm-run", flb, "--users", str(len(prompts)),
                    "--tokens", token_lists, "--max-new-tokens", str(new_tokens),
                    "--json", "--dump-logits", logits_file]
            served = json.loads(tools._run(args, f"serve {name} batch {batch}"))
            logits = np.load(logits_file)
            same_tokens = served["user_tokens"] == [t for t, _ in alone]
            first, same_logits = 0, True
            for tokens, rows_alone in alone:
                mine = logits[first:first + len(tokens)]
                first += len(tokens)
                same_logits = same_logits and mine.shape == rows_alone.shape and \
                    np.array_equal(mine, rows_alone)
            ok = same_tokens and same_logits and served["decode_batch"] == batch and \
                first == logits.shape[0]
            rows.append([name, label, len(prompts), "yes" if same_tokens else "NO",
                         "yes" if same_logits else "NO", "PASS" if ok else "FAIL"])
        except RuntimeError as e:
            rows.append([name, label, len(prompts), "-", "-", "FAIL " + str(e)[:300]])
    return rows


def check_batch(tools: Tools, fixtures: Path, example: Path, large: Path, jobs: int,
                c: Checker):
    manifest = json.loads((fixtures / "MANIFEST.json").read_text())
    work = []
    # Prompts of different lengths, so each sequence has its own context
    # length (and the trained model's longest spans two prefill tiles).
    # Fixtures: 5 users on 4 slots (the fifth starts in the first freed slot
    # and decodes with padded rows); GPT-2 also 2 per run on 3 slots.
    for fx in manifest["fixtures"]:
        if fx["dir"].endswith("-op17"):
            vocab = fx["config"]["vocab_size"]
            prompts = [fixture_prompt(vocab), [(5 * i + 1) % vocab for i in range(11)], [7],
                       [(3 * i + 2) % vocab for i in range(25)], fixture_prompt(vocab)[::-1]]
            binaries = [("--batch=4",), ("--batch=4", "--cores=3"),
                        ("--batch=2", "--system=u280x2"), ("--batch=4", "--system=u280x2")]
            if fx["dir"].startswith("gpt2"):
                binaries.append(("--batch=2", "--kv-slots=3"))
            work.append((fx["dir"], fixtures / fx["dir"] / "decoder_model.onnx", False,
                         binaries, prompts, FIXTURE_NEW_TOKENS))
    held = (example / "heldout.txt").read_bytes()
    work.append((example.name, example / "decoder_model.onnx", True,
                 [("--batch=4",), ("--batch=2",), ("--batch=4", "--cores=3"),
                  ("--batch=2", "--system=u280x4", "--kv-slots=4"),
                  ("--batch=4", "--system=u280x4"),
                  ("--batch=2", "--system=u280x4", "--cores=3")],
                 [list(b"Licensed under the "), list(b"The "), list(held[40:200])],
                 TRAINED_NEW_TOKENS))
    # Batched decode with the compressed formats: 5 users on 4 slots (full
    # batch, a slot reused, padded rows; the 160-byte prompt over two prefill
    # tiles). The 4-bit KV cache's per-row scale vectors in batched
    # attention, and the layer groups of mixed precision in the batched
    # decode body (the 4M model: its widths take 4-bit groups of 128).
    users = [list(b"Licensed under the "), list(b"The "), list(held[40:200]), [7],
             list(held[1000:1030])]
    work.append((example.name, example / "decoder_model.onnx", True,
                 [("--batch=4",), ("--batch=4", "--cores=3"), ("--batch=4", "--system=u280x4")],
                 users, TRAINED_NEW_TOKENS, KV4))
    held_large = (large / "heldout.txt").read_bytes()
    users_large = [list(b"Licensed under the "), list(b"The "), list(held_large[40:200]),
                   [7], list(held_large[1000:1030])]
    work.append((large.name, large / "decoder_model.onnx", True, [("--batch=4",)],
                 users_large, LARGE_NEW_TOKENS,
                 (*MIXED_FORMATS[1], "--calibration-tokens=1024")))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda w: batch_case(tools, *w), work))
    rows = [r for rs in results for r in rs]
    for r in rows:
        c.check(f"batch {r[0]}/{r[1]}", r[5] == "PASS")
    table("batch: users decoded together (--batch=B) vs each alone (ordinary binary)",
          ["model", "batch", "users", "tokens equal", "logits equal", "result"], rows)


def cosine_rows(a: np.ndarray, b: np.ndarray):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def check_onnxruntime(tools: Tools, example: Path, tie_margin: float, c: Checker):
    from ortref import ort_run

    greedy = json.loads((example / "greedy.json").read_text())
    flb, _ = tools.compile(example / "decoder_model.onnx", example.name, True)
    rows = []
    for i, case in enumerate(greedy["cases"]):
        prompt, want = case["prompt_ids"], case["generated_ids"]
        n = len(want)
        sim, logits = tools.run(flb, prompt, n, flb.parent / f"greedy{i}.sim.npy")
        got = sim["generated_tokens"]
        prefix = next((j for j, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), n))
        same = sum(a == b for a, b in zip(got, want))
        # onnxruntime over prompt + the simulator's tokens (the last one is never fed back).
        path = np.array([prompt + got[:-1]], dtype=np.int64)
        ref = ort_run(example / "decoder_model.onnx", {"input_ids": path})["logits"][0]
        ref = ref[len(prompt) - 1:len(prompt) - 1 + n]
        cos = cosine_rows(logits, ref)
        ok_tokens = prefix >= MIN_AGREE
        agree = f"{prefix}/{n}"
        if prefix < n:
            # The first divergence: onnxruntime's top-2 margin there (the
            # contexts are still identical) and whether the simulator took its
            # runner-up.
            order = np.argsort(-ref[prefix].astype(np.float64), kind="stable")
            margin = float(ref[prefix][order[0]] - ref[prefix][order[1]])
            runner_up = got[prefix] == int(order[1])
            agree += f" (ort margin {margin:.4f}{', sim took 2nd' if runner_up else ''})"
            if not ok_tokens and runner_up and margin < tie_margin:
                ok_tokens = True
                agree += " near tie"
        ok_cos = logits.shape == ref.shape and float(cos.min()) >= MIN_COSINE
        c.check(f"onnxruntime greedy[{i}] tokens", ok_tokens)
        c.check(f"onnxruntime greedy[{i}] cosine", ok_cos)
        rows.append([i, json.dumps(case["prompt"]), agree, f"{same}/{n}",
                     f"{float(cos.min()):.5f}", f"{float(cos.mean()):.5f}",
                     "PASS" if ok_tokens and ok_cos else "FAIL"])
        text = bytes(t for t in got if 0 <= t < 256).decode("latin-1")
        rows[-1].append(json.dumps(text))
    table("onnxruntime: simulator greedy tokens and logits vs onnxruntime fp32 (greedy.json)",
          ["case", "prompt", "agreeing prefix", "same position", "min cosine", "mean cosine",
           "result", "simulator text"], rows)


def check_perplexity(tools: Tools, example: Path, c: Checker, quick: bool = False):
    flb, mlir = tools.compile(example / "decoder_model.onnx", example.name, True)
    held = example / "heldout.txt"
    if quick:
        part = tools.work / f"heldout.first{QUICK_PERPLEXITY_BYTES}.txt"
        part.write_bytes(held.read_bytes()[:QUICK_PERPLEXITY_BYTES])
        held = part
    with ThreadPoolExecutor(max_workers=3) as pool:
        f_fp32 = pool.submit(tools.perplexity, example / "decoder_model.onnx", held)
        f_q = pool.submit(tools.perplexity, mlir, held, "quantized")
        f_sim = pool.submit(tools.perplexity, flb, held)
        fp32, qnt, sim = f_fp32.result(), f_q.result(), f_sim.result()
    metrics = json.loads((example / "metrics.json").read_text())
    ort = metrics["heldout"]["onnxruntime"]["perplexity_per_byte"]
    rel = (sim["perplexity"] - fp32["perplexity"]) / fp32["perplexity"]
    ok_exact = sim["perplexity"] == qnt["perplexity"] and sim["tokens"] == qnt["tokens"]
    ok_close = quick or (abs(rel) <= PPL_REL_TOL and sim["tokens"] == fp32["tokens"])
    c.check("perplexity sim == quantized", ok_exact)
    if not quick:
        c.check("perplexity sim ~ fp32", ok_close)
    rows = [
        ["onnxruntime fp32 (metrics.json)", f"{ort:.6f}", metrics["heldout"]["onnxruntime"]["predicted_bytes"], "-", ""],
        ["reference fp32 (decoder_model.onnx)", f"{fp32['perplexity']:.6f}", fp32["tokens"], fp32["windows"], ""],
        ["quantized (host, W8A8)", f"{qnt['perplexity']:.6f}", qnt["tokens"], qnt["windows"], ""],
        ["simulator (.flb)", f"{sim['perplexity']:.6f}", sim["tokens"], sim["windows"],
         f"{'PASS' if ok_exact and ok_close else 'FAIL'} (vs fp32 {100 * rel:+.3f}%, "
         f"{sim['decode_steps']} decode steps, {sim['simulated_ms']:.1f} simulated ms, "
         f"{sim['host_seconds']:.1f} host s)"],
    ]
    table(f"perplexity: {held.name} ({held.stat().st_size} bytes)",
          ["engine", "perplexity/byte", "tokens", "windows", "result"], rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modes", nargs="*", metavar="MODE",
                    help=f"any of {', '.join(MODES)} (default: all)")
    ap.add_argument("--build", default=str(ROOT / "build"), help="build directory (bin/flightllm-*)")
    ap.add_argument("--work", help="directory for binaries and logits (default: a temporary one)")
    ap.add_argument("--fixtures", default=str(ROOT / "test" / "fixtures"))
    ap.add_argument("--example", default=str(ROOT / "examples" / "tiny-llama-bytes"))
    ap.add_argument("--large-example", default=str(ROOT / "examples" / "llama-bytes-4m"),
                    help="compressed and batch modes: the model with widths that take "
                         "groups of 64/128")
    ap.add_argument("--calibration", default="/usr/share/common-licenses/Apache-2.0",
                    help="calibration text for the trained model (fixtures use the built-in one)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true",
                    help="smaller inputs, every code path once (the sanitizer build's run)")
    ap.add_argument("--tie-margin", type=float, default=0.0,
                    help="onnxruntime mode: also accept a greedy divergence before token 32 "
                         "where onnxruntime's top-1/top-2 logit margin is below this and the "
                         "simulator took onnxruntime's runner-up (a near tie that int8 "
                         "rounding may flip); default 0: the first 32 tokens must agree")
    args = ap.parse_args()
    for mode in args.modes:
        if mode not in MODES:
            ap.error(f"unknown mode '{mode}' (choose from {', '.join(MODES)})")
    modes = args.modes or list(MODES)
    tmp = None
    if args.work:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="check-accelerator-")
        work = Path(tmp.name)
    tools = Tools(Path(args.build).resolve(), work.resolve(), args.calibration)
    example = Path(args.example)
    c = Checker()
    for mode in modes:
        try:
            if mode == "bit-exact":
                check_bit_exact(tools, Path(args.fixtures), example, args.jobs, c, args.quick)
            elif mode == "pipeline":
                check_pipeline(tools, Path(args.fixtures), example, args.jobs, c)
            elif mode == "batch":
                check_batch(tools, Path(args.fixtures), example, Path(args.large_example),
                            args.jobs, c)
            elif mode == "onnxruntime":
                check_onnxruntime(tools, example, args.tie_margin, c)
            elif mode == "compressed":
                check_compressed(tools, Path(args.fixtures), Path(args.large_example),
                                 args.jobs, c, args.quick)
            else:
                check_perplexity(tools, example, c, args.quick)
        except Exception as e:  # noqa: BLE001
            c.check(mode, False)
            print(f"FAIL {mode}: {e!r}")
    print()
    if c.failed:
        print("failed: " + ", ".join(c.failed))
    print(f"{c.passed} passed, {len(c.failed)} failed")
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
