"""Waivers kept as evidence: create, renew and revoke are chained records of kind "waiver".

Each record holds who asked (owner), who approved, why, the ticket, the scope (a control glob and
an address glob, as in waiver files) and the expiry date (the last UTC day it applies). The
waivers in force are read back by folding the records in seq order; `soc2opa eval --evidence`
applies the live ones and each evaluation record names the waiver records it used.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from soc2opa import __version__
from soc2opa.errors import UsageError
from soc2opa.evidence.ci import ci_context
from soc2opa.evidence.store import Stored, is_postgres, open_store
from soc2opa.waivers import Waiver

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PREFIX = "evidence:"


@dataclass(frozen=True)
class StoredWaiver:
    """A waiver's state after every record about it: scope, people, expiry, revoked or not."""

    id: str
    control: str
    resource: str
    owner: str
    approver: str
    reason: str
    ticket: str | None
    expires: date
    created_seq: int
    last_seq: int
    revoked: bool = False

    def status(self, today: date) -> str:
        """live, expired or revoked."""
        if self.revoked:
            return "revoked"
        return "expired" if today > self.expires else "live"

    def as_waiver(self, index: int) -> Waiver:
        """The waiver as `soc2opa eval` applies it; its file names the record it rests on."""
        return Waiver(
            index=index, control=self.control, resource=self.resource, reason=self.reason,
            owner=self.owner, expires=self.expires, ticket=self.ticket,
            file=f"{PREFIX}{self.id}@{self.last_seq}",
        )  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _day(value: str, flag: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise UsageError(f"{flag}: {value!r} is not a date (YYYY-MM-DD)") from None


def _required(value: str | None, flag: str) -> str:
    text = (value or "").strip()
    if not text:
        raise UsageError(f"{flag} is required")
    return text


def _base(action: str, waiver_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "waiver",
        "action": action,
        "recorded_at": _now(),
        "waiver": {"id": waiver_id, **fields},
        "ci": ci_context(os.environ),
        "tool": {"soc2opa": __version__},
    }


def fold(rows: Iterable[Stored]) -> dict[str, StoredWaiver]:
    """Every waiver's current state, from its records in seq order."""
    found: dict[str, StoredWaiver] = {}
    for row in rows:
        if row.kind != "waiver":
            continue
        w = row.record.get("waiver", {})
        action, wid = row.record.get("action"), str(w.get("id", ""))
        if action == "create" and wid not in found:
            found[wid] = StoredWaiver(
                wid, w["control"], w["resource"], w["owner"], w["approver"], w["reason"],
                w.get("ticket"), date.fromisoformat(w["expires"]), row.seq, row.seq,
            )  # fmt: skip
        elif action == "renew" and wid in found:
            found[wid] = replace(
                found[wid], expires=date.fromisoformat(w["expires"]), approver=w["approver"],
                reason=w["reason"], ticket=w.get("ticket") or found[wid].ticket,
                last_seq=row.seq,
            )  # fmt: skip
        elif action == "revoke" and wid in found:
            found[wid] = replace(found[wid], revoked=True, last_seq=row.seq)
    return found


def _people(owner: str | None, approver: str) -> None:
    if owner is not None and owner.casefold() == approver.casefold():
        raise UsageError("--approver: a waiver is approved by someone other than its owner")


def create_record(
    existing: dict[str, StoredWaiver], *, waiver_id: str | None, control: str, resource: str,
    owner: str, approver: str, reason: str, ticket: str | None, expires: str, today: date,
) -> dict[str, Any]:  # fmt: skip
    """The record that creates a waiver (UsageError for a missing field or a reused id)."""
    wid = waiver_id or f"W-{secrets.token_hex(4)}"
    if not _ID.fullmatch(wid):
        raise UsageError(f"--id: {wid!r}: letters, digits, '.', '_' and '-' only (64 at most)")
    if wid in existing:
        raise UsageError(f"--id: waiver {wid} exists (record {existing[wid].created_seq})")
    owner, approver = _required(owner, "--owner"), _required(approver, "--approver")
    _people(owner, approver)
    day = _day(expires, "--expires")
    if date.fromisoformat(day) < today:
        raise UsageError(f"--expires: {day} is in the past")
    return _base("create", wid, {
        "control": _required(control, "--control"), "resource": resource.strip() or "*",
        "owner": owner, "approver": approver, "reason": _required(reason, "--reason"),
        "ticket": (ticket or "").strip() or None, "expires": day,
    })  # fmt: skip


def _known(existing: dict[str, StoredWaiver], wid: str) -> StoredWaiver:
    if wid not in existing:
        raise UsageError(f"no waiver {wid} in the store")
    if existing[wid].revoked:
        raise UsageError(f"waiver {wid} was revoked (record {existing[wid].last_seq})")
    return existing[wid]


def renew_record(
    existing: dict[str, StoredWaiver], wid: str, *, approver: str, reason: str,
    ticket: str | None, expires: str, today: date,
) -> dict[str, Any]:  # fmt: skip
    """The record that moves a waiver's expiry to a new date."""
    current = _known(existing, wid)
    approver = _required(approver, "--approver")
    _people(current.owner, approver)
    day = _day(expires, "--expires")
    if date.fromisoformat(day) < today:
        raise UsageError(f"--expires: {day} is in the past")
    return _base("renew", wid, {
        "approver": approver, "reason": _required(reason, "--reason"),
        "ticket": (ticket or "").strip() or None, "expires": day,
        "previous_expires": current.expires.isoformat(),
    })  # fmt: skip


def revoke_record(
    existing: dict[str, StoredWaiver], wid: str, *, approver: str, reason: str
) -> dict[str, Any]:
    """The record that ends a waiver before its expiry."""
    _known(existing, wid)
    return _base("revoke", wid, {
        "approver": _required(approver, "--approver"), "reason": _required(reason, "--reason"),
    })  # fmt: skip


def store_waivers(rows: Iterable[Stored], first_index: int) -> list[Waiver]:
    """The store's waivers that are not revoked, as eval applies them (expired ones included:
    eval reports them as expired and does not apply them)."""
    active = [w for w in fold(rows).values() if not w.revoked]
    return [w.as_waiver(first_index + i) for i, w in enumerate(active)]


def evidence_waivers(target: str | Path, first_index: int) -> list[Waiver]:
    """The waivers recorded in an evidence store (none when the store does not exist yet)."""
    if not is_postgres(target) and not Path(target).exists():
        return []
    with closing(open_store(target)) as store:
        return store_waivers(store.rows(), first_index)
