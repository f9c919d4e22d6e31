"""Which control modules a plan needs: those whose resource types occur in it.

The plan reader collects every string under a "type" key anywhere in the plan
(PlanFile.types), a superset of the resource types rego/lib/plan.rego judges. A control none of
whose resource types is in the plan judges nothing, so its decision is the
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

from soc2opa.bundlecache import CachedBundle


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
