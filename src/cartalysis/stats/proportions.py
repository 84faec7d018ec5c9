"""Proportions: exact (Clopper–Pearson) and Wilson CIs, exact binomial test, exact single-arm design.

scipy computes the binomial distribution, the Clopper–Pearson and Wilson intervals and the exact test
(``scipy.stats.binomtest``, which sums the probabilities ≤ P(X = x) with relative tolerance 1e-7, exactly as
R ``binom.test``); this module only wraps them in results records and adds the single-arm design search,
which neither scipy nor statsmodels provides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartalysis.stats._common import StatsInputError

ALTERNATIVES = ("two-sided", "greater", "less")


@dataclass(frozen=True)
class Proportion:
    """x/n with a two-sided confidence interval."""

    x: int
    n: int
    estimate: float
    lower: float
    upper: float
    conf_level: float
    method: str


@dataclass(frozen=True)
class BinomTest:
    """Exact binomial test of H0: p = p0, with the (two-sided) Clopper–Pearson CI of the estimate."""

    x: int
    n: int
    estimate: float
    p0: float
    alternative: str
    p_value: float
    ci: Proportion
    method: str


@dataclass(frozen=True, eq=False)
class SingleArmDesign:
    """Exact single-stage single-arm design.

    ``table`` has one row per n: ``n``, ``critical`` (reject H0 when responders ≥ critical; None when no count
    reaches the level), ``alpha`` (actual type-I error P(X ≥ critical | p0)) and ``power`` (P(X ≥ critical | p1)).
    ``smallest_n`` is the first n whose power reaches the target; because exact power saw-tooths in n,
    ``smallest_n_stable`` is the first n from which every larger n in the table also reaches it.
    """

    p0: float
    p1: float
    alpha: float
    target_power: float
    sided: str
    table: pd.DataFrame
    smallest_n: int | None
    smallest_n_stable: int | None
    method: str


def _check_xn(x: int, n: int) -> tuple[int, int]:
    if int(n) != n or int(x) != x or n < 1 or x < 0 or x > n:
        raise StatsInputError(f"need integers 0 <= x <= n and n >= 1; got x={x}, n={n}")
    return int(x), int(n)


def proportion(x: int, n: int, conf_level: float = 0.95, method: str = "clopper-pearson") -> Proportion:
    """Proportion x/n with a two-sided CI.

    clopper-pearson (default): lower = Beta_{α/2}(x, n−x+1), upper = Beta_{1−α/2}(x+1, n−x), with lower = 0 when
    x = 0 and upper = 1 when x = n (Clopper & Pearson 1934; R ``binom.test``, SAS PROC FREQ BINOMIAL exact).
    wilson: score interval without continuity correction (Wilson 1927; SAS ``BINOMIAL(WILSON)``; R ``prop.test``
    with ``correct=FALSE``).
    """
    from scipy import stats as _st  # imported here: the survival commands need no scipy.stats

    x, n = _check_xn(x, n)
    if not 0 < conf_level < 1:
        raise StatsInputError(f"conf_level must be in (0, 1), got {conf_level}")
    if method == "clopper-pearson":
        ci = _st.binomtest(x, n).proportion_ci(confidence_level=conf_level, method="exact")
        label = f"Clopper–Pearson exact {conf_level * 100:g}% CI"
    elif method == "wilson":
        ci = _st.binomtest(x, n).proportion_ci(confidence_level=conf_level, method="wilson")
        label = f"Wilson score {conf_level * 100:g}% CI (no continuity correction)"
    else:
        raise StatsInputError(f"method must be 'clopper-pearson' or 'wilson'; got {method!r}")
    return Proportion(x, n, x / n, float(ci.low), float(ci.high), conf_level, label)


def binom_test(x: int, n: int, p0: float, alternative: str = "two-sided", conf_level: float = 0.95) -> BinomTest:
    """Exact binomial test of H0: p = p0.

    greater: P(X ≥ x | p0); less: P(X ≤ x | p0); two-sided: sum of P(X = k | p0) over all k with
    P(X = k) ≤ P(X = x)·(1 + 1e-7) (Hollander & Wolfe; R ``binom.test``; SAS PROC FREQ exact binomial test uses
    the doubled one-sided p for two-sided — we follow R). The CI is always the two-sided Clopper–Pearson interval.
    """
    from scipy import stats as _st

    x, n = _check_xn(x, n)
    if not 0 < p0 < 1:
        raise StatsInputError(f"p0 must be in (0, 1), got {p0}")
    if alternative not in ALTERNATIVES:
        raise StatsInputError(f"alternative must be one of {', '.join(ALTERNATIVES)}; got {alternative!r}")
    p = float(_st.binomtest(x, n, p0, alternative=alternative).pvalue)
    return BinomTest(x, n, x / n, p0, alternative, p, proportion(x, n, conf_level),
                     f"exact binomial test ({alternative}) against p0 = {p0:g}")


def single_arm_design(p0: float, p1: float, alpha: float = 0.025, power: float = 0.9, sided: str = "one-sided",
                      n_range: tuple[int, int] = (5, 200)) -> SingleArmDesign:
    """Exact single-stage design for H0: p = p0 against p1 (A'Hern 2001).

    For each n the critical count is the smallest r with P(X ≥ r | p0) ≤ α (one-sided) or ≤ α/2 (two-sided;
    rejection in the direction of p1 only is counted in power). When p1 < p0 the roles of the tails flip:
    reject when X ≤ r. Actual alpha and power are the exact binomial tail probabilities at r.
    """
    from scipy import stats as _st

    if not (0 < p0 < 1 and 0 < p1 < 1) or p0 == p1:
        raise StatsInputError(f"need 0 < p0, p1 < 1 and p0 != p1; got p0={p0}, p1={p1}")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise StatsInputError("alpha and power must be in (0, 1)")
    if sided not in ("one-sided", "two-sided"):
        raise StatsInputError(f"sided must be 'one-sided' or 'two-sided'; got {sided!r}")
    lo, hi = n_range
    if not 1 <= lo <= hi:
        raise StatsInputError(f"bad n_range {n_range}")
    level = alpha if sided == "one-sided" else alpha / 2
    rows = []
    for n in range(lo, hi + 1):
        k = np.arange(n + 2)
        if p1 > p0:
            tail0 = _st.binom.sf(k - 1, n, p0)  # P(X >= k)
            ok = np.flatnonzero(tail0 <= level)
            r = int(ok[0]) if ok.size and ok[0] <= n else None
            a = float(tail0[r]) if r is not None else None
            pw = float(_st.binom.sf(r - 1, n, p1)) if r is not None else None
        else:
            tail0 = _st.binom.cdf(k, n, p0)  # P(X <= k)
            ok = np.flatnonzero(tail0[: n + 1] <= level)
            r = int(ok[-1]) if ok.size else None
            a = float(tail0[r]) if r is not None else None
            pw = float(_st.binom.cdf(r, n, p1)) if r is not None else None
        rows.append({"n": n, "critical": r, "alpha": a, "power": pw})
    table = pd.DataFrame(rows)
    reach = table["power"].fillna(0).to_numpy() >= power
    smallest = int(table["n"][reach].iloc[0]) if reach.any() else None
    stable = None
    if reach[-1]:
        last_fail = np.flatnonzero(~reach)
        stable = int(table["n"].iloc[last_fail[-1] + 1]) if last_fail.size else int(table["n"].iloc[0])
    rule = "responses ≥ critical" if p1 > p0 else "responses ≤ critical"
    return SingleArmDesign(p0, p1, alpha, power, sided, table, smallest, stable,
                           f"exact binomial single-stage design (reject H0 when {rule}; {sided} alpha {alpha:g})")
