"""Writes an llm program whose first decoder layer is dense: drops the
`sparsity` attribute of its first N llm.linear ops (a layer's projections),
keeping their pruned codes, which the dense format stores as they are. The
other layers keep their N:M format, so the layers' formats differ."""
import re
import sys

src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
out, dropped = [], 0
for line in open(src):
    if dropped < count and "llm.linear" in line and "sparsity = " in line:
        line, n = re.subn(r"sparsity = array<i64: \d+, \d+>, ", "", line, count=1)
        dropped += n
    out.append(line)
if dropped != count:
    sys.exit(f"found {dropped} sparse llm.linear ops, wanted {count}")
open(dst, "w").writelines(out)
