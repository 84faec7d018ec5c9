"""Table 2: baseline characteristics (median (range) and n (%)), by group with between-group tests when the plan
sets ``groups.by``.

Needs: at least one infused patient. A variable without any value among infused patients is left out.
"""

from __future__ import annotations

import pandas as pd

from cartalysis import stats
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Note, Row, Table, c_header_N, c_median_range, c_n_pct, c_p, empty, label
from cartalysis.report.results import Record
from cartalysis.report.units.base import (
    DASH_CELL,
    Ctx,
    Unit,
    categorical_test,
    categorical_test_text,
    flag,
    infused,
    labels,
    safe,
)
from cartalysis.report.units.labels import CATEGORICAL, CONTINUOUS, FLAGS, levels_of, short_var_label, show
from cartalysis.stats.describe import describe


def run(ctx: Ctx) -> list:
    reg = ctx.reg
    grouped = bool(ctx.groups)
    if grouped:
        pop = ctx.infused
        cols = [(ctx.group_title(g), f".{R.slug(g)}", pop[ctx.group_of(pop) == g], ctx.n_group(g))
                for g in ctx.groups]
        cols.append(("Total", "", pop, ctx.n_infused))
    else:
        cols = [("Enrolled (ITT)", ".enrolled", ctx.enrolled, ctx.n_enrolled),
                ("Treated", "", ctx.infused, ctx.n_infused)]
    header = [label("Characteristic")] + [c_header_N(name, nrec) for name, _, _, nrec in cols]
    lone: list = []
    if ctx.group_by and len(ctx.groups) < 2:
        lone.append(Note(f"Only one group of {ctx.group_by} among infused patients: between-group tests are not done."))
    if grouped:
        header.append(label("P value"))
    rows: list[Row] = []
    methods: set[str] = set()
    notes: list = []
    gvals = ctx.group_of(ctx.infused) if grouped else None

    def test_cell(var: str, text: str, values: pd.Series, continuous: bool) -> Cell:
        """The between-group P value of one variable (grouped reports only)."""
        keep_missing = not continuous and ctx.plan.tables.missing_level
        ok = values.notna() | keep_missing
        shown = labels(values[ok]).where(values[ok].notna(), None) if not continuous else values[ok].astype(float)
        n_levels = shown.fillna("\0missing").nunique() if not continuous else 2
        # a variable recorded in one group only (inotuzumab response of exposed patients) is not compared, even
        # when missing values count as a level: its "Missing" would only restate the grouping
        if ok.sum() < 2 or gvals[values.notna()].nunique() < 2 or n_levels < 2:
            return empty()
        if continuous:
            t = safe(notes, stats.compare_continuous, shown, gvals[ok])
        else:
            t = safe(notes, stats.compare_categorical, shown, gvals[ok], **categorical_test(ctx))
        if t is None:
            return empty()
        methods.add(t.method)
        return c_p(R.test(reg, f"baseline.{var}.test", f"{text}: between-group test", t))

    for var, text, product, digits in CONTINUOUS:
        if var not in ctx.adsl or var == ctx.group_by or ctx.infused[var].notna().sum() == 0:
            continue
        cells = [label(f"{text}, median (range)")]
        for _, suffix, df, _ in cols:
            if product and suffix == ".enrolled":
                cells.append(empty())
                continue
            s = describe(df[var])
            if s.n == 0:
                cells.append(DASH_CELL)
                continue
            recs = {}
            for st in ("median", "min", "max"):
                recs[st] = reg.add(Record(f"baseline.{var}.{st}{suffix}", f"{text}: {st}", getattr(s, st),
                                          N=s.n, method=s.method))
            cells.append(c_median_range(recs["median"], recs["min"], recs["max"], digits))
        if grouped:
            cells.append(test_cell(var, text, ctx.infused[var], True))
        rows.append(Row(tuple(cells)))

    def n_pct_cell(var: str, level: str, text: str, suffix: str, df: pd.DataFrame, x: int, N: int) -> Cell:
        p = ctx.prop(x, N)
        if p is None:
            return DASH_CELL
        return c_n_pct(R.proportion(reg, f"baseline.{var}.{R.slug(level)}{suffix}", text, p, with_ci=False))

    for var, text in CATEGORICAL:
        if var not in ctx.adsl or var == ctx.group_by or ctx.infused[var].notna().sum() == 0:
            continue
        levels = levels_of(var, ctx.adsl[var])
        head = [label(text)] + [empty() for _ in cols]
        if grouped:
            head.append(test_cell(var, text, ctx.infused[var], False))
        rows.append(Row(tuple(head), heading=True))
        has_missing = any(df[var].isna().any() for _, _, df, _ in cols)
        for level in levels + (["Missing"] if has_missing else []):
            cells = [label(show(level))]
            for _, suffix, df, _ in cols:
                x = int(df[var].isna().sum()) if level == "Missing" else int((labels(df[var]) == level).sum())
                cells.append(n_pct_cell(var, level, f"{text}: {level}", suffix, df, x, len(df)))
            if grouped:
                cells.append(empty())
            rows.append(Row(tuple(cells), indent=1))

    for var, text in FLAGS:
        if var not in ctx.adsl or var == ctx.group_by or ctx.infused[var].notna().sum() == 0:
            continue
        cells = [label(f"{text}, n (%)")]
        for _, suffix, df, _ in cols:
            cells.append(n_pct_cell(var, "yes", text, suffix, df, int(flag(df[var]).sum()), len(df)))
        if grouped:
            cells.append(test_cell(var, text, ctx.infused[var].astype("boolean"), False))
        rows.append(Row(tuple(cells)))

    foot = ["Continuous variables: median (range); categorical: n (%) of the column total, missing values shown as "
            "their own level. Product attributes are given for treated patients."]
    if grouped:
        foot.append("P values: " + "; ".join(sorted(methods)) + " (Wilcoxon rank-sum/Kruskal–Wallis for continuous "
                    f"variables; {categorical_test_text(ctx)}, for categorical ones).")
    by = short_var_label(ctx.group_by) if grouped else ""
    title = "Table 2. Baseline characteristics" + (f" by {by[:1].lower() + by[1:]}" if grouped else "")
    table = Table("t02_baseline", title, tuple(header), tuple(rows), tuple(foot))
    return lone + notes + [table]


UNITS = (Unit("baseline", "baseline characteristics", run, needs=(infused(),)),)
