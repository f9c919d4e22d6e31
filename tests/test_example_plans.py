"""The controls' HCL examples, as real Terraform planned them, give their expected outcomes.

Each committed fixture plan (tests/plans/<service>/<id>.json, made by `make plans`) is judged by
the real OPA serving the built bundle, through soc2opa's own engine and report code; the generated
`opa test` cases check the same plans against the control packages alone.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from generator.examples import hcl_target
from generator.plans import fixture_path, fixture_problem, hcl_examples, render_fixture
from soc2opa.catalog import Control, example_slug, load_catalog
from soc2opa.engine import RemoteEngine
from soc2opa.planfile import open_plan
from soc2opa.report import build_report
from tests.conftest import BUNDLE, ROOT, Run
from tests.test_engines import _serve

CONTROLS = load_catalog(ROOT / "controls")
CASES = [
    pytest.param(c, ex, id=f"{c.id}:{example_slug(ex['name'])}")
    for c in CONTROLS
    for ex in c.data.get("examples", [])
    if "hcl" in ex
]


@pytest.fixture(scope="module")
def server(opa: Path) -> Iterator[str]:
    yield from _serve(opa, "--bundle", str(BUNDLE))


def _fixture(control: Control) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((ROOT / fixture_path(control)).read_text())
    return doc


def test_every_fixture_is_current() -> None:
    problems = {c.id: fixture_problem(ROOT, c) for c in CONTROLS}
    assert {k: v for k, v in problems.items() if v} == {}
    assert CASES, "no control has HCL examples"


@pytest.mark.parametrize(("control", "example"), CASES)
def test_planned_example_has_expected_outcome(
    control: Control, example: dict[str, Any], server: str, tmp_path: Path
) -> None:
    plan = _fixture(control)["examples"][example_slug(example["name"])]
    assert plan["terraform_version"] == "1.11.4"
    target = hcl_target(control, example, plan)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    with open_plan(path) as plan_file:
        raw = RemoteEngine(server, timeout=60).evaluate(plan_file)
    report = build_report(
        raw, plan_name=str(path), bundle_source=server, engine="opa-remote", controls=(control.id,)
    )
    found = [r for r in report.results if r.address == target]
    if example["expect"] == "not_judged":
        assert found == []
        return
    assert [r.status for r in found] == [example["expect"]], [r.message for r in found]
    if "message_contains" in example:
        assert example["message_contains"] in (found[0].message or "")


def _copy_control(tmp_path: Path, control: Control) -> Path:
    rel = control.path.relative_to(ROOT)
    (tmp_path / rel).parent.mkdir(parents=True)
    shutil.copy(control.path, tmp_path / rel)
    fixture = tmp_path / fixture_path(control)
    fixture.parent.mkdir(parents=True)
    shutil.copy(ROOT / fixture_path(control), fixture)
    return fixture


def test_a_fixture_edited_by_hand_is_caught(tmp_path: Path) -> None:
    control = next(c for c in CONTROLS if hcl_examples(c))
    fixture = _copy_control(tmp_path, control)
    doc = json.loads(fixture.read_text())
    first = next(iter(doc["examples"].values()))
    first["resource_changes"][0]["change"]["after"]["edited"] = True
    fixture.write_text(json.dumps(doc))
    assert "edited by hand" in (fixture_problem(tmp_path, control) or "")


def test_a_changed_example_makes_its_fixture_stale(tmp_path: Path) -> None:
    control = next(c for c in CONTROLS if hcl_examples(c))
    _copy_control(tmp_path, control)
    data = json.loads(json.dumps(control.data))
    ex = next(e for e in data["examples"] if "hcl" in e)
    ex["hcl"] += "\n# changed\n"
    changed = replace(control, path=tmp_path / control.path.relative_to(ROOT), data=data)
    assert "stale" in (fixture_problem(tmp_path, changed) or "")


def test_fixture_text_is_reproducible() -> None:
    control = next(c for c in CONTROLS if hcl_examples(c))
    doc = _fixture(control)
    assert render_fixture(control, doc["examples"]) == (ROOT / fixture_path(control)).read_text()
    assert doc["_generated"].startswith("DO NOT EDIT")


def test_build_check_names_a_stale_fixture(run: Run, tmp_path: Path) -> None:
    for part in ("controls", "generator", "rego", "bundles", "docs", "tests/plans"):
        shutil.copytree(ROOT / part, tmp_path / part)
    fixture = next((tmp_path / "tests/plans").glob("*/*.json"))
    doc = json.loads(fixture.read_text())
    doc["plans_sha256"] = "0" * 64
    fixture.write_text(json.dumps(doc))
    proc = run("build", "--check", "--root", str(tmp_path))
    assert proc.returncode == 1
    assert f"tests/plans/{fixture.parent.name}/{fixture.name} (edited by hand" in proc.stderr
