"""Kaplan–Meier estimation, quantiles with confidence intervals, landmark rates, reverse-KM follow-up.

Written in numpy rather than taken from lifelines/statsmodels because neither matches R ``survfit``: lifelines
offers only the log-log band and takes the median as the first time with S(t) ≤ 0.5 (no midpoint rule, no
median CI); statsmodels has no pointwise band and uses a strict inequality for quantiles (see
``docs/statistics.md``). Definitions follow R survival 3.5 (``survfit.formula``, ``survfit_confint``,
``quantile.survfit``), which is the reference of the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartalysis.stats._common import (
    StatsInputError,
    as_event,
    as_time,
    check_conf_type,
    ci_transform,
    none_if_nan,
    numeric,
    z_value,
)

_TOL = float(np.sqrt(np.finfo(float).eps))  # R quantile.survfit default tolerance


@dataclass(frozen=True)
class Quantile:
    """Survival-time quantile: the time by which a fraction ``prob`` of subjects had the event.

    ``estimate``, ``lower`` and ``upper`` are ``None`` when not reached (the curve, or the band, never falls to
    1 − prob) — never a number standing in for "not reached".
    """

    prob: float
    estimate: float | None
    lower: float | None
    upper: float | None
    conf_level: float
    method: str


@dataclass(frozen=True, eq=False)
class KaplanMeier:
    """Kaplan–Meier estimate of S(t).

    ``table`` has one row per distinct observed time (event or censoring) with columns ``time``, ``n_risk``
    (subjects with time ≥ t), ``n_event``, ``n_censor``, ``surv`` (S(t) = Π_{t_i ≤ t} (1 − d_i/n_i)), ``se``
    (Greenwood standard error of S(t): S(t)·sqrt(Σ d_i/(n_i(n_i − d_i)))), ``lower`` and ``upper`` (pointwise
    CI by ``conf_type``; NaN where not estimable, e.g. log-log at S = 0 or 1, as in R).
    """

    n: int
    events: int
    conf_type: str
    conf_level: float
    table: pd.DataFrame
    method: str
    entry: np.ndarray | None = None  # sorted entry times (delayed entry / counting-process rows), else None

    def n_at_risk(self, times) -> np.ndarray:
        """Subjects at risk at each t: time ≥ t and, with delayed entry, entry < t (risk tables under a figure;
        ``at`` reports R's ``summary(times=)`` value, which for delayed entry is read at the next observed time)."""
        times = np.asarray(times, dtype=float).ravel()
        tt = self.table["time"].to_numpy(float)
        exits = (self.table["n_event"] + self.table["n_censor"]).to_numpy(np.int64)
        tail = np.r_[np.cumsum(exits[::-1])[::-1], 0]
        n = tail[np.searchsorted(tt, times, side="left")]
        if self.entry is not None:
            n = n - (self.entry.size - np.searchsorted(self.entry, times, side="left"))
        return n

    @property
    def median(self) -> Quantile:
        """Median survival time with CI (``quantile(0.5)``)."""
        return self.quantile(0.5)

    def quantile(self, prob: float) -> Quantile:
        """Time at which 1 − S(t) reaches ``prob``, with the CI where the band curves reach it.

        As R ``quantile.survfit``: the first time S(t) ≤ 1 − prob; if S(t) equals 1 − prob (within 1.5e-8) on
        a flat segment, the midpoint of that segment (to the last follow-up time if it stays there). The CI
        limits are the same quantile of the lower and upper pointwise band curves, so the CI follows the chosen
        ``conf_type`` (Brookmeyer & Crowley 1982 construction by test inversion of the pointwise band).
        """
        if not 0 < prob < 1:
            raise StatsInputError(f"quantile probability must be in (0, 1), got {prob}")
        t = np.concatenate([[0.0], self.table["time"].to_numpy(float)])

        def q(curve: np.ndarray) -> float | None:
            return none_if_nan(_findq(t, np.concatenate([[0.0], 1 - curve]), prob))

        return Quantile(prob, q(self.table["surv"].to_numpy(float)), q(self.table["lower"].to_numpy(float)),
                        q(self.table["upper"].to_numpy(float)), self.conf_level,
                        f"Kaplan–Meier {prob * 100:g}% quantile; {self.conf_level * 100:g}% CI from the {self.conf_type} band "
                        "(R quantile.survfit)")

    def at(self, times) -> pd.DataFrame:
        """S(t), Greenwood SE and CI at the given times (landmark rates), as R ``summary(fit, times=)``.

        Values are those of the step function at t (the last row with time ≤ t; S = 1 before the first time).
        ``n_risk`` is the number with time ≥ t. Beyond the last observed time S(t) is not estimable: NaN.
        """
        times = np.asarray(times, dtype=float).ravel()
        tab = self.table
        tt = tab["time"].to_numpy(float)
        idx = np.searchsorted(tt, times, side="right") - 1
        out = pd.DataFrame({"time": times})
        z = z_value(self.conf_level)
        one_lo, one_hi = ci_transform(np.array([1.0]), np.array([0.0]), self.conf_type, z)
        for col, start in (("surv", 1.0), ("se", 0.0), ("lower", one_lo[0]), ("upper", one_hi[0])):
            vals = tab[col].to_numpy(float)
            out[col] = np.where(idx >= 0, vals[np.maximum(idx, 0)], start)
        beyond = times > tt[-1]
        out.loc[beyond, ["surv", "se", "lower", "upper"]] = np.nan
        # n at risk at t = subjects whose time is >= t; read it from the first table row with time >= t
        first = np.searchsorted(tt, times, side="left")
        nr = np.append(tab["n_risk"].to_numpy(np.int64), 0)
        out["n_risk"] = nr[first]
        return out


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float = _TOL) -> float:
    """R survival ``findq``: x where the increasing step function y (= 1 − S, NaN allowed) reaches p."""
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return np.nan
    xmax = x[-1]
    # drop repeated y values (R `duplicated`, NaN counts as a value), keeping the first occurrence
    _, first = np.unique(y, return_index=True, equal_nan=True)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    ok = ~np.isnan(y)
    xs, ys = x[ok], y[ok]

    def const_approx(u: np.ndarray) -> int | None:
        # R approx(u, index, p, method="constant", f=1): index of the right knot, exact knot wins, NA outside
        order = np.argsort(u, kind="stable")
        us = u[order]
        if p < us[0] or p > us[-1]:
            return None
        return int(order[np.searchsorted(us, p, side="left")])

    i1, i2 = const_approx(ys + tol), const_approx(ys - tol)
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol:
        return np.nan if i1 is None else (xs[i1] + xmax) / 2
    if i1 is None or i2 is None:
        return np.nan
    return (xs[i1] + xs[i2]) / 2


