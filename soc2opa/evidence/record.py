"""What one evaluation leaves as evidence: facts and outcomes, never plan values."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from soc2opa import __version__
from soc2opa.evidence.ci import ci_context
from soc2opa.report import Report
from soc2opa.waivers import Waiver


def sha256_file(path: Path) -> str | None:
    """The SHA-256 of a file's bytes, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _waiver_ref(waiver: Waiver) -> str:
    """A waiver file's entry as file#position; a stored waiver as evidence:ID@seq, the seq of
    the record (create or renew) that put it in force."""
    if waiver.file.startswith("evidence:"):
        return waiver.file
    return f"{waiver.file or '-'}#{waiver.index}"


def _waivers_file(report: Report) -> dict[str, str | None] | None:
    """The waivers file, who chose it (--waivers or a config file) and its digest."""
    if not report.waivers_from:
        return None
    return {
        "path": report.waivers_file,
        "from": report.waivers_from,
        "sha256": report.waivers_sha256,
    }


def evaluation_record(
    report: Report,
    *,
    plan_sha256: str,
    started_at: str,
    ended_at: str,
    opa: dict[str, str | None],
    bundle_sha256: str | None,
) -> dict[str, Any]:
    """The record of one plan's evaluation: what was judged, by what, where, with what outcome.

    Only addresses, statuses and counts are kept; messages are not (they quote plan values),
    and neither is the plan (it may hold secrets): its SHA-256 identifies it.
    """
    controls = {}
    terms = {
        _waiver_ref(r.waiver): {
            "control": r.waiver.control, "resource": r.waiver.resource, "owner": r.waiver.owner,
            "expires": r.waiver.expires.isoformat(), "ticket": r.waiver.ticket,
            "reason": r.waiver.reason,
        }
        for r in report.results
        if r.waiver is not None
    }  # fmt: skip
    for c in report.controls:
        mine = [r for r in report.results if r.control.id == c.id]
        controls[c.id] = {
            "status": c.status,
            "criteria": list(c.criteria),
            "severity": c.severity,
            "judged": len(mine),
            "failed": sum(r.status == "fail" for r in mine),
            "unknown": sum(r.status == "unknown" for r in mine),
            "waived": sum(r.waived for r in mine),
            "failing": sorted(r.address for r in mine if r.status == "fail" and not r.waived),
            "waivers": sorted({_waiver_ref(r.waiver) for r in mine if r.waiver is not None}),
        }
    applied = sorted({
        int(r.waiver.file.rsplit("@", 1)[1])
        for r in report.results
        if r.waiver is not None and r.waiver.file.startswith("evidence:")
    })  # fmt: skip
    return {
        "kind": report.kind,
        "started_at": started_at,
        "ended_at": ended_at,
        "plan": {
            "name": report.plan_name,
            "sha256": plan_sha256,
            "terraform_version": report.plan.get("terraform_version"),
            "format_version": report.plan.get("format_version"),
        },
        "ci": ci_context(os.environ),
        "tool": {"soc2opa": __version__, **opa},
        "bundle": {
            "revision": report.bundle_revision,
            "source": report.bundle_source,
            "sha256": bundle_sha256,
        },
        "settings": {
            "fail_on": report.fail_on,
            "strict": report.strict,
            "baseline_elsewhere": list(report.baseline_elsewhere),
            "waivers_file": _waivers_file(report),
        },
        "exit_code": report.exit_code,
        "waiver_records_applied": applied,
        "waivers_expired": sorted(_waiver_ref(w) for w in report.expired_waivers),
        "controls": controls,
        "waivers": dict(sorted(terms.items())),
    }
