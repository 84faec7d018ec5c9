"""Fleming–Harrington G-rho tests against R survdiff(rho =), k groups and stratified; rho = 0 is the log-rank."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.stats import StatsInputError, logrank
from stats_ref import close, ref

CASES = {
    "lung_sex": ("lung", "sex", None), "lung_ecog": ("lung", "ph_ecog", None),
    "veteran_cell": ("veteran", "celltype", None), "veteran_trt_strat_cell": ("veteran", "trt", "celltype"),
    "lung_sex_strat_ecog": ("lung", "sex", "ph_ecog"), "aml_x": ("aml", "x", None),
}


@pytest.mark.parametrize("rho", [0, 0.5, 1, 2])
@pytest.mark.parametrize("case", CASES)
def test_grho_matches_r(datasets, case, rho):
    name, group, strata = CASES[case]
    d = datasets[name].dropna(subset=[c for c in (group, strata) if c])
    res = logrank(d.time, d.event, d[group], None if strata is None else d[strata], rho=rho)
    r = ref("logrank_rho")
    r = r[(r.case == case) & (r.rho == rho)]
    close([res.chisq, res.p_value], [r.chisq.iloc[0], r.p.iloc[0]])
    assert res.df == r.df.iloc[0]
    r = r.set_index("group").loc[res.groups.group]  # R keeps celltype's factor order; we sort
    close(res.groups.observed, r.observed)
    close(res.groups.expected, r.expected)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.booleans(), st.sampled_from("ab")), min_size=4, max_size=40))
def test_rho_zero_is_logrank(rows):
    t = np.array([r[0] for r in rows], float)
    e = np.array([int(r[1]) for r in rows])
    g = np.array([r[2] for r in rows])
    if len(set(g)) < 2:
        return
    a, b = logrank(t, e, g), logrank(t, e, g, rho=0)
    assert (a.chisq, a.df) == (b.chisq, b.df) or (np.isnan(a.chisq) and np.isnan(b.chisq))


def test_negative_rho():
    with pytest.raises(StatsInputError, match="rho"):
        logrank([1, 2], [1, 1], ["a", "b"], rho=-1)
