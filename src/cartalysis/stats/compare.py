"""Log-rank and Fleming–Harrington G-rho tests for k groups, optionally stratified (R ``survdiff``).

Written in numpy because lifelines has no stratified log-rank and statsmodels' ``survdiff`` does not
return observed/expected per group; the statistic is R's, which is the reference of the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartalysis.stats._common import StatsInputError, as_codes, as_event, as_time, chi2_sf, numeric


@dataclass(frozen=True, eq=False)
class LogRank:
    """Log-rank test. ``groups`` has ``group``, ``n``, ``observed`` and ``expected`` (summed over strata)."""

    chisq: float
    df: int
    p_value: float
    groups: pd.DataFrame
    method: str


def logrank_matrices(t: np.ndarray, e: np.ndarray, g: np.ndarray, k: int, rho: float = 0.0,
                     entry: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected (length k) and hypergeometric covariance (k × k) for one stratum.

    At each distinct event time with n at risk and d events, weight w = Ŝ(t−)^rho (pooled Kaplan–Meier just
    before t; 1 for rho = 0): O_g += w·d_g, E_g += w·d·n_g/n and V_gh += w²·d(n − d)/(n²(n − 1)) · n_g(δ_gh·n − n_h)
    (Mantel 1966; Harrington & Fleming 1982; Kalbfleisch & Prentice 2002 §7.2; R survdiff). At risk: time ≥ t,
    or entry < t ≤ time for counting-process rows ``entry`` (a row's group is then the group of that interval:
    the Mantel–Byar test). ``g`` holds group codes 0..k−1.
    """
    ut, inv = np.unique(t, return_inverse=True)
    m = ut.size
    d_g = np.bincount(g * m + inv, weights=e, minlength=k * m).reshape(k, m)
    tot_g = np.bincount(g * m + inv, minlength=k * m).reshape(k, m).astype(float)
    n_g = np.cumsum(tot_g[:, ::-1], axis=1)[:, ::-1]
    if entry is not None:  # rows that enter at or after t are not yet at risk at t
        for j in range(k):
            sel = np.sort(entry[g == j])
            n_g[j] -= sel.size - np.searchsorted(sel, ut, side="left")
    d = d_g.sum(0)
    n_all = n_g.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        km_before = np.r_[1.0, np.cumprod(1 - d / np.where(n_all > 0, n_all, 1))[:-1]]
    keep = d > 0
    d, d_g, n_g, wt = d[keep], d_g[:, keep], n_g[:, keep], km_before[keep] ** rho
    n = n_g.sum(0)
    observed = (d_g * wt).sum(1)
    expected = (n_g * (wt * d / n)).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n > 1, wt * wt * d * (n - d) / (n * n * (n - 1)), 0.0)
    var = np.diag((n_g * (w * n)).sum(1)) - (n_g * w) @ n_g.T
    return observed, expected, var


def logrank(time, event, group, strata=None, rho: float = 0.0, entry=None) -> LogRank:
    """Log-rank test of equal hazards across the groups, stratified when ``strata`` is given.

    ``rho`` > 0 gives the Fleming–Harrington G-rho test (weights Ŝ(t−)^rho, pooled Kaplan–Meier within the
    stratum; rho = 1 is the Peto–Peto–Prentice Wilcoxon-type test that stresses early differences), as R
    ``survdiff(rho=)``; ``observed``/``expected`` are then the weighted sums, as R prints them. ``entry``: rows
    are (entry, time] intervals (delayed entry, or a group that changes over time: the Mantel–Byar test).

    With O − E and V summed over strata, χ² = (O − E)ᵀ V⁻¹ (O − E) over the groups with E > 0 minus the first,
    df = (number of groups with E > 0) − 1 (R ``survdiff``). If that V is singular (R stops with an error) the
    Moore–Penrose inverse of V is used with df = rank(V). Groups are ordered as R orders factor levels.
    """
    if not (np.isfinite(rho) and rho >= 0):
        raise StatsInputError(f"rho must be a number >= 0, got {rho}")
    t = as_time(time)
    e = as_event(event, t.size)
    g, levels = as_codes(group, t.size, "group")
    en = None
    if entry is not None:
        en = numeric(entry)  # may be negative: an interval opened before the time origin
        if en.size != t.size or not np.isfinite(en).all() or (en >= t).any():
            raise StatsInputError("entry: one value per row, each before its time")
    if len(levels) < 2:
        raise StatsInputError("group: need at least two groups for a log-rank test")
    k = len(levels)
    s_code, s_levels = (np.zeros(t.size, np.int64), [""]) if strata is None else as_codes(strata, t.size, "strata")
    obs, exp, var = np.zeros(k), np.zeros(k), np.zeros((k, k))
    for s in range(len(s_levels)):
        sel = s_code == s
        o, x, v = logrank_matrices(t[sel], e[sel], g[sel], k, rho, None if en is None else en[sel])
        obs, exp, var = obs + o, exp + x, var + v
    use = np.flatnonzero(exp > 0)
    df = int(use.size - 1)
    if use.size < 2:
        chisq = 0.0
    else:
        u = (obs - exp)[use]
        vu = var[np.ix_(use, use)]
        rank = int(np.linalg.matrix_rank(vu[1:, 1:]))  # the reduced matrix R inverts
        if rank == df:
            chisq = float(u[1:] @ np.linalg.solve(vu[1:, 1:], u[1:]))
        else:
            # R stops (or returns noise) here; a generalised inverse with df = rank(V) keeps the test defined
            # (e.g. a group never at risk together with another) and equals R's form whenever R's is defined
            chisq = float(u @ np.linalg.pinv(vu, rcond=1e-10) @ u)
            df = int(np.linalg.matrix_rank(vu, tol=1e-10 * np.abs(vu).max()))
    p = float(chi2_sf(chisq, df)) if df > 0 else float("nan")
    groups = pd.DataFrame({"group": levels, "n": np.bincount(g, minlength=k), "observed": obs, "expected": exp})
    label = "log-rank test" if rho == 0 else f"Fleming–Harrington G-rho test (rho = {rho:g})"
    label = ("stratified " if strata is not None else "") + label
    return LogRank(chisq, df, p, groups, label + (" (Mantel–Haenszel, rho = 0; R survdiff)" if rho == 0 else
                                                  " (weights S(t−)^rho; R survdiff)"))
