"""A window of evidence as OSCAL 1.1.3 Assessment Results, with the assessment plan it imports.

One result covers the window. Each (evaluation, control) with something to say is an
observation; each SOC 2 criterion is a finding (objective-id = the criterion, lower case) that
relates the observations of its controls; each waiver applied is a risk whose deadline is the
waiver's expiry. Every waiver of the evidence store that had a
lifecycle record in the window or was in force during it is a risk of its own, whether or not an
evaluation applied it: its owner and approvers are parties, its create, renew and revoke records
are risk-log entries, and its status on the window's last day is deviation-approved (live) or
closed (expired or revoked). The minimal assessment plan travels in the back-matter as base64 and
`import-ap` points at it. Every UUID is a UUIDv5 of what it names, so the same records always
give the same document.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from soc2opa import __version__
from soc2opa.criteria import CRITERIA, criterion_sort_key
from soc2opa.evidence.store import Stored
from soc2opa.evidence.views import OBSERVED, criteria_of, evaluations, stable_uuid
from soc2opa.evidence.waiver_history import WaiverEvent, WaiverHistory, other_waivers
from soc2opa.evidence.waiver_records import PREFIX

OSCAL_VERSION = "1.1.3"
NS = "urn:soc2opa:evidence"
TOOL_UUID = stable_uuid("soc2opa", "tool")
ROLES = (("waiver-owner", "Waiver owner"), ("waiver-approver", "Waiver approver"))
_DONE = {"create": "created", "renew": "renewed", "revoke": "revoked"}


def _time(stamp: str) -> str:
    return stamp.replace("+00:00", "Z")


def _prop(name: str, value: object) -> dict[str, str]:
    return {"name": name, "ns": NS, "value": str(value)}


def _metadata(title: str, modified: str) -> dict[str, Any]:
    return {
        "title": title,
        "last-modified": modified,
        "version": __version__,
        "oscal-version": OSCAL_VERSION,
    }


def party_uuid(name: str) -> str:
    """The UUID of a person named in waiver records (owner or approver)."""
    return stable_uuid("party", name.casefold())


def _people(histories: Sequence[WaiverHistory]) -> dict[str, Any]:
    """The parties and roles of the store's waivers, for the document's metadata."""
    owners = sorted({h.owner for h in histories})
    approvers = sorted({e.approver for h in histories for e in h.events if e.approver})
    names = sorted({*owners, *approvers}, key=str.casefold)
    if not names:
        return {}
    by_role = {"waiver-owner": owners, "waiver-approver": approvers}
    return {
        "roles": [{"id": rid, "title": title} for rid, title in ROLES],
        "parties": [{"uuid": party_uuid(n), "type": "person", "name": n} for n in names],
        "responsible-parties": [
            {"role-id": rid, "party-uuids": [party_uuid(n) for n in by_role[rid]]}
            for rid, _ in ROLES if by_role[rid]
        ],
    }  # fmt: skip


def _selection(criteria: Sequence[str]) -> dict[str, Any]:
    if not criteria:
        return {"control-selections": [{"include-all": {}}]}
    return {
        "control-selections": [{"include-controls": [{"control-id": c.lower()} for c in criteria]}]
    }


def _assessment_plan(criteria: Sequence[str], window: str, modified: str) -> dict[str, Any]:
    ssp = stable_uuid("ssp", window)
    return {
        "assessment-plan": {
            "uuid": stable_uuid("assessment-plan", window, *criteria),
            "metadata": _metadata(
                f"soc2opa assessment plan: SOC 2 criteria judged on Terraform ({window})",
                modified,
            ),
            "import-ssp": {"href": f"#{ssp}"},
            "reviewed-controls": _selection(criteria),
            "back-matter": {
                "resources": [
                    {
                        "uuid": ssp,
                        "title": "System security plan",
                        "description": "Not part of the export: the system is the Terraform "
                        "configuration named by each observation (repository, commit).",
                    }
                ]
            },
        }
    }


def _observation(row: Stored, cid: str, c: dict[str, Any]) -> dict[str, Any]:
    rec, ci = row.record, row.record.get("ci", {})
    plan = rec["plan"]
    counts = f"judged {c['judged']}, failed {c['failed']}, unknown {c['unknown']}, " \
        f"waived {c['waived']}"  # fmt: skip
    obs: dict[str, Any] = {
        "uuid": stable_uuid("observation", row.record_hash, cid),
        "title": f"{cid} in evaluation {row.seq}",
        "description": f"soc2opa judged control {cid} ({', '.join(c['criteria'])}) on the "
        f"{row.kind} {plan['name']}: {c['status']} ({counts}).",
        "props": [
            _prop("status", c["status"]),
            _prop("evaluation-kind", row.kind),
            _prop("seq", row.seq),
            _prop("record-hash", row.record_hash),
            _prop("plan-sha256", plan["sha256"]),
            _prop("bundle-revision", rec["bundle"]["revision"]),
        ],
        "methods": ["TEST"],
        "types": ["control-objective"],
        "origins": [{"actors": [{"type": "tool", "actor-uuid": TOOL_UUID}]}],
        "collected": _time(row.recorded_at),
    }
    for key in ("repository", "commit", "ref"):
        if ci.get(key):
            obs["props"].append(_prop(key, ci[key]))
    if ci.get("run_url"):
        obs["relevant-evidence"] = [{"href": ci["run_url"], "description": "The CI run."}]
    if c["failing"]:
        obs["remarks"] = "Failing (not waived): " + ", ".join(c["failing"])
    return obs


def _risk(w: dict[str, Any]) -> dict[str, Any]:
    risk: dict[str, Any] = {
        "uuid": stable_uuid("risk", w["ref"], w["control"], w["resource"], w["expires"]),
        "title": f"Waiver {w['ref']}: {w['control']} on {w['resource'] or '?'}",
        "description": f"Accepted finding of {w['control']} on {w['resource'] or '?'}, "
        f"owned by {w['owner'] or '?'}, applied in {len(w['seqs'])} evaluation(s).",
        "statement": w["reason"] or "No reason recorded.",
        "props": [_prop("waiver", w["ref"])],
        "status": "deviation-approved",
    }
    if w["owner"]:
        risk["props"].append(_prop("owner", w["owner"]))
    if w["ticket"]:
        risk["props"].append(_prop("ticket", w["ticket"]))
    if w["expires"]:
        risk["deadline"] = f"{w['expires']}T23:59:59Z"
    return risk


def _log_entry(h: WaiverHistory, e: WaiverEvent) -> dict[str, Any]:
    expiry = f", expiry {e.previous_expires} -> {e.expires}" if e.previous_expires else (
        f", expires {e.expires}" if e.expires else "")  # fmt: skip
    entry: dict[str, Any] = {
        "uuid": stable_uuid("risk-log", e.record_hash),
        "title": f"Waiver {h.id} {_DONE.get(e.action, e.action)}",
        "description": f"Evidence record {e.seq}: {e.action} by approver {e.approver or '?'}"
        f"{expiry}. Reason: {e.reason or 'none recorded'}.",
        "start": _time(e.recorded_at),
        "props": [_prop("seq", e.seq), _prop("record-hash", e.record_hash),
                  _prop("action", e.action), _prop("in-window", str(e.in_window).lower())],
        "status-change": "closed" if e.action == "revoke" else "deviation-approved",
    }  # fmt: skip
    if e.approver:
        entry["logged-by"] = [{"party-uuid": party_uuid(e.approver), "role-id": "waiver-approver"}]
    if e.ticket:
        entry["props"].append(_prop("ticket", e.ticket))
    if e.actor:
        entry["props"].append(_prop("ci-actor", e.actor))
    return entry


def _store_risk(h: WaiverHistory, observed: list[str]) -> dict[str, Any]:
    """A waiver of the evidence store as a risk, with its lifecycle as the risk log."""
    seqs = ", ".join(str(e.seq) for e in h.events)
    risk: dict[str, Any] = {
        "uuid": stable_uuid("store-waiver", h.id, h.events[0].record_hash),
        "title": f"Waiver {h.id}: {h.control} on {h.resource}",
        "description": f"Accepted finding of {h.control} on {h.resource}, owned by {h.owner}, "
        f"last approved by {h.approver}; evidence records {seqs}; {h.status} on {h.as_of}; "
        f"applied in {len(h.applied_in)} evaluation(s) of the window.",
        "statement": h.reason,
        "props": [
            _prop("waiver", f"{PREFIX}{h.id}"), _prop("waiver-id", h.id),
            _prop("waiver-state", h.status), _prop("control-pattern", h.control),
            _prop("resource-pattern", h.resource), _prop("owner", h.owner),
            _prop("approver", h.approver),
            *(_prop("applied-in-seq", s) for s in h.applied_in),
        ],
        "status": "deviation-approved" if h.status == "live" else "closed",
        "deadline": f"{h.expires}T23:59:59Z",
        "origins": [{"actors": [
            {"type": "party", "actor-uuid": party_uuid(h.owner), "role-id": "waiver-owner"}]}],
        "risk-log": {"entries": [_log_entry(h, e) for e in h.events]},
    }  # fmt: skip
    if h.status == "expired":
        risk["risk-log"]["entries"].append({
            "uuid": stable_uuid("risk-log-expired", h.id, h.expires),
            "title": f"Waiver {h.id} expired",
            "description": f"Not renewed: its last day was {h.expires} (from the expiry date; "
            "no record is written when a waiver expires).",
            "start": f"{h.expires}T23:59:59Z", "status-change": "closed",
        })  # fmt: skip
    if h.ticket:
        risk["props"].append(_prop("ticket", h.ticket))
        if h.ticket.startswith(("https://", "http://")):
            risk["links"] = [{"href": h.ticket, "rel": "reference", "text": "ticket"}]
    if observed:
        risk["related-observations"] = [{"observation-uuid": u} for u in observed]
    return risk


def _finding(
    crit: str, window: str, observations: list[tuple[Stored, str, dict[str, Any], str]],
    risks: list[str],
) -> dict[str, Any]:  # fmt: skip
    mine = [o for o in observations if crit in o[2]["criteria"]]
    failing = sum(bool(c["failing"]) for _, _, c, _ in mine)
    unknown = sum(c["status"] == "unknown" for _, _, c, _ in mine)
    passed = sum(c["status"] == "pass" for _, _, c, _ in mine)
    state, reason = ("satisfied", "pass") if not failing and not unknown else (
        ("not-satisfied", "fail") if failing else ("not-satisfied", "other")
    )  # fmt: skip
    finding: dict[str, Any] = {
        "uuid": stable_uuid("finding", window, crit),
        "title": f"{crit} {CRITERIA.get(crit, '')}".strip(),
        "description": f"{len(mine)} observations of the controls mapped to {crit} in the "
        f"window: {passed} passed, {failing} with failing resources not waived, "
        f"{unknown} unknown.",
        "target": {
            "type": "objective-id",
            "target-id": crit.lower(),
            "status": {"state": state, "reason": reason},
        },
    }
    if mine:
        finding["related-observations"] = [{"observation-uuid": u} for *_, u in mine]
    if risks:
        finding["related-risks"] = [{"risk-uuid": r} for r in risks]
    return finding


def assessment_results(
    rows: Sequence[Stored], since: str | None, until: str | None,
    histories: Sequence[WaiverHistory] = (),
) -> str:  # fmt: skip
    """The window's evaluations and the store's waivers (`histories`, from waiver_histories) as
    an OSCAL Assessment Results document (JSON text)."""
    chosen = evaluations(rows)
    first = chosen[0].recorded_at if chosen else f"{since or '1970-01-01'}T00:00:00+00:00"
    last = chosen[-1].recorded_at if chosen else f"{until or since or '1970-01-01'}T23:59:59+00:00"
    window = f"{since or first[:10]} to {until or last[:10]}"
    criteria = sorted({k for r in chosen for k in criteria_of(r)}, key=criterion_sort_key)
    observed = [
        (row, cid, c, stable_uuid("observation", row.record_hash, cid))
        for row in chosen
        for cid, c in sorted(row.record.get("controls", {}).items())
        if c["status"] in OBSERVED
    ]
    waivers = other_waivers(chosen, histories)
    risks = [_risk(w) for w in waivers.values()]
    by_criterion: dict[str, list[str]] = {}
    for w, risk in zip(waivers.values(), risks, strict=True):
        crits = {k for row in chosen for cid in w["controls"]
                 for k in row.record["controls"].get(cid, {}).get("criteria", [])}  # fmt: skip
        for crit in crits:
            by_criterion.setdefault(crit, []).append(risk["uuid"])
    for h in histories:
        cited = [
            stable_uuid("observation", row.record_hash, cid)
            for row, cid, c, _ in observed
            if any(ref.startswith(f"{PREFIX}{h.id}@") for ref in c.get("waivers", []))
        ]
        risk = _store_risk(h, cited)
        risks.append(risk)
        crits = {k for row in chosen for cid, c in row.record.get("controls", {}).items()
                 if h.covers(cid) for k in c.get("criteria", [])}  # fmt: skip
        for crit in sorted(crits):
            by_criterion.setdefault(crit, []).append(risk["uuid"])
    hashes = [r.record_hash for r in chosen] + [e.record_hash for h in histories for e in h.events]
    plan_doc = _assessment_plan(criteria, window, _time(last))
    plan_uuid = stable_uuid("assessment-plan-resource", window)
    result: dict[str, Any] = {
        "uuid": stable_uuid("result", window, *hashes),
        "title": f"soc2opa evaluations {window}",
        "description": f"{len(chosen)} evaluations of Terraform plans and deployed states "
        f"recorded in the soc2opa evidence store, {window} (UTC).",
        "start": _time(chosen[0].record["started_at"] if chosen else first),
        "end": _time(last),
        "props": [
            _prop("evaluations", len(chosen)),
            _prop("waiver-records", sum(e.in_window for h in histories for e in h.events)),
        ],
        "reviewed-controls": _selection(criteria),
    }
    if chosen:
        result["props"] += [
            _prop("first-seq", chosen[0].seq), _prop("last-seq", chosen[-1].seq),
            _prop("last-record-hash", chosen[-1].record_hash),
        ]  # fmt: skip
        result["observations"] = [_observation(row, cid, c) for row, cid, c, _ in observed]
    if risks:
        result["risks"] = risks
    if criteria:
        result["findings"] = [
            _finding(crit, window, observed, by_criterion.get(crit, [])) for crit in criteria
        ]
    plan_json = json.dumps(plan_doc, indent=1, sort_keys=True).encode()
    document = {
        "assessment-results": {
            "uuid": stable_uuid("assessment-results", window, *hashes),
            "metadata": {
                **_metadata(f"soc2opa assessment results {window}", _time(last)),
                **_people(histories),
            },
            "import-ap": {"href": f"#{plan_uuid}"},
            "results": [result],
            "back-matter": {
                "resources": [
                    {
                        "uuid": plan_uuid,
                        "title": "Assessment plan",
                        "description": "The minimal OSCAL assessment plan these results import.",
                        "base64": {
                            "filename": "assessment-plan.json",
                            "media-type": "application/json",
                            "value": base64.b64encode(plan_json).decode(),
                        },
                    }
                ]
            },
        }
    }
    return json.dumps(document, indent=1, sort_keys=True) + "\n"
