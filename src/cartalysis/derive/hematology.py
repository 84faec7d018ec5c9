"""Haematological toxicity after CAR-T: count recovery, prolonged cytopenia and ICAHT, per infused patient.

Counts (10^9/L) come from ``labs`` (tests ``anc``, ``platelets``) and from the ``anc``/``platelets`` columns of
``assessments`` (their date → day from infusion); post-infusion values only (day ≥ 0); two values on one day: the
lower is kept (the conservative reading).

- **Recovery** (CIBMTR Forms Instruction Manual, F4100: ANC ≥ 0.5 × 10^9/L on 3 consecutive measurements after
  the nadir): the first day of the first run of *plan* ``safety.recovery_confirm`` consecutive measurements at or
  above the threshold that follows a measurement below it. A patient never below the threshold had no cytopenia
  (counted as recovered at every landmark, and not in the time-to-recovery analysis). Time to recovery: event =
  recovery, competing event = death before recovery, censored at the last measurement.
- **Recovered by day D**: never cytopenic or recovered on or before D; not recovered when dead before D or measured
  on/after D without recovery; unknown (empty) otherwise.
- **Grade ≥ 3 cytopenia beyond day D** (CTCAE v5: ANC < 1.0, platelets < 50): the first measurement in
  [D, D + ``prolonged_window_days``] is grade ≥ 3; empty without a measurement there.
- **ICAHT** (Rejeski K et al., EHA/EBMT consensus, Blood 2023;142:865): early (days 0–30) from the cumulative
  days with ANC ≤ 0.5 (G1 1–6, G2 7–13, G3 ≥ 14, G4 ≥ 30 days) or ≤ 0.1 × 10^9/L (≥ 7 days: at least G3); days
  counted up to death, relapse, HSCT or new therapy. Late (day 31 to ``icaht_late_end_day``): the worst of ANC
  ≤ 1.5 (G1), ≤ 1.0 (G2), ≤ 0.5 (G3), ≤ 0.1 (G4) reached by at least two measurements. Days between measurements:
  ``count_fill = "locf"`` carries each count to the next measurement (never past the last one),
  ``"measured"`` counts measured days only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cartalysis.derive._common import days_between, lookup

G3_BELOW = {"anc": 1.0, "platelets": 50.0}  # CTCAE v5 grade 3 starts below these (10^9/L)
EARLY_END = 30


def count_series(study: Any, infusion: pd.Series, test: str) -> pd.DataFrame:
    """``patient_id, day, value`` of one count after infusion, lowest value per day, sorted."""
    labs = study.tables["labs"]
    t = labs[labs["test"].astype(str).str.strip().str.lower() == test]
    a = study.tables["assessments"]
    a = a[a[test].notna()]
    frames = [t[["patient_id", "day", "value"]],
              pd.DataFrame({"patient_id": a["patient_id"], "day": days_between(a["date"], lookup(a["patient_id"], infusion)),
                            "value": a[test].astype(float)})]
    s = pd.concat([f for f in frames if len(f)] or [frames[0]], ignore_index=True)
    s = s[s["patient_id"].isin(infusion.index) & (s["day"] >= 0)].dropna(subset=["day", "value"])
    s = s.assign(day=s["day"].astype(float), value=s["value"].astype(float))
    s = s.groupby(["patient_id", "day"], as_index=False)["value"].min()
    return s.sort_values(["patient_id", "day"], kind="stable").reset_index(drop=True)


def _positions(s: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row index and the index of each row's patient's first row (``s`` sorted by patient and day)."""
    pid = s["patient_id"].to_numpy()
    idx = np.arange(len(s))
    first = np.r_[True, pid[1:] != pid[:-1]] if len(s) else np.zeros(0, dtype=bool)
    return idx, np.maximum.accumulate(np.where(first, idx, 0)) if len(s) else idx


def recovery(s: pd.DataFrame, threshold: float, confirm: int) -> pd.DataFrame:
    """Per patient of the sorted series ``s``: ``cytopenic`` (any value below ``threshold``) and ``day``, the first
    day of the first run of ``confirm`` consecutive values ≥ threshold after the first one below it (NaN: none).

    Whole-array form of walking each series: a row's run length is its distance to the last row that is below
    the threshold or not yet past the first low value (rows before a patient's first row count as such)."""
    idx, start = _positions(s)
    below = s["value"].to_numpy(dtype=float) < threshold
    pid = s["patient_id"]
    first_low = pd.Series(np.where(below, idx, np.iinfo(np.int64).max)).groupby(pid.to_numpy()).transform("min").to_numpy()
    ok = ~below & (idx > first_low)
    last_bad = np.maximum.accumulate(np.where(ok, start - 1, idx)) if len(s) else idx
    hit = ok & (idx - last_bad == confirm)
    days = s["day"].to_numpy(dtype=float)
    rec = pd.Series(days[np.maximum(idx - confirm + 1, 0)][hit], index=pid.to_numpy()[hit])
    out = pd.DataFrame({"cytopenic": pd.Series(below, index=pid.to_numpy()).groupby(level=0).any()})
    out["day"] = rec.groupby(level=0).min().reindex(out.index)
    return out


