"""Adversarial studies (issue 9): the report runs on studies unlike the twins, every section either has correct
numbers (checked here against a calculation of our own) or says why not, and results.json holds no number the
data cannot support. The studies are built in code (``adversarial.py``)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd

import adversarial as A
from cartalysis import cli


def run(tables, tmp_path: Path, sap: str | None = None, formats: str = "html") -> tuple[dict, str, Path]:
    """``cartalysis report`` through the CLI entry point: exit status 0, results by id, the HTML page."""
    study = A.write(tables, tmp_path / "study", sap)
    out = tmp_path / "out"
    argv = sys.argv
    sys.argv = ["cartalysis", "report", str(study), "--out", str(out), "--format", formats]
    try:
        cli.main()
        code = 0
    except SystemExit as e:
        code = e.code or 0
    finally:
        sys.argv = argv
    assert code == 0
    res = {r["id"]: r for r in json.loads((out / "results.json").read_text(encoding="utf-8"))}
    return res, (out / "report.html").read_text(encoding="utf-8"), out


def numbers(res: dict, prefix: str) -> list[str]:
    """Ids under ``prefix`` that carry a number."""
    return [k for k, r in res.items() if k.startswith(prefix) and r.get("value") is not None]


def section(html: str, key: str) -> str:
    start = html.index(f'<section id="{key}">')
    return html[start:html.index("</section>", start)]


def test_no_assessments(tmp_path):
    t = A.base()
    t["assessments"] = t["assessments"].iloc[0:0]  # a required file: header only
    res, html, _ = run(t, tmp_path)
    assert not numbers(res, "response.orr") and not numbers(res, "response.cr")
    assert "response.orr.not_analysed" in res
    assert "No response assessments in assessments.csv: response rates" in section(html, "response")
    assert 'data-ids="response.orr' not in section(html, "response")  # no rate printed (HSCT 0/12 is real)


def test_no_pk(tmp_path):
    t = A.base()
    t["pk"] = None
    res, html, _ = run(t, tmp_path)
    assert not numbers(res, "pk.") and "pk.not_analysed" in res
    assert "No cellular-kinetics samples in pk.csv" in section(html, "pk")


def test_crs_only_in_adverse_events(tmp_path):
    t = A.base()
    t["toxicity_daily"] = None
    res, html, _ = run(t, tmp_path)
    ae = t["adverse_events"]
    crs = ae.loc[ae["term"] == "Cytokine release syndrome", "patient_id"].nunique()
    assert res["safety.crs.any"]["n"] == crs == 6
    assert res["safety.teae.cytokine_release_syndrome.any"]["n"] == crs  # counted once, in every table
    assert res["safety.teae.any"]["n"] == ae["patient_id"].nunique() >= crs
    assert res["safety.related.cytokine_release_syndrome"]["n"] == crs


def test_daily_crs_is_not_counted_twice(tmp_path):
    res, _, _ = run(A.base(), tmp_path)
    # odd patients: a reported CRS row and two fever days in the daily data -> one CRS, graded 1 from the daily data
    assert res["safety.crs.any"]["n"] == 6 and res["safety.crs.grade1"]["n"] == 6
    assert res["safety.teae.cytokine_release_syndrome.any"]["n"] == 6
    assert res["safety.teae.cytokine_release_syndrome.g34"]["n"] == 0


def test_no_manufacturing_or_apheresis_dates(tmp_path):
    t = A.base()
    t["subjects"] = t["subjects"].assign(release_date="", apheresis_date="")
    res, html, _ = run(t, tmp_path)
    assert "disposition.manufactured" not in res and "disposition.not_manufactured" not in res
    assert res["disposition.infused"]["value"] == 12
    table = section(html, "disposition")
    assert "Manufactured" not in table.split("<table")[1].split("</table>")[0]
    assert "subjects.release_date" in table  # the footnote says why the step is missing


def test_all_censored(tmp_path):
    t = A.base()
    t["events"] = t["events"][t["events"]["event"] == "last_contact"].assign(
        date=lambda d: d["date"])  # nobody relapses or dies
    t["events"] = pd.concat([t["events"], pd.DataFrame(
        {"patient_id": [f"P{i + 1:02d}" for i in range(0, 12, 3)], "date": [A._d(7 * i + 400) for i in range(0, 12, 3)],
         "event": "last_contact", "detail": ""})])
    res, html, _ = run(t, tmp_path)
    assert res["tte.os.events"]["value"] == 0 and res["tte.os.median"]["value"] is None
    assert "NR (no events)" in section(html, "tte")
    # RFS still has events: non-responders count as failures on day 0 (rfs.nonresponders), so Cox is fitted


def test_all_events_on_day_0(tmp_path):
    t = A.base()
    subj = t["subjects"]
    t["events"] = pd.DataFrame({"patient_id": subj["patient_id"], "date": subj["infusion_date"], "event": "death",
                                "detail": "disease progression"})
    t["assessments"] = t["assessments"].iloc[0:0]
    t["adverse_events"] = t["adverse_events"].assign(onset_date=lambda d: d["patient_id"].map(
        subj.set_index("patient_id")["infusion_date"]), end_date="")
    t["toxicity_daily"] = None
    t["pk"] = None
    res, html, _ = run(t, tmp_path)
    assert res["tte.os.events"]["value"] == 12 and res["tte.os.median"]["value"] == 0
    assert res["tte.os.median"]["ci"] == [None, None]
    assert "0.0 (CI not estimable)" in section(html, "tte")
    assert res["safety.deaths_30d"]["n"] == 12


def test_single_patient(tmp_path):
    t = A.base(1)
    res, html, _ = run(t, tmp_path)
    assert res["population.infused"]["value"] == 1
    assert res["response.orr_best"]["n"] == 1 and res["response.orr_best"]["N"] == 1  # P01 reaches CR
    assert not [k for k in res if k.endswith(".test") or k.endswith(".logrank")]


def test_one_arm_only_with_groups_by(tmp_path):
    t = A.base()
    t["subjects"] = t["subjects"].assign(sex="female")
    res, html, _ = run(t, tmp_path, sap='[groups]\nby = "sex"\n')
    assert res["population.infused.female"]["value"] == 12
    assert not [k for k in res if k.startswith(("baseline.", "response.", "tte.")) and k.endswith((".test", ".logrank",
                                                                                                  ".gray"))]
    assert "Only one group of sex" in section(html, "baseline")  # the tests are said to be skipped


SAP_COX = '[cox]\nendpoint = "OS"\ncandidates = ["{}"]\nthreshold = 0.5\n'


def test_covariate_with_a_one_patient_level_and_a_level_without_events(tmp_path):
    t = A.base()
    # deaths: P01, P04, P07, P10 (every 3rd). Level A: most patients; B: one patient who died; C: no deaths.
    level = {"P01": "B", "P02": "C", "P03": "C", "P05": "C"}
    t["subjects"]["arm_x"] = t["subjects"]["patient_id"].map(level).fillna("A")
    res, html, _ = run(t, tmp_path, sap=SAP_COX.format("arm_x"))
    c = res["cox.univariable.arm_x_c"]
    assert c["value"] is None and "no events in level C of arm_x" in c["method"]
    b = res["cox.univariable.arm_x_b"]  # estimable (1 event), against the most frequent level A
    assert b["value"] is not None and "Arm_x: B vs A".lower() in html.lower() or "arm_x: B vs A" in html
    assert "Sparse levels" in section(html, "regression") and "(1 event)" in section(html, "regression")
    assert "not estimable" in section(html, "regression")


def test_perfectly_separating_covariate(tmp_path):
    t = A.base()
    died = {f"P{i + 1:02d}" for i in range(0, 12, 3)}
    t["subjects"]["sep"] = t["subjects"]["patient_id"].map(lambda p: 1.0 if p in died else 0.0)
    res, html, _ = run(t, tmp_path, sap=SAP_COX.format("sep"))
    r = res["cox.univariable.sep"]
    assert r["value"] is None and "infinite hazard ratio" in r["method"]
    assert "HR 0.00" not in html and "∞" not in html
    assert any(k.startswith("cox.univariable.warning") for k in res)


def test_ae_terms_differing_in_case_unicode_or_script(tmp_path):
    t = A.base(6)
    nfc, nfd = "Caf\u00e9 syndrome", "Cafe\u0301 syndrome"
    extra = [("P01", "Anemia"), ("P02", "anemia "), ("P03", "ANEMIA"), ("P01", nfc), ("P02", nfd), ("P04", "发热"),
             ("P05", "発熱")]
    rows = pd.DataFrame([{"patient_id": p, "term": term, "soc": "", "onset_date": A._d(7 * (int(p[1:]) - 1) + 5),
                          "end_date": "", "grade": 2, "serious": "no", "related": "no"} for p, term in extra])
    t["adverse_events"] = pd.concat([t["adverse_events"], rows], ignore_index=True)
    res, html, _ = run(t, tmp_path, formats="html,rtf")
    assert res["safety.teae.anemia.any"]["n"] == 3  # one row for the three spellings
    cafe = [k for k in res if k.startswith("safety.teae.cafe_syndrome") and k.endswith(".any")]
    assert len(cafe) == 1 and res[cafe[0]]["n"] == 2
    cjk = [k for k, r in res.items() if k.startswith("safety.teae.text_") and k.endswith(".any")]
    assert len(cjk) == 2 and all(res[k]["n"] == 1 for k in cjk)  # two terms, two ids
    assert "发热" in html and "発熱" in html


HOSTILE = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "{\\rtf1\\par} \\b bold {x}",
           "<script>alert(1)</script>"]


def test_formula_and_rtf_control_strings_in_text_columns(tmp_path):
    t = A.base()
    s = t["subjects"]
    s["site"] = [HOSTILE[i % len(HOSTILE)] for i in range(len(s))]
    s["race"] = [HOSTILE[(i + 1) % len(HOSTILE)] for i in range(len(s))]
    ae = t["adverse_events"]
    ae["term"] = [HOSTILE[i % len(HOSTILE)] if i % 3 == 0 else v for i, v in enumerate(ae["term"])]
    ae["soc"] = HOSTILE[4]
    t["events"]["detail"] = [HOSTILE[i % len(HOSTILE)] if e == "death" else d
                             for i, (e, d) in enumerate(zip(t["events"]["event"], t["events"]["detail"]))]
    t["pk"]["unit"] = HOSTILE[0]
    res, html, out = run(t, tmp_path, formats="html,rtf")
    assert "<script>alert(1)</script>" not in html
    ids = list(res)
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9_.]+", k) for k in ids), [k for k in ids if not re.fullmatch(r"[a-z0-9_.]+", k)]
    assert res["safety.deaths"]["n"] == 4


def test_validation_warnings_are_listed_in_the_report_and_results(tmp_path):
    # a percent threshold below 1 is a plan warning (0.5% blasts): the report runs, lists it and records it
    res, html, _ = run(A.base(6), tmp_path, sap="[response]\nblasts_threshold_pct = 0.5\n")
    warned = [r for k, r in res.items() if k.startswith("data.warning.")]
    assert warned and all(r["value"] is None for r in warned)
    assert any("blasts_threshold_pct" in r["label"] for r in warned)
    assert "Data and plan warnings" in html and "blasts_threshold_pct" in html
