"""Signed checkpoints over the store, and the inclusion and consistency proofs auditors check.

The Merkle tree's leaves are the records in seq order; leaf n's data is record n's record_hash
(32 bytes), so its leaf hash is SHA-256(0x00 || record_hash). A checkpoint is a signed note
(origin, number of records, root hash) by the store owner's Ed25519 key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from soc2opa.errors import UsageError
from soc2opa.evidence.audit import audit, leaf_hashes
from soc2opa.evidence.merkle import (
    MerkleTree,
    ProofError,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from soc2opa.evidence.note import (
    NoteError,
    Signer,
    TreeHead,
    Verifier,
    open_note,
    parse_checkpoint,
    parse_signer,
    parse_verifier,
)
from soc2opa.evidence.store import Checkpoint, EvidenceStore, Stored, record_hash, verify

# A timestamper takes the signed note's bytes and returns (base64 DER token, TSA URL).
Timestamper = Callable[[bytes], tuple[str, str]]


def load_signer(key: Path | None, key_env: str | None) -> Signer:
    """The signing key from a file or an environment variable (exactly one of them)."""
    if (key is None) == (key_env is None):
        raise UsageError("give the signing key with --key FILE or --key-env VARIABLE")
    if key is not None:
        where = f"--key {key}"
        try:
            text = key.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{where}: cannot read the key ({exc.__class__.__name__})") from None
    else:
        where = f"--key-env {key_env}"
        text = os.environ.get(str(key_env), "")
        if not text.strip():
            raise UsageError(f"{where}: the variable is not set")
    try:
        return parse_signer(text)
    except NoteError as exc:
        raise UsageError(f"{where}: {exc}") from None


def load_verifier(path: Path) -> Verifier:
    """An auditor's copy of the public (verifier) key, one line in a file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--public-key {path}: cannot read ({exc.__class__.__name__})") from None
    try:
        return parse_verifier(text)
    except NoteError as exc:
        raise UsageError(f"--public-key {path}: {exc}") from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def write_checkpoint(
    store: EvidenceStore,
    signer: Signer,
    *,
    origin: str | None = None,
    timestamper: Timestamper | None = None,
) -> Checkpoint:
    """Sign the tree head over every record so far and store it as the next checkpoint.

    The chain and the earlier checkpoints are verified first: signing a tampered store would
    vouch for it.
    """
    rows, earlier = store.rows(), store.checkpoints()
    _, problem = verify(iter(rows))
    verdict = audit(rows, earlier, verifier=None) if problem is None else None
    problem = problem or (verdict.problem if verdict else None)
    if problem:
        raise UsageError(f"{store.name}: not signing a store that fails verify: {problem}")
    name = origin or (earlier[-1].origin if earlier else signer.name)
    if not name.strip() or "\n" in name:
        raise UsageError("--origin: one non-empty line")
    head = TreeHead(name, len(rows), root_of(leaf_hashes(rows)))
    note = signer.sign(head.text())
    token, url = timestamper(note.encode()) if timestamper else (None, None)
    draft = Checkpoint(
        0, _now(), head.origin, head.size, head.root.hex(), note, signer.verifier.text(),
        token, url,
    )  # fmt: skip
    return store.add_checkpoint(draft)


def _covering(checkpoints: Sequence[Checkpoint], seq: int, chosen: int | None) -> Checkpoint:
    if chosen is not None:
        found = [c for c in checkpoints if c.id == chosen]
        if not found:
            raise UsageError(f"--checkpoint: no checkpoint {chosen}")
        if found[0].tree_size < seq:
            raise UsageError(f"checkpoint {chosen} covers records 1..{found[0].tree_size} only")
        return found[0]
    for c in checkpoints:
        if c.tree_size >= seq:
            return c
    raise UsageError(f"record {seq} is not covered by a checkpoint yet: write one first")


