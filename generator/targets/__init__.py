"""Targets of `soc2opa build --target`: OPA, Conftest, Spacelift, Terraform Cloud, Scalr."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from generator.targets.platforms import BUILDERS, SEVERITIES, Options
from soc2opa.errors import EngineError, UsageError

TARGETS = tuple(BUILDERS)
MARKER = ".soc2opa-target"

__all__ = ["MARKER", "SEVERITIES", "TARGETS", "Options", "build_target"]


def _signing_alg(key: Path) -> str:
    text = key.read_text(errors="replace")
    if "EC PRIVATE KEY" in text:
        return "ES256"
    return "RS256" if "PRIVATE KEY" in text else "HS256"


def _write(files: dict[str, str], folder: Path) -> None:
    for rel, text in sorted(files.items()):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _prepare(output: Path, target: str) -> None:
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output: {output} is not a folder")
    if output.is_dir() and any(output.iterdir()):
        if not (output / MARKER).is_file():
            raise UsageError(
                f"--output: {output} is not empty and was not written by soc2opa build --target"
            )
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    (output / MARKER).write_text(f"{target}\n")


def build_target(
    root: Path, opa: Path, target: str, output: Path, tarball: bool = False,
    signing_key: Path | None = None, options: Options | None = None,
) -> Path:  # fmt: skip
    """Write target's policy folder (or, with tarball, one .tar.gz) into output; return it."""
    if target not in BUILDERS:
        raise UsageError(f"--target: unknown target {target!r}; one of {', '.join(TARGETS)}")
    if signing_key is not None and target != "opa":
        raise UsageError("--signing-key signs OPA bundles: use it with --target opa")
    if signing_key is not None and not signing_key.is_file():
        raise UsageError(f"--signing-key: {signing_key} is not a file")
    files = BUILDERS[target](root, options or Options())
    _prepare(output, target)
    if not tarball and signing_key is None:
        _write(files, output)
        return output
    archive = output / f"soc2opa-{target}.tar.gz"
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp, "bundle")
        _write(files, staging)
        if target == "opa":
            cmd = [
                str(opa.resolve()),
                "build",
                "-b",
                ".",
                "--ignore",
                "*_test.rego",
                "-o",
                str(archive.resolve()),
            ]
            if signing_key is not None:
                cmd += [
                    "--signing-key",
                    str(signing_key.resolve()),
                    "--signing-alg",
                    _signing_alg(signing_key),
                ]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=staging)
            if proc.returncode != 0:
                detail = (proc.stderr or proc.stdout).strip().splitlines()
                raise EngineError(f"opa build failed: {' | '.join(detail[:4])}")
        else:
            with tarfile.open(archive, "w:gz") as tar:
                for path in sorted(staging.rglob("*")):
                    if path.is_file():
                        tar.add(path, arcname=path.relative_to(staging).as_posix())
    return archive
