"""Kaplan–Meier against R survfit / quantile.survfit / summary(times=) (fixtures from make_references.R)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.stats import StatsInputError, kaplan_meier, median_followup
from stats_ref import close, ref

CASES = {  # case id in the fixtures -> (dataset, group column or None)
    "lung_all": ("lung", None), "lung_sex": ("lung", "sex"), "veteran_trt": ("veteran", "trt"),
    "veteran_cell": ("veteran", "celltype"), "aml_x": ("aml", "x"), "aml_all": ("aml", None),
}
CONF = ("log-log", "log", "plain")


def curves(datasets, case, conf_type):
    name, gcol = CASES[case]
    d = datasets[name]
    if gcol is None:
        return {"": kaplan_meier(d.time, d.event, conf_type)}
    return {str(g): kaplan_meier(s.time, s.event, conf_type) for g, s in d.groupby(gcol)}


@pytest.mark.parametrize("conf_type", CONF)
@pytest.mark.parametrize("case", CASES)
def test_table_matches_r(datasets, case, conf_type):
    r = ref("km_table")
    r = r[(r.case == case) & (r.conf_type == conf_type)]
    for g, km in curves(datasets, case, conf_type).items():
        rg = r[r.group.fillna("") == g]
        assert len(rg) == len(km.table) > 0
        for col in ("time", "n_risk", "n_event", "n_censor", "surv", "se", "lower", "upper"):
            close(km.table[col], rg[col])


@pytest.mark.parametrize("conf_type", CONF)
@pytest.mark.parametrize("case", CASES)
def test_quantiles_match_r(datasets, case, conf_type):
    r = ref("km_quantile")
    r = r[(r.case == case) & (r.conf_type == conf_type)]
    checked = 0
    for g, km in curves(datasets, case, conf_type).items():
        for _, row in r[r.group.fillna("") == g].iterrows():
            q = km.quantile(row.prob)
            got = [np.nan if v is None else v for v in (q.estimate, q.lower, q.upper)]
            close(got, [row.estimate, row.lower, row.upper])
            checked += 1
    assert checked == 3 * len(curves(datasets, case, conf_type))


@pytest.mark.parametrize("conf_type", CONF)
@pytest.mark.parametrize("case", CASES)
def test_landmarks_match_r(datasets, case, conf_type):
    r = ref("km_at")
    r = r[(r.case == case) & (r.conf_type == conf_type)]
    for g, km in curves(datasets, case, conf_type).items():
        rg = r[r.group.fillna("") == g]
        at = km.at(rg.time.to_numpy())
        for col in ("surv", "se", "lower", "upper", "n_risk"):
            close(at[col], rg[col])


@pytest.mark.parametrize("conf_type", CONF)
@pytest.mark.parametrize("case", CASES)
def test_reverse_km_followup_matches_r(datasets, case, conf_type):
    name, gcol = CASES[case]
    d = datasets[name]
    r = ref("followup")
    r = r[(r.case == case) & (r.conf_type == conf_type)]
    parts = {"": d} if gcol is None else {str(g): s for g, s in d.groupby(gcol)}
    for g, s in parts.items():
        row = r[r.group.fillna("") == g].iloc[0]
        q = median_followup(s.time, s.event, conf_type)
        close([np.nan if v is None else v for v in (q.estimate, q.lower, q.upper)], [row.estimate, row.lower, row.upper])


def test_not_reached_is_none():
    # 2 events out of 10: S never reaches 0.5
    km = kaplan_meier(range(1, 11), [1, 1] + [0] * 8)
    assert km.median.estimate is None and km.median.upper is None


def test_median_midpoint_of_flat_half_segment():
    # hand calculation: S = 1/2 exactly on [2, 3) -> median (2 + 3)/2 = 2.5 (R and SAS midpoint rule)
    km = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])
    assert km.median.estimate == 2.5
    assert km.table["surv"].tolist() == [0.75, 0.5, 0.25, 0.0]


def test_hand_greenwood():
    # times 1,2,2,3+,4 ; S(1) = 4/5, S(2) = 4/5 * 2/4 = 0.4 ; Var(log S(2)) = 1/(5*4) + 2/(4*2) = 0.3
    km = kaplan_meier([1, 2, 2, 3, 4], [1, 1, 1, 0, 1])
    row = km.table.set_index("time").loc[2.0]
    assert row.surv == pytest.approx(0.4) and row.se == pytest.approx(0.4 * np.sqrt(0.3))
    assert km.at([2.5]).n_risk.tolist() == [2]


@pytest.mark.parametrize("bad", [([1, -1], [1, 0]), ([1, 2], [1, 2]), ([1, np.nan], [1, 0]), ([], [])])
def test_bad_input(bad):
    with pytest.raises(StatsInputError):
        kaplan_meier(*bad)


surv_data = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 1)), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(surv_data, st.sampled_from(CONF))
def test_km_properties(rows, conf_type):
    t, e = zip(*rows)
    km = kaplan_meier(t, e, conf_type)
    s = km.table["surv"].to_numpy()
    assert np.all((s >= 0) & (s <= 1)) and np.all(np.diff(s) <= 0)
    ok = ~np.isnan(km.table["lower"].to_numpy())
    lo, hi = km.table["lower"].to_numpy()[ok], km.table["upper"].to_numpy()[ok]
    assert np.all(lo <= s[ok] + 1e-12) and np.all(s[ok] <= hi + 1e-12)
    m = km.median
    if m.estimate is not None:
        assert (m.lower is None or m.lower <= m.estimate) and (m.upper is None or m.estimate <= m.upper)


def test_pandas_nullable_and_boolean_inputs():
    # the study loader gives Int64 / boolean columns: same numbers as plain lists
    t = pd.Series([5, 3, 9, 3, 7], dtype="Int64")
    e = pd.Series([True, False, True, True, False], dtype="boolean")
    a = kaplan_meier(t, e).table
    b = kaplan_meier([5, 3, 9, 3, 7], [1, 0, 1, 1, 0]).table
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(StatsInputError):
        kaplan_meier(pd.Series([1, None], dtype="Int64"), [1, 0])
