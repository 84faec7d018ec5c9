"""Competing risks: Aalen–Johansen cumulative incidence per cause with CI, and Gray's test between groups.

Written in numpy because lifelines' ``AalenJohansenFitter`` jitters tied times (so it does not reproduce
``cmprsk``) and statsmodels' ``CumIncidenceRight`` uses a different (Stata-style) variance. Estimates, variances
and Gray's statistic are those of R ``cmprsk::cuminc`` (Gray 1988), the reference of the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartalysis.stats._common import (
    StatsInputError,
    as_codes,
    as_time,
    check_conf_type,
    chi2_sf,
    ci_transform,
    z_value,
)


@dataclass(frozen=True, eq=False)
class CumulativeIncidence:
    """Cumulative incidence F_k(t) of one cause in one group.

    ``table`` has one row per time with an event of this cause: ``time``, ``cif``, ``se`` (square root of the
    ``cmprsk`` variance), ``lower``, ``upper``. ``max_time`` is the last follow-up time of the group.
    """

    cause: str
    group: str | None
    n: int
    conf_type: str
    conf_level: float
    max_time: float
    table: pd.DataFrame
    method: str

    def at(self, times) -> pd.DataFrame:
        """F_k(t) with SE and CI at the given times (the step function; 0 before the first event of the cause).

        Beyond the group's last follow-up time the estimate is not defined: NaN (R ``cmprsk::timepoints``
        gives NA there too).
        """
        times = np.asarray(times, dtype=float).ravel()
        tt = self.table["time"].to_numpy(float)
        idx = np.searchsorted(tt, times, side="right") - 1
        out = pd.DataFrame({"time": times})
        z = z_value(self.conf_level)
        lo0, hi0 = ci_transform(np.array([0.0]), np.array([np.nan]), self.conf_type, z)
        starts = {"cif": 0.0, "se": 0.0, "lower": 0.0 if self.conf_type == "plain" else lo0[0],
                  "upper": 0.0 if self.conf_type == "plain" else hi0[0]}
        for col, start in starts.items():
            vals = self.table[col].to_numpy(float)
            out[col] = np.where(idx >= 0, vals[np.maximum(idx, 0)] if vals.size else start, start)
        out.loc[times > self.max_time, ["cif", "se", "lower", "upper"]] = np.nan
        return out


@dataclass(frozen=True)
class GrayTest:
    """Gray's K-sample test that the cumulative incidence of ``cause`` is the same in all groups."""

    cause: str
    stat: float
    df: int
    p_value: float
    method: str


@dataclass(frozen=True)
class CompetingRisks:
    """All curves (cause × group, causes then groups in sorted order) and, when grouped, Gray's tests."""

    curves: tuple[CumulativeIncidence, ...]
    gray: tuple[GrayTest, ...]


def _cif_one(t: np.ndarray, cause_event: np.ndarray, any_event: np.ndarray):
    """Aalen–Johansen F_k and its cmprsk (Aalen-type delta-method) variance at the times of cause-k events.

    With n at risk, d1 cause-k and d2 other-cause events at t, S(t−) the all-cause KM just before t and
    S(t) after: F_k(t) = F_k(t−) + S(t−)·d1/n. Var(t) = v1 + F²·v3 − 2F·v2 with v1, v2, v3 accumulating, for
    each event type with count m at a time, fk²·(1 − (m − 1)/(n − 1))·m/n² times (b², b/S(t), 1/S(t)²), where
    b = F(t)/S(t) for other causes and 1 + F(t)/S(t) for cause k (Gray's ``cinc`` routine in cmprsk).
    """
    ut, inv = np.unique(t, return_inverse=True)
    d1 = np.bincount(inv, weights=cause_event, minlength=ut.size)
    dall = np.bincount(inv, weights=any_event, minlength=ut.size)
    d2 = dall - d1
    n = np.cumsum(np.bincount(inv, minlength=ut.size)[::-1])[::-1].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        s_after = np.cumprod(1 - dall / n)
        s_before = np.r_[1.0, s_after[:-1]]
        f = np.cumsum(s_before * d1 / n)

        def parts(m, b, inv_s):
            t5 = np.where(m > 1, 1 - (m - 1) / (n - 1), 1.0)
            t6 = s_before**2 * t5 * m / n**2
            return b * b * t6, inv_s * b * t6, inv_s * inv_s * t6

        pos = s_after > 0
        inv_s = np.where(pos, 1 / s_after, 0.0)
        a1, a2, a3 = parts(d2, f * inv_s, inv_s)
        other = (d2 > 0) & pos
        b1, b2, b3 = parts(d1, 1 + inv_s * f, inv_s)
        own = d1 > 0
        v1 = np.cumsum(np.where(other, a1, 0) + np.where(own, b1, 0))
        v2 = np.cumsum(np.where(other, a2, 0) + np.where(own, b2, 0))
        v3 = np.cumsum(np.where(other, a3, 0) + np.where(own, b3, 0))
    var = v1 + f * f * v3 - 2 * f * v2
    return ut[own], f[own], var[own]


