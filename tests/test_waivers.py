"""Waivers: the file's rules, every format showing them, and OPA's waivers package agreeing."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest

from soc2opa.errors import UsageError
from soc2opa.waivers import Glob, load_waivers
from tests.conftest import BUNDLE, ROOT, Run

DEMO = ROOT / "examples" / "demo" / "plan.json"
WAIVERS = ROOT / "examples" / "waivers" / "waivers.yaml"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("waivers:\n  - control: a\n    reason: r\n    expires: 2030-01-01\n",
         "waiver 1 (a): owner is required"),
        ("waivers:\n  - control: a\n    reason: r\n    owner: o\n", "waiver 1 (a): expires is required"),
        ("waivers:\n  - control: a\n    reason: r\n    owner: o\n    expires: soon\n",
         "expires must be a date like 2026-12-31"),
        ("waivers:\n  - control: a\n    reason: r\n    owner: o\n    expires: 2030-01-01\n    who: x\n",
         "unknown field 'who'"),
        ("waivers: {}\n", "expected `waivers:` followed by a list"),
        ("waivers: [\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_incomplete_waivers_are_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(body)
    with pytest.raises(UsageError) as err:
        load_waivers(path)
    assert err.value.message.startswith(f"{path}: ") and message in err.value.message


def test_globs_are_star_and_question_mark_only() -> None:
    assert Glob('module.b["x"].*').matches('module.b["x"].aws_s3_bucket.y')
    assert not Glob('module.b["x"].*').matches('module.b["y"].aws_s3_bucket.y')
    assert Glob("rds_?nstance*").matches("rds_instance_storage_encrypted")
    assert (
        Glob("*").matches("") and Glob("a*b*c").matches("abbc") and not Glob("a*b*c").matches("ab")
    )
    assert (
        Glob("*ab?").matches("xabab!")
        and not Glob("a?").matches("a")
        and Glob("[*]").matches("[x]")
    )
    waivers = load_waivers(WAIVERS)
    assert [w.expired(date(2026, 11, 25)) for w in waivers] == [False, True, False, False]
    assert not waivers[2].expired(date(2099, 6, 30)) and waivers[2].expired(date(2099, 7, 1))


def test_a_glob_never_backtracks() -> None:
    # One regex for this pattern takes minutes on a 60-character address, hours on a longer one.
    started = time.monotonic()
    assert not Glob("*a" * 40 + "*b").matches("aws_s3_bucket." + "a" * 100_000)
    assert Glob("*a" * 40 + "*b").matches("a" * 100_000 + "b")
    assert time.monotonic() - started < 1


def test_missing_owner_is_exit_2_naming_file_and_entry(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("waivers:\n  - control: x\n    reason: r\n    expires: 2030-01-01\n")
    proc = run("eval", str(DEMO), "--waivers", str(path))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"soc2opa: error: {path}: waiver 1 (x): owner is required\n"


def test_live_expired_and_unmatched_waivers_in_every_format(run: Run, tmp_path: Path) -> None:
    outs = {
        f: tmp_path / f"out.{f}" for f in ("sarif", "junit", "markdown", "github", "csv", "text")
    }
    args = [a for f, p in outs.items() for a in ("-o", f"{f}={p}")]
    proc = run("eval", str(DEMO), "--waivers", str(WAIVERS), "--format", "json", *args)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    waived = {(r["control_id"], r["resource_address"]): r for r in doc["results"] if r["waived"]}
    assert ("ebs_volume_encrypted", "aws_ebs_volume.build_cache") in waived
    assert waived[("ebs_volume_encrypted", "aws_ebs_volume.build_cache")]["status"] == "unknown"
    trail = [k for k in waived if k[1] == "aws_cloudtrail.main"]
    # The trail's waived results are its failures, and unknowns where the plan cannot decide.
    assert all(waived[k]["status"] in ("fail", "unknown") for k in trail)
    assert len([k for k in trail if waived[k]["status"] == "fail"]) >= 3
    assert all(waived[k]["waiver"]["owner"] == "platform-team" for k in trail)
    rds = next(r for r in doc["results"] if r["control_id"] == "rds_instance_storage_encrypted")
    assert rds["status"] == "fail" and not rds["waived"]  # its waiver expired
    assert [w["index"] for w in doc["waivers"]["expired"]] == [2]
    assert [w["index"] for w in doc["waivers"]["unmatched"]] == [4]
    assert any("waiver 2" in w and "expired on 2020-01-31" in w for w in doc["warnings"])
    assert any("waiver 4" in w and "matched no result" in w for w in doc["warnings"])
    n = len(waived)
    assert doc["waivers"]["waived"] == n
    waived_fails = sum(1 for r in waived.values() if r["status"] == "fail")
    assert doc["summary"]["failing"] == doc["summary"]["results"]["fail"] - waived_fails
    sarif = json.loads(outs["sarif"].read_text())["runs"][0]["results"]
    assert sum(1 for r in sarif if r.get("suppressions")) == n
    junit = ET.fromstring(outs["junit"].read_text())
    skipped = [s for s in junit.iter("skipped") if s.get("message", "").startswith("waived")]
    assert len(skipped) == n
    assert f"Waived ({n})" in outs["markdown"].read_text()
    assert "expired on 2020-01-31" in outs["markdown"].read_text()
    assert sum(ln.startswith("::notice ") for ln in outs["github"].read_text().splitlines()) == n
    rows = list(csv.DictReader(io.StringIO(outs["csv"].read_text())))
    assert sum(r["waived"] == "yes" for r in rows) == n
    text = outs["text"].read_text()
    assert f"WAIVED ({n}, not failing the run)" in text and "expired on 2020-01-31" in text


def test_opa_waivers_package_agrees_with_the_cli(run: Run, opa: Path, tmp_path: Path) -> None:
    data = run("waivers", str(WAIVERS), "--data")
    assert data.returncode == 0, data.stderr
    data_file = tmp_path / "waivers.json"
    data_file.write_text(data.stdout)
    doc = json.loads(data.stdout)
    assert doc["soc2opa_waivers"]["waivers"][1]["expires"] == "2020-01-31"
    proc = subprocess.run(
        [str(opa), "eval", "--format", "json", "--bundle", str(BUNDLE), "--data", str(data_file),
         "--input", str(DEMO), "data.soc2opa.waivers"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rego = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]
    from_opa = {(c, a) for c, by in rego["waived"].items() for a in by}
    cli = json.loads(run("eval", str(DEMO), "--waivers", str(WAIVERS), "--format", "json").stdout)
    from_cli = {(r["control_id"], r["resource_address"]) for r in cli["results"] if r["waived"]}
    assert from_opa == from_cli and from_cli
    assert [w["index"] for w in rego["expired"]] == [2]
    assert [w["index"] for w in rego["unmatched"]] == [4]


def test_waivers_command_lists_states(run: Run) -> None:
    proc = run("waivers", str(WAIVERS))
    assert proc.returncode == 0
    assert "4 waivers: 3 live, 1 expired" in proc.stdout
