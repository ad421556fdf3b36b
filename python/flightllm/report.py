"""flightllm-report: a compile report, simulator runs and a trace as one
self-contained HTML page of plots (inline SVG; no network, no files beside).

The numbers behind each plot come from the functions below (unit-tested in
test/python/test_report.py); render_html() draws them with matplotlib:

- bucket_sizes(report): instruction bytes of each length bucket's stream;
- decode_ladder(runs): decode latency and tokens/s against context length,
  one point per simulated decode step (the length-adaptive bucket ladder);
- queue_time_per_layer(run, report, trace): busy time of the load, matrix,
  misc and store queues per layer and decode step;
- roofline(run, target): the decode's achieved point under the target's
  compute and HBM-bandwidth roofs;
- energy_per_token(run): the decode's energy per token by source.

Inputs: `flightllm-compile --report=R.json`, `flightllm-run M.flb --json`
(any number of runs; their decode steps are pooled for the ladder, the
other plots show the first run) and that first run's `--trace=T.json`.
"""

import base64
import html
import io
import json

QUEUES = ("load", "matrix", "misc", "store")


def bucket_sizes(report):
    """[(label, stage, bytes, instructions)] in the report's order."""
    return [(f"{b['stage']} {b['min_length']}-{b['max_length']}", b["stage"],
             int(b["bytes"]), int(b["instructions"]))
            for b in report.get("buckets", [])]


def decode_ladder(runs):
    """Sorted [(context, ms_per_token, tokens_per_s)] over the decode steps
    of every run: step i of a run with P prompt tokens runs at context
    P + i + 1, its cycles at the run's clock. Repeated contexts keep the
    last run's figure."""
    points = {}
    for run in runs:
        clock_hz = float(run["clock_mhz"]) * 1e6
        base = len(run.get("prompt_tokens", []))
        for i, cycles in enumerate(run.get("decode_step_cycles", [])):
            ms = cycles / clock_hz * 1e3
            points[base + i + 1] = (ms, 1e3 / ms if ms > 0 else 0.0)
    return [(c, ms, tps) for c, (ms, tps) in sorted(points.items())]


def trace_queue_in_flight_us(trace, since_us=0.0):
    """Microseconds during which at least one instruction of each queue was
    in flight (the union of its complete ("X") events' [ts, ts + dur)),
    counting events from `since_us` on; the queue named by the trace's
    thread_name metadata."""
    names, intervals = {}, {}
    for e in trace.get("traceEvents", []):
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[e["tid"]] = e["args"]["name"]
    for e in trace.get("traceEvents", []):
        if e.get("ph") == "X" and e["ts"] >= since_us:
            q = names.get(e["tid"], str(e["tid"]))
            intervals.setdefault(q, []).append((float(e["ts"]), float(e["ts"]) + float(e["dur"])))
    result = {}
    for q, spans in intervals.items():
        spans.sort()
        total, start, end = 0.0, None, None
        for s, e in spans:
            if end is None or s > end:
                if end is not None:
                    total += end - start
                start, end = s, e
            else:
                end = max(end, e)
        result[q] = total + (end - start)
    return result


def trace_is_complete(trace):
    """Whether the trace has every instruction: none dropped at its event
    limit, and no run served from the timing cache (timing-only runs repeat
    an earlier run's timing as one event)."""
    if trace.get("otherData", {}).get("events_dropped", 0):
        return False
    return not any(e.get("name", "").startswith("run (timing cache)")
                   for e in trace.get("traceEvents", []))


def queue_time_per_layer(run, report, trace=None):
    """{queue: microseconds per layer per decode step}: the decode's busy
    cycles of each queue (the run's counters) over its steps and the
    model's layers. With the run's trace, also {"trace": {queue: us}}: the
    time the queue had an instruction in flight during the decode runs (they
    follow the prefill, prefill_cycles into the trace), per layer and step;
    for load and store the same as busy, for matrix and misc it adds their
    pipeline latency. A trace without every instruction
    (trace_is_complete) is not compared."""
    layers = max(int(report["layers"]), 1)
    steps = max(int(run.get("decode_steps", 0)), 1)
    clock_mhz = float(run["clock_mhz"])
    busy = run.get("decode_queue_busy_cycles", {})
    result = {q: busy.get(q, 0) / clock_mhz / steps / layers for q in QUEUES}
    if trace is not None and trace_is_complete(trace):
        since = float(run.get("prefill_cycles", 0)) / clock_mhz
        in_flight = trace_queue_in_flight_us(trace, since)
        result["trace"] = {q: in_flight.get(q, 0.0) / steps / layers for q in QUEUES}
    return result