def icaht_early(s: pd.DataFrame, stop: pd.Series, fill: str) -> pd.Series:
    """Early ICAHT grade (0–4) per patient from the sorted ANC series on days 0–30 before ``stop`` (by patient);
    NaN without a count in that period. ``locf``: each count holds from its day to the day before the next count
    (the last one only on its own day); ``measured``: only days with a count."""
    pid = s["patient_id"].to_numpy()
    day = s["day"].to_numpy(dtype=float)
    end = np.minimum(EARLY_END, stop.reindex(pid).fillna(np.inf).to_numpy())
    if fill == "measured":
        d = np.floor(day)
        n_days = ((d >= 0) & (d <= end)).astype(float)
    else:
        nxt = np.r_[day[1:], np.nan]
        last = np.r_[pid[1:] != pid[:-1], True] if len(s) else np.zeros(0, dtype=bool)
        hi = np.where(last, np.floor(day), np.ceil(nxt) - 1)
        end = np.minimum(end, pd.Series(np.floor(day)).groupby(pid).transform("max").to_numpy())
        n_days = np.clip(np.minimum(hi, end) - np.maximum(np.ceil(day), 0) + 1, 0, None)
    v = s["value"].to_numpy(dtype=float)
    f = pd.DataFrame({"n": n_days, "d500": n_days * (v <= 0.5), "d100": n_days * (v <= 0.1)}).groupby(pid).sum()
    grade = np.select([f["d500"] >= 30, (f["d500"] >= 14) | (f["d100"] >= 7), f["d500"] >= 7, f["d500"] >= 1],
                      [4.0, 3.0, 2.0, 1.0], 0.0)
    return pd.Series(np.where(f["n"] > 0, grade, np.nan), index=f.index)


def icaht_late(s: pd.DataFrame, end: float, stop: pd.Series) -> pd.Series:
    """Late ICAHT grade per patient: the worst level (≤ 1.5, 1.0, 0.5, 0.1) met by at least two ANC counts on days
    31 to ``end`` (before ``stop``); NaN without a count there."""
    pid = s["patient_id"].to_numpy()
    day = s["day"].to_numpy(dtype=float)
    keep = (day > EARLY_END) & (day <= np.minimum(end, stop.reindex(pid).fillna(np.inf).to_numpy()))
    v = s["value"].to_numpy(dtype=float)[keep]
    f = pd.DataFrame({f"g{g}": v <= cut for g, cut in enumerate((1.5, 1.0, 0.5, 0.1), start=1)}).groupby(pid[keep]).sum()
    return pd.Series(np.select([f[f"g{g}"] >= 2 for g in (4, 3, 2, 1)], [4.0, 3.0, 2.0, 1.0], 0.0), index=f.index)


def _stop_day(pt: pd.DataFrame) -> pd.Series:
    """Day of the first of death, relapse, HSCT or new therapy (ICAHT stops counting there)."""
    cols = [c for c in ("death_day", "relapse_day", "hsct_day", "new_therapy_day") if c in pt]
    return pt[cols].min(axis=1).fillna(np.inf) if cols else pd.Series(np.inf, index=pt.index)


def derive_hematology(study: Any, plan: Any, infusion: pd.Series, pt: pd.DataFrame) -> pd.DataFrame:
    """Per infused patient (index of ``pt``, which holds ``death_day`` and the stop days): recovery, prolonged
    cytopenia and ICAHT columns (``docs/derived-datasets.md``)."""
    s = plan.safety
    out = pd.DataFrame(index=pt.index)
    stop = _stop_day(pt)
    death = pt["death_day"] if "death_day" in pt else pd.Series(np.nan, index=pt.index)
    for test, thr, prefix in (("anc", s.anc_recovery, "anc"), ("platelets", s.platelet_recovery, "plt")):
        series = count_series(study, infusion, test)
        r = recovery(series, thr, s.recovery_confirm).reindex(pt.index)
        have = pt.index.isin(series["patient_id"])
        cyt = r["cytopenic"].astype("boolean")
        rec = r["day"].astype(float)
        last = series.groupby("patient_id")["day"].max().reindex(pt.index)
        out[f"{prefix}_cytopenia"] = cyt
        out[f"{prefix}_recovery_day"] = rec
        died_first = death.notna() & (rec.isna() | (death < rec))
        # time to recovery with death competing: among patients who were cytopenic
        status = np.where(rec.notna(), 1, np.where(died_first & death.notna(), 2, 0))
        time = np.where(rec.notna(), rec, np.where(status == 2, death, last))
        cyt_mask = cyt.fillna(False).to_numpy(dtype=bool)
        out[f"{prefix}_rec_time"] = np.where(cyt_mask, time, np.nan)
        out[f"{prefix}_rec_status"] = pd.Series(status, index=pt.index, dtype="Int64").where(cyt_mask, pd.NA)
        for d in s.recovery_days:
            recovered = (cyt == False) | (rec <= d)  # noqa: E712 - nullable elementwise
            not_rec = (~recovered.fillna(False)) & ((death < d) | (last >= d))
            value = np.where(recovered.fillna(False), True, np.where(not_rec, False, None))
            out[f"{prefix}_recovered_d{d:g}"] = pd.Series(value, index=pt.index, dtype="boolean").where(have, pd.NA)
        for d in s.prolonged_cytopenia_days:
            w = series[(series["day"] >= d) & (series["day"] <= d + s.prolonged_window_days)]
            first = w.drop_duplicates("patient_id").set_index("patient_id")["value"].reindex(pt.index)
            out[f"{prefix}_g3_beyond_d{d:g}"] = (first < G3_BELOW[test]).astype("boolean").where(first.notna(), pd.NA)
        if test == "anc":
            out["icaht_early"] = icaht_early(series, stop, s.count_fill).reindex(pt.index).astype("Float64").astype("Int64")
            out["icaht_late"] = icaht_late(series, s.icaht_late_end_day, stop).reindex(pt.index).astype("Float64").astype("Int64")
    return out
