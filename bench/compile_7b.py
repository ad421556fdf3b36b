#!/usr/bin/env python3
"""Compile time, peak memory and instruction size for 7B-class models.

Generates (python/gen_large_model.py, once; --reuse keeps earlier files) a
LLaMA2-7B-shaped and an OPT-6.7B-shaped ONNX model with random weights in
external data, then compiles each with

    flightllm-compile MODEL --target=u280 --max-context=2048 -o OUT.flb --report=OUT.json \
        --calibration=none

measuring the compiler's wall time and peak RSS (ru_maxrss of the child, from
os.wait4), reads the JSON report (keys read defensively: instruction bytes over
all buckets, quantized weight bytes, per-bucket figures) and prints a table
against the targets

    compile time < 120 s,  peak RSS < 1.5 x quantized weight bytes,
    instructions (all buckets) < 64 MB

next to FlightLLM's (FPGA'24) own figures: ~34 MB of instructions for one
128-token prefill stream and ~3.4 MB per decode step at context 2048.

--no-bin replaces the binary step by `--emit=llm --elide-weights -o /dev/null`
(import + raising only; there is no report then, so the instruction columns
read n/a and the quantized weight bytes are estimated as 1 byte per weight).
If the compiler has no --report option yet, --no-bin is implied (with a note).

    /usr/bin/python3 bench/compile_7b.py --build build [--reuse] [--workdir /tmp/flightllm-bench]
    /usr/bin/python3 bench/compile_7b.py --build build --small          # 2 layers, hidden 256 (seconds)
    /usr/bin/python3 bench/compile_7b.py --build build --models llama --delete-after
    /usr/bin/python3 bench/compile_7b.py --build build --models llama --layers 2 \
        --baseline-build /work/main/build      # full width, 2 layers; both compilers, same run

--layers N generates the full-width model with N layers instead of all of
them: every bucket's stream is the same (one shared layer body), only the
weights to pack shrink (2 layers of LLaMA2-7B: 2.7 GB of files instead of
27 GB).  --baseline-build DIR compiles each model a second time with DIR's
flightllm-compile in the same run and prints wall time, CPU time and peak RSS
side by side with their ratios (this build / baseline) and whether the two
binaries are byte-identical.  --read-baseline times `cat` of the model's files
first (the ratio compile / read); --cold evicts the files from the page cache
(posix_fadvise DONTNEED, only those files) before that read and before each
compile, so all of them read the weights cold:

    /usr/bin/python3 bench/compile_7b.py --build build --models llama --reuse \
        --workdir /tmp/NAME-bench --read-baseline --cold --baseline-build OLD/build

The two full-size models take ~27 GB of disk each (--delete-after removes each
model once it is measured).  Exit status 1 if a compile fails or, with
--check, if a target is missed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
import gen_large_model as glm  # noqa: E402

MB = 1_000_000
MIB = 1 << 20

# name -> gen_large_model flags (full size / --small)
MODELS = {
    "llama": {
        "dir": "llama2-7b", "label": "LLaMA2-7B-shaped",
        "full": ["--family", "llama"],
        "small": ["--family", "llama", "--layers", "2", "--hidden", "256", "--heads", "4",
                  "--ffn", "688", "--vocab", "4000", "--max-positions", "2048"],
    },
    "opt": {
        "dir": "opt-6.7b", "label": "OPT-6.7B-shaped",
        "full": ["--family", "opt"],
        "small": ["--family", "opt", "--layers", "2", "--hidden", "256", "--heads", "4",
                  "--ffn", "1024", "--vocab", "4000", "--max-positions", "2048"],
    },
}

TARGET_SECONDS = 120.0
TARGET_RSS_RATIO = 1.5
TARGET_INSTR_BYTES = 64 * MB
FLIGHTLLM_PREFILL_128 = 34 * MB      # one 128-token prefill stream (paper)
FLIGHTLLM_DECODE_2048 = 3.4 * MB     # one decode step at context 2048 (paper)


def run_measured(cmd, log_path):
    """Runs cmd; returns (exit status, seconds, peak RSS bytes of the child (ru_maxrss),
    sampled peaks {"anon": bytes, "file": bytes} of RssAnon / RssFile from /proc).

    The weights are mmapped: weight pages the compiler touches count as file-backed
    RSS (page cache, reclaimable), its own allocations as anonymous RSS."""
    peaks = {"anon": 0, "file": 0}
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        key = {"RssAnon:": "anon", "RssFile:": "file"}.get(line.split(" ", 1)[0].split("\t")[0])
                        if key:
                            peaks[key] = max(peaks[key], int(line.split()[1]) * 1024)
            except OSError:
                pass
            time.sleep(0.2)
        seconds = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    run_measured.cpu_seconds = usage.ru_utime + usage.ru_stime
    return p.returncode, seconds, usage.ru_maxrss * 1024, peaks


def drop_cached(files):
    """Evicts the files' pages from the page cache (posix_fadvise DONTNEED after
    an fsync, so no dirty page stays): the next read of them is cold, without
    dropping the whole machine's cache."""
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def compiler_supports(compiler, option):
    out = subprocess.run([compiler, "--help"], capture_output=True, text=True)
    return f"--{option}" in out.stdout


