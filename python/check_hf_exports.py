#!/usr/bin/python3
"""Check HF-style exports (python/gen_hf_exports.py) against the compiler, or against onnxruntime.

    /usr/bin/python3 python/check_hf_exports.py --build BUILD [--matrix DIR] [--only PAT ...]
    /usr/bin/python3 python/check_hf_exports.py --onnxruntime [--matrix DIR]

--build: for every export directory under DIR (default test/fixtures-hf), each
graph is raised with `flightllm-compile GRAPH --emit=llm`, and each of its
reference cases is run with `flightllm-run PROGRAM.mlir --case ref/<case>`
(the reference engine; outputs compared with the stored references at the
export's atol).  A graph that does not raise fails all its cases.  Prints a
table of passed cases per family/code path and per option, then the first
error line of each failure, and finally "N passed, N failed" (cases).

--onnxruntime: the exports themselves: every graph passes onnx.checker and has
optimum's input/output names, config.json names the family, every stored
array has the sha256 the generator recorded, and onnxruntime reproduces every
stored output (cases whose reference is the torch model, where onnxruntime
computes the non-causal graph HF traced, must still differ from it by the
recorded amount).  Needs no build.

Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from hf_export.config import HFModelConfig  # noqa: E402
from hf_export.export import (LAYOUTS, MERGED_FILE, PREFILL_FILE, SINGLE_FILE, WITH_PAST_FILE,  # noqa: E402
                              input_names, merged_input_names, output_names)
from hf_export.generate import Case, array_digest, load_records, max_diff  # noqa: E402

GRAPH_KIND = {PREFILL_FILE: "prefill", WITH_PAST_FILE: "with-past", MERGED_FILE: "merged", SINGLE_FILE: "single"}


def first_error_line(text: str, path: Path) -> str:
    """The first line saying error (with the indented lines it introduces when it
    ends in ':'), the model's path shortened to its file name."""
    raw = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    lines = [ln.strip().replace(str(path), path.name) for ln in raw]
    for i, ln in enumerate(lines):
        if "error" in ln.lower():
            detail = []
            if ln.endswith(":"):
                for r, line in zip(raw[i + 1:], lines[i + 1:]):
                    if not r.startswith(" "):
                        break
                    detail.append(line)
            return " ".join([ln] + ["; ".join(detail)] if detail else [ln])
    bad = [ln for ln in lines if not ln.endswith(" ok")]
    return (bad or lines or ["(no output)"])[0]


class Results:
    """Case outcomes with the option values they are counted under."""

    def __init__(self):
        self.rows: List[Tuple[dict, bool]] = []
        self.failures: List[str] = []

    def add(self, keys: dict, ok: bool):
        self.rows.append((keys, ok))

    @property
    def passed(self) -> int:
        return sum(ok for _, ok in self.rows)

    @property
    def failed(self) -> int:
        return len(self.rows) - self.passed

    def table(self, key: str) -> List[str]:
        count: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
        for keys, ok in self.rows:
            count[keys[key]][0] += ok
            count[keys[key]][1] += 1
        width = max([len(key)] + [len(k) for k in count])
        out = [f"  {key:<{width}}  passed / cases"]
        for k in sorted(count):
            p, n = count[k]
            out.append(f"  {k:<{width}}  {p:>6} / {n}")
        return out


def case_keys(rec: dict, graph: str, case: dict) -> dict:
    v = rec["variant"]
    return {"family": f"{v['family']}-{v['code']}" + (f"-{v['tag']}" if v["tag"] else ""),
            "opset": f"op{v['opset']}", "init": v["init"], "batch": "symbolic" if v["symbolic_batch"] else "fixed 1",
            "folding": "on" if v["constant_folding"] else "off",
            "optimum": v["optimum"], "graph": GRAPH_KIND[graph],
            "case": ("padded" if case["left_padding"] else "prefill" if case["past_sequence_length"] == 0
                     else "past, several new" if case["sequence_length"] > 1 else "past, one new"),
            "reference": case["reference"]}


def run(cmd: List[str], timeout: float) -> Tuple[bool, str]:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return p.returncode == 0, p.stderr + p.stdout
    except subprocess.TimeoutExpired:
        return False, f"error: {Path(cmd[0]).name} timed out after {timeout:.0f} s"


def check_export(d: Path, rec: dict, build: Path, work: Path, timeout: float) -> Results:
    """Raise each graph of one export, run each of its cases."""
    compile_tool, run_tool = str(build / "bin" / "flightllm-compile"), str(build / "bin" / "flightllm-run")
    res = Results()
    by_graph: Dict[str, List[dict]] = defaultdict(list)
    for case in rec["cases"]:
        by_graph[case["model"]].append(case)
    for graph, cases in by_graph.items():
        program = work / d.name / (Path(graph).stem + ".mlir")
        program.parent.mkdir(parents=True, exist_ok=True)
        if program.exists():
            program.unlink()
        compiled, err = run([compile_tool, str(d / graph), "--emit=llm", "-o", str(program)], timeout)
        if not compiled:
            res.failures.append(f"{d.name}/{graph} ({len(cases)} cases): compile: {first_error_line(err, d / graph)}")
            for case in cases:
                res.add(case_keys(rec, graph, case), False)
            continue
        for case in cases:
            ok, out = run([run_tool, str(program), "--case", str(d / "ref" / case["name"]), "--atol", str(rec["atol"])],
                          timeout)
            res.add(case_keys(rec, graph, case), ok)
            if not ok:
                res.failures.append(f"{d.name}/ref/{case['name']}: run: {first_error_line(out, program)}")
    return res


