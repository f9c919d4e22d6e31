"""GitHub Actions workflow commands: an annotation per finding, on the .tf line when known."""

from __future__ import annotations

from collections.abc import Sequence

from soc2opa.formats.base import Format, one_line, where
from soc2opa.formats.text import combined_summary, summary_line
from soc2opa.report import Report, Result


def escape_data(text: str) -> str:
    """The message part of a workflow command (GitHub's escapeData)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value such as file= or title= (GitHub's escapeProperty)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


class GithubFormat(Format):
    """::error for failing results, ::warning for unknown, ::notice for waived ones."""

    name = "github"
    description = "GitHub Actions annotations (::error file=...,line=...::)"

    def render(self, report: Report) -> str:
        """Workflow commands for one plan, then its summary line."""
        return self.render_all([report])

    def render_all(self, reports: Sequence[Report]) -> str:
        """Workflow commands for every plan, then the summary."""
        lines: list[str] = []
        for report in reports:
            failing = {id(r) for r in report.failing()}
            for r in report.results:
                if r.status != "pass":
                    lines.append(self._command(report, r, id(r) in failing))
            for c in report.missing_settings():
                lines.append(
                    f"::error title={escape_property(f'soc2opa {c.id} [{c.severity}]')}::"
                    f"{escape_data(c.title)}: not in this configuration (no resource in this plan "
                    "manages this account-wide setting)"
                )
            for warning in report.warnings():
                lines.append(f"::warning title=soc2opa::{escape_data(one_line(warning))}")
        if len(reports) == 1:
            lines.append(summary_line(reports[0]))
        else:
            lines += [f"{r.plan_name}: {summary_line(r)}" for r in reports]
            lines.append(combined_summary(reports))
        return "\n".join(lines) + "\n"

    def _command(self, report: Report, r: Result, failing: bool) -> str:
        if r.waiver is not None:
            kind = "notice"
        elif failing or r.status == "fail":
            kind = "error"
        else:
            kind = "warning"
        props = []
        found = where(r, self.options)
        if found:
            props += [f"file={escape_property(found[0])}", f"line={found[1]}"]
        title = f"soc2opa {r.control.id} [{r.control.severity}] {r.status}"
        if r.waiver is not None:
            title += " (waived)"
        props.append(f"title={escape_property(title)}")
        message = f"{one_line(r.address)}: {one_line(r.message or '')}"
        if r.waiver is not None:
            message += f" (waived: {one_line(r.waiver.reason)}; owner {one_line(r.waiver.owner)}"
            message += f", until {r.waiver.expires.isoformat()})"
        elif r.status == "fail":
            message += f" Fix: {one_line(r.control.remediation)}"
        return f"::{kind} {','.join(props)}::{escape_data(message)}"
