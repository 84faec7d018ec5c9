"""The report shows the endpoints of the plan in force: the CR1 consolidation trial (``cr1_trial`` twin, plan
``efficacy.orr = "none"``) gets MRD by visit and assay, the HSCT proportion, 2-year DFS and OS and no response-rate
test; every study gets MRD by visit, HSCT and the serious/related adverse-event table. Numbers are checked against
hand counts from the twin's CSV files (not from the derived datasets)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from cartalysis.report.build import build_report
from cartalysis.study.errors import StudyError
from cartalysis.study.plan import load_plan, parse_plan

from test_report import check_traceability  # tests/report is on sys.path (rootdir-relative import)

VISITS = {"day28": 28, "month2": 61, "month3": 91, "month6": 183}  # plan response.mrd_visit_days, ± 14 days


@pytest.fixture(scope="module")
def cr1(twin_report) -> tuple[Path, Path]:
    twin = twin_report("cr1_trial")
    return twin.study, twin.report


def _results(out: Path) -> dict:
    return {r["id"]: r for r in json.loads((out / "results.json").read_text(encoding="utf-8"))}


def _yes(s: pd.Series) -> pd.Series:
    return s.astype(str).str.lower().isin(["yes", "true"])


def _infusion(study: Path) -> pd.Series:
    subj = pd.read_csv(study / "subjects.csv", dtype=str)
    subj = subj[subj["infusion_date"].notna()]
    return pd.to_datetime(subj.set_index("patient_id")["infusion_date"])


def hand_mrd_counts(study: Path) -> dict[tuple[str, str], tuple[int, int]]:
    """(visit, assay) -> (tested, negative): per infused patient, the tested marrow closest to the nominal day
    within ± 14 days (ties: the later), straight from assessments.csv."""
    inf = _infusion(study)
    a = pd.read_csv(study / "assessments.csv", dtype=str)
    a = a[a["patient_id"].isin(inf.index) & a["mrd_negative"].notna() & a["mrd_method"].notna()]
    a["day"] = (pd.to_datetime(a["date"]) - a["patient_id"].map(inf)).dt.days
    out = {}
    for visit, day in VISITS.items():
        for method in sorted(set(a["mrd_method"])):
            tested = neg = 0
            for _, g in a[a["mrd_method"] == method].groupby("patient_id"):
                g = g[(g["day"] - day).abs() <= 14]
                if g.empty:
                    continue
                g = g.assign(dist=(g["day"] - day).abs()).sort_values(["dist", "day"], ascending=[True, False])
                tested += 1
                neg += int(_yes(g["mrd_negative"]).iloc[0])
            if tested:
                out[visit, method] = (tested, neg)
    return out


def test_cr1_mrd_by_visit_and_assay_matches_hand_counts(cr1):
    study, out = cr1
    res = _results(out)
    # The twin's fates (targets file): 9 + 4 continuous remission MRD- at all four visits; 3 MRD+ at day 28 and
    # month 2, MRD- at month 3, then HSCT; 2 Ph+ MRD- at three visits, then HSCT; 1 MRD+ from month 2 and 1 from
    # month 3 (relapses). Flow negative: day 28 = 20 - 3 = 17, month 2 = 20 - 3 - 1 = 16, month 3 = 20 - 2 = 18,
    # month 6 = 9 + 4 = 13 of 15 tested (the 5 transplanted patients have no month-6 marrow). NGS day 28: 15.
    by_fates = {("day28", "flow"): 17, ("month2", "flow"): 16, ("month3", "flow"): 18, ("month6", "flow"): 13,
                ("day28", "ngs"): 15}
    hand = hand_mrd_counts(study)
    assert set(hand) == set(by_fates)
    assert hand["month6", "flow"][0] == 15
    for (visit, method), (tested, neg) in hand.items():
        assert neg == by_fates[visit, method]
        r = res[f"response.mrd_neg.{visit}.{method}"]
        assert (r["n"], r["N"]) == (neg, 20)
        assert r["value"] == pytest.approx(100 * neg / 20)
        lo, hi = r["ci"]
        assert 0 <= lo < r["value"] < hi <= 100 and "Clopper" in r["method"]
        assert res[f"response.mrd_tested.{visit}.{method}"]["value"] == tested
    # only the plan's visit/assay pairs: no NGS after day 28
    assert not [k for k in res if k.startswith("response.mrd_neg.") and k.endswith(".ngs") and ".day28." not in k]


def test_cr1_clopper_pearson_of_17_of_20(cr1):
    # exact CI of 17/20 (R: binom.test(17, 20)$conf.int = 0.6210732 0.9679291)
    r = _results(cr1[1])["response.mrd_neg.day28.flow"]
    assert r["ci"] == pytest.approx([62.10732, 96.79291], rel=1e-6)


def test_cr1_hsct_proportion(cr1):
    study, out = cr1
    res = _results(out)
    inf = _infusion(study)
    ev = pd.read_csv(study / "events.csv", dtype=str)
    ev = ev[(ev["event"] == "hsct") & ev["patient_id"].isin(inf.index)]
    ev = ev[pd.to_datetime(ev["date"]) > ev["patient_id"].map(inf)]
    n = ev["patient_id"].nunique()
    assert n == 5  # fates: 3 MRD+ -> allo-HSCT in remission, 2 Ph+ -> allo-HSCT in remission
    for rid in ("response.hsct", "response.hsct_in_remission"):  # none relapsed before the HSCT
        assert (res[rid]["n"], res[rid]["N"]) == (5, 20)
        assert res[rid]["ci"] == pytest.approx([8.657147, 49.104587], rel=1e-6)  # R: binom.test(5, 20)


CRS_TERMS = {"crs": "Cytokine release syndrome", "icans": "Immune effector cell-associated neurotoxicity syndrome"}


def hand_ae_counts(study: Path, out: Path) -> dict[str, int]:
    """Patients with treatment-emergent serious / related AEs, any and by term, from adverse_events.csv — with the
    reported CRS/ICANS rows of a patient graded from daily data (derived/adtox_episodes.csv) replaced by one row
    carrying the patient's reported seriousness and relatedness (issue 9: one safety picture)."""
    inf = _infusion(study)
    ae = pd.read_csv(study / "adverse_events.csv", dtype=str)
    ae = ae[ae["patient_id"].isin(inf.index)]
    ae = ae[pd.to_datetime(ae["onset_date"]) >= ae["patient_id"].map(inf)]
    ep = pd.read_csv(out / "derived" / "adtox_episodes.csv", dtype=str)
    daily = ep[ep["source"] == "daily"]
    cat = ae["term"].str.casefold().map({v.casefold(): k for k, v in CRS_TERMS.items()} | {"icans": "icans"})
    reported = ae[cat.notna()].assign(cat=cat[cat.notna()])
    graded = daily.assign(cat=daily["tox"].str.lower())[["patient_id", "cat"]].drop_duplicates()
    flags = {(p, c): g for (p, c), g in reported.groupby(["patient_id", "cat"])}
    for col in ("serious", "related"):  # the patient's reported rows of that toxicity, else unknown
        graded[col] = [("yes" if _yes(flags[k][col]).any() else "no") if k in flags else ""
                       for k in zip(graded["patient_id"], graded["cat"])]
    graded = graded.assign(term=graded["cat"].map(CRS_TERMS))
    in_daily = set(pd.read_csv(out / "derived" / "adtox.csv", dtype=str)["patient_id"])  # graded from daily data
    ae = pd.concat([ae[~(cat.notna() & ae["patient_id"].isin(in_daily))], graded[["patient_id", "term", "serious",
                                                                                  "related"]]])
    ser, rel = _yes(ae["serious"].fillna("")), _yes(ae["related"].fillna(""))
    out = {"safety.sae.any": ae.loc[ser, "patient_id"].nunique(),
           "safety.related.any": ae.loc[rel, "patient_id"].nunique(),
           "safety.sae_related.any": ae.loc[ser & rel, "patient_id"].nunique()}
    for key, mask in (("sae", ser), ("related", rel)):
        for term, g in ae[mask].groupby("term"):
            out[f"safety.{key}.{re.sub('[^0-9a-z]+', '_', term.lower()).strip('_')}"] = g["patient_id"].nunique()
    return out


