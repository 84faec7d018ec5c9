"""``registry import``: apply one site's study files to the registry as one transaction, or reject them.

The files are read and checked exactly as ``cartalysis validate`` does (any problem rejects the whole import);
then every patient in the files must belong to the importing site. The import is then a diff against what the
registry holds for those patients: rows not there are inserted, rows whose cells changed are updated (one audit
entry per changed field, version + 1), rows of those patients missing from the files are deleted; patients not in
the files are left alone. Re-importing the same files therefore changes nothing and writes no audit entry. A
patient that is locked (data lock) or signed can only be changed with a reason; without one the import is
rejected with one located problem per changed row.

Formats: a study folder of CSV files or an ``.xlsx`` workbook (``study.read``); an SDTM folder or a REDCap flat
export through the importers of ``study/importers/`` (converted to a study folder, then imported the same way).
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from django.db import IntegrityError

from cartalysis.registry import access as a
from cartalysis.registry import models as m
from cartalysis.registry.canonical import CanonRow, canonical_rows
from cartalysis.study.checks import check_study
from cartalysis.study.errors import Problem, StudyError, UsageError, errors_of
from cartalysis.study.load import sort_problems
from cartalysis.study.parse import TypedTable, convert_table
from cartalysis.study.read import read_study
from cartalysis.study.spec import TABLES

BATCH = 5000


@dataclass(frozen=True)
class ImportSummary:
    site: str
    patients: int
    inserted: int
    updated: int
    deleted: int
    unchanged: int


def read_typed(path: Path) -> tuple[dict[str, TypedTable], list[Problem]]:
    """Read and check a study as ``load.read_and_check`` does, keeping each row's spreadsheet row."""
    raw = read_study(path)
    problems = list(raw.problems)
    typed: dict[str, TypedTable] = {}
    for spec in TABLES:
        if spec.name in raw.tables:
            typed[spec.name], p = convert_table(raw.tables[spec.name], spec)
            problems += p
    return typed, problems + check_study(typed)


def study_rows(path: Path, site: str) -> dict[str, list[CanonRow]]:
    """The canonical rows of a valid study whose patients all belong to ``site`` (else ``StudyError``)."""
    typed, problems = read_typed(path)
    if errors_of(problems):  # warnings alone do not stop an import, as they do not stop a report
        raise StudyError(sort_problems(errors_of(problems)))
    subjects = typed["subjects"]
    rows = {name: canonical_rows(t, spec) for spec in TABLES if (name := spec.name) in typed
            for t in [typed[name]]}
    wrong = [Problem(subjects.file, r.line, "site", f"patient {r.patient_id} belongs to site "
                     f"{r.values.get('site')!r}, but this import is for site {site!r}")
             for r in rows["subjects"] if r.values.get("site") != site]
    if wrong:
        raise StudyError(wrong)
    return rows


FORMATS = ("study", "sdtm", "redcap")


def import_study(who: a.Actor, site: str, paths: list[Path | str], reason: str = "", fmt: str = "study",
                 dictionary: Path | str | None = None, mapping: Path | str | None = None) -> ImportSummary:
    """Import files for ``site`` (see the module docstring); several paths are imported in one transaction.

    ``fmt``: ``study`` (folder or workbook), ``sdtm`` (folder of SDTM datasets; ``mapping`` optional) or
    ``redcap`` (flat export; needs the project's ``dictionary``): the last two are converted by
    ``study.importers`` into a study folder first, and any error of the conversion rejects the import.
    """
    a.require(who, "site_data_manager")
    if who.site_code != site:
        raise a.AccessDenied(f"{who.username} manages site {who.site_code}, not {site}")
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    merged: dict[str, list[CanonRow]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="cartalysis-import-") as tmp:
        for i, path in enumerate(paths):
            folder = _convert(Path(path), fmt, dictionary, mapping, Path(tmp) / str(i))
            for name, rows in study_rows(folder, site).items():
                merged[name] += rows
    try:
        with a._scoped(who):
            return _apply(who, site, merged, reason.strip())
    except IntegrityError:
        raise StudyError([Problem("subjects", None, "patient_id", "a patient id in these files is already "
                                  "registered at another site; patient ids must be unique across the registry")])


def insert_many(model, fields: list[str], rows: list[tuple]) -> None:
    """``INSERT`` many rows with one prepared statement (``executemany``).

    Django's ``bulk_create`` spends ~0.5 ms per object building model instances and SQL; an import of a
    20,000-patient registry inserts ~700,000 rows. JSON fields are serialised here (``jsonb`` cast on PostgreSQL).
    """
    from django.db import connection

    if not rows:
        return
    names = {f.name for f in model._meta.get_fields()}
    columns = [model._meta.get_field(f if f in names else f.removesuffix("_id")) for f in fields]
    qn = connection.ops.quote_name
    json_cols = [i for i, c in enumerate(columns) if c.get_internal_type() == "JSONField"]
    time_cols = [i for i, c in enumerate(columns) if c.get_internal_type() == "DateTimeField"]
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    marks = ", ".join(f"%s{cast}" if i in json_cols else "%s" for i in range(len(fields)))
    sql = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c.column) for c in columns)}) VALUES ({marks})"
    if json_cols or time_cols:
        adapt = connection.ops.adapt_datetimefield_value
        rows = [tuple(json.dumps(v, ensure_ascii=False) if i in json_cols else adapt(v) if i in time_cols else v
                      for i, v in enumerate(r)) for r in rows]
    with connection.cursor() as c:
        for i in range(0, len(rows), BATCH):
            c.executemany(sql, rows[i:i + BATCH])


