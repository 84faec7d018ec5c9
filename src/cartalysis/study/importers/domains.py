"""SDTM domain files in and out: SAS XPT v5 (pyreadstat) and CDISC Dataset-JSON 1.1.

A domain is handled as a ``Domain``: its name, its variables, and every cell as
text (numbers in their shortest exact form, ``""`` for missing), each row with
its 1-based record number, so messages can say ``dm.xpt:12:AGE: ...``.

Reading goes through the project's one table reader (``study.formats``:
pyreadstat for XPT, the standard library for Dataset-JSON). Writing: XPT v5
with pyreadstat (keeps labels); Dataset-JSON has no maintained Python library,
and its writer is small (the 1.1 spec: ``columns`` + ``rows``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from cartalysis.study.errors import StudyError, UsageError

SUFFIXES = (".xpt", ".json", ".ndjson")


@dataclass(frozen=True)
class Domain:
    """One SDTM dataset as text. ``rows[i]`` is a dict variable -> text, at row ``numbers[i]`` (CSV convention:
    the first record is row 2, as in the same data exported to CSV)."""

    name: str
    file: str
    variables: tuple[str, ...]
    rows: list[dict[str, str]]
    numbers: list[int]
    labels: dict[str, str] = field(default_factory=dict)


def number_text(v: float) -> str:
    """Shortest text that reads back as the same float (``34`` not ``34.0``); ``""`` for NaN."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    f = float(v)
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return repr(f)


def find_domains(folder: Path) -> dict[str, Path]:
    """Domain name (upper case) -> file, for every ``*.xpt`` / ``*.json`` in ``folder``.

    Raises ``UsageError`` when the folder is missing or holds one domain in two files.
    """
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder of SDTM datasets")
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in SUFFIXES:
            name = p.stem.upper()
            if name in found:
                raise UsageError(f"{folder}: domain {name} is in both {found[name].name} and {p.name}; keep one")
            found[name] = p
    if "DM" not in found:
        subs = [p.name for p in sorted(folder.iterdir()) if p.is_dir()]
        hint = f" (sub-folders: {', '.join(subs)})" if subs else ""
        raise UsageError(f"{folder}: no DM dataset (dm.xpt or dm.json){hint}")
    return found


def read_domain(path: Path) -> Domain:
    """Read one XPT / Dataset-JSON file through the project's table reader (``study.formats``).

    Raises ``UsageError`` when the file cannot be opened, ``StudyError`` (located problems) when its
    content cannot be read in its format.
    """
    from cartalysis.study.formats import decode_table

    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    table, problems = decode_table(path.stem, path.name, data, path.suffix)
    if table is None:
        raise StudyError(problems)
    raw = table.raw
    names = tuple(h.upper() for h in raw.header)
    rows = [{n: str(col[i]) for n, col in zip(names, raw.columns)} for i in range(len(raw.rows))]
    labels = {v.name.upper(): v.label for v in table.variables if v.label}
    return Domain(path.stem.upper(), path.name, names, rows, [int(r) for r in raw.rows], labels)


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Var:
    """A variable to write: name, label, and whether it is numeric."""

    name: str
    label: str
    numeric: bool = False


def write_xpt(path: Path, name: str, label: str, variables: list[Var], rows: list[dict[str, object]], created: str) -> None:
    """SAS transport v5 via pyreadstat (names <= 8, labels <= 40, text <= 200 bytes, as v5 requires)."""
    import pandas as pd
    import pyreadstat

    data = {}
    for v in variables:
        if v.numeric:
            data[v.name] = pd.Series([float("nan") if r.get(v.name) in (None, "") else float(r[v.name]) for r in rows], dtype="float64")
        else:
            data[v.name] = pd.Series(["" if r.get(v.name) is None else str(r[v.name]) for r in rows], dtype="object")
    df = pd.DataFrame(data, columns=[v.name for v in variables])
    pyreadstat.write_xport(df, str(path), file_label=label[:40], table_name=name,
                           column_labels=[v.label[:40] for v in variables], file_format_version=5)
    _fix_timestamps(path, created)


_XPT_STAMP = re.compile(rb"\d{2}[A-Z]{3}\d{2}:\d{2}:\d{2}:\d{2}")


def _fix_timestamps(path: Path, created: str) -> None:
    """readstat stamps the header records with the current time; the same study must give the same bytes,
    so the stamps (before the first observation record) are set to ``created`` (ISO date-time)."""
    when = dt.datetime.fromisoformat(created)
    stamp = when.strftime("%d%b%y:%H:%M:%S").upper().encode("ascii")
    data = path.read_bytes()
    cut = data.find(b"HEADER RECORD*******OBS")
    path.write_bytes(_XPT_STAMP.sub(stamp, data[:cut]) + data[cut:])


def write_dataset_json(path: Path, name: str, label: str, variables: list[Var], rows: list[dict[str, object]],
                       study_id: str, created: str) -> None:
    """Dataset-JSON 1.1 (``columns`` with itemOID/name/label/dataType, ``rows`` as arrays).

    ``created`` is written as the creation date-time so that the same study
    gives byte-identical files.
    """
    columns = []
    for v in variables:
        col = {"itemOID": f"IT.{name}.{v.name}", "name": v.name, "label": v.label, "dataType": "double" if v.numeric else "string"}
        if not v.numeric:
            col["length"] = max([1] + [len(str(r.get(v.name) or "").encode("utf-8")) for r in rows])
        columns.append(col)
    out_rows = []
    for r in rows:
        rec = []
        for v in variables:
            x = r.get(v.name)
            if v.numeric:
                rec.append(None if x in (None, "") or not math.isfinite(float(x)) else float(x))
            else:
                rec.append("" if x is None else str(x))
        out_rows.append(rec)
    doc = {
        "datasetJSONCreationDateTime": created,
        "datasetJSONVersion": "1.1.0",
        "fileOID": f"cartalysis.{study_id}.{name}",
        "originator": "cartalysis",
        "sourceSystem": {"name": "cartalysis", "version": "1"},
        "studyOID": study_id,
        "metaDataVersionOID": "MDV.1",
        "itemGroupOID": f"IG.{name}",
        "records": len(out_rows),
        "name": name,
        "label": label,
        "columns": columns,
        "rows": out_rows,
    }
    path.write_text(json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=None) + "\n", encoding="utf-8")
