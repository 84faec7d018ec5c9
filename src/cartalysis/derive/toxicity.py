"""CRS and ICANS by the ASTCT 2019 consensus, and the adverse-event summaries of a CAR-T safety analysis.

Source: Lee DW et al., Biol Blood Marrow Transplant 2019;25:625-638 (ASTCT consensus grading).

CRS (daily): fever ≥ 38.0 °C starts an episode; grade = the more severe of hypotension (fluids only 2, one
vasopressor 3, two or more 4) and hypoxia (low-flow O2 2, high-flow 3, positive pressure 4); fever alone is grade 1.
Once tocilizumab or steroids have been given in the episode (or are given that day), fever is no longer required:
the episode continues while hypotension or hypoxia persist. An episode is a run of consecutive CRS days; onset day =
days since infusion of its first day; duration = last − first + 1 days.

ICANS (daily): the worst domain of ICE score (7–9 → 1, 3–6 → 2, 0–2 → 3), depressed consciousness (1–4;
unarousable 4, which also covers ICE 0 while unarousable), seizure (resolving 3, prolonged 4), deep focal motor
weakness (4) and cerebral oedema (focal 3, diffuse 4).

Without daily data, the grades of ``adverse_events`` rows whose term is in the plan's term lists are used
(one episode per AE row). Grade 5 (death from CRS/ICANS) can only come from ``adverse_events``.

One safety picture: the episodes graded from daily data become ADAE rows (``source`` = ``toxicity_daily``, one per
episode, term = the first of the plan's CRS/ICANS terms), and the reported CRS/ICANS rows of the same patients are
kept but flagged out of analysis (``anl01fl`` false), so that every AE table counts each patient's CRS once and
agrees with the CRS/ICANS summary. Treatment-emergent: onset on or after infusion, within the plan's
``toxicity.teae_window_days`` and before the plan's ``toxicity.teae_end`` (a later HSCT and/or new therapy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cartalysis.derive._common import days_between, flag, lookup, lower_set

OXYGEN_GRADE = {"none": 0, "low_flow": 2, "high_flow": 3, "positive_pressure": 4}
CONSCIOUSNESS_GRADE = {"alert": 0, "awakens_spontaneously": 1, "awakens_to_voice": 2, "awakens_to_touch": 3, "unarousable": 4}
SEIZURE_GRADE = {"none": 0, "resolving": 3, "prolonged": 4}
EDEMA_GRADE = {"none": 0, "focal": 3, "diffuse": 4}
EPISODE_COLUMNS = ["patient_id", "tox", "episode", "onset_dt", "onset_day", "end_dt", "duration_days", "max_grade", "source"]


def crs_support_grade(daily: pd.DataFrame) -> np.ndarray:
    """Per day, the more severe of the hypotension and hypoxia grades (0 when neither)."""
    vaso = daily["vasopressors"].astype("Float64").fillna(0).to_numpy(dtype=float)
    hypo = np.where(vaso >= 2, 4, np.where(vaso >= 1, 3, np.where(flag(daily["hypotension"]), 2, 0)))
    oxy = daily["oxygen"].map(OXYGEN_GRADE).fillna(0).to_numpy(dtype=int)
    return np.maximum(hypo, oxy)


def ice_grade(ice: pd.Series) -> np.ndarray:
    """ICE 7–9 → 1, 3–6 → 2, 0–2 → 3, 10 or missing → 0."""
    v = ice.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return np.select([v <= 2, v <= 6, v <= 9], [3, 2, 1], 0)


def icans_daily_grade(daily: pd.DataFrame) -> np.ndarray:
    """ICANS grade of each day: the most severe domain."""
    domains = [
        ice_grade(daily["ice_score"]),
        daily["consciousness"].map(CONSCIOUSNESS_GRADE).fillna(0).to_numpy(dtype=int),
        daily["seizure"].map(SEIZURE_GRADE).fillna(0).to_numpy(dtype=int),
        np.where(flag(daily["motor_weakness"]), 4, 0),
        daily["cerebral_edema"].map(EDEMA_GRADE).fillna(0).to_numpy(dtype=int),
    ]
    return np.maximum.reduce(domains)


def crs_daily_grade(daily: pd.DataFrame, fever_c: float) -> tuple[np.ndarray, np.ndarray]:
    """CRS grade and episode number (0 = no CRS) of each day; ``daily`` sorted by patient and date.

    The fever-masking rule makes a day depend on the episode so far, so this walks the days in order (one pass).
    """
    support = crs_support_grade(daily)
    temp = daily["temp_max_c"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        fever = temp >= fever_c
    treated = flag(daily["tocilizumab"]) | flag(daily["steroids"])
    pid = daily["patient_id"].to_numpy()
    day = (daily["date"].to_numpy().astype("datetime64[D]")).astype(np.int64)
    grade = np.zeros(len(daily), dtype=int)
    episode = np.zeros(len(daily), dtype=int)
    n_ep, in_ep, masked = 0, False, False
    for i in range(len(daily)):
        if i == 0 or pid[i] != pid[i - 1]:
            n_ep, in_ep, masked = 0, False, False
        consecutive = in_ep and i > 0 and pid[i] == pid[i - 1] and day[i] == day[i - 1] + 1
        if fever[i]:
            if not consecutive:
                n_ep += 1
                masked = False
            grade[i] = max(1, support[i])
        elif consecutive and (masked or treated[i]) and support[i] > 0:
            grade[i] = support[i]
        in_ep = grade[i] > 0
        if in_ep:
            episode[i] = n_ep
            masked = masked or treated[i]
        else:
            masked = False
    return grade, episode


def runs(pid: np.ndarray, day: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Episode number of each positive day: runs of consecutive positive days per patient (0 elsewhere)."""
    same = np.r_[False, pid[1:] == pid[:-1]]
    contiguous = np.r_[False, day[1:] == day[:-1] + 1]
    prev_pos = np.r_[False, positive[:-1]]
    start = positive & ~(same & contiguous & prev_pos)
    new_patient = ~same
    count = np.cumsum(start)
    base = np.maximum.accumulate(np.where(new_patient, np.r_[0, count[:-1]], 0))
    return np.where(positive, count - base, 0)


