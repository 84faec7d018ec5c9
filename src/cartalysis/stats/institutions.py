"""Comparing institutions: funnel-plot control limits for a proportion, and Clark's follow-up completeness index.

Neither scipy nor statsmodels offers these; the binomial quantiles come from scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cartalysis.stats._common import StatsInputError


@dataclass(frozen=True)
class FunnelLimits:
    """Control limits of a proportion around the target ``p0`` for each denominator ``n``: ``lower[i]``,
    ``upper[i]`` at ``level`` (two-sided), as proportions."""

    p0: float
    level: float
    n: tuple[int, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    method: str


def funnel_limits(p0: float, n, level: float = 0.95) -> FunnelLimits:
    """Exact binomial control limits of a funnel plot (Spiegelhalter, Stat Med 2005;24:1185, appendix A.1.1).

    For each n, the quantile r_q of Binomial(n, p0) at q = (1 − level)/2 and 1 − q is interpolated so that the
    limit is a continuous function of n: with F the binomial CDF, α = (F(r_q) − q) / (F(r_q) − F(r_q − 1)) and the
    limit is (r_q − α)/n (the limits are clipped to [0, 1]). A unit whose proportion lies outside the limits
    differs from the target more than chance allows at that level (95%: "alert", 99.8%: "alarm").
    """
    from scipy.stats import binom

    ns = np.asarray(list(n), dtype=int)
    if not 0 < p0 < 1:
        raise StatsInputError("the target proportion must be strictly between 0 and 1")
    if not 0 < level < 1:
        raise StatsInputError("level must be between 0 and 1")
    if ns.size == 0 or (ns < 1).any():
        raise StatsInputError("every denominator must be at least 1")
    out = []
    for q in ((1 - level) / 2, 1 - (1 - level) / 2):
        r = binom.ppf(q, ns, p0)
        f_r, f_before = binom.cdf(r, ns, p0), binom.cdf(r - 1, ns, p0)
        alpha = (f_r - q) / (f_r - f_before)
        out.append(np.clip((r - alpha) / ns, 0.0, 1.0))
    return FunnelLimits(float(p0), float(level), tuple(int(x) for x in ns), tuple(map(float, out[0])),
                        tuple(map(float, out[1])),
                        f"exact binomial {level:.1%} control limits around {p0:.3g}, interpolated (Spiegelhalter 2005)")


def funnel_outside(p0: float, x, n, level: float = 0.95) -> tuple[int, ...]:
    """Which units lie outside the funnel at ``level``: −1 below, +1 above, 0 inside, by the exact binomial tails
    (P(X ≤ x) or P(X ≥ x) under Binomial(n, p0) below (1 − level)/2). The interpolated limits of
    ``funnel_limits`` are for drawing: at the extremes (x = n) they can sit just inside 0 or 1 although the
    observation is not unusual, so units are classified by their tail probabilities (Spiegelhalter 2005, §3)."""
    from scipy.stats import binom

    xs, ns = np.asarray(list(x), dtype=int), np.asarray(list(n), dtype=int)
    if xs.shape != ns.shape or (ns < 1).any() or (xs < 0).any() or (xs > ns).any():
        raise StatsInputError("need 0 <= x <= n and n >= 1 for every unit")
    q = (1 - level) / 2
    low = binom.cdf(xs, ns, p0) < q
    high = binom.sf(xs - 1, ns, p0) < q
    return tuple(int(v) for v in np.where(low, -1, np.where(high, 1, 0)))


@dataclass(frozen=True)
class Completeness:
    """Clark's completeness of follow-up: observed / potential person-time."""

    observed: float
    potential: float
    index: float
    method: str


def completeness_index(start, last, end, cutoff) -> Completeness:
    """Clark's C = Σ observed follow-up / Σ potential follow-up (Clark, Altman & De Stavola, Lancet 2002;359:1309).

    Per patient (times on any common scale, e.g. days): observed = ``last`` − ``start``, where ``last`` is the
    end of follow-up (death or last contact); potential = ``cutoff`` − ``start`` for a patient alive at last
    contact, and ``end`` − ``start`` for one who died (``end`` = death time; missing when alive), since a death
    ends the follow-up that could be had. C = 1 when every survivor was seen at the data cutoff.
    """
    start, last = np.asarray(start, dtype=float), np.asarray(last, dtype=float)
    end, cutoff = np.asarray(end, dtype=float), np.asarray(cutoff, dtype=float) * np.ones_like(start)
    if start.size == 0:
        raise StatsInputError("no patients")
    if np.isnan(start).any() or np.isnan(last).any() or np.isnan(cutoff).any():
        raise StatsInputError("start, end of follow-up and cutoff must be known for every patient")
    potential = np.where(np.isnan(end), cutoff, end) - start
    observed = np.minimum(last, np.where(np.isnan(end), cutoff, end)) - start
    if (potential < 0).any() or (observed < 0).any():
        raise StatsInputError("follow-up ends before it starts, or after the cutoff")
    tot_p, tot_o = float(potential.sum()), float(observed.sum())
    if tot_p <= 0:
        raise StatsInputError("no potential follow-up time")
    return Completeness(tot_o, tot_p, tot_o / tot_p, "Clark's completeness index (observed / potential follow-up)")
