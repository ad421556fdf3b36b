#!/usr/bin/env python3
"""Every ctest timeout keeps 5x margin over the test's measured time (issue 17).

    scripts/check_test_timeouts.py --build BUILD [--times test/test-times.json]
    scripts/check_test_timeouts.py --build BUILD --record CTEST-OUTPUT.log

The measured times are recorded in test/test-times.json, one table per build
flavour ("release": the gcc Release build, "sanitize": the ASan + UBSan build
of scripts/bootstrap.sh sanitize), each with where and how it was measured.
The check reads the build's tests and their TIMEOUT properties from
`ctest --show-only=json-v1` and fails when a test's timeout is below
MARGIN x its recorded time, or when any test has no TIMEOUT (ctest's default
in this project is no limit: a hung test would stop CI forever). Tests
missing from the table are listed as unmeasured; a test under MIN_RECORDED
seconds is not recorded (most gtest cases: milliseconds each).

--record reads a ctest output log (the "Test #N: NAME ... Passed 12.34 sec"
lines; `ctest ... | tee LOG`) and stores each passed test's time in the
flavour's table, keeping the larger of the old and new figure, so that a
slower run raises the bar and a faster one never lowers it silently.
"""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

MARGIN = 5.0
MIN_RECORDED = 1.0  # seconds; faster tests are not recorded
RESULT_LINE = re.compile(
    r"Test\s+#\d+:\s+(.+?)\s+\.{3,}\s+Passed\s+([0-9.]+)\s+sec")


def flavour_of(build: Path) -> str:
    """'sanitize' for a FLIGHTLLM_SANITIZE / FLIGHTLLM_FUZZ build, else 'release'."""
    cache = (build / "CMakeCache.txt").read_text(errors="replace")
    for line in cache.splitlines():
        if line.startswith("FLIGHTLLM_SANITIZE:") and line.split("=", 1)[1].strip():
            return "sanitize"
        if line.startswith("FLIGHTLLM_FUZZ:") and line.split("=", 1)[1].strip().upper() in (
                "ON", "1", "TRUE", "YES"):
            return "sanitize"
    return "release"


def ctest_timeouts(build: Path) -> dict:
    """Test name -> its TIMEOUT in seconds (None: no TIMEOUT property)."""
    out = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build, check=True,
                         capture_output=True, text=True).stdout
    result = {}
    for test in json.loads(out)["tests"]:
        timeout = None
        for prop in test.get("properties", []):
            if prop["name"] == "TIMEOUT":
                timeout = float(prop["value"])
        result[test["name"]] = timeout
    return result


def record(times_path: Path, flavour: str, log: Path) -> int:
    data = json.loads(times_path.read_text())
    table = data["flavours"][flavour]["seconds"]
    changed = 0
    for match in RESULT_LINE.finditer(log.read_text(errors="replace")):
        name, seconds = match.group(1), float(match.group(2))
        if seconds < MIN_RECORDED or seconds <= table.get(name, 0.0):
            continue
        table[name] = round(seconds, 1)
        changed += 1
    data["flavours"][flavour]["seconds"] = dict(sorted(table.items()))
    times_path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"{changed} {flavour} time(s) recorded from {log} into {times_path}")
    return 0


def check(times_path: Path, flavour: str, build: Path) -> int:
    measured = json.loads(times_path.read_text())["flavours"][flavour]["seconds"]
    timeouts = ctest_timeouts(build)
    failures, unmeasured = [], []
    for name, timeout in sorted(timeouts.items()):
        if timeout is None:
            failures.append(f"{name}: no TIMEOUT property (set_tests_properties, or "
                            f"gtest_discover_tests(... PROPERTIES TIMEOUT N))")
        if name not in measured:
            unmeasured.append(name)
            continue
        need = MARGIN * measured[name]
        if timeout is not None and timeout < need:
            failures.append(f"{name}: TIMEOUT {timeout:.0f} s < {MARGIN:g} x measured "
                            f"{measured[name]} s = {need:.0f} s")
    checked = len(timeouts) - len(unmeasured)
    print(f"{checked} tests of the {flavour} build checked against {times_path} "
          f"(margin {MARGIN:g}x); {len(unmeasured)} unmeasured (under {MIN_RECORDED:g} s "
          f"when recorded, or new)")
    for name in unmeasured:
        # gtest cases (Suite.Case) are many and fast: only the others are named.
        if not re.match(r"^[A-Za-z0-9_/.]+\.[A-Za-z0-9_/]+", name):
            print(f"  unmeasured: {name}")
    for line in failures:
        print("FAIL " + line)
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", type=Path, required=True)
    parser.add_argument("--times", type=Path,
                        default=Path(__file__).resolve().parent.parent / "test" / "test-times.json")
    parser.add_argument("--flavour", choices=["release", "sanitize"],
                        help="which table (default: from the build's CMakeCache.txt)")
    parser.add_argument("--record", type=Path, metavar="CTEST_LOG")
    args = parser.parse_args()
    flavour = args.flavour or flavour_of(args.build)
    if args.record:
        return record(args.times, flavour, args.record)
    return check(args.times, flavour, args.build)


if __name__ == "__main__":
    sys.exit(main())
