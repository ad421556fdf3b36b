#!/usr/bin/env python3
"""Simulated prefill latency and decode throughput of 7B-class models vs FlightLLM.

For each (model, target) pair -- LLaMA2-7B-shaped on u280 and vhk158, OPT-6.7B-shaped
on u280 (python/gen_large_model.py, random weights) -- compiles once

    flightllm-compile MODEL --target=T --max-context=2048 --calibration=none \
        -o WORK/NAME-T.flb --report=WORK/NAME-T.json --quiet

then, for every [prefill, decode] case (default [128, 512], [512, 1024], [512, 1536]),
runs the binary through the embedded runtime on the simulator without data

    flightllm-run WORK/NAME-T.flb --timing-only --tokens 1,2,...,PREFILL \
        --max-new-tokens DECODE --json

and prints the simulated prefill latency, the decode throughput (decode steps per
simulated second over the whole generation, i.e. averaged over the contexts
prefill+1 .. prefill+decode-1), the decode HBM bandwidth utilization and MAC
utilization, and the HBM roofline:

    roofline tokens/s = HBM peak (channels x GB/s per channel, targets/*.json)
                        / bytes read per decode token

The bytes per decode token are the compile report's per-bucket `weight_load_bytes +
kv_load_bytes`, averaged over the decode steps actually run (step j runs the decode
bucket holding context prefill+j; a bucket reads the KV cache up to its max_length).
The roofline is also shown derated by the target's HBM efficiency within a channel
(targets/*.json: 0.924, the fraction of peak Shuhai measured on the U280 for long
sequential reads, 425 of 460 GB/s; the rate the simulator gives a channel).  An own count (quantized weight bytes
+ 2 x layers x hidden x average context INT8 KV bytes) is printed as a cross-check.

FlightLLM's published figures (FACTS.md) stand next to ours: 55 tokens/s LLaMA2-7B on
the U280 (lengths not stated: compared with every U280 LLaMA row); VHK158 [128, 512]
103.5 tokens/s with 289.9 ms prefill, [512, 1536] 90.1 tokens/s.  FlightLLM reads
fewer bytes per token (mixed INT8/INT4 weights with N:M sparsity); our binaries hold
dense INT8 weights, which the roofline column makes visible.

Models: the ONNX files are looked up in WORK/<dir>, then in --shared
(/tmp/flightllm-bench, where bench/compile_7b.py generates them), else generated into
WORK (~27 GB and ~4 min each) -- but only after a one-layer model of the same width
compiled (seconds; --no-probe skips this), so a compiler failure costs no 27 GB.  --reuse keeps an existing .flb + report in WORK
instead of recompiling.  --delete-after removes each .flb (and models this script
generated) when its cases are done.

    /usr/bin/python3 bench/simulate_7b.py --build build
    /usr/bin/python3 bench/simulate_7b.py --build build --models llama --targets vhk158 --reuse
    /usr/bin/python3 bench/simulate_7b.py --build build --cases 128:512 --small   # 2-layer models, seconds

--cores N [N ...] compiles each (model, target) once per core count (flightllm-compile
--cores; 0 = all of the target's, the default runs 1 and all) and prints a row per count;
--compile-flags '...' passes further flightllm-compile flags (e.g. the compression settings
once the lowering encodes them) and labels the rows with them.

--per-layer measures the full-depth models without compiling them: for each (model,
target, cores) it compiles sizes-only models of the full width with 1 and 2 layers
(python/gen_large_model.py --sizes-only --layers N, in --shared), runs every case on both
and extrapolates every simulated count (prefill cycles, each decode step's cycles, HBM
bytes, MACs, energy by source, the report's bytes per token) linearly to the full depth:
v(32) = v(1) + 31 * (v(2) - v(1)).  The streams loop over one layer body and a SYS
barrier closes every iteration, so each layer starts from drained queues; the script
checks it with a 3-layer model on the first multi-core (model, target, cores): v(3) - v(2)
must equal v(2) - v(1) for prefill and every decode step's cycles, or the extrapolation
is refused.

Exit status 0 when every compile and run succeeded, or when failures were only
reported (the default); --strict makes any failure exit 1.
"""
import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "python"))

