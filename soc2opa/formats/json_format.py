"""The stable JSON report; its schema is soc2opa/schemas/report.schema.json."""

from __future__ import annotations

import json
from typing import Any

from soc2opa.formats.base import Format
from soc2opa.report import Report

SCHEMA_VERSION = "1.0"


def report_document(report: Report) -> dict[str, Any]:
    """The report as plain data, every (control, resource) pair included."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "soc2opa", "version": report.tool_version},
        "generated_at": report.generated_at,
        "engine": report.engine,
        "bundle": {"revision": report.bundle_revision, "source": report.bundle_source},
        "plan": {
            "file": report.plan_name,
            "format_version": report.plan.get("format_version"),
            "terraform_version": report.plan.get("terraform_version"),
            "resources_judged": report.plan.get("resources_judged", 0),
            "read_from": report.plan.get("source"),
        },
        "settings": {
            "fail_on": report.fail_on,
            "strict": report.strict,
            "controls": list(report.selected_controls) or None,
            "criteria": list(report.selected_criteria) or None,
        },
        "summary": {
            "results": report.counts(),
            "controls": report.control_counts(),
            "by_criterion": report.by_criterion(),
            "failing": len(report.failing()),
            "exit_code": report.exit_code,
        },
        "warnings": report.warnings(),
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
            }
            for r in report.results
        ],
    }


class JsonFormat(Format):
    """Machine-readable: every pair with its status, summaries, plan and bundle facts."""

    name = "json"

    def render(self, report: Report) -> str:
        """Indented JSON with a trailing newline."""
        return json.dumps(report_document(report), indent=2) + "\n"
