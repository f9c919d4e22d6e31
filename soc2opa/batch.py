"""Judging several plans in one run: files, folders of plans and stdin, one opa process."""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from soc2opa.engine import Engine, LocalEngine, check_opa_version
from soc2opa.errors import InputError, UsageError
from soc2opa.planfile import PlanFile, open_plan, parse_plan, read_fd
from soc2opa.report_shape import check_report

STDIN_NAME = "(stdin)"


def expand_plan_args(args: tuple[str, ...]) -> list[str]:
    """Plan arguments in order: files as given, a folder's *.json files sorted, `-` for stdin."""
    out: list[str] = []
    for arg in args:
        if arg == "-":
            if "-" in out:
                raise UsageError("`-` (stdin) can be given only once")
            out.append("-")
            continue
        if _is_dir(arg):
            found = _plans_in(arg)
            if not found:
                raise InputError(f"{arg}: is a directory with no *.json plan in it")
            out += found
        else:
            out.append(arg)  # the plan reader names what is wrong with it, if anything
    return out


def _is_dir(arg: str) -> bool:
    # Path.is_dir() raises on a folder the user cannot enter; the plan reader names that case.
    try:
        return stat.S_ISDIR(os.stat(arg).st_mode)
    except (OSError, ValueError):
        return False


def _plans_in(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            names = [e.path for e in entries if e.name.endswith(".json") and _is_file(e)]
    except OSError as exc:
        reason = (
            "permission denied"
            if exc.errno in (errno.EACCES, errno.EPERM)
            else ((exc.strerror or "cannot list it").lower())
        )
        raise InputError(f"{folder}: cannot list the folder: {reason}") from None
    return sorted(names)


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return True  # listed, so the plan reader says why it cannot be read


@contextmanager
def open_plans(
    names: list[str], stdin: BinaryIO | None = None, timeout: float | None = None
) -> Iterator[list[PlanFile]]:
    """Validated plans for the engine, read once each; stdin is read in memory, never saved."""
    with ExitStack() as stack:
        files: list[PlanFile] = []
        for name in names:
            if name == "-":
                source = stdin or sys.stdin.buffer
                files.append(parse_plan(_read_stdin(source, timeout), STDIN_NAME))
            else:
                files.append(stack.enter_context(open_plan(Path(name), *_t(timeout))))
        yield files


def _t(timeout: float | None) -> tuple[float, ...]:
    return () if timeout is None else (timeout,)


def _read_stdin(source: BinaryIO, timeout: float | None) -> bytes:
    try:
        fd = source.fileno()
    except (OSError, ValueError, AttributeError):
        return source.read()
    # Through the plan reader, so a pipe is read within the size limit and the deadline, and a
    # terminal is refused instead of waited on.
    if timeout is None:
        return read_fd(os.dup(fd), STDIN_NAME)
    return read_fd(os.dup(fd), STDIN_NAME, timeout)


def evaluate_all(engine: Engine, plans: list[PlanFile]) -> list[dict[str, Any]]:
    """The raw report of each plan, in order; one short-lived opa server for several local ones."""
    if isinstance(engine, LocalEngine) and len(plans) > 1:
        values = engine.evaluate_many(plans)
        if values is not None and len(values) == len(plans):
            return [_checked(v, p, engine) for v, p in zip(values, plans, strict=True)]
        # Something in one plan upset the shared server: judge them one by one to name it.
    return [_checked(engine.evaluate(p), p, engine) for p in plans]


def _checked(raw: Any, plan: PlanFile, engine: Engine) -> dict[str, Any]:
    report = check_report(raw, f"{engine.name} on {plan.name}")
    if isinstance(engine, LocalEngine):
        check_opa_version(report, str(engine.opa))
    if report["problems"]:
        raise InputError(f"{plan.name}: {sorted(report['problems'])[0]}")
    return report
