"""``cartalysis import redcap``: a REDCap flat export (CSV, raw data) -> a study in the CSV layout.

A CDISC ODM 1.3 export (``.xml``) is read too: ``odm.py`` turns it into the same rows.

The export has one row per record x event x repeat instance: ``record_id``,
``redcap_event_name`` (longitudinal projects), ``redcap_repeat_instrument`` +
``redcap_repeat_instance`` (blank on the non-repeating row),
``redcap_data_access_group`` (the site), then the fields (checkboxes as
``field___code`` 0/1 columns, ``<form>_complete`` status columns). The data
dictionary types and decodes every field; its ``cartalysis: table.column``
annotations say which data model column a field feeds (``dictionary.py``).
Non-repeating fields without an annotation become extra ``subjects`` columns
(covariates). Every value that does not fit is a located problem
``EXPORT.csv:row:field: message`` and is left empty.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from pathlib import Path

from cartalysis.study.errors import Problem, StudyError, UsageError
from cartalysis.study.importers.common import Imported, ImportLog, iso_date, norm, to_model, write_study
from cartalysis.study.importers.redcap.dictionary import Field, load_project
from cartalysis.study.importers.redcap.odm import read_odm
from cartalysis.study.load import sort_problems
from cartalysis.study.read import parse_csv_bytes
from cartalysis.study.spec import TABLES_BY_NAME

EVENT, INSTRUMENT, INSTANCE, DAG = "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group"
SPECIAL = (EVENT, INSTRUMENT, INSTANCE, DAG, "redcap_survey_identifier")


def decode(field: Field, text: str) -> tuple[str | None, str | None]:
    """A raw export value of ``field`` -> model text (or the label, for a field outside the model), or why not."""
    t = text.strip()
    if t == "":
        return "", None
    col = TABLES_BY_NAME[field.table].column(field.column) if field.table and field.column != "{code}" else None
    if field.type in ("yesno", "truefalse"):
        if t not in ("0", "1"):
            return None, f"{t!r} is not a {field.type} code (1 or 0)"
        return (("yes" if t == "1" else "no"), None) if col is None or col.dtype == "bool" else to_model(t, col)
    if field.type in ("radio", "dropdown"):
        label = field.choice_label(t)
        if label is None:
            by_label = {lab: c for c, lab in field.choices}
            if t not in by_label:
                return None, f"choice code {t!r} is not in the data dictionary (codes: {', '.join(c for c, _ in field.choices)})"
            t, label = by_label[t], t
        if col is None:
            return label, None
        if col.dtype == "category":
            if t in col.allowed:
                return t, None
            hit = [a for a in col.allowed if norm(a) == norm(label)]
            return (hit[0], None) if hit else (None, f"choice {t!r} ({label}) is not one of {', '.join(col.allowed)}")
        return to_model(t if col.dtype in ("int", "float", "bool") else label, col)
    if col is None:
        return t, None
    if field.validation.startswith("date") and col.dtype == "date":
        return iso_date(t)
    return to_model(t, col)


def _dag_labels(path: Path | None) -> dict[str, str]:
    """REDCap's DAG export (``data_access_group_name,unique_group_name``): unique name -> site label."""
    if path is None:
        return {}
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise UsageError(f"{path.name}: not a UTF-8 CSV file ({e})") from None
    if rows and not {"data_access_group_name", "unique_group_name"} <= set(rows[0]):
        raise UsageError(f"{path.name}: needs the columns data_access_group_name and unique_group_name")
    return {r["unique_group_name"].strip(): r["data_access_group_name"].strip() for r in rows}


