"""The audit trail is append-only and row-level security holds against the application role itself."""

from __future__ import annotations

import sqlite3

import pytest
from registry_builders import populate

from cartalysis.registry import access as a


def _sqlite_path(db) -> str:
    return db.url[len("sqlite:///"):]


def test_audit_rows_cannot_be_updated_or_deleted(db, small_study, tmp_path):
    populate(small_study, tmp_path)
    n = len(a.audit_trail(a.actor("aud")))
    attempts = ["UPDATE registry_auditentry SET new = 'forged' WHERE id = 1",
                "DELETE FROM registry_auditentry WHERE id = 1",
                "DELETE FROM registry_auditentry"]
    if db.backend == "sqlite":
        con = sqlite3.connect(_sqlite_path(db))
        for sql in attempts:
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                con.execute(sql)
        con.close()
    else:
        import psycopg

        for url, expected in ((db.url, "permission denied"), (db.owner_url, "append-only")):
            for sql in attempts + ["TRUNCATE registry_auditentry CASCADE"]:
                with psycopg.connect(url) as con:
                    con.execute("SELECT set_config('cartalysis.all_sites', 'on', false)")
                    with pytest.raises(psycopg.Error, match=expected):
                        con.execute(sql)
    assert len(a.audit_trail(a.actor("aud"))) == n
    assert a.audit_trail(a.actor("aud"))[0].new != "forged"


def test_application_role_cannot_bypass_row_level_security(db, small_study, tmp_path):
    if db.backend != "postgresql":
        pytest.skip("row-level security is PostgreSQL's; on SQLite the data-access layer scopes every query "
                    "(test_isolation.py)")
    import psycopg

    populate(small_study, tmp_path)
    with psycopg.connect(db.owner_url) as con:
        con.execute("SELECT set_config('cartalysis.all_sites', 'on', false)")
        s1, s2 = (con.execute("SELECT id FROM registry_site WHERE code = %s", [c]).fetchone()[0] for c in ("S1", "S2"))
    with psycopg.connect(db.url, autocommit=True) as con:
        count = lambda: con.execute("SELECT count(*) FROM registry_patient").fetchone()[0]  # noqa: E731
        assert count() == 0  # nothing set: fail closed
        con.execute("SELECT set_config('cartalysis.site', %s, false)", [str(s1)])
        assert count() == 3
        assert {r[0] for r in con.execute("SELECT DISTINCT site_id FROM registry_row")} == {s1}
        assert con.execute("UPDATE registry_row SET version = version WHERE site_id = %s", [s2]).rowcount == 0
        assert con.execute("DELETE FROM registry_patient WHERE site_id = %s", [s2]).rowcount == 0
        with pytest.raises(psycopg.Error, match="row-level security"):
            con.execute("INSERT INTO registry_patient (site_id, patient_id, locked, signed_by) VALUES (%s, 'X', false, '')",
                        [s2])
        for sql in ("ALTER TABLE registry_patient DISABLE ROW LEVEL SECURITY",
                    "ALTER TABLE registry_patient NO FORCE ROW LEVEL SECURITY",
                    "DROP POLICY site_isolation ON registry_patient",
                    "SET ROLE cartalysis_owner",
                    "SET SESSION AUTHORIZATION postgres"):
            with pytest.raises(psycopg.Error):
                con.execute(sql)
        con.execute("SET row_security = off")
        with pytest.raises(psycopg.Error, match="row-level security"):
            con.execute("SELECT count(*) FROM registry_patient")
        con.execute("SET row_security = on")
        row = con.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()
        assert row == (False, False)
        assert con.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'registry_patient'").fetchone()[0] != \
            con.execute("SELECT current_user").fetchone()[0]
