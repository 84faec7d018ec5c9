"""Cox terms the data cannot estimate are refused, not printed as HR 0 or 10^9 (issue 9).

Reference: R coxph on the same data (make_cox_refusal.R) flags the same terms as infinite ("Loglik converged
before variable k; coefficient may be infinite" / "did not converge"); the terms R estimates match it.
"""

import numpy as np
import pytest

from cartalysis.stats import cox
from stats_ref import data as r_data, ref

CASES = {  # case -> (covariates, categorical)
    "level_no_events": (["g", "x"], {"g": "a"}),
    "separation": (["sep"], None),
    "separation_plus_x": (["half", "x"], None),
}


@pytest.fixture(scope="module")
def data():
    return r_data("cox_refusal")


@pytest.mark.parametrize("case", CASES)
def test_refuses_exactly_the_terms_r_flags_as_infinite(data, case):
    covs, cat = CASES[case]
    fit = cox(data, "time", "event", covs, categorical=cat)
    r = ref("cox_refusal")
    r = r[r.case == case].set_index("term")
    terms = fit.terms.set_index("term")
    assert list(terms.index) == list(r.index)
    assert (terms["problem"].notna()).tolist() == r["infinite"].tolist()
    refused = terms[terms["problem"].notna()]
    assert refused[["hr", "hr_lower", "hr_upper", "p"]].isna().all().all()  # no number for a refused term
    if case == "level_no_events":  # the other terms converge: R's estimates (R stops at eps 1e-9 here)
        ok = terms["problem"].isna()
        np.testing.assert_allclose(terms.loc[ok, "coef"], r.loc[ok[ok].index, "coef"], rtol=1e-5)


def test_no_events_in_a_level_or_in_the_reference_is_said_in_words(data):
    fit = cox(data, "time", "event", ["g"], categorical={"g": "a"})
    assert fit.terms.set_index("term").loc["g=c", "problem"] == "no events in level c of g"
    assert fit.level_events == {"g": {lv: int(data.loc[data.g == lv, "event"].sum()) for lv in ("a", "b", "c")}}
    fit = cox(data, "time", "event", ["g"], categorical={"g": "c"})  # the reference has no events: nothing estimable
    assert set(fit.terms["problem"]) == {"no events in reference level c of g"}


def test_min_events_per_level(data):
    counts = data.groupby("g")["event"].sum()
    k = int(counts[["a", "b"]].min())
    fit = cox(data, "time", "event", ["g"], categorical={"g": "a"}, min_events_per_level=k + 1)
    probs = fit.terms.set_index("term")["problem"]
    weakest = counts[["a", "b"]].idxmin()
    expected = f"{k} events in {'reference level' if weakest == 'a' else 'level'} {weakest} of g (fewer than {k + 1})"
    assert probs["g=b"] == expected


def test_estimable_models_have_no_problem(datasets):
    for name, covs in (("lung", ["age", "sex", "ph_ecog"]), ("veteran", ["trt", "celltype", "karno"])):
        fit = cox(datasets[name], "time", "event", covs, categorical={"celltype": "squamous"} if name == "veteran" else None)
        assert fit.converged and fit.terms["problem"].isna().all()
