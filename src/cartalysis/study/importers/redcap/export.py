"""A study -> a REDCap flat export (raw codes) of the CAR-T registry project, plus its DAG list.

The inverse of ``flat.import_redcap``: used to test the importer on whole
studies (the twins) and to move a CSV study into a REDCap project (Data
Import Tool accepts this file). Sites become Data Access Groups with REDCap's
unique names (lower case, ``_`` for other characters); the DAG file maps them
back to the site labels.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from cartalysis.study.importers.domains import number_text
from cartalysis.study.importers.redcap.dictionary import BASELINE_EVENT, FOLLOW_UP_EVENT, FORMS, Field, load_project
from cartalysis.study.importers.redcap.flat import decode
from cartalysis.study.load import Study
from cartalysis.study.spec import TABLES_BY_NAME


def dag_name(site: str) -> str:
    """REDCap's unique group name of a DAG label."""
    return re.sub(r"[^a-z0-9]+", "_", site.lower()).strip("_")[:18] or "site"


def _raw(field: Field, value: object, dtype: str) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if dtype == "date":
        return pd.Timestamp(value).date().isoformat()
    if dtype == "bool":
        text = "yes" if bool(value) else "no"
    elif dtype in ("int", "float"):
        text = number_text(float(value))
    else:
        text = str(value)
    if field.type in ("yesno", "truefalse"):
        return "1" if text == "yes" else "0"
    if field.type in ("radio", "dropdown"):
        return next(c for c, _ in field.choices if decode(field, c)[0] == text)
    return text


def export_redcap(study: Study, dictionary: Path) -> tuple[str, str]:
    """(flat export CSV, DAG CSV) of ``study`` for the project of ``dictionary``."""
    project = load_project(dictionary, [])
    fields = list(project.fields.values())
    header = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group"]
    columns: list[tuple[str, Field, str | None]] = []
    for form, *_ in FORMS:
        for f in fields:
            if f.form != form or f.name == project.record_field:
                continue
            if f.type == "checkbox":
                columns += [(f"{f.name}___{c}", f, c) for c, _ in f.choices]
            else:
                columns.append((f.name, f, None))
        columns.append((f"{form}_complete", None, form))
    header += [c for c, _, _ in columns]
    subj = study.tables["subjects"]
    rows = []
    sites: dict[str, str] = {}

    def line(pid: str, event: str, form: str, inst: str, dag: str, rec: dict, forms: set[str]) -> list[str]:
        out = [pid, event, form, inst, dag]
        for name, f, code in columns:
            if f is None:
                out.append("2" if code in forms else "")
            elif f.form not in forms:
                out.append("")
            elif code is not None:
                v = rec.get(code)
                out.append("" if v is None or pd.isna(v) else ("1" if bool(v) else "0"))
            else:
                col = TABLES_BY_NAME[f.table].column(f.column) if f.table else None
                out.append(_raw(f, rec.get(f.column if f.table else f.name), col.dtype if col else "str"))
        return out

    by_table = {t: study.tables[t].to_dict("records") for t in TABLES_BY_NAME}
    for s in subj.to_dict("records"):
        pid = s["patient_id"]
        dag = dag_name(s["site"])
        sites[dag] = s["site"]
        rows.append(line(pid, BASELINE_EVENT, "", "", dag, s, {f for f, *_, rep in FORMS if not rep}))
        for form, _, table, _, _, rep in FORMS:
            if not rep:
                continue
            recs = [r for r in by_table[table] if r["patient_id"] == pid]
            for k, r in enumerate(recs, start=1):
                rows.append(line(pid, FOLLOW_UP_EVENT, form, str(k), dag, r, {form}))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    dbuf = io.StringIO()
    dw = csv.writer(dbuf, lineterminator="\n")
    dw.writerow(["data_access_group_name", "unique_group_name"])
    dw.writerows([[label, name] for name, label in sorted(sites.items())])
    return buf.getvalue(), dbuf.getvalue()
