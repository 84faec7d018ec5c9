"""End-to-end: the report on the demo study (pivotal twin), on a grouped study and on a study without PK or daily
toxicity data; traceability of every number shown; byte-identical reruns."""

from __future__ import annotations

import html as html_mod
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import docx
import pytest

from cartalysis.report import fmt
from cartalysis.report.build import build_report

REQUIRED_IDS = """
disposition.screened disposition.enrolled disposition.manufactured disposition.infused response.orr_m3
response.orr_best response.cr_best response.cri_best response.cr_m3 response.cri_m3 response.mrd_neg_best
response.mrd_neg_m3 response.orr_m3_itt response.orr_best_itt tte.dor.median tte.dor_no_hsct_censor.median
tte.rfs.median tte.rfs.rate_12m tte.rfs.rate_24m tte.os.median tte.os.rate_12m tte.os.rate_24m followup.median
safety.crs.any safety.crs.grade3plus safety.icans.any safety.icans.grade3plus safety.crs.onset_median
safety.crs.duration_median safety.deaths safety.deaths_30d pk.cmax.median pk.tmax.median pk.auc0_28.median
pk.persistence.median
""".split()

SECTIONS = ("disposition", "baseline", "response", "tte", "regression", "safety", "pk", "swimmer", "provenance")


def results(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in json.loads((out / "results.json").read_text(encoding="utf-8"))}


class _Cells(HTMLParser):
    """Collects (table id, row index, column index, tag, data-ids, text) for every table cell."""

    def __init__(self):
        super().__init__()
        self.cells, self.table, self.row, self.col, self.cur = [], None, -1, -1, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table, self.row = a.get("id"), -1
        elif tag == "tr":
            self.row, self.col = self.row + 1, -1
        elif tag in ("td", "th"):
            self.col += 1
            self.cur = [self.table, self.row, self.col, tag, a.get("data-ids", ""), ""]

    def handle_data(self, data):
        if self.cur is not None:
            self.cur[5] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cur is not None:
            self.cells.append(tuple(self.cur))
            self.cur = None


# a number as the report prints it: grouped by thousands from five digits on (175,000), else plain
NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+")


def shown_forms(rec: dict) -> set[str]:
    """Every way a record's numbers can be printed (0–4 decimals; either rounding convention of plan
    ``tables.rounding``; P values)."""
    forms = set()
    nums = [rec.get("value"), rec.get("n"), rec.get("N")] + list(rec.get("ci") or [])
    for mode in fmt.ROUNDING_MODES:
        with fmt.rounding_mode(mode):
            for x in nums:
                if x is not None:
                    forms |= {fmt.num(x, d) for d in range(5)}
            if rec.get("p_value") is not None:
                forms.add(fmt.pvalue(rec["p_value"]))
    return {tok for f in forms for tok in NUMBER.findall(f)}


def check_traceability(out: Path) -> int:
    recs = results(out)
    p = _Cells()
    p.feed((out / "report.html").read_text(encoding="utf-8"))
    checked = 0
    for table, row, col, tag, ids, text in p.cells:
        # a column header is "label (N=48)": its label may hold numbers ("Grade 3/4"), its N is a result
        numbers = re.findall(r"N=(\d+)", text) if tag == "th" else NUMBER.findall(text)
        if not numbers or (col == 0 and tag == "td") or (tag == "th" and not ids):
            continue  # row labels and plain column titles are not results
        assert ids, f"{table} row {row} col {col}: {text!r} has numbers but no result ids"
        allowed = set()
        for rid in ids.split():
            assert rid in recs, f"{table}: cell {text!r} names unknown result {rid}"
            allowed |= shown_forms(recs[rid])
        for tok in numbers:
            assert tok in allowed, f"{table} row {row} col {col}: {tok} in {text!r} is not in records {ids}"
        checked += 1
    return checked


# -- the demo study ---------------------------------------------------------------------------------------------


def test_outputs_written(pivotal_report):
    out = pivotal_report
    assert (out / "report.html").stat().st_size > 100_000  # figures embedded
    csvs = sorted((out / "tables").glob("*.csv"))
    assert len(csvs) >= 10
    for c in csvs:
        assert (out / "tables" / f"{c.stem}.docx").exists() and (out / "tables" / f"{c.stem}.rtf").exists()
    pngs = sorted((out / "figures").glob("*.png"))
    # (the Cox forest plot exists only when the plan's screen selects a multivariable model)
    assert {p.stem for p in pngs} >= {"f01_consort", "f02_orr_forest", "f03_km_os", "f03_km_rfs", "f03_km_dor",
                                      "f03_km_dor_no_hsct_censor", "f04_cif", "f06_pk_spaghetti", "f07_swimmer"}
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / "figures" / f"{p.stem}.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert {p.name for p in (out / "derived").glob("*.csv")} >= {"adsl.csv", "adrs.csv", "adtte.csv", "adae.csv",
                                                                  "adpp.csv"}


