"""``cartalysis import sdtm`` and ``twin --format sdtm``: round trips of the four twins, hand-made SDTM cases,
located problems and the import report.

Round trip: each twin is written as CSV, exported to SDTM (XPT v5 and Dataset-JSON 1.1) and imported back; all
four must give the same study tables from both formats. The report's results.json is compared byte for byte for
two twins (pivotal, post_hsct_rwd): building the report is the slow part and, with equal tables, the report is
a deterministic function of them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cartalysis.cli import app
from cartalysis.study.formats import Column
from cartalysis.study.importers.domains import write_domain
from cartalysis.study.importers.sdtm import eltm_days, import_sdtm
from cartalysis.study.load import load_study
from cartalysis.twins.sdtm import write_twin_sdtm

TWINS = ("pivotal", "cr1_trial", "post_hsct_rwd", "rocca_registry")


@pytest.fixture(scope="session")
def sdtm_twins(tmp_path_factory, twin_report):
    """name -> (csv study, study imported from XPT, study imported from Dataset-JSON, import problems), built once."""
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            base = tmp_path_factory.mktemp(f"sdtm_{name}")
            write_twin_sdtm(name, base / "sdtm")
            xpt = import_sdtm(base / "sdtm" / "xpt", base / "from_xpt")
            js = import_sdtm(base / "sdtm" / "json", base / "from_json")
            cache[name] = (twin_report(name).study, xpt.study, js.study, xpt.problems + js.problems)
        return cache[name]

    return get


@pytest.mark.parametrize("name", TWINS)
def test_twin_round_trip_gives_the_same_tables(sdtm_twins, name):
    csv_dir, from_xpt, from_json, problems = sdtm_twins(name)
    assert problems == []
    want = load_study(csv_dir)
    for got in (load_study(from_xpt), load_study(from_json)):
        assert list(got.tables) == list(want.tables)
        for t in want.tables:
            pd.testing.assert_frame_equal(got.tables[t].reset_index(drop=True), want.tables[t].reset_index(drop=True), obj=t)
        assert (got.path / "sap.toml").read_bytes() == (csv_dir / "sap.toml").read_bytes()


@pytest.mark.parametrize("name", ["pivotal", "post_hsct_rwd"])
def test_twin_round_trip_gives_byte_identical_results(sdtm_twins, twin_report, name, tmp_path):
    from cartalysis.report.build import build_report

    _, from_xpt, _, _ = sdtm_twins(name)
    got = build_report(from_xpt, tmp_path / "sdtm", formats=("html",)).results_json.read_bytes()
    assert got == (twin_report(name).report / "results.json").read_bytes()


def test_export_is_reproducible_and_xpt_is_v5(tmp_path):
    write_twin_sdtm("cr1_trial", tmp_path / "a")
    write_twin_sdtm("cr1_trial", tmp_path / "b")
    for f in sorted((tmp_path / "a").rglob("*.*")):
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes(), f
    head = (tmp_path / "a" / "xpt" / "dm.xpt").read_bytes()[:80]
    assert head.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!")  # v5 (v8 says LIBV8)
    doc = json.loads((tmp_path / "a" / "json" / "dm.json").read_text(encoding="utf-8"))
    assert doc["datasetJSONVersion"] == "1.1.0" and doc["records"] == len(doc["rows"]) == 20
    assert [c["name"] for c in doc["columns"]][:3] == ["STUDYID", "DOMAIN", "USUBJID"]


# --------------------------------------------------------------------------- hand-made SDTM


def write_domains(folder: Path, domains: dict[str, list[dict]], fmt: str = "json") -> Path:
    """Write each domain (rows of variable -> value; numbers for AGE/--STRESN/--DOSE/--SEQ) as XPT or JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in domains.items():
        names: list[str] = []
        for r in rows:
            names += [k for k in r if k not in names]
        numeric = {n for n in names if any(isinstance(r.get(n), (int, float)) and not isinstance(r.get(n), bool) for r in rows)}
        variables = [Column(n, n, "number" if n in numeric else "text") for n in names]
        write_domain(folder / f"{name.lower()}.{fmt}", name, name, variables, rows, "S", "2024-01-01T00:00:00")
    return folder


def dm(pid: str, **kw) -> dict:
    row = {"STUDYID": "S", "DOMAIN": "DM", "USUBJID": f"S-{pid}", "SUBJID": pid, "SITEID": "01", "SEX": "F",
           "AGE": 30, "AGEU": "YEARS", "RFICDTC": "2021-01-04", "ARMCD": "CART", "ARMNRS": "", "DTHDTC": ""}
    row.update(kw)
    return row


