"""Shared helpers of the derivations: day arithmetic, flags, problem collection."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cartalysis.study.errors import Problem


def table_file(study: Any, table: str) -> str:
    """How messages name a table: ``events.csv`` or ``study.xlsx[events]``."""
    path = getattr(study, "path", None)
    if path is not None and str(path).lower().endswith((".xlsx", ".xlsm")):
        return f"{path.name}[{table}]"
    return f"{table}.csv"


def iso(ts: Any) -> str:
    return "" if pd.isna(ts) else pd.Timestamp(ts).strftime("%Y-%m-%d")


def days_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """Whole days ``later − earlier`` as float (NaN if either is missing)."""
    return (later - earlier) / pd.Timedelta(days=1)


def lookup(keys: pd.Series, values: pd.Series) -> pd.Series:
    """``values[k]`` for each ``k`` in ``keys`` (missing for a key not in ``values``' index), on ``keys``' index.

    What ``keys.map(values)`` does, written as a ``reindex`` because pandas 3's ``map`` fails on an empty datetime
    ``values`` (it casts an empty mapper to float64); this keeps the dtype of ``values`` on every pandas version.
    """
    return pd.Series(values.reindex(keys.to_numpy()).to_numpy(), index=keys.index, name=keys.name)


def flag(series: pd.Series) -> np.ndarray:
    """A nullable boolean column as a plain bool array (missing = False)."""
    return series.fillna(False).astype(bool).to_numpy()


def first_by_patient(frame: pd.DataFrame, date_col: str) -> pd.DataFrame:
    """The earliest row per patient by ``date_col`` (ties: first in input order)."""
    if frame.empty:
        return frame
    return frame.sort_values(["patient_id", date_col], kind="stable").drop_duplicates("patient_id", keep="first")


def lower_set(terms: tuple[str, ...]) -> set[str]:
    return {t.strip().casefold() for t in terms}


class Problems:
    """Collects data problems so that all are reported at once."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, file: str, column: str | None, message: str) -> None:
        self.items.append(Problem(file, None, column, message))

    def __bool__(self) -> bool:
        return bool(self.items)