def grade_daily(daily: pd.DataFrame, infusion: pd.Series, plan: Any) -> pd.DataFrame:
    """``adtox``: each ``toxicity_daily`` day with its CRS and ICANS grades and episode numbers."""
    d = daily[daily["date"].notna() & daily["patient_id"].isin(infusion.index)].sort_values(["patient_id", "date"], kind="stable")
    crs, crs_ep = crs_daily_grade(d, plan.toxicity.fever_c)
    icans = icans_daily_grade(d)
    day = d["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    return pd.DataFrame({
        "patient_id": d["patient_id"].to_numpy(), "date": d["date"].to_numpy(),
        "ady": days_between(d["date"], lookup(d["patient_id"], infusion)).to_numpy(),
        "crs_grade": crs, "icans_grade": icans, "crs_episode": crs_ep,
        "icans_episode": runs(d["patient_id"].to_numpy(), day, icans > 0),
    })


def daily_episodes(adtox: pd.DataFrame) -> pd.DataFrame:
    """CRS and ICANS episodes from the graded days."""
    parts = []
    for tox, g, e in (("CRS", "crs_grade", "crs_episode"), ("ICANS", "icans_grade", "icans_episode")):
        pos = adtox[adtox[e] > 0]
        agg = pos.groupby(["patient_id", e]).agg(onset_dt=("date", "min"), onset_day=("ady", "min"), end_dt=("date", "max"),
                                                  end_day=("ady", "max"), max_grade=(g, "max")).reset_index()
        parts.append(pd.DataFrame({"patient_id": agg["patient_id"], "tox": tox, "episode": agg[e], "onset_dt": agg["onset_dt"],
                                   "onset_day": agg["onset_day"], "end_dt": agg["end_dt"],
                                   "duration_days": agg["end_day"] - agg["onset_day"] + 1, "max_grade": agg["max_grade"],
                                   "source": "daily"}))
    return pd.concat(parts, ignore_index=True)


