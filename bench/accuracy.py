#!/usr/bin/python3
"""Held-out perplexity of the accuracy model per compression setting (issue 11).

Each setting is a list of `flightllm-compile` flags (SETTINGS below). For each one
the bench compiles the trained byte-level model (examples/llama-bytes-4m, calibrated
on its calibration.txt, which comes from the training text) to the quantized llm
program and scores the held-out text on the host quantized engine, which is bit for
bit what the accelerator computes (docs/cli.md, "The quantized engine"):

    flightllm-compile MODEL --emit=llm --quantize=w8a8 FLAGS --calibration=CAL -o S.mlir
    flightllm-run S.mlir --engine=quantized --perplexity HELDOUT --json

fp32 is the reference engine on the ONNX graph (`flightllm-run MODEL --perplexity`).
A setting whose flags this build's flightllm-compile does not accept (an unknown
option) is printed as "not supported by this build"; any other failure as the
compile's or run's first error line. Nothing is skipped silently.

Per setting it also prints the weight bytes of the program's matrices (every
llm.linear and llm.logits; the embedding table is a host-side lookup), counted from
the compiled program under the storage model of docs/compression.md's accelerator
formats as far as they are fixed and FlightLLM's otherwise: codes at `weight_bits`
(N:M-sparse weights keep only N of every M codes, each with a 4-bit index), one fp16
scale per output channel or per group, and for asymmetric formats one zero point of
`weight_bits` per scale. For W8A8 the code bytes are checked against the compile
report's `quantized_weight_bytes` (`--emit=bin --report`).

With --with-7b, each setting is also compiled for a LLaMA2-7B-shaped model
(bench/simulate_7b.py's model, /tmp/flightllm-bench, ~27 GB; --small-7b: its
2-layer stand-in) with `--target=u280 --max-context=2048 --calibration=none` and run
with `flightllm-run --timing-only` on [128, 512]: the simulated decode tokens/s.

Ratios are against fp32 in the same run; the issue's targets: W8A8 <= +1%,
W4A8 g128 (+ KV8) <= +5%, 8:16 + W4A8 g128 <= +10%.

    /usr/bin/python3 bench/accuracy.py --build build                    # the whole table (~1 h)
    /usr/bin/python3 bench/accuracy.py --build build --settings fp32 W8A8 --heldout-bytes 20480 --check
    /usr/bin/python3 bench/accuracy.py --build build --with-7b          # + 7B decode tokens/s

--check exits 1 when a selected setting failed or missed its target (the ctest
`accuracy-w8a8` does this on 20 KB); "not supported by this build" is not a failure.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import time
from argparse import Namespace
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

# name -> flightllm-compile flags on top of --quantize=w8a8 (None: fp32 reference).
W4 = ["--weight-bits=4", "--group-size=128"]
SETTINGS = {
    "fp32": None,
    "W8A8": [],
    "W4A8 g128": W4,
    "W4A8 g128 + KV4": W4 + ["--kv-bits=4"],
    "2:4": ["--sparsity=2:4"],
    "8:16": ["--sparsity=8:16"],
    "4:16": ["--sparsity=4:16"],
    "2:4 + W4A8 g128": ["--sparsity=2:4"] + W4,
    "8:16 + W4A8 g128": ["--sparsity=8:16"] + W4,
    "4:16 + W4A8 g128": ["--sparsity=4:16"] + W4,
    "auto 4.5 bits": ["--weight-bits=auto", "--budget=4.5"],
    "auto 6 bits": ["--weight-bits=auto", "--budget=6"],
}
# The targets: largest perplexity increase over fp32, in percent.
TARGETS = {"W8A8": 1.0, "W4A8 g128": 5.0, "8:16 + W4A8 g128": 10.0}

DEFAULT_MODEL = REPO / "examples" / "llama-bytes-4m"
UNSUPPORTED = re.compile(r"Unknown command line argument|unknown (?:option|argument)|"
                         r"for the --[\w-]+ option: Cannot find option named", re.I)
SPARSE_INDEX_BITS = 4
SCALE_BYTES = 2


class Failed(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def first_error(text: str) -> str:
    for line in text.splitlines():
        if "error" in line.lower():
            return line.strip()[:300]
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1][:300] if lines else "(no output)"


def run(cmd, what: str, timeout: float):
    try:
        p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failed("failed", f"{what} timed out after {timeout:.0f} s")
    if p.returncode != 0:
        out = p.stderr + p.stdout
        unknown = UNSUPPORTED.search(out) if what.startswith("compile") else None
        if unknown:
            line = out[out.rfind("\n", 0, unknown.start()) + 1:].splitlines()[0]
            raise Failed("unsupported", line.strip()[:300])
        raise Failed("failed", f"{what} (exit {p.returncode}): {first_error(out)}")
    return p.stdout


def weight_bytes(mlir: Path):
    """(total bytes, code bytes) of the program's llm.linear / llm.logits weights."""
    total = codes = 0.0
    found = 0
    op = re.compile(r"\bllm\.(linear|logits)\b")
    for line in mlir.open(encoding="utf-8", errors="replace"):
        if not op.search(line):
            continue
        types = re.search(r":\s*\((.*)\)\s*->", line)
        if not types:
            continue
        shapes = re.findall(r"tensor<([0-9x?]+)x(\w+)>", types.group(1))
        if len(shapes) < 2:
            continue
        dims = [int(d) for d in shapes[1][0].split("x")]
        count = math.prod(dims)

        def attr(name):
            m = re.search(rf"\b{name} = (\d+)", line)
            return int(m.group(1)) if m else None

        bits = attr("weight_bits") or (8 if shapes[1][1] in ("i8", "ui8") else 32)
        group = attr("group_size") or 0
        k = dims[0] if re.search(r"transpose_weight = true", line) is None else dims[1]
        n = count // k
        sp = re.search(r"\bsparsity = array<i64:\s*(\d+),\s*(\d+)>", line)
        kept = count * int(sp.group(1)) / int(sp.group(2)) if sp else count
        code = kept * bits / 8
        index = kept * SPARSE_INDEX_BITS / 8 if sp else 0
        scales = n * (k // group if group else 1) if bits < 32 else 0
        zero_points = scales * bits / 8 if "weight_zero_points" in line else 0
        codes += code
        total += code + index + scales * SCALE_BYTES + zero_points
        found += 1
    if not found:
        raise Failed("failed", f"{mlir}: no llm.linear/llm.logits found to count weight bytes")
    return int(total), int(codes)


class Bench:
    def __init__(self, args):
        self.args = args
        self.compile = Path(args.build) / "bin" / "flightllm-compile"
        self.runner = Path(args.build) / "bin" / "flightllm-run"
        self.model = Path(args.model)
        self.onnx = self.model / "decoder_model.onnx"
        self.work = Path(args.work)
        self.work.mkdir(parents=True, exist_ok=True)
        held = (self.model / "heldout.txt").read_bytes()
        if args.heldout_bytes:
            held = held[: args.heldout_bytes]
        self.heldout = self.work / "heldout.txt"
        self.heldout.write_bytes(held)
        self.calibration = self.model / "calibration.txt"

    def calibration_flags(self):
        flags = [f"--calibration={self.calibration}"]
        if self.args.calibration_tokens:
            flags.append(f"--calibration-tokens={self.args.calibration_tokens}")
        return flags

    def slug(self, name: str) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()

    def perplexity(self, name: str, flags):
        t0 = time.perf_counter()
        if flags is None:
            out = run([self.runner, self.onnx, "--perplexity", self.heldout, "--json"],
                      "fp32 perplexity", self.args.timeout)
            r = json.loads(out)
            r["weight_bytes"] = None
        else:
            mlir = self.work / f"{self.slug(name)}.mlir"
            run([self.compile, self.onnx, "--emit=llm", "--quantize=w8a8", *flags, *self.calibration_flags(),
                 "-o", mlir], f"compile {name}", self.args.timeout)
            r = json.loads(run([self.runner, mlir, "--engine=quantized", "--perplexity", self.heldout,
                                "--json"], f"perplexity {name}", self.args.timeout))
            r["weight_bytes"], r["code_bytes"] = weight_bytes(mlir)
            if not self.args.keep:
                mlir.unlink()
        r["seconds"] = time.perf_counter() - t0
        return r

    def report_code_bytes(self):
        """The compile report's quantized_weight_bytes of the W8A8 binary."""
        flb, rep = self.work / "w8a8.flb", self.work / "w8a8.json"
        run([self.compile, self.onnx, *self.calibration_flags(), "-o", flb,
             f"--report={rep}", "--quiet"], "compile W8A8 binary", self.args.timeout)
        value = json.loads(rep.read_text())["quantized_weight_bytes"]
        flb.unlink()
        return value

    def decode_7b(self, name: str, flags):
        import simulate_7b
        a = self.args
        ns = Namespace(work=a.work_7b, shared=a.shared_7b, small=a.small_7b, no_probe=False,
                       compiler=str(self.compile), max_context=2048)
        Path(a.work_7b).mkdir(parents=True, exist_ok=True)
        d, _ = simulate_7b.find_model("llama", ns)
        flb = Path(a.work_7b) / f"accuracy-{self.slug(name)}.flb"
        rep = flb.with_suffix(".json")
        run([self.compile, d / "decoder_model.onnx", "--target=u280", "--max-context=2048",
             "--calibration=none", *(flags or []), "-o", flb, f"--report={rep}", "--quiet"],
            f"compile {name} (7B)", a.timeout_7b)
        report = json.loads(rep.read_text())
        prefill, decode = (int(x) for x in a.case_7b.split(":"))
        tokens = ",".join(str(1 + i % (report["vocab_size"] - 1)) for i in range(prefill))
        r = json.loads(run([self.runner, flb, "--timing-only", "--tokens", tokens,
                            "--max-new-tokens", str(decode), "--json"], f"7B run {name}", a.timeout_7b))
        flb.unlink(missing_ok=True)
        return r["tokens_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--model", default=str(DEFAULT_MODEL), help="model directory (heldout.txt, calibration.txt)")
    ap.add_argument("--work", default="/tmp/flightllm-accuracy")
    ap.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS), metavar="NAME",
                    help="settings to run (default all): " + ", ".join(repr(s) for s in SETTINGS))
    ap.add_argument("--heldout-bytes", type=int, default=0, help="score only the first N held-out bytes")
    ap.add_argument("--calibration-tokens", type=int, default=0,
                    help="flightllm-compile --calibration-tokens (default: the compiler's)")
    ap.add_argument("--jobs", type=int, default=1, help="settings run at once")
    ap.add_argument("--no-report-check", action="store_true",
                    help="do not compile the W8A8 binary to check the weight byte count against its report")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per compile or run")
    ap.add_argument("--keep", action="store_true", help="keep the compiled programs in --work")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if a selected setting failed or missed its target")
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--with-7b", action="store_true", help="simulated decode tokens/s of a LLaMA2-7B-shaped model")
    ap.add_argument("--small-7b", action="store_true", help="with --with-7b: the 2-layer stand-in (seconds)")
    ap.add_argument("--case-7b", default="128:512", help="PREFILL:DECODE of the 7B run")
    ap.add_argument("--work-7b", default="/tmp/flightllm-sim7b")
    ap.add_argument("--shared-7b", default="/tmp/flightllm-bench")
    ap.add_argument("--timeout-7b", type=float, default=3600)
    args = ap.parse_args()

    bench = Bench(args)
    names = [n for n in SETTINGS if n in args.settings]
    if "fp32" not in names:
        names.insert(0, "fp32")  # the baseline of every ratio
    print(f"model {args.model}; held-out {bench.heldout.stat().st_size} bytes; "
          f"calibration {bench.calibration.stat().st_size} bytes", flush=True)
    def measure(name):
        flags = SETTINGS[name]
        row = {"setting": name, "flags": " ".join(flags) if flags is not None else "(reference engine)"}
        try:
            row.update(bench.perplexity(name, flags))
            print(f"{name}: perplexity {row['perplexity']:.5f} over {row['tokens']} tokens "
                  f"({row['seconds']:.0f} s)", flush=True)
        except Failed as e:
            row["status"] = "not supported by this build" if e.kind == "unsupported" else "failed"
            row["error"] = str(e)
            print(f"{name}: {row['status']}: {e}", flush=True)
        if args.with_7b and flags is not None:  # the accelerator has no fp32 path
            try:
                row["tokens_per_s_7b"] = bench.decode_7b(name, flags)
            except Failed as e:
                row["error_7b"] = str(e)
            except Exception as e:  # the model generator
                row["error_7b"] = f"{type(e).__name__}: {e}"
        return row

    # fp32 first, alone: every ratio needs it, and a broken build shows at once.
    rows = [measure(names[0])]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows += list(pool.map(measure, names[1:]))

    fp32 = next(r for r in rows if r["setting"] == "fp32")
    base = fp32.get("perplexity")
    fp32_bytes = None
    try:
        w8 = next((r for r in rows if r["setting"] == "W8A8" and "code_bytes" in r), None)
        if w8 and not args.no_report_check:
            reported = bench.report_code_bytes()
            w8["report_quantized_weight_bytes"] = reported
            if reported != w8["code_bytes"]:
                print(f"warning: W8A8 code bytes {w8['code_bytes']} != compile report's "
                      f"quantized_weight_bytes {reported}", flush=True)
        if w8:
            fp32_bytes = 4 * w8["code_bytes"]
    except Failed as e:
        print(f"W8A8 binary: {e}", flush=True)

    failed = []
    for r in rows:
        if base and "perplexity" in r:
            r["increase_pct"] = 100 * (r["perplexity"] / base - 1)
        target = TARGETS.get(r["setting"])
        if target is not None:
            r["target_pct"] = target
            if "increase_pct" in r:
                r["target_met"] = r["increase_pct"] <= target
                if not r["target_met"]:
                    failed.append(f"{r['setting']}: +{r['increase_pct']:.2f}% > +{target}%")
        if r.get("status") == "failed":
            failed.append(f"{r['setting']}: {r['error']}")
        if r.get("report_quantized_weight_bytes", r.get("code_bytes")) != r.get("code_bytes"):
            failed.append(f"{r['setting']}: counted {r['code_bytes']} code bytes, the compile report "
                          f"{r['report_quantized_weight_bytes']}")
    if fp32_bytes:
        fp32["weight_bytes"] = fp32_bytes

    print_table(rows, args, bench)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    if failed:
        print("\nmissed or failed:\n  " + "\n  ".join(failed))
    return 1 if (args.check and failed) else 0


