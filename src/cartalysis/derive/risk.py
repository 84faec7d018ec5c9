"""Baseline risk scores from ``labs``: CAR-HEMATOTOX and the EASIX family.

CAR-HEMATOTOX (Rejeski K et al., Blood 2021;138:2499): platelets > 175 → 0, 75–175 → 1, < 75 → 2 (×10^9/L);
ANC > 1.2 → 0, ≤ 1.2 → 1 (×10^9/L); hemoglobin > 9.0 → 0, ≤ 9.0 → 1 (g/dL); CRP < 3.0 → 0, ≥ 3.0 → 1 (mg/dL);
ferritin < 650 → 0, 650–2000 → 1, > 2000 → 2 (ng/mL). Score 0–7; low risk 0–1, high ≥ 2. Derived in large B-cell
lymphoma and not validated in B-ALL: exploratory.

EASIX = LDH (U/L) × creatinine (mg/dL) / platelets (10^9/L); simplified EASIX = LDH / platelets;
m-EASIX = LDH × CRP (mg/dL) / platelets (Pennisi M et al., Blood Adv 2021;5:3397).

Baseline = the last value with day inside plan ``risk.baseline_window_days``; CRP given in mg/L (``unit`` column,
or plan ``risk.crp_unit``) is divided by 10.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MARKERS = ("anc", "hb", "platelets", "crp", "ferritin", "ldh", "creatinine")


def baseline_labs(labs: pd.DataFrame, plan: Any, patients: pd.Index) -> pd.DataFrame:
    """Wide frame of baseline values (columns = ``MARKERS``) per patient."""
    lo, hi = plan.risk.baseline_window_days
    t = labs[labs["patient_id"].isin(patients) & labs["day"].between(lo, hi)].copy()
    t["test"] = t["test"].astype(str).str.strip().str.lower()
    t = t[t["test"].isin(MARKERS)]
    unit = t["unit"].astype(object).where(t["unit"].notna(), plan.risk.crp_unit).astype(str).str.strip().str.lower()
    t["value"] = np.where((t["test"] == "crp") & (unit == "mg/l"), t["value"] / 10.0, t["value"])
    last = t.sort_values(["patient_id", "test", "day"], kind="stable").drop_duplicates(["patient_id", "test"], keep="last")
    return last.pivot(index="patient_id", columns="test", values="value").reindex(index=patients, columns=list(MARKERS))


def hematotox(b: pd.DataFrame) -> pd.Series:
    """CAR-HEMATOTOX score (NaN if any of the five markers is missing)."""
    plt, anc, hb, crp, fer = (b[c] for c in ("platelets", "anc", "hb", "crp", "ferritin"))
    pts = (np.select([plt < 75, plt <= 175], [2, 1], 0) + (anc <= 1.2).astype(int) + (hb <= 9.0).astype(int)
           + (crp >= 3.0).astype(int) + np.select([fer > 2000, fer >= 650], [2, 1], 0))
    return pd.Series(pts, index=b.index, dtype=float).where(b[["platelets", "anc", "hb", "crp", "ferritin"]].notna().all(axis=1))


def derive_risk(study: Any, plan: Any, patients: pd.Index) -> pd.DataFrame:
    """Per patient: ``hematotox_score``, ``hematotox_risk``, ``easix``, ``easix_simplified``, ``m_easix``."""
    b = baseline_labs(study.tables["labs"], plan, patients)
    out = pd.DataFrame(index=patients)
    out["hematotox_score"] = hematotox(b)
    out["hematotox_risk"] = np.where(out["hematotox_score"].isna(), None, np.where(out["hematotox_score"] >= 2, "high", "low"))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["easix"] = b["ldh"] * b["creatinine"] / b["platelets"]
        out["easix_simplified"] = b["ldh"] / b["platelets"]
        out["m_easix"] = b["ldh"] * b["crp"] / b["platelets"]
    return out.replace([np.inf, -np.inf], np.nan)
