"""Cellular kinetics: non-compartmental parameters of transgene levels (qPCR) after infusion.

Definitions follow PKNCA (``pk.calc.cmax``, ``pk.calc.tmax``, ``pk.calc.clast.obs``, ``pk.calc.tlast``,
``pk.calc.aucint``): Cmax = highest level, Tmax = its first day; Clast/Tlast = last level ≥ LLOQ; AUC from day 0 to
``pk.auc_end_day`` by the linear trapezoid or "linear-up/log-down" (log trapezoid
``(C1 − C2)·Δt / ln(C1/C2)`` where the level falls and both are > 0), interpolating the level at the end day with the
same rule. BLQ handling (plan ``pk.blq``) "pknca" = PKNCA's default ``conc.blq = list(first="keep", middle="drop",
last="keep")`` with kept values set to 0. Written here because PKNCA is R-only and the few formulas are simpler
than a dependency; ``tests/derive/test_pk.py`` checks them against hand calculations.

Day 0 (infusion) has no transgene: when there is no day-0 sample the level at day 0 is taken as 0 for the AUC
(PKNCA does the same for the first dose); it is not a sample for Cmax/Tmax.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

UNIT = "copies/ug gDNA"
ADPP_COLUMNS = ["patient_id", "matrix", "param", "aval", "unit", "method", "comment"]


def blq_flags(pk: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(below LLOQ, usable) per sample: an empty value with an LLOQ is BLQ; an empty value without one is unusable."""
    value, lloq = pk["value"], pk["lloq"]
    blq = (value.isna() & lloq.notna()) | (value < lloq).fillna(False)
    usable = value.notna() | lloq.notna()
    return blq.astype(bool), usable.astype(bool)


