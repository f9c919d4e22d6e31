"""The stable JSON report; its schema is soc2opa/schemas/report.schema.json."""

from __future__ import annotations

from collections.abc import Sequence
from json.encoder import encode_basestring_ascii
from typing import Any

from soc2opa.formats.base import Format, FormatOptions, rel_path
from soc2opa.jsontext import Fragment, dumps_indented, text_at
from soc2opa.report import Control, Report, Result
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


def report_document(
    report: Report,
    options: FormatOptions | None = None,
    rows_as_text: bool = False,
    shared: dict[Any, tuple[Control, str, str]] | None = None,
) -> dict[str, Any]:
    """The report as plain data, every (control, resource) pair included.

    With rows_as_text the controls and results are Fragments that jsontext writes faster than
    the rows; shared keeps the controls' unchanging text between the reports of one rendering.
    """
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
        "controls": _Controls(report.controls, shared)
        if rows_as_text
        else [_control(c) for c in report.controls],
        "results": _Results(report.results, options)
        if rows_as_text
        else [_result(r, options) for r in report.results],
    }


def _control(c: Control) -> dict[str, Any]:
    return {
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


_TEXT_FIELDS = (
    "id", "title", "description", "service", "category", "severity", "remediation",
    "remediation_terraform", "help_uri", "scope", "runtime_evidence",
)  # fmt: skip
_LIST_FIELDS = ("criteria", "resource_types", "reference")


def _all_text(c: Control) -> bool:
    """Whether every field of the entry but status and counts is text or lists of text.

    Only such entries are shared: == then means the same text (1 == 1.0 == True does not).
    """
    return (
        all(type(getattr(c, f)) is str for f in _TEXT_FIELDS)
        and all(type(x) is str for f in _LIST_FIELDS for x in getattr(c, f))
        and type(c.crosswalk) is dict
        and all(type(v) is list and all(type(x) is str for x in v) for v in c.crosswalk.values())
    )


def _same_entry(a: Control, b: Control) -> bool:
    """Whether the two controls' entries differ at most in status and counts."""
    return all(getattr(a, f) == getattr(b, f) for f in (*_TEXT_FIELDS, *_LIST_FIELDS, "crosswalk"))


class _Controls(Fragment):
    """The controls list. An entry differs between plans only in its status and counts, so the
    rest is written once per control for all the plans of one rendering (shared)."""

    def __init__(
        self, controls: Sequence[Control], shared: dict[Any, tuple[Control, str, str]] | None = None
    ) -> None:
        self.controls = controls
        self.shared: dict[Any, tuple[Control, str, str]] = {} if shared is None else shared

    def value(self) -> list[dict[str, Any]]:
        """The entries as plain data."""
        return [_control(c) for c in self.controls]

    def _parts(self, c: Control, k: str, row_nl: str) -> tuple[str, str]:
        key = (c.id, k) if _all_text(c) else None
        cached = self.shared.get(key) if key else None
        if cached is not None and _same_entry(cached[0], c):
            return cached[1], cached[2]
        k2 = k + "  "
        head = (
            f"{{{k}"
            f'"id": {text_at(c.id, k)},{k}'
            f'"title": {text_at(c.title, k)},{k}'
            f'"description": {text_at(c.description, k)},{k}'
            f'"service": {text_at(c.service, k)},{k}'
            f'"category": {text_at(c.category, k)},{k}'
            f'"severity": {text_at(c.severity, k)},{k}'
            f'"criteria": {text_at(list(c.criteria), k)},{k}'
            f'"resource_types": {text_at(list(c.resource_types), k)},{k}'
        )
        tail = (
            f',{k}"remediation": {{{k2}"text": {text_at(c.remediation, k2)},{k2}'
            f'"terraform": {text_at(c.remediation_terraform, k2)}{k}}},{k}'
            f'"crosswalk": {text_at(c.crosswalk, k)},{k}'
            f'"help_uri": {text_at(c.help_uri, k)},{k}'
            f'"scope": {text_at(c.scope, k)},{k}'
            f'"reference": {text_at(list(c.reference), k)},{k}'
            f'"runtime_evidence": {text_at(c.runtime_evidence or None, k)}{row_nl}}}'
        )
        if key:
            self.shared[key] = (c, head, tail)
        return head, tail

    def text(self, nl: str) -> str:
        """The entries as json.dumps(self.value(), indent=2) writes them at indent nl."""
        if not self.controls:
            return "[]"
        row_nl = nl + "  "
        k = row_nl + "  "
        rows = []
        for c in self.controls:
            head, tail = self._parts(c, k, row_nl)
            rows.append(
                f'{head}"status": {text_at(c.status, k)},{k}"counts": {text_at(c.counts, k)}{tail}'
            )
        return "[" + row_nl + ("," + row_nl).join(rows) + nl + "]"


def _str(v: Any, nl: str) -> str:
    return encode_basestring_ascii(v) if type(v) is str else text_at(v, nl)


def _head(r: Result) -> dict[str, Any]:
    return {
        "control_id": r.control.id,
        "title": r.control.title,
        "criteria": list(r.control.criteria),
        "severity": r.control.severity,
    }


def _tail(r: Result, options: FormatOptions) -> dict[str, Any]:
    return {
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


def _result(r: Result, options: FormatOptions) -> dict[str, Any]:
    return _head(r) | _tail(r, options)


class _Results(Fragment):
    """The results list, whose rows repeat their control's fields: those are written once."""

    def __init__(self, results: Sequence[Result], options: FormatOptions) -> None:
        self.results = results
        self.options = options

    def value(self) -> list[dict[str, Any]]:
        """The rows as plain data."""
        return [_result(r, self.options) for r in self.results]

    def text(self, nl: str) -> str:
        """The rows as json.dumps(self.value(), indent=2) writes them at indent nl."""
        if not self.results:
            return "[]"
        row_nl = nl + "  "
        k = row_nl + "  "
        options = self.options
        heads: dict[int, tuple[str, str, str]] = {}
        rows: list[str] = []
        for r in self.results:
            c = r.control
            head = heads.get(id(c))
            if head is None:
                # The control's own fields, up to the row's closing line, written once.
                head = (
                    text_at(_head(r), row_nl).removesuffix(row_nl + "}"),
                    text_at(c.remediation, k),
                    text_at(c.help_uri, k),
                )
                heads[id(c)] = head
            start, remediation, help_uri = head
            rows.append(
                f"{start},{k}"
                f'"resource_address": {_str(r.address, k)},{k}'
                f'"module_address": {_str(r.module_address, k)},{k}'
                f'"resource_type": {_str(r.resource_type, k)},{k}'
                f'"status": {_str(r.status, k)},{k}'
                f'"message": {_str(r.message, k)},{k}'
                f'"remediation": {remediation if r.status != "pass" else "null"},{k}'
                f'"help_uri": {help_uri},{k}'
                f'"waived": {text_at(r.waived, k)},{k}'
                f'"waiver": {text_at(_waiver(r.waiver), k)},{k}'
                f'"location": {text_at(_location(r, options), k)}{row_nl}}}'
            )
        return "[" + row_nl + ("," + row_nl).join(rows) + nl + "]"


class JsonFormat(Format):
    """Machine-readable: every pair with its status, summaries, plan and bundle facts."""

    name = "json"

    description = "the stable report (soc2opa/schemas/report.schema.json), passes included"

    def render(self, report: Report) -> str:
        """Indented JSON with a trailing newline."""
        return dumps_indented(report_document(report, self.options, rows_as_text=True)) + "\n"

    def render_all(self, reports: Sequence[Report]) -> str:
        """One report as is; several as {"reports": [...], "summary": {...}}."""
        if len(reports) == 1:
            return self.render(reports[0])
        shared: dict[Any, tuple[Control, str, str]] = {}
        docs = [report_document(r, self.options, True, shared) for r in reports]
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
