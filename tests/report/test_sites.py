"""Registry structure: the per-site table and funnel plot, and the centre-stratified Cox sensitivity model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cartalysis import stats


def _res(out):
    return {r["id"]: r for r in json.loads((out / "results.json").read_text(encoding="utf-8"))}


def test_site_rows_add_up_to_the_study(registry_report):
    res = _res(registry_report)
    adsl = pd.read_csv(registry_report / "derived" / "adsl.csv")
    inf = adsl[adsl["saffl"].astype(str).str.lower() == "true"]
    by_site = inf.groupby("site")
    assert {k.split(".")[1] for k in res if k.startswith("site.") and k.endswith(".infused")} == {
        s.lower() for s in by_site.groups}
    assert sum(r["value"] for k, r in res.items() if k.startswith("site.") and k.endswith(".infused")) == len(inf)
    for site, g in by_site:
        s = site.lower()
        assert res[f"site.{s}.infused"]["value"] == len(g)
        assert res[f"site.{s}.death"]["value"] == int((g["death"].astype(str).str.lower() == "true").sum())
        # reverse-KM median follow-up of the site, computed here from ADSL
        died = (g["death"].astype(str).str.lower() == "true").astype(int)
        q = stats.median_followup(g["fu_months"].astype(float), died)
        got = res[f"site.{s}.followup_median"]["value"]
        assert (got is None and q.estimate is None) or got == pytest.approx(q.estimate, rel=1e-9)  # ADSL CSV keeps 10 decimals
    orr = [r for k, r in res.items() if k.startswith("site.") and k.endswith(".orr_best")]
    assert sum(r["n"] for r in orr) == res["response.orr_best"]["n"]


def test_funnel_plot_and_flags(registry_report):
    assert (registry_report / "figures" / "f01b_funnel_orr.png").stat().st_size > 10_000
    html = (registry_report / "report.html").read_text(encoding="utf-8")
    assert "Figure 1b. Best overall response rate by site (funnel plot)" in html
    assert "Table 1b. Enrolment, response, events and follow-up by site" in html


def test_centre_stratified_cox_is_the_multivariable_model_with_site_strata(registry_report):
    res = _res(registry_report)
    multi = {k.removeprefix("cox.multivariable."): r for k, r in res.items() if k.startswith("cox.multivariable.")}
    strat = {k.removeprefix("cox.multivariable_by_site."): r for k, r in res.items()
             if k.startswith("cox.multivariable_by_site.")}
    assert strat and set(strat) == set(multi)
    assert all("strat" in r["method"].lower() or r["method"] for r in strat.values())
    assert any(abs(np.log(strat[k]["value"]) - np.log(multi[k]["value"])) > 1e-6 for k in strat)


def test_single_site_study_has_no_site_analyses(small_study, tmp_path):
    from cartalysis.report.build import build_report

    path = small_study / "subjects.csv"
    subjects = pd.read_csv(path, dtype=str, keep_default_na=False)
    subjects["site"] = "S1"  # every patient from one site
    subjects.to_csv(path, index=False)
    out = tmp_path / "report"
    build_report(small_study, out, formats=("html",))
    res = _res(out)
    assert not any(k.startswith("site.") or "by_site" in k for k in res)
    assert "Table 1b." not in (out / "report.html").read_text(encoding="utf-8")
