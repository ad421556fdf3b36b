"""The IR stages, for pass developers:

    from flightllm import ir
    m = ir.import_onnx("model.onnx")        # the onnx dialect, as imported
    ir.raise_to_llm(m)                      # -> the llm dialect (in place)
    ir.run_pipeline(m, "builtin.module(llm-quantize-weights)")
    print(m)                                # MLIR text (m.to_string(elide_weights=True))

Every pass flightllm-opt knows can be named in a pipeline. Failures raise
flightllm.FlightLLMError carrying the diagnostics and the first error's
location.
"""

import os

from . import _flightllm

Module = _flightllm.Module


def import_onnx(path):
    """Imports an ONNX model (binary, text syntax, external data) into the
    onnx dialect; returns a Module."""
    return _flightllm.import_onnx(os.fspath(path))


def parse(text):
    """Parses MLIR text (any FlightLLM dialect) into a Module."""
    return _flightllm.parse_module(text)


def raise_to_llm(module, verify=True):
    """Raises an imported onnx-dialect module to the llm dialect in place
    (the pipeline flightllm-compile runs, with its numerical check of the
    raising against the ONNX graph unless verify=False); returns it."""
    _flightllm.raise_to_llm(module, bool(verify))
    return module


def run_pipeline(module, pipeline):
    """Runs a textual pass pipeline on `module` in place and returns it:
    "builtin.module(pass1,pass2{opt=v})" as flightllm-opt --pass-pipeline
    takes it, or just "pass1,pass2{opt=v}"."""
    _flightllm.run_pipeline(module, pipeline)
    return module
