"""Deployed state: `terraform show -json` of a state, judged as a plan that changes nothing.

A shown state has `values.root_module` (resources with `values` and `sensitive_values`, child
modules nested) and no resource_changes. Each managed resource becomes a no-op resource change
whose planned values are its deployed values, with nothing unknown and the same sensitive
markings, so the bundle's controls judge it exactly as they judge a plan. A raw state file
(`terraform.tfstate`: lineage, serial, resources) is refused with the command that shows it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from soc2opa.errors import InputError
from soc2opa.planfile import PlanFile

PLAN = "plan"
STATE = "state"


@dataclass(frozen=True)
class Judged:
    """What the engine judges for one input file, and whether the file was a plan or a state."""

    plan: PlanFile
    kind: str


def is_shown_state(document: dict[str, Any]) -> bool:
    """True for `terraform show -json` of a state: values, and neither plan section."""
    return (
        "values" in document
        and "resource_changes" not in document
        and "planned_values" not in document
        and not _is_raw_state(document)
    )


def _is_raw_state(document: dict[str, Any]) -> bool:
    return "lineage" in document and "serial" in document


def _modules(root: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Every module of the state, depth first, checked to be the shape Terraform writes."""
    out, todo = [], [root]
    while todo:
        module = todo.pop()
        out.append(module)
        children = module.get("child_modules", [])
        if not isinstance(children, list) or not all(isinstance(c, dict) for c in children):
            raise InputError(f"{name}: state values: child_modules is not a list of modules")
        todo.extend(reversed(children))
    return out


def _change(module: dict[str, Any], resource: Any, name: str) -> dict[str, Any] | None:
    if not isinstance(resource, dict) or not all(
        isinstance(resource.get(k), str) for k in ("address", "mode", "type")
    ):
        raise InputError(f"{name}: state values: a resource has no address, mode or type")
    if resource["mode"] != "managed":
        return None
    values = resource.get("values")
    if not isinstance(values, dict):
        raise InputError(f"{name}: state values: a resource's values are not an object")
    marks = resource.get("sensitive_values", {})
    change: dict[str, Any] = {
        "address": resource["address"],
        "mode": "managed",
        "type": resource["type"],
        "name": resource.get("name", ""),
        "provider_name": resource.get("provider_name"),
        "change": {
            "actions": ["no-op"],
            "before": values,
            "after": values,
            "after_unknown": {},
            "before_sensitive": marks,
            "after_sensitive": marks,
        },
    }
    if isinstance(module.get("address"), str):
        change["module_address"] = module["address"]
    if "index" in resource:
        change["index"] = resource["index"]
    return change


def state_as_plan(plan: PlanFile, document: dict[str, Any]) -> PlanFile:
    """The shown state as the plan the engine judges: one no-op change per managed resource."""
    values = document["values"]
    root = values.get("root_module", {}) if isinstance(values, dict) else None
    if not isinstance(root, dict):
        raise InputError(f"{plan.name}: state values: root_module is not an object")
    changes = []
    for module in _modules(root, plan.name):
        resources = module.get("resources", [])
        if not isinstance(resources, list):
            raise InputError(f"{plan.name}: state values: resources is not a list")
        changes += [c for r in resources if (c := _change(module, r, plan.name)) is not None]
    converted = {
        "format_version": document.get("format_version"),
        "terraform_version": document.get("terraform_version"),
        "resource_changes": changes,
    }
    data = json.dumps(converted, separators=(",", ":"), ensure_ascii=False).encode()
    # The state's "type" strings are a superset of its resource types, as selection needs.
    return PlanFile(name=plan.name, data=data, types=plan.types, type_counts=plan.type_counts)


def judged_input(plan: PlanFile) -> Judged:
    """The plan as read, or a shown state turned into a plan; a raw state file is refused."""
    # Every plan names one of its sections; only what names neither is parsed again here.
    if b'"resource_changes"' in plan.data or b'"planned_values"' in plan.data:
        return Judged(plan, PLAN)
    document = plan.document
    if _is_raw_state(document) and "values" not in document:
        raise InputError(
            f"{plan.name}: this is a raw Terraform state file; judge the deployed state as "
            "`terraform show -json > state.json` writes it (or a plan: terraform show -json tfplan)"
        )
    if is_shown_state(document):
        return Judged(state_as_plan(plan, document), STATE)
    return Judged(plan, PLAN)
