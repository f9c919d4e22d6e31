"""YAML documents parsed by libyaml when PyYAML was built with it.

The catalog is read several times per build (about a thousand documents); libyaml parses them
about ten times faster than PyYAML's own parser, with the same safe constructor and resolver.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """The document in text as plain Python values, like yaml.safe_load."""
    return yaml.load(text, Loader=_LOADER)
