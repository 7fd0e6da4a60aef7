"""Errors a user can act on: each carries one clear line, never a traceback."""

from __future__ import annotations


class SmconformError(Exception):
    """Base of every error the suite reports as a single line."""


class UsageError(SmconformError):
    """Bad command line, unknown profile or option, unusable input file."""


class SpecError(SmconformError):
    """One or more spec files are malformed; the message lists every problem at file:line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class EngineError(SmconformError):
    """The Docker engine is unreachable or refused an operation."""


class ImageNotFound(SmconformError):
    """The image under test is not present on the engine (and is never pulled implicitly)."""
