"""JSON text exactly as json.dumps(value, indent=2) writes it, faster.

With indent, the standard library uses its pure-Python encoder: the JSON report of 100 plans
(90 MB) took 1.7 s to write. This writer appends to one list and escapes strings with the C
function json itself uses; a value it does not expect (a key that is not a string, a type JSON
has no name for) sends the whole document to json.dumps, so the text never differs.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

_INFINITY = float("inf")


class _Unexpected(Exception):
    """A value only json.dumps knows how to write (or to refuse)."""


class Fragment:
    """A value that writes its own text: many rows alike are cheaper written by their owner.

    text(nl) is the value's text where the enclosing line break and indent are nl; value() is
    the plain data json.dumps writes instead, and the two must agree (the tests compare them).
    """

    def text(self, nl: str) -> str:
        """The text of value() as json.dumps(..., indent=2) writes it at indent nl."""
        raise NotImplementedError

    def value(self) -> Any:
        """The plain data this fragment stands for."""
        raise NotImplementedError


def _number(f: float) -> str:
    if f != f:
        return "NaN"
    if f == _INFINITY:
        return "Infinity"
    if f == -_INFINITY:
        return "-Infinity"
    return float.__repr__(f)


def _scalar(o: Any) -> str | None:
    """The text of a string, null, boolean or integer; None for anything else."""
    t = type(o)
    if t is str:
        return encode_basestring_ascii(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if t is int:
        return int.__repr__(o)
    return None


def _emit(o: Any, out: list[str], nl: str) -> None:
    t = type(o)
    if t is dict:
        if not o:
            out.append("{}")
            return
        inner = nl + "  "
        sep = "{" + inner
        for k, v in o.items():
            if type(k) is not str:
                raise _Unexpected
            # Most values are strings: written here, without a call per value.
            if type(v) is str:
                out.append(f"{sep}{encode_basestring_ascii(k)}: {encode_basestring_ascii(v)}")
            else:
                text = _scalar(v)
                if text is None:
                    out.append(f"{sep}{encode_basestring_ascii(k)}: ")
                    _emit(v, out, inner)
                else:
                    out.append(f"{sep}{encode_basestring_ascii(k)}: {text}")
            sep = "," + inner
        out.append(nl + "}")
    elif t is list or t is tuple:
        if not o:
            out.append("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for v in o:
            text = _scalar(v)
            if text is None:
                out.append(sep)
                _emit(v, out, inner)
            else:
                out.append(sep + text)
            sep = "," + inner
        out.append(nl + "]")
    else:
        text = _scalar(o)
        if text is not None:
            out.append(text)
        elif t is float:
            out.append(_number(o))
        elif isinstance(o, Fragment):
            out.append(o.text(nl))
        else:
            raise _Unexpected


def text_at(value: Any, nl: str) -> str:
    """The text of value at indent nl (a line break and the spaces of the enclosing level)."""
    text = _scalar(value)
    if text is not None:
        return text
    out: list[str] = []
    _emit(value, out, nl)
    return "".join(out)


def _plain(o: Any) -> Any:
    if isinstance(o, Fragment):
        return o.value()
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def dumps_indented(value: Any) -> str:
    """The text of json.dumps(value, indent=2)."""
    out: list[str] = []
    try:
        _emit(value, out, "\n")
    except (_Unexpected, RecursionError):
        return json.dumps(value, indent=2, default=_plain)
    return "".join(out)