@pytest.mark.parametrize("which", ["cr1", "pivotal"])
def test_sae_and_related_tables_match_hand_counts(which, cr1, pivotal_study, pivotal_report):
    study, out = cr1 if which == "cr1" else (pivotal_study, pivotal_report)
    res = _results(out)
    hand = hand_ae_counts(study, out)
    N = len(_infusion(study))
    got = {k: v for k, v in res.items() if k.startswith(("safety.sae", "safety.related"))}
    assert set(got) == set(hand)
    for rid, n in hand.items():
        assert got[rid]["n"] == n and got[rid]["value"] == pytest.approx(100 * n / N)
    if which == "cr1":
        # targets file: serious neutropenia in 15, thrombocytopenia 5, infection 3; infections are not related
        assert hand["safety.sae.neutrophil_count_decreased"] == 15
        assert hand["safety.sae.infection"] == 3
        assert "safety.related.infection" not in hand


def test_cr1_shows_exactly_the_planned_endpoints(cr1):
    _, out = cr1
    res = _results(out)
    html = (out / "report.html").read_text(encoding="utf-8")
    # no response rate: no ORR table, no test against a historical control, no ORR subgroups
    assert not [k for k in res if k.startswith(("response.orr", "response.cr", "response.mrd_neg_"))]
    assert not [k for k in res if ".by_response." in k] and "pk.cmax.by_crs.test" in res
    assert "t03_response" not in html and "t04_response_subgroups" not in html
    assert "historical control" not in html and "P value vs" not in html
    # time to event: DFS and OS at 2 years, nothing else (no DOR, RFS, EFS, PFS, CIR, Cox)
    tte = {k for k in res if k.startswith("tte.")}
    assert {"tte.dfs.rate_24m", "tte.os.rate_24m"} <= tte
    assert {k.split(".")[1] for k in tte} == {"dfs", "os"}
    assert not [k for k in tte if "rate_" in k and not k.endswith("rate_24m")]
    assert not [k for k in res if k.startswith("cox.") and res[k]["value"] is not None]  # a not-analysed record only
    for word in ("Duration of response", "Relapse-free survival", "Cumulative incidence of relapse", "DOR from"):
        assert word not in html
    # pharmacokinetics and safety are planned endpoints
    assert {"pk.cmax.median", "pk.tmax.median", "pk.auc0_28.median", "safety.sae.any", "safety.teae.any"} <= set(res)
    assert check_traceability(out) > 50


