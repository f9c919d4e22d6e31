"""What `soc2opa --version` and `soc2opa doctor` report: opa, the bundle, the config file."""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soc2opa import __version__
from soc2opa.config import find_config, load_config
from soc2opa.engine import CATALOG_QUERY, LocalEngine
from soc2opa.errors import Soc2OpaError
from soc2opa.install import PINNED_OPA_VERSION
from soc2opa.tools import default_bundle, find_opa
from soc2opa.waivers import load_waivers


def opa_version(opa: Path) -> str | None:
    """The version `opa version` prints (e.g. 1.22.2), None when it does not answer."""
    try:
        proc = subprocess.run([str(opa), "version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"^Version:\s*(\S+)", proc.stdout, re.MULTILINE)
    return found.group(1) if proc.returncode == 0 and found else None


def bundle_manifest(bundle: Path) -> dict[str, Any]:
    """The bundle's .manifest (revision, roots, metadata); {} when it cannot be read."""
    try:
        with tarfile.open(bundle, "r:gz") as tar:
            for member in tar.getmembers():
                if member.name.lstrip("/") == ".manifest":
                    handle = tar.extractfile(member)
                    if handle is not None:
                        doc = json.loads(handle.read())
                        return doc if isinstance(doc, dict) else {}
    except (OSError, tarfile.TarError, ValueError):
        return {}
    return {}


def _bundle_line(bundle: Path) -> str:
    manifest = bundle_manifest(bundle)
    meta = manifest.get("metadata", {}) if isinstance(manifest.get("metadata"), dict) else {}
    version = f"version {meta.get('version') or __version__}"
    return (
        f"{bundle} ({version}, revision {manifest.get('revision', '?')}, "
        f"{meta.get('controls', '?')} controls)"
    )


def version_text(opa_path: str | None = None) -> str:
    """soc2opa's version, the opa it would run (path and version) and the bundle it would load."""
    lines = [f"soc2opa, version {__version__}"]
    try:
        opa = find_opa(opa_path)
        lines.append(f"opa: {opa} (version {opa_version(opa) or 'unknown'})")
    except Soc2OpaError as exc:
        lines.append(f"opa: not found: {exc.message}")
    try:
        lines.append(f"bundle: {_bundle_line(default_bundle())}")
    except Soc2OpaError as exc:
        lines.append(f"bundle: not found: {exc.message}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Check:
    """One line of `soc2opa doctor`."""

    ok: bool
    what: str
    detail: str


def run_checks(opa_path: str | None, bundle: Path | None, cwd: Path) -> list[Check]:
    """Whether opa runs, the bundle loads in it, and the config file (and waivers) are valid."""
    checks: list[Check] = []
    opa: Path | None = None
    try:
        opa = find_opa(opa_path)
        version = opa_version(opa)
        if version is None:
            checks.append(Check(False, "opa", f"{opa} does not answer `opa version`"))
        else:
            pinned = PINNED_OPA_VERSION.lstrip("v")
            note = "" if version == pinned else f"; soc2opa is tested with {pinned}"
            checks.append(Check(True, "opa", f"{opa} (version {version}{note})"))
    except Soc2OpaError as exc:
        checks.append(Check(False, "opa", exc.message))
    try:
        path = bundle or default_bundle()
        if opa is None:
            checks.append(Check(False, "bundle", f"{path}: not loaded (no opa)"))
        else:
            catalog = LocalEngine(opa, path, timeout=120).query(CATALOG_QUERY)
            if isinstance(catalog, dict) and catalog:
                checks.append(Check(True, "bundle", _bundle_line(path)))
            else:
                checks.append(Check(False, "bundle", f"{path}: carries no soc2opa catalog"))
    except Soc2OpaError as exc:
        checks.append(Check(False, "bundle", exc.message))
    config = find_config(cwd)
    if config is None:
        checks.append(Check(True, "config", f"none in {cwd} (built-in defaults)"))
    else:
        try:
            settings = load_config(config)
            checks.append(Check(True, "config", f"{config}: {len(settings.sources)} settings"))
            if settings.waivers is not None:
                waivers = load_waivers(settings.waivers)
                checks.append(Check(True, "waivers", f"{settings.waivers}: {len(waivers)} waivers"))
        except Soc2OpaError as exc:
            checks.append(Check(False, "config", exc.message))
    return checks
