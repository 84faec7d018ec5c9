"""Counting-process Cox ((start, stop], strata of two columns, case weights, cluster-robust SE, delayed entry)
and cox.zph against R coxph / cox.zph (ref_coxcp*.csv, ref_zph.csv from make_references.R)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.stats import StatsInputError, cox
from stats_ref import close, data, ref

LT = data("lung_tx").assign(tx_ever=lambda d: d.tx_time.notna().astype(int))
CP = data("lung_cp")
VET = data("veteran")
CASES = {  # case -> (frame, start, stop, covariates, categorical, strata, weights, cluster)
    "cp_tx": (CP, "start", "stop", ["tx", "age", "sex"], None, None, None, None),
    "cp_tx_strata2": (CP, "start", "stop", ["tx", "age"], None, ["sex", "ecog2"], None, None),
    "cp_tx_weights": (CP, "start", "stop", ["tx", "age", "sex"], None, None, "w", None),
    "cp_tx_cluster_id": (CP, "start", "stop", ["tx", "age", "sex"], None, None, None, "id"),
    "cp_tx_cluster_site_w": (CP, "start", "stop", ["tx", "age", "ph_ecog"], None, None, "w", "site"),
    "entry_age_sex": (LT, "entry", "time", ["age", "sex"], None, None, None, None),
    "naive_tx": (LT, None, "time", ["tx_ever", "age", "sex"], None, None, None, None),
    "rc_weights_cluster": (LT, None, "time", ["age", "sex", "ph_ecog"], None, None, "w", "site"),
    "rc_lung3": (data("lung"), None, "time", ["age", "sex", "ph_ecog"], None, None, None, None),
    "rc_vet_factor": (VET, None, "time", ["trt", "celltype", "karno"], {"celltype": "squamous"}, None, None, None),
    "rc_vet_strata": (VET, None, "time", ["trt", "karno"], None, "celltype", None, None),
}


def fit(case, ties, zph=None):
    frame, start, stop, covs, cat, strata, w, cl = CASES[case]
    return cox(frame, stop, "event", covs, categorical=cat, ties=ties, strata=strata, start=start, weights=w,
               cluster=cl, zph=zph)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("case", CASES)
def test_counting_process_cox_matches_r(case, ties):
    res = fit(case, ties)
    r = ref("coxcp").set_index(["case", "ties"]).loc[(case, ties)]
    assert (res.n, res.events) == (r.n, r.events) and res.converged
    close(res.loglik, [r.loglik0, r.loglik])
    close([res.lr_test.stat, res.lr_test.p_value], [r.lr, r.lr_p])
    close([res.wald_test.stat, res.wald_test.p_value], [r.wald, r.wald_p])
    close([res.score_test.stat, res.score_test.p_value], [r.score, r.score_p])
    rt = ref("coxcp_terms")
    rt = rt[(rt.case == case) & (rt.ties == ties)].set_index("term")
    rt = rt.loc[[t.replace("=", "") for t in res.terms.term]]
    cols = ["coef", "se", "hr", "hr_lower", "hr_upper", "z", "p"]
    if CASES[case][7] is not None or CASES[case][6] is not None:  # R: non-integer weights -> robust
        cols.append("robust_se")
    else:
        assert "robust_se" not in res.terms
    for col in cols:
        close(res.terms[col], rt[col])


@pytest.mark.parametrize("transform", ["km", "identity", "rank"])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("case", CASES)
def test_zph_matches_r(case, ties, transform):
    z = fit(case, ties, zph=transform).zph
    r = ref("zph")
    r = r[(r.case == case) & (r.ties == ties) & (r["transform"] == transform)].set_index("term")
    rt = r.loc[z.terms.term]
    close(z.terms.chisq, rt.chisq)
    close(z.terms.p, rt.p)
    assert z.terms.df.tolist() == rt.df.tolist()
    close([z.global_chisq, z.global_p], [r.loc["GLOBAL", "chisq"], r.loc["GLOBAL", "p"]])
    assert z.global_df == r.loc["GLOBAL", "df"]


def _split(frame, cuts):
    """(start, stop] rows of right-censored data split at the cut points (the event stays on the last row)."""
    rows = []
    for i, r in frame.iterrows():
        lo = 0.0
        for c in sorted({c for c in cuts if 0 < c < r.time}):
            rows.append({**r, "start": lo, "stop": c, "event": 0, "id": i})
            lo = c
        rows.append({**r, "start": lo, "stop": r.time, "event": r.event, "id": i})
    return pd.DataFrame(rows)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(1, 900, allow_nan=False), min_size=1, max_size=6), st.sampled_from(["efron", "breslow"]))
def test_split_at_cut_points_gives_the_same_fit(cuts, ties):
    d = data("veteran")[["time", "event", "karno", "age"]].head(60)
    whole = cox(d, "time", "event", ["karno", "age"], ties=ties)
    split = cox(_split(d, cuts), "stop", "event", ["karno", "age"], ties=ties, start="start", cluster="id")
    np.testing.assert_allclose(split.terms.coef, whole.terms.coef, rtol=1e-9)
    np.testing.assert_allclose(split.terms.se, whole.terms.se, rtol=1e-9)
    np.testing.assert_allclose(split.loglik, whole.loglik, rtol=1e-10)
    unsplit_robust = cox(d.assign(id=range(len(d))), "time", "event", ["karno", "age"], ties=ties, cluster="id")
    np.testing.assert_allclose(split.terms.robust_se, unsplit_robust.terms.robust_se, rtol=1e-8)


def test_bad_counting_input():
    with pytest.raises(StatsInputError, match="start must be before"):
        cox(CP.assign(start=CP.stop), "stop", "event", ["tx"], start="start")
    with pytest.raises(StatsInputError, match="weights must be positive"):
        cox(CP.assign(w=-1), "stop", "event", ["tx"], start="start", weights="w")
    with pytest.raises(StatsInputError, match="zph"):
        cox(CP, "stop", "event", ["tx"], start="start", zph="log")


def test_integer_weights_equal_duplicated_rows_with_strata():
    # Breslow only: under Efron, duplicated rows are tied with each other and the two differ (as in R)
    d = data("veteran")
    w = (d.index % 3 + 1).to_numpy()
    dup = d.loc[d.index.repeat(w)]
    a = cox(d.assign(w=w), "time", "event", ["trt", "karno"], strata="celltype", weights="w", ties="breslow")
    b = cox(dup, "time", "event", ["trt", "karno"], strata="celltype", ties="breslow")
    np.testing.assert_allclose(a.terms.coef, b.terms.coef, rtol=1e-9)
    np.testing.assert_allclose(a.terms.se, b.terms.se, rtol=1e-9)
    assert "robust_se" not in a.terms  # integer weights: model-based variance, as R
