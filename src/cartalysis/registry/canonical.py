"""Study tables <-> registry rows: canonical cell text, row keys, and validation of rows held in memory.

Pure functions over ``study`` objects (no Django), shared by import, edits, snapshots and the export.

Canonical text of a typed cell (what the registry stores and what a snapshot writes back):
date ``YYYY-MM-DD``; bool ``yes``/``no``; int decimal digits; float the shortest positional decimal that reads
back as the same double (``numpy.format_float_positional``, unique); text as loaded (already stripped). A
missing cell has no text (absent from the row's JSON, empty in CSV). The study parsers read every canonical
text back to the same typed value, so import -> snapshot -> load is lossless.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartalysis.study.checks import check_study
from cartalysis.study.errors import Problem
from cartalysis.study.parse import TypedTable, convert_table
from cartalysis.study.read import RawTable
from cartalysis.study.spec import TABLES, TABLES_BY_NAME, Table


@dataclass(frozen=True)
class CanonRow:
    """One row as the registry stores it; ``line`` is the spreadsheet row it came from (0 when not from a file)."""

    patient_id: str
    key: str
    values: dict[str, str]
    line: int = 0


def canonical_column(series: pd.Series) -> list[str | None]:
    """Canonical texts of a typed column (``None`` for missing)."""
    missing = series.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(series):
        text = series.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    elif pd.api.types.is_bool_dtype(series):
        text = np.where(series.fillna(False).to_numpy(dtype=bool), "yes", "no").astype(object)
    elif pd.api.types.is_integer_dtype(series):
        text = series.astype("string").to_numpy(dtype=object)
    elif pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype=float)
        text = np.array([np.format_float_positional(v, trim="-") if not m else None
                         for v, m in zip(values, missing)], dtype=object)
    else:
        text = series.to_numpy(dtype=object)
    return [None if m else str(t) for t, m in zip(text, missing)]


def identity_columns(spec: Table) -> tuple[str, ...]:
    """Columns that identify a row within its patient: the spec key, or every column when the spec has none.

    Without a key (``adverse_events``) a changed cell is a new row (delete + insert in the audit trail).
    """
    key = spec.key or spec.names
    return tuple(c for c in key if c != "patient_id")


def row_key(values: dict[str, str], columns: tuple[str, ...]) -> str:
    return json.dumps([values.get(c) for c in columns], ensure_ascii=False, separators=(",", ":"))


def canonical_rows(table: TypedTable, spec: Table) -> list[CanonRow]:
    """Rows of a typed table as ``CanonRow`` (columns the file lacks are left out; duplicates keyed ``#n``)."""
    frame = table.frame
    names = [c for c in frame.columns if c in table.present or c not in spec.names]
    columns = {c: canonical_column(frame[c]) for c in names}
    ident = identity_columns(spec)
    seen: dict[tuple[str, str], int] = defaultdict(int)
    out = []
    for i in range(len(frame)):
        values = {c: columns[c][i] for c in names if columns[c][i] is not None}
        pid = values.get("patient_id", "")
        key = row_key(values, ident)
        seen[(pid, key)] += 1
        if seen[(pid, key)] > 1:
            key = f"{key}#{seen[(pid, key)]}"
        out.append(CanonRow(pid, key, values, int(table.rows[i])))
    return out


def raw_table(name: str, rows: Iterable[dict[str, str]], file: str | None = None) -> RawTable:
    """A ``RawTable`` (as if read from ``name.csv``) holding ``rows``: spec columns, then extra columns sorted."""
    rows = list(rows)
    spec = TABLES_BY_NAME[name]
    extra = sorted({c for r in rows for c in r} - set(spec.names))
    header = tuple(spec.names) + tuple(extra)
    columns = tuple(np.array([r.get(c, "") for r in rows], dtype=object) for c in header)
    return RawTable(name, file or f"{name}.csv", header, np.arange(2, len(rows) + 2, dtype=np.int64), columns)


def check_rows(tables: dict[str, list[dict[str, str]]]) -> tuple[dict[str, TypedTable], list[Problem]]:
    """Type and check rows held in memory with the study's own checks (cells and cross-table rules)."""
    typed: dict[str, TypedTable] = {}
    problems: list[Problem] = []
    for spec in TABLES:
        if spec.name in tables:
            typed[spec.name], p = convert_table(raw_table(spec.name, tables[spec.name]), spec)
            problems += p
    return typed, problems + check_study(typed)


def csv_text(rows: list[list[str]]) -> str:
    """Rows as CSV text (``\\n`` line ends; cells quoted only when they must be)."""
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()
