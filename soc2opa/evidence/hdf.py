"""A window of evidence in the Heimdall Data Format (HDF, InSpec exec-json) with waiver_data.

One profile (soc2opa); each control holds one result per evaluation in the window: pass is
passed, fail is failed, and outcomes a plan cannot decide (unknown, not in this configuration,
needs runtime evidence) are skipped with the reason. A control that a waiver covered carries
waiver_data (justification, expiry, owner); its results keep their original status. The store's
waivers (evidence waiver create|renew|revoke) that had a record in the window or were in force
during it put waiver_data on every control their control pattern names, applied or not, and
their whole lifecycle (each record with seq, time, approver, reason, expiry) goes in the
document's `passthrough.soc2opa_waivers`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from soc2opa import __version__
from soc2opa.evidence.store import Stored
from soc2opa.evidence.views import OBSERVED, evaluations
from soc2opa.evidence.waiver_history import WaiverHistory, other_waivers
from soc2opa.evidence.waiver_records import PREFIX

# Heimdall's usual impact per severity (0.0 is reserved for not applicable).
IMPACT = {"low": 0.3, "medium": 0.5, "high": 0.7, "critical": 0.9}
SKIPPED = {
    "unknown": "a value is unknown until apply, so the control could not be decided",
    "not_in_configuration": "the account-wide setting is not managed by this configuration",
    "needs_runtime_evidence": "a plan cannot decide this control: it needs runtime evidence",
}


def _seconds(row: Stored) -> float:
    start = datetime.fromisoformat(row.record.get("started_at", row.recorded_at))
    return max((datetime.fromisoformat(row.recorded_at) - start).total_seconds(), 0.0)


def _result(row: Stored, c: dict[str, Any]) -> dict[str, Any]:
    plan, ci = row.record["plan"], row.record.get("ci", {})
    where = " ".join(str(ci[k]) for k in ("repository", "commit") if ci.get(k))
    result: dict[str, Any] = {
        "status": {"pass": "passed", "fail": "failed"}.get(c["status"], "skipped"),
        "code_desc": f"evaluation {row.seq} ({row.kind} {plan['name']}"
        f"{', ' + where if where else ''}): {c['status']}; judged {c['judged']}, failed "
        f"{c['failed']}, unknown {c['unknown']}, waived {c['waived']}",
        "start_time": row.record.get("started_at", row.recorded_at),
        "run_time": _seconds(row),
        "resource": plan["name"],
        "resource_id": f"sha256:{plan['sha256']} record:{row.record_hash}",
    }
    if c["failing"]:
        result["message"] = "failing (not waived): " + ", ".join(c["failing"])
    if c["status"] in SKIPPED:
        result["skip_message"] = SKIPPED[c["status"]]
    return result


def _as_applied(h: WaiverHistory) -> dict[str, Any]:
    """A store waiver in the shape of views.waivers_in's entries, with its state and records."""
    return {
        "ref": f"{PREFIX}{h.id}", "resource": h.resource, "owner": h.owner, "ticket": h.ticket,
        "expires": h.expires, "reason": h.reason, "seqs": h.applied_in, "state": h.status,
        "records": [e.seq for e in h.events], "as_of": h.as_of,
    }  # fmt: skip


def _lifecycle(h: WaiverHistory) -> dict[str, Any]:
    return {
        "id": h.id, "control": h.control, "resource": h.resource, "owner": h.owner,
        "approver": h.approver, "reason": h.reason, "ticket": h.ticket, "expires": h.expires,
        "state": h.status, "as_of": h.as_of, "applied_in": h.applied_in,
        "records": [{
            "seq": e.seq, "action": e.action, "recorded_at": e.recorded_at,
            "record_hash": e.record_hash, "approver": e.approver, "reason": e.reason,
            "ticket": e.ticket, "expires": e.expires, "previous_expires": e.previous_expires,
            "in_window": e.in_window,
        } for e in h.events],
    }  # fmt: skip


