"""Plain English text from two Debian documentation packages, for the accuracy model.

Training text: the reStructuredText sources of the Python 3.11 documentation
(Debian package python3.11-doc, /usr/share/doc/python3.11/html/_sources; the
PSF documentation licence). Held-out text: "The Debian Administrator's
Handbook" by Raphael Hertzog and Roland Mas (package debian-handbook, English
HTML; GPL-2+ or CC-BY-SA-3.0): other authors, another package, another markup.

Both are reduced to prose deterministically (files in sorted name order, pure
functions of the installed files): markup is removed, code is dropped (literal
blocks, code directives, doctest sessions, <pre> screens), inline markup keeps
its text. Paragraphs are re-flowed to one line each, separated by one empty
line, so both texts have the same layout and a byte-level model does not learn
one source's line breaks.

    /usr/bin/python3 python/accuracy_corpus.py --stats
"""

from __future__ import annotations

import argparse
import html.parser
import re
from pathlib import Path

PYDOC_DIR = Path("/usr/share/doc/python3.11/html/_sources")
HANDBOOK_DIR = Path("/usr/share/doc/debian-handbook/html/en-US")
PACKAGES = {"train": "python3.11-doc", "heldout": "debian-handbook"}

# Directives whose body is prose (kept, the directive line itself dropped).
# Every other directive (code-block, index, toctree, productionlist, ...) is
# dropped with its body.
PROSE_DIRECTIVES = {
    "note", "warning", "seealso", "versionadded", "versionchanged", "deprecated",
    "deprecated-removed", "attention", "caution", "important", "tip", "hint", "impl-detail",
    "function", "method", "class", "attribute", "data", "exception", "decorator",
    "classmethod", "staticmethod", "describe", "envvar", "option", "cmdoption",
    "module", "opcode", "pdbcommand", "c:function", "c:type", "c:macro", "c:member",
    "c:var", "c:struct", "c:data", "topic", "sidebar", "rubric", "admonition",
    "glossary", "availability", "audit-event", "abstractmethod", "coroutinefunction",
    "coroutinemethod", "awaitablefunction", "decoratormethod", "index-entry",
}

_ROLE = re.compile(r":[A-Za-z0-9_:+-]+:`([^`]*)`")
_LINK = re.compile(r"`([^`<]*?)\s*<[^`>]*>`_{1,2}")
_REF = re.compile(r"`([^`]+)`_{1,2}")
_LITERAL = re.compile(r"``(.+?)``")
_EMPH = re.compile(r"(?<![\w*])\*{1,2}([^*\s](?:[^*]*[^*\s])?)\*{1,2}(?![\w*])")
_FOOTREF = re.compile(r"\s*\[(?:#|\*|\d+|#[\w-]+)\]_")
_ADORNMENT = re.compile(r"^\s*([=\-~^\"'`#*+_:.])\1{2,}\s*$")
_SIMPLE_TABLE = re.compile(r"^\s*=+(\s+=+)+\s*$")
_FIELD = re.compile(r"^:[\w .-]+:(\s|$)")
_BULLET = re.compile(r"^([*+-]|#\.|\d+\.|\(?[a-z]\))\s+")


def _role_text(m: re.Match) -> str:
    text = m.group(1)
    link = re.match(r"(.*?)\s*<[^>]*>$", text)
    if link and link.group(1):
        text = link.group(1)
    return text.lstrip("~!")


def rst_inline(line: str) -> str:
    line = _ROLE.sub(_role_text, line)
    line = _LINK.sub(r"\1", line)
    line = _LITERAL.sub(r"\1", line)
    line = _REF.sub(r"\1", line)
    line = _FOOTREF.sub("", line)
    line = _EMPH.sub(r"\1", line)
    return line.replace("\\", "")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def rst_to_paragraphs(text: str):
    """Prose paragraphs of one reStructuredText document."""
    lines = text.expandtabs(8).splitlines()
    paragraphs, current = [], []

    def flush():
        if current:
            paragraphs.append(rst_inline(" ".join(current)))
            current.clear()

    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
            i += 1
            continue
        ind = _indent(line)
        if stripped.startswith(".. "):
            m = re.match(r"\.\.\s+([\w:-]+)::(.*)$", stripped)
            flush()
            # The directive's options and body: the following lines that are
            # indented more than it (or empty).
            j = i + 1
            while j < n and (not lines[j].strip() or _indent(lines[j]) > ind):
                j += 1
            if m and m.group(1) in PROSE_DIRECTIVES:
                k = i + 1
                while k < j and re.match(r"\s*:[\w-]+:", lines[k]):
                    k += 1  # directive options
                body = lines[k:j]
                if body:
                    base = min((_indent(b) for b in body if b.strip()), default=0)
                    paragraphs.extend(rst_to_paragraphs("\n".join(b[base:] for b in body)))
            i = j
            continue
        if _ADORNMENT.match(line) or _SIMPLE_TABLE.match(line):
            flush()
            i += 1
            continue
        if stripped.startswith(("+-", "+=", "|", ">>>", "...")) or _FIELD.match(stripped):
            # Tables, doctest sessions, field lists: not prose.
            flush()
            j = i + 1
            while j < n and lines[j].strip():
                j += 1
            i = j
            continue
        bullet = _BULLET.match(stripped)
        if bullet:
            flush()
            stripped = stripped[bullet.end():]
            ind += bullet.end()
        literal = stripped.endswith("::")
        if literal:
            stripped = stripped[:-2].rstrip()
            if stripped and not stripped.endswith(":"):
                stripped += ":"
        if stripped:
            current.append(stripped)
        i += 1
        if literal:
            flush()
            # The literal block: indented deeper than the paragraph, after
            # optional empty lines.
            while i < n and (not lines[i].strip() or _indent(lines[i]) > ind):
                i += 1
        elif i < n and lines[i].strip() and _indent(lines[i]) > ind and not current[1:]:
            # Definition-list term followed by its indented definition:
            # the term is a paragraph of its own.
            flush()
    flush()
    return [p for p in (re.sub(r"\s+", " ", p).strip() for p in paragraphs) if _is_prose(p)]


