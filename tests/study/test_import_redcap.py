"""``cartalysis import redcap``: the shipped CAR-T registry project, the pivotal twin through a REDCap flat export
and back (same study, same results.json), and located errors for malformed exports."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cartalysis.cli import app
from cartalysis.study.errors import StudyError
from cartalysis.study.importers.redcap.dictionary import DICTIONARY, HERE, generated_files, load_project
from cartalysis.study.importers.redcap.export import export_redcap
from cartalysis.study.importers.redcap.flat import import_redcap
from cartalysis.study.load import load_study

DICT = Path(str(HERE)) / DICTIONARY


@pytest.fixture(scope="session")
def pivotal_export(twin_report, tmp_path_factory) -> tuple[Path, Path, object]:
    """The pivotal twin as a REDCap flat export + DAG file, and the CSV twin with its report (shared fixture)."""
    twin = twin_report("pivotal")
    base = tmp_path_factory.mktemp("redcap")
    export, dags = export_redcap(load_study(twin.study), DICT)
    (base / "export.csv").write_text(export, encoding="utf-8")
    (base / "dags.csv").write_text(dags, encoding="utf-8")
    return base / "export.csv", base / "dags.csv", twin


def test_shipped_project_files_follow_the_data_model():
    for name, text in generated_files().items():
        assert (Path(str(HERE)) / name).read_text(encoding="utf-8") == text, "regenerate: python -m cartalysis.study.importers.redcap.dictionary"
    problems = []
    project = load_project(DICT, problems)
    assert problems == []
    assert project.record_field == "record_id"
    assert {f.form for f in project.fields.values()} == {
        "baseline", "product_infusion", "daily_toxicity", "response_assessment", "clinical_events", "adverse_events",
        "cellular_kinetics", "laboratory", "infections", "supportive_care"}
    # every column of the data model has a field (the site is the data access group; tocilizumab/steroids a checkbox)
    fed = {(f.table, f.column) for f in project.fields.values()} | {("subjects", "site"), ("toxicity_daily", "tocilizumab"),
                                                                   ("toxicity_daily", "steroids")}
    from cartalysis.study.spec import TABLES

    assert {(t.name, c.name) for t in TABLES for c in t.columns if c.name != "patient_id"} - fed == set()
    assert ("follow_up_arm_1", "daily_toxicity") in project.repeating and ("baseline_arm_1", "baseline") not in project.repeating
    assert project.fields["crs_treatment"].type == "checkbox"
    assert project.fields["sex"].choices == (("1", "Female"), ("2", "Male"))


def test_pivotal_twin_through_redcap_gives_the_same_study_and_report(pivotal_export, tmp_path):
    from cartalysis.report.build import build_report

    export, dags, twin = pivotal_export
    text = export.read_text(encoding="utf-8")
    assert "crs_treatment___tocilizumab" in text and ",follow_up_arm_1,daily_toxicity,1," in text
    res = import_redcap(export, DICT, tmp_path / "study", dags)
    assert res.problems == []
    want, got = load_study(twin.study), load_study(res.study)
    for t in want.tables:
        pd.testing.assert_frame_equal(got.tables[t].reset_index(drop=True), want.tables[t].reset_index(drop=True), obj=t)
    got = build_report(res.study, tmp_path / "report", formats=("html",)).results_json.read_bytes()
    assert got == (twin.report / "results.json").read_bytes()
    md = (res.study / "import-report.md").read_text(encoding="utf-8")
    assert "| `export.csv [daily_toxicity]` | 1470 | 1470 | 0 |" in md


def test_without_dag_file_the_site_is_the_unique_group_name(pivotal_export, tmp_path):
    export, _, _ = pivotal_export
    res = import_redcap(export, DICT, tmp_path / "study")
    assert res.problems == []
    assert set(load_study(res.study).tables["subjects"]["site"]) <= {f"s{i:02d}" for i in range(100)}


def _edit(export: Path, tmp_path: Path, edit) -> Path:
    """A copy of the export with ``edit(rows)`` applied to its rows (lists; row 0 is the header)."""
    rows = list(csv.reader(io.StringIO(export.read_text(encoding="utf-8"))))
    edit(rows)
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / "export.csv"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    out.write_text(buf.getvalue(), encoding="utf-8")
    return out


def _problems(export: Path, tmp_path: Path, edit) -> list[str]:
    res = import_redcap(_edit(export, tmp_path, edit), DICT, tmp_path / "study")
    return [str(p) for p in res.problems]


def _find(rows, **where) -> int:
    h = rows[0]
    return next(i for i, r in enumerate(rows) if i and all(r[h.index(k)] == v for k, v in where.items()))


def test_unknown_event_name(pivotal_export, tmp_path):
    def edit(rows):
        rows[3][1] = "week_4_arm_1"

    lines = _problems(pivotal_export[0], tmp_path, edit)
    assert lines[0] == "export.csv:4:redcap_event_name: unknown event name 'week_4_arm_1' (events: baseline_arm_1, follow_up_arm_1)"


def test_choice_code_not_in_dictionary(pivotal_export, tmp_path):
    def edit(rows):
        rows[1][rows[0].index("sex")] = "3"
        rows[1][rows[0].index("disease_status")] = "smouldering"

    lines = _problems(pivotal_export[0], tmp_path, edit)
    assert "export.csv:2:sex: choice code '3' is not in the data dictionary (codes: 1, 2)" in lines
    assert any(line.startswith("export.csv:2:disease_status: choice code 'smouldering' is not in the data dictionary") for line in lines)


def test_repeat_instance_gap_and_duplicate(pivotal_export, tmp_path):
    def edit(rows):
        i = _find(rows, redcap_repeat_instrument="daily_toxicity", redcap_repeat_instance="2")
        rows[i][rows[0].index("redcap_repeat_instance")] = "9"
        j = _find(rows, redcap_repeat_instrument="adverse_events", redcap_repeat_instance="3")
        rows[j][rows[0].index("redcap_repeat_instance")] = "2"

    lines = _problems(pivotal_export[0], tmp_path, edit)
    gap = [line for line in lines if "is missing" in line]
    assert gap and gap[0].endswith(f"repeat instance 3 of daily_toxicity for record {gap[0].split('record ')[1].split()[0]} follows 1: instance 2 is missing")
    assert any("repeat instance 2 of adverse_events" in line and "appears twice" in line for line in lines)


def test_dag_missing(pivotal_export, tmp_path):
    def drop_column(rows):
        k = rows[0].index("redcap_data_access_group")
        for r in rows:
            del r[k]

    lines = _problems(pivotal_export[0], tmp_path, drop_column)
    assert lines[0] == "export.csv:1:redcap_data_access_group: column missing: each record's site is its data access group (export with DAGs)"
    assert any(line.startswith("study/subjects.csv:2:site:") for line in lines)  # and the study says why it is unusable

    def blank(rows):
        rows[1][rows[0].index("redcap_data_access_group")] = ""

    lines = _problems(pivotal_export[0], tmp_path / "b", blank)
    assert lines[0] == "export.csv:2:redcap_data_access_group: record CN01 has no data access group: its site is unknown"


def test_misplaced_values_and_bad_cells(pivotal_export, tmp_path):
    def edit(rows):
        h = rows[0]
        rows[1][h.index("tox_temp_max_c")] = "38"  # a daily-toxicity field on the baseline row
        i = _find(rows, redcap_repeat_instrument="daily_toxicity", redcap_repeat_instance="1")
        rows[i][h.index("crs_treatment___steroids")] = "yes"
        rows[i][h.index("tox_date")] = "2021-02-30"
        rows[i][h.index("tox_ice_score")] = "11"
        j = _find(rows, redcap_repeat_instrument="adverse_events", redcap_repeat_instance="1")
        rows[j][h.index("redcap_repeat_instrument")] = "baseline"
        h.append("favourite_colour")
        for r in rows[1:]:
            r.append("")

    lines = _problems(pivotal_export[0], tmp_path, edit)
    assert "export.csv:1:favourite_colour: not a field of the data dictionary; column ignored" in lines
    assert "export.csv:2:tox_temp_max_c: field of instrument daily_toxicity, which is not on this row (event baseline_arm_1, instrument none)" in lines
    assert any(line.endswith(":crs_treatment___steroids: checkbox value 'yes' is not 0 or 1") for line in lines)
    assert any(line.endswith(":tox_date: '2021-02-30' is not a calendar date") for line in lines)
    assert any(line.endswith(":tox_ice_score: '11' is outside 0–10") for line in lines)
    assert any(line.endswith(":redcap_repeat_instrument: 'baseline' is not a repeating instrument of event follow_up_arm_1") for line in lines)


def test_unreadable_export_and_missing_record_id(tmp_path):
    (tmp_path / "e.csv").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(StudyError):
        import_redcap(tmp_path / "e.csv", DICT, tmp_path / "s")
    (tmp_path / "e.csv").write_text("patient,redcap_event_name\nP1,baseline_arm_1\n", encoding="utf-8")
    with pytest.raises(StudyError) as e:
        import_redcap(tmp_path / "e.csv", DICT, tmp_path / "s")
    assert str(e.value.problems[0]) == "e.csv:1:record_id: the record id column is missing"


def test_cli_import_redcap(pivotal_export, tmp_path):
    export, dags, _ = pivotal_export
    runner = CliRunner()
    r = runner.invoke(app, ["import", "redcap", str(export), "--dictionary", str(DICT), "--dags", str(dags), "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    bad = _edit(export, tmp_path, lambda rows: rows[3].__setitem__(1, "nope"))
    r = runner.invoke(app, ["import", "redcap", str(bad), "--dictionary", str(DICT), "--out", str(tmp_path / "s2")])
    assert r.exit_code == 1 and "export.csv:4:redcap_event_name: unknown event name 'nope'" in r.output
    r = runner.invoke(app, ["import", "redcap", str(export), "--dictionary", str(export), "--out", str(tmp_path / "s3")])
    assert r.exit_code == 2 and "not a REDCap data dictionary" in r.output
    r = runner.invoke(app, ["import", "redcap", str(tmp_path / "missing.csv"), "--dictionary", str(DICT), "--out", str(tmp_path / "s4")])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_every_table_and_column_round_trips(full_small_study, tmp_path):
    """All tables through REDCap; extra subjects columns (weight_kg) have no field in the shipped project and are left out."""
    want = load_study(full_small_study(tmp_path / "csv"))
    export, dags = export_redcap(want, DICT)
    (tmp_path / "e.csv").write_text(export, encoding="utf-8")
    (tmp_path / "d.csv").write_text(dags, encoding="utf-8")
    res = import_redcap(tmp_path / "e.csv", DICT, tmp_path / "study", tmp_path / "d.csv")
    assert res.problems == []
    got = load_study(res.study)
    for t in want.tables:
        w = want.tables[t].drop(columns=["weight_kg"], errors="ignore")
        order = list(w.columns)
        a = got.tables[t].sort_values(order, key=lambda c: c.astype(str)).reset_index(drop=True)
        b = w.sort_values(order, key=lambda c: c.astype(str)).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, obj=t)


def test_odm_export_gives_the_same_study(pivotal_export, tmp_path):
    from cartalysis.study.importers.redcap.odm import flat_to_odm

    export, dags, twin = pivotal_export
    xml = tmp_path / "export.xml"
    xml.write_text(flat_to_odm(export.read_text(encoding="utf-8")), encoding="utf-8")
    res = import_redcap(xml, DICT, tmp_path / "study", dags)
    assert res.problems == []
    want, got = load_study(twin.study), load_study(res.study)
    for t in want.tables:
        pd.testing.assert_frame_equal(got.tables[t].reset_index(drop=True), want.tables[t].reset_index(drop=True), obj=t)


def test_odm_problems_are_located_by_line(tmp_path):
    (tmp_path / "a.xml").write_text("<ODM><ClinicalData>", encoding="utf-8")
    with pytest.raises(StudyError) as e:
        import_redcap(tmp_path / "a.xml", DICT, tmp_path / "s")
    assert str(e.value.problems[0]).startswith("a.xml:1::") and "not well-formed XML" in str(e.value.problems[0])
    (tmp_path / "c.xml").write_text('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
                                    '<ODM><ClinicalData><SubjectData SubjectKey="&e;"/></ClinicalData></ODM>\n', encoding="utf-8")
    with pytest.raises(StudyError) as e:  # an external entity is never resolved: the file is refused, located
        import_redcap(tmp_path / "c.xml", DICT, tmp_path / "s3")
    assert str(e.value.problems[0]).startswith("c.xml:3::") and "root:" not in str(e.value.problems[0])
    (tmp_path / "b.xml").write_text(
        '<?xml version="1.0"?>\n\n'
        '<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"><ClinicalData>\n'
        '<SubjectData SubjectKey="1"><SiteRef LocationOID="s01"/>\n'
        '<StudyEventData StudyEventOID="Event.baseline_arm_1"><FormData FormOID="Form.baseline"><ItemGroupData>\n'
        '<ItemData ItemOID="race" Value="white"/>\n'
        '<ItemData ItemOID="sex" Value="7"/>\n'
        '</ItemGroupData></FormData></StudyEventData>\n'
        '<StudyEventData StudyEventOID="Event.week_1"><FormData FormOID="Form.baseline"><ItemGroupData>\n'
        '<ItemData ItemOID="age" Value="40"/></ItemGroupData></FormData></StudyEventData>\n'
        '</SubjectData></ClinicalData></ODM>\n', encoding="utf-8")
    res = import_redcap(tmp_path / "b.xml", DICT, tmp_path / "s2")
    lines = [str(p) for p in res.problems]
    assert "b.xml:5:sex: choice code '7' is not in the data dictionary (codes: 1, 2)" in lines
    assert "b.xml:9:redcap_event_name: unknown event name 'week_1' (events: baseline_arm_1, follow_up_arm_1)" in lines
