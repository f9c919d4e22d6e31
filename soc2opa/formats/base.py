"""The interface every output format implements, and the options they are given."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from soc2opa.report import Control, Report, Result
from soc2opa.untrusted import escape

if TYPE_CHECKING:
    from soc2opa.locations import SourceLine

# Where each control's page lives in the repository (docs/controls/<service>/<id>.md).
DOCS_BASE_URL = "https://github.com/soc2opa/soc2opa/blob/main/"


@dataclass(frozen=True)
class FormatOptions:
    """What a format needs to know besides the report: terminal, width, where paths start."""

    color: bool = False
    width: int = 100
    base_dir: Path = field(default_factory=Path.cwd)
    docs_base_url: str = DOCS_BASE_URL
    quiet: bool = False
    max_chars: int = 65_000


def plain(text: str) -> str:
    """An untrusted string (from a plan) made safe to show: no control or bidi characters.

    Every format calls it before its own quoting; the escaping itself is soc2opa.untrusted's.
    """
    return escape(text.replace("\r\n", "\n").replace("\t", " "), keep_newlines=True)


def one_line(text: str) -> str:
    """plain(), with line breaks folded to spaces (table cells, annotations, attributes)."""
    return " ".join(plain(text).split())


def doc_path(control: Control) -> str:
    """The control's documentation page, relative to the repository root."""
    return control.help_uri or f"docs/controls/{control.service or 'other'}/{control.id}.md"


def rel_path(path: Path, options: FormatOptions) -> str:
    """A POSIX path relative to the base folder (the repository root in CI)."""
    try:
        rel = os.path.relpath(path, options.base_dir)
    except ValueError:
        rel = str(path)
    return Path(rel).as_posix()


def where(result: Result, options: FormatOptions) -> tuple[str, int] | None:
    """The file (relative) and line of a result's resource block, when --tf-dir found it."""
    if result.location is None:
        return None
    line: SourceLine = result.location.resource
    return rel_path(line.path, options), line.line


def status_label(result: Result) -> str:
    """fail, unknown or pass, with ` (waived)` when a waiver accepts it."""
    return f"{result.status} (waived)" if result.waived else result.status


def fails_run(report: Report, result: Result) -> bool:
    """Whether this result counts towards the exit code (identity, not equality)."""
    return any(r is result for r in report.failing())


class Format(ABC):
    """Renders reports for one audience (a terminal, a machine, a CI system)."""

    name: str
    description: str = ""

    def __init__(self, options: FormatOptions | None = None) -> None:
        self.options = options or FormatOptions()

    @abstractmethod
    def render(self, report: Report) -> str:
        """The whole document for one report."""

    def render_all(self, reports: Sequence[Report]) -> str:
        """The document for several plans; formats with a natural container override this."""
        if len(reports) == 1:
            return self.render(reports[0])
        return "".join(self.render(r) for r in reports)
