"""Several opa processes sharing out one plan's controls give the report of one process.

The real opa judges every plan of ../shared/plans and synthetic plans of the benchmark's mix
with one, two and three processes; the raw reports must be equal, key order included. The
grouping, the join and the process handling (timeouts, signals) are checked on their own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.synth import write_plan as write_synthetic
from soc2opa.bundlecache import CachedBundle, cached_bundle
from soc2opa.engine import LocalEngine
from soc2opa.errors import EngineError, UsageError
from soc2opa.opaproc import run_opa_many
from soc2opa.planfile import PlanFile, parse_plan
from soc2opa.selection import _libraries, _size, selected, sharded_args
from soc2opa.shards import (
    MIN_CONTROLS_PER_JOB,
    control_weight,
    jobs_for_memory,
    jobs_wanted,
    join_reports,
    split,
)
from tests.conftest import BUNDLE, SOC2OPA

pytestmark = pytest.mark.usefixtures("private_cache")


def _judge(opa: Path, path: Path, jobs: int) -> str:
    plan = parse_plan(path.read_bytes(), path.name)
    return json.dumps(LocalEngine(opa, BUNDLE, jobs=jobs).evaluate(plan))


def test_split_balances_and_keeps_every_control_once() -> None:
    weights = {f"c{i:03d}": float((i * 37) % 101 + 1) for i in range(100)}
    groups = split(weights, 3)
    assert len(groups) == 3
    assert sorted(c for g in groups for c in g) == sorted(weights)
    loads = [sum(weights[c] for c in g) for g in groups]
    assert max(loads) - min(loads) <= max(weights.values())
    assert split(weights, 3) == groups  # the same weights give the same groups
    # Never fewer than MIN_CONTROLS_PER_JOB controls to a process.
    few = {f"c{i}": 1.0 for i in range(2 * MIN_CONTROLS_PER_JOB - 1)}
    assert len(split(few, 4)) == 1
    assert split({}, 4) == [[]]


def test_split_weighs_the_libraries_a_group_would_load() -> None:
    # c0 and c2 need library l, c1 library m, each as costly as three c2s. By weight alone c2
    # goes to the lighter group, c1's, and both processes compile l.
    weights = {"c0": 20.0, "c1": 19.0, "c2": 10.0}
    weights |= {f"d{i:02d}": 1.0 for i in range(29)}
    libraries = {"c0": ["lib/l.rego"], "c1": ["lib/m.rego"], "c2": ["lib/l.rego"]}
    costs = {"lib/l.rego": 30.0, "lib/m.rego": 30.0}
    plain = split(weights, 2)
    assert not any({"c0", "c2"} <= set(g) for g in plain)
    groups = split(weights, 2, libraries, costs)
    assert any({"c0", "c2"} <= set(g) for g in groups)
    assert sorted(c for g in groups for c in g) == sorted(weights)
    loads = [
        sum(weights[c] for c in g)
        + sum(costs[x] for x in {x for c in g for x in libraries.get(c, [])})
        for g in groups
    ]
    assert max(loads) - min(loads) <= 1.0
    assert split(weights, 2, libraries, costs) == groups
    # Without library costs the split is the plain balance by weight.
    assert split(weights, 2, libraries, {}) == plain


def _weighed(path: Path) -> tuple[CachedBundle, PlanFile, list[str], dict[str, float]]:
    """The built bundle, a plan, the controls it reaches and their weights, as selection has them."""
    cached = cached_bundle(BUNDLE)
    assert cached is not None and cached.libs is not None
    plan = parse_plan(path.read_bytes(), path.name)
    chosen = selected(cached, plan.types)
    weights = {
        c: control_weight(
            _size(cached, c), cached.types.get(c, []), plan.type_counts, c in cached.scans
        )
        for c in chosen
    }
    return cached, plan, chosen, weights


def test_a_control_reading_every_resource_weighs_with_the_whole_plan() -> None:
    small = {"aws_security_group": 30, "aws_s3_bucket": 30}
    large = {"aws_security_group": 30, "aws_s3_bucket": 30_000}
    own = [control_weight(0, ["aws_security_group"], c) for c in (small, large)]
    scanning = [control_weight(0, ["aws_security_group"], c, True) for c in (small, large)]
    assert own[0] == own[1] > 0
    assert scanning[0] > own[0]
    assert scanning[1] > 100 * scanning[0] / 2
    cached = cached_bundle(BUNDLE)
    assert cached is not None
    assert "vpc_security_group_attached" in cached.scans


def test_library_weights_cut_what_the_processes_compile(tmp_path: Path) -> None:
    cached, _, chosen, weights = _weighed(write_synthetic(tmp_path / "p.json", 100, seed=0))
    needs, costs = _libraries(cached, chosen, weights)
    assert needs and costs and set(needs) == set(chosen)

    def libraries(groups: list[list[str]]) -> list[float]:
        return [sum(costs[lib] for lib in {x for c in g for x in needs[c]}) for g in groups]

    def heaviest(groups: list[list[str]]) -> float:
        return max(
            sum(weights[c] for c in g) + lib
            for g, lib in zip(groups, libraries(groups), strict=True)
        )

    aware, plain = split(weights, 2, needs, costs), split(weights, 2)
    assert sum(libraries(aware)) < sum(libraries(plain))
    assert heaviest(aware) <= heaviest(plain)


def test_a_plan_mostly_judged_is_split_by_weight_alone(tmp_path: Path) -> None:
    # At 100,000 resources, keeping one library's users together put 46 s and 70 s of work in
    # the two processes instead of 51 s and 58 s: their per-resource costs are underestimated
    # alike. Library weights only count where compiling is most of the cost.
    cached, plan, chosen, weights = _weighed(write_synthetic(tmp_path / "p.json", 2500, seed=1))
    assert _libraries(cached, chosen, weights) == ({}, {})
    with sharded_args(cached, plan.types, plan.type_counts, 2) as groups:
        modules = [sorted(a for a in g if "/controls/" in a) for g in groups]
    expected = [
        sorted(str(cached.folder / cached.modules[c]) for c in g) for g in split(weights, 2)
    ]
    assert modules == expected


def test_sharded_args_give_each_selected_control_to_one_process(tmp_path: Path) -> None:
    cached = cached_bundle(BUNDLE)
    assert cached is not None
    plan = parse_plan(write_synthetic(tmp_path / "p.json", 300, seed=3).read_bytes(), "p")
    chosen = selected(cached, plan.types)
    assert len(chosen) >= 3 * MIN_CONTROLS_PER_JOB
    with sharded_args(cached, plan.types, plan.type_counts, 3) as groups:
        assert len(groups) == 3
        modules = [[a for a in g if "/controls/" in a] for g in groups]
        assert sorted(m for g in modules for m in g) == sorted(
            str(cached.folder / cached.modules[c]) for c in chosen
        )
        stubs = [a for g in groups for a in g if a.endswith(".json") and "/.run-" in a]
        assert len(stubs) == 1 and stubs[0] in groups[0]  # the stubs once, to the first
        # First the bundle's other modules, with only the libraries the group's controls need,
        # then that process's controls.
        assert cached.libs is not None
        library = {str(cached.folder / n) for n in cached.libs["library"]}
        others = {str(cached.folder / n) for n in cached.base} - library
        for group, controls in zip(groups, modules, strict=True):
            head = group[: group.index(controls[0]) - 1]
            needed = {str(cached.folder / n) for n in cached.libs["rest"]}
            for module in controls:
                rel = Path(module).relative_to(cached.folder).as_posix()
                needed |= {str(cached.folder / n) for n in cached.libs["controls"][rel]}
            assert set(head[1::2]) == others | needed
            assert needed < library  # at 300 resources no group needs every library
    assert not Path(stubs[0]).exists()


def test_join_refuses_parts_that_disagree() -> None:
    a = {"plan": {"n": 1}, "problems": [], "controls": {"b": 1}}
    b = {"plan": {"n": 1}, "problems": [], "controls": {"a": 2}}
    joined = join_reports([a, b], "p.json")
    assert list(joined["controls"]) == ["a", "b"] and joined["plan"] == {"n": 1}
    with pytest.raises(EngineError, match="disagree"):
        join_reports([a, dict(b, plan={"n": 2})], "p.json")
    with pytest.raises(EngineError, match="judged control b"):
        join_reports([a, a], "p.json")
    # What is not a report goes on to the report's shape check, which names it.
    assert join_reports([a, None], "p.json") is None
    assert join_reports([a, {"nope": 1}], "p.json") == {"nope": 1}


def test_jobs_come_from_the_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOC2OPA_JOBS", "3")
    assert jobs_wanted(None) == 3
    assert jobs_wanted(1) == 1
    monkeypatch.delenv("SOC2OPA_JOBS")
    assert 1 <= jobs_wanted(None) <= 4
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("SOC2OPA_JOBS", bad)
        with pytest.raises(UsageError, match="SOC2OPA_JOBS"):
            jobs_wanted(None)
    with pytest.raises(UsageError, match="--jobs"):
        jobs_wanted(0)


def test_no_more_processes_than_memory_holds(
    opa: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gib = 1 << 30
    big = 171 << 20  # a 100,000-resource plan
    assert jobs_for_memory(4, big, 12 * gib) == 2  # this 24 GB machine's half
    assert jobs_for_memory(4, big, int(3.5 * gib)) == 1  # a 7 GB CI runner's half
    assert jobs_for_memory(4, 17 << 20, int(3.5 * gib)) == 4
    assert jobs_for_memory(3, big, None) == 3
    # With too little memory for two, the engine judges in one opa eval.
    path = write_synthetic(tmp_path / "p.json", 300, seed=3)
    plan = parse_plan(path.read_bytes(), path.name)

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("two opa processes started")

    monkeypatch.setattr("soc2opa.engine.run_opa_many", refuse)
    monkeypatch.setattr("soc2opa.engine.memory_cap", lambda: 40 * len(plan.data))
    report = LocalEngine(opa, BUNDLE, jobs=2).evaluate(plan)
    assert json.dumps(report) == _judge(opa, path, 1)


def test_shared_plans_one_process_equals_several(
    opa: Path, shared_plans: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Most real plans reach too few controls to be split; here every one is, one control up.
    monkeypatch.setattr("soc2opa.shards.MIN_CONTROLS_PER_JOB", 1)
    paths = sorted(shared_plans.glob("*.json"))
    assert len(paths) >= 40
    for path in paths:
        one = _judge(opa, path, 1)
        assert _judge(opa, path, 3) == one, f"{path.name}: three processes differ from one"


def test_synthetic_plans_one_process_equals_several(opa: Path, tmp_path: Path) -> None:
    for n, seed in ((150, 1), (1200, 2), (2500, 3)):
        path = write_synthetic(tmp_path / f"s{n}.json", n, seed=seed, account_level=1.0)
        one = _judge(opa, path, 1)
        assert _judge(opa, path, 2) == one, f"{n} resources: two processes differ from one"
        assert _judge(opa, path, 4) == one, f"{n} resources: four processes differ from one"


def _fake_opa(tmp_path: Path, pids: Path) -> Path:
    """An opa that records its pid and hangs, with the real bundle still selected for it."""
    fake = tmp_path / "opa"
    fake.write_text(f"#!/bin/sh\nsleep 300 &\necho $$ $! >> {pids}\nwait\n")
    fake.chmod(0o755)
    return fake


def _dead(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return True
        if "\nState:\tZ" in status:
            return True
        time.sleep(0.05)
    return False


def _env(tmp_path: Path, fake: Path) -> dict[str, Any]:
    return {**os.environ, "SOC2OPA_OPA": str(fake), "SOC2OPA_JOBS": "2", "TMPDIR": str(tmp_path)}


def test_a_timeout_ends_every_process(tmp_path: Path) -> None:
    plan = write_synthetic(tmp_path / "p.json", 300, seed=3)
    pids = tmp_path / "pids"
    fake = _fake_opa(tmp_path, pids)
    done = subprocess.run(
        [str(SOC2OPA), "eval", str(plan), "--no-config", "--timeout", "2"],
        env=_env(tmp_path, fake), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == f"soc2opa: error: opa eval timed out after 2s on {plan}"
    lines = pids.read_text().splitlines()
    assert len(lines) == 2  # two opa processes, each with a child of its own
    assert all(_dead(int(p)) for p in pids.read_text().split())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_every_process(tmp_path: Path, signum: int) -> None:
    plan = write_synthetic(tmp_path / "p.json", 300, seed=3)
    pids = tmp_path / "pids"
    fake = _fake_opa(tmp_path, pids)
    proc = subprocess.Popen(
        [str(SOC2OPA), "eval", str(plan), "--no-config"],
        env=_env(tmp_path, fake), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not pids.exists() or len(pids.read_text().splitlines()) < 2:
        assert time.monotonic() < deadline, "the two opa processes never started"
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert all(_dead(int(p)) for p in pids.read_text().split())


def test_each_answer_is_read_while_the_others_still_run(tmp_path: Path) -> None:
    # A shell stands in for opa: the first "process" answers at once, the second a second later.
    seen: list[tuple[bytes, float]] = []

    def then(proc: subprocess.CompletedProcess[bytes]) -> bytes:
        seen.append((proc.stdout, time.monotonic()))
        if proc.returncode != 0:
            raise EngineError(f"failed: {proc.stdout.decode().strip()}")
        return proc.stdout

    runs: list[tuple[list[str], dict[str, str] | None]] = [
        (["-c", "cat >/dev/null; echo fast"], None),
        (["-c", "cat >/dev/null; sleep 1; echo slow"], None),
    ]
    start = time.monotonic()
    got = run_opa_many(Path("/bin/sh"), runs, stdin=b"{}", timeout=30, then=then)
    assert got == [b"fast\n", b"slow\n"]  # in the order of runs
    (first, at_first), (second, at_second) = seen
    assert (first, second) == (b"fast\n", b"slow\n")
    assert at_first - start < 0.8 <= at_second - start

    # The first error in the order of runs is the one raised, though the later one came first.
    failing: list[tuple[list[str], dict[str, str] | None]] = [
        (["-c", "cat >/dev/null; sleep 0.5; echo one; exit 1"], None),
        (["-c", "cat >/dev/null; echo two; exit 1"], None),
    ]
    with pytest.raises(EngineError, match="failed: one"):
        run_opa_many(Path("/bin/sh"), failing, stdin=b"{}", timeout=30, then=then)
