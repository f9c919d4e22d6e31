"""Runs `opa test --coverage` over rego/ and fails below a minimum percentage."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--min", type=float, default=90.0, help="minimum coverage percentage")
    ap.add_argument("--opa", default=os.environ.get("SOC2OPA_OPA", ".tools/bin/opa"))
    args = ap.parse_args()
    proc = subprocess.run(
        [args.opa, "test", "--coverage", "--format", "json", "rego"], capture_output=True, text=True
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n", file=sys.stderr)
        return 1
    if proc.returncode != 0:
        subprocess.run([args.opa, "test", "rego"])
        return 1
    coverage = float(report.get("coverage", 0.0))
    worst = sorted(
        ((float(f.get("coverage", 0.0)), name) for name, f in report.get("files", {}).items()),
    )[:5]
    print(f"opa test: all tests pass; Rego coverage {coverage:.1f}% (minimum {args.min:g}%)")
    for cov, name in worst:
        print(f"  lowest: {name} {cov:.1f}%")
    return 0 if coverage >= args.min else 1


if __name__ == "__main__":
    sys.exit(main())
