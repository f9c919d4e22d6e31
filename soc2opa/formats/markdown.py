"""Markdown for a pull-request comment or a job summary: verdict first, details collapsed."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from soc2opa.criteria import CRITERIA, criterion_sort_key
from soc2opa.formats.base import Format, one_line, plain, where
from soc2opa.report import Report, Result

GITHUB_COMMENT_LIMIT = 65_536
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md(text: str) -> str:
    """Untrusted text as inert Markdown: one line, punctuation escaped, no @mentions."""
    escaped = _MD_SPECIAL.sub(r"\\\1", one_line(text).replace("&", "&amp;"))
    return escaped.replace("@", "@\u2060")


def code(text: str) -> str:
    """Untrusted text in a code span that cannot close early or break a table row."""
    return "`" + one_line(text).replace("`", "'").replace("|", "\\|") + "`"


class _Budget:
    """Rows left before the comment would pass GitHub's size limit."""

    def __init__(self, rows: int | None) -> None:
        self.left = rows
        self.cut = 0

    def take(self) -> bool:
        if self.left is None:
            return True
        if self.left <= 0:
            self.cut += 1
            return False
        self.left -= 1
        return True


class MarkdownFormat(Format):
    """A one-line verdict, failures by criterion in a table, the rest in <details>."""

    name = "markdown"
    description = "Markdown for a pull-request comment or $GITHUB_STEP_SUMMARY"

    def render(self, report: Report) -> str:
        """The comment for one plan."""
        return self.render_all([report])

    def render_all(self, reports: Sequence[Report]) -> str:
        """The comment for every plan, cut to fit under GitHub's comment size limit."""
        text = self._document(reports, _Budget(None))
        limit = min(self.options.max_chars, GITHUB_COMMENT_LIMIT - 1)
        if len(text) <= limit:
            return text
        low, high = 0, sum(len(r.results) for r in reports) + 100
        best = self._document(reports, _Budget(0))
        while low <= high:
            mid = (low + high) // 2
            candidate = self._document(reports, _Budget(mid))
            if len(candidate) <= limit:
                best, low = candidate, mid + 1
            else:
                high = mid - 1
        return best

    def _document(self, reports: Sequence[Report], budget: _Budget) -> str:
        lines = [self._verdict(reports), ""]
        for report in reports:
            if len(reports) > 1:
                lines += [f"#### {md(report.plan_name)}", "", self._verdict([report]), ""]
            lines += self._plan(report, budget)
        if budget.cut:
            lines += [
                f"> **Note:** {budget.cut} more rows were cut to stay under GitHub's 65,536-"
                "character comment limit; the SARIF, JSON or CSV report has every finding.",
                "",
            ]
        first = reports[0]
        lines.append(
            f"<sub>soc2opa {first.tool_version} · bundle {first.bundle_revision[:12]} · "
            f"fail-on {first.fail_on}{' · strict' if first.strict else ''}</sub>"
        )
        return "\n".join(lines) + "\n"

    def _verdict(self, reports: Sequence[Report]) -> str:
        failing = sum(len(r.failing()) + len(r.missing_settings()) for r in reports)
        fails = sum(r.counts()["fail"] for r in reports)
        unknown = sum(r.counts()["unknown"] for r in reports)
        passed = sum(r.counts()["pass"] for r in reports)
        waived = sum(len(r.waived()) for r in reports)
        name = code(reports[0].plan_name) if len(reports) == 1 else f"{len(reports)} plans"
        extra = f", {waived} waived" if waived else ""
        counts = f"{fails} failed, {unknown} unknown, {passed} passed{extra}"
        if failing:
            return f"### ❌ soc2opa: {failing} failing in {name} ({counts})"
        return f"### ✅ soc2opa: nothing failing in {name} ({counts})"

    def _where(self, r: Result) -> str:
        found = where(r, self.options)
        return code(f"{found[0]}:{found[1]}") if found else ""

    def _plan(self, report: Report, budget: _Budget) -> list[str]:
        lines: list[str] = []
        failing = [r for r in report.results if r.status == "fail" and not r.waived]
        located = any(r.location for r in report.results)
        if failing:
            columns = ["Criterion", "Severity", "Control", "Resource"]
            columns += ["Where", "Finding"] if located else ["Finding"]
            lines += ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
            pairs = [(r.control.criteria[0] if r.control.criteria else "-", r) for r in failing]
            pairs.sort(key=lambda cr: (criterion_sort_key(cr[0]), cr[1].control.id, cr[1].address))
            for crit, r in pairs:
                if budget.take():
                    lines.append(
                        f"| {crit} {md(CRITERIA.get(crit, ''))} | {r.control.severity} | "
                        f"{code(r.control.id)} | {code(r.address)} | "
                        f"{self._where(r) + ' | ' if located else ''}{md(r.message or '')} |"
                    )
            lines.append("")
        unknown = [r for r in report.results if r.status == "unknown" and not r.waived]
        if unknown:
            title = "Unknown until apply" + (" (failing: --strict)" if report.strict else "")
            lines += self._details(f"{title} ({len(unknown)})", [
                "| Control | Resource | Where | Why |", "| --- | --- | --- | --- |",
                *(f"| {code(r.control.id)} | {code(r.address)} | {self._where(r)} | "
                  f"{md(r.message or '')} |" for r in unknown if budget.take()),
            ])  # fmt: skip
        waived = report.waived()
        if waived:
            waived_rows = []
            for r in waived:
                w = r.waiver
                if w is not None and budget.take():
                    waived_rows.append(
                        f"| {code(r.control.id)} | {code(r.address)} | {r.status} | "
                        f"{md(w.reason)} | {md(w.owner)} | {md(w.ticket or '')} | "
                        f"{w.expires.isoformat()} |"
                    )
            # The summary is HTML, where Markdown code spans do not render.
            by = (
                f" by <code>{html.escape(one_line(report.waivers_file))}</code>"
                if report.waivers_file
                else ""
            )
            lines += self._details(f"Waived ({len(waived)}){by}", [
                "| Control | Resource | Status | Reason | Owner | Ticket | Expires |",
                "| --- | --- | --- | --- | --- | --- | --- |", *waived_rows,
            ])  # fmt: skip
        fixes = [c for c in report.controls if c.counts["fail"]]
        if fixes:
            body: list[str] = []
            for c in fixes:
                if budget.take():
                    body += [f"**{c.id}** ({c.severity}, {', '.join(c.criteria)}): {c.title}.",
                             "", plain(c.remediation), ""]  # fmt: skip
                    if c.remediation_terraform:
                        body += ["```hcl", plain(c.remediation_terraform).rstrip(), "```", ""]
            lines += self._details(f"How to fix ({len(fixes)} controls)", body)
        passed = [c for c in report.controls if c.status == "pass"]
        if passed and (failing or unknown):
            lines += self._details(
                f"Passed ({len(passed)} controls)", [", ".join(code(c.id) for c in passed)]
            )
        for warning in report.warnings():
            lines.append(f"- ⚠️ {md(warning)}")
        if report.warnings():
            lines.append("")
        return lines

    @staticmethod
    def _details(summary: str, body: list[str]) -> list[str]:
        return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]
