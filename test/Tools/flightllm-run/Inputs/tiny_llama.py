#!/usr/bin/python3
"""The tiny llm program of tiny-llama.mlir and a numpy model of it.

    tiny_llama.py emit                     print the program (weights from a fixed seed)
    tiny_llama.py check MODEL.mlir LOGITS.npy --tokens 1,2,3 --max-new-tokens N

`check` reads the weights back from MODEL.mlir, runs greedy generation by
recomputing the whole sequence at every step (no KV cache, so the
interpreter's cache handling is checked against plain attention over the full
sequence), and compares the logits rows of LOGITS.npy (as written by
flightllm-run --dump-logits) with its own.  It prints the .npy header, the
generated ids and the largest difference.
"""

import ast
import re
import sys

import numpy as np

V, D, HQ, HKV, DH, FF, MAXPOS = 16, 8, 2, 1, 4, 12, 32
EPS = 1e-6
SCALE = 0.5

# name -> shape, in program order.
WEIGHTS = [
    ("embed", (V, D)), ("ln1", (D,)), ("wq", (D, HQ * DH)), ("bq", (HQ * DH,)),
    ("wk", (D, HKV * DH)), ("wv", (D, HKV * DH)), ("wo", (D, HQ * DH)),
    ("ln2", (D,)), ("wg", (D, FF)), ("wu", (D, FF)), ("wd", (D, FF)), ("lnf", (D,)),
]

PROGRAM = """\
module attributes {{llm.family = "llama", llm.num_layers = 1 : i64,
                   llm.vocab_size = 16 : i64, llm.max_positions = 32 : i64}} {{
  func.func @forward(%ids: tensor<?x?xi64> {{llm.name = "input_ids"}},
                     %pk: tensor<?x1x?x4xf32> {{llm.name = "past_key_values.0.key"}},
                     %pv: tensor<?x1x?x4xf32> {{llm.name = "past_key_values.0.value"}})
      -> (tensor<?x?x16xf32> {{llm.name = "logits"}},
          tensor<?x1x?x4xf32> {{llm.name = "present.0.key"}},
          tensor<?x1x?x4xf32> {{llm.name = "present.0.value"}}) {{
{weights}
    %cos = llm.weight "rope.cos" = dense<{cos}> : tensor<32x4xf32>
    %sin = llm.weight "rope.sin" = dense<{sin}> : tensor<32x4xf32>
    %h = llm.embedding %embed, %ids : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
    %x = llm.rms_norm %h, %ln1 {{epsilon = 1.0e-06 : f32}} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %q = llm.linear %x, %wq, %bq : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %k = llm.linear %x, %wk : (tensor<?x?x8xf32>, tensor<8x4xf32>) -> tensor<?x?x4xf32>
    %v = llm.linear %x, %wv : (tensor<?x?x8xf32>, tensor<8x4xf32>) -> tensor<?x?x4xf32>
    %pos = llm.position_ids %ids, %pk : (tensor<?x?xi64>, tensor<?x1x?x4xf32>) -> tensor<?x?xi64>
    %qr = llm.rope rotate_half %q, %cos, %sin, %pos {{num_heads = 2 : i64}} : (tensor<?x?x8xf32>, tensor<32x4xf32>, tensor<32x4xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
    %kr = llm.rope rotate_half %k, %cos, %sin, %pos {{num_heads = 1 : i64}} : (tensor<?x?x4xf32>, tensor<32x4xf32>, tensor<32x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
    %o, %nk, %nv = llm.attention %qr, %kr, %v past(%pk, %pv) {{causal = true, num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 5.000000e-01 : f32}} : (tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>) -> (tensor<?x?x8xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>)
    %a = llm.linear %o, %wo {{transpose_weight = true}} : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
    %h2 = llm.add %h, %a : tensor<?x?x8xf32>
    %x2 = llm.rms_norm %h2, %ln2 {{epsilon = 1.0e-06 : f32}} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %g = llm.linear %x2, %wg : (tensor<?x?x8xf32>, tensor<8x12xf32>) -> tensor<?x?x12xf32>
    %u = llm.linear %x2, %wu : (tensor<?x?x8xf32>, tensor<8x12xf32>) -> tensor<?x?x12xf32>
    %s = llm.swiglu %g, %u : tensor<?x?x12xf32>
    %d = llm.linear %s, %wd {{transpose_weight = true}} : (tensor<?x?x12xf32>, tensor<8x12xf32>) -> tensor<?x?x8xf32>
    %h3 = llm.add %h2, %d : tensor<?x?x8xf32>
    %x3 = llm.rms_norm %h3, %lnf {{epsilon = 1.0e-06 : f32}} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %logits = llm.logits %x3, %embed {{transpose_weight = true}} : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
    return %logits, %nk, %nv : tensor<?x?x16xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>
  }}
}}
"""


