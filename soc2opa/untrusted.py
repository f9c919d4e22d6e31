"""Rendering strings that come from a plan, a file name or an OPA server, safely for a terminal.

Every string soc2opa did not write itself (resource addresses, messages, versions, file names,
text an OPA server answered) goes through `escape` before it reaches a terminal, a text report,
a log line or an error message. Formats that have their own quoting rules (JSON, SARIF, XML)
keep strings exact and escape with those rules instead; formats read by people (text,
Markdown, annotations) use `escape`, then their own quoting on top.

    escape(s)                      the whole string, safe to print on one line
    escape(s, keep_newlines=True)  the same, but line breaks kept (multi-line fields)
    excerpt(s, limit)              at most `limit` characters of it, for error messages

What is replaced, by a visible backslash escape:
- C0 controls (including newline, carriage return, tab and ESC, which starts CSI and OSC
  sequences), DEL and C1 controls (U+0080 to U+009F, e.g. the one-byte CSI U+009B);
- Unicode format characters (category Cf: bidirectional overrides and isolates such as U+202E,
  zero-width characters, the BOM), line and paragraph separators (U+2028, U+2029), lone
  surrogates and private-use characters.

Everything else, including printable non-ASCII text, is kept as is. The result never contains a
character that moves the cursor, changes colours, sets a window title, or reorders text.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["escape", "excerpt"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
# Fast path: plain printable ASCII needs no per-character look-up.
_PLAIN = re.compile(r"[ -~]*")


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape(value: object, *, keep_newlines: bool = False) -> str:
    """The string with every control, format and invisible character shown as a backslash escape.

    Non-strings are converted with str() first. The result is one line of printable text, or,
    with keep_newlines, several lines ("\\n" kept, nothing else) for multi-line fields of
    formats that quote each line themselves.
    """
    text = value if isinstance(value, str) else str(value)
    if _PLAIN.fullmatch(text):
        return text
    return "".join(
        _escape_char(ch)
        if unicodedata.category(ch) in _UNSAFE_CATEGORIES and not (keep_newlines and ch == "\n")
        else ch
        for ch in text
    )


def excerpt(value: object, limit: int = 60) -> str:
    """An escaped excerpt of at most `limit` characters (an ellipsis marks a cut), for errors."""
    text = escape(value)
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "\u2026"
