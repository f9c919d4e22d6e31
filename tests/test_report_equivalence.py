"""Speed changes leave every verdict as it was: reports match the goldens of tests/golden/reports.

The goldens hold what soc2opa decided for every plan of ../shared/plans and two synthetic plans
(about 200 and 2,000 resources) when they were last written with `make goldens`; timings, paths,
the bundle revision and the controls' descriptive metadata are left out. A control whose
sources changed since then is left out of the comparison (see scripts/report_goldens.py).
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import report_goldens  # noqa: E402

HINT = (
    "reports differ from tests/golden/reports. If the change of verdict is intended (a control "
    "changed), run `make goldens` and commit the result; otherwise a speed change altered a result"
)


@pytest.fixture(scope="module")
def judged(opa: Path, shared_plans: Path) -> dict[str, list[str]]:
    """Every golden plan judged now with the built bundle and the real opa."""
    return report_goldens.reports()


def test_goldens_are_generated() -> None:
    manifest = json.loads(report_goldens.MANIFEST.read_text())
    assert manifest["_generated"].startswith("DO NOT EDIT")
    assert len(manifest["plans"]) >= 40
    assert {"synthetic-200", "synthetic-2000"} <= set(manifest["plans"])


def test_synthetic_plans_are_deterministic_and_sized() -> None:
    small = report_goldens.synthetic_plan(200)
    assert small == report_goldens.synthetic_plan(200)
    assert 200 <= len(small["resource_changes"]) < 260
    addresses = [rc["address"] for rc in report_goldens.synthetic_plan(2000)["resource_changes"]]
    assert len(addresses) == len(set(addresses)) >= 2000


def test_reports_match_the_goldens(judged: dict[str, list[str]]) -> None:
    diffs, _ = report_goldens.compare_reports(judged)
    assert not diffs, HINT + ":\n" + "\n".join(diffs[:40]) + f"\n({len(diffs)} differences)"


def test_a_changed_verdict_is_named(judged: dict[str, list[str]], tmp_path: Path) -> None:
    golden = tmp_path / "reports"
    shutil.copytree(report_goldens.GOLDEN, golden)
    name = "synthetic-200"
    lines = gzip.decompress((golden / f"{name}.jsonl.gz").read_bytes()).decode().splitlines()
    recorded = json.loads(report_goldens.MANIFEST.read_text())["controls"]
    same = {c for c, h in report_goldens.control_hashes().items() if recorded.get(c) == h}
    i = next(
        i
        for i, x in enumerate(lines)
        if json.loads(x).get("status") == "fail" and json.loads(x)["control"] in same
    )
    flipped = json.loads(lines[i])
    flipped["status"] = "pass"
    lines[i] = json.dumps(flipped, sort_keys=True)
    (golden / f"{name}.jsonl.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    diffs, _ = report_goldens.compare_reports(judged, golden)
    want = f"plan {name}: result {flipped['control']} {flipped['address']}: status"
    assert any(d.startswith(want) and '"pass" -> "fail"' in d for d in diffs), diffs[:5]
