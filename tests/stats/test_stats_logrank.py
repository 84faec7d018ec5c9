"""Log-rank against R survdiff (fixtures from make_references.R)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.stats import logrank
from stats_ref import close, ref

CASES = {  # case -> (dataset, group, strata)
    "lung_sex": ("lung", "sex", None), "lung_ecog": ("lung", "ph_ecog", None),
    "veteran_cell": ("veteran", "celltype", None), "veteran_trt_strat_cell": ("veteran", "trt", "celltype"),
    "lung_sex_strat_ecog": ("lung", "sex", "ph_ecog"), "aml_x": ("aml", "x", None),
}


@pytest.mark.parametrize("case", CASES)
def test_logrank_matches_r(datasets, case):
    name, g, s = CASES[case]
    d = datasets[name].dropna(subset=[c for c in (g, s) if c])
    res = logrank(d.time, d.event, d[g], None if s is None else d[s])
    r = ref("logrank").set_index("case").loc[case]
    close([res.chisq, res.p_value], [r.chisq, r.p])
    assert res.df == r.df
    rg = ref("logrank_groups")
    rg = rg[rg.case == case].set_index("group").loc[res.groups.group]  # R orders veteran$celltype by its factor
    close(res.groups.n, rg.n)
    close(res.groups.observed, rg.observed)
    close(res.groups.expected, rg.expected)


rows = st.lists(st.tuples(st.integers(1, 20), st.integers(0, 1), st.integers(0, 2), st.integers(0, 1)),
                min_size=4, max_size=50)


@settings(max_examples=60, deadline=None)
@given(rows)
def test_invariant_to_group_relabelling(data):
    t, e, g, s = (np.array(c) for c in zip(*data))
    if len(set(g)) < 2:
        return
    a = logrank(t, e, g, s)
    relabel = {0: "z", 1: "b", 2: "m"}
    b = logrank(t, e, [relabel[x] for x in g], s)
    assert a.df == b.df
    assert b.chisq == pytest.approx(a.chisq, rel=1e-9, abs=1e-12)
    assert sorted(a.groups.observed) == pytest.approx(sorted(b.groups.observed))
