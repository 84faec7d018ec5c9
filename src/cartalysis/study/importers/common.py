"""What every importer shares: source cells -> model text, the tally of rows read/used/skipped, and
writing the study folder (CSV layout) with its ``import-report.md``.

Importers build every table as rows of model *text* (exactly what a user would
type in the CSV), so the written study is then checked by the ordinary
``validate``: one set of rules for every route into cartalysis.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from cartalysis.study.errors import Problem, UsageError
from cartalysis.study.spec import BOOL_FALSE, BOOL_TRUE, TABLES, Column

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T[0-9:.]*(?:Z|[+-]\d{2}:?\d{2})?)?")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def iso_date(text: str) -> tuple[str | None, str | None]:
    """``YYYY-MM-DD`` (a date-time keeps its date) -> (date, None), else (None, why)."""
    m = _ISO_DATE.fullmatch(text.strip())
    if not m:
        if re.fullmatch(r"\d{4}(-\d{2})?(-{1,2}\d{2})?", text.strip()):
            return None, f"partial date {text!r} (a full date YYYY-MM-DD is needed)"
        return None, f"{text!r} is not an ISO 8601 date"
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat(), None
    except ValueError:
        return None, f"{text!r} is not a calendar date"


def _number(text: str) -> float | None:
    t = text.strip()
    return float(t) if _NUMBER.fullmatch(t) else None


def number_text(v: float) -> str:
    """Shortest text that reads back as the same float (``34`` not ``34.0``)."""
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def norm(text: str) -> str:
    """Key for case- and spacing-insensitive matching of coded values (``Early relapse`` = ``EARLY_RELAPSE``)."""
    return re.sub(r"[^0-9a-z]+", "_", text.strip().lower()).strip("_")


def lookup(values: dict[str, str], text: str) -> str | None:
    """``values[text]`` ignoring case; None when absent."""
    folded = {k.upper(): v for k, v in values.items()}
    return folded.get(text.strip().upper())


def to_model(text: str, column: Column, values: dict[str, str] | None = None) -> tuple[str | None, str | None]:
    """Source text -> model cell text for ``column``: (text, None), or (None, why it does not fit).

    ``values`` maps source codes (any case) to model values first. Empty source
    text gives ``("", None)``: a blank stays blank.
    """
    t = text.strip()
    if t == "":
        return "", None
    if values:
        mapped = lookup(values, t)
        if mapped is None:
            return None, f"{t!r} is not one of the mapped values ({', '.join(sorted(values))})"
        t = mapped
        if t == "":
            return "", None
    if column.dtype == "bool":
        low = t.lower()
        if low in BOOL_TRUE or low == "y":
            return "yes", None
        if low in BOOL_FALSE:
            return "no", None
        return None, f"{t!r} is not yes/no (Y or N)"
    if column.dtype == "category":
        for a in column.allowed:
            if norm(a) == norm(t):
                return a, None
        return None, f"{t!r} is not one of {', '.join(column.allowed)}"
    if column.dtype in ("int", "float"):
        v = _number(t)
        if v is None:
            return None, f"{t!r} is not a number"
        if column.dtype == "int" and not v.is_integer():
            return None, f"{t!r} is not a whole number"
        if (column.min is not None and v < column.min) or (column.max is not None and v > column.max):
            lo = "" if column.min is None else number_text(float(column.min))
            hi = "" if column.max is None else number_text(float(column.max))
            return None, f"{t!r} is outside {lo}–{hi}" if hi else f"{t!r} is below {lo}"
        return number_text(v), None
    if column.dtype == "date":
        return iso_date(t)
    return t, None


@dataclass(frozen=True)
class Imported:
    """What an import wrote and found: the study folder and the located problems (also in its report)."""

    study: Path
    problems: list[Problem]


# --------------------------------------------------------------------------- tally


@dataclass
class Tally:
    """Rows of one source file: read, used, and why the others were skipped."""

    file: str
    rows: list[int] = field(default_factory=list)
    used: set[int] = field(default_factory=set)
    reasons: dict[int, str] = field(default_factory=dict)

    def use(self, row: int) -> None:
        self.used.add(row)

    def skip(self, row: int, reason: str) -> None:
        self.reasons.setdefault(row, reason)


@dataclass
class ImportLog:
    """Everything an import has to say: per-source tallies and located problems (values that did not fit)."""

    source: str
    tallies: dict[str, Tally] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def tally(self, file: str) -> Tally:
        return self.tallies.setdefault(file, Tally(file))

    def problem(self, file: str, row: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(file, row, column, message))


# --------------------------------------------------------------------------- writing the study


# Row order of the written tables: the twins' order (so a round trip gives the same files), then the whole row.
SORT = {
    "subjects": ("patient_id",),
    "assessments": ("patient_id", "date"),
    "events": ("patient_id", "date"),
    "adverse_events": ("patient_id", "onset_date", "term"),
    "toxicity_daily": ("patient_id", "date"),
    "pk": ("patient_id", "day", "matrix"),
    "labs": ("patient_id", "day", "test"),
    "infections": ("patient_id", "onset_date"),
    "concomitant_meds": ("patient_id", "start_date", "medication"),
}


def _sort_key(table: str, columns: list[str]):
    idx = [columns.index(k) for k in SORT.get(table, ("patient_id",))]

    def k(row: list[str]):
        head = tuple((0, float(row[i]), "") if columns[i] == "day" and _number(row[i]) is not None else (1, 0.0, row[i]) for i in idx)
        return (head, row)

    return k


def write_study(out: Path, tables: dict[str, list[dict[str, str]]], extra_subject_columns: list[str],
                title: str, log: ImportLog, sources: dict[str, str], plan: Path | None, source: Path | None) -> list[Problem]:
    """Write ``out`` as a CSV study (every spec table, spec columns in spec order), validate it, and add
    ``import-report.md``; returns the validation problems (files named ``OUT/table.csv``).

    The folder is built in a temporary sibling and moved into place, so a
    failed import leaves nothing half-written; ``out`` must not exist or be empty, and must not lie inside
    the input folder ``source`` (when the input is a folder).
    """
    from cartalysis.study.validate import validate_study

    if source is not None and (out.resolve() == source.resolve() or source.resolve() in out.resolve().parents):
        raise UsageError(f"--out {out} is inside the input folder {source}; write the study elsewhere")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out} already exists and is not empty; choose a new folder")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
    try:
        for spec in TABLES:
            columns = list(spec.names) + (extra_subject_columns if spec.name == "subjects" else [])
            rows = [[r.get(c, "") or "" for c in columns] for r in tables.get(spec.name, [])]
            rows.sort(key=_sort_key(spec.name, columns))
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(columns)
            w.writerows(rows)
            (tmp / f"{spec.name}.csv").write_text(buf.getvalue(), encoding="utf-8")
        if plan is not None:
            shutil.copyfile(plan, tmp / "sap.toml")
        problems = [Problem(f"{out.name}/{p.file}", p.row, p.column, p.message) for p in validate_study(tmp)]
        md = report_markdown(title, log, tables, extra_subject_columns, sources, problems)
        (tmp / "import-report.md").write_text(md, encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return problems


def report_markdown(title: str, log: ImportLog, tables: dict[str, list[dict[str, str]]],
                    extra_subject_columns: list[str], sources: dict[str, str], validation: list[Problem]) -> str:
    """``import-report.md``: per source file rows read/used/skipped (and why), the values that did not
    fit, and the model columns that stayed empty because nothing fed them.

    ``sources`` maps ``table.column`` to where it came from (for the column list).
    """
    out = [f"# Import report: {title}", "", f"Source: `{log.source}`", ""]
    out += ["## Rows per source", "", "| source | rows read | rows used | rows skipped |", "|---|---|---|---|"]
    for name in sorted(log.tallies):
        t = log.tallies[name]
        used = len(t.used)
        out.append(f"| `{name}` | {len(t.rows)} | {used} | {len(t.rows) - used} |")
    out.append("")
    for name in sorted(log.tallies):
        t = log.tallies[name]
        skipped = sorted(set(t.rows) - t.used)
        if not skipped:
            continue
        by_reason: dict[str, list[int]] = defaultdict(list)
        for r in skipped:
            by_reason[t.reasons.get(r, "no mapping selects it")].append(r)
        out += [f"### `{name}`: rows skipped", ""]
        for reason, rows in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            out.append(f"- {len(rows)} row(s): {reason} (rows {_ranges(rows)})")
        out.append("")
    out += ["## Values that did not fit", ""]
    if log.problems:
        out += [f"- `{p}`" for p in sorted(set(log.problems), key=lambda p: (p.file, p.row or 0, p.column or "", p.message))]
    else:
        out.append("None.")
    out += ["", "## Study columns", "", "| table | column | filled rows | source |", "|---|---|---|---|"]
    for spec in TABLES:
        rows = tables.get(spec.name, [])
        names = list(spec.names) + (extra_subject_columns if spec.name == "subjects" else [])
        for c in names:
            n = sum(1 for r in rows if r.get(c))
            src = sources.get(f"{spec.name}.{c}", "")
            out.append(f"| {spec.name} | `{c}` | {n} of {len(rows)} | {src or 'no source: left empty'} |")
    out += ["", "## Validation of the written study", ""]
    out += [f"- `{p}`" for p in validation] if validation else ["No problems (`cartalysis validate` passes)."]
    if log.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in log.notes]
    return "\n".join(out) + "\n"


def _ranges(rows: list[int]) -> str:
    parts = []
    start = prev = rows[0]
    for r in rows[1:] + [None]:
        if r is not None and r == prev + 1:
            prev = r
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if r is not None:
            start = prev = r
    return ", ".join(parts)
