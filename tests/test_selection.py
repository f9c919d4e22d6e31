"""Selective evaluation (only the controls a plan's types reach) gives the full bundle's report.

Every plan in ../shared/plans, every planned example under tests/plans and synthetic plans are
judged both ways by the real opa; the raw reports must be equal, key order included.
"""

from __future__ import annotations

import io
import json
import random
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest

from soc2opa.batch import evaluate_all
from soc2opa.bundlecache import _scans, cached_bundle
from soc2opa.engine import QUERY, LocalEngine
from soc2opa.planfile import PlanFile, parse_plan
from soc2opa.selection import selected
from tests.conftest import BUNDLE, ROOT, Run
from tests.example_plans import example_plans

GROUP = 48
PARTS = 4
# One opa eval judges many plans, each in turn the input of the report.
BATCH_QUERY = f"[r | some p in input.plans; r := {QUERY} with input as p]"


pytestmark = pytest.mark.usefixtures("private_cache")


def _combined_input(plans: list[PlanFile]) -> PlanFile:
    data = b'{"plans":[' + b",".join(plan.data for plan in plans) + b"]}"
    return PlanFile(name="plans", data=data, types=frozenset().union(*(p.types for p in plans)))


def _plan(doc: dict[str, Any], name: str) -> PlanFile:
    return parse_plan(json.dumps(doc).encode(), name)


def _synthetic_plans(types: list[str]) -> list[PlanFile]:
    """Random subsets of the catalog's types, in resource_changes, planned_values or both."""
    rnd = random.Random(15)
    plans = []
    for n in range(12):
        chosen = [t for t in types if rnd.random() < 0.15] or [types[n]]
        changes, resources = [], []
        for i, t in enumerate(chosen):
            after = {"tags": {"n": str(i)}} if i % 3 else {}
            address = f"{t}.r{i}"
            actions = ["delete"] if i % 7 == 6 else ["create"]
            changes.append(
                {
                    "address": address,
                    "mode": "managed" if i % 5 else "data",
                    "type": t,
                    "name": f"r{i}",
                    "change": {"actions": actions, "after": after, "after_unknown": {"id": True}},
                }
            )
            resources.append(
                {"address": address, "mode": "managed", "type": t, "name": f"r{i}", "values": after}
            )
        doc: dict[str, Any] = {"format_version": "1.2"}
        if n % 3 != 1:
            doc["resource_changes"] = changes
        if n % 3 != 0:
            child = {"address": "module.m", "resources": resources[1::2]}
            root = {"resources": resources[0::2], "child_modules": [child]}
            doc["planned_values"] = {"root_module": root}
        plans.append(_plan(doc, f"synthetic-{n}"))
    state = {"format_version": "1.0", "values": {"root_module": {}}}
    plans.append(_plan(state, "state-file"))
    return plans


def _dump(value: Any) -> str:
    return json.dumps(value)


def _full(opa: Path, plans: list[PlanFile]) -> list[str]:
    engine = LocalEngine(opa, BUNDLE, select=False)
    value = engine.query(BATCH_QUERY, _combined_input(plans))
    assert isinstance(value, list) and len(value) == len(plans)
    return [_dump(v) for v in value]


def _compare_one_by_one(opa: Path, plans: list[PlanFile]) -> int:
    full = _full(opa, plans)
    engine = LocalEngine(opa, BUNDLE)
    for plan, expected in zip(plans, full, strict=True):
        got = engine.query(QUERY, plan, plan.types)
        assert _dump(got) == expected, f"{plan.name}: selective report differs"
    return len(plans)


def test_index_covers_every_control(opa: Path) -> None:
    cached = cached_bundle(BUNDLE)
    assert cached is not None, "the built bundle has no usable selection index"
    manifest = json.loads((ROOT / "rego/.manifest").read_text())
    assert len(cached.modules) == manifest["metadata"]["controls"]
    assert all((cached.folder / p).is_file() for p in cached.modules.values())
    assert not any(n.startswith("controls/") for n in cached.base if n in cached.modules.values())
    # A plan without resources compiles no control at all.
    assert selected(cached, set()) == sorted(cached.always)
    # The controls that say they read every resource of a plan, for the process split's weights.
    declared = {
        c for c, p in cached.modules.items()
        if "reads_every_resource := true" in (cached.folder / p).read_text()
    }  # fmt: skip
    assert declared and cached.scans == declared


def test_index_scans_entry_is_checked() -> None:
    ids = {"a", "b"}
    assert _scans(["b", "a", "a"], ids) == ["a", "b"]
    assert _scans(["a", "c"], ids) == []
    assert _scans("a", ids) == []
    assert _scans(None, ids) == []


def test_shared_plans_selective_equals_full(opa: Path, shared_plans: Path) -> None:
    plans = []
    for path in sorted(shared_plans.glob("*.json")):
        plans.append(parse_plan(path.read_bytes(), path.name))
    assert len(plans) >= 40
    assert _compare_one_by_one(opa, plans) == len(plans)


