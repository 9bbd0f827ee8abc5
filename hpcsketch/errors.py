"""Exceptions that map to the CLI's exit codes.

0 success, 1 run failure, 2 bad input (usage, job file, data path). A bad-input
error carries one line that names the file, the field, what is wrong and what
would be right, so the CLI can print it without a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def one_line(text: str) -> str:
    """``text`` with control characters (newlines, and the separators str.splitlines also breaks at)
    escaped, so a message that quotes a user's key or value stays one line."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


class HpcsketchError(Exception):
    """Base class; ``exit_code`` tells the CLI what to return."""

    exit_code = EXIT_FAILURE


class BadInput(HpcsketchError):
    """Bad user input: exit code 2 and one clear line, never a traceback."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.source = source
        self.field = field
        self.detail = message
        parts = [p for p in (source, field) if p]
        super().__init__(one_line(": ".join(parts + [message])))


class JobError(BadInput):
    """A job file (or a --set override) that does not validate."""