def prove_inclusion(
    rows: Sequence[Stored], checkpoints: Sequence[Checkpoint], seq: int,
    checkpoint: int | None = None, tree: MerkleTree | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A self-contained proof that record `seq` is in a signed checkpoint (the first covering it
    unless one is chosen): the record, its hashes, the audit path and the checkpoint's note.
    `tree` (over all of rows) saves rehashing when proving many records."""
    if not 1 <= seq <= len(rows):
        raise UsageError(f"--seq: the store has records 1..{len(rows)}")
    cp = _covering(checkpoints, seq, checkpoint)
    row = rows[seq - 1]
    if cp.tree_size > len(rows):
        raise UsageError(f"checkpoint {cp.id} covers more records than the store holds")
    tree = tree or MerkleTree(leaf_hashes(rows))
    proof = tree.inclusion(seq - 1, cp.tree_size)
    return {
        "type": "inclusion",
        "seq": seq,
        "prev_hash": row.prev_hash,
        "record_hash": row.record_hash,
        "record": row.record,
        "leaf_index": seq - 1,
        "tree_size": cp.tree_size,
        "proof": [p.hex() for p in proof],
        "checkpoint_id": cp.id,
        "checkpoint": cp.note,
    }


def prove_consistency(
    rows: Sequence[Stored], checkpoints: Sequence[Checkpoint], old: int, new: int | None
) -> dict[str, Any]:
    """A proof that checkpoint `old`'s tree is a prefix of checkpoint `new`'s (default: last)."""
    by_id = {c.id: c for c in checkpoints}
    new = new if new is not None else (checkpoints[-1].id if checkpoints else None)
    if old not in by_id or new not in by_id:
        raise UsageError(f"no checkpoint {old if old not in by_id else new}")
    first, second = by_id[old], by_id[new]
    if first.tree_size > second.tree_size:
        raise UsageError(f"checkpoint {old} is larger than checkpoint {new}")
    if second.tree_size > len(rows):
        raise UsageError(f"checkpoint {new} covers more records than the store holds")
    proof = MerkleTree(leaf_hashes(rows)).consistency(first.tree_size, second.tree_size)
    return {
        "type": "consistency",
        "old_size": first.tree_size,
        "new_size": second.tree_size,
        "proof": [p.hex() for p in proof],
        "old_checkpoint": first.note,
        "new_checkpoint": second.note,
    }


def _head(note: Any, verifier: Verifier, what: str) -> TreeHead:
    if not isinstance(note, str):
        raise ProofError(f"{what} is missing")
    try:
        return parse_checkpoint(open_note(note, verifier))
    except NoteError as exc:
        raise ProofError(f"{what}: {exc}") from None


def _hashes(doc: dict[str, Any]) -> list[bytes]:
    proof = doc.get("proof")
    if not isinstance(proof, list) or not all(isinstance(p, str) for p in proof):
        raise ProofError("proof must be a list of hex hashes")
    try:
        return [bytes.fromhex(p) for p in proof]
    except ValueError:
        raise ProofError("proof must be a list of hex hashes") from None


def check_proof(doc: dict[str, Any], verifier: Verifier) -> str:
    """Check a proof document from prove_inclusion or prove_consistency against the public key;
    returns what it proves, or raises ProofError saying why it does not."""
    if doc.get("type") == "inclusion":
        head = _head(doc.get("checkpoint"), verifier, "the checkpoint")
        seq, size = doc.get("seq"), doc.get("tree_size")
        if not isinstance(seq, int) or size != head.size or doc.get("leaf_index") != seq - 1:
            raise ProofError("seq, leaf_index and tree_size do not match the checkpoint")
        record, prev = doc.get("record"), doc.get("prev_hash")
        if not isinstance(record, dict) or not isinstance(prev, str):
            raise ProofError("the record or its prev_hash is missing")
        digest = record_hash(seq, prev, record)
        if digest != doc.get("record_hash"):
            raise ProofError(f"record {seq} does not hash to its record_hash (changed)")
        verify_inclusion(seq - 1, head.size, leaf_hash(bytes.fromhex(digest)), _hashes(doc),
                         head.root)  # fmt: skip
        return f"record {seq} is in the signed checkpoint of {head.size} records ({head.origin})"
    if doc.get("type") == "consistency":
        old = _head(doc.get("old_checkpoint"), verifier, "the old checkpoint")
        new = _head(doc.get("new_checkpoint"), verifier, "the new checkpoint")
        if old.origin != new.origin:
            raise ProofError("the two checkpoints are of different logs (origin)")
        if (doc.get("old_size"), doc.get("new_size")) != (old.size, new.size):
            raise ProofError("old_size and new_size do not match the checkpoints")
        verify_consistency(old.size, new.size, old.root, new.root, _hashes(doc))
        return f"the first {old.size} records are unchanged in the checkpoint of {new.size}"
    raise ProofError("type must be inclusion or consistency")