def test_synthetic_plans_selective_equals_full(opa: Path) -> None:
    cached = cached_bundle(BUNDLE)
    assert cached is not None
    types = sorted({t for ts in cached.types.values() for t in ts})
    plans = _synthetic_plans(types)
    # Each synthetic plan leaves most controls to their stubs.
    assert all(len(selected(cached, p.types)) < len(cached.modules) for p in plans)
    assert _compare_one_by_one(opa, plans) == len(plans)


# The examples in parts, so that parallel test workers share them out.
@pytest.mark.parametrize("part", range(PARTS))
def test_planned_examples_selective_equals_full(opa: Path, part: int) -> None:
    everything = example_plans()
    assert len(everything) >= 1000
    plans = everything[part::PARTS]
    # In groups: one full and one selective opa run per group (what a batch of plans does).
    full = _full(opa, plans)
    engine = LocalEngine(opa, BUNDLE)
    for start in range(0, len(plans), GROUP):
        group = plans[start : start + GROUP]
        types = set().union(*(p.types for p in group))
        got = engine.query(BATCH_QUERY, _combined_input(group), types)
        expected = full[start : start + GROUP]
        assert [_dump(v) for v in got] == expected, f"group from {group[0].name}"


def _retar(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _bundle_files() -> dict[str, bytes]:
    with tarfile.open(BUNDLE, mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "change",
    ["no index", "path escape", "signed", "unknown module path", "yaml data"],
)
def test_unusual_bundles_are_not_cached(tmp_path: Path, change: str) -> None:
    files = _bundle_files()
    manifest = json.loads(files["/.manifest"])
    if change == "no index":
        del manifest["metadata"]["selection"]
    elif change == "path escape":
        files["../escape.rego"] = b"package x\n"
    elif change == "signed":
        files["/.signatures.json"] = b"{}"
    elif change == "unknown module path":
        first = sorted(manifest["metadata"]["selection"]["modules"])[0]
        manifest["metadata"]["selection"]["modules"][first] = "controls/missing.rego"
    else:
        files["/soc2opa/data.yaml"] = b"a: 1\n"
    files["/.manifest"] = json.dumps(manifest).encode()
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(_retar(files))
    assert cached_bundle(bundle) is None
    assert not (tmp_path / "escape.rego").exists()


def test_a_cache_others_can_write_is_not_used(private_cache: Path, opa: Path) -> None:
    private_cache.mkdir(parents=True, exist_ok=True)
    private_cache.chmod(0o777)
    try:
        assert cached_bundle(BUNDLE) is None
        plan = parse_plan((ROOT / "examples/demo/plan.json").read_bytes(), "demo")
        # The engine falls back to the whole bundle.
        report = LocalEngine(opa, BUNDLE).evaluate(plan)
        assert report["controls"]
    finally:
        private_cache.chmod(0o700)
    assert cached_bundle(BUNDLE) is not None


def test_a_linked_cache_entry_is_not_used(tmp_path: Path) -> None:
    first = cached_bundle(BUNDLE)
    assert first is not None
    elsewhere = tmp_path / "elsewhere"
    first.folder.rename(elsewhere)
    first.folder.symlink_to(elsewhere)
    assert cached_bundle(BUNDLE) is None


def test_no_select_gives_the_same_report(run: Run) -> None:
    plan = str(ROOT / "examples/demo/plan.json")
    selective = run("eval", plan, "--format", "json")
    full = run("eval", plan, "--format", "json", "--no-select")
    assert selective.returncode == full.returncode == 1, selective.stderr + full.stderr

    def strip(text: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(text)
        doc.pop("generated_at", None)
        return doc

    assert strip(selective.stdout) == strip(full.stdout)


def test_a_batch_is_served_once_and_equals_one_by_one(
    opa: Path, shared_plans: Path, tmp_path: Path
) -> None:
    plans = [parse_plan(p.read_bytes(), p.name) for p in sorted(shared_plans.glob("*.json"))[:6]]
    old = tempfile.tempdir
    tempfile.tempdir = str(tmp_path)
    try:
        values = LocalEngine(opa, BUNDLE).evaluate_many(plans)
    finally:
        tempfile.tempdir = old
    assert values is not None, "the short-lived opa server did not serve"
    assert [_dump(v) for v in values] == _full(opa, plans)
    # Its private socket folder is gone with it.
    assert list(tmp_path.iterdir()) == []


def test_a_batch_falls_back_when_opa_cannot_serve(tmp_path: Path, opa: Path) -> None:
    fake = tmp_path / "opa"
    fake.write_text(f'#!/bin/sh\n[ "$1" = run ] && exit 3\nexec {opa} "$@"\n')
    fake.chmod(0o755)
    plans = [
        parse_plan((ROOT / "examples/demo/plan.json").read_bytes(), f"demo{i}") for i in (1, 2)
    ]
    engine = LocalEngine(fake, BUNDLE)
    assert engine.evaluate_many(plans) is None
    reports = evaluate_all(engine, plans)
    assert [_dump(r) for r in reports] == _full(opa, plans)