def test_required_ids(pivotal_report):
    recs = results(pivotal_report)
    missing = [i for i in REQUIRED_IDS if i not in recs]
    assert not missing
    ids = list(recs)
    assert ids == sorted(ids)
    for r in recs.values():
        assert set(r) <= {"id", "label", "value", "unit", "n", "N", "ci", "p_value", "method"}
        assert "value" in r and r["label"]


def test_numbers_reproduce_the_publication(pivotal_report):
    """The pivotal twin reproduces the published counts (docs: /work/shared/published-studies.md §1); the report
    must show them with the published formatting."""
    r = results(pivotal_report)
    assert [r[f"disposition.{k}"]["value"] for k in ("screened", "enrolled", "manufactured", "infused")] == \
        [92, 67, 66, 48]
    counts = {"orr_best": (41, 48), "cr_best": (35, 48), "cri_best": (6, 48), "mrd_neg_best": (41, 41),
              "orr_m3": (34, 48), "cr_m3": (29, 48), "cri_m3": (5, 48), "mrd_neg_m3": (32, 34),
              "orr_m3_itt": (34, 67), "orr_best_itt": (41, 67)}
    for key, (n, N) in counts.items():
        rec = r[f"response.{key}"]
        assert (rec["n"], rec["N"]) == (n, N), key
        assert rec["value"] == pytest.approx(100 * n / N)
    m3 = r["response.orr_m3"]
    # printed "70.8 (55.9–83.0)": the exact Clopper–Pearson upper bound 0.830469 (the paper's 83.1 was double rounding)
    assert fmt.est_ci(m3["value"], *m3["ci"]) == "70.8 (55.9\u201383.0)"
    assert fmt.pvalue(m3["p_value"]) == "< .0001"
    assert "Clopper" in m3["method"] and "0.25" in m3["method"]
    best = r["response.orr_best"]
    assert fmt.est_ci(best["value"], *best["ci"]) == "85.4 (72.2\u201393.9)"
    itt = r["response.orr_m3_itt"]
    assert fmt.est_ci(itt["value"], *itt["ci"]) == "50.7 (38.2\u201363.2)"
    assert (r["safety.crs.any"]["n"], r["safety.crs.grade3plus"]["n"]) == (42, 6)
    assert (r["safety.icans.any"]["n"], r["safety.icans.grade3plus"]["n"]) == (4, 3)
    assert (r["safety.deaths"]["n"], r["safety.deaths_30d"]["n"]) == (18, 0)
    os_med = r["tte.os.median"]
    if os_med["value"] is None:
        assert "not reached" in os_med["label"]


def test_every_number_in_html_tables_has_a_record(pivotal_report):
    assert check_traceability(pivotal_report) > 300


def test_html_structure(pivotal_report):
    html = (pivotal_report / "report.html").read_text(encoding="utf-8")
    for s in SECTIONS:
        assert f'<section id="{s}">' in html and f'href="#{s}"' in html
    assert "src=\"http" not in html and "<script" not in html  # self-contained, offline
    assert html.count('src="data:image/png;base64,') >= 9
    assert "Plan in force" in html and "SHA-256" in html and "subjects.csv" in html


def test_docx_and_rtf(pivotal_report):
    import csv

    t = pivotal_report / "tables"
    grid = list(csv.reader((t / "t03_response.csv").read_text(encoding="utf-8").splitlines()))
    d = docx.Document(str(t / "t03_response.docx"))
    table = d.tables[0]
    assert [c.text for c in table.rows[0].cells] == grid[0]
    assert [c.text for c in table.rows[7].cells][1:] == grid[7][1:]
    assert d.core_properties.author == "cartalysis"
    for rtf in t.glob("*.rtf"):
        text = rtf.read_text(encoding="utf-8")
        assert text.startswith("{\\rtf1") and text.rstrip().endswith("}")
        depth = 0
        for m in re.finditer(r"\\[{}\\]|[{}]", text):
            depth += {"{": 1, "}": -1}.get(m.group(), 0)
            assert depth >= 0
        assert depth == 0, rtf.name
    assert "Clopper" in (t / "t03_response.rtf").read_text(encoding="utf-8")


