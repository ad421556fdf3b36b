"""Exit 1 unless two flightllm-run results (--json report, --dump-logits
array) generated the same tokens with bit-identical logits."""
import json
import sys

import numpy as np

a_json, a_npy, b_json, b_npy = sys.argv[1:5]
a, b = json.load(open(a_json)), json.load(open(b_json))
la, lb = np.load(a_npy), np.load(b_npy)
if a["generated_tokens"] != b["generated_tokens"]:
    sys.exit(f"tokens differ: {a['generated_tokens']} vs {b['generated_tokens']}")
if la.shape != lb.shape or not np.array_equal(la, lb):
    sys.exit(f"logits differ: shapes {la.shape} {lb.shape}")
print(f"same {len(a['generated_tokens'])} tokens, bit-identical logits {la.shape}")
