"""CI smoke run of the benchmark (issue 15 item 4): it must keep working; no timed assertions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.proctree import measure
from benchmarks.report import BEGIN, END, splice

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import subprocess, sys, time
a = bytearray(int(sys.argv[1]) * 2**20)
a[::4096] = b"x" * len(a[::4096])
if len(sys.argv) > 2:
    subprocess.run([sys.executable, "-c", sys.argv[3], sys.argv[2]])
else:
    time.sleep(0.4)
"""


def test_peak_memory_sums_the_whole_process_tree() -> None:
    m = measure([sys.executable, "-c", CHILD, "150", "250", CHILD])
    assert m.returncode == 0
    assert m.processes == 2
    assert m.max_single_rss >= 250 * 2**20
    # Both processes hold their memory while the child runs: the tree's peak is their sum.
    assert m.peak_rss >= 400 * 2**20
    assert m.peak_rss >= m.max_single_rss


def test_an_unexpected_exit_code_fails_the_measurement() -> None:
    try:
        measure([sys.executable, "-c", "import sys; sys.exit(3)"], ok=(0, 1))
    except RuntimeError as e:
        assert "exited 3" in str(e)
    else:
        raise AssertionError("exit 3 was accepted")


def test_splice_keeps_everything_outside_the_markers() -> None:
    doc = f"# Benchmark\n\nintro\n\n{BEGIN}\nold table\n{END}\n\n## Profile\n\nkept\n"
    out = splice(doc, f"{BEGIN}\nnew table\n{END}\n")
    assert "new table" in out and "old table" not in out
    assert out.endswith("## Profile\n\nkept\n") and out.startswith("# Benchmark\n\nintro\n\n")


def test_bench_smoke_run(tmp_path: Path) -> None:
    doc_before = (ROOT / "docs" / "benchmark.md").read_text()
    env = dict(os.environ)
    env.setdefault("SOC2OPA_OPA", str(ROOT / ".tools/bin/opa"))
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/bench.py"),
            "--smoke",
            "--out",
            str(tmp_path),
            "--plans",
            str(tmp_path / "plans"),
            # Another plan shape, so that the options reach the generator and the report.
            "--account-level",
            "1.0",
            "--shared-names",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    cases = results["cases"]
    assert set(cases) == {"synthetic 50", "batch 3x20"}
    assert set(cases["synthetic 50"]["tools"]) == {
        "floor",
        "lower bound",
        "soc2opa",
        "soc2opa --jobs 1",
        "soc2opa, cold cache",
        "soc2opa --warm",
        "soc2opa --opa-url",
        "conftest",
    }
    assert set(cases["batch 3x20"]["tools"]) == {
        "soc2opa",
        "soc2opa --warm",
        "soc2opa --opa-url",
        "conftest",
    }
    for case in cases.values():
        for runs in case["tools"].values():
            assert len(runs) == 1
            assert runs[0]["seconds"] > 0 and runs[0]["peak_rss"] > 0
    # soc2opa runs opa as a child: both are in the measured tree.
    assert cases["synthetic 50"]["tools"]["soc2opa"][0]["processes"] >= 2
    local = cases["synthetic 50"]["tools"]["soc2opa"][0]
    assert local["peak_rss"] > cases["synthetic 50"]["tools"]["floor"][0]["peak_rss"]
    # The warm server's memory is counted with the client's.
    warm = cases["synthetic 50"]["tools"]["soc2opa --warm"][0]
    assert warm["peak_rss"] > cases["synthetic 50"]["tools"]["floor"][0]["peak_rss"]
    md = (tmp_path / "benchmark.md").read_text()
    assert BEGIN in md and END in md and "| synthetic 50 | 50 |" in md
    assert "| 100 resources: <= 0.3 s end to end | - | not run |" in md
    assert "seed 0 (--account-level 1.0 --shared-names)" in md
    [plan] = (tmp_path / "plans").glob("synth-50-*.json")
    assert plan.name.startswith("synth-50-s0-a1.0-shared-")
    changes = json.loads(plan.read_bytes())["resource_changes"]
    names = [rc["change"]["after"].get("name") for rc in changes if rc["change"]["after"]]
    assert not any(isinstance(n, str) and "-u1" in n for n in names)
    assert (tmp_path / "benchmark.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (ROOT / "docs" / "benchmark.md").read_text() == doc_before
