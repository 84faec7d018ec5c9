"""Journal-style number formatting (the only place numbers become text).

Two rounding conventions, chosen by plan ``tables.rounding`` (set for a report with ``rounding_mode()``):

- ``"half_up"`` (default, SAS): *half away from zero on the decimal representation*,
  ``Decimal(repr(x)).quantize(..., ROUND_HALF_UP)``: SAS ``ROUND``/``PUT`` and most journal tables give
  ``0.13`` for 0.125 and ``2.68`` for 2.675 (PSIAIMS/CAMIS ``Comp/r-sas_rounding.qmd``; rtables
  ``round_type="sas"``).
- ``"half_even"`` (R): the binary float rounded correctly, exact ties to even, as R's ``sprintf``/``format``/
  ``formatC`` print (6.25 → ``6.2``, 0.125 → ``0.12``, 2.675 → ``2.67`` because the float is 2.67499…); a paper
  whose tables came from R shows these (``tests/fixtures/r/make_rounding.R``).

Conventions (AMA/JCO style): percentages to one decimal; confidence intervals
``lo–hi`` with an en dash; P values without a leading zero, ``< .0001`` below
.0001, 4 decimals below .001, 3 below .1, else 2, ``> .99`` above .99; numbers of five or more
digits with thousands separators (``175,000``, ``1,650,000``; ``9999`` stays as is).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

DASH = "\u2013"  # en dash for ranges and confidence intervals
NR = "NR"  # not reached (Kaplan–Meier median or bound)
GROUP_FROM = 10_000  # numbers from here on are printed with thousands separators: 12,000


ROUNDING_MODES = ("half_up", "half_even")
_mode: ContextVar[str] = ContextVar("rounding", default="half_up")


@contextmanager
def rounding_mode(mode: str) -> Iterator[None]:
    """Format numbers with ``mode`` (``"half_up"``: SAS; ``"half_even"``: R) inside the ``with`` block."""
    if mode not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding mode {mode!r}; choose from {', '.join(ROUNDING_MODES)}")
    token = _mode.set(mode)
    try:
        yield
    finally:
        _mode.reset(token)


def round_half_up(x: float, digits: int) -> Decimal:
    """``x`` rounded to ``digits`` decimals, half away from zero, on its shortest decimal repr."""
    q = Decimal(1).scaleb(-digits)
    return Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP)


def round_half_even(x: float, digits: int) -> Decimal:
    """``x`` rounded to ``digits`` decimals as R prints it: the exact binary value, ties to even."""
    return Decimal(float(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)


def _round(x: float, digits: int) -> Decimal:
    return (round_half_even if _mode.get() == "half_even" else round_half_up)(x, digits)


def num(x: float | int | None, digits: int = 1) -> str:
    """A number to ``digits`` decimals (half away from zero); ``NR`` for missing/infinite values."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return NR
    if abs(float(x)) >= 1e15:
        # beyond what a decimal quantize can hold at this precision (e.g. the HR of a diverging Cox term)
        return f"{float(x):.2e}"
    d = _round(float(x), digits)
    if d == 0:
        d = abs(d)  # never print "-0.0"
    # five or more integer digits are grouped by three with commas (cellular kinetics: 1,650,000 copies/µg, not
    # 1650000); four-digit numbers stay as they are, as journal style has it
    return f"{d:,f}" if abs(d) >= GROUP_FROM else f"{d:f}"


def integer(x: int | float) -> str:
    """A count."""
    return num(x, 0)


def pct(x: float | None, digits: int = 1) -> str:
    """A percentage already on the 0–100 scale, e.g. ``70.8``."""
    return num(x, digits)


def ci(lo: float | None, hi: float | None, digits: int = 1) -> str:
    """A confidence interval ``lo–hi``; a missing bound prints ``NR`` (not reached)."""
    return f"{num(lo, digits)}{DASH}{num(hi, digits)}"


def n_pct(n: int, p: float, digits: int = 1) -> str:
    """``n (p)`` with ``p`` a percentage, e.g. ``34 (70.8)``."""
    return f"{integer(n)} ({pct(p, digits)})"


def est_ci(x: float | None, lo: float | None, hi: float | None, digits: int = 1) -> str:
    """``x (lo–hi)``, e.g. ``70.8 (55.9–83.0)``."""
    return f"{num(x, digits)} ({ci(lo, hi, digits)})"


def pvalue(p: float | None) -> str:
    """A P value as journals print it: ``< .0001``, ``.0004``, ``.013``, ``.51``, ``> .99``."""
    if p is None or not math.isfinite(p):
        return ""
    if p < 0.0001:
        return "< .0001"
    if p > 0.99:
        return "> .99"
    digits = 4 if p < 0.001 else 3 if p < 0.1 else 2
    s = f"{_round(p, digits):f}"
    return s[1:] if s.startswith("0") else s
