"""Ways a database superuser can tamper with an evidence store, shared by the SQLite and
PostgreSQL tests: each case changes the tables with the append-only triggers out of the way, and
names what `verify` must say about it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from soc2opa.evidence.checkpoint import write_checkpoint
from soc2opa.evidence.note import Signer, TreeHead, generate
from soc2opa.evidence.store import EvidenceStore, record_hash


class Db(Protocol):
    """A connection that runs SQL with the triggers disabled; `?` is the placeholder."""

    def run(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


def record(n: int, day: int = 1, status: str = "pass") -> dict[str, Any]:
    """A small evaluation record of a given day in January 2026."""
    return {
        "kind": "plan", "started_at": f"2026-01-{day:02d}T00:00:{n % 60:02d}+00:00",
        "ended_at": f"2026-01-{day:02d}T00:01:{n % 60:02d}+00:00", "exit_code": 0,
        "plan": {"name": f"p{n}.json", "sha256": f"{n:064x}"}, "ci": {},
        "bundle": {"revision": "r1"},
        "controls": {"s3_bucket_encrypted": {
            "status": status, "criteria": ["CC6.1"], "judged": 1, "failed": 0, "unknown": 0,
            "waived": 0, "failing": [], "waivers": []}},
    }  # fmt: skip


OWNER = generate("acme.example/soc2-evidence")


def fill(store: EvidenceStore, signer: Signer = OWNER) -> None:
    """12 records over days 1..12, checkpoints after 8 and 10: records 11 and 12 uncovered."""
    for n in range(1, 13):
        store.append(record(n, day=n))
        if n in (8, 10):
            write_checkpoint(store, signer)


def _rewrite_from(db: Db, seq: int, change: Callable[[list[dict[str, Any]]], None]) -> None:
    """Replace records seq.. with `change`d ones and recompute every hash after, as a tamperer
    who knows the hashing would."""
    rows = db.all("SELECT seq, record, prev_hash FROM evaluations WHERE seq >= ? ORDER BY seq",
                  (seq,))  # fmt: skip
    records = [json.loads(r[1]) for r in rows]
    change(records)
    db.run("DELETE FROM evaluations WHERE seq >= ?", (seq,))
    prev = rows[0][2]
    for offset, rec in enumerate(records):
        n = seq + offset
        digest = record_hash(n, prev, rec)
        db.run(
            "INSERT INTO evaluations (seq, recorded_at, kind, record, prev_hash, record_hash) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (n, rec["ended_at"], rec["kind"], json.dumps(rec, sort_keys=True), prev, digest),
        )
        prev = digest


def edit_status(db: Db) -> None:
    db.run(
        'UPDATE evaluations SET record = replace(record, \'"status": "pass"\', '
        '\'"status": "fail"\') WHERE seq = 5'
    )


def delete_row(db: Db) -> None:
    db.run("DELETE FROM evaluations WHERE seq = 3")


def reorder(db: Db) -> None:
    db.run("UPDATE evaluations SET seq = 1000 WHERE seq = 2")
    db.run("UPDATE evaluations SET seq = 2 WHERE seq = 3")
    db.run("UPDATE evaluations SET seq = 3 WHERE seq = 1000")


def backdated_at_end(db: Db) -> None:
    last = db.all("SELECT seq, record_hash FROM evaluations ORDER BY seq DESC LIMIT 1")[0]
    rec = record(99, day=2)
    db.run(
        "INSERT INTO evaluations (seq, recorded_at, kind, record, prev_hash, record_hash) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (last[0] + 1, rec["ended_at"], "plan", json.dumps(rec, sort_keys=True), last[1],
         record_hash(last[0] + 1, last[1], rec)),
    )  # fmt: skip


def backdated_inserted(db: Db) -> None:
    """A record made to look as if it ran on day 4, slipped in after record 4, chain rehashed."""
    _rewrite_from(db, 5, lambda recs: recs.insert(0, record(98, day=4)))


def rewrite_after_last_checkpoint(db: Db) -> None:
    """After the last checkpoint, record 3's status is changed and every hash recomputed."""

    def change(recs: list[dict[str, Any]]) -> None:
        recs[0]["controls"]["s3_bucket_encrypted"]["status"] = "fail"

    _rewrite_from(db, 3, change)


def truncate_covered(db: Db) -> None:
    """The newest records are dropped, down into those checkpoint 2 covers."""
    db.run("DELETE FROM evaluations WHERE seq > 9")


def forge_checkpoint_note(db: Db) -> None:
    """Checkpoint 2's note is changed to state 9 records without re-signing it."""
    note = db.all("SELECT note FROM checkpoints WHERE id = 2")[0][0]
    lines = note.split("\n")
    lines[1] = "9"
    db.run("UPDATE checkpoints SET note = ?, tree_size = 9 WHERE id = 2", ("\n".join(lines),))


MALLORY = generate("acme.example/soc2-evidence")  # the same name, another key


def forge_checkpoint_signed(db: Db) -> None:
    """Records 9.. are dropped and a new checkpoint 2 over 8..9 is signed with another key."""
    db.run("DELETE FROM evaluations WHERE seq > 9")
    db.run("DELETE FROM checkpoints WHERE id = 2")
    from soc2opa.evidence.audit import leaf_hashes
    from soc2opa.evidence.merkle import root_of
    from soc2opa.evidence.store import Stored

    rows = db.all("SELECT seq, record_hash FROM evaluations ORDER BY seq")
    leaves = leaf_hashes([Stored(r[0], "", "", {}, "", r[1]) for r in rows])
    head = TreeHead("acme.example/soc2-evidence", len(rows), root_of(leaves))
    db.run(
        "INSERT INTO checkpoints (id, created_at, origin, tree_size, root_hash, note, "
        "verifier_key) VALUES (2, '2026-12-31T00:00:00+00:00', ?, ?, ?, ?, ?)",
        (head.origin, head.size, head.root.hex(), MALLORY.sign(head.text()),
         MALLORY.verifier.text()),
    )  # fmt: skip


def delete_checkpoint(db: Db) -> None:
    db.run("DELETE FROM checkpoints WHERE id = 1")


@dataclass(frozen=True)
class Case:
    """A tampering, and the words verify must use for it."""

    name: str
    tamper: Callable[[Db], None]
    found: str


CASES = [
    Case("edit a status", edit_status, "record 5 was changed"),
    Case("delete a row", delete_row, "record 3 is missing"),
    Case("reorder two rows", reorder, "record 2 does not follow record 1"),
    Case("append a backdated record", backdated_at_end, "record 13 is dated before record 12"),
    Case("insert a backdated record and rehash", backdated_inserted,
         "checkpoint 1: records 1..8 no longer hash to its signed root"),
    Case("rewrite the chain after the last checkpoint", rewrite_after_last_checkpoint,
         "checkpoint 1: records 1..8 no longer hash to its signed root"),
    Case("truncate records a checkpoint covers", truncate_covered,
         "checkpoint 2 covers 10 records but the store holds 9"),
    Case("edit a checkpoint's note", forge_checkpoint_note,
         "checkpoint 2 is not a valid note signed by acme.example/soc2-evidence"),
    Case("sign a checkpoint with another key", forge_checkpoint_signed,
         "checkpoint 2 is not a valid note signed by acme.example/soc2-evidence"),
    Case("delete a checkpoint", delete_checkpoint, "checkpoint 1 is missing"),
]  # fmt: skip