def _is_prose(p: str) -> bool:
    """A paragraph of words: mostly letters and spaces, with a few words."""
    if len(p) < 20 or len(p.split()) < 4:
        return False
    letters = sum(c.isalpha() or c == " " for c in p)
    return letters >= 0.75 * len(p)


class _HandbookText(html.parser.HTMLParser):
    """Paragraph-level text of one handbook page: paragraphs, list items,
    titles; no <pre> (screens, files), no navigation, tables of contents,
    footnotes or indexes."""

    BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "dt", "dd", "td", "th", "div", "table", "tr"}
    SKIP_TAGS = {"pre", "script", "style", "head"}
    SKIP_CLASSES = {"navfooter", "navheader", "toc", "footnotes", "index", "legalnotice", "docnav"}
    VOID = {"br", "img", "meta", "link", "hr", "input", "col", "area", "base", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs, self.current = [], []
        self.stack = []          # open elements
        self.skip_from = None    # stack depth of the element being skipped

    def flush(self):
        text = re.sub(r"\s+", " ", "".join(self.current)).strip()
        if text and self.skip_from is None:
            self.paragraphs.append(text)
        self.current = []

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCKS or tag in self.SKIP_TAGS:
            self.flush()
        if tag in self.VOID:
            return
        classes = set((dict(attrs).get("class") or "").split())
        if self.skip_from is None and (tag in self.SKIP_TAGS or classes & self.SKIP_CLASSES):
            self.skip_from = len(self.stack)
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.BLOCKS:
            self.flush()
        if tag not in self.stack:
            return
        while self.stack.pop() != tag:
            pass
        if self.skip_from is not None and len(self.stack) <= self.skip_from:
            self.skip_from = None
            self.current = []

    def handle_data(self, data):
        if self.skip_from is None:
            self.current.append(data)


def html_to_paragraphs(text: str):
    parser = _HandbookText()
    parser.feed(text)
    parser.close()
    parser.flush()
    return [p for p in parser.paragraphs if _is_prose(p)]


def _join(paragraphs) -> bytes:
    return ("\n\n".join(paragraphs) + "\n").encode("utf-8")


def pydoc_files():
    return sorted(p for p in PYDOC_DIR.rglob("*.rst.txt") if "includes" not in p.parts)


def handbook_files():
    return sorted(HANDBOOK_DIR.glob("*.html"), key=lambda p: p.name)


def _require(directory: Path, split: str):
    if not directory.is_dir():
        raise SystemExit(f"{directory} is missing: apt-get install -y {PACKAGES[split]} "
                         f"(the {split} text of the accuracy model)")


def train_text() -> bytes:
    _require(PYDOC_DIR, "train")
    paras = []
    for p in pydoc_files():
        paras.extend(rst_to_paragraphs(p.read_text(encoding="utf-8")))
    return _join(paras)


def heldout_text(limit: int) -> bytes:
    """The handbook's prose in file name order, cut after the paragraph that
    reaches `limit` bytes (0: all of it)."""
    _require(HANDBOOK_DIR, "heldout")
    seen, paras, size = set(), [], 0
    for p in handbook_files():
        for para in html_to_paragraphs(p.read_text(encoding="utf-8")):
            if para in seen:  # repeated boilerplate (titles, notes)
                continue
            seen.add(para)
            paras.append(para)
            size += len(para.encode("utf-8")) + 2
            if limit and size >= limit:
                return _join(paras)
    return _join(paras)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stats", action="store_true", help="print the sizes")
    ap.add_argument("--dump", choices=("train", "heldout"), help="write one split to stdout")
    args = ap.parse_args()
    if args.dump:
        import sys
        sys.stdout.buffer.write(train_text() if args.dump == "train" else heldout_text(0))
        return
    t, h = train_text(), heldout_text(0)
    print(f"train ({PACKAGES['train']}): {len(t)} bytes, {len(pydoc_files())} files")
    print(f"held-out ({PACKAGES['heldout']}): {len(h)} bytes, {len(handbook_files())} files")


if __name__ == "__main__":
    main()
