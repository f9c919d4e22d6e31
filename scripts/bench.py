"""Benchmark: soc2opa eval on a synthetic 10,000-resource plan against opa's bare load time.

Also measures the alternative engine design (a short-lived `opa run --server` on 127.0.0.1
that the plan is POSTed to) so the choice of `opa eval` stays justified by figures.
Writes a Markdown table to stdout, and to docs/benchmark.md with --write.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from make_big_plan import make_plan  # noqa: E402

OPA = Path(os.environ.get("SOC2OPA_OPA", ROOT / ".tools/bin/opa"))
SOC2OPA = Path(sys.executable).parent / "soc2opa"
BUNDLE = ROOT / "bundles/soc2opa.tar.gz"


def _timed(fn: Callable[[], None], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _run(*cmd: str, ok: tuple[int, ...] = (0,)) -> None:
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode not in ok:
        raise SystemExit(f"{cmd[0]} failed: {proc.stderr.decode()[:500]}")


def _server_round_trip(plan: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(OPA), "run", "--server", "--addr", f"127.0.0.1:{port}", "--bundle", str(BUNDLE)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health?bundles", timeout=1)
                break
            except OSError:
                time.sleep(0.02)
        body = b'{"input":' + plan.read_bytes() + b"}"
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/data/soc2opa/main/report", data=body, method="POST"
        )
        with urllib.request.urlopen(req, timeout=600) as resp:
            json.load(resp)
    finally:
        proc.terminate()
        proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--resources", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="also write docs/benchmark.md")
    args = ap.parse_args()
    work = ROOT / ".bench"
    work.mkdir(exist_ok=True)
    plan = work / f"plan-{args.resources}.json"
    plan.write_text(json.dumps(make_plan(args.resources), indent=2))
    size_mb = plan.stat().st_size / 1e6
    empty = work / "empty-plan.json"
    empty.write_text('{"format_version": "1.2", "resource_changes": []}')
    compile_only = _timed(
        lambda: _run(
            str(OPA), "eval", "-b", str(BUNDLE), "-i", str(empty), "data.soc2opa.main.report"
        ),
        args.runs,
    )
    load = _timed(
        lambda: _run(str(OPA), "eval", "-i", str(plan), "count(input.resource_changes)"), args.runs
    )
    engine = _timed(
        lambda: _run(
            str(OPA), "eval", "-b", str(BUNDLE), "-i", str(plan), "data.soc2opa.main.report"
        ),
        args.runs,
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    full = _timed(
        lambda: _run(str(SOC2OPA), "eval", str(plan), "--format", "json", ok=(0, 1)), args.runs
    )
    peak_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    server = _timed(lambda: _server_round_trip(plan), args.runs)
    manifest = json.loads((ROOT / "rego/.manifest").read_text())
    opa_version = subprocess.run([str(OPA), "version"], capture_output=True, text=True).stdout
    opa_version = opa_version.split()[1]
    controls = manifest["metadata"]["controls"]
    rows = [
        ("opa loads the plan only (`opa eval -i plan 'count(input.resource_changes)'`)", load),
        ("`opa eval` of `data.soc2opa.main.report` over the bundle", engine),
        ("`soc2opa eval plan.json --format json` (what users run)", full),
        ("alternative: start `opa run --server`, POST the plan, stop", server),
        ("`opa eval` of the report on an empty plan (bundle parse and compile)", compile_only),
    ]
    lines = [
        "<!-- written by scripts/bench.py --write -->",
        "# Benchmark",
        "",
        f"Synthetic plan: {args.resources:,} resources, {size_mb:.1f} MB "
        "(`scripts/make_big_plan.py`: "
        "S3 buckets joined to separate encryption resources, EBS volumes, RDS instances, security "
        f"groups, in {args.resources // 50} modules). Bundle: {controls} controls, revision "
        f"{manifest['revision']}. Median of {args.runs} runs on {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"OPA {opa_version}.",
        "",
        "| what | seconds | x load |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {t:.2f} | {t / load:.1f} |" for name, t in rows),
        "",
        f"Peak memory of the largest process (opa) during `soc2opa eval`: {peak_mb:.0f} MB.",
        "",
        "Target: `soc2opa eval` within 2x of the load time. Run `make bench` to reproduce.",
        "",
        "Notes for the speed milestone. Every `opa eval` parses and compiles the bundle (last",
        "row). Generated controls call the node logic in `rego/lib/check.rego`, one status rule",
        "and one reason rule per check node, which cut compile time by 42% (185 to 108 ms for",
        "32 controls); the full 242-control catalog may still want a long-lived OPA server when",
        "many plans are judged in one run. The evaluation profile is flat (OPA's cost per",
        "expression, spread over many rules). The largest single part is the join to separate",
        "resources: about 300 ms for the 2,000 S3 encryption resources here (400 ms before the",
        "direct fast path for same-module references in `rego/lib/refs.rego`), against about",
        "85 ms for a bare hand-written join. Failure reasons come next; passing resources cost",
        "about 5-25 us each. Timings on this shared 2-core machine vary by about 30% between",
        "runs.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        (ROOT / "docs/benchmark.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
