"""soc2opa.jsontext writes the text json.dumps(value, indent=2) writes, for every value."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from soc2opa.jsontext import Fragment, dumps_indented, text_at

SCALARS: list[Any] = [
    "", "plain", "é ü 漢", "\u2028\n\t\"\\\x00\x1f", "\ud800", 0, -1, 2**70, 0.1, -0.0, 1e16,
    1.5e-7, float("nan"), float("inf"), float("-inf"), True, False, None,
]  # fmt: skip


def _value(rnd: random.Random, depth: int) -> Any:
    if depth == 0 or rnd.random() < 0.3:
        return rnd.choice(SCALARS)
    if rnd.random() < 0.5:
        items = [_value(rnd, depth - 1) for _ in range(rnd.randint(0, 4))]
        return tuple(items) if rnd.random() < 0.2 else items
    return {
        rnd.choice(SCALARS[:5]) + str(i): _value(rnd, depth - 1) for i in range(rnd.randint(0, 4))
    }


def test_same_text_as_json_dumps() -> None:
    rnd = random.Random(11)
    for _ in range(2000):
        value = _value(rnd, 5)
        assert dumps_indented(value) == json.dumps(value, indent=2)


@pytest.mark.parametrize(
    "value", [{1: "int key"}, {"a": {None: 1}}, [{True: 2}], {"set": {1, 2}}, {"b": b"bytes"}]
)
def test_what_it_does_not_expect_is_left_to_json(value: Any) -> None:
    try:
        want = json.dumps(value, indent=2)
    except TypeError as exc:
        with pytest.raises(TypeError, match=str(exc)):
            dumps_indented(value)
    else:
        assert dumps_indented(value) == want


class _Rows(Fragment):
    """A fragment whose text is written by hand, as json_format's results are."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def value(self) -> list[Any]:
        return self.rows

    def text(self, nl: str) -> str:
        if not self.rows:
            return "[]"
        inner = nl + "  "
        return "[" + inner + ("," + inner).join(text_at(r, inner) for r in self.rows) + nl + "]"


def test_fragments_are_written_where_they_stand() -> None:
    rnd = random.Random(5)
    for _ in range(300):
        rows = [_value(rnd, 3) for _ in range(rnd.randint(0, 3))]
        plain = {"a": [1, {"rows": rows}], "b": rows}
        with_fragments = {"a": [1, {"rows": _Rows(rows)}], "b": _Rows(rows)}
        assert dumps_indented(with_fragments) == json.dumps(plain, indent=2)


def test_fragments_reach_json_when_jsontext_gives_up() -> None:
    # A key jsontext does not write sends the document to json.dumps, fragments and all.
    value = {"rows": _Rows([{"x": 1}]), "odd": {1: "int key"}}
    plain = {"rows": [{"x": 1}], "odd": {1: "int key"}}
    assert dumps_indented(value) == json.dumps(plain, indent=2)
