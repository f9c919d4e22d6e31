"""Checks a plan file before OPA reads it, and explains files OPA cannot parse."""

from __future__ import annotations

import codecs
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from soc2opa.errors import InputError

_HCL = re.compile(rb"^\s*(resource|terraform|provider|variable|module|data|locals|output)\b")


@dataclass(frozen=True)
class PlanFile:
    """A plan as handed to the engine: the user's name for it and a UTF-8 JSON path."""

    name: str
    path: Path


def _decode_utf16(raw: bytes, name: str) -> bytes:
    try:
        return raw.decode("utf-16").encode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: not valid UTF-16 text ({exc.reason} at byte {exc.start})"
        ) from None


def _sniff(raw: bytes, name: str) -> bytes | None:
    """Return transcoded UTF-8 bytes when the file needs it, None when OPA can read it as is."""
    if not raw.strip():
        raise InputError(f"{name}: the file is empty")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_utf16(raw, name)
    if len(raw) >= 2 and (raw[0] == 0 or raw[1] == 0):
        return _decode_utf16(raw, name)
    head = raw[:4096].lstrip(codecs.BOM_UTF8).lstrip()
    if head.startswith(b"PK\x03\x04"):
        raise InputError(
            f"{name}: this is a binary plan file; convert it with "
            "`terraform show -json tfplan > plan.json`"
        )
    if _HCL.match(head) or head.startswith(b"#"):
        raise InputError(
            f"{name}: this looks like Terraform source (HCL), not a plan; "
            "run `terraform show -json tfplan > plan.json`"
        )
    if not head.startswith(b"{"):
        try:
            value = json.loads(raw.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            raise InputError(
                f"{name}: not JSON: expected the output of `terraform show -json`"
            ) from None
        kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
        raise InputError(
            f"{name}: not a plan: the JSON value is {kinds.get(type(value), 'a number')}, "
            "expected the object terraform show -json writes"
        )
    return None


@contextmanager
def open_plan(path: Path) -> Iterator[PlanFile]:
    """Validate the file's encoding and shape; yield a path OPA can read (a temp copy if needed)."""
    name = str(path)
    if not path.exists():
        raise InputError(f"{name}: no such file")
    if path.is_dir():
        raise InputError(f"{name}: is a directory, expected a plan JSON file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror}") from None
    converted = _sniff(raw, name)
    if converted is None and path.suffix.lower() == ".json":
        yield PlanFile(name=name, path=path)
        return
    # OPA picks the parser by file extension, so anything else is copied to a .json file.
    with tempfile.TemporaryDirectory(prefix="soc2opa-") as tmp:
        copy = Path(tmp, "plan.json")
        copy.write_bytes(converted if converted is not None else raw)
        yield PlanFile(name=name, path=copy)


def plan_is_json(plan: PlanFile) -> bool:
    """Whether Python's parser accepts the file; asked only after OPA failed (off the hot path)."""
    try:
        json.loads(plan.path.read_bytes().decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def explain_parse_failure(plan: PlanFile) -> InputError:
    """Why the plan is not valid JSON, from Python's parser (OPA's message may quote content)."""
    text = plan.path.read_bytes().decode("utf-8-sig", errors="replace")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or not text.rstrip().endswith("}"):
            last = text.rstrip().count("\n") + 1
            return InputError(f"{plan.name}: truncated JSON: the file stops at line {last}")
        return InputError(
            f"{plan.name}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        )
    return InputError(f"{plan.name}: OPA could not read this file as JSON")