def ae_category(adverse_events: pd.DataFrame, plan: Any) -> pd.Series:
    """AE category from the plan's term and SOC lists (case-insensitive; first match wins in the order listed)."""
    t = plan.toxicity
    term = adverse_events["term"].astype(str).str.strip().str.casefold()
    soc = adverse_events["soc"].astype(object).where(adverse_events["soc"].notna(), "").astype(str).str.strip().str.casefold()
    conds = [term.isin(lower_set(t.crs_terms)), term.isin(lower_set(t.icans_terms)), term.isin(lower_set(t.hlh_terms)),
             term.isin(lower_set(t.hypogamma_terms)), term.isin(lower_set(t.infection_terms)) | soc.isin(lower_set(t.infection_socs))]
    return pd.Series(np.select(conds, ["crs", "icans", "hlh", "hypogamma", "infection"], "other"), index=adverse_events.index)


def treatment_emergent(onset: pd.Series, inf: pd.Series, end: pd.Series | None, plan: Any) -> pd.Series:
    """Onset on or after infusion, at most ``toxicity.teae_window_days`` after it, and before ``end`` (the plan's
    ``toxicity.teae_end`` event, when the patient has one)."""
    te = inf.notna() & (onset >= inf)
    window = plan.toxicity.teae_window_days
    if window is not None:
        te &= days_between(onset, inf) <= window
    if end is not None:
        te &= ~(end.notna() & (onset >= end))
    return te.fillna(False).astype(bool)


def derive_adae(adverse_events: pd.DataFrame, infusion: pd.Series, plan: Any,
                teae_end: pd.Series | None = None) -> pd.DataFrame:
    """``adae``: the reported AEs with study days, treatment-emergent flag and category (``teae_end``: per patient,
    the date from which AEs are no longer treatment emergent)."""
    ae = adverse_events.copy()
    inf = lookup(ae["patient_id"], infusion)
    ae["asty"] = days_between(ae["onset_date"], inf)
    ae["aeny"] = days_between(ae["end_date"], inf)
    ae["duration_days"] = days_between(ae["end_date"], ae["onset_date"]) + 1
    end = lookup(ae["patient_id"], teae_end) if teae_end is not None else None
    ae["trtemfl"] = treatment_emergent(ae["onset_date"], inf, end, plan)
    ae["category"] = ae_category(ae, plan)
    ae["source"] = "adverse_events"
    ae["anl01fl"] = True
    return ae


def worst_flag(ae: pd.DataFrame) -> pd.Series:
    """The patient's first analysed TEAE row with the worst grade for each term."""
    order = pd.Series(np.arange(len(ae)), index=ae.index)
    te = ae[ae["trtemfl"] & ae["anl01fl"]].assign(_order=order)
    te = te.sort_values(["patient_id", "term", "grade", "onset_date", "_order"],
                        ascending=[True, True, False, True, True], kind="stable")
    return order.isin(te.drop_duplicates(["patient_id", "term"])["_order"])


SOC = {"crs": "Immune system disorders", "icans": "Nervous system disorders"}  # MedDRA SOC of the two terms


