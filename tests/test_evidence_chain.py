"""Signed checkpoints, proofs and verify over an SQLite evidence store, tampered in many ways."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from soc2opa.errors import UsageError
from soc2opa.evidence.audit import audit
from soc2opa.evidence.checkpoint import check_proof, prove_consistency, prove_inclusion
from soc2opa.evidence.merkle import ProofError
from soc2opa.evidence.note import generate, open_note, parse_signer, parse_verifier
from soc2opa.evidence.store import EvidenceStore, open_store
from tests.conftest import Run
from tests.tamper_cases import CASES, MALLORY, OWNER, Case, fill, record

# golang.org/x/mod/sumdb/note's documented example (the reference implementation of C2SP
# signed-note): key, text and the exact signed note; Ed25519 is deterministic.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
    "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_signed_notes_match_the_reference_implementation() -> None:
    signer = parse_signer(GO_SKEY)
    assert signer.text() == GO_SKEY and signer.verifier.text() == GO_VKEY
    assert signer.sign(GO_TEXT) == GO_NOTE
    assert open_note(GO_NOTE, parse_verifier(GO_VKEY)) == GO_TEXT
    with pytest.raises(ValueError, match="does not verify"):
        open_note(GO_NOTE.replace("answer", "Answer"), parse_verifier(GO_VKEY))
    with pytest.raises(ValueError, match="no signature by"):
        open_note(GO_NOTE, generate("SomeoneElse").verifier)


class SqliteDb:
    """The store's file opened as a superuser would: the append-only triggers dropped."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        for trigger in ("evaluations_no_update", "evaluations_no_delete",
                        "checkpoints_no_update", "checkpoints_no_delete"):  # fmt: skip
            self.conn.execute(f"DROP TRIGGER {trigger}")

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(sql, params)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "evidence.db"
    with closing(open_store(path)) as store:
        fill(store)
    yield path


def _verdict(path: Path, **kw: Any) -> Any:
    with closing(EvidenceStore(path)) as store:
        return audit(store.rows(), store.checkpoints(), verifier=kw.pop("verifier", None), **kw)


def test_an_untouched_store_verifies_and_says_what_is_not_covered(filled: Path) -> None:
    verdict = _verdict(filled, verifier=OWNER.verifier)
    assert (verdict.problem, verdict.records, verdict.checkpoints) == (None, 12, 2)
    assert verdict.covered == 10 and "records 11..12 are not covered" in verdict.notes[0]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_verify_catches_every_tampering(filled: Path, case: Case) -> None:
    db = SqliteDb(filled)
    case.tamper(db)
    db.conn.close()
    for verifier in (None, OWNER.verifier):
        problem = _verdict(filled, verifier=verifier).problem
        assert problem is not None and case.found in problem, (verifier, problem)


def test_dropping_the_last_checkpoint_and_its_records_needs_the_auditors_copy(
    filled: Path,
) -> None:
    with closing(EvidenceStore(filled)) as store:
        kept = store.checkpoints()[-1].note
    db = SqliteDb(filled)
    db.run("DELETE FROM checkpoints WHERE id = 2")
    db.run("DELETE FROM evaluations WHERE seq > 8")
    db.conn.close()
    assert _verdict(filled).problem is None  # what the store alone can show
    problem = _verdict(filled, verifier=OWNER.verifier, external=[kept]).problem
    assert problem and "external checkpoint 1 covers 10 records but the store holds 8" in problem


def test_a_store_resigned_with_another_key_fails_only_against_the_pinned_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.db"
    with closing(open_store(path)) as store:
        fill(store, MALLORY)
    assert _verdict(path).problem is None
    problem = _verdict(path, verifier=OWNER.verifier).problem
    assert problem and "checkpoint 1 is not a valid note signed by" in problem


def test_a_checkpoint_refuses_to_vouch_for_a_tampered_chain(filled: Path) -> None:
    db = SqliteDb(filled)
    CASES[0].tamper(db)
    db.conn.close()
    with closing(EvidenceStore(filled)) as store, pytest.raises(UsageError, match="record 5"):
        from soc2opa.evidence.checkpoint import write_checkpoint

        write_checkpoint(store, OWNER)


