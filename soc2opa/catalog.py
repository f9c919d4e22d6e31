"""Loading and validating the control catalog (controls/<service>/<id>.yaml)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import jsonschema
import yaml
from referencing import Registry, Resource

from soc2opa.checks import CheckNode, Custom, parse_node, walk
from soc2opa.criteria import CRITERIA
from soc2opa.errors import CatalogError
from soc2opa.fragments import FRAGMENTS, expand
from soc2opa.operators import BOUND_OPS, VALUE_OPS, operators_json_schema
from soc2opa.pathcheck import PathChecker, check_control
from soc2opa.provider_schema import ProviderSchema, provider_schema
from soc2opa.yamlfile import parse_yaml

__all__ = ["BOUND_OPS", "VALUE_OPS", "Control", "catalog_types", "load_catalog"]


@dataclass(frozen=True)
class Control:
    """One validated control, as read from its YAML file."""

    path: Path
    data: dict[str, Any]
    check: CheckNode | None = None
    when: CheckNode | None = None

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


@cache
def schema_registry() -> Registry[Any]:
    """The control schema and the operator schema it refers to, by their $id."""
    # The operator properties come from the operator table itself, not from the generated
    # operators.schema.json, so that validation never runs on a stale copy.
    operators = operators_json_schema()
    control = control_schema()
    return Registry().with_resources(
        [
            (operators["$id"], Resource.from_contents(operators)),
            (control["$id"], Resource.from_contents(control)),
        ]
    )


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(control_schema(), registry=schema_registry())


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


def validate_control(
    data: Any,
    path: Path,
    seen: dict[str, Path],
    retired: set[str],
    schema: ProviderSchema | None = None,
) -> Control:
    """Validate one parsed control file; raise CatalogError naming the file and the field.

    Paths are checked against `schema` (default: the packaged AWS provider schema).
    """

    def fail(message: str) -> NoReturn:
        raise CatalogError(f"{path}: {message}")

    if not isinstance(data, dict):
        fail("expected a mapping of control fields")
    errors = sorted(
        _validator().iter_errors(data),
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
        PathChecker(schema or provider_schema(), fail).roots(
            data["resource_types"], "resource_types"
        )
        return Control(path=path, data=data)
    if "examples" not in data:
        fail("examples: a control with a check needs examples")
    if not data["resource_types"]:
        fail("resource_types: a control with a check judges at least one resource type")
    check = parse_node(data["check"], "check", fail)
    when = parse_node(data["when"], "when", fail) if "when" in data else None
    customs = [n for top in (check, when) if top for n in walk(top) if isinstance(n, Custom)]
    if len(customs) > 1:
        fail(f"{customs[1].where}.rego: only one rego: escape hatch per control")
    computed = check_control(schema or provider_schema(), data["resource_types"], check, when, fail)
    expects = {ex["expect"] for ex in data["examples"]}
    for needed in ("pass", "fail"):
        if needed not in expects:
            fail(f"examples: needs at least one example with expect: {needed}")
    # A when that reads the computed value can settle the unknown case as not judged.
    settled = bool(computed.when) and "not_judged" in expects
    if computed.check and "unknown" not in expects and not settled:
        fail(
            f"examples: {computed.check[0]} is computed by the provider (unknown at plan time "
            "when the configuration leaves it out), so the control needs an expect: unknown example"
        )
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
    return Control(path=path, data=data, check=check, when=when)


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


def _walk_types(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for key in ("referenced_by", "refers_to"):
            rel = node.get(key)
            if isinstance(rel, dict):
                t = rel.get("type")
                out.update([t] if isinstance(t, str) else t if isinstance(t, list) else [])
        for value in node.values():
            _walk_types(value, out)
    elif isinstance(node, list):
        for value in node:
            _walk_types(value, out)


def catalog_types(root: Path) -> set[str]:
    """Every resource type the catalog's controls judge or relate to (read without validating)."""
    types: set[str] = set()
    for path in sorted(p for p in root.glob("*/*.yaml") if p.parent.name != FRAGMENTS):
        try:
            data = expand(parse_yaml(path.read_text(encoding="utf-8")), path, root)
        except (yaml.YAMLError, CatalogError):
            continue
        if not isinstance(data, dict):
            continue
        rts = data.get("resource_types")
        if isinstance(rts, list):
            types.update(t for t in rts if isinstance(t, str))
        _walk_types(data.get("check"), types)
        _walk_types(data.get("when"), types)
    return types


def load_catalog(root: Path, schema: ProviderSchema | None = None) -> list[Control]:
    """Load and validate every controls/<service>/<id>.yaml below root, sorted by id.

    Attribute paths are checked against `schema` (default: the packaged AWS provider schema).
    """
    if not root.is_dir():
        raise CatalogError(f"{root}: catalog folder not found")
    retired = read_retired(root)
    seen: dict[str, Path] = {}
    controls = []
    for path in sorted(p for p in root.glob("*/*.yaml") if p.parent.name != FRAGMENTS):
        try:
            data = expand(parse_yaml(path.read_text(encoding="utf-8")), path, root)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark else ""
            raise CatalogError(
                f"{path}: {where}invalid YAML: {getattr(exc, 'problem', exc)}"
            ) from None
        control = validate_control(data, path, seen, retired, schema)
        seen[control.id] = path
        controls.append(control)
    if not controls:
        raise CatalogError(f"{root}: no control files (expected <service>/<id>.yaml)")
    return sorted(controls, key=lambda c: c.id)
