"""ADSL grouping columns and plan keys that name ADSL columns."""

from __future__ import annotations

import dataclasses

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
