"""The rmst, followup (and km --entry/--conf-level, cif --conf-level, logrank --rho) commands against R."""

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


def test_rmst_json_and_text():
    out = js("rmst", R / "data_lung.csv", "--time", "time", "--event", "event", "--group", "sex", "--tau", 365)
    assert list(out) == ["tau", "groups", "difference"]
    assert [g["group"] for g in out["groups"]] == ["1", "2"]
    assert set(out["groups"][0]) == {"group", "n", "rmst", "se", "lower", "upper"}
    assert set(out["difference"]) == {"estimate", "se", "lower", "upper", "p"}
    r = ref("rmst")
    r = r[(r.case == "lung_sex") & (r.tau == 365)]
    close([g["rmst"] for g in out["groups"]], r.rmst)
    close([g["se"] for g in out["groups"]], r.se)
    close([out["difference"]["estimate"], out["difference"]["p"]], [r["diff"].iloc[0], r.diff_p.iloc[0]])
    text = run("rmst", R / "data_lung.csv", "--time", "time", "--event", "event", "--group", "sex", "--tau", 365).stdout
    assert "241.50" in text and "297.47" in text and "difference in RMST (2 − 1)" in text
    one = js("rmst", R / "data_lung.csv", "--time", "time", "--event", "event", "--tau", 365)
    assert one["difference"] is None and one["groups"][0]["group"] is None


def test_rmst_bad_tau():
    res = run("rmst", R / "data_lung.csv", "--time", "time", "--event", "event", "--tau", -1)
    assert res.exit_code == 2 and "tau" in res.output


def test_followup_matches_r():
    out = js("followup", R / "data_lung.csv", "--time", "time", "--event", "event", "--group", "sex",
             "--conf-type", "log")
    assert list(out) == ["conf_type", "groups"] and set(out["groups"][0]) == {"group", "n", "median", "median_ci"}
    r = ref("followup")
    r = r[(r.case == "lung_sex") & (r.conf_type == "log")]
    close([g["median"] for g in out["groups"]], r.estimate)
    close([g["median_ci"][0] for g in out["groups"]], r.lower)
    close([g["median_ci"][1] for g in out["groups"]], r.upper)


def test_km_entry_conf_level():
    out = js("km", R / "data_lung_tx.csv", "--time", "time", "--event", "event", "--entry", "entry",
             "--conf-type", "log", "--conf-level", 0.9, "--times", "180")
    t = ref("km2_table")
    t = t[(t.case == "lung_entry") & (t.conf_type == "log") & (t.conf_level == 0.9)]
    g = out["groups"][0]
    close([r["lower"] for r in g["table"]], t.lower)
    assert [r["n_risk"] for r in g["table"]] == t.n_risk.tolist()
    assert out["conf_level"] == 0.9
    assert "90% CI" in run("km", R / "data_lung_tx.csv", "--time", "time", "--event", "event",
                           "--conf-level", 0.9).stdout


