"""The interface every output format implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from soc2opa.report import Report


class Format(ABC):
    """Renders a Report as text for one audience (a terminal, a machine, a CI system)."""

    name: str

    @abstractmethod
    def render(self, report: Report) -> str:
        """The whole document for one report."""
