"""The part of a plan a soc2opa bundle reads, so opa parses and holds only that.

A plan from `terraform show -json` carries the same resources up to three times (prior_state,
planned_values, resource_changes) plus variables, outputs and drift. The bundle's Rego reads a
few top-level members (the build lists them in the manifest, generator/build.py), and of
planned_values, when resource_changes is a non-empty list, only each resource's address and
sensitivity markings (`_pv_sensitive` in rego/lib/plan.rego). The engine gives opa just that;
the report is the same, byte for byte (tests/test_plantrim.py, docs/performance.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The one reduction of planned_values the manifest may declare.
SENSITIVE_VALUES = "sensitive_values"


@dataclass(frozen=True)
class PolicyReads:
    """The plan's top-level members a bundle reads, and whether planned_values' markings do."""

    keys: frozenset[str]
    planned_values: str | None = None

    @classmethod
    def from_manifest(cls, entry: Any) -> PolicyReads | None:
        """The manifest's metadata.selection.input; None when absent or not understood."""
        if not isinstance(entry, dict):
            return None
        keys, pv = entry.get("keys"), entry.get("planned_values")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            return None
        if pv not in (None, SENSITIVE_VALUES):
            return None
        return cls(frozenset(keys), pv)

    def to_manifest(self) -> dict[str, Any]:
        """The manifest entry from_manifest reads back."""
        entry: dict[str, Any] = {"keys": sorted(self.keys)}
        if self.planned_values:
            entry["planned_values"] = self.planned_values
        return entry


def markings_only(planned_values: Any) -> bytes | None:
    """planned_values with only what the markings need, as JSON; None when its shape is unusual.

    Every module keeps its place (root_module, then child_modules in order, so the depth the
    Rego sees is the same); each resource the Rego would take markings from keeps its address
    and sensitive_values, with the same filters as `_pv_sensitive`; nothing else is kept. A
    shape the Rego would read differently (child_modules or resources not a list of objects,
    root_module not an object) gives None, and the engine passes planned_values as it is.
    """
    if not isinstance(planned_values, dict):
        return None
    if "root_module" not in planned_values:
        return b"{}"
    root = _module(planned_values["root_module"])
    if root is None:
        return None
    return json.dumps({"root_module": root}, separators=(",", ":")).encode()


def _module(module: Any) -> dict[str, Any] | None:
    if not isinstance(module, dict):
        return None
    out: dict[str, Any] = {}
    if "resources" in module:
        resources = module["resources"]
        if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
            return None
        out["resources"] = [
            {"address": r["address"], "sensitive_values": r["sensitive_values"]}
            for r in resources
            if isinstance(r.get("address"), str) and _marked(r)
        ]
    if "child_modules" in module:
        children = module["child_modules"]
        if not isinstance(children, list):
            return None
        reduced = [_module(child) for child in children]
        if any(child is None for child in reduced):
            return None
        out["child_modules"] = reduced
    return out


def _marked(resource: dict[str, Any]) -> bool:
    # Rego's `r.sensitive_values != {}` and `!= false`: 0 and null are neither.
    if "sensitive_values" not in resource:
        return False
    marks = resource["sensitive_values"]
    return marks is not False and not (isinstance(marks, dict) and not marks) and _marks_any(marks)


def _marks_any(marks: Any) -> bool:
    """Whether a marking holds true anywhere: one that does not can mark no value.

    Terraform writes sensitive_values for every resource, mostly empty objects and lists for
    each block and map ({"tags": {}, "ebs_block_device": []}); leaving those out spares opa
    grouping them by address on every run, and sensitive_at answers the same without them.
    """
    if marks is True:
        return True
    if isinstance(marks, dict):
        values: Any = marks.values()
    elif isinstance(marks, list):
        values = marks
    else:
        return False
    return any(v is True or (v.__class__ in (dict, list) and _marks_any(v)) for v in values)


def trimmed(
    data: bytes,
    spans: Mapping[str, tuple[int, int]],
    markings: bytes | None,
    reads: PolicyReads,
) -> bytes:
    """The plan object with only the members reads names, cut from data by their spans."""
    view = memoryview(data)
    parts: list[bytes | memoryview] = []
    for key, (start, end) in spans.items():
        if key not in reads.keys:
            continue
        parts.append(b"," if parts else b"{")
        parts.append(json.dumps(key).encode() + b":")
        if key == "planned_values" and reads.planned_values and markings is not None:
            parts.append(markings)
        else:
            parts.append(view[start:end])
    parts.append(b"}" if parts else b"{}")
    return b"".join(parts)
