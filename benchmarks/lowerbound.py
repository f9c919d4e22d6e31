"""A lower bound for judging a plan in OPA: the catalog's controls, each reading one attribute.

For every control of the bundle, a package over the same resource types (indexed once, as the
real library does) that passes a resource when its `tags` are set and fails it with a one-line
reason otherwise. No unknown values, sensitivity, joins, configuration references, metadata or
waivers: what is left is OPA loading the plan, visiting each (control, resource) pair once and
writing one result for it. The benchmark times it beside the floor, so the ratio shows how close
to OPA's load time any policy of this many controls can come on a given plan.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

QUERY = "{id: d | d := data.lowerbound.controls[id].decision}"

_LIB = """package lowerbound.lib

types := {r.type | some r in input.resource_changes}

by_type[t] := ids if {
\tsome t in types
\tids := [i | some i, r in input.resource_changes; r.type == t]
}

of_types(ts) := [input.resource_changes[i] | some t in ts; some i in object.get(by_type, t, [])]
"""

_CONTROL = """package lowerbound.controls.{id}

import data.lowerbound.lib

resource_types := {{{types}}}

_judged := lib.of_types(resource_types)

_ok(r) if r.change.after.tags != null

decision := {{
\t"pass": [r.address | some r in _judged; _ok(r)],
\t"fail": {{r.address: sprintf("%s: tags are not set", [r.type]) | some r in _judged; not _ok(r)}},
}}
"""

_ID = re.compile(r"[a-z][a-z0-9_]*")


def write_policy(types: dict[str, list[str]], folder: Path) -> int:
    """Write the lower-bound policy for these control ids and their resource types; the count."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lib.rego").write_text(_LIB)
    for n, (cid, ts) in enumerate(sorted(types.items())):
        if not _ID.fullmatch(cid):
            raise ValueError(f"{cid!r} is not a control id")
        body = _CONTROL.format(id=cid, types=", ".join(json.dumps(t) for t in sorted(ts)))
        (folder / f"c{n:03d}.rego").write_text(body)
    return len(types)
