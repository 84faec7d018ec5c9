"""The report's content model: tables, figures and sections, independent of output format.

A table is a grid of display cells; each cell carries the ids of the result
records (``results.json``) its numbers come from, so that every number shown
is traceable to a record (Tplyr-style cell metadata). Cells are made from
records by the constructors at the bottom of this module, which are the only
way the report turns a result into text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cartalysis.report import fmt
from cartalysis.report.results import Record


@dataclass(frozen=True)
class Cell:
    text: str
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    indent: int = 0  # 0 = variable/heading row, 1 = level under it
    heading: bool = False  # a label-only row that introduces the rows below it


@dataclass(frozen=True)
class Table:
    key: str  # file stem in tables/, e.g. "t02_response"
    title: str
    header: tuple[Cell, ...]
    rows: tuple[Row, ...]
    footnotes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # what the reader must know about these numbers, printed under the table

    def notes_below(self) -> tuple[str, ...]:
        """Warnings (``Warning: …``) then footnotes: the lines under the table in Word and RTF."""
        return tuple(f"Warning: {w}" for w in self.warnings) + self.footnotes

    def text_grid(self) -> list[list[str]]:
        """Header and rows as plain strings, levels indented by two spaces (CSV and RTF)."""
        grid = [[c.text for c in self.header]]
        for r in self.rows:
            cells = [c.text for c in r.cells]
            cells[0] = "  " * r.indent + cells[0]
            grid.append(cells)
        return grid


@dataclass(frozen=True)
class Figure:
    key: str  # file stem in figures/, e.g. "f01_consort"
    title: str
    png: bytes
    svg: bytes
    caption: str = ""


@dataclass(frozen=True)
class Note:
    """A paragraph of text (no reported numbers in it), e.g. why a section is empty."""

    text: str


@dataclass(frozen=True)
class NotAnalysed:
    """An analysis the data cannot support, with the reason in plain words (and no number)."""

    what: str  # as written inside a sentence: "response rates", "Cox regression"
    reason: str  # "no response assessments in assessments.csv"

    @property
    def text(self) -> str:
        return f"{self.reason[:1].upper() + self.reason[1:]}: {self.what} not analysed."


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    blocks: tuple[Table | Figure | Note | NotAnalysed, ...] = field(default_factory=tuple)


# -- cells from records -------------------------------------------------------


def label(text: str) -> Cell:
    return Cell(text)


def empty() -> Cell:
    return Cell("")


def c_count(r: Record) -> Cell:
    """``n``."""
    return Cell(fmt.integer(r.value), (r.id,))


def c_n_pct(r: Record) -> Cell:
    """``n (%)`` from a proportion record (value = percent, n = numerator)."""
    return Cell(fmt.n_pct(r.n, r.value), (r.id,))


def c_n_of_N_pct(r: Record) -> Cell:
    """``n/N (%)``."""
    return Cell(f"{fmt.integer(r.n)}/{fmt.integer(r.N)} ({fmt.pct(r.value)})", (r.id,))


def c_est_ci(r: Record, digits: int = 1) -> Cell:
    """``x (lo–hi)``; a median not reached prints ``NR``."""
    lo, hi = r.ci if r.ci is not None else (None, None)
    return Cell(fmt.est_ci(r.value, lo, hi, digits), (r.id,))


def c_median(r: Record, events: int | None = None, digits: int = 1) -> Cell:
    """A Kaplan–Meier median ``x (lo–hi)``: ``NR`` when not reached, followed by the CI side that exists
    (``NR (5.2–NR)``, or ``NR`` alone); ``NR (no events)`` for a curve without events; a median whose CI cannot
    be estimated (e.g. every event on day 0: the log-log band is undefined at S = 0) prints
    ``0.0 (CI not estimable)`` rather than a bound read as "not reached"."""
    lo, hi = r.ci if r.ci is not None else (None, None)
    if events == 0:
        text = f"{fmt.NR} (no events)"
    elif r.value is None:
        text = fmt.NR if lo is None else f"{fmt.NR} ({fmt.ci(lo, None, digits)})"
    elif lo is None:
        text = f"{fmt.num(r.value, digits)} (CI not estimable)"
    else:
        text = fmt.est_ci(r.value, lo, hi, digits)
    return Cell(text, (r.id,))


def c_rate(r: Record, digits: int = 1) -> Cell:
    """A landmark rate ``x (lo–hi)``; ``x (CI not estimable)`` when the CI is undefined (e.g. 100% before the first
    event)."""
    lo, hi = r.ci if r.ci is not None else (None, None)
    if r.value is not None and lo is None and hi is None:
        return Cell(f"{fmt.num(r.value, digits)} (CI not estimable)", (r.id,))
    return c_est_ci(r, digits)


def c_median_range(median: Record, lo: Record, hi: Record, digits: int = 1) -> Cell:
    """``median (min–max)`` from three records."""
    return Cell(f"{fmt.num(median.value, digits)} ({fmt.ci(lo.value, hi.value, digits)})", (median.id, lo.id, hi.id))


def c_p(r: Record) -> Cell:
    """A P value (``r.p_value``)."""
    return Cell(fmt.pvalue(r.p_value), (r.id,))


def c_header_N(text: str, r: Record) -> Cell:
    """A column header ``text (N=48)`` whose N comes from a count record."""
    return Cell(f"{text} (N={fmt.integer(r.value)})", (r.id,))
