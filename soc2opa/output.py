"""Writing reports: atomically to files, so a reader never sees half a report; and to stdout."""

from __future__ import annotations

import contextlib
import math
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from soc2opa.errors import UsageError

MAX_TIMEOUT = 86_400.0


def seconds(value: Any, origin: str = "--timeout") -> float:
    """A finite number of seconds above 0 and at most a day, or a usage error naming origin."""
    try:
        number = float(str(value).strip())
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not 0 < number <= MAX_TIMEOUT:
        raise UsageError(
            f"{origin}: {str(value)[:40]!r} is not a number of seconds above 0 "
            f"and at most {MAX_TIMEOUT:g}"
        )
    return number


class Seconds(click.ParamType):  # type: ignore[type-arg]
    """The --timeout option: checked by seconds()."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """The number, or a usage error naming the option."""
        return value if isinstance(value, float) else seconds(value)


SECONDS = Seconds()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def write_stdout(text: str) -> None:
    """Print a report; a full disk or a closed pipe is one usage error, not a traceback."""
    try:
        click.echo(text, nl=False)  # drops colours when stdout is not a terminal
        sys.stdout.flush()
    except OSError as exc:
        raise UsageError(f"stdout: cannot write the report: {exc.strerror}") from None


def _device_allowed(path: Path, info: os.stat_result) -> None:
    """A device or pipe is written to only when named as such: a repository can hold a symbolic
    link (soc2opa.sarif -> /dev/sda) but not a device, so a link to one is refused."""
    if stat.S_ISBLK(info.st_mode):
        raise UsageError(f"--output: {path} is a block device; refusing to write a report to it")
    named_device = str(path).startswith(("/dev/", "/proc/self/fd/"))
    if path.is_symlink() and not named_device:
        raise UsageError(
            f"--output: {path} is a symbolic link to a device or pipe, not a file; "
            "name the device itself (e.g. /dev/stdout) or remove the link"
        )


def write_atomic(path: Path, text: str, inputs: Iterable[str] = ()) -> None:
    """Write text to a temporary file beside path, then rename it over path.

    Refuses to overwrite an input plan. A device or pipe (/dev/null, /dev/stdout) is written
    to directly, since a rename would replace the device node itself.
    """
    for plan in inputs:
        if plan != "-" and _same_file(path, Path(plan)):
            raise UsageError(f"--output: {path} is a plan being judged; choose another file")
    data = text.encode("utf-8")
    try:
        info: os.stat_result | None = os.stat(path)
    except OSError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        _device_allowed(path, info)
        try:
            with open(path, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise UsageError(f"--output: cannot write {path}: {exc.strerror}") from None
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--output: cannot write {path}: no such folder {folder}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"--output: cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(info.st_mode) if info is not None else 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"--output: cannot write {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
