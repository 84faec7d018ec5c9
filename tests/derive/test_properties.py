"""Property-based checks of the derivation rules on random inputs (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.derive import derive_all
from cartalysis.derive.pk import auc_interval
from cartalysis.derive.toxicity import crs_daily_grade, crs_support_grade
from derive_builders import make_study

days = st.lists(
    st.fixed_dictionaries({
        "temp_max_c": st.one_of(st.none(), st.floats(36.0, 41.0)),
        "hypotension": st.one_of(st.none(), st.booleans()),
        "vasopressors": st.integers(0, 3),
        "oxygen": st.sampled_from(["none", "low_flow", "high_flow", "positive_pressure"]),
        "tocilizumab": st.booleans(),
        "steroids": st.booleans(),
        "gap": st.integers(1, 2),
    }),
    min_size=1, max_size=15,
)


def daily_frame(rows) -> pd.DataFrame:
    offsets = np.cumsum([r["gap"] for r in rows])
    study = make_study(subjects=[{"patient_id": "P1", "infusion_date": "2022-01-01"}], toxicity_daily=[
        {**{k: v for k, v in r.items() if k != "gap"}, "patient_id": "P1",
         "date": str((pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(o))).date())} for r, o in zip(rows, offsets)])
    return study.tables["toxicity_daily"]


@settings(max_examples=150, deadline=None)
@given(days)
def test_crs_grade_properties(rows):
    d = daily_frame(rows)
    grade, episode = crs_daily_grade(d, 38.0)
    support = crs_support_grade(d)
    fever = (d["temp_max_c"] >= 38.0).fillna(False).to_numpy()
    assert np.all((grade >= 0) & (grade <= 4))
    assert np.array_equal(grade[fever], np.maximum(1, support[fever]))  # a febrile day is always CRS
    afebrile = ~fever & (grade > 0)
    assert np.array_equal(grade[afebrile], support[afebrile])  # masked days are graded by support alone
    treated = (d["tocilizumab"].fillna(False) | d["steroids"].fillna(False)).to_numpy()
    if not treated.any():
        assert np.array_equal(grade > 0, fever)  # without anti-cytokine therapy CRS needs fever every day
    assert np.array_equal(grade > 0, episode > 0)
    starts = (grade > 0) & (np.r_[0, episode[:-1]] != episode)
    assert np.all(fever[starts])  # every episode starts with fever
    assert np.all(np.diff(episode[episode > 0]) >= 0)


# Levels are 0 or at least 1e-3: lin-up/log-down switches to the linear rule when a level is 0, so a
# subnormal level (5e-324) scaled to 0 would change the rule, not the AUC's linearity in the level.
levels = st.one_of(st.just(0.0), st.floats(1e-3, 1e6))
profiles = st.lists(st.tuples(st.floats(0.5, 60.0), levels), min_size=1, max_size=8,
                    unique_by=lambda t: round(t[0], 3))


@settings(max_examples=150, deadline=None)
@given(profiles, st.floats(0.1, 100.0))
def test_auc_properties(points, k):
    s = pd.DataFrame({"patient_id": "P1", "day": [round(t, 3) for t, _ in points], "conc": [c for _, c in points]})
    s = s.sort_values("day").reset_index(drop=True)
    lin = auc_interval(s, 28.0, "linear")
    log = auc_interval(s, 28.0, "linear-up/log-down")
    if s["day"].max() < 28:
        assert lin.isna().all() and log.isna().all()
        return
    assert lin.iloc[0] >= 0 and log.iloc[0] >= 0
    assert log.iloc[0] <= lin.iloc[0] * (1 + 1e-12) + 1e-9  # the log trapezoid never exceeds the linear one
    scaled = auc_interval(s.assign(conc=s["conc"] * k), 28.0, "linear-up/log-down")
    assert np.isclose(scaled.iloc[0], k * log.iloc[0], rtol=1e-9, atol=1e-6)  # AUC is linear in the level


patients = st.lists(
    st.fixed_dictionaries({
        "blasts": st.lists(st.sampled_from([0.0, 2.0, 4.9, 5.0, 30.0]), min_size=0, max_size=4),
        "hsct": st.one_of(st.none(), st.integers(20, 300)),
        "therapy": st.one_of(st.none(), st.tuples(st.integers(10, 300), st.sampled_from(["tki", "chemotherapy"]))),
        "relapse": st.one_of(st.none(), st.integers(10, 400)),
        "end": st.integers(1, 500),
        "dies": st.booleans(),
    }),
    min_size=1, max_size=6,
)


@settings(max_examples=25, deadline=None)
@given(patients)
def test_adtte_invariants(pts):
    subjects, assessments, events = [], [], []
    for i, p in enumerate(pts):
        pid, inf = f"P{i}", pd.Timestamp("2022-01-01")
        iso = lambda n: str((inf + pd.Timedelta(days=n)).date())  # noqa: E731
        subjects.append({"patient_id": pid, "infusion_date": iso(0)})
        for j, b in enumerate(p["blasts"]):
            if 28 * (j + 1) < p["end"]:
                assessments.append({"patient_id": pid, "date": iso(28 * (j + 1)), "bm_blasts_pct": b, "anc": 2.0, "platelets": 150.0})
        if p["hsct"] and p["hsct"] < p["end"]:
            events.append({"patient_id": pid, "date": iso(p["hsct"]), "event": "hsct", "detail": "allo"})
        if p["therapy"] and p["therapy"][0] < p["end"]:
            events.append({"patient_id": pid, "date": iso(p["therapy"][0]), "event": "new_therapy", "detail": p["therapy"][1]})
        if p["relapse"] and p["relapse"] < p["end"]:
            events.append({"patient_id": pid, "date": iso(p["relapse"]), "event": "relapse", "detail": "unknown"})
        events.append({"patient_id": pid, "date": iso(p["end"]), "event": "death" if p["dies"] else "last_contact"})
    d = derive_all(make_study(subjects=subjects, assessments=assessments, events=events))
    t = d.adtte
    assert (t["adt"] >= t["startdt"]).all() and (t["aval"] >= 0).all()
    assert set(t["cnsr"]) <= {0, 1, 2, 3, 4}
    assert ((t["cnsr"] == 0) == (t["evntcd"] > 0)).all()
    os_ = t[t["param"] == "OS"].set_index("patient_id")
    for i, p in enumerate(pts):
        assert os_.loc[f"P{i}", "aval"] == p["end"] and os_.loc[f"P{i}", "cnsr"] == (0 if p["dies"] else 1)
    last = d.adsl.set_index("patient_id")["lastalive_dt"]
    assert (t["adt"] <= t["patient_id"].map(last)).all()  # nobody is followed beyond the last date known alive
    dor = t[t["param"] == "DOR"]
    assert set(dor["patient_id"]) == set(d.adsl.loc[d.adsl["bor_orr"].fillna(False).astype(bool), "patient_id"])
