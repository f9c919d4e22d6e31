"""Benchmark soc2opa against OPA's own load time, Conftest and Checkov at plan sizes 100 to 100k.

For each plan size: wall time and peak resident memory of the whole process tree (OPA included,
see benchmarks/proctree.py) of `soc2opa eval` (local opa), `soc2opa eval --opa-url` against a
warm `opa run -s` on 127.0.0.1, the Conftest target (`conftest test`), the floor
(`opa eval -i plan 'count(input.resource_changes)'`) and Checkov; plus one run of `soc2opa eval`
over a folder of small plans. Runs are interleaved (run 1 of every tool, then run 2, ...) so that
load on the machine falls on all tools alike; ratios are taken between medians of the same run.
Writes results.json, benchmark.md and benchmark.png into --out (default .bench/), and with
--write the table into docs/benchmark.md (between its bench markers) and docs/benchmark.png.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402
from benchmarks.lowerbound import QUERY as LOWER_QUERY  # noqa: E402
from benchmarks.lowerbound import write_policy  # noqa: E402
from benchmarks.proctree import Measurement, measure  # noqa: E402
from benchmarks.synth import (  # noqa: E402
    ACCOUNT_LEVEL_FACTOR,
    add_shape_options,
    fixtures_digest,
    write_plan,
)
from soc2opa.bundlecache import cached_bundle  # noqa: E402

OPA = Path(os.environ.get("SOC2OPA_OPA", ROOT / ".tools/bin/opa"))
CONFTEST = ROOT / ".tools/bin/conftest"
SOC2OPA = Path(sys.executable).parent / "soc2opa"
BUNDLE = ROOT / "bundles/soc2opa.tar.gz"
SHARED_PLANS = ROOT.parent / "shared" / "plans"
CHECKOV_VERSION = "3.3.30"
SIZES = (100, 1_000, 10_000, 50_000, 100_000)
CHECKOV_SIZES = (1_000, 10_000)
CHECKOV_ONE_RUN_FROM = 10_000
# From this size only soc2opa and the floor run, once each.
LARGE_FROM = 50_000
COLD = "soc2opa, cold cache"
LOWER = "lower bound"
JOBS1 = "soc2opa --jobs 1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OpaServer:
    """A warm `opa run -s` on 127.0.0.1 serving the soc2opa bundle."""

    def __init__(self, bundle: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [str(OPA), "run", "-s", "--addr", f"127.0.0.1:{self.port}", "-b", str(bundle)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"opa run -s exited {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/health?bundles", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("opa run -s did not become healthy") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (only this process, started here)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def _pinned(name: str) -> str:
    for line in (ROOT / "tools.mk").read_text().splitlines():
        if line.startswith(name):
            return line.split(":=", 1)[1].strip()
    return "unknown"


def ensure_checkov(venv: Path) -> Path:
    """Checkov, pinned, in its own virtualenv (created on first use from PyPI)."""
    exe = venv / "bin" / "checkov"
    if exe.exists() and CHECKOV_VERSION in _version([str(exe), "--version"]):
        return exe
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin/pip"), "install", "-q", f"checkov=={CHECKOV_VERSION}"], check=True
    )
    return exe


def real_plans(sizes: tuple[int, ...]) -> dict[int, tuple[Path, int]]:
    """The largest real plan of ../shared/plans per size bucket (nearest size, log scale)."""
    index = SHARED_PLANS / "SOURCES.tsv"
    if not index.exists():
        return {}
    best: dict[int, tuple[Path, int]] = {}
    with index.open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            n = int(row["n_resource_changes"] or 0)
            if n < 1:
                continue
            bucket = min(sizes, key=lambda s: abs((s / n) - 1) if s >= n else n / s - 1)
            if bucket not in best or n > best[bucket][1]:
                best[bucket] = (SHARED_PLANS / row["saved_name"], n)
    return best


def _loadavg() -> float:
    return os.getloadavg()[0]


def machine_facts() -> dict[str, Any]:
    """CPU, cores, memory, OS and Python of this machine."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(mem_kb / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def catalog_facts() -> dict[str, Any]:
    """The bundle's control count and revision."""
    manifest = json.loads((ROOT / "rego/.manifest").read_text())
    return {"controls": manifest["metadata"]["controls"], "revision": manifest["revision"]}


def _record(m: Measurement) -> dict[str, Any]:
    d = asdict(m)
    d.pop("stderr_tail")
    d["load"] = _loadavg()
    return d


