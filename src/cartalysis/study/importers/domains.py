"""SDTM domain files in and out: SAS XPT v5 (pyreadstat) and CDISC Dataset-JSON 1.1.

A domain is handled as a ``Domain``: its name, its variables, and every cell as
text (numbers in their shortest exact form, ``""`` for missing), each row with
its 1-based record number, so messages can say ``dm.xpt:12:AGE: ...``.

Reading and writing go through the project's table reader and writers
(``study.formats``: pyreadstat for XPT, the standard library for Dataset-JSON).
"""

from __future__ import annotations

import datetime as dt
import math
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


def write_domain(path: Path, name: str, label: str, columns: list, rows: list[dict[str, object]], study_id: str,
                 created: str) -> None:
    """Write one domain as SAS XPT v5 (``.xpt``) or Dataset-JSON 1.1 (``.json``) with the project's writers
    (``study.formats``); ``columns`` are ``formats.Column`` (text or number), ``created`` an ISO date-time
    stamped in the file so that the same study gives the same bytes."""
    import pandas as pd

    from cartalysis.study.formats import write_dataset_json, write_xpt

    frame = pd.DataFrame({c.name: [r.get(c.name) for r in rows] for c in columns}, columns=[c.name for c in columns], dtype=object)
    when = dt.datetime.fromisoformat(created)
    if path.suffix.lower() == ".xpt":
        write_xpt(path, frame, columns, name, label[:40], when)
    else:
        write_dataset_json(path, frame, columns, name, label, study_id, when)
