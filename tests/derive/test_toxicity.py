"""ASTCT CRS/ICANS grading and the safety summaries, walked through with hand-built patients."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cartalysis.derive import derive_all
from cartalysis.study.plan import Plan

INF = "2022-01-01"


def day(n: int) -> str:
    return str((pd.Timestamp(INF) + pd.Timedelta(days=n)).date())


def tox(n: int, pid: str = "P1", **kw) -> dict:
    row = {"patient_id": pid, "date": day(n), "temp_max_c": 37.0, "vasopressors": 0, "oxygen": "none", "ice_score": 10,
           "consciousness": "alert", "seizure": "none", "cerebral_edema": "none"}
    return {**row, **kw}


def run(build, daily=(), aes=(), plan=None, subjects=None):
    subjects = subjects or [{"patient_id": "P1", "infusion_date": INF}]
    study = build(subjects=subjects, toxicity_daily=list(daily), adverse_events=list(aes))
    return derive_all(study, plan or Plan())


def adsl(d, pid="P1"):
    return d.adsl.set_index("patient_id").loc[pid]


def with_tox(**changes) -> Plan:
    return dataclasses.replace(Plan(), toxicity=dataclasses.replace(Plan().toxicity, **changes))


# --- CRS daily grade -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "kw, grade",
    [
        ({"temp_max_c": 38.6, "vasopressors": 1, "oxygen": "low_flow"}, 3),  # issue example: 4 L/min = low flow
        ({"temp_max_c": 39.5, "vasopressors": 1, "oxygen": "low_flow"}, 3),  # ASTCT paper example
        ({"temp_max_c": 38.0}, 1),  # fever is >= 38.0 exactly
        ({"temp_max_c": 37.9, "oxygen": "high_flow"}, 0),  # no fever, no episode: not CRS
        ({"temp_max_c": 38.5, "hypotension": True}, 2),  # fluids only
        ({"temp_max_c": 38.5, "oxygen": "low_flow"}, 2),
        ({"temp_max_c": 38.5, "oxygen": "high_flow"}, 3),
        ({"temp_max_c": 38.5, "vasopressors": 2}, 4),
        ({"temp_max_c": 38.5, "vasopressors": 3}, 4),  # several vasopressors: 2 or more
        ({"temp_max_c": 37.99, "vasopressors": 1}, 0),  # just under 38.0: no episode can start
        ({"temp_max_c": 38.5, "oxygen": "positive_pressure"}, 4),
        ({"temp_max_c": 38.5, "hypotension": True, "oxygen": "high_flow"}, 3),  # the more severe of the two
    ],
)
def test_crs_daily_grade(build, kw, grade):
    d = run(build, [tox(3, **kw)])
    assert d.adtox["crs_grade"].tolist() == [grade]
    assert adsl(d)["crs_grade"] == grade
    assert bool(adsl(d)["crs_g3"]) is (grade >= 3)


def test_crs_episode_onset_duration_and_masking(build):
    # day 2 fever; day 3 fever + low-flow O2 + tocilizumab; day 4 afebrile (masked) but still on O2: still CRS (grade 2);
    # day 5 afebrile, no support: resolved. Onset day 2, duration 2..4 inclusive = 3 days, max grade 2.
    daily = [tox(1), tox(2, temp_max_c=38.3), tox(3, temp_max_c=39.0, oxygen="low_flow", tocilizumab=True),
             tox(4, oxygen="low_flow"), tox(5)]
    d = run(build, daily)
    assert d.adtox["crs_grade"].tolist() == [0, 1, 2, 2, 0]
    ep = d.tox_episodes
    assert ep[["tox", "onset_day", "duration_days", "max_grade", "source"]].values.tolist() == [["CRS", 2, 3, 2, "daily"]]
    a = adsl(d)
    assert (a["crs_onset_day"], a["crs_duration_days"], a["crs_episodes"], a["crs_source"]) == (2, 3, 1, "daily")
    assert bool(a["tocilizumab"]) and not bool(a["steroids"])


def test_crs_without_masking_therapy_afebrile_day_ends_episode(build):
    daily = [tox(2, temp_max_c=38.3, oxygen="low_flow"), tox(3, oxygen="low_flow")]
    d = run(build, daily)
    assert d.adtox["crs_grade"].tolist() == [2, 0]
    assert adsl(d)["crs_duration_days"] == 1


def test_steroids_mask_fever_too_and_gap_starts_new_episode(build):
    daily = [tox(2, temp_max_c=38.3, steroids=True), tox(3, vasopressors=1), tox(6, temp_max_c=38.1)]
    d = run(build, daily)
    assert d.adtox["crs_grade"].tolist() == [1, 3, 1]
    assert d.adtox["crs_episode"].tolist() == [1, 1, 2]
    a = adsl(d)
    assert (a["crs_grade"], a["crs_episodes"], a["crs_onset_day"], a["crs_duration_days"]) == (3, 2, 2, 2)


def test_fever_threshold_setting(build):
    daily = [tox(2, temp_max_c=38.2)]
    assert adsl(run(build, daily))["crs_grade"] == 1
    assert adsl(run(build, daily, plan=with_tox(fever_c=38.5)))["crs_grade"] == 0


# --- ICANS -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "kw, grade",
    [
        ({"ice_score": 5}, 2),  # issue example: ICE 5 alone
        ({"ice_score": 9}, 1), ({"ice_score": 7}, 1), ({"ice_score": 6}, 2), ({"ice_score": 3}, 2),
        ({"ice_score": 2}, 3), ({"ice_score": 0}, 3),  # ICE 0 while awake (aphasia) is grade 3
        ({"ice_score": 0, "consciousness": "unarousable"}, 4),
        ({"consciousness": "awakens_spontaneously"}, 1), ({"consciousness": "awakens_to_voice"}, 2),
        ({"consciousness": "awakens_to_touch"}, 3),
        ({"seizure": "resolving"}, 3), ({"seizure": "prolonged"}, 4),
        ({"motor_weakness": True}, 4),
        ({"cerebral_edema": "focal"}, 3), ({"cerebral_edema": "diffuse"}, 4),
        ({"ice_score": 3, "seizure": "resolving"}, 3),  # ASTCT paper example: most severe domain
        ({"ice_score": 10}, 0),
        ({"ice_score": None, "consciousness": "unarousable"}, 4),  # unarousable: ICE cannot be done
        ({"ice_score": None}, 0),  # not assessed: no grade from this domain
    ],
)
def test_icans_daily_grade(build, kw, grade):
    d = run(build, [tox(6, **kw)])
    assert d.adtox["icans_grade"].tolist() == [grade]
    assert adsl(d)["icans_grade"] == grade


def test_icans_episode(build):
    d = run(build, [tox(5, ice_score=8), tox(6, ice_score=4), tox(7, ice_score=10), tox(8, seizure="resolving")])
    ep = d.tox_episodes[d.tox_episodes["tox"] == "ICANS"]
    assert ep[["episode", "onset_day", "duration_days", "max_grade"]].values.tolist() == [[1, 5, 2, 2], [2, 8, 1, 3]]
    a = adsl(d)
    assert (a["icans_grade"], a["icans_onset_day"], a["icans_duration_days"], a["icans_episodes"]) == (3, 5, 2, 2)


# --- adverse-event source --------------------------------------------------------------------------------------

CRS_AE = {"patient_id": "P1", "term": "cytokine release syndrome", "soc": "Immune system disorders",
          "onset_date": day(3), "end_date": day(9), "grade": 2}


def test_crs_from_adverse_events_when_no_daily_rows(build):
    d = run(build, aes=[CRS_AE])
    a = adsl(d)
    assert (a["crs_grade"], a["crs_onset_day"], a["crs_duration_days"], a["crs_source"]) == (2, 3, 7, "adverse_events")


def test_crs_terms_setting(build):
    ae = {**CRS_AE, "term": "CRS"}
    assert adsl(run(build, aes=[ae]))["crs_grade"] == 0
    assert adsl(run(build, aes=[ae], plan=with_tox(crs_terms=("CRS",))))["crs_grade"] == 2


def test_icans_terms_setting(build):
    ae = {**CRS_AE, "term": "Neurotoxicity", "grade": 3}
    assert adsl(run(build, aes=[ae]))["icans_grade"] == 0
    assert adsl(run(build, aes=[ae], plan=with_tox(icans_terms=("neurotoxicity",))))["icans_grade"] == 3


def test_source_setting(build):
    daily = [tox(4, temp_max_c=38.4)]
    assert adsl(run(build, daily, [CRS_AE]))["crs_grade"] == 1  # auto: daily wins for this patient
    assert adsl(run(build, daily, [CRS_AE], plan=with_tox(source="adverse_events")))["crs_grade"] == 2
    # "daily": a patient without daily rows has no CRS information at all
    assert adsl(run(build, [], [CRS_AE], plan=with_tox(source="daily")))["crs_grade"] == 0


def test_teae_flags_and_worst_grade(build):
    aes = [
        {"patient_id": "P1", "term": "Neutropenia", "onset_date": day(-3), "end_date": day(10), "grade": 4},  # before infusion
        {"patient_id": "P1", "term": "Neutropenia", "onset_date": day(12), "end_date": day(20), "grade": 3},
        {"patient_id": "P1", "term": "Neutropenia", "onset_date": day(30), "end_date": day(31), "grade": 3},
        {"patient_id": "P1", "term": "Anaemia", "onset_date": day(0), "grade": 2},
    ]
    d = run(build, aes=aes)
    ae = d.adae.set_index(["term", "asty"])
    assert not ae.loc[("Neutropenia", -3), "trtemfl"]  # onset before infusion: not treatment-emergent
    assert ae.loc[("Anaemia", 0), "trtemfl"]  # onset on the infusion day counts
    assert ae.loc[("Neutropenia", 12), "worst_fl"] and not ae.loc[("Neutropenia", 30), "worst_fl"]
    assert not ae.loc[("Neutropenia", -3), "worst_fl"]
    assert ae.loc[("Neutropenia", 12), "duration_days"] == 9
    a = adsl(d)
    assert bool(a["teae"]) and bool(a["teae_g3"])


def test_aesi_categories_and_term_settings(build):
    aes = [
        {"patient_id": "P1", "term": "Haemophagocytic lymphohistiocytosis", "onset_date": day(14), "end_date": day(23), "grade": 3},
        {"patient_id": "P1", "term": "Hypogammaglobulinaemia", "onset_date": day(15), "end_date": day(208), "grade": 2},
        {"patient_id": "P1", "term": "Pneumonia", "soc": "Infections and infestations", "onset_date": day(40), "grade": 3},
        {"patient_id": "P1", "term": "Febrile infection", "soc": "General disorders", "onset_date": day(50), "grade": 4},
    ]
    a = adsl(run(build, aes=aes))
    assert (a["hlh"], a["hlh_grade"], a["hlh_onset_day"], a["hlh_duration_days"]) == (True, 3, 14, 10)
    assert (a["hypogamma"], a["hypogamma_grade"], a["hypogamma_onset_day"], a["hypogamma_duration_days"]) == (True, 2, 15, 194)
    assert (a["infection"], a["infection_grade"], a["infection_g3"]) == (True, 3, True)
    b = adsl(run(build, aes=aes, plan=with_tox(infection_terms=("febrile infection",))))
    assert b["infection_grade"] == 4
    c = adsl(run(build, aes=aes, plan=with_tox(infection_socs=(), hlh_terms=(), hypogamma_terms=("hypogamma",))))
    assert (c["infection"], c["hlh"], c["hypogamma"]) == (False, False, False)


def test_deaths_and_early_death_setting(build):
    subjects = [{"patient_id": "P1", "infusion_date": INF}, {"patient_id": "P2", "infusion_date": INF}]
    study = build(subjects=subjects, events=[{"patient_id": "P1", "date": day(37), "event": "death", "detail": "sepsis"},
                                             {"patient_id": "P2", "date": day(30), "event": "death", "detail": "relapse"}])
    d = derive_all(study)
    a = d.adsl.set_index("patient_id")
    assert a.loc["P1", ["death", "death_day", "death_cause", "death_early"]].tolist() == [True, 37, "sepsis", False]
    assert a.loc["P2", "death_early"]  # day 30 is "within 30 days"
    p = with_tox(early_death_days=40.0)
    assert derive_all(study, p).adsl.set_index("patient_id").loc["P1", "death_early"]


# --- masking edge cases (boundaries a wrong walk through the days would get wrong) ------------------------------

def test_masking_therapy_given_on_the_afebrile_day_itself_keeps_the_episode(build):
    # day 2 fever + low-flow O2 (grade 2, untreated); day 3 afebrile, still on O2, tocilizumab that day: the therapy
    # masks the fever, so day 3 is still CRS grade 2 (ASTCT: fever not required once anti-cytokine therapy is given).
    d = run(build, [tox(2, temp_max_c=38.4, oxygen="low_flow"), tox(3, oxygen="low_flow", tocilizumab=True)])
    assert d.adtox["crs_grade"].tolist() == [2, 2]
    assert adsl(d)["crs_duration_days"] == 2


def test_missing_day_ends_a_masked_episode(build):
    # day 2 fever + tocilizumab; no row for day 3; day 4 afebrile on O2: episodes are runs of consecutive days, so
    # day 4 is not CRS even though the earlier episode was masked.
    d = run(build, [tox(2, temp_max_c=38.4, tocilizumab=True), tox(4, oxygen="low_flow")])
    assert d.adtox["crs_grade"].tolist() == [1, 0]


def test_masking_does_not_carry_into_a_new_episode(build):
    # episode 1: day 2 fever + tocilizumab; gap (no row day 3); episode 2: day 4 fever, untreated; day 5 afebrile on
    # O2 without therapy in episode 2 -> fever is required again, day 5 is not CRS.
    d = run(build, [tox(2, temp_max_c=38.4, tocilizumab=True), tox(4, temp_max_c=38.2), tox(5, oxygen="low_flow")])
    assert d.adtox["crs_grade"].tolist() == [1, 1, 0]
    assert d.adtox["crs_episode"].tolist() == [1, 2, 0]