def test_pivotal_keeps_the_orr_test_and_gains_mrd_by_visit(pivotal_study, pivotal_report):
    res = _results(pivotal_report)
    assert res["response.orr_m3"]["p_value"] is not None
    hand = hand_mrd_counts(pivotal_study)
    assert hand  # the pivotal twin has flow MRD at the plan visits
    N = len(_infusion(pivotal_study))
    for (visit, method), (tested, neg) in hand.items():
        r = res[f"response.mrd_neg.{visit}.{method}"]
        assert (r["n"], r["N"]) == (neg, N)
        assert res[f"response.mrd_tested.{visit}.{method}"]["value"] == tested
    assert "response.hsct" in res


def test_orr_estimate_shows_rates_without_the_test(pivotal_study, tmp_path):
    sap = tmp_path / "sap.toml"
    sap.write_text('[efficacy]\norr = "estimate"\n', encoding="utf-8")
    out = tmp_path / "report"
    build_report(pivotal_study, out, sap_path=sap, formats=("html",))
    res = _results(out)
    assert res["response.orr_m3"]["n"] == 34 and "p_value" not in res["response.orr_m3"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "P value vs" not in html and "historical control" not in html
    check_traceability(out)


def test_plan_orr_setting():
    assert load_plan(None).efficacy.orr == "test"
    assert parse_plan({"efficacy": {"orr": "none"}}).efficacy.orr == "none"
    with pytest.raises(StudyError) as e:
        parse_plan({"efficacy": {"orr": "yes"}})
    assert [str(p) for p in e.value.problems] == ["sap.toml::efficacy.orr: 'yes' is not one of: test, estimate, none"]


def test_grouped_report_counts_saes_per_group(registry_report):
    res = _results(registry_report)
    groups = [k.rsplit(".", 1)[1] for k in res if k.startswith("population.infused.")]
    assert len(groups) >= 2
    total = res["safety.sae.any"]["n"]
    assert sum(res[f"safety.sae.any.{g}"]["n"] for g in groups) == total


def test_unrecorded_seriousness_is_said_not_guessed(cr1, tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    for f in cr1[0].iterdir():
        (study / f.name).write_bytes(f.read_bytes())
    ae = pd.read_csv(study / "adverse_events.csv", dtype=str).drop(columns=["serious", "related"])
    ae.to_csv(study / "adverse_events.csv", index=False)
    out = tmp_path / "report"
    build_report(study, out, formats=("html",))
    res = _results(out)
    assert not [k for k in res if k.startswith(("safety.sae", "safety.related"))]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "adverse_events.serious and related not recorded" in html
    check_traceability(out)