def _gray(t: np.ndarray, status: np.ndarray, g: np.ndarray, ng: int, rho: float = 0.0):
    """Gray's (1988) score and covariance for one cause (status: 0 censored, 1 this cause, 2 other cause).

    Follows the construction of cmprsk's ``crstm``: scores s_i = Σ_t w(t)·(d1_i − d1·R_i/ΣR) comparing each group's
    subdistribution hazard with the pooled one (R_i = n_i(1 − F_i(t−))/S_i(t−)), with the asymptotic covariance
    of Gray's Theorem 1; weight w(t) = (1 − F(t−))^rho. Returns the first ng − 1 scores and their covariance.
    """
    order = np.argsort(t, kind="stable")
    t, status, g = t[order], status[order], g[order]
    ut, start = np.unique(t, return_index=True)
    stop = np.r_[start[1:], t.size]
    ng1 = ng - 1
    rs = np.bincount(g, minlength=ng).astype(float)
    f1m, skmm = np.zeros(ng), np.ones(ng)
    f1, skm = f1m.copy(), skmm.copy()
    v3, v2 = np.zeros(ng), np.zeros((ng1, ng))
    c, v, s = np.zeros((ng, ng)), np.zeros((ng1, ng1)), np.zeros(ng1)
    fm = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):  # np.where evaluates both branches
        for lo, hi in zip(start, stop):
            gg, st = g[lo:hi], status[lo:hi]
            d = np.zeros((3, ng))
            np.add.at(d, (st, gg), 1)
            nd1, nd2 = d[1].sum(), d[2].sum()
            if nd1 > 0 or nd2 > 0:
                at = rs > 0
                skm = np.where(at, skmm * (rs - d[1] - d[2]) / np.where(at, rs, 1), skm)
                f1 = np.where(at, f1m + skmm * d[1] / np.where(at, rs, 1), f1)
                t1 = np.where(at, rs / skmm, 0.0)
                tr = t1.sum()
                tq = np.where(at, rs * (1 - f1m) / skmm, 0.0).sum()
                f = fm + nd1 / tr
                fb = (1 - fm) ** rho
                a = fb * (np.diag(t1) - np.outer(t1, t1) / tr)
                c += a * nd1 / (tr * (1 - fm))
                s += np.where(at, fb * (d[1] - nd1 * rs * (1 - f1m) / (skmm * tq)), 0.0)[:ng1]
                if nd1 > 0:
                    for k in np.flatnonzero(at):
                        t4 = 1 - (1 - f) / skm[k] if skm[k] > 0 else 1.0
                        t5 = 1 - (nd1 - 1) / (tr * skmm[k] - 1) if nd1 > 1 else 1.0
                        t3 = t5 * skmm[k] * nd1 / (tr * rs[k])
                        v3[k] += t4 * t4 * t3
                        u = a[:ng1, k] - t4 * c[:ng1, k]
                        v2[:, k] += u * t4 * t3
                        v += t3 * np.outer(u, u)
                if nd2 > 0:
                    for k in np.flatnonzero((skm > 0) & (d[2] > 0)):
                        t4 = (1 - f) / skm[k]
                        t5 = 1 - (d[2, k] - 1) / (rs[k] - 1) if d[2, k] > 1 else 1.0
                        t3 = t5 * skmm[k] ** 2 * d[2, k] / rs[k] ** 2
                        v3[k] += t4 * t4 * t3
                        u = t4 * c[:ng1, k]
                        v2[:, k] -= u * t4 * t3
                        v += t3 * np.outer(u, u)
                fm = f
            rs -= np.bincount(gg, minlength=ng)
            f1m, skmm = f1.copy(), skm.copy()
    C = c[:ng1]
    v += (C * v3) @ C.T + C @ v2.T + v2 @ C.T
    return s, v


