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
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from soc2opa.bundlecache import CachedBundle
from soc2opa.libdeps import base_for
from soc2opa.shards import control_weight, library_weight, split


def selected(cached: CachedBundle, types: Iterable[str]) -> list[str]:
    """The ids of the controls to compile for a plan holding these resource types."""
    present = set(types)
    chosen = set(cached.always)
    chosen.update(cid for cid, ts in cached.types.items() if not present.isdisjoint(ts))
    return sorted(chosen)


@contextmanager
def selective_args(cached: CachedBundle, types: Iterable[str]) -> Iterator[list[str]]:
    """opa eval's data arguments for this plan; the stub file lives while the caller runs opa."""
    with sharded_args(cached, types, {}, 1) as groups:
        yield groups[0]


@contextmanager
def sharded_args(
    cached: CachedBundle, types: Iterable[str], type_counts: Mapping[str, int], jobs: int
) -> Iterator[list[list[str]]]:
    """The data arguments of up to jobs opa processes that judge the plan's controls between them.

    Each gets the bundle's modules other than controls, less the libraries none of its group
    needs (soc2opa/libdeps.py), and its group of the selected controls (soc2opa/shards.py); the
    first also gets the stubs of the controls the plan does not reach.
    """
    chosen = selected(cached, types)
    groups = [chosen]
    if jobs > 1:
        weights = {
            cid: control_weight(
                _size(cached, cid), cached.types.get(cid, []), type_counts, cid in cached.scans
            )
            for cid in chosen
        }
        groups = split(weights, jobs, *_libraries(cached, chosen, weights))
    args = []
    for group in groups:
        modules = [cached.modules[cid] for cid in group]
        names = [*base_for(cached.base, cached.libs, modules), *modules]
        args.append([a for name in names for a in ("--data", str(cached.folder / name))])
    rest = {cid: {"decision": cached.stubs[cid]} for cid in sorted(set(cached.stubs) - set(chosen))}
    if not rest:
        yield args
        return
    fd, name = tempfile.mkstemp(prefix=".run-", suffix=".json", dir=cached.folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            # dumps, not dump: dump streams through the pure-Python encoder (about 20 ms here).
            handle.write(json.dumps({"soc2opa": {"controls": rest}}).encode())
        args[0] += ["--data", name]
        yield args
    finally:
        os.unlink(name)


def _libraries(
    cached: CachedBundle, chosen: list[str], weights: Mapping[str, float]
) -> tuple[dict[str, list[str]], dict[str, float]]:
    """The libraries each chosen control needs beyond those every process loads, and their
    compile weights, when compiling is most of the estimated cost (a small plan).

    Nothing for a larger plan: judging it dominates, and the per-resource cost of some services'
    controls is several times the estimate (docs/performance.md), so keeping the users of one
    library together would also put those errors in one process. Nothing either when the index
    does not say which libraries a control needs (every process then loads them all).
    """
    compiling = sum(control_weight(_size(cached, cid), (), {}) for cid in chosen)
    if cached.libs is None or compiling < sum(weights.values()) / 2:
        return {}, {}
    common = set(cached.libs["rest"])
    needs = {
        cid: [lib for lib in cached.libs["controls"][cached.modules[cid]] if lib not in common]
        for cid in chosen
    }
    sizes = {}
    for lib in {lib for libs in needs.values() for lib in libs}:
        try:
            sizes[lib] = library_weight((cached.folder / lib).stat().st_size)
        except OSError:
            sizes[lib] = 0.0
    return needs, sizes


def _size(cached: CachedBundle, cid: str) -> int:
    """The control module's size in the bundle (its compile cost estimate)."""
    path = cached.modules[cid]
    if cached.sizes is not None:
        return cached.sizes[path]
    try:
        return (cached.folder / path).stat().st_size
    except OSError:
        return 0
