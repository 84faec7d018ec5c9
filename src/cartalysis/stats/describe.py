"""Descriptive summaries of a continuous variable (Table 1, safety onset/duration, cellular kinetics).

Added by the report helper (the report layer must not compute statistics itself). numpy computes each
quantity; this module fixes the definitions so that they match SAS PROC MEANS / PROC UNIVARIATE defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cartalysis.stats._common import none_if_nan, numeric


@dataclass(frozen=True)
class Summary:
    """Summary of the non-missing values of one variable; every statistic is ``None`` when not computable.

    n: non-missing values; n_missing: missing ones. mean; sd with divisor n − 1 (SAS VARDEF=DF, R ``sd``).
    median, q1, q3: SAS PCTLDEF=5 (R ``quantile(type = 2)``, numpy ``averaged_inverted_cdf``: the average of
    the two order statistics when n·p is an integer). min, max. geo_mean = exp(mean(log x)); geo_cv (percent)
    = 100·sqrt(exp(s²) − 1) with s the SD of log x (PKNCA ``geocv``, SAS PROC TTEST DIST=LOGNORMAL) — both
    ``None`` unless every value is > 0.
    """

    n: int
    n_missing: int
    mean: float | None
    sd: float | None
    median: float | None
    q1: float | None
    q3: float | None
    min: float | None
    max: float | None
    geo_mean: float | None
    geo_cv: float | None
    method: str = "median (SAS PCTLDEF=5), range; mean, SD (n − 1); geometric mean and geometric CV%"


def describe(values) -> Summary:
    """Summary of ``values`` (array-like; missing and non-numeric entries are counted as missing)."""
    x = numeric(values)
    ok = x[~np.isnan(x)]
    n, n_missing = int(ok.size), int(x.size - ok.size)
    if n == 0:
        return Summary(0, n_missing, None, None, None, None, None, None, None, None, None)
    q1, med, q3 = np.quantile(ok, [0.25, 0.5, 0.75], method="averaged_inverted_cdf")
    sd = float(np.std(ok, ddof=1)) if n > 1 else None
    geo_mean = geo_cv = None
    if (ok > 0).all():
        lg = np.log(ok)
        geo_mean = float(np.exp(lg.mean()))
        geo_cv = float(100 * np.sqrt(np.expm1(np.var(lg, ddof=1)))) if n > 1 else None
    return Summary(n, n_missing, float(ok.mean()), sd, none_if_nan(med), none_if_nan(q1), none_if_nan(q3),
                   float(ok.min()), float(ok.max()), geo_mean, geo_cv)
