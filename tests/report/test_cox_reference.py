"""Cox terms as the reader sees them, and the plan's choice of reference level (``[cox] reference``)."""

from __future__ import annotations

import dataclasses

import pytest

from cartalysis.derive import derive_all
from cartalysis.report import sections
from cartalysis.report.units.labels import show
from cartalysis.report.results import Registry
from cartalysis.study.errors import StudyError
from cartalysis.study.load import load_study
from cartalysis.study.plan import Plan, parse_plan


@pytest.fixture(scope="module")
def pivotal(pivotal_study):
    study = load_study(pivotal_study)
    return study, derive_all(study, Plan())  # derivations do not depend on the Cox settings


def _regression(pivotal, **cox):
    study, derived = pivotal
    plan = dataclasses.replace(Plan(), cox=dataclasses.replace(Plan().cox, **cox))
    ctx = sections.Ctx(study, plan, derived, Registry())
    spec = next(s for s in sections.SECTIONS if s.key == "regression")
    return spec.build(ctx), ctx.reg


def _table(section, key):
    return next(b for b in section.blocks if getattr(b, "key", None) == key)


def _row_labels(table):
    return [r.cells[0].text for r in table.rows]


def test_plan_reference_is_a_table_of_levels_of_modelled_columns():
    p = parse_plan({"cox": {"reference": {"prior_hsct": "none", "ph_status": "ph_neg"}}})
    assert p.cox.reference == (("prior_hsct", "none"), ("ph_status", "ph_neg"))
    with pytest.raises(StudyError) as e:
        parse_plan({"cox": {"reference": {"race": "Non-Hispanic White", "prior_hsct": 3}}})
    msgs = [(pr.column, pr.message) for pr in e.value.problems]
    assert [c for c, _ in msgs] == ["cox.reference"]  # the wrong type; the plan keeps its default reference
    with pytest.raises(StudyError) as e:
        parse_plan({"cox": {"reference": {"race": "Non-Hispanic White"}}})
    (pr,) = e.value.problems
    assert pr.column == "cox.reference" and "'race' is not a Cox covariate" in pr.message
    # with race modelled the same key is accepted
    assert parse_plan({"cox": {"forced": ["race"], "reference": {"race": "Non-Hispanic White"}}}).cox.reference


def test_terms_have_readable_labels(pivotal):
    section, _ = _regression(pivotal)
    labels = _row_labels(_table(section, "t07_cox_univariable"))
    # default reference: the most frequent level among the modelled patients (none > auto, allo; Ph− > Ph+, Ph-like)
    study, derived = pivotal
    rfs = derived.adtte[derived.adtte["param"] == "RFS"][["patient_id"]].merge(derived.adsl, on="patient_id")
    assert rfs["prior_hsct"].value_counts().idxmax() == "none" and rfs["ph_status"].value_counts().idxmax() == "ph_neg"
    assert "Prior HSCT: Autologous vs None" in labels and "Prior HSCT: Allogeneic vs None" in labels
    assert "Age (per year)" in labels and "Extramedullary disease: Yes vs No" in labels
    assert "Philadelphia chromosome: Ph+ vs Ph−" in labels
    assert not any("=" in lab or "_" in lab for lab in labels), labels


def test_changing_the_reference_changes_the_terms_as_documented(pivotal):
    """``prior_hsct = "allo"``: terms auto and none against allo (ids ``…prior_hsct_auto``/``…_none``). It is the
    same model reparameterised: β(auto vs allo) = β(auto vs none) − β(allo vs none), so the HRs are ratios."""
    default_section, reg0 = _regression(pivotal)
    section, reg1 = _regression(pivotal, reference=(("prior_hsct", "allo"),))
    labels = _row_labels(_table(section, "t07_cox_univariable"))
    assert "Prior HSCT: Autologous vs Allogeneic" in labels and "Prior HSCT: None vs Allogeneic" in labels
    assert not any(lab.startswith("Prior HSCT") and lab.endswith("vs None") for lab in labels)
    assert "cox.univariable.prior_hsct_allo" in reg0 and "cox.univariable.prior_hsct_allo" not in reg1
    auto_none, allo_none = (reg0[f"cox.univariable.prior_hsct_{lv}"].value for lv in ("auto", "allo"))
    assert reg1["cox.univariable.prior_hsct_auto"].value == pytest.approx(auto_none / allo_none, rel=1e-6)
    assert reg1["cox.univariable.prior_hsct_none"].value == pytest.approx(1 / allo_none, rel=1e-6)
    # the P value of the reference's own contrast is the same test seen from the other side
    assert reg1["cox.univariable.prior_hsct_none"].p_value == pytest.approx(
        reg0["cox.univariable.prior_hsct_allo"].p_value, rel=1e-6)
    # other covariates are untouched
    assert reg1["cox.univariable.age"].value == reg0["cox.univariable.age"].value


def test_reference_level_absent_from_the_data_or_on_a_yes_no_column_is_an_error(pivotal):
    with pytest.raises(StudyError) as e:
        _regression(pivotal, reference=(("prior_hsct", "autologous"), ("emd", "no")))
    problems = e.value.problems
    assert {p.column for p in problems} == {"cox.reference"}
    text = " | ".join(p.message for p in problems)
    assert "level 'autologous' of prior_hsct is not in the data; levels: allo, auto, none" in text
    assert "emd is not categorical" in text


@pytest.mark.parametrize("code, shown", [("<40", "< 40"), (">=40", "≥ 40"), ("<=25", "≤ 25"),
                                         (">25-<=50", "> 25 to ≤ 50"), ("prior_hsct", "prior_hsct"),
                                         ("12-3", "12-3"), ("allo", "Allogeneic")])
def test_levels_are_shown_as_journals_print_them(code, shown):
    """Derived cut-point groups (adsl.age_group, bm_blasts_group) keep their codes in ids, print with ≤/≥."""
    assert show(code) == shown


def test_derived_text_covariate_is_categorical(pivotal):
    """A derived text column (``object`` on pandas 2, ``str`` on pandas 3) is modelled by its levels."""
    section, reg = _regression(pivotal, candidates=("m3_resp",))
    assert _row_labels(_table(section, "t07_cox_univariable")) == ["m3_resp: CRi vs CR", "m3_resp: NR vs CR"]
    assert "cox.univariable.m3_resp_cri" in reg and "cox.multivariable.m3_resp_nr" in reg
