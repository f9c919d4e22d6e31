"""Checks the shape of data.soc2opa.main.report as an engine returned it (a server is untrusted)."""

from __future__ import annotations

from typing import Any

from soc2opa.errors import EngineError

_SEVERITIES = ("low", "medium", "high", "critical")


class _Wrong(Exception):
    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def _need(ok: bool, where: str) -> None:
    if not ok:
        raise _Wrong(where)


def _strings(value: Any, where: str) -> None:
    _need(isinstance(value, list) and all(isinstance(v, str) for v in value), where)


def _string_map(value: Any, where: str) -> None:
    _need(isinstance(value, dict) and all(isinstance(v, str) for v in value.values()), where)


def _control(cid: str, decision: Any) -> None:
    where = f"controls.{cid[:60]}"
    _need(isinstance(decision, dict), where)
    meta = decision.get("meta")
    _need(isinstance(meta, dict), f"{where}.meta")
    for key in ("title", "description"):
        _need(isinstance(meta.get(key, ""), str), f"{where}.meta.{key}")
    custom = meta.get("custom", {})
    _need(isinstance(custom, dict), f"{where}.meta.custom")
    _need(isinstance(custom.get("id"), str), f"{where}.meta.custom.id")
    _need(custom.get("severity", "medium") in _SEVERITIES, f"{where}.meta.custom.severity")
    for key in ("service", "category"):
        _need(isinstance(custom.get(key, ""), str), f"{where}.meta.custom.{key}")
    for key in ("criteria", "resource_types"):
        _strings(custom.get(key, []), f"{where}.meta.custom.{key}")
    remediation = custom.get("remediation", {})
    _string_map(remediation, f"{where}.meta.custom.remediation")
    crosswalk = custom.get("crosswalk", {})
    _need(isinstance(crosswalk, dict), f"{where}.meta.custom.crosswalk")
    for key, ids in crosswalk.items():
        _strings(ids, f"{where}.meta.custom.crosswalk.{str(key)[:40]}")
    _strings(decision.get("pass", []), f"{where}.pass")
    for status in ("fail", "unknown"):
        _string_map(decision.get(status, {}), f"{where}.{status}")


def check_report(value: Any, origin: str) -> dict[str, Any]:
    """The report if every field soc2opa reads has the expected type; else one EngineError."""
    if not isinstance(value, dict) or not {"controls", "problems", "plan"} <= value.keys():
        raise EngineError(
            f"{origin} returned no soc2opa report; is the soc2opa bundle loaded (root soc2opa)?"
        )
    try:
        _strings(value["problems"], "problems")
        plan = value["plan"]
        _need(isinstance(plan, dict), "plan")
        _need(
            isinstance(plan.get("resources_judged", 0), int)
            and not isinstance(plan.get("resources_judged", 0), bool),
            "plan.resources_judged",
        )
        for key in ("format_version", "terraform_version", "source"):
            _need(plan.get(key) is None or isinstance(plan.get(key), str), f"plan.{key}")
        _strings(plan.get("warnings", []), "plan.warnings")
        _need(isinstance(value["controls"], dict), "controls")
        for cid, decision in value["controls"].items():
            _control(cid, decision)
        for key in ("bundle_revision", "opa_version", "min_opa_version"):
            _need(value.get(key) is None or isinstance(value.get(key), str), key)
    except _Wrong as wrong:
        raise EngineError(
            f"{origin} returned a report soc2opa cannot read (wrong type at {wrong.where})"
        ) from None
    return value
