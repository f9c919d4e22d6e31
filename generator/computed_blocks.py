"""Which nested blocks the provider computes, as real Terraform showed it in the committed fixtures.

`terraform providers schema -json` flags attributes `computed` but says nothing of the kind for
nested blocks, although the provider fills some blocks the configuration leaves out (a DynamoDB
table's `server_side_encryption`, an instance's `root_block_device`). The real-Terraform fixtures
under tests/plans show it: a block that the example's configuration does not write but whose
`after_unknown` is `true` as a whole is Optional+Computed. A block not computed is planned as an
empty list instead. `make schema` records each block seen so with `"computed": true` in the
trimmed schema; `soc2opa build --check` fails when the fixtures show more or fewer than it records.
Examples with a `dynamic` block of that name are skipped: Terraform leaves dynamic blocks out of
the plan's configuration, so they would look unwritten.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from soc2opa.yamlfile import parse_yaml

PLANS_DIR = "tests/plans"
BlockPath = tuple[str, ...]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _source_text(root: Path, fixture: dict[str, Any]) -> str:
    """The strings (HCL included) of the control YAML a fixture was planned from and of the
    fragment it uses."""
    source = str(fixture.get("_generated", "")).rsplit(" from ", 1)[-1]
    path = root / source
    if not source.endswith(".yaml") or not path.is_file():
        return ""
    data = parse_yaml(path.read_text()) or {}
    texts = _strings(data)
    use = data.get("use") if isinstance(data, dict) else None
    fragment = root / "controls" / "_fragments" / f"{use}.yaml"
    if isinstance(use, str) and fragment.is_file():
        texts += _strings(parse_yaml(fragment.read_text()))
    return "\n".join(texts)


def _walk(
    schema: dict[str, Any], exprs: Any, unknown: Any, prefix: BlockPath, out: set[BlockPath]
) -> None:
    for name, block in schema.get("blocks", {}).items():
        u = unknown.get(name) if isinstance(unknown, dict) else None
        e = exprs.get(name) if isinstance(exprs, dict) else None
        if e is None and u is True:
            out.add((*prefix, name))
        elif isinstance(e, dict) and isinstance(u, dict):
            _walk(block, e, u, (*prefix, name), out)
        elif isinstance(e, list) and isinstance(u, list) and len(e) == len(u):
            for ei, ui in zip(e, u, strict=True):
                _walk(block, ei, ui, (*prefix, name), out)


def _config_resources(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Configuration blocks of the example's own module by full address (module.<m>.<addr>)."""
    calls = plan.get("configuration", {}).get("root_module", {}).get("module_calls", {})
    out: dict[str, dict[str, Any]] = {}
    for module, call in calls.items():
        for res in call.get("module", {}).get("resources", []):
            if res.get("mode") == "managed":
                out[f"module.{module}.{res['address']}"] = res
    return out


_INSTANCE_KEY = re.compile(r"\[[^\]]*\]$")


def observed(root: Path, types: dict[str, Any]) -> dict[str, set[BlockPath]]:
    """Per resource type of the trimmed schema, the block paths the fixtures show computed."""
    found: dict[str, set[BlockPath]] = {}
    for path in sorted((root / PLANS_DIR).glob("*/*.json")):
        fixture = json.loads(path.read_text())
        source = _source_text(root, fixture)
        for plan in fixture.get("examples", {}).values():
            config = _config_resources(plan)
            for rc in plan.get("resource_changes", []):
                schema = types.get(rc.get("type"))
                block = config.get(_INSTANCE_KEY.sub("", rc.get("address", "")))
                change = rc.get("change", {})
                if schema is None or block is None or change.get("after") is None:
                    continue
                seen: set[BlockPath] = set()
                _walk(schema, block.get("expressions", {}), change.get("after_unknown"), (), seen)
                for block_path in seen:
                    if f'dynamic "{block_path[-1]}"' not in source:
                        found.setdefault(rc["type"], set()).add(block_path)
    return found


def mark(types: dict[str, Any], seen: dict[str, set[BlockPath]]) -> None:
    """Set "computed": true, after "nesting", on each block the fixtures show computed."""
    for type_name, paths in seen.items():
        for path in sorted(paths, key=len, reverse=True):
            parent = types[type_name]
            for name in path[:-1]:
                parent = parent["blocks"][name]
            block = parent["blocks"][path[-1]]
            parent["blocks"][path[-1]] = {"nesting": block["nesting"], "computed": True} | block


def recorded(types: dict[str, Any]) -> dict[str, set[BlockPath]]:
    """The block paths a trimmed schema records as computed."""
    out: dict[str, set[BlockPath]] = {}

    def visit(type_name: str, block: dict[str, Any], prefix: BlockPath) -> None:
        for name, child in block.get("blocks", {}).items():
            if child.get("computed"):
                out.setdefault(type_name, set()).add((*prefix, name))
            visit(type_name, child, (*prefix, name))

    for type_name, block in types.items():
        visit(type_name, block, ())
    return out


def staleness(root: Path, schema_file: str) -> list[str]:
    """Why the trimmed schema's computed blocks differ from what the fixtures show (or [])."""
    path = root / schema_file
    if not path.is_file():
        return []
    types = json.loads(path.read_text()).get("resource_types", {})
    want, have = observed(root, types), recorded(types)
    if want == have:
        return []

    def shown(d: dict[str, set[BlockPath]], e: dict[str, set[BlockPath]]) -> str:
        return ", ".join(
            f"{t}.{'.'.join(p)}" for t in sorted(d) for p in sorted(d[t] - e.get(t, set()))
        )

    parts = []
    if extra := shown(want, have):
        parts.append(f"the fixtures show computed blocks it lacks: {extra}")
    if gone := shown(have, want):
        parts.append(f"it marks blocks no fixture shows computed: {gone}")
    return [f"{schema_file} ({'; '.join(parts)}: run `make schema`)"]