def graded_rows(episodes: pd.DataFrame, ae: pd.DataFrame, infusion: pd.Series, teae_end: pd.Series | None,
                plan: Any) -> pd.DataFrame:
    """ADAE rows for CRS/ICANS episodes graded from daily data. Serious and related are taken from the patient's
    reported rows of the same toxicity (any serious / any related); without such rows they are unknown, not
    guessed."""
    ep = episodes[episodes["source"] == "daily"]
    if ep.empty:
        return ae.iloc[0:0]
    cat = ep["tox"].str.lower()
    terms = {"crs": plan.toxicity.crs_terms[0] if plan.toxicity.crs_terms else "Cytokine release syndrome",
             "icans": plan.toxicity.icans_terms[0] if plan.toxicity.icans_terms else "ICANS"}
    reported = ae[ae["category"].isin(["crs", "icans"])]
    flags = {c: reported.assign(**{c: flag(reported[c])}).groupby(["patient_id", "category"])[c].any()
             for c in ("serious", "related")}
    key = pd.MultiIndex.from_arrays([ep["patient_id"], cat])
    inf = lookup(ep["patient_id"], infusion)
    end = lookup(ep["patient_id"], teae_end) if teae_end is not None else None
    rows = pd.DataFrame({
        "patient_id": ep["patient_id"].to_numpy(), "term": cat.map(terms).to_numpy(), "soc": cat.map(SOC).to_numpy(),
        "onset_date": ep["onset_dt"].to_numpy(), "end_date": ep["end_dt"].to_numpy(),
        "grade": ep["max_grade"].astype(int).to_numpy(),
        "serious": pd.array(flags["serious"].reindex(key).to_numpy(), dtype="boolean"),
        "related": pd.array(flags["related"].reindex(key).to_numpy(), dtype="boolean"),
        "asty": ep["onset_day"].to_numpy(), "aeny": (ep["onset_day"] + ep["duration_days"] - 1).to_numpy(),
        "duration_days": ep["duration_days"].to_numpy(),
        "trtemfl": treatment_emergent(ep["onset_dt"], inf, end, plan).to_numpy(), "category": cat.to_numpy(),
        "source": "toxicity_daily", "anl01fl": True})
    return rows.reindex(columns=ae.columns)


def ae_episodes(adae: pd.DataFrame, patients: pd.Index) -> pd.DataFrame:
    """CRS/ICANS episodes from treatment-emergent AE rows of ``patients`` (one episode per row)."""
    rows = adae[adae["trtemfl"] & adae["category"].isin(["crs", "icans"]) & adae["patient_id"].isin(patients)]
    rows = rows.sort_values(["patient_id", "category", "onset_date"], kind="stable")
    return pd.DataFrame({
        "patient_id": rows["patient_id"], "tox": rows["category"].str.upper(),
        "episode": rows.groupby(["patient_id", "category"]).cumcount() + 1, "onset_dt": rows["onset_date"],
        "onset_day": rows["asty"], "end_dt": rows["end_date"], "duration_days": rows["duration_days"],
        "max_grade": rows["grade"].astype(int), "source": "adverse_events",
    })


def _summary(ep: pd.DataFrame, prefix: str, index: pd.Index, with_onset: bool = True) -> pd.DataFrame:
    """Per patient: any, worst grade, grade ≥ 3, first episode's onset day and duration, number of episodes."""
    first = ep.sort_values(["patient_id", "onset_day", "episode"], kind="stable").drop_duplicates("patient_id").set_index("patient_id")
    out = pd.DataFrame(index=index)
    grade = ep.groupby("patient_id")["max_grade"].max().reindex(index).fillna(0).astype(int)
    out[prefix] = grade > 0
    out[f"{prefix}_grade"] = grade
    out[f"{prefix}_g3"] = grade >= 3
    if with_onset:
        out[f"{prefix}_onset_day"] = first["onset_day"]
        out[f"{prefix}_duration_days"] = first["duration_days"]
    return out


def teae_end_date(plan: Any, hsct_dt: pd.Series, new_therapy_dt: pd.Series) -> pd.Series | None:
    """Per patient, the date the plan's ``toxicity.teae_end`` ends the treatment-emergent period (None: no end)."""
    end = plan.toxicity.teae_end
    if end == "none":
        return None
    parts = {"hsct": [hsct_dt], "new_therapy": [new_therapy_dt], "hsct_or_new_therapy": [hsct_dt, new_therapy_dt]}[end]
    return pd.concat(parts, axis=1).min(axis=1)


