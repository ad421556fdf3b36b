"""FlightLLM from Python: compile ONNX decoder-only LLMs for the FlightLLM
accelerator, inspect the binaries, generate on the cycle-level simulator.

    import flightllm
    binary = flightllm.compile("model.onnx", target="u280",
                               calibration="/usr/share/common-licenses/Apache-2.0")
    binary.save("model.flb")
    out = flightllm.Session(binary).generate("Licensed under the ",
                                             max_new_tokens=32)
    print(out.text, out.metrics["tokens_per_s"])

The compile runs flightllm-compile's own driver in this process (one code
path; every option of the CLI is a keyword, with '-' spelled '_'). See
docs/python.md.
"""

import json
import os
import tempfile

from . import _flightllm

__all__ = ["compile", "compile_options", "Binary", "Bucket", "Session",
           "Generation", "CompileError", "FlightLLMError", "ir", "report",
           "set_progress"]


class FlightLLMError(Exception):
    """An error of the toolchain: `message` and, where known, `location`
    (file:line:col, or the ONNX node as "at 'name'")."""

    def __init__(self, message, location=None, diagnostics=None):
        super().__init__(message if not location else f"{location}: {message}")
        self.message = message
        self.location = location or None
        self.diagnostics = diagnostics or message


class CompileError(FlightLLMError):
    """flightllm.compile() failed: `diagnostics` holds everything the
    compiler printed (what flightllm-compile shows on stderr)."""


_option_table = None


def compile_options():
    """The keywords compile() accepts: {keyword: (help, kind)} where kind is
    "bool", "list" or "value"; read from flightllm-compile's option table."""
    global _option_table
    if _option_table is None:
        _option_table = {
            name.replace("-", "_"): (help_text, kind)
            for name, help_text, kind in _flightllm.compile_options()
            if kind != "positional"
        }
    return dict(_option_table)


def _arguments(options):
    table = compile_options()
    args = []
    for key, value in options.items():
        if key not in table:
            raise TypeError(
                f"compile() got an unexpected keyword argument '{key}' "
                f"(flightllm-compile's options: {', '.join(sorted(table))})")
        name = key.replace("_", "-")
        kind = table[key][1]
        if kind == "bool":
            args.append(f"--{name}={'true' if value else 'false'}")
        elif kind == "list":
            values = value if isinstance(value, (list, tuple)) else [value]
            args.append(f"--{name}={','.join(str(v) for v in values)}")
        else:
            args.append(f"--{name}={value}")
    return args


def _error_from(result, fallback):
    diagnostics = result["diagnostics"]
    message = result.get("error_message")
    if not message:
        lines = [l for l in diagnostics.splitlines() if "error" in l]
        message = lines[0] if lines else (diagnostics.strip() or fallback)
        prefix = "flightllm-compile: error: "
        if message.startswith(prefix):
            message = message[len(prefix):]
    return CompileError(message, result.get("error_location"), diagnostics)


def compile(model, target="u280", **options):
    """Compiles `model` (an ONNX file or an optimum export directory) as
    `flightllm-compile model --target=TARGET --KEY=VALUE...` does.

    With the default emit="bin" it returns a Binary (the .flb bytes and the
    compile report); with emit="llm", "flight", "onnx" or "summary" the text
    the CLI would print. Keywords are the CLI's options with '_' for '-'
    (compile_options() lists them): bool options take True/False, list
    options (buckets, rom) a list or a comma-separated string. `o` and
    `report` also write those files; `rom` needs `o`. Progress bars go to
    stderr when it is a terminal (progress="always"|"never" to choose).
    Raises CompileError with the diagnostics and location on failure."""
    model = os.fspath(model)
    emit = options.get("emit", "bin")
    if options.get("rom") and not options.get("o"):
        raise ValueError("rom= writes ROM images next to the binary: give o=PATH too")
    with tempfile.TemporaryDirectory(prefix="flightllm-compile-") as tmp:
        output = os.fspath(options.pop("o", None) or os.path.join(tmp, "output"))
        report = options.pop("report", None)
        if emit == "bin" and not report:
            report = os.path.join(tmp, "report.json")
        args = _arguments(options) + [f"--target={target}", "-o", output]
        if report:
            args += [f"--report={os.fspath(report)}"]
        result = _flightllm.compile_invocation(args + ["--", model])
        if result["status"] != 0:
            raise _error_from(result, f"compiling '{model}' failed")
        with open(output, "rb") as f:
            data = f.read()
        if emit != "bin":
            return data.decode("utf-8", errors="replace")
        with open(report) as f:
            report_dict = json.load(f)
    return Binary(data, report=report_dict, report_text=result["report_text"],
                  source=model, options=dict(options, target=target))