MODELS = {
    "llama": {"dir": "llama2-7b", "label": "LLaMA2-7B", "family": "llama",
              "small": ["--layers", "2", "--hidden", "256", "--heads", "4", "--ffn", "688",
                        "--vocab", "4000", "--max-positions", "2048"]},
    "opt": {"dir": "opt-6.7b", "label": "OPT-6.7B", "family": "opt",
            "small": ["--layers", "2", "--hidden", "256", "--heads", "4", "--ffn", "1024",
                      "--vocab", "4000", "--max-positions", "2048"]},
}
# (model, target) pairs of the study
PAIRS = [("llama", "u280"), ("llama", "vhk158"), ("opt", "u280"), ("opt", "vhk158")]
DEFAULT_CASES = "128:512,512:1024,512:1536"

# FlightLLM (FPGA'24), FACTS.md: (model, target, prefill, decode) -> figures;
# prefill/decode None = lengths not published.
PUBLISHED = {
    ("llama", "u280", None, None): {"tokens_per_s": 55.0},
    ("llama", "vhk158", 128, 512): {"tokens_per_s": 103.5, "prefill_ms": 289.9},
    ("llama", "vhk158", 512, 1536): {"tokens_per_s": 90.1},
}

GB = 1e9


def published(model, target, p, d):
    return PUBLISHED.get((model, target, p, d)) or PUBLISHED.get((model, target, None, None))


def run_logged(cmd, log_path, timeout=None):
    t0 = time.perf_counter()
    with open(log_path, "wb") as log:
        try:
            p = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
            status = p.returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
    return status, time.perf_counter() - t0


def tail(path, n=1500):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    # the first error line is more telling than a stack dump
    for line in text.splitlines():
        if "error" in line.lower():
            return line.strip()[:400]
    return text[-n:]


class ProbeFailed(Exception):
    pass


def model_dirname(name, args):
    return MODELS[name]["dir"] + ("-small" if args.small else "-sizes" if args.sizes_only else "")


def find_model(name, args):
    spec = MODELS[name]
    dirname = model_dirname(name, args)
    for base in (Path(args.work), Path(args.shared)):
        d = base / dirname
        if (d / "decoder_model.onnx").exists() and (d / "config.json").exists():
            cfg = json.loads((d / "config.json").read_text())
            want_layers = 2 if args.small else 32
            if cfg.get("num_layers") == want_layers and cfg.get("family") == spec["family"]:
                return d, False
    d = Path(args.work) / dirname
    if not args.small and not args.no_probe:
        # Generating a full-size model costs ~4 min and ~27 GB: first compile one layer of
        # the same width (seconds, ~1 GB) so a lowering failure shows before that.
        probe = Path(args.work) / f"{spec['dir']}-probe"
        print(f"{name}: probing the compiler on one {spec['label']}-width layer ({probe}) ...", flush=True)
        subprocess.run([sys.executable, str(REPO / "python" / "gen_large_model.py"), "--family", spec["family"],
                        "--layers", "1", "--vocab", "4000", "--out", str(probe), "--quiet"], check=True)
        log = Path(args.work) / f"{spec['dir']}-probe.log"
        status, _ = run_logged([args.compiler, str(probe / "decoder_model.onnx"), "--target=u280",
                                f"--max-context={args.max_context}", "--calibration=none",
                                "-o", str(probe / "probe.flb"), "--quiet"], log)
        shutil.rmtree(probe, ignore_errors=True)
        if status != 0:
            raise ProbeFailed(f"a one-layer {spec['label']}-width model does not compile (exit {status}), "
                              f"so the full model was not generated: {tail(log)}")
    print(f"{name}: generating {spec['label']}-shaped model in {d} (python/gen_large_model.py) ...",
          flush=True)
    flags = (["--family", spec["family"], "--out", str(d), "--quiet"] + (spec["small"] if args.small else [])
             + (["--sizes-only"] if args.sizes_only else []))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(REPO / "python" / "gen_large_model.py")] + flags, check=True)
    print(f"{name}: generated in {time.perf_counter() - t0:.0f} s", flush=True)
    return d, True


