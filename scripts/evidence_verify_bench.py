"""Builds an evidence store of a year (records and daily signed checkpoints) and times verify.

The records are copies of one real evaluation record (`soc2opa eval` of the demo plan with the
real opa), dated across 365 days; a checkpoint is signed after each day's records, as a nightly
job would. Then `soc2opa evidence verify STORE --public-key KEY` runs as a user would, and its
wall time and CPU time (user + system, which a loaded machine disturbs less) are printed, best
of --repeat. verify runs as `python -c "from soc2opa.cli import main; main()"`, so PYTHONPATH can
point it at another checkout to compare versions on the same store. Example:

    .venv/bin/python scripts/evidence_verify_bench.py --records 10000 --checkpoints 365
    PYTHONPATH=/path/to/older/checkout .venv/bin/python scripts/evidence_verify_bench.py \
        --store /tmp/soc2opa-verify-bench-*/year.db
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from soc2opa.evidence.audit import leaf_hashes
from soc2opa.evidence.merkle import roots_at
from soc2opa.evidence.note import TreeHead, generate
from soc2opa.evidence.store import Checkpoint, open_store

ROOT = Path(__file__).resolve().parents[1]
SOC2OPA = Path(sys.executable).parent / "soc2opa"


def _template(folder: Path) -> dict[str, Any]:
    seed = folder / "seed.db"
    subprocess.run(
        [str(SOC2OPA), "eval", str(ROOT / "examples" / "demo" / "plan.json"), "--evidence",
         str(seed), "-q"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    with closing(open_store(seed, must_exist=True)) as store:
        rows = store.rows()
    if not rows:
        sys.exit("the seed evaluation recorded nothing (is opa installed? run make setup)")
    return rows[0].record


def build(path: Path, records: int, checkpoints: int, template: dict[str, Any]) -> Path:
    """Fill path with records over `checkpoints` days, a signed checkpoint after each day."""
    signer = generate("bench.example/soc2")
    start = datetime(2025, 1, 1, 8, tzinfo=UTC)
    sizes = [round(records * (d + 1) / checkpoints) for d in range(checkpoints)]
    with closing(open_store(path)) as store:
        # A benchmark store need not survive a power cut; this only makes building it faster.
        store._conn.execute("PRAGMA synchronous = OFF")
        day = 0
        for n in range(1, records + 1):
            while n > sizes[day]:
                day += 1
            rec = json.loads(json.dumps(template))
            at = start + timedelta(days=day, seconds=n)
            rec["started_at"] = at.isoformat(timespec="microseconds")
            rec["ended_at"] = (at + timedelta(seconds=2)).isoformat(timespec="microseconds")
            store.append(rec)
        rows = store.rows()
        roots = roots_at(leaf_hashes(rows), sizes)
        for d, size in enumerate(sizes):
            head = TreeHead(signer.name, size, roots[size])
            when = (start + timedelta(days=d, hours=15)).isoformat(timespec="microseconds")
            store.add_checkpoint(Checkpoint(
                0, when, head.origin, size, head.root.hex(), signer.sign(head.text()),
                signer.verifier.text(),
            ))  # fmt: skip
    (path.parent / "bench.pub").write_text(signer.verifier.text() + "\n")
    return path


def main() -> None:
    """Build the store (or reuse --store) and time verify."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--checkpoints", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--store", type=Path, help="Reuse (or build here) this store.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="soc2opa-verify-bench-"))
    store = args.store or folder / "year.db"
    if not store.exists():
        began = time.perf_counter()
        build(store, args.records, args.checkpoints, _template(folder))
        print(f"built {store} in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    public = store.parent / "bench.pub"
    best, cpu = float("inf"), float("inf")
    command = [sys.executable, "-c", "from soc2opa.cli import main; main()", "evidence",
               "verify", str(store), "--public-key", str(public)]  # fmt: skip
    for _ in range(args.repeat):
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              env=os.environ)  # fmt: skip
        best = min(best, time.perf_counter() - began)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = min(cpu, after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime)
        if done.returncode != 0:
            sys.exit(f"verify failed: {done.stderr.strip()}")
    import soc2opa

    print(done.stdout.strip(), file=sys.stderr)
    print(json.dumps({
        "verify_wall_seconds": round(best, 2), "verify_cpu_seconds": round(cpu, 2),
        "load_average": os.getloadavg()[0], "soc2opa": str(Path(soc2opa.__file__).parent),
        "store": str(store), "summary": done.stdout.strip().splitlines()[:2],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
