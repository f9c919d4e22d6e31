"""The terminal report: failing first, grouped by criterion then control, with the fix."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import Any

import click

from soc2opa.criteria import CRITERIA, criterion_sort_key
from soc2opa.formats.base import Format, rel_path, where
from soc2opa.frameworks import FRAMEWORKS
from soc2opa.report import SEVERITIES, Control, Report, Result
from soc2opa.untrusted import escape

# The whitespace textwrap turns into spaces; a text without it needs no wrapping when short.
_BREAKS = re.compile(r"[\t\n\x0b\x0c\r]")

_SEVERITY_ORDER = {s: i for i, s in enumerate(reversed(SEVERITIES))}


def _primary(control: Control) -> str:
    return control.criteria[0] if control.criteria else "-"


class TextFormat(Format):
    """For people: problems first, then a one-line summary per status."""

    name = "text"
    description = "for a terminal: failing first, grouped by criterion, with the fix"

    def _style(self, text: str, **kwargs: Any) -> str:
        return click.style(text, **kwargs) if self.options.color else text

    def _wrap(self, text: str, indent: str, rest: str | None = None) -> list[str]:
        width = max(self.options.width, 40)
        short = text and len(indent) + len(text) <= width and text == text.rstrip()
        if short and not _BREAKS.search(text):
            return [indent + text]  # what textwrap gives for a short line, without its splitting
        return textwrap.wrap(
            text,
            width=width,
            initial_indent=indent,
            subsequent_indent=rest or indent,
            break_on_hyphens=False,
        )

    def render_all(self, reports: Sequence[Report]) -> str:
        """Each plan's report, then a combined summary line when there are several (quiet: each
        plan's summary line, named, then the combined one)."""
        if len(reports) == 1:
            return self.render(reports[0])
        if self.options.quiet:
            body = "".join(f"{escape(r.plan_name)}: {self._summary(r)}\n" for r in reports)
        else:
            body = "\n".join(self.render(r) for r in reports) + "\n"
        return body + combined_summary(reports) + "\n"

    def render(self, report: Report) -> str:
        """The whole terminal report (the summary line alone when quiet)."""
        if self.options.quiet:
            return self._summary(report) + "\n"
        lines = self._header(report)
        by_control: dict[str, list[Result]] = {}
        for r in report.results:
            by_control.setdefault(r.control.id, []).append(r)
        for status, title in (("fail", "FAILED"), ("unknown", "UNKNOWN UNTIL APPLY")):
            controls = [c for c in report.controls if c.counts[status]]
            if controls:
                lines += [
                    "",
                    self._style(title, bold=True, fg="red" if status == "fail" else "yellow"),
                ]
                lines += self._grouped(controls, by_control, status)
        passed = [c for c in report.controls if c.counts["pass"]]
        if passed:
            lines += ["", self._style("PASSED", bold=True, fg="green")]
            for c in passed:
                judged = sum(c.counts.values())
                lines.append(f"  PASS {escape(c.id)}: {c.counts['pass']} of {judged} resources")
        lines += self._without_results(report)
        idle = [c.id for c in report.controls if c.status == "not_applicable"]
        if idle:
            lines += ["", f"NOT APPLICABLE (nothing to judge in this plan): {len(idle)} controls"]
            lines += self._wrap(", ".join(escape(i) for i in idle), "  ")
        waived = report.waived()
        if waived:
            lines += ["", self._style(f"WAIVED ({len(waived)}, not failing the run)", bold=True)]
            for r in waived:
                w = r.waiver
                assert w is not None
                ticket = f", {escape(w.ticket)}" if w.ticket else ""
                lines += self._wrap(
                    f"{escape(r.control.id)} {escape(r.address)} [{r.status}]: waived: "
                    f"{escape(w.reason)} ({escape(w.owner)}{ticket}, "
                    f"until {w.expires.isoformat()})",
                    "  - ",
                    "    ",
                )
        lines += ["", *self._criteria(report), "", self._summary(report)]
        lines += [self._style(f"warning: {escape(w)}", fg="yellow") for w in report.warnings()]
        return "\n".join(lines) + "\n"

    def _header(self, report: Report) -> list[str]:
        plan = report.plan
        cov = report.coverage()
        opa = report.opa
        where_opa = opa.get("path") or opa.get("url")
        ran = f" (OPA {opa.get('version') or '?'}, {where_opa})" if opa else ""
        lines = [
            f"soc2opa {report.tool_version}: {escape(report.plan_name)} "
            f"(Terraform {escape(str(plan.get('terraform_version') or '?'))}, {report.kind} format "
            f"{escape(str(plan.get('format_version') or '?'))}, {cov['resources']} resources, "
            f"{cov['resources_judged']} judged by a control), bundle "
            f"{escape(report.bundle_revision[:12])}, {report.engine}{escape(ran)}"
        ]
        if report.waivers_from:
            digest = f", sha256 {report.waivers_sha256[:12]}" if report.waivers_sha256 else ""
            lines.append(
                f"waivers: {escape(report.waivers_file or '?')} (chosen by "
                f"{escape(report.waivers_from)}{digest})"
            )
        return lines

    def _without_results(self, report: Report) -> list[str]:
        lines: list[str] = []
        absent = report.with_status("not_in_configuration")
        if absent:
            failing = {c.id for c in report.missing_settings()}
            lines += [
                "",
                self._style(
                    "NOT IN THIS CONFIGURATION (account-wide settings this plan does not manage)",
                    bold=True,
                    fg="red" if failing else None,
                ),
            ]
            for c in absent:
                verdict = (
                    "fails the run (list it in --baseline-elsewhere if another stack manages it)"
                    if c.id in failing
                    else "proven elsewhere (baseline)"
                    if c.id in report.baseline_elsewhere or "all" in report.baseline_elsewhere
                    else "below --fail-on"
                )
                lines += self._wrap(
                    escape(f"[{c.severity}] {c.id}: {c.title} ({', '.join(c.criteria)})")
                    + f": {verdict}",
                    "  ",
                    "      ",
                )
        runtime = report.with_status("needs_runtime_evidence")
        if runtime:
            lines += [
                "",
                self._style("NEEDS RUNTIME EVIDENCE (a plan cannot decide these)", bold=True),
            ]
            for c in runtime:
                lines += self._wrap(
                    escape(f"{c.id}: {c.title} ({', '.join(c.criteria)})"), "  ", "      "
                )
                lines += self._wrap(f"evidence: {escape(c.runtime_evidence)}", "      ")
        uncovered = report.coverage()["uncovered_types"]
        if uncovered:
            lines += [
                "",
                f"NOT COVERED: {len(uncovered)} resource types in this plan no control judges",
            ]
            lines += self._wrap(", ".join(f"{escape(t)} ({n})" for t, n in uncovered.items()), "  ")
        return lines

    def _grouped(
        self, controls: list[Control], by_control: dict[str, list[Result]], status: str
    ) -> list[str]:
        lines: list[str] = []
        groups: dict[str, list[Control]] = {}
        for c in controls:
            groups.setdefault(_primary(c), []).append(c)
        for crit in sorted(groups, key=criterion_sort_key):
            lines.append(self._style(f"{escape(crit)}  {CRITERIA.get(crit, '')}", bold=True))
            for c in sorted(groups[crit], key=lambda c: (_SEVERITY_ORDER[c.severity], c.id)):
                marker = "FAIL" if status == "fail" else "UNKNOWN"
                lines.append(
                    escape(f"  {marker} [{c.severity}] {c.id}: {c.title} ({', '.join(c.criteria)})")
                )
                for r in by_control[c.id]:
                    if r.status == status:
                        lines += self._wrap(self._finding(r), "      - ", "        ")
                lines += self._wrap(f"fix: {escape(c.remediation)}", "      ")
                if status == "fail" and c.remediation_terraform:
                    lines += [
                        "        " + escape(ln)
                        for ln in c.remediation_terraform.rstrip().splitlines()
                    ]
                if c.help_uri:
                    lines.append(f"      more: {escape(c.help_uri)}")
        return lines

    def _finding(self, r: Result) -> str:
        text = f"{escape(r.address)}: {escape(r.message or '')}"
        found = where(r, self.options)
        if found:
            text += f" (at {escape(found[0])}:{found[1]}"
            assert r.location is not None
            for call, line in r.location.module_calls:
                path = escape(rel_path(line.path, self.options))
                text += f"; {escape(call)} at {path}:{line.line}"
            text += ")"
        if r.waiver is not None:
            text += f" [waived: {escape(r.waiver.reason)}]"
        return text

    def _criteria(self, report: Report) -> list[str]:
        if report.framework != "soc2":
            lines = [f"By {FRAMEWORKS[report.framework][1]}:"]
            for fid, entry in report.by_framework().items():
                lines.append(
                    f"  {escape(fid):<18} {entry['fail']:>4} fail {entry['unknown']:>4} unknown "
                    f"{entry['pass']:>4} pass   {len(entry['controls'])} controls"
                )
            return lines
        lines = ["By criterion:"]
        for crit, entry in report.by_criterion().items():
            idle = entry["controls_without_results"]
            lines.append(
                f"  {escape(crit):<6} {entry['fail']:>4} fail {entry['unknown']:>4} unknown "
                f"{entry['pass']:>4} pass  {idle['not_in_configuration']:>2} absent "
                f"{idle['needs_runtime_evidence']:>2} runtime {idle['not_applicable']:>3} n/a   "
                f"{entry['name']}"
            )
        return lines

    def _summary(self, report: Report) -> str:
        return summary_line(report)


