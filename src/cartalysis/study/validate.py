"""``cartalysis validate``: every problem of a study, as ``file:row:column: message``."""

from __future__ import annotations

from pathlib import Path

from cartalysis.study.errors import Problem
from cartalysis.study.load import read_and_check


def validate_study(path: Path | str) -> list[Problem]:
    """All data problems of the study at ``path``, sorted by file and row; empty when clean.

    Raises ``UsageError`` when the study cannot be opened at all (missing
    path, not a folder or workbook, unreadable file); the CLI exits 2 then,
    1 when problems are returned, 0 otherwise.
    """
    return read_and_check(path)[1]
