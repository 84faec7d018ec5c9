"""ADSL grouping columns and plan keys that name ADSL columns."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cartalysis.derive import derive_all
from cartalysis.study.errors import StudyError
from cartalysis.study.plan import Plan

SUBJECTS = [{"patient_id": f"P{i}", "infusion_date": "2022-01-01", "age": age, "bm_blasts_pct": bm}
            for i, (age, bm) in enumerate([(18, 5), (39.9, 25), (40, 25.1), (65, 75), (70, 75.5), (None, None)])]


def subgroups(**changes) -> Plan:
    return dataclasses.replace(Plan(), subgroups=dataclasses.replace(Plan().subgroups, **changes))


def test_group_labels_and_break_settings(build):
    a = derive_all(build(subjects=SUBJECTS)).adsl
    assert a["age_group"].tolist() == ["<40", "<40", ">=40", ">=40", ">=40", None]
    assert a["bm_blasts_group"].tolist() == ["<=25", "<=25", ">25-<=50", ">50-<=75", ">75", None]
    b = derive_all(build(subjects=SUBJECTS), subgroups(age_breaks=(30.0, 65.0), bm_blasts_breaks=(50.0,))).adsl
    assert b["age_group"].tolist() == ["<30", ">=30-<65", ">=30-<65", ">=65", ">=65", None]
    assert b["bm_blasts_group"].tolist() == ["<=50", "<=50", "<=50", ">50", ">50", None]


def test_plan_columns_must_exist(build):
    plan = dataclasses.replace(subgroups(variables=("sex", "weight")),
                               groups=dataclasses.replace(Plan().groups, by="arm"),
                               cox=dataclasses.replace(Plan().cox, forced=("race", "bmi")))
    with pytest.raises(StudyError) as e:
        derive_all(build(subjects=SUBJECTS), plan)
    assert [str(p) for p in e.value.problems] == [
        "sap.toml::cox.forced: column 'bmi' is not in subjects",
        "sap.toml::groups.by: column 'arm' is not in subjects",
        "sap.toml::subgroups.variables: column 'weight' is not in subjects",
    ]
    ok = dataclasses.replace(Plan(), groups=dataclasses.replace(Plan().groups, by="arm"))
    a = derive_all(build(subjects=[{**s, "arm": "A"} for s in SUBJECTS]), ok).adsl  # extra columns are covariates
    assert set(a["group"]) == {"A"}


def test_grouping_columns_must_be_categorical(build):
    """13 distinct weights cannot make 13 Table-1 columns or curves; 12 levels can (the documented limit); Cox may
    still use the column as a continuous covariate."""
    many = [{**SUBJECTS[0], "patient_id": f"P{i:02d}", "weight": 50.0 + i} for i in range(13)]
    plan = dataclasses.replace(Plan(), groups=dataclasses.replace(Plan().groups, by="weight"),
                               cox=dataclasses.replace(Plan().cox, candidates=("weight",)))
    with pytest.raises(StudyError) as e:
        derive_all(build(subjects=many), plan)
    assert [str(p) for p in e.value.problems] == [
        "sap.toml::groups.by: column 'weight' has 13 distinct values; a grouping takes at most 12: "
        "add a column of grouped values to subjects"]
    derive_all(build(subjects=many[:12]), plan)


def _course_study(build):
    """Patients whose courses exercise the derived grouping columns (dates written out below)."""
    subj = [
        {"patient_id": "P1", "prior_inotuzumab": False},
        {"patient_id": "P2", "prior_inotuzumab": True, "inotuzumab_response": "responsive"},
        {"patient_id": "P3", "prior_inotuzumab": True, "inotuzumab_response": "refractory"},
        {"patient_id": "P4", "prior_inotuzumab": True, "inotuzumab_response": "not_assessed"},
        {"patient_id": "P5", "prior_inotuzumab": True},
        {"patient_id": "P6"},
        {"patient_id": "P7", "prior_inotuzumab": False, "disease_status": "cr_mrd_pos"},
        {"patient_id": "P8", "prior_inotuzumab": False},
    ]
    subj = [dict(r, infusion_date="2022-01-01") for r in subj] + [{"patient_id": "P9", "prior_inotuzumab": False}]
    cr = [{"patient_id": p, "date": "2022-01-29", "response": "CR"} for p in ("P1", "P2", "P3", "P4", "P7", "P8")]
    ass = cr + [{"patient_id": "P5", "date": "2022-01-29", "response": "NR"}]

    def ev(p, date, event, detail):
        return {"patient_id": p, "date": date, "event": event, "detail": detail}

    events = [
        ev("P1", "2022-02-15", "new_therapy", "tki"),           # in remission: maintenance
        ev("P2", "2022-01-20", "new_therapy", "tki"),           # before the first CR: not maintenance
        ev("P3", "2022-03-01", "relapse", "cd19_pos"),
        ev("P3", "2022-03-10", "new_therapy", "chemotherapy"),  # after relapse: salvage, not maintenance
        ev("P4", "2022-02-15", "new_therapy", "blinatumomab"),  # in remission, but not a maintenance kind by default
        ev("P5", "2022-02-10", "new_therapy", "chemotherapy"),  # never in remission
        ev("P7", "2022-01-10", "new_therapy", "tki"),           # in remission at infusion, before the first marrow
        ev("P8", "2022-01-29", "new_therapy", "inotuzumab"),    # on the day of the first CR
    ]
    return build(subjects=subj, assessments=ass, events=events)


def test_inotuzumab_group_three_levels_not_assessed_missing(build):
    a = derive_all(_course_study(build)).adsl.set_index("patient_id")
    assert a["inotuzumab_group"].to_dict() == {
        "P1": "naive", "P2": "responsive", "P3": "refractory", "P4": None, "P5": None, "P6": None, "P7": "naive",
        "P8": "naive", "P9": "naive"}


def test_maintenance_in_remission_and_response_evaluable(build):
    study = _course_study(build)
    a = derive_all(study).adsl.set_index("patient_id")
    m = a["maintenance_in_remission"]
    assert m.dtype == "boolean" and pd.isna(m["P9"])  # not infused
    assert m.drop("P9").to_dict() == {"P1": True, "P2": False, "P3": False, "P4": False, "P5": False, "P6": False,
                                      "P7": True, "P8": True}
    plan = dataclasses.replace(Plan(), groups=dataclasses.replace(Plan().groups, maintenance_therapies=("blinatumomab",)))
    b = derive_all(study, plan).adsl.set_index("patient_id")["maintenance_in_remission"]
    assert b[b.fillna(False)].index.tolist() == ["P4"]
    ev = a["response_evaluable"]
    assert ev.drop("P9").to_dict() == {"P1": True, "P2": True, "P3": True, "P4": True, "P5": True, "P6": False,
                                       "P7": True, "P8": True}


def test_derived_groups_can_be_used_and_compare_names_are_checked(build):
    study = _course_study(build)
    plan = dataclasses.replace(Plan(), groups=dataclasses.replace(Plan().groups, by="inotuzumab_group",
                                                                  compare=("maintenance_in_remission", "arm")))
    with pytest.raises(StudyError) as e:
        derive_all(study, plan)
    assert [str(p) for p in e.value.problems] == ["sap.toml::groups.compare: column 'arm' is not in subjects"]
    plan = dataclasses.replace(plan, groups=dataclasses.replace(plan.groups, compare=("maintenance_in_remission",)))
    d = derive_all(study, plan)
    assert d.adsl["group"].tolist() == d.adsl["inotuzumab_group"].tolist()
    assert set(d.adtte["group"].dropna()) <= {"naive", "responsive", "refractory"}


def test_subject_columns_named_like_derived_columns_are_errors(build):
    subj = [dict(r, bor="CR", inotuzumab_group="x") for r in SUBJECTS]
    with pytest.raises(StudyError) as e:
        derive_all(build(subjects=subj))
    assert [str(p) for p in e.value.problems] == [
        "subjects.csv::bor: column 'bor' has the name of a derived ADSL column; rename it",
        "subjects.csv::inotuzumab_group: column 'inotuzumab_group' has the name of a derived ADSL column; rename it",
    ]