class Bucket:
    """One entry of the binary's bucket table and its instruction stream:
    `stage` ("prefill"/"decode"), `min_length`..`max_length` (tokens),
    `stream` (id; buckets may share one), `repeat` (layer repeats),
    `words`, `bytes`, `instructions` and `by_mnemonic` (counts)."""

    def __init__(self, binary, fields):
        self._binary = binary
        self.__dict__.update(fields)

    def disassemble(self):
        """The stream as text, one instruction a line (flightllm-objdump's)."""
        return self._binary.disassemble(self.stream)

    def __repr__(self):
        return (f"Bucket({self.stage} {self.min_length}-{self.max_length}: "
                f"stream {self.stream}, {self.instructions} instructions, "
                f"{self.bytes} bytes)")


class Binary:
    """A compiled .flb: `data` (bytes), `report` (the compile report as a
    dict, None for a loaded binary without one), `report_text`."""

    def __init__(self, data, report=None, report_text="", source=None,
                 options=None):
        self.data = bytes(data)
        self.report = report
        self.report_text = report_text
        self.source = source
        self.options = options or {}
        self.name = source or "<binary>"

    def save(self, path, report=None):
        """Writes the .flb to `path` atomically (a temporary file renamed
        into place: an existing file is replaced only by a complete one);
        `report=PATH` also writes the compile report's JSON."""
        _flightllm.write_file(os.fspath(path), self.data, "the binary")
        if report is not None:
            if self.report is None:
                raise FlightLLMError("this binary has no compile report")
            _flightllm.write_file(os.fspath(report),
                    (json.dumps(self.report, indent=2) + "\n").encode(),
                    "the report")

    @classmethod
    def load(cls, path, report=None):
        """Reads a .flb (and, with `report=PATH`, its compile report)."""
        with open(path, "rb") as f:
            data = f.read()
        report_dict = None
        if report is not None:
            with open(report) as f:
                report_dict = json.load(f)
        binary = cls(data, report=report_dict)
        binary.name = os.fspath(path)
        binary.streams()  # validates the file now, with a clear error
        return binary

    def streams(self):
        """The bucket table: a Bucket per (stage, length range)."""
        return [Bucket(self, b)
                for b in _flightllm.binary_buckets(self.data)]

    def disassemble(self, stream):
        return _flightllm.disassemble(self.data, stream)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        return f"Binary({self.name}, {len(self.data)} bytes)"


