"""Compare soc2opa and Checkov verdicts, resource by resource, against expected verdicts.

Each folder under tests/checkov_compare/ holds a plan made from public HCL (plan.json), the
verdicts expected from reading that HCL (expected.yaml, written before either tool ran),
Checkov's results on the plan (checkov.json, stored so that no test needs Checkov installed) and
PROVENANCE.md. mapping.yaml says which soc2opa controls and which Checkov checks test each topic.

    python scripts/compare_checkov.py                   # live soc2opa, stored Checkov results
    python scripts/compare_checkov.py --run-checkov BIN # re-run Checkov first, store its results
    python scripts/compare_checkov.py --format json     # the pairs as JSON
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "checkov_compare"
CLASSES = ("agree", "we-miss", "checkov-misses", "disagree")


@dataclass(frozen=True)
class Topic:
    """One thing both tools test, with the checks each side uses for it."""

    name: str
    klass: str
    ours: tuple[str, ...]
    checkov: tuple[str, ...]


@dataclass(frozen=True)
class Pair:
    """One (resource, topic) pair: the expected verdict, each side's verdict and the class."""

    plan: str
    address: str
    topic: str
    topic_class: str
    expect: str
    ours: str
    checkov: str
    klass: str
    why: str
    ours_by: str
    checkov_by: str
    soc2opa_differs: str = ""


def load_mapping(path: Path = CASES / "mapping.yaml") -> dict[str, Topic]:
    """The topics of mapping.yaml."""
    doc = yaml.safe_load(path.read_text())
    return {
        name: Topic(name, t["class"], tuple(t["ours"]), tuple(t["checkov"]))
        for name, t in doc["topics"].items()
    }


