"""The one place errors, signals and broken output streams become one line and an exit code."""

from __future__ import annotations

import errno
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

import click

from soc2opa.errors import Soc2OpaError
from soc2opa.untrusted import escape

# SIGINT too: click would turn KeyboardInterrupt into Abort and print an empty line first.
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived; raised like KeyboardInterrupt so every cleanup runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signum)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _say(line: str) -> None:
    try:
        sys.stderr.write(f"soc2opa: {escape(line)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _finish(code: int, line: str | None = None) -> NoReturn:
    if line is not None:
        _say(line)
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        _silence_stdout()
        if code in (0, 1):
            code_no = getattr(exc, "errno", None)
            reason = os.strerror(code_no) if isinstance(code_no, int) else "write failed"
            _say(f"error: stdout: cannot write the report: {reason}")
            code = 2
    sys.exit(code)


def guarded(call: Callable[[], object]) -> NoReturn:
    """Run the CLI: 0/1 from the command, 2 with one escaped line for every error."""
    for signum in _SIGNALS:
        signal.signal(signum, _stop)
    try:
        returned = call()
    except Soc2OpaError as exc:
        _finish(2, f"error: {exc.message}")
    except click.exceptions.Abort:
        _finish(130, "aborted")
    except KeyboardInterrupt:
        _finish(130, "interrupted")
    except Stopped as exc:
        name = "interrupted" if exc.signum == signal.SIGINT else "stopped by"
        _finish(128 + exc.signum, f"{name} {signal.Signals(exc.signum).name}")
    except click.exceptions.Exit as exc:
        _finish(exc.exit_code)
    except click.ClickException as exc:
        _finish(2, f"error: {exc.format_message()}")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        _finish(code)
    except OSError as exc:
        if exc.errno in (errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EDQUOT):
            _silence_stdout()
            _finish(2, f"error: cannot write output: {os.strerror(exc.errno)}")
        if exc.filename is not None and exc.errno is not None:
            # A file or folder the user named (or the current one) that cannot be used: name it.
            _finish(2, f"error: {exc.filename}: {os.strerror(exc.errno).lower()}")
        _finish(2, _internal(exc))
    except MemoryError:
        _finish(2, "error: out of memory while judging this plan")
    except RecursionError:
        _finish(2, "error: input nested too deeply to process")
    except Exception as exc:
        _finish(2, _internal(exc))
    _finish(returned if isinstance(returned, int) and not isinstance(returned, bool) else 0)


def _internal(exc: BaseException) -> str:
    if os.environ.get("SOC2OPA_DEBUG"):
        raise exc
    return f"internal error: {type(exc).__name__} (set SOC2OPA_DEBUG=1 for details)"