def ensure_model(name, spec, args):
    """Generates the model (or reuses a matching earlier one); returns (dir, config, gen seconds)."""
    d = Path(args.workdir) / (spec["dir"] + model_suffix(args))
    flags = spec["small" if args.small else "full"] + ["--out", str(d), "--seed", str(args.seed),
                                                       "--quiet"]
    if args.layers and not args.small:
        flags += ["--layers", str(args.layers)]
    if args.with_past:
        flags.append("--with-past")
    want = glm.parse_args(flags)
    cfg_path = d / "config.json"
    if args.reuse and cfg_path.exists() and (d / glm.PREFILL_FILE).exists():
        cfg = json.loads(cfg_path.read_text())
        same = all(cfg.get(k) == v for k, v in (
            ("family", want.family), ("num_layers", want.layers), ("hidden_size", want.hidden),
            ("num_heads", want.heads), ("num_kv_heads", want.kv_heads),
            ("intermediate_size", want.ffn), ("vocab_size", want.vocab),
            ("max_positions", want.max_positions), ("seed", want.seed)))
        if same:
            print(f"{name}: reusing {d} (generated in {cfg['seconds']['total']:.1f} s)", flush=True)
            return d, cfg, None
        print(f"{name}: {d} holds another configuration; regenerating", flush=True)
    print(f"{name}: generating {spec['label']} model in {d} ...", flush=True)
    t0 = time.perf_counter()
    cfg = glm.generate(want)
    return d, cfg, time.perf_counter() - t0


def model_suffix(args):
    """The model directory's suffix: --small or --layers."""
    if args.small:
        return "-small"
    return f"-{args.layers}l" if args.layers else ""


def find_number(obj, *words, exclude=()):
    """The first number whose key (or path) contains all `words` (depth-first)."""
    def walk(o, path):
        if isinstance(o, dict):
            for k, v in o.items():
                p = f"{path}.{k}" if path else str(k)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    key = p.lower()
                    if all(w in key for w in words) and not any(x in key for x in exclude):
                        return p, v
                r = walk(v, p)
                if r:
                    return r
        return None
    return walk(obj, "")


def buckets_of(report):
    for key in ("buckets", "bucket", "streams", "programs"):
        b = report.get(key) if isinstance(report, dict) else None
        if isinstance(b, list) and b and isinstance(b[0], dict):
            return b
        if isinstance(b, dict) and b and all(isinstance(v, dict) for v in b.values()):
            return [dict(v, name=k) for k, v in b.items()]
    return []


def bucket_bytes(b):
    for key in ("bytes", "instruction_bytes", "stream_bytes"):
        if isinstance(b.get(key), (int, float)):
            return b[key]
    return None


def reference_buckets(report, max_context):
    """(prefill bucket covering 128 tokens, decode bucket covering context max_context), if any."""
    def covering(stage, n):
        for b in buckets_of(report):
            lo, hi = b.get("min_length"), b.get("max_length")
            if b.get("stage") == stage and isinstance(lo, int) and isinstance(hi, int) and lo <= n <= hi:
                return b
        return None
    return covering("prefill", 128), covering("decode", max_context)