def cumulative_incidence(time, status, group=None, conf_type: str = "log-log",
                         conf_level: float = 0.95) -> CompetingRisks:
    """Aalen–Johansen cumulative incidence of every cause (per group), with Gray's test when grouped.

    ``status``: 0 = censored, any other value = the cause of the event. F_k and its variance as
    ``cmprsk::cuminc`` (``_cif_one``); pointwise CI by ``conf_type`` applied to F: ``log-log``
    F^exp(±z·se/(F·log F)) (CI of log(−log F), SAS PROC LIFETEST's CIF default), ``log`` F·exp(±z·se/F), or
    ``plain`` F ± z·se. Gray's test (rho = 0) has df = groups − 1. References: Aalen & Johansen (1978);
    Gray (1988) Ann Stat 16:1141; Pintilie (2006) ch. 4.
    """
    check_conf_type(conf_type)
    z = z_value(conf_level)
    t = as_time(time)
    st_code, st_levels = as_codes(status, t.size, "status")
    cens_code = st_levels.index("0") if "0" in st_levels else -1
    censored = st_code == cens_code
    causes = [c for c in st_levels if c != "0"]
    if not causes:
        raise StatsInputError("status: no events (every value is 0 = censored)")
    if group is None:
        gi, levels = np.zeros(t.size, np.int64), [None]
    else:
        gi, levels = as_codes(group, t.size, "group")
    any_event = (~censored).astype(float)
    curves, tests = [], []
    for cause in causes:
        is_k = (st_code == st_levels.index(cause)).astype(float)
        for j, lv in enumerate(levels):
            sel = gi == j
            times, f, var = _cif_one(t[sel], is_k[sel], any_event[sel])
            se = np.sqrt(np.maximum(var, 0))
            with np.errstate(divide="ignore", invalid="ignore"):
                lo, hi = ci_transform(f, se / f, conf_type, z)
            table = pd.DataFrame({"time": times, "cif": f, "se": se, "lower": lo, "upper": hi})
            curves.append(CumulativeIncidence(
                cause, lv, int(sel.sum()), conf_type, conf_level, float(t[sel].max()), table,
                f"Aalen–Johansen cumulative incidence, Aalen-type variance (cmprsk), {conf_level * 100:g}% pointwise CI "
                f"({conf_type} transform)"))
        if group is not None and len(levels) > 1:
            stc = np.where(censored, 0, np.where(is_k == 1, 1, 2)).astype(np.int64)
            s, v = _gray(t, stc, gi, len(levels))
            df = len(levels) - 1
            try:
                stat = float(s @ np.linalg.solve(v, s)) if np.linalg.matrix_rank(v) == df else float("nan")
            except np.linalg.LinAlgError:
                stat = float("nan")
            tests.append(GrayTest(cause, stat, df, float(chi2_sf(stat, df)) if np.isfinite(stat) else float("nan"),
                                  "Gray's test (rho = 0; cmprsk cuminc)"))
    return CompetingRisks(tuple(curves), tuple(tests))
