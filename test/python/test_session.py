"""flightllm.Session: the simulator against flightllm-run and the host
engines, callbacks, errors."""
import json
import os
import subprocess

import numpy as np
import pytest

import flightllm
from conftest import BUNDLED, CALIBRATION, tool

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


def test_every_engine_stops_at_eos(tmp_path):
    """The host engines stop where the simulator does: at an EOS id of the
    model's config.json (here 'r', the third byte the model writes)."""
    import shutil
    for name in ("decoder_model.onnx", "model.onnx_data"):
        shutil.copy(os.path.join(os.path.dirname(BUNDLED), name), tmp_path / name)
    (tmp_path / "config.json").write_text('{"model_type": "llama", "eos_token_id": [114]}')
    binary = flightllm.compile(tmp_path, calibration=CALIBRATION)
    runs = {}
    # The quantized engine from the binary (its calibration), the reference
    # engine from the directory.
    for engine, model in (("sim", binary), ("quantized", binary), ("reference", tmp_path)):
        session = flightllm.Session(model, engine=engine)
        assert session.info["eos_token_ids"] == [114], engine
        runs[engine] = session.generate(PROMPT, max_new_tokens=8)
    for engine, out in runs.items():
        assert out.tokens == [116, 101, 114] and out.stopped_at_eos, engine
        assert out.logits.shape == (3, 256), engine
    assert np.array_equal(runs["quantized"].logits, runs["sim"].logits)


def test_batched_binary(bundled_binary):
    """A --batch=2 binary reports its batch, and one user decoding alone on
    it gets the ordinary binary's tokens and logits bit for bit."""
    batched = flightllm.compile(BUNDLED, calibration=CALIBRATION, batch=2)
    session = flightllm.Session(batched)
    assert session.info["batch"] == 2
    assert session.info["kv_slots"] >= 2
    assert flightllm.Session(bundled_binary).info["batch"] == 1
    out = session.generate(PROMPT, max_new_tokens=8)
    alone = flightllm.Session(bundled_binary).generate(PROMPT, max_new_tokens=8)
    assert out.tokens == alone.tokens
    assert np.array_equal(out.logits, alone.logits)