def ex_cart(pid: str, date: str, dose: float = 0.5, unit: str = "10^8 CELLS") -> dict:
    return {"USUBJID": f"S-{pid}", "EXSEQ": 1, "EXTRT": "CAR-T CELLS", "EXCAT": "CAR-T", "EXSTDTC": date,
            "EXDOSE": dose, "EXDOSU": unit}


def ae(pid: str, seq: int, term: str, onset: str, grade: str, **kw) -> dict:
    row = {"USUBJID": f"S-{pid}", "AESEQ": seq, "AETERM": term, "AEDECOD": term, "AEBODSYS": "", "AESTDTC": onset,
           "AEENDTC": "", "AETOXGR": grade, "AESER": "N", "AEREL": "Y"}
    row.update(kw)
    return row


def report_of(study: Path) -> str:
    return (study / "import-report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["json", "xpt"])
def test_hand_made_study_maps_every_column(tmp_path, fmt):
    src = write_domains(tmp_path / "sdtm", {
        "DM": [dm("P1", DTHDTC="2021-06-01"), dm("P2", SEX="M", AGE=41.5, ARMCD="", ARMNRS="SCREEN FAILURE")],
        "SC": [{"USUBJID": "S-P1", "SCTESTCD": "ECOG", "SCORRES": "1", "SCSTRESC": "1", "SCSTRESN": 1},
               {"USUBJID": "S-P1", "SCTESTCD": "DISSTAT", "SCSTRESC": "PRIMARY_REFRACTORY"},
               {"USUBJID": "S-P1", "SCTESTCD": "PRBLINA", "SCSTRESC": "Y"}],
        "EX": [ex_cart("P1", "2021-02-01", 0.25, "10^6 CELLS"),
               {"USUBJID": "S-P1", "EXSEQ": 2, "EXTRT": "FLU/CY", "EXCAT": "LYMPHODEPLETION", "EXSTDTC": "2021-01-26", "EXENDTC": "2021-01-28"}],
        "PR": [{"USUBJID": "S-P1", "PRTRT": "LEUKAPHERESIS", "PRSTDTC": "2021-01-10"}],
        "DS": [{"USUBJID": "S-P2", "DSCAT": "DISPOSITION EVENT", "EPOCH": "SCREENING", "DSTERM": "consent withdrawn"}],
        "RS": [{"USUBJID": "S-P1", "RSTESTCD": "OVRLRESP", "RSSTRESC": "CRi", "RSDTC": "2021-03-01", "RSEVAL": "INVESTIGATOR"},
               {"USUBJID": "S-P1", "RSTESTCD": "BMBLAST", "RSSTRESN": 2.5, "RSDTC": "2021-03-01", "RSEVAL": "INVESTIGATOR"}],
        "MB": [{"USUBJID": "S-P1", "MBTESTCD": "MRD", "MBSTRESC": "NEGATIVE", "MBMETHOD": "FLOW CYTOMETRY", "MBDTC": "2021-03-01", "MBEVAL": "INVESTIGATOR"}],
        "AE": [ae("P1", 1, "Cytokine release syndrome", "2021-02-02", ""), ae("P1", 2, "Anaemia", "2021-02-03", "3", AESER="Y")],
        "SUPPAE": [{"USUBJID": "S-P1", "RDOMAIN": "AE", "IDVAR": "AESEQ", "IDVARVAL": "1", "QNAM": "ASTCTGR", "QVAL": "2"}],
        "FA": [{"USUBJID": "S-P1", "FATESTCD": "TEMPMAX", "FAOBJ": "CYTOKINE RELEASE SYNDROME", "FASTRESN": 39.2, "FADTC": "2021-02-02"}],
        "CM": [{"USUBJID": "S-P1", "CMCAT": "CRS/ICANS DAILY", "CMTRT": "TOCILIZUMAB", "CMSTDTC": "2021-02-02"}],
        "PC": [{"USUBJID": "S-P1", "PCTESTCD": "CARTRANS", "PCSPEC": "BLOOD", "PCSTRESN": 1500.0, "PCSTRESU": "copies/ug",
                "PCLLOQ": 50.0, "PCELTM": "PT6H"},
               {"USUBJID": "S-P1", "PCTESTCD": "CARTRANS", "PCSPEC": "BLOOD", "PCSTRESN": 900.0, "PCLLOQ": 50.0, "PCDTC": "2021-02-08"}],
        "LB": [{"USUBJID": "S-P1", "LBTESTCD": "IL6", "LBSTRESN": 12.5, "LBSTRESU": "pg/mL", "LBDTC": "2021-02-03"}],
        "DD": [{"USUBJID": "S-P1", "DDTESTCD": "PRCDTH", "DDORRES": "relapse"}],
        "SS": [{"USUBJID": "S-P2", "SSTESTCD": "SURVSTAT", "SSSTRESC": "ALIVE", "SSDTC": "2021-01-20"}],
    }, fmt)
    res = import_sdtm(src, tmp_path / "study")
    assert [str(p) for p in res.problems] == []
    st = load_study(res.study)
    s = st.tables["subjects"].set_index("patient_id")
    assert s.loc["P1", "sex"] == "female" and s.loc["P2", "sex"] == "male" and s.loc["P2", "age"] == 41.5
    assert bool(s.loc["P1", "enrolled"]) and not bool(s.loc["P2", "enrolled"])
    assert s.loc["P1", "ecog"] == 1 and s.loc["P1", "disease_status"] == "primary_refractory" and bool(s.loc["P1", "prior_blinatumomab"])
    assert s.loc["P1", "dose_car_cells"] == pytest.approx(0.0025)  # 0.25 x 10^6 cells = 0.0025 x 10^8
    assert str(s.loc["P1", "infusion_date"].date()) == "2021-02-01"
    assert str(s.loc["P1", "ld_start_date"].date()) == "2021-01-26" and str(s.loc["P1", "ld_end_date"].date()) == "2021-01-28"
    assert str(s.loc["P1", "apheresis_date"].date()) == "2021-01-10"
    assert s.loc["P2", "discontinuation_stage"] == "screening" and s.loc["P2", "discontinuation_reason"] == "consent withdrawn"
    assert pd.isna(s.loc["P1", "release_date"]) and pd.isna(s.loc["P1", "viability_pct"])  # no source: left empty
    a = st.tables["assessments"].iloc[0]
    assert (a["response"], a["bm_blasts_pct"], a["mrd_method"], bool(a["mrd_negative"]), a["assessor"]) == ("CRi", 2.5, "flow", True, "investigator")
    assert pd.isna(a["anc"])
    aes = st.tables["adverse_events"].set_index("term")
    assert aes.loc["Cytokine release syndrome", "grade"] == 2  # ASTCT grade from SUPPAE
    assert aes.loc["Anaemia", "grade"] == 3 and bool(aes.loc["Anaemia", "serious"])
    tox = st.tables["toxicity_daily"].iloc[0]
    assert tox["temp_max_c"] == 39.2 and bool(tox["tocilizumab"]) and pd.isna(tox["ice_score"])
    assert sorted(st.tables["pk"]["day"]) == [0.25, 7.0]
    lab = st.tables["labs"].iloc[0]
    assert (lab["test"], lab["day"], lab["value"]) == ("il6", 2.0, 12.5)
    ev = st.tables["events"].set_index("event")
    assert ev.loc["death", "detail"] == "relapse" and str(ev.loc["last_contact", "date"].date()) == "2021-01-20"
    md = report_of(res.study)
    assert "| subjects | `release_date` | 0 of 2 |" in md
    assert "| subjects | `viability_pct` | 0 of 2 | ZP ZPTESTCD=VIABLE |" in md
    assert "No problems (`cartalysis validate` passes)." in md


def test_unmapped_values_are_located_and_reported(tmp_path):
    src = write_domains(tmp_path / "sdtm", {
        "DM": [dm("P1", SEX="U", RFICDTC="2021-01"), dm("P2"), dm("P3", AGE=40, AGEU="MONTHS")],
        "EX": [ex_cart("P1", "2021-02-01"), ex_cart("P2", "2021-02-01", 1.0, "VIALS")],
        "RS": [{"USUBJID": "S-P1", "RSTESTCD": "OVRLRESP", "RSSTRESC": "VGPR", "RSDTC": "2021-03-01", "RSEVAL": "INVESTIGATOR"},
               {"USUBJID": "S-P1", "RSTESTCD": "OVRLRESP", "RSSTRESC": "CR", "RSDTC": "2021-03", "RSEVAL": "INVESTIGATOR"},
               {"USUBJID": "S-P9", "RSTESTCD": "OVRLRESP", "RSSTRESC": "CR", "RSDTC": "2021-03-01", "RSEVAL": "INVESTIGATOR"},
               {"USUBJID": "S-P2", "RSTESTCD": "SUMDIAM", "RSSTRESC": "12", "RSDTC": "2021-03-01", "RSEVAL": "INVESTIGATOR"}],
        "AE": [ae("P1", 1, "Cytokine release syndrome", "2021-02-02", "3"), ae("P2", 1, "Nausea", "2021-02-02", "grade 2")],
    })
    res = import_sdtm(src, tmp_path / "study")
    lines = [str(p) for p in res.problems]
    assert "dm.json:2:SEX: subjects.sex: 'U' is not one of the mapped values (F, M)" in lines
    assert "dm.json:2:RFICDTC: subjects.screening_date: partial date '2021-01' (a full date YYYY-MM-DD is needed)" in lines
    assert "dm.json:4:AGEU: subjects.age: unit 'MONTHS' is not YEARS; age left empty" in lines
    assert any(line.startswith("ex.json:3:EXDOSU: dose unit 'VIALS'") for line in lines)
    assert any(line.startswith("rs.json:2:RSSTRESC: assessments.response: 'VGPR' is not one of the mapped values") for line in lines)
    assert "rs.json:3:RSDTC: partial date '2021-03' (a full date YYYY-MM-DD is needed)" in lines
    assert "ae.json:3:AETOXGR: grade: 'grade 2' is not a number" in lines
    # the empty screening date then fails validation of the written study, located in the study
    assert "study/subjects.csv:2:screening_date: empty cell (a value is required)" in lines or any(
        line.startswith("study/subjects.csv:2:screening_date") for line in lines)
    md = report_of(res.study)
    assert "| `rs.json` | 4 | 0 | 4 |" in md
    assert "USUBJID 'S-P9' is not in DM (rows 4)" in md
    assert "no mapping selects it (rows 5)" in md
    assert "`ae.json:2: Cytokine release syndrome: no ASTCT grade, CTCAE AETOXGR used`" not in md
    assert "ae.json:2: Cytokine release syndrome: no ASTCT grade, CTCAE AETOXGR used" in md


def test_mapping_file_overrides_the_default(tmp_path):
    src = write_domains(tmp_path / "sdtm", {
        "DM": [dm("P1")], "EX": [ex_cart("P1", "2021-02-01")],
        "QS": [{"USUBJID": "S-P1", "QSCAT": "ECOG", "QSTESTCD": "ECOG101", "QSSTRESN": 2, "QSBLFL": "Y"},
               {"USUBJID": "S-P1", "QSCAT": "ECOG", "QSTESTCD": "ECOG101", "QSSTRESN": 3, "QSBLFL": ""}],
        "AE": [ae("P1", 1, "CRS", "2021-02-02", "1", AELNKID="7")],
        "FA": [{"USUBJID": "S-P1", "FATESTCD": "ASTCTGR", "FASTRESC": "3", "FALNKID": "7"}],
    })
    mapping = tmp_path / "map.toml"
    mapping.write_text('[subjects.findings]\necog = { domain = "QS", testcd = "ECOG101", where = { QSCAT = "ECOG" } }\n'
                       '[adverse_events]\nastct_grade = { domain = "FA", testcd = "ASTCTGR" }\n', encoding="utf-8")
    res = import_sdtm(src, tmp_path / "study", mapping)
    assert res.problems == []
    st = load_study(res.study)
    assert st.tables["subjects"]["ecog"].tolist() == [2]  # the baseline record (QSBLFL=Y)
    assert st.tables["adverse_events"]["grade"].tolist() == [3]  # ASTCT grade from FA, not CTCAE 1


@pytest.mark.parametrize("text,days", [("P28D", 28), ("PT6H", 0.25), ("P0.25D", 0.25), ("-P1D", -1), ("P1DT12H", 1.5),
                                       ("-PT30M", -30 / 1440), ("P", None), ("28", None), ("PT", None)])
def test_elapsed_time(text, days):
    assert eltm_days(text) == (None if days is None else pytest.approx(days))


def test_dm_only_study_invents_nothing(tmp_path):
    src = write_domains(tmp_path / "sdtm", {"DM": [dm("P1"), dm("P2")]})
    res = import_sdtm(src, tmp_path / "study")
    assert res.problems == []
    st = load_study(res.study)
    assert len(st.tables["subjects"]) == 2 and all(len(st.tables[t]) == 0 for t in st.tables if t != "subjects")
    assert st.tables["subjects"]["infusion_date"].isna().all() and st.tables["subjects"]["ecog"].isna().all()
    assert "| events | `date` | 0 of 0 |" in report_of(res.study)


# --------------------------------------------------------------------------- command line


def test_cli_import_sdtm(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["twin", "cr1_trial", "--format", "sdtm", "--out", str(tmp_path / "sdtm")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["import", "sdtm", str(tmp_path / "sdtm" / "xpt"), "--out", str(tmp_path / "study")])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["validate", str(tmp_path / "study")]).exit_code == 0
    # the same --out again: refused, nothing changed
    r = runner.invoke(app, ["import", "sdtm", str(tmp_path / "sdtm" / "xpt"), "--out", str(tmp_path / "study")])
    assert r.exit_code == 2 and "already exists and is not empty" in r.output
    r = runner.invoke(app, ["import", "sdtm", str(tmp_path / "sdtm" / "xpt"), "--out", str(tmp_path / "sdtm" / "xpt" / "study")])
    assert r.exit_code == 2 and "is inside the input folder" in r.output and not (tmp_path / "sdtm" / "xpt" / "study").exists()
    r = runner.invoke(app, ["import", "sdtm", str(tmp_path / "sdtm"), "--out", str(tmp_path / "s2")])
    assert r.exit_code == 2 and "no DM dataset" in r.output and "sub-folders: json, xpt" in r.output
    r = runner.invoke(app, ["twin", "cr1_trial", "--format", "sas", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2


def test_cli_bad_inputs_exit_1_or_2_without_traceback(tmp_path):
    runner = CliRunner()
    src = write_domains(tmp_path / "sdtm", {"DM": [dm("P1", SEX="X")]})
    r = runner.invoke(app, ["import", "sdtm", str(src), "--out", str(tmp_path / "a")])
    assert r.exit_code == 1 and "dm.json:2:SEX: subjects.sex: 'X' is not one of the mapped values" in r.output
    bad = tmp_path / "bad"
    shutil.copytree(src, bad)
    (bad / "ae.xpt").write_bytes(b"not a transport file")
    r = runner.invoke(app, ["import", "sdtm", str(bad), "--out", str(tmp_path / "b")])
    assert r.exit_code == 1 and r.output.startswith("ae.xpt::: ") and not (tmp_path / "b").exists()
    (tmp_path / "map.toml").write_text("[subjects\n", encoding="utf-8")
    r = runner.invoke(app, ["import", "sdtm", str(src), "--out", str(tmp_path / "c"), "--mapping", str(tmp_path / "map.toml")])
    assert r.exit_code == 2 and "map.toml: not a valid TOML file" in r.output
    (tmp_path / "map.toml").write_text('[subjects.findings]\nwhatever = "SC.X"\n', encoding="utf-8")
    r = runner.invoke(app, ["import", "sdtm", str(src), "--out", str(tmp_path / "c"), "--mapping", str(tmp_path / "map.toml")])
    assert r.exit_code == 2 and "map.toml:subjects.findings.whatever: not a column of subjects" in r.output
    (tmp_path / "map.toml").write_text('[subjects.milestones]\napheresis_date = "PR"\n', encoding="utf-8")
    r = runner.invoke(app, ["import", "sdtm", str(src), "--out", str(tmp_path / "c"), "--mapping", str(tmp_path / "map.toml")])
    assert r.exit_code == 2 and "map.toml: an entry does not have the shape of the default mapping" in r.output
    r = runner.invoke(app, ["import", "sdtm", str(tmp_path / "nowhere"), "--out", str(tmp_path / "d")])
    assert r.exit_code == 2 and "Traceback" not in r.output


# --------------------------------------------------------------------------- every table and column, built in code

def test_every_table_and_column_round_trips(tmp_path, full_small_study):
    study = full_small_study(tmp_path / "csv")
    want = load_study(study)
    assert all(len(want.tables[t]) for t in want.tables)
    from cartalysis.study.importers.sdtm_export import export_sdtm

    export_sdtm(want, tmp_path / "sdtm", study_id="SMALL")
    assert (tmp_path / "sdtm" / "xpt" / "suppae.xpt").is_file()  # ASTCT grades of CRS/ICANS as SUPPAE qualifiers
    for fmt in ("xpt", "json"):
        res = import_sdtm(tmp_path / "sdtm" / fmt, tmp_path / f"from_{fmt}")
        assert res.problems == []
        assert_same_rows(load_study(res.study), want)


def assert_same_rows(got, want) -> None:
    """Same tables, columns, types and rows; row order aside (the importers write rows in key order)."""
    def ordered(frame):
        return frame.sort_values(list(frame.columns), key=lambda c: c.astype(str)).reset_index(drop=True)

    assert list(got.tables) == list(want.tables)
    for t in want.tables:
        pd.testing.assert_frame_equal(ordered(got.tables[t]), ordered(want.tables[t]), obj=t)
