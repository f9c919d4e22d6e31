"""Mutation fuzzing: real plans from ../shared/plans, broken in many ways, never break the contract.

Contract: exit 0/1 with a report that validates against the schema and an empty stderr, or
exit 2 with exactly one stderr line and nothing on stdout; never a traceback, an internal error,
a sensitive value, or a raw terminal control character. The run is bounded in time
(SOC2OPA_FUZZ_SECONDS, default 25) and reproducible (SOC2OPA_FUZZ_SEED, default 20261125).
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema

from tests.conftest import ROOT, Run

SECRET = "fuzz-secret-4f9c2a"
SCHEMA = json.loads((ROOT / "soc2opa/schemas/report.schema.json").read_text())
BUDGET = float(os.environ.get("SOC2OPA_FUZZ_SECONDS", "25"))
SEED = int(os.environ.get("SOC2OPA_FUZZ_SEED", "20261125"))
MIN_CASES = 12
HOSTILE = ["\x1b]0;t\x07", "\x1b[2J", "\u202e", "\x9b", "\n", "\r", "\x00", "\u2028", "\ud800"]
TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
Doc = dict[str, Any]


def _secret_resources() -> list[Doc]:
    """Resources whose checked values are the secret, each hidden by a different marking."""

    def rc(name: str, marks: Doc) -> Doc:
        return {
            "address": f"aws_db_instance.{name}", "mode": "managed", "type": "aws_db_instance",
            "name": name, "change": {"actions": ["create"], "before": None,
            "after": {"storage_encrypted": SECRET, "engine": SECRET, "password": SECRET},
            "after_unknown": {}, **marks},
        }  # fmt: skip

    return [
        rc("fuzz_whole", {"after_sensitive": True}),
        rc("fuzz_before", {"after_sensitive": {}, "before_sensitive": {
            "storage_encrypted": True, "engine": True, "password": True}}),
        rc("fuzz_after", {"after_sensitive": {
            "storage_encrypted": True, "engine": True, "password": True}}),
    ]  # fmt: skip


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    doc[path[-1]] = value


def _delete(doc: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        doc = doc[step]
    del doc[path[-1]]


REPLACEMENTS: list[Callable[[random.Random], Any]] = [
    lambda r: None,
    lambda r: r.choice([True, False]),
    lambda r: r.randint(-(10**30), 10**30),
    lambda r: r.random() * 1e300,
    lambda r: "",
    lambda r: "x" * r.randint(1, 5000),
    lambda r: "".join(r.choice(HOSTILE) + "a" for _ in range(r.randint(1, 8))),
    lambda r: [],
    lambda r: {},
    lambda r: [[[[[[[[]]]]]]]],
    lambda r: {"after": None, "actions": ["create"]},
]


def _structural(doc: Doc, rnd: random.Random) -> None:
    """Replace, delete or duplicate values in the plan (the secret resources are added later)."""
    paths = [p for p in _paths(doc) if p]
    for _ in range(rnd.randint(1, 4)):
        if not paths:
            return
        path = rnd.choice(paths)
        choice = rnd.random()
        try:
            if choice < 0.55:
                _set(doc, path, rnd.choice(REPLACEMENTS)(rnd))
            elif choice < 0.8:
                _delete(doc, path)
            else:
                parent = doc
                for step in path[:-1]:
                    parent = parent[step]
                if isinstance(parent, list):
                    parent.append(copy.deepcopy(parent[path[-1]]))
        except (KeyError, IndexError, TypeError):
            pass
        paths = [p for p in _paths(doc) if p]


def _hostile_addresses(doc: Doc, rnd: random.Random) -> None:
    changes = doc.get("resource_changes")
    for rc in changes if isinstance(changes, list) else []:
        if isinstance(rc, dict) and isinstance(rc.get("address"), str) and rnd.random() < 0.3:
            rc["address"] += "".join(rnd.sample(HOSTILE, 3))
    if rnd.random() < 0.5:
        doc["terraform_version"] = "1.9" + "".join(rnd.sample(HOSTILE, 4))


def _bytes(text: str, rnd: random.Random, protect_from: int) -> bytes:
    """Encode, then maybe damage bytes, only before the secret resources (so they stay marked)."""
    data = text.encode(rnd.choice(["utf-8", "utf-8", "utf-8", "utf-16", "utf-32-be", "utf-8-sig"]))
    if rnd.random() < 0.65:
        return data
    raw = bytearray(text.encode())
    cut = rnd.randint(0, max(protect_from - 1, 0))
    kind = rnd.choice(["truncate", "flip", "insert", "append", "nan", "comment"])
    if kind == "truncate":
        return bytes(raw[:cut])
    if kind == "flip":
        raw[cut] = rnd.randint(0, 255)
    elif kind == "insert":
        raw[cut:cut] = rnd.choice([b"\xff", b",", b"}", b"[", b"'", b"NaN", b"\x00", b"/*x*/"])
    elif kind == "append":
        raw += rnd.choice([b"x", b"}", b"\n{}", b"\x00", b"  "])
    elif kind == "nan":
        raw = bytearray(bytes(raw).replace(b"null", b"NaN", 1))
    else:
        raw[0:0] = b"// plan\n"
    return bytes(raw)


def _case(base: Doc, rnd: random.Random) -> bytes:
    doc = copy.deepcopy(base)
    if rnd.random() < 0.6:
        _structural(doc, rnd)
    if rnd.random() < 0.5:
        _hostile_addresses(doc, rnd)
    changes = doc.get("resource_changes")
    if not isinstance(changes, list):
        changes = doc["resource_changes"] = [] if rnd.random() < 0.5 else changes
    if isinstance(changes, list):
        changes += _secret_resources()
    text = json.dumps(doc, indent=rnd.choice([None, 2]))
    marker = text.find('"aws_db_instance.fuzz_whole"')
    return _bytes(text, rnd, marker if marker > 0 else len(text))


def _check(proc: Any, data: bytes) -> None:
    out, err = proc.stdout, proc.stderr
    where = f"input starts {data[:200]!r}"
    assert "Traceback" not in err and "internal error" not in err, (err, where)
    assert SECRET not in out and SECRET not in err, where
    assert not TERMINAL_UNSAFE.search(err), (err, where)
    if proc.returncode == 2:
        assert out == "", where
        assert len(err.splitlines()) == 1 and err.startswith("soc2opa: error: "), (err, where)
        return
    assert proc.returncode in (0, 1), (proc.returncode, err, where)
    assert err == "", (err, where)
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(out))


def test_mutated_plans_keep_the_contract(run: Run, shared_plans: Path, tmp_path: Path) -> None:
    rnd = random.Random(SEED)
    sizes = sorted((p.stat().st_size, p) for p in shared_plans.glob("*.json"))
    bases = []
    for _, path in sizes[:12]:
        raw = path.read_bytes()
        doc = json.loads(raw.decode(json.detect_encoding(raw)))
        if isinstance(doc, dict):
            bases.append(doc)
    assert len(bases) >= 6, "../shared/plans should hold small real plans"
    started = time.monotonic()
    cases = 0
    outcomes: dict[int, int] = {}
    while cases < MIN_CASES or time.monotonic() - started < BUDGET:
        data = _case(rnd.choice(bases), rnd)
        plan = tmp_path / f"case{cases}.json"
        plan.write_bytes(data)
        fmt = "json" if cases % 3 else "text"
        proc = run("eval", str(plan), "--format", fmt, "--timeout", "60")
        if fmt == "text":
            assert not TERMINAL_UNSAFE.search(proc.stdout.replace("\n", "")), data[:200]
            if proc.returncode in (0, 1):
                assert proc.stderr == "" and SECRET not in proc.stdout
                proc = run("eval", str(plan), "--format", "json", "--timeout", "60")
        _check(proc, data)
        outcomes[proc.returncode] = outcomes.get(proc.returncode, 0) + 1
        cases += 1
    print(f"fuzz: {cases} cases, exit codes {outcomes}")
    # Both sides of the contract were exercised, so the test can fail either way.
    assert outcomes.get(2, 0) > 0 and outcomes.get(0, 0) + outcomes.get(1, 0) > 0, outcomes
