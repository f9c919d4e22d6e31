"""Running the opa binary in its own process group, killed as a group on timeout or interrupt."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path


class OpaTimeout(Exception):
    """opa ran longer than the deadline; its whole process group has been killed."""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The group outlives its leader while any member runs, so its id cannot be reused yet.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_opa(
    opa: Path, args: list[str], *, stdin: bytes | None = None, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    """Run opa with args; the input goes through a pipe, never through a temporary file."""
    proc = subprocess.Popen(
        [str(opa), *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise OpaTimeout() from None
    finally:
        # Also on KeyboardInterrupt and on SIGTERM/SIGHUP (turned into exceptions by the CLI):
        # opa runs in its own session, so no terminal signal reaches it unless we send one.
        _kill_group(proc)
        if proc.poll() is None:
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