def check_build(root: Path, build: Path, work: Path, only, timeout: float, jobs: int) -> Results:
    for tool in ("flightllm-compile", "flightllm-run"):
        if not (build / "bin" / tool).exists():
            sys.exit(f"error: {build / 'bin' / tool} not found (build the tools first)")
    records = load_records(root, only)
    if not records:
        sys.exit(f"error: no exports (*/export.json) under {root}")
    res = Results()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for part in pool.map(lambda dr: check_export(dr[0], dr[1], build, work, timeout), records):
            res.rows += part.rows
            res.failures += part.failures
    return res


def optimum_names(rec: dict, graph: str) -> Tuple[List[str], List[str]]:
    cfg = HFModelConfig(**rec["config"])
    layout = LAYOUTS[rec["variant"]["optimum"]]
    if graph == MERGED_FILE:
        ins = merged_input_names(cfg, layout)
    else:
        ins = input_names(cfg, graph != PREFILL_FILE, layout)
    return ins, output_names(cfg)


def check_onnxruntime(root: Path, only) -> Results:
    import onnx
    from ortref import ort_run
    res = Results()
    records = load_records(root, only)
    if not records:
        sys.exit(f"error: no exports (*/export.json) under {root}")
    for d, rec in records:
        graphs = sorted({c["model"] for c in rec["cases"]})
        for graph in graphs:
            keys = case_keys(rec, graph, rec["cases"][0]) | {"case": "graph"}
            try:
                onnx.checker.check_model(str(d / graph))
                m = onnx.load(str(d / graph), load_external_data=False)
                inits = {t.name for t in m.graph.initializer}
                ins = [i.name for i in m.graph.input if i.name not in inits]
                outs = [o.name for o in m.graph.output]
                want_in, want_out = optimum_names(rec, graph)
                ok = ins == want_in and outs == want_out
                cfg_json = json.loads((d / "config.json").read_text())
                ok = ok and cfg_json["model_type"] == rec["config"]["family"]
                detail = "" if ok else f"inputs {ins} outputs {outs}"
            except Exception as e:  # noqa: BLE001
                ok, detail = False, repr(e)
            res.add(keys, ok)
            if not ok:
                res.failures.append(f"{d.name}/{graph}: {detail}")
        for case in rec["cases"]:
            cdir = d / "ref" / case["name"]
            try:
                feeds = {p.stem: np.load(p) for p in sorted((cdir / "inputs").glob("*.npy"))}
                stored = {p.stem: np.load(p) for p in sorted((cdir / "outputs").glob("*.npy"))}
                meta = json.loads((cdir / "case.json").read_text())
                for sub, arrays in (("inputs", feeds), ("outputs", stored)):
                    digests = {name: array_digest(a) for name, a in arrays.items()}
                    if digests != meta["sha256"][sub]:
                        raise RuntimeError(f"{sub} differ from what the generator wrote (sha256 in case.json)")
                got = ort_run(d / case["model"], feeds)
                if sorted(got) != sorted(stored):
                    raise RuntimeError(f"outputs {sorted(got)} != {sorted(stored)}")
                c = Case(case["name"], case["model"], case["batch"], case["sequence_length"],
                         case["past_sequence_length"], tuple(case["left_padding"]))
                if case["reference"] == "onnxruntime":
                    # onnxruntime wrote these outputs: every entry must come back
                    worst, _ = max_diff(got, stored, dataclasses.replace(c, left_pad=()))
                    ok, detail = worst <= rec["atol"], f"max|diff| {worst:.2e}"
                else:
                    # the stored torch outputs differ from onnxruntime's by what was measured
                    # (over the entries padding leaves meaningful, as when it was measured)
                    worst, _ = max_diff(got, stored, c)
                    want = case["onnxruntime_vs_torch"]
                    ok = abs(worst - want) <= 1e-3 * max(want, 1.0) and worst > rec["atol"]
                    detail = f"onnxruntime vs stored torch {worst:.3g}, recorded {want:.3g}"
            except Exception as e:  # noqa: BLE001
                ok, detail = False, repr(e)
            res.add(case_keys(rec, case["model"], case), ok)
            if not ok:
                res.failures.append(f"{d.name}/ref/{case['name']}: {detail}")
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--build", help="build directory holding bin/flightllm-compile and bin/flightllm-run")
    mode.add_argument("--onnxruntime", action="store_true", help="check the exports themselves (no build)")
    ap.add_argument("--matrix", default=str(HERE.parent / "test" / "fixtures-hf"), help="folder of exports")
    ap.add_argument("--work", help="where the raised programs go (default BUILD/hf-exports-check)")
    ap.add_argument("--only", nargs="*", help="only exports whose name contains one of these")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per tool run")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="exports checked in parallel (--build)")
    ap.add_argument("--json", help="also write the results (rows and failures) to this file")
    args = ap.parse_args()
    root = Path(args.matrix)
    if args.onnxruntime:
        res = check_onnxruntime(root, args.only)
    else:
        build = Path(args.build).resolve()
        res = check_build(root, build, Path(args.work) if args.work else build / "hf-exports-check", args.only,
                          args.timeout, args.jobs)
    print(f"{root}: {len(res.rows)} checks")
    for key in ("family", "optimum", "graph", "case", "opset", "init", "batch", "folding", "reference"):
        print("\n".join(res.table(key)))
    if res.failures:
        print(f"failures ({len(res.failures)}):")
        for f in res.failures:
            print("  " + f)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": [dict(k, ok=ok) for k, ok in res.rows],
                                               "failures": res.failures}, indent=1) + "\n")
    print(f"{res.passed} passed, {res.failed} failed")
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
