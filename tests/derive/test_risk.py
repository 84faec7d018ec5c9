"""CAR-HEMATOTOX and EASIX from baseline labs, worked by hand."""

from __future__ import annotations

import dataclasses

import pytest

from cartalysis.derive import derive_all
from cartalysis.study.plan import Plan


def labs(pid, day, **values):
    return [{"patient_id": pid, "day": day, "test": t, "value": v} for t, v in values.items()]


def run(build, rows, plan=None):
    study = build(subjects=[{"patient_id": "P1", "infusion_date": "2022-01-01"}], labs=rows)
    return derive_all(study, plan or Plan()).adsl.set_index("patient_id").loc["P1"]


def test_hematotox_and_easix(build):
    # platelets 60 -> 2; ANC 1.0 -> 1; Hb 9.5 -> 0; CRP 4 mg/dL -> 1; ferritin 700 -> 1  => 5, high risk
    rows = labs("P1", -5, platelets=60, anc=1.0, hb=9.5, crp=4.0, ferritin=700, ldh=300, creatinine=0.8)
    a = run(build, rows)
    assert (a["hematotox_score"], a["hematotox_risk"]) == (5, "high")
    assert a["easix"] == pytest.approx(300 * 0.8 / 60)
    assert a["easix_simplified"] == pytest.approx(300 / 60)
    assert a["m_easix"] == pytest.approx(300 * 4.0 / 60)


@pytest.mark.parametrize(
    "values, score",
    [
        ({"platelets": 176, "anc": 1.21, "hb": 9.1, "crp": 2.9, "ferritin": 649}, 0),
        ({"platelets": 175, "anc": 1.2, "hb": 9.0, "crp": 3.0, "ferritin": 650}, 5),  # every boundary on the risk side
        ({"platelets": 74, "anc": 2, "hb": 12, "crp": 1, "ferritin": 2001}, 4),
        ({"platelets": 75, "anc": 2, "hb": 12, "crp": 1, "ferritin": 2000}, 2),
    ],
)
def test_hematotox_cutoffs(build, values, score):
    a = run(build, labs("P1", -5, **values))
    assert a["hematotox_score"] == score
    assert a["hematotox_risk"] == ("high" if score >= 2 else "low")


def test_missing_marker_gives_no_score(build):
    a = run(build, labs("P1", -5, platelets=200, anc=2, hb=12, crp=1))
    assert a["hematotox_score"] != a["hematotox_score"] and a["hematotox_risk"] is None


def test_baseline_is_last_value_in_window_and_window_setting(build):
    rows = labs("P1", -20, ldh=100, creatinine=1.0, platelets=100) + labs("P1", -2, ldh=200) + labs("P1", 3, ldh=900)
    assert run(build, rows)["easix"] == pytest.approx(2.0)
    p = dataclasses.replace(Plan(), risk=dataclasses.replace(Plan().risk, baseline_window_days=(-30.0, -10.0)))
    assert run(build, rows, p)["easix"] == pytest.approx(1.0)


def test_crp_units(build):
    rows = labs("P1", -1, ldh=100, platelets=100) + [{"patient_id": "P1", "day": -1, "test": "CRP", "value": 50, "unit": "mg/L"}]
    assert run(build, rows)["m_easix"] == pytest.approx(5.0)  # 50 mg/L = 5 mg/dL
    no_unit = labs("P1", -1, ldh=100, platelets=100, crp=50)
    assert run(build, no_unit)["m_easix"] == pytest.approx(50.0)
    p = dataclasses.replace(Plan(), risk=dataclasses.replace(Plan().risk, crp_unit="mg/L"))
    assert run(build, no_unit, p)["m_easix"] == pytest.approx(5.0)
