"""The report on an ADaM folder: every PARAMCD of a multi-parameter ADTTE, BOR from ADRS, TEAEs from ADAE, and
honest omissions (a parameter without events, a dataset that is absent, no treatment variable).

The numbers are checked against the stats commands run on the same data as CSV with an event column (a separate
path: CSV reader, --event, days) and against scipy for the response rate's exact CI.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from typer.testing import CliRunner

from cartalysis.cli import app
from cartalysis.cli_stats import register
from cartalysis.report.build import build_report
from cartalysis.study.errors import StudyError

register(app)
MONTH = 30.4375


def adtte() -> pd.DataFrame:
    """OS, PFS, DOR (about half the subjects) and NOEV (no event) for 60 subjects in two arms, AVAL in days."""
    rng = np.random.default_rng(11)
    n = 60
    subj = pd.DataFrame({"STUDYID": "T1", "USUBJID": [f"T1-{i:03d}" for i in range(n)],
                         "TRT01A": np.where(np.arange(n) % 2, "Drug X", "Placebo")})
    parts = []
    for code, name, scale in (("OS", "Overall Survival", 600), ("PFS", "Progression-free Survival", 250),
                              ("DOR", "Duration of Response", 300), ("NOEV", "Time to Rare Event", 300)):
        s = subj.sample(frac=0.5, random_state=3) if code == "DOR" else subj
        t = np.ceil(rng.exponential(scale / np.where(s.TRT01A == "Drug X", 0.6, 1.0)))
        c = np.ceil(rng.uniform(60, 900, len(s)))
        cnsr = np.where((t <= c) & (code != "NOEV"), 0, rng.integers(1, 3, len(s)))
        parts.append(s.assign(PARAMCD=code, PARAM=name, AVAL=np.minimum(t, c), AVALU="DAYS", CNSR=cnsr.astype(float)))
    return pd.concat(parts, ignore_index=True)


def adsl(tte: pd.DataFrame) -> pd.DataFrame:
    a = tte.drop_duplicates("USUBJID")[["STUDYID", "USUBJID", "TRT01A"]].reset_index(drop=True)
    return a.assign(AGE=40.0 + np.arange(len(a)) % 30, SEX=np.where(np.arange(len(a)) % 3 == 0, "F", "M"),
                    ITTFL="Y", SAFFL=np.where(np.arange(len(a)) == 59, "N", "Y"),
                    EOSSTT=np.where(np.arange(len(a)) % 4 == 0, "DISCONTINUED", "COMPLETED"))


def adrs(a: pd.DataFrame) -> pd.DataFrame:
    resp = np.array(["CR", "PR", "SD", "PD", "NE"])[np.arange(len(a)) % 5]
    bor = a[["STUDYID", "USUBJID"]].assign(PARAMCD="BOR", PARAM="Best Overall Response", AVALC=resp)
    ovr = bor.assign(PARAMCD="OVR", AVALC="PD")  # another parameter, not counted as BOR
    return pd.concat([bor, ovr], ignore_index=True)


def adae(a: pd.DataFrame) -> pd.DataFrame:
    ids = a.USUBJID.iloc[:12].tolist()
    return pd.DataFrame({"USUBJID": ids * 2, "AEDECOD": ["NAUSEA"] * 12 + ["Fatigue"] * 12,
                         "TRTEMFL": ["Y"] * 18 + ["N"] * 6, "ATOXGRN": [1, 3, 2] * 8, "AESER": ["N"] * 23 + ["Y"]})


@pytest.fixture(scope="module")
def adam_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("adam")
    tte = adtte()
    a = adsl(tte)
    pyreadstat.write_xport(a, str(d / "adsl.xpt"), file_format_version=5, table_name="ADSL",
                           column_labels=["Study Identifier", "Unique Subject Identifier", "Actual Treatment",
                                          "Age", "Sex", "Intent-To-Treat Population Flag", "Safety Population Flag",
                                          "End of Study Status"])
    pyreadstat.write_xport(tte, str(d / "adtte.xpt"), file_format_version=5, table_name="ADTTE")
    adrs(a).to_parquet(d / "adrs.parquet")
    adae(a).to_csv(d / "adae.csv", index=False)
    for code, part in tte.groupby("PARAMCD"):  # the same data for the stats commands, with an event column
        part.assign(EVENT=(part.CNSR == 0).astype(int), MONTHS=part.AVAL / MONTH).to_csv(d.parent / f"{code}.csv",
                                                                                        index=False)
    return d


@pytest.fixture(scope="module")
def report(adam_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    build_report(adam_dir, out, formats=("html",))
    return {r["id"]: r for r in json.loads((out / "results.json").read_text())}, (out / "report.html").read_text(), out


def cli(*args):
    res = CliRunner().invoke(app, [str(a) for a in args] + ["--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.mark.parametrize("param", ["OS", "PFS", "DOR", "NOEV"])
def test_every_paramcd_matches_the_stats_commands(report, adam_dir, param):
    rec, html, _ = report
    csv = adam_dir.parent / f"{param}.csv"
    km = cli("km", csv, "--time", "MONTHS", "--event", "EVENT", "--group", "TRT01A", "--times", "6,12,24")
    p = param.lower()
    for g in km["groups"]:
        arm = g["group"].lower().replace(" ", "_")
        assert rec[f"adam.tte.{p}.n.{arm}"]["value"] == g["n"]
        assert rec[f"adam.tte.{p}.events.{arm}"]["value"] == g["events"]
        median = rec[f"adam.tte.{p}.median.{arm}"]["value"]
        assert median == g["median"] is None or median == pytest.approx(g["median"], rel=1e-9)
        for a in g["at"]:
            r = rec[f"adam.tte.{p}.rate_{a['time']:g}m.{arm}"]["value"]
            assert (r is None and a["surv"] is None) or r == pytest.approx(100 * a["surv"], rel=1e-9)
    if param == "NOEV":
        assert f"adam.tte.{p}.logrank" not in rec and not any(k.startswith(f"adam.tte.{p}.cox") for k in rec)
        assert "NOEV: no events: the median is not reached and no between-arm comparison is estimable." in html
        return
    lr = cli("logrank", csv, "--time", "MONTHS", "--event", "EVENT", "--group", "TRT01A")
    assert rec[f"adam.tte.{p}.logrank"]["p_value"] == pytest.approx(lr["p"], rel=1e-9)
    cx = cli("cox", csv, "--time", "MONTHS", "--event", "EVENT", "--covariates", "TRT01A", "--categorical",
             "TRT01A=Placebo")
    hr = rec[f"adam.tte.{p}.cox.drug_x"]
    assert hr["label"].endswith("Drug X vs Placebo") and hr["value"] == pytest.approx(cx["terms"][0]["hr"], rel=1e-9)
    assert hr["ci"] == pytest.approx([cx["terms"][0]["hr_lower"], cx["terms"][0]["hr_upper"]], rel=1e-9)


def test_bor_teae_disposition_and_table1(report, adam_dir):
    rec, html, _ = report
    a = adsl(adtte())
    r = adrs(a).query("PARAMCD == 'BOR'")
    for arm, slug in (("Drug X", "drug_x"), ("Placebo", "placebo")):
        sub = r[r.USUBJID.isin(a.USUBJID[a.TRT01A == arm])]
        x = int(sub.AVALC.isin(["CR", "PR"]).sum())
        orr = rec[f"adam.response.orr.{slug}"]
        ci = binomtest(x, len(sub)).proportion_ci(method="exact")
        assert (orr["n"], orr["N"]) == (x, len(sub))
        assert orr["ci"] == pytest.approx([100 * ci.low, 100 * ci.high], rel=1e-9)
        assert rec[f"adam.response.bor.pd.{slug}"]["n"] == int((sub.AVALC == "PD").sum())
    ae = adae(a)
    saf = a[a.SAFFL == "Y"]
    te = ae[ae.TRTEMFL == "Y"]
    for arm, slug in (("Drug X", "drug_x"), ("Placebo", "placebo"), (None, "total")):
        pop = saf if arm is None else saf[saf.TRT01A == arm]
        anyte = rec[f"adam.safety.teae.any.{slug}"]
        assert (anyte["n"], anyte["N"]) == (int(pop.USUBJID.isin(te.USUBJID).sum()), len(pop))
        g3 = te[te.ATOXGRN >= 3]
        assert rec[f"adam.safety.teae.g3.{slug}"]["n"] == int(pop.USUBJID.isin(g3.USUBJID).sum())
        assert rec[f"adam.safety.teae.serious.{slug}"]["n"] == 0  # the serious event is not treatment-emergent
        itt = a if arm is None else a[a.TRT01A == arm]
        assert rec[f"adam.disposition.saffl.{slug}"]["n"] == int((itt.SAFFL == "Y").sum())
        assert rec[f"adam.table1.age.{slug}.median"]["value"] == pytest.approx(
            np.quantile(itt.AGE, 0.5, method="averaged_inverted_cdf"))
    assert "Intent-To-Treat Population Flag" in html and "Safety Population Flag" in html  # XPT labels shown


def test_absent_datasets_and_no_treatment_variable_are_said(adam_dir, tmp_path):
    only = tmp_path / "only"
    only.mkdir()
    a = pyreadstat.read_xport(str(adam_dir / "adsl.xpt"))[0].drop(columns=["TRT01A"])
    a.to_csv(only / "adsl.csv", index=False)
    out = tmp_path / "out"
    build_report(only, out, formats=("html",))
    html = (out / "report.html").read_text()
    rec = {r["id"]: r for r in json.loads((out / "results.json").read_text())}
    assert "ADSL has no TRT01A: every analysis is of all subjects, not by arm." in html
    assert "No ADTTE dataset (or no rows) in the folder: time to event not analysed." in html
    assert "adam.tte.not_analysed" in rec and rec["adam.tte.not_analysed"]["value"] is None
    assert "No ADRS dataset" in html and "No ADAE dataset" in html
    assert rec["adam.disposition.saffl.total"]["n"] == 59


def test_same_folder_same_results(adam_dir, report, tmp_path):
    _, _, first = report
    build_report(adam_dir, tmp_path, formats=("html",))
    assert (tmp_path / "results.json").read_bytes() == (first / "results.json").read_bytes()
    assert (tmp_path / "report.html").read_bytes() == (first / "report.html").read_bytes()


def test_bad_adtte_values_are_located(tmp_path):
    tte = adtte().head(4)
    adsl(tte).to_csv(tmp_path / "adsl.csv", index=False)
    tte.assign(AVAL=["1", "x", "-3", "4"], CNSR=[0, 0.5, 1, 1]).to_csv(tmp_path / "adtte.csv", index=False)
    expected = ["adtte.csv:3:AVAL: must be a non-negative time, got 'x'",
                "adtte.csv:3:CNSR: must be 0 (event) or a whole number >= 1 (censored), got '0.5'",
                "adtte.csv:4:AVAL: must be a non-negative time, got '-3'"]
    with pytest.raises(StudyError) as e:
        build_report(tmp_path, tmp_path / "out", formats=("html",))
    assert [str(p) for p in e.value.problems] == expected
    res = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert res.exit_code == 1 and res.stderr.splitlines()[:3] == expected


def test_cli_report_on_an_adam_folder(adam_dir, tmp_path):
    assert CliRunner().invoke(app, ["validate", str(adam_dir)]).exit_code == 0
    res = CliRunner().invoke(app, ["report", str(adam_dir), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "figures" / "adam_km_os.png").is_file()
    assert (tmp_path / "r" / "tables" / "adam_tte_os.docx").is_file() and (tmp_path / "r" / "tables" / "adam_tte_os.rtf").is_file()


@st.composite
def adam_folders(draw):
    """Small ADaM folders unlike any trial: 1–12 subjects, 0–3 arms (some subjects without one), tied and zero
    times, parameters without events, an ADAE that may hold no treatment-emergent row."""
    n = draw(st.integers(1, 12))
    arms = draw(st.lists(st.sampled_from(["A", "B", "Placebo", None]), min_size=n, max_size=n))
    a = pd.DataFrame({"USUBJID": [f"S{i}" for i in range(n)], "TRT01A": arms,
                      "SAFFL": draw(st.lists(st.sampled_from(["Y", "N"]), min_size=n, max_size=n))})
    rows = []
    for code in draw(st.lists(st.sampled_from(["OS", "PFS", "DOR"]), min_size=1, max_size=3, unique=True)):
        for s in draw(st.lists(st.sampled_from(list(a.USUBJID)), min_size=1, max_size=n, unique=True)):
            rows.append({"USUBJID": s, "PARAMCD": code, "AVAL": draw(st.sampled_from([0, 1, 5, 5, 30, 400])),
                         "CNSR": draw(st.sampled_from([0, 1, 2]))})
    ae = pd.DataFrame({"USUBJID": a.USUBJID, "AEDECOD": "Pyrexia",
                       "TRTEMFL": draw(st.lists(st.sampled_from(["Y", "N"]), min_size=n, max_size=n))})
    return a, pd.DataFrame(rows), ae


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(adam_folders())
def test_any_small_adam_folder_gives_an_honest_report(tmp_path_factory, folder):
    a, tte, ae = folder
    d = tmp_path_factory.mktemp("h")
    a.to_csv(d / "adsl.csv", index=False)
    tte.to_csv(d / "adtte.csv", index=False)
    ae.to_csv(d / "adae.csv", index=False)
    build_report(d, d / "out", formats=("html",))
    rec = {r["id"]: r for r in json.loads((d / "out" / "results.json").read_text())}
    html = (d / "out" / "report.html").read_text()
    for code, part in tte.groupby("PARAMCD"):
        total = rec.get(f"adam.tte.{code.lower()}.events.total")
        with_arm = part[part.USUBJID.map(a.set_index("USUBJID").TRT01A).notna()] if a.TRT01A.notna().any() else part
        if with_arm.empty:  # every record of the parameter is of a subject without an arm: said, not counted
            assert total is None and f"{code}: {len(part)} record(s) of subjects without TRT01A" in html
            continue
        assert total is not None and total["value"] == int((with_arm.CNSR == 0).sum())
        median = rec[f"adam.tte.{code.lower()}.median.total"]["value"]
        assert median is None or median >= 0
        if total["value"] == 0:
            assert not any(k.startswith(f"adam.tte.{code.lower()}.cox") or k == f"adam.tte.{code.lower()}.logrank"
                           for k in rec)
    assert ("adam.safety.not_analysed" in rec) == (not (ae.TRTEMFL == "Y").any())
