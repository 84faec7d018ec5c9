"""Data checks beyond types: implausible dates, the data cutoff, fatal AEs without a death, °F temperatures,
control characters, NUL bytes, over-long cells, password-protected or damaged workbooks. One root cause, one line."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cartalysis.cli import app
from cartalysis.study.validate import validate_study

runner = CliRunner()


def edit(folder: Path, table: str, change) -> None:
    """Rewrite ``table`` with ``change(rows)`` applied to its rows (dicts), as the csv module writes them."""
    path = folder / f"{table}.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    header = list(rows[0])
    rows = change(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, header, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _set(table_rows, index, **values):
    table_rows[index].update(values)
    return table_rows


def lines(folder: Path) -> list[str]:
    return [str(p) for p in validate_study(folder)]


def test_dates_before_1900_are_one_line_with_a_count(small_study):
    edit(small_study, "assessments", lambda r: [dict(x, date=x["date"].replace("2021", "1821")) if x["patient_id"] == "P01"
                                                else x for x in r])
    got = [s for s in lines(small_study) if "1900" in s]
    assert got == ["assessments.csv:2:date: '1821-01-14' is outside the plausible range 1900-01-01..2199-12-31 "
                   "(4 such cells in this column)"]


def test_dates_after_the_data_cutoff(small_study, tmp_path):
    (small_study / "sap.toml").write_text("[study]\ndata_cutoff = 2021-09-30\n", encoding="utf-8")
    got = lines(small_study)
    assert "events.csv:3:date: 2021-10-20 is after the data cutoff 2021-09-30 (study.data_cutoff in the plan): cut the " \
           "data at the cutoff, or correct the cutoff (2 such dates in this column)" in got
    result = runner.invoke(app, ["report", str(small_study), "--out", str(tmp_path / "out"), "--format", "html"])
    assert result.exit_code == 1 and "after the data cutoff 2021-09-30" in result.output


def test_data_cutoff_is_the_report_date_and_its_absence_is_said(small_study, tmp_path):
    result = runner.invoke(app, ["report", str(small_study), "--out", str(tmp_path / "a"), "--format", "html"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "a" / "report.html").read_text("utf-8")
    assert "2022-01-10 (no study.data_cutoff in the plan: the latest date in the data)" in html
    (small_study / "sap.toml").write_text("[study]\ndata_cutoff = 2022-06-30\n", encoding="utf-8")
    result = runner.invoke(app, ["report", str(small_study), "--out", str(tmp_path / "b"), "--format", "html"])
    assert result.exit_code == 0, result.output
    assert "2022-06-30 (data cutoff, study.data_cutoff in the plan)" in (tmp_path / "b" / "report.html").read_text("utf-8")


def test_grade_5_adverse_event_without_a_death(small_study):
    edit(small_study, "adverse_events", lambda r: _set(r, 2, grade="5"))  # P02's CRS; P02 is alive
    assert "adverse_events.csv:4:grade: patient P02: grade-5 (fatal) adverse event 'Cytokine release syndrome' but " \
           "no death in events.csv" in lines(small_study)


def test_death_recorded_twice(small_study):
    edit(small_study, "events", lambda r: r + [{"patient_id": "P03", "date": "2021-07-01", "event": "death",
                                               "detail": "sepsis"}])
    got = [s for s in lines(small_study) if "death" in s]
    assert got == ["events.csv:10:event: second death for patient 'P03' (first at row 7)"]


def test_death_before_many_records_is_one_line_with_counts(small_study):
    edit(small_study, "events", lambda r: _set(r, 1, date="2021-03-01"))  # P01 infused 2021-02-15
    got = [s for s in lines(small_study) if "P01" in s or "death" in s]
    assert len(got) == 1, got
    assert got[0].startswith("events.csv:3:date: patient P01: death date 2021-03-01 precedes ")
    assert "later records (" in got[0] and "assessments " in got[0] and "pk " in got[0]


def test_fahrenheit_temperatures_are_one_line(small_study):
    edit(small_study, "toxicity_daily", lambda r: [dict(x, temp_max_c=str(round(float(x["temp_max_c"]) * 9 / 5 + 32, 1)))
                                                   if x["temp_max_c"] else x for x in r])
    got = [s for s in lines(small_study) if "temp_max_c" in s]
    assert len(got) == 1, got
    assert got[0].startswith("toxicity_daily.csv:2:temp_max_c: 99 looks like °F (99 °F = 37.2 °C): temperatures are in "
                             "°C (")


def test_control_character_in_a_cell(small_study):
    edit(small_study, "adverse_events", lambda r: _set(_set(r, 1, term="Neutro\x07penia"), 4, soc="Infections\x1b"))
    got = [s for s in lines(small_study) if "control character" in s]
    assert got == [
        "adverse_events.csv:3:term: the cell contains a control character (U+0007), invisible in a spreadsheet: remove it",
        "adverse_events.csv:6:soc: the cell contains a control character (U+001B), invisible in a spreadsheet: remove it",
    ]


def test_nul_byte_is_located(small_study):
    path = small_study / "adverse_events.csv"
    path.write_bytes(path.read_bytes().replace(b"Neutropenia", b"Neutro\x00penia"))
    got = [s for s in lines(small_study) if "NUL" in s]
    assert got == ["adverse_events.csv:3:term: the cell contains a NUL character, invisible in a spreadsheet: remove it"]


def test_cell_over_the_csv_field_limit(small_study):
    path = small_study / "labs.csv"
    path.write_text(path.read_text("utf-8") + 'P01,3,crp,"' + "x" * 200_000 + "\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(small_study)])
    assert result.exit_code == 1
    assert "labs.csv:" in result.output and "characters ends on this line: usually a quote" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("data, message", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512 + "EncryptedPackage".encode("utf-16-le") + b"\0" * 64,
     "password-protected"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "old Excel 97-2003 (.xls)"),
    (b"PK\x03\x04" + b"\x00" * 40, "the workbook is damaged"),
    (b"hello", "not an .xlsx workbook"),
], ids=["password", "xls inside", "damaged zip", "not a zip"])
def test_unreadable_workbooks_say_why(tmp_path, data, message):
    book = tmp_path / "study.xlsx"
    book.write_bytes(data)
    result = runner.invoke(app, ["validate", str(book)])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
