"""Properties of the exact-count allocation verbs (cartalysis.twins.allocate)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cartalysis.twins.allocate import (
    TargetError,
    ValueTarget,
    allocate_levels,
    allocate_nested,
    allocate_values,
    assign_within,
)


@st.composite
def value_targets(draw):
    n = draw(st.integers(3, 80))
    lo = draw(st.integers(0, 50))
    hi = lo + draw(st.integers(2, 80))
    # the median on the grid or half-way between two grid points
    m2 = draw(st.integers(2 * lo, 2 * hi))
    if n % 2:
        m2 -= m2 % 2
    assume(2 * lo <= m2 <= 2 * hi)
    return ValueTarget(n=n, median=m2 / 2, min=lo, max=hi)


def _feasible(t: ValueTarget) -> bool:
    # an even count whose median falls between two grid points needs both of them inside the range
    return not ((t.median * 2) % 2 and (t.median - 0.5 < t.min or t.median + 0.5 > t.max))


@settings(max_examples=200, deadline=None)
@given(value_targets(), st.integers(0, 2**32 - 1))
def test_values_hit_median_min_max_exactly(t, seed):
    assume(_feasible(t))
    v = allocate_values(np.random.default_rng(seed), t)
    assert len(v) == t.n
    assert (np.median(v), v.min(), v.max()) == (t.median, t.min, t.max)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_bands_and_nested_groups_hit_both_columns(seed):
    """Table 1 of the pivotal trial: marrow blasts, treated (48) inside enrolled (67)."""
    inner = ValueTarget(48, 62.5, 5.0, 96.5, 0.1, ((5.0, 25.0, 11), (25.1, 50.0, 8), (50.1, 75.0, 13), (75.1, 100.0, 16)))
    outer = ValueTarget(67, 65.0, 5.0, 97.0, 0.1, ((5.0, 25.0, 13), (25.1, 50.0, 11), (50.1, 75.0, 18), (75.1, 100.0, 25)))
    v_in, v_rest = allocate_nested(np.random.default_rng(seed), inner, outer)
    pooled = np.concatenate([v_in, v_rest])
    assert (np.median(v_in), v_in.min(), v_in.max()) == (62.5, 5.0, 96.5)
    assert (round(float(np.median(pooled)), 6), pooled.min(), pooled.max()) == (65.0, 5.0, 97.0)
    for (lo, hi, n_in), (_, _, n_all) in zip(inner.bands, outer.bands):
        assert ((v_in >= lo - 1e-9) & (v_in <= hi + 1e-9)).sum() == n_in
        assert ((pooled >= lo - 1e-9) & (pooled <= hi + 1e-9)).sum() == n_all


def test_half_grid_median_uses_the_two_neighbours():
    v = allocate_values(np.random.default_rng(1), ValueTarget(42, 4.5, 1, 10))
    s = np.sort(v)
    assert (s[20], s[21]) == (4.0, 5.0)


def test_impossible_targets_are_refused():
    with pytest.raises(TargetError):
        allocate_values(np.random.default_rng(0), ValueTarget(5, 2.5, 1, 10))  # odd n, median off the grid
    with pytest.raises(TargetError):  # 4 values below a median of the 5th position is impossible with these bands
        allocate_values(np.random.default_rng(0), ValueTarget(5, 9, 1, 10, bands=((1, 5, 4), (6, 10, 1))))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=6), st.integers(0, 2**32 - 1), st.data())
def test_levels_have_exact_counts_inside_and_outside_a_subset(counts, seed, data):
    levels = {f"L{i}": c for i, c in enumerate(counts)}
    n = sum(counts)
    assume(n > 0)
    mask = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    k = data.draw(st.integers(0, min(counts[0], sum(mask))))
    assume(sum(mask) - k <= n - counts[0])  # enough other values to fill the subset
    out = allocate_levels(np.random.default_rng(seed), n, levels, mask, {"L0": k})
    assert Counter(out) == Counter({lv: c for lv, c in levels.items() if c})
    assert sum(1 for m, lv in zip(mask, out) if m and lv == "L0") == k


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=30), st.integers(0, 2**32 - 1))
def test_assign_within_respects_capacity(values, seed):
    cap = sorted(values)  # a feasible assignment exists: the sorted pairing
    out = assign_within(np.random.default_rng(seed), values, cap[::-1])
    assert sorted(out) == list(range(len(values)))
    assert all(values[i] <= cap[::-1][out[i]] for i in range(len(values)))


def test_same_seed_same_values():
    t = ValueTarget(48, 32, 18, 58)
    a = allocate_values(np.random.default_rng(7), t)
    b = allocate_values(np.random.default_rng(7), t)
    c = allocate_values(np.random.default_rng(8), t)
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()
