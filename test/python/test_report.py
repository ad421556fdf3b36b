"""flightllm-report: the numbers behind each plot (hand-computed inputs),
the trace validator, and the page rendered by headless Chromium."""
import json
import os
import shutil
import subprocess

import pytest

import flightllm
from flightllm import report, trace
from conftest import tool

REPORT = {
    "model": "llama", "layers": 4, "hidden_size": 64, "vocab_size": 256,
    "max_context": 64, "decode_bucket": 16, "target": "u280",
    "quantized_weight_bytes": 1000, "total_instructions": 30,
    "total_instruction_bytes": 480,
    "buckets": [
        {"stage": "prefill", "min_length": 1, "max_length": 64, "bytes": 200, "instructions": 10},
        {"stage": "decode", "min_length": 1, "max_length": 16, "bytes": 120, "instructions": 8},
        {"stage": "decode", "min_length": 17, "max_length": 32, "bytes": 160, "instructions": 12},
    ],
}
RUN = {
    "engine": "sim", "clock_mhz": 200.0, "prompt_tokens": [1, 2, 3],
    "decode_steps": 4, "decode_cycles": 10000,
    "decode_step_cycles": [2000, 2000, 3000, 3000],
    "decode_queue_busy_cycles": {"load": 8000, "matrix": 4000, "misc": 800, "store": 400, "sys": 10},
    "decode_hbm_bytes": 1_000_000, "decode_macs": 2_000_000,
    "decode_energy_j_per_token": 0.004,
    "decode_energy_j_per_token_by_source": {"static": 0.001, "hbm": 0.002, "ddr": 0.0,
                                            "mac": 0.0009, "sfu": 0.0001},
}
TARGET = {"name": "u280", "clock_mhz": 200.0, "hbm_peak_gb_per_s": 460.0,
          "mv_macs_per_cycle": 1024, "mm_macs_per_cycle": 8192}


def test_bucket_sizes():
    assert report.bucket_sizes(REPORT) == [
        ("prefill 1-64", "prefill", 200, 10), ("decode 1-16", "decode", 120, 8),
        ("decode 17-32", "decode", 160, 12)]


def test_decode_ladder():
    # Step i at context 3 + i + 1; 2000 cycles at 200 MHz = 0.01 ms.
    ladder = report.decode_ladder([RUN])
    assert [c for c, _, _ in ladder] == [4, 5, 6, 7]
    assert [ms for _, ms, _ in ladder] == pytest.approx([0.01, 0.01, 0.015, 0.015])
    assert [t for _, _, t in ladder] == pytest.approx([1e5, 1e5, 1e5 / 1.5, 1e5 / 1.5])
    later = dict(RUN, prompt_tokens=[1] * 5, decode_step_cycles=[4000])
    assert report.decode_ladder([RUN, later])[2] == (6, pytest.approx(0.02), pytest.approx(5e4))


def test_queue_time_per_layer():
    # load: 8000 cycles / 200 MHz = 40 us, over 4 steps and 4 layers = 2.5 us.
    t = report.queue_time_per_layer(RUN, REPORT)
    assert t == {"load": 2.5, "matrix": 1.25, "misc": 0.25, "store": 0.125}
    # The trace: decode runs start after the prefill's 400 cycles = 2 us;
    # two overlapping loads [2, 10) and [6, 14) are in flight 12 us.
    tr = {"traceEvents": [
        {"name": "thread_name", "ph": "M", "pid": 0, "tid": 0, "args": {"name": "load"}},
        {"name": "thread_name", "ph": "M", "pid": 0, "tid": 2, "args": {"name": "matrix"}},
        {"name": "LD", "ph": "X", "pid": 0, "tid": 0, "ts": 0, "dur": 2.0},
        {"name": "LD", "ph": "X", "pid": 0, "tid": 0, "ts": 2, "dur": 8.0},
        {"name": "LD", "ph": "X", "pid": 0, "tid": 0, "ts": 6, "dur": 8.0},
        {"name": "MV", "ph": "X", "pid": 0, "tid": 2, "ts": 20, "dur": 4.0}],
        "otherData": {"runs": 5}}
    t = report.queue_time_per_layer(dict(RUN, prefill_cycles=400), REPORT, tr)
    assert t["trace"] == {"load": 0.75, "matrix": 0.25, "misc": 0.0, "store": 0.0}
    # A trace that lacks instructions is not compared.
    dropped = dict(tr, otherData={"runs": 5, "events_dropped": 3})
    assert "trace" not in report.queue_time_per_layer(RUN, REPORT, dropped)
    cached = dict(tr, traceEvents=tr["traceEvents"] + [
        {"name": "run (timing cache)", "ph": "X", "pid": 0, "tid": 4, "ts": 30, "dur": 5}])
    assert "trace" not in report.queue_time_per_layer(RUN, REPORT, cached)


def test_roofline():
    p = report.roofline(RUN, TARGET)
    # 4e6 ops over 1e6 bytes; 4e6 ops in 10000 cycles at 200 MHz = 50 us.
    assert p["intensity"] == 4.0
    assert p["achieved_gops"] == pytest.approx(80.0)
    assert p["mv_peak_gops"] == pytest.approx(409.6)
    assert p["mm_peak_gops"] == pytest.approx(3276.8)
    assert report.roof(4.0, p) == pytest.approx(409.6)   # compute-bound at 4 ops/B
    assert report.roof(0.5, p) == pytest.approx(230.0)   # bandwidth-bound


