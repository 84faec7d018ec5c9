"""B-cell aplasia (the pharmacodynamic marker of CD19 CAR-T persistence), IgG and IVIG, per infused patient.

From ``labs`` tests ``cd19`` (CD19+ B cells in blood, cells/µL) and ``igg`` (mg/dL), days after infusion (day > 0),
and ``concomitant_meds`` (``ivig`` rows on or after infusion).

- **B-cell aplasia** (``bca``): a post-infusion CD19+ count below *plan* ``safety.bcell_recovery_cd19``.
- **B-cell recovery** (loss of aplasia): the first day of ``safety.bcell_recovery_confirm`` consecutive samples at
  or above the threshold after aplasia (domain.md §2: "confirmed on a repeat sample"; the threshold is
  site-specific, so the plan sets it). Duration of aplasia (Kaplan–Meier): event = recovery, censored at the
  earliest of the last CD19 sample, HSCT and new anticancer therapy (recovery after them is not the CAR-T's).
- **Loss of aplasia before CD19+ relapse**: recovery on or before a relapse recorded as ``cd19_pos``.
- **IgG**: lowest post-infusion value, and whether any is below ``safety.igg_low_mg_dl``.
- **IVIG**: any ``ivig`` administration on or after infusion; empty when ``concomitant_meds`` is not supplied
  (unknown, not "no").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cartalysis.derive._common import days_between, lookup
from cartalysis.derive.hematology import recovery

IGG_VISITS = ((0.0, "baseline"), (30.0, "day 1–30"), (90.0, "day 31–90"), (180.0, "day 91–180"), (365.0, "day 181–365"))


def lab_series(labs: pd.DataFrame, test: str, patients: pd.Index) -> pd.DataFrame:
    t = labs[(labs["test"].astype(str).str.strip().str.lower() == test) & labs["patient_id"].isin(patients)]
    t = t.dropna(subset=["day", "value"])[["patient_id", "day", "value"]]
    return t.sort_values(["patient_id", "day"], kind="stable").reset_index(drop=True)


def igg_visit(day: pd.Series) -> pd.Series:
    """Visit window of an IgG sample: baseline (day ≤ 0), day 1–30, 31–90, 91–180, 181–365, > 365."""
    edges = np.array([v for v, _ in IGG_VISITS])
    labels = np.array([n for _, n in IGG_VISITS] + ["> day 365"], dtype=object)
    return pd.Series(labels[np.searchsorted(edges, day.to_numpy(dtype=float), side="left")], index=day.index)


def igg_course(labs: pd.DataFrame, patients: pd.Index) -> pd.DataFrame:
    """``patient_id, visit, value``: each patient's lowest IgG in each visit window (for the IgG course table)."""
    s = lab_series(labs, "igg", patients)
    s = s.assign(visit=igg_visit(s["day"]))
    return s.groupby(["patient_id", "visit"], as_index=False, sort=False)["value"].min()


def derive_bcells(study: Any, plan: Any, infusion: pd.Series, pt: pd.DataFrame) -> pd.DataFrame:
    """Per infused patient (``pt`` holds ``relapse_day``, ``relapse_cd19``, ``hsct_day``, ``new_therapy_day``)."""
    s = plan.safety
    out = pd.DataFrame(index=pt.index)
    cd19 = lab_series(study.tables["labs"], "cd19", pt.index)
    cd19 = cd19[cd19["day"] > 0]
    r = recovery(cd19, s.bcell_recovery_cd19, s.bcell_recovery_confirm).reindex(pt.index)
    r = r.rename(columns={"cytopenic": "bca", "day": "rec"})
    r["last"] = cd19.groupby("patient_id")["day"].max().reindex(pt.index)
    out["bca"] = r["bca"].astype("boolean")
    out["bca_recovery_day"] = r["rec"].astype(float)
    censor = pd.concat([r["last"], pt["hsct_day"], pt["new_therapy_day"]], axis=1).min(axis=1)
    recovered = r["rec"].notna() & ~(r["rec"] > censor)
    in_bca = out["bca"].fillna(False).to_numpy(dtype=bool)
    out["bca_time"] = np.where(in_bca, np.where(recovered, r["rec"], censor), np.nan)
    out["bca_event"] = pd.Series(np.where(recovered, 1, 0), index=pt.index, dtype="Int64").where(in_bca, pd.NA)
    lost = recovered & (r["rec"] <= pt["relapse_day"])
    out["bca_loss_before_cd19pos_relapse"] = lost.astype("boolean").where(
        (pt["relapse_cd19"] == "cd19_pos") & out["bca"].fillna(False).astype(bool), pd.NA)

    igg = lab_series(study.tables["labs"], "igg", pt.index)
    igg = igg[igg["day"] > 0]
    low = igg.groupby("patient_id")["value"].min().reindex(pt.index)
    out["igg_min"] = low
    out["igg_low"] = (low < s.igg_low_mg_dl).astype("boolean").where(low.notna(), pd.NA)
    if study.has("concomitant_meds"):
        cm = study.tables["concomitant_meds"]
        cm = cm[(cm["medication"] == "ivig") & cm["patient_id"].isin(pt.index)]
        day = days_between(cm["start_date"], lookup(cm["patient_id"], infusion))
        out["ivig"] = pd.Series(pt.index.isin(cm.loc[day >= 0, "patient_id"]), index=pt.index, dtype="boolean")
    else:
        out["ivig"] = pd.Series(pd.NA, index=pt.index, dtype="boolean")
    return out
