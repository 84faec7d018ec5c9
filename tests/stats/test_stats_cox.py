"""Cox model against R coxph (fixtures from make_references.R, R converged with eps 1e-11)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.stats import StatsInputError, cox, cox_model_building
from cartalysis.stats.cox import concordance_index
from stats_ref import close, ref

CASES = {  # case -> (dataset, covariates, categorical, strata)
    "lung_age_sex_ecog": ("lung", ["age", "sex", "ph_ecog"], None, None),
    "lung_age_sex_ecog_karno_wt": ("lung", ["age", "sex", "ph_ecog", "ph_karno", "wt_loss"], None, None),
    "veteran_trt_cell_karno": ("veteran", ["trt", "celltype", "karno"], {"celltype": "squamous"}, None),
    "veteran_strat_cell": ("veteran", ["trt", "karno", "age"], None, "celltype"),
    "aml_x": ("aml", ["x"], ["x"], None),
}


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("case", CASES)
def test_cox_matches_r(datasets, case, ties):
    name, covs, cat, strata = CASES[case]
    fit = cox(datasets[name], "time", "event", covs, categorical=cat, ties=ties, strata=strata)
    r = ref("cox").set_index(["case", "ties"]).loc[(case, ties)]
    assert (fit.n, fit.events) == (r.n, r.events)
    assert fit.n_dropped == len(datasets[name]) - r.n
    assert fit.converged
    close(fit.loglik, [r.loglik0, r.loglik])
    for test, key in ((fit.lr_test, "lr"), (fit.wald_test, "wald"), (fit.score_test, "score")):
        close([test.stat, test.p_value], [r[key], r[f"{key}_p"]])
        assert test.df == r[f"{key}_df"]
    close(fit.concordance, r.concordance)
    rt = ref("cox_terms")
    rt = rt[(rt.case == case) & (rt.ties == ties)].set_index("term")
    rt = rt.loc[[t.replace("=", "") for t in fit.terms.term]]
    for col in ("coef", "se", "hr", "hr_lower", "hr_upper", "z", "p"):
        close(fit.terms[col], rt[col])


def test_missing_rows_dropped_and_counted(datasets):
    fit = cox(datasets["lung"], "time", "event", ["age", "wt_loss"])
    assert fit.n_dropped == int(datasets["lung"].wt_loss.isna().sum()) and fit.n + fit.n_dropped == 228


def test_bad_columns(datasets):
    with pytest.raises(StatsInputError, match="not found"):
        cox(datasets["lung"], "time", "event", ["nope"])
    with pytest.raises(StatsInputError, match="categorical"):
        cox(datasets["veteran"], "time", "event", ["celltype"])
    with pytest.raises(StatsInputError, match="reference level"):
        cox(datasets["veteran"], "time", "event", ["celltype"], categorical={"celltype": "bogus"})


def test_model_building(datasets):
    mb = cox_model_building(datasets["lung"], "time", "event", ["sex", "ph_ecog", "wt_loss", "age"],
                            forced=["age"], threshold=0.05)
    # univariable LR p: sex and ph_ecog well below 0.05, wt_loss not (R: coxph(~wt.loss) LR p = 0.83)
    assert mb.selected == ("age", "sex", "ph_ecog")
    assert mb.univariable["wt_loss"].lr_test.p_value > 0.5
    assert list(mb.multivariable.terms.term) == ["age", "sex", "ph_ecog"]
    r = ref("cox_terms")
    r = r[(r.case == "lung_age_sex_ecog") & (r.ties == "efron")]
    close(mb.multivariable.terms.coef, r.coef)


def test_concordance_hand_example():
    # times 1..4 all events, scores 4,3,1,2: pairs (earlier, later) concordant when earlier has the higher score:
    # (1,2) c, (1,3) c, (1,4) c, (2,3) c, (2,4) c, (3,4) d -> 5/6
    assert concordance_index([1, 2, 3, 4], [1, 1, 1, 1], [4, 3, 1, 2]) == pytest.approx(5 / 6)


rows = st.lists(st.tuples(st.integers(1, 15), st.integers(0, 1), st.floats(-2, 2), st.integers(0, 2)),
                min_size=8, max_size=40)


@settings(max_examples=40, deadline=None)
@given(rows, st.sampled_from([0.01, 7.0, 365.25]), st.sampled_from(["efron", "breslow"]))
def test_cox_invariant_to_time_scale(data, scale, ties):
    d = pd.DataFrame(data, columns=["time", "event", "x", "g"])
    if d.event.sum() < 2 or d.x.nunique() < 3:
        return
    try:
        a = cox(d, "time", "event", ["x"], ties=ties)
    except StatsInputError:
        return
    if not a.converged or abs(a.terms.coef[0]) > 5:  # monotone likelihood: β̂ is infinite
        return
    d2 = d.assign(time=d.time * scale)
    b = cox(d2, "time", "event", ["x"], ties=ties)
    np.testing.assert_allclose(b.terms.coef, a.terms.coef, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(b.lr_test.stat, a.lr_test.stat, rtol=1e-7, atol=1e-9)
    assert b.concordance == a.concordance


def test_monotone_likelihood_is_flagged():
    # x orders the event times perfectly: the partial likelihood increases without bound in β (R warns
    # "Loglik converged before variable 1; coefficient may be infinite")
    d = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6], "event": [1, 1, 1, 1, 1, 0], "x": [6, 5, 4, 3, 2, 1]})
    fit = cox(d, "time", "event", ["x"])
    assert not fit.converged and "NOT CONVERGED" in fit.method


def test_model_building_screen_matches_r(datasets):
    # screen p = likelihood-ratio p of each candidate alone; celltype (4 levels) is one 3-df test
    cands = ["trt", "celltype", "karno", "diagtime", "age", "prior"]
    mb = cox_model_building(datasets["veteran"], "time", "event", cands, forced=["trt"], threshold=0.05,
                            categorical={"celltype": "squamous"})
    r = ref("cox_screen").set_index("covariate").loc[mb.screen.covariate]
    close(mb.screen.p, r.p)
    assert mb.selected == ("trt", "celltype", "karno")
    assert mb.screen.set_index("covariate").loc["trt"].forced
    r2 = ref("cox_terms")
    r2 = r2[(r2.case == "veteran_trt_cell_karno") & (r2.ties == "efron")].set_index("term")
    close(mb.multivariable.terms.coef, r2.loc[[t.replace("=", "") for t in mb.multivariable.terms.term]].coef)