# flightllm-run --json counts that grow linearly with the depth (per-layer mode)
LINEAR_COUNTS = ["prefill_cycles", "decode_cycles", "prefill_hbm_bytes", "decode_hbm_bytes",
                 "prefill_macs", "decode_macs", "prefill_energy_j"]
FULL_LAYERS = 32


def per_layer_model(name, layers, args):
    """A sizes-only model of the family's full width with `layers` layers (no disk)."""
    spec = MODELS[name]
    d = Path(args.shared) / f"{spec['dir']}-L{layers}-sizes"
    if not ((d / "decoder_model.onnx").exists() and (d / "config.json").exists()):
        print(f"{name}: generating a {layers}-layer sizes-only {spec['label']}-width model in {d}", flush=True)
        subprocess.run([sys.executable, str(REPO / "python" / "gen_large_model.py"), "--family", spec["family"],
                        "--layers", str(layers), "--sizes-only", "--out", str(d), "--quiet"], check=True)
    return d


def extrapolate(runs, reports, layers):
    """runs/reports at depths 1 and 2 (and optionally 3) -> the run dict and report at
    `layers`, every linear count v(1) + (layers - 1) * (v(2) - v(1)); raises if a
    3-layer run is given and is not on that line."""
    r1, r2 = runs[0], runs[1]
    if len(runs) > 2:
        r3 = runs[2]
        checks = [(k, r1[k], r2[k], r3[k]) for k in ("prefill_cycles", "decode_cycles")]
        checks += [(f"decode step {i}", a, b, c) for i, (a, b, c) in
                   enumerate(zip(r1["decode_step_cycles"], r2["decode_step_cycles"], r3["decode_step_cycles"]))]
        bad = [(k, a, b, c) for k, a, b, c in checks if c - b != b - a]
        if bad:
            raise RuntimeError("per-layer cost not linear: " + "; ".join(
                f"{k}: {a}, {b}, {c}" for k, a, b, c in bad[:3]))
    lin = lambda a, b: a + (layers - 1) * (b - a)
    out = dict(r2)
    for k in LINEAR_COUNTS:
        if k in r1 and k in r2:
            out[k] = lin(r1[k], r2[k])
    out["decode_step_cycles"] = [lin(a, b) for a, b in zip(r1["decode_step_cycles"], r2["decode_step_cycles"])]
    src1 = r1.get("decode_energy_j_per_token_by_source", {})
    src2 = r2.get("decode_energy_j_per_token_by_source", {})
    out["decode_energy_j_per_token"] = sum(lin(src1[k], src2[k]) for k in src1 if k in src2)
    clock = r2["clock_mhz"] * 1e6
    out["prefill_ms"] = out["prefill_cycles"] / clock * 1e3
    seconds = out["decode_cycles"] / clock
    steps = r2["decode_steps"]
    out["tokens_per_s"] = steps / seconds if seconds else 0
    out["decode_ms_per_token"] = seconds / steps * 1e3 if steps else 0
    out["decode_hbm_gb_per_s"] = out["decode_hbm_bytes"] / seconds / GB if seconds else 0
    out["decode_average_w"] = out["decode_energy_j_per_token"] * out["tokens_per_s"]
    rep = dict(reports[1])
    b1 = {(b["stage"], b["min_length"]): b for b in reports[0]["buckets"]}
    rep["buckets"] = []
    for b in reports[1]["buckets"]:
        a = b1[(b["stage"], b["min_length"])]
        nb = dict(b)
        for k in ("weight_load_bytes", "kv_load_bytes"):
            nb[k] = lin(a[k], b[k])
        rep["buckets"].append(nb)
    rep["quantized_weight_bytes"] = lin(reports[0]["quantized_weight_bytes"], reports[1]["quantized_weight_bytes"])
    return out, rep