def roofline(run, target):
    """The decode's point on the target's roofline: operational intensity
    (ops per HBM byte; an op is a multiply or an add, 2 per MAC) and
    achieved GOP/s, with the roofs: peak HBM GB/s and the MV and MM
    engines' peak GOP/s at the target's clock."""
    macs = float(run.get("decode_macs", 0))
    hbm_bytes = float(run.get("decode_hbm_bytes", 0))
    seconds = float(run["decode_cycles"]) / (float(run["clock_mhz"]) * 1e6)
    clock_hz = float(target["clock_mhz"]) * 1e6
    ops = 2 * macs
    return {
        "intensity": ops / hbm_bytes if hbm_bytes else 0.0,
        "achieved_gops": ops / seconds / 1e9 if seconds else 0.0,
        "hbm_gb_per_s": float(target["hbm_peak_gb_per_s"]),
        "mv_peak_gops": 2 * target["mv_macs_per_cycle"] * clock_hz / 1e9,
        "mm_peak_gops": 2 * target["mm_macs_per_cycle"] * clock_hz / 1e9,
    }


def roof(intensity, point):
    """The attainable GOP/s at `intensity` under the MV engine's roof."""
    return min(point["mv_peak_gops"], intensity * point["hbm_gb_per_s"])


def energy_per_token(run):
    """{source: joules per decode token} and "total"."""
    by_source = dict(run.get("decode_energy_j_per_token_by_source", {}))
    by_source["total"] = float(run.get("decode_energy_j_per_token", 0.0))
    return by_source


# --------------------------------------------------------------------------
# Drawing

