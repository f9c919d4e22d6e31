"""An append-only SQLite store of evaluation records, each chained to the one before.

record_hash = SHA-256 of the RFC 8785 canonical JSON of {seq, prev_hash, record}; the first
record's prev_hash is 64 zeros. Triggers refuse UPDATE and DELETE, and appends take the write
lock first (BEGIN IMMEDIATE), so concurrent CI jobs extend one linear chain. The triggers stop
accidents; verify() is what catches deliberate tampering by someone who removes them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785

from soc2opa.errors import UsageError

GENESIS = "0" * 64
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    seq INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    record TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    record_hash TEXT NOT NULL UNIQUE
);
CREATE TRIGGER IF NOT EXISTS evaluations_no_update BEFORE UPDATE ON evaluations
BEGIN SELECT RAISE(ABORT, 'soc2opa evidence is append-only'); END;
CREATE TRIGGER IF NOT EXISTS evaluations_no_delete BEFORE DELETE ON evaluations
BEGIN SELECT RAISE(ABORT, 'soc2opa evidence is append-only'); END;
"""


def record_hash(seq: int, prev_hash: str, record: dict[str, Any]) -> str:
    """The hash that chains a record: over its position, its predecessor's hash and itself."""
    canonical = rfc8785.dumps({"seq": seq, "prev_hash": prev_hash, "record": record})
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class Stored:
    """One row of the store."""

    seq: int
    recorded_at: str
    kind: str
    record: dict[str, Any]
    prev_hash: str
    record_hash: str


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.executescript(_SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"--evidence: {path}: not a soc2opa evidence store ({exc})") from None
    return conn


def append(path: Path, record: dict[str, Any]) -> Stored:
    """Add a record at the end of the chain; returns it with its seq and hashes."""
    with closing(_connect(path)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            last = conn.execute(
                "SELECT seq, record_hash FROM evaluations ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            digest = record_hash(seq, prev, record)
            stored = Stored(seq, record["ended_at"], record["kind"], record, prev, digest)
            conn.execute(
                "INSERT INTO evaluations VALUES (?, ?, ?, ?, ?, ?)",
                (seq, stored.recorded_at, stored.kind, json.dumps(record, sort_keys=True),
                 prev, digest),
            )  # fmt: skip
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return stored


def read(path: Path) -> Iterator[Stored]:
    """Every stored row in seq order."""
    if not path.is_file():
        raise UsageError(f"{path}: no such evidence store")
    with closing(_connect(path)) as conn:
        rows = conn.execute(
            "SELECT seq, recorded_at, kind, record, prev_hash, record_hash "
            "FROM evaluations ORDER BY seq"
        ).fetchall()
    for seq, at, kind, text, prev, digest in rows:
        yield Stored(seq, at, kind, json.loads(text), prev, digest)


def verify(rows: Iterator[Stored]) -> tuple[int, str | None]:
    """How many records hold, and why the first bad one is bad (None when all hold)."""
    prev, expected, last_time, count = GENESIS, 1, "", 0
    for row in rows:
        if row.seq != expected:
            return count, f"record {expected} is missing (the next one is {row.seq})"
        if row.prev_hash != prev:
            return count, f"record {row.seq} does not follow record {row.seq - 1} (prev_hash)"
        if record_hash(row.seq, row.prev_hash, row.record) != row.record_hash:
            return count, f"record {row.seq} was changed after it was recorded (hash mismatch)"
        if row.recorded_at != row.record.get("ended_at"):
            return count, f"record {row.seq}: recorded_at differs from its record"
        if row.recorded_at < last_time:
            return count, f"record {row.seq} is dated before record {row.seq - 1} (backdated)"
        prev, expected, last_time, count = row.record_hash, expected + 1, row.recorded_at, count + 1
    return count, None