def test_km_entry_after_time(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("t,e,en\n5,1,0\n6,0,7\n")
    res = run("km", f, "--time", "t", "--event", "e", "--entry", "en")
    assert res.exit_code == 2 and f"{f}:3:en: entry must be before the time" in res.output


def test_logrank_rho():
    out = js("logrank", R / "data_veteran.csv", "--time", "time", "--event", "event", "--group", "trt",
             "--strata", "celltype", "--rho", 1)
    r = ref("logrank_rho")
    r = r[(r.case == "veteran_trt_strat_cell") & (r.rho == 1)]
    close([out["chisq"], out["p"]], [r.chisq.iloc[0], r.p.iloc[0]])


def test_cif_conf_level():
    a = js("cif", R / "data_lung.csv", "--time", "time", "--status", "status_cr", "--times", "365",
           "--conf-type", "plain", "--conf-level", 0.9)
    cur = a["curves"][0]["at"][0]
    close([cur["lower"], cur["upper"]], [cur["cif"] - 1.6448536269514722 * cur["se"],
                                         cur["cif"] + 1.6448536269514722 * cur["se"]])
    assert run("cif", R / "data_lung.csv", "--time", "time", "--status", "status_cr", "--conf-level", 1.5).exit_code == 2


@pytest.mark.parametrize("cmd", ["rmst", "followup"])
def test_missing_column(cmd):
    extra = ["--tau", 10] if cmd == "rmst" else []
    res = run(cmd, R / "data_lung.csv", "--time", "nope", "--event", "event", *extra)
    assert res.exit_code == 2 and "nope: column not found" in res.output


def test_cox_counting_process_cluster_zph():
    out = js("cox", R / "data_lung_cp.csv", "--start", "start", "--stop", "stop", "--event", "event",
             "--covariates", "tx,age,sex", "--cluster", "id", "--zph", "km")
    rt = ref("coxcp_terms")
    rt = rt[(rt.case == "cp_tx_cluster_id") & (rt.ties == "efron")]
    assert list(out["terms"][0]) == ["term", "coef", "se", "robust_se", "hr", "hr_lower", "hr_upper", "z", "p"]
    for col in ("coef", "se", "robust_se", "hr_lower", "p"):
        close([t[col] for t in out["terms"]], rt[col])
    z = ref("zph")
    z = z[(z.case == "cp_tx_cluster_id") & (z.ties == "efron") & (z["transform"] == "km")]
    close([t["chisq"] for t in out["zph"]["terms"]] + [out["zph"]["global"]["chisq"]], z.chisq)
    assert set(out["zph"]["terms"][0]) == {"term", "chisq", "df", "p"} and set(out["zph"]["global"]) == {"chisq", "df", "p"}
    text = run("cox", R / "data_lung_cp.csv", "--start", "start", "--stop", "stop", "--event", "event",
               "--covariates", "tx,age,sex", "--cluster", "id", "--zph", "km").stdout
    assert "robust se" in text and "GLOBAL" in text and "counting process" in text


def test_cox_two_strata_columns_and_weights():
    out = js("cox", R / "data_lung_cp.csv", "--start", "start", "--stop", "stop", "--event", "event",
             "--covariates", "tx,age", "--strata", "sex,ecog2", "--ties", "breslow")
    rt = ref("coxcp_terms")
    close([t["coef"] for t in out["terms"]], rt[(rt.case == "cp_tx_strata2") & (rt.ties == "breslow")].coef)
    assert "robust_se" not in out["terms"][0]
    out = js("cox", R / "data_lung_cp.csv", "--start", "start", "--stop", "stop", "--event", "event",
             "--covariates", "tx,age,sex", "--weights", "w")
    close([t["robust_se"] for t in out["terms"]],
          rt[(rt.case == "cp_tx_weights") & (rt.ties == "efron")].robust_se)


@pytest.mark.parametrize("args, msg", [
    (["--time", "stop", "--stop", "stop"], "give --time"),
    (["--start", "start"], "give --time"),
    (["--start", "stop", "--stop", "stop"], "start must be before stop"),
    (["--stop", "stop", "--zph", "log"], "zph"),
])
def test_cox_counting_bad_usage(args, msg):
    res = run("cox", R / "data_lung_cp.csv", "--event", "event", "--covariates", "tx", *args)
    assert res.exit_code == 2 and msg in res.output


def test_finegray_json_matches_crr():
    out = js("finegray", R / "data_veteran.csv", "--time", "time", "--status", "status_cr", "--cause", 1,
             "--covariates", "trt,karno,celltype", "--categorical", "celltype=squamous", "--cause-specific")
    assert list(out)[:3] == ["n", "cause", "terms"] and out["n"] == 137 and out["cause"] == "1"
    assert set(out["terms"][0]) == {"term", "coef", "se", "hr", "hr_lower", "hr_upper", "z", "p"}
    r = ref("finegray")
    r = r[(r.case == "veteran") & (r.cause == "1")].set_index("term")
    r = r.loc[[t["term"].replace("=", "") for t in out["terms"]]]
    for col in ("coef", "se", "hr_lower", "hr_upper"):
        close([t[col] for t in out["terms"]], r[col])
    assert [c["cause"] for c in out["cause_specific"]] == ["1", "2"]
    text = run("finegray", R / "data_veteran.csv", "--time", "time", "--status", "status_cr", "--cause", 1,
               "--covariates", "trt,karno").stdout
    assert "Fine–Gray" in text and "subdistribution HR" in text


def test_finegray_bad_cause():
    res = run("finegray", R / "data_veteran.csv", "--time", "time", "--status", "status_cr", "--cause", 7,
              "--covariates", "trt")
    assert res.exit_code == 2 and "no event of cause 7" in res.output


def test_landmark_json_matches_r():
    out = js("landmark", R / "data_lung_tx.csv", "--time", "time", "--event", "event", "--switch", "tx_time",
             "--at", 90, "--times", "100,200")
    assert list(out) == ["at", "n", "excluded", "km", "logrank", "cox"]
    r = ref("landmark").set_index("at").loc[90]
    assert (out["n"], out["excluded"]) == (r.n, r.excluded)
    assert [g["group"] for g in out["km"]["groups"]] == ["not switched", "switched"]
    assert set(out["km"]["groups"][0]) == {"group", "n", "events", "median", "median_ci", "table", "at"}
    close([a["surv"] for a in out["km"]["groups"][1]["at"]], [r.surv1_100, r.surv1_200])
    close(out["logrank"]["chisq"], r.chisq)
    assert set(out["logrank"]) == {"chisq", "df", "p", "groups"}
    close([out["cox"]["terms"][0]["coef"], out["cox"]["terms"][0]["se"]], [r.coef, r.se])
    text = run("landmark", R / "data_lung_tx.csv", "--time", "time", "--event", "event", "--switch", "tx_time",
               "--at", 90).stdout
    assert "landmark analysis at 90" in text and "group=switched" in text


def test_landmark_bad_switch(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("t,e,sw\n5,1,\n6,0,abc\n")
    res = run("landmark", f, "--time", "t", "--event", "e", "--switch", "sw", "--at", 1)
    assert res.exit_code == 2 and f"{f}:3:sw: switch time must be a number" in res.output
    f.write_text("t,e,sw\n5,1,\n6,0,\n")
    out = js("landmark", f, "--time", "t", "--event", "e", "--switch", "sw", "--at", 1)
    assert out["logrank"] is None and out["cox"] is None and "every subject" in out["note"]
