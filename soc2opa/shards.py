"""Sharing one plan's controls out between several opa processes, and joining their reports.

One `opa eval` compiles and judges on one core. The report is a map of control id to that
control's decision, and each decision depends on the plan and the libraries only, never on
another control, so the selected controls can be split into groups, each group compiled and
judged by its own opa over the whole plan, and the groups' `controls` maps joined: the report is
the same, byte for byte (tests/test_shards.py). docs/performance.md has the figures.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from soc2opa.errors import EngineError, UsageError

JOBS_ENV = "SOC2OPA_JOBS"
MAX_DEFAULT_JOBS = 4
# A process more costs its own start, the libraries' compile and a parse of the plan (about
# 0.1 s of CPU): below this many controls per process the split does not pay for it.
MIN_CONTROLS_PER_JOB = 16
# Weights in microseconds, measured on the 10,000-resource synthetic plan: compiling costs
# about 0.6 us per byte of a control module, judging about 50 us per occurrence of one of the
# control's resource types in the plan (a resource names its type about three times). A
# control that reads every resource (vpc_security_group_attached) costs about 50 us per
# resource: 7 % of the catalog's evaluations at 10k, where its types alone gave it 1.5 %.
_US_PER_MODULE_BYTE = 0.6
_US_PER_TYPE_OCCURRENCE = 50.0
_TYPE_OCCURRENCES_PER_RESOURCE = 3
# Each process parses the whole plan and keeps it live with what it derives: measured, opa's
# live heap at a collection was 12 to 21 bytes per plan byte (100,000 resources, 171 MB).
LIVE_BYTES_PER_PLAN_BYTE = 24


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def jobs_wanted(flag: int | None) -> int:
    """--jobs when given, else $SOC2OPA_JOBS, else the usable CPUs up to 4."""
    if flag is not None:
        if flag < 1:
            raise UsageError("--jobs: give a number of opa processes of 1 or more")
        return flag
    given = os.environ.get(JOBS_ENV)
    if given is not None and given.strip():
        try:
            value = int(given.strip())
        except ValueError:
            value = 0
        if value < 1:
            raise UsageError(f"{JOBS_ENV} must be a whole number of 1 or more")
        return value
    return min(usable_cpus(), MAX_DEFAULT_JOBS)


def jobs_for_memory(jobs: int, plan_bytes: int, cap: int | None) -> int:
    """At most jobs, and no more processes than whose live heaps fit in cap (half the memory).

    A 100,000-resource plan needs about 3.4 GB live per process: two fit on a 24 GB machine,
    not on a 7 GB CI runner, where a second process would risk the out-of-memory killer.
    """
    if cap is None or plan_bytes <= 0:
        return jobs
    return max(1, min(jobs, cap // (LIVE_BYTES_PER_PLAN_BYTE * plan_bytes)))


def control_weight(
    module_bytes: int,
    types: Sequence[str],
    type_counts: Mapping[str, int],
    every_resource: bool = False,
) -> float:
    """The estimated cost of compiling a control and judging the plan's resources with it.

    every_resource: the control also reads each resource of the plan, of whatever type.
    """
    occurrences = float(sum(type_counts.get(t, 0) for t in types))
    if every_resource:
        occurrences += sum(type_counts.values()) / _TYPE_OCCURRENCES_PER_RESOURCE
    return _US_PER_MODULE_BYTE * module_bytes + _US_PER_TYPE_OCCURRENCE * occurrences


def library_weight(module_bytes: int) -> float:
    """The estimated cost of compiling a library module, once per process that loads it."""
    return _US_PER_MODULE_BYTE * module_bytes


def split(
    weights: Mapping[str, float],
    jobs: int,
    libraries: Mapping[str, Sequence[str]] | None = None,
    library_weights: Mapping[str, float] | None = None,
) -> list[list[str]]:
    """Groups of control ids with nearly equal total cost, heaviest control first.

    Each control goes to the group whose cost it raises least: its weight plus the weights of
    the libraries (libraries[cid]) the group does not load yet, since every process compiles
    each library it loads. Without libraries that is the lightest group. The number of groups
    is at most jobs and leaves MIN_CONTROLS_PER_JOB controls to each; each group is sorted, and
    the result is the same for the same arguments.
    """
    count = max(1, min(jobs, len(weights) // MIN_CONTROLS_PER_JOB))
    groups: list[list[str]] = [[] for _ in range(count)]
    loads = [0.0] * count
    loaded: list[set[str]] = [set() for _ in range(count)]
    libs = libraries or {}
    lib_cost = library_weights or {}

    def added(i: int, cid: str) -> float:
        new = {lib for lib in libs.get(cid, ()) if lib not in loaded[i]}
        return weights[cid] + sum(lib_cost.get(lib, 0.0) for lib in new)

    for cid in sorted(weights, key=lambda c: (-weights[c], c)):
        best = min(range(count), key=lambda i: (loads[i] + added(i, cid), i))
        loads[best] += added(best, cid)
        groups[best].append(cid)
        loaded[best].update(libs.get(cid, ()))
    return [sorted(g) for g in groups]


def join_reports(parts: Sequence[Any], what: str) -> Any:
    """One report from the reports of several groups of controls over the same plan.

    Everything but `controls` is about the plan and the bundle, so every part must agree on it;
    the controls maps are disjoint and are joined in id order, as opa writes an object. A part
    that is not a report is returned as it is, for the caller's shape check to name.
    """
    for part in parts:
        if not (isinstance(part, dict) and isinstance(part.get("controls"), dict)):
            return part
    if len(parts) == 1:
        return parts[0]
    first = {k: v for k, v in parts[0].items() if k != "controls"}
    controls: dict[str, Any] = {}
    for part in parts:
        if {k: v for k, v in part.items() if k != "controls"} != first:
            raise EngineError(f"the opa processes judging {what} disagree about the plan")
        overlap = controls.keys() & part["controls"].keys()
        if overlap:
            raise EngineError(f"two opa processes judged control {sorted(overlap)[0]} of {what}")
        controls.update(part["controls"])
    joined = dict(parts[0])
    joined["controls"] = {cid: controls[cid] for cid in sorted(controls)}
    return joined
