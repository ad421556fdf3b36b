# -*- Python -*-
# lit configuration for the FlightLLM test suite.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "FlightLLM"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".onnxtxt", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit", "install", "onnx-backend"]

config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.flightllm_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%flightllm_src_root", config.flightllm_src_root))
# Debian's interpreter with numpy/onnx/torch; the first python3 on PATH may lack them.
config.substitutions.append(("%python", "/usr/bin/python3"))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
# Scripts run from tests (%python ...) find our tools on PATH.
llvm_config.with_environment("PATH", config.flightllm_tools_dir, append_path=True)

# A FLIGHTLLM_SANITIZE build (ASan + UBSan, 5-40x slower): the tests whose
# inputs are long runs of one code path take a shorter input there with
# `%if sanitized %{ ... %} %else %{ ... %}` (docs/testing.md, "sanitized-quick").
# `lit -Dsanitized-quick=1` runs those forms in any build.
if getattr(config, "flightllm_sanitize", "") or lit_config.params.get("sanitized-quick"):
    config.available_features.add("sanitized")

tool_dirs = [config.flightllm_tools_dir, config.llvm_tools_dir]
tools = ["flightllm-opt", "flightllm-compile", "flightllm-run", "flightllm-objdump", "flightllm-translate"]
llvm_config.add_tool_substitutions(
    [ToolSubst(t, unresolved="ignore") for t in tools], tool_dirs)
