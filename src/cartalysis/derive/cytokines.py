"""Cytokine and inflammation-marker peaks after infusion, per infused patient (exposure–safety analyses).

Peak = the highest ``labs`` value of the test from day 0 to day 28 (the pivotal paper: peaks within 10 days, back
to baseline by day 28). CRP is in mg/dL: a row whose ``unit`` is ``mg/L`` (or, without a unit, *plan*
``risk.crp_unit`` = ``mg/L``) is divided by 10, as for the risk scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PEAK_TESTS = ("il6", "il8", "il10", "ifng", "ferritin", "crp")
PEAK_END_DAY = 28.0


def cytokine_peaks(labs: pd.DataFrame, plan: Any, patients: pd.Index) -> pd.DataFrame:
    """``peak_<test>`` columns (empty where the test was not measured in days 0–28)."""
    t = labs[labs["patient_id"].isin(patients) & labs["day"].between(0, PEAK_END_DAY)].copy()
    t["test"] = t["test"].astype(str).str.strip().str.lower()
    t = t[t["test"].isin(PEAK_TESTS)]
    unit = t["unit"].astype(object).where(t["unit"].notna(), plan.risk.crp_unit).astype(str).str.strip().str.lower()
    t["value"] = np.where((t["test"] == "crp") & (unit == "mg/l"), t["value"] / 10.0, t["value"])
    peak = t.groupby(["patient_id", "test"])["value"].max().unstack()
    return peak.reindex(index=patients, columns=list(PEAK_TESTS)).add_prefix("peak_")
