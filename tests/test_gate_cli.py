"""The CI gate end to end with the real opa: many plans, stdin, -o FORMAT=FILE, flags."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema

from tests.conftest import ROOT, SOC2OPA, Run, change, write_plan

DEMO = ROOT / "examples" / "demo" / "plan.json"
SARIF_SCHEMA = json.loads((ROOT / "tests/schemas/sarif-schema-2.1.0.json").read_text())


# Other RDS controls judge these instances too; the tests are about one control's verdict.
RDS_ONLY = ("--control", "rds_instance_storage_encrypted")


def _plans(tmp_path: Path) -> tuple[Path, Path]:
    bad = write_plan(
        tmp_path / "bad.json",
        [change("aws_db_instance.bad", "aws_db_instance", {"storage_encrypted": False})],
    )
    good = write_plan(
        tmp_path / "good.json",
        [change("aws_db_instance.good", "aws_db_instance", {"storage_encrypted": True})],
    )
    return bad, good


def test_many_plans_one_report_each_and_combined_exit(run: Run, tmp_path: Path) -> None:
    bad, good = _plans(tmp_path)
    proc = run("eval", str(good), str(bad), "--format", "json", *RDS_ONLY)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert [r["plan"]["file"] for r in doc["reports"]] == [str(good), str(bad)]
    assert doc["summary"]["exit_code"] == 1 and doc["summary"]["plans"] == 2
    assert [r["summary"]["exit_code"] for r in doc["reports"]] == [0, 1]
    text = run("eval", str(tmp_path), "--control", "rds_instance_storage_encrypted")
    assert text.returncode == 1
    assert text.stdout.count("soc2opa 0.1.0: ") == 2
    assert "Combined: 2 plans (1 failing)" in text.stdout
    assert run("eval", str(good), *RDS_ONLY).returncode == 0


def test_stdin_plan(opa: Path, tmp_path: Path) -> None:
    bad, _ = _plans(tmp_path)
    proc = subprocess.run(
        [str(SOC2OPA), "eval", "-", "--format", "json"],
        input=bad.read_bytes(),
        capture_output=True,
        env={"SOC2OPA_OPA": str(opa), "PATH": "/usr/bin:/bin", "SOC2OPA_WARM": "0"},
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["plan"]["file"] == "(stdin)"
    empty = subprocess.run(
        [str(SOC2OPA), "eval", "-"], input=b"", capture_output=True,
        env={"SOC2OPA_OPA": str(opa), "PATH": "/usr/bin:/bin", "SOC2OPA_WARM": "0"},
        cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert empty.returncode == 2 and empty.stderr.decode().strip() == (
        "soc2opa: error: (stdin): the file is empty"
    )


def test_one_evaluation_many_outputs(run: Run, tmp_path: Path) -> None:
    sarif, junit, md = tmp_path / "out.sarif", tmp_path / "out.xml", tmp_path / "c.md"
    proc = run(
        "eval", str(DEMO), "-o", f"sarif={sarif}", "-o", f"junit={junit}",
        "--output", f"markdown={md}", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stdout.startswith("Summary: ") and proc.stdout.count("\n") == 1
    log = json.loads(sarif.read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    fails = int(ET.fromstring(junit.read_text()).get("failures", "-1"))
    errors = [r for r in log["runs"][0]["results"] if r["level"] == "error"]
    # "N failing" also counts account-level controls not in this configuration.
    assert fails == len(errors) == int(proc.stdout.split(" failing")[0].split()[-1])
    assert md.read_text().startswith(f"### ❌ soc2opa: {fails} failing")
    assert not list(tmp_path.glob(".*.tmp"))


def test_flags_colour_and_lists(run: Run, tmp_path: Path) -> None:
    bad, _ = _plans(tmp_path)
    proc = run("eval", str(bad), "--criterion", "cc6.1,pi1.5", "--format", "JSON")
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["settings"]["criteria"] == ["CC6.1", "PI1.5"]
    excluded = run(
        "eval", str(bad), "--control", "s3_bucket_default_encryption,rds_instance_storage_encrypted",
        "--exclude-control", "rds_instance_storage_encrypted",
    )  # fmt: skip
    assert excluded.returncode == 0 and "rds_instance_storage_encrypted" not in excluded.stdout
    assert "\x1b" not in run("eval", str(bad), env={"NO_COLOR": "1"}).stdout
    unknown_fmt = run("eval", str(bad), "-o", "xml=out.xml")
    assert unknown_fmt.returncode == 2 and "unknown format 'xml'" in unknown_fmt.stderr
    helped = run("eval", "--help").stdout
    assert "Exit codes:" in helped and "NO_COLOR" in helped and "SOC2OPA_OPA" in helped


def test_many_plans_use_one_opa_process(opa: Path, tmp_path: Path) -> None:
    bad, good = _plans(tmp_path)
    calls = tmp_path / "calls"
    wrapper = tmp_path / "opa"
    # The real opa behind a wrapper that counts how often soc2opa starts it.
    wrapper.write_text(f'#!/bin/sh\necho x >> {calls}\nexec {opa} "$@"\n')
    wrapper.chmod(0o755)
    proc = subprocess.run(
        [str(SOC2OPA), "eval", str(bad), str(good), str(DEMO), "--format", "json"],
        capture_output=True, text=True, timeout=300,
        env={"SOC2OPA_OPA": str(wrapper), "PATH": "/usr/bin:/bin", "SOC2OPA_WARM": "0"},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert calls.read_text().count("x") == 1
    together = json.loads(proc.stdout)["reports"]
    alone = json.loads(
        subprocess.run(
            [str(SOC2OPA), "eval", str(DEMO), "--format", "json"],
            capture_output=True,
            text=True,
            timeout=300,
            env={"SOC2OPA_OPA": str(opa), "PATH": "/usr/bin:/bin", "SOC2OPA_WARM": "0"},
        ).stdout
    )
    assert together[2]["results"] == alone["results"]
