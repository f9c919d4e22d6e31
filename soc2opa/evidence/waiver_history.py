"""The store's waivers as the exports show them: each waiver's create, renew and revoke records
up to the end of a window, its terms and state on the window's last day, and the evaluations of
the window that applied it."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from soc2opa.evidence.store import Stored
from soc2opa.evidence.views import EVALUATION_KINDS, waivers_in
from soc2opa.evidence.waiver_records import PREFIX

WAIVER_KIND = "waiver"


@dataclass(frozen=True)
class WaiverEvent:
    """One lifecycle record: create, renew or revoke, with what it said and where it sits."""

    seq: int
    action: str
    recorded_at: str
    record_hash: str
    approver: str
    reason: str
    ticket: str | None
    expires: str | None
    previous_expires: str | None
    actor: str | None
    in_window: bool


@dataclass
class WaiverHistory:
    """A waiver of the store: its terms after its last record, its state on the window's last
    day (live, expired or revoked), every record about it, and the evaluations that applied it."""

    id: str
    control: str
    resource: str
    owner: str
    approver: str
    reason: str
    ticket: str | None
    expires: str
    status: str = "live"
    as_of: str = ""
    events: list[WaiverEvent] = field(default_factory=list)
    applied_in: list[int] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)

    def covers(self, control_id: str) -> bool:
        """Whether the waiver's control pattern names this control."""
        return fnmatch.fnmatchcase(control_id, self.control)


def _in(day: str, first: str | None, last: str | None) -> bool:
    return (first is None or day >= first) and (last is None or day <= last)


def _event(row: Stored, first: str | None, last: str | None) -> WaiverEvent:
    w = row.record.get("waiver", {})
    return WaiverEvent(
        row.seq, str(row.record.get("action")), row.recorded_at, row.record_hash,
        str(w.get("approver") or ""), str(w.get("reason") or ""), w.get("ticket"),
        w.get("expires"), w.get("previous_expires"), row.record.get("ci", {}).get("actor"),
        _in(row.recorded_at[:10], first, last),
    )  # fmt: skip


def _fold(rows: Iterable[Stored], first: str | None, last: str | None) -> list[WaiverHistory]:
    found: dict[str, WaiverHistory] = {}
    for row in rows:
        w: dict[str, Any] = row.record.get("waiver", {})
        wid, action = str(w.get("id", "")), row.record.get("action")
        if action == "create":
            if wid in found:
                continue
            found[wid] = WaiverHistory(
                wid, w["control"], w["resource"], w["owner"], w["approver"], w["reason"],
                w.get("ticket"), w["expires"],
            )  # fmt: skip
        elif action not in ("renew", "revoke") or wid not in found:
            continue  # fold() ignores such records too: they change no waiver
        elif found[wid].status == "revoked":
            continue
        h = found[wid]
        if action == "renew":
            h.expires, h.approver, h.reason = w["expires"], w["approver"], w["reason"]
            h.ticket = w.get("ticket") or h.ticket
        elif action == "revoke":
            h.status = "revoked"
        h.events.append(_event(row, first, last))
    return list(found.values())


def waiver_histories(
    rows: Sequence[Stored], since: str | None, until: str | None
) -> list[WaiverHistory]:
    """The store's waivers that matter to the window [since, until] (UTC days): those with a
    lifecycle record in it and those in force during it, in order of creation. `rows` is the
    whole store: a waiver created before the window keeps its terms."""
    last_day = until or max((r.recorded_at[:10] for r in rows), default=None)
    upto = [r for r in rows if r.kind == WAIVER_KIND]
    if until is not None:
        upto = [r for r in upto if r.recorded_at[:10] <= until]
    out = []
    for h in _fold(sorted(upto, key=lambda r: r.seq), since, until):
        revoked_on = next((e.recorded_at[:10] for e in h.events if e.action == "revoke"), None)
        in_force = (since is None or h.expires >= since) and (
            revoked_on is None or since is None or revoked_on >= since
        )
        if not (in_force or any(e.in_window for e in h.events)):
            continue
        h.as_of = last_day or ""
        if h.status != "revoked" and h.expires < h.as_of:
            h.status = "expired"
        out.append(h)
    refs = {h.id: h for h in out}
    for row in rows:
        if row.kind not in EVALUATION_KINDS or not _in(row.recorded_at[:10], since, until):
            continue
        for c in row.record.get("controls", {}).values():
            for ref in c.get("waivers", []):
                wid = _store_id(ref)
                if wid is not None and wid in refs:
                    h = refs[wid]
                    if row.seq not in h.applied_in:
                        h.applied_in.append(row.seq)
                    if ref not in h.refs:
                        h.refs.append(ref)
    return out


def _store_id(ref: str) -> str | None:
    return ref.removeprefix(PREFIX).rsplit("@", 1)[0] if ref.startswith(PREFIX) else None


def other_waivers(
    chosen: Iterable[Stored], histories: Sequence[WaiverHistory]
) -> dict[str, dict[str, Any]]:
    """The waivers the window's evaluations applied (views.waivers_in) that are not among the
    store's waivers shown with their own history: waivers files, by file and position."""
    shown = {h.id for h in histories}
    return {ref: w for ref, w in waivers_in(chosen).items() if _store_id(ref) not in shown}
