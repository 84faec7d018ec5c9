"""Cumulative incidence and Gray's test against R cmprsk::cuminc (fixtures from make_references.R)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cartalysis.stats import StatsInputError, cumulative_incidence, kaplan_meier
from stats_ref import close, ref

CASES = {"lung_sex": ("lung", "sex"), "veteran_trt": ("veteran", "trt"), "veteran_cell": ("veteran", "celltype"),
         "veteran_all": ("veteran", None)}


def fit(datasets, case, conf_type="log-log"):
    name, g = CASES[case]
    d = datasets[name]
    return cumulative_incidence(d.time, d.status_cr, None if g is None else d[g], conf_type)


@pytest.mark.parametrize("case", CASES)
def test_cif_and_variance_match_cmprsk(datasets, case):
    r = ref("cuminc")
    r = r[r.case == case]
    res = fit(datasets, case)
    assert len(res.curves) == r.groupby(["group", "cause"], dropna=False).ngroups
    for c in res.curves:
        rc = r[(r.cause == c.cause) & (r.group.fillna("") == (c.group or ""))]
        # cmprsk lists the corners of the step function: keep the value after each jump (last row per time),
        # dropping the start at 0 and the extension to the last follow-up time
        last = rc.iloc[1:-1].groupby("time", sort=True).tail(1)
        close(c.table.time, last.time)
        close(c.table.cif, last.est)
        close(c.table.se ** 2, last["var"])
        assert c.max_time == rc.time.iloc[-1]


@pytest.mark.parametrize("case", ["lung_sex", "veteran_trt", "veteran_cell"])
def test_gray_matches_cmprsk(datasets, case):
    r = ref("gray")
    r = r[r.case == case].set_index("cause")
    res = fit(datasets, case)
    assert [g.cause for g in res.gray] == list(r.index.astype(str))
    for g in res.gray:
        close([g.stat, g.p_value], [r.loc[g.cause, "stat"], r.loc[g.cause, "p"]])
        assert g.df == r.loc[g.cause, "df"]


@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_ci_formulas(datasets, conf_type):
    # CI written out from the cmprsk estimate and variance
    c = fit(datasets, "veteran_trt", conf_type).curves[0]
    f, se = c.table.cif.to_numpy(), c.table.se.to_numpy()
    z = stats.norm.ppf(0.975)
    if conf_type == "log-log":
        lo = np.exp(-np.exp(np.log(-np.log(f)) + z * se / (f * np.abs(np.log(f)))))
        hi = np.exp(-np.exp(np.log(-np.log(f)) - z * se / (f * np.abs(np.log(f)))))
    elif conf_type == "log":
        lo, hi = f * np.exp(-z * se / f), np.minimum(f * np.exp(z * se / f), 1)
    else:
        lo, hi = np.maximum(f - z * se, 0), np.minimum(f + z * se, 1)
    close(c.table.lower, lo)
    close(c.table.upper, hi)
    assert np.all((c.table.lower <= f) & (f <= c.table.upper))


def test_at_and_hand_example():
    # 4 subjects: t=1 cause 1, t=2 cause 2, t=3 censored, t=4 cause 1
    # F1(1) = 1/4; S(2) = 3/4 * 2/3 = 1/2; F1(4) = 1/4 + S(3)·1/1 = 1/4 + 1/2 = 3/4
    res = cumulative_incidence([1, 2, 3, 4], [1, 2, 0, 1])
    c1 = next(c for c in res.curves if c.cause == "1")
    at = c1.at([0.5, 1, 3.5, 4, 5])
    close(at.cif[:4], [0, 0.25, 0.25, 0.75])
    assert np.isnan(at.cif[4]) and res.gray == ()


def test_all_censored_is_an_error():
    with pytest.raises(StatsInputError):
        cumulative_incidence([1, 2], [0, 0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 2)), min_size=1, max_size=60))
def test_cif_properties(rows):
    t, status = (np.array(c) for c in zip(*rows))
    if (status == 0).all():
        return
    res = cumulative_incidence(t, status)
    grid = np.arange(0, 21)
    total = np.zeros(grid.size)
    for c in res.curves:
        f = c.table.cif.to_numpy()
        assert np.all(np.diff(f) >= -1e-12) and np.all((f >= 0) & (f <= 1 + 1e-12))
        total += np.nan_to_num(c.at(grid).cif.to_numpy())
    # Aalen–Johansen: the cumulative incidences add up to 1 − KM of any event (up to the last follow-up)
    km = kaplan_meier(t, (status > 0).astype(int)).at(grid)
    ok = grid <= t.max()
    np.testing.assert_allclose(total[ok], 1 - km.surv.to_numpy()[ok], atol=1e-12)
