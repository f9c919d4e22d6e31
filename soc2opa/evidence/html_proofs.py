"""What the HTML report says about the whole store: its verification and inclusion proofs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from soc2opa.errors import UsageError
from soc2opa.evidence.audit import audit, leaf_hashes
from soc2opa.evidence.checkpoint import prove_inclusion
from soc2opa.evidence.html import Prover
from soc2opa.evidence.merkle import MerkleTree
from soc2opa.evidence.store import Stored, read_checkpoints


def html_context(target: str | Path, rows: Sequence[Stored]) -> tuple[str, Prover]:
    """How the store verified (chain and checkpoints, by the key stored with them), and a prover
    of each record's inclusion in the first checkpoint that covers it."""
    checkpoints = read_checkpoints(target)
    verdict = audit(rows, checkpoints, verifier=None)
    if verdict.problem:
        chain = f"BROKEN after {verdict.records} records: {verdict.problem}"
    elif checkpoints:
        chain = (
            f"{verdict.records} records, chain intact; {verdict.checkpoints} signed checkpoints "
            f"(key {verdict.key}) cover records 1..{verdict.covered} and are consistent"
        )
    else:
        chain = f"{verdict.records} records, chain intact; no signed checkpoint yet"

    tree = MerkleTree(leaf_hashes(rows))

    def prove(row: Stored) -> Mapping[str, Any] | None:
        if verdict.problem or row.seq > verdict.covered:
            return None
        try:
            return prove_inclusion(rows, checkpoints, row.seq, tree=tree)
        except UsageError:
            return None

    return chain, prove
