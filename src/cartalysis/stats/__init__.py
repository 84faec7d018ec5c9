"""Generic statistics layer (no CAR-T knowledge): proportions, Kaplan–Meier, log-rank, Cox, competing risks,
Table-1 tests. Numbers match R survival / cmprsk; definitions and the API summary are in docs/statistics.md."""

from cartalysis.stats._common import StatsInputError
from cartalysis.stats.compare import LogRank, logrank
from cartalysis.stats.competing import CompetingRisks, CumulativeIncidence, GrayTest, cumulative_incidence
from cartalysis.stats.describe import Summary, describe
from cartalysis.stats.cox import CoxResult, ModelBuilding, ModelTest, concordance_index, cox, cox_model_building
from cartalysis.stats.coxcp import ZphTest
from cartalysis.stats.landmark import Landmark, landmark, mantel_byar, simon_makuch, split_at_switches, switch_rows
from cartalysis.stats.institutions import Completeness, FunnelLimits, completeness_index, funnel_limits, funnel_outside
from cartalysis.stats.finegray import FineGrayResult, cause_specific_cox, fine_gray
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
    "BinomTest", "Completeness", "FunnelLimits", "CompetingRisks", "CoxResult", "CumulativeIncidence", "FineGrayResult", "Landmark", "GrayTest", "GroupTest", "KaplanMeier",
    "LogRank", "ModelBuilding", "ZphTest", "ModelTest", "Proportion", "Quantile", "Rmst", "RmstComparison", "RmstDifference", "SingleArmDesign", "StatsInputError", "Summary",
    # functions
    "binom_test", "completeness_index", "funnel_limits", "funnel_outside", "cause_specific_cox", "chisq_test", "compare_categorical", "compare_continuous", "concordance_index", "cox",
    "cox_model_building", "cumulative_incidence", "describe", "fine_gray", "fisher_test", "kaplan_meier", "kruskal_test", "landmark", "mantel_byar", "logrank",
    "median_followup", "proportion", "rmst", "simon_makuch", "split_at_switches", "switch_rows", "single_arm_design", "wilcoxon_test",
    "TABLE1_RULE",
]
