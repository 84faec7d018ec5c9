"""Problems in a user's study, and the two kinds of failure the CLI maps to exit codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in the user's data, located as a spreadsheet user sees it.

    ``row`` is the spreadsheet row (the header is row 1, so the first data row
    is row 2); ``None`` when the problem concerns a whole file or column.
    """

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{'' if self.row is None else self.row}:{self.column or ''}: {self.message}"


class UsageError(Exception):
    """The command cannot run at all (missing folder, unreadable file): exit status 2."""


class StudyError(Exception):
    """The study's data has problems (exit status 1); all of them are in ``problems``."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.row or 0, p.column or "", p.message))
        super().__init__(f"{len(problems)} problem(s) in the study data")