def ours_results(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(control id, resource address, status) of every result in a soc2opa JSON report."""
    return [(r["control_id"], r["resource_address"], r["status"]) for r in report["results"]]


def checkov_results(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(check id, resource address, passed|failed) from stored or raw Checkov JSON."""
    if "checks" in doc:
        return [(c["check_id"], c["resource"], c["result"]) for c in doc["checks"]]
    out: list[tuple[str, str, str]] = []
    for key, result in (("passed_checks", "passed"), ("failed_checks", "failed")):
        for c in doc["results"].get(key, []):
            out.append((c["check_id"], c.get("resource_address") or c["resource"], result))
    return out


def _matches(address: str, exp: dict[str, Any]) -> bool:
    if address == exp["address"] or address in exp.get("also", []):
        return True
    prefix = exp.get("also_prefix")
    return bool(prefix) and address.startswith(str(prefix))


def side_verdict(
    results: Iterable[tuple[str, str, str]], checks: Iterable[str], exp: dict[str, Any]
) -> tuple[str, str]:
    """One side's verdict on an expectation's addresses: fail, pass, unknown or none.

    Returns the verdict and the checks that produced it (failing ones first).
    """
    wanted = set(checks)
    seen: dict[str, set[str]] = {}
    for check, address, status in results:
        if check in wanted and _matches(address, exp):
            norm = {"failed": "fail", "passed": "pass"}.get(status, status)
            seen.setdefault(norm, set()).add(check)
    for verdict in ("fail", "pass", "unknown"):
        if verdict in seen:
            return verdict, ",".join(sorted(seen[verdict]))
    return "none", ""


def correct(expect: str, verdict: str) -> bool:
    """Whether a side's verdict gives the expected finding: fail raises one; pass, unknown and
    not judged (none) raise none, so they are right exactly when a pass is expected."""
    return (verdict == "fail") == (expect == "fail")


def classify(expect: str, ours: str, checkov: str) -> str:
    """agree (both right), we-miss (only Checkov right), checkov-misses (only soc2opa right)
    or disagree (both wrong)."""
    ours_ok, checkov_ok = correct(expect, ours), correct(expect, checkov)
    if ours_ok and checkov_ok:
        return "agree"
    if checkov_ok:
        return "we-miss"
    if ours_ok:
        return "checkov-misses"
    return "disagree"


def compare_case(
    name: str,
    expected: dict[str, Any],
    ours: list[tuple[str, str, str]],
    checkov: list[tuple[str, str, str]],
    topics: dict[str, Topic],
) -> list[Pair]:
    """Every expectation of one plan as a classified pair."""
    pairs = []
    for exp in expected["expectations"]:
        topic = topics[exp["topic"]]
        o, o_by = side_verdict(ours, topic.ours, exp)
        c, c_by = side_verdict(checkov, topic.checkov, exp)
        pairs.append(
            Pair(
                plan=name,
                address=exp["address"],
                topic=topic.name,
                topic_class=topic.klass,
                expect=exp["expect"],
                ours=o,
                checkov=c,
                klass=classify(exp["expect"], o, c),
                why=str(exp.get("why", "")),
                ours_by=o_by,
                checkov_by=c_by,
                soc2opa_differs=str(exp.get("soc2opa_differs", "")),
            )
        )
    return pairs


def outside_expectations(
    expected: dict[str, Any],
    ours: list[tuple[str, str, str]],
    checkov: list[tuple[str, str, str]],
    topics: dict[str, Topic],
) -> list[tuple[str, str, str, str]]:
    """Failures of a topic's checks (either side) on resources no expectation of that topic
    names: (side, topic, check, address). An empty list means the expectations are complete."""
    skip = set(expected.get("not_judged_here", []))
    exps = expected["expectations"]
    out = []
    for t in topics.values():
        for side, results, checks in (("soc2opa", ours, t.ours), ("checkov", checkov, t.checkov)):
            for check, address, status in results:
                if check not in checks or status not in ("fail", "failed") or address in skip:
                    continue
                if not any(e["topic"] == t.name and _matches(address, e) for e in exps):
                    out.append((side, t.name, check, address))
    return sorted(set(out))


def run_soc2opa(plan: Path, soc2opa: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """soc2opa eval --format json on one plan (the real opa); exit 0 or 1 is a verdict."""
    proc = subprocess.run(
        [soc2opa, "eval", str(plan), "--format", "json"], capture_output=True, text=True, env=env
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"soc2opa eval {plan}: exit {proc.returncode}: {proc.stderr.strip()}")
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def run_checkov(plan: Path, checkov: str) -> dict[str, Any]:
    """Run Checkov on a plan and keep what the comparison needs, with Checkov's version."""
    cmd = [checkov, "-f", "plan.json", "--framework", "terraform_plan", "-o", "json"]
    cmd += ["--compact", "--skip-download"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=plan.parent)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"checkov on {plan}: exit {proc.returncode}: {proc.stderr.strip()}")
    raw = json.loads(proc.stdout)
    checks = [
        {"check_id": c, "resource": a, "result": r} for c, a, r in sorted(set(checkov_results(raw)))
    ]
    return {
        "checkov_version": raw["summary"]["checkov_version"],
        "command": "checkov -f plan.json --framework terraform_plan -o json --compact",
        "summary": {k: raw["summary"][k] for k in ("passed", "failed", "resource_count")},
        "checks": checks,
    }


def compare_all(
    soc2opa: str,
    checkov_bin: str | None = None,
    cases: Path = CASES,
    env: dict[str, str] | None = None,
) -> tuple[list[Pair], list[tuple[str, str, str, str]]]:
    """Compare every plan folder; with checkov_bin, re-run Checkov and store its results.

    Returns the pairs and the failures outside the expectations (prefixed with the plan).
    """
    topics = load_mapping(cases / "mapping.yaml")
    pairs: list[Pair] = []
    extra: list[tuple[str, str, str, str]] = []
    for case in sorted(p for p in cases.iterdir() if (p / "expected.yaml").is_file()):
        stored = case / "checkov.json"
        if checkov_bin:
            stored.write_text(json.dumps(run_checkov(case / "plan.json", checkov_bin), indent=1))
        expected = yaml.safe_load((case / "expected.yaml").read_text())
        ours = ours_results(run_soc2opa(case / "plan.json", soc2opa, env))
        theirs = checkov_results(json.loads(stored.read_text()))
        pairs += compare_case(case.name, expected, ours, theirs, topics)
        for side, topic, check, address in outside_expectations(expected, ours, theirs, topics):
            extra.append((case.name, side, topic, f"{check} on {address}"))
    return pairs, extra


def counts(pairs: list[Pair]) -> dict[str, dict[str, int]]:
    """Pairs per topic class and per comparison class, with totals."""
    table: dict[str, Counter[str]] = {}
    for p in pairs:
        table.setdefault(p.topic_class, Counter())[p.klass] += 1
        table.setdefault("all", Counter())[p.klass] += 1
    return {k: {c: v[c] for c in CLASSES} for k, v in sorted(table.items())}


def markdown(pairs: list[Pair]) -> str:
    """The counts table and the pair table, as between the markers of
    docs/checkov-comparison.md."""
    lines = ["| topic class | " + " | ".join(CLASSES) + " | pairs |", "|---" * 6 + "|"]
    for k, c in counts(pairs).items():
        lines.append(
            f"| {k} | " + " | ".join(str(c[x]) for x in CLASSES) + f" | {sum(c.values())} |"
        )
    lines += [
        "",
        "| plan | resource | topic | expected | soc2opa | Checkov | class |",
        "|---" * 7 + "|",
    ]
    for p in pairs:
        lines.append(
            f"| {p.plan} | `{p.address}` | {p.topic} | {p.expect} | {p.ours} | {p.checkov} "
            f"| {p.klass} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the comparison; exit 1 when a soc2opa verdict differs from the expected one without
    a soc2opa_differs note, or a topic fails on a resource no expectation names."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--soc2opa", default=str(Path(sys.executable).parent / "soc2opa"))
    ap.add_argument("--run-checkov", metavar="CHECKOV", help="re-run this checkov and store")
    ap.add_argument("--format", choices=("markdown", "json"), default="markdown")
    args = ap.parse_args(argv)
    pairs, extra = compare_all(args.soc2opa, args.run_checkov)
    if args.format == "json":
        doc = {"counts": counts(pairs), "pairs": [asdict(p) for p in pairs], "outside": extra}
        print(json.dumps(doc, indent=1))
    else:
        print(markdown(pairs), end="")
    bad = 0
    for p in pairs:
        if correct(p.expect, p.ours) == bool(p.soc2opa_differs):
            bad += 1
            note = (
                "differs, with no soc2opa_differs note"
                if not p.soc2opa_differs
                else ("matches, but a soc2opa_differs note says otherwise")
            )
            print(f"{p.plan} {p.address} {p.topic}: soc2opa {p.ours}: {note}", file=sys.stderr)
    for plan, side, topic, what in extra:
        bad += 1
        print(f"{plan}: {side} fails {topic} outside the expectations: {what}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