def make_row(model, target, cores, setting, prefill, decode, r, report, cfg, wall, compile_s):
    """One table row from a flightllm-run --json result and the compile report."""
    peak, eff, mv_rate = target_hbm(target, cores)
    wkv = decode_bytes(report, prefill, decode)
    per_token = (wkv[0] + wkv[1]) if wkv else None
    own = own_bytes(report, cfg, prefill, decode) if "num_layers" in cfg else None
    row = dict(
        model=model, target=target, cores=cores, setting=setting,
        prefill=prefill, decode=decode,
        prefill_ms=r["prefill_ms"], tokens_per_s=r["tokens_per_s"],
        decode_ms_per_token=r["decode_ms_per_token"], decode_steps=r.get("decode_steps"),
        hbm_util=r["decode_hbm_bandwidth_utilization"], hbm_gb_per_s=r.get("decode_hbm_gb_per_s"),
        mac_util=r.get("decode_mac_utilization"), prefill_hbm_util=r.get("prefill_hbm_bandwidth_utilization"),
        prefill_mac_util=r.get("prefill_mac_utilization"),
        j_per_token=r.get("decode_energy_j_per_token"), watts=r.get("decode_average_w"),
        host_seconds=r.get("host_seconds"), wall_seconds=wall, compile_seconds=compile_s,
        weight_bytes_per_token=wkv[0] if wkv else None, kv_bytes_per_token=wkv[1] if wkv else None,
        bytes_per_token=per_token, own_bytes_per_token=own,
        hbm_peak_gb_per_s=peak / GB, hbm_efficiency=eff,
        roofline_tokens_per_s=peak / per_token if per_token else None,
        roofline_eff_tokens_per_s=peak * eff / per_token if per_token else None,
        # INT8: one MAC per weight byte and per K/V byte read (QK^T, PV)
        mv_roofline_tokens_per_s=mv_rate / per_token if per_token else None,
        published=published(model, target, prefill, decode))
    row["pct_roofline"] = (100 * row["tokens_per_s"] / row["roofline_tokens_per_s"]
                           if row["roofline_tokens_per_s"] else None)
    row["pct_roofline_eff"] = (100 * row["tokens_per_s"] / row["roofline_eff_tokens_per_s"]
                               if row["roofline_eff_tokens_per_s"] else None)
    return row


def record_failure(results, failures, msg, **row):
    print(f"  {msg}", flush=True)
    failures.append((row["model"], row["target"], msg))
    results.append(dict(row, error=msg))


def run_case(runner, flb, vocab, prefill, decode, timeout):
    """flightllm-run --timing-only --json of one case: (result, wall seconds) or an error."""
    tokens = ",".join(str(1 + i % (vocab - 1)) for i in range(prefill))
    cmd = [runner, str(flb), "--timing-only", "--tokens", tokens, "--max-new-tokens", str(decode), "--json"]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"flightllm-run timed out after {timeout:.0f} s")
    if p.returncode != 0:
        raise RuntimeError(f"flightllm-run failed (exit {p.returncode}): {(p.stderr or p.stdout).strip()[-400:]}")
    return json.loads(p.stdout), time.perf_counter() - t0


