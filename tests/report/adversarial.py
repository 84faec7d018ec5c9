"""Adversarial studies built in code (issue 9): small CAR-T studies unlike the twins, each missing or bending one
thing. ``base(n)`` gives a plain, complete study as DataFrames; the variants change it; ``write(tables, folder,
sap)`` writes the CSV files (a table set to None is left out)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DAY0 = pd.Timestamp("2021-01-04")


def _d(day: float) -> str:
    return (DAY0 + pd.Timedelta(days=day)).date().isoformat()


def base(n: int = 12) -> dict[str, pd.DataFrame | None]:
    """``n`` enrolled and infused patients (infusions a week apart): even patients reach CR on day 28 and odd ones
    do not; every 4th relapses on day 150 and every 3rd dies on day 200 (infection); the rest are last seen on day
    400. Each has grade-3 neutropenia; odd patients CRS grade 2 (reported) with a fever in the daily data."""
    subjects, assessments, events, aes, daily, pk = [], [], [], [], [], []
    for i in range(n):
        pid, off = f"P{i + 1:02d}", 7 * i
        subjects.append({"patient_id": pid, "site": "S1" if i % 2 else "S2", "sex": "female" if i % 3 else "male",
                         "age": 30 + 3 * i, "ph_status": "ph_neg" if i % 2 else "ph_pos", "prior_hsct": "none",
                         "screening_date": _d(off - 40), "enrolled": "yes", "apheresis_date": _d(off - 35),
                         "release_date": _d(off - 10), "ld_start_date": _d(off - 5), "infusion_date": _d(off),
                         "bm_blasts_pct": 40 + i})
        cr = i % 2 == 0
        for day in (28, 90):
            assessments.append({"patient_id": pid, "date": _d(off + day), "bm_blasts_pct": 1 if cr else 60,
                                "pb_blasts": "no" if cr else "yes", "anc": 1.5, "platelets": 150, "emd": "no",
                                "mrd_method": "flow", "mrd_negative": "yes" if cr else "no"})
        if i % 4 == 0:
            events.append({"patient_id": pid, "date": _d(off + 150), "event": "relapse", "detail": "cd19_pos"})
        if i % 3 == 0:
            events.append({"patient_id": pid, "date": _d(off + 200), "event": "death", "detail": "infection"})
        else:
            events.append({"patient_id": pid, "date": _d(off + 400), "event": "last_contact", "detail": ""})
        aes.append({"patient_id": pid, "term": "Neutropenia", "soc": "Blood and lymphatic system disorders",
                    "onset_date": _d(off + 2), "end_date": _d(off + 20), "grade": 3, "serious": "no",
                    "related": "yes"})
        if i % 2:
            aes.append({"patient_id": pid, "term": "Cytokine release syndrome", "soc": "Immune system disorders",
                        "onset_date": _d(off + 3), "end_date": _d(off + 5), "grade": 2, "serious": "no",
                        "related": "yes"})
        for day in (1, 3, 4, 6):
            fever = i % 2 == 1 and day in (3, 4)
            daily.append({"patient_id": pid, "date": _d(off + day), "temp_max_c": 38.6 if fever else 36.8,
                          "hypotension": "no", "vasopressors": 0, "oxygen": "none", "ice_score": 10,
                          "consciousness": "alert", "seizure": "none", "motor_weakness": "no", "cerebral_edema": "none",
                          "tocilizumab": "no", "steroids": "no"})
        for day, v in ((0, 0), (7, 2e4 * (i + 1)), (14, 5e4), (28, 3e3)):
            pk.append({"patient_id": pid, "day": day, "matrix": "blood", "value": v, "unit": "copies/ug gDNA",
                       "lloq": 50})
    frames = {"subjects": subjects, "assessments": assessments, "events": events, "adverse_events": aes,
              "toxicity_daily": daily, "pk": pk}
    return {k: pd.DataFrame(v) for k, v in frames.items()}


def write(tables: dict[str, pd.DataFrame | None], folder: Path, sap: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if frame is not None:
            frame.to_csv(folder / f"{name}.csv", index=False, encoding="utf-8")
    if sap is not None:
        (folder / "sap.toml").write_text(sap, encoding="utf-8")
    return folder
