"""Loading a study: read, type per the spec, validate, and hand back typed tables.

``load_study`` is the only way the rest of cartalysis reads user data, so
every analysis starts from validated input; ``validate_study`` (in
``validate.py``) runs the same steps and returns the problems instead.
Inputs are only ever read (each file once: the bytes hashed are the bytes
parsed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cartalysis.study.checks import check_study
from cartalysis.study.errors import Problem, StudyError, errors_of, problem_key, warnings_of
from cartalysis.study.parse import TypedTable, convert_table, empty_table
from cartalysis.study.plan import Plan, check_plan
from cartalysis.study.plausibility import collapse_fahrenheit, one_line_per_column
from cartalysis.study.read import read_study
from cartalysis.study.spec import TABLES


@dataclass(frozen=True)
class Study:
    """A validated study.

    ``tables`` holds every spec table (``subjects``, ``assessments``, ...):
    spec columns first, in spec order, typed (date -> ``datetime64[ns]``,
    bool -> ``"boolean"``, int -> ``"Int64"``, float -> ``float64``,
    str/category -> ``object`` with NaN for missing), then the file's extra columns
    (covariates: ``float64`` when every filled cell is a number, else text). An optional column not supplied is all
    missing; an optional table not supplied is an empty frame with the spec
    columns. ``checksums`` maps each input file read (the workbook, for an
    .xlsx study) to the SHA-256 of its bytes. ``plan_path`` is
    ``STUDY/sap.toml`` when the folder has one. ``warnings`` are the problems of severity warning found while
    loading (the data are usable; the report shows them).
    """

    name: str
    path: Path
    tables: dict[str, pd.DataFrame]
    checksums: dict[str, str]
    plan_path: Path | None
    warnings: tuple[Problem, ...] = field(default=())

    def has(self, name: str) -> bool:
        """Whether table ``name`` was supplied with at least one row (a header-only file counts as absent)."""
        return name in self.tables and len(self.tables[name]) > 0


def read_and_check(path: Path | str, data_cutoff: str | None = None) -> tuple[Study, list[Problem]]:
    """Read, type and check a study; the ``Study`` is only trustworthy when no errors are returned (warnings may be).

    ``data_cutoff`` (ISO date): no date in the data may be later. Raises ``UsageError`` when the study cannot be
    opened at all.
    """
    return _check(read_study(path), data_cutoff)


def read_and_check_with_plan(path: Path | str, sap_path: Path | str | None = None
                             ) -> tuple[Study, Plan, Path | None, list[Problem]]:
    """The study and its plan (``sap_path``, else ``STUDY/sap.toml`` if present, else the built-in plan), checked
    together: the plan's ``study.data_cutoff`` bounds the data's dates. Returns the study, the plan, the plan's
    path (``None``: built-in) and every problem of both."""
    raw = read_study(path)
    plan_file = Path(sap_path) if sap_path is not None else raw.plan_path
    plan, plan_problems = check_plan(plan_file)
    cutoff = None if errors_of(plan_problems) else plan.study.data_cutoff
    study, problems = _check(raw, cutoff)
    return study, plan, plan_file, sort_problems(problems + plan_problems)


def _check(raw, data_cutoff: str | None) -> tuple[Study, list[Problem]]:
    problems = list(raw.problems)
    typed: dict[str, TypedTable] = {}
    for spec in TABLES:
        if spec.name in raw.tables:
            typed[spec.name], table_problems = convert_table(raw.tables[spec.name], spec)
            problems += table_problems
    problems = one_line_per_column(collapse_fahrenheit(problems))
    problems += check_study(typed, data_cutoff)
    tables = {s.name: typed[s.name].frame if s.name in typed else empty_table(s) for s in TABLES}
    problems = sort_problems(problems)
    study = Study(raw.name, raw.path, tables, raw.checksums, raw.plan_path, tuple(warnings_of(problems)))
    return study, problems


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """By file, then row (file-level problems first), then column and message; duplicates dropped."""
    return sorted(set(problems), key=problem_key)


def load_study(path: Path | str) -> Study:
    """Load and validate a study folder (CSV files) or ``.xlsx`` workbook.

    Raises ``StudyError`` listing every data problem when at least one is an error (warnings alone do not stop
    the load; they are in ``Study.warnings``), or ``UsageError`` when the study cannot be opened (missing path,
    unreadable file).
    """
    study, problems = read_and_check(path)
    if errors_of(problems):
        raise StudyError(problems)
    return study
