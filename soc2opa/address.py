"""Parsing Terraform resource addresses such as module.a["x"].aws_s3_bucket.b[0]."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

_KEY = r'\[(?:"(?:[^"\\]|\\.)*"|[0-9]+)\]'
_MODULE = re.compile(rf"module\.([A-Za-z0-9_-]+)((?:{_KEY})?)\.")
_RESOURCE = re.compile(rf"(data\.)?([A-Za-z0-9_]+)\.([A-Za-z0-9_-]+)((?:{_KEY})?)$")


@dataclass(frozen=True)
class Address:
    """The parts of a resource instance address."""

    module: str
    mode: str
    type: str
    name: str
    index: int | str | None

    @property
    def module_names(self) -> list[str]:
        """Names of the module calls, outermost first, without instance keys."""
        return [m.group(1) for m in _MODULE.finditer(self.module + ".")] if self.module else []


# Several controls judge each resource, so a report parses every address several times.
@lru_cache(maxsize=1 << 16)
def parse_address(address: str) -> Address:
    """Split an address into module path, mode, type, name and index; ValueError if malformed."""
    pos = 0
    modules = []
    while (m := _MODULE.match(address, pos)) is not None:
        modules.append(m.group(0)[:-1])
        pos = m.end()
    r = _RESOURCE.match(address, pos)
    if r is None:
        raise ValueError(f"not a resource address: {address!r}")
    key = r.group(4)
    index: int | str | None = None
    if key:
        inner = key[1:-1]
        index = int(inner) if inner.isdigit() else str(json.loads(inner))
    return Address(
        module=".".join(modules),
        mode="data" if r.group(1) else "managed",
        type=r.group(2),
        name=r.group(3),
        index=index,
    )
