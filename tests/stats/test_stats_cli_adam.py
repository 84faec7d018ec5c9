"""The stats commands on ADaM data: --censor (CNSR), --where, --by-param, labels shown, XPT = CSV numbers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from typer.testing import CliRunner

from cartalysis.cli import app
from cartalysis.cli_stats import register

register(app)
runner = CliRunner()

LABELS = {"STUDYID": "Study Identifier", "USUBJID": "Unique Subject Identifier", "TRT01A": "Actual Treatment for Period 01",
          "AGE": "Age", "PARAMCD": "Parameter Code", "PARAM": "Parameter", "AVAL": "Analysis Value",
          "CNSR": "Censor", "EVNTDESC": "Event or Censoring Description"}


def adtte(seed: int = 7) -> pd.DataFrame:
    """OS and PFS for 60 subjects in two arms, DOR for about half, and NOEV (no event at all); CNSR 0/1/2."""
    rng = np.random.default_rng(seed)
    n = 60
    subj = pd.DataFrame({"STUDYID": "ST-1", "USUBJID": [f"ST-1-{i:03d}" for i in range(n)],
                         "TRT01A": np.where(np.arange(n) % 2, "Drug X", "Placebo"),
                         "AGE": rng.integers(30, 80, n).astype(float)})
    parts = []
    for code, name, scale, frac in (("OS", "Overall Survival (months)", 20, 1.0),
                                    ("PFS", "Progression-free Survival (months)", 9, 1.0),
                                    ("DOR", "Duration of Response (months)", 12, 0.5),
                                    ("NOEV", "Time to an event that never happened", 10, 1.0)):
        s = subj.sample(frac=frac, random_state=seed) if frac < 1 else subj
        hr = np.where(s.TRT01A == "Drug X", 0.6, 1.0)
        t = np.round(rng.exponential(scale / hr), 2) + 0.01
        c = np.round(rng.uniform(2, 30, len(s)), 2)
        cnsr = np.where(t <= c, 0, rng.integers(1, 3, len(s)))
        if code == "NOEV":
            cnsr = np.ones(len(s), int)
        parts.append(s.assign(PARAMCD=code, PARAM=name, AVAL=np.minimum(t, c), CNSR=cnsr.astype(float),
                              EVNTDESC=np.where(cnsr == 0, "EVENT", "CENSORED")))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("adam")
    frame = adtte()
    pyreadstat.write_xport(frame, str(d / "adtte.xpt"), file_format_version=5, table_name="ADTTE",
                           file_label="Time to Event Analysis Dataset",
                           column_labels=[LABELS[c] for c in frame.columns])
    for code, part in frame.groupby("PARAMCD"):
        part.assign(EVENT=(part.CNSR == 0).astype(int)).to_csv(d / f"{code}.csv", index=False)
    frame.assign(EVENT=(frame.CNSR == 0).astype(int)).to_csv(d / "all.csv", index=False)
    return d


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def js(*args):
    res = run(*args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_xpt_with_censor_and_where_equals_csv_with_event(files):
    xpt = ["--time", "AVAL", "--censor", "CNSR", "--where", 'PARAMCD == "OS"']
    csv = ["--time", "AVAL", "--event", "EVENT"]
    assert js("km", files / "adtte.xpt", *xpt, "--group", "TRT01A", "--times", "6,12") == \
        js("km", files / "OS.csv", *csv, "--group", "TRT01A", "--times", "6,12")
    assert js("logrank", files / "adtte.xpt", *xpt, "--group", "TRT01A") == \
        js("logrank", files / "OS.csv", *csv, "--group", "TRT01A")
    cox_xpt = js("cox", files / "adtte.xpt", *xpt, "--covariates", "TRT01A,AGE", "--categorical", "TRT01A=Placebo")
    cox_csv = js("cox", files / "OS.csv", *csv, "--covariates", "TRT01A,AGE", "--categorical", "TRT01A=Placebo")
    assert cox_xpt == cox_csv and cox_xpt["events"] == int((adtte().query("PARAMCD == 'OS'").CNSR == 0).sum())


def test_censor_values_above_one_are_censoring_reasons(files):
    out = js("km", files / "adtte.xpt", "--time", "AVAL", "--censor", "CNSR", "--where", 'PARAMCD == "PFS"')
    pfs = adtte().query("PARAMCD == 'PFS'")
    assert set(pfs.CNSR) == {0.0, 1.0, 2.0}
    assert out["groups"][0]["events"] == int((pfs.CNSR == 0).sum()) and out["groups"][0]["n"] == len(pfs)


def test_by_param_is_a_list_keyed_by_paramcd(files):
    out = js("km", files / "adtte.xpt", "--time", "AVAL", "--censor", "CNSR", "--group", "TRT01A", "--by-param")
    assert [o["paramcd"] for o in out] == ["DOR", "NOEV", "OS", "PFS"]
    assert out[2]["param"] == "Overall Survival (months)"
    for o in out:
        single = js("km", files / "adtte.xpt", "--time", "AVAL", "--censor", "CNSR", "--group", "TRT01A",
                    "--where", f'PARAMCD == "{o["paramcd"]}"')
        assert {k: v for k, v in o.items() if k not in ("paramcd", "param")} == single
    noev = out[1]["groups"]
    assert [g["events"] for g in noev] == [0, 0] and all(g["median"] is None for g in noev)
    # a Cox model cannot be fitted without events: that parameter says why, the others are analysed
    cx = js("cox", files / "adtte.xpt", "--time", "AVAL", "--censor", "CNSR", "--covariates", "TRT01A", "--categorical",
            "TRT01A", "--by-param")
    assert [("error" in o) for o in cx] == [False, True, False, False]
    text = run("cox", files / "adtte.xpt", "--time", "AVAL", "--censor", "CNSR", "--covariates", "TRT01A",
               "--categorical", "TRT01A", "--by-param").stdout
    assert "=== PARAMCD NOEV: Time to an event that never happened ===\nnot analysed:" in text
    # --where and --by-param together: the filter first
    sub = js("logrank", files / "adtte.xpt", "--time", "AVAL", "--censor", "CNSR", "--group", "TRT01A",
             "--where", 'PARAMCD in ("OS", "PFS")', "--by-param")
    assert [o["paramcd"] for o in sub] == ["OS", "PFS"]


def test_labels_are_shown(files):
    text = run("km", files / "adtte.xpt", "--time", "AVAL", "--censor", "CNSR", "--group", "TRT01A",
               "--where", 'PARAMCD == "OS"').stdout
    first = text.splitlines()[:2]
    assert first[0] == 'adtte.xpt (Time to Event Analysis Dataset); where PARAMCD == "OS": 60 of 210 rows'
    assert first[1] == ("variables: AVAL (Analysis Value), CNSR (Censor; 0 = event, 1 or more = censored), "
                        "TRT01A (Actual Treatment for Period 01)")
    res = run("km", files / "adtte.xpt", "--time", "AVAL", "--censor", "CNSR", "--group", "ARM",
              "--where", 'PARAMCD == "OS"')
    assert res.exit_code == 2 and "ARM: column not found (columns: STUDYID (Study Identifier), " in res.stderr


@pytest.mark.parametrize("args,message", [
    (["--event", "EVENT", "--censor", "CNSR"], "give exactly one of --event COL"),
    ([], "give exactly one of --event COL"),
    (["--censor", "CNSR", "--where", 'PARAMCD = "OS"'], "--where 'PARAMCD = \"OS\"': character 9: unexpected '='"),
    (["--censor", "CNSR", "--where", 'PARAMCD == "XX"'], "selects no rows (of 210)"),
    (["--censor", "CNSR"], "::PARAMCD: the rows hold several parameters (DOR, NOEV, OS, PFS)"),
    (["--censor", "CNSR", "--where", "PARAMCD > 3"], "all.csv:2:PARAMCD: --where: 'OS' is not a number"),
    (["--censor", "AVAL", "--where", 'PARAMCD == "OS"'], ":AVAL: censoring must be coded 0 (event) or a whole"),
    (["--censor", "CNSR", "--by-param", "--where", 'PARAMCD == "NOEV"'], "error:"),
])
def test_usage_errors_are_one_line(files, args, message):
    res = run("cox", files / "all.csv", "--time", "AVAL", *args, "--covariates", "TRT01A", "--categorical", "TRT01A")
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in res.output


def test_cnsr_given_as_event_warns(files):
    res = run("km", files / "all.csv", "--time", "AVAL", "--event", "CNSR", "--where", 'PARAMCD == "NOEV"')
    assert res.exit_code == 0
    assert ("warning: --event CNSR: 100% of rows are counted as events (1), but the name looks like a censoring flag "
            "(ADaM CNSR: 0 = event); if 1 means censored, use --censor CNSR") in res.stderr
    assert "warning" not in run("km", files / "OS.csv", "--time", "AVAL", "--event", "EVENT").stderr


def test_cif_takes_where_and_by_param(files):
    out = js("cif", files / "all.csv", "--time", "AVAL", "--status", "EVENT", "--by-param", "--times", "12")
    assert [o["paramcd"] for o in out] == ["DOR", "NOEV", "OS", "PFS"]
