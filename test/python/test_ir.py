"""flightllm.ir: the stages for pass developers."""
import re

import pytest

import flightllm
from flightllm import ir
from conftest import FIXTURE


def test_import_raise_pipeline_print():
    m = ir.import_onnx(FIXTURE)
    assert "onnx.MatMul" in m.to_string(elide_weights=True)
    ir.raise_to_llm(m, verify=False)
    text = str(m)
    assert "llm.attention" in text and "onnx." not in m.to_string(elide_weights=True)
    ir.run_pipeline(m, "builtin.module(llm-quantize-weights)")
    quantized = m.to_string(elide_weights=True)
    assert "weight_scales" in quantized and "xi8>" in quantized
    # The same pass without the anchor: nothing left to quantize.
    ir.run_pipeline(m, "llm-quantize-weights")
    assert m.to_string(elide_weights=True) == quantized
    # The printed module parses back (in the same context its weight blobs
    # get fresh names, so the ops are compared).
    again = ir.parse(str(m))
    ops = lambda mod: re.findall(r"= (llm\.\w+)", str(mod))  # noqa: E731
    assert ops(again) == ops(m) and len(ops(m)) > 20


def test_bad_pipeline():
    m = ir.import_onnx(FIXTURE)
    with pytest.raises(flightllm.FlightLLMError, match="invalid pass pipeline"):
        ir.run_pipeline(m, "builtin.module(no-such-pass)")


def test_parse_error_carries_location():
    with pytest.raises(flightllm.FlightLLMError) as e:
        ir.parse("module {\n  %0 = \"llm.nonsense\"() : () -> i32\n}\n")
    assert e.value.location and ":2:" in e.value.location
    assert "llm.nonsense" in e.value.diagnostics


def test_import_error():
    with pytest.raises(flightllm.FlightLLMError, match="no-such-file"):
        ir.import_onnx("/no-such-file.onnx")
