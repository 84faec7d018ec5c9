"""Generic statistics layer (no CAR-T knowledge): proportions, Kaplan–Meier, log-rank, Cox, competing risks,
Table-1 tests. Numbers match R survival / cmprsk (see docs/statistics.md)."""

from cartalysis.stats._common import StatsInputError
from cartalysis.stats.competing import CompetingRisks, CumulativeIncidence, GrayTest, cumulative_incidence
from cartalysis.stats.compare import LogRank, logrank
from cartalysis.stats.cox import CoxResult, ModelBuilding, ModelTest, concordance_index, cox, cox_model_building
from cartalysis.stats.proportions import BinomTest, Proportion, SingleArmDesign, binom_test, proportion, single_arm_design
from cartalysis.stats.table1 import (
    RULE as TABLE1_RULE,
    GroupTest,
    chisq_test,
    compare_categorical,
    compare_continuous,
    fisher_test,
    kruskal_test,
    wilcoxon_test,
)
from cartalysis.stats.survival import KaplanMeier, Quantile, kaplan_meier, median_followup

__all__ = [
    "TABLE1_RULE", "BinomTest", "GroupTest", "CompetingRisks", "CumulativeIncidence", "GrayTest", "CoxResult", "ModelBuilding", "ModelTest", "KaplanMeier", "LogRank", "Proportion", "Quantile", "SingleArmDesign", "StatsInputError",
    "binom_test", "chisq_test", "compare_categorical", "compare_continuous", "fisher_test", "kruskal_test", "wilcoxon_test", "concordance_index", "cox", "cox_model_building", "cumulative_incidence", "kaplan_meier", "logrank", "median_followup", "proportion", "single_arm_design",
]
