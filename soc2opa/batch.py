"""Judging several plans in one run: files, folders of plans and stdin, one opa process."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from soc2opa.engine import QUERY, Engine, LocalEngine
from soc2opa.errors import EngineError, InputError, UsageError
from soc2opa.planfile import PlanFile, open_plan

STDIN_NAME = "(stdin)"
# One opa process judges every plan: each one becomes the input of the report in turn.
BATCH_QUERY = f"[r | some p in input.plans; r := {QUERY} with input as p]"


def expand_plan_args(args: tuple[str, ...]) -> list[str]:
    """Plan arguments in order: files as given, a folder's *.json files sorted, `-` for stdin."""
    out: list[str] = []
    for arg in args:
        if arg == "-":
            if "-" in out:
                raise UsageError("`-` (stdin) can be given only once")
            out.append("-")
            continue
        path = Path(arg)
        if path.is_dir():
            found = sorted(str(p) for p in path.glob("*.json") if p.is_file())
            if not found:
                raise InputError(f"{arg}: is a directory with no *.json plan in it")
            out += found
        else:
            out.append(arg)
    return out


@contextmanager
def open_plans(names: list[str], stdin: BinaryIO | None = None) -> Iterator[list[PlanFile]]:
    """Validated plan files for the engine; stdin is saved to a temporary file first."""
    with ExitStack() as stack:
        files: list[PlanFile] = []
        for name in names:
            if name == "-":
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soc2opa-")))
                data = (stdin or sys.stdin.buffer).read()
                path = tmp / "stdin.json"
                path.write_bytes(data)
                try:
                    plan = stack.enter_context(open_plan(path))
                except InputError as exc:
                    raise InputError(exc.message.replace(str(path), STDIN_NAME, 1)) from None
                files.append(PlanFile(name=STDIN_NAME, path=plan.path))
            else:
                files.append(stack.enter_context(open_plan(Path(name))))
        yield files


def _combined_input(plans: list[PlanFile], folder: Path) -> PlanFile:
    path = folder / "plans.json"
    with path.open("wb") as out:
        out.write(b'{"plans":[')
        for i, plan in enumerate(plans):
            if i:
                out.write(b",")
            out.write(plan.path.read_bytes().removeprefix(b"\xef\xbb\xbf"))
        out.write(b"]}")
    return PlanFile(name="plans", path=path)


def evaluate_all(engine: Engine, plans: list[PlanFile]) -> list[dict[str, Any]]:
    """The raw report of each plan, in order; one opa eval for all when the engine is local."""
    if isinstance(engine, LocalEngine) and len(plans) > 1:
        with tempfile.TemporaryDirectory(prefix="soc2opa-") as tmp:
            try:
                value = engine.query(BATCH_QUERY, _combined_input(plans, Path(tmp)))
            except (EngineError, InputError):
                value = None
        if isinstance(value, list) and len(value) == len(plans):
            return [_checked(v, p) for v, p in zip(value, plans, strict=True)]
        # Something in one plan upset the shared run: judge them one by one to name it.
    return [_checked(engine.evaluate(p), p) for p in plans]


def _checked(raw: Any, plan: PlanFile) -> dict[str, Any]:
    if not isinstance(raw, dict) or not {"controls", "problems", "plan"} <= raw.keys():
        raise EngineError("opa eval returned no soc2opa report; is the soc2opa bundle loaded?")
    if raw["problems"]:
        raise InputError(f"{plan.name}: {sorted(raw['problems'])[0]}")
    return raw
