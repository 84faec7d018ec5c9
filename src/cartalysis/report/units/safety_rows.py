"""Rows shared by the safety-depth units: ``n/N (%)`` and ``median (range)`` per column (groups and total), with
the plan's between-group test in a last column when the study is grouped (``groups.by``).

Denominators are explicit: ``pop(df)`` selects the patients of a column the row is about (e.g. those with CRS),
and only patients with a known value count (a value never measured is not a "no").
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from cartalysis import stats
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Row, c_header_N, c_median_range, c_n_of_N_pct, c_p, empty, label
from cartalysis.report.units.base import DASH_CELL, Ctx, categorical_test, safe

Pop = Callable[[pd.DataFrame], pd.Series]


def everyone(df: pd.DataFrame) -> pd.Series:
    return pd.Series(True, index=df.index)


def header(ctx: Ctx, first: str) -> tuple[Cell, ...]:
    cols = [c_header_N(name, nrec) for name, _, _, nrec in ctx.columns()]
    return (label(first), *cols) + ((label("P value"),) if ctx.groups else ())


def blank(ctx: Ctx, text: str) -> Row:
    return Row((label(text),) + tuple(empty() for _ in ctx.columns()) + ((empty(),) if ctx.groups else ()), heading=True)


def _test_cell(ctx: Ctx, notes: list, rid: str, text: str, values: pd.Series, group: pd.Series, categorical: bool,
               methods: set) -> tuple[Cell, ...]:
    if not ctx.groups:
        return ()
    ok = values.notna() & group.notna()
    if ok.sum() == 0 or group[ok].nunique() < 2 or values[ok].nunique() < 2:
        return (DASH_CELL,)
    t = (safe(notes, stats.compare_categorical, values[ok].astype(str), group[ok], **categorical_test(ctx)) if categorical
         else safe(notes, stats.compare_continuous, values[ok].astype(float), group[ok]))
    if t is None:
        return (DASH_CELL,)
    methods.add(t.method)
    return (c_p(R.test(ctx.reg, f"{rid}.test", f"{text}: between-group test", t)),)


def binary_row(ctx: Ctx, notes: list, methods: set, rid: str, text: str, col: str, pop: Pop = everyone,
               indent: int = 1, truth: Callable[[pd.Series], pd.Series] | None = None) -> Row | None:
    """``n/N (%)`` of patients in ``pop`` with ``col`` true (``truth`` maps the column to true/false/missing);
    None when nobody in the population has a known value."""
    cells: list[Cell] = [label(text)]
    known_any = False
    for _, sfx, df, _ in ctx.columns():
        sub = df[pop(df).fillna(False).astype(bool)]
        v = truth(sub[col]) if truth else sub[col].astype("boolean")
        v = v.dropna()
        if len(v) == 0:
            cells.append(DASH_CELL)
            continue
        known_any = True
        p = ctx.prop(int(v.astype(bool).sum()), len(v))
        cells.append(c_n_of_N_pct(R.proportion(ctx.reg, rid + sfx, text, p, with_ci=False)))
    if not known_any:
        return None
    sub = ctx.infused[pop(ctx.infused).fillna(False).astype(bool)]
    v = truth(sub[col]) if truth else sub[col].astype("boolean")
    cells += _test_cell(ctx, notes, rid, text, v.astype(object), ctx.group_of(sub), True, methods)
    return Row(tuple(cells), indent=indent)


def median_row(ctx: Ctx, notes: list, methods: set, rid: str, text: str, col: str, unit: str, pop: Pop = everyone,
               indent: int = 1, digits: int = 1) -> Row | None:
    """``median (range)`` of ``col`` among ``pop`` per column; None when no value at all."""
    cells: list[Cell] = [label(text)]
    any_value = False
    for _, sfx, df, _ in ctx.columns():
        v = df.loc[pop(df).fillna(False).astype(bool), col].astype(float)
        s = stats.describe(v)
        if s.n == 0:
            cells.append(DASH_CELL)
            continue
        any_value = True
        r = R.summary(ctx.reg, rid, text, s, unit, ("n", "median", "min", "max"), suffix=sfx)
        cells.append(c_median_range(r["median"], r["min"], r["max"], digits))
    if not any_value:
        return None
    sub = ctx.infused[pop(ctx.infused).fillna(False).astype(bool)]
    cells += _test_cell(ctx, notes, rid, text, sub[col].astype(float), ctx.group_of(sub), False, methods)
    return Row(tuple(cells), indent=indent)


def test_footnote(ctx: Ctx, methods: set) -> tuple[str, ...]:
    if not ctx.groups:
        return ()
    return ("P values between groups: " + ("; ".join(sorted(methods)) if methods else "none computable") +
            " (categorical rows: plan tables.categorical_test; continuous rows: Wilcoxon rank-sum or Kruskal–Wallis).",)
