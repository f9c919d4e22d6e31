"""Deployed state: `terraform show -json` of a state is judged by the same controls as a plan."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from soc2opa.evidence.store import read
from tests.conftest import ROOT, SOC2OPA, Run, outcome

# Real `terraform show -json` of a state written by hand from a real plan's planned values
# (the AWS provider cannot apply offline); tests/fixtures/state/make_state.py rebuilds it.
STATE = ROOT / "tests" / "fixtures" / "state" / "handbuilt_state_shown.json"
PASSWORD = "state-secret-hunter2"  # aws_db_instance.orders.password, marked sensitive


def _state(*resources: dict[str, Any], children: list[Any] | None = None) -> dict[str, Any]:
    root: dict[str, Any] = {"resources": list(resources)}
    if children is not None:
        root["child_modules"] = children
    return {"format_version": "1.0", "terraform_version": "1.11.4", "values": {"root_module": root}}


def _db(address: str, **values: Any) -> dict[str, Any]:
    return {
        "address": address, "mode": "managed", "type": "aws_db_instance",
        "name": address.rsplit(".", 1)[-1], "values": values, "sensitive_values": {},
    }  # fmt: skip


def test_the_fixture_is_a_shown_state_with_a_secret() -> None:
    doc = json.loads(STATE.read_text())
    assert set(doc) == {"format_version", "terraform_version", "values"}
    db = doc["values"]["root_module"]["resources"][0]
    assert db["address"] == "aws_db_instance.orders"
    assert db["values"]["password"] == PASSWORD
    assert db["sensitive_values"]["password"] is True
    assert doc["values"]["root_module"]["child_modules"][0]["address"] == "module.queue"


def test_a_shown_state_is_judged_as_deployed(run: Run, tmp_path: Path) -> None:
    proc = run("eval", str(STATE), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["plan"]["kind"] == "state"
    assert report["plan"]["read_from"] == "values"
    assert report["plan"]["resources"] == 5
    assert report["summary"]["results"]["unknown"] == 0
    assert outcome(report, "rds_instance_storage_encrypted", "aws_db_instance.orders") == "fail"
    assert outcome(report, "rds_instance_backup_retention_7_days", "aws_db_instance.orders") == (
        "pass"
    )
    assert outcome(report, "kms_key_rotation_enabled", "aws_kms_key.data") == "pass"
    # A resource in a child module, and a join by known values (no configuration in a state).
    assert outcome(report, "sqs_queue_encrypted", "module.queue.aws_sqs_queue.jobs") == "fail"
    assert outcome(report, "s3_bucket_public_access_block", "aws_s3_bucket.logs") == "pass"
    text = run("eval", str(STATE), "--no-color")
    assert "state format 1.0" in text.stdout


def test_state_and_plan_give_the_same_verdict_on_the_same_values(run: Run, tmp_path: Path) -> None:
    values = {"storage_encrypted": False, "engine": "postgres", "multi_az": True}
    state = tmp_path / "state.json"
    state.write_text(json.dumps(_state(_db("aws_db_instance.a", **values))))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({
        "format_version": "1.2", "terraform_version": "1.11.4",
        "resource_changes": [{
            "address": "aws_db_instance.a", "mode": "managed", "type": "aws_db_instance",
            "name": "a", "change": {"actions": ["create"], "after": values,
                                    "after_unknown": {}, "after_sensitive": {}},
        }],
    }))  # fmt: skip
    got = {}
    for path in (state, plan):
        proc = run("eval", str(path), "--format", "json")
        assert proc.returncode == 1, proc.stderr
        got[path.name] = {
            (r["control_id"], r["resource_address"]): r["status"]
            for r in json.loads(proc.stdout)["results"]
        }
    assert got["state.json"] == got["plan.json"]
    assert got["state.json"][("rds_instance_multi_az", "aws_db_instance.a")] == "pass"


def test_an_attribute_missing_from_a_state_is_not_unknown(run: Run, tmp_path: Path) -> None:
    # In a plan without resource_changes an omitted key means "known after apply"; in a
    # deployed state nothing is unknown: an omitted attribute is unset.
    state = tmp_path / "state.json"
    state.write_text(json.dumps(_state(_db("aws_db_instance.a", engine="postgres"))))
    report = json.loads(run("eval", str(state), "--format", "json").stdout)
    assert report["summary"]["results"]["unknown"] == 0
    assert outcome(report, "rds_instance_storage_encrypted", "aws_db_instance.a") == "fail"


def test_data_sources_and_deep_modules(run: Run, tmp_path: Path) -> None:
    data = {"address": "data.aws_db_instance.x", "mode": "data", "type": "aws_db_instance",
            "name": "x", "values": {"storage_encrypted": False}}  # fmt: skip
    deep: dict[str, Any] = {
        "address": "module.m9",
        "resources": [_db("module.m9.aws_db_instance.d")],
    }
    for n in range(8, 0, -1):
        deep = {"address": f"module.m{n}", "child_modules": [deep]}
    state = tmp_path / "state.json"
    state.write_text(json.dumps(_state(data, children=[deep])))
    report = json.loads(run("eval", str(state), "--format", "json").stdout)
    addresses = {r["resource_address"] for r in report["results"]}
    assert addresses == {"module.m9.aws_db_instance.d"}


def test_sensitive_state_values_are_never_printed_or_recorded(run: Run, tmp_path: Path) -> None:
    store = tmp_path / "evidence.db"
    outputs = [f"{fmt}={tmp_path / f'out.{fmt}'}" for fmt in ("json", "sarif", "markdown", "csv")]
    args = [a for o in outputs for a in ("-o", o)]
    proc = run("eval", str(STATE), "--evidence", str(store), *args, "--no-color")
    assert proc.returncode == 1, proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    for o in outputs:
        assert PASSWORD not in Path(o.split("=", 1)[1]).read_text()
    assert PASSWORD.encode() not in store.read_bytes()
    with sqlite3.connect(store) as conn:
        dump = "\n".join(conn.iterdump())
    assert PASSWORD not in dump
    (row,) = list(read(store))
    assert row.kind == "state" and row.record["kind"] == "state"
    assert row.record["plan"]["sha256"] == hashlib.sha256(STATE.read_bytes()).hexdigest()
    assert row.record["controls"]["rds_instance_storage_encrypted"]["failing"] == [
        "aws_db_instance.orders"
    ]


def test_a_state_from_stdin_and_beside_a_plan(opa: Path) -> None:
    plan = ROOT / "examples" / "demo" / "plan.json"
    proc = subprocess.run(
        [str(SOC2OPA), "eval", str(plan), "-", "--format", "json"],
        input=STATE.read_text(), capture_output=True, text=True, timeout=300,
        env={**os.environ, "SOC2OPA_OPA": str(opa)},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    docs = json.loads(proc.stdout)["reports"]
    assert [d["plan"]["kind"] for d in docs] == ["plan", "state"]
    assert docs[1]["summary"]["results"]["unknown"] == 0


def test_a_raw_state_file_is_still_refused(run: Run, tmp_path: Path) -> None:
    raw = tmp_path / "terraform.tfstate"
    raw.write_text(json.dumps({"version": 4, "serial": 1, "lineage": "x", "resources": []}))
    proc = run("eval", str(raw))
    assert proc.returncode == 2
    assert "raw Terraform state file" in proc.stderr and "terraform show -json" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_malformed_shown_state_is_one_line(run: Run, tmp_path: Path) -> None:
    for values, fragment in (
        ({"root_module": {"resources": [{"address": 1}]}}, "no address, mode or type"),
        ({"root_module": {"resources": {}}}, "resources is not a list"),
        ({"root_module": {"child_modules": [3]}}, "child_modules is not a list"),
        ({"root_module": {"resources": [{**_db("aws_db_instance.a"), "values": None}]}},
         "values are not an object"),
    ):  # fmt: skip
        path = tmp_path / "state.json"
        path.write_text(json.dumps({"format_version": "1.0", "values": values}))
        proc = run("eval", str(path))
        assert proc.returncode == 2, proc.stdout
        assert fragment in proc.stderr and str(path) in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
