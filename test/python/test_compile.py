"""flightllm.compile, Binary and CompileError against flightllm-compile."""
import json
import os
import subprocess

import pytest

import flightllm
from conftest import BUNDLED, CALIBRATION, FIXTURE, tool


def cli_help_options():
    """The option names of every section of flightllm-compile --help but
    LLVM's "Generic Options"."""
    text = subprocess.run([tool("flightllm-compile"), "--help"], check=True,
                          capture_output=True, text=True).stdout
    section = text.split("OPTIONS:", 1)[1]
    names = set()
    generic = False
    for line in section.splitlines():
        line = line.strip()
        if line.endswith(":") and not line.startswith("-"):
            generic = line == "Generic Options:"
            continue
        if generic:
            continue
        if line.startswith("--"):
            names.add(line[2:].split("=")[0].split(" ")[0].replace("-", "_"))
        elif line.startswith("-o "):
            names.add("o")
    return names


def test_keywords_are_the_cli_options():
    keywords = set(flightllm.compile_options())
    assert keywords == cli_help_options()
    for name in ("calibration", "max_context", "buckets", "no_verify_raising",
                 "emit", "progress", "quiet", "decode_bucket"):
        assert name in keywords


def test_binary_is_the_cli_binary(tmp_path, bundled_binary):
    """The same driver: the bytes and the report equal the CLI's."""
    flb, report = tmp_path / "cli.flb", tmp_path / "cli.json"
    subprocess.run([tool("flightllm-compile"), BUNDLED, "-o", str(flb),
                    f"--calibration={CALIBRATION}", f"--report={report}", "--quiet"],
                   check=True)
    assert flb.read_bytes() == bundled_binary.data
    assert json.loads(report.read_text()) == bundled_binary.report
    assert bundled_binary.report["target"] == "u280"
    assert "instructions" in bundled_binary.report_text


def test_save_load_roundtrip(tmp_path, bundled_binary):
    path = tmp_path / "m.flb"
    bundled_binary.save(path, report=tmp_path / "r.json")
    assert path.read_bytes() == bundled_binary.data
    assert json.loads((tmp_path / "r.json").read_text()) == bundled_binary.report
    loaded = flightllm.Binary.load(path, report=tmp_path / "r.json")
    assert loaded.data == bundled_binary.data and loaded.report == bundled_binary.report
    assert [vars(b) for b in loaded.streams()] != []


def test_save_is_atomic(tmp_path, bundled_binary):
    """A failed save leaves the old file and no temporary behind."""
    target = tmp_path / "dir"
    target.mkdir()
    with pytest.raises(flightllm.FlightLLMError, match="directory"):
        bundled_binary.save(target)
    assert os.listdir(tmp_path) == ["dir"]


def test_load_rejects_garbage(tmp_path):
    bad = tmp_path / "bad.flb"
    bad.write_bytes(b"FLB\0" + b"\0" * 200)
    with pytest.raises(flightllm.FlightLLMError, match="not a valid .flb"):
        flightllm.Binary.load(bad)


def test_streams_match_the_report(bundled_binary):
    buckets = bundled_binary.streams()
    report = bundled_binary.report["buckets"]
    assert len(buckets) == len(report)
    for b, r in zip(buckets, report):
        assert (b.stage, b.min_length, b.max_length) == (r["stage"], r["min_length"], r["max_length"])
        assert b.instructions == r["instructions"]
        assert b.bytes == r["bytes"]
        assert sum(b.by_mnemonic.values()) == b.instructions
    text = buckets[0].disassemble()
    lines = text.splitlines()
    assert len(lines) == buckets[0].instructions
    assert lines[0].startswith("0 @0: ")


def test_streams_disassembly_is_objdumps(tmp_path, bundled_binary):
    path = tmp_path / "m.flb"
    bundled_binary.save(path)
    dump = subprocess.run([tool("flightllm-objdump"), str(path), "--disassemble"],
                          check=True, capture_output=True, text=True).stdout
    first = bundled_binary.streams()[0].disassemble().splitlines()
    assert first[5] in dump


def test_options_reach_the_driver():
    binary = flightllm.compile(FIXTURE, decode_bucket=32, max_context=64,
                               calibration="none")
    decode = [b for b in binary.streams() if b.stage == "decode"]
    assert [(b.min_length, b.max_length) for b in decode] == [(1, 32), (33, 64)]
    assert binary.report["max_context"] == 64


def test_emit_text():
    text = flightllm.compile(FIXTURE, emit="llm", elide_weights=True)
    assert "llm.attention" in text
    flight = flightllm.compile(FIXTURE, emit="flight", buckets=["decode:16"])
    assert "flight.stream" in flight


def test_unknown_keyword():
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'.*calibration"):
        flightllm.compile(FIXTURE, bogus=1)


def test_option_error_is_a_compile_error():
    with pytest.raises(flightllm.CompileError, match="--rom: unknown ROM format 'zip'"):
        flightllm.compile(FIXTURE, rom="zip", o="/tmp/never-written.flb")
    assert not os.path.exists("/tmp/never-written.flb")
    with pytest.raises(flightllm.CompileError, match="--target"):
        flightllm.compile(FIXTURE, target="no-such-board")
    with pytest.raises(flightllm.CompileError, match="Cannot find option|for the --emit option"):
        flightllm.compile(FIXTURE, emit="nonsense")


def test_diagnostic_location(tmp_path):
    """A model error names the ONNX node, as the CLI prints it."""
    model = tmp_path / "bad.onnxtxt"
    model.write_text("""<ir_version: 8, opset_import: ["" : 17]>
bad (float[2] x) => (float[2] y) {
  y = Unknownop <alpha = 1.0> (x)
}
""")
    with pytest.raises(flightllm.CompileError) as e:
        flightllm.compile(model, emit="onnx")
    assert e.value.location, e.value.diagnostics
    assert "Unknownop" in e.value.diagnostics
    cli = subprocess.run([tool("flightllm-compile"), str(model), "--emit=onnx"],
                         capture_output=True, text=True)
    assert cli.returncode != 0
    assert cli.stderr.strip() == e.value.diagnostics.strip()


def test_compile_twice_resets_options():
    """Options of one call do not leak into the next (the table is global)."""
    a = flightllm.compile(FIXTURE, decode_bucket=32, calibration="none")
    b = flightllm.compile(FIXTURE, calibration="none")
    assert a.report["decode_bucket"] == 32 and b.report["decode_bucket"] == 16
