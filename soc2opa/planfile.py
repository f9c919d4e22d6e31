"""The one place a plan file is read and validated, before any engine sees it.

A plan must be strict JSON (RFC 8259) in UTF-8, UTF-16 or UTF-32 (with or without a byte order
mark), within the limits below. Whatever passes is handed to the engines as UTF-8 bytes, so both
engines judge exactly the same document and OPA never falls back to its YAML parser.
"""

from __future__ import annotations

import codecs
import errno
import gc
import json
import os
import re
import select
import stat
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

from soc2opa.errors import InputError
from soc2opa.plantrim import PolicyReads, markings_only, trimmed

# Documented in docs/security.md ("Limits").
MAX_PLAN_BYTES = 256 * 1024 * 1024
MAX_DEPTH = 256
MAX_NUMBER_CHARS = 1000
DEFAULT_READ_TIMEOUT = 600.0

_CHUNK = 1 << 20
_HCL = re.compile(r"^\s*(resource|terraform|provider|variable|module|data|locals|output)\b")
_KINDS = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
_NOT_BRACKETS = bytes(range(256)).translate(None, b'[]{}"')
_STRING = re.compile(rb'"[^"]*"')
_ESCAPE = re.compile(rb'\\[\\"]?')
_WS = re.compile(r"[ \t\n\r]*")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")


class _Object:
    """What the reader keeps of a JSON object: nothing (its types are collected on the way)."""


_OBJECT = _Object()


@dataclass(frozen=True)
class PlanFile:
    """A validated plan: the user's name for it, its UTF-8 JSON bytes and its resource types.

    types holds every string under a "type" key anywhere in the plan, a superset of the
    resource types the bundle judges (soc2opa/selection.py), and type_counts how often each
    occurs (a resource usually names its type three times: in resource_changes, planned_values
    and configuration), which weighs controls when their work is shared out between several
    opa processes (soc2opa/shards.py). The parsed object is not kept: the
    local engine needs only the bytes, and a large plan's objects would sit in memory while opa
    runs.
    """

    name: str
    data: bytes
    types: frozenset[str] = frozenset()
    type_counts: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)
    # Byte spans of the top-level members' values in data, and planned_values cut down to its
    # sensitivity markings (soc2opa/plantrim.py); empty or None when the reader did not make them.
    spans: Mapping[str, tuple[int, int]] = field(default_factory=dict, compare=False, hash=False)
    markings: bytes | None = field(default=None, compare=False, hash=False)

    @property
    def document(self) -> dict[str, Any]:
        """The plan as Python objects, parsed again from the validated bytes (for a server)."""
        value: dict[str, Any] = json.loads(self.data)
        return value

    def for_policy(self, reads: PolicyReads | None) -> bytes:
        """The bytes to give a policy that reads only these parts of a plan (all when None)."""
        if reads is None or not self.spans:
            return self.data
        return trimmed(self.data, self.spans, self.markings, reads)


class _Refused(ValueError):
    """A JSON token Python would accept but a plan may not hold (NaN, oversized numbers)."""


def _constant(token: str) -> Any:
    raise _Refused(f"{token} is not a JSON number")


def _integer(token: str) -> int:
    if len(token) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number has more than {MAX_NUMBER_CHARS} digits")
    return int(token)


def _float(token: str) -> float:
    if len(token) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number has more than {MAX_NUMBER_CHARS} digits")
    value = float(token)
    if value in (float("inf"), float("-inf")):
        raise _Refused("a number is too large for a 64-bit float")
    return value


def _open_error(name: str, path: Path, exc: OSError) -> InputError:
    code = exc.errno
    if code == errno.ENOENT:
        if os.path.lexists(path):
            return InputError(f"{name}: is a symbolic link to a file that does not exist")
        return InputError(f"{name}: no such file")
    if code == errno.ELOOP:
        return InputError(f"{name}: symbolic link loop (too many levels of symbolic links)")
    if code in (errno.EACCES, errno.EPERM):
        return InputError(f"{name}: permission denied (cannot open the file or a folder above it)")
    if code == errno.ENOTDIR:
        return InputError(f"{name}: a part of the path is not a folder")
    if code == errno.EISDIR:
        return InputError(f"{name}: is a directory, expected a plan JSON file")
    reason = (exc.strerror or "cannot open").lower()
    return InputError(f"{name}: cannot read: {reason}")


def _read_stream(fd: int, name: str, deadline: float) -> bytes:
    """Read a pipe or FIFO within the size limit and the deadline."""
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        ready = select.select([fd], [], [], max(remaining, 0))[0] if remaining > 0 else []
        if not ready:
            raise InputError(f"{name}: the pipe sent no complete plan within the timeout")
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:
            continue
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_PLAN_BYTES:
            raise InputError(f"{name}: larger than the limit of {MAX_PLAN_BYTES >> 20} MiB")
        chunks.append(chunk)


