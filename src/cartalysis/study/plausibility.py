"""Plausibility checks beyond the data model's types and ranges: dates, fatal adverse events, temperatures in
°F, control characters. Each root cause gives one line with a count, located at its first row, not one line per
cell (a column of dates typed in the wrong century is one mistake).

Rules (documented in ``docs/data-model.md``, "Validation checks"):

- dates before 1900 or after 2199 do not parse (errors; a column's are one line); no check against today's date:
  it would depend on the clock, and synthetic twins run ahead of it;
- no date after the data cutoff (plan ``study.data_cutoff``): the data were not cut where the plan says;
- a grade-5 (fatal) adverse event or infection needs a death in ``events``;
- ``toxicity_daily.temp_max_c`` values between 95 and 113 are Fahrenheit (said once, with the count);
- no NUL or other control character in a text cell (tab and line breaks inside a quoted cell are allowed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import numpy as np
import pandas as pd

from cartalysis.study.errors import Problem, warning
from cartalysis.study.parse import TypedTable

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _count(n: int, what: str) -> str:
    return "" if n <= 1 else f" ({n} {what} in this column)"


def check_dates(t: TypedTable, cutoff: str | None, today: dt.date) -> list[Problem]:
    """Dates after the data cutoff: one line per column, with the count (``today`` is unused: see the module doc)."""
    problems = []
    limit_cut = pd.Timestamp(cutoff) if cutoff else None
    for column in t.frame.columns:
        s = t.frame[column]
        if not pd.api.types.is_datetime64_any_dtype(s) or not s.notna().any():
            continue
        v = s.to_numpy()
        # dates before 1900 (or after 2199) do not parse: parse.py reports them, one_line_per_column counts them
        kinds = []
        if limit_cut is not None:
            kinds.append(((v > limit_cut.to_datetime64()), False,
                          lambda d: f"{d} is after the data cutoff {cutoff} (study.data_cutoff in the plan): cut the "
                                    "data at the cutoff, or correct the cutoff"))
        for mask, is_warning, message in kinds:
            where = np.flatnonzero(np.asarray(mask, dtype=bool))
            if len(where):
                first = where[0]
                text = pd.Timestamp(v[first]).strftime("%Y-%m-%d")
                make = warning if is_warning else Problem
                problems.append(make(t.file, int(t.rows[first]), column,
                                     message(text) + _count(len(where), "such dates")))
    return problems


def check_fatal_events(t: TypedTable, deaths: pd.DataFrame, events_file: str) -> list[Problem]:
    """A grade-5 adverse event or infection is fatal: the patient needs a death in ``events``. One line per patient."""
    if "grade" not in t.frame or "patient_id" not in t.frame:
        return []
    f = t.frame
    fatal = np.asarray((f["grade"] == 5).fillna(False), dtype=bool) & f["patient_id"].notna().to_numpy()
    no_death = ~f["patient_id"].isin(deaths.index).to_numpy()
    where = np.flatnonzero(fatal & no_death)
    label = "term" if "term" in f else ("pathogen" if "pathogen" in f else None)
    problems, seen = [], {}
    for i in where:
        seen.setdefault(f["patient_id"].iat[i], []).append(i)
    for pid, rows in seen.items():
        i = rows[0]
        what = f" {f[label].iat[i]!r}" if label and pd.notna(f[label].iat[i]) else ""
        more = f" (and {len(rows) - 1} more grade-5 rows)" if len(rows) > 1 else ""
        kind = "adverse event" if t.name == "adverse_events" else t.name.removesuffix("s")
        problems.append(Problem(t.file, int(t.rows[i]), "grade",
                                f"patient {pid}: grade-5 (fatal) {kind}{what} but no death in {events_file}{more}"))
    return problems


def check_control_characters(t: TypedTable) -> list[Problem]:
    """NUL or other control characters in a text cell: one line per column, at the first such cell."""
    problems = []
    for column in t.frame.columns:
        s = t.frame[column]
        if s.dtype != object and not isinstance(s.dtype, pd.StringDtype):
            continue
        text = s.where(s.map(lambda x: isinstance(x, str)), "")
        hit = text.str.contains(_CONTROL, regex=True).to_numpy(dtype=bool)
        where = np.flatnonzero(hit)
        if len(where):
            ch = _CONTROL.search(text.iat[where[0]]).group()
            name = "a NUL character" if ch == "\x00" else f"a control character (U+{ord(ch):04X})"
            problems.append(Problem(t.file, int(t.rows[where[0]]), column,
                                    f"the cell contains {name}, invisible in a spreadsheet: remove it"
                                    + _count(len(where), "such cells")))
    return problems


_REPEATABLE = re.compile(r"^'.*' is outside the plausible range ")


def one_line_per_column(problems: list[Problem]) -> list[Problem]:
    """Cells outside a plausible range (dates before 1900, ...), one line per file and column with the count: a
    column of dates read in the wrong century is one mistake, not a hundred."""
    groups: dict[tuple[str, str | None], list[Problem]] = {}
    rest = []
    for p in problems:
        if _REPEATABLE.match(p.message):
            groups.setdefault((p.file, p.column), []).append(p)
        else:
            rest.append(p)
    for ps in groups.values():
        first = min(ps, key=lambda p: p.row or 0)
        rest.append(dataclasses.replace(first, message=first.message + _count(len(ps), "such cells")))
    return rest


_F_VALUE = re.compile(r"^'([-+0-9.eE]+)' is above the maximum 45")


def collapse_fahrenheit(problems: list[Problem]) -> list[Problem]:
    """``temp_max_c`` values between 95 and 113 are above the 45 °C maximum because they are °F: one line for the
    column, with the count, instead of one per cell."""
    hits = []
    for p in problems:
        m = _F_VALUE.match(p.message) if p.column == "temp_max_c" else None
        if m:
            try:
                value = float(m.group(1))
            except ValueError:
                continue
            if 95 <= value <= 113:
                hits.append((p, value))
    if not hits:
        return problems
    drop = {id(p) for p, _ in hits}
    out = [p for p in problems if id(p) not in drop]
    by_file: dict[str, list[tuple[Problem, float]]] = {}
    for p, v in hits:
        by_file.setdefault(p.file, []).append((p, v))
    for file, items in by_file.items():
        items.sort(key=lambda pv: pv[0].row or 0)
        p, v = items[0]
        out.append(Problem(file, p.row, "temp_max_c",
                           f"{v:g} looks like °F ({v:g} °F = {(v - 32) * 5 / 9:.1f} °C): temperatures are in °C"
                           + _count(len(items), "values look like °F")))
    return out