def print_table(rows, args, bench):
    print()
    print(f"Held-out perplexity per byte ({bench.heldout.stat().st_size} bytes of {args.model}/heldout.txt, "
          "non-overlapping 256-byte windows); fp32 = reference engine, others = host quantized engine "
          "(bit-exact with the accelerator), calibrated on calibration.txt. Weight bytes: the matrices' "
          "codes + 4-bit sparse indices + fp16 scales (fp32: 4 bytes per weight).")
    hdr = (f"{'setting':<18} {'perplexity':>10} {'vs fp32':>8} {'target':>7} {'met':>4} {'weight B':>9} "
           f"{'x fp32':>6}" + (f" {'7B tok/s':>9}" if args.with_7b else "") + "  flags")
    print(hdr)
    print("-" * len(hdr))
    fp32_bytes = rows[0].get("weight_bytes")
    for r in rows:
        t7 = ""
        if args.with_7b:
            t7 = f" {r['tokens_per_s_7b']:>9.1f}" if "tokens_per_s_7b" in r else \
                f" {'n/a' if 'error_7b' in r else '':>9}"
        if "perplexity" not in r:
            print(f"{r['setting']:<18} {r['status']}: {r['error'][:150]}{t7}")
            continue
        inc = f"{r['increase_pct']:+.2f}%" if "increase_pct" in r else "n/a"
        tgt = f"+{r['target_pct']:g}%" if "target_pct" in r else ""
        met = ("yes" if r["target_met"] else "NO") if "target_met" in r else ""
        wb = r.get("weight_bytes")
        ratio = f"{wb / fp32_bytes:.3f}" if wb and fp32_bytes else ""
        print(f"{r['setting']:<18} {r['perplexity']:>10.5f} {inc:>8} {tgt:>7} {met:>4} "
              f"{wb if wb else 'n/a':>9} {ratio:>6}{t7}  {r['flags']}")
    for r in rows:
        if "error_7b" in r:
            print(f"7B {r['setting']}: {r['error_7b'][:200]}")
    w8 = next((r for r in rows if "report_quantized_weight_bytes" in r), None)
    if w8:
        print(f"W8A8 code bytes {w8['code_bytes']}, compile report quantized_weight_bytes "
              f"{w8['report_quantized_weight_bytes']}")
    print("host seconds: " + ", ".join(f"{r['setting']} {r['seconds']:.0f}" for r in rows if "seconds" in r))


if __name__ == "__main__":
    sys.exit(main())
