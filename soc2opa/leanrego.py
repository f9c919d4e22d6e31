"""Cached modules without their METADATA blocks, for opa to parse and compile less.

Every opa process parses each METADATA comment block as YAML and keeps it as annotations, yet
at run time only a control's `meta` rule reads annotations (its package's, through
rego.metadata.chain). The build records each control's `meta` value in the bundle's index (its
stub), so the cache writes that value in place of the chain lookup and blanks every METADATA
block: same line numbers, same report (tests/test_selection.py compares reports with the whole
bundle). A module that reads annotations any other way, or that this scanner cannot tokenise,
is written as it is. docs/performance.md has the figures.
"""

from __future__ import annotations

import json
import re
from typing import Any

META_RULE = (
    b"meta := [e.annotations | some e in rego.metadata.chain(); "
    b'e.annotations.scope == "package"][0]'
)
_SPECIAL = re.compile(rb'["`#]')
_STRING = re.compile(rb'"(?:[^"\\\n]|\\.)*"')
_RAW = re.compile(rb"`[^`]*`")
_MARKER = re.compile(rb"#\s*METADATA\s*")


def _scan(text: bytes) -> tuple[set[int], list[tuple[int, int]]] | None:
    """Offsets of comments that start a line, and the spans of raw strings; None when a string
    does not end."""
    comments: set[int] = set()
    raws: list[tuple[int, int]] = []
    pos = 0
    while (found := _SPECIAL.search(text, pos)) is not None:
        at = found.start()
        if text[at] == ord("#"):
            if at == 0 or text[at - 1] == ord("\n"):
                comments.add(at)
            end = text.find(b"\n", at)
            pos = len(text) if end < 0 else end
            continue
        token = (_STRING if text[at] == ord('"') else _RAW).match(text, at)
        if token is None:
            return None
        if text[at] == ord("`"):
            raws.append(token.span())
        pos = token.end()
    return comments, raws


def _meta_line(lines: list[bytes], raws: list[tuple[int, int]]) -> int | None:
    """The index of the module's one meta rule line, outside any raw string, or None."""
    where = [i for i, line in enumerate(lines) if line == META_RULE]
    if len(where) != 1:
        return None
    offset = sum(len(line) + 1 for line in lines[: where[0]])
    if any(start < offset < end for start, end in raws):
        return None
    return where[0]


def _blanked(lines: list[bytes], comments: set[int]) -> list[bytes]:
    """The lines with every METADATA block (its marker and the comment lines after it) empty."""
    out: list[bytes] = []
    offset = 0
    in_block = False
    for line in lines:
        is_comment = offset in comments
        if is_comment and _MARKER.fullmatch(line):
            in_block = True
        elif not is_comment:
            in_block = False
        out.append(b"" if in_block else line)
        offset += len(line) + 1
    return out


def lean_module(text: bytes, meta: Any = None) -> bytes:
    """The module with its METADATA blocks blanked and, for a control whose recorded meta is
    given, that value in place of its meta rule; the text as it is when that cannot be done
    safely."""
    scanned = _scan(text)
    if scanned is None:
        return text
    comments, raws = scanned
    lines = text.split(b"\n")
    at = None
    literal = ""
    if isinstance(meta, dict):
        at = _meta_line(lines, raws)
        if at is None:
            return text
        try:
            literal = json.dumps(meta, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return text
    rest = [line for i, line in enumerate(lines) if i != at]
    if any(b"rego.metadata" in line for line in rest):
        return text
    out = _blanked(lines, comments)
    if at is not None:
        out[at] = b"meta := " + literal.encode()
    return b"\n".join(out)
