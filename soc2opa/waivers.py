"""Waivers: accepted findings with a reason, an owner and an expiry date, read from YAML."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soc2opa.errors import UsageError
from soc2opa.repofile import read_repo_text

if TYPE_CHECKING:
    from soc2opa.report import Report, Result

_FIELDS = ("control", "resource", "reason", "owner", "ticket", "expires")
_REQUIRED = ("control", "reason", "owner", "expires")


class Glob:
    """`*` matches any run of characters, `?` one character; everything else is literal.

    Addresses hold brackets and quotes (module.b["x"]), so fnmatch's [...] classes are not used.
    The Rego side (rego/waivers.rego) gives glob.match the same meaning. A waivers file comes from
    the scanned repository, so matching never backtracks: `*a*a*a*a*b` as one regex takes
    exponential time on a long address. The pieces between stars have fixed lengths, and the
    leftmost place for each middle piece is always a right choice, so one pass decides.
    """

    def __init__(self, pattern: str) -> None:
        pieces = pattern.split("*")
        self._pieces = [re.compile(_piece(p), re.DOTALL) for p in pieces]
        self._last_length = len(pieces[-1])

    def matches(self, text: str) -> bool:
        """Whether the whole text matches the pattern."""
        first, *middle = self._pieces
        if not middle:
            return first.fullmatch(text) is not None
        *middle, last = middle
        start = first.match(text)
        end = len(text) - self._last_length
        if start is None or end < start.end() or last.fullmatch(text, end) is None:
            return False
        position = start.end()
        for piece in middle:
            found = piece.search(text, position, end)
            if found is None:
                return False
            position = found.end()
        return True


def _piece(text: str) -> str:
    return "".join("." if ch == "?" else re.escape(ch) for ch in text)


@dataclass(frozen=True)
class Waiver:
    """One accepted (control, resource) finding, valid through its expiry date (UTC)."""

    index: int
    control: str
    resource: str
    reason: str
    owner: str
    expires: date
    ticket: str | None = None
    file: str = ""

    @cached_property
    def _control_glob(self) -> Glob:
        return Glob(self.control)

    @cached_property
    def _resource_glob(self) -> Glob:
        return Glob(self.resource)

    def matches(self, control_id: str, address: str) -> bool:
        """Whether the waiver covers this (control, resource) pair."""
        return self._control_glob.matches(control_id) and self._resource_glob.matches(address)

    def expired(self, today: date) -> bool:
        """An expiry date is the last day the waiver applies."""
        return today > self.expires

    def label(self) -> str:
        """How messages name the waiver: file, position, and what it covers."""
        where = f"{self.file}: " if self.file else ""
        return f"{where}waiver {self.index} ({self.control} on {self.resource})"

    def as_data(self) -> dict[str, Any]:
        """The waiver as data.soc2opa_waivers holds it (docs/waivers.md)."""
        return {
            "control": self.control,
            "resource": self.resource,
            "reason": self.reason,
            "owner": self.owner,
            "ticket": self.ticket,
            "expires": self.expires.isoformat(),
        }


def _text(entry: dict[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool | dict | list):
        raise UsageError(f"{where}: {key} must be a string")
    text = str(value).strip()
    return text or None


def _expiry(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise UsageError(f"{where}: expires must be a date like 2026-12-31") from None


def _waiver(entry: Any, index: int, name: str) -> Waiver:
    where = f"{name}: waiver {index}"
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: expected a mapping with control, resource, reason, owner")
    unknown = sorted(set(map(str, entry)) - set(_FIELDS))
    if unknown:
        raise UsageError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(_FIELDS)})")
    values = {key: _text(entry, key, where) for key in ("control", "resource", "reason", "owner")}
    if values["control"]:
        where = f"{where} ({values['control']})"
    for key in _REQUIRED:
        if key == "expires":
            if entry.get("expires") in (None, ""):
                raise UsageError(f"{where}: expires is required (the last day it applies)")
        elif not values[key]:
            raise UsageError(f"{where}: {key} is required")
    return Waiver(
        index=index,
        control=str(values["control"]),
        resource=values["resource"] or "*",
        reason=str(values["reason"]),
        owner=str(values["owner"]),
        ticket=_text(entry, "ticket", where),
        expires=_expiry(entry["expires"], where),
        file=name,
    )


def load_waivers(path: Path) -> list[Waiver]:
    """Read a waivers file; UsageError naming the file and entry when one is incomplete."""
    name = str(path)
    try:
        text = read_repo_text(path, "a waivers file")
    except FileNotFoundError:
        raise UsageError(f"{name}: no such waivers file") from None
    except OSError as exc:
        reason = (exc.strerror or "cannot open it").lower()
        raise UsageError(f"{name}: cannot read the waivers file: {reason}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{name}: cannot read the waivers file: not valid UTF-8") from None
    import yaml  # only when there is a waivers file

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise UsageError(f"{name}: not valid YAML{line}") from None
    if doc is None:
        return []
    entries = doc.get("waivers") if isinstance(doc, dict) else doc
    if isinstance(doc, dict) and set(doc) - {"waivers"}:
        raise UsageError(f"{name}: expected one top-level key, waivers")
    if not isinstance(entries, list):
        raise UsageError(f"{name}: expected `waivers:` followed by a list of waivers")
    return [_waiver(entry, i, name) for i, entry in enumerate(entries, start=1)]


def today_utc() -> date:
    """Today's date in UTC, the calendar expiry dates are read in."""
    return datetime.now(UTC).date()


def apply_waivers(reports: Iterable[Report], waivers: list[Waiver], today: date) -> None:
    """Attach live waivers to the fail and unknown results they cover (first match wins).

    A waiver that covers no fail or unknown result in any of the reports is noted as unmatched:
    the finding it accepted is gone, so the waiver can be deleted.
    """
    reports = list(reports)
    live = [w for w in waivers if not w.expired(today)]
    expired = [w for w in waivers if w.expired(today)]
    used: set[int] = set()
    for report in reports:
        waived: list[Result] = []
        for result in report.results:
            match = None
            if result.status != "pass":
                match = next(
                    (w for w in live if w.matches(result.control.id, result.address)), None
                )
            if match is not None:
                used.add(match.index)
                result = dataclasses.replace(result, waiver=match)
            waived.append(result)
        report.results = waived
        report.expired_waivers = expired
        if waivers:
            report.waivers_file = waivers[0].file
    unmatched = [w for w in live if w.index not in used]
    for report in reports:
        report.unmatched_waivers = unmatched


def waivers_data(waivers: list[Waiver]) -> dict[str, Any]:
    """The document OPA and Conftest load as data (`opa eval -d`): data.soc2opa_waivers."""
    return {"soc2opa_waivers": {"waivers": [w.as_data() for w in waivers]}}
