"""The stable JSON report; its schema is soc2opa/schemas/report.schema.json."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from soc2opa.formats.base import Format, FormatOptions, rel_path
from soc2opa.jsontext import dumps_indented
from soc2opa.report import Report, Result
from soc2opa.waivers import Waiver

SCHEMA_VERSION = "1.0"


def _waiver(w: Waiver | None) -> dict[str, Any] | None:
    if w is None:
        return None
    return {
        "control": w.control,
        "resource": w.resource,
        "reason": w.reason,
        "owner": w.owner,
        "ticket": w.ticket,
        "expires": w.expires.isoformat(),
        "index": w.index,
    }


def _location(r: Result, options: FormatOptions) -> dict[str, Any] | None:
    if r.location is None:
        return None
    return {
        "file": rel_path(r.location.resource.path, options),
        "line": r.location.resource.line,
        "module_calls": [
            {"module": call, "file": rel_path(line.path, options), "line": line.line}
            for call, line in r.location.module_calls
        ],
    }


def report_document(report: Report, options: FormatOptions | None = None) -> dict[str, Any]:
    """The report as plain data, every (control, resource) pair included."""
    options = options or FormatOptions()
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "soc2opa", "version": report.tool_version},
        "generated_at": report.generated_at,
        "engine": report.engine,
        "opa": {
            "version": report.opa.get("version"),
            "path": report.opa.get("path"),
            "url": report.opa.get("url"),
        },
        "bundle": {"revision": report.bundle_revision, "source": report.bundle_source},
        "plan": {
            "file": report.plan_name,
            "kind": report.kind,
            "format_version": report.plan.get("format_version"),
            "terraform_version": report.plan.get("terraform_version"),
            "resources": report.plan.get("resources_judged", 0),
            "resources_judged": len({r.address for r in report.results}),
            "read_from": "values" if report.kind == "state" else report.plan.get("source"),
        },
        "settings": {
            "fail_on": report.fail_on,
            "strict": report.strict,
            "controls": list(report.selected_controls) or None,
            "criteria": list(report.selected_criteria) or None,
            "exclude_controls": list(report.excluded_controls) or None,
            "baseline_elsewhere": list(report.baseline_elsewhere) or None,
            "framework": report.framework,
        },
        "waivers": {
            "file": report.waivers_file,
            "from": report.waivers_from,
            "sha256": report.waivers_sha256,
            "waived": len(report.waived()),
            "expired": [_waiver(w) for w in report.expired_waivers],
            "unmatched": [_waiver(w) for w in report.unmatched_waivers],
        },
        "summary": {
            "results": report.counts(),
            "controls": report.control_counts(),
            "by_criterion": report.by_criterion(),
            "by_framework": (
                {"framework": report.framework, "groups": report.by_framework()}
                if report.framework != "soc2"
                else None
            ),
            "failing": len(report.failing()),
            "missing_settings": [c.id for c in report.missing_settings()],
            "exit_code": report.exit_code,
        },
        "warnings": report.warnings(),
        "coverage": report.coverage(),
        "controls": [
            {
                "id": c.id,
                "title": c.title,
                "description": c.description,
                "service": c.service,
                "category": c.category,
                "severity": c.severity,
                "criteria": list(c.criteria),
                "resource_types": list(c.resource_types),
                "status": c.status,
                "counts": c.counts,
                "remediation": {"text": c.remediation, "terraform": c.remediation_terraform},
                "crosswalk": c.crosswalk,
                "help_uri": c.help_uri,
                "scope": c.scope,
                "reference": list(c.reference),
                "runtime_evidence": c.runtime_evidence or None,
            }
            for c in report.controls
        ],
        "results": [
            {
                "control_id": r.control.id,
                "title": r.control.title,
                "criteria": list(r.control.criteria),
                "severity": r.control.severity,
                "resource_address": r.address,
                "module_address": r.module_address,
                "resource_type": r.resource_type,
                "status": r.status,
                "message": r.message,
                "remediation": r.control.remediation if r.status != "pass" else None,
                "help_uri": r.control.help_uri,
                "waived": r.waived,
                "waiver": _waiver(r.waiver),
                "location": _location(r, options),
            }
            for r in report.results
        ],
    }


class JsonFormat(Format):
    """Machine-readable: every pair with its status, summaries, plan and bundle facts."""

    name = "json"

    description = "the stable report (soc2opa/schemas/report.schema.json), passes included"

    def render(self, report: Report) -> str:
        """Indented JSON with a trailing newline."""
        return dumps_indented(report_document(report, self.options)) + "\n"

    def render_all(self, reports: Sequence[Report]) -> str:
        """One report as is; several as {"reports": [...], "summary": {...}}."""
        if len(reports) == 1:
            return self.render(reports[0])
        docs = [report_document(r, self.options) for r in reports]
        totals = dict.fromkeys(("pass", "fail", "unknown"), 0)
        for d in docs:
            for status, n in d["summary"]["results"].items():
                totals[status] += n
        combined = {
            "schema_version": SCHEMA_VERSION,
            "reports": docs,
            "summary": {
                "plans": len(docs),
                "results": totals,
                "waived": sum(d["waivers"]["waived"] for d in docs),
                "failing": sum(d["summary"]["failing"] for d in docs),
                "exit_code": max(d["summary"]["exit_code"] for d in docs),
            },
        }
        return dumps_indented(combined) + "\n"
