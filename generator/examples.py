"""Turns a control's examples into small but complete `terraform show -json` plans."""

from __future__ import annotations

from typing import Any

from generator.compiler import parse_path
from soc2opa.address import parse_address
from soc2opa.catalog import Control, example_slug


def example_resources(control: Control, example: dict[str, Any]) -> list[dict[str, Any]]:
    """The example's resources; the one-resource shorthand gets a default address."""
    if "resources" in example:
        return list(example["resources"])
    return [
        {
            "address": f"{control.data['resource_types'][0]}.example",
            "values": example.get("values", {}),
            "unknown": example.get("unknown", {}),
            "sensitive": example.get("sensitive", {}),
        }
    ]


def example_target(control: Control, example: dict[str, Any]) -> str:
    """The address of the resource whose outcome the example asserts."""
    if "target" in example:
        return str(example["target"])
    types = set(control.data["resource_types"])
    for res in example_resources(control, example):
        if parse_address(res["address"]).type in types:
            return str(res["address"])
    raise ValueError(f"{control.path}: example {example['name']!r} has no judged resource")


def _expressions(references: dict[str, list[str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path, refs in sorted(references.items()):
        node: Any = root
        segments = parse_path(path)
        for i, seg in enumerate(segments):
            last = i == len(segments) - 1
            nxt = {"references": refs} if last else ([] if isinstance(segments[i + 1], int) else {})
            if isinstance(seg, int):
                while len(node) <= seg:
                    node.append({})
                if last:
                    node[seg] = nxt
                node = node[seg]
            else:
                node = node.setdefault(seg, nxt)
    return root


def example_plan(control: Control, example: dict[str, Any]) -> dict[str, Any]:
    """A plan in format 1.2 holding the example's resources and their configuration."""
    changes = []
    root: dict[str, Any] = {"resources": []}
    blocks: set[tuple[str, str]] = set()
    for res in example_resources(control, example):
        addr = parse_address(res["address"])
        mode = res.get("mode", addr.mode)
        actions = res.get("actions", ["read"] if mode == "data" else ["create"])
        gone = "create" not in actions and ("delete" in actions or "forget" in actions)
        change: dict[str, Any] = {
            "address": res["address"],
            "mode": mode,
            "type": addr.type,
            "name": addr.name,
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {
                "actions": actions,
                "before": res.get("values", {}) if gone else None,
                "after": None if gone else res.get("values", {}),
                "after_unknown": res.get("unknown", {}),
                "after_sensitive": res.get("sensitive", {}),
            },
        }
        if addr.module:
            change["module_address"] = addr.module
        if addr.index is not None:
            change["index"] = addr.index
        changes.append(change)
        module = root
        for name in addr.module_names:
            calls = module.setdefault("module_calls", {})
            module = calls.setdefault(name, {"source": f"./{name}", "module": {"resources": []}})
            module = module["module"]
        rel = f"{'data.' if mode == 'data' else ''}{addr.type}.{addr.name}"
        if (addr.module, rel) not in blocks:
            blocks.add((addr.module, rel))
            block: dict[str, Any] = {
                "address": rel,
                "mode": mode,
                "type": addr.type,
                "name": addr.name,
                "expressions": _expressions(res.get("references", {})),
            }
            if "for_each" in res:
                block["for_each_expression"] = {"references": res["for_each"]}
            module.setdefault("resources", []).append(block)
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "resource_changes": changes,
        "configuration": {"root_module": root},
    }


def hcl_target(control: Control, example: dict[str, Any], plan: dict[str, Any]) -> str:
    """The full address of the resource an HCL example asserts, inside the example's module."""
    module = f"module.{control.id}__{example_slug(example['name'])}"
    if "target" in example:
        return f"{module}.{example['target']}"
    types = set(control.data["resource_types"])
    judged = [
        rc["address"]
        for rc in plan.get("resource_changes", [])
        if rc.get("type") in types and rc.get("mode") == "managed"
    ]
    if len(judged) != 1:
        raise ValueError(
            f"{control.path}: example {example['name']!r}: name its target among "
            f"{[a.removeprefix(module + '.') for a in judged]}"
        )
    return str(judged[0])
