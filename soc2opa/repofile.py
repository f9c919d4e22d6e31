"""Files the scanned repository supplies (config, waivers, .tf): regular files of bounded size.

A pull request can put a FIFO, a device or a huge file where soc2opa expects a config file, a
waivers file or Terraform source; reading one must not hang or exhaust memory (docs/security.md).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from soc2opa.errors import UsageError

MAX_REPO_FILE_BYTES = 16 << 20


def read_repo_text(
    path: Path, what: str, *, encoding: str = "utf-8-sig", errors: str = "strict"
) -> str:
    """The text of a regular file of at most MAX_REPO_FILE_BYTES.

    OSError from opening it propagates (callers name a missing file their own way); a FIFO, a
    device, a folder or a larger file is a UsageError naming the file and what it was meant to be.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{path}: not a regular file, so not read as {what}")
        data = handle.read(MAX_REPO_FILE_BYTES + 1)
    if len(data) > MAX_REPO_FILE_BYTES:
        raise UsageError(
            f"{path}: larger than the limit of {MAX_REPO_FILE_BYTES >> 20} MiB for {what}"
        )
    return data.decode(encoding, errors)
