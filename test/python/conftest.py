"""pytest setup for the Python API tests (ctest: python-api): the package is
the build tree's (FLIGHTLLM_BUILD, default ../../build), the tools are its
bin/, and the bundled model is compiled once per session."""
import os
import sys

import pytest

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("FLIGHTLLM_BUILD", os.path.join(SRC, "build")))
sys.path.insert(0, os.path.join(BUILD, "python_packages"))

BUNDLED = os.path.join(SRC, "examples", "tiny-llama-bytes", "decoder_model.onnx")
FIXTURE = os.path.join(SRC, "test", "fixtures", "llama-op17", "decoder_model.onnx")
CALIBRATION = "/usr/share/common-licenses/Apache-2.0"


def tool(name):
    return os.path.join(BUILD, "bin", name)


@pytest.fixture(scope="session")
def bundled_binary():
    import flightllm
    return flightllm.compile(BUNDLED, calibration=CALIBRATION)


@pytest.fixture(scope="session")
def fixture_binary():
    import flightllm
    return flightllm.compile(FIXTURE)