def print_report(report, verbose=False):
    scalars = {k: v for k, v in report.items() if not isinstance(v, (dict, list))}
    for k, v in scalars.items():
        print(f"    {k}: {v}")
    for k, v in report.items():
        if isinstance(v, dict) and not buckets_of({k: v}):
            flat = {kk: vv for kk, vv in v.items() if not isinstance(vv, (dict, list))}
            if flat:
                print(f"    {k}: " + ", ".join(f"{kk}={vv}" for kk, vv in flat.items()))
    buckets = buckets_of(report)
    if not buckets:
        return
    stages = {}
    for b in buckets:
        stages.setdefault(str(b.get("stage", "?")), []).append(b)
    for stage, bs in stages.items():
        sizes = [x for x in (bucket_bytes(b) for b in bs) if x is not None]
        if sizes:
            print(f"    {stage} buckets: {len(bs)}, instruction bytes {sum(sizes)} "
                  f"(smallest {min(sizes)}, largest {max(sizes)})")
        else:
            print(f"    {stage} buckets: {len(bs)}")
    cols = []
    for b in buckets:
        for k, v in b.items():
            if k not in cols and not isinstance(v, (dict, list)):
                cols.append(k)
    width = {c: max(10, len(str(c))) for c in cols}
    rows = buckets if verbose else [b for b in reference_buckets(report, report.get("max_context", 2048)) if b]
    if rows:
        print("    " + ("buckets:" if verbose else "buckets compared with FlightLLM's figures:"))
        print("      " + "  ".join(f"{c:>{width[c]}}" for c in cols))
        for b in rows:
            print("      " + "  ".join(f"{str(b.get(c, '')):>{width[c]}}" for c in cols))


def fmt_mb(x):
    if x is None:
        return "n/a"
    return f"{x / MB:.1f} MB" if x >= 100_000 else f"{x / 1000:.1f} kB"


