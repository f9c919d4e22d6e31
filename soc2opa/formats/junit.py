"""JUnit XML for test dashboards: a testsuite per control, a testcase per resource."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from soc2opa.formats.base import Format, one_line, plain, where
from soc2opa.report import Control, Report, Result

# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    return _NOT_XML.sub("?", plain(text))


class JunitFormat(Format):
    """Failures for fail; skipped for waived results and for unknown ones unless --strict."""

    name = "junit"
    description = "JUnit XML: a testsuite per control, a testcase per (control, resource)"

    def render(self, report: Report) -> str:
        """One <testsuites> document."""
        return self.render_all([report])

    def render_all(self, reports: Sequence[Report]) -> str:
        """One <testsuites> document with the suites of every plan."""
        root = ET.Element("testsuites", name="soc2opa")
        totals = {"tests": 0, "failures": 0, "skipped": 0}
        for report in reports:
            prefix = f"{report.plan_name}: " if len(reports) > 1 else ""
            by_control: dict[str, list[Result]] = {}
            for r in report.results:
                by_control.setdefault(r.control.id, []).append(r)
            missing = {c.id for c in report.missing_settings()}
            for control in report.controls:
                results = by_control.get(control.id)
                if results:
                    suite = self._suite(report, control, results, prefix)
                elif control.status in ("not_in_configuration", "needs_runtime_evidence"):
                    suite = self._without_results(control, prefix, control.id in missing)
                else:
                    continue
                root.append(suite)
                for key in totals:
                    totals[key] += int(suite.get(key, "0"))
        for key, value in totals.items():
            root.set(key, str(value))
        root.set("errors", "0")
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"

    def _without_results(self, control: Control, prefix: str, failing: bool) -> ET.Element:
        """One testcase for a control that has no per-resource results."""
        suite = ET.Element("testsuite", name=_x(prefix + control.id))
        case = ET.SubElement(
            suite, "testcase", classname=_x(f"soc2opa.{control.id}"), name=control.status
        )
        if control.status == "needs_runtime_evidence":
            ET.SubElement(
                case, "skipped", message=_x(f"needs runtime evidence: {control.runtime_evidence}")
            )
        elif failing:
            failure = ET.SubElement(
                case,
                "failure",
                message="not in this configuration: no resource in this plan manages this "
                "account-wide setting",
                type=f"not_in_configuration:{control.severity}",
            )
            failure.text = _x(f"fix: {control.remediation}")
        else:
            ET.SubElement(case, "skipped", message="not in this configuration (baseline elsewhere)")
        failed = len(case.findall("failure"))
        suite.set("tests", "1")
        suite.set("failures", str(failed))
        suite.set("errors", "0")
        suite.set("skipped", str(1 - failed))
        return suite

    def _suite(
        self, report: Report, control: Control, results: list[Result], prefix: str
    ) -> ET.Element:
        suite = ET.Element("testsuite", name=_x(prefix + control.id))
        props = ET.SubElement(suite, "properties")
        for key, value in (
            ("title", control.title),
            ("severity", control.severity),
            ("criteria", ",".join(control.criteria)),
            ("plan", report.plan_name),
        ):
            ET.SubElement(props, "property", name=key, value=_x(value))
        failures = skipped = 0
        for r in results:
            case = ET.SubElement(
                suite, "testcase", classname=_x(f"soc2opa.{control.id}"), name=_x(r.address)
            )
            found = where(r, self.options)
            if found:
                case.set("file", _x(found[0]))
                case.set("line", str(found[1]))
            message = one_line(r.message or "")
            if r.waiver is not None:
                w = r.waiver
                skipped += 1
                ET.SubElement(
                    case,
                    "skipped",
                    message=_x(f"waived ({r.status}): {one_line(w.reason)} "
                               f"[{one_line(w.owner)}, until {w.expires.isoformat()}]"),
                )  # fmt: skip
            elif r.status == "fail" or (r.status == "unknown" and report.strict):
                failures += 1
                failure = ET.SubElement(
                    case, "failure", message=_x(message), type=f"{r.status}:{control.severity}"
                )
                failure.text = _x(f"{one_line(r.address)}: {message}\nfix: {control.remediation}")
            elif r.status == "unknown":
                skipped += 1
                ET.SubElement(case, "skipped", message=_x(f"unknown until apply: {message}"))
        suite.set("tests", str(len(results)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", str(skipped))
        return suite
