"""The terminal report: failing first, grouped by criterion then control, with the fix."""

from __future__ import annotations

import textwrap

import click

from soc2opa.criteria import CRITERIA, criterion_sort_key
from soc2opa.formats.base import Format
from soc2opa.report import SEVERITIES, Control, Report, Result

_SEVERITY_ORDER = {s: i for i, s in enumerate(reversed(SEVERITIES))}


def _primary(control: Control) -> str:
    return control.criteria[0] if control.criteria else "-"


def _wrap(text: str, indent: str, rest: str | None = None) -> list[str]:
    return textwrap.wrap(text, width=100, initial_indent=indent, subsequent_indent=rest or indent)


class TextFormat(Format):
    """For people: problems first, then a one-line summary per status."""

    name = "text"

    def render(self, report: Report) -> str:
        """The whole terminal report."""
        lines = self._header(report)
        by_control: dict[str, list[Result]] = {}
        for r in report.results:
            by_control.setdefault(r.control.id, []).append(r)
        for status, title in (("fail", "FAILED"), ("unknown", "UNKNOWN UNTIL APPLY")):
            controls = [c for c in report.controls if c.counts[status]]
            if controls:
                lines += [
                    "",
                    click.style(title, bold=True, fg="red" if status == "fail" else "yellow"),
                ]
                lines += self._grouped(controls, by_control, status)
        passed = [c for c in report.controls if c.counts["pass"]]
        if passed:
            lines += ["", click.style("PASSED", bold=True, fg="green")]
            for c in passed:
                judged = sum(c.counts.values())
                lines.append(f"  PASS {c.id}: {c.counts['pass']} of {judged} resources")
        idle = [c.id for c in report.controls if c.status == "not_applicable"]
        if idle:
            lines += ["", f"NOT APPLICABLE (nothing to judge in this plan): {len(idle)} controls"]
            lines += _wrap(", ".join(idle), "  ")
        lines += ["", *self._criteria(report), "", self._summary(report)]
        lines += [click.style(f"warning: {w}", fg="yellow") for w in report.warnings()]
        return "\n".join(lines) + "\n"

    def _header(self, report: Report) -> list[str]:
        plan = report.plan
        return [
            f"soc2opa {report.tool_version}: {report.plan_name} "
            f"(Terraform {plan.get('terraform_version') or '?'}, plan format "
            f"{plan.get('format_version') or '?'}, {plan.get('resources_judged', 0)} resources "
            f"judged), bundle {report.bundle_revision[:12]}, {report.engine}"
        ]

    def _grouped(
        self, controls: list[Control], by_control: dict[str, list[Result]], status: str
    ) -> list[str]:
        lines: list[str] = []
        groups: dict[str, list[Control]] = {}
        for c in controls:
            groups.setdefault(_primary(c), []).append(c)
        for crit in sorted(groups, key=criterion_sort_key):
            lines.append(click.style(f"{crit}  {CRITERIA.get(crit, '')}", bold=True))
            for c in sorted(groups[crit], key=lambda c: (_SEVERITY_ORDER[c.severity], c.id)):
                marker = "FAIL" if status == "fail" else "UNKNOWN"
                lines.append(
                    f"  {marker} [{c.severity}] {c.id}: {c.title} ({', '.join(c.criteria)})"
                )
                for r in by_control[c.id]:
                    if r.status == status:
                        lines += _wrap(f"{r.address}: {r.message}", "      - ", "        ")
                lines += _wrap(f"fix: {c.remediation}", "      ")
                if status == "fail" and c.remediation_terraform:
                    lines += [
                        "        " + ln for ln in c.remediation_terraform.rstrip().splitlines()
                    ]
                if c.help_uri:
                    lines.append(f"      more: {c.help_uri}")
        return lines

    def _criteria(self, report: Report) -> list[str]:
        lines = ["By criterion:"]
        for crit, entry in report.by_criterion().items():
            lines.append(
                f"  {crit:<6} {entry['fail']:>4} fail {entry['unknown']:>4} unknown "
                f"{entry['pass']:>4} pass   {entry['name']}"
            )
        return lines

    def _summary(self, report: Report) -> str:
        counts = report.counts()
        ctl = report.control_counts()
        failing = len(report.failing())
        verdict = (
            f"exit 1: {failing} failing at or above {report.fail_on}"
            if failing
            else f"exit 0: nothing failing at or above {report.fail_on}"
        )
        return (
            f"Summary: {counts['fail']} failed, {counts['unknown']} unknown, "
            f"{counts['pass']} passed "
            f"across {len(report.controls) - ctl['not_applicable']} controls "
            f"({ctl['not_applicable']} not applicable); {verdict}."
        )
