"""Writing reports: atomically to files, so a reader never sees half a report."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from soc2opa.errors import UsageError


def write_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file beside path, then rename it over path."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--output: cannot write {path}: no such folder {folder}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"--output: cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"--output: cannot write {path}: {exc.strerror}") from None
