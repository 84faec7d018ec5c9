"""ICH E3 elements: analysis sets, sample-size justification, manufacturing and vein-to-vein times."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cartalysis import stats


@pytest.fixture(scope="module")
def res(pivotal_report):
    return {r["id"]: r for r in json.loads((pivotal_report / "results.json").read_text(encoding="utf-8"))}


def test_analysis_sets_count_the_populations(res, pivotal_study):
    subjects = pd.read_csv(pivotal_study / "subjects.csv")
    enrolled = subjects["enrolled"].astype(str).str.lower().isin(["true", "yes", "1"])
    assert res["population.set.itt"]["value"] == int(enrolled.sum()) == 67
    assert res["population.set.infused"]["value"] == int(subjects["infusion_date"].notna().sum()) == 48
    assert "population.set.dfs" not in res  # no patient infused in remission: no DFS set


def test_sample_size_is_the_exact_design_of_the_plan(res):
    # the pivotal SAP: H0 25%, target 50%, one-sided alpha .025, 90% power -> n = 44 (A'Hern); checked by scipy here
    from scipy.stats import binom

    n, r = res["design.n"]["value"], res["design.critical"]["value"]
    assert (n, r) == (44, 18)
    assert binom.sf(r - 1, n, 0.25) <= 0.025 < binom.sf(r - 2, n, 0.25)
    assert res["design.power"]["value"] == pytest.approx(100 * binom.sf(r - 1, n, 0.5), rel=1e-12)
    assert stats.single_arm_design(0.25, 0.5, 0.025, 0.9).smallest_n_stable == n


def test_vein_to_vein_times_from_the_dates(res, pivotal_study):
    s = pd.read_csv(pivotal_study / "subjects.csv", parse_dates=["apheresis_date", "release_date", "infusion_date"])
    s = s[s["infusion_date"].notna()]
    v2v = (s["infusion_date"] - s["apheresis_date"]).dt.days.dropna()
    assert res["product.apheresis_to_infusion.median"]["value"] == pytest.approx(v2v.median())
    assert (res["product.apheresis_to_infusion.min"]["value"], res["product.apheresis_to_infusion.max"]["value"]) == (
        v2v.min(), v2v.max())
    manuf = (s["release_date"] - s["apheresis_date"]).dt.days.dropna()
    # the paper: leukapheresis to release median 20 (17-33) days
    assert (manuf.median(), manuf.min(), manuf.max()) == (20, 17, 33)
    assert res["product.apheresis_to_release.median"]["value"] == 20


def test_no_dates_no_times(small_study, tmp_path):
    from cartalysis.report.build import build_report

    path = small_study / "subjects.csv"
    subjects = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in ("apheresis_date", "release_date", "ld_start_date", "ld_end_date"):
        subjects[col] = ""
    subjects.to_csv(path, index=False)
    out = tmp_path / "r"
    build_report(small_study, out, formats=("html",))
    res = {r["id"]: r for r in json.loads((out / "results.json").read_text(encoding="utf-8"))}
    assert not any(k.startswith("product.apheresis") or k.startswith("product.ld_") for k in res)
