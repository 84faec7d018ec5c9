"""The registry's data-access layer: every read and write of registry data goes through these functions.

Call :func:`cartalysis.registry.settings.setup` first (the CLI and the web app do), then :func:`migrate` once.
Each function takes the acting user as an :class:`Actor` (``actor("alice")``) and enforces, in this order:
the role may do this at all (else :class:`AccessDenied`), and the rows touched belong to the actor's scope
(a site role sees and writes only its own site; a record of another site is reported as :class:`NotFound`,
exactly like a record that does not exist, so ids of other sites do not leak). On PostgreSQL the same scope is
also set for row-level security at the start of every transaction (``_scoped``), so a bug here still cannot
read another site's rows.

Roles (``models.ROLES``):

=================== ============================================================================
site_data_manager   read/write own site: import, edit, sign, answer queries, audit of own site
site_viewer         read own site (patients, records, queries, audit of own site, site report)
coordinator         read all sites, raise and close queries, data lock, pooled report and exports
statistician        de-identified exports of snapshots only
auditor             the audit trail of all sites
admin               sites, users and settings; the audit trail
=================== ============================================================================

API (all return frozen dataclasses or lists of them; ``patient_id`` is the study's id):

- administration: ``create_site``, ``create_user``, ``set_setting``/``get_setting``, ``bootstrap_admin``
- reads: ``list_patients``, ``get_patient``, ``audit_trail``, ``list_queries``, ``list_snapshots``
- writes: ``import_study`` (module ``ingest``), ``edit_value`` (optimistic locking on ``RowView.version``),
  ``sign_patient``
- queries: ``raise_query``, ``answer_query``, ``close_query``
- data lock: ``lock``, ``snapshot_tables``; report and export in ``snapshots``

Errors: ``AccessDenied`` (role may not), ``NotFound`` (absent or out of scope), ``Conflict`` (the record changed
since it was read), ``StudyError`` (data problems, located), ``UsageError`` (bad arguments).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction

from cartalysis.registry import models as m
from cartalysis.registry.canonical import canonical_column, check_rows, identity_columns, row_key
from cartalysis.study.errors import Problem, StudyError, UsageError, errors_of
from cartalysis.study.spec import TABLES_BY_NAME

ALL_SITE_ROLES = ("coordinator", "statistician", "auditor", "admin")  # database scope: every site


class AccessDenied(PermissionError):
    """The actor's role may not do this."""


class NotFound(LookupError):
    """No such record in the actor's scope (absent, or at another site: the two are not told apart)."""


class Conflict(Exception):
    """The record changed since the caller read it (optimistic locking): re-read and retry."""


@dataclass(frozen=True)
class Actor:
    username: str
    role: str
    site_code: str | None = None
    site_id: int | None = None

    @property
    def all_sites(self) -> bool:
        return self.role in ALL_SITE_ROLES


@dataclass(frozen=True)
class PatientSummary:
    patient_id: str
    site: str
    locked: bool
    signed: bool


@dataclass(frozen=True)
class RowView:
    table: str
    key: str
    values: dict
    version: int


@dataclass(frozen=True)
class PatientRecord:
    patient_id: str
    site: str
    locked: bool
    signed_by: str
    rows: tuple[RowView, ...]

    def table(self, name: str) -> list[RowView]:
        return [r for r in self.rows if r.table == name]


@dataclass(frozen=True)
class AuditView:
    id: int
    at: dt.datetime
    actor: str
    site: str
    action: str
    patient_id: str
    table: str
    record: str
    field: str
    old: str | None
    new: str | None
    reason: str


@dataclass(frozen=True)
class QueryView:
    id: int
    site: str
    patient_id: str
    table: str
    record: str
    field: str
    text: str
    status: str
    raised_by: str
    answer: str
    answered_by: str
    closed_by: str


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def migrate(verbosity: int = 0) -> None:
    """Create or upgrade the registry's tables (as the owner role when ``CARTALYSIS_DATABASE_OWNER_URL`` is set)."""
    import os

    from django.core.management import call_command
    from django.db import connections

    database = "owner" if "owner" in connections.settings else "default"
    call_command("migrate", database=database, verbosity=verbosity, interactive=False)
    if database == "owner" and connections.settings["owner"]["ENGINE"].endswith("postgresql"):
        from cartalysis.registry.pgserver import grant_app_role

        connections["owner"].close()
        grant_app_role(os.environ["CARTALYSIS_DATABASE_OWNER_URL"], connections.settings["default"]["USER"])


# ----------------------------------------------------------------------------------------------- scope