def read_bytes(path: Path, timeout: float = DEFAULT_READ_TIMEOUT) -> bytes:
    """The file's bytes: a regular file, or a pipe read within the size limit and the timeout."""
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise _open_error(name, path, exc) from None
    return read_fd(fd, name, timeout, path)


def read_fd(
    fd: int, name: str, timeout: float = DEFAULT_READ_TIMEOUT, path: Path | None = None
) -> bytes:
    """Read an open file (closed afterwards) as read_bytes does; name is used in errors."""
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{name}: is a directory, expected a plan JSON file")
        if stat.S_ISFIFO(info.st_mode):
            return _read_stream(fd, name, time.monotonic() + timeout)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{name}: is a device or socket, expected a plan JSON file")
        if info.st_size > MAX_PLAN_BYTES:
            raise InputError(f"{name}: larger than the limit of {MAX_PLAN_BYTES >> 20} MiB")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_PLAN_BYTES + 1)
        if len(data) > MAX_PLAN_BYTES:
            raise InputError(f"{name}: larger than the limit of {MAX_PLAN_BYTES >> 20} MiB")
        return data
    except OSError as exc:
        raise _open_error(name, path or Path(name), exc) from None
    finally:
        os.close(fd)


def _decode(raw: bytes, name: str) -> str:
    encoding = json.detect_encoding(raw)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        label = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8"}.get(encoding, encoding.upper())
        raise InputError(
            f"{name}: not valid {label} text ({exc.reason} at byte {exc.start})"
        ) from None


def nesting_depth(utf8: bytes) -> int:
    """How deeply arrays and objects nest in JSON text, without parsing it (strings skipped)."""
    # Escapes go first (a backslash with the backslash or quote it escapes, in one pass), so
    # every quote left opens or closes a string; "" pairs (strings without brackets) go next,
    # which keeps the regex pass short.
    text = _ESCAPE.sub(b"", utf8).translate(None, _NOT_BRACKETS)
    brackets = _STRING.sub(b"", text.replace(b'""', b"")).replace(b'"', b"")
    if not brackets:
        return 0
    # Balanced brackets: each pass removes the innermost pairs, so the passes count the depth
    # (in C, not per bracket in Python). Anything else is counted bracket by bracket.
    rest, passes = brackets.translate(_ONE_KIND), 0
    while rest and passes <= MAX_DEPTH:
        shorter = rest.replace(b"[]", b"")
        if len(shorter) == len(rest):
            break
        rest, passes = shorter, passes + 1
    if not rest:
        return passes
    return max(accumulate(1 if c in b"[{" else -1 for c in brackets))


def _not_json(text: str, name: str, exc: json.JSONDecodeError) -> InputError:
    end = len(text.rstrip())
    if exc.msg == "Expecting value" and exc.pos == len(text) - len(text.lstrip()):
        return InputError(f"{name}: not JSON: expected the output of `terraform show -json`")
    if exc.msg == "Extra data":
        return InputError(
            f"{name}: unexpected data after the end of the plan "
            f"(line {exc.lineno}, column {exc.colno})"
        )
    if exc.pos >= end or exc.msg.startswith("Unterminated string"):
        last = text[:end].count("\n") + 1
        return InputError(f"{name}: truncated JSON: the file stops at line {last}")
    return InputError(f"{name}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")


