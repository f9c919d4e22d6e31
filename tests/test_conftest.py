"""Conftest runs the conftest target (soc2opa build --target conftest) with the real binary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, Run


@pytest.fixture(scope="module")
def conftest_bin() -> Path:
    path = ROOT / ".tools" / "bin" / "conftest"
    if not path.is_file():
        pytest.fail("conftest is required: `make setup` installs it into .tools/bin")
    return path


def test_conftest_reports_the_same_failures(run: Run, conftest_bin: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    built = run("build", "--target", "conftest", "--output", str(policy))
    assert built.returncode == 0, built.stderr
    plan = ROOT / "examples/demo/plan.json"
    proc = subprocess.run(
        [str(conftest_bin), "test", str(plan), "--policy", str(policy), "--output", "json", "--no-color"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)[0]
    denies = {f["msg"] for f in result["failures"]}
    warns = {w["msg"] for w in result["warnings"]}
    report = json.loads(run("eval", str(plan), "--format", "json").stdout)
    expected = {
        f"{r['control_id']} [{r['severity']}] {r['resource_address']}: {r['message']}"
        for r in report["results"]
        if r["status"] == "fail"
    }
    assert denies == expected and len(denies) == report["summary"]["results"]["fail"]
    assert len(warns) == report["summary"]["results"]["unknown"]
    assert "correct-horse-battery-staple" not in proc.stdout


def test_conftest_honours_the_same_waivers(run: Run, conftest_bin: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    assert run("build", "--target", "conftest", "--output", str(policy)).returncode == 0
    waivers = ROOT / "examples/waivers/waivers.yaml"
    data = tmp_path / "waivers.json"
    data.write_text(run("waivers", str(waivers), "--data").stdout)
    plan = ROOT / "examples/demo/plan.json"
    proc = subprocess.run(
        [str(conftest_bin), "test", str(plan), "--policy", str(policy), "--data", str(data),
         "--output", "json", "--no-color"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)[0]
    report = json.loads(
        run("eval", str(plan), "--waivers", str(waivers), "--format", "json").stdout
    )
    failing = {
        (r["control_id"], r["resource_address"])
        for r in report["results"]
        if r["status"] == "fail" and not r["waived"]
    }
    waived = {(r["control_id"], r["resource_address"]) for r in report["results"] if r["waived"]}
    assert waived and failing
    denied = {(f["metadata"]["control_id"], f["metadata"]["resource"]) for f in result["failures"]}
    assert denied == failing
    warned = [w["metadata"] for w in result["warnings"] if w["metadata"].get("waived")]
    assert {(w["control_id"], w["resource"]) for w in warned} == waived
    assert all(w["waiver"]["owner"] and w["waiver"]["expires"] for w in warned)
    # The expired waiver (rds, 2020) no longer hides its failure.
    assert any(c == "rds_instance_storage_encrypted" for c, _ in denied)
