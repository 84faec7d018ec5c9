"""Plan ``[groups] compare`` (several Kaplan–Meier/log-rank comparisons per study) and ``[response] denominator``,
end to end on the post-HSCT twin: the keys change the report as ``docs/analysis-plan.md`` says."""

from __future__ import annotations

import html as html_mod
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cartalysis import stats
from cartalysis.report.build import build_report
from test_report import check_traceability, results

COMPARED = ("prior_blinatumomab", "prior_inotuzumab", "maintenance_in_remission")
PLAIN_PLAN = """\
[efficacy]
landmarks_months = [6.0, 12.0]

[response]
primary_assessor = "investigator"
denominator = "evaluable"
"""


@pytest.fixture(scope="module")
def reports(twin_report, tmp_path_factory):
    """(with compare: the twin's own sap.toml; without compare, evaluable denominator, one patient's assessments
    removed) -> report folders."""
    twin = twin_report("post_hsct_rwd")
    assert 'compare = ["prior_blinatumomab", "prior_inotuzumab", "maintenance_in_remission"]' in (
        twin.study / "sap.toml").read_text(encoding="utf-8")
    plain = tmp_path_factory.mktemp("compare") / "plain"
    shutil.copytree(twin.study, plain)
    (plain / "sap.toml").write_text(PLAIN_PLAN, encoding="utf-8")
    ass = pd.read_csv(plain / "assessments.csv", dtype=str, keep_default_na=False)
    first = sorted(ass["patient_id"])[0]
    ass[ass["patient_id"] != first].to_csv(plain / "assessments.csv", index=False)
    build_report(plain, plain.parent / "without", formats=("html",))
    return twin.report, plain.parent / "without", first


def _frame(out: Path, param: str, var: str) -> pd.DataFrame:
    adtte = pd.read_csv(out / "derived" / "adtte.csv")
    adsl = pd.read_csv(out / "derived" / "adsl.csv", dtype={var: str}).set_index("patient_id")
    df = adtte[adtte["param"] == param].copy()
    df["g"] = df["patient_id"].map(adsl[var].str.lower().map({"true": "yes", "false": "no", "yes": "yes", "no": "no"}))
    return df[df["g"].notna()]


def test_each_comparison_has_a_table_figures_and_records(reports):
    out, _, _ = reports
    r = results(out)
    for var in COMPARED:
        assert (out / "tables" / f"t05_tte_by_{var}.csv").exists()
        for ep in ("os", "rfs"):
            assert (out / "figures" / f"f03_km_{ep}_by_{var}.png").exists()
            lr = r[f"tte.{ep}.{var}.logrank"]
            assert 0 < lr["p_value"] < 1 and "log-rank" in lr["method"].lower()
            for level in ("yes", "no"):
                for stat in ("n", "events", "median", "rate_6m", "rate_12m"):
                    assert f"tte.{ep}.{var}.{level}.{stat}" in r
    # the paper's split: maintenance 14, none 17; prior blinatumomab 12 of 31, prior inotuzumab 7 of 31
    assert (r["tte.rfs.maintenance_in_remission.yes.n"]["value"], r["tte.rfs.maintenance_in_remission.no.n"]["value"]) == (14, 17)
    assert r["tte.os.prior_blinatumomab.yes.n"]["value"] == 12 and r["tte.os.prior_inotuzumab.yes.n"]["value"] == 7
    assert check_traceability(out) > 100