def parse_plan(raw: bytes, name: str) -> PlanFile:
    """Check encoding, limits and strict JSON syntax; the message never quotes the content."""
    if raw.lstrip(codecs.BOM_UTF8).lstrip()[:4] == b"PK\x03\x04":
        raise InputError(
            f"{name}: this is a binary plan file; convert it with "
            "`terraform show -json tfplan > plan.json`"
        )
    if not raw.strip():
        raise InputError(f"{name}: the file is empty")
    text = _decode(raw, name).removeprefix("\ufeff")
    if not text.strip():
        raise InputError(f"{name}: the file is empty")
    head = text[:4096].lstrip()
    if _HCL.match(head) or head.startswith("#"):
        raise InputError(
            f"{name}: this looks like Terraform source (HCL), not a plan; "
            "run `terraform show -json tfplan > plan.json`"
        )
    if "\x00" in head:
        raise InputError(f"{name}: not text: the file holds NUL bytes")
    utf8 = raw if json.detect_encoding(raw) == "utf-8" else text.encode("utf-8")
    depth = nesting_depth(utf8)
    if depth > MAX_DEPTH:
        raise InputError(
            f"{name}: arrays and objects nest {depth} levels deep; the limit is {MAX_DEPTH}"
        )
    counts: dict[str, int] = {}

    def _object(obj: dict[str, Any]) -> _Object:
        # A repeated key keeps its last value, in Python as in OPA, so this is the type OPA sees.
        kind = obj.get("type")
        if kind.__class__ is str:
            counts[kind] = counts.get(kind, 0) + 1
        return _OBJECT

    def _kept(obj: dict[str, Any]) -> dict[str, Any]:
        _object(obj)
        return obj

    hooks: dict[str, Any] = {
        "parse_constant": _constant, "parse_int": _integer, "parse_float": _float,
    }  # fmt: skip
    skim = json.JSONDecoder(object_hook=_object, **hooks)
    with _no_cycle_collection():
        members = _members(text, skim, json.JSONDecoder(object_hook=_kept, **hooks))
        if members is None:
            counts.clear()
            _whole(text, name, hooks, _object)
            return PlanFile(name=name, data=utf8, types=frozenset(counts), type_counts=counts)
        spans, values = members
        if values.get("type").__class__ is str:
            counts[values["type"]] = counts.get(values["type"], 0) + 1
        changes = values.get("resource_changes")
        marks = (
            markings_only(values.get("planned_values"))
            if isinstance(changes, list) and changes and "planned_values" in values
            else None
        )
        del values, members
    return PlanFile(
        name=name, data=utf8, types=frozenset(counts), type_counts=counts,
        spans=_byte_spans(text, utf8, spans), markings=marks,
    )  # fmt: skip


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Keep Python's cyclic collector off while the parsed planned_values is held.

    Its many objects would make every collection walk them all, for nothing: JSON makes no
    cycles, and they are freed by reference counting when the reader lets go of them.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _whole(text: str, name: str, hooks: dict[str, Any], hook: Any) -> None:
    """Parse the whole text as before; raises the input error of a plan that is not an object."""
    try:
        value = json.loads(text, object_hook=hook, **hooks)
    except json.JSONDecodeError as exc:
        raise _not_json(text, name, exc) from None
    except _Refused as exc:
        raise InputError(f"{name}: not valid JSON: {exc}") from None
    except RecursionError:
        raise InputError(
            f"{name}: arrays and objects nest too deeply; the limit is {MAX_DEPTH}"
        ) from None
    if value is not _OBJECT:
        kind = _KINDS.get(type(value), "a number")
        raise InputError(
            f"{name}: not a plan: the JSON value is {kind}, "
            "expected the object terraform show -json writes"
        )


def _members(
    text: str, skim: json.JSONDecoder, keep: json.JSONDecoder
) -> tuple[dict[str, tuple[int, int]], dict[str, Any]] | None:
    """The top-level object member by member: each value's span in text and its parsed value.

    planned_values is parsed whole (its markings are kept, soc2opa/plantrim.py); every other
    value with the skimming decoder. None when the text is not one well-formed object: the
    caller then parses it whole, which raises the same error json.loads always raised.
    """
    spans: dict[str, tuple[int, int]] = {}
    values: dict[str, Any] = {}
    at = _WS.match(text, 0).end()  # type: ignore[union-attr]
    if text[at : at + 1] != "{":
        return None
    at = _WS.match(text, at + 1).end()  # type: ignore[union-attr]
    try:
        while text[at : at + 1] != "}":
            if text[at : at + 1] != '"':
                return None
            key, at = json.decoder.scanstring(text, at + 1)  # type: ignore[attr-defined]
            at = _WS.match(text, at).end()  # type: ignore[union-attr]
            if text[at : at + 1] != ":":
                return None
            start = _WS.match(text, at + 1).end()  # type: ignore[union-attr]
            value, at = (keep if key == "planned_values" else skim).raw_decode(text, start)
            spans[key], values[key] = (start, at), value
            at = _WS.match(text, at).end()  # type: ignore[union-attr]
            if text[at : at + 1] == ",":
                at = _WS.match(text, at + 1).end()  # type: ignore[union-attr]
                if text[at : at + 1] == "}":
                    return None
            elif text[at : at + 1] != "}":
                return None
    except (ValueError, RecursionError):
        return None
    if _WS.match(text, at + 1).end() != len(text):  # type: ignore[union-attr]
        return None
    return spans, values


def _byte_spans(
    text: str, utf8: bytes, spans: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    """Spans in characters of text as spans in bytes of its UTF-8 encoding."""
    if len(text) == len(utf8):
        return spans
    offsets: dict[int, int] = {}
    done = size = 0
    for mark in sorted({m for span in spans.values() for m in span}):
        size += len(text[done:mark].encode("utf-8"))
        offsets[mark], done = size, mark
    return {key: (offsets[a], offsets[b]) for key, (a, b) in spans.items()}


@contextmanager
def open_plan(path: Path, timeout: float = DEFAULT_READ_TIMEOUT) -> Iterator[PlanFile]:
    """Read and validate the plan once; the engines get its validated UTF-8 bytes."""
    yield parse_plan(read_bytes(path, timeout), str(path))
