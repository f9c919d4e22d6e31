"""Plans made from public HCL: soc2opa's live verdicts against the verdicts expected from reading
the HCL, and against Checkov's stored results (tests/checkov_compare, docs/checkov-comparison.md).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, SOC2OPA, Run

sys.path.insert(0, str(ROOT / "scripts"))
import compare_checkov as cc

CASES = ROOT / "tests" / "checkov_compare"
DOC = ROOT / "docs" / "checkov-comparison.md"


@pytest.fixture(scope="module")
def compared(opa: Path) -> tuple[list[cc.Pair], list[tuple[str, str, str, str]]]:
    return cc.compare_all(str(SOC2OPA), env={**os.environ, "SOC2OPA_OPA": str(opa)})


def test_every_expected_finding_is_found(
    compared: tuple[list[cc.Pair], list[tuple[str, str, str, str]]],
) -> None:
    pairs, _ = compared
    assert len(pairs) >= 100
    # Public exposure, admin policies and missing logging each have findings to find.
    expected_fails = {p.topic_class for p in pairs if p.expect == "fail"}
    assert expected_fails == {"public_exposure", "admin_policy", "missing_logging"}
    wrong = [
        (p.plan, p.address, p.topic, p.ours)
        for p in pairs
        if not cc.correct(p.expect, p.ours) and not p.soc2opa_differs
    ]
    assert wrong == []
    # A note saying soc2opa differs on purpose must not outlive the difference.
    stale = [
        (p.plan, p.address, p.topic)
        for p in pairs
        if p.soc2opa_differs and cc.correct(p.expect, p.ours)
    ]
    assert stale == []


def test_no_finding_falls_outside_the_expectations(
    compared: tuple[list[cc.Pair], list[tuple[str, str, str, str]]],
) -> None:
    _, extra = compared
    assert extra == []


def test_the_document_shows_the_current_comparison(
    compared: tuple[list[cc.Pair], list[tuple[str, str, str, str]]],
) -> None:
    pairs, _ = compared
    text = DOC.read_text()
    start, end = "<!-- BEGIN comparison -->\n", "<!-- END comparison -->"
    assert start in text and end in text
    shown = text.split(start, 1)[1].split(end, 1)[0]
    assert shown == cc.markdown(pairs), "run: make compare-checkov, then paste its output"


def test_mapping_names_real_controls_and_checkov_checks(run: Run) -> None:
    catalog = json.loads(run("controls", "list", "--format", "json").stdout)
    topics = cc.load_mapping()
    ours = {c for t in topics.values() for c in t.ours}
    assert ours <= set(catalog), sorted(ours - set(catalog))
    ids = {c for t in topics.values() for c in t.checkov}
    assert all(re.fullmatch(r"CKV2?_AWS_\d+", c) for c in ids), ids
    seen: set[str] = set()
    for stored in sorted(CASES.glob("*/checkov.json")):
        doc = json.loads(stored.read_text())
        assert doc["checkov_version"] == "3.3.30", stored
        seen |= {c["check_id"] for c in doc["checks"]}
    # Every mapped Checkov check ran on at least one plan, so none is a typo.
    # CKV_AWS_70 (bucket policy for everyone) and CKV_AWS_91 (ALB logs) find nothing to judge here.
    assert ids - seen == {"CKV_AWS_70", "CKV_AWS_91"}


def test_every_plan_has_its_expectations_and_provenance() -> None:
    folders = sorted(p for p in CASES.iterdir() if p.is_dir())
    provenance = (CASES / "PROVENANCE.md").read_text()
    assert len(folders) == 8
    for folder in folders:
        assert {p.name for p in folder.iterdir()} == {"plan.json", "expected.yaml", "checkov.json"}
        expected = yaml.safe_load((folder / "expected.yaml").read_text())
        assert expected["plan"] == folder.name
        assert f"| {folder.name} |" in provenance
        topics = cc.load_mapping()
        for e in expected["expectations"]:
            assert e["topic"] in topics and e["expect"] in ("pass", "fail") and e["why"], e


@pytest.mark.parametrize(
    ("expect", "ours", "checkov", "klass"),
    [
        ("fail", "fail", "fail", "agree"),
        ("pass", "pass", "none", "agree"),
        ("pass", "unknown", "pass", "agree"),
        ("fail", "pass", "fail", "we-miss"),
        ("fail", "unknown", "fail", "we-miss"),
        ("pass", "fail", "pass", "we-miss"),
        ("fail", "fail", "none", "checkov-misses"),
        ("pass", "none", "fail", "checkov-misses"),
        ("fail", "none", "pass", "disagree"),
    ],
)
def test_classes(expect: str, ours: str, checkov: str, klass: str) -> None:
    assert cc.classify(expect, ours, checkov) == klass


def test_a_plan_without_a_trail_says_so_once_per_trail_control(run: Run) -> None:
    proc = run("eval", str(CASES / "terragoat-aws" / "plan.json"), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    trail = ("cloudtrail_trail_enabled", "cloudtrail_multi_region_trail_enabled")
    for cid in (*trail, "cloudtrail_security_trail_enabled"):
        control = next(c for c in report["controls"] if c["id"] == cid)
        assert control["status"] == "not_in_configuration", cid
        assert report["summary"]["missing_settings"].count(cid) == 1
        assert not [r for r in report["results"] if r["control_id"] == cid]
