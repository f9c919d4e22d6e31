"""`soc2opa install-opa`: go install the pinned opa into the user's data folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from soc2opa.errors import EngineError

# Kept equal to OPA_VERSION in tools.mk (a test compares them).
PINNED_OPA_VERSION = "v1.22.2"
OPA_MODULE = "github.com/open-policy-agent/opa"


def user_data_dir() -> Path:
    """soc2opa's per-user data folder (XDG on Linux, Application Support on macOS, LOCALAPPDATA)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "soc2opa"


def user_opa() -> Path:
    """Where install-opa puts opa; find_opa looks here after .tools/bin."""
    return user_data_dir() / "bin" / ("opa.exe" if sys.platform == "win32" else "opa")


def install_opa(version: str = PINNED_OPA_VERSION, timeout: float = 1800.0) -> Path:
    """Run `go install` for opa at the version into the data folder; the installed binary."""
    go = shutil.which("go")
    if go is None:
        raise EngineError(
            "install-opa needs Go on PATH (https://go.dev/dl/); or download opa "
            f"{version} from https://github.com/open-policy-agent/opa/releases"
        )
    target = user_opa()
    target.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(target.parent)}
    try:
        proc = subprocess.run(
            [go, "install", f"{OPA_MODULE}@{version}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise EngineError(
            f"go install {OPA_MODULE}@{version} took longer than {timeout:g}s"
        ) from None
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if ln.strip()), "no message")
        raise EngineError(f"go install {OPA_MODULE}@{version} failed: {first[:300]}")
    if not target.is_file():
        raise EngineError(f"go install finished but {target} is missing")
    return target
