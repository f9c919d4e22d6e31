"""Output formats, by name: the one registry every command uses."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from soc2opa.formats.base import Format, FormatOptions

# Module and class of each format: a run imports only the formats it writes (start-up time).
_WHERE = {
    "text": ("text", "TextFormat"),
    "json": ("json_format", "JsonFormat"),
    "sarif": ("sarif", "SarifFormat"),
    "junit": ("junit", "JunitFormat"),
    "markdown": ("markdown", "MarkdownFormat"),
    "github": ("github", "GithubFormat"),
    "csv": ("csv_format", "CsvFormat"),
}


class _Registry(Mapping[str, type[Format]]):
    """Format classes by name, each imported when first asked for."""

    def __getitem__(self, name: str) -> type[Format]:
        module, cls = _WHERE[name]
        found: type[Format] = getattr(importlib.import_module(f"soc2opa.formats.{module}"), cls)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


FORMATS: Mapping[str, type[Format]] = _Registry()


def get_format(name: str, options: FormatOptions | None = None) -> Format:
    """The format registered under name, built with the given options."""
    return FORMATS[name](options)


__all__ = ["FORMATS", "Format", "FormatOptions", "get_format"]
