"""record_hash's canonical JSON: json's fast encoder where it writes exactly what the rfc8785
package writes, rfc8785 itself everywhere else. Any difference would change every record hash."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from soc2opa.evidence.store import _plain, canonical_json, read
from tests.conftest import ROOT, Run

TRICKY = [
    "".join(chr(c) for c in range(0x80)), "\u2028\u2029\ufeff\x7f", "é ß 漢字", "\U0001f600",
    "a/b\\c\"d", "", " ", "\ud7ff\ue000\uffff", "\U0010ffff",
]  # fmt: skip


def _same(value: Any) -> None:
    try:
        want: bytes | type[Exception] = rfc8785.dumps(value)
    except Exception as exc:  # rfc8785 refuses it: so must canonical_json, the same way
        want = type(exc)
    try:
        got: bytes | type[Exception] = canonical_json(value)
    except Exception as exc:
        got = type(exc)
    assert got == want, value


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 3 or pick < 0.45:
        return rng.choice([
            rng.choice(TRICKY) + "".join(chr(rng.randrange(0x30000)) for _ in range(rng.randrange(4))),
            rng.randrange(-(2**53) + 1, 2**53), True, False, None, rng.randrange(-5, 5),
        ])  # fmt: skip
    if pick < 0.7:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    keys = ["".join(rng.choice("abcXYZ_-.:#/ 09") for _ in range(rng.randrange(1, 6)))
            for _ in range(rng.randrange(6))]  # fmt: skip
    return {k: _random_value(rng, depth + 1) for k in keys}


def test_plain_values_encode_as_rfc8785_does() -> None:
    for text in TRICKY:
        assert _plain(text)
        _same(text)
        _same({"k": text, "list": [text, {"z": text, "a": 1}]})
    rng = random.Random(8785)
    for _ in range(3000):
        _same(_random_value(rng))


NOT_PLAIN = [
    1.0, 0.1, 1e21, -0.0, {"x": [1.5]},  # floats: RFC 8785 writes ES6 number forms
    2**53, -(2**60), {"big": 2**64},  # beyond I-JSON: rfc8785 refuses them
    {"\ue000": 1, "\U0001f600": 2},  # UTF-16 order differs from code point order
    {"é": 1, "e": 2}, (1, 2),
]  # fmt: skip


@pytest.mark.parametrize("value", NOT_PLAIN)
def test_other_values_go_to_rfc8785(value: Any) -> None:
    assert not _plain(value)
    _same(value)


@pytest.mark.parametrize("value", ["\ud800", {"k": ["\udfff"]}])
def test_lone_surrogates_go_to_rfc8785(value: Any) -> None:
    _same(value)


def test_real_records_take_the_fast_path_and_hash_the_same(run: Run, tmp_path: Path) -> None:
    store = tmp_path / "e.db"
    state = ROOT / "tests" / "fixtures" / "state" / "handbuilt_state_shown.json"
    proc = run(
        "eval",
        str(ROOT / "examples" / "demo" / "plan.json"),
        str(state),
        "--waivers",
        str(ROOT / "examples" / "waivers" / "waivers.yaml"),
        "--evidence",
        str(store),
        "-q",
    )
    assert proc.returncode == 1, proc.stderr
    rows = list(read(store))
    assert len(rows) == 2
    for row in rows:
        doc = {"seq": row.seq, "prev_hash": row.prev_hash, "record": row.record}
        assert _plain(doc)
        assert canonical_json(doc) == rfc8785.dumps(doc)