def literal(a, digits):
    return np.array2string(a, separator=", ", precision=digits, floatmode="fixed",
                           threshold=1 << 20, max_line_width=1 << 20,
                           suppress_small=True).replace("\n", "")


def rope_tables():
    inv = 1.0 / (10000.0 ** (np.arange(0, DH, 2) / DH))
    ang = np.arange(MAXPOS)[:, None] * inv[None, :]
    ang = np.concatenate([ang, ang], axis=1)
    return np.cos(ang), np.sin(ang)


def emit():
    rng = np.random.RandomState(16)
    lines = []
    for name, shape in WEIGHTS:
        if name.startswith("ln"):
            w = 1.0 + 0.1 * rng.randn(*shape)
        else:
            w = 0.8 * rng.randn(*shape)
        dims = "x".join(map(str, shape))
        lines.append(f'    %{name} = llm.weight "{name}" = dense<{literal(w, 2)}> : tensor<{dims}xf32>')
    cos, sin = rope_tables()
    sys.stdout.write(PROGRAM.format(weights="\n".join(lines), cos=literal(cos, 6),
                                    sin=literal(sin, 6)))


def read_weights(path):
    text = open(path).read()
    found = {}
    for m in re.finditer(r'llm\.weight "([\w.]+)" = dense<(.*?)> : tensor<([\dx]+)xf32>', text):
        shape = tuple(int(d) for d in m.group(3).split("x"))
        found[m.group(1)] = np.array(ast.literal_eval(m.group(2)), dtype=np.float32).reshape(shape)
    return found


def rms(x, g):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS) * g


def rope(x, heads, cos, sin):
    s = x.shape[0]
    x = x.reshape(s, heads, DH)
    rot = np.concatenate([-x[..., DH // 2:], x[..., :DH // 2]], axis=-1)
    return (x * cos[:s, None, :] + rot * sin[:s, None, :]).reshape(s, heads * DH)


def forward(w, ids):
    """Logits [S, V] of the whole sequence, float64, no cache."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    s = len(ids)
    h = w["embed"][ids]
    x = rms(h, w["ln1"])
    q = rope(x @ w["wq"] + w["bq"], HQ, w["rope.cos"], w["rope.sin"])
    k = rope(x @ w["wk"], HKV, w["rope.cos"], w["rope.sin"])
    v = x @ w["wv"]
    out = np.zeros((s, HQ * DH))
    for head in range(HQ):
        g = head // (HQ // HKV)
        qh, kh, vh = (q[:, head * DH:(head + 1) * DH], k[:, g * DH:(g + 1) * DH],
                      v[:, g * DH:(g + 1) * DH])
        score = SCALE * qh @ kh.T
        score[np.triu(np.ones((s, s), dtype=bool), 1)] = -np.inf
        p = np.exp(score - score.max(-1, keepdims=True))
        out[:, head * DH:(head + 1) * DH] = (p / p.sum(-1, keepdims=True)) @ vh
    h2 = h + out @ w["wo"].T
    x2 = rms(h2, w["ln2"])
    gate, up = x2 @ w["wg"], x2 @ w["wu"]
    h3 = h2 + (gate / (1 + np.exp(-gate)) * up) @ w["wd"].T
    return rms(h3, w["lnf"]) @ w["embed"].T


def check(model, npy, tokens, count):
    raw = open(npy, "rb").read()
    hlen = int.from_bytes(raw[8:10], "little")
    print("magic", raw[:6], "version", raw[6], raw[7], "data offset", 10 + hlen)
    print("header", raw[10:10 + hlen].decode("latin-1").rstrip())
    dumped = np.load(npy)
    w = read_weights(model)
    seq, generated, rows, margin = list(tokens), [], [], np.inf
    for _ in range(max(count, 1)):
        row = forward(w, seq)[-1]
        rows.append(row)
        top = np.sort(row)[::-1]
        margin = min(margin, top[0] - top[1])
        if len(generated) < count:
            generated.append(int(np.argmax(row)))
            seq.append(generated[-1])
    print("ids:", " ".join(map(str, generated)))
    diff = np.abs(dumped - np.array(rows, dtype=np.float32)).max()
    print("dtype", dumped.dtype, "shape", dumped.shape)
    print("logits match" if diff < 1e-4 else f"logits differ by {diff}")
    print("top-2 margin above 0.01" if margin > 0.01 else f"top-2 margin only {margin}")


def main():
    if sys.argv[1] == "emit":
        emit()
        return
    args = dict(zip(sys.argv[4::2], sys.argv[5::2]))
    check(sys.argv[2], sys.argv[3], [int(t) for t in args["--tokens"].split(",")],
          int(args["--max-new-tokens"]))


if __name__ == "__main__":
    main()
