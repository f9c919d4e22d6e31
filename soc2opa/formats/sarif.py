"""SARIF 2.1.0 for code scanning: one rule per control, one result per finding."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from soc2opa.formats.base import Format, FormatOptions, doc_path, one_line, plain, rel_path, where
from soc2opa.jsontext import dumps_indented
from soc2opa.report import Control, Report, Result

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/soc2opa/soc2opa"
# GitHub code scanning ranks security alerts by this score (CVSS-like, 0.0 to 10.0).
# Plans read from stdin have no file to point at.
_NO_FILE = ("-", "(stdin)")
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def _rule_name(control: Control) -> str:
    return "".join(part.capitalize() for part in control.id.split("_"))


def fingerprint(control_id: str, address: str) -> str:
    """Stable across runs and machines: the control id and the resource address only."""
    return hashlib.sha256(f"{control_id}\0{address}".encode()).hexdigest()[:32]


def _uri(path: str, options: FormatOptions) -> str:
    """A relative reference inside the base folder; outside it (../), an absolute file: URI,
    which SARIF viewers resolve without knowing where soc2opa ran."""
    parts = PurePosixPath(path).parts
    if parts and parts[0] == "..":
        return Path(os.path.normpath(options.base_dir / path)).as_uri()
    return quote(path, safe="/-_.~")


def automation_id(report: Report) -> str:
    """GitHub's category for this plan's run: soc2opa/<plan name>/ (the run id is empty)."""
    name = "stdin" if report.plan_name in _NO_FILE else Path(report.plan_name).as_posix()
    return f"soc2opa/{re.sub(r'[^A-Za-z0-9._/-]+', '_', name).strip('/')}/"


def _plan_uri(name: str, options: FormatOptions) -> str:
    """The plan file as the SARIF artifact: a relative name stays as given (it is relative to
    where soc2opa ran, the repository root in CI); an absolute one is made relative to base_dir."""
    path = Path(name)
    return rel_path(path, options) if path.is_absolute() else path.as_posix()


class SarifFormat(Format):
    """SARIF 2.1.0: a run per plan, results for fail and unknown, waivers as suppressions."""

    name = "sarif"
    description = "SARIF 2.1.0 for GitHub code scanning and other SARIF viewers"

    def render(self, report: Report) -> str:
        """A SARIF log with one run."""
        return self.render_all([report])

    def render_all(self, reports: Sequence[Report]) -> str:
        """A SARIF log with one run per plan."""
        log = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [self._run(r) for r in reports],
        }
        return dumps_indented(log) + "\n"

    def _rule(self, c: Control) -> dict[str, Any]:
        page = doc_path(c)
        fix = c.remediation
        level = "error" if c.severity in ("high", "critical") else "warning"
        markdown = f"{plain(c.description)}\n\n**Fix:** {plain(fix)}"
        if c.remediation_terraform:
            markdown += f"\n\n```hcl\n{plain(c.remediation_terraform).rstrip()}\n```"
        markdown += f"\n\nCriteria: {', '.join(c.criteria)}. [Control page]({page})"
        return {
            "id": c.id,
            "name": _rule_name(c),
            "shortDescription": {"text": c.title},
            "fullDescription": {"text": c.description or c.title},
            "help": {"text": f"{fix}\n\nSee {page}", "markdown": markdown},
            "helpUri": self.options.docs_base_url + page,
            "defaultConfiguration": {"level": level},
            "properties": {
                "security-severity": SECURITY_SEVERITY.get(c.severity, "5.5"),
                "precision": "high",
                "problem.severity": level,
                "tags": ["security", "soc2", "terraform", c.service, *c.criteria],
                "criteria": list(c.criteria),
                "severity": c.severity,
                "frameworks": c.crosswalk,
            },
        }

    def _locations(self, report: Report, r: Result) -> dict[str, Any]:
        logical = [{"fullyQualifiedName": r.address, "kind": "resource"}]
        found = where(r, self.options)
        out: dict[str, Any] = {}
        if found:
            physical = {
                "artifactLocation": {"uri": _uri(found[0], self.options)},
                "region": {"startLine": found[1]},
            }
            out["locations"] = [{"physicalLocation": physical, "logicalLocations": logical}]
            assert r.location is not None
            out["relatedLocations"] = [
                {
                    "id": i,
                    "physicalLocation": {
                        "artifactLocation": {
                            "uri": _uri(rel_path(line.path, self.options), self.options)
                        },
                        "region": {"startLine": line.line},
                    },
                    "message": {"text": f"{call} is called here"},
                }
                for i, (call, line) in enumerate(r.location.module_calls, start=1)
            ]
            if not out["relatedLocations"]:
                del out["relatedLocations"]
        elif report.plan_name not in _NO_FILE:
            # Code scanning needs a file for every alert: without --tf-dir, the plan itself.
            plan = _plan_uri(report.plan_name, self.options)
            physical = {
                "artifactLocation": {"uri": _uri(plan, self.options)},
                "region": {"startLine": 1},
            }
            out["locations"] = [{"physicalLocation": physical, "logicalLocations": logical}]
        else:
            out["locations"] = [{"logicalLocations": logical}]
        return out

    def _result(
        self, report: Report, r: Result, rule_index: int, failing: set[int]
    ) -> dict[str, Any]:
        level = "error" if id(r) in failing or r.status == "fail" else "warning"
        text = f"{one_line(r.address)}: {one_line(r.message or '')}"
        if r.status == "unknown":
            text = f"{text} (unknown until apply)"
        result: dict[str, Any] = {
            "ruleId": r.control.id,
            "ruleIndex": rule_index,
            "level": level,
            "message": {"text": text},
            **self._locations(report, r),
            "partialFingerprints": {"soc2opa/v1": fingerprint(r.control.id, r.address)},
            "properties": {
                "status": r.status,
                "waived": r.waived,
                "resourceAddress": r.address,
                "severity": r.control.severity,
                "criteria": list(r.control.criteria),
            },
        }
        if r.waiver is not None:
            w = r.waiver
            result["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": f"waived: {plain(w.reason)}",
                    "properties": {
                        "owner": w.owner,
                        "ticket": w.ticket,
                        "expires": w.expires.isoformat(),
                        "waiversFile": w.file,
                    },
                }
            ]
        return result

    def _missing(self, report: Report, control: Control, rule_index: int) -> dict[str, Any]:
        """An account-wide setting the plan does not manage, reported once against the plan."""
        result: dict[str, Any] = {
            "ruleId": control.id,
            "ruleIndex": rule_index,
            "level": "error",
            "message": {
                "text": "not in this configuration: no resource in this plan manages this "
                "account-wide setting (list it in --baseline-elsewhere if another stack does)"
            },
            "partialFingerprints": {"soc2opa/v1": fingerprint(control.id, "(account)")},
            "properties": {"status": "not_in_configuration", "severity": control.severity},
        }
        if report.plan_name not in _NO_FILE:
            plan = _plan_uri(report.plan_name, self.options)
            result["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(plan, self.options)},
                        "region": {"startLine": 1},
                    }
                }
            ]
        return result

    def _run(self, report: Report) -> dict[str, Any]:
        index = {c.id: i for i, c in enumerate(report.controls)}
        failing = {id(r) for r in report.failing()}
        results = [
            self._result(report, r, index[r.control.id], failing)
            for r in report.results
            if r.status != "pass"
        ]
        results += [self._missing(report, c, index[c.id]) for c in report.missing_settings()]
        notes = [{"level": "warning", "message": {"text": plain(w)}} for w in report.warnings()]
        return {
            "tool": {
                "driver": {
                    "name": "soc2opa",
                    "version": report.tool_version,
                    "semanticVersion": report.tool_version,
                    "informationUri": INFORMATION_URI,
                    "rules": [self._rule(c) for c in report.controls],
                }
            },
            "automationDetails": {"id": automation_id(report)},
            "invocations": [
                {
                    "executionSuccessful": True,
                    "exitCode": report.exit_code,
                    "toolExecutionNotifications": notes,
                }
            ],
            "results": results,
            "properties": {
                "plan": report.plan_name,
                "terraformVersion": report.plan.get("terraform_version"),
                "bundleRevision": report.bundle_revision,
                "engine": report.engine,
                "failOn": report.fail_on,
                "strict": report.strict,
            },
        }
