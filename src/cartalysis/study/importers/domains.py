"""SDTM domain files in and out: SAS XPT v5 (pyreadstat) and CDISC Dataset-JSON 1.1.

A domain is handled as a ``Domain``: its name, its variables, and every cell as
text (numbers in their shortest exact form, ``""`` for missing), each row with
its 1-based record number, so messages can say ``dm.xpt:12:AGE: ...``.

``read_domain`` is the one place that reads a file; when the project's
multi-format table reader lands, it is the only function to switch.
pyreadstat is used for XPT because it keeps labels and reads numeric zeros as
0 (some readers return 5e-79). Dataset-JSON has no maintained Python library;
its reader and writer are small (the 1.1 spec: ``columns`` + ``rows``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from cartalysis.study.errors import UsageError

SUFFIXES = (".xpt", ".json")


@dataclass(frozen=True)
class Domain:
    """One SDTM dataset as text. ``rows[i]`` is a dict variable -> text; its record number is ``i + 1``."""

    name: str
    file: str
    variables: tuple[str, ...]
    rows: list[dict[str, str]]
    labels: dict[str, str] = field(default_factory=dict)


def number_text(v: float) -> str:
    """Shortest text that reads back as the same float (``34`` not ``34.0``); ``""`` for NaN."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    f = float(v)
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return repr(f)


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "Y" if v else "N"
    if isinstance(v, (int, float)):
        return number_text(v)
    return str(v).strip()


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
    """Read one XPT or Dataset-JSON file; ``UsageError`` (one line) when it cannot be read."""
    try:
        if path.suffix.lower() == ".xpt":
            return _read_xpt(path)
        return _read_dataset_json(path)
    except UsageError:
        raise
    except Exception as e:  # noqa: BLE001 - any reader failure is the file's problem, reported in one line
        raise UsageError(f"{path.name}: cannot be read as {'SAS XPT' if path.suffix.lower() == '.xpt' else 'Dataset-JSON'} ({type(e).__name__}: {e})") from None


def _read_xpt(path: Path) -> Domain:
    import pyreadstat

    df, meta = pyreadstat.read_xport(str(path))
    cols = [str(c).upper() for c in df.columns]
    rows = [{c: _cell(v) for c, v in zip(cols, rec)} for rec in df.itertuples(index=False, name=None)]
    labels = {str(k).upper(): v for k, v in zip(meta.column_names, meta.column_labels) if v}
    return Domain(path.stem.upper(), path.name, tuple(cols), rows, labels)


def _read_dataset_json(path: Path) -> Domain:
    doc = json.loads(path.read_bytes().decode("utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("columns"), list) or not isinstance(doc.get("rows"), list):
        raise UsageError(f"{path.name}: not a Dataset-JSON file (needs 'columns' and 'rows')")
    cols = []
    labels = {}
    for c in doc["columns"]:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise UsageError(f"{path.name}: a column of 'columns' has no 'name'")
        cols.append(c["name"].upper())
        if isinstance(c.get("label"), str):
            labels[cols[-1]] = c["label"]
    rows = []
    for i, r in enumerate(doc["rows"], start=1):
        if not isinstance(r, list) or len(r) != len(cols):
            raise UsageError(f"{path.name}:{i}: row has {len(r) if isinstance(r, list) else 'no'} values for {len(cols)} columns")
        rows.append({c: _cell(v) for c, v in zip(cols, r)})
    return Domain(str(doc.get("name") or path.stem).upper(), path.name, tuple(cols), rows, labels)


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Var:
    """A variable to write: name, label, and whether it is numeric."""

    name: str
    label: str
    numeric: bool = False


def write_xpt(path: Path, name: str, label: str, variables: list[Var], rows: list[dict[str, object]]) -> None:
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
