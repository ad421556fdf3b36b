#!/usr/bin/python3
"""The compiled binaries stay byte-identical unless a change means them to differ.

Compiles every fixture (test/fixtures/*/decoder_model.onnx) and the bundled
trained model (examples/tiny-llama-bytes) for every preset target with the
default options, and compares the SHA-256 of each .flb with the list in
test/golden/flb-sha256.json. The list was recorded before the lowering was
split into passes (issue 10), so that a refactor of the lowering can prove it
changed nothing. A change that is meant to change binaries updates the list
with --update and says why in its commit message.

    /usr/bin/python3 python/check_flb_golden.py --build build [--update]

Prints one line per binary and ends with "N passed, N failed".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "test" / "golden" / "flb-sha256.json"
TARGETS = ("u280", "vhk158")


def models() -> list[tuple[str, Path]]:
    found = [(d.name, d / "decoder_model.onnx")
             for d in sorted((ROOT / "test" / "fixtures").iterdir())
             if (d / "decoder_model.onnx").is_file()]
    found.append(("tiny-llama-bytes",
                  ROOT / "examples" / "tiny-llama-bytes" / "decoder_model.onnx"))
    return found


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", type=Path, required=True)
    ap.add_argument("--update", action="store_true",
                    help="rewrite test/golden/flb-sha256.json from this build")
    args = ap.parse_args()
    compiler = args.build / "bin" / "flightllm-compile"

    golden = {} if args.update else json.loads(GOLDEN.read_text())["sha256"]
    actual: dict[str, str] = {}
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in models():
            for target in TARGETS:
                key = f"{name}/{target}"
                out = Path(tmp) / f"{name}-{target}.flb"
                run = subprocess.run(
                    [str(compiler), str(model), f"--target={target}", "--quiet",
                     "-o", str(out)], capture_output=True, text=True)
                if run.returncode != 0:
                    print(f"FAIL {key}: flightllm-compile exited {run.returncode}: "
                          f"{run.stderr.strip().splitlines()[:1]}")
                    failed += 1
                    continue
                actual[key] = sha256(out)
                if args.update:
                    print(f"     {key}: {actual[key]}")
                elif golden.get(key) == actual[key]:
                    print(f"ok   {key}")
                    passed += 1
                else:
                    print(f"FAIL {key}: sha256 {actual[key]}, recorded "
                          f"{golden.get(key, '(none)')}")
                    failed += 1
    if not args.update:
        for key in sorted(set(golden) - set(actual)):
            print(f"FAIL {key}: recorded but not compiled")
            failed += 1
    if args.update and failed == 0:
        GOLDEN.write_text(json.dumps(
            {"description": "SHA-256 of flightllm-compile MODEL --target=T "
                            "(default options); python/check_flb_golden.py",
             "sha256": actual}, indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN.relative_to(ROOT)} ({len(actual)} binaries)")
        return 0
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
