"""An append-only store of evaluation records, each chained to the one before, and checkpoints.

record_hash = SHA-256 of the RFC 8785 canonical JSON of {seq, prev_hash, record}; the first
record's prev_hash is 64 zeros. Triggers refuse UPDATE and DELETE, and appends take the write
lock first, so concurrent CI jobs extend one linear chain. The triggers stop accidents; verify
and the signed checkpoints are what catch deliberate tampering by someone who removes them.

A store is an SQLite file (a path) or a PostgreSQL database (a postgresql:// URL): the same
tables and migrations; SQLite serialises appends with BEGIN IMMEDIATE, PostgreSQL with a
transaction-scoped advisory lock.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785

from soc2opa.errors import UsageError

GENESIS = "0" * 64
SCHEMA_VERSION = 2
# pg_advisory_xact_lock key: "soc2opa" as a number, so other users of advisory locks don't clash.
_PG_LOCK = 0x736F6332_6F7061

_APPEND_ONLY = "soc2opa evidence is append-only"

_SQLITE_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS evaluations (
            seq INTEGER PRIMARY KEY,
            recorded_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            record TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            record_hash TEXT NOT NULL UNIQUE
        )""",
        "CREATE TRIGGER IF NOT EXISTS evaluations_no_update BEFORE UPDATE ON evaluations "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
        "CREATE TRIGGER IF NOT EXISTS evaluations_no_delete BEFORE DELETE ON evaluations "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
    ],
    2: [
        """CREATE TABLE IF NOT EXISTS checkpoints (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            origin TEXT NOT NULL,
            tree_size INTEGER NOT NULL,
            root_hash TEXT NOT NULL,
            note TEXT NOT NULL,
            verifier_key TEXT NOT NULL,
            timestamp TEXT,
            tsa_url TEXT
        )""",
        "CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
        "CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
    ],
}

_PG_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS evaluations (
            seq BIGINT PRIMARY KEY,
            recorded_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            record TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            record_hash TEXT NOT NULL UNIQUE
        )""",
        "CREATE OR REPLACE FUNCTION soc2opa_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$",
        "CREATE OR REPLACE TRIGGER evaluations_no_change BEFORE UPDATE OR DELETE ON evaluations "
        "FOR EACH ROW EXECUTE FUNCTION soc2opa_append_only()",
        "CREATE OR REPLACE TRIGGER evaluations_no_truncate BEFORE TRUNCATE ON evaluations "
        "FOR EACH STATEMENT EXECUTE FUNCTION soc2opa_append_only()",
    ],
    2: [
        """CREATE TABLE IF NOT EXISTS checkpoints (
            id BIGINT PRIMARY KEY,
            created_at TEXT NOT NULL,
            origin TEXT NOT NULL,
            tree_size BIGINT NOT NULL,
            root_hash TEXT NOT NULL,
            note TEXT NOT NULL,
            verifier_key TEXT NOT NULL,
            timestamp TEXT,
            tsa_url TEXT
        )""",
        "CREATE OR REPLACE TRIGGER checkpoints_no_change BEFORE UPDATE OR DELETE ON checkpoints "
        "FOR EACH ROW EXECUTE FUNCTION soc2opa_append_only()",
        "CREATE OR REPLACE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints "
        "FOR EACH STATEMENT EXECUTE FUNCTION soc2opa_append_only()",
    ],
}


# RFC 8785 (I-JSON) integers: beyond this, rfc8785 refuses the value.
_MAX_SAFE_INT = 2**53 - 1


def _plain(value: Any) -> bool:
    """Whether json's encoder writes value exactly as RFC 8785 does: strings, booleans, null,
    safe integers, lists, and objects with ASCII keys (so that sorting by code point is sorting
    by UTF-16 unit). Floats, whose RFC 8785 form differs from Python's, are not plain."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if -_MAX_SAFE_INT <= v <= _MAX_SAFE_INT:
                continue
            return False
        if t is dict:
            if not all(type(k) is str and k.isascii() for k in v):
                return False
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
        else:
            return False
    return True


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical JSON of value. The rfc8785 package is pure Python and takes
    ~15 ms for an evaluation record; json's C encoder writes the same bytes for plain values
    (the same escapes: quote, backslash, b, f, n, r, t, and u00xx for the other control
    characters; UTF-8 otherwise) in well under 1 ms, so verifying a year of records takes
    seconds, not minutes."""
    if _plain(value):
        try:
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)  # fmt: skip
            return text.encode("utf-8")
        except (ValueError, UnicodeEncodeError):
            pass  # a lone surrogate: let rfc8785 say what it makes of it
    return rfc8785.dumps(value)


def record_hash(seq: int, prev_hash: str, record: dict[str, Any]) -> str:
    """The hash that chains a record: over its position, its predecessor's hash and itself."""
    canonical = canonical_json({"seq": seq, "prev_hash": prev_hash, "record": record})
    return hashlib.sha256(canonical).hexdigest()