def synth_shape(args: argparse.Namespace) -> list[str]:
    """The benchmarks.synth options for a plan shape other than the default one."""
    out: list[str] = []
    if args.account_level != ACCOUNT_LEVEL_FACTOR:
        out += ["--account-level", repr(args.account_level)]
    if args.shared_names:
        out.append("--shared-names")
    return out


def shape_tag(args: argparse.Namespace) -> str:
    """The part of a cached plan's file name that tells its shape apart."""
    tag = "" if args.account_level == ACCOUNT_LEVEL_FACTOR else f"-a{args.account_level!r}"
    return tag + ("-shared" if args.shared_names else "")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Generate the plans, run every case and return the raw results."""
    out: Path = args.out
    plans_dir = args.plans or (ROOT / ".bench" / "plans")
    plans_dir.mkdir(parents=True, exist_ok=True)
    digest = fixtures_digest()
    t0 = time.monotonic()
    loads = [_loadavg()]
    # An installed soc2opa starts from compiled bytecode; with PYTHONDONTWRITEBYTECODE set (as
    # on the machines these figures come from) every start would compile its modules again.
    compileall.compile_dir(ROOT / "soc2opa", quiet=1)

    shape, tag = synth_shape(args), shape_tag(args)

    def synth(n: int, seed: int) -> Path:
        path = plans_dir / f"synth-{n}-s{seed}{tag}-{digest}.json"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            # In a child process: a large plan built here would stay in this process's memory,
            # and a child's ru_maxrss counts the parent's pages it was forked with, so every
            # later measurement would report at least that (920 MB after the 100k plan).
            command = [sys.executable, "-m", "benchmarks.synth", str(n), str(tmp)]
            subprocess.run(
                [*command, "--seed", str(seed), *shape],
                check=True,
                cwd=ROOT,
            )
            tmp.replace(path)
        return path

    plans: dict[str, dict[str, Any]] = {}
    for n in args.sizes:
        plans[f"synthetic {n}"] = {"kind": "synthetic", "n": n, "path": synth(n, args.seed)}
    if not args.no_real:
        for bucket, (path, n) in sorted(real_plans(tuple(args.sizes)).items()):
            plans[f"real {bucket}"] = {"kind": "real", "n": n, "bucket": bucket, "path": path}
    batch_dir = plans_dir / f"batch-{args.batch}x{args.batch_size}-{digest}"
    if args.batch and not batch_dir.exists():
        tmp_dir = batch_dir.with_suffix(".tmp")
        shutil.rmtree(tmp_dir, ignore_errors=True)
        for i in range(args.batch):
            write_plan(tmp_dir / f"plan-{i:03d}.json", args.batch_size, 1000 + i)
        tmp_dir.rename(batch_dir)
    gen_seconds = time.monotonic() - t0

    policy = out / "conftest-policy"
    shutil.rmtree(policy, ignore_errors=True)
    subprocess.run(
        [str(SOC2OPA), "build", "--target", "conftest", "--output", str(policy)],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    checkov = ensure_checkov(args.checkov_venv) if args.checkov_sizes else None
    lower = out / "lowerbound-policy"
    shutil.rmtree(lower, ignore_errors=True)
    selection = cached_bundle(BUNDLE)
    if selection is None:
        raise SystemExit(f"{BUNDLE}: no selection index; run soc2opa build")
    write_policy(selection.types, lower)

    cache = out / "soc2opa-cache"
    cache.mkdir(mode=0o700, exist_ok=True)
    cache.chmod(0o700)
    env = dict(os.environ, SOC2OPA_OPA=str(OPA), NO_COLOR="1", SOC2OPA_CACHE_DIR=str(cache))
    ck_env = dict(env)
    # soc2opa's own OPA deadline (600 s) would end a large plan on a loaded machine first.
    fmt = ["--format", "json", "--timeout", str(int(args.timeout))]
    server = OpaServer(BUNDLE)
    results: dict[str, Any] = {"cases": {}}
    try:
        warm_pids = start_warm(env)
        warm = next(iter(plans.values()))["path"]
        measure([str(SOC2OPA), "eval", str(warm), *fmt, "--no-warm"], ok=(0, 1), env=env)
        measure(
            [str(SOC2OPA), "eval", str(warm), *fmt, "--opa-url", server.url],
            ok=(0, 1),
            env=env,
        )

        def cases_for(
            name: str, plan: dict[str, Any]
        ) -> dict[str, tuple[list[str], dict[str, Any]]]:
            p = str(plan["path"])
            cases: dict[str, tuple[list[str], dict[str, Any]]] = {
                "floor": ([str(OPA), "eval", "-i", p, "count(input.resource_changes)"], {}),
                LOWER: ([str(OPA), "eval", "-d", str(lower), "-i", p, LOWER_QUERY], {}),
                # One-shot: the controls the plan reaches, shared out between opa processes
                # (one per usable CPU, up to 4), and all of them in one opa process.
                "soc2opa": ([str(SOC2OPA), "eval", p, *fmt, "--no-warm"], {}),
                JOBS1: ([str(SOC2OPA), "eval", p, *fmt, "--no-warm", "--jobs", "1"], {}),
                "soc2opa --opa-url": (
                    [str(SOC2OPA), "eval", p, *fmt, "--opa-url", server.url],
                    {"extra_pids": [server.proc.pid]},
                ),
                "soc2opa --warm": (
                    [str(SOC2OPA), "eval", p, *fmt, "--warm"],
                    {"extra_pids": warm_pids},
                ),
                "conftest": ([str(CONFTEST), "test", p, "-p", str(policy), "--no-color"], {}),
            }
            if plan["kind"] == "synthetic" and plan["n"] >= LARGE_FROM:
                # One run of soc2opa and the floor: the server rows and Conftest would take
                # most of an hour and many GB here, and say nothing the 10k rows do not.
                cases = {k: (c, {**o, "max_runs": 1}) for k, (c, o) in cases.items()}
                cases = {k: v for k, v in cases.items() if k in ("floor", LOWER, "soc2opa", JOBS1)}
            if plan["kind"] == "synthetic" and plan["n"] == min(args.sizes):
                cases[COLD] = ([str(SOC2OPA), "eval", p, *fmt, "--no-warm"], {"cold": True})
            if checkov and plan["kind"] == "synthetic" and plan["n"] in args.checkov_sizes:
                cases["checkov"] = (
                    [str(checkov), "-f", p, "--framework", "terraform_plan", "--skip-download"],
                    {"env": ck_env, "max_runs": 1 if plan["n"] >= CHECKOV_ONE_RUN_FROM else None},
                )
            return cases

        batch_files = sorted(str(p) for p in batch_dir.glob("*.json"))
        batch_cases: dict[str, tuple[list[str], dict[str, Any]]] = {
            "soc2opa": ([str(SOC2OPA), "eval", str(batch_dir), *fmt, "--no-warm"], {}),
            "soc2opa --opa-url": (
                [str(SOC2OPA), "eval", str(batch_dir), *fmt, "--opa-url", server.url],
                {"extra_pids": [server.proc.pid]},
            ),
            "soc2opa --warm": (
                [str(SOC2OPA), "eval", str(batch_dir), *fmt, "--warm"],
                {"extra_pids": warm_pids},
            ),
            "conftest": (
                [str(CONFTEST), "test", *batch_files, "-p", str(policy), "--no-color"],
                {},
            ),
        }
        groups: list[tuple[str, dict[str, Any], dict[str, tuple[list[str], dict[str, Any]]]]] = [
            (name, plan, cases_for(name, plan)) for name, plan in plans.items()
        ]
        if args.batch:
            groups.append(
                (
                    f"batch {args.batch}x{args.batch_size}",
                    {"kind": "batch", "n": args.batch * args.batch_size, "path": batch_dir},
                    batch_cases,
                )
            )
        for name, plan, cases in groups:
            entry: dict[str, Any] = {
                "kind": plan["kind"],
                "n": plan["n"],
                "plan": str(plan["path"].relative_to(ROOT.parent))
                if plan["path"].is_relative_to(ROOT.parent)
                else str(plan["path"]),
                "bytes": plan["path"].stat().st_size if plan["path"].is_file() else None,
                "tools": {},
            }
            if "bucket" in plan:
                entry["bucket"] = plan["bucket"]
            for run_no in range(args.runs):
                for tool, (cmd, opts) in cases.items():
                    opts = dict(opts)
                    max_runs = opts.pop("max_runs", None)
                    if max_runs is not None and run_no >= max_runs:
                        continue
                    if opts.pop("cold", False):
                        opts["env"] = dict(env, SOC2OPA_CACHE_DIR=tempfile.mkdtemp(dir=out))
                    print(f"[bench] {name}: {tool} (run {run_no + 1})", file=sys.stderr, flush=True)
                    m = measure(
                        cmd, ok=(0, 1), env=opts.pop("env", env), timeout=args.timeout, **opts
                    )
                    entry["tools"].setdefault(tool, []).append(_record(m))
                    loads.append(_loadavg())
            results["cases"][name] = entry
            (out / "partial.json").write_text(json.dumps(results, indent=1) + "\n")
    finally:
        server.stop()
        subprocess.run([str(SOC2OPA), "warm", "stop"], env=env, capture_output=True, check=False)
    results["load"] = {
        "min": min(loads),
        "median": statistics.median(loads),
        "max": max(loads),
    }
    results["generation_seconds"] = gen_seconds
    results["wall_seconds"] = time.monotonic() - t0
    return results


def start_warm(env: dict[str, str]) -> list[int]:
    """Start the warm server `eval --warm` uses (untimed, like the --opa-url server); its pids."""
    subprocess.run(
        [str(SOC2OPA), "warm", "start", "--idle", "86400"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    status = subprocess.run(
        [str(SOC2OPA), "warm", "status", "--format", "json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return [int(pid) for s in json.loads(status.stdout) for pid in (s["pid"], s["opa_pid"])]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per tool and plan (median)")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--checkov-sizes", type=int, nargs="*", default=list(CHECKOV_SIZES))
    ap.add_argument("--batch", type=int, default=100, help="plans in the batch run (0: none)")
    ap.add_argument("--batch-size", type=int, default=100, help="resources per batch plan")
    ap.add_argument("--seed", type=int, default=0)
    add_shape_options(ap)
    ap.add_argument("--no-real", action="store_true", help="skip the real plans")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per command")
    ap.add_argument("--out", type=Path, default=ROOT / ".bench")
    ap.add_argument("--plans", type=Path, help="plan cache folder (default .bench/plans)")
    ap.add_argument("--checkov-venv", type=Path, default=ROOT / ".bench" / "checkov-venv")
    ap.add_argument("--write", action="store_true", help="update docs/benchmark.md and .png")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, 1 run, no Checkov, no real plans (CI: checks the bench still works)",
    )
    ap.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS",
        help="write the report from a saved results.json instead of running",
    )
    args = ap.parse_args(argv)
    if args.render:
        results = json.loads(args.render.read_text())
        if "machine" not in results:
            _complete(results, args, partial=True)
        return _write(results, args.render.parent, args.write)
    if args.smoke:
        args.runs, args.sizes, args.checkov_sizes = 1, [50], []
        args.batch, args.batch_size, args.no_real = 3, 20, True
    args.out.mkdir(parents=True, exist_ok=True)
    results = run(args)
    _complete(results, args, partial=False)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return _write(results, args.out, args.write)


def _complete(results: dict[str, Any], args: argparse.Namespace, partial: bool) -> None:
    """Add machine, catalog, versions and settings; for a partial run, what it can recover."""
    if partial:
        cases = results["cases"].values()
        loads = [r["load"] for c in cases for rs in c["tools"].values() for r in rs]
        results["load"] = {"min": min(loads), "median": statistics.median(loads), "max": max(loads)}
        results["partial"] = True
        args.runs = max(len(rs) for c in cases for rs in c["tools"].values())
        args.checkov_sizes = sorted(c["n"] for c in cases if "checkov" in c["tools"])
    results["machine"] = machine_facts()
    results["catalog"] = catalog_facts()
    results["versions"] = {
        "opa": "OPA " + _version([str(OPA), "version"]).replace("Version: ", ""),
        "conftest": "Conftest " + _pinned("CONFTEST_VERSION"),
        "soc2opa": _version([str(SOC2OPA), "--version"]).replace(", version ", " "),
        "checkov": CHECKOV_VERSION if args.checkov_sizes else None,
    }
    results["settings"] = {
        "runs": args.runs,
        "seed": args.seed,
        "shape": " ".join(synth_shape(args)),
        "checkov_sizes": args.checkov_sizes,
        "checkov_one_run_from": CHECKOV_ONE_RUN_FROM,
        "batch": [args.batch, args.batch_size],
        "synth_digest": fixtures_digest(),
    }


def _write(results: dict[str, Any], out: Path, to_docs: bool) -> int:
    summary = report.summarise(results)
    text = report.markdown(results, summary, plot_name="benchmark.png")
    (out / "benchmark.md").write_text(report.standalone(text))
    report.plot(results, out / "benchmark.png")
    if to_docs:
        doc = ROOT / "docs" / "benchmark.md"
        doc.write_text(report.splice(doc.read_text() if doc.exists() else "", text))
        shutil.copyfile(out / "benchmark.png", ROOT / "docs" / "benchmark.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
