"""Output formats, by name."""

from soc2opa.formats.base import Format
from soc2opa.formats.json_format import JsonFormat
from soc2opa.formats.text import TextFormat

FORMATS: dict[str, type[Format]] = {f.name: f for f in (TextFormat, JsonFormat)}

__all__ = ["FORMATS", "Format"]
