"""Waiver lifecycle records (create, renew, revoke) are entries of every export of a window, even
when no evaluation applied the waiver: OSCAL risks with a risk log, HDF waiver_data and
passthrough, signed in-toto statements, the HTML table, CSV and JSON-lines rows."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from soc2opa.evidence.intoto import WAIVER_PREDICATE_TYPE, parse_private_key, verify_envelope
from soc2opa.evidence.oscal import party_uuid
from soc2opa.evidence.store import open_store, read
from soc2opa.evidence.waiver_history import waiver_histories
from soc2opa.evidence.waiver_records import create_record, fold, renew_record, revoke_record
from tests.conftest import ROOT, SOC2OPA
from tests.evidence_schemas import hdf_validator, oscal_ar_validator

DEMO = ROOT / "examples" / "demo" / "plan.json"
RDS = "rds_instance_storage_encrypted"
TICKET = "https://tickets.example/SEC-12"


def _cli(opa: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SOC2OPA), *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "SOC2OPA_OPA": str(opa)},
                          timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def store(opa: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Waivers created, renewed and revoked around three real evaluations of the demo plan."""
    path = tmp_path_factory.mktemp("waivers") / "e.db"

    def ok(*args: str) -> None:
        done = _cli(opa, *args)
        assert done.returncode in (0, 1), done.stderr

    ok(
        "evidence",
        "waiver",
        "create",
        str(path),
        "--id",
        "W-rds",
        "--control",
        RDS,
        "--resource",
        "module.db.*",
        "--owner",
        "alice",
        "--approver",
        "bob",
        "--reason",
        "encrypted copy restored in Q3",
        "--ticket",
        TICKET,
        "--expires",
        "2099-12-31",
    )
    ok("eval", str(DEMO), "--evidence", str(path), "-q")
    ok(
        "evidence",
        "waiver",
        "renew",
        str(path),
        "W-rds",
        "--approver",
        "carol",
        "--reason",
        "restore slipped",
        "--expires",
        "2098-12-31",
    )
    ok("eval", str(DEMO), "--evidence", str(path), "-q")
    ok(
        "evidence",
        "waiver",
        "create",
        str(path),
        "--id",
        "W-unused",
        "--control",
        "s3_bucket_*",
        "--resource",
        "module.nowhere.*",
        "--owner",
        "dave",
        "--approver",
        "erin",
        "--reason",
        "buckets of the retired module",
        "--expires",
        "2099-01-31",
    )
    ok(
        "evidence",
        "waiver",
        "create",
        str(path),
        "--id",
        "W-gone",
        "--control",
        RDS,
        "--owner",
        "alice",
        "--approver",
        "bob",
        "--reason",
        "too broad",
        "--expires",
        "2099-01-31",
    )
    ok(
        "evidence",
        "waiver",
        "revoke",
        str(path),
        "W-gone",
        "--approver",
        "bob",
        "--reason",
        "replaced by W-rds",
    )
    with closing(open_store(path)) as opened:
        opened.append(create_record(
            {}, waiver_id="W-old", control="kms_*", resource="*", owner="frank", approver="bob",
            reason="rotation after migration", ticket="SEC-7", expires="2020-06-30",
            today=date(2020, 1, 1),
        ))  # fmt: skip
    ok("eval", str(DEMO), "--evidence", str(path), "-q")
    return path