@pytest.mark.parametrize("param,var", [("RFS", "maintenance_in_remission"), ("OS", "prior_inotuzumab")])
def test_comparison_records_are_the_statistics_of_the_subsets(reports, param, var):
    """Records equal ``stats.logrank`` / ``stats.kaplan_meier`` (R-verified in tests/stats) on the derived datasets,
    and the event counts are the subsets' uncensored rows."""
    out, _, _ = reports
    r = results(out)
    ep = param.lower()
    df = _frame(out, param, var)
    event = (df["cnsr"] == 0).astype(int)
    lr = stats.logrank(df["aval_months"], event, df["g"])
    assert r[f"tte.{ep}.{var}.logrank"]["value"] == pytest.approx(lr.chisq, rel=1e-9)
    assert r[f"tte.{ep}.{var}.logrank"]["p_value"] == pytest.approx(lr.p_value, rel=1e-9)
    for level in ("yes", "no"):
        m = df["g"] == level
        assert r[f"tte.{ep}.{var}.{level}.events"]["value"] == int(event[m].sum())
        km = stats.kaplan_meier(df.loc[m, "aval_months"], event[m], conf_type="log-log")
        at = km.at([12.0]).iloc[0]
        assert r[f"tte.{ep}.{var}.{level}.rate_12m"]["value"] == pytest.approx(100 * at["surv"], rel=1e-9)


def test_maintenance_footnote_says_immortal_time_bias(reports):
    out, _, _ = reports
    html = html_mod.unescape((out / "report.html").read_text(encoding="utf-8"))
    # the maintenance table's footnote, and the immortal-time-safe table (Table 5.L*) beside it; not the
    # baseline comparisons
    assert html.count("compared here as if known at infusion") == 1
    assert "Table 5.L1. Overall survival by maintenance therapy in remission: naive and immortal-time-safe" in html
    maint = (out / "tables" / "t05_tte_by_maintenance_in_remission.csv").read_text(encoding="utf-8")
    assert maint.splitlines()[0].endswith("Log-rank P")


def test_without_compare_no_comparisons_and_evaluable_denominator(reports):
    with_, without, dropped = reports
    r = results(without)
    assert not list((without / "tables").glob("t05_tte_by_*")) and not list((without / "figures").glob("*_by_*"))
    assert not [k for k in r if k.startswith("tte.") and any(f".{v}." in k for v in COMPARED)]
    # one patient without any post-infusion assessment: out of the evaluable denominator
    assert results(with_)["response.orr_best"]["N"] == 31
    assert r["response.orr_best"]["N"] == 30 and r["response.orr_m3"]["N"] == 30
    assert r["response.orr_best.subgroup.all"]["N"] == 30 and r["response.orr_best_itt"]["N"] == 31
    adsl = pd.read_csv(without / "derived" / "adsl.csv").set_index("patient_id")
    assert adsl.loc[dropped, "response_evaluable"] == False  # noqa: E712 (CSV text true/false read as bool)
    html = html_mod.unescape((without / "report.html").read_text(encoding="utf-8"))
    assert "Table 3. Response in evaluable patients" in html and "at least one post-infusion response assessment" in html


def test_tiny_study_comparisons_say_what_they_cannot_do(small_study, tmp_path):
    """3 infused patients: a comparison column with one level, an all-missing derived column and an end point the
    plan does not derive become notes; the rest is reported and traceable."""
    (small_study / "sap.toml").write_text(
        '[endpoints]\nparams = ["OS", "RFS", "DOR", "CIR", "FU"]\n'
        '[groups]\ncompare = ["sex", "maintenance_in_remission"]\ncompare_endpoints = ["OS", "PFS"]\n', encoding="utf-8")
    out = tmp_path / "out"
    build_report(small_study, out, formats=("html",))
    r = results(out)
    assert (r["tte.os.sex.female.n"]["value"], r["tte.os.sex.male.n"]["value"]) == (2, 1)
    assert "tte.os.sex.logrank" in r and not [k for k in r if ".maintenance_in_remission." in k]
    html = html_mod.unescape((out / "report.html").read_text(encoding="utf-8"))
    assert "Overall survival by Maintenance therapy in remission: fewer than two groups with data" in html
    assert "Progression-free survival by Sex: PFS is not in plan endpoints.params, no comparison." in html
    assert not (out / "tables" / "t05_tte_by_maintenance_in_remission.csv").exists()
    check_traceability(out)
