"""Reading a folder of ADaM datasets (ADSL plus any of ADTTE, ADRS, ADAE) for the generic trial report.

A folder is an ADaM study when it holds ``adsl`` in a supported format (``.xpt``, ``.json``, ``.ndjson``,
``.parquet``, ``.csv``; file names are case-insensitive) and no ``subjects`` table. Each dataset is read with
``study.formats`` (labels kept); cells stay text except the analysis variables the report computes with, which
are checked and typed here with located messages (``adtte.xpt:12:AVAL: ...``): ADTTE ``AVAL`` (a non-negative
number) and ``CNSR`` (0 = event, a whole number >= 1 = censored). Variable names are upper-cased.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cartalysis.study.errors import Problem, StudyError, UsageError
from cartalysis.study.formats import FOLDER_SUFFIXES, TableFile, decode_table

DATASETS = ("ADSL", "ADTTE", "ADRS", "ADAE")
REQUIRED = {"ADSL": ("USUBJID",), "ADTTE": ("USUBJID", "PARAMCD", "AVAL", "CNSR"), "ADRS": ("USUBJID", "PARAMCD", "AVALC"),
            "ADAE": ("USUBJID", "TRTEMFL")}


@dataclass(frozen=True)
class AdamStudy:
    """The ADaM datasets found (name -> text cells, NaN = missing; ADTTE AVAL/CNSR as numbers), their files and
    variable labels, and the SHA-256 of every file read."""

    name: str
    path: Path
    tables: dict[str, pd.DataFrame]
    files: dict[str, str]
    labels: dict[str, dict[str, str]]
    checksums: dict[str, str]
    plan_path: Path | None

    def has(self, name: str) -> bool:
        return name in self.tables and len(self.tables[name]) > 0

    def label(self, dataset: str, column: str) -> str:
        return self.labels.get(dataset, {}).get(column) or column


def _files(folder: Path) -> dict[str, Path]:
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file())
    except OSError as e:
        raise UsageError(f"cannot list {folder}: {e.strerror or e}") from None
    return {p.name.lower(): p for p in entries}


def is_adam_folder(path: Path | str) -> bool:
    """``path`` is a folder with an ADSL dataset and no ``subjects`` table (a cartalysis study has one)."""
    path = Path(path)
    if not path.is_dir():
        return False
    names = _files(path)
    has = lambda stem: any(f"{stem}{s}" in names for s in FOLDER_SUFFIXES)  # noqa: E731
    return has("adsl") and not has("subjects")


def load_adam(path: Path | str) -> AdamStudy:
    """Read and check an ADaM folder; ``StudyError`` with every located problem, ``UsageError`` if unreadable."""
    folder = Path(path)
    names = _files(folder)
    tables, files, labels, checksums, problems = {}, {}, {}, {}, []
    for ds in DATASETS:
        found = [names[f"{ds.lower()}{s}"] for s in FOLDER_SUFFIXES if f"{ds.lower()}{s}" in names]
        if not found:
            continue
        if len(found) > 1:
            problems.append(Problem(found[0].name, None, None,
                                    f"{ds} is given twice ({' and '.join(p.name for p in found)}); keep one"))
            continue
        file = found[0]
        try:
            data = file.read_bytes()
        except OSError as e:
            raise UsageError(f"cannot read {file}: {e.strerror or e}") from None
        checksums[file.name] = hashlib.sha256(data).hexdigest()
        table, file_problems = decode_table(ds, file.name, data, file.suffix)
        problems += file_problems
        if table is None:
            continue
        frame, table_problems = _typed(ds, file.name, table)
        problems += table_problems
        tables[ds], files[ds] = frame, file.name
        labels[ds] = {v.name.upper(): v.label for v in table.variables if v.label}
    if "ADSL" not in files and not any(p.file.lower().startswith("adsl") for p in problems):
        raise UsageError(f"{folder}: no ADSL dataset (adsl.xpt, adsl.json, adsl.parquet or adsl.csv)")
    if problems:
        raise StudyError(problems)
    plan = folder / "sap.toml"
    return AdamStudy(folder.name, folder, tables, files, labels, checksums, plan if plan.is_file() else None)


def _typed(ds: str, file: str, table: TableFile) -> tuple[pd.DataFrame, list[Problem]]:
    frame = table.frame()
    frame.columns = [str(c).upper() for c in frame.columns]
    frame = frame.apply(lambda col: col.str.strip() if col.dtype == object else col)
    missing = [c for c in REQUIRED[ds] if c not in frame.columns]
    if missing:
        return frame, [Problem(file, 1, c, f"{ds} needs the variable {c}") for c in missing]
    problems = []
    if ds == "ADTTE":
        aval = pd.to_numeric(frame["AVAL"], errors="coerce")
        cnsr = pd.to_numeric(frame["CNSR"], errors="coerce")
        for col, bad, what in (
            ("AVAL", aval.isna() | (aval < 0), "must be a non-negative time"),
            ("CNSR", cnsr.isna() | (cnsr < 0) | (np.mod(cnsr.fillna(0), 1) != 0),
             "must be 0 (event) or a whole number >= 1 (censored)"),
        ):
            for row in frame.index[bad.to_numpy()]:
                problems.append(Problem(file, int(row), col, f"{what}, got {frame.at[row, col]!r}"))
        frame = frame.assign(AVAL=aval, CNSR=cnsr)
    return frame, problems
