"""validate_study and `cartalysis validate` on corrupted copies of the small study.

Each case corrupts one thing and asserts the exact file:row:column of every
problem reported (so no cascade of follow-on messages either), that the CLI
exits 1 without a traceback, and that the input files are left untouched.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cartalysis.cli import app
from cartalysis.study.errors import UsageError
from cartalysis.study.spec import TABLES
from cartalysis.study.validate import validate_study

runner = CliRunner()


def _read(folder: Path, table: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO((folder / f"{table}.csv").read_text(encoding="utf-8"))))


def _write(folder: Path, table: str, records: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    (folder / f"{table}.csv").write_text(out.getvalue(), encoding="utf-8")


def set_cell(folder: Path, table: str, row: int, column: str, value: str) -> None:
    """Set the cell a spreadsheet shows at ``row`` (header = row 1) in ``column``."""
    records = _read(folder, table)
    records[row - 1][records[0].index(column)] = value
    _write(folder, table, records)


def add_row(folder: Path, table: str, **values: str) -> int:
    """Append a row (unnamed columns empty); return its spreadsheet row number."""
    records = _read(folder, table)
    records.append([values.get(h, "") for h in records[0]])
    _write(folder, table, records)
    return len(records)


def drop_column(folder: Path, table: str, column: str) -> None:
    records = _read(folder, table)
    j = records[0].index(column)
    _write(folder, table, [r[:j] + r[j + 1 :] for r in records])


def _text(folder: Path, table: str) -> str:
    return (folder / f"{table}.csv").read_text(encoding="utf-8")


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _where(problems) -> list[tuple]:
    return [(p.file, p.row, p.column) for p in problems]


# (id, corruption, expected [(file, row, column, words in the message)])
CASES: list[tuple[str, Callable[[Path], None], list[tuple]]] = [
    (
        "missing required column",
        lambda f: drop_column(f, "adverse_events", "grade"),
        [("adverse_events.csv", None, "grade", "required column is missing")],
    ),
    (
        "missing required file",
        lambda f: (f / "subjects.csv").unlink(),
        [("subjects.csv", None, None, "required file is missing")],
    ),
    (
        "bad date",
        lambda f: set_cell(f, "subjects", 3, "infusion_date", "03/03/2021"),
        [("subjects.csv", 3, "infusion_date", "'03/03/2021' is not a date in YYYY-MM-DD form")],
    ),
    (
        "impossible calendar date",
        lambda f: set_cell(f, "events", 4, "date", "2021-02-30"),
        [("events.csv", 4, "date", "'2021-02-30' is not a valid calendar date")],
    ),
    (
        "unknown patient",
        lambda f: set_cell(f, "assessments", 8, "patient_id", "P99"),
        [("assessments.csv", 8, "patient_id", "patient 'P99' is not in subjects")],
    ),
    (
        "grade 7",
        lambda f: set_cell(f, "adverse_events", 5, "grade", "7"),
        [("adverse_events.csv", 5, "grade", "'7' is above the maximum 5")],
    ),
    (
        "grade not whole",
        lambda f: set_cell(f, "adverse_events", 2, "grade", "2.5"),
        [("adverse_events.csv", 2, "grade", "not a whole number")],
    ),
    (
        "infusion before apheresis",
        lambda f: set_cell(f, "subjects", 2, "infusion_date", "2021-01-18"),
        [
            (
                "subjects.csv",
                2,
                "infusion_date",
                "infusion_date 2021-01-18 is before apheresis_date 2021-01-20, ld_start_date 2021-02-10 and "
                "ld_end_date 2021-02-13",
            ),
            ("subjects.csv", 2, "release_date", "release_date 2021-02-09 is after infusion_date 2021-01-18"),
        ],
    ),
    (
        "ld end before ld start",
        lambda f: set_cell(f, "subjects", 3, "ld_end_date", "2021-02-25"),
        [("subjects.csv", 3, "ld_end_date", "ld_end_date 2021-02-25 is before ld_start_date 2021-02-26")],
    ),
    (
        "text in a number column",
        lambda f: set_cell(f, "subjects", 4, "age", "fifty"),
        [("subjects.csv", 4, "age", "'fifty' is not a number")],
    ),
    (
        "negative pk value",
        lambda f: set_cell(f, "pk", 3, "value", "-5"),
        [("pk.csv", 3, "value", "'-5' is negative")],
    ),
    (
        "empty file",
        lambda f: (f / "labs.csv").write_bytes(b""),
        [("labs.csv", None, None, "file is empty")],
    ),
    (
        "empty required file",
        lambda f: (f / "subjects.csv").write_bytes(b"\n"),
        [("subjects.csv", None, None, "file is empty")],
    ),
    (
        "non-UTF-8 file",
        lambda f: (f / "events.csv").write_bytes(_text(f, "events").replace("infection", "décès").encode("latin-1")),
        [("events.csv", None, None, "not UTF-8 text (byte 0xe9 on line 7)")],
    ),
    (
        "excel workbook saved as csv",
        lambda f: openpyxl.Workbook().save(f / "pk.csv"),
        [("pk.csv", None, None, "not CSV text")],
    ),
    (
        "semicolon separated",
        lambda f: (f / "labs.csv").write_text(_text(f, "labs").replace(",", ";")),
        [("labs.csv", 1, None, "';' as separator")],
    ),
    (
        "stray quote",
        lambda f: (f / "labs.csv").write_text(_text(f, "labs") + 'P02,4,"crp"x,12,mg/L\n'),
        [("labs.csv", 6, None, "not readable as CSV")],
    ),
    (
        "row with an extra cell",
        lambda f: (f / "labs.csv").write_text(_text(f, "labs") + "P02,4,crp,12,mg/L,\n"),
        [("labs.csv", 6, None, "row has 6 cells but the header has 5")],
    ),
    (
        "row with a missing cell",
        lambda f: (f / "labs.csv").write_text(_text(f, "labs") + "P02,4,crp,12\n"),
        [("labs.csv", 6, None, "row has 4 cells but the header has 5")],
    ),
    (
        "values in a column without a name",
        lambda f: (f / "labs.csv").write_text(_text(f, "labs").replace("unit\n", "unit,\n").replace("L\n", "L,x\n")),
        [("labs.csv", 1, None, "column 6 has values but no name")],
    ),
    (
        "blank first row",
        lambda f: (f / "labs.csv").write_text("\n" + _text(f, "labs")),
        [("labs.csv", 1, None, "row 1 must be the header row")],
    ),
    (
        "subjects without rows",
        lambda f: (f / "subjects.csv").write_text(_text(f, "subjects").splitlines()[0] + "\n"),
        [("subjects.csv", None, None, "no patients")],
    ),
    (
        "infusion_date column missing: no follow-on messages",
        lambda f: drop_column(f, "subjects", "infusion_date"),
        [("subjects.csv", None, "infusion_date", "required column is missing")],
    ),
    (
        "duplicate subject",
        lambda f: add_row(f, "subjects", **dict(zip(_read(f, "subjects")[0], _read(f, "subjects")[2]))),  # P02
        [("subjects.csv", 7, "patient_id", "duplicate of row 3 (same patient_id)")],
    ),
    (
        "duplicate assessment",
        lambda f: add_row(f, "assessments", patient_id="P02", date="2021-06-01", assessor="investigator", pb_blasts="no", emd="no"),
        [("assessments.csv", 9, "patient_id", "duplicate of row 7 (same patient_id, date, assessor)")],
    ),
    (
        "duplicate column name",
        lambda f: (f / "labs.csv").write_text(_text(f, "labs").replace("unit\n", "value\n", 1)),
        [("labs.csv", 1, "value", "column appears more than once")],
    ),
    (
        "missing required value",
        lambda f: set_cell(f, "subjects", 5, "site", ""),
        [("subjects.csv", 5, "site", "value is missing")],
    ),
    (
        "category spelling",
        lambda f: set_cell(f, "subjects", 2, "sex", "Female"),
        [("subjects.csv", 2, "sex", "did you mean 'female'")],
    ),
    (
        "bool typo",
        lambda f: set_cell(f, "toxicity_daily", 4, "tocilizumab", "given"),
        [("toxicity_daily.csv", 4, "tocilizumab", "'given' is not yes/no")],
    ),
    (
        "event before infusion",
        lambda f: set_cell(f, "events", 4, "date", "2021-03-01"),
        [("events.csv", 4, "date", "hsct on 2021-03-01 is before the infusion on 2021-03-03 (subjects.csv row 3)")],
    ),
    (
        "event before screening (not infused)",
        lambda f: set_cell(f, "events", 9, "date", "2021-03-01"),
        [("events.csv", 9, "date", "last_contact on 2021-03-01 is before screening on 2021-04-01")],
    ),
    (
        "hsct detail not allowed",
        lambda f: set_cell(f, "events", 4, "detail", "Allo"),
        [("events.csv", 4, "detail", "'Allo' is not a hsct detail; allowed: allo, auto (did you mean 'allo'?")],
    ),
    (
        "two deaths",
        lambda f: add_row(f, "events", patient_id="P01", date="2021-10-21", event="death", detail="relapse"),
        [("events.csv", 10, "event", "second death for patient 'P01' (first at row 3)")],
    ),
    (
        "last contact after death",
        lambda f: add_row(f, "events", patient_id="P03", date="2021-08-01", event="last_contact"),
        [("events.csv", 10, "date", "last_contact on 2021-08-01 is after death on 2021-07-01 (events.csv row 7)")],
    ),
    (
        "assessment after death",
        lambda f: set_cell(f, "assessments", 8, "date", "2021-07-05"),
        [("assessments.csv", 8, "date", "assessment on 2021-07-05 is after death on 2021-07-01")],
    ),
    (
        "adverse event after death",
        lambda f: set_cell(f, "adverse_events", 6, "end_date", "2021-07-02"),
        [("adverse_events.csv", 6, "end_date", "adverse event end on 2021-07-02 is after death on 2021-07-01")],
    ),
    (
        "pk sample after death",
        lambda f: add_row(f, "pk", patient_id="P01", day="300", matrix="blood", value="10"),
        [("pk.csv", 8, "day", "day 300 is after death on 2021-10-20, day 247 (events.csv row 3)")],
    ),
    (
        "pk sample on an absurd day",
        lambda f: add_row(f, "pk", patient_id="P01", day="1e300", matrix="blood", value="10"),
        [("pk.csv", 8, "day", "day 1e+300 is after death")],
    ),
    (
        "ae end before onset",
        lambda f: set_cell(f, "adverse_events", 3, "end_date", "2021-02-01"),
        [("adverse_events.csv", 3, "end_date", "end_date 2021-02-01 is before onset_date 2021-02-13")],
    ),
    (
        "infused but not enrolled",
        lambda f: set_cell(f, "subjects", 2, "enrolled", "no"),
        [("subjects.csv", 2, "enrolled", "not enrolled but has an infusion_date")],
    ),
    (
        "screen failure with a later stage",
        lambda f: set_cell(f, "subjects", 6, "discontinuation_stage", "before_manufacture"),
        [("subjects.csv", 6, "discontinuation_stage", "'before_manufacture' is for enrolled patients, but enrolled = no")],
    ),
    (
        "infused patient with a discontinuation stage",
        lambda f: set_cell(f, "subjects", 4, "discontinuation_stage", "after_lymphodepletion"),
        [("subjects.csv", 4, "discontinuation_stage", "patient was infused on 2021-03-31")],
    ),
    (
        "lab sample of a patient not infused",
        lambda f: add_row(f, "labs", patient_id="P04", day="2", test="crp", value="10"),
        [("labs.csv", 6, "day", "no infusion_date")],
    ),
    (
        "B-cell count in a unit other than cells/uL",
        lambda f: add_row(f, "labs", patient_id="P01", day="30", test="cd19", value="0.02", unit="10^9/L"),
        [("labs.csv", 6, "unit", "cd19 is given in cells/uL, not '10^9/L'")],
    ),
    (
        "negative IgG (unit left empty: mg/dL)",
        lambda f: add_row(f, "labs", patient_id="P01", day="30", test="IgG", value="-3"),
        [("labs.csv", 6, "value", "igg -3 is negative")],
    ),
    (
        "infection ending before onset, with a pathogen class not in the list",
        lambda f: _write(f, "infections", [
            ["patient_id", "onset_date", "end_date", "pathogen_class", "site", "grade"],
            ["P01", "2021-03-01", "2021-02-27", "bacterial", "lung", "3"],
            ["P02", "2021-04-01", "", "parasitic", "lung", "2"]]),
        [("infections.csv", 2, "end_date", "end_date 2021-02-27 is before onset_date 2021-03-01"),
         ("infections.csv", 3, "pathogen_class", "'parasitic' is not one of")],
    ),
    (
        "infection onset after death",
        lambda f: _write(f, "infections", [
            ["patient_id", "onset_date", "pathogen_class", "grade"], ["P03", "2021-07-02", "fungal", "3"]]),
        [("infections.csv", 2, "onset_date", "infection onset on 2021-07-02 is after death on 2021-07-01")],
    ),
    (
        "medication course ending before it starts, of a patient not in subjects",
        lambda f: _write(f, "concomitant_meds", [
            ["patient_id", "medication", "start_date", "end_date", "dose", "dose_unit"],
            ["P01", "corticosteroid", "2021-02-21", "2021-02-20", "10", "mg"],
            ["P09", "tocilizumab", "2021-02-21", "", "8", "mg/kg"]]),
        [("concomitant_meds.csv", 2, "end_date", "end_date 2021-02-20 is before start_date 2021-02-21"),
         ("concomitant_meds.csv", 3, "patient_id", "patient 'P09' is not in subjects")],
    ),
]


@pytest.mark.parametrize("corrupt, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_corruption_is_reported_at_its_cell(small_study, corrupt, expected):
    corrupt(small_study)
    before = _hashes(small_study)
    problems = validate_study(small_study)
    assert _where(problems) == [e[:3] for e in expected], [str(p) for p in problems]
    for p, e in zip(problems, expected):
        assert e[3] in p.message
    assert _hashes(small_study) == before


def test_small_study_is_clean(small_study):
    assert validate_study(small_study) == []


def test_all_problems_at_once_sorted_by_file_and_row(small_study):
    set_cell(small_study, "subjects", 4, "age", "fifty")
    set_cell(small_study, "adverse_events", 5, "grade", "7")
    set_cell(small_study, "subjects", 2, "sex", "F")
    set_cell(small_study, "pk", 3, "value", "-5")
    drop_column(small_study, "events", "event")
    assert _where(validate_study(small_study)) == [
        ("adverse_events.csv", 5, "grade"),
        ("events.csv", None, "event"),
        ("pk.csv", 3, "value"),
        ("subjects.csv", 2, "sex"),
        ("subjects.csv", 4, "age"),
    ]


def test_row_numbers_count_blank_and_multiline_rows_as_a_spreadsheet_does(small_study):
    labs = _text(small_study, "labs").splitlines()
    # a blank row 3 (skipped, still counted) and a quoted unit with a line break in row 4
    text = "\n".join([labs[0], labs[1], "", labs[2].replace("pg/mL", '"pg/\nmL"'), labs[3], "P01,x,crp,1,mg/L"])
    (small_study / "labs.csv").write_text(text + "\n")
    assert [str(p) for p in validate_study(small_study)] == ["labs.csv:6:day: 'x' is not a number"]


def test_bom_and_crlf_from_excel_are_fine(small_study):
    text = _text(small_study, "events").replace("\n", "\r\n")
    (small_study / "events.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert validate_study(small_study) == []


def test_column_name_case_hint(small_study):
    records = _read(small_study, "pk")
    records[0][records[0].index("matrix")] = "Matrix"
    _write(small_study, "pk", records)
    assert [str(p) for p in validate_study(small_study)] == [
        "pk.csv::matrix: required column is missing (found 'Matrix'; column names are lower case)"
    ]


def test_workbook_problems_name_the_sheet(small_study, tmp_path, workbook_writer):
    set_cell(small_study, "adverse_events", 5, "grade", "7")
    book = workbook_writer(small_study, tmp_path / "trial.xlsx", leave_out=("events",))
    assert [str(p) for p in validate_study(book)] == [
        "trial.xlsx[adverse_events]:5:grade: '7' is above the maximum 5",
        "trial.xlsx[events]::: required sheet is missing",
    ]


def test_workbook_date_cell_with_a_time_is_reported(small_study, tmp_path, workbook_writer):
    book = workbook_writer(small_study, tmp_path / "trial.xlsx")
    wb = openpyxl.load_workbook(book)
    ws = wb["events"]
    ws["B3"].value = ws["B3"].value.replace(hour=14, minute=5)
    wb.save(book)
    assert [str(p) for p in validate_study(book)] == [
        "trial.xlsx[events]:3:date: '2021-10-20 14:05:00' has a time of day; give the date only (YYYY-MM-DD)"
    ]


def _corrupt_workbook(d: Path) -> Path:
    (d / "broken.xlsx").write_bytes(b"not a zip")
    return d / "broken.xlsx"


def _unreadable_file(d: Path) -> Path:
    (d / "pk.csv").unlink()
    (d / "pk.csv").mkdir()  # reading a folder fails like an unreadable file
    return d


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing", "study not found"),
        (lambda d: d / "subjects.csv", "not a study folder or an .xlsx"),
        (_corrupt_workbook, "cannot open"),
        (_unreadable_file, "cannot read"),
    ],
    ids=["missing folder", "a csv file", "corrupt workbook", "unreadable file"],
)
def test_usage_errors_exit_2(small_study, make, message):
    path = make(small_study)
    with pytest.raises(UsageError, match=message):
        validate_study(path)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file")
def test_permission_denied_is_a_usage_error(small_study):
    (small_study / "events.csv").chmod(0)
    try:
        with pytest.raises(UsageError, match="permission denied"):
            validate_study(small_study)
    finally:
        (small_study / "events.csv").chmod(0o644)


def test_cli_exit_codes_and_output(small_study):
    clean = runner.invoke(app, ["validate", str(small_study)])
    assert clean.exit_code == 0 and "no problems found" in clean.output
    set_cell(small_study, "adverse_events", 5, "grade", "7")
    set_cell(small_study, "subjects", 2, "infusion_date", "2021-01-18")
    bad = runner.invoke(app, ["validate", str(small_study)])
    assert bad.exit_code == 1
    assert "adverse_events.csv:5:grade: '7' is above the maximum 5" in bad.output
    assert "subjects.csv:2:infusion_date: infusion_date 2021-01-18 is before apheresis_date 2021-01-20" in bad.output
    assert "3 problem(s) found" in bad.output
    assert "Traceback" not in bad.output


def test_cli_in_a_real_process_has_no_traceback(small_study):
    """The installed entry point, end to end: corrupted study -> exit 1, problems on stderr, no traceback."""
    (small_study / "labs.csv").write_bytes(b"\xff\xfe binary")
    set_cell(small_study, "subjects", 4, "age", "fifty")
    cmd = [sys.executable, "-c", "from cartalysis.cli import main; main()", "validate", str(small_study)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "labs.csv::: not UTF-8 text" in done.stderr and "subjects.csv:4:age: 'fifty' is not a number" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


_SLOW_OK = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]}


@settings(max_examples=60, **_SLOW_OK)
@given(data=st.data(), text=st.text(max_size=12))
def test_any_cell_text_gives_problems_never_an_exception(small_study_tables, small_study_writer, data, text):
    cells = [
        (name, r, c)
        for name, table in small_study_tables.items()
        for r, row in enumerate(csv.reader(io.StringIO(table)))
        for c in range(len(row))
    ]
    name, r, c = data.draw(st.sampled_from(cells))
    with tempfile.TemporaryDirectory() as d:
        folder = small_study_writer(Path(d) / "s")
        records = _read(folder, name)
        records[r][c] = text
        _write(folder, name, records)
        problems = validate_study(folder)
        assert all(p.file.endswith(".csv") and p.message for p in problems)


@settings(max_examples=30, **_SLOW_OK)
@given(name=st.sampled_from([t.name for t in TABLES]), data=st.binary(max_size=200))
def test_any_file_bytes_give_problems_never_an_exception(small_study_writer, name, data):
    with tempfile.TemporaryDirectory() as d:
        folder = small_study_writer(Path(d) / "s")
        (folder / f"{name}.csv").write_bytes(data)
        problems = validate_study(folder)
        assert problems, "random bytes cannot make a valid table"


def test_pivotal_twin_validates_clean(tmp_path):
    generate = pytest.importorskip("cartalysis.twins.generate", reason="twins not written yet")
    if "pivotal" not in [t.name for t in generate.list_twins()]:
        pytest.skip("the pivotal twin is not defined yet")
    study = tmp_path / "pivotal"
    generate.write_twin("pivotal", study)
    assert [str(p) for p in validate_study(study)] == []
