"""Data lock snapshots: content address, byte-identical reports after later edits, de-identified export."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from registry_builders import populate

from cartalysis.registry import access as a
from cartalysis.registry import deid, snapshots
from cartalysis.study.errors import UsageError
from cartalysis.study.load import load_study


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_snapshot_report_is_byte_identical_after_later_edits(db, small_study, tmp_path):
    populate(small_study, tmp_path)
    coord = a.actor("coord")
    snap = snapshots.lock(coord, "lock-1")
    first = snapshots.report(coord, "lock-1", tmp_path / "r1", formats=("html",))
    dm = a.actor("dm1")
    row = a.get_patient(dm, "P01").table("subjects")[0]
    a.edit_value(dm, "subjects", "P01", row.key, "age", "44", row.version, reason="typo in CRF")
    snapshots.report(coord, "lock-1", tmp_path / "r2", formats=("html",))
    assert _tree(tmp_path / "r1") == _tree(tmp_path / "r2")
    html = first.report_html.read_text(encoding="utf-8")
    assert "lock-1" in html and snap.sha256 in html
    # the live data did change, and a new lock sees it under a new address
    assert snapshots.lock(coord, "lock-2").sha256 != snap.sha256


def test_snapshot_folder_is_the_study_as_imported(db, small_study, tmp_path):
    populate(small_study, tmp_path)
    coord = a.actor("coord")
    snapshots.lock(coord, "v1")
    _, files = snapshots.snapshot_files(coord, "v1")
    folder = snapshots.write_folder(files, tmp_path / "snap")
    original, again = load_study(small_study), load_study(folder)
    for name, frame in original.tables.items():
        got = again.tables[name][list(frame.columns)]
        key = [c for c in frame.columns if c != "weight_kg"]
        exp = frame.sort_values(key).reset_index(drop=True)
        got = got.sort_values(key).reset_index(drop=True)
        assert exp.astype(str).equals(got.astype(str)), name


def test_same_content_same_address_and_names_are_never_reused(db, small_study, tmp_path):
    populate(small_study, tmp_path)
    coord = a.actor("coord")
    assert snapshots.lock(coord, "a").sha256 == snapshots.lock(coord, "b").sha256
    with pytest.raises(UsageError):
        snapshots.lock(coord, "a")
    with pytest.raises(a.AccessDenied):
        snapshots.lock(a.actor("dm1"), "c")


def _results(path: Path) -> dict:
    return {r["id"]: r["value"] for r in json.loads(path.read_text())}


def test_deidentified_export_gives_the_same_analyses(db, small_study, tmp_path):
    populate(small_study, tmp_path)
    coord = a.actor("coord")
    snapshots.lock(coord, "v1")
    key = tmp_path / "key.bin"
    key.write_bytes(b"k" * 32)
    out = deid.export(a.actor("stat"), "v1", tmp_path / "deid", True, key)
    files = _tree(out)
    text = b"".join(files.values()).decode()
    for pid in ("P01", "P02", "P03", "P04", "P05"):
        assert pid not in text
    assert "2021-" not in text  # no calendar date survives
    assert "weight_kg" in files["subjects.csv"].decode().splitlines()[0]  # numeric covariate kept
    assert "inclusion criteria" not in text  # free text removed
    assert not list(out.rglob("key*"))
    plain = snapshots.report(coord, "v1", tmp_path / "plain", formats=("html",)).results_json
    from cartalysis.report.build import build_report

    anon = build_report(out, tmp_path / "anon", formats=("html",)).results_json
    p, q = _results(plain), _results(anon)
    removed = {k for k in p if k not in q}
    # only the counts by free-text reason go (death causes, reasons for not being enrolled or infused)
    free_text = ("safety.deaths.cause.", "disposition.not_enrolled.", "disposition.not_infused.")
    assert removed and all(k.startswith(free_text) for k in removed), sorted(removed)
    for k in set(p) & set(q):
        if isinstance(p[k], float) and isinstance(q[k], float):
            assert math.isclose(p[k], q[k], rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(p[k]) and math.isnan(q[k])), k
        else:
            assert p[k] == q[k], k


def test_deidentification_rules():
    files = {
        "subjects.csv": b"patient_id,site,age,screening_date,infusion_date,enrolled,mrn,home_zip,notes,score\n"
                        b"A1,S1,93.5,2020-01-01,2020-01-11,yes,12345,02139,called daughter,3\n"
                        b"A2,S1,40,2020-02-01,,no,67890,10001,,4\n",
        "events.csv": b"patient_id,date,event,detail\nA1,2020-03-01,death,fell at home\nA1,2020-02-01,hsct,allo\n",
    }
    out, notes = deid.deidentify(files, b"x" * 32, drop={"score"}, allow_text=set())
    subjects = out["subjects.csv"].decode().splitlines()
    assert subjects[0] == "patient_id,site,age,screening_date,infusion_date,enrolled"
    rows = {r.split(",")[0]: r.split(",") for r in subjects[1:]}
    a1 = rows[deid.pseudonym(b"x" * 32, "A1")]
    assert a1[2:5] == ["90", "1999-12-22", "2000-01-01"]  # 90+, day -10, day 0
    assert rows[deid.pseudonym(b"x" * 32, "A2")][3] == "2000-01-01"  # not infused: day 0 is screening
    events = out["events.csv"].decode()
    assert "fell at home" not in events and ",allo" in events and "2000-02-20" in events
    assert deid.pseudonym(b"x" * 32, "A1") != deid.pseudonym(b"y" * 32, "A1")


def test_export_refusals(db, small_study, tmp_path):
    populate(small_study, tmp_path)
    snapshots.lock(a.actor("coord"), "v1")
    with pytest.raises(a.AccessDenied):
        deid.export(a.actor("stat"), "v1", tmp_path / "x", False)
    with pytest.raises(UsageError):
        deid.export(a.actor("stat"), "v1", tmp_path / "x", True, None)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "key").write_bytes(b"k" * 32)
    with pytest.raises(UsageError):
        deid.export(a.actor("stat"), "v1", tmp_path / "y", True, tmp_path / "y" / "key")
