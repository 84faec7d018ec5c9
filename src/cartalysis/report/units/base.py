"""The build context every unit reads, the ``Unit`` protocol, needs as data, and helpers shared by units.

See the package docstring (``cartalysis.report.units``) for the protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from cartalysis import stats
from cartalysis.report import figures as F
from cartalysis.report import records as R
from cartalysis.report import fmt
from cartalysis.report.model import Cell, Figure, Note, NotAnalysed, Section, c_n_pct
from cartalysis.report.results import Record, Registry

DASH_CELL = Cell("\u2014")  # not applicable / not estimable


def flag(s: pd.Series) -> pd.Series:
    """A yes/no column as plain bool (missing = no)."""
    return s.astype("boolean").fillna(False).astype(bool)


def lab(v) -> str:
    """A value as its label (yes/no for booleans, integers without ``.0``)."""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def labels(values: pd.Series) -> pd.Series:
    """``lab`` of every value (missing stays missing), mapping each distinct value once (large registries)."""
    uniq = values.dropna().unique()
    return values.map({v: lab(v) for v in uniq})


def stats_levels(values: pd.Series) -> list[str]:
    """Distinct labels in R's factor order (numeric when all numeric, else lexical)."""
    levels = sorted({lab(v) for v in pd.Series(values).dropna().unique()})
    try:
        return sorted(levels, key=float)
    except ValueError:
        return levels


def safe(note_list: list, fn, *args, **kw):
    """Run a statistic; input it cannot use becomes a note in the section instead of a crash."""
    try:
        return fn(*args, **kw)
    except stats.StatsInputError as e:
        note_list.append(Note(f"Not estimable: {e}"))
        return None


CATEGORICAL_TEST_TEXT = {
    "auto": "chi-square without continuity correction, or Fisher's exact test when an expected count is < 5",
    "chisq": "Pearson chi-square without continuity correction",
    "yates": "chi-square with Yates' continuity correction (2×2 tables; larger tables without)",
    "fisher": "Fisher's exact test",
}


def categorical_test(ctx: "Ctx") -> dict:
    """The plan's categorical test (``tables.categorical_test``, ``tables.missing_level``) as keyword arguments
    of ``stats.compare_categorical``."""
    t = ctx.plan.tables
    return {"test": t.categorical_test, "missing_level": t.missing_level}


def categorical_test_text(ctx: "Ctx") -> str:
    """The categorical test in words, for footnotes."""
    t = ctx.plan.tables
    return CATEGORICAL_TEST_TEXT[t.categorical_test] + (
        ", with missing values as a level of their own" if t.missing_level else ", patients with the value missing "
        "left out")


def event(df: pd.DataFrame) -> pd.Series:
    """ADaM CNSR (0 = event, 1, 2, ... = censoring reasons) as the 0/1 event indicator statistics expect."""
    return (df["cnsr"].astype(int) == 0).astype(int)


