"""Import by site, re-import, edits with optimistic locking, locked records need a reason."""

from __future__ import annotations

import csv

import pytest
from registry_builders import SITE_PATIENTS, populate

from cartalysis.registry import access as a
from cartalysis.registry import ingest
from cartalysis.study.errors import StudyError


def _rewrite(path, row: int, column: str, value: str) -> None:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    rows[row - 1][rows[0].index(column)] = value
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def test_import_then_reimport_changes_nothing(db, small_study, tmp_path):
    folders = populate(small_study, tmp_path)
    coord = a.actor("coord")
    assert {p.patient_id for p in a.list_patients(coord)} == SITE_PATIENTS["S1"] | SITE_PATIENTS["S2"]
    n_audit = len(a.audit_trail(a.actor("aud")))
    summary = ingest.import_study(a.actor("dm1"), "S1", [folders["S1"]])
    assert (summary.inserted, summary.updated, summary.deleted) == (0, 0, 0)
    assert summary.unchanged > 0
    assert len(a.audit_trail(a.actor("aud"))) == n_audit


def test_changed_value_is_one_update_with_old_and_new(db, small_study, tmp_path):
    folders = populate(small_study, tmp_path)
    _rewrite(folders["S1"] / "subjects.csv", 2, "age", "35")
    summary = ingest.import_study(a.actor("dm1"), "S1", [folders["S1"]])
    assert (summary.inserted, summary.updated, summary.deleted) == (0, 1, 0)
    last = a.audit_trail(a.actor("aud"))[-1]
    assert (last.action, last.patient_id, last.field, last.old, last.new, last.actor) == (
        "update", "P01", "age", "34", "35", "dm1")


def test_invalid_file_is_rejected_with_located_problems_and_changes_nothing(db, small_study, tmp_path):
    folders = populate(small_study, tmp_path)
    before = a.get_patient(a.actor("coord"), "P01")
    _rewrite(folders["S1"] / "subjects.csv", 2, "age", "200")
    _rewrite(folders["S1"] / "subjects.csv", 3, "sex", "m")
    with pytest.raises(StudyError) as e:
        ingest.import_study(a.actor("dm1"), "S1", [folders["S1"]])
    assert {(p.file, p.row, p.column) for p in e.value.problems} == {("subjects.csv", 2, "age"), ("subjects.csv", 3, "sex")}
    assert a.get_patient(a.actor("coord"), "P01") == before


def test_patients_of_another_site_are_refused(db, small_study, tmp_path):
    folders = populate(small_study, tmp_path)
    with pytest.raises(StudyError) as e:
        ingest.import_study(a.actor("dm1"), "S1", [folders["S2"]])
    assert all(p.column == "site" for p in e.value.problems)
    with pytest.raises(a.AccessDenied):
        ingest.import_study(a.actor("dm1"), "S2", [folders["S2"]])


def test_edit_with_optimistic_locking(db, small_study, tmp_path):
    populate(small_study, tmp_path)
    dm = a.actor("dm1")
    row = a.get_patient(dm, "P01").table("subjects")[0]
    new = a.edit_value(dm, "subjects", "P01", row.key, "age", "34.50", row.version)
    assert new.values["age"] == "34.5" and new.version == row.version + 1
    with pytest.raises(a.Conflict):
        a.edit_value(dm, "subjects", "P01", row.key, "age", "40", row.version)
    with pytest.raises(StudyError):
        a.edit_value(dm, "subjects", "P01", row.key, "age", "abc", new.version)
    assert a.get_patient(dm, "P01").table("subjects")[0].values["age"] == "34.5"


def test_signed_record_needs_a_reason(db, small_study, tmp_path):
    folders = populate(small_study, tmp_path)
    dm = a.actor("dm1")
    a.sign_patient(dm, "P01")
    _rewrite(folders["S1"] / "subjects.csv", 2, "age", "35")
    with pytest.raises(StudyError, match="problem"):
        ingest.import_study(dm, "S1", [folders["S1"]])
    ingest.import_study(dm, "S1", [folders["S1"]], reason="source document re-checked")
    assert a.audit_trail(a.actor("aud"))[-1].reason == "source document re-checked"
