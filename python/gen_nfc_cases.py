#!/usr/bin/env python3
"""Writes test/unit/Tokenizer/nfc-cases.json.gz: [input, NFC(input)] pairs
from Python's unicodedata (the same Unicode version lib/Tokenizer's tables
come from, see gen_unicode_tables.py) for TokenizerTest.NFCMatchesUnicodeData:

- every code point that NFC changes, and the NFD form of every code point
  that has a canonical decomposition (composition back, or not: exclusions);
- deterministic random sequences of letters, Hangul jamo and combining marks
  (canonical ordering, blocking, Hangul LV/LVT).

Run from the repository root: /usr/bin/python3 python/gen_nfc_cases.py
"""
import gzip
import json
import random
import unicodedata


def main():
    cases = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        nfc = unicodedata.normalize("NFC", c)
        if nfc != c:
            cases.append([c, nfc])
        nfd = unicodedata.normalize("NFD", c)
        if nfd != c:
            cases.append([nfd, unicodedata.normalize("NFC", nfd)])
    marks = [chr(cp) for cp in range(0x300, 0x370)] + \
        ["\u0323", "\u0331", "\u093C", "\u05B0", "\u0E38", "\u3099", "\u302A"]
    bases = list("aeiouAEOUnNcCzZsS") + ["\u0915", "\u304B", "\u0627", "\u1100",
                                          "\u1161", "\u11A8", "\uAC00", "\u0B47",
                                          "\u0B3E"]
    rng = random.Random(20240517)
    for _ in range(3000):
        s = "".join(rng.choice(bases if rng.random() < 0.45 else marks)
                    for _ in range(rng.randint(1, 6)))
        cases.append([s, unicodedata.normalize("NFC", s)])
    out = "test/unit/Tokenizer/nfc-cases.json.gz"
    with gzip.GzipFile(out, "wb", mtime=0) as f:
        f.write(json.dumps({"unicode": unicodedata.unidata_version,
                            "cases": cases}, ensure_ascii=False).encode())
    print(f"{len(cases)} cases -> {out}")


if __name__ == "__main__":
    main()
