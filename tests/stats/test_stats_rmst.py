"""RMST per group and the two-group difference against R (print(survfit, rmean = tau)), plus properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.stats import StatsInputError, kaplan_meier, rmst
from stats_ref import close, ref

CASES = {"lung_sex": ("lung", "sex"), "lung_all": ("lung", None), "veteran_trt": ("veteran", "trt"),
         "veteran_cell": ("veteran", "celltype"), "aml_x": ("aml", "x")}


@pytest.mark.parametrize("case", CASES)
def test_rmst_matches_r(datasets, case):
    name, group = CASES[case]
    d = datasets[name]
    r = ref("rmst")
    r = r[r.case == case]
    for tau, rt in r.groupby("tau"):
        res = rmst(d.time, d.event, tau, None if group is None else d[group])
        rt = rt.set_index(rt.group.fillna("")).loc[[g.group or "" for g in res.groups]]  # R: factor order
        close([g.estimate for g in res.groups], rt.rmst)
        close([g.se for g in res.groups], rt.se)
        assert [g.n for g in res.groups] == rt.n.tolist()
        if len(res.groups) == 2:
            close([res.difference.estimate, res.difference.se, res.difference.p_value],
                  [rt["diff"].iloc[0], rt.diff_se.iloc[0], rt.diff_p.iloc[0]])
            z = 1.959963984540054
            close([res.difference.lower, res.difference.upper],
                  [rt["diff"].iloc[0] - z * rt.diff_se.iloc[0], rt["diff"].iloc[0] + z * rt.diff_se.iloc[0]])
        else:
            assert res.difference is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 50), st.booleans()), min_size=1, max_size=40), st.integers(0, 30))
def test_rmst_beyond_last_time_is_whole_area(rows, extra):
    t = np.array([r[0] for r in rows], float)
    e = np.array([int(r[1]) for r in rows])
    km = kaplan_meier(t, e)
    tab = km.table
    # whole area under the step curve to the last time, then the last value held to tau
    steps = np.diff(np.r_[0.0, tab.time]) * np.r_[1.0, tab.surv[:-1]]
    tau = t.max() + extra
    expected = steps.sum() + extra * tab.surv.iloc[-1]
    assert rmst(t, e, tau).groups[0].estimate == pytest.approx(expected, rel=1e-12)
    assert rmst(t, e, tau).groups[0].estimate <= tau + 1e-9


def test_rmst_bad_tau():
    with pytest.raises(StatsInputError, match="tau"):
        rmst([1, 2], [1, 1], 0)
