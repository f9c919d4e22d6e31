"""Waivers as evidence: create, renew and revoke are chained records; eval applies the live
ones, records which waiver records it used, and never applies an expired one."""

from __future__ import annotations

from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

from soc2opa.evidence.store import open_store, read
from soc2opa.evidence.waiver_records import create_record, fold
from tests.conftest import ROOT, Run

DEMO = ROOT / "examples/demo/plan.json"
RDS = "rds_instance_storage_encrypted"
ADDRESS = "module.db.aws_db_instance.main"


def _last_plan(store: Path) -> dict[str, Any]:
    return [r for r in read(store) if r.kind == "plan"][-1].record


def _eval(run: Run, store: Path) -> Any:
    proc = run("eval", str(DEMO), "--evidence", str(store), "--no-color")
    assert proc.returncode in (0, 1), proc.stderr
    return proc


def test_the_waiver_lifecycle_is_recorded_and_applied(run: Run, tmp_path: Path) -> None:
    store = tmp_path / "e.db"
    made = run("evidence", "waiver", "create", str(store), "--id", "W-rds", "--control", RDS,
               "--resource", "module.db.*", "--owner", "alice", "--approver", "bob",
               "--reason", "encrypted copy restored in Q3", "--ticket", "SEC-12",
               "--expires", "2099-12-31")  # fmt: skip
    assert made.returncode == 0 and "record 1: waiver W-rds created" in made.stdout, made.stderr
    _eval(run, store)
    c = _last_plan(store)["controls"][RDS]
    assert (c["failed"], c["waived"], c["failing"]) == (1, 1, [])
    assert c["waivers"] == ["evidence:W-rds@1"]
    assert _last_plan(store)["waiver_records_applied"] == [1]

    renewed = run("evidence", "waiver", "renew", str(store), "W-rds", "--approver", "carol",
                  "--reason", "restore slipped", "--expires", "2099-12-31")  # fmt: skip
    assert renewed.returncode == 0 and "record 3: waiver W-rds renewed" in renewed.stdout
    _eval(run, store)
    assert _last_plan(store)["controls"][RDS]["waivers"] == ["evidence:W-rds@3"]

    revoked = run("evidence", "waiver", "revoke", str(store), "W-rds", "--approver", "carol",
                  "--reason", "fixed")  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr
    _eval(run, store)
    c = _last_plan(store)["controls"][RDS]
    assert (c["waived"], c["failing"], c["waivers"]) == (0, [ADDRESS], [])

    listed = run("evidence", "waiver", "list", str(store)).stdout
    assert "W-rds  revoked" in listed and "approved by carol" in listed and "records 1..5" in listed
    kinds = [(r.kind, r.record.get("action")) for r in read(store)]
    assert kinds == [("waiver", "create"), ("plan", None), ("waiver", "renew"), ("plan", None),
                     ("waiver", "revoke"), ("plan", None)]  # fmt: skip
    ok = run("evidence", "verify", str(store))
    assert ok.returncode == 0 and "6 records, chain intact" in ok.stdout
    csv = run("evidence", "export", str(store), "--format", "csv")
    # Three evaluations, and the create, renew and revoke records, each a row naming the control.
    assert csv.returncode == 0 and csv.stdout.count(f",{RDS},") == 3 + 3


def test_an_expired_waiver_does_not_apply_and_the_report_says_so(run: Run, tmp_path: Path) -> None:
    store = tmp_path / "x.db"
    with closing(open_store(store)) as opened:
        opened.append(create_record(
            {}, waiver_id="W-old", control=RDS, resource="*", owner="alice", approver="bob",
            reason="temporary", ticket=None, expires="2020-06-30", today=date(2020, 1, 1),
        ))  # fmt: skip
    proc = _eval(run, store)
    assert "expired on 2020-06-30 and no longer applies" in proc.stdout + proc.stderr
    rec = _last_plan(store)
    assert rec["controls"][RDS]["failing"] == [ADDRESS] and rec["waiver_records_applied"] == []
    assert rec["waivers_expired"] == ["evidence:W-old@1"]
    with closing(open_store(store)) as opened:
        assert fold(opened.rows())["W-old"].status(date(2026, 1, 1)) == "expired"


def test_waiver_commands_refuse_what_an_auditor_would_not_accept(run: Run, tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    base = ["evidence", "waiver", "create", str(store), "--control", RDS, "--owner", "alice",
            "--reason", "r", "--expires", "2099-01-01"]  # fmt: skip
    same = run(*base, "--approver", "Alice")
    assert same.returncode == 2 and "someone other than its owner" in same.stderr
    past = run(*base[:-1], "2020-01-01", "--approver", "bob")
    assert past.returncode == 2 and "in the past" in past.stderr
    first = run(*base, "--approver", "bob", "--id", "W-1")
    assert first.returncode == 0
    again = run(*base, "--approver", "bob", "--id", "W-1")
    assert again.returncode == 2 and "exists" in again.stderr
    unknown = run("evidence", "waiver", "renew", str(store), "W-2", "--approver", "bob",
                  "--reason", "r", "--expires", "2099-01-01")  # fmt: skip
    assert unknown.returncode == 2 and "no waiver W-2" in unknown.stderr
    assert run("evidence", "waiver", "revoke", str(store), "W-1", "--approver", "bob",
               "--reason", "done").returncode == 0  # fmt: skip
    twice = run("evidence", "waiver", "revoke", str(store), "W-1", "--approver", "bob",
                "--reason", "done")  # fmt: skip
    assert twice.returncode == 2 and "was revoked" in twice.stderr
