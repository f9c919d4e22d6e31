"""What the exports read from stored records: evaluations, outcomes per criterion, waivers."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from soc2opa.evidence.store import Stored

# Records of these kinds are evaluations; other kinds (waiver lifecycle, ...) are not judged.
EVALUATION_KINDS = ("plan", "state")
# Fixed, so that the same records always give the same identifiers in every export.
NAMESPACE = uuid.UUID("6f1c2b4e-5d0a-5c3e-9a51-50c2a0f0e7d1")
# A control's status decides a criterion's status in an evaluation; the worst one wins.
WORST_FIRST = ("fail", "unknown", "pass")
# Statuses that say something about a control in an evaluation (not_applicable says nothing).
OBSERVED = ("fail", "unknown", "pass", "not_in_configuration", "needs_runtime_evidence")


def stable_uuid(*parts: object) -> str:
    """A UUIDv5 of the parts: the same records give the same identifiers on every export."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts)))


def evaluations(rows: Iterable[Stored]) -> list[Stored]:
    """The records that are evaluations of a plan or a state, in seq order."""
    return sorted((r for r in rows if r.kind in EVALUATION_KINDS), key=lambda r: r.seq)


def day_of(row: Stored) -> str:
    """The UTC day (YYYY-MM-DD) an evaluation ended."""
    return row.recorded_at[:10]


def criteria_of(row: Stored) -> dict[str, list[str]]:
    """The criteria an evaluation judged, each with its controls (sorted)."""
    out: dict[str, list[str]] = {}
    for cid, c in sorted(row.record.get("controls", {}).items()):
        for crit in c.get("criteria", []):
            out.setdefault(crit, []).append(cid)
    return out


def criterion_status(row: Stored, controls: list[str]) -> str | None:
    """fail, unknown or pass for a criterion in one evaluation (None: nothing was judged).

    A waived result keeps its original status; waivers are shown beside it, never folded in.
    """
    statuses = {row.record["controls"][c]["status"] for c in controls}
    return next((s for s in WORST_FIRST if s in statuses), None)


def all_days(first: str, last: str) -> list[str]:
    """Every UTC day from first to last, inclusive."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def waivers_in(rows: Iterable[Stored]) -> dict[str, dict[str, Any]]:
    """Every waiver applied in the rows, by reference: its terms (control and resource are the
    waiver's patterns), the control ids it covered and the evaluations (seq) that used it."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        details = row.record.get("waivers", {})
        for cid, c in sorted(row.record.get("controls", {}).items()):
            for ref in c.get("waivers", []):
                blank = dict.fromkeys(("resource", "owner", "expires", "ticket", "reason"))
                entry = out.setdefault(
                    ref, {"ref": ref, "control": cid, **blank, "controls": [], "seqs": []}
                )
                entry.update({k: v for k, v in details.get(ref, {}).items() if v is not None})
                if cid not in entry["controls"]:
                    entry["controls"].append(cid)
                if row.seq not in entry["seqs"]:
                    entry["seqs"].append(row.seq)
    return dict(sorted(out.items()))