def per_layer_rows(model, target, cores, setting, extra, cases, args, check_linear, results, failures):
    """--per-layer: 1- and 2-layer (and, with check_linear, 3-layer) sizes-only models
    of the full width, extrapolated to FULL_LAYERS."""
    runner = str(Path(args.build) / "bin" / "flightllm-run")
    depths = (1, 2, 3) if check_linear else (1, 2)
    t = target_info(target)
    bins = []
    for layers in depths:
        d = per_layer_model(model, layers, args)
        tag = "".join(ch if ch.isalnum() else "_" for ch in "".join(extra))
        stem = Path(args.work) / (f"{d.name}-{target}-c{cores}" + (f"-{tag}" if tag else ""))
        flb, rep, log = Path(f"{stem}.flb"), Path(f"{stem}.json"), Path(f"{stem}.log")
        if not (args.reuse and flb.exists() and rep.exists()):
            cmd = [args.compiler, str(d / "decoder_model.onnx"), f"--target={target}",
                   f"--max-context={args.max_context}", "--calibration=none", "--no-verify-raising",
                   f"--cores={cores}"] + extra + ["-o", str(flb), f"--report={rep}", "--quiet"]
            print(f"{model}/{target}/{cores}c L{layers}: {' '.join(cmd)}", flush=True)
            status, secs = run_logged(cmd, log)
            if status != 0 or not flb.exists():
                msg = f"compile failed (exit {status}): {tail(log)}"
                print(f"  {msg}", flush=True)
                failures.append((model, target, msg))
                results.append(dict(model=model, target=target, cores=cores, setting=setting, error=msg))
                return
            print(f"  compiled in {secs:.0f} s", flush=True)
        bins.append((flb, json.loads(rep.read_text())))
    # The full model's config, else the 1-layer model's at the full depth (the
    # same widths and heads: the 4-bit KV count needs the head size).
    full_cfg = Path(args.shared) / MODELS[model]["dir"] / "config.json"
    cfg = json.loads((full_cfg if full_cfg.exists() else
                      per_layer_model(model, 1, args) / "config.json").read_text())
    cfg["num_layers"] = FULL_LAYERS
    clock = t["clock_mhz"] * 1e6
    peak_per_cycle = t["hbm"]["channels"] * t["hbm"]["gb_per_s_per_channel"] * GB / clock
    mm = t["mm"]["channels"] * t["mm"]["k"] * t["mm"]["tokens"] * cores
    mv = t["mv"]["channels"] * t["mv"]["k"] * t["mv"]["tokens"] * cores
    for prefill, decode in cases:
        try:
            runs, wall = [], 0.0
            for flb, rep in bins:
                r, w = run_case(runner, flb, rep["vocab_size"], prefill, decode, args.run_timeout)
                runs.append(r)
                wall += w
            r, report = extrapolate(runs, [rep for _, rep in bins], FULL_LAYERS)
        except RuntimeError as e:
            record_failure(results, failures, str(e), model=model, target=target, cores=cores,
                           setting=setting, prefill=prefill, decode=decode)
            continue
        r["decode_hbm_bandwidth_utilization"] = r["decode_hbm_bytes"] / (r["decode_cycles"] * peak_per_cycle)
        r["prefill_hbm_bandwidth_utilization"] = r["prefill_hbm_bytes"] / (r["prefill_cycles"] * peak_per_cycle)
        r["decode_mac_utilization"] = r["decode_macs"] / (r["decode_cycles"] * mv)
        r["prefill_mac_utilization"] = r["prefill_macs"] / (r["prefill_cycles"] * mm)
        row = make_row(model, target, cores, setting, prefill, decode, r, report, cfg, wall, None)
        row["extrapolated_from_layers"] = list(depths)
        results.append(row)
        print(f"{model}/{target}/{cores}c [{prefill}, {decode}] (per-layer, {FULL_LAYERS} layers): "
              f"prefill {row['prefill_ms']:.1f} ms, decode {row['tokens_per_s']:.1f} tokens/s, "
              f"HBM {100 * row['hbm_util']:.1f}%, roofline {row['roofline_tokens_per_s']:.1f} tokens/s",
              flush=True)


def target_info(target):
    return json.loads((REPO / "targets" / f"{target}.json").read_text())


def target_hbm(target, cores=1):
    t = target_info(target)
    h = t["hbm"]
    # MV MACs/s of the cores used
    mv = cores * t["mv"]["channels"] * t["mv"]["k"] * t["mv"]["tokens"] * t["clock_mhz"] * 1e6
    return h["channels"] * h["gb_per_s_per_channel"] * GB, h["efficiency_within_channel"], mv


def decode_bytes(report, prefill, decode):
    """Mean (weight, kv) bytes the decode buckets read over the steps of one case."""
    buckets = [b for b in report.get("buckets", []) if b.get("stage") == "decode"]
    w = kv = 0
    steps = 0
    for j in range(1, decode):
        ctx = prefill + j
        b = next((b for b in buckets if b["min_length"] <= ctx <= b["max_length"]), None)
        if b is None:
            return None
        w += b["weight_load_bytes"]
        kv += b["kv_load_bytes"]
        steps += 1
    return (w / steps, kv / steps) if steps else None


