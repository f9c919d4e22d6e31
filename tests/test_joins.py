"""The direct join fast path agrees with the general resolver wherever it applies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BUNDLE, ROOT, SHARED_PLANS

sys.path.insert(0, str(ROOT / "scripts"))
from make_big_plan import make_plan

PLANS = [*sorted(SHARED_PLANS.glob("*.json")), ROOT / "examples/demo/plan.json"]
USED = (
    "[1 | some r in data.soc2opa.lib.plan.resources; "
    "some attr, _ in data.soc2opa.lib.refs.expressions(r); "
    "data.soc2opa.lib.refs._direct(r, data.soc2opa.lib.refs._references(r, [attr]), "
    "data.soc2opa.lib.plan._types)]"
)


def _query(opa: Path, plan: Path, query: str) -> object:
    proc = subprocess.run(
        [str(opa), "eval", "-f", "json", "-b", str(BUNDLE), "-i", str(plan), query],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.name)
def test_fast_path_agrees_with_general_resolver(opa: Path, plan: Path, tmp_path: Path) -> None:
    if plan.read_bytes()[:2] == b"\xff\xfe":
        copy = tmp_path / "plan.json"
        copy.write_text(plan.read_bytes().decode("utf-16"))
        plan = copy
    assert _query(opa, plan, "data.soc2opa.lib.refs.fast_path_disagreements") == []


def test_fast_path_is_taken_on_common_shapes(opa: Path, tmp_path: Path) -> None:
    synthetic = tmp_path / "plan.json"
    synthetic.write_text(json.dumps(make_plan(1000)))
    assert _query(opa, synthetic, "data.soc2opa.lib.refs.fast_path_disagreements") == []
    assert len(_query(opa, synthetic, USED)) >= 200  # type: ignore[arg-type]
    demo = ROOT / "examples/demo/plan.json"
    assert len(_query(opa, demo, USED)) >= 3  # type: ignore[arg-type]
