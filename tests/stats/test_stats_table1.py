"""Table-1 tests against R chisq.test / fisher.test / wilcox.test / kruskal.test (fixtures from make_references.R)."""

import numpy as np
import pandas as pd
import pytest

from cartalysis.stats import (
    StatsInputError,
    chisq_test,
    compare_categorical,
    compare_continuous,
    fisher_test,
    kruskal_test,
    wilcoxon_test,
)
from stats_ref import close, ref


@pytest.fixture(scope="module")
def r():
    return ref("table1").set_index("id")


def check(res, row, has_stat=True):
    close(res.p_value, row.p)
    if has_stat:
        close(res.statistic, row.statistic)


def test_chisq_and_fisher(datasets, r):
    v, lung = datasets["veteran"], datasets["lung"]
    tab = pd.crosstab(v.celltype, v.trt)
    check(chisq_test(tab), r.loc["chisq_celltype_trt"])
    tab2 = pd.crosstab(lung.sex, lung.event)
    check(chisq_test(tab2), r.loc["chisq_sex_event"])
    check(chisq_test(tab2, correct=True), r.loc["chisq_sex_event_yates"])
    check(fisher_test(tab2), r.loc["fisher_sex_event"], False)
    check(fisher_test(tab), r.loc["fisher_celltype_trt"], False)
    check(fisher_test(pd.crosstab(lung.ph_ecog, lung.sex)), r.loc["fisher_ecog_sex"], False)


def test_rank_tests(datasets, r):
    lung, aml, v = datasets["lung"], datasets["aml"], datasets["veteran"]
    check(wilcoxon_test(lung.age[lung.sex == 1], lung.age[lung.sex == 2]), r.loc["wilcox_age_sex"])
    check(wilcoxon_test(aml.time[aml.x == "Maintained"], aml.time[aml.x == "Nonmaintained"]), r.loc["wilcox_aml_time"])
    check(wilcoxon_test([1.1, 2.3, 3.7, 4.2, 8.8], [2.9, 5.1, 6.4, 7.7, 9.3, 10.5]), r.loc["wilcox_exact_small"])
    check(kruskal_test(*[s.karno for _, s in v.groupby("celltype")]), r.loc["kruskal_karno_cell"])
    check(kruskal_test(*[s.age for _, s in lung.groupby("ph_ecog")]), r.loc["kruskal_age_ecog"])


def test_rule(datasets, r):
    v, lung = datasets["veteran"], datasets["lung"]
    # celltype × trt: all expected counts ≥ 5 -> chi-square; ECOG × sex has an expected count < 5 -> Fisher
    assert compare_categorical(v.celltype, v.trt).method == "Pearson chi-square test"
    res = compare_categorical(lung.ph_ecog, lung.sex)
    assert res.method.startswith("Fisher")
    close(res.p_value, r.loc["fisher_ecog_sex"].p)
    assert compare_continuous(v.karno, v.celltype).method.startswith("Kruskal")
    assert compare_continuous(lung.age, lung.sex).method.startswith("Wilcoxon")


def test_hand_chisq():
    # [[10, 20], [20, 10]]: E = 15 everywhere, chi2 = 4·25/15 = 6.667; Yates: 4·(4.5²)/15 = 5.4
    assert chisq_test([[10, 20], [20, 10]]).statistic == pytest.approx(20 / 3)
    assert chisq_test([[10, 20], [20, 10]], correct=True).statistic == pytest.approx(5.4)


def test_bad_tables():
    with pytest.raises(StatsInputError):
        chisq_test([[1, 2]])
    with pytest.raises(StatsInputError):
        fisher_test([[0, 0], [1, 2]])
    with pytest.raises(StatsInputError):
        wilcoxon_test([], [1.0])
    assert np.isfinite(kruskal_test([1, 2, 3], [4, 5, 6]).p_value)


def test_fisher_3x3_hand_checked_against_r():
    # R: fisher.test(matrix(c(1,2,3, 4,5,1, 2,2,2), 3, byrow = TRUE))$p.value = 0.5518413 (printed by R 4.x)
    assert fisher_test([[1, 2, 3], [4, 5, 1], [2, 2, 2]]).p_value == pytest.approx(0.5518413, abs=5e-8)


@pytest.fixture(scope="module")
def r_opt():
    return ref("table1_options").set_index("id")


def test_missing_as_a_level_matches_r_addna(datasets, r_opt):
    lung = datasets["lung"]
    # lung ph.ecog has one NA: as its own level the ECOG × sex table gains a row (R: table(addNA(x), sex))
    res = compare_categorical(lung.ph_ecog, lung.sex, test="fisher", missing_level=True)
    check(res, r_opt.loc["fisher_ecog_sex_missing"], False)
    check(compare_categorical(lung.ph_ecog, lung.sex, test="chisq", missing_level=True),
          r_opt.loc["chisq_ecog_sex_missing"])
    karno = pd.cut(lung.ph_karno, [0, 70, 85, 100]).astype(object)
    check(compare_categorical(karno, lung.event, test="chisq", missing_level=True), r_opt.loc["chisq_karno_event_missing"])
    # without the level the P value differs (.0082 vs .018): the setting decides what a paper's P means
    check(compare_categorical(karno, lung.event, test="chisq"), r_opt.loc["chisq_karno_event"])
    check(compare_categorical(karno, lung.event, test="fisher"), r_opt.loc["fisher_karno_event"], False)


def test_forced_tests_match_r(datasets, r_opt):
    lung, v = datasets["lung"], datasets["veteran"]
    res = compare_categorical(lung.sex, lung.event, test="yates")
    assert res.method.endswith("Yates continuity correction")
    check(res, r_opt.loc["yates_sex_event"])
    # "chisq" is used even where the auto rule would pick Fisher (expected counts < 5)
    assert compare_categorical(lung.ph_ecog, lung.sex).method.startswith("Fisher")
    assert compare_categorical(lung.ph_ecog, lung.sex, test="chisq").method == "Pearson chi-square test"
    check(compare_categorical(v.celltype, v.trt, test="chisq"), r_opt.loc["chisq_celltype_trt_forced"])


def test_unknown_categorical_test_is_an_input_error(datasets):
    lung = datasets["lung"]
    with pytest.raises(StatsInputError, match="unknown categorical test"):
        compare_categorical(lung.sex, lung.event, test="g-test")


def test_missing_level_never_counts_missing_groups():
    # the group must be known: a row with a missing group is dropped with or without the Missing level
    v = ["a", "a", None, "b", "b", None, "a", "b"]
    g = ["x", "y", "x", "x", "y", None, "y", None]
    with_level = compare_categorical(v, g, test="fisher", missing_level=True)
    # hand table: a: x1 y2; b: x1 y1; Missing: x1 (the row with a missing group dropped) -> 3x2 Fisher
    assert with_level.p_value == pytest.approx(fisher_test([[1, 2], [1, 1], [1, 0]]).p_value)
