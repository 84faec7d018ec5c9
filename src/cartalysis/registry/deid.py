"""``registry export``: a snapshot's study folder, optionally de-identified by HIPAA Safe Harbor rules.

De-identification (45 CFR 164.514(b)(2)), applied to the snapshot's canonical text:

- direct identifiers dropped: spec columns marked ``identifying``, columns listed in the registry setting
  ``identifying_columns`` or given with ``drop``, and extra columns whose name looks like one (name, initials,
  MRN, SSN, birth date, address, ZIP, phone, e-mail, ...);
- ``patient_id`` replaced by ``HMAC-SHA256(key, patient_id)`` (first 16 hex digits, prefixed ``X``); the key is
  read from a file outside the export and never written into it, so pseudonyms cannot be recomputed from ids
  without it, yet the same key gives the same pseudonyms in every export (linkable across data locks);
- every date becomes days from the patient's infusion (screening for patients never infused). The study loader
  reads ISO dates, so a day ``d`` is written as the date ``2000-01-01 + d``: every patient's day 0 is
  2000-01-01, the calendar is gone, and every analysis (which uses differences of dates) is unchanged; the
  plan's calendar ``data_cutoff`` is removed;
- ages over 89 become 90 (the "90 or older" group);
- free text removed: spec columns marked ``free_text`` keep only their coded values (e.g. ``events.detail`` keeps
  ``allo``/``cd19_neg``/... and loses death causes written as text), extra text columns are dropped, unless the
  column is listed in ``allow_text``.

The export folder gets a ``DEIDENTIFICATION.txt`` saying what was done; the report of the export gives the
same analyses as the snapshot's, apart from what was removed (tested).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import re
from pathlib import Path

from cartalysis.registry import access as a
from cartalysis.registry.snapshots import _files, write_folder
from cartalysis.study.errors import UsageError
from cartalysis.study.spec import EVENT_DETAILS, TABLES_BY_NAME

ORIGIN = dt.date(2000, 1, 1)
IDENTIFIER_NAME = re.compile(
    r"(^|_)(name|first_?name|last_?name|surname|initials|mrn|medical_record|ssn|social_security|dob|birth|"
    r"birth_?date|address|street|city|zip|zipcode|postcode|postal|phone|telephone|fax|e?mail|email|url|ip|"
    r"account|license|licence|vehicle|device_serial|serial|biometric|photo|insurance|beneficiary)($|_)", re.I)
CODED_TEXT = {("events", "detail"): frozenset(v for vs in EVENT_DETAILS.values() for v in vs)}


def pseudonym(key: bytes, patient_id: str) -> str:
    return "X" + hmac.new(key, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def read_key(path: Path | str, out: Path) -> bytes:
    """The pseudonym key from ``path``, which must exist, hold at least 16 bytes and lie outside ``out``."""
    p = Path(path).resolve()
    if not p.is_file():
        raise UsageError(f"pseudonym key file not found: {path} (make one with: head -c 32 /dev/urandom > FILE)")
    if p.is_relative_to(Path(out).resolve()):
        raise UsageError("the pseudonym key must be kept outside the export folder")
    key = p.read_bytes()
    if len(key) < 16:
        raise UsageError(f"{path}: a pseudonym key needs at least 16 bytes")
    return key


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def deidentify(files: dict[str, bytes], key: bytes, drop: set[str], allow_text: set[str]) -> tuple[dict[str, bytes], list[str]]:
    """Apply the module's rules to a study folder's files; returns the new files and what was done, in words."""
    tables = {f[:-4]: _rows(b) for f, b in files.items() if f.endswith(".csv") and f[:-4] in TABLES_BY_NAME}
    subj_head, *subj = tables["subjects"]
    pid_i = subj_head.index("patient_id")
    anchor = {}
    for r in subj:
        rec = dict(zip(subj_head, r))
        day0 = rec.get("infusion_date") or rec.get("screening_date")
        anchor[r[pid_i]] = dt.date.fromisoformat(day0)
    notes: list[str] = []
    out: dict[str, bytes] = {}
    for name, (head, *body) in tables.items():
        spec = TABLES_BY_NAME[name]
        keep, dates = [], []
        for j, col in enumerate(head):
            c = spec.column(col) if col in spec.names else None
            identifying = (c is not None and c.identifying) or col in drop or (
                c is None and IDENTIFIER_NAME.search(col) is not None)
            if identifying and col != "patient_id":
                notes.append(f"{name}.{col}: dropped (identifier)")
                continue
            if c is None and col not in allow_text and not _numeric(r[j] for r in body):
                notes.append(f"{name}.{col}: dropped (extra text column; allow it with --allow-text {col})")
                continue
            keep.append(j)
            if c is not None and c.dtype == "date":
                dates.append(j)
        pid_j = head.index("patient_id")
        age_j = head.index("age") if name == "subjects" and "age" in head else None
        text_cols = {j for j in keep if (spec.column(head[j]) if head[j] in spec.names else None) is not None
                     and spec.column(head[j]).free_text and head[j] not in allow_text}
        rows = []
        for r in body:
            r = list(r)
            day0 = anchor[r[pid_j]]
            for j in dates:
                if r[j]:
                    r[j] = (ORIGIN + (dt.date.fromisoformat(r[j]) - day0)).isoformat()
            if age_j is not None and r[age_j] and float(r[age_j]) > 89:
                r[age_j] = "90"
            for j in text_cols:
                if r[j] and r[j] not in CODED_TEXT.get((name, head[j]), ()):
                    r[j] = ""
            r[pid_j] = pseudonym(key, r[pid_j])
            rows.append([r[j] for j in keep])
        rows.sort()
        out[f"{name}.csv"] = _csv([[head[j] for j in keep], *rows])
        for j in sorted(text_cols):
            notes.append(f"{name}.{head[j]}: free text removed (coded values kept)")
    if "sap.toml" in files:
        sap = files["sap.toml"].decode("utf-8")
        out["sap.toml"] = re.sub(r"(?m)^\s*data_cutoff\s*=.*\n?", "", sap).encode("utf-8")
    notes += ["patient_id: replaced by HMAC-SHA256 pseudonyms (key kept outside this folder)",
              f"dates: days from infusion (screening if not infused), written as {ORIGIN.isoformat()} + days",
              "age: over 89 written as 90 (the 90-or-older group)"]
    return out, notes


def _numeric(cells) -> bool:
    for c in cells:
        if c:
            try:
                float(c)
            except ValueError:
                return False
    return True


def export(who: a.Actor, name: str, out: Path | str, deidentify_: bool, key_file: Path | str | None = None,
           drop: tuple[str, ...] = (), allow_text: tuple[str, ...] = ()) -> Path:
    """Write snapshot ``name`` as a study folder into ``out``; de-identified when ``deidentify_``.

    Statisticians may only export de-identified (pooled) data; site roles export their own site.
    """
    a.require(who, "coordinator", "admin", "statistician", "site_data_manager", "site_viewer")
    if who.role == "statistician" and not deidentify_:
        raise a.AccessDenied("statisticians receive de-identified exports only: add --deidentify")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not empty")
    if deidentify_ and key_file is None:
        raise UsageError("a de-identified export needs --key-file")
    key = read_key(key_file, out) if deidentify_ else b""
    snap, files = _files(who, name)
    if not deidentify_:
        return write_folder(files, out)
    extra = {c.strip() for c in a.get_setting("identifying_columns").split(",") if c.strip()}
    files, notes = deidentify(files, key, set(drop) | extra, set(allow_text))
    write_folder(files, out)
    (out / "DEIDENTIFICATION.txt").write_text(
        f"De-identified export of registry data lock {snap.name} (SHA-256 {snap.sha256}) by HIPAA Safe Harbor "
        "rules (45 CFR 164.514(b)(2)):\n" + "".join(f"- {n}\n" for n in notes), encoding="utf-8")
    return out
