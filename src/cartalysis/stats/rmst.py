"""Restricted mean survival time (RMST) per group at a horizon τ, and the difference between two groups.

The area and its variance are R survival's (``print(survfit(...), rmean = tau)``, ``survmean``), computed from our
Kaplan–Meier table; lifelines' ``restricted_mean_survival_time`` returns the variance of min(T, τ), not of the
estimator (lifelines #1456), so it is not used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cartalysis.stats._common import StatsInputError, as_codes, as_event, as_time, norm_sf, z_value
from cartalysis.stats.survival import KaplanMeier, kaplan_meier


@dataclass(frozen=True)
class Rmst:
    """RMST of one group: ∫₀^τ S(t) dt with its SE and a Wald CI (estimate ± z·se)."""

    group: str | None
    n: int
    tau: float
    estimate: float
    se: float
    lower: float
    upper: float
    conf_level: float
    method: str


@dataclass(frozen=True)
class RmstDifference:
    """Second group minus the first (in the printed order): estimate, SE √(se₁² + se₂²), Wald CI and two-sided p."""

    estimate: float
    se: float
    lower: float
    upper: float
    p_value: float
    conf_level: float
    method: str


@dataclass(frozen=True)
class RmstComparison:
    tau: float
    groups: tuple[Rmst, ...]
    difference: RmstDifference | None


def rmst_of(km: KaplanMeier, tau: float, group: str | None = None) -> Rmst:
    """RMST of a fitted Kaplan–Meier curve at ``tau``, as R ``survmean``.

    With the distinct times t_1 < … < t_m ≤ τ and t_{m+1} = τ: area = Σ_j (t_j − t_{j−1})·S(t_{j−1}) (t_0 = 0,
    S(t_0) = 1). Variance (Greenwood type; Klein & Moeschberger 2003 §4.5): Σ_{j ≤ m} A_j²·d_j/(n_j(n_j − d_j)),
    where A_j is the area between t_j and τ (terms with n_j = d_j count 0, as R). A τ beyond the last time
    extends the last value of S to τ, as R does.
    """
    if not (np.isfinite(tau) and tau > 0):
        raise StatsInputError(f"tau must be a positive number, got {tau}")
    tab = km.table
    t = tab["time"].to_numpy(float)
    keep = t <= tau
    s, n, d = (tab[c].to_numpy(float)[keep] for c in ("surv", "n_risk", "n_event"))
    times = np.r_[t[keep], tau]
    rect = np.diff(np.r_[0.0, times]) * np.r_[1.0, s]
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(n - d == 0, 0.0, d / (n * (n - d)))
    after = np.cumsum(rect[::-1])[::-1][1:]  # area from t_j to τ, j = 1..m
    se = float(np.sqrt(np.sum(after**2 * hh)))
    est = float(rect.sum())
    z = z_value(km.conf_level)
    return Rmst(group, km.n, float(tau), est, se, est - z * se, est + z * se, km.conf_level,
                f"restricted mean survival time to {tau:g} (area under the Kaplan–Meier curve, R survfit rmean SE); "
                f"{km.conf_level * 100:g}% Wald CI")


def rmst(time, event, tau: float, group=None, conf_level: float = 0.95) -> RmstComparison:
    """RMST per group at ``tau``; for two groups the difference (second − first in R's level order).

    Difference: D = μ₂ − μ₁, se = √(se₁² + se₂²) (independent groups), CI D ± z·se, p = 2·Φ(−|D/se|).
    References: Royston & Parmar (2013) BMC Med Res Methodol 13:152; Uno et al. (2014) J Clin Oncol 32:2380.
    """
    t = as_time(time)
    e = as_event(event, t.size)
    if group is None:
        codes, levels = np.zeros(t.size, np.int64), [None]
    else:
        codes, levels = as_codes(group, t.size, "group")
    fits = tuple(rmst_of(kaplan_meier(t[codes == j], e[codes == j], "log", conf_level), tau, lv)
                 for j, lv in enumerate(levels))
    diff = None
    if len(fits) == 2:
        a, b = fits
        est, se = b.estimate - a.estimate, float(np.hypot(a.se, b.se))
        z = z_value(conf_level)
        p = float(2 * norm_sf(abs(est / se))) if se > 0 else float("nan")
        diff = RmstDifference(est, se, est - z * se, est + z * se, p, conf_level,
                              f"difference in RMST ({b.group} − {a.group}) to {tau:g}; {conf_level * 100:g}% Wald CI, "
                              "z test")
    return RmstComparison(float(tau), fits, diff)
