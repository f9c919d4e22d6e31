"""Output formats, by name: the one registry every command uses."""

from soc2opa.formats.base import Format, FormatOptions
from soc2opa.formats.csv_format import CsvFormat
from soc2opa.formats.github import GithubFormat
from soc2opa.formats.json_format import JsonFormat
from soc2opa.formats.junit import JunitFormat
from soc2opa.formats.markdown import MarkdownFormat
from soc2opa.formats.sarif import SarifFormat
from soc2opa.formats.text import TextFormat

FORMATS: dict[str, type[Format]] = {
    f.name: f
    for f in (
        TextFormat,
        JsonFormat,
        SarifFormat,
        JunitFormat,
        MarkdownFormat,
        GithubFormat,
        CsvFormat,
    )
}


def get_format(name: str, options: FormatOptions | None = None) -> Format:
    """The format registered under name, built with the given options."""
    return FORMATS[name](options)


__all__ = ["FORMATS", "Format", "FormatOptions", "get_format"]
