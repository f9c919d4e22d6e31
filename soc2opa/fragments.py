"""Shared fragments: a control file that says `use: <name>` is built from controls/_fragments/.

A fragment holds `params` (each parameter's meaning) and a `template`: control fields in which
`${param}` stands for a value given under the control's `with:`. A string that is exactly
`${param}` takes the value as it is (a list, a number); inside longer text it is spliced in as
text. The control's own fields are laid over the filled template, so `id` and anything that
differs (an extra example, other criteria) live in the control file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from soc2opa.errors import CatalogError
from soc2opa.yamlfile import parse_yaml

FRAGMENTS = "_fragments"
_PLACEHOLDER = re.compile(r"\$\{([a-z_][a-z0-9_]*)\}")


def _fill(node: Any, values: dict[str, Any], used: set[str], fail: Any) -> Any:
    if isinstance(node, dict):
        return {k: _fill(v, values, used, fail) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, values, used, fail) for v in node]
    if not isinstance(node, str):
        return node
    whole = _PLACEHOLDER.fullmatch(node)
    if whole:
        name = whole.group(1)
        if name not in values:
            fail(f"with: {name!r} is used by the fragment but not given")
        used.add(name)
        return values[name]

    def text(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            fail(f"with: {name!r} is used by the fragment but not given")
        used.add(name)
        return str(values[name])

    return _PLACEHOLDER.sub(text, node)


def read_fragment(root: Path, name: Any, fail: Any) -> dict[str, Any]:
    """The parsed fragment controls/_fragments/<name>.yaml."""
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        fail(f"use: {name!r} is not a fragment name")
    path = root / FRAGMENTS / f"{name}.yaml"
    if not path.is_file():
        fail(f"use: no fragment {FRAGMENTS}/{name}.yaml")
    try:
        doc = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("template"), dict):
        raise CatalogError(f"{path}: a fragment is a mapping with a template: of control fields")
    params = doc.get("params", {})
    if not isinstance(params, dict):
        raise CatalogError(f"{path}: params: a mapping of parameter names to their meaning")
    return doc


def expand(data: Any, path: Path, root: Path) -> Any:
    """The control file's fields, with its fragment filled in when it says `use:`."""
    if not isinstance(data, dict) or "use" not in data:
        return data

    def fail(message: str) -> None:
        raise CatalogError(f"{path}: {message}")

    doc = read_fragment(root, data["use"], fail)
    values = data.get("with", {})
    if not isinstance(values, dict):
        fail("with: a mapping of the fragment's parameters to values")
    unknown = sorted(set(values) - set(doc.get("params", {})))
    if unknown:
        fail(f"with: {unknown[0]!r} is not a parameter of fragment {data['use']!r}")
    used: set[str] = set()
    filled = _fill(doc["template"], values, used, fail)
    unused = sorted(set(values) - used)
    if unused:
        fail(f"with: {unused[0]!r} is not used by fragment {data['use']!r}")
    own = {k: v for k, v in data.items() if k not in ("use", "with")}
    return {**filled, **own}
