"""cartalysis.stats.describe against R 4.2 (values printed by the R calls in each test's docstring)."""

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from cartalysis.stats.describe import describe


def test_against_r():
    """x <- c(3.2, 1.5, 8, 4.4, 2.25, 10, 6.1); quantile(x, c(.25,.5,.75), type=2) -> 2.25 4.40 8.00;
    sd(x) -> 3.12499523809161; exp(mean(log(x))) -> 4.20352612168406; 100*sqrt(exp(var(log(x)))-1) -> 77.6799996525201"""
    s = describe([3.2, 1.5, 8, 4.4, 2.25, 10, 6.1, None, float("nan")])
    assert (s.n, s.n_missing) == (7, 2)
    assert (s.q1, s.median, s.q3) == (2.25, 4.4, 8.0)
    assert s.sd == pytest.approx(3.12499523809161, rel=1e-12)
    assert s.geo_mean == pytest.approx(4.20352612168406, rel=1e-12)
    assert s.geo_cv == pytest.approx(77.6799996525201, rel=1e-12)
    assert (s.min, s.max) == (1.5, 10.0)
    assert s.mean == pytest.approx(35.45 / 7)


def test_even_n_averages_order_statistics():
    """quantile(1:4, c(.25,.5,.75), type=2) -> 1.5 2.5 3.5 (SAS PCTLDEF=5)"""
    s = describe([4, 1, 3, 2])
    assert (s.q1, s.median, s.q3) == (1.5, 2.5, 3.5)


def test_empty_and_nonpositive():
    s = describe([None, None])
    assert s.n == 0 and s.median is None and s.geo_mean is None
    s = describe([0.0, 2.0, 8.0])
    assert s.geo_mean is None and s.geo_cv is None and s.median == 2.0
    s = describe([5.0])
    assert s.sd is None and s.geo_cv is None and s.geo_mean == pytest.approx(5.0)


@given(st.lists(st.floats(0.001, 1e6), min_size=1, max_size=40))
def test_order(xs):
    s = describe(xs)
    assert s.min <= s.q1 <= s.median <= s.q3 <= s.max
    assert s.min * (1 - 1e-12) <= s.geo_mean <= s.max * (1 + 1e-12)
    assert math.isclose(s.median, float(np.median(xs)), rel_tol=1e-12)  # type 2 median = the usual median