def test_demo_cli_is_byte_identical_to_the_first_run(pivotal_report, tmp_path):
    """``cartalysis demo`` (a second, independent run through the CLI) gives the same bytes in every file."""
    from typer.testing import CliRunner

    from cartalysis.cli import app

    again = tmp_path / "again"
    res = CliRunner().invoke(app, ["demo", "--out", str(again)])
    assert res.exit_code == 0, res.output
    assert "report.html" in res.output
    first = sorted(p.relative_to(pivotal_report) for p in pivotal_report.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file() and "study" not in p.parts)
    assert first == second
    for rel in first:
        assert (pivotal_report / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_usage_errors(pivotal_study, tmp_path):
    from typer.testing import CliRunner

    from cartalysis.cli import app
    from cartalysis.study.errors import UsageError

    with pytest.raises(UsageError, match="pdf"):
        build_report(pivotal_study, tmp_path / "x", formats=("html", "pdf"))
    res = CliRunner().invoke(app, ["report", str(tmp_path / "no-such-study"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["report", str(pivotal_study), "--out", str(tmp_path / "o"), "--format", "pdf"])
    assert res.exit_code == 2 and "pdf" in res.output


def test_report_date_is_reproducible(pivotal_study, monkeypatch):
    from cartalysis.report.build import report_date
    from cartalysis.study.load import load_study

    study = load_study(pivotal_study)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    d = report_date(study)
    assert d == max(f[c].max() for f in study.tables.values() for c in f.columns
                    if str(f[c].dtype).startswith("datetime64") and f[c].notna().any())
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert report_date(study).isoformat() == "2023-11-14T22:13:20"


# -- grouped (registry-style) study ----------------------------------------------------------------------------


def test_grouped_study_has_comparisons(registry_report):
    r = results(registry_report)
    tests = [k for k in r if k.startswith("baseline.") and k.endswith(".test")]
    assert tests and all(r[k].get("p_value") is not None and r[k].get("method") for k in tests)
    assert r["tte.os.logrank"]["p_value"] is not None and "log-rank" in r["tte.os.logrank"]["method"].lower()
    assert any(k.startswith("cox.univariable.") for k in r)
    assert any(k.startswith("cox.multivariable.") for k in r)
    cox = next(v for k, v in r.items() if k.startswith("cox.multivariable."))
    assert cox["unit"] == "HR" and len(cox["ci"]) == 2
    grouped_orr = [k for k in r if k.startswith("response.orr_best.") and k.count(".") == 2
                   and not k.endswith((".test", ".subgroup"))]
    assert len(grouped_orr) >= 2
    html = html_mod.unescape((registry_report / "report.html").read_text(encoding="utf-8"))
    assert "Log-rank P" in html and "Table 8. Multivariable Cox model" in html and "Gray's test P" in html
    assert (registry_report / "figures" / "f05_cox_forest.png").exists()
    assert check_traceability(registry_report) > 100


# -- a study without PK and daily toxicity -------------------------------------------------------------------------


def test_missing_data_sections_say_so(bare_report):
    r = results(bare_report)
    assert not any(k.startswith("pk.") and v.get("value") is not None for k, v in r.items())
    assert "pk.not_analysed" in r
    assert "response.orr_m3" in r and "safety.crs.any" in r
    html = (bare_report / "report.html").read_text(encoding="utf-8")
    pk = html[html.index('<section id="pk">'):html.index('<section id="swimmer">')]
    assert "No cellular-kinetics samples in pk.csv: cellular kinetics" in pk and "not analysed" in pk
    assert "No daily toxicity data" in html
    assert not list((bare_report / "tables").glob("*.docx"))  # only html asked for: CSV tables only
    check_traceability(bare_report)


def test_plan_in_force_is_valid_toml_that_loads_back_to_the_same_plan(pivotal_report, pivotal_study, tmp_path):
    """The provenance prints the whole plan as sap.toml text; loading that text gives the plan used."""
    from cartalysis.study.plan import load_plan

    page = (pivotal_report / "report.html").read_text(encoding="utf-8")
    text = html_mod.unescape(re.search(r'<pre class="plan">(.*?)</pre>', page, re.S).group(1))
    (tmp_path / "sap.toml").write_text(text, encoding="utf-8")
    assert load_plan(tmp_path / "sap.toml") == load_plan(pivotal_study / "sap.toml")


def test_tiny_study_with_edge_cases(small_study, tmp_path):
    """5 patients (a screen failure, a patient stopped after lymphodepletion, one non-responder): every section is
    produced (some saying why a statistic is not estimable) and stays traceable."""
    out = tmp_path / "out"
    build_report(small_study, out, formats=("html",))
    r = results(out)
    assert [r[f"disposition.{k}"]["value"] for k in ("screened", "enrolled", "infused")] == [5, 4, 3]
    assert r["response.orr_best"]["N"] == 3
    html = (out / "report.html").read_text(encoding="utf-8")
    for s in SECTIONS:
        assert f'<section id="{s}">' in html
    check_traceability(out)


def test_consort_of_a_registry_without_losses_is_one_box(registry_report, pivotal_report):
    """A registry of infused patients (no screening or enrollment losses): one box, not five boxes of 189 joined
    by arrows; the trial keeps its full flow with exclusion boxes."""
    import struct

    def png_size(path: Path) -> tuple[int, int]:
        return struct.unpack(">II", path.read_bytes()[16:24])

    html = (registry_report / "report.html").read_text(encoding="utf-8")
    assert "No patient was lost between screening and infusion" in html
    w, h = png_size(registry_report / "figures" / "f01_consort.png")
    assert h < 150 and w < 400
    assert png_size(pivotal_report / "figures" / "f01_consort.png")[1] > 600
    assert "No patient was lost" not in (pivotal_report / "report.html").read_text(encoding="utf-8")
