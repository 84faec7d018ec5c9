"""Proportions, exact binomial test and single-arm design: published Inati-cel numbers and hand calculations."""

import pytest
from scipy import stats

from cartalysis.stats import StatsInputError, binom_test, proportion, single_arm_design

# (x, n, published estimate %, published CI %) -- pivotal Inati-cel trial (docs/statistics.md)
PUBLISHED = [
    (34, 48, 70.8, 55.9, 83.0),  # the paper prints 83.1: it rounded 0.830469 to 0.8305 before taking percent
    (41, 48, 85.4, 72.2, 93.9),
    (32, 34, 94.1, 80.3, 99.3),
    (41, 41, 100.0, 91.4, 100.0),
    (34, 67, 50.7, 38.2, 63.2),
    (41, 67, 61.2, 48.5, 72.9),
]


def pct(v):
    from decimal import ROUND_HALF_UP, Decimal
    return float(Decimal(repr(100 * v)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize("x,n,est,lo,hi", PUBLISHED)
def test_published_clopper_pearson(x, n, est, lo, hi):
    p = proportion(x, n)
    assert (pct(p.estimate), pct(p.lower), pct(p.upper)) == (est, lo, hi)
    assert p.method == "Clopper–Pearson exact 95% CI"


def test_clopper_pearson_is_beta_quantiles():
    # definition: lower = Beta(0.025; x, n-x+1), upper = Beta(0.975; x+1, n-x); R binom.test(34, 48)
    p = proportion(34, 48)
    assert p.lower == pytest.approx(stats.beta.ppf(0.025, 34, 15), rel=1e-9)
    assert p.upper == pytest.approx(stats.beta.ppf(0.975, 35, 14), rel=1e-9)
    assert p.upper == pytest.approx(0.830469, abs=5e-7)
    zero = proportion(0, 10)
    assert zero.lower == 0 and zero.upper == pytest.approx(1 - 0.025 ** (1 / 10))


def test_wilson_hand():
    # Wilson: (x + z²/2)/(n + z²) ± z·sqrt(n)/(n + z²)·sqrt(p̂(1 − p̂) + z²/(4n))
    z = stats.norm.ppf(0.975)
    x, n = 34, 48
    ph = x / n
    centre = (x + z * z / 2) / (n + z * z)
    half = z * n ** 0.5 / (n + z * z) * (ph * (1 - ph) + z * z / (4 * n)) ** 0.5
    w = proportion(x, n, method="wilson")
    assert (w.lower, w.upper) == (pytest.approx(centre - half), pytest.approx(centre + half))


def test_exact_binomial_test_against_historical_control():
    t = binom_test(34, 48, 0.25, "greater")
    assert t.p_value < 1e-4
    # P(X >= 34 | n = 48, p = .25) by the definition
    assert t.p_value == pytest.approx(sum(stats.binom.pmf(k, 48, 0.25) for k in range(34, 49)), rel=1e-9)
    assert binom_test(34, 48, 0.25, "less").p_value == pytest.approx(stats.binom.cdf(34, 48, 0.25))
    # R: binom.test(3, 10, 0.5)$p.value = 0.34375 (two-sided, exact fractions 352/1024)
    assert binom_test(3, 10, 0.5).p_value == pytest.approx(352 / 1024)


def test_design_inati_cel():
    d = single_arm_design(0.25, 0.5, alpha=0.025, power=0.9)
    row = d.table.set_index("n").loc[48]
    # n = 48: reject when ≥ 19 responders; alpha = P(X ≥ 19 | .25), power = P(X ≥ 19 | .5)
    assert row.critical == 19
    assert row.alpha == pytest.approx(stats.binom.sf(18, 48, 0.25)) and row.alpha <= 0.025
    assert stats.binom.sf(17, 48, 0.25) > 0.025  # 18 would exceed alpha: 19 is the smallest critical count
    assert row.power == pytest.approx(stats.binom.sf(18, 48, 0.5))
    assert d.smallest_n == 39 and d.smallest_n_stable == 44  # saw-tooth: n = 40, 41, 43 fall below 90%
    assert d.table.set_index("n").loc[43].power < 0.9


def test_design_lower_alternative_and_errors():
    d = single_arm_design(0.5, 0.25, alpha=0.05, power=0.8, sided="two-sided", n_range=(20, 40))
    r = d.table.set_index("n").loc[30]
    assert r.alpha <= 0.025 and r.alpha == pytest.approx(stats.binom.cdf(r.critical, 30, 0.5))
    with pytest.raises(StatsInputError):
        single_arm_design(0.3, 0.3)
    with pytest.raises(StatsInputError):
        proportion(5, 4)
    with pytest.raises(StatsInputError):
        binom_test(3, 10, 1.5)