@dataclass
class Ctx:
    """Everything a unit needs; ``figures`` collects rendered figures in order."""

    study: object
    plan: object
    d: object
    reg: Registry
    figures: list[Figure] = field(default_factory=list)
    _fig_numbers: dict[str, int] = field(default_factory=dict)

    @cached_property
    def adsl(self) -> pd.DataFrame:
        return self.d.adsl

    @cached_property
    def infused(self) -> pd.DataFrame:
        return self.adsl[flag(self.adsl["saffl"])]

    @cached_property
    def response_pop(self) -> pd.DataFrame:
        """Denominator of response rates (plan ``response.denominator``): all infused patients, or those with at
        least one post-infusion response assessment (``adsl.response_evaluable``)."""
        if self.plan.response.denominator == "evaluable":
            return self.infused[flag(self.infused["response_evaluable"])]
        return self.infused

    @property
    def response_pop_text(self) -> str:
        return ("evaluable patients (infused, with at least one post-infusion response assessment)"
                if self.plan.response.denominator == "evaluable" else "infused patients")

    @cached_property
    def enrolled(self) -> pd.DataFrame:
        return self.adsl[flag(self.adsl["ittfl"])]

    @cached_property
    def group_by(self) -> str | None:
        return self.plan.groups.by

    @cached_property
    def groups(self) -> list[str]:
        """Levels of the plan's group column among infused patients (R order), or [] when ungrouped."""
        if not self.group_by:
            return []
        g = self.infused["group"].dropna()
        return stats_levels(g)

    def group_title(self, g: str) -> str:
        """Column/row title of a group, e.g. ``Prior inotuzumab ozogamicin: Yes``."""
        from cartalysis.report.units.labels import show, var_label

        return f"{var_label(self.group_by)}: {show(g)}"

    def group_of(self, df: pd.DataFrame) -> pd.Series:
        return labels(df["group"])

    @property
    def conf(self) -> float:
        return self.plan.efficacy.conf_level

    def prop(self, x: int, n: int):
        return stats.proportion(int(x), int(n), conf_level=self.conf) if n > 0 else None

    def figure(self, key: str, title: str, fig, caption: str = "") -> Figure:
        png, svg = F.render(fig)
        f = Figure(key, title, png, svg, caption)
        self.figures.append(f)
        return f

    def next_figure(self, series: str) -> int:
        """The next number in a figure series (``"3"`` → 3.1, 3.2, … across the units of a section)."""
        self._fig_numbers[series] = self._fig_numbers.get(series, 0) + 1
        return self._fig_numbers[series]

    @cached_property
    def n_infused(self) -> Record:
        return R.count(self.reg, "population.infused", "Infused patients (safety and mITT population)",
                       len(self.infused))

    @cached_property
    def n_enrolled(self) -> Record:
        return R.count(self.reg, "population.enrolled", "Enrolled patients (ITT population)", len(self.enrolled))

    def n_group(self, g: str) -> Record:
        n = int((self.group_of(self.infused) == g).sum())
        return R.count(self.reg, f"population.infused.{R.slug(g)}", f"Infused patients, {self.group_by} = {g}", n)

    def columns(self) -> list[tuple[str, str, pd.DataFrame, Record]]:
        """Columns of a by-group table: ``(title, id suffix, patients, N record)`` per group plus the total, or the
        infused population alone."""
        cols = []
        if self.groups:
            for g in self.groups:
                cols.append((self.group_title(g), f".{R.slug(g)}", self.infused[self.group_of(self.infused) == g],
                             self.n_group(g)))
            cols.append(("Total", "", self.infused, self.n_infused))
        else:
            cols.append(("Infused", "", self.infused, self.n_infused))
        return cols


def pct_cell(ctx: Ctx, rid: str, text: str, x: int, N: int) -> Cell:
    """``n (%)`` of ``N`` registered as ``rid``; a dash when there is no denominator."""
    p = ctx.prop(x, N)
    return c_n_pct(R.proportion(ctx.reg, rid, text, p, with_ci=False)) if p else DASH_CELL


def warnings(ctx: Ctx, key: str, texts) -> tuple[str, ...]:
    """Register each warning about a table as a record ``<key>.warning.<k>`` (no value) and return the texts, for
    ``Table(..., warnings=...)``: printed under the table and listed in ``results.json``."""
    texts = tuple(dict.fromkeys(texts))
    for k, text in enumerate(texts, start=1):
        ctx.reg.warn(f"{key}.warning.{k}", text)
    return texts


# -- needs ------------------------------------------------------------------------------------------------------

Need = Callable[[Ctx], "str | None"]  # the reason in plain words when the need is not met, else None


def rows_in(table: str, what: str | None = None) -> Need:
    """The study supplied ``table`` with at least one row ("no <what> in <table>.csv")."""
    def need(ctx: Ctx) -> str | None:
        return None if ctx.study.has(table) else f"no {what or 'rows'} in {table}.csv"
    return need


