"""Account-wide settings, controls a plan cannot decide, and the coverage picture of a report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.conftest import Run, change, write_plan

TRAIL = "cloudtrail_multi_region_trail_enabled"


def _plan(tmp_path: Path) -> Path:
    return write_plan(
        tmp_path / "app.json",
        [
            change("aws_s3_bucket.data", "aws_s3_bucket", {"bucket": "data"}),
            change("aws_example_widget.w", "aws_example_widget", {"name": "w"}),
        ],
    )


def _json(run: Run, plan: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = run("eval", str(plan), "--format", "json", *extra)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_absent_account_setting_is_one_finding_not_one_per_resource(
    run: Run, tmp_path: Path
) -> None:
    code, report = _json(run, _plan(tmp_path), "--criterion", "CC7.2")
    trail = next(c for c in report["controls"] if c["id"] == TRAIL)
    assert trail["status"] == "not_in_configuration"
    assert trail["scope"] == "account"
    assert not [r for r in report["results"] if r["control_id"] == TRAIL]
    assert report["summary"]["missing_settings"].count(TRAIL) == 1
    assert code == 1 and report["summary"]["exit_code"] == 1
    assert TRAIL in report["coverage"]["controls"]["not_in_configuration"]


def test_baseline_elsewhere_keeps_the_status_but_not_the_failure(run: Run, tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    absent = [
        c["id"]
        for c in _json(run, plan, "--criterion", "CC7.2")[1]["controls"]
        if c["status"] == "not_in_configuration"
    ]
    code, report = _json(
        run, plan, "--criterion", "CC7.2", "--baseline-elsewhere", ",".join(absent)
    )
    # Only the bucket's own results (e.g. its access logging) may still fail the run.
    assert code == (1 if any(r["status"] == "fail" for r in report["results"]) else 0)
    assert report["summary"]["missing_settings"] == []
    assert next(c for c in report["controls"] if c["id"] == TRAIL)["status"] == (
        "not_in_configuration"
    )
    text = run("eval", str(plan), "--criterion", "CC7.2", "--baseline-elsewhere", "all").stdout
    assert "NOT IN THIS CONFIGURATION" in text and "proven elsewhere (baseline)" in text


def test_a_plan_that_manages_no_aws_resource_has_no_absent_settings(
    run: Run, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path / "gcp.json",
        [change("google_storage_bucket.b", "google_storage_bucket", {"name": "b"})],
    )
    code, report = _json(run, plan)
    assert code == 0
    assert report["summary"]["controls"]["not_in_configuration"] == 0
    assert report["coverage"]["uncovered_types"] == {"google_storage_bucket": 1}


def test_controls_a_plan_cannot_decide_never_pass(run: Run, tmp_path: Path) -> None:
    _, report = _json(run, _plan(tmp_path), "--baseline-elsewhere", "all")
    runtime = [c for c in report["controls"] if c["status"] == "needs_runtime_evidence"]
    ids = {c["id"] for c in runtime}
    assert {"iam_root_mfa_enabled", "iam_root_no_access_keys"} <= ids
    assert all(c["runtime_evidence"] for c in runtime)
    assert not [r for r in report["results"] if r["control_id"] in ids]
    text = run("eval", str(_plan(tmp_path)), "--baseline-elsewhere", "all").stdout
    assert "NEEDS RUNTIME EVIDENCE" in text and "credential report" in text


def test_coverage_counts_what_was_judged(run: Run, tmp_path: Path) -> None:
    _, report = _json(run, _plan(tmp_path), "--baseline-elsewhere", "all")
    cov = report["coverage"]
    assert cov["resources"] == 2
    assert cov["resources_judged"] == 1
    assert cov["uncovered_types"] == {"aws_example_widget": 1}
    assert report["plan"]["resources_judged"] == 1
    text = run("eval", str(_plan(tmp_path)), "--baseline-elsewhere", "all").stdout
    assert "2 resources, 1 judged by a control" in text.splitlines()[0]
    assert "aws_example_widget (1)" in text


def test_a_selection_that_matches_nothing_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    proc = run("eval", str(_plan(tmp_path)), "--criterion", "P8.1")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "matches no control" in proc.stderr


def test_ci_formats_carry_a_missing_setting_once(run: Run, tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    sarif, junit = tmp_path / "out.sarif", tmp_path / "out.xml"
    proc = run(
        "eval", str(plan), "--control", TRAIL, "-o", f"sarif={sarif}", "-o", f"junit={junit}",
        "--format", "github",
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stdout.count(f"soc2opa {TRAIL}") == 1
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert [(r["ruleId"], r["properties"]["status"]) for r in results] == [
        (TRAIL, "not_in_configuration")
    ]
    suites = ET.parse(junit).getroot()
    assert suites.get("failures") == "1"
    assert suites.find("testsuite/testcase").get("name") == "not_in_configuration"