def import_redcap(export: Path | str, dictionary: Path | str, out: Path | str, dags: Path | str | None = None) -> Imported:
    """Import a REDCap flat export of the CAR-T registry project into a new study folder ``out``.

    Raises ``UsageError`` when a file cannot be read, ``StudyError`` when the
    export cannot be read as CSV or lacks the record id column.
    """
    export, dictionary, out = Path(export), Path(dictionary), Path(out)
    log = ImportLog(str(export))
    project = load_project(dictionary, log.problems)
    site_of = _dag_labels(Path(dags) if dags else None)
    try:
        data = export.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {export}: {e.strerror or e}") from None
    if export.suffix.lower() == ".xml":
        raw, problems = read_odm(export.name, data, project.record_field, {f for _, f in project.repeating})
    else:
        raw, problems = parse_csv_bytes("export", export.name, data)
    if raw is None:
        raise StudyError(problems)
    log.problems += problems
    file = export.name
    cols = {h: c for h, c in zip(raw.header, raw.columns)}
    if project.record_field not in cols:
        raise StudyError([Problem(file, 1, project.record_field, "the record id column is missing")])

    # which export column is which field (checkboxes: field___code)
    column_field: dict[str, tuple[Field, str | None]] = {}
    forms = {f.form for f in project.fields.values()}
    for h in raw.header:
        if h in project.fields:
            column_field[h] = (project.fields[h], None)
        elif "___" in h and h.split("___")[0] in project.fields and project.fields[h.split("___")[0]].type == "checkbox":
            f = project.fields[h.split("___")[0]]
            code = h.split("___", 1)[1]
            if f.choice_label(code) is None:
                log.problem(file, 1, h, f"checkbox code {code!r} is not a choice of {f.name} in the data dictionary")
            else:
                column_field[h] = (f, code)
        elif h in SPECIAL or (h.endswith("_complete") and h[: -len("_complete")] in forms):
            continue
        else:
            log.problem(file, 1, h, "not a field of the data dictionary; column ignored")
    if DAG not in cols:
        log.problem(file, 1, DAG, "column missing: each record's site is its data access group (export with DAGs)")

    def cell(name: str, j: int) -> str:
        return str(cols[name][j]) if name in cols else ""

    subjects: dict[str, dict[str, str]] = {}
    site_row: dict[str, tuple[str, int]] = {}
    repeated: dict[tuple[str, str], dict[str, str]] = {}
    rows_of: dict[str, list[dict[str, str]]] = defaultdict(list)
    instances: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    extras: list[str] = []
    sources: dict[str, str] = {"subjects.site": f"{DAG}" + (" (labels from the DAG file)" if site_of else "")}
    repeating_forms = {f for _, f in project.repeating}
    for j, row in enumerate(raw.rows):
        row = int(row)
        rid = cell(project.record_field, j)
        event = cell(EVENT, j) if EVENT in cols else None
        form = cell(INSTRUMENT, j)
        tally = log.tally(f"{file} [{form or 'non-repeating'}]")
        tally.rows.append(row)
        if not rid:
            log.problem(file, row, project.record_field, "empty record id")
            continue
        if event is not None and event not in project.events:
            log.problem(file, row, EVENT, f"unknown event name {event!r} (events: {', '.join(project.events)})")
            tally.skip(row, "unknown event")
            continue
        dag = cell(DAG, j)
        if DAG in cols:
            if not dag:
                log.problem(file, row, DAG, f"record {rid} has no data access group: its site is unknown")
            elif rid in site_row and site_row[rid][0] != dag:
                log.problem(file, row, DAG, f"record {rid} is in data access group {dag!r} here and {site_row[rid][0]!r} in row {site_row[rid][1]}")
            else:
                site_row.setdefault(rid, (dag, row))
        if form:
            designated = project.events.get(event, ()) if event is not None else tuple(repeating_forms)
            if form not in repeating_forms or (event is not None and (event, form) not in project.repeating) or form not in designated:
                log.problem(file, row, INSTRUMENT, f"{form!r} is not a repeating instrument of event {event or '(none)'}")
                tally.skip(row, "not a repeating instrument of the event")
                continue
            inst = cell(INSTANCE, j)
            if not re.fullmatch(r"[1-9]\d*", inst):
                log.problem(file, row, INSTANCE, f"repeat instance {inst!r} is not a whole number from 1")
                tally.skip(row, "bad repeat instance")
                continue
            instances[(rid, event or "", form)].append((int(inst), row))
            allowed = {form}
        else:
            allowed = {f for f in (project.events.get(event, ()) if event is not None else forms) if f not in repeating_forms}
        values: dict[str, str] = {}
        for h, (f, code) in column_field.items():
            text = cell(h, j).strip()
            if text == "" or (code is not None and text == "0" and f.form != form):
                continue
            if f.form not in allowed:
                if f.name == project.record_field:
                    continue
                log.problem(file, row, h, f"field of instrument {f.form}, which is not on this row "
                                          f"(event {event or '-'}, instrument {form or 'none'})")
                continue
            if code is not None:
                if text not in ("0", "1"):
                    log.problem(file, row, h, f"checkbox value {text!r} is not 0 or 1")
                    continue
                if f.table:
                    values[code] = "yes" if text == "1" else "no"
                    sources[f"{f.table}.{code}"] = f"REDCap {f.name}___{code} ({f.form})"
                continue
            v, why = decode(f, text)
            if why:
                log.problem(file, row, h, why)
                continue
            if f.table is None:
                if f.form in repeating_forms:
                    continue
                if f.name not in extras:
                    extras.append(f.name)
                    sources[f"subjects.{f.name}"] = f"REDCap {f.name} ({f.form})"
                values[f.name] = v or ""
            elif f.column != "patient_id":
                values[f.column] = v or ""
                sources[f"{f.table}.{f.column}"] = f"REDCap {f.name} ({f.form})"
        tally.use(row)
        if form:
            table = next(f.table for f in project.fields.values() if f.form == form and f.table)
            rec = {"patient_id": rid, **values}
            repeated[(rid, form, cell(INSTANCE, j))] = rec
            rows_of[table].append(rec)
        else:
            subjects.setdefault(rid, {"patient_id": rid}).update(values)
    for (rid, _, form), seen in instances.items():
        seen.sort()
        first: dict[int, int] = {}
        for k, (inst, row) in enumerate(seen):
            if inst in first:
                log.problem(file, row, INSTANCE, f"repeat instance {inst} of {form} for record {rid} appears twice (also row {first[inst]})")
            first.setdefault(inst, row)
        expected = 1
        for inst in sorted(first):
            if inst != expected:
                log.problem(file, first[inst], INSTANCE, f"repeat instance {inst} of {form} for record {rid} follows "
                                                          f"{expected - 1 or 'none'}: instance {expected} is missing")
            expected = inst + 1
    for rid in list(subjects) + [r["patient_id"] for rows in rows_of.values() for r in rows]:
        s = subjects.setdefault(rid, {"patient_id": rid})
        if rid in site_row:
            s["site"] = site_of.get(site_row[rid][0], site_row[rid][0])
    sources["subjects.patient_id"] = f"REDCap {project.record_field}"
    tables = {"subjects": list(subjects.values()), **rows_of}
    validation = write_study(out, tables, extras, f"REDCap {export.name}", log, sources, None, None)
    return Imported(out, sort_problems(log.problems) + validation)
