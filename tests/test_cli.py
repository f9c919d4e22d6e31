"""The CLI end to end with the real opa: formats, filters, exit codes, the JSON schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import ROOT, Run, change, outcome, write_plan

SCHEMA = json.loads((ROOT / "soc2opa/schemas/report.schema.json").read_text())


@pytest.fixture
def mixed_plan(tmp_path: Path) -> Path:
    """One failing high RDS instance, one passing, one unknown, one deleted, one data source."""
    data_source = change(
        "data.aws_db_instance.ro",
        "aws_db_instance",
        {"storage_encrypted": False},
        actions=("read",),
    )
    data_source["mode"] = "data"
    return write_plan(
        tmp_path / "plan.json",
        [
            change("aws_db_instance.bad", "aws_db_instance", {"storage_encrypted": False}),
            change("aws_db_instance.good", "aws_db_instance", {"storage_encrypted": True}),
            change(
                "aws_db_instance.later", "aws_db_instance", {}, unknown={"storage_encrypted": True}
            ),
            change(
                "aws_db_instance.gone",
                "aws_db_instance",
                {"storage_encrypted": False},
                actions=("delete",),
            ),
            data_source,
        ],
    )


# Other controls judge aws_db_instance too; counts and exit codes are asserted for this one.
RDS_ONLY = ("--control", "rds_instance_storage_encrypted")


def test_json_report_lists_every_pair_and_validates(run: Run, mixed_plan: Path) -> None:
    proc = run("eval", str(mixed_plan), "--format", "json", *RDS_ONLY)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    rds = {
        r["resource_address"]: r
        for r in report["results"]
        if r["control_id"] == "rds_instance_storage_encrypted"
    }
    assert {a: r["status"] for a, r in rds.items()} == {
        "aws_db_instance.bad": "fail",
        "aws_db_instance.good": "pass",
        "aws_db_instance.later": "unknown",
    }
    assert rds["aws_db_instance.bad"]["message"] == "storage_encrypted is false; expected true"
    assert rds["aws_db_instance.bad"]["remediation"].startswith("Set storage_encrypted = true")
    assert rds["aws_db_instance.later"]["message"] == "storage_encrypted is known only after apply"
    assert rds["aws_db_instance.good"]["message"] is None
    assert report["plan"]["terraform_version"] == "1.9.5"
    assert report["plan"]["resources_judged"] == 3
    manifest = json.loads((ROOT / "rego/.manifest").read_text())
    assert report["bundle"]["revision"] == manifest["revision"]
    cc61 = report["summary"]["by_criterion"]["CC6.1"]
    assert cc61["fail"] >= 1 and "rds_instance_storage_encrypted" in cc61["controls"]
    assert report["summary"]["exit_code"] == 1 and report["summary"]["failing"] == 1
    rds_control = next(c for c in report["controls"] if c["id"] == "rds_instance_storage_encrypted")
    assert rds_control["description"].startswith("An RDS instance holds customer data at rest")
    assert rds_control["crosswalk"]["nist_800_53"] == ["SC-28", "SC-13", "CP-9"]
    assert rds_control["help_uri"] == "docs/controls/rds/rds_instance_storage_encrypted.md"
    assert (ROOT / rds_control["help_uri"]).is_file()
    assert all((ROOT / r["help_uri"]).is_file() for r in report["results"])
    na = [c for c in report["controls"] if c["status"] == "not_applicable"]
    assert all(c["counts"] == {"pass": 0, "fail": 0, "unknown": 0} for c in na)


def test_text_report_is_grouped_with_remediation(run: Run, mixed_plan: Path) -> None:
    proc = run("eval", str(mixed_plan), *RDS_ONLY)
    assert proc.returncode == 1
    out = proc.stdout
    assert out.index("FAILED") < out.index("UNKNOWN UNTIL APPLY") < out.index("PASSED")
    assert "CC6.1  Logical access security and encryption of data" in out
    assert "FAIL [high] rds_instance_storage_encrypted" in out
    assert "- aws_db_instance.bad: storage_encrypted is false; expected true" in out
    assert "fix: Set storage_encrypted = true" in out and "storage_encrypted = true" in out
    assert "more: docs/controls/rds/rds_instance_storage_encrypted.md" in out
    assert "- aws_db_instance.later: storage_encrypted is known only after apply" in out
    assert "aws_db_instance.gone" not in out and "data.aws_db_instance.ro" not in out
    assert out.rstrip().splitlines()[-1].startswith("Summary: 1 failed, 1 unknown, 1 passed")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((), 1),
        (("--fail-on", "high"), 1),
        (("--fail-on", "critical"), 0),
        (("--strict", "--fail-on", "critical"), 0),
    ],
)
def test_fail_on_threshold(run: Run, mixed_plan: Path, args: tuple[str, ...], code: int) -> None:
    assert run("eval", str(mixed_plan), *RDS_ONLY, *args).returncode == code


def test_strict_makes_unknown_fail(run: Run, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path / "p.json",
        [
            change(
                "aws_db_instance.later", "aws_db_instance", {}, unknown={"storage_encrypted": True}
            )
        ],
    )
    assert run("eval", str(plan), *RDS_ONLY).returncode == 0
    strict = run("eval", str(plan), "--strict", "--format", "json", *RDS_ONLY)
    assert strict.returncode == 1
    assert json.loads(strict.stdout)["summary"]["failing"] == 1


def test_control_and_criterion_filters(run: Run, mixed_plan: Path) -> None:
    only = json.loads(
        run(
            "eval", str(mixed_plan), "--format", "json", "--control", "s3_bucket_default_encryption"
        ).stdout
    )
    assert [c["id"] for c in only["controls"]] == ["s3_bucket_default_encryption"]
    assert only["summary"]["exit_code"] == 0
    by_crit = json.loads(
        run("eval", str(mixed_plan), "--format", "json", "--criterion", "PI1.5").stdout
    )
    assert all("PI1.5" in c["criteria"] for c in by_crit["controls"])
    assert outcome(by_crit, "rds_instance_storage_encrypted", "aws_db_instance.bad") == "fail"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--control", "rds_instance_storage_encrypte"),
            "no control 'rds_instance_storage_encrypte' in this bundle; did you mean rds_instance_storage_encrypted?",
        ),
        (("--criterion", "CC99.1"), "--criterion: 'CC99.1' is not a Trust Services Criteria id"),
        (("--format", "xml"), "Invalid value for '--format'"),
        (("--fail-on", "severe"), "Invalid value for '--fail-on'"),
        (("--opa-url", "ftp://x"), "is not an http(s) URL"),
        (("--opa-url", "http://127.0.0.1:8181/v1/data"), "has a path; give the server root"),
        (
            ("-o", "/nonexistent-dir/report.json"),
            "--output: cannot write /nonexistent-dir/report.json",
        ),
        (("--bundle", "/nonexistent/b.tar.gz"), "bundle not found"),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    run: Run, mixed_plan: Path, args: tuple[str, ...], message: str
) -> None:
    proc = run("eval", str(mixed_plan), *args)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_output_file(run: Run, mixed_plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = run("eval", str(mixed_plan), "--format", "json", "-o", str(out))
    assert proc.returncode == 1 and proc.stdout == ""
    assert json.loads(out.read_text())["summary"]["results"]["fail"] >= 1
    text = tmp_path / "report.txt"
    assert run("eval", str(mixed_plan), "-o", str(text)).returncode == 1
    assert "FAILED" in text.read_text() and "\x1b" not in text.read_text()


def test_empty_plan_warns_and_passes(run: Run, tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "empty.json", [])
    proc = run("eval", str(plan), "--format", "json")
    assert proc.returncode == 0
    report = json.loads(proc.stdout)
    assert report["warnings"] == ["the plan holds no managed resource to judge (after deletions)"]
    runtime = report["summary"]["controls"]["needs_runtime_evidence"]
    assert runtime > 0
    assert report["summary"]["controls"]["not_applicable"] == len(report["controls"]) - runtime
    assert report["summary"]["controls"]["not_in_configuration"] == 0


def test_controls_command_lists_the_bundle(run: Run) -> None:
    proc = run("controls", "--format", "json")
    assert proc.returncode == 0
    catalog = json.loads(proc.stdout)
    assert "rds_instance_storage_encrypted" in catalog
    meta = catalog["rds_instance_storage_encrypted"]
    assert meta["custom"]["severity"] == "high" and "CC6.1" in meta["custom"]["criteria"]
    text = run("controls")
    assert "rds_instance_storage_encrypted" in text.stdout


def test_version_and_help(run: Run) -> None:
    assert run("--version").stdout.startswith("soc2opa, version ")
    bare = run()
    assert bare.returncode == 0 and "eval" in bare.stdout and bare.stderr == ""
    helped = run("eval", "--help")
    assert helped.returncode == 0 and "--fail-on" in helped.stdout


def test_documented_report_excerpt_matches_the_schema() -> None:
    doc = (ROOT / "docs/report-format.md").read_text()
    excerpt = json.loads(doc.split("```json\n", 1)[1].split("```", 1)[0])
    jsonschema.Draft202012Validator(SCHEMA).validate(excerpt)
    for field in SCHEMA["required"]:
        assert f"`{field}`" in doc or f"`{field}." in doc or f"`{field}[" in doc, field
