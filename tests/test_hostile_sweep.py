"""Issue 10's hostile-user check, run in CI: every cause keeps the contract (tests/hostile_sweep)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile_sweep import CASES, Case, fake_servers, run_case


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    with fake_servers() as urls:
        yield urls


@pytest.mark.parametrize("case", CASES, ids=[f"{c.cause}-{c.name}" for c in CASES])
def test_hostile_case_keeps_the_contract(
    case: Case, servers: dict[str, str], opa: Path, tmp_path: Path
) -> None:
    run_case(case, tmp_path, servers, opa)


def test_every_cause_of_issue_10_is_swept() -> None:
    assert {c.cause for c in CASES} == set(range(1, 13))
