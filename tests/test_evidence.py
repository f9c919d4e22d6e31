"""The evidence store: every evaluation recorded, append-only, hash-chained, tampering caught."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from soc2opa.errors import UsageError
from soc2opa.evidence.ci import ci_context
from soc2opa.evidence.store import GENESIS, append, read, verify
from tests.conftest import ROOT, Run

DEMO = ROOT / "examples/demo/plan.json"
SECRET_FIXTURE = ROOT / "tests/plans/emr/emr_kerberos_enabled.json"


def _secret_plan(tmp_path: Path) -> tuple[Path, str]:
    doc = json.loads(SECRET_FIXTURE.read_text())
    plan = next(iter(doc["examples"].values()))
    path = tmp_path / "secret.json"
    path.write_text(json.dumps(plan))
    rc = next(r for r in plan["resource_changes"] if r["type"] == "aws_emr_cluster")
    password = rc["change"]["after"]["kerberos_attributes"][0]["kdc_admin_password"]
    assert rc["change"]["after_sensitive"]["kerberos_attributes"][0]["kdc_admin_password"]
    return path, str(password)


def _record(n: int, day: str = "2026-01-01") -> dict[str, Any]:
    return {"kind": "plan", "ended_at": f"{day}T00:00:{n:02d}+00:00", "exit_code": 0, "n": n}


def test_eval_records_every_plan_and_no_secret(run: Run, tmp_path: Path) -> None:
    store = tmp_path / "evidence.db"
    secret, password = _secret_plan(tmp_path)
    proc = run("eval", str(DEMO), str(secret), "--evidence", str(store), "-q")
    assert proc.returncode == 1, proc.stderr
    rows = list(read(store))
    assert [r.seq for r in rows] == [1, 2]
    first = rows[0].record
    assert first["plan"]["sha256"] == hashlib.sha256(DEMO.read_bytes()).hexdigest()
    assert first["bundle"]["revision"] and first["tool"]["opa_sha256"]
    assert first["controls"]["rds_instance_storage_encrypted"]["failing"] == [
        "module.db.aws_db_instance.main"
    ]
    assert first["exit_code"] == 1 and rows[0].prev_hash == GENESIS
    assert rows[1].prev_hash == rows[0].record_hash
    assert password.encode() not in store.read_bytes()
    ok = run("evidence", "verify", str(store))
    assert ok.returncode == 0 and "2 records, chain intact" in ok.stdout


def test_the_store_refuses_updates_and_deletes(tmp_path: Path) -> None:
    store = tmp_path / "e.db"
    append(store, _record(1))
    with sqlite3.connect(store) as conn:
        for sql in ("UPDATE evaluations SET kind = 'x'", "DELETE FROM evaluations"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(sql)


def _tampered(tmp_path: Path, *sql: str) -> str | None:
    store = tmp_path / "t.db"
    store.unlink(missing_ok=True)
    for n in range(1, 5):
        append(store, _record(n))
    with sqlite3.connect(store) as conn:
        conn.execute("DROP TRIGGER evaluations_no_update")
        conn.execute("DROP TRIGGER evaluations_no_delete")
        for statement in sql:
            conn.execute(statement)
    return verify(read(store))[1]


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        (
            ["UPDATE evaluations SET record = replace(record, '\"exit_code\": 0', "
             "'\"exit_code\": 1') WHERE seq = 2"],
            "record 2 was changed",
        ),
        (["DELETE FROM evaluations WHERE seq = 3"], "record 3 is missing"),
        (
            ["UPDATE evaluations SET seq = 10 WHERE seq = 2",
             "UPDATE evaluations SET seq = 2 WHERE seq = 3",
             "UPDATE evaluations SET seq = 3 WHERE seq = 10"],
            "record 2 does not follow record 1",
        ),
        (["DELETE FROM evaluations WHERE seq = 4"], None),
    ],
)  # fmt: skip
def test_verify_names_the_first_bad_record(
    tmp_path: Path, sql: list[str], found: str | None
) -> None:
    problem = _tampered(tmp_path, *sql)
    if found is None:
        # Dropping the newest record leaves a valid shorter chain: a signed checkpoint of the
        # chain's size shows it (tests/test_evidence_chain.py); docs/evidence.md says so.
        assert problem is None
    else:
        assert problem is not None and found in problem


def test_a_backdated_record_is_caught(tmp_path: Path) -> None:
    store = tmp_path / "b.db"
    append(store, _record(5, "2026-02-01"))
    append(store, _record(1, "2026-01-15"))
    count, problem = verify(read(store))
    assert count == 1 and problem is not None and "backdated" in problem


def _append_many(args: tuple[str, int]) -> None:
    path, worker = args
    for i in range(10):
        append(Path(path), {"kind": "plan", "ended_at": "2026-03-01T00:00:00+00:00", "w": worker,
                            "i": i})  # fmt: skip


def test_concurrent_writers_keep_one_linear_chain(tmp_path: Path) -> None:
    store = tmp_path / "c.db"
    append(store, _record(0, "2026-02-28"))
    with ProcessPoolExecutor(max_workers=8) as pool:
        list(pool.map(_append_many, [(str(store), w) for w in range(8)]))
    rows = list(read(store))
    assert len(rows) == 81
    assert verify(iter(rows)) == (81, None)
    assert {(r.record["w"], r.record["i"]) for r in rows[1:]} == {
        (w, i) for w in range(8) for i in range(10)
    }


def test_ci_context_from_github_actions() -> None:
    env = {
        "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/infra", "GITHUB_SHA": "abc123",
        "GITHUB_HEAD_REF": "feature/x", "GITHUB_RUN_ID": "42", "GITHUB_ACTOR": "alice",
    }  # fmt: skip
    ctx = ci_context(env)
    assert ctx["system"] == "github-actions" and ctx["repository"] == "acme/infra"
    assert ctx["run_url"] == "https://github.com/acme/infra/actions/runs/42"
    assert (
        ci_context({"GITLAB_CI": "true", "CI_PROJECT_PATH": "g/p", "CI_MERGE_REQUEST_IID": "7"})[
            "ref"
        ]
        == "!7"
    )


def test_export_a_window(run: Run, tmp_path: Path) -> None:
    store = tmp_path / "w.db"
    for n, day in enumerate(("2026-01-01", "2026-01-02", "2026-01-03"), start=1):
        append(store, {**_record(n, day), "plan": {"name": "p", "sha256": "x"}, "ci": {},
                       "bundle": {"revision": "r"},
                       "controls": {"c": {"status": "pass", "criteria": ["CC6.1"], "judged": 1,
                                          "failed": 0, "unknown": 0, "waived": 0,
                                          "failing": []}}})  # fmt: skip
    lines = run("evidence", "export", str(store), "--from", "2026-01-02").stdout.splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [2, 3]
    rows = run("evidence", "export", str(store), "--format", "csv", "--to", "2026-01-01").stdout
    assert rows.splitlines()[1].startswith("1,2026-01-01")
    bad = run("evidence", "export", str(store), "--from", "January")
    assert bad.returncode == 2 and "--from" in bad.stderr
    with pytest.raises(UsageError):
        list(read(tmp_path / "missing.db"))