AUDIT_FIELDS = ["at", "actor", "site_id", "action", "patient_id", "table", "record", "field", "old", "new", "reason"]


def insert_audit(entries: list[m.AuditEntry]) -> None:
    insert_many(m.AuditEntry, AUDIT_FIELDS, [tuple(getattr(e, f) for f in AUDIT_FIELDS) for e in entries])


def _convert(path: Path, fmt: str, dictionary, mapping, out: Path) -> Path:
    if fmt == "study":
        return path
    if fmt == "sdtm":
        from cartalysis.study.importers.sdtm import import_sdtm

        imported = import_sdtm(path, out, mapping)
    else:
        if dictionary is None:
            raise UsageError("a REDCap import needs the project's data dictionary (--dictionary)")
        from cartalysis.study.importers.redcap.flat import import_redcap

        imported = import_redcap(path, dictionary, out)
    if errors_of(imported.problems):
        raise StudyError(errors_of(imported.problems))
    return imported.study


def _apply(who: a.Actor, site: str, rows: dict[str, list[CanonRow]], reason: str) -> ImportSummary:
    site_id = who.site_id
    ids = sorted({r.patient_id for r in rows["subjects"]})
    patients = {p.patient_id: p for p in m.Patient.objects.select_for_update().filter(site_id=site_id, patient_id__in=ids)}
    new_patients = [m.Patient(site_id=site_id, patient_id=pid) for pid in ids if pid not in patients]
    m.Patient.objects.bulk_create(new_patients, batch_size=BATCH)
    if new_patients:
        patients.update({p.patient_id: p for p in m.Patient.objects.filter(site_id=site_id, patient_id__in=[
            p.patient_id for p in new_patients])})
    existing = {(row["patient__patient_id"], row["table"], row["key"]): row for row in
                m.Row.objects.filter(site_id=site_id, patient__patient_id__in=ids)
                .values("id", "patient__patient_id", "table", "key", "values", "version")} if len(new_patients) < len(ids) else {}
    wanted = {(r.patient_id, table, r.key): r for table, rs in rows.items() for r in rs}
    at = a.now()
    inserts, updates, audits, problems = [], [], [], []
    unchanged = 0
    protected = {pid for pid, p in patients.items() if p.locked or p.signed_by}
    for k, r in wanted.items():
        pid, table, key = k
        old = existing.get(k)
        if old is not None and old["values"] == r.values:
            unchanged += 1
            continue
        if pid in protected and not reason:
            problems.append(Problem(f"{table}", r.line or None, None,
                                    f"patient {pid} is locked or signed: changing it needs --reason"))
            continue
        record = a.record_id(table, pid, key)
        if old is None:
            inserts.append(m.Row(site_id=site_id, patient_id=patients[pid].id, table=table, key=key, values=r.values))
            audits.append(a.audit(who, site_id, "insert", pid, table, record, "", None, a.dumps(r.values), reason, at))
            continue
        updates.append(m.Row(id=old["id"], values=r.values, version=old["version"] + 1))
        for field in sorted(set(old["values"]) | set(r.values)):
            before, after = old["values"].get(field), r.values.get(field)
            if before != after:
                audits.append(a.audit(who, site_id, "update", pid, table, record, field, before, after, reason, at))
    deletes = [(k, old) for k, old in existing.items() if k not in wanted]
    for (pid, table, key), old in deletes:
        if pid in protected and not reason:
            problems.append(Problem(table, None, None, f"patient {pid}: row {key} would be deleted; the patient is "
                                    "locked or signed: changing it needs --reason"))
            continue
        audits.append(a.audit(who, site_id, "delete", pid, table, a.record_id(table, pid, key), "",
                              a.dumps(old["values"]), None, reason, at))
    if problems:
        raise StudyError(problems)
    insert_many(m.Row, ["site_id", "patient_id", "table", "key", "values", "version"],
                [(r.site_id, r.patient_id, r.table, r.key, r.values, 1) for r in inserts])
    m.Row.objects.bulk_update(updates, ["values", "version"], batch_size=BATCH)
    delete_ids = [old["id"] for _, old in deletes]
    for i in range(0, len(delete_ids), BATCH):
        m.Row.objects.filter(id__in=delete_ids[i:i + BATCH]).delete()
    insert_audit(audits)
    return ImportSummary(site, len(ids), len(inserts), len(updates), len(deletes), unchanged)
