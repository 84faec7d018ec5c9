"""Generic statistics layer (no CAR-T knowledge): proportions, Kaplan–Meier, log-rank, Cox, competing risks,
Table-1 tests. Numbers match R survival / cmprsk; definitions and the API summary are in docs/statistics.md."""

from cartalysis.stats._common import StatsInputError
from cartalysis.stats.compare import LogRank, logrank
from cartalysis.stats.competing import CompetingRisks, CumulativeIncidence, GrayTest, cumulative_incidence
from cartalysis.stats.describe import Summary, describe
from cartalysis.stats.cox import CoxResult, ModelBuilding, ModelTest, concordance_index, cox, cox_model_building
from cartalysis.stats.coxcp import ZphTest
from cartalysis.stats.rmst import Rmst, RmstComparison, RmstDifference, rmst
from cartalysis.stats.proportions import BinomTest, Proportion, SingleArmDesign, binom_test, proportion, single_arm_design
from cartalysis.stats.survival import KaplanMeier, Quantile, kaplan_meier, median_followup
from cartalysis.stats.table1 import RULE as TABLE1_RULE
from cartalysis.stats.table1 import (
    GroupTest,
    chisq_test,
    compare_categorical,
    compare_continuous,
    fisher_test,
    kruskal_test,
    wilcoxon_test,
)

__all__ = [
    # results
    "BinomTest", "CompetingRisks", "CoxResult", "CumulativeIncidence", "GrayTest", "GroupTest", "KaplanMeier",
    "LogRank", "ModelBuilding", "ZphTest", "ModelTest", "Proportion", "Quantile", "Rmst", "RmstComparison", "RmstDifference", "SingleArmDesign", "StatsInputError", "Summary",
    # functions
    "binom_test", "chisq_test", "compare_categorical", "compare_continuous", "concordance_index", "cox",
    "cox_model_building", "cumulative_incidence", "describe", "fisher_test", "kaplan_meier", "kruskal_test", "logrank",
    "median_followup", "proportion", "rmst", "single_arm_design", "wilcoxon_test",
    "TABLE1_RULE",
]
