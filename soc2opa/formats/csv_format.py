"""CSV for spreadsheets and evidence: one row per (control, resource), passes included."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from soc2opa.formats.base import Format, one_line, where
from soc2opa.report import Report, Result

COLUMNS = (
    "plan", "control_id", "title", "severity", "status", "waived", "resource_address",
    "module_address", "resource_type", "criteria", "frameworks", "message", "file", "line",
    "waiver_reason", "waiver_owner", "waiver_ticket", "waiver_expires",
)  # fmt: skip


def cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection advice)."""
    text = one_line(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


class CsvFormat(Format):
    """Comma-separated, a header row, RFC 4180 quoting, formulas defused."""

    name = "csv"
    description = "CSV: one row per (control, resource) with criteria and frameworks"

    def render(self, report: Report) -> str:
        """The rows of one plan."""
        return self.render_all([report])

    def render_all(self, reports: Sequence[Report]) -> str:
        """The rows of every plan under one header."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for report in reports:
            for r in report.results:
                writer.writerow(self._row(report, r))
        return out.getvalue()

    def _row(self, report: Report, r: Result) -> list[str]:
        c = r.control
        frameworks = "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(c.crosswalk.items()))
        found = where(r, self.options)
        w = r.waiver
        return [
            cell(report.plan_name), c.id, cell(c.title), c.severity, r.status,
            "yes" if w else "no", cell(r.address), cell(r.module_address), r.resource_type,
            " ".join(c.criteria), cell(frameworks), cell(r.message or ""),
            cell(found[0]) if found else "", str(found[1]) if found else "",
            cell(w.reason) if w else "", cell(w.owner) if w else "",
            cell(w.ticket or "") if w else "", w.expires.isoformat() if w else "",
        ]  # fmt: skip