def recorded_at(record: dict[str, Any]) -> str:
    """When a record says it was made: an evaluation's end, or another kind's recorded_at."""
    return str(record.get("ended_at") or record.get("recorded_at") or "")


@dataclass(frozen=True)
class Stored:
    """One row of the store."""

    seq: int
    recorded_at: str
    kind: str
    record: dict[str, Any]
    prev_hash: str
    record_hash: str


@dataclass(frozen=True)
class Checkpoint:
    """One signed tree head over the first tree_size records (the note is authoritative)."""

    id: int
    created_at: str
    origin: str
    tree_size: int
    root_hash: str
    note: str
    verifier_key: str
    timestamp: str | None = None
    tsa_url: str | None = None


def is_postgres(target: str | Path) -> bool:
    """Whether a store names a PostgreSQL database rather than an SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def display(target: str | Path) -> str:
    """The store's name for messages, without a password."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", str(target))


class EvidenceStore:
    """An open store: SQLite file or PostgreSQL database, the same operations on both."""

    def __init__(self, target: str | Path) -> None:
        self.name = display(target)
        self.postgres = is_postgres(target)
        self._conn: Any
        if self.postgres:
            self._conn = self._connect_postgres(str(target))
        else:
            self._conn = self._connect_sqlite(Path(target))
        try:
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _connect_sqlite(self, path: Path) -> sqlite3.Connection:
        try:
            return sqlite3.connect(path, timeout=60, isolation_level=None)
        except sqlite3.Error as exc:
            raise UsageError(f"{path}: cannot open the evidence store ({exc})") from None

    def _connect_postgres(self, url: str) -> Any:
        try:
            import psycopg
        except ImportError:
            hint = "pip install 'soc2opa[postgres]'"
            raise UsageError(f"{self.name}: a PostgreSQL store needs psycopg 3 ({hint})") from None
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=30)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"{self.name}: cannot connect ({display(first)})") from None

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> EvidenceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._conn.execute(self._sql(sql), params).fetchall())

    def _run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(self._sql(sql), params)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """A write transaction that no other writer of this store runs alongside."""
        if self.postgres:
            with self._conn.transaction():
                self._run("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK,))
                yield
            return
        self._run("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._run("ROLLBACK")
            raise
        self._run("COMMIT")

    def _version(self) -> int:
        if self.postgres:
            if self._all("SELECT to_regclass('meta')")[0][0] is None:
                return 0
        elif not self._all("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"):
            return 0
        found = self._all("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(found[0][0]) if found else 0

    def _migrate(self) -> None:
        try:
            version = self._version()
            if version > SCHEMA_VERSION:
                raise UsageError(
                    f"{self.name}: evidence store schema {version} is newer than this soc2opa "
                    f"reads ({SCHEMA_VERSION}); upgrade soc2opa"
                )
            if version == SCHEMA_VERSION:
                return
            migrations = _PG_MIGRATIONS if self.postgres else _SQLITE_MIGRATIONS
            with self._locked():
                self._run(
                    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                )
                version = self._version()
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for sql in migrations[step]:
                        self._run(sql)
                self._run("DELETE FROM meta WHERE key = 'schema_version'")
                self._run(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
        except UsageError:
            raise
        except Exception as exc:
            if self.postgres or isinstance(exc, sqlite3.DatabaseError):
                raise UsageError(
                    f"{self.name}: not a soc2opa evidence store ({display(str(exc))})"
                ) from None
            raise

    def append(self, record: dict[str, Any]) -> Stored:
        """Add a record at the end of the chain; returns it with its seq and hashes."""
        with self._locked():
            last = self._all("SELECT seq, record_hash FROM evaluations ORDER BY seq DESC LIMIT 1")
            seq, prev = (int(last[0][0]) + 1, str(last[0][1])) if last else (1, GENESIS)
            digest = record_hash(seq, prev, record)
            stored = Stored(seq, recorded_at(record), str(record["kind"]), record, prev, digest)
            self._run(
                "INSERT INTO evaluations (seq, recorded_at, kind, record, prev_hash, record_hash) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (seq, stored.recorded_at, stored.kind, json.dumps(record, sort_keys=True),
                 prev, digest),
            )  # fmt: skip
        return stored

    def rows(self) -> list[Stored]:
        """Every stored record in seq order."""
        found = self._all(
            "SELECT seq, recorded_at, kind, record, prev_hash, record_hash "
            "FROM evaluations ORDER BY seq"
        )
        return [
            Stored(int(seq), at, kind, json.loads(text), prev, digest)
            for seq, at, kind, text, prev, digest in found
        ]

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint in id order."""
        found = self._all(
            "SELECT id, created_at, origin, tree_size, root_hash, note, verifier_key, timestamp, "
            "tsa_url FROM checkpoints ORDER BY id"
        )
        return [
            Checkpoint(int(i), at, origin, int(size), root, note, key, ts, url)
            for i, at, origin, size, root, note, key, ts, url in found
        ]

    def add_checkpoint(self, draft: Checkpoint) -> Checkpoint:
        """Store a signed checkpoint after the last one; its id is assigned here.

        Refused when a checkpoint of a larger tree was stored meanwhile (checkpoints grow).
        """
        with self._locked():
            last = self._all("SELECT id, tree_size FROM checkpoints ORDER BY id DESC LIMIT 1")
            if last and int(last[0][1]) > draft.tree_size:
                raise UsageError(
                    f"{self.name}: checkpoint {last[0][0]} of {last[0][1]} records was written "
                    "meanwhile; run the checkpoint again"
                )
            stored = Checkpoint(
                int(last[0][0]) + 1 if last else 1, draft.created_at, draft.origin,
                draft.tree_size, draft.root_hash, draft.note, draft.verifier_key,
                draft.timestamp, draft.tsa_url,
            )  # fmt: skip
            self._run(
                "INSERT INTO checkpoints (id, created_at, origin, tree_size, root_hash, note, "
                "verifier_key, timestamp, tsa_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (stored.id, stored.created_at, stored.origin, stored.tree_size, stored.root_hash,
                 stored.note, stored.verifier_key, stored.timestamp, stored.tsa_url),
            )  # fmt: skip
        return stored


def open_store(target: str | Path, *, must_exist: bool = False) -> EvidenceStore:
    """Open (and create or migrate) a store: an SQLite path or a postgresql:// URL."""
    if must_exist and not is_postgres(target) and not Path(target).is_file():
        raise UsageError(f"{target}: no such evidence store")
    return EvidenceStore(target)


def store_target(text: str) -> str | Path:
    """What a --evidence or STORE argument names: a PostgreSQL URL, or an SQLite file path."""
    return text if is_postgres(text) else Path(text)


def append(path: str | Path, record: dict[str, Any]) -> Stored:
    """Add a record at the end of the chain; returns it with its seq and hashes."""
    with closing(open_store(path)) as store:
        return store.append(record)


def read(path: str | Path) -> Iterator[Stored]:
    """Every stored row in seq order."""
    with closing(open_store(path, must_exist=True)) as store:
        rows = store.rows()
    yield from rows


def read_checkpoints(path: str | Path) -> list[Checkpoint]:
    """Every stored checkpoint in id order."""
    with closing(open_store(path, must_exist=True)) as store:
        return store.checkpoints()


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
        if row.recorded_at != recorded_at(row.record):
            return count, f"record {row.seq}: recorded_at differs from its record"
        if row.recorded_at < last_time:
            return count, f"record {row.seq} is dated before record {row.seq - 1} (backdated)"
        prev, expected, last_time, count = row.record_hash, expected + 1, row.recorded_at, count + 1
    return count, None
