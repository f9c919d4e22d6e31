"""The planned examples under tests/plans, read as soc2opa reads a plan."""

from __future__ import annotations

import json

from soc2opa.planfile import PlanFile, parse_plan
from tests.conftest import ROOT


def example_plans() -> list[PlanFile]:
    """Every example plan of every fixture file, named file:example, in a stable order."""
    out = []
    for path in sorted((ROOT / "tests/plans").rglob("*.json")):
        for slug, doc in sorted(json.loads(path.read_text())["examples"].items()):
            out.append(parse_plan(json.dumps(doc).encode(), f"{path.name}:{slug}"))
    return out
