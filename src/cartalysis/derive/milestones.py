"""Per-patient clinical milestones after infusion, from ``events`` and the dated tables.

One row per infused patient (index ``patient_id``): infusion date, death (date, cause), first relapse event (date,
CD19 status), first HSCT (date, type), first allo-HSCT, last disease assessment, last date known alive. New
anticancer therapy depends on each endpoint's exempt list, so ``first_new_therapy`` computes it on demand.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cartalysis.derive._common import Problems, first_by_patient, iso, lookup, table_file


def check_dates(study: Any, problems: Problems) -> None:
    """Problems the derivations cannot work around: undated rows, deaths before infusion, unknown patients."""
    subjects = study.tables["subjects"]
    known = set(subjects["patient_id"])
    infusion = subjects.set_index("patient_id")["infusion_date"]
    for table, col in (("assessments", "date"), ("events", "date"), ("adverse_events", "onset_date"),
                       ("toxicity_daily", "date"), ("pk", "day"), ("labs", "day")):
        frame = study.tables[table]
        if frame.empty:
            continue
        f = table_file(study, table)
        for pid in sorted(set(frame["patient_id"]) - known, key=str):
            problems.add(f, "patient_id", f"patient {pid}: not in subjects; cannot derive for this row")
        for _, r in frame[frame[col].isna()].iterrows():
            what = r.get("event", r.get("response", ""))
            what = f" ({what})" if isinstance(what, str) and what else ""
            problems.add(f, col, f"patient {r['patient_id']}: a row{what} has no {col}; cannot place it in time")
        if table in ("pk", "labs"):  # their days count from an infusion
            no_day0 = frame[frame["patient_id"].isin(known) & lookup(frame["patient_id"], infusion).isna()]
            for pid in sorted(set(no_day0["patient_id"]), key=str):
                problems.add(f, col, f"patient {pid}: has {table} rows but no infusion_date (day 0) in subjects")
    ev = study.tables["events"]
    deaths = ev[(ev["event"] == "death") & ev["date"].notna()]
    inf = lookup(deaths["patient_id"], infusion)
    for _, r in deaths[inf.notna() & (deaths["date"] < inf)].iterrows():
        problems.add(table_file(study, "events"), "date",
                     f"patient {r['patient_id']}: death date {iso(r['date'])} is before infusion {iso(infusion[r['patient_id']])}")


def post_infusion_events(study: Any, kind: str) -> pd.DataFrame:
    """``events`` rows of one type on or after the patient's infusion date."""
    ev = study.tables["events"]
    infusion = study.tables["subjects"].set_index("patient_id")["infusion_date"]
    rows = ev[(ev["event"] == kind) & ev["date"].notna()]
    return rows[rows["date"] >= lookup(rows["patient_id"], infusion)]


def first_new_therapy(study: Any, exempt: tuple[str, ...]) -> pd.DataFrame:
    """First post-infusion new anticancer therapy per patient, other than the ``exempt`` ones (by ``detail``).

    Returns columns ``new_therapy_dt``, ``new_therapy`` indexed by patient.
    """
    rows = post_infusion_events(study, "new_therapy")
    rows = rows[~rows["detail"].isin(exempt)]
    first = first_by_patient(rows, "date")
    return pd.DataFrame({"new_therapy_dt": first.set_index("patient_id")["date"],
                         "new_therapy": first.set_index("patient_id")["detail"]})


def after_relapse(study: Any, relapse_dt: pd.Series) -> pd.DataFrame:
    """What was given after relapse, per relapsed patient: ``post_relapse_therapy`` (the ``detail`` of the first
    ``new_therapy`` event on or after the relapse date; missing when none is recorded) and ``post_relapse_hsct``
    (an HSCT on or after it). Indexed like ``relapse_dt``; patients without relapse get missing values."""
    rel = relapse_dt.dropna()
    out = pd.DataFrame(index=relapse_dt.index, columns=["post_relapse_therapy", "post_relapse_hsct"], dtype=object)
    for kind, col in (("new_therapy", "post_relapse_therapy"), ("hsct", "post_relapse_hsct")):
        rows = post_infusion_events(study, kind)
        rows = rows[rows["patient_id"].isin(rel.index)]
        rows = rows[rows["date"] >= lookup(rows["patient_id"], rel)]
        first = first_by_patient(rows, "date").set_index("patient_id")
        if kind == "hsct":
            out[col] = pd.Series(rel.index.isin(first.index), index=rel.index).reindex(relapse_dt.index)
        else:
            out[col] = first["detail"].reindex(relapse_dt.index)
    return out


def last_known_alive(study: Any) -> pd.Series:
    """Latest date in any table per patient (death date for the dead): the OS censoring date."""
    dates = [study.tables["subjects"][["patient_id", c]].rename(columns={c: "d"})
             for c in ("screening_date", "apheresis_date", "release_date", "ld_start_date", "ld_end_date", "infusion_date")]
    for table, cols in (("assessments", ("date",)), ("events", ("date",)), ("adverse_events", ("onset_date", "end_date")),
                        ("toxicity_daily", ("date",))):
        t = study.tables[table]
        dates += [t[["patient_id", c]].rename(columns={c: "d"}) for c in cols]
    subj = study.tables["subjects"].set_index("patient_id")["infusion_date"]
    for table in ("pk", "labs"):
        t = study.tables[table]
        if not t.empty:
            d = lookup(t["patient_id"], subj) + pd.to_timedelta(t["day"].astype(float).round(), unit="D")
            dates.append(pd.DataFrame({"patient_id": t["patient_id"], "d": d}))
    all_dates = pd.concat(dates, ignore_index=True).dropna()
    return all_dates.groupby("patient_id")["d"].max()


def derive_milestones(study: Any, plan: Any) -> pd.DataFrame:
    """The per-patient milestone frame (infused patients only)."""
    subjects = study.tables["subjects"]
    infused = subjects[subjects["infusion_date"].notna()].set_index("patient_id")
    ms = pd.DataFrame(index=infused.index)
    ms["infusion_date"] = infused["infusion_date"]
    ms["in_remission_at_infusion"] = infused["disease_status"].isin(plan.population.in_remission_statuses)

    death = first_by_patient(post_infusion_events(study, "death"), "date").set_index("patient_id")
    ms["death_dt"] = death["date"]
    ms["death_cause"] = death["detail"]
    rel = first_by_patient(post_infusion_events(study, "relapse"), "date").set_index("patient_id")
    ms["relapse_event_dt"] = rel["date"]
    ms["relapse_cd19"] = rel["detail"]
    hsct = post_infusion_events(study, "hsct")
    first = first_by_patient(hsct, "date").set_index("patient_id")
    ms["hsct_dt"] = first["date"]
    ms["hsct_type"] = first["detail"]
    ms["allo_hsct_dt"] = first_by_patient(hsct[hsct["detail"] == "allo"], "date").set_index("patient_id")["date"]
    ass = study.tables["assessments"]
    ass = ass[ass["date"].notna() & (ass["date"] > lookup(ass["patient_id"], ms["infusion_date"]))]
    ms["last_assessment_dt"] = ass.groupby("patient_id")["date"].max()
    alive = last_known_alive(study).reindex(ms.index)
    ms["lastalive_dt"] = ms["death_dt"].where(ms["death_dt"].notna(), alive)
    return ms