def own_bytes(report, cfg, prefill, decode):
    """Quantized weights (whole model, report) + K and V of every layer at the mean context:
    INT8, or with the 4-bit cache (report kv_bits) half a byte each plus one fp16 value
    scale per token and kv head."""
    avg_ctx = prefill + decode / 2
    kv_dim = cfg["num_kv_heads"] * cfg["head_dim"] if "num_kv_heads" in cfg else cfg["hidden_size"]
    per_token = 2 * kv_dim
    if report.get("kv_bits") == 4:
        head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_heads"]
        per_token = kv_dim + 2 * (kv_dim // head_dim)
    return report["quantized_weight_bytes"] + cfg["num_layers"] * per_token * avg_ctx


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--work", default="/tmp/flightllm-sim7b", help="binaries, reports, logs (and models generated here)")
    ap.add_argument("--shared", default="/tmp/flightllm-bench",
                    help="where bench/compile_7b.py leaves generated models (reused if present)")
    ap.add_argument("--reuse", action="store_true", help="reuse an existing .flb and report in --work")
    ap.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["llama", "opt"])
    ap.add_argument("--targets", nargs="+", choices=["u280", "vhk158"], default=["u280", "vhk158"])
    ap.add_argument("--cases", default=DEFAULT_CASES, help="PREFILL:DECODE,... (default %(default)s)")
    ap.add_argument("--max-context", type=int, default=2048)
    ap.add_argument("--small", action="store_true", help="2-layer, hidden-256 models (a smoke test)")
    ap.add_argument("--sizes-only", action="store_true",
                    help="generate missing models with zero weights as sparse-file holes (no disk, no "
                         "generation time): the simulated timing does not depend on weight values")
    ap.add_argument("--delete-after", action="store_true",
                    help="delete each .flb (and models generated by this script) when done")
    ap.add_argument("--no-probe", action="store_true",
                    help="generate a missing full-size model without first compiling a one-layer probe")
    ap.add_argument("--run-timeout", type=float, default=1800, help="seconds per flightllm-run")
    ap.add_argument("--cores", type=int, nargs="+", default=[1, 0],
                    help="core counts to compile for (flightllm-compile --cores; 0 = all of the target's)")
    ap.add_argument("--compile-flags", default="",
                    help="further flightllm-compile flags, e.g. compression settings (one string)")
    ap.add_argument("--per-layer", action="store_true",
                    help="extrapolate the full depth from 1- and 2-layer sizes-only models of the full width "
                         "(linearity checked with 3 layers on the first configuration)")
    ap.add_argument("--json", help="also write all figures to this file")
    ap.add_argument("--strict", action="store_true", help="exit 1 if any compile or run failed")
    args = ap.parse_args()

    cases = [tuple(int(x) for x in c.split(":")) for c in args.cases.split(",")]
    compiler = args.compiler = str(Path(args.build) / "bin" / "flightllm-compile")
    runner = str(Path(args.build) / "bin" / "flightllm-run")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    pairs = [(m, t, c) for m, t in PAIRS if m in args.models and t in args.targets
             for c in sorted({c or target_info(t)["cores"] for c in args.cores})]
    extra = args.compile_flags.split()
    setting = args.compile_flags.strip() or "W8A8"

    results = []
    failures = []
    generated = {}
    if args.per_layer:
        # the linearity check on the first multi-core configuration (else the first)
        check = next((i for i, (_, _, c) in enumerate(pairs) if c > 1), 0)
        for i, (model, target, cores) in enumerate(pairs):
            per_layer_rows(model, target, cores, setting, extra, cases, args, i == check, results, failures)
        print_table(results)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
        for m, t, msg in failures:
            print(f"  failed: {MODELS[m]['label']} on {t}: {msg}")
        return 1 if (failures and args.strict) else 0
    for model in args.models:
        mpairs = [(m, t, c) for m, t, c in pairs if m == model]
        if not mpairs:
            continue
        d = None
        for _, target, cores in mpairs:
            tag = "".join(ch if ch.isalnum() else "_" for ch in "".join(extra))
            stem = work / (f"{model_dirname(model, args)}-{target}-c{cores}"
                           + (f"-{tag}" if tag else ""))
            flb, rep, log = Path(f"{stem}.flb"), Path(f"{stem}.json"), Path(f"{stem}.log")
            compile_s = None
            if not (args.reuse and flb.exists() and rep.exists()):
                if d is None:
                    try:
                        d, gen = find_model(model, args)
                    except ProbeFailed as e:
                        msg = f"compile failed: {e}"
                        print(f"{model}: {msg}", flush=True)
                        for _, t, c in mpairs:
                            failures.append((model, t, msg))
                            results.append(dict(model=model, target=t, cores=c, setting=setting, error=msg))
                        break
                    generated[model] = (d, gen)
                cmd = [compiler, str(d / "decoder_model.onnx"), f"--target={target}",
                       f"--max-context={args.max_context}", "--calibration=none",
                       f"--cores={cores}"] + extra + ["-o", str(flb), f"--report={rep}", "--quiet"]
                for p in (flb, rep):
                    p.unlink(missing_ok=True)
                print(f"{model}/{target}: {' '.join(cmd)}", flush=True)
                status, compile_s = run_logged(cmd, log)
                if status != 0 or not flb.exists() or not rep.exists():
                    msg = f"compile failed (exit {status}): {tail(log)}"
                    print(f"{model}/{target}: {msg} (log {log})", flush=True)
                    failures.append((model, target, msg))
                    results.append(dict(model=model, target=target, cores=cores, setting=setting, error=msg))
                    continue
                print(f"{model}/{target}: compiled in {compile_s:.0f} s, {flb.stat().st_size / GB:.2f} GB",
                      flush=True)
            else:
                print(f"{model}/{target}: reusing {flb}", flush=True)
            report = json.loads(rep.read_text())
            cfg_dir = d if d is not None else next(
                (b / model_dirname(model, args) for b in (work, Path(args.shared))
                 if (b / model_dirname(model, args) / "config.json").exists()),
                None)
            cfg = json.loads((cfg_dir / "config.json").read_text()) if cfg_dir else {
                "num_layers": report["layers"], "hidden_size": report["hidden_size"]}
            for prefill, decode in cases:
                print(f"{model}/{target} [{prefill}, {decode}]: {runner} {flb} --timing-only "
                      f"--tokens 1,2,...,{prefill} --max-new-tokens {decode} --json", flush=True)
                try:
                    r, wall = run_case(runner, flb, report["vocab_size"], prefill, decode, args.run_timeout)
                except RuntimeError as e:
                    record_failure(results, failures, str(e), model=model, target=target, cores=cores,
                                   setting=setting, prefill=prefill, decode=decode)
                    continue
                row = make_row(model, target, cores, setting, prefill, decode, r, report, cfg, wall, compile_s)
                results.append(row)
                print(f"  prefill {row['prefill_ms']:.1f} ms, decode {row['tokens_per_s']:.1f} tokens/s "
                      f"({row['decode_ms_per_token']:.2f} ms/token), HBM {100 * row['hbm_util']:.1f}%, "
                      f"roofline {row['roofline_tokens_per_s']:.1f} tokens/s "
                      f"(x{row['hbm_efficiency']}: {row['roofline_eff_tokens_per_s']:.1f}); run {wall:.0f} s host",
                      flush=True)
            if args.delete_after:
                flb.unlink(missing_ok=True)
        if args.delete_after and model in generated and generated[model][1]:
            shutil.rmtree(generated[model][0], ignore_errors=True)

    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if failures:
        print("\nfailures:")
        for m, t, msg in failures:
            print(f"  {MODELS[m]['label']} on {t}: {msg}")
    return 1 if (failures and args.strict) else 0


