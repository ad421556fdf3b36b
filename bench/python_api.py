#!/usr/bin/env python3
"""The Python API's overheads against the CLI, measured in the same run.

- import: `python3 -c "import flightllm"` against `python3 -c "pass"` and
  against `flightllm-compile --version` (loading the same libraries);
- compile: flightllm.compile() in this process against the flightllm-compile
  command with the same options, on the bundled model (the binaries are
  checked identical);
- generate: Session(engine="sim").generate() against flightllm-run on the
  same binary (host seconds of the whole call / command).

Each figure is the best of --runs (the machine is shared). Usage:
  /usr/bin/python3 bench/python_api.py --build build [--runs 3]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "tiny-llama-bytes" / "decoder_model.onnx"
CALIBRATION = "/usr/share/common-licenses/Apache-2.0"


def best(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=64)
    args = ap.parse_args()
    build = Path(args.build).resolve()
    packages = build / "python_packages"
    env = dict(os.environ, PYTHONPATH=str(packages))
    sys.path.insert(0, str(packages))
    py = "/usr/bin/python3"
    run = lambda cmd: subprocess.run(cmd, check=True, env=env,  # noqa: E731
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    t_pass = best(lambda: run([py, "-c", "pass"]), args.runs)
    t_import = best(lambda: run([py, "-c", "import flightllm"]), args.runs)
    t_version = best(lambda: run([str(build / "bin" / "flightllm-compile"), "--version"]), args.runs)
    print(f"import: python3 -c 'import flightllm' {t_import:.3f} s; python3 -c pass "
          f"{t_pass:.3f} s; flightllm-compile --version {t_version:.3f} s; "
          f"import cost {t_import - t_pass:.3f} s")

    import flightllm
    with tempfile.TemporaryDirectory() as tmp:
        flb = Path(tmp) / "cli.flb"
        cli = [str(build / "bin" / "flightllm-compile"), str(MODEL), "-o", str(flb),
               f"--calibration={CALIBRATION}", "--quiet"]
        t_cli = best(lambda: run(cli), args.runs)
        holder = {}
        t_py = best(lambda: holder.update(b=flightllm.compile(MODEL, calibration=CALIBRATION)),
                    args.runs)
        identical = flb.read_bytes() == holder["b"].data
        print(f"compile (bundled model): flightllm.compile {t_py:.3f} s, flightllm-compile "
              f"{t_cli:.3f} s, ratio {t_py / t_cli:.2f}; binaries identical: {identical}")

        gen_cli = [str(build / "bin" / "flightllm-run"), str(flb), "--prompt",
                   "Licensed under the ", "--max-new-tokens", str(args.tokens)]
        t_run = best(lambda: run(gen_cli), args.runs)
        t_sess = best(lambda: flightllm.Session(holder["b"]).generate(
            "Licensed under the ", max_new_tokens=args.tokens), args.runs)
        print(f"generate ({args.tokens} tokens, simulator): Session.generate {t_sess:.3f} s, "
              f"flightllm-run {t_run:.3f} s, ratio {t_sess / t_run:.2f}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
