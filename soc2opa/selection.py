"""Which control modules a plan needs: those whose resource types occur in it.

A control none of whose resource types is in the plan judges nothing, so its decision is the
one the build recorded for an empty plan (the index's stubs); opa gets those as data under
data.soc2opa.controls instead of compiling the control. The report is the same, byte for byte
(tests/test_selection.py); docs/performance.md explains the design.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from soc2opa.bundlecache import CachedBundle


def _module_types(module: Any, out: set[str], depth: int = 0) -> None:
    # Rego iterates arrays and objects alike, so both are walked; plans nest modules shallowly.
    if not isinstance(module, dict) or depth > 300:
        return
    resources = module.get("resources")
    if isinstance(resources, dict):
        resources = list(resources.values())
    for r in resources if isinstance(resources, list) else ():
        if isinstance(r, dict) and isinstance(r.get("type"), str):
            out.add(r["type"])
    children = module.get("child_modules")
    if isinstance(children, dict | list):
        for child in children.values() if isinstance(children, dict) else children:
            _module_types(child, out, depth + 1)


def plan_types(document: Any) -> set[str]:
    """Every resource type in resource_changes and planned_values (a superset of what is judged)."""
    out: set[str] = set()
    if not isinstance(document, dict):
        return out
    changes = document.get("resource_changes")
    if isinstance(changes, list):
        out.update(
            t for rc in changes if isinstance(rc, dict) and isinstance(t := rc.get("type"), str)
        )
    planned = document.get("planned_values")
    if isinstance(planned, dict):
        _module_types(planned.get("root_module"), out)
    return out


def selected(cached: CachedBundle, types: Iterable[str]) -> list[str]:
    """The ids of the controls to compile for a plan holding these resource types."""
    present = set(types)
    chosen = set(cached.always)
    chosen.update(cid for cid, ts in cached.types.items() if not present.isdisjoint(ts))
    return sorted(chosen)


@contextmanager
def selective_args(cached: CachedBundle, types: Iterable[str]) -> Iterator[list[str]]:
    """opa eval's data arguments for this plan; the stub file lives while the caller runs opa."""
    chosen = selected(cached, types)
    args: list[str] = []
    for name in cached.base:
        args += ["--data", str(cached.folder / name)]
    for cid in chosen:
        args += ["--data", str(cached.folder / cached.modules[cid])]
    rest = {cid: {"decision": cached.stubs[cid]} for cid in sorted(set(cached.stubs) - set(chosen))}
    if not rest:
        yield args
        return
    fd, name = tempfile.mkstemp(prefix=".run-", suffix=".json", dir=cached.folder)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump({"soc2opa": {"controls": rest}}, handle)
        yield [*args, "--data", name]
    finally:
        os.unlink(name)
