"""Crash safety (a real ``kill -9`` mid-import) and concurrent edits of one record (two processes)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from registry_builders import populate

from cartalysis.registry import access as a

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _spawn(code: str, db) -> subprocess.Popen:
    env = db.env()
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    prelude = "from cartalysis.registry.settings import setup; setup()\nfrom cartalysis.registry import access as a\n"
    return subprocess.Popen([sys.executable, "-c", prelude + textwrap.dedent(code)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "subprocess never reached the point"
        time.sleep(0.05)


def _snapshot_of_db(coord) -> tuple:
    patients = a.list_patients(coord)
    return (tuple(patients), tuple(a.get_patient(coord, p.patient_id) for p in patients),
            len(a.audit_trail(a.actor("aud"))))


def test_kill_9_mid_import_leaves_the_database_as_before(db, small_study, tmp_path):
    folders = populate(small_study, tmp_path)
    coord = a.actor("coord")
    before = _snapshot_of_db(coord)
    path = folders["S1"] / "subjects.csv"
    rows = list(csv.reader(path.open(newline="")))
    rows[1][rows[0].index("age")] = "77"
    rows.append(["P99"] + rows[1][1:])  # a new patient too
    csv.writer(path.open("w", newline=""), lineterminator="\n").writerows(rows)
    marker = tmp_path / "rows-written"
    # the import pauses after its row changes are written, before the audit entries and the commit
    proc = _spawn(f"""
        import time
        from cartalysis.registry import ingest
        def pause(*args, **kwargs):
            open({str(marker)!r}, "w").close()
            time.sleep(600)
        ingest.insert_audit = pause
        ingest.import_study(a.actor("dm1"), "S1", [{str(folders["S1"])!r}])
    """, db)
    try:
        _wait_for(marker, proc)
        assert tuple(a.list_patients(coord)) == before[0]  # not visible to others before the commit
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    from django.db import connections

    connections.close_all()
    assert _snapshot_of_db(coord) == before
    # and the registry still works: the same import now succeeds
    from cartalysis.registry import ingest

    assert ingest.import_study(a.actor("dm1"), "S1", [folders["S1"]]).inserted > 0


def test_two_processes_editing_one_record_never_lose_an_edit_silently(db, small_study, tmp_path):
    populate(small_study, tmp_path)
    go = tmp_path / "go"
    procs = []
    for i, value in enumerate(("41", "42")):
        procs.append(_spawn(f"""
            import os, time
            dm = a.actor("dm1")
            row = a.get_patient(dm, "P01").table("subjects")[0]
            open({str(tmp_path / f"ready{i}")!r}, "w").close()
            while not os.path.exists({str(go)!r}):
                time.sleep(0.01)
            try:
                a.edit_value(dm, "subjects", "P01", row.key, "age", {value!r}, row.version)
                print("saved", {value!r})
            except a.Conflict:
                print("conflict")
        """, db))
    try:
        for i, p in enumerate(procs):
            _wait_for(tmp_path / f"ready{i}", p)
        go.touch()
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    results = sorted(o.strip() for o, _ in outs)
    assert results[0] == "conflict" and results[1].startswith("saved"), outs
    saved = results[1].split()[1]
    from django.db import connections

    connections.close_all()
    assert a.get_patient(a.actor("dm1"), "P01").table("subjects")[0].values["age"] == saved
    edits = [e for e in a.audit_trail(a.actor("aud"), "P01") if e.action == "update"]
    assert [(e.old, e.new) for e in edits] == [("34", saved)]
