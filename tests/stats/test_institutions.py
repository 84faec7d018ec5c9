"""Funnel-plot limits against R (qbinom/pbinom, make_funnel.R) and Clark's completeness index by hand."""

import numpy as np
import pytest

from cartalysis.stats import StatsInputError, completeness_index, funnel_limits
from stats_ref import close, ref


def test_funnel_limits_match_r():
    r = ref("funnel")
    for (p0, level), rows in r.groupby(["p0", "level"]):
        lim = funnel_limits(p0, rows["n"].astype(int), level)
        for got, want in zip(lim.lower, rows["lower"]):
            close(got, want)
        for got, want in zip(lim.upper, rows["upper"]):
            close(got, want)


def test_funnel_limits_narrow_with_n_and_widen_with_level():
    a = funnel_limits(0.5, [10, 100, 1000], 0.95)
    assert a.lower[0] < a.lower[1] < a.lower[2] < 0.5 < a.upper[2] < a.upper[1] < a.upper[0]
    b = funnel_limits(0.5, [10, 100, 1000], 0.998)
    assert all(lo_b <= lo_a for lo_a, lo_b in zip(a.lower, b.lower))
    with pytest.raises(StatsInputError):
        funnel_limits(1.0, [10])
    with pytest.raises(StatsInputError):
        funnel_limits(0.5, [0])


def test_completeness_index_by_hand():
    # three patients from day 0, cutoff day 100: seen at 100 (alive), seen last at 50 (alive), died at day 40
    # observed 100 + 50 + 40 = 190; potential 100 + 100 + 40 = 240
    c = completeness_index([0, 0, 0], [100, 50, 40], [np.nan, np.nan, 40], 100)
    assert (c.observed, c.potential) == (190, 240)
    assert c.index == pytest.approx(190 / 240)
    assert completeness_index([0, 10], [100, 100], [np.nan, np.nan], 100).index == 1.0
    # a contact after the cutoff counts up to the cutoff only; follow-up starting after the cutoff is an error
    assert completeness_index([0], [120], [np.nan], 100).index == 1.0
    with pytest.raises(StatsInputError):
        completeness_index([150], [160], [np.nan], 100)


def test_funnel_outside_by_exact_tails():
    from scipy.stats import binom

    from cartalysis.stats import funnel_outside

    # p0 = 0.9: 5/5 is not unusual (P(X = 5) = .59), 1/10 is far below, 0/1 is not (P = .1 > .001)
    assert funnel_outside(0.9, [5, 1, 0], [5, 10, 1], 0.998) == (0, -1, 0)
    # the boundary is the exact tail: x below with P(X <= x) just under 0.001
    n, p0 = 40, 0.9
    x = max(k for k in range(n + 1) if binom.cdf(k, n, p0) < 0.001)
    assert funnel_outside(p0, [x, x + 1], [n, n], 0.998) == (-1, 0)