def test_energy_per_token():
    e = report.energy_per_token(RUN)
    assert e["total"] == 0.004 and e["hbm"] == 0.002
    assert sum(v for k, v in e.items() if k != "total") == pytest.approx(0.004)


def test_trace_validator_rejects():
    assert trace.validate_trace([]) != []
    good = {"traceEvents": [{"name": "LD", "ph": "X", "pid": 0, "tid": 0, "ts": 1, "dur": 2}]}
    assert trace.validate_trace(good) == []
    for bad, what in [
            ({"name": "LD", "ph": "X", "pid": 0, "tid": 0, "ts": 1}, "'dur'"),
            ({"name": "LD", "ph": "X", "pid": 0, "tid": 0, "ts": -1, "dur": 1}, "negative"),
            ({"name": "LD", "ph": "B", "pid": 0, "tid": 0, "ts": 1}, "phase"),
            ({"name": "LD", "ph": "X", "pid": "0", "tid": 0, "ts": 1, "dur": 1}, "'pid'"),
            ({"name": 3, "ph": "X", "pid": 0, "tid": 0, "ts": 1, "dur": 1}, "'name'"),
            ({"name": "LD", "ph": "X", "pid": 0, "tid": 0, "ts": 1, "dur": 1, "args": 1}, "'args'"),
            ({"name": "thread_name", "ph": "M", "pid": 0, "tid": 0, "args": {}}, "args.name")]:
        problems = trace.validate_trace({"traceEvents": [bad]})
        assert problems and what in problems[0], (bad, problems)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory, bundled_binary):
    """The bundled model through flightllm-run with --json and --trace."""
    work = tmp_path_factory.mktemp("report")
    flb, rep = work / "m.flb", work / "r.json"
    bundled_binary.save(flb, report=rep)
    out = subprocess.run([tool("flightllm-run"), str(flb), "--prompt", "Licensed under the ",
                          "--max-new-tokens", "40", "--json", f"--trace={work / 't.json'}"],
                         check=True, capture_output=True, text=True).stdout
    (work / "run.json").write_text(out)
    return work


def test_flightllm_run_trace_is_valid(simulated):
    data = json.loads((simulated / "t.json").read_text())
    assert trace.validate_trace(data) == []
    phases = {e["ph"] for e in data["traceEvents"]}
    assert phases == {"M", "X"}
    queues = {e["args"]["name"] for e in data["traceEvents"] if e["name"] == "thread_name"}
    assert {"load", "matrix", "misc", "store"} <= queues
    assert data["otherData"]["runs"] == 40  # one prefill, 39 decode steps


def test_page_numbers_from_real_run(simulated):
    run = json.loads((simulated / "run.json").read_text())
    rep = json.loads((simulated / "r.json").read_text())
    ladder = report.decode_ladder([run])
    assert len(ladder) == run["decode_steps"] == 39
    assert sum(ms for _, ms, _ in ladder) == pytest.approx(
        run["decode_ms_per_token"] * run["decode_steps"])
    per_layer = report.queue_time_per_layer(run, rep, json.loads((simulated / "t.json").read_text()))
    assert per_layer["matrix"] > 0 and per_layer["load"] > 0
    # A load or store is busy exactly while one is in flight: the counters
    # and the trace agree (to the trace's 4-digit timestamps).
    for q in ("load", "store"):
        assert per_layer["trace"][q] == pytest.approx(per_layer[q], rel=1e-3)
    target = flightllm._flightllm.target_info("u280")
    point = report.roofline(run, target)
    assert 0 < point["achieved_gops"] <= report.roof(point["intensity"], point) * 1.0001


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium")
def test_page_renders_in_chromium(simulated):
    page = simulated / "page.html"
    subprocess.run([tool("flightllm-report"), str(simulated / "r.json"),
                    "--run", str(simulated / "run.json"), "--trace", str(simulated / "t.json"),
                    "-o", str(page)], check=True)
    html = page.read_text()
    assert html.count("<svg") == 5
    assert "src=\"http" not in html and "href=\"http" not in html  # self-contained
    shot = simulated / "page.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", "--window-size=1000,2600",
                    f"--screenshot={shot}", f"file://{page}"],
                   check=True, capture_output=True, timeout=120)
    from PIL import Image
    image = Image.open(shot).convert("RGB")
    pixels = list(image.getdata())
    non_white = sum(1 for p in pixels if sum(p) < 720) / len(pixels)
    assert non_white > 0.02, non_white
    # The plots' colours are on the page (blue bars/lines, orange decode).
    colours = set(image.resize((250, 650)).getdata())
    assert len(colours) > 50
    if os.environ.get("FLIGHTLLM_REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["FLIGHTLLM_REPORT_SCREENSHOT"])


def test_report_cli_errors(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    r = subprocess.run([tool("flightllm-report"), str(bad), "-o", str(tmp_path / "p.html")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "not a flightllm-compile --report" in r.stderr
    assert not (tmp_path / "p.html").exists()
