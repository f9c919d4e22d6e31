"""The PostgreSQL evidence store on a real PostgreSQL 15 server started for these tests:
the same schema as SQLite, append-only triggers, 8 concurrent writers, verify and tampering."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from typing import Any

import psycopg
import pytest

from soc2opa.evidence.audit import audit
from soc2opa.evidence.checkpoint import write_checkpoint
from soc2opa.evidence.store import GENESIS, append, open_store, read, verify
from tests.conftest import ROOT, Run
from tests.pg_server import Server, postgres_server
from tests.tamper_cases import CASES, OWNER, Case, fill, record

DEMO = ROOT / "examples/demo/plan.json"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with postgres_server() as running, psycopg.connect(running.url(), autocommit=True) as conn:
        conn.execute("CREATE ROLE ci LOGIN")
        yield running


def _database(server: Server, name: str) -> str:
    """A new database owned by the unprivileged role ci; its URL as ci."""
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER ci')
    return server.url("ci", name)


class PostgresDb:
    """A superuser session with triggers off (session_replication_role = replica)."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute("SET session_replication_role = replica")

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql.replace("?", "%s"), params).fetchall()  # type: ignore[arg-type]


def _writer(args: tuple[str, int]) -> None:
    url, worker = args
    for i in range(20):
        append(url, {"kind": "plan", "ended_at": "2026-03-01T00:00:00+00:00", "w": worker,
                     "i": i})  # fmt: skip


def test_eight_concurrent_writers_keep_one_linear_chain(server: Server) -> None:
    url = _database(server, "concurrent")
    # The writers start on an empty database: creating the schema is serialised too.
    with ProcessPoolExecutor(max_workers=8) as pool:
        list(pool.map(_writer, [(url, w) for w in range(8)]))
    rows = list(read(url))
    assert [r.seq for r in rows] == list(range(1, 161))
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.record_hash for a, b in itertools.pairwise(rows))
    assert verify(iter(rows)) == (160, None)
    assert {(r.record["w"], r.record["i"]) for r in rows} == {
        (w, i) for w in range(8) for i in range(20)
    }
    with closing(open_store(url)) as store:
        write_checkpoint(store, OWNER)
        verdict = audit(store.rows(), store.checkpoints(), verifier=OWNER.verifier)
    assert (verdict.problem, verdict.records, verdict.covered) == (None, 160, 160)


def test_triggers_refuse_update_delete_and_truncate(server: Server) -> None:
    url = _database(server, "triggers")
    with closing(open_store(url)) as store:
        fill(store)
    with psycopg.connect(url, autocommit=True) as conn:
        for sql in ("UPDATE evaluations SET kind = 'x'", "DELETE FROM evaluations",
                    "TRUNCATE evaluations", "UPDATE checkpoints SET tree_size = 1",
                    "DELETE FROM checkpoints", "TRUNCATE checkpoints"):  # fmt: skip
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(sql)  # type: ignore[arg-type]
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == ("2",)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_verify_catches_every_tampering_by_a_superuser(server: Server, case: Case) -> None:
    name = "t_" + hashlib.sha256(case.name.encode()).hexdigest()[:12]
    url = _database(server, name)
    with closing(open_store(url)) as store:
        fill(store)
    db = PostgresDb(server.url(db=name))
    case.tamper(db)
    db.conn.close()
    with closing(open_store(url)) as store:
        rows, checkpoints = store.rows(), store.checkpoints()
    for verifier in (None, OWNER.verifier):
        problem = audit(rows, checkpoints, verifier=verifier).problem
        assert problem is not None and case.found in problem, (verifier, problem)


def test_eval_records_into_postgres_and_the_cli_verifies(
    server: Server, run: Run, tmp_path: Any
) -> None:
    url = _database(server, "cli")
    proc = run("eval", str(DEMO), "--evidence", url, "-q")
    assert proc.returncode == 1, proc.stderr
    key = tmp_path / "k.key"
    assert run("evidence", "keygen", "-o", str(key)).returncode == 0
    cp = run("evidence", "checkpoint", url, "--key", str(key))
    assert cp.returncode == 0, cp.stderr
    ok = run("evidence", "verify", url)
    assert ok.returncode == 0 and "1 records, chain intact" in ok.stdout, ok.stderr
    assert "1 checkpoints verified" in ok.stdout
    rows = list(read(url))
    assert rows[0].record["plan"]["sha256"] == hashlib.sha256(DEMO.read_bytes()).hexdigest()
    db = PostgresDb(server.url(db="cli"))
    db.run("DELETE FROM evaluations")
    db.conn.close()
    caught = run("evidence", "verify", url)
    assert caught.returncode == 1 and "checkpoint 1 covers 1 records" in caught.stderr
    bad = run("evidence", "verify", f"postgresql://ci:secret@127.0.0.1:{server.port}/nosuchdb")
    assert bad.returncode == 2 and "cannot connect" in bad.stderr and "secret" not in bad.stderr
    assert record(1)["kind"] == "plan"
