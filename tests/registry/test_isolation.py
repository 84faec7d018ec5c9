"""Site isolation for every role and every read path, on SQLite and PostgreSQL (the ``db`` fixture).

Paths: patient list, record by id, audit trail, queries, export, report; and every write path. A user of site A
must never see site B's data; a site B record looks exactly like a record that does not exist.
"""

from __future__ import annotations

import json
import re

import pytest
from registry_builders import SITE_PATIENTS, USERS, populate

from cartalysis.registry import access as a
from cartalysis.registry import deid, ingest, snapshots

ALL = SITE_PATIENTS["S1"] | SITE_PATIENTS["S2"]


@pytest.fixture
def registry(db, small_study, tmp_path):
    folders = populate(small_study, tmp_path)
    snapshots.lock(a.actor("coord"), "v1")
    q1 = a.raise_query(a.actor("coord"), "P01", "age?", "subjects", "[]", "age")
    q2 = a.raise_query(a.actor("coord"), "P03", "sex?", "subjects", "[]", "sex")
    return {"folders": folders, "queries": {"S1": q1.id, "S2": q2.id}, "tmp": tmp_path}


def _visible(username: str) -> set[str]:
    role, site = USERS[username]
    return SITE_PATIENTS[site] if site else ALL


@pytest.mark.parametrize("username", sorted(USERS))
def test_patient_list_and_record_by_id(registry, username):
    who = a.actor(username)
    if who.role in ("statistician", "auditor"):
        with pytest.raises(a.AccessDenied):
            a.list_patients(who)
        with pytest.raises(a.AccessDenied):
            a.get_patient(who, "P01")
        return
    assert {p.patient_id for p in a.list_patients(who)} == _visible(username)
    assert a.list_patients(who, site="S2" if who.site_code == "S1" else "S1") == [] or not who.site_code
    for pid in ALL:
        if pid in _visible(username):
            rec = a.get_patient(who, pid)
            assert rec.patient_id == pid and all(r.values["patient_id"] == pid for r in rec.rows)
        else:
            with pytest.raises(a.NotFound) as e:
                a.get_patient(who, pid)
            absent = pytest.raises(a.NotFound, a.get_patient, who, "NO_SUCH").value
            assert str(e.value).replace(pid, "?") == str(absent).replace("NO_SUCH", "?")  # nothing tells them apart


@pytest.mark.parametrize("username", sorted(USERS))
def test_audit_trail(registry, username):
    who = a.actor(username)
    if who.role == "statistician":
        with pytest.raises(a.AccessDenied):
            a.audit_trail(who)
        return
    entries = a.audit_trail(who)
    assert {e.patient_id for e in entries} == _visible(username)
    for pid in ALL - _visible(username):
        assert a.audit_trail(who, patient_id=pid) == []


@pytest.mark.parametrize("username", sorted(USERS))
def test_queries(registry, username):
    who = a.actor(username)
    if who.role in ("statistician", "auditor"):
        with pytest.raises(a.AccessDenied):
            a.list_queries(who)
        return
    assert {q.patient_id for q in a.list_queries(who)} == _visible(username) & {"P01", "P03"}
    if who.role == "site_data_manager":
        other = registry["queries"]["S2" if who.site_code == "S1" else "S1"]
        with pytest.raises(a.NotFound):
            a.answer_query(who, other, "no")
        a.answer_query(who, registry["queries"][who.site_code], "checked")


@pytest.mark.parametrize("username", sorted(USERS))
def test_export(registry, username, tmp_path):
    who = a.actor(username)
    key = registry["tmp"] / "key.bin"
    key.write_bytes(b"s" * 32)
    if who.role == "auditor":
        with pytest.raises(a.AccessDenied):
            deid.export(who, "v1", tmp_path / "out", True, key)
        return
    out = deid.export(who, "v1", tmp_path / "ident", False) if who.role != "statistician" else None
    if out is not None:
        text = "".join(p.read_text() for p in out.glob("*.csv"))
        for pid in ALL:
            assert (pid in text) == (pid in _visible(username)), pid
    anon = deid.export(who, "v1", tmp_path / "anon", True, key)
    lines = (anon / "subjects.csv").read_text().splitlines()
    assert len(lines) - 1 == len(_visible(username))
    pseudonyms = {deid.pseudonym(b"s" * 32, p) for p in _visible(username)}
    assert {line.split(",")[0] for line in lines[1:]} == pseudonyms


@pytest.mark.parametrize("username", ["view2", "dm1", "stat", "aud"])
def test_report(registry, username, tmp_path):
    who = a.actor(username)
    if who.role in ("statistician", "auditor"):
        with pytest.raises(a.AccessDenied):
            snapshots.report(who, "v1", tmp_path / "r", formats=("html",))
        return
    written = snapshots.report(who, "v1", tmp_path / "r", formats=("html",))
    derived = "".join(p.read_text() for p in (tmp_path / "r" / "derived").rglob("*.csv"))
    html = re.sub(r"data:[^\"']*", "", written.report_html.read_text())  # embedded images are base64, not text
    for pid in ALL:
        assert (pid in derived) == (pid in _visible(username)), pid
        assert pid not in html or pid in _visible(username), pid
    screened = {r["id"]: r["value"] for r in json.loads(written.results_json.read_text())}
    assert f"site {who.site_code} only" in html
    assert screened  # the site's own report has results


@pytest.mark.parametrize("username", sorted(USERS))
def test_writes_stay_in_scope(registry, username):
    who = a.actor(username)
    for site, folder in registry["folders"].items():
        allowed = who.role == "site_data_manager" and who.site_code == site
        if allowed:
            ingest.import_study(who, site, [folder])
        else:
            with pytest.raises(a.AccessDenied):
                ingest.import_study(who, site, [folder])
    for pid in ALL:
        if who.role != "site_data_manager":
            with pytest.raises(a.AccessDenied):
                a.edit_value(who, "subjects", pid, "[]", "age", "50", 1, "x")
        elif pid not in _visible(username):
            with pytest.raises(a.NotFound):
                a.edit_value(who, "subjects", pid, "[]", "age", "50", 1, "x")
            with pytest.raises(a.NotFound):
                a.sign_patient(who, pid)