def _verdict(failing: int, fail_on: str) -> str:
    if failing:
        return f"exit 1: {failing} failing at or above {fail_on}"
    return f"exit 0: nothing failing at or above {fail_on}"


def summary_line(report: Report) -> str:
    """The one-line summary of one plan (what --quiet prints)."""
    counts = report.counts()
    ctl = report.control_counts()
    waived = len(report.waived())
    waived_text = f", {waived} waived" if waived else ""
    judged = ctl["pass"] + ctl["fail"] + ctl["unknown"]
    missing = report.missing_settings()
    return (
        f"Summary: {counts['fail']} failed, {counts['unknown']} unknown, "
        f"{counts['pass']} passed{waived_text} "
        f"across {judged} controls ({ctl['not_applicable']} not applicable, "
        f"{ctl['not_in_configuration']} not in this configuration, "
        f"{ctl['needs_runtime_evidence']} need runtime evidence); "
        f"{_verdict(len(report.failing()) + len(missing), report.fail_on)}."
    )


def combined_summary(reports: Sequence[Report]) -> str:
    """One line over several plans: counts added up, exit code over all of them."""
    totals = dict.fromkeys(("fail", "unknown", "pass"), 0)
    for r in reports:
        for status, n in r.counts().items():
            totals[status] += n
    waived = sum(len(r.waived()) for r in reports)
    failing = sum(len(r.failing()) + len(r.missing_settings()) for r in reports)
    bad = sum(1 for r in reports if r.exit_code)
    waived_text = f", {waived} waived" if waived else ""
    return (
        f"Combined: {len(reports)} plans ({bad} failing): {totals['fail']} failed, "
        f"{totals['unknown']} unknown, {totals['pass']} passed{waived_text}; "
        f"{_verdict(failing, reports[0].fail_on)}."
    )
