"""Derived datasets: columns as documented, written byte-identically, fast on a registry-sized study, demo study."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartalysis.derive import derive_all, write_derived
from cartalysis.study.load import load_study
from cartalysis.study.spec import SUBJECTS

DOC = Path(__file__).resolve().parents[2] / "docs" / "derived-datasets.md"


def documented_columns(heading: str) -> list[str]:
    """Backticked names in the first column of the table under ``heading`` (comma-separated cells expanded)."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    cols: list[str] = []
    started = False
    for line in section.splitlines():
        if line.startswith("| column") or line.startswith("|---"):
            started = True
            continue
        if started and not line.startswith("|"):
            break
        if started:
            cols += re.findall(r"`(\w+)`", line.split("|")[1])
    return cols


@pytest.fixture
def derived(small_study):
    return derive_all(load_study(small_study))


def test_columns_match_the_documentation(derived):
    extra = ["weight_kg"]
    assert list(derived.adsl.columns) == list(SUBJECTS.names) + extra + documented_columns("## `adsl.csv`")
    assert list(derived.adrs.columns) == documented_columns("### `adrs.csv`")
    assert list(derived.adtte.columns) == documented_columns("## `adtte.csv`")
    assert list(derived.adae.columns) == documented_columns("## `adae.csv`")
    assert list(derived.adpp.columns) == documented_columns("## `adpp.csv`")
    assert list(derived.adtte_hsct.columns) == ["patient_id", "param", "tstart", "tstop", "hsct", "status"]
    assert list(derived.adtox.columns) == ["patient_id", "date", "ady", "crs_grade", "icans_grade", "crs_episode", "icans_episode"]
    assert list(derived.tox_episodes.columns) == ["patient_id", "tox", "episode", "onset_dt", "onset_day", "end_dt",
                                                  "duration_days", "max_grade", "source"]


def test_small_study_values(derived):
    a = derived.adsl.set_index("patient_id")
    assert a["saffl"].tolist() == [True, True, True, False, False]
    assert a.loc["P01", ["bor", "relapse_cd19", "death_cause"]].tolist() == ["CR", "cd19_neg", "disease progression"]
    assert a.loc["P02", "hsct_in_remission"] and a.loc["P02", "hsct_in_remission_day"] == 109
    assert a.loc["P03", "bor"] == "NR" and pd.isna(a.loc["P04", "bor"])
    assert a.loc["P01", "cmax"] == 175000 and a.loc["P02", "csf_detected"]
    assert set(derived.adtte["patient_id"]) == {"P01", "P02", "P03"}


def test_written_files_are_byte_identical(derived, small_study, tmp_path):
    a = write_derived(derived, tmp_path / "a")
    b = write_derived(derive_all(load_study(small_study)), tmp_path / "b")
    assert [p.name for p in a.values()] == ["adsl.csv", "adrs.csv", "adtte.csv", "adtte_hsct.csv", "adae.csv", "adtox.csv",
                                          "adtox_episodes.csv", "adpp.csv"]
    for k in a:
        assert a[k].read_bytes() == b[k].read_bytes()
    adsl = pd.read_csv(a["adsl"])
    assert len(adsl) == 5
    text = a["adtte"].read_text()
    assert "2021-02-15" in text and "True" not in text and "NaT" not in text and "nan" not in text



def test_registry_scale_is_fast(build):
    rng = np.random.default_rng(7)
    n = 20_000
    pid = [f"R{i:05d}" for i in range(n)]
    inf = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    iso = lambda ts: [str(t.date()) for t in ts]  # noqa: E731
    subjects = [{"patient_id": p, "infusion_date": d, "age": 40.0} for p, d in zip(pid, iso(inf))]
    assessments = []
    for k in (28, 91, 180):
        dates = iso(inf + pd.Timedelta(days=k))
        blasts = rng.choice([1.0, 20.0], n, p=[0.85, 0.15])
        assessments += [{"patient_id": p, "date": d, "bm_blasts_pct": b, "anc": 1.5, "platelets": 120.0, "mrd_method": "flow",
                         "mrd_negative": True} for p, d, b in zip(pid, dates, blasts)]
    events = [{"patient_id": p, "date": d, "event": "death", "detail": "x"}
              for p, d in zip(pid[::3], iso(inf[::3] + pd.Timedelta(days=200)))]
    events += [{"patient_id": p, "date": d, "event": "last_contact"} for p, d in zip(pid[1::3], iso(inf[1::3] + pd.Timedelta(days=400)))]
    daily = []
    for k in range(1, 11):
        dates = iso(inf + pd.Timedelta(days=k))
        temp = rng.normal(38.0, 0.7, n)
        daily += [{"patient_id": p, "date": d, "temp_max_c": t, "vasopressors": 0, "oxygen": "none", "ice_score": 10,
                   "tocilizumab": bool(t > 39)} for p, d, t in zip(pid, dates, temp)]
    pk = [{"patient_id": p, "day": float(k), "matrix": "blood", "value": v, "lloq": 50.0}
          for k, scale in ((0, 0), (7, 1e4), (14, 5e4), (28, 1e3)) for p, v in zip(pid, rng.lognormal(0, 1, n) * scale)]
    study = build(subjects=subjects, assessments=assessments, events=events, toxicity_daily=daily, pk=pk)
    t0 = time.perf_counter()
    d = derive_all(study)
    elapsed = time.perf_counter() - t0
    assert len(d.adsl) == n and d.adtte["param"].value_counts()["OS"] == n
    assert elapsed < 20, elapsed  # a few seconds on one core; generous bound for shared CI machines
