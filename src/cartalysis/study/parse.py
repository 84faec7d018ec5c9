"""Cell parsers and per-table type conversion, following ``spec.py``.

Each parser takes the stripped, non-empty text of one cell and returns
``(value, None)`` or ``(None, message)``; it never raises, so one bad cell
becomes one ``file:row:column: message`` problem that quotes the text. The
accepted forms are deliberately strict (ISO dates only, ``.`` as decimal
mark, no thousands separators): a lenient parser would silently turn
``01/02/2021`` into the wrong month.

Typed output (the loaded-study convention): date -> ``datetime64[ns]``,
bool -> ``"boolean"``, int -> ``"Int64"``, float -> ``float64``, str and
category -> ``object`` with NaN for missing. Extra columns are numbers when every filled cell is
a plain decimal number, otherwise text (``extra_column``).

``convert_table`` types whole columns at once (``convert_column``): each
distinct text is parsed once, plainly valid ones with numpy/pandas, the rest
with the cell parsers here, which write the messages.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartalysis.study.errors import Problem
from cartalysis.study.read import RawTable
from cartalysis.study.spec import BOOL_FALSE, BOOL_TRUE, Column, Table

DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2199, 12, 31)
INT_LIMIT = 2**53  # beyond this a float no longer holds every integer exactly

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", re.ASCII)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_MISSING_WORDS = {"na", "n/a", "nan", "null", "none", ".", "-", "missing", "unknown", "?"}
_BOOL_HELP = "yes/no, y/n, true/false or 1/0"

Parsed = tuple[object, str | None]


def parse_date(text: str) -> Parsed:
    """ISO 8601 calendar date ``YYYY-MM-DD`` between 1900-01-01 and 2199-12-31."""
    if not _ISO_DATE.fullmatch(text):
        if _DATE_TIME.fullmatch(text):
            return None, f"{text!r} has a time of day; give the date only (YYYY-MM-DD)"
        return None, f"{text!r} is not a date in YYYY-MM-DD form"
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        return None, f"{text!r} is not a valid calendar date"
    if not DATE_MIN <= value <= DATE_MAX:
        return None, f"{text!r} is outside the plausible range {DATE_MIN}..{DATE_MAX}"
    return value, None


def parse_float(text: str) -> Parsed:
    """Decimal number with ``.`` as decimal mark, optional exponent; finite."""
    if not _NUMBER.fullmatch(text):
        return None, _not_a_number(text)
    value = float(text)
    if not math.isfinite(value):
        return None, f"{text!r} is too large"
    return value, None


def parse_int(text: str) -> Parsed:
    """Whole number; ``3.0`` and ``3e2`` are accepted since spreadsheets write them."""
    value, message = parse_float(text)
    if message:
        return None, message
    assert isinstance(value, float)
    if not value.is_integer():
        return None, f"{text!r} is not a whole number"
    if abs(value) >= INT_LIMIT:
        return None, f"{text!r} is too large"
    return int(value), None


def parse_bool(text: str) -> Parsed:
    """One of the spellings in ``spec.BOOL_TRUE``/``BOOL_FALSE``, any case."""
    low = text.lower()
    if low in BOOL_TRUE:
        return True, None
    if low in BOOL_FALSE:
        return False, None
    return None, f"{text!r} is not {_BOOL_HELP}" + _missing_hint(text)


def parse_str(text: str) -> Parsed:
    return text, None


def category_parser(allowed: tuple[str, ...]) -> Callable[[str], Parsed]:
    """Exact spelling of one allowed value; a case-only mismatch gets a suggestion."""

    def parse(text: str) -> Parsed:
        if text in allowed:
            return text, None
        near = [a for a in allowed if a.lower() == text.lower()]
        hint = f" (did you mean {near[0]!r}? spelling is exact)" if near else _missing_hint(text)
        return None, f"{text!r} is not one of: {', '.join(allowed)}{hint}"

    return parse


def _not_a_number(text: str) -> str:
    if re.fullmatch(r"[+-]?\d+,\d+", text):
        return f"{text!r} is not a number (use '.' as the decimal mark)"
    return f"{text!r} is not a number" + _missing_hint(text)


def _missing_hint(text: str) -> str:
    return " (leave the cell empty for a missing value)" if text.lower() in _MISSING_WORDS else ""


PARSERS: dict[str, Callable[[str], Parsed]] = {
    "date": parse_date,
    "float": parse_float,
    "int": parse_int,
    "bool": parse_bool,
    "str": parse_str,
}


def parse_cell(text: str, column: Column) -> Parsed:
    """Parse one stripped cell for ``column``: type, then range; ``(None, None)`` for an allowed empty cell."""
    if text == "":
        return None, None if column.nullable else "value is missing (this column must be filled)"
    parser = category_parser(column.allowed) if column.dtype == "category" else PARSERS[column.dtype]
    value, message = parser(text)
    if message is None and column.dtype in ("int", "float"):
        message = _range_message(text, float(value), column)  # type: ignore[arg-type]
        if message:
            value = None
    return value, message


def _range_message(text: str, value: float, column: Column) -> str | None:
    unit = f" {column.unit}" if column.unit and column.unit != "%" else column.unit
    if column.min is not None and value < column.min:
        if column.min == 0:
            return f"{text!r} is negative (must be 0 or more)"
        return f"{text!r} is below the minimum {column.min:g}{unit}"
    if column.max is not None and value > column.max:
        return f"{text!r} is above the maximum {column.max:g}{unit}"
    return None


@dataclass(frozen=True)
class TypedTable:
    """A table converted per its spec, remembering where each row came from.

    ``frame`` has a RangeIndex; ``rows[i]`` is the spreadsheet row of
    ``frame.iloc[i]``. ``present`` lists the columns the file actually had;
    ``invalid[column]`` (for each spec column in the file) is a boolean array
    marking the cells that failed to parse (they are missing in ``frame``, and
    cross-table checks must not read them as empty).
    """

    name: str
    file: str
    frame: pd.DataFrame
    rows: np.ndarray
    present: frozenset[str]
    invalid: dict[str, np.ndarray]


def convert_table(raw: RawTable, spec: Table) -> tuple[TypedTable, list[Problem]]:
    """Type every column of ``raw`` per ``spec``; report missing columns and bad cells."""
    problems: list[Problem] = []
    index = {h: j for j, h in enumerate(raw.header)}
    rows = raw.rows
    n = len(rows)
    for column in spec.columns:
        if column.required and column.name not in index:
            near = [h for h in raw.header if h.lower() == column.name.lower()]
            hint = f" (found {near[0]!r}; column names are lower case)" if near else ""
            problems.append(Problem(raw.file, None, column.name, f"required column is missing{hint}"))
    data: dict[str, object] = {}
    invalid: dict[str, np.ndarray] = {}
    for column in spec.columns:
        if column.name not in index:
            data[column.name] = _all_missing(n, column.dtype)
            continue
        data[column.name], messages = convert_column(raw.columns[index[column.name]], column)
        invalid[column.name] = pd.notna(messages)
        bad = np.flatnonzero(invalid[column.name])
        problems += [Problem(raw.file, int(rows[i]), column.name, messages[i]) for i in bad]
    for h, j in index.items():
        if h not in data:
            data[h] = extra_column(raw.columns[j])
    return TypedTable(spec.name, raw.file, typed_frame(data, n), rows, frozenset(index), invalid), problems


def extra_column(cells: np.ndarray) -> np.ndarray:
    """A column the spec does not know (a covariate): numbers when every filled cell is a plain decimal
    number (``61.5``, ``-2``, ``1e3``), so a plan can model it as continuous; otherwise text (a categorical
    covariate). Empty cells are missing either way."""
    filled = cells != ""
    if filled.any() and all(_NUMBER.fullmatch(u) for u in set(cells[filled])):
        out = np.full(len(cells), np.nan)
        out[filled] = cells[filled].astype(float)
        return out
    return np.where(filled, cells, np.nan).astype(object)


def typed_frame(columns: dict[str, object], n: int) -> pd.DataFrame:
    """A frame of ``n`` rows from typed column arrays, text columns kept as ``object``.

    pandas 3 would otherwise infer its ``str`` dtype from an object array of
    strings; the loaded-study convention is ``object`` on every pandas version.
    """
    index = pd.RangeIndex(n)
    return pd.DataFrame({k: pd.Series(v, index=index, dtype=object)
                         if isinstance(v, np.ndarray) and v.dtype == object else v for k, v in columns.items()},
                        index=index)


def convert_column(cells: np.ndarray, column: Column) -> tuple[object, np.ndarray]:
    """Typed values and per-cell messages (``None`` when fine) of one column of stripped cells.

    Equivalent to ``parse_cell`` on every cell, computed once per distinct
    text. The distinct texts that are plainly valid (an ISO date in range, a
    number matching the grammar within the column's range, an allowed
    category, a bool spelling) are converted with numpy/pandas in one go;
    every other text goes through ``parse_cell``, which writes its message.
    """
    codes, uniques = pd.factorize(cells)
    uniques = np.asarray(uniques, dtype=object)
    m = len(uniques)
    ok = np.zeros(m, dtype=bool)
    if column.dtype == "date":
        values = np.full(m, np.datetime64("NaT"), dtype="datetime64[ns]")
        iso = np.array([bool(_ISO_DATE.fullmatch(u)) for u in uniques], dtype=bool)
        if iso.any():
            parsed = pd.to_datetime(pd.Series(uniques[iso]), format="%Y-%m-%d", errors="coerce").to_numpy()
            lo, hi = np.datetime64(DATE_MIN, "ns"), np.datetime64(DATE_MAX, "ns")
            fine = ~np.isnat(parsed) & (parsed >= lo) & (parsed <= hi)
            ok[np.flatnonzero(iso)[fine]] = True
            values[np.flatnonzero(iso)[fine]] = parsed[fine]
    elif column.dtype in ("float", "int"):
        values = np.full(m, np.nan)
        num = np.array([bool(_NUMBER.fullmatch(u)) for u in uniques], dtype=bool)
        if num.any():
            x = uniques[num].astype(np.float64)  # float() of each text, as parse_float does
            fine = np.isfinite(x)
            if column.dtype == "int":
                fine &= (np.floor(x) == x) & (np.abs(x) < INT_LIMIT)
            if column.min is not None:
                fine &= x >= column.min
            if column.max is not None:
                fine &= x <= column.max
            ok[np.flatnonzero(num)[fine]] = True
            values[np.flatnonzero(num)[fine]] = x[fine]
    elif column.dtype == "bool":
        values = np.full(m, None, dtype=object)
        low = np.array([u.lower() for u in uniques], dtype=object)
        is_true, is_false = np.isin(low, list(BOOL_TRUE)), np.isin(low, list(BOOL_FALSE))
        ok = is_true | is_false
        values[is_true], values[is_false] = True, False
    else:
        values = np.full(m, np.nan, dtype=object)
        ok = (uniques != "") & (np.isin(uniques, list(column.allowed)) if column.dtype == "category" else True)
        values[ok] = uniques[ok]
    messages = np.full(m, None, dtype=object)
    for k in np.flatnonzero(~ok):
        value, messages[k] = parse_cell(uniques[k], column)
        if value is not None:
            values[k] = np.datetime64(value, "ns") if column.dtype == "date" else value
    values, messages = values[codes], messages[codes]
    if column.dtype == "int":
        missing = np.isnan(values.astype(np.float64))
        return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing), messages
    if column.dtype == "bool":
        return pd.array(values, dtype="boolean"), messages
    return values, messages


def empty_table(spec: Table) -> pd.DataFrame:
    """The frame of an optional table that was not supplied: spec columns, no rows."""
    return typed_frame({c.name: _all_missing(0, c.dtype) for c in spec.columns}, 0)


def _all_missing(n: int, dtype: str) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``n`` missing values of a spec dtype (a column the file does not have)."""
    if dtype == "date":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if dtype == "bool":
        return pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool))
    if dtype == "int":
        return pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
    if dtype == "float":
        return np.full(n, np.nan)
    return np.full(n, np.nan, dtype=object)


def _typed(values: list[object], dtype: str) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """A typed column from Python values (``None`` = missing), per the loaded-study convention (for test builders)."""
    if dtype == "date":
        return np.array([np.datetime64("NaT") if v is None else np.datetime64(v) for v in values], dtype="datetime64[ns]")
    if dtype == "bool":
        return pd.array(values, dtype="boolean")
    if dtype == "int":
        return pd.array(values, dtype="Int64")
    if dtype == "float":
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.array([np.nan if v is None else v for v in values], dtype=object)
