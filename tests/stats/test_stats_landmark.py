"""Landmark analysis, Simon–Makuch curves and the Mantel–Byar test against R (ref_landmark, ref_km2_table
case simon_makuch, ref_mantel_byar) on lung with a simulated transplant time."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.stats import (StatsInputError, kaplan_meier, landmark, mantel_byar, simon_makuch, split_at_switches,
                              switch_rows)
from stats_ref import close, data, ref

LT = data("lung_tx")


@pytest.mark.parametrize("at", [90, 180])
def test_landmark_matches_r(at):
    res = landmark(LT.time, LT.event, LT.tx_time, at)
    r = ref("landmark").set_index("at").loc[at]
    assert (res.n, res.excluded) == (r.n, r.excluded) and res.note is None
    assert (res.cohort.group == "not switched").sum() == r.n0 and (res.cohort.group == "switched").sum() == r.n1
    close(res.logrank.chisq, r.chisq)
    assert res.cox.terms.term.tolist() == ["group=switched"]
    close([res.cox.terms.coef[0], res.cox.terms.se[0]], [r.coef, r.se])
    close(res.km["not switched"].at([100, 200]).surv, [r.surv0_100, r.surv0_200])
    close(res.km["switched"].at([100, 200]).surv, [r.surv1_100, r.surv1_200])


def test_switch_rows_reproduce_the_r_counting_process_rows():
    rows = switch_rows(LT.time, LT.event, LT.tx_time)
    cp = data("lung_cp")
    assert len(rows) == len(cp)
    np.testing.assert_array_equal(rows[["start", "stop", "event"]].to_numpy(), cp[["start", "stop", "event"]].to_numpy())
    assert (rows.group == "switched").astype(int).tolist() == cp.tx.tolist()


def test_simon_makuch_matches_r():
    cp = data("lung_cp")
    curves = simon_makuch(cp.start, cp.stop, cp.event, cp.tx, "log-log")
    t = ref("km2_table")
    t = t[(t.case == "simon_makuch") & (t.conf_type == "log-log") & (t.conf_level == 0.95)]
    for g, fit in curves.items():
        rt = t[t.group == g]
        assert fit.table.n_risk.tolist() == rt.n_risk.tolist()
        close(fit.table.surv, rt.surv)
        close(fit.table.lower, rt.lower)


def test_mantel_byar_matches_definition_in_r():
    cp = data("lung_cp")
    res = mantel_byar(cp.start, cp.stop, cp.event, cp.tx)
    r = ref("mantel_byar").iloc[0]
    close([res.groups.observed[1], res.groups.expected[1], res.chisq, res.p_value],
          [r.observed, r.expected, r.chisq, r.p])
    assert res.df == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=2, max_size=30))
def test_never_switching_gives_the_ordinary_curve(rows):
    t = np.array([r[0] for r in rows], float)
    e = np.array([int(r[1]) for r in rows])
    cp = switch_rows(t, e, np.full(t.size, np.nan))
    sm = simon_makuch(cp.start, cp.stop, cp.event, cp.group)
    pd.testing.assert_frame_equal(sm["not switched"].table, kaplan_meier(t, e).table)


def test_landmark_without_comparison():
    res = landmark([5, 10, 20], [1, 0, 1], [np.nan, np.nan, np.nan], 6)
    assert res.logrank is None and res.cox is None and "every subject" in res.note and res.n == 2
    with pytest.raises(StatsInputError, match="switch"):
        landmark([5, 10], [1, 0], [-1, 2], 3)


def test_split_at_switches_two_covariates():
    d = pd.DataFrame({"t": [10.0, 8.0, 5.0, 0.0], "e": [1, 0, 1, 1], "s1": [3.0, np.nan, 0.0, np.nan],
                      "s2": [6.0, 9.0, 2.0, np.nan], "age": [50, 60, 70, 80]})
    rows = split_at_switches(d, "t", "e", {"a": "s1", "b": "s2"}, first_start=-1.0)
    r0 = rows[rows.row == 0]
    assert r0[["start", "stop", "e", "a", "b"]].values.tolist() == [[-1, 3, 0, 0, 0], [3, 6, 0, 1, 0], [6, 10, 1, 1, 1]]
    assert rows[rows.row == 1][["start", "stop", "a", "b"]].values.tolist() == [[-1, 8, 0, 0]]  # switch after time
    assert rows[rows.row == 2][["start", "stop", "e", "a", "b"]].values.tolist() == [[-1, 2, 0, 1, 0], [2, 5, 1, 1, 1]]
    assert rows[rows.row == 3][["start", "stop", "e"]].values.tolist() == [[-1, 0, 1]]  # time 0 kept
    assert (rows.age.groupby(rows.row).first() == d.age).all()


def test_split_rows_fit_equals_right_censored_when_nobody_switches(datasets):
    from cartalysis.stats import cox

    d = datasets["veteran"].assign(sw=np.nan)
    rows = split_at_switches(d, "time", "event", {"x": "sw"}, first_start=-1.0)
    a = cox(rows, "stop", "event", ["karno", "age"], start="start")
    b = cox(d, "time", "event", ["karno", "age"])
    np.testing.assert_allclose(a.terms.coef, b.terms.coef, rtol=1e-9)


def test_simon_makuch_numbers_at_risk_count_the_current_group():
    cp = data("lung_cp")
    curves = simon_makuch(cp.start, cp.stop, cp.event, cp.tx)
    for g, km in curves.items():
        rows = cp[cp.tx.astype(str) == g]
        for t in (0.0, 50.0, 200.0, 500.0):
            assert km.n_at_risk([t])[0] == int(((rows.start < t) & (rows.stop >= t)).sum())
    km = kaplan_meier([3, 5, 8], [1, 0, 1])
    assert km.n_at_risk([0, 3, 4, 9]).tolist() == [3, 3, 2, 0]