def derive_toxicity(study: Any, plan: Any, ms: pd.DataFrame,
                    teae_end: pd.Series | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return ``(adae, adtox, tox_episodes, per-patient toxicity)`` for the infused patients of ``ms``
    (``teae_end``: ``teae_end_date`` of each patient)."""
    infusion = ms["infusion_date"]
    adae = derive_adae(study.tables["adverse_events"], study.tables["subjects"].set_index("patient_id")["infusion_date"],
                       plan, teae_end)
    source = plan.toxicity.source
    daily = study.tables["toxicity_daily"] if source != "adverse_events" else study.tables["toxicity_daily"].iloc[0:0]
    adtox = grade_daily(daily, infusion, plan)
    with_daily = pd.Index(adtox["patient_id"].unique())
    ep_daily = daily_episodes(adtox)
    ae_patients = ms.index if source == "adverse_events" else (ms.index.difference(with_daily) if source == "auto" else ms.index[:0])
    episodes = pd.concat([e for e in (ep_daily, ae_episodes(adae, ae_patients)) if not e.empty] or [ep_daily], ignore_index=True)
    episodes = episodes.reindex(columns=EPISODE_COLUMNS).sort_values(["patient_id", "tox", "episode"], kind="stable").reset_index(drop=True)

    pt = pd.DataFrame(index=ms.index)
    for tox in ("CRS", "ICANS"):
        p = tox.lower()
        ep = episodes[episodes["tox"] == tox]
        pt = pt.join(_summary(ep, p, ms.index))
        pt[f"{p}_episodes"] = ep.groupby("patient_id").size().reindex(ms.index).fillna(0).astype(int)
        pt[f"{p}_source"] = np.where(ms.index.isin(with_daily), "daily", np.where(ms.index.isin(ae_patients), "adverse_events", None))
    d = daily[daily["patient_id"].isin(with_daily)]
    for drug in ("tocilizumab", "steroids"):
        pt[drug] = pd.Series(flag(d[drug]), index=d.index).groupby(d["patient_id"]).any().reindex(ms.index).astype("boolean")

    # one safety picture: daily-graded episodes enter ADAE, the reported CRS/ICANS rows of patients whose CRS/ICANS
    # come from another source (daily data, or none when the plan says daily) leave the analysis
    crs_icans = adae["category"].isin(["crs", "icans"])
    adae["anl01fl"] = ~crs_icans | adae["patient_id"].isin(ae_patients)
    graded = graded_rows(episodes, adae, infusion, teae_end, plan)
    adae = pd.concat([adae, graded], ignore_index=True) if not graded.empty else adae
    adae["worst_fl"] = worst_flag(adae)
    adae = adae.assign(_order=np.arange(len(adae))).sort_values(["patient_id", "onset_date", "term", "_order"],
                                                               kind="stable").drop(columns="_order")
    adae = adae.reset_index(drop=True)
    te = adae[adae["trtemfl"] & adae["anl01fl"] & adae["patient_id"].isin(ms.index)]
    te_reported = te[te["source"] == "adverse_events"]
    for cat, onset in (("hlh", True), ("hypogamma", True), ("infection", False)):
        rows = te_reported[te_reported["category"] == cat]
        ep = pd.DataFrame({"patient_id": rows["patient_id"], "episode": 1, "onset_day": rows["asty"],
                           "duration_days": rows["duration_days"], "max_grade": rows["grade"].astype(int)})
        s = _summary(ep, cat, ms.index, with_onset=onset)
        pt = pt.join(s.drop(columns=[f"{cat}_g3"]) if cat != "infection" else s)
    g = te.groupby("patient_id")["grade"].max().reindex(ms.index)
    pt["teae"] = g.notna()
    pt["teae_g3"] = (g >= 3).fillna(False).astype(bool)
    death_day = days_between(ms["death_dt"], infusion)
    pt["death"] = ms["death_dt"].notna()
    pt["death_dt"] = ms["death_dt"]
    pt["death_day"] = death_day
    pt["death_cause"] = ms["death_cause"]
    pt["death_early"] = (death_day <= plan.toxicity.early_death_days).fillna(False).astype(bool)
    return adae, adtox, episodes, pt