class Generation:
    """What generate() returns: `prompt_tokens`, `tokens` (generated),
    `text` (None when the model has neither tokenizer nor byte vocabulary),
    `logits` (numpy float32 [steps, vocab]: the last prompt position, then
    each decode step), `stopped_at_eos` and `metrics` (a dict: for the
    simulator the figures of flightllm-run --json, simulated at the target's
    clock; for the host engines host wall times)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __repr__(self):
        return f"Generation(tokens={self.tokens!r}, text={self.text!r})"


ENGINES = ("sim", "quantized", "reference")


class Session:
    """Greedy generation on one engine:

    - "sim": the .flb through the embedded runtime on the cycle-level,
      bit-exact simulator (latency, tokens/s, energy at the target's clock);
      `binary` is a Binary or a .flb path; `target`, `timing_only` and
      `trace` (a Chrome trace-event file of the first generation) as
      flightllm-run's options;
    - "quantized": the host interpreter with the accelerator's numerics on
      the W8A8 llm program (compiled from the binary's source model with
      its options);
    - "reference": the fp32 interpreter on the raised llm program.
    For the host engines `binary` may also be a model path (.onnx, export
    directory, or an llm program in .mlir)."""

    def __init__(self, binary, engine="sim", target=None, timing_only=False,
                 trace=None):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        self.engine = engine
        if engine == "sim":
            if not isinstance(binary, Binary):
                binary = Binary.load(binary)
            self._sim = _flightllm.SimSession(binary.data, binary.name,
                                              target or "", bool(timing_only),
                                              os.fspath(trace) if trace else "")
            self.info = self._sim.info()
            return
        if target or timing_only or trace:
            raise ValueError("target, timing_only and trace apply to engine='sim'")
        self._sim = None
        # The tokenizer and EOS ids, as flightllm-run finds them: the
        # binary's Tokenizer section, or the model's export directory.
        self._codec = (_flightllm.TextCodec.from_binary(binary.data, binary.name)
                       if isinstance(binary, Binary)
                       else _flightllm.TextCodec.from_model(os.fspath(binary)))
        self._module = self._host_program(binary, engine)
        self._interp = _flightllm.InterpreterSession(self._module,
                                                     engine == "quantized")
        self.info = {"vocab_size": self._interp.vocab_size,
                     "max_context": self._interp.max_positions,
                     "has_tokenizer": self._codec.has_tokenizer,
                     "eos_token_ids": self._codec.eos_ids}

    @staticmethod
    def _host_program(binary, engine):
        from . import ir
        if isinstance(binary, Binary):
            if not binary.source:
                raise FlightLLMError(
                    f"engine='{engine}' runs the llm program of the model the "
                    "binary was compiled from; this binary was loaded from a "
                    "file: give the model path instead")
            source = binary.source
            options = {k: v for k, v in binary.options.items()
                       if k in ("calibration", "calibration_tokens",
                                "no_verify_raising", "input_format")}
        else:
            source, options = os.fspath(binary), {}
        if source.endswith((".mlir", ".mlirbc")):
            with open(source) as f:
                return ir.parse(f.read())
        if engine == "quantized":
            options["quantize"] = "w8a8"
        options.pop("target", None)
        text = compile(source, emit="llm", **options)
        return ir.parse(text)

    def encode(self, text):
        """The prompt's tokens (tokenizer of the binary, or bytes)."""
        if self._sim is None:
            return self._codec.encode(text, self.info["vocab_size"])
        return self._sim.encode(text)

    def decode(self, tokens):
        if self._sim is None:
            raw = self._codec.decode(list(tokens), self.info["vocab_size"])
        else:
            raw = self._sim.decode(list(tokens))
        return None if raw is None else raw.decode("utf-8", errors="replace")

    def generate(self, prompt, max_new_tokens, on_token=None):
        """Prefills `prompt` (text, or a list of token ids) and decodes
        greedily until `max_new_tokens` tokens, an end-of-sequence token, or
        `on_token(index, token_id)` returning False. Returns a Generation."""
        tokens = self.encode(prompt) if isinstance(prompt, str) else [int(t) for t in prompt]
        if self._sim is not None:
            out = self._sim.generate(tokens, int(max_new_tokens), on_token)
            metrics = json.loads(out["metrics_json"])
            return Generation(prompt_tokens=tokens, tokens=out["tokens"],
                              text=self.decode(out["tokens"]),
                              logits=out["logits"],
                              stopped_at_eos=out["stopped_at_eos"],
                              metrics=metrics)
        return self._generate_host(tokens, int(max_new_tokens), on_token)

    def _generate_host(self, tokens, max_new_tokens, on_token):
        import time
        import numpy as np
        if not tokens:
            raise FlightLLMError("the prompt is empty")
        vocab = self.info["vocab_size"]
        for t in tokens:
            if not 0 <= t < vocab:
                raise FlightLLMError(f"token {t} is outside the model's vocabulary [0, {vocab})")
        limit = self.info["max_context"]
        needed = len(tokens) + max(max_new_tokens - 1, 0)
        if limit is not None and needed > limit:
            raise FlightLLMError(
                f"context overflow: {len(tokens)} prompt tokens and {max_new_tokens} "
                f"new ones need {needed} positions, the model has {limit}")
        self._interp.reset()
        rows, generated = [], []
        start = time.perf_counter()
        row = self._interp.prefill(tokens)
        prefill_s = time.perf_counter() - start
        start = time.perf_counter()
        decode_steps = 0
        eos = set(self.info["eos_token_ids"])
        stopped_at_eos = False
        while True:
            rows.append(row)
            if len(generated) >= max_new_tokens:
                break
            generated.append(int(np.argmax(row)))
            stopped_at_eos = generated[-1] in eos
            if on_token is not None and on_token(len(generated) - 1, generated[-1]) is False:
                break
            if len(generated) >= max_new_tokens or stopped_at_eos:
                break
            row = self._interp.decode_step(generated[-1])
            decode_steps += 1
        decode_s = time.perf_counter() - start
        metrics = {"engine": self.engine, "host_prefill_ms": prefill_s * 1e3,
                   "decode_steps": decode_steps,
                   "host_decode_ms_per_token": decode_s * 1e3 / decode_steps if decode_steps else 0.0}
        return Generation(prompt_tokens=tokens, tokens=generated,
                          text=self.decode(generated),
                          logits=np.stack(rows).astype(np.float32),
                          stopped_at_eos=stopped_at_eos, metrics=metrics)


def set_progress(mode):
    """Progress bars on stderr for the sessions that follow: "auto" (when
    stderr is a terminal), "always", "never". (compile() sets the mode from
    its own progress/quiet keywords.)"""
    _flightllm.set_progress(mode)


from . import ir, report  # noqa: E402  (after the classes they use)