def human(n, unit="B"):
    """1234567 -> '1.23 MB' (decimal units); parameters with unit ''."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.2f} {prefix}{unit}".rstrip()
    return f"{n} {unit}".rstrip()


def anon_file(r):
    """Sampled peaks of anonymous / file-backed RSS, in GiB (or MiB when small)."""
    a, f = r["sampled_peak_anon_bytes"], r["sampled_peak_file_bytes"]
    if max(a, f) >= 1 << 30:
        return f"{a / (1 << 30):.1f}/{f / (1 << 30):.1f} GiB"
    return f"{a / MIB:.0f}/{f / MIB:.0f} MiB"


def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--workdir", default="/tmp/flightllm-bench")
    ap.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["llama", "opt"])
    ap.add_argument("--small", action="store_true", help="2-layer hidden-256 models (smoke run)")
    ap.add_argument("--reuse", action="store_true", help="reuse generated models with the same configuration")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--with-past", action="store_true", help="also generate decoder_with_past_model.onnx")
    ap.add_argument("--bin", dest="bin", action="store_true", default=True,
                    help="compile to a binary with a report (default)")
    ap.add_argument("--no-bin", dest="bin", action="store_false",
                    help="only import and raise (--emit=llm), no binary or report")
    ap.add_argument("--calibration", default="none",
                    help="--calibration for the binary step (default 'none': no host calibration run, "
                         "which a 7B fp32 model would need ~27 GB for)")
    ap.add_argument("--target", default="u280")
    ap.add_argument("--max-context", type=int, default=2048)
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                    help="further flightllm-compile options (the rest of the command line)")
    ap.add_argument("--delete-after", action="store_true", help="delete each model once measured")
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    ap.add_argument("--verbose", action="store_true", help="print every bucket of the report")
    ap.add_argument("--json", help="also write the measurements to this file")
    ap.add_argument("--layers", type=int,
                    help="full-width model with this many layers (the streams do not depend on it)")
    ap.add_argument("--baseline-build",
                    help="also compile each model with this build's flightllm-compile, same run")
    ap.add_argument("--read-baseline", action="store_true",
                    help="before each compile, time `cat` of the model's files to /dev/null "
                         "(issue 12's baseline: compile <= 1.5x reading the weights once)")
    ap.add_argument("--cold", action="store_true",
                    help="evict the model's files from the page cache before the read baseline "
                         "and before each compile (posix_fadvise), so every one reads them cold")
    args = ap.parse_args()

    compiler = str(Path(args.build) / "bin" / "flightllm-compile")
    if args.bin and not compiler_supports(compiler, "report"):
        print("note: this flightllm-compile has no --report yet: measuring --emit=llm instead (--no-bin)")
        args.bin = False
    out_dir = Path(args.workdir) / "compile_7b-out"
    out_dir.mkdir(parents=True, exist_ok=True)

    rows = []
    failed = False
    for name in args.models:
        spec = MODELS[name]
        d, cfg, gen_s = ensure_model(name, spec, args)
        model = d / glm.PREFILL_FILE
        stem = out_dir / (spec["dir"] + model_suffix(args))
        report_path = Path(f"{stem}.json")
        if args.bin:
            cmd = [compiler, str(model), f"--target={args.target}", f"--max-context={args.max_context}",
                   "-o", f"{stem}.flb", f"--report={report_path}"]
            if args.calibration:
                cmd.append(f"--calibration={args.calibration}")
        else:
            cmd = [compiler, str(model), "--emit=llm", "--elide-weights", "-o", os.devnull]
        cmd += args.extra
        if report_path.exists():
            report_path.unlink()
        read_s = None
        files = sorted(str(f) for f in d.iterdir() if f.name == glm.PREFILL_FILE
                       or f.suffix not in (".onnx", ".json"))
        if args.read_baseline:
            if args.cold:
                drop_cached(files)
            t0 = time.perf_counter()
            subprocess.run(["cat"] + files, stdout=subprocess.DEVNULL, check=True)
            read_s = time.perf_counter() - t0
            print(f"{name}: read baseline: cat {' '.join(files)} > /dev/null: {read_s:.1f} s", flush=True)
        print(f"{name}: {' '.join(cmd)}", flush=True)
        if args.cold:
            drop_cached(files)
        status, seconds, rss, sampled = run_measured(cmd, f"{stem}.log")
        cpu = run_measured.cpu_seconds
        baseline = None
        if args.baseline_build and args.bin:
            base_cmd = [str(Path(args.baseline_build) / "bin" / "flightllm-compile")] + cmd[1:]
            base_cmd = [a.replace(str(stem), f"{stem}-baseline") for a in base_cmd]
            print(f"{name}: baseline: {' '.join(base_cmd)}", flush=True)
            if args.cold:
                drop_cached(files)
            b_status, b_seconds, b_rss, _ = run_measured(base_cmd, f"{stem}-baseline.log")
            same = (b_status == 0 and status == 0 and
                    Path(f"{stem}.flb").read_bytes() == Path(f"{stem}-baseline.flb").read_bytes())
            baseline = dict(ok=b_status == 0, seconds=b_seconds, cpu_seconds=run_measured.cpu_seconds,
                            peak_rss_bytes=b_rss, identical_binary=same)
        if read_s:
            print(f"{name}: compile {seconds:.1f} s = {seconds / read_s:.2f}x the read", flush=True)
            if baseline:
                print(f"{name}: baseline compile {baseline['seconds']:.1f} s = "
                      f"{baseline['seconds'] / read_s:.2f}x the read", flush=True)
        if status != 0:
            print(f"{name}: flightllm-compile failed (exit {status}); log {stem}.log:")
            print(Path(f"{stem}.log").read_text()[-3000:])
            failed = True
        report = {}
        if args.bin and report_path.exists():
            report = json.loads(report_path.read_text())
            print(f"  report {report_path}:")
            print_report(report, args.verbose)
        fp32_bytes = cfg["weight_bytes"]
        q = find_number(report, "quant", "byte") or find_number(report, "weight", "byte")
        qbytes, qsource = (q[1], q[0]) if q else (cfg["parameters"], "estimate: 1 byte per weight")
        instr = (find_number(report, "total", "instr", "byte")
                 or find_number(report, "instr", "byte", exclude=("bucket",)))
        instr_bytes = instr[1] if instr else None
        pre, dec = reference_buckets(report, args.max_context) if report else (None, None)
        rows.append(dict(
            prefill_128_bytes=bucket_bytes(pre) if pre else None,
            decode_at_context_bytes=bucket_bytes(dec) if dec else None,
            model=(f"{name} small ({cfg['num_layers']}L, h{cfg['hidden_size']})" if args.small
                   else f"{spec['label']}, {cfg['num_layers']}L" if args.layers
                   else spec["label"]), dir=str(d), ok=status == 0,
            parameters=cfg["parameters"], fp32_weight_bytes=fp32_bytes,
            files_bytes=sum(cfg["files"].values()),
            generate_seconds=gen_s if gen_s is not None else cfg["seconds"]["total"],
            generated_now=gen_s is not None, mode="bin" if args.bin else "llm",
            compile_seconds=seconds, compile_cpu_seconds=cpu, baseline=baseline,
            read_seconds=read_s, peak_rss_bytes=rss,
            sampled_peak_anon_bytes=sampled["anon"], sampled_peak_file_bytes=sampled["file"],
            quantized_weight_bytes=qbytes, quantized_weight_source=qsource,
            rss_over_quantized=rss / qbytes, rss_over_fp32=rss / fp32_bytes,
            instruction_bytes=instr_bytes, instruction_source=instr[0] if instr else None,
            pass_seconds=seconds < TARGET_SECONDS if status == 0 else False,
            pass_rss=(rss / qbytes < TARGET_RSS_RATIO) if status == 0 else False,
            pass_instructions=None if instr_bytes is None else instr_bytes < TARGET_INSTR_BYTES,
            report=report))
        if args.delete_after:
            shutil.rmtree(d, ignore_errors=True)
            for suffix in (".flb",):
                Path(f"{stem}{suffix}").unlink(missing_ok=True)

    print()
    print(f"mode: {'binary (--target=' + args.target + f', --max-context={args.max_context})' if args.bin else '--emit=llm (import + raise, no binary)'}")
    hdr = (f"{'model':<28} {'params':>8} {'fp32':>9} {'gen s':>7} {'compile s':>9} {'peak RSS':>10} {'anon/file':>13} "
           f"{'quant':>10} {'RSS/quant':>9} {'RSS/fp32':>8} {'instr':>10}  {'<120s':>5} {'<1.5x':>5} {'<64MB':>5}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        qmark = "~" if r["quantized_weight_source"].startswith("estimate") else ""
        print(f"{r['model']:<28} {human(r['parameters'], ''):>8} {human(r['fp32_weight_bytes']):>9} "
              f"{r['generate_seconds']:>7.1f} {r['compile_seconds']:>9.1f} {r['peak_rss_bytes'] / MIB:>6.0f} MiB "
              f"{anon_file(r):>13} "
              f"{qmark + human(r['quantized_weight_bytes']):>10} {r['rss_over_quantized']:>9.3f} "
              f"{r['rss_over_fp32']:>8.3f} {fmt_mb(r['instruction_bytes']):>10}  "
              f"{verdict(r['pass_seconds']):>5} {verdict(r['pass_rss']):>5} {verdict(r['pass_instructions']):>5}")
    print()
    print(f"{'instruction streams':<28} {'prefill <=128':>14} {'decode @' + str(args.max_context):>14} {'all buckets':>12}")
    print(f"{'FlightLLM (FPGA24) LLaMA2-7B':<28} {fmt_mb(FLIGHTLLM_PREFILL_128):>14} "
          f"{fmt_mb(FLIGHTLLM_DECODE_2048) + ('' if args.max_context == 2048 else ' @2048'):>14} {'':>12}")
    for r in rows:
        print(f"{r['model']:<28} {fmt_mb(r['prefill_128_bytes']):>14} {fmt_mb(r['decode_at_context_bytes']):>14} "
              f"{fmt_mb(r['instruction_bytes']):>12}")
    print()
    if any(r["baseline"] for r in rows):
        print(f"against {args.baseline_build} (same run; ratio = this build / baseline)")
        print(f"{'model':<28} {'wall s':>15} {'ratio':>6} {'CPU s':>15} {'ratio':>6} "
              f"{'peak RSS MiB':>15} {'ratio':>6}  same binary")
        for r in rows:
            b = r["baseline"]
            if not b:
                continue
            print(f"{r['model']:<28} {r['compile_seconds']:>6.1f} / {b['seconds']:>6.1f} "
                  f"{r['compile_seconds'] / b['seconds']:>6.3f} "
                  f"{r['compile_cpu_seconds']:>6.1f} / {b['cpu_seconds']:>6.1f} "
                  f"{r['compile_cpu_seconds'] / b['cpu_seconds']:>6.3f} "
                  f"{r['peak_rss_bytes'] / MIB:>6.0f} / {b['peak_rss_bytes'] / MIB:>6.0f} "
                  f"{r['peak_rss_bytes'] / b['peak_rss_bytes']:>6.3f}  "
                  f"{'yes' if b['identical_binary'] else 'NO'}")
        print()
    if any(r["quantized_weight_source"].startswith("estimate") for r in rows):
        print("~ quantized weight bytes estimated as 1 byte per weight (no report)")
    print("gen s: seconds to generate the model (from its config.json when reused)")
    print("peak RSS: ru_maxrss of the compiler (targets use it); anon/file: sampled peaks of its anonymous "
          "and file-backed (mmapped weights, page cache) RSS")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    missed = any(not (r["pass_seconds"] and r["pass_rss"] and r["pass_instructions"] is not False) for r in rows)
    sys.exit(1 if failed or (args.check and missed) else 0)


if __name__ == "__main__":
    main()