def _km_arrays(t: np.ndarray, e: np.ndarray, entry: np.ndarray | None = None):
    """Distinct times, n at risk, events, censored, S(t) and Σ d/(n(n−d)) (vectorised).

    With delayed entry a subject is at risk at t when entry < t ≤ time, so n(t) = #{time ≥ t} − #{entry ≥ t}."""
    ut, inv = np.unique(t, return_inverse=True)
    d = np.bincount(inv, weights=e, minlength=ut.size)
    tot = np.bincount(inv, minlength=ut.size).astype(float)
    n_risk = np.cumsum(tot[::-1])[::-1]
    if entry is not None:
        n_risk = n_risk - (entry.size - np.searchsorted(np.sort(entry), ut, side="left"))
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1 - d / n_risk)
        gw = np.cumsum(np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0))
    return ut, n_risk, d, tot - d, surv, gw


def kaplan_meier(time, event, conf_type: str = "log-log", conf_level: float = 0.95, entry=None) -> KaplanMeier:
    """Kaplan–Meier estimator with Greenwood variance and a pointwise CI, optionally with delayed entry.

    S(t) = Π_{t_i ≤ t} (1 − d_i/n_i); Var(log S(t)) = Σ_{t_i ≤ t} d_i/(n_i(n_i − d_i)) (Greenwood 1926);
    CI by ``conf_type``: ``log-log`` (default, SAS PROC LIFETEST), ``log`` (R survfit default) or ``plain``
    (see ``_common.ci_transform``) at any ``conf_level``. Once S(t) = 0 the SE and the log/log-log CI are not
    estimable (NaN). ``entry`` (left truncation, R ``Surv(entry, time, event)``): a subject is in the risk set
    only for entry < t ≤ time, so n_i counts subjects already entered; rows are the distinct exit times, as R.
    The same call on counting-process rows (start, stop] of a time-dependent group gives Simon–Makuch curves.
    Reference: Klein & Moeschberger (2003) §4.2–4.3, §4.6; R survival ``survfit``.
    """
    check_conf_type(conf_type)
    z = z_value(conf_level)
    t = as_time(time)
    e = as_event(event, t.size)
    en = None
    if entry is not None:
        en = numeric(entry)  # may be negative: an interval opened before the time origin
        if not np.isfinite(en).all():
            raise StatsInputError(f"entry: missing or non-numeric value at position {int(np.flatnonzero(~np.isfinite(en))[0])}")
        if en.size != t.size:
            raise StatsInputError(f"entry: length {en.size} differs from time length {t.size}")
        if (en >= t).any():
            raise StatsInputError(f"entry must be before the time; not so at position {int(np.flatnonzero(en >= t)[0])}")
    ut, n_risk, d, c, surv, gw = _km_arrays(t, e, en)
    se_log = np.sqrt(gw)
    lo, hi = ci_transform(surv, se_log, conf_type, z)
    with np.errstate(invalid="ignore"):
        se = np.where(np.isinf(se_log), np.nan, surv * se_log)
    table = pd.DataFrame({"time": ut, "n_risk": n_risk.astype(np.int64), "n_event": d.astype(np.int64),
                          "n_censor": c.astype(np.int64), "surv": surv, "se": se, "lower": lo, "upper": hi})
    return KaplanMeier(int(t.size), int(e.sum()), conf_type, conf_level, table,
                       ("Kaplan–Meier with delayed entry" if en is not None else "Kaplan–Meier")
                       + f", Greenwood SE, {conf_level * 100:g}% pointwise CI ({conf_type} transform)",
                       None if en is None else np.sort(en))


def median_followup(time, event, conf_type: str = "log-log", conf_level: float = 0.95) -> Quantile:
    """Median follow-up by the reverse Kaplan–Meier method (Schemper & Smith 1996).

    The Kaplan–Meier estimator is applied with the roles of event and censoring swapped (censoring = 1); its
    median and CI (as ``KaplanMeier.median``) are the median potential follow-up.
    """
    t = as_time(time)
    e = as_event(event, t.size)
    q = kaplan_meier(t, 1 - e, conf_type, conf_level).median
    return Quantile(0.5, q.estimate, q.lower, q.upper, conf_level,
                    f"median follow-up, reverse Kaplan–Meier; {conf_level * 100:g}% CI from the {conf_type} band")
