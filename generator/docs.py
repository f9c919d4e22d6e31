"""Writes the documentation pages: one per control under docs/controls/, and the index."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jinja2
import yaml

from soc2opa.catalog import Control
from soc2opa.criteria import CRITERIA, criterion_sort_key
from soc2opa.yamlfile import parse_yaml

INDEX = "docs/controls.md"
PAGES = "docs/controls"
_TEMPLATES = Path(__file__).parent / "templates"
_CROSSWALK = {
    "nist_800_53": "NIST SP 800-53 Rev 5",
    "iso_27001": "ISO/IEC 27001:2022 Annex A",
    "hipaa": "HIPAA Security Rule",
}
_EXPECT = {
    "pass": "Passes",
    "fail": "Fails",
    "unknown": "Unknown until apply",
    "not_judged": "Not judged",
}


def help_uri(service: str, control_id: str) -> str:
    """The control's documentation page, relative to the repository root."""
    return f"{PAGES}/{service}/{control_id}.md"


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def compact_yaml(node: Any, width: int = 96) -> str:
    """A check node as short YAML: flow style for small mappings, block style above them."""
    text: str = yaml.dump(
        node,
        Dumper=_NoAliases,
        default_flow_style=None,
        sort_keys=False,
        width=width,
        allow_unicode=True,
    )
    return text.rstrip("\n")


def _example(ex: dict[str, Any]) -> dict[str, Any]:
    if "hcl" in ex:
        lang, body = "hcl", ex["hcl"].rstrip("\n")
    else:
        given = {k: ex[k] for k in ("values", "unknown", "sensitive", "resources") if k in ex}
        lang, body = "json", json.dumps(given, indent=2, sort_keys=False)
    return {
        "name": ex["name"],
        "expect": _EXPECT[ex["expect"]],
        "target": ex.get("target"),
        "lang": lang,
        "body": body,
        "message": ex.get("message_contains"),
    }


def control_page(control: Control, root: Path) -> str:
    """The Markdown page of one control."""
    d = control.data
    source = (
        control.path.relative_to(root).as_posix()
        if control.path.is_absolute()
        else str(control.path)
    )
    examples = [_example(ex) for ex in d.get("examples", [])]
    order = {"Passes": 0, "Fails": 1, "Unknown until apply": 2, "Not judged": 3}
    examples.sort(key=lambda e: order[e["expect"]])
    crosswalk = [
        (_CROSSWALK.get(k, k), ", ".join(v)) for k, v in d.get("crosswalk", {}).items() if v
    ]
    raw = parse_yaml(control.path.read_text(encoding="utf-8"))
    fragment = f"controls/_fragments/{raw['use']}.yaml" if "use" in raw else None
    return (
        _env()
        .get_template("control_page.md.j2")
        .render(
            d=d,
            fragment=fragment,
            source=source,
            rego=f"rego/controls/{d['service']}/{d['id']}.rego",
            up="../../..",
            criteria=[(c, CRITERIA.get(c, "")) for c in d["criteria"]],
            crosswalk=crosswalk,
            when=compact_yaml(d["when"]) if "when" in d else None,
            check=compact_yaml(d["check"]) if "check" in d else None,
            runtime_evidence=" ".join(d.get("runtime_evidence", "").split()),
            examples=examples,
            reference=d.get("reference", []),
            beyond_reference=" ".join(d.get("beyond_reference", "").split()),
        )
    )


def catalog_index(controls: list[Control]) -> str:
    """The index page: every control by SOC 2 criterion and by service."""
    by_crit: dict[str, list[Control]] = {}
    by_service: dict[str, list[Control]] = {}
    for c in controls:
        for crit in c.data["criteria"]:
            by_crit.setdefault(crit, []).append(c)
        by_service.setdefault(c.service, []).append(c)
    return (
        _env()
        .get_template("controls.md.j2")
        .render(
            count=len(controls),
            by_criterion=[
                (crit, CRITERIA.get(crit, ""), cs)
                for crit, cs in sorted(by_crit.items(), key=lambda kv: criterion_sort_key(kv[0]))
            ],
            by_service=sorted(by_service.items()),
            page=lambda c: f"controls/{c.service}/{c.id}.md",
        )
    )


def render_docs(controls: list[Control], root: Path) -> dict[str, str]:
    """Every documentation file the build writes, keyed by path relative to root."""
    files = {INDEX: catalog_index(controls)}
    for c in controls:
        files[help_uri(c.service, c.id)] = control_page(c, root)
    return files
