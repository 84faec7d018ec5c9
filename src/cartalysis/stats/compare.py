"""Log-rank test for k groups, optionally stratified (R ``survdiff`` with rho = 0).

Written in numpy because lifelines has no stratified log-rank and statsmodels' ``survdiff`` does not
return observed/expected per group; the statistic is R's, which is the reference of the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

from cartalysis.stats._common import StatsInputError, as_codes, as_event, as_time


@dataclass(frozen=True, eq=False)
class LogRank:
    """Log-rank test. ``groups`` has ``group``, ``n``, ``observed`` and ``expected`` (summed over strata)."""

    chisq: float
    df: int
    p_value: float
    groups: pd.DataFrame
    method: str


def logrank_matrices(t: np.ndarray, e: np.ndarray, g: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected (length k) and hypergeometric covariance (k × k) for one stratum.

    At each distinct event time with n at risk (time ≥ t) and d events: E_g += d·n_g/n and
    V_gh += d(n − d)/(n²(n − 1)) · n_g(δ_gh·n − n_h) (Mantel 1966; Kalbfleisch & Prentice 2002 §7.2).
    ``g`` holds group codes 0..k−1.
    """
    ut, inv = np.unique(t, return_inverse=True)
    m = ut.size
    d_g = np.bincount(g * m + inv, weights=e, minlength=k * m).reshape(k, m)
    tot_g = np.bincount(g * m + inv, minlength=k * m).reshape(k, m).astype(float)
    n_g = np.cumsum(tot_g[:, ::-1], axis=1)[:, ::-1]
    d = d_g.sum(0)
    keep = d > 0
    d, d_g, n_g = d[keep], d_g[:, keep], n_g[:, keep]
    n = n_g.sum(0)
    observed = d_g.sum(1)
    expected = (n_g * (d / n)).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n > 1, d * (n - d) / (n * n * (n - 1)), 0.0)
    var = np.diag((n_g * (w * n)).sum(1)) - (n_g * w) @ n_g.T
    return observed, expected, var


def logrank(time, event, group, strata=None) -> LogRank:
    """Log-rank test of equal hazards across the groups, stratified when ``strata`` is given.

    With O − E and V summed over strata, χ² = (O − E)ᵀ V⁻¹ (O − E) over the groups with E > 0 minus the first,
    df = (number of groups with E > 0) − 1 (R ``survdiff``). If that V is singular (R stops with an error) the
    Moore–Penrose inverse of V is used with df = rank(V). Groups are ordered as R orders factor levels.
    """
    t = as_time(time)
    e = as_event(event, t.size)
    g, levels = as_codes(group, t.size, "group")
    if len(levels) < 2:
        raise StatsInputError("group: need at least two groups for a log-rank test")
    k = len(levels)
    s_code, s_levels = (np.zeros(t.size, np.int64), [""]) if strata is None else as_codes(strata, t.size, "strata")
    obs, exp, var = np.zeros(k), np.zeros(k), np.zeros((k, k))
    for s in range(len(s_levels)):
        sel = s_code == s
        o, x, v = logrank_matrices(t[sel], e[sel], g[sel], k)
        obs, exp, var = obs + o, exp + x, var + v
    use = np.flatnonzero(exp > 0)
    df = int(use.size - 1)
    if use.size < 2:
        chisq = 0.0
    else:
        u = (obs - exp)[use]
        vu = var[np.ix_(use, use)]
        rank = int(np.linalg.matrix_rank(vu))
        if rank == df:
            chisq = float(u[1:] @ np.linalg.solve(vu[1:, 1:], u[1:]))
        else:
            # R stops (or returns noise) here; a generalised inverse with df = rank(V) keeps the test defined
            # (e.g. a group never at risk together with another) and equals R's form whenever R's is defined
            chisq = float(u @ np.linalg.pinv(vu) @ u)
            df = rank
    p = float(_st.chi2.sf(chisq, df)) if df > 0 else float("nan")
    groups = pd.DataFrame({"group": levels, "n": np.bincount(g, minlength=k), "observed": obs, "expected": exp})
    label = "stratified log-rank test" if strata is not None else "log-rank test"
    return LogRank(chisq, df, p, groups, f"{label} (Mantel–Haenszel, rho = 0; R survdiff)")