def _export(opa: Path, store: Path, fmt: str, *extra: str) -> str:
    done = _cli(opa, "evidence", "export", str(store), "--format", fmt, *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _waiver_rows(store: Path) -> list[Any]:
    return [r for r in read(store) if r.kind == "waiver"]


def test_every_store_waiver_is_an_oscal_risk_with_its_lifecycle(opa: Path, store: Path) -> None:
    doc = json.loads(_export(opa, store, "oscal-ar"))
    assert [e.message for e in oscal_ar_validator().iter_errors(doc)] == []
    ar = doc["assessment-results"]
    (result,) = ar["results"]
    risks = {p["value"]: r for r in result["risks"] for p in r["props"]
             if p["name"] == "waiver-id"}  # fmt: skip
    assert sorted(risks) == ["W-gone", "W-old", "W-rds", "W-unused"]
    props = {k: {p["name"]: p["value"] for p in r["props"]} for k, r in risks.items()}
    rds = risks["W-rds"]
    assert rds["status"] == "deviation-approved" and rds["deadline"] == "2098-12-31T23:59:59Z"
    assert (props["W-rds"]["owner"], props["W-rds"]["approver"]) == ("alice", "carol")
    assert rds["links"] == [{"href": TICKET, "rel": "reference", "text": "ticket"}]
    log = rds["risk-log"]["entries"]
    seqs = [r.seq for r in _waiver_rows(store) if r.record["waiver"]["id"] == "W-rds"]
    assert [e["title"] for e in log] == ["Waiver W-rds created", "Waiver W-rds renewed"]
    assert [int(next(p["value"] for p in e["props"] if p["name"] == "seq")) for e in log] == seqs
    assert [e["logged-by"][0]["party-uuid"] for e in log] == [
        party_uuid("bob"),
        party_uuid("carol"),
    ]
    assert all(e["start"].endswith("Z") for e in log)
    # Applied by all three evaluations: the risk points at their observations of the control.
    assert len(rds["related-observations"]) == 3
    observations = {o["uuid"]: o["title"] for o in result["observations"]}
    assert all(observations[o["observation-uuid"]].startswith(RDS)
               for o in rds["related-observations"])  # fmt: skip
    # Never applied, yet a risk of its own, tied to the criteria of the controls it names.
    unused = risks["W-unused"]
    assert unused["status"] == "deviation-approved" and "related-observations" not in unused
    assert "applied-in-seq" not in props["W-unused"]
    assert any(unused["uuid"] in [x["risk-uuid"] for x in f.get("related-risks", [])]
               for f in result["findings"])  # fmt: skip
    gone = risks["W-gone"]
    assert gone["status"] == "closed" and props["W-gone"]["waiver-state"] == "revoked"
    assert [e["status-change"] for e in gone["risk-log"]["entries"]] == [
        "deviation-approved", "closed"]  # fmt: skip
    old = risks["W-old"]
    assert old["status"] == "closed" and props["W-old"]["waiver-state"] == "expired"
    assert old["risk-log"]["entries"][-1]["title"] == "Waiver W-old expired"
    parties = {p["name"]: p["uuid"] for p in ar["metadata"]["parties"]}
    assert sorted(parties) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    owners = next(r for r in ar["metadata"]["responsible-parties"]
                  if r["role-id"] == "waiver-owner")  # fmt: skip
    assert sorted(owners["party-uuids"]) == sorted(parties[n] for n in ("alice", "dave", "frank"))
    assert {p["name"]: p["value"] for p in result["props"]}["waiver-records"] == "6"


def test_hdf_carries_waiver_data_and_the_lifecycle(opa: Path, store: Path) -> None:
    doc = json.loads(_export(opa, store, "hdf"))
    assert [e.message for e in hdf_validator().iter_errors(doc)] == []
    controls = {c["id"]: c for c in doc["profiles"][0]["controls"]}
    rds = controls[RDS]["waiver_data"]
    assert "evidence:W-rds" in rds["justification"] and "evidence:W-gone" in rds["justification"]
    assert rds["expiration_date"] == "2098-12-31"  # the live waiver's, not the revoked one's
    assert "revoked" in rds["message"]
    buckets = [c for cid, c in controls.items() if cid.startswith("s3_bucket_")]
    assert buckets and all("W-unused" in c["waiver_data"]["justification"] for c in buckets)
    lifecycle = {w["id"]: w for w in doc["passthrough"]["soc2opa_waivers"]}
    assert sorted(lifecycle) == ["W-gone", "W-old", "W-rds", "W-unused"]
    assert [r["action"] for r in lifecycle["W-rds"]["records"]] == ["create", "renew"]
    assert lifecycle["W-rds"]["records"][1]["previous_expires"] == "2099-12-31"
    assert lifecycle["W-gone"]["state"] == "revoked" and lifecycle["W-old"]["state"] == "expired"
    assert len(lifecycle["W-rds"]["applied_in"]) == 3 and lifecycle["W-unused"]["applied_in"] == []


def test_each_lifecycle_record_is_a_signed_in_toto_statement(
    opa: Path, store: Path, tmp_path: Path
) -> None:
    path = tmp_path / "k.key"
    made = _cli(opa, "evidence", "keygen", "--name", "test.example/soc2", "-o", str(path))
    assert made.returncode == 0, made.stderr
    key = parse_private_key(path.read_text())
    lines = _export(opa, store, "intoto", "--key", str(path)).splitlines()
    rows = list(read(store))
    assert len(lines) == len(rows) == 9
    statements = [verify_envelope(json.loads(line), key.public_key()) for line in lines]
    waivers = [s for s in statements if s["predicateType"] == WAIVER_PREDICATE_TYPE]
    expected = _waiver_rows(store)
    assert len(waivers) == len(expected) == 6
    for s, row in zip(waivers, expected, strict=True):
        assert s["subject"][0]["digest"]["sha256"] == row.record_hash
        assert s["predicate"]["record"] == row.record and s["predicate"]["seq"] == row.seq
        assert s["predicate"]["action"] == row.record["action"]
    forged = json.loads(lines[0])
    body = json.loads(base64.b64decode(forged["payload"]))
    body["predicate"]["record"]["waiver"]["expires"] = "2199-12-31"
    forged["payload"] = base64.b64encode(json.dumps(body).encode()).decode()
    with pytest.raises(ValueError, match="no signature"):
        verify_envelope(forged, key.public_key())


def test_html_lists_each_waiver_with_its_history(opa: Path, store: Path) -> None:
    page = _export(opa, store, "html")
    assert page.count('<tr class="store-waiver"') == 4
    for wid, state in (("W-rds", "live"), ("W-unused", "live"), ("W-gone", "revoked"),
                       ("W-old", "expired")):  # fmt: skip
        assert f'<tr class="store-waiver" data-id="{wid}" data-state="{state}">' in page
    assert page.count('<li class="waiver-event" data-action="create"') == 4
    assert page.count('data-action="renew"') == page.count('data-action="revoke"') == 1
    assert "expiry 2099-12-31 &rarr; 2098-12-31" in page and "expired on 2020-06-30" in page


def test_csv_and_jsonl_hold_a_row_per_lifecycle_record(opa: Path, store: Path) -> None:
    table = list(csv.DictReader(io.StringIO(_export(opa, store, "csv"))))
    waivers = [r for r in table if r["kind"] == "waiver"]
    assert [(r["waiver_id"], r["action"]) for r in waivers] == [
        ("W-rds", "create"), ("W-rds", "renew"), ("W-unused", "create"), ("W-gone", "create"),
        ("W-gone", "revoke"), ("W-old", "create")]  # fmt: skip
    renew = waivers[1]
    assert (renew["control_id"], renew["resource"], renew["owner"]) == (RDS, "module.db.*",
                                                                          "alice")  # fmt: skip
    assert (renew["approver"], renew["expires"], renew["previous_expires"]) == (
        "carol", "2098-12-31", "2099-12-31")  # fmt: skip
    assert waivers[0]["ticket"] == TICKET
    hashes = {r.seq: r.record_hash for r in read(store)}
    assert all(hashes[int(r["seq"])] == r["record_hash"] for r in waivers)
    lines = [json.loads(x) for x in _export(opa, store, "jsonl").splitlines()]
    assert [x["record"]["action"] for x in lines if x["record"]["kind"] == "waiver"] == [
        r["action"] for r in waivers]  # fmt: skip


def _dated(record: dict[str, Any], day: str) -> dict[str, Any]:
    return {**record, "recorded_at": f"{day}T09:00:00.000000+00:00"}


def test_a_window_shows_the_waivers_in_force_or_recorded_in_it(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with closing(open_store(path)) as opened:
        terms = {"control": RDS, "resource": "*", "owner": "alice", "approver": "bob",
                 "reason": "r", "ticket": None}  # fmt: skip
        opened.append(
            _dated(
                create_record(
                    {}, waiver_id="W-a", expires="2026-02-28", today=date(2026, 1, 1), **terms
                ),
                "2026-01-01",
            )
        )
        opened.append(
            _dated(
                create_record(
                    {}, waiver_id="W-short", expires="2026-01-03", today=date(2026, 1, 1), **terms
                ),
                "2026-01-01",
            )
        )
        opened.append(_dated(renew_record(fold(opened.rows()), "W-a", approver="carol",
                                          reason="later", ticket=None, expires="2026-03-31",
                                          today=date(2026, 1, 10)), "2026-01-10"))  # fmt: skip
        opened.append(_dated(revoke_record(fold(opened.rows()), "W-a", approver="carol",
                                           reason="fixed"), "2026-01-20"))  # fmt: skip
        rows = opened.rows()

    def shown(first: str, last: str) -> dict[str, tuple[str, list[bool]]]:
        return {h.id: (h.status, [e.in_window for e in h.events])
                for h in waiver_histories(rows, first, last)}  # fmt: skip

    assert shown("2026-01-02", "2026-01-08") == {
        "W-a": ("live", [False]), "W-short": ("expired", [False])}  # fmt: skip
    assert shown("2026-01-05", "2026-01-15") == {"W-a": ("live", [False, True])}
    assert shown("2026-01-15", "2026-01-25") == {"W-a": ("revoked", [False, False, True])}
    assert shown("2026-01-21", "2026-01-31") == {}
