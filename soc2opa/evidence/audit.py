"""Verify a whole store: the chain of records, then every signed checkpoint against it.

The chain alone cannot show that the newest records were dropped, or that the whole chain was
rewritten with recomputed hashes; a checkpoint can, because its root is signed by a key the
tamperer does not hold: each checkpoint's root must match the records up to its size, and each
must be consistent with the one before (RFC 9162 consistency proof).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from soc2opa.evidence.merkle import MerkleTree, ProofError, leaf_hash, verify_consistency
from soc2opa.evidence.note import NoteError, TreeHead, Verifier, open_note, parse_checkpoint
from soc2opa.evidence.note import parse_verifier as _parse_verifier
from soc2opa.evidence.store import Checkpoint, Stored, verify


@dataclass
class Verdict:
    """What verify found: how many records and checkpoints hold, the first problem, notes."""

    records: int = 0
    checkpoints: int = 0
    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    covered: int = 0
    key: str | None = None
    timestamps: int = 0
    last_trusted_time: str | None = None


def leaf_hashes(rows: Sequence[Stored]) -> list[bytes]:
    """The Merkle leaf hashes of the records in seq order: SHA-256(0x00 || record_hash)."""
    return [leaf_hash(bytes.fromhex(r.record_hash)) for r in rows]


def _check_one(
    cp: Checkpoint, key: Verifier, rows: int, tree: MerkleTree
) -> tuple[TreeHead | None, str | None]:
    name = f"checkpoint {cp.id}"
    try:
        head = parse_checkpoint(open_note(cp.note, key))
    except NoteError as exc:
        return None, f"{name} is not a valid note signed by {key.name} ({exc})"
    if (head.origin, head.size, head.root.hex()) != (cp.origin, cp.tree_size, cp.root_hash):
        return None, f"{name}: its columns differ from its signed note (edited)"
    if head.size > rows:
        return head, (
            f"{name} covers {head.size} records but the store holds {rows} "
            "(records it covers were removed)"
        )
    if tree.root(head.size) != head.root:
        return head, (
            f"{name}: records 1..{head.size} no longer hash to its signed root "
            "(a record it covers was changed, removed, reordered or rewritten)"
        )
    return head, None


# How far a CI runner's clock may run ahead of a TSA's before a record looks postdated.
CLOCK_SKEW = timedelta(minutes=10)


def _timestamp(
    cp: Checkpoint, rows: Sequence[Stored], roots: list[Any] | None
) -> tuple[datetime | None, str | None]:
    """The checkpoint's trusted time, or why its timestamp fails."""
    from soc2opa.evidence.tsa import TimestampError, check_timestamp

    try:
        when = check_timestamp(str(cp.timestamp), cp.note.encode(), roots)
    except TimestampError as exc:
        return None, f"checkpoint {cp.id}: its RFC 3161 timestamp does not hold ({exc})"
    if cp.tree_size:
        last = rows[cp.tree_size - 1]
        try:
            dated = datetime.fromisoformat(last.recorded_at)
        except ValueError:
            return None, f"record {last.seq}: its date {last.recorded_at!r} is not ISO 8601"
        if dated.tzinfo is None or dated > when + CLOCK_SKEW:
            return None, (
                f"record {last.seq} is dated {last.recorded_at}, after checkpoint {cp.id} "
                f"covering it was timestamped ({when.isoformat()}): postdated"
            )
    return when, None


def audit(
    rows: Sequence[Stored],
    checkpoints: Sequence[Checkpoint],
    *,
    verifier: Verifier | None,
    external: Sequence[str] = (),
    tsa_roots: list[Any] | None = None,
) -> Verdict:
    """Check the chain, then every checkpoint (and any external checkpoint notes) against it.

    Without a verifier, signatures are checked with the key stored beside the first checkpoint,
    and every later one must use the same key; an auditor pins their own copy instead. A
    checkpoint's RFC 3161 timestamp must be over its note (and, given TSA roots, signed by the
    TSA), and no record it covers may be dated after it.
    """
    verdict = Verdict()
    verdict.records, verdict.problem = verify(iter(rows))
    if verdict.problem:
        return verdict
    # Leaf and subtree hashes are computed once for all checkpoints: verify stays linear in the
    # records however many checkpoints a year of nightly runs leaves.
    tree = MerkleTree(leaf_hashes(rows))
    key = verifier
    previous: tuple[Checkpoint, TreeHead] | None = None
    for expected, cp in enumerate(checkpoints, start=1):
        if cp.id != expected:
            verdict.problem = f"checkpoint {expected} is missing (the next one is {cp.id})"
            return verdict
        if key is None:
            try:
                key = _parse_verifier(cp.verifier_key)
            except NoteError as exc:
                verdict.problem = f"checkpoint {cp.id}: its verifier key is malformed ({exc})"
                return verdict
        head, problem = _check_one(cp, key, len(rows), tree)
        if problem or head is None:
            verdict.problem = problem
            return verdict
        if cp.timestamp:
            when, problem = _timestamp(cp, rows, tsa_roots)
            if problem or when is None:
                verdict.problem = problem
                return verdict
            verdict.timestamps += 1
            verdict.last_trusted_time = when.isoformat()
        if previous is not None:
            before, old = previous
            if cp.created_at < before.created_at:
                verdict.problem = f"checkpoint {cp.id} is dated before checkpoint {before.id}"
                return verdict
            if head.origin != old.origin:
                verdict.problem = f"checkpoint {cp.id} names another log ({head.origin!r})"
                return verdict
            try:
                proof = tree.consistency(old.size, head.size)
                verify_consistency(old.size, head.size, old.root, head.root, proof)
            except ProofError as exc:
                verdict.problem = (
                    f"checkpoint {cp.id} is not consistent with checkpoint {before.id} ({exc})"
                )
                return verdict
        previous = (cp, head)
        verdict.checkpoints += 1
        verdict.covered = head.size
    verdict.key = key.text() if key else None
    for i, note in enumerate(external, start=1):
        if key is None:
            verdict.problem = "an external checkpoint needs --public-key (the store has none)"
            return verdict
        try:
            head = parse_checkpoint(open_note(note, key))
        except NoteError as exc:
            verdict.problem = f"external checkpoint {i} is not a valid signed note ({exc})"
            return verdict
        outside = Checkpoint(0, "", head.origin, head.size, head.root.hex(), note, key.text())
        _, problem = _check_one(outside, key, len(rows), tree)
        if problem:
            verdict.problem = problem.replace("checkpoint 0", f"external checkpoint {i}")
            return verdict
    if verdict.covered < len(rows):
        verdict.notes.append(
            f"records {verdict.covered + 1}..{len(rows)} are not covered by a signed checkpoint "
            "yet (a checkpoint proves they were not changed or dropped later)"
        )
    return verdict
