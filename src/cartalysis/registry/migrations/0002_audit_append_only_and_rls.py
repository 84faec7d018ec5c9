"""Append-only audit trail (triggers on SQLite and PostgreSQL) and PostgreSQL row-level security by site.

RLS (PostgreSQL only; SQLite has none, the data-access layer scopes every query on both): each site-owned table
lets a transaction see and write only rows whose ``site_id`` equals the setting ``cartalysis.site``, or every row
when ``cartalysis.all_sites`` is ``on``; with neither set it sees nothing (fail closed). ``access.py`` sets both
with ``set_config(..., true)`` (transaction-local) at the start of every transaction. ``FORCE`` makes the policy
apply to the table owner too; only superusers and ``BYPASSRLS`` roles escape it, so the application connects as
a plain role (``pg.grant_app_role``).
"""

from django.db import migrations

SITE_TABLES = ("registry_patient", "registry_row", "registry_auditentry", "registry_dataquery", "registry_snapshotpart")
POLICY = ("current_setting('cartalysis.all_sites', true) = 'on' "
          "OR site_id::text = current_setting('cartalysis.site', true)")

SQLITE = [
    "CREATE TRIGGER registry_audit_no_update BEFORE UPDATE ON registry_auditentry "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    "CREATE TRIGGER registry_audit_no_delete BEFORE DELETE ON registry_auditentry "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
]
SQLITE_REVERSE = ["DROP TRIGGER registry_audit_no_update", "DROP TRIGGER registry_audit_no_delete"]

POSTGRES = [
    "CREATE FUNCTION registry_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$",
    "CREATE TRIGGER registry_audit_no_change BEFORE UPDATE OR DELETE ON registry_auditentry "
    "FOR EACH ROW EXECUTE FUNCTION registry_audit_append_only()",
    "CREATE TRIGGER registry_audit_no_truncate BEFORE TRUNCATE ON registry_auditentry "
    "FOR EACH STATEMENT EXECUTE FUNCTION registry_audit_append_only()",
] + [
    sql
    for t in SITE_TABLES
    for sql in (
        f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY site_isolation ON {t} USING ({POLICY}) WITH CHECK ({POLICY})",
    )
]
POSTGRES_REVERSE = [
    "DROP TRIGGER registry_audit_no_truncate ON registry_auditentry",
    "DROP TRIGGER registry_audit_no_change ON registry_auditentry",
    "DROP FUNCTION registry_audit_append_only()",
] + [
    sql
    for t in SITE_TABLES
    for sql in (f"DROP POLICY site_isolation ON {t}", f"ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY",
                f"ALTER TABLE {t} DISABLE ROW LEVEL SECURITY")
]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [
        migrations.RunPython(_run({"sqlite": SQLITE, "postgresql": POSTGRES}),
                             _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRES_REVERSE})),
    ]
