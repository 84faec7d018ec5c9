"""Problems in a user's study, and the two kinds of failure the CLI maps to exit codes.

A ``Problem`` is an *error* (the data cannot support the analysis: ``validate`` and ``report`` exit 1) or a
*warning* (the data are usable but something looks wrong, e.g. a percent threshold below 1: ``validate`` lists it
and exits 0, the report runs and shows it). Both print as ``file:row:column: message``; a warning's message
starts with ``warning:``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in the user's data, located as a spreadsheet user sees it.

    ``row`` is the spreadsheet row (the header is row 1, so the first data row
    is row 2), or the line of a text file such as ``sap.toml``; ``None`` when the
    problem concerns a whole file or column. ``severity`` is ``"error"`` or ``"warning"``.
    """

    file: str
    row: int | None
    column: str | None
    message: str
    severity: str = ERROR

    @property
    def is_warning(self) -> bool:
        return self.severity == WARNING

    def __str__(self) -> str:
        prefix = "warning: " if self.is_warning else ""
        return f"{self.file}:{'' if self.row is None else self.row}:{self.column or ''}: {prefix}{self.message}"


def warning(file: str, row: int | None, column: str | None, message: str) -> Problem:
    """A ``Problem`` of severity warning."""
    return Problem(file, row, column, message, WARNING)


def errors_of(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that are errors (not warnings)."""
    return [p for p in problems if not p.is_warning]


def warnings_of(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that are warnings."""
    return [p for p in problems if p.is_warning]


def problem_key(p: Problem) -> tuple:
    """Sort key: by file, then row (file-level problems first), then column and message."""
    return (p.file, p.row or 0, p.column or "", p.message, p.severity)


class UsageError(Exception):
    """The command cannot run at all (missing folder, unreadable file): exit status 2."""


class StudyError(Exception):
    """The study's data has problems (exit status 1); all of them are in ``problems``.

    Raised only when at least one problem is an error; warnings found alongside are kept in ``problems`` so the
    user sees everything at once.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=problem_key)
        n = len(errors_of(problems))
        super().__init__(f"{n} problem(s) in the study data")