def actor(username: str) -> Actor:
    """The actor for a registry user (``NotFound`` when the user has no registry role)."""
    ms = m.Membership.objects.select_related("user", "site").filter(user__username=username, user__is_active=True).first()
    if ms is None:
        raise NotFound(f"no registry user {username!r}")
    return Actor(username, ms.role, ms.site.code if ms.site else None, ms.site_id)


def require(who: Actor, *roles: str) -> None:
    if who.role not in roles:
        raise AccessDenied(f"{who.username} ({who.role}) may not do this; needs one of: {', '.join(roles)}")


@contextlib.contextmanager
def _scoped(who: Actor | None, write: bool = True) -> Iterator[None]:
    """One transaction whose PostgreSQL row-level security scope is the actor's (``None``: all sites, system use).

    On SQLite a read (``write=False``) runs without a transaction: SQLite transactions here take the write lock at
    BEGIN (``settings``: IMMEDIATE), and a reader must not wait for a long import.
    """
    if not write and connection.vendor == "sqlite":
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            all_sites = who is None or who.all_sites
            site = "" if who is None or who.site_id is None else str(who.site_id)
            with connection.cursor() as c:
                c.execute("SELECT set_config('cartalysis.site', %s, true), set_config('cartalysis.all_sites', %s, true)",
                          [site, "on" if all_sites else "off"])
        yield


def _site_filter(who: Actor) -> dict:
    return {} if who.all_sites else {"site_id": who.site_id}


def _patient(who: Actor, patient_id: str, for_update: bool = False) -> m.Patient:
    qs = m.Patient.objects.select_related("site").filter(patient_id=patient_id, **_site_filter(who))
    p = (qs.select_for_update() if for_update else qs).first()
    if p is None:
        raise NotFound(f"no patient {patient_id!r}")
    return p


def audit(who: Actor | str, site_id: int, action: str, patient_id: str, table: str, record: str,
          field: str = "", old: str | None = None, new: str | None = None, reason: str = "",
          at: dt.datetime | None = None) -> m.AuditEntry:
    """An unsaved audit entry (callers save it in the transaction of the change it records)."""
    return m.AuditEntry(at=at or now(), actor=who if isinstance(who, str) else who.username, site_id=site_id,
                        action=action, patient_id=patient_id, table=table, record=record, field=field, old=old,
                        new=new, reason=reason)


def record_id(table: str, patient_id: str, key: str) -> str:
    return f"{table}:{patient_id}:{key}"


# ----------------------------------------------------------------------------------------------- administration


def bootstrap_admin(username: str, password: str | None = None) -> Actor:
    """Create the first admin (refused once any admin exists)."""
    from django.contrib.auth.models import User

    with _scoped(None):
        if m.Membership.objects.filter(role="admin").exists():
            raise AccessDenied("an admin exists already; ask them to create users")
        user = User.objects.create_user(username, password=password)
        m.Membership.objects.create(user=user, role="admin")
    return Actor(username, "admin")


def create_site(who: Actor, code: str, name: str = "") -> None:
    require(who, "admin")
    if not code.strip():
        raise UsageError("a site code cannot be empty")
    with _scoped(who):
        m.Site.objects.get_or_create(code=code.strip(), defaults={"name": name})


def create_user(who: Actor, username: str, role: str, site: str | None = None, password: str | None = None) -> Actor:
    """Create a user with one role; site roles need ``site`` (a site code), other roles must not have one."""
    from django.contrib.auth.models import User

    require(who, "admin")
    if role not in m.ROLES:
        raise UsageError(f"unknown role {role!r}; choose from {', '.join(m.ROLES)}")
    if (role in m.SITE_ROLES) != (site is not None):
        raise UsageError(f"role {role} {'needs' if role in m.SITE_ROLES else 'takes no'} --site")
    with _scoped(who):
        s = None
        if site is not None:
            s = m.Site.objects.filter(code=site).first()
            if s is None:
                raise NotFound(f"no site {site!r}")
        if User.objects.filter(username=username).exists():
            raise UsageError(f"user {username!r} exists already")
        user = User.objects.create_user(username, password=password)
        m.Membership.objects.create(user=user, role=role, site=s)
    return Actor(username, role, site, s.id if s else None)


def set_setting(who: Actor, name: str, value: str) -> None:
    """Registry settings: ``sap`` (analysis plan text), ``identifying_columns`` (comma-separated extra columns)."""
    require(who, "admin", "coordinator")
    with _scoped(who):
        m.Setting.objects.update_or_create(name=name, defaults={"value": value})


