"""Haematological toxicity, infections, B-cell aplasia, CRS/ICANS management and TEAE by SOC/PT, on hand-built
patients whose answers are worked out in each test; each plan setting is shown to change the result."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from cartalysis.derive import derive_all
from cartalysis.derive.hematology import icaht_early as _icaht_early
from cartalysis.derive.hematology import icaht_late as _icaht_late
from cartalysis.derive.hematology import recovery
from cartalysis.derive.infections import window_labels
from cartalysis.derive.teae import teae_by_soc_pt
from cartalysis.study.plan import Plan

INF = "2022-01-01"


def day(n: int) -> str:
    return str((pd.Timestamp(INF) + pd.Timedelta(days=n)).date())


def safety(**changes) -> Plan:
    return dataclasses.replace(Plan(), safety=dataclasses.replace(Plan().safety, **changes))


def lab(pid: str, d: float, test: str, value: float) -> dict:
    return {"patient_id": pid, "day": float(d), "test": test, "value": value}


def run(build, plan=None, subjects=("P1",), **tables):
    subj = [{"patient_id": p, "infusion_date": INF} for p in subjects]
    return derive_all(build(subjects=subj, **tables), plan or Plan())


def adsl(d, pid="P1"):
    return d.adsl.set_index("patient_id").loc[pid]


def _series(days, values) -> pd.DataFrame:
    return pd.DataFrame({"patient_id": "P1", "day": np.asarray(days, float), "value": np.asarray(values, float)})


def recovery_day(days, values, threshold, confirm):
    r = recovery(_series(days, values), threshold, confirm).loc["P1"]
    return bool(r["cytopenic"]), float(r["day"])


def icaht_early(days, values, stop, fill):
    return float(_icaht_early(_series(days, values), pd.Series({"P1": stop}), fill).get("P1", np.nan))


def icaht_late(days, values, end, stop):
    return float(_icaht_late(_series(days, values), end, pd.Series({"P1": stop})).get("P1", np.nan))


# --- count recovery ---------------------------------------------------------------------------------------------

def test_recovery_is_the_first_of_three_consecutive_counts_after_the_nadir():
    # ANC 1.0 (day 0), 0.2 (3), 0.6 (7), 0.4 (10), 0.7 (14), 0.8 (17), 1.1 (21): the run 0.6 breaks at day 10;
    # 14, 17, 21 are three in a row >= 0.5, so recovery is day 14.
    days = np.array([0, 3, 7, 10, 14, 17, 21.0])
    anc = np.array([1.0, 0.2, 0.6, 0.4, 0.7, 0.8, 1.1])
    assert recovery_day(days, anc, 0.5, 3) == (True, 14.0)
    assert recovery_day(days, anc, 0.5, 1) == (True, 7.0)  # confirm = 1: the first count back
    cyt, rec = recovery_day(days[:6], anc[:6], 0.5, 3)  # only 14 and 17 after the last low count: not yet
    assert cyt and np.isnan(rec)
    cyt, rec = recovery_day(days, anc + 1, 0.5, 3)  # never below 0.5: no cytopenia, no recovery day
    assert not cyt and np.isnan(rec)


def test_recovery_columns_landmarks_and_competing_death(build):
    labs = [lab("P1", d, "anc", v) for d, v in [(0, 1.0), (3, 0.2), (7, 0.6), (10, 0.4), (14, 0.7), (17, 0.8), (21, 1.1),
                                                 (35, 1.5)]]
    # P2 never recovers and dies on day 40 (measured up to day 30): death competes
    labs += [lab("P2", d, "anc", v) for d, v in [(1, 0.3), (10, 0.2), (30, 0.1)]]
    d = run(build, subjects=("P1", "P2"), labs=labs, events=[{"patient_id": "P2", "date": day(40), "event": "death"},
                                                              {"patient_id": "P1", "date": day(100), "event": "last_contact"}])
    p1, p2 = adsl(d, "P1"), adsl(d, "P2")
    assert (p1["anc_recovery_day"], p1["anc_rec_time"], p1["anc_rec_status"]) == (14, 14, 1)
    assert bool(p1["anc_recovered_d28"]) and bool(p1["anc_recovered_d90"])
    assert np.isnan(p2["anc_recovery_day"]) and (p2["anc_rec_time"], p2["anc_rec_status"]) == (40, 2)
    assert pd.isna(p2["anc_recovered_d28"]) is False and not bool(p2["anc_recovered_d28"])  # measured on day 30
    assert not bool(p2["anc_recovered_d60"])  # died before day 60
    # prolonged grade >= 3 neutropenia: P1's first count in [30, 44] is 1.5 (no); P2's day-30 count 0.1 (yes)
    assert not bool(p1["anc_g3_beyond_d30"]) and bool(p2["anc_g3_beyond_d30"])
    assert pd.isna(p1["anc_g3_beyond_d90"])  # nothing measured in [90, 104]: not evaluable
    # the threshold is a plan setting: at 0.75, P1 recovers on day 17 (0.8, 1.1, 1.5)
    assert adsl(run(build, safety(anc_recovery=0.75), subjects=("P1", "P2"), labs=labs), "P1")["anc_recovery_day"] == 17
    assert adsl(run(build, safety(recovery_confirm=1), subjects=("P1", "P2"), labs=labs), "P1")["anc_recovery_day"] == 7
    assert pd.isna(adsl(run(build, safety(prolonged_window_days=2.0), subjects=("P1", "P2"), labs=labs),
                        "P1")["anc_g3_beyond_d30"])  # day 35 is outside [30, 32]


def test_assessment_counts_are_used_and_the_lower_of_one_day_is_kept(build):
    labs = [lab("P1", 5, "platelets", 30.0)]
    ass = [{"patient_id": "P1", "date": day(5), "anc": 1.0, "platelets": 10.0, "pb_blasts": False, "emd": False}]
    a = adsl(run(build, labs=labs, assessments=ass))
    # platelets 10 (assessment) < 30 (lab): the day's value is 10 -> cytopenic, no recovery
    assert bool(a["plt_cytopenia"]) and np.isnan(a["plt_recovery_day"])
    assert adsl(run(build, safety(platelet_recovery=5.0), labs=labs, assessments=ass))["plt_cytopenia"] == False  # noqa: E712


# --- ICAHT -------------------------------------------------------------------------------------------------------

def test_icaht_early_from_a_day_by_day_series():
    # daily ANC days 0..30: <= 0.5 on days 2..16 (15 days) -> grade 3 (>= 14 days)
    days = np.arange(0, 31.0)
    anc = np.where((days >= 2) & (days <= 16), 0.3, 1.2)
    assert icaht_early(days, anc, np.inf, "locf") == 3
    # 10 days <= 0.5 -> grade 2; 3 days -> grade 1; none -> 0; all 31 days -> grade 4
    assert icaht_early(days, np.where(days < 10, 0.3, 1.2), np.inf, "locf") == 2
    assert icaht_early(days, np.where(days < 3, 0.3, 1.2), np.inf, "locf") == 1
    assert icaht_early(days, np.full(31, 1.2), np.inf, "locf") == 0
    assert icaht_early(days, np.full(31, 0.3), np.inf, "locf") == 4
    # 8 days <= 0.1 (and so <= 0.5): grade 2 by the 500 rule, but >= 7 days <= 100/uL makes it grade 3
    assert icaht_early(days, np.where(days < 8, 0.05, 1.2), np.inf, "locf") == 3
    # death on day 12 stops the count: 2..12 = 11 days -> grade 2
    assert icaht_early(days, anc, 12, "locf") == 2


def test_icaht_fill_setting_changes_periodic_counts():
    # counts on days 0 (0.2), 10 (0.3), 20 (1.5): LOCF gives 20 days <= 0.5 (0..19) -> grade 3; measured days only: 2
    days, anc = np.array([0, 10, 20.0]), np.array([0.2, 0.3, 1.5])
    assert icaht_early(days, np.array([0.2, 0.3, 0.3]), np.inf, "locf") == 3  # 21 days (0..20), never past the last
    assert icaht_early(np.array([0, 10, 20.0]), np.array([0.2, 0.3, 0.3]), 10, "locf") == 2  # stop day 10: 0..10 = 11
    assert icaht_early(days, anc, np.inf, "locf") == 3
    assert icaht_early(days, anc, np.inf, "measured") == 1


def test_icaht_late_needs_two_counts():
    days = np.array([10, 40, 50, 60, 70.0])
    assert icaht_late(days, np.array([0.1, 1.4, 0.9, 0.4, 2.0]), 100, np.inf) == 2  # <=1.0 twice (0.9, 0.4); <=0.5 once
    assert icaht_late(days, np.array([0.1, 0.4, 0.09, 0.4, 2.0]), 100, np.inf) == 3  # <=0.5 three times, <=0.1 once
    assert icaht_late(days, np.array([0.1, 0.4, 0.09, 0.4, 2.0]), 45, np.inf) == 0  # plan end day 45: one count left
    assert np.isnan(icaht_late(np.array([5.0]), np.array([0.1]), 100, np.inf))


def test_icaht_plan_end_day_changes_adsl(build):
    labs = [lab("P1", d, "anc", v) for d, v in [(1, 0.3), (40, 0.4), (60, 0.3), (95, 0.2)]]
    assert adsl(run(build, labs=labs))["icaht_late"] == 3
    assert adsl(run(build, safety(icaht_late_end_day=50.0), labs=labs))["icaht_late"] == 0


# --- infections ------------------------------------------------------------------------------------------------

def test_infection_windows_and_first_severe_infection(build):
    infections = [
        {"patient_id": "P1", "onset_date": day(12), "pathogen_class": "bacterial", "site": "bloodstream", "grade": 3},
        {"patient_id": "P1", "onset_date": day(31), "pathogen_class": "viral", "site": "lung", "grade": 2},
        {"patient_id": "P1", "onset_date": day(200), "pathogen_class": "fungal", "site": "lung", "grade": 5},
        {"patient_id": "P2", "onset_date": day(90), "pathogen_class": "viral", "grade": 2},
        {"patient_id": "P2", "onset_date": day(-3), "pathogen_class": "viral", "grade": 4},  # before infusion
    ]
    events = [{"patient_id": "P1", "date": day(200), "event": "death"},
              {"patient_id": "P2", "date": day(150), "event": "death"}]
    d = run(build, subjects=("P1", "P2"), infections=infections, events=events)
    assert d.adinf[["patient_id", "onset_day", "window", "pathogen_class"]].values.tolist() == [
        ["P1", 12, "0–30", "bacterial"], ["P1", 31, "31–90", "viral"], ["P1", 200, ">90", "fungal"],
        ["P2", 90, "31–90", "viral"]]
    p1, p2 = adsl(d, "P1"), adsl(d, "P2")
    assert bool(p1["infection_death"]) and not bool(p2["infection_death"])
    assert (p1["sev_inf_time"], p1["sev_inf_status"]) == (12, 1)
    assert (p2["sev_inf_time"], p2["sev_inf_status"]) == (150, 2)  # died without a severe infection
    # plan: severe = grade >= 2 makes P2's day-90 infection the first severe one; windows [60] split at day 60
    d2 = run(build, safety(severe_infection_grade=2, infection_windows=(60.0,)), subjects=("P1", "P2"),
             infections=infections, events=events)
    assert (adsl(d2, "P2")["sev_inf_time"], adsl(d2, "P2")["sev_inf_status"]) == (90, 1)
    assert d2.adinf["window"].tolist() == ["0–60", "0–60", ">60", ">60"]


def test_infections_fall_back_to_adverse_events_with_unknown_pathogen(build):
    aes = [{"patient_id": "P1", "term": "Pneumonia", "soc": "Infections and infestations", "onset_date": day(45),
            "grade": 3}]
    d = run(build, adverse_events=aes)
    assert d.adinf[["onset_day", "pathogen_class", "window", "source"]].values.tolist() == [[45, "unknown", "31–90",
                                                                                             "adverse_events"]]


def test_window_labels_boundaries():
    assert window_labels(pd.Series([0.0, 30.0, 30.5, 90.0, 91.0]), (30.0, 90.0)).tolist() == [
        "0–30", "0–30", "31–90", "31–90", ">90"]


# --- B-cell aplasia and IgG ---------------------------------------------------------------------------------------

def test_bcell_recovery_day_and_loss_before_cd19_positive_relapse(build):
    # CD19 cells/uL: day 14: 0, 30: 2, 60: 15, 90: 4, 120: 25, 150: 40 -> the 15 on day 60 is not confirmed
    # (day 90 is 4); recovery = day 120 (120 and 150 both >= 10). CD19+ relapse on day 200: loss came first.
    labs = [lab("P1", d, "cd19", v) for d, v in [(-5, 120), (14, 0), (30, 2), (60, 15), (90, 4), (120, 25), (150, 40)]]
    labs += [lab("P1", d, "igg", v) for d, v in [(-5, 700), (30, 350), (90, 500)]]
    events = [{"patient_id": "P1", "date": day(200), "event": "relapse", "detail": "cd19_pos"}]
    meds = [{"patient_id": "P1", "medication": "ivig", "start_date": day(35), "dose": 0.4, "dose_unit": "g/kg"}]
    d = run(build, labs=labs, events=events, concomitant_meds=meds)
    a = adsl(d)
    assert bool(a["bca"]) and (a["bca_recovery_day"], a["bca_time"], a["bca_event"]) == (120, 120, 1)
    assert bool(a["bca_loss_before_cd19pos_relapse"])
    assert a["igg_min"] == 350 and bool(a["igg_low"]) and bool(a["ivig"])
    assert d.igg[d.igg["patient_id"] == "P1"][["visit", "value"]].values.tolist() == [
        ["baseline", 700], ["day 1–30", 350], ["day 31–90", 500]]
    # plan: confirm = 1 -> recovery on day 60; threshold 30 -> only day 150 qualifies with confirm 1
    assert adsl(run(build, safety(bcell_recovery_confirm=1), labs=labs, events=events))["bca_recovery_day"] == 60
    b = adsl(run(build, safety(bcell_recovery_cd19=30.0, bcell_recovery_confirm=1), labs=labs))
    assert b["bca_recovery_day"] == 150
    assert not bool(adsl(run(build, safety(igg_low_mg_dl=300.0), labs=labs))["igg_low"])
    # without concomitant_meds, IVIG use is unknown, not "no"
    assert pd.isna(adsl(run(build, labs=labs))["ivig"])


def test_bcell_aplasia_censored_at_hsct(build):
    labs = [lab("P1", d, "cd19", v) for d, v in [(14, 0), (60, 1), (120, 50), (150, 60)]]
    events = [{"patient_id": "P1", "date": day(100), "event": "hsct", "detail": "allo"}]
    a = adsl(run(build, labs=labs, events=events))
    assert (a["bca_time"], a["bca_event"]) == (100, 0)


# --- CRS course and management ----------------------------------------------------------------------------------

def tox(n: int, pid: str = "P1", **kw) -> dict:
    row = {"patient_id": pid, "date": day(n), "temp_max_c": 37.0, "vasopressors": 0, "oxygen": "none", "ice_score": 10,
           "consciousness": "alert", "seizure": "none", "cerebral_edema": "none"}
    return {**row, **kw}


def test_crs_symptoms_management_and_icans_timing(build):
    # CRS days 2-5: fever, then hypotension on fluids, one vasopressor + high-flow O2 (masked by tocilizumab) ;
    # tocilizumab on days 3 and 4 (2 doses, first on day 3), steroids on day 4, anakinra day 5.
    # ICANS (ICE 5) on day 4, during the CRS episode: concurrent, 2 days after CRS onset; a seizure on day 4.
    daily = [tox(1), tox(2, temp_max_c=38.5), tox(3, temp_max_c=39.0, hypotension=True, tocilizumab=True),
             tox(4, vasopressors=1, oxygen="high_flow", tocilizumab=True, steroids=True, ice_score=5,
                 seizure="resolving"),
             tox(5, oxygen="low_flow", anakinra=True), tox(6)]
    d = run(build, toxicity_daily=daily)
    a = adsl(d)
    assert (a["crs_grade"], a["crs_onset_day"], a["crs_duration_days"]) == (3, 2, 4)
    assert bool(a["crs_fever"]) and a["crs_temp_max"] == 39.0 and bool(a["crs_hypotension"])
    assert a["crs_vasopressors_max"] == 1 and bool(a["crs_hypoxia"]) and a["crs_oxygen_max"] == "high_flow"
    assert (a["tocilizumab_doses"], a["toci_first_day"], a["steroids_doses"], a["anakinra_doses"]) == (2, 3, 1, 1)
    assert (a["icans_timing"], a["icans_after_crs_days"]) == ("concurrent", 2) and bool(a["seizure"])


def test_concomitant_meds_take_precedence_over_daily_flags(build):
    daily = [tox(2, temp_max_c=38.5, tocilizumab=True), tox(3)]
    meds = [{"patient_id": "P1", "medication": "tocilizumab", "start_date": day(2), "dose": 8, "dose_unit": "mg/kg"},
            {"patient_id": "P1", "medication": "tocilizumab", "start_date": day(2), "dose": 8, "dose_unit": "mg/kg"},
            {"patient_id": "P1", "medication": "corticosteroid", "name": "dexamethasone", "start_date": day(3),
             "dose": 10, "dose_unit": "mg"}]
    a = adsl(run(build, toxicity_daily=daily, concomitant_meds=meds))
    assert (a["tocilizumab_doses"], a["steroids_doses"], a["anakinra_doses"]) == (2, 1, 0)
    assert not bool(a["anakinra"])  # no anakinra rows and no daily anakinra flag


def test_icans_after_crs_and_isolated(build):
    daily = [tox(2, pid="P1", temp_max_c=38.5), tox(3, pid="P1"), tox(8, pid="P1", ice_score=6),
             tox(4, pid="P2", ice_score=8)]
    d = run(build, subjects=("P1", "P2"), toxicity_daily=daily)
    assert (adsl(d, "P1")["icans_timing"], adsl(d, "P1")["icans_after_crs_days"]) == ("after_crs", 6)
    assert adsl(d, "P2")["icans_timing"] == "isolated"


# --- TEAE by SOC/PT ---------------------------------------------------------------------------------------------

def test_teae_soc_pt_counts_serious_and_related_from_their_columns(build):
    aes = [
        {"patient_id": "P1", "term": "Anaemia", "soc": "Blood", "onset_date": day(2), "grade": 3, "serious": False,
         "related": True},
        {"patient_id": "P1", "term": "Anaemia", "soc": "Blood", "onset_date": day(40), "grade": 1, "serious": True},
        {"patient_id": "P2", "term": "Anaemia", "soc": "Blood", "onset_date": day(5), "grade": 4, "serious": False},
        {"patient_id": "P2", "term": "Neutropenia", "soc": "Blood", "onset_date": day(5), "grade": 4},
        {"patient_id": "P1", "term": "Headache", "soc": "Nervous", "onset_date": day(100), "grade": 1},
        {"patient_id": "P2", "term": "Rash", "onset_date": day(1), "grade": 2},  # no SOC
        {"patient_id": "P2", "term": "Nausea", "soc": "GI", "onset_date": day(-2), "grade": 2},  # before infusion
    ]
    d = run(build, subjects=("P1", "P2"), adverse_events=aes)
    t = teae_by_soc_pt(d.adae, pd.Index(["P1", "P2"]))
    rows = [[r.level, r.soc, None if pd.isna(r.term) else r.term, r.n, r.n_g3, r.n_serious, r.n_related]
            for r in t.itertuples()]  # a SOC row has no term (None on pandas 2, NaN on pandas 3)
    # Blood: 2 patients (both grade >= 3), P1's anaemia is serious on one row and related on another -> 1 and 1;
    # grade 4 neutropenia with serious/related empty counts as not serious/related. SOCs sorted by n, then name.
    assert rows == [
        ["soc", "Blood", None, 2, 2, 1, 1],
        ["pt", "Blood", "Anaemia", 2, 2, 1, 1],
        ["pt", "Blood", "Neutropenia", 1, 1, 0, 0],
        ["soc", "Nervous", None, 1, 0, 0, 0],
        ["pt", "Nervous", "Headache", 1, 0, 0, 0],
        ["soc", "SOC not recorded", None, 1, 0, 0, 0],
        ["pt", "SOC not recorded", "Rash", 1, 0, 0, 0],
    ]
    early = teae_by_soc_pt(d.adae, pd.Index(["P1", "P2"]), window="0–30")
    assert early.loc[early["level"] == "pt", "term"].tolist() == ["Anaemia", "Neutropenia", "Rash"]
    late = teae_by_soc_pt(d.adae, pd.Index(["P1", "P2"]), window=">91")
    assert late["term"].dropna().tolist() == ["Headache"]
    # a plan window [5]: day 5 is still in the first window, day 40 is in ">5"
    t5 = teae_by_soc_pt(d.adae, pd.Index(["P1", "P2"]), window=">5", windows=(5.0,))
    assert t5["term"].dropna().tolist() == ["Anaemia", "Headache"]


def test_teae_serious_not_recorded_is_empty_not_zero(build):
    aes = [{"patient_id": "P1", "term": "Fatigue", "soc": "General", "onset_date": day(3), "grade": 1}]
    t = teae_by_soc_pt(run(build, adverse_events=aes).adae, pd.Index(["P1"]))
    assert t["n_serious"].isna().all() and t["n_related"].isna().all()


# --- cytokine peaks -----------------------------------------------------------------------------------------------

def test_cytokine_peaks_days_0_to_28_and_crp_unit(build):
    labs = [lab("P1", -1, "il6", 900), lab("P1", 4, "il6", 300), lab("P1", 30, "il6", 800),
            {"patient_id": "P1", "day": 5.0, "test": "crp", "value": 120.0, "unit": "mg/L"}]
    a = adsl(run(build, labs=labs))
    assert a["peak_il6"] == 300 and a["peak_crp"] == 12.0 and pd.isna(a["peak_ferritin"])
