"""Data that cannot support a derivation gives clear messages naming the patient and the table, all at once."""

from __future__ import annotations

import pytest

from cartalysis.derive import derive_all
from cartalysis.study.errors import StudyError


def messages(build, **tables) -> list[str]:
    with pytest.raises(StudyError) as e:
        derive_all(build(**tables))
    return [str(p) for p in e.value.problems]


SUBJ = [{"patient_id": "P012", "infusion_date": "2022-02-01"}, {"patient_id": "P2"}]


def test_death_before_infusion(build):
    got = messages(build, subjects=SUBJ, events=[{"patient_id": "P012", "date": "2022-01-01", "event": "death"}])
    assert got == ["events.csv::date: patient P012: death date 2022-01-01 is before infusion 2022-02-01"]


def test_responder_without_assessment_date(build):
    got = messages(build, subjects=SUBJ, assessments=[{"patient_id": "P012", "date": None, "response": "CR", "bm_blasts_pct": 1.0}])
    assert got == ["assessments.csv::date: patient P012: a row (CR) has no date; cannot place it in time"]


def test_pk_without_day0_reference(build):
    got = messages(build, subjects=SUBJ, pk=[{"patient_id": "P2", "day": 7.0, "matrix": "blood", "value": 100.0}])
    assert got == ["pk.csv::day: patient P2: has pk rows but no infusion_date (day 0) in subjects"]


def test_all_problems_at_once_and_unknown_patient(build):
    got = messages(
        build, subjects=SUBJ,
        events=[{"patient_id": "P012", "date": "2022-01-01", "event": "death"},
                {"patient_id": "X9", "date": "2022-03-01", "event": "relapse"}],
        labs=[{"patient_id": "P2", "day": -3.0, "test": "crp", "value": 1.0}],
    )
    assert got == [
        "events.csv::date: patient P012: death date 2022-01-01 is before infusion 2022-02-01",
        "events.csv::patient_id: patient X9: not in subjects; cannot derive for this row",
        "labs.csv::day: patient P2: has labs rows but no infusion_date (day 0) in subjects",
    ]


def test_xlsx_study_names_the_sheet(build):
    from dataclasses import replace
    from pathlib import Path

    study = replace(build(subjects=SUBJ, events=[{"patient_id": "P012", "date": "2022-01-01", "event": "death"}]),
                    path=Path("trial.xlsx"))
    with pytest.raises(StudyError) as e:
        derive_all(study)
    assert str(e.value.problems[0]).startswith("trial.xlsx[events]::date: patient P012")


def test_inputs_are_not_modified(build):
    study = build(subjects=[{"patient_id": "P1", "infusion_date": "2022-01-01"}],
                  assessments=[{"patient_id": "P1", "date": "2022-01-29", "bm_blasts_pct": 1.0, "anc": 2.0, "platelets": 150.0}])
    before = {k: v.copy() for k, v in study.tables.items()}
    derive_all(study)
    for k, v in study.tables.items():
        assert v.equals(before[k]) and list(v.columns) == list(before[k].columns)
