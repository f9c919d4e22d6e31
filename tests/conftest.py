"""Shared fixtures: the real opa binary, the built bundle, and a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from soc2opa.errors import EngineError
from soc2opa.tools import find_opa

ROOT = Path(__file__).resolve().parents[1]
SHARED_PLANS = ROOT.parent / "shared" / "plans"
BUNDLE = ROOT / "bundles" / "soc2opa.tar.gz"
SOC2OPA = Path(sys.executable).parent / "soc2opa"

# Outside CI, eval starts a warm server by default; the tests that want one ask with --warm.
os.environ["SOC2OPA_WARM"] = "0"
# Two opa processes share out each plan's controls on any machine, so every test that judges a
# plan also checks that the joined report is whole (soc2opa/shards.py).
os.environ["SOC2OPA_JOBS"] = "2"


@pytest.fixture
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A bundle cache of the test's own ($SOC2OPA_CACHE_DIR), restored afterwards."""
    root = tmp_path_factory.mktemp("cache") / "bundles"
    old = os.environ.get("SOC2OPA_CACHE_DIR")
    os.environ["SOC2OPA_CACHE_DIR"] = str(root)
    yield root
    if old is None:
        os.environ.pop("SOC2OPA_CACHE_DIR")
    else:
        os.environ["SOC2OPA_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def opa() -> Path:
    """The real opa binary; a missing one fails the test (never skips)."""
    try:
        return find_opa()
    except EngineError as exc:
        pytest.fail(f"OPA is required for this test: {exc.message}")


@pytest.fixture(scope="session")
def shared_plans() -> Path:
    if not SHARED_PLANS.is_dir():
        pytest.fail(f"{SHARED_PLANS} is missing: the real plans come from ../shared/plans")
    return SHARED_PLANS


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(opa: Path) -> Run:
    """Run the installed soc2opa command as a user would."""

    def _run(
        *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "SOC2OPA_OPA": str(opa), **(env or {})}
        full_env.pop("SOC2OPA_DEBUG", None)
        return subprocess.run(
            [str(SOC2OPA), *args],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=cwd,
            timeout=300,
        )

    return _run


@pytest.fixture
def eval_json(run: Run) -> Callable[..., dict[str, Any]]:
    """Evaluate a plan with --format json and return the parsed report (exit 0 or 1)."""

    def _eval(plan: Path, *extra: str) -> dict[str, Any]:
        proc = run("eval", str(plan), "--format", "json", *extra)
        assert proc.returncode in (0, 1), proc.stderr
        doc: dict[str, Any] = json.loads(proc.stdout)
        return doc

    return _eval


def outcome(report: dict[str, Any], control: str, address: str) -> str | None:
    """The status of one (control, resource) pair in a JSON report, or None if not judged."""
    for r in report["results"]:
        if r["control_id"] == control and r["resource_address"] == address:
            return str(r["status"])
    return None


def write_plan(path: Path, resource_changes: list[dict[str, Any]], **extra: Any) -> Path:
    """Write a minimal plan in format 1.2."""
    doc = {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "resource_changes": resource_changes,
        **extra,
    }
    path.write_text(json.dumps(doc))
    return path


def change(
    address: str,
    rtype: str,
    after: dict[str, Any],
    *,
    unknown: dict[str, Any] | None = None,
    sensitive: dict[str, Any] | None = None,
    actions: tuple[str, ...] = ("create",),
) -> dict[str, Any]:
    """One resource_changes entry in the root module."""
    return {
        "address": address, "mode": "managed", "type": rtype, "name": address.split(".")[-1],
        "change": {"actions": list(actions), "before": None, "after": after,
                   "after_unknown": unknown or {}, "after_sensitive": sensitive or {}},
    }  # fmt: skip
