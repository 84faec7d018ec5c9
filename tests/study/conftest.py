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