def values_in(table: str, column: str, what: str | None = None) -> Need:
    """``table.column`` has at least one value."""
    def need(ctx: Ctx) -> str | None:
        t = ctx.study.tables.get(table)
        ok = t is not None and column in t and t[column].notna().any()
        return None if ok else f"no {what or column} recorded in {table}.{column}"
    return need


def infused() -> Need:
    """At least one infused patient."""
    def need(ctx: Ctx) -> str | None:
        return None if len(ctx.infused) else "no infused patients"
    return need


def rows_of(frame: Callable[[Ctx], pd.DataFrame], reason: str) -> Need:
    """A derived frame (selected by ``frame``) is not empty."""
    def need(ctx: Ctx) -> str | None:
        return None if len(frame(ctx)) else reason
    return need


# -- units and sections -----------------------------------------------------------------------------------------

def always(ctx: Ctx) -> bool:
    return True


@dataclass(frozen=True)
class Unit:
    """One analysis: ``needs`` checked first (each returns the reason it fails, in words), then ``run`` computes its
    records and lays out its blocks. ``when`` is the plan's choice (False: the plan does not ask for this analysis,
    nothing is shown); a failed need is shown as a ``NotAnalysed`` block and a record without a number."""

    key: str  # id stem, e.g. "response.orr"; the not-analysed record is "<key>.not_analysed"
    title: str  # what the analysis is, as written inside a sentence ("response rates", "Cox regression")
    run: Callable[[Ctx], list]
    needs: tuple[Need, ...] = ()
    when: Callable[[Ctx], bool] = always


def not_analysed(ctx: Ctx, unit: Unit, reason: str) -> NotAnalysed:
    """The block and the record (no value, the reason as its method) of a unit whose need failed."""
    block = NotAnalysed(unit.title, reason)
    ctx.reg.add(Record(f"{unit.key}.not_analysed", f"{unit.title[:1].upper() + unit.title[1:]}: not analysed", None,
                       method=block.text))
    return block


def run_unit(ctx: Ctx, unit: Unit) -> list:
    if not unit.when(ctx):
        return []
    for need in unit.needs:
        reason = need(ctx)
        if reason:
            return [not_analysed(ctx, unit, reason)]
    return list(unit.run(ctx))


@dataclass(frozen=True)
class SectionSpec:
    """A report section: an ordered list of units. Notes (about the section as a whole) open the section; tables,
    figures and not-analysed blocks follow in unit order."""

    key: str
    title: str | Callable[[Ctx], str]
    units: tuple[Unit, ...]

    def build(self, ctx: Ctx) -> Section:
        with fmt.rounding_mode(ctx.plan.tables.rounding):  # every number of the section printed as the plan says
            blocks = _merge_not_analysed([b for u in self.units for b in run_unit(ctx, u)])
        notes = tuple(b for b in blocks if type(b) is Note)
        rest = tuple(b for b in blocks if type(b) is not Note)
        title = self.title(ctx) if callable(self.title) else self.title
        return Section(self.key, title, notes + rest)


def _merge_not_analysed(blocks: list) -> list:
    """Consecutive not-analysed blocks with the same reason as one ("No pk samples: a, b and c not analysed.")."""
    out: list = []
    run: list[NotAnalysed] = []

    def flush():
        if run:
            whats = [b.what for b in run]
            what = whats[0] if len(whats) == 1 else f"{', '.join(whats[:-1])} and {whats[-1]}"
            out.append(NotAnalysed(what, run[0].reason))
            run.clear()

    for b in blocks:
        if isinstance(b, NotAnalysed) and (not run or run[0].reason == b.reason):
            run.append(b)
            continue
        flush()
        if isinstance(b, NotAnalysed):
            run.append(b)
        else:
            out.append(b)
    flush()
    return out
