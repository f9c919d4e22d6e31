"""The frameworks a control maps to: SOC 2 criteria and the crosswalk ids from the reference."""

from __future__ import annotations

from typing import Any

from soc2opa.errors import UsageError

# name on the command line -> (crosswalk key in a control's metadata, what the ids are called)
FRAMEWORKS: dict[str, tuple[str, str]] = {
    "soc2": ("criteria", "SOC 2 criterion"),
    "nist-800-53": ("nist_800_53", "NIST SP 800-53 rev 5 control"),
    "iso-27001": ("iso_27001", "ISO/IEC 27001:2022 Annex A control"),
    "hipaa": ("hipaa", "HIPAA Security Rule section"),
}


def framework_name(value: str, flag: str = "--framework") -> str:
    """The canonical framework name (case-insensitive, nist/iso accepted); UsageError if none."""
    key = value.strip().lower().replace("_", "-")
    key = {"nist": "nist-800-53", "iso": "iso-27001", "soc-2": "soc2"}.get(key, key)
    if key not in FRAMEWORKS:
        raise UsageError(f"{flag}: {value!r} is not one of {', '.join(FRAMEWORKS)}")
    return key


def ids_in(framework: str, criteria: tuple[str, ...], crosswalk: dict[str, Any]) -> list[str]:
    """The ids a control maps to in the framework."""
    if framework == "soc2":
        return list(criteria)
    return [str(x) for x in crosswalk.get(FRAMEWORKS[framework][0], [])]


def sort_key(framework_id: str) -> tuple[Any, ...]:
    """Natural order for ids such as AC-2 < AC-10, A.8.9 < A.8.24, CC6.1 < CC6.10."""
    parts: list[Any] = []
    for chunk in framework_id.replace("-", ".").replace("(", ".").split("."):
        parts.append((0, int(chunk), "") if chunk.isdigit() else (1, 0, chunk))
    return tuple(parts)