def _svg(fig):
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _png_data_uri(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _plots(report, runs, trace, target):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sections = []

    sizes = bucket_sizes(report)
    if sizes:
        fig, ax = plt.subplots(figsize=(8, 3.2))
        colors = ["#4c72b0" if s == "prefill" else "#dd8452" for _, s, _, _ in sizes]
        ax.bar(range(len(sizes)), [b for _, _, b, _ in sizes], color=colors)
        # At most ~40 labels (a 2048-token model has 144 buckets).
        every = max(1, (len(sizes) + 39) // 40)
        ax.set_xticks(range(0, len(sizes), every))
        ax.set_xticklabels([l for l, _, _, _ in sizes][::every], rotation=90, fontsize=6)
        ax.set_ylabel("instruction bytes")
        ax.set_title("Instruction bytes per bucket (blue prefill, orange decode)")
        total = sum(b for _, _, b, _ in sizes)
        sections.append(("Instruction bytes per bucket", _svg(fig),
                         f"{len(sizes)} buckets, {total} bytes of instructions in all; "
                         f"one layer body shared by {report['layers']} layers."))

    ladder = decode_ladder(runs)
    if ladder:
        fig, ax = plt.subplots(figsize=(8, 3.2))
        ctx = [c for c, _, _ in ladder]
        ax2 = ax.twinx()
        # One line per run of consecutive contexts: no line across the gaps
        # between runs.
        start = 0
        for end in range(1, len(ladder) + 1):
            if end == len(ladder) or ladder[end][0] != ladder[end - 1][0] + 1:
                seg = ladder[start:end]
                xs = [c for c, _, _ in seg]
                ax.step(xs, [ms for _, ms, _ in seg], where="post", color="#4c72b0",
                        marker="." if len(seg) == 1 else None)
                ax2.step(xs, [t for _, _, t in seg], where="post", color="#dd8452",
                         marker="." if len(seg) == 1 else None)
                start = end
        ax.set_xlabel("context length (tokens)")
        ax.set_ylabel("decode latency (ms/token)", color="#4c72b0")
        ax2.set_ylabel("tokens/s", color="#dd8452")
        width = report.get("decode_bucket")
        if width and (max(ctx) - min(ctx)) / width <= 40:
            for edge in range(width, max(ctx) + 1, width):
                if edge >= min(ctx):
                    ax.axvline(edge + 0.5, color="#cccccc", lw=0.5)
        ax.set_title("Decode latency and tokens/s against context"
                     + (" (bucket edges grey)" if width and (max(ctx) - min(ctx)) / width <= 40 else ""))
        sections.append(("Decode latency against context length", _svg(fig),
                         f"{len(ladder)} decode steps, contexts {ctx[0]}-{ctx[-1]}: "
                         f"{ladder[0][1]:.4f}-{max(ms for _, ms, _ in ladder):.4f} ms/token."))

    if runs:
        run = runs[0]  # the traced run
        per_layer = queue_time_per_layer(run, report, trace)
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar(QUEUES, [per_layer[q] for q in QUEUES], color="#55a868", label="busy (counters)")
        if "trace" in per_layer:
            ax.scatter(QUEUES, [per_layer["trace"][q] for q in QUEUES], color="k",
                       zorder=3, label="in flight (trace)")
            ax.legend(fontsize=7)
        ax.set_ylabel("busy µs per layer per decode step")
        ax.set_title("Time per layer by queue")
        caption = (f"A decode step's busy time of each queue over its {report['layers']} "
                   "layers (the logits head and embedding count in): "
                   + ", ".join(f"{q} {per_layer[q]:.3f} µs" for q in QUEUES))
        if "trace" in per_layer:
            caption += ("; in flight (trace, decode runs): " + ", ".join(
                f"{q} {per_layer['trace'][q]:.3f} µs" for q in QUEUES)
                + " (matrix and misc add their pipeline latency)")
        sections.append(("Time per layer by queue", _svg(fig), caption + "."))

        if target is not None and run.get("decode_hbm_bytes"):
            point = roofline(run, target)
            fig, ax = plt.subplots(figsize=(6, 3.6))
            lo = min(0.1, point["intensity"] / 4) if point["intensity"] else 0.1
            hi = max(1000.0, point["intensity"] * 4)
            xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
            ax.loglog(xs, [min(point["mv_peak_gops"], x * point["hbm_gb_per_s"]) for x in xs],
                      label="MV engine roof", color="#4c72b0")
            ax.loglog(xs, [min(point["mm_peak_gops"], x * point["hbm_gb_per_s"]) for x in xs],
                      label="MM engine roof", color="#8172b2", ls="--")
            ax.scatter([point["intensity"]], [point["achieved_gops"]], color="#c44e52",
                       zorder=3, label="decode (achieved)")
            ax.set_xlabel("operational intensity (ops / HBM byte)")
            ax.set_ylabel("GOP/s")
            ax.legend(fontsize=7)
            ax.set_title(f"Roofline of {target['name']} at {target['clock_mhz']:g} MHz")
            attainable = roof(point["intensity"], point)
            sections.append(("Roofline", _svg(fig),
                             f"decode: {point['intensity']:.2f} ops/byte, "
                             f"{point['achieved_gops']:.1f} GOP/s achieved of "
                             f"{attainable:.1f} attainable "
                             f"({100 * point['achieved_gops'] / attainable if attainable else 0:.1f}%)."))

        energy = energy_per_token(run)
        sources = [k for k in energy if k != "total"]
        if sources:
            fig, ax = plt.subplots(figsize=(6, 3))
            ax.bar(sources, [energy[k] * 1e3 for k in sources], color="#937860")
            ax.set_ylabel("mJ per decode token")
            ax.set_title(f"Energy per token: {energy['total'] * 1e3:.4f} mJ")
            sections.append(("Energy per token", _svg(fig),
                             ", ".join(f"{k} {energy[k] * 1e3:.4f} mJ" for k in sources)
                             + f"; total {energy['total'] * 1e3:.4f} mJ/token."))
    return sections


def render_html(report, runs=(), trace=None, target=None, title=None):
    """The page as a string: a summary table and one section per plot."""
    runs = list(runs)
    title = title or f"FlightLLM report: {report.get('model', 'model')} on {report.get('target', '?')}"
    rows = [("model", f"{report.get('model')} ({report.get('layers')} layers, hidden "
                      f"{report.get('hidden_size')}, vocab {report.get('vocab_size')})"),
            ("target", report.get("target")),
            ("max context", report.get("max_context")),
            ("weights (INT8)", f"{report.get('quantized_weight_bytes')} bytes"),
            ("instructions", f"{report.get('total_instructions')} in "
                             f"{report.get('total_instruction_bytes')} bytes")]
    if runs:
        r = runs[0]
        rows += [("decode", f"{r.get('decode_ms_per_token', 0):.4f} ms/token, "
                            f"{r.get('tokens_per_s', 0):.1f} tokens/s (simulated)"),
                 ("prefill", f"{r.get('prefill_ms', 0):.4f} ms for "
                             f"{len(r.get('prompt_tokens', []))} tokens")]
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             f"<title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;margin:24px;background:#fff;color:#222}"
             "table{border-collapse:collapse}td{border:1px solid #ccc;padding:2px 8px}"
             "section{margin:18px 0}svg{max-width:100%;height:auto}</style>",
             "</head><body>", f"<h1>{html.escape(title)}</h1><table>"]
    for k, v in rows:
        parts.append(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>")
    parts.append("</table>")
    for heading, svg, caption in _plots(report, runs, trace, target):
        parts.append(f"<section><h2>{html.escape(heading)}</h2>{svg}"
                     f"<p>{html.escape(caption)}</p></section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def run_of(generation):
    """A Session(engine="sim") Generation as the run dict flightllm-run
    --json prints (what the plots read)."""
    run = dict(generation.metrics)
    run.update(engine="sim", prompt_tokens=list(generation.prompt_tokens),
               generated_tokens=list(generation.tokens))
    return run


def save_page(path, binary, generations=(), trace=None, target=None):
    """Writes the report page of a compiled Binary and its simulator
    Generations (and a trace file) to `path` (atomically)."""
    import os
    from . import _flightllm
    if binary.report is None:
        raise ValueError("the binary has no compile report (Binary.load(..., report=PATH))")
    trace_data = None
    if trace is not None:
        with open(trace) as f:
            trace_data = json.load(f)
    target_info = _flightllm.target_info(target or binary.report["target"])
    page = render_html(binary.report, [run_of(g) for g in generations],
                       trace_data, target_info)
    _flightllm.write_file(os.fspath(path), page.encode(), "the report page")


def main(argv=None):
    import argparse
    import os
    import sys
    parser = argparse.ArgumentParser(
        prog="flightllm-report",
        description="A compile report, simulator runs and a trace as one "
                    "self-contained HTML page of plots.")
    parser.add_argument("report", help="flightllm-compile --report JSON")
    parser.add_argument("--run", action="append", default=[],
                        help="flightllm-run --json output of a .flb run (repeatable: the "
                             "ladder pools every run's decode steps; the other plots show "
                             "the first run)")
    parser.add_argument("--trace", help="flightllm-run --trace JSON of the first --run")
    parser.add_argument("--target", help="target preset or JSON (default: the report's)")
    parser.add_argument("-o", "--output", required=True, help="the HTML page to write")
    args = parser.parse_args(argv)

    def load(path, what):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            sys.exit(f"flightllm-report: error: {what} '{path}': {e}")

    report = load(args.report, "report")
    if "buckets" not in report or "layers" not in report:
        sys.exit(f"flightllm-report: error: report '{args.report}' is not a "
                 "flightllm-compile --report file (no buckets/layers)")
    runs = [load(p, "run") for p in args.run]
    for path, run in zip(args.run, runs):
        if run.get("engine") != "sim" or "decode_cycles" not in run:
            sys.exit(f"flightllm-report: error: run '{path}' is not a "
                     "flightllm-run --json output of a .flb (engine sim)")
    trace = load(args.trace, "trace") if args.trace else None
    if trace is not None:
        from .trace import validate_trace
        problems = validate_trace(trace)
        if problems:
            sys.exit(f"flightllm-report: error: trace '{args.trace}': {problems[0]}")
    from . import _flightllm
    target = _flightllm.target_info(args.target or report["target"])
    page = render_html(report, runs, trace, target)
    _flightllm.write_file(os.fspath(args.output), page.encode(), "-o")
    return 0
