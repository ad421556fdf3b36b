import os, sys, flightllm  # PYTHONPATH=build/python_packages (or the installed package)
here, out_dir = os.path.dirname(os.path.abspath(__file__)), (sys.argv + ["."])[1]
binary = flightllm.compile(f"{here}/tiny-llama-bytes/decoder_model.onnx",
                           calibration="/usr/share/common-licenses/Apache-2.0")
binary.save(f"{out_dir}/tiny.flb")
out = flightllm.Session(binary, engine="sim").generate("Licensed under the ", max_new_tokens=32)
print(out.text)
print(f"{out.metrics['decode_ms_per_token']:.4f} ms/token, {out.metrics['tokens_per_s']:.0f} tokens/s, "
      f"{out.metrics['decode_energy_j_per_token'] * 1e3:.4f} mJ/token on the simulated {out.metrics['clock_mhz']:g} MHz U280")
flightllm.report.save_page(f"{out_dir}/tiny-report.html", binary, [out])
