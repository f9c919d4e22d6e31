"""Loading and validating the control catalog (controls/<service>/<id>.yaml)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from soc2opa.criteria import CRITERIA
from soc2opa.errors import CatalogError
from soc2opa.fragments import FRAGMENTS, expand

VALUE_OPS = (
    "equals",
    "not_equals",
    "one_of",
    "none_of",
    "exists",
    "absent",
    "truthy",
    "falsy",
    "matches",
    "not_matches",
)
BOUND_OPS = ("gte", "gt", "lte", "lt")


@dataclass(frozen=True)
class Control:
    """One validated control, as read from its YAML file."""

    path: Path
    data: dict[str, Any]

    @property
    def id(self) -> str:
        """The control's stable id."""
        return str(self.data["id"])

    @property
    def service(self) -> str:
        """The AWS service folder the control lives in."""
        return str(self.data["service"])


@cache
def control_schema() -> dict[str, Any]:
    """The JSON Schema every control file must satisfy."""
    text = resources.files("soc2opa").joinpath("schemas/control.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _field(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _best_error(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    # oneOf failures nest the useful message; the deepest path names the real field.
    best = error
    for sub in error.context or []:
        candidate = _best_error(sub)
        if len(candidate.absolute_path) > len(best.absolute_path):
            best = candidate
    return best


def _check_node(node: dict[str, Any], where: str, fail: Any) -> bool:
    """Validate what the schema cannot; return whether the subtree reads a computed value."""
    computed = bool(node.get("computed"))
    if "attr" in node:
        ops = [k for k in VALUE_OPS if k in node]
        bounds = [k for k in BOUND_OPS if k in node]
        if len(ops) + (1 if bounds else 0) != 1:
            fail(f"{where}: an attr check needs exactly one of {', '.join(VALUE_OPS)} or bounds")
        for key in ("matches", "not_matches"):
            if key in node:
                try:
                    re.compile(node[key])
                except re.error as exc:
                    fail(f"{where}.{key}: invalid regular expression: {exc}")
                if "`" in node[key]:
                    fail(f"{where}.{key}: a backtick cannot appear in a pattern")
    else:
        stray = [k for k in (*VALUE_OPS, *BOUND_OPS, "default", "each") if k in node]
        if "if_unknown" in node and not any(
            k in node for k in ("all_items", "any_items", "policy")
        ):
            stray.append("if_unknown")
        if stray:
            fail(f"{where}: {stray[0]} belongs with attr")
    if ("policy" in node) != (("no_statement" in node) != ("some_statement" in node)):
        fail(f"{where}: a policy check takes exactly one of no_statement or some_statement")
    is_relation = any(k in node for k in ("referenced_by", "refers_to"))
    for key in ("min_count", "distinct"):
        if key in node and not is_relation:
            fail(f"{where}: {key} belongs with referenced_by or refers_to")
    if "distinct" in node and "min_count" not in node:
        fail(f"{where}: distinct needs min_count")
    for key in ("all", "any"):
        if node.get(key) and all(child.get("quiet") for child in node[key]):
            fail(f"{where}.{key}: at least one child must not be quiet")
        for i, child in enumerate(node.get(key, [])):
            computed |= _check_node(child, f"{where}.{key}[{i}]", fail)
    is_scope = any(k in node for k in ("all_items", "any_items", "referenced_by", "refers_to"))
    if is_scope and "check" not in node:
        fail(f"{where}: needs a check for the items or related resources")
    if not is_scope and "check" in node:
        fail(f"{where}.check: only all_items, any_items, referenced_by and refers_to take a check")
    if "check" in node:
        computed |= _check_node(node["check"], f"{where}.check", fail)
    return computed


def validate_control(data: Any, path: Path, seen: dict[str, Path], retired: set[str]) -> Control:
    """Validate one parsed control file; raise CatalogError naming the file and the field."""

    def fail(message: str) -> None:
        raise CatalogError(f"{path}: {message}")

    if not isinstance(data, dict):
        fail("expected a mapping of control fields")
    errors = sorted(
        jsonschema.Draft202012Validator(control_schema()).iter_errors(data),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    if errors:
        err = _best_error(errors[0])
        fail(f"{_field(err)}: {err.message}")
    cid = data["id"]
    if path.stem != cid:
        fail(f"id: {cid!r} does not match the file name {path.name!r}")
    if path.parent.name != data["service"]:
        fail(f"service: {data['service']!r} does not match the folder {path.parent.name!r}")
    if cid in retired:
        fail(f"id: {cid!r} was retired and cannot be reused (controls/RETIRED)")
    if cid in seen:
        fail(f"id: {cid!r} is already used by {seen[cid]}")
    for i, crit in enumerate(data["criteria"]):
        if crit not in CRITERIA:
            fail(f"criteria[{i}]: {crit!r} is not a 2017 Trust Services Criteria id (e.g. CC6.1)")
    if "check" not in data:
        if "runtime_evidence" not in data:
            fail("check: a control needs a check, or runtime_evidence when a plan cannot decide it")
        if data.get("examples") or "when" in data:
            fail("examples: a control without a check has no examples (a plan cannot decide it)")
        return Control(path=path, data=data)
    if "examples" not in data:
        fail("examples: a control with a check needs examples")
    if not data["resource_types"]:
        fail("resource_types: a control with a check judges at least one resource type")
    computed = _check_node(data["check"], "check", fail)
    if "when" in data:
        _check_node(data["when"], "when", fail)
    expects = {ex["expect"] for ex in data["examples"]}
    for needed in ("pass", "fail"):
        if needed not in expects:
            fail(f"examples: needs at least one example with expect: {needed}")
    if computed and "unknown" not in expects:
        fail("examples: the check reads a computed value, so it needs an expect: unknown example")
    types = set(data["resource_types"])
    slugs: dict[str, int] = {}
    for i, ex in enumerate(data["examples"]):
        given = [k for k in ("hcl", "values", "resources") if k in ex]
        if len(given) != 1:
            fail(f"examples[{i}]: give exactly one of hcl, values (one resource) or resources")
        slug = example_slug(ex["name"])
        if slug in slugs:
            fail(f"examples[{i}].name: {ex['name']!r} reads the same as examples[{slugs[slug]}]")
        slugs[slug] = i
        if "hcl" in ex:
            for key in ("unknown", "sensitive"):
                if key in ex:
                    fail(f"examples[{i}].{key}: an hcl example gets it from Terraform's plan")
            continue
        if "resources" in ex:
            targets = [
                r["address"] for r in ex["resources"] if _address_type(r["address"]) in types
            ]
            if "target" not in ex and len(targets) != 1:
                fail(f"examples[{i}].target: name the judged resource among {targets}")
    return Control(path=path, data=data)


def example_slug(name: str) -> str:
    """The example's name as an identifier: its module name in planned fixtures and test name."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:60]


def _address_type(address: str) -> str:
    parts = re.sub(r"\[[^\]]*\]", "", address).split(".")
    while parts[:1] == ["module"]:
        parts = parts[2:]
    return parts[0] if parts else ""


def read_retired(root: Path) -> set[str]:
    """Ids that were used once and must never be reused."""
    retired = root / "RETIRED"
    if not retired.exists():
        return set()
    lines = (line.split("#", 1)[0].strip() for line in retired.read_text().splitlines())
    return {line for line in lines if line}


def load_catalog(root: Path) -> list[Control]:
    """Load and validate every controls/<service>/<id>.yaml below root, sorted by id."""
    if not root.is_dir():
        raise CatalogError(f"{root}: catalog folder not found")
    retired = read_retired(root)
    seen: dict[str, Path] = {}
    controls = []
    for path in sorted(p for p in root.glob("*/*.yaml") if p.parent.name != FRAGMENTS):
        try:
            data = expand(yaml.safe_load(path.read_text(encoding="utf-8")), path, root)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark else ""
            raise CatalogError(
                f"{path}: {where}invalid YAML: {getattr(exc, 'problem', exc)}"
            ) from None
        control = validate_control(data, path, seen, retired)
        seen[control.id] = path
        controls.append(control)
    if not controls:
        raise CatalogError(f"{root}: no control files (expected <service>/<id>.yaml)")
    return sorted(controls, key=lambda c: c.id)