def test_the_triggers_guard_checkpoints_too(filled: Path) -> None:
    with sqlite3.connect(filled) as conn:
        for sql in ("UPDATE checkpoints SET tree_size = 1", "DELETE FROM checkpoints"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(sql)


def test_inclusion_and_consistency_proofs_check_offline(filled: Path) -> None:
    with closing(EvidenceStore(filled)) as store:
        rows, cps = store.rows(), store.checkpoints()
    for seq in range(1, 11):
        doc = prove_inclusion(rows, cps, seq)
        assert doc["tree_size"] == (8 if seq <= 8 else 10)
        assert f"record {seq} is in the signed checkpoint" in check_proof(doc, OWNER.verifier)
    with pytest.raises(UsageError, match="not covered by a checkpoint"):
        prove_inclusion(rows, cps, 11)
    doc = prove_inclusion(rows, cps, 3, checkpoint=2)
    edited = json.loads(json.dumps(doc))
    edited["record"]["controls"]["s3_bucket_encrypted"]["status"] = "fail"
    with pytest.raises(ProofError, match="changed"):
        check_proof(edited, OWNER.verifier)
    with pytest.raises(ProofError, match="does not verify"):
        check_proof(doc, MALLORY.verifier)
    with pytest.raises(ProofError):
        check_proof({**doc, "proof": doc["proof"][1:]}, OWNER.verifier)
    cons = prove_consistency(rows, cps, 1, 2)
    assert "first 8 records are unchanged" in check_proof(cons, OWNER.verifier)
    with pytest.raises(ProofError):
        check_proof({**cons, "proof": ["00" * 32, *cons["proof"]]}, OWNER.verifier)


def test_the_cli_end_to_end(run: Run, tmp_path: Path) -> None:
    store, key = tmp_path / "e.db", tmp_path / "signing.key"
    made = run("evidence", "keygen", "--name", "acme.example/ci", "-o", str(key))
    assert made.returncode == 0 and (key.stat().st_mode & 0o777) == 0o600
    pub = tmp_path / "k.pub"
    pub.write_text(made.stdout)
    assert run("evidence", "public-key", "--key", str(key)).stdout == made.stdout
    again = run("evidence", "keygen", "-o", str(key))
    assert again.returncode == 2 and "never overwritten" in again.stderr
    with closing(open_store(store)) as opened:
        for n in range(1, 4):
            opened.append(record(n, day=n))
    cp = run("evidence", "checkpoint", str(store), "--key-env", "SIGNING_KEY",
             env={"SIGNING_KEY": key.read_text()})  # fmt: skip
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.startswith("acme.example/ci\n3\n") and "checkpoint 1 signed" in cp.stderr
    ok = run("evidence", "verify", str(store), "--public-key", str(pub), "--from", "2026-01-02")
    assert ok.returncode == 0, ok.stderr
    assert "3 records, chain intact" in ok.stdout and "1 checkpoints verified" in ok.stdout
    assert "window 2026-01-02 to …: records 2..3" in ok.stdout
    proof = tmp_path / "p.json"
    proof.write_text(run("evidence", "prove", str(store), "--seq", "2").stdout)
    held = run("evidence", "verify-proof", str(proof), "--public-key", str(pub))
    assert held.returncode == 0 and "proof holds" in held.stdout
    other = tmp_path / "other.pub"
    other.write_text(MALLORY.verifier.text())
    bad = run("evidence", "verify-proof", str(proof), "--public-key", str(other))
    assert bad.returncode == 1 and "does not hold" in bad.stderr
    db = SqliteDb(store)
    db.run("DELETE FROM evaluations WHERE seq = 3")
    db.conn.close()
    caught = run("evidence", "verify", str(store))
    assert caught.returncode == 1 and "checkpoint 1 covers 3 records" in caught.stderr
    nokey = run("evidence", "checkpoint", str(store))
    assert nokey.returncode == 2 and "--key" in nokey.stderr
