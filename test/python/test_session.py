"""flightllm.Session: the simulator against flightllm-run and the host
engines, callbacks, errors."""
import json
import subprocess

import numpy as np
import pytest

import flightllm
from conftest import BUNDLED, tool

PROMPT = "Licensed under the "


def test_sim_equals_flightllm_run(tmp_path, bundled_binary):
    path = tmp_path / "m.flb"
    bundled_binary.save(path)
    logits = tmp_path / "logits.npy"
    cli = json.loads(subprocess.run(
        [tool("flightllm-run"), str(path), "--prompt", PROMPT, "--max-new-tokens", "24",
         "--json", f"--dump-logits={logits}"],
        check=True, capture_output=True, text=True).stdout)
    out = flightllm.Session(bundled_binary).generate(PROMPT, max_new_tokens=24)
    assert out.prompt_tokens == cli["prompt_tokens"]
    assert out.tokens == cli["generated_tokens"]
    assert out.text == cli["text"]
    assert out.logits.dtype == np.float32 and out.logits.shape == (24, 256)
    assert np.array_equal(out.logits, np.load(logits))
    for key in ("prefill_cycles", "decode_cycles", "decode_steps",
                "decode_energy_j_per_token", "tokens_per_s", "decode_step_cycles"):
        assert out.metrics[key] == cli[key], key
    assert len(out.metrics["decode_step_cycles"]) == out.metrics["decode_steps"] == 23
    assert sum(out.metrics["decode_step_cycles"]) == out.metrics["decode_cycles"]


def test_sim_is_the_quantized_reference(bundled_binary):
    """The accelerator is bit-exact with the host quantized reference."""
    sim = flightllm.Session(bundled_binary).generate(PROMPT, max_new_tokens=8)
    host = flightllm.Session(bundled_binary, engine="quantized").generate(PROMPT, max_new_tokens=8)
    assert host.tokens == sim.tokens
    assert np.array_equal(host.logits, sim.logits)


def test_reference_engine(bundled_binary):
    ref = flightllm.Session(BUNDLED, engine="reference")
    out = ref.generate(PROMPT, max_new_tokens=8)
    sim = flightllm.Session(bundled_binary).generate(PROMPT, max_new_tokens=8)
    # fp32 and W8A8 agree on this prompt's greedy continuation (greedy.json).
    assert out.tokens == sim.tokens
    assert out.logits.shape == (8, 256)


def test_on_token_streams_and_stops(bundled_binary):
    seen = []
    session = flightllm.Session(bundled_binary)
    out = session.generate([76, 105], max_new_tokens=10,
                           on_token=lambda i, t: seen.append((i, t)) or i < 3)
    assert [t for _, t in seen] == out.tokens
    assert [i for i, _ in seen] == [0, 1, 2, 3]
    assert out.metrics["decode_steps"] == 3


def test_on_token_exception_propagates(bundled_binary):
    def boom(i, t):
        raise KeyError("stop here")
    with pytest.raises(KeyError, match="stop here"):
        flightllm.Session(bundled_binary).generate([1, 2], max_new_tokens=4, on_token=boom)


def test_errors(bundled_binary):
    session = flightllm.Session(bundled_binary)
    with pytest.raises(flightllm.FlightLLMError, match="outside the model's vocabulary"):
        session.generate([300], max_new_tokens=2)
    with pytest.raises(flightllm.FlightLLMError, match="context overflow"):
        session.generate([1] * 10, max_new_tokens=100000)
    with pytest.raises(ValueError, match="engine must be one of"):
        flightllm.Session(bundled_binary, engine="gpu")
    with pytest.raises(flightllm.FlightLLMError, match="--target|target"):
        flightllm.Session(bundled_binary, target="no-such-board")


def test_trace_is_written_atomically(tmp_path, bundled_binary):
    trace = tmp_path / "t.json"
    session = flightllm.Session(bundled_binary, trace=trace)
    assert not trace.exists()
    session.generate([1, 2, 3], max_new_tokens=2)
    data = json.loads(trace.read_text())
    assert data["otherData"]["runs"] == 2
