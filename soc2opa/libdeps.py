"""Which library modules (lib/*.rego) each control module of a bundle needs, found in its Rego.

An opa process that judges a group of controls compiles every module it is given; the report
needs only the bundle's other modules, the controls of the group and the libraries those refer to,
directly or through other libraries. A reference is followed only when it names its library:
`data.soc2opa.lib.<name>` (an import or inline). Any other way to reach the libraries (the whole
`data.soc2opa.lib` or `data.soc2opa` imported or indexed, `data[...]`, a library name without a
module) and nothing is recorded, so the engine loads every library. Mentions in comments or
strings only add libraries. docs/performance.md has the figures.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_PACKAGE = re.compile(rb"^package\s+soc2opa\.lib\.([A-Za-z_][A-Za-z0-9_]*)\s*$", re.MULTILINE)
_LIB_REF = re.compile(rb"data\s*\.\s*soc2opa\s*\.\s*lib\b(\s*\.\s*([A-Za-z_][A-Za-z0-9_]*))?")
# data indexed, or data or data.soc2opa taken whole (imported or as a value).
_OPAQUE = re.compile(rb"\bdata\s*\[|\bimport\s+data\b(?!\s*\.)|\bdata\s*\.\s*soc2opa\b(?!\s*\.)")


def _is_library(name: str) -> bool:
    return name.startswith("lib/") and name.endswith(".rego") and not name.endswith("_test.rego")


def library_needs(files: Mapping[str, bytes], controls: Iterable[str]) -> dict[str, Any] | None:
    """The libraries of the bundle, those its non-control modules need, and each control's.

    {"library": [paths], "rest": [paths], "controls": {control path: [paths]}}, every list of
    library paths closed over the libraries' own references; None when a reference cannot be
    followed.
    """
    library: dict[str, list[str]] = {}
    for name in files:
        if _is_library(name):
            found = _PACKAGE.findall(files[name])
            if len(found) != 1:
                return None
            library.setdefault(found[0].decode(), []).append(name)
    direct: dict[str, set[str]] = {}
    for name, text in files.items():
        if not name.endswith(".rego"):
            continue
        if _OPAQUE.search(text):
            return None
        names: set[str] = set()
        for match in _LIB_REF.finditer(text):
            lib = match.group(2)
            if lib is None or lib.decode() not in library:
                return None
            names.update(library[lib.decode()])
        direct[name] = names

    def closure(name: str) -> list[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            for lib in direct.get(todo.pop(), set()):
                if lib not in seen:
                    seen.add(lib)
                    todo.append(lib)
        return sorted(seen)

    wanted = set(controls)
    rest: set[str] = set()
    for name in direct:
        if name not in wanted and not _is_library(name):
            rest.update(closure(name))
    return {
        "library": sorted(n for names in library.values() for n in names),
        "rest": sorted(rest),
        "controls": {name: closure(name) for name in sorted(wanted)},
    }


def base_for(base: list[str], needs: Mapping[str, Any] | None, group: Iterable[str]) -> list[str]:
    """The members of base one opa process loads for a group of control module paths."""
    if needs is None:
        return base
    keep = set(needs["rest"])
    for module in group:
        keep.update(needs["controls"][module])
    library = set(needs["library"])
    return [name for name in base if name not in library or name in keep]
