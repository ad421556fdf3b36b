"""Run ONNX models with onnxruntime (the Node binding) from Python.

    from ortref import ort_run
    outputs = ort_run("decoder_model.onnx", {"input_ids": ids})   # {name: np.ndarray}

The work is done by ``python/ort/run.mjs`` (onnxruntime-node) in a persistent
``node run.mjs --serve`` subprocess; tensors are exchanged as .npy files in a
temporary directory.  ``ensure_installed()`` runs ``npm ci --ignore-scripts`` in
python/ort when its node_modules is missing.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Optional

import numpy as np

ORT_DIR = Path(__file__).resolve().parent / "ort"


def ensure_installed() -> None:
    if (ORT_DIR / "node_modules" / "onnxruntime-node").is_dir():
        return
    # The package's install script downloads extra binaries; the shipped CPU
    # library works without it.
    subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                   cwd=ORT_DIR, check=True)


def ort_version() -> str:
    ensure_installed()
    out = subprocess.run(["node", str(ORT_DIR / "run.mjs"), "--version"],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


class OrtRunner:
    """A persistent ``node run.mjs --serve`` process (sessions cached per model)."""

    def __init__(self, graph_opt_level: Optional[str] = None):
        ensure_installed()
        env = dict(os.environ)
        if graph_opt_level:
            env["ORT_GRAPH_OPT_LEVEL"] = graph_opt_level
        self._tmp = tempfile.mkdtemp(prefix="ortref-")
        self.last_run_ms: Optional[float] = None
        self._count = 0
        self._proc = subprocess.Popen(
            ["node", str(ORT_DIR / "run.mjs"), "--serve"], cwd=ORT_DIR, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def run(self, model_path, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        self._count += 1
        base = Path(self._tmp) / str(self._count)
        in_dir, out_dir = base / "in", base / "out"
        in_dir.mkdir(parents=True)
        for name, value in feeds.items():
            value = np.asarray(value)
            if value.dtype == np.int32:
                value = value.astype(np.int64)
            np.save(in_dir / f"{name}.npy", np.ascontiguousarray(value))
        request = {"model": str(Path(model_path).resolve()), "inputs": str(in_dir), "outputs": str(out_dir)}
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("onnxruntime runner exited unexpectedly")
        reply = json.loads(line)
        if not reply["ok"]:
            raise RuntimeError(f"onnxruntime failed on {model_path}:\n{reply['error']}")
        # session.run alone, without the .npy exchange (bench/sim_host_speed.py)
        self.last_run_ms = reply.get("run_ms")
        outputs = {name: np.load(out_dir / f"{name}.npy") for name in reply["outputs"]}
        shutil.rmtree(base, ignore_errors=True)
        return outputs

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
        shutil.rmtree(self._tmp, ignore_errors=True)


_default: Optional[OrtRunner] = None


def ort_last_run_ms() -> Optional[float]:
    """Milliseconds of onnxruntime's session.run in the last ort_run call (no .npy exchange)."""
    return _default.last_run_ms if _default is not None else None


def ort_run(model_path, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Run ``model_path`` on ``feeds`` with onnxruntime; returns {output name: array}."""
    global _default
    if _default is None:
        _default = OrtRunner()
        atexit.register(_default.close)
    return _default.run(model_path, feeds)
