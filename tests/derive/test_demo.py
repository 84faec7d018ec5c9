"""The demo study (the `pivotal` twin): its derived datasets reproduce the publication's patient counts.

The twin is generated so that *these derivations* recover the published numbers (Table 2, safety text, kinetics
paragraph of the pivotal Inati-cel report; ``/work/shared/published-studies.md``); a change in a derivation rule
that breaks one of them fails here.
"""

from __future__ import annotations

import pytest

from cartalysis.derive import derive_all, write_derived
from cartalysis.study.load import load_study
from cartalysis.study.plan import load_plan

generate = pytest.importorskip("cartalysis.twins.generate")


@pytest.fixture(scope="module")
def pivotal(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "study"
    generate.write_twin("pivotal", folder)
    study = load_study(folder)
    return derive_all(study, load_plan(study.plan_path))


def test_response_counts(pivotal):
    a = pivotal.adsl
    assert (a["ittfl"].sum(), a["saffl"].sum()) == (67, 48)
    t = a[a["saffl"]]
    assert t["bor"].value_counts().to_dict() == {"CR": 35, "CRi": 6, "NR": 7}  # best ORR 41/48
    assert (t["m3_resp"] == "CR").sum() == 29 and (t["m3_resp"] == "CRi").sum() == 5  # 3-month ORR 34/48
    assert (t.loc[t["bor_orr"], "mrd_best"] == "negative").sum() == 41
    assert (t.loc[t["m3_orr"], "mrd_m3"] == "negative").sum() == 32 and t["m3_orr"].sum() == 34
    assert t.loc[t["bor_orr"], "hsct_in_remission"].sum() == 12
    assert t["relapse_cd19"].value_counts().reindex(["cd19_pos", "cd19_neg"]).tolist() == [4, 7]


def test_safety_counts(pivotal):
    t = pivotal.adsl[pivotal.adsl["saffl"]]
    assert (t["crs"].sum(), t["crs_g3"].sum(), (t["crs_grade"] >= 4).sum()) == (42, 6, 0)
    assert t["crs_onset_day"].median() == 4.5 and (t["crs_onset_day"].min(), t["crs_onset_day"].max()) == (1, 10)
    assert t["crs_duration_days"].median() == 9 and (t["crs_duration_days"].min(), t["crs_duration_days"].max()) == (3, 34)
    assert (t["tocilizumab"].sum(), t["steroids"].sum()) == (32, 30)
    assert (t["icans"].sum(), t["icans_g3"].sum(), t["hlh"].sum(), t["hypogamma"].sum()) == (4, 3, 3, 30)
    assert (t["infection"].sum(), t["infection_g3"].sum()) == (33, 23)
    assert (t["death"].sum(), t["death_early"].sum()) == (18, 0)


def test_kinetics(pivotal):
    t = pivotal.adsl[pivotal.adsl["saffl"]]
    assert t["cmax"].median() == 175000 and t["persistence_day"].median() == 92


def test_adtte_is_consistent(pivotal):
    tte = pivotal.adtte
    assert not tte.duplicated(["patient_id", "param"]).any()
    assert (tte["aval"] >= 0).all() and (tte["adt"] >= tte["startdt"]).all()
    assert set(tte["cnsr"]) <= {0, 1, 2, 3, 4}
    counts = tte["param"].value_counts()
    assert (counts["OS"], counts["RFS"], counts["DOR"], counts["DOR_NOHSCT"]) == (48, 48, 41, 41)
    assert (tte.loc[tte["param"] == "OS", "cnsr"] == 0).sum() == 18
    dor = tte[tte["param"] == "DOR"]
    assert (dor["cnsr"] == 3).sum() > 0  # some responders censored at HSCT in remission (variant A only)
    assert (tte.loc[tte["param"] == "DOR_NOHSCT", "cnsr"] == 3).sum() == 0


def test_write_derived(pivotal, tmp_path):
    paths = write_derived(pivotal, tmp_path)
    assert {p.name for p in paths.values()} >= {"adsl.csv", "adrs.csv", "adtte.csv", "adae.csv", "adpp.csv"}
    assert all(p.stat().st_size > 0 for p in paths.values())