def apply_blq(pk: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Samples with ``conc`` after the BLQ rule (dropped samples removed); ``pk`` sorted by patient and day."""
    blq, usable = blq_flags(pk)
    s = pk[usable].assign(blq=blq[usable], conc=pk["value"][usable].astype(float))
    q = s[~s["blq"]]
    first = s["patient_id"].map(q.groupby("patient_id")["day"].min())
    last = s["patient_id"].map(q.groupby("patient_id")["day"].max())
    if rule == "drop":
        s = s[~s["blq"]]
    elif rule == "pknca":
        middle = s["blq"] & first.notna() & (s["day"] > first) & (s["day"] < last)
        s = s[~middle]
    return s.assign(conc=np.where(s["blq"], 0.0, s["conc"]))


def _segment_auc(t1: np.ndarray, c1: np.ndarray, t2: np.ndarray, c2: np.ndarray, log_down: bool) -> np.ndarray:
    dt = t2 - t1
    use_log = log_down & (c2 < c1) & (c2 > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # discarded where not used
        log_area = (c1 - c2) * dt / np.log(c1 / c2)
    return np.where(use_log, log_area, (c1 + c2) / 2 * dt)


def _interpolate(t1: np.ndarray, c1: np.ndarray, t2: np.ndarray, c2: np.ndarray, t: float, log_down: bool) -> np.ndarray:
    f = (t - t1) / (t2 - t1)
    use_log = log_down & (c2 < c1) & (c2 > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # discarded where not used
        log_c = c1 * np.exp(f * np.log(c2 / c1))
    return np.where(use_log, log_c, c1 + f * (c2 - c1))


def auc_interval(s: pd.DataFrame, end: float, method: str) -> pd.Series:
    """AUC from day 0 to ``end`` per patient (NaN when no sample reaches ``end``); ``s`` sorted, with ``conc``."""
    has0 = s.groupby("patient_id")["day"].min() <= 0
    zero = pd.DataFrame({"patient_id": has0.index[~has0.to_numpy()], "day": 0.0, "conc": 0.0})
    pts = pd.concat([zero, s[["patient_id", "day", "conc"]]], ignore_index=True).sort_values(["patient_id", "day"], kind="stable")
    pid = pts["patient_id"].to_numpy()
    t, c = pts["day"].to_numpy(float), pts["conc"].to_numpy(float)
    same = np.r_[pid[1:] == pid[:-1], False]
    t1, c1, t2, c2 = t[:-1], c[:-1], t[1:], c[1:]
    keep = same[:-1] & (t1 < end)
    log_down = method == "linear-up/log-down"
    cross = t2 > end
    c2e = np.where(cross, _interpolate(t1, c1, t2, c2, end, log_down), c2)
    t2e = np.where(cross, end, t2)
    area, owner = _segment_auc(t1, c1, t2e, c2e, log_down)[keep], pid[:-1][keep]
    # Each patient's segments are contiguous (pts is sorted); math.fsum gives the correctly rounded sum, the same
    # bits on every pandas version (pandas 3's grouped sum can differ from pandas 2's in the last bit).
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else np.array([], dtype=np.int64)
    auc = pd.Series([math.fsum(a) for a in np.split(area, starts[1:])] if len(owner) else [], index=owner[starts],
                    dtype=np.float64)
    reaches = pts.groupby("patient_id")["day"].max() >= end
    return auc.reindex(reaches.index).where(reaches)


def derive_pk(study: Any, plan: Any, infused: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(adpp, per-patient NCA columns)`` for the infused patients."""
    p = plan.pk
    pk = study.tables["pk"]
    pk = pk[pk["patient_id"].isin(infused) & pk["day"].notna()]
    blood = pk[(pk["matrix"] == p.matrix) & (pk["day"] >= 0)].sort_values(["patient_id", "day"], kind="stable")
    s = apply_blq(blood, p.blq)
    pt = pd.DataFrame(index=infused)
    if not s.empty:
        top = s.sort_values(["patient_id", "conc", "day"], ascending=[True, False, True], kind="stable").drop_duplicates("patient_id")
        pt["cmax"] = top.set_index("patient_id")["conc"]
        pt["tmax"] = top.set_index("patient_id")["day"]
        q = s[~s["blq"]].drop_duplicates("patient_id", keep="last").set_index("patient_id")
        pt["clast"] = q["conc"]
        pt["tlast"] = q["day"]
        pt["auc0_28"] = auc_interval(s, p.auc_end_day, p.auc_method)
    else:
        pt[["cmax", "tmax", "clast", "tlast", "auc0_28"]] = np.nan
    pt["persistence_day"] = pt["tlast"]
    csf = pk[pk["matrix"] == "csf"]
    csf_blq, csf_ok = blq_flags(csf)
    pt["csf_detected"] = (~csf_blq[csf_ok]).groupby(csf["patient_id"][csf_ok]).any().reindex(infused).astype("boolean")

    pt = pt[["cmax", "tmax", "auc0_28", "clast", "tlast", "persistence_day", "csf_detected"]]
    sampled = pd.Index(blood["patient_id"].unique()).sort_values()
    blq_desc = {"pknca": "BLQ: leading/trailing 0, middle dropped", "zero": "BLQ: 0", "drop": "BLQ: dropped"}[p.blq]
    rows = []
    for param, col, unit in (("CMAX", "cmax", UNIT), ("TMAX", "tmax", "day"), ("AUCINT", "auc0_28", f"{UNIT}*day"),
                             ("CLST", "clast", UNIT), ("TLST", "tlast", "day")):
        v = pt[col].reindex(sampled)
        method = f"{p.auc_method}; 0-{p.auc_end_day:g} d; {blq_desc}" if param == "AUCINT" else blq_desc
        comment = np.where(v.isna(), f"no sample on or after day {p.auc_end_day:g}" if param == "AUCINT" else "no level >= LLOQ", None)
        rows.append(pd.DataFrame({"patient_id": sampled, "matrix": p.matrix, "param": param, "aval": v.to_numpy(),
                                  "unit": unit, "method": method, "comment": comment}))
    det = pt["csf_detected"].dropna()
    rows.append(pd.DataFrame({"patient_id": det.index, "matrix": "csf", "param": "DETECT", "aval": det.astype(int).to_numpy(),
                              "unit": "1=detected", "method": "any sample >= LLOQ", "comment": None}))
    adpp = pd.concat(rows, ignore_index=True).reindex(columns=ADPP_COLUMNS)
    order = {k: i for i, k in enumerate(("CMAX", "TMAX", "AUCINT", "CLST", "TLST", "DETECT"))}
    adpp = adpp.assign(_o=adpp["param"].map(order)).sort_values(["patient_id", "_o"], kind="stable").drop(columns="_o")
    return adpp.reset_index(drop=True), pt
