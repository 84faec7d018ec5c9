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


INFECTIONS = """\
patient_id,onset_date,end_date,pathogen_class,pathogen,site,grade,serious,related
P01,2021-03-01,2021-03-10,viral,CMV,bloodstream,3,yes,no
P03,2021-06-25,,bacterial,,lung,5,yes,
P03,2021-04-20,2021-04-22,unknown,,,2,,
"""
MEDS = """\
patient_id,medication,name,start_date,end_date,dose,dose_unit,indication
P01,tocilizumab,Actemra,2021-02-20,,8,mg/kg,crs
P01,corticosteroid,dexamethasone,2021-02-21,2021-02-23,10,mg,icans
P02,g_csf,,2021-03-20,,,,cytopenia
P03,ivig,,2021-05-01,,0.4,g/kg,hypogammaglobulinaemia
"""


@pytest.fixture
def full_small_study(small_study_writer):
    """``folder -> study``: the shared small study plus every newer table and column (see ``_full_small_study``)."""
    return lambda folder: _full_small_study(folder, small_study_writer)


def _full_small_study(folder: Path, small_study_writer) -> Path:
    """The shared small study plus every newer table and column: infections, concomitant_meds, hospital/ICU days,
    anakinra (yes, no and empty)."""
    study = small_study_writer(folder)
    (study / "infections.csv").write_text(INFECTIONS, encoding="utf-8")
    (study / "concomitant_meds.csv").write_text(MEDS, encoding="utf-8")
    lines = (study / "subjects.csv").read_text(encoding="utf-8").splitlines()
    extra = {"P01": "21,yes,3.5", "P02": "14,no,", "P03": "30,yes,12", "P04": ",,", "P05": ",,"}
    lines = [lines[0] + ",hospital_days,icu_admission,icu_days"] + [f"{x},{extra[x.split(',')[0]]}" for x in lines[1:]]
    (study / "subjects.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tox = (study / "toxicity_daily.csv").read_text(encoding="utf-8").splitlines()
    flags = ["anakinra", "no", "yes", "", "no", ""]
    (study / "toxicity_daily.csv").write_text("\n".join(f"{t},{f}" for t, f in zip(tox, flags)) + "\n", encoding="utf-8")
    return study
