"""What every target is built from: the Rego tree of a built checkout, and its identity."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from generator.targets.flatten import Module


def policy_modules(root: Path, tests: bool = False) -> list[Module]:
    """The bundle's Rego modules (and with tests, the _test.rego files), sorted by path."""
    return [
        Module(p.relative_to(root).as_posix(), p.read_text())
        for p in sorted((root / "rego").rglob("*.rego"))
        if tests or not p.name.endswith("_test.rego")
    ]


def manifest(root: Path) -> dict[str, object]:
    """The .manifest the main build wrote (revision, version and catalog metadata)."""
    loaded = json.loads((root / "rego" / ".manifest").read_text())
    return loaded if isinstance(loaded, dict) else {}


def catalog_digest(root: Path) -> str:
    """sha256 over the catalog files, so a bundle names the exact catalog it was built from."""
    digest = hashlib.sha256()
    for path in sorted((root / "controls").rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()
