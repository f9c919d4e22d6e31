"""Settings for `soc2opa eval`: built-in defaults, then the config file, then command-line flags."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soc2opa.errors import UsageError
from soc2opa.repofile import read_repo_text
from soc2opa.report import SEVERITIES

CONFIG_NAMES = (".soc2opa.yaml", ".soc2opa.yml")
LIST_KEYS = (
    "controls", "exclude_controls", "criteria", "exclude_criteria", "baseline_elsewhere",
    "outputs",
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """Everything that shapes one `soc2opa eval` run, wherever each value came from."""

    fail_on: str = "low"
    strict: bool = False
    format: str = "text"
    outputs: tuple[str, ...] = ()
    waivers: Path | None = None
    controls: tuple[str, ...] = ()
    exclude_controls: tuple[str, ...] = ()
    criteria: tuple[str, ...] = ()
    exclude_criteria: tuple[str, ...] = ()
    # Account-wide controls another Terraform stack proves (e.g. the organisation trail): when
    # this plan does not manage the setting, the control is reported but does not fail the run.
    baseline_elsewhere: tuple[str, ...] = ()
    framework: str = "soc2"
    tf_dir: Path | None = None
    bundle: Path | None = None
    opa_path: str | None = None
    timeout: float = 600.0
    source: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)


# A config file lives in the scanned repository, which must not choose the program or the policy
# that judge it: these come from the command line or the environment only.
COMMAND_LINE_ONLY = {
    "opa_path": ("the opa that judges it", "--opa-path or $SOC2OPA_OPA"),
    "bundle": ("the policy that judges it", "--bundle or $SOC2OPA_BUNDLE"),
}

_TYPES: dict[str, type] = {
    "fail_on": str, "strict": bool, "format": str, "framework": str, "waivers": str, "tf_dir": str,
    "timeout": float,
}  # fmt: skip


def split_list(values: Any) -> tuple[str, ...]:
    """Repeated values or comma lists (`a,b` `c`) as one flat tuple, blanks dropped."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        out += [part.strip() for part in str(value).split(",") if part.strip()]
    return tuple(out)


def find_config(start: Path) -> Path | None:
    """.soc2opa.yaml in the folder, else a pyproject.toml there with a [tool.soc2opa] table."""
    for name in CONFIG_NAMES:
        # Not is_file(): a FIFO or a folder by that name is refused when read, not skipped.
        if os.path.lexists(start / name):
            return start / name
    pyproject = start / "pyproject.toml"
    if pyproject.is_file():
        import tomllib  # only when there is a pyproject.toml

        try:
            doc = tomllib.loads(read_repo_text(pyproject, "pyproject.toml", encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError, UsageError):
            return None
        if isinstance(doc.get("tool"), dict) and "soc2opa" in doc["tool"]:
            return pyproject
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        text = read_repo_text(path, "a config file")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such config file") from None
    except OSError as exc:
        reason = (exc.strerror or "cannot open it").lower()
        raise UsageError(f"{path}: cannot read the config file: {reason}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: cannot read the config file: not valid UTF-8") from None
    if path.name == "pyproject.toml":
        import tomllib

        try:
            doc: Any = tomllib.loads(text).get("tool", {}).get("soc2opa", {})
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML: {exc}") from None
    else:
        import yaml  # only when there is a config file

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            raise UsageError(f"{path}: not valid YAML") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: expected a mapping of settings")
    return {str(k).replace("-", "_"): v for k, v in doc.items()}


def _value(path: Path, key: str, value: Any) -> Any:
    if key in LIST_KEYS:
        items = value if isinstance(value, list) else [value]
        # Strings only: a YAML alias bomb nests lists that str() would expand without bound.
        if not all(isinstance(item, str) for item in items):
            raise UsageError(f"{path}: {key} must be a list of strings")
        return split_list(value)
    expected = _TYPES[key]
    if expected is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected):
        raise UsageError(f"{path}: {key} must be a {expected.__name__}")
    if key == "fail_on" and value not in SEVERITIES:
        raise UsageError(f"{path}: fail_on must be one of {', '.join(SEVERITIES)}")
    if key in ("waivers", "tf_dir"):
        given = Path(str(value))
        return given if given.is_absolute() else path.parent / given
    return value


def load_config(path: Path) -> Settings:
    """Settings from a config file; paths in it are relative to the file's folder."""
    raw = _read(path)
    known = set(_TYPES) | set(LIST_KEYS)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in COMMAND_LINE_ONLY:
            what, how = COMMAND_LINE_ONLY[key]
            raise UsageError(
                f"{path}: {key} cannot be set in a config file (the scanned repository must not "
                f"choose {what}); use {how}"
            )
        if key not in known:
            raise UsageError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
        values[key] = _value(path, key, value)
    return Settings(source=path, sources=dict.fromkeys(values, str(path)), **values)


def merge(base: Settings, overrides: dict[str, Any]) -> Settings:
    """The settings with every command-line value that was given (not None, not empty)."""
    given = {k: v for k, v in overrides.items() if v is not None and v != ()}
    sources = {**base.sources, **dict.fromkeys(given, "command line")}
    return dataclasses.replace(base, sources=sources, **given)