def _waiver_data(waivers: list[dict[str, Any]]) -> dict[str, Any]:
    live = [w for w in waivers if w.get("state", "live") == "live"]
    expiries = sorted(w["expires"] for w in (live or waivers) if w["expires"])
    return {
        "justification": "; ".join(
            f"{w['ref']} ({w['resource'] or '?'}): {w['reason'] or 'no reason recorded'}"
            for w in waivers
        ),
        "expiration_date": expiries[0] if expiries else None,
        "run": True,
        "skipped_due_to_waiver": False,
        "message": "; ".join(
            f"{w['ref']} owned by {w['owner'] or '?'}"
            + (f", ticket {w['ticket']}" if w["ticket"] else "")
            + (f", {w['state']} on {w['as_of']}, records {w['records']}" if "state" in w else "")
            + f", used in {len(w['seqs'])} evaluation(s)"
            for w in waivers
        ),
    }


def _platform(chosen: list[Stored]) -> dict[str, Any]:
    versions = sorted({str(r.record["plan"].get("terraform_version")) for r in chosen})
    repos = sorted({r.record.get("ci", {}).get("repository") or "" for r in chosen} - {""})
    return {
        "name": "terraform",
        "release": ", ".join(versions) or "unknown",
        "target_id": ", ".join(repos) or None,
    }


def heimdall(
    rows: Sequence[Stored], since: str | None, until: str | None,
    histories: Sequence[WaiverHistory] = (),
) -> str:  # fmt: skip
    """The window's evaluations and the store's waivers (`histories`) as one HDF (exec-json)
    document (JSON text)."""
    chosen = evaluations(rows)
    controls: dict[str, dict[str, Any]] = {}
    for row in chosen:
        for cid, c in sorted(row.record.get("controls", {}).items()):
            if c["status"] not in OBSERVED:
                continue
            entry = controls.setdefault(cid, {
                "id": cid, "title": cid,
                "desc": f"soc2opa control {cid} ({', '.join(c['criteria'])}), judged on "
                "Terraform plans and deployed states.",
                "descriptions": [], "impact": IMPACT.get(c.get("severity") or "", 0.5),
                "refs": [], "tags": {"soc2": c["criteria"], "severity": c.get("severity")},
                "code": None, "source_location": {"ref": None, "line": None}, "results": [],
            })  # fmt: skip
            entry["results"].append(_result(row, c))
    waivers = other_waivers(chosen, histories).values()
    for cid, entry in controls.items():
        mine = [w for w in waivers if cid in w["controls"]]
        mine += [_as_applied(h) for h in histories if h.covers(cid)]
        entry["waiver_data"] = _waiver_data(mine) if mine else None
    revisions = sorted({r.record["bundle"]["revision"] for r in chosen})
    hashes = [r.record_hash for r in chosen] + [e.record_hash for h in histories for e in h.events
                                                if e.in_window]  # fmt: skip
    digest = hashlib.sha256("\n".join(hashes).encode()).hexdigest()
    document = {
        "platform": _platform(chosen),
        "version": __version__,
        "statistics": {"duration": sum(_seconds(r) for r in chosen)},
        "profiles": [{
            "name": "soc2opa",
            "title": "soc2opa: SOC 2 controls on Terraform plans and deployed states",
            "version": ", ".join(revisions) or None,
            "summary": f"{len(chosen)} evaluations from the soc2opa evidence store, "
            f"{since or (chosen[0].recorded_at[:10] if chosen else '-')} to "
            f"{until or (chosen[-1].recorded_at[:10] if chosen else '-')} (UTC), and "
            f"{len(hashes) - len(chosen)} waiver records; sha256 is over their record hashes.",
            "sha256": digest, "supports": [], "attributes": [], "groups": [],
            "controls": [controls[k] for k in sorted(controls)],
        }],
        "passthrough": {"soc2opa_waivers": [_lifecycle(h) for h in histories]},
    }  # fmt: skip
    return json.dumps(document, indent=1, sort_keys=True) + "\n"