def get_setting(name: str, default: str = "") -> str:
    s = m.Setting.objects.filter(name=name).first()
    return s.value if s else default


def sites() -> list[str]:
    return list(m.Site.objects.order_by("code").values_list("code", flat=True))


# ----------------------------------------------------------------------------------------------- reads

READ_DATA = ("site_data_manager", "site_viewer", "coordinator", "admin")


def list_patients(who: Actor, site: str | None = None) -> list[PatientSummary]:
    """Patients in scope (optionally of one site), by patient id."""
    require(who, *READ_DATA)
    with _scoped(who, write=False):
        qs = m.Patient.objects.select_related("site").filter(**_site_filter(who))
        if site is not None:
            qs = qs.filter(site__code=site)
        return [PatientSummary(p.patient_id, p.site.code, p.locked, bool(p.signed_by)) for p in qs.order_by("patient_id")]


def get_patient(who: Actor, patient_id: str) -> PatientRecord:
    """One patient's record: every row of every table, with versions for ``edit_value``."""
    require(who, *READ_DATA)
    with _scoped(who, write=False):
        p = _patient(who, patient_id)
        rows = tuple(RowView(r.table, r.key, r.values, r.version)
                     for r in m.Row.objects.filter(patient=p, **_site_filter(who)).order_by("table", "key"))
        return PatientRecord(p.patient_id, p.site.code, p.locked, p.signed_by, rows)


AUDIT_READERS = ("auditor", "admin", "coordinator", "site_data_manager", "site_viewer")


def audit_trail(who: Actor, patient_id: str | None = None, since: dt.datetime | dt.date | None = None) -> list[AuditView]:
    """Audit entries in scope, oldest first; ``since`` (UTC) keeps entries at or after it."""
    require(who, *AUDIT_READERS)
    with _scoped(who, write=False):
        qs = m.AuditEntry.objects.select_related("site").filter(**_site_filter(who))
        if patient_id is not None:
            qs = qs.filter(patient_id=patient_id)
        if since is not None:
            if not isinstance(since, dt.datetime):
                since = dt.datetime.combine(since, dt.time(0), tzinfo=dt.timezone.utc)
            qs = qs.filter(at__gte=since)
        return [AuditView(a.id, a.at, a.actor, a.site.code, a.action, a.patient_id, a.table, a.record, a.field,
                          a.old, a.new, a.reason) for a in qs.order_by("id")]


# ----------------------------------------------------------------------------------------------- edits


def edit_value(who: Actor, table: str, patient_id: str, key: str, field: str, value: str | None, version: int,
               reason: str = "") -> RowView:
    """Set one cell (``None``/``""`` empties it) of the row read at ``version``; the new row is returned.

    The patient's whole record is re-checked with the study checks (cell type, ranges, cross-table rules), the
    value stored in canonical form, the row's version incremented and one audit entry written, all in one
    transaction. ``Conflict`` when the row's version is no longer ``version`` (someone else changed it: nothing is
    lost silently); ``StudyError`` when the new value is invalid or the patient is locked/signed and no reason
    is given.
    """
    require(who, "site_data_manager")
    if table not in TABLES_BY_NAME:
        raise UsageError(f"unknown table {table!r}")
    if field == "patient_id":
        raise UsageError("patient_id cannot be edited")
    value = None if value is None or not str(value).strip() else str(value).strip()
    with _scoped(who):
        p = _patient(who, patient_id, for_update=True)
        rows = list(m.Row.objects.filter(patient=p, site_id=who.site_id))
        target = next((r for r in rows if r.table == table and r.key == key), None)
        if target is None:
            raise NotFound(f"no {table} row {key} for patient {patient_id!r}")
        if target.version != version:
            raise Conflict(f"{record_id(table, patient_id, key)} changed since version {version} "
                           f"(now {target.version}); re-read it")
        file = f"{patient_id}/{table}"
        if (p.locked or p.signed_by) and not reason.strip():
            raise StudyError([Problem(file, None, field, "the record is locked or signed: a change needs a reason")])
        new_values = dict(target.values)
        if value is None:
            new_values.pop(field, None)
        else:
            new_values[field] = value
        by_table: dict[str, list[dict]] = {}
        for r in rows:
            by_table.setdefault(r.table, []).append(new_values if r is target else r.values)
        typed, problems = check_rows(by_table)
        problems = errors_of(problems)
        if problems:
            raise StudyError([Problem(file, None, pr.column, pr.message) for pr in problems])
        t = typed[table]
        i = [j for j, r in enumerate(by_table[table]) if r is new_values][0]

        canon = canonical_column(t.frame[field].iloc[[i]])[0] if field in t.frame.columns else value
        if canon is None:
            new_values.pop(field, None)
        else:
            new_values[field] = canon
        old = target.values.get(field)
        if old == canon:
            return RowView(table, key, target.values, target.version)
        spec = TABLES_BY_NAME[table]
        if field in identity_columns(spec):
            raise UsageError(f"{field} identifies the {table} row; delete and re-import the row to change it")
        updated = m.Row.objects.filter(id=target.id, version=version).update(values=new_values, version=version + 1)
        if updated != 1:
            raise Conflict(f"{record_id(table, patient_id, key)} changed concurrently; re-read it")
        audit(who, p.site_id, "update", patient_id, table, record_id(table, patient_id, key), field, old, canon,
              reason.strip()).save()
        return RowView(table, key, new_values, version + 1)