def fmt(v, spec, none="n/a"):
    if v is None:
        width = "".join(ch for ch in spec.split(".")[0] if ch.isdigit())
        return format(none, ">" + width) if width else none
    return format(v, spec)


def print_table(results):
    print()
    print("Simulated (flightllm-run --timing-only, batch 1, max context 2048); decode tokens/s averaged over")
    print("the whole decode length; roofline = HBM peak / (weight + KV bytes the decode buckets read per")
    effs = sorted({(r["target"], r["hbm_efficiency"]) for r in results if "hbm_efficiency" in r})
    print("token, from the compile report, mean over the decode steps); 'xeff' = with the target's HBM")
    print("efficiency within a channel (" + (", ".join(f"{t} {e}" for t, e in effs) or "targets/*.json")
          + "); 'own' = own count of bytes/token (quantized weights +")
    print("INT8 KV at the mean context); 'MV roof' = decode compute bound: the MV engine's MACs/s (mv channels")
    print("x k x clock x cores) / MACs per token (one per weight and KV byte). FlightLLM = published figures (FPGA'24);")
    print("its VHK158 figures come from its artifact's simulator at 225 MHz, our vhk158 preset runs at 310 MHz")
    print("(the clock of FlightLLM's VHK158 implementation, docs/targets.md).")
    hdr = (f"{'model':<10} {'target':<7} {'cores':>5} {'setting':<10} {'[pre, dec]':>12} {'prefill ms':>10} {'tok/s':>7} {'HBM util':>8} "
           f"{'MAC util':>8} {'GB/token':>8} {'own GB':>7} {'roof tok/s':>10} {'%roof':>6} {'roof xeff':>9} "
           f"{'%roof xeff':>10} {'MV roof':>7} {'FlightLLM tok/s':>15} {'ours/theirs':>11} {'FlightLLM pre ms':>16} {'ours/theirs':>11}")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        label = MODELS[r["model"]]["label"]
        case = f"[{r['prefill']}, {r['decode']}]" if "prefill" in r else "all"
        head = f"{label:<10} {r['target']:<7} {r.get('cores', 1):>5} {r.get('setting', 'W8A8')[:10]:<10} {case:>12}"
        if "error" in r:
            print(f"{head}  FAILED: {r['error'][:160]}")
            continue
        pub = r["published"] or {}
        ptok, ppre = pub.get("tokens_per_s"), pub.get("prefill_ms")
        print(f"{head} {r['prefill_ms']:>10.1f} {r['tokens_per_s']:>7.1f} "
              f"{100 * r['hbm_util']:>7.1f}% {fmt(r['mac_util'] and 100 * r['mac_util'], '>7.1f')}% "
              f"{fmt(r['bytes_per_token'] and r['bytes_per_token'] / GB, '>8.3f')} "
              f"{fmt(r['own_bytes_per_token'] and r['own_bytes_per_token'] / GB, '>7.3f')} "
              f"{fmt(r['roofline_tokens_per_s'], '>10.1f')} {fmt(r['pct_roofline'], '>5.1f')}% "
              f"{fmt(r['roofline_eff_tokens_per_s'], '>9.1f')} {fmt(r['pct_roofline_eff'], '>9.1f')}% "
              f"{fmt(r.get('mv_roofline_tokens_per_s'), '>7.1f')} "
              f"{fmt(ptok, '>15.1f')} {fmt(ptok and r['tokens_per_s'] / ptok, '>11.2f')} "
              f"{fmt(ppre, '>16.1f')} {fmt(ppre and r['prefill_ms'] / ppre, '>11.2f')}")
    ok = [r for r in results if "error" not in r]
    if ok:
        print()
        print("host cost: " + "; ".join(
            f"{MODELS[r['model']]['label']}/{r['target']}/{r['cores']}c [{r['prefill']}, {r['decode']}] "
            f"{r['wall_seconds']:.0f} s" for r in ok)
              + (" (compile: " + ", ".join(f"{MODELS[r['model']]['label']}/{r['target']}/{r['cores']}c {r['compile_seconds']:.0f} s"
                                          for r in ok if r.get("compile_seconds") and r["prefill"] == ok[0]["prefill"]
                                          and r["decode"] == ok[0]["decode"]) + ")"
                 if any(r.get("compile_seconds") for r in ok) else ""))
        print("energy: " + "; ".join(
            f"{MODELS[r['model']]['label']}/{r['target']}/{r['cores']}c [{r['prefill']}, {r['decode']}] "
            f"{fmt(r['j_per_token'], '.3f')} J/token ({fmt(r['watts'], '.1f')} W)" for r in ok))


if __name__ == "__main__":
    sys.exit(main())
