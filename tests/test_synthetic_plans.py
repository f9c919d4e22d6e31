"""Every control decides every synthetic plan: no engine error on plans that combine many examples.

Synthetic plans put many copies of the catalog's examples side by side (several flow logs on one
VPC, several credentials for one server type, several alarms on one metric); here account-level
settings (trails, CIS filters and alarms) are drawn like every other example, not rarely as in
the benchmark's realistic mix. A rule that gives
one value per matching resource makes OPA stop with "conflicting values"; this finds such rules
before a user's plan does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.synth import write_plan

SOC2OPA = Path(sys.executable).parent / "soc2opa"
SEEDS = range(8)
SIZE = 600


def test_synthetic_plans_are_decided_without_engine_error(tmp_path: Path, opa: Path) -> None:
    plans = [
        write_plan(tmp_path / f"seed-{s}.json", SIZE, seed=s, account_level=1.0) for s in SEEDS
    ]
    proc = subprocess.run(
        [str(SOC2OPA), "eval", "--format", "json", "--no-config", "--opa-path", str(opa)]
        + [str(p) for p in plans],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    reports = json.loads(proc.stdout)["reports"]
    assert sorted(r["plan"]["file"] for r in reports) == sorted(str(p) for p in plans)
    for report in reports:
        assert report["results"], report["plan"]["file"]
        decided = {r["status"] for r in report["results"]}
        assert "fail" in decided and "pass" in decided
