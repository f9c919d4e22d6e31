"""Locating the opa binary and the default policy bundle."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from soc2opa.errors import EngineError
from soc2opa.install import PINNED_OPA_VERSION, user_opa

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_DIR = _PACKAGE_DIR.parent
# The oldest OPA the bundle is built for; written into the bundle's manifest and build.rego.
MIN_OPA_VERSION = "1.0.0"


def find_opa(explicit: str | None = None) -> Path:
    """The opa binary: --opa-path, then $SOC2OPA_OPA, this install's .tools/bin, the
    data folder of `soc2opa install-opa`, then PATH.

    The current directory is never searched: a scanned repository must not be able to ship the
    program that judges it.
    """
    for candidate, origin in (
        (explicit, "--opa-path"),
        (os.environ.get("SOC2OPA_OPA"), "SOC2OPA_OPA"),
    ):
        if candidate:
            path = Path(candidate)
            try:
                usable = path.is_file() and os.access(path, os.X_OK)
            except (OSError, ValueError):
                usable = False
            if usable:
                return path
            raise EngineError(f"{origin}: {candidate} is not an executable opa binary")
    local = _REPO_DIR / ".tools" / "bin" / "opa"
    if local.is_file() and os.access(local, os.X_OK):
        return local
    installed = user_opa()
    if installed.is_file() and os.access(installed, os.X_OK):
        return installed
    # Relative PATH entries ("", ".") would mean the current directory again.
    for folder in os.get_exec_path():
        if os.path.isabs(folder):
            found = shutil.which("opa", path=folder)
            if found:
                return Path(found)
    raise EngineError(
        f"opa not found: install OPA {PINNED_OPA_VERSION} from "
        "https://github.com/open-policy-agent/opa/releases (put it on PATH), or "
        f"`go install github.com/open-policy-agent/opa@{PINNED_OPA_VERSION}`, or your package "
        "manager (brew install opa), or run `soc2opa install-opa`; or pass --opa-path"
    )


def default_bundle() -> Path:
    """The bundle shipped with soc2opa: $SOC2OPA_BUNDLE, the wheel's copy, or the checkout's."""
    env = os.environ.get("SOC2OPA_BUNDLE")
    if env:
        return Path(env)
    for path in (
        _PACKAGE_DIR / "_bundle" / "soc2opa.tar.gz",
        _REPO_DIR / "bundles" / "soc2opa.tar.gz",
    ):
        if path.is_file():
            return path
    raise EngineError("no policy bundle found: run `soc2opa build` or pass --bundle")
