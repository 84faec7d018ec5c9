"""CRS/ICANS course and management per infused patient: symptoms, drugs, timing of ICANS, seizures.

- **Symptoms over the CRS days** (graded ``toxicity_daily`` days with CRS grade > 0; empty for patients graded
  from ``adverse_events``): fever (≥ *plan* ``toxicity.fever_c``), highest temperature, hypotension (fluids or
  vasopressors), vasopressors (most given on one day), hypoxia (any oxygen) and the highest oxygen level
  (``low_flow`` < ``high_flow`` < ``positive_pressure``), as the ASTCT grade reads them (Lee 2019).
- **Management**: each drug from ``concomitant_meds`` when that table has rows of it (rows on or after infusion;
  one row = one dose), else from its ``tocilizumab``/``steroids``/``anakinra`` flag of ``toxicity_daily`` (one
  flagged day = one dose); empty for a patient with neither. ``toci_first_day`` = days
  from infusion to the first tocilizumab.
- **ICANS relative to CRS**: ``icans_after_crs_days`` = ICANS onset − CRS onset (first episodes);
  ``icans_timing`` = ``concurrent`` (onset during a CRS episode), ``after_crs`` (after the first CRS episode
  ended), ``before_crs`` or ``isolated`` (no CRS).
- **Seizure**: any ``toxicity_daily`` day with a seizure (empty without daily data).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cartalysis.derive._common import days_between, flag, lookup
from cartalysis.study.parse import empty_table
from cartalysis.study.spec import CONCOMITANT_MEDS

OXYGEN_ORDER = ("none", "low_flow", "high_flow", "positive_pressure")
DRUGS = {"tocilizumab": "tocilizumab", "corticosteroid": "steroids", "anakinra": "anakinra"}


def crs_symptoms(daily: pd.DataFrame, adtox: pd.DataFrame, patients: pd.Index, fever_c: float) -> pd.DataFrame:
    """Symptoms over each patient's CRS days (daily data only). ``adtox`` holds the graded days of ``daily`` in
    patient/date order (``toxicity.grade_daily``), so its CRS mask selects the same rows of ``daily`` sorted alike."""
    d = daily[daily["date"].notna()].sort_values(["patient_id", "date"], kind="stable")
    d = d[d["patient_id"].isin(adtox["patient_id"].unique())]
    d = d[adtox["crs_grade"].to_numpy() > 0]
    oxy = d["oxygen"].map({o: i for i, o in enumerate(OXYGEN_ORDER)}).fillna(0)
    vaso = d["vasopressors"].astype("Float64").fillna(0).astype(float)
    f = pd.DataFrame({"patient_id": d["patient_id"], "fever": d["temp_max_c"] >= fever_c, "temp": d["temp_max_c"],
                      "hypo": flag(d["hypotension"]) | (vaso >= 1).to_numpy(), "vaso": vaso, "oxy": oxy})
    g = f.groupby("patient_id")
    out = pd.DataFrame(index=patients)
    out["crs_fever"] = g["fever"].any().reindex(patients).astype("boolean")
    out["crs_temp_max"] = g["temp"].max().reindex(patients)
    out["crs_hypotension"] = g["hypo"].any().reindex(patients).astype("boolean")
    out["crs_vasopressors_max"] = g["vaso"].max().reindex(patients).astype("Float64").astype("Int64")
    out["crs_hypoxia"] = (g["oxy"].max() > 0).reindex(patients).astype("boolean")
    out["crs_oxygen_max"] = g["oxy"].max().reindex(patients).map(lambda i: OXYGEN_ORDER[int(i)] if pd.notna(i) else None)
    return out


def management(study: Any, infusion: pd.Series, patients: pd.Index) -> pd.DataFrame:
    """Per patient: any and number of doses of tocilizumab, steroids, anakinra, and the day of the first
    tocilizumab. Each drug comes from ``concomitant_meds`` when that table has rows of it (every patient then known),
    else from its ``toxicity_daily`` flag (patients with daily rows known)."""
    out = pd.DataFrame(index=patients)
    cm = study.tables.get("concomitant_meds")
    if cm is None:  # a Study built in code may leave optional tables out
        cm = empty_table(CONCOMITANT_MEDS)
    cm = cm[cm["patient_id"].isin(patients)]
    cm = cm.assign(drug=cm["medication"].map(DRUGS), day=days_between(cm["start_date"], lookup(cm["patient_id"], infusion)))
    daily = study.tables["toxicity_daily"]
    daily = daily[daily["patient_id"].isin(patients)]
    dday = days_between(daily["date"], lookup(daily["patient_id"], infusion))
    with_daily = patients.isin(daily["patient_id"].unique())
    for col, drug in (("tocilizumab", "tocilizumab"), ("steroids", "steroids"), ("anakinra", "anakinra")):
        rows = cm[cm["drug"] == drug]
        if len(rows):
            given, has = rows.loc[rows["day"] >= 0, ["patient_id", "day"]], np.ones(len(patients), dtype=bool)
        else:
            given, has = pd.DataFrame({"patient_id": daily["patient_id"], "day": dday})[flag(daily[col])], with_daily
        g = given.groupby("patient_id")["day"]
        n = g.size().reindex(patients).fillna(0).astype(int)
        out[drug] = pd.Series(n > 0, index=patients, dtype="boolean").where(has, pd.NA)
        out[f"{drug}_doses"] = pd.Series(n, index=patients, dtype="Int64").where(has, pd.NA)
        if drug == "tocilizumab":
            out["toci_first_day"] = g.min().reindex(patients)
    return out


def icans_timing(episodes: pd.DataFrame, patients: pd.Index) -> pd.DataFrame:
    """ICANS onset relative to CRS (first episodes) and concurrent / after / before / isolated."""
    ep = episodes.sort_values(["patient_id", "onset_day", "episode"], kind="stable")
    crs = ep[ep["tox"] == "CRS"]
    icans = ep[ep["tox"] == "ICANS"].drop_duplicates("patient_id").set_index("patient_id")["onset_day"].reindex(patients)
    crs_first = crs.drop_duplicates("patient_id").set_index("patient_id").reindex(patients)
    crs_end = crs_first["onset_day"] + crs_first["duration_days"] - 1
    during = crs.assign(icans=lookup(crs["patient_id"], icans))
    during = during[(during["icans"] >= during["onset_day"]) & (during["icans"] <= during["onset_day"] + during["duration_days"] - 1)]
    out = pd.DataFrame(index=patients)
    out["icans_after_crs_days"] = icans - crs_first["onset_day"]
    timing = np.select(
        [icans.isna(), patients.isin(during["patient_id"]), crs_first["onset_day"].isna(), icans > crs_end,
         icans < crs_first["onset_day"]],
        [None, "concurrent", "isolated", "after_crs", "before_crs"], None)
    out["icans_timing"] = pd.Series(timing, index=patients, dtype=object)
    return out


def derive_crs_course(study: Any, plan: Any, infusion: pd.Series, adtox: pd.DataFrame, episodes: pd.DataFrame,
                      patients: pd.Index) -> pd.DataFrame:
    daily = study.tables["toxicity_daily"]
    out = crs_symptoms(daily, adtox, patients, plan.toxicity.fever_c)
    out = out.join(management(study, infusion, patients)).join(icans_timing(episodes, patients))
    seiz = pd.Series(daily["seizure"].notna().to_numpy() & (daily["seizure"] != "none").to_numpy()).groupby(
        daily["patient_id"].to_numpy()).any()
    seiz = seiz[seiz.index.isin(adtox["patient_id"].unique())]
    out["seizure"] = seiz.reindex(patients).astype("boolean")
    return out
