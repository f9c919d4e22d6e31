"""The errors soc2opa reports as one line and exit code 2."""

from __future__ import annotations


class Soc2OpaError(Exception):
    """An error shown to the user as a single line; the CLI maps it to exit code 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(Soc2OpaError):
    """The plan file cannot be judged: missing, not JSON, not a plan, unsupported version."""


class CatalogError(Soc2OpaError):
    """A control file is invalid; the message names the file and the field."""


class EngineError(Soc2OpaError):
    """OPA is missing, crashed, timed out or answered with something unusable."""


class UsageError(Soc2OpaError):
    """The command line asks for something that does not exist (a control id, a criterion)."""
