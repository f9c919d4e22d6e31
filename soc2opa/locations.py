"""Where a resource is written: the .tf file and line of its block, and its module calls.

A small scanner reads the top-level blocks of each .tf file (resource, data, module) with the
line they start on; strings, interpolations, heredocs and comments are skipped so braces in them
do not count. Files in Terraform's JSON syntax (.tf.json) are read as JSON, each block on the
line of its name's key. Module calls with a local source (./x, ../x) are followed; others are
looked up in .terraform/modules/modules.json when `terraform init` has run.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from soc2opa.address import parse_address
from soc2opa.errors import UsageError
from soc2opa.repofile import read_repo_text

if TYPE_CHECKING:
    from soc2opa.report import Report

_HEADER = re.compile(r'^\s*(resource|data|module)\s+"([^"]+)"(?:\s+"([^"]+)")?\s*$')
_HEREDOC = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n")
_SOURCE = re.compile(r'^\s*source\s*=\s*"([^"]*)"', re.MULTILINE)


@dataclass(frozen=True)
class SourceLine:
    """One block in a .tf file: an absolute path and a 1-based line."""

    path: Path
    line: int


@dataclass(frozen=True)
class SourceLocation:
    """The resource block, and the module blocks that lead to it (outermost first)."""

    resource: SourceLine
    module_calls: tuple[tuple[str, SourceLine], ...] = ()


@dataclass
class ModuleIndex:
    """The blocks of one module folder."""

    folder: Path
    resources: dict[tuple[str, str, str], SourceLine] = field(default_factory=dict)
    modules: dict[str, tuple[SourceLine, str | None]] = field(default_factory=dict)


def scan_blocks(text: str) -> list[tuple[str, str, str | None, int, str]]:
    """Top-level blocks as (kind, label1, label2, line, body) for resource, data and module."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    blocks: list[tuple[str, str, str | None, int, str]] = []
    stack: list[str] = []
    header_start = 0
    open_at = 0
    pending: tuple[str, str, str | None, int] | None = None
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if stack and stack[-1] == "S":
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                stack.pop()
            elif ch in "$%" and text.startswith("{", i + 1):
                stack.append("I")
                i += 1
            i += 1
            continue
        if ch == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch == '"':
            stack.append("S")
        elif ch == "<" and (m := _HEREDOC.match(text, i)):
            marker = re.compile(rf"^[ \t]*{re.escape(m.group(1))}[ \t]*\r?$", re.MULTILINE)
            close = marker.search(text, m.end())
            i = n if close is None else close.end()
            continue
        elif ch == "{":
            if not stack:
                header = _HEADER.match(text[header_start:i])
                pending = None
                if header:
                    first = (
                        header_start
                        + len(text[header_start:i])
                        - len(text[header_start:i].lstrip())
                    )
                    line = bisect.bisect_right(starts, first)
                    pending = (header.group(1), header.group(2), header.group(3), line)
                    open_at = i
            stack.append("B")
        elif ch == "}":
            if stack:
                top = stack.pop()
                if top == "I":
                    pass
                elif not stack:
                    if pending:
                        blocks.append((*pending, text[open_at + 1 : i]))
                    pending = None
                    header_start = i + 1
        elif ch == "\n" and not stack:
            header_start = i + 1
        i += 1
    return blocks


_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The 1-based line of every object key, by its path of keys from the top (JSON syntax)."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    lines: dict[tuple[str, ...], int] = {}
    path: list[str | None] = []
    last_key: str | None = None
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            m = _KEY.match(text, i)
            if m:
                try:
                    last_key = json.loads(f'"{m.group(1)}"')
                except ValueError:
                    last_key = None
                if last_key is not None and None not in path:
                    here = (*(p for p in path if p is not None), last_key)
                    lines.setdefault(here, bisect.bisect_right(starts, i))
                i = m.end()
                continue
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            i = end + 1
            last_key = None
            continue
        if ch == "{":
            path.append(last_key if last_key is not None else (None if path else ""))
            last_key = None
        elif ch == "[":
            # Blocks given as a list of objects keep their key's path.
            path.append(last_key if last_key is not None else "")
            last_key = None
        elif ch in "}]" and path:
            path.pop()
        i += 1
    return lines


