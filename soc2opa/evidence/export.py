"""Evidence for a window of days, as JSON lines or CSV rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import date

from soc2opa.errors import UsageError
from soc2opa.evidence.store import Stored

_COLUMNS = (
    "seq", "ended_at", "plan", "plan_sha256", "repository", "commit", "ref", "run_url",
    "bundle_revision", "control_id", "status", "criteria", "judged", "failed", "unknown",
    "waived", "failing", "record_hash", "kind",
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


def export(rows: Iterable[Stored], fmt: str, since: str | None, until: str | None) -> str:
    """The window as text in the given format (jsonl or csv)."""
    chosen = window(rows, since, until)
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
    for r in chosen:
        rec, ci = r.record, r.record.get("ci", {})
        if "controls" not in rec:  # waiver records: in the jsonl export, not in these rows
            continue
        for cid, c in sorted(rec.get("controls", {}).items()):
            writer.writerow([
                r.seq, r.recorded_at, rec["plan"]["name"], rec["plan"]["sha256"],
                ci.get("repository"), ci.get("commit"), ci.get("ref"), ci.get("run_url"),
                rec["bundle"]["revision"], cid, c["status"], ";".join(c["criteria"]),
                c["judged"], c["failed"], c["unknown"], c["waived"], ";".join(c["failing"]),
                r.record_hash, r.kind,
            ])  # fmt: skip
    return out.getvalue()
