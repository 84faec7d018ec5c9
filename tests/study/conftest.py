"""Fixtures for the study tests: the small study as an .xlsx workbook."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import openpyxl
import pytest


def write_workbook(study: Path, out: Path, leave_out: tuple[str, ...] = ()) -> Path:
    """The CSV study as an .xlsx workbook, numbers and dates stored as Excel numbers and dates, plus a stray sheet."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for csv_file in sorted(study.glob("*.csv")):
        if csv_file.stem in leave_out:
            continue
        ws = wb.create_sheet(csv_file.stem)
        for line in csv.reader(io.StringIO(csv_file.read_text(encoding="utf-8"))):
            ws.append([_excel_value(c) for c in line])
    wb.create_sheet("notes").append(["free text sheet, ignored"])
    wb.save(out)
    return out


def _excel_value(text: str):
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return dt.datetime.fromisoformat(text)
    try:
        return float(text)
    except ValueError:
        return text or None


@pytest.fixture
def workbook_writer():
    """``write_workbook(study_folder, out.xlsx, leave_out=()) -> out.xlsx``."""
    return write_workbook


@pytest.fixture(scope="session")
def csv_twin(tmp_path_factory):
    """name -> (CSV twin folder, results.json bytes of its report), each built once per session.

    Shared by the import round trips (SDTM, REDCap), which compare their study's report to the CSV twin's.
    """
    from cartalysis.report.build import build_report
    from cartalysis.twins.generate import write_twin

    cache: dict[str, tuple[Path, object]] = {}

    class Twin:
        def __init__(self, name: str):
            self.name = name
            self.base = tmp_path_factory.mktemp(f"csv_{name}")
            self.study = write_twin(name, self.base / "study")
            self._results: bytes | None = None

        @property
        def results(self) -> bytes:
            if self._results is None:
                self._results = build_report(self.study, self.base / "report", formats=("html",)).results_json.read_bytes()
            return self._results

    def get(name: str):
        if name not in cache:
            cache[name] = Twin(name)
        return cache[name]

    return get
