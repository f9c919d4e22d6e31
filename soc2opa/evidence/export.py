"""Evidence for a window of days, as JSON lines or CSV rows.

JSON lines hold every record of the window as stored (evaluations and waiver lifecycle records).
CSV holds one row per (evaluation, control), and one row per waiver lifecycle record (kind
`waiver`: the action, the waiver's id, its control and resource patterns, owner, approver,
reason, ticket and expiry, in the columns after `kind`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from soc2opa.errors import UsageError
from soc2opa.evidence.store import Stored

_COLUMNS = (
    "seq", "ended_at", "plan", "plan_sha256", "repository", "commit", "ref", "run_url",
    "bundle_revision", "control_id", "status", "criteria", "judged", "failed", "unknown",
    "waived", "failing", "record_hash", "kind", "action", "waiver_id", "resource", "owner",
    "approver", "reason", "ticket", "expires", "previous_expires",
)  # fmt: skip


def _day(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    try:
        date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag}: {value!r} is not a date (YYYY-MM-DD)") from None
    return value


def window(rows: Iterable[Stored], since: str | None, until: str | None) -> list[Stored]:
    """The rows whose evaluation ended within [since, until] (UTC days, inclusive)."""
    first, last = _day(since, "--from"), _day(until, "--to")
    return [
        r
        for r in rows
        if (first is None or r.recorded_at[:10] >= first)
        and (last is None or r.recorded_at[:10] <= last)
    ]


def _waiver_row(r: Stored, terms: dict[str, dict[str, Any]]) -> list[Any]:
    rec, ci = r.record, r.record.get("ci", {})
    w = rec.get("waiver", {})
    first = terms.get(str(w.get("id")), {})
    return [
        r.seq, r.recorded_at, None, None, ci.get("repository"), ci.get("commit"), ci.get("ref"),
        ci.get("run_url"), None, first.get("control"), None, None, None, None, None, None, None,
        r.record_hash, r.kind, rec.get("action"), w.get("id"), first.get("resource"),
        first.get("owner"), w.get("approver"), w.get("reason"), w.get("ticket"),
        w.get("expires"), w.get("previous_expires"),
    ]  # fmt: skip


def export(rows: Iterable[Stored], fmt: str, since: str | None, until: str | None) -> str:
    """The window as text in the given format (jsonl or csv)."""
    every = list(rows)
    chosen = window(every, since, until)
    if fmt == "jsonl":
        return "".join(
            json.dumps(
                {"seq": r.seq, "prev_hash": r.prev_hash, "record_hash": r.record_hash,
                 "record": r.record}, sort_keys=True,
            ) + "\n"
            for r in chosen
        )  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_COLUMNS)
    # A renew or revoke record names its waiver by id; the create record holds its scope.
    terms = {str(r.record["waiver"].get("id")): r.record["waiver"] for r in every
             if r.kind == "waiver" and r.record.get("action") == "create"}  # fmt: skip
    for r in chosen:
        rec, ci = r.record, r.record.get("ci", {})
        if r.kind == "waiver":
            writer.writerow(_waiver_row(r, terms))
            continue
        if "controls" not in rec:
            continue
        for cid, c in sorted(rec.get("controls", {}).items()):
            writer.writerow([
                r.seq, r.recorded_at, rec["plan"]["name"], rec["plan"]["sha256"],
                ci.get("repository"), ci.get("commit"), ci.get("ref"), ci.get("run_url"),
                rec["bundle"]["revision"], cid, c["status"], ";".join(c["criteria"]),
                c["judged"], c["failed"], c["unknown"], c["waived"], ";".join(c["failing"]),
                r.record_hash, r.kind, *[None] * 9,
            ])  # fmt: skip
    return out.getvalue()
