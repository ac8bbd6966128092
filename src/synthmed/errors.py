"""Errors a user can cause. The CLI prints their message (no traceback) and exits 2."""

__all__ = ["SynthmedError", "SpecError", "OutputError"]


class SynthmedError(Exception):
    """Base class: the message says what went wrong and how to fix it."""


class SpecError(SynthmedError):
    """An invalid dataset spec: the message names the file, line, field and what is allowed."""


class OutputError(SynthmedError):
    """The output location cannot be written (a file, no space, another dataset)."""