def sign_patient(who: Actor, patient_id: str, meaning: str = "data verified") -> None:
    """Electronic signature of a patient's record by the site (later changes need a reason)."""
    require(who, "site_data_manager")
    with _scoped(who):
        p = _patient(who, patient_id, for_update=True)
        p.signed_by, p.signed_at = who.username, now()
        p.save(update_fields=["signed_by", "signed_at"])
        audit(who, p.site_id, "sign", patient_id, "patient", record_id("patient", patient_id, ""), "", None,
              meaning).save()


# ----------------------------------------------------------------------------------------------- queries


def _query_view(q: m.DataQuery) -> QueryView:
    return QueryView(q.id, q.site.code, q.patient.patient_id, q.table, q.record, q.field, q.text, q.status,
                     q.raised_by, q.answer, q.answered_by, q.closed_by)


def raise_query(who: Actor, patient_id: str, text: str, table: str = "", key: str = "", field: str = "") -> QueryView:
    """A coordinator raises a data query on a patient, a row (``table`` + ``key``) or one field of it."""
    require(who, "coordinator")
    if not text.strip():
        raise UsageError("a query needs a text")
    with _scoped(who):
        p = _patient(who, patient_id)
        if table and key and not m.Row.objects.filter(patient=p, table=table, key=key).exists():
            raise NotFound(f"no {table} row {key} for patient {patient_id!r}")
        q = m.DataQuery.objects.create(site_id=p.site_id, patient=p, table=table, record=key, field=field,
                                       text=text.strip(), raised_by=who.username, raised_at=now())
        audit(who, p.site_id, "query", patient_id, "query", f"query:{q.id}", field, None, text.strip()).save()
        return _query_view(q)


def _query(who: Actor, query_id: int) -> m.DataQuery:
    q = m.DataQuery.objects.select_related("site", "patient").filter(id=query_id, **_site_filter(who)).first()
    if q is None:
        raise NotFound(f"no query {query_id}")
    return q


def answer_query(who: Actor, query_id: int, answer: str) -> QueryView:
    require(who, "site_data_manager")
    with _scoped(who):
        q = _query(who, query_id)
        if q.status == "closed":
            raise UsageError(f"query {query_id} is closed")
        q.answer, q.answered_by, q.answered_at, q.status = answer.strip(), who.username, now(), "answered"
        q.save()
        audit(who, q.site_id, "answer", q.patient.patient_id, "query", f"query:{q.id}", "", None, q.answer).save()
        return _query_view(q)


def close_query(who: Actor, query_id: int) -> QueryView:
    require(who, "coordinator")
    with _scoped(who):
        q = _query(who, query_id)
        q.closed_by, q.closed_at, q.status = who.username, now(), "closed"
        q.save()
        audit(who, q.site_id, "close", q.patient.patient_id, "query", f"query:{q.id}").save()
        return _query_view(q)


def list_queries(who: Actor, site: str | None = None, status: str | None = "open") -> list[QueryView]:
    """Queries in scope (default: the open ones), optionally of one site."""
    require(who, "coordinator", "admin", "site_data_manager", "site_viewer")
    with _scoped(who, write=False):
        qs = m.DataQuery.objects.select_related("site", "patient").filter(**_site_filter(who))
        if site is not None:
            qs = qs.filter(site__code=site)
        if status is not None:
            qs = qs.filter(status=status)
        return [_query_view(q) for q in qs.order_by("id")]


def dumps(values: dict) -> str:
    """A row as audit text (sorted keys, so the same row is always the same text)."""
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def row_identity(table: str, values: dict) -> str:
    return row_key(values, identity_columns(TABLES_BY_NAME[table]))
