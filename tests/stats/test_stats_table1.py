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
