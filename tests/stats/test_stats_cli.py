"""The km, logrank, cox, binom, design and cif commands: JSON keys and values, readable output, bad input."""

import json

import pytest
from typer.testing import CliRunner

from cartalysis.cli import app
from cartalysis.cli_stats import register
from stats_ref import R, close, ref

register(app)
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def js(*args):
    res = run(*args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_binom_published():
    out = js("binom", "--x", 34, "--n", 48, "--p0", 0.25, "--alternative", "greater")
    assert list(out) == ["x", "n", "estimate", "ci", "p0", "alternative", "p"]
    assert out["p"] < 1e-4 and out["ci"][1] == pytest.approx(0.830469, abs=5e-7)
    text = run("binom", "--x", 34, "--n", 48, "--p0", 0.25, "--alternative", "greater").stdout
    assert "70.8%" in text and "55.9–83.0" in text and "p < .0001" in text


def test_km_json_matches_r():
    out = js("km", R / "data_lung.csv", "--time", "time", "--event", "event", "--group", "sex",
             "--conf-type", "log", "--times", "180,365")
    assert out["conf_type"] == "log" and [g["group"] for g in out["groups"]] == ["1", "2"]
    g = out["groups"][0]
    assert set(g) == {"group", "n", "events", "median", "median_ci", "table", "at"}
    q = ref("km_quantile")
    q = q[(q.case == "lung_sex") & (q.conf_type == "log") & (q.group == "1") & (q.prob == 0.5)].iloc[0]
    close([g["median"], *g["median_ci"]], [q.estimate, q.lower, q.upper])
    t = ref("km_table")
    t = t[(t.case == "lung_sex") & (t.conf_type == "log") & (t.group == "1")]
    close([r["se"] for r in g["table"]], t.se)
    assert set(g["table"][0]) == {"time", "n_risk", "n_event", "n_censor", "surv", "se", "lower", "upper"}
    assert set(g["at"][0]) == {"time", "surv", "lower", "upper", "n_risk"}


def test_km_not_reached_is_null(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("t,e\n1,1\n2,0\n3,0\n4,0\n")
    g = js("km", f, "--time", "t", "--event", "e")["groups"][0]
    assert g["group"] is None and g["median"] is None and g["median_ci"][1] is None


def test_logrank_and_cox_json():
    out = js("logrank", R / "data_veteran.csv", "--time", "time", "--event", "event", "--group", "trt",
             "--strata", "celltype")
    r = ref("logrank").set_index("case").loc["veteran_trt_strat_cell"]
    close([out["chisq"], out["p"]], [r.chisq, r.p])
    assert list(out) == ["chisq", "df", "p", "groups"]
    cx = js("cox", R / "data_lung.csv", "--time", "time", "--event", "event", "--covariates", "age,sex,ph_ecog",
            "--ties", "breslow")
    rc = ref("cox").set_index(["case", "ties"]).loc[("lung_age_sex_ecog", "breslow")]
    assert cx["n"] == rc.n and cx["n_dropped"] == 1 and cx["ties"] == "breslow"
    close([cx["lr_test"]["stat"], cx["wald_test"]["p"], cx["score_test"]["stat"], cx["concordance"]],
          [rc.lr, rc.wald_p, rc.score, rc.concordance])
    assert set(cx["terms"][0]) == {"term", "coef", "se", "hr", "hr_lower", "hr_upper", "z", "p"}
    cat = js("cox", R / "data_veteran.csv", "--time", "time", "--event", "event", "--covariates",
             "trt,celltype,karno", "--categorical", "celltype=squamous")
    assert [t["term"] for t in cat["terms"]][1:4] == ["celltype=adeno", "celltype=large", "celltype=smallcell"]


def test_cif_and_design_json():
    out = js("cif", R / "data_veteran.csv", "--time", "time", "--status", "status_cr", "--group", "trt",
             "--times", "30,90")
    assert [(c["cause"], c["group"]) for c in out["curves"]] == [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]
    r = ref("gray")
    close([g["stat"] for g in out["gray"]], r[r.case == "veteran_trt"].stat)
    assert set(out["curves"][0]["at"][0]) == {"time", "cif", "se", "lower", "upper"}
    assert "gray" not in js("cif", R / "data_veteran.csv", "--time", "time", "--status", "status_cr")
    d = js("design", "--p0", 0.25, "--p1", 0.5, "--alpha", 0.025, "--power", 0.9)
    row = next(r for r in d["table"] if r["n"] == 48)
    assert row["critical"] == 19 and d["smallest_n"] == 39


BAD = [
    ("t,e\n1,1\nx,0\n", ["--time", "t", "--event", "e"], "d.csv:3:t: not a number"),
    ("t,e\n1,1\n-2,0\n", ["--time", "t", "--event", "e"], "d.csv:3:t: negative time"),
    ("t,e\n1,2\n", ["--time", "t", "--event", "e"], "d.csv:2:e: event must be coded 0"),
    ("t,e\n1,1\n", ["--time", "T", "--event", "e"], "d.csv::T: column not found"),
    ("", ["--time", "t", "--event", "e"], "file is empty"),
    ("t,e\n", ["--time", "t", "--event", "e"], "empty file"),
]


@pytest.mark.parametrize("content,opts,msg", BAD)
def test_bad_input_one_line_exit_2(tmp_path, content, opts, msg):
    f = tmp_path / "d.csv"
    f.write_text(content)
    for cmd in ("km", "logrank", "cox"):
        extra = {"km": [], "logrank": ["--group", "e"], "cox": ["--covariates", "e"]}[cmd]
        if cmd != "km" and "column not found" in msg:
            continue
        res = run(cmd, f, *opts, *extra)
        assert res.exit_code == 2, (cmd, res.output)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and msg in lines[0] and "Traceback" not in res.output


def test_usage_errors_exit_2():
    assert run("binom", "--x", 5, "--n", 4).exit_code == 2
    assert run("design", "--p0", 0.3, "--p1", 0.3).exit_code == 2
    res = run("km", R / "data_aml.csv", "--time", "time", "--event", "event", "--conf-type", "loglog")
    assert res.exit_code == 2 and "conf_type" in res.stderr
