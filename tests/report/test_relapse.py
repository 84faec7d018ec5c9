"""Table 3c (relapse and antigen escape) against counts taken independently from the study's own tables."""

from __future__ import annotations

import json

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def res(pivotal_report):
    return {r["id"]: r for r in json.loads((pivotal_report / "results.json").read_text(encoding="utf-8"))}


def test_cd19_status_of_relapses_is_the_papers(res):
    # pivotal paper: "Of 11 relapses with CD19 data: 4 CD19+, 7 CD19−"
    assert (res["relapse.cd19_pos"]["n"], res["relapse.cd19_pos"]["N"]) == (4, 11)
    assert (res["relapse.cd19_neg"]["n"], res["relapse.cd19_neg"]["N"]) == (7, 11)
    assert res["relapse.cd19_neg"]["value"] == pytest.approx(100 * 7 / 11)


def test_counts_follow_from_the_study_tables(res, pivotal_study):
    events = pd.read_csv(pivotal_study / "events.csv")
    rel = events[events["event"] == "relapse"].sort_values("date").drop_duplicates("patient_id")
    # every relapse event of the pivotal twin is of a responder (non-responders progress, recorded as such)
    assert res["relapse.any"]["n"] >= len(rel)
    with_cd19 = rel[rel["detail"].isin(["cd19_pos", "cd19_neg", "cd19_mixed"])]
    assert res["relapse.cd19_pos"]["N"] == len(with_cd19)
    windows = sum(res[f"relapse.window_{w}"]["n"] for w in ("le3m", "3to6m", "6to12m", "gt12m"))
    assert windows == res["relapse.any"]["n"]
    therapies = sum(r["n"] for k, r in res.items() if k.startswith("relapse.therapy_"))
    assert therapies == res["relapse.any"]["n"]


def test_table_in_html(pivotal_report):
    html = (pivotal_report / "report.html").read_text(encoding="utf-8")
    assert "Table 3c. Relapse and antigen escape" in html
    assert "CD19 negative (antigen escape)" in html
