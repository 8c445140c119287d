"""Exceptions raised by reports.

Every exception reports raises on purpose derives from one root::

    ReportError                 root: a report cannot be built or written as asked
    └── ResultSchemaError       a result document (or a result built in code) breaks the schema
"""

from __future__ import annotations

from typing import Final

_NO_VALUE: Final = object()
_MAX_VALUE_REPR = 80

FIX = "Fix the code that wrote the result, or read it with the chaosflow version that wrote it."
"""The usual advice for a document that breaks the schema."""


class ReportError(Exception):
    """Root of every error the reports package raises on purpose."""


class ResultSchemaError(ReportError):
    """A result breaks the versioned schema; the message names the field path and the bad value.

    Carries ``.path`` (e.g. ``"result.invariants[0].verdict"``), ``.problem``, ``.fix``,
    ``.source`` (the file it was read from, if any) and ``.value`` when there is a bad value to
    show (see :attr:`has_value`; a missing field has none).
    """

    def __init__(
        self,
        path: str,
        problem: str,
        fix: str = FIX,
        *,
        value: object = _NO_VALUE,
        source: str | None = None,
    ) -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        self.value = value
        self.source = source
        where = f"{source}: " if source else ""
        shown = "" if value is _NO_VALUE else "=" + _short_repr(value)
        super().__init__(f"{where}{path}{shown} {problem}. {fix}")

    @property
    def has_value(self) -> bool:
        """Whether the error is about a bad value (rather than a missing or unknown field)."""
        return self.value is not _NO_VALUE

    def in_file(self, source: str) -> ResultSchemaError:
        """The same error, saying which file the bad document came from."""
        return ResultSchemaError(self.path, self.problem, self.fix, value=self.value, source=source)


def _short_repr(value: object) -> str:
    text = repr(value)
    if len(text) <= _MAX_VALUE_REPR:
        return text
    return text[: _MAX_VALUE_REPR - 3] + "..."
