"""Kaplan–Meier with delayed entry and confidence levels other than 95%, against R survfit (ref_km2_*.csv)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.stats import StatsInputError, kaplan_meier
from stats_ref import close, data, ref

CASES = {  # case -> (dataset, time, event, entry, group)
    "lung_entry": ("lung_tx", "time", "event", "entry", None),
    "lung_entry_sex": ("lung_tx", "time", "event", "entry", "sex"),
    "lung_sex": ("lung_tx", "time", "event", None, "sex"),
    "simon_makuch": ("lung_cp", "stop", "event", "start", "tx"),
}


def fits(case, conf_type, conf_level):
    name, time, event, entry, group = CASES[case]
    d = data(name)
    groups = [("", np.ones(len(d), bool))] if group is None else [(str(g), (d[group] == g).to_numpy())
                                                                   for g in sorted(d[group].unique())]
    for g, sel in groups:
        yield g, kaplan_meier(d.loc[sel, time], d.loc[sel, event], conf_type, conf_level,
                              entry=None if entry is None else d.loc[sel, entry])


@pytest.mark.parametrize("conf_level", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
@pytest.mark.parametrize("case", CASES)
def test_km_entry_and_levels_match_r(case, conf_type, conf_level):
    tab, qs, ats = (ref(n) for n in ("km2_table", "km2_quantile", "km2_at"))
    sel = lambda r: r[(r.case == case) & (r.conf_type == conf_type) & np.isclose(r.conf_level, conf_level)]  # noqa: E731
    tab, qs, ats = sel(tab), sel(qs), sel(ats)
    for g, fit in fits(case, conf_type, conf_level):
        rt = tab[tab.group.fillna("") == g]
        ours = fit.table
        assert ours.time.tolist() == rt.time.tolist()
        assert ours.n_risk.tolist() == rt.n_risk.tolist()
        assert ours.n_event.tolist() == rt.n_event.tolist()
        for col in ("surv", "se", "lower", "upper"):
            close(ours[col], rt[col])
        for r in qs[qs.group.fillna("") == g].itertuples():
            q = fit.quantile(r.prob)
            close([q.estimate, q.lower, q.upper], [r.estimate, r.lower, r.upper])
        ra = ats[ats.group.fillna("") == g]
        at = fit.at(ra.time.to_numpy())
        for col in ("surv", "se", "lower", "upper"):
            close(at[col], ra[col])
        assert at.n_risk.tolist() == ra.n_risk.tolist()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=40))
def test_entry_zero_is_ordinary_km(rows):
    t = np.array([r[0] for r in rows], float)
    e = np.array([int(r[1]) for r in rows])
    a = kaplan_meier(t, e)
    b = kaplan_meier(t, e, entry=np.zeros(t.size))
    pd.testing.assert_frame_equal(a.table, b.table)


def test_entry_must_precede_time():
    with pytest.raises(StatsInputError, match="entry must be before"):
        kaplan_meier([5, 6], [1, 0], entry=[0, 6])