def scan_json_blocks(text: str) -> list[tuple[str, str, str | None, int, str | None]]:
    """Top-level blocks of a .tf.json file as (kind, label1, label2, line, module source)."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return []
    if not isinstance(doc, dict):
        return []
    lines = _key_lines(text)
    blocks: list[tuple[str, str, str | None, int, str | None]] = []

    def objects(value: object) -> list[dict[str, object]]:
        items = value if isinstance(value, list) else [value]
        return [item for item in items if isinstance(item, dict)]

    for kind in ("resource", "data"):
        for by_type in objects(doc.get(kind)):
            for rtype, by_name in by_type.items():
                for named in objects(by_name):
                    for name in named:
                        line = lines.get(("", kind, rtype, name), lines.get(("", kind), 1))
                        blocks.append((kind, rtype, name, line, None))
    for by_name in objects(doc.get("module")):
        for name, body in by_name.items():
            source = next((b.get("source") for b in objects(body) if "source" in b), None)
            line = lines.get(("", "module", name), lines.get(("", "module"), 1))
            blocks.append(("module", name, None, line, source if isinstance(source, str) else None))
    return blocks


def scan_module(folder: Path) -> ModuleIndex:
    """The resource, data and module blocks of every .tf and .tf.json file in a folder."""
    index = ModuleIndex(folder)
    paths = sorted([*folder.glob("*.tf"), *folder.glob("*.tf.json")])
    for path in paths:
        try:
            text = read_repo_text(path, "Terraform source", errors="replace")
        except (OSError, UsageError):
            continue  # no location for its blocks, as for a file that is not there
        if path.name.endswith(".tf.json"):
            for kind, first, second, line, source_text in scan_json_blocks(text):
                _add(index, SourceLine(path, line), kind, first, second, source_text)
            continue
        for kind, first, second, line, body in scan_blocks(text):
            source = _SOURCE.search(body) if kind == "module" else None
            _add(index, SourceLine(path, line), kind, first, second,
                 source.group(1) if source else None)  # fmt: skip
    return index


def _add(
    index: ModuleIndex, where: SourceLine, kind: str, first: str, second: str | None,
    source: str | None,
) -> None:  # fmt: skip
    if kind == "module":
        index.modules.setdefault(first, (where, source))
    elif second is not None:
        mode = "data" if kind == "data" else "managed"
        index.resources.setdefault((mode, first, second), where)


class Locator:
    """Maps resource addresses to source lines under one root module folder."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._indexes: dict[Path, ModuleIndex] = {}
        self._installed = self._read_modules_json()

    def _read_modules_json(self) -> dict[str, Path]:
        manifest = self.root / ".terraform" / "modules" / "modules.json"
        try:
            doc = json.loads(read_repo_text(manifest, "a module manifest", encoding="utf-8"))
            return {
                str(m["Key"]): (self.root / str(m["Dir"])).resolve()
                for m in doc.get("Modules", [])
                if isinstance(m, dict) and m.get("Key") and m.get("Dir")
            }
        except (OSError, ValueError, TypeError, AttributeError, UsageError, RecursionError):
            return {}

    def _index(self, folder: Path) -> ModuleIndex:
        if folder not in self._indexes:
            self._indexes[folder] = scan_module(folder)
        return self._indexes[folder]

    def locate(self, address: str) -> SourceLocation | None:
        """The block of this resource, following module calls; None when not found."""
        try:
            parsed = parse_address(address)
        except ValueError:
            return None
        folder = self.root
        calls: list[tuple[str, SourceLine]] = []
        keys: list[str] = []
        for name in parsed.module_names:
            found = self._index(folder).modules.get(name)
            if found is None:
                return None
            line, source = found
            keys.append(name)
            calls.append((f"module.{name}", line))
            if source and source.startswith(("./", "../")):
                folder = Path(os.path.normpath(folder / source))
            elif ".".join(keys) in self._installed:
                folder = self._installed[".".join(keys)]
            else:
                # The module's code is not on disk: the call is the closest line we know.
                return SourceLocation(line, tuple(calls[:-1]))
        block = self._index(folder).resources.get((parsed.mode, parsed.type, parsed.name))
        if block is None:
            return None
        return SourceLocation(block, tuple(calls))


def locate_results(reports: Iterable[Report], tf_dir: Path) -> None:
    """Attach the source location of every result whose block is found under tf_dir."""
    locator = Locator(tf_dir)
    cache: dict[str, SourceLocation | None] = {}
    for report in reports:
        located = []
        for result in report.results:
            if result.address not in cache:
                cache[result.address] = locator.locate(result.address)
            where = cache[result.address]
            located.append(dataclasses.replace(result, location=where) if where else result)
        report.results = located
